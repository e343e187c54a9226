//! Configuration-mode command lines: `set`, `delete` and `comment`, as VyOS prints them
//! (`show configuration commands`, `compare commands`) and as operators write them.
//!
//! Owns the [`Command`] type, its exact text form, and the parser of command lists. It must not
//! touch trees beyond building one from a list ([`crate::vyos::apply`] lives in `diff`).
//!
//! Text form (reference §2.1): path words are never quoted; a value is always in single quotes
//! after vyos1x-config `Util.escape_string` and the vyos-1x backslash un-escape (so `\` stays
//! literal, a tab prints as `\t`, a double quote as `\"`). VyOS leaves a single quote in a value
//! as it is, which only works because cstore rejects such values; here it is written as `'\''`
//! so that the line stays a valid shell word and reads back as the same value.
//!
//! Reading follows the shell (vbash): words split on blanks; `'...'` is literal; `"..."` knows
//! `\"`, `\\`, `\$` and `` \` ``; outside quotes `\x` is `x`; a word starting with `#` starts a
//! comment. Schema-free rule for values: the last word of a `set`/`delete` line is the value if
//! and only if it was quoted (as `show configuration commands` always does); unquoted words are
//! path words. A `comment` line needs its text quoted.

use std::fmt;

use super::Error;
use super::secret::{Secrets, command_value, shown};
use super::tree::validate_value;

/// The verb of a command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Set,
    Delete,
    Comment,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Set => "set",
            Op::Delete => "delete",
            Op::Comment => "comment",
        }
    }
}

/// One configuration command. For [`Op::Comment`], `value` is the comment text (`""` removes).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Command {
    pub op: Op,
    pub path: Vec<String>,
    pub value: Option<String>,
}

impl Command {
    pub fn set(path: Vec<String>, value: Option<String>) -> Command {
        Command {
            op: Op::Set,
            path,
            value,
        }
    }
    pub fn delete(path: Vec<String>, value: Option<String>) -> Command {
        Command {
            op: Op::Delete,
            path,
            value,
        }
    }
    pub fn comment(path: Vec<String>, text: String) -> Command {
        Command {
            op: Op::Comment,
            path,
            value: Some(text),
        }
    }

    /// The command as a line for a shell (vbash over SSH), safe against injection: every path
    /// word outside `[A-Za-z0-9._:/@+,=%-]` and every value goes in single quotes (`'` as
    /// `'\''`), and the value is sent as it is, without VyOS's display escaping. Fails, with
    /// VyOS's message, on a value cstore would reject, and on an empty path word or one holding
    /// whitespace, a control character or a quote.
    pub fn to_shell(&self) -> Result<String, Error> {
        if self.path.is_empty() {
            return Err(Error::EmptyPath);
        }
        let mut out = String::from(self.op.as_str());
        for w in &self.path {
            let bad = w.is_empty()
                || w.chars()
                    .any(|c| c.is_whitespace() || c.is_control() || c == '\'' || c == '"');
            if bad {
                return Err(Error::InvalidValue {
                    message: format!(
                        "Invalid path word {w:?}: it must be non-empty and hold no whitespace, control character or quote"
                    ),
                });
            }
            out.push(' ');
            let safe = w.bytes().all(|b| {
                b.is_ascii_alphanumeric()
                    || matches!(
                        b,
                        b'.' | b'_' | b':' | b'/' | b'@' | b'+' | b',' | b'=' | b'%' | b'-'
                    )
            });
            if safe {
                out.push_str(w);
            } else {
                out.push('\'');
                out.push_str(w);
                out.push('\'');
            }
        }
        if let Some(v) = &self.value {
            if self.op != Op::Comment {
                validate_value(v).map_err(|message| Error::InvalidValue { message })?;
            } else if v.contains('\n') {
                return Err(Error::InvalidValue {
                    message: "Cannot use the newline character in a comment".to_owned(),
                });
            }
            out.push_str(" '");
            out.push_str(&v.replace('\'', "'\\''"));
            out.push('\'');
        }
        Ok(out)
    }

    /// The same command with a secret value replaced by [`super::MASK`].
    pub fn masked(&self) -> Command {
        self.with_secrets(Secrets::Hide)
    }

    /// The same command, its value shown or hidden by [`super::secret::shown`].
    pub fn with_secrets(&self, secrets: Secrets) -> Command {
        let mut c = self.clone();
        if self.op != Op::Comment
            && let (Some(name), Some(v)) = (self.path.last(), &mut c.value)
        {
            let s = shown(name, v, secrets);
            if s != v.as_str() {
                *v = s.to_owned();
            }
        }
        c
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.op.as_str())?;
        for w in &self.path {
            f.write_str(" ")?;
            f.write_str(w)?;
        }
        match (&self.value, self.op) {
            (Some(v), Op::Comment) => write!(f, " '{}'", v.replace('\'', "'\\''")),
            (Some(v), _) => write!(f, " '{}'", command_value(v)),
            (None, _) => Ok(()),
        }
    }
}

/// The longest command path accepted.
const MAX_WORDS: usize = super::tree::MAX_DEPTH;

/// A command with the line and column it started at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub command: Command,
    pub line: usize,
    pub column: usize,
}

/// Parses a command list. Blank lines and `#` comment lines are skipped.
pub fn parse_commands(text: &str) -> Result<Vec<Command>, Error> {
    Ok(parse_located(text)?
        .into_iter()
        .map(|l| l.command)
        .collect())
}

/// Like [`parse_commands`], keeping each command's position.
pub fn parse_located(text: &str) -> Result<Vec<Located>, Error> {
    let mut out = Vec::new();
    for (idx, raw) in text.split('\n').enumerate() {
        let line_no = idx + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let words = split_words(line).map_err(|(column, message)| Error::Command {
            line: line_no,
            column,
            message,
        })?;
        let Some((verb, rest)) = words.split_first() else {
            continue;
        };
        let err = |column: usize, message: String| Error::Command {
            line: line_no,
            column,
            message,
        };
        let op = match (verb.text.as_str(), verb.quoted) {
            ("set", false) => Op::Set,
            ("delete", false) => Op::Delete,
            ("comment", false) => Op::Comment,
            _ => {
                return Err(err(
                    verb.column,
                    format!(
                        "unknown command \"{}\": expected set, delete or comment",
                        verb.text
                    ),
                ));
            }
        };
        if rest.len() > MAX_WORDS {
            return Err(err(
                verb.column,
                format!("path longer than {MAX_WORDS} words"),
            ));
        }
        let (path_words, value) = match rest.split_last() {
            Some((last, init)) if last.quoted => (init, Some(last)),
            _ if op == Op::Comment => {
                let column = rest.last().map_or(line.len() + 1, |w| w.column);
                return Err(err(column, "comment needs its text in quotes".to_owned()));
            }
            _ => (rest, None),
        };
        if path_words.is_empty() {
            let column = value.map_or(line.len() + 1, |v| v.column);
            return Err(err(column, "missing configuration path".to_owned()));
        }
        if let Some(v) = value
            && op != Op::Comment
        {
            validate_value(&v.text).map_err(|m| err(v.column, m))?;
        }
        out.push(Located {
            command: Command {
                op,
                path: path_words.iter().map(|w| w.text.clone()).collect(),
                value: value.map(|v| v.text.clone()),
            },
            line: line_no,
            column: verb.column,
        });
    }
    Ok(out)
}

/// One shell word of a command line (used by the lab's vbash interpreter as well).
#[derive(Debug)]
pub(crate) struct Word {
    pub(crate) text: String,
    pub(crate) quoted: bool,
    pub(crate) column: usize,
}

/// Shell-style word splitting of one line; errors carry the 1-based byte column.
pub(crate) fn split_words(line: &str) -> Result<Vec<Word>, (usize, String)> {
    let b = line.as_bytes();
    let mut words = Vec::new();
    let mut i = 0;
    loop {
        while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
            i += 1;
        }
        if i >= b.len() || b[i] == b'#' {
            return Ok(words);
        }
        let start = i;
        let mut text = String::new();
        let mut quoted = false;
        while i < b.len() && b[i] != b' ' && b[i] != b'\t' {
            match b[i] {
                b'\'' => {
                    let Some(n) = b[i + 1..].iter().position(|&c| c == b'\'') else {
                        return Err((i + 1, "unterminated single quote".to_owned()));
                    };
                    text.push_str(&line[i + 1..i + 1 + n]);
                    quoted = true;
                    i += n + 2;
                }
                b'"' => {
                    let mut j = i + 1;
                    let mut seg_start = j;
                    loop {
                        match b.get(j) {
                            None => return Err((i + 1, "unterminated double quote".to_owned())),
                            Some(b'"') => break,
                            Some(b'\\')
                                if matches!(b.get(j + 1), Some(b'"' | b'\\' | b'$' | b'`')) =>
                            {
                                text.push_str(&line[seg_start..j]);
                                seg_start = j + 1;
                                j += 2;
                            }
                            Some(_) => j += 1,
                        }
                    }
                    text.push_str(&line[seg_start..j]);
                    quoted = true;
                    i = j + 1;
                }
                b'\\' if i + 1 < b.len() => {
                    let ch_len = line[i + 1..].chars().next().map_or(1, char::len_utf8);
                    text.push_str(&line[i + 1..i + 1 + ch_len]);
                    i += 1 + ch_len;
                }
                _ => {
                    let end = b[i..]
                        .iter()
                        .position(|&c| matches!(c, b' ' | b'\t' | b'\'' | b'"' | b'\\'))
                        .map_or(b.len(), |n| i + n);
                    let end = if end == i { i + 1 } else { end };
                    text.push_str(&line[i..end]);
                    i = end;
                }
            }
        }
        words.push(Word {
            text,
            quoted,
            column: start + 1,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: &[&str]) {
        let cmds = match parse_commands(input) {
            Ok(c) => c,
            Err(e) => panic!("{input:?}: {e}"),
        };
        let shown: Vec<String> = cmds.iter().map(ToString::to_string).collect();
        assert_eq!(shown, expected, "{input:?}");
    }

    fn check_err(input: &str, message: &str, line: usize, column: usize) {
        match parse_commands(input) {
            Ok(c) => panic!("expected an error for {input:?}, got {c:?}"),
            Err(e) => {
                assert_eq!(e.to_string(), message);
                assert_eq!(e.position(), Some((line, column)));
            }
        }
    }

    #[test]
    fn parses_vyos_and_operator_forms() {
        check(
            "set interfaces ethernet eth0 address 'dhcp'\nset interfaces ethernet eth0 disable\n",
            &[
                "set interfaces ethernet eth0 address 'dhcp'",
                "set interfaces ethernet eth0 disable",
            ],
        );
        check(
            "# a comment\n\n  set system host-name \"r1\"  \r\ndelete nat source rule 10\n",
            &["set system host-name 'r1'", "delete nat source rule 10"],
        );
        check(
            "comment interfaces ethernet eth0 'uplink'",
            &["comment interfaces ethernet eth0 'uplink'"],
        );
        check("set a b 'C:\\temp'", &["set a b 'C:\\temp'"]);
        check("set a b \"x \\\\ \\t \\$\"", &["set a b 'x \\ \\t $'"]);
        check("comment a b 'it'\\''s'", &["comment a b 'it'\\''s'"]);
        check("set a b 'x' # trailing", &["set a b 'x'"]);
        check("set a 'b' 'c'", &["set a b 'c'"]);
    }

    #[test]
    fn errors() {
        check_err(
            "show a",
            "unknown command \"show\": expected set, delete or comment",
            1,
            1,
        );
        check_err("set a 'b", "unterminated single quote", 1, 7);
        check_err("\nset a \"b", "unterminated double quote", 2, 7);
        check_err("comment a b", "comment needs its text in quotes", 1, 11);
        check_err("set 'x'", "missing configuration path", 1, 5);
        check_err("set", "missing configuration path", 1, 4);
        check_err(
            "set a b \"it's\"",
            "Cannot use the single quote (') character in a value string",
            1,
            9,
        );
    }

    #[test]
    fn shell_form_quotes_what_bash_would_interpret() {
        let c = |path: &[&str], value: Option<&str>| Command {
            op: Op::Set,
            path: path.iter().map(|w| (*w).to_owned()).collect(),
            value: value.map(str::to_owned),
        };
        assert_eq!(
            c(
                &["firewall", "ipv4", "name", "WAN;reboot", "rule", "10"],
                Some("C:\\$(x)")
            )
            .to_shell(),
            Ok("set firewall ipv4 name 'WAN;reboot' rule 10 'C:\\$(x)'".to_owned())
        );
        assert_eq!(
            c(&["a"], Some("tab\there")).to_shell(),
            Ok("set a 'tab\there'".to_owned())
        );
        assert!(c(&["a b"], None).to_shell().is_err());
        assert!(c(&["a"], Some("x\ny")).to_shell().is_err());
        assert!(c(&[], None).to_shell().is_err());
        let comment = Command::comment(vec!["a".into()], "it's".into());
        assert_eq!(comment.to_shell(), Ok("comment a 'it'\\''s'".to_owned()));
    }

    #[test]
    fn display_and_mask() {
        let c = Command::set(
            vec!["system".into(), "login".into(), "plaintext-password".into()],
            Some("s3cret".into()),
        );
        assert_eq!(
            c.masked().to_string(),
            "set system login plaintext-password '****************'"
        );
        let d = Command::delete(vec!["a".into()], Some("tab\there".into()));
        assert_eq!(d.to_string(), "delete a 'tab\\there'");
    }
}
