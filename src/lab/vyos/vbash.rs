//! The word splitting of the emulated vbash: one script line into simple commands joined by
//! `;`, `&&` and `||`, with bash's quoting rules (single quotes literal, double quotes with `\`
//! escapes, a backslash outside quotes escaping the next character, `#` starting a comment at
//! the start of a word).
//!
//! Owns the decision of what bash syntax the lab interprets and what it refuses: sequencing
//! (`;`, `&&`, `||`) runs as bash would; pipes, redirections, background jobs, subshells,
//! command and process substitution, variable and parameter expansion, brace and tilde
//! expansion, ANSI-C quoting and variable assignments are refused with a message, so that no
//! shell syntax ever reaches a configuration path. Must not run anything nor know VyOS
//! commands.

/// One word of a command; `quoted` if any part of it was quoted or escaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    pub text: String,
    pub quoted: bool,
}

/// How a command is joined to the one after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Join {
    /// `;` or the end of the line: the next command runs whatever happened.
    Then,
    /// `&&`: the next command runs if this one exited 0.
    And,
    /// `||`: the next command runs if this one did not exit 0.
    Or,
}

/// A simple command and how it is joined to the next one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Simple {
    pub words: Vec<Word>,
    pub join: Join,
}

/// Why a line was not run. Rendered as `vbash: line N: <message>`, exit status 2.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VbashError {
    /// What bash itself would refuse.
    #[error("syntax error near unexpected token `{0}'")]
    Token(String),
    /// An unterminated quote (bash would read on; the lab reads one line at a time).
    #[error("unexpected EOF while looking for matching `{0}'")]
    Eof(char),
    /// Valid bash the lab does not interpret.
    #[error("{0} is not supported by the vnfsync lab")]
    Unsupported(&'static str),
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

/// What a `$` followed by `next` would start, if anything (a lone `$` is literal).
fn dollar(next: Option<char>) -> Option<&'static str> {
    match next {
        Some('(') => Some("command substitution ($(...))"),
        Some('{') => Some("parameter expansion (${...})"),
        Some('\'') => Some("ANSI-C quoting ($'...')"),
        Some('"') => Some("locale quoting ($\"...\")"),
        Some('[') => Some("arithmetic expansion ($[...])"),
        Some(c) if is_name_start(c) || c.is_ascii_digit() => Some("variable expansion ($NAME)"),
        Some('?' | '$' | '!' | '#' | '*' | '@' | '-') => Some("special parameters ($?, $$, ...)"),
        _ => None,
    }
}

struct Lexer<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    commands: Vec<Simple>,
    words: Vec<Word>,
    word: Option<Word>,
    /// Whether the current word has unquoted `{`, `,`, `}` (brace expansion).
    braces: (bool, bool, bool),
}

impl Lexer<'_> {
    fn part(&mut self, c: char, quoted: bool) {
        let w = self.word.get_or_insert_with(|| Word {
            text: String::new(),
            quoted: false,
        });
        w.text.push(c);
        w.quoted |= quoted;
    }

    fn mark_quoted(&mut self) {
        self.word
            .get_or_insert_with(|| Word {
                text: String::new(),
                quoted: false,
            })
            .quoted = true;
    }

    fn end_word(&mut self) -> Result<(), VbashError> {
        if let Some(w) = self.word.take() {
            if self.braces == (true, true, true) {
                return Err(VbashError::Unsupported("brace expansion ({a,b})"));
            }
            if self.words.is_empty()
                && !w.quoted
                && let Some((name, _)) = w.text.split_once('=')
                && name.chars().next().is_some_and(is_name_start)
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                return Err(VbashError::Unsupported("variable assignment (NAME=value)"));
            }
            self.words.push(w);
        }
        self.braces = (false, false, false);
        Ok(())
    }

    fn end_command(&mut self, join: Join, token: &str) -> Result<(), VbashError> {
        self.end_word()?;
        if self.words.is_empty() {
            return Err(VbashError::Token(token.to_owned()));
        }
        self.commands.push(Simple {
            words: std::mem::take(&mut self.words),
            join,
        });
        Ok(())
    }

    fn single_quoted(&mut self) -> Result<(), VbashError> {
        self.mark_quoted();
        loop {
            match self.chars.next() {
                None => return Err(VbashError::Eof('\'')),
                Some('\'') => return Ok(()),
                Some(c) => self.part(c, true),
            }
        }
    }

    fn double_quoted(&mut self) -> Result<(), VbashError> {
        self.mark_quoted();
        loop {
            match self.chars.next() {
                None => return Err(VbashError::Eof('"')),
                Some('"') => return Ok(()),
                Some('\\') => match self.chars.peek().copied() {
                    Some(c @ ('$' | '`' | '"' | '\\')) => {
                        self.chars.next();
                        self.part(c, true);
                    }
                    _ => self.part('\\', true),
                },
                Some('`') => return Err(VbashError::Unsupported("command substitution (`...`)")),
                Some('$') => match dollar(self.chars.peek().copied()) {
                    // Inside double quotes `$'` and `$"` are literal.
                    Some(what) if !matches!(self.chars.peek(), Some('\'' | '"')) => {
                        return Err(VbashError::Unsupported(what));
                    }
                    _ => self.part('$', true),
                },
                Some(c) => self.part(c, true),
            }
        }
    }

    fn run(mut self) -> Result<Vec<Simple>, VbashError> {
        while let Some(c) = self.chars.next() {
            match c {
                ' ' | '\t' | '\r' => self.end_word()?,
                '#' if self.word.is_none() => break,
                '\'' => self.single_quoted()?,
                '"' => self.double_quoted()?,
                '\\' => match self.chars.next() {
                    Some(n) => self.part(n, true),
                    // A trailing backslash: the caller joins continuation lines first.
                    None => self.mark_quoted(),
                },
                ';' => {
                    if self.chars.peek() == Some(&';') {
                        return Err(VbashError::Token(";;".to_owned()));
                    }
                    self.end_command(Join::Then, ";")?;
                }
                '&' if self.chars.peek() == Some(&'&') => {
                    self.chars.next();
                    self.end_command(Join::And, "&&")?;
                }
                '|' if self.chars.peek() == Some(&'|') => {
                    self.chars.next();
                    self.end_command(Join::Or, "||")?;
                }
                '|' => return Err(VbashError::Unsupported("a pipeline (|)")),
                '&' => return Err(VbashError::Unsupported("a background job (&)")),
                '<' if self.chars.peek() == Some(&'(') => {
                    return Err(VbashError::Unsupported("process substitution"));
                }
                '>' if self.chars.peek() == Some(&'(') => {
                    return Err(VbashError::Unsupported("process substitution"));
                }
                '<' | '>' => return Err(VbashError::Unsupported("redirection (<, >)")),
                '(' | ')' => return Err(VbashError::Unsupported("a subshell or function ( )")),
                '`' => return Err(VbashError::Unsupported("command substitution (`...`)")),
                '$' => match dollar(self.chars.peek().copied()) {
                    Some(what) => return Err(VbashError::Unsupported(what)),
                    None => self.part('$', false),
                },
                '~' if self.word.is_none() => {
                    return Err(VbashError::Unsupported("tilde expansion (~)"));
                }
                c => {
                    match c {
                        '{' => self.braces.0 = true,
                        ',' if self.braces.0 => self.braces.1 = true,
                        '}' if self.braces.1 => self.braces.2 = true,
                        _ => {}
                    }
                    self.part(c, false);
                }
            }
        }
        self.end_word()?;
        if !self.words.is_empty() {
            self.commands.push(Simple {
                words: std::mem::take(&mut self.words),
                join: Join::Then,
            });
        } else if let Some(last) = self.commands.last()
            && last.join != Join::Then
        {
            // `a &&` at the end of a line: bash would read on; the lab reads one line.
            return Err(VbashError::Token("newline".to_owned()));
        }
        Ok(self.commands)
    }
}

/// Splits one line into simple commands (none for a blank line or a comment).
pub fn parse_line(line: &str) -> Result<Vec<Simple>, VbashError> {
    Lexer {
        chars: line.chars().peekable(),
        commands: Vec::new(),
        words: Vec::new(),
        word: None,
        braces: (false, false, false),
    }
    .run()
}

/// Joins continuation lines (a line ending in an unescaped backslash outside quotes goes on
/// on the next line, as bash reads it). Returns the logical lines with the number of the
/// physical line each starts on.
pub fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out: Vec<(usize, String)> = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (i, line) in text.lines().enumerate() {
        let (start, mut joined) = pending.take().unwrap_or((i + 1, String::new()));
        joined.push_str(line);
        let trailing = joined.chars().rev().take_while(|c| *c == '\\').count();
        if trailing % 2 == 1 && parse_line(&joined[..joined.len() - 1]).is_ok() {
            joined.pop();
            pending = Some((start, joined));
        } else {
            out.push((start, joined));
        }
    }
    out.extend(pending);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(line: &str) -> Result<Vec<(Vec<String>, Join)>, String> {
        parse_line(line)
            .map(|cs| {
                cs.into_iter()
                    .map(|c| (c.words.into_iter().map(|w| w.text).collect(), c.join))
                    .collect()
            })
            .map_err(|e| e.to_string())
    }

    fn w(s: &[&str], j: Join) -> (Vec<String>, Join) {
        (s.iter().map(|x| (*x).to_owned()).collect(), j)
    }

    #[test]
    fn sequencing_and_quoting() {
        assert_eq!(
            texts("set system host-name 'a b'; commit && save || echo x"),
            Ok(vec![
                w(&["set", "system", "host-name", "a b"], Join::Then),
                w(&["commit"], Join::And),
                w(&["save"], Join::Or),
                w(&["echo", "x"], Join::Then),
            ])
        );
        assert_eq!(
            texts(r#"echo "a\"b" 'c\d' e\ f C:\\x # comment"#),
            Ok(vec![w(
                &["echo", "a\"b", "c\\d", "e f", "C:\\x"],
                Join::Then
            )])
        );
        assert_eq!(texts("  # only a comment"), Ok(vec![]));
        assert_eq!(
            texts("echo a#b $ 5$"),
            Ok(vec![w(&["echo", "a#b", "$", "5$"], Join::Then)])
        );
        assert_eq!(
            texts("set x '$6$abc' \"it's\""),
            Ok(vec![w(&["set", "x", "$6$abc", "it's"], Join::Then)])
        );
        assert_eq!(texts("export IN_COMMIT_CONFIRM=t").map(|v| v.len()), Ok(1));
    }

    #[test]
    fn refusals() {
        let refused = |line: &str, what: &str| {
            let e = texts(line).err().unwrap_or_default();
            assert!(e.contains(what), "{line}: {e}");
        };
        refused("show configuration | grep x", "pipeline");
        refused("echo a > /tmp/x", "redirection");
        refused("reboot &", "background");
        refused("set system host-name $(hostname)", "command substitution");
        refused("set system host-name `hostname`", "command substitution");
        refused("set system host-name \"$HOST\"", "variable expansion");
        refused("set system host-name $HOST", "variable expansion");
        refused("echo ${x}", "parameter expansion");
        refused("exit $?", "special parameters");
        refused("source <(echo set x)", "process substitution");
        refused("set a {b,c}", "brace expansion");
        refused("X=1 commit", "variable assignment");
        refused("(commit)", "subshell");
        refused("set a 'b", "unexpected EOF while looking for matching `''");
        refused("; commit", "unexpected token `;'");
        refused("commit && && save", "unexpected token `&&'");
        refused("commit &&", "unexpected token `newline'");
    }

    proptest::proptest! {
        /// Any text splits or is refused, never panics; a split line holds no empty command.
        #[test]
        fn any_line_splits_or_is_refused(text in "(\\PC|\n){0,120}") {
            for (_, line) in logical_lines(&text) {
                if let Ok(commands) = parse_line(&line) {
                    proptest::prop_assert!(commands.iter().all(|c| !c.words.is_empty()));
                }
            }
        }
    }

    #[test]
    fn continuation_lines() {
        assert_eq!(
            logical_lines("set a \\\n  b\necho 'x\\'\nc"),
            vec![
                (1, "set a   b".to_owned()),
                (3, "echo 'x\\'".to_owned()),
                (4, "c".to_owned()),
            ]
        );
    }
}
