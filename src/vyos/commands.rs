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
//!
//! That rule suits device output, which always quotes values. Text written by people goes
//! through [`parse_located_strict`] instead, which reads a line the way vbash and VyOS would or
//! refuses it, naming the word to quote.

use std::fmt;

use super::Error;
use super::secret::{Secrets, command_value, path_word, shown};
use super::tree::{validate_path_word, validate_value};

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
            f.write_str(&path_word(w))?;
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
        let op = verb_of(verb, rest, line).map_err(|(column, message)| err(column, message))?;
        let (path_words, value) = match rest.split_last() {
            Some((last, init)) if last.quoted => (init, Some(last)),
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

/// Parses a command list written by people ([`parse_located_strict`]).
pub fn parse_commands_strict(text: &str) -> Result<Vec<Command>, Error> {
    Ok(parse_located_strict(text)?
        .into_iter()
        .map(|l| l.command)
        .collect())
}

/// Node names that are valueless leaves or containers in the VyOS 1.4/1.5 schema, so that an
/// unquoted last word with one of these names is a node, not a value (see
/// [`parse_located_strict`]).
const VALUELESS: &[&str] = &[
    "always-compare-med",
    "api",
    "auto-rp",
    "connected",
    "default-originate",
    "deterministic-med",
    "disable",
    "disable-arp-filter",
    "disable-flow-control",
    "disable-forwarding",
    "disable-host-validation",
    "disable-link-detect",
    "disable-password-authentication",
    "enable",
    "enable-arp-accept",
    "enable-arp-announce",
    "enable-arp-ignore",
    "enable-proxy-arp",
    "exclude",
    "graphql",
    "gro",
    "gso",
    "hw-tc-offload",
    "ip",
    "ipv4",
    "ipv4-unicast",
    "ipv6",
    "ipv6-unicast",
    "kernel",
    "log",
    "log-neighbor-changes",
    "lro",
    "multipath-relax",
    "nexthop-self",
    "no-default-route",
    "no-summary",
    "offload",
    "passive",
    "proxy-arp-pvlan",
    "rapid-commit",
    "redistribute",
    "remove-private-as",
    "rest",
    "rfs",
    "route-reflector-client",
    "rps",
    "sg",
    "soft-reconfiguration",
    "static",
    "tso",
];

/// Tag nodes whose instances are commonly left empty (`set interfaces loopback lo`): an
/// unquoted last word right after one of these is a tag value, so a node. Names that are also
/// value-holding leaves somewhere in the schema (`name`, `server`, `address-group`, ...) are
/// left out on purpose.
const TAG_NODES: &[&str] = &[
    "bonding",
    "bridge",
    "dummy",
    "ethernet",
    "geneve",
    "input",
    "loopback",
    "macsec",
    "neighbor",
    "openvpn",
    "peer",
    "pppoe",
    "pseudo-ethernet",
    "rule",
    "tunnel",
    "user",
    "vif",
    "vif-c",
    "vif-s",
    "vti",
    "vxlan",
    "wireguard",
];

/// Parses a command list written by people (raw lines, `--running` files that are not device
/// output), the way vbash and VyOS would read it, or refuses it. Device output
/// (`show configuration commands`) goes through the lenient [`parse_located`].
///
/// Words follow the shell as in [`parse_located`], and additionally:
/// - an unquoted shell metacharacter (`;`, `&`, `|`, `$`, backtick, `>`, `<`, `(`, `)`, `*`,
///   `?`, `[`, `{`, `}`, a leading `~`) or a carriage return is refused, naming the word to
///   quote (a backslash before it quotes it, as in the shell); so are `$` and backtick inside
///   double quotes, which the shell would expand, and control characters outside quotes;
/// - a quoted last word is the value (`set system host-name 'vyos'`);
/// - an unquoted last word is a node only where VyOS's schema makes it one: as the first or
///   second path word (no top-level node holds a value), when its name is a known valueless
///   leaf or container ([`VALUELESS`]: `disable`, `disable-host-validation`, `log`, ...), or
///   right after a tag node whose instances may be empty ([`TAG_NODES`]: `loopback lo`).
///   Anything else (`set system host-name vyos`) is ambiguous without the schema and is
///   refused with a message saying to quote the value;
/// - a path word VyOS cannot hold is refused ([`validate_path_word`]: whitespace, ...);
/// - a value holding a control character (tab, DEL, ...) is refused: VyOS prints it escaped
///   (`\t`, `\127`), which reads back as other text.
pub fn parse_located_strict(text: &str) -> Result<Vec<Located>, Error> {
    let mut out = Vec::new();
    for (idx, line) in text.split('\n').enumerate() {
        let line_no = idx + 1;
        let err = |column: usize, message: String| Error::Command {
            line: line_no,
            column,
            message,
        };
        let words = split_words_strict(line).map_err(|(column, message)| err(column, message))?;
        let Some((verb, rest)) = words.split_first() else {
            continue;
        };
        let op = verb_of(verb, rest, line).map_err(|(column, message)| err(column, message))?;
        let (path_words, value) = match rest.split_last() {
            Some((last, init)) if last.quoted => (init, Some(last)),
            Some((last, init)) => {
                let prev = init.last().map(|w| w.text.as_str());
                let is_node = init.len() < 2
                    || VALUELESS.contains(&last.text.as_str())
                    || prev.is_some_and(|p| TAG_NODES.contains(&p));
                if !is_node {
                    let shown: Vec<&str> = init.iter().map(|w| w.text.as_str()).collect();
                    return Err(err(
                        last.column,
                        format!(
                            "quote \"{}\" if it is a value ({} {} '{}'): an unquoted last word is read as a node only where VyOS's schema makes it one",
                            last.text,
                            op.as_str(),
                            shown.join(" "),
                            last.text
                        ),
                    ));
                }
                (rest, None)
            }
            None => (rest, None),
        };
        if path_words.is_empty() {
            let column = value.map_or(line.len() + 1, |v| v.column);
            return Err(err(column, "missing configuration path".to_owned()));
        }
        for w in path_words {
            validate_path_word(&w.text).map_err(|m| err(w.column, m))?;
        }
        if let Some(v) = value
            && op != Op::Comment
        {
            validate_value(&v.text).map_err(|m| err(v.column, m))?;
            if let Some(c) = v.text.chars().find(|c| c.is_control()) {
                return Err(err(
                    v.column,
                    format!(
                        "the value holds the control character {c:?}: VyOS prints it escaped, so the command would not read back as written; leave it out"
                    ),
                ));
            }
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

/// The verb of a command line (`set`, `delete` or `comment`, unquoted), with the checks both
/// parsers share: the path is at most [`MAX_WORDS`] long, and a comment's text is quoted.
/// Errors are (column, message).
fn verb_of(verb: &Word, rest: &[Word], line: &str) -> Result<Op, (usize, String)> {
    let op = match (verb.text.as_str(), verb.quoted) {
        ("set", false) => Op::Set,
        ("delete", false) => Op::Delete,
        ("comment", false) => Op::Comment,
        _ => {
            return Err((
                verb.column,
                format!(
                    "unknown command \"{}\": expected set, delete or comment",
                    verb.text
                ),
            ));
        }
    };
    if rest.len() > MAX_WORDS {
        return Err((verb.column, format!("path longer than {MAX_WORDS} words")));
    }
    if op == Op::Comment && !rest.last().is_some_and(|w| w.quoted) {
        let column = rest.last().map_or(line.len() + 1, |w| w.column);
        return Err((column, "comment needs its text in quotes".to_owned()));
    }
    Ok(op)
}

/// Characters the shell interprets when they are not quoted.
fn is_shell_meta(c: u8) -> bool {
    matches!(
        c,
        b';' | b'&'
            | b'|'
            | b'$'
            | b'`'
            | b'>'
            | b'<'
            | b'('
            | b')'
            | b'*'
            | b'?'
            | b'['
            | b'{'
            | b'}'
    )
}

/// The raw text of the word starting at byte `start` (up to the next blank), for messages.
fn raw_word(line: &str, start: usize) -> &str {
    let end = line.as_bytes()[start..]
        .iter()
        .position(|&c| c == b' ' || c == b'\t')
        .map_or(line.len(), |n| start + n);
    &line[start..end]
}

/// [`split_words`] with the strict rules of [`parse_located_strict`].
fn split_words_strict(line: &str) -> Result<Vec<Word>, (usize, String)> {
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
        let quote_it = |at: usize, what: &str| {
            (
                at + 1,
                format!(
                    "quote the word \"{}\": it holds {what}, which the shell would interpret",
                    raw_word(line, start)
                ),
            )
        };
        if b[i] == b'~' {
            return Err(quote_it(i, "a leading '~'"));
        }
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
                            Some(&c @ (b'$' | b'`')) => {
                                return Err((
                                    j + 1,
                                    format!(
                                        "the shell expands '{}' inside double quotes: put the word \"{}\" in single quotes",
                                        c as char,
                                        raw_word(line, start)
                                    ),
                                ));
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
                    if b[i + 1] == b'\r' || b[i + 1] < 0x20 && b[i + 1] != b'\t' {
                        return Err(quote_it(i + 1, "a control character"));
                    }
                    text.push_str(&line[i + 1..i + 1 + ch_len]);
                    i += 1 + ch_len;
                }
                b'\\' => return Err(quote_it(i, "a trailing backslash")),
                b'\r' => {
                    return Err((
                        i + 1,
                        "carriage return outside quotes (a CRLF line ending?): the shell would keep it in the word".to_owned(),
                    ));
                }
                c if is_shell_meta(c) => {
                    return Err(quote_it(i, &format!("'{}'", c as char)));
                }
                c if c < 0x20 || c == 0x7f => {
                    return Err(quote_it(i, "a control character"));
                }
                _ => {
                    let end = b[i..]
                        .iter()
                        .position(|&c| {
                            matches!(c, b' ' | b'\t' | b'\'' | b'"' | b'\\' | b'\r')
                                || is_shell_meta(c)
                                || c < 0x20
                                || c == 0x7f
                        })
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

#[cfg(test)]
mod strict_tests {
    use super::*;
    use crate::vyos::{ConfigTree, render_commands};

    fn check(input: &str, expected: &[&str]) {
        let cmds = match parse_commands_strict(input) {
            Ok(c) => c,
            Err(e) => panic!("{input:?}: {e}"),
        };
        let shown: Vec<String> = cmds.iter().map(ToString::to_string).collect();
        assert_eq!(shown, expected, "{input:?}");
    }

    fn check_err(input: &str, contains: &str, line: usize, column: usize) {
        match parse_commands_strict(input) {
            Ok(c) => panic!("expected an error for {input:?}, got {c:?}"),
            Err(e) => {
                assert!(
                    e.to_string().contains(contains),
                    "{input:?}: {e} lacks {contains:?}"
                );
                assert_eq!(e.position(), Some((line, column)), "{input:?}: {e}");
            }
        }
    }

    #[test]
    fn strict_set_lists_read_device_form_exactly() {
        check(
            "set firewall ipv4 name WAN rule 10 action 'accept'\nset service ssh disable-host-validation\nset interfaces loopback lo\nset system host-name \"r1\"\nset nat source rule 10 exclude\n# note\n\ncomment system 'x'\n",
            &[
                "set firewall ipv4 name WAN rule 10 action 'accept'",
                "set service ssh disable-host-validation",
                "set interfaces loopback lo",
                "set system host-name 'r1'",
                "set nat source rule 10 exclude",
                "comment system 'x'",
            ],
        );
        let t = ConfigTree::parse_commands_strict(
            "set firewall ipv4 name WAN rule 10 action 'accept'\n",
        );
        let Ok(t) = t else { panic!("{t:?}") };
        assert_eq!(
            t.values(&["firewall", "ipv4", "name", "WAN", "rule", "10", "action"]),
            Some(&["accept".to_owned()][..])
        );
        // Everything `show configuration commands` prints reads back the same.
        let text = render_commands(&t);
        assert_eq!(ConfigTree::parse_commands_strict(&text), Ok(t));
        // Backslash quotes a metacharacter, as in the shell.
        check("set a b\\;c 'x'", &["set a b\\;c 'x'"]);
    }

    #[test]
    fn strict_printing_never_yields_a_line_the_shell_reads_differently() {
        let mut t = ConfigTree::new();
        let paths: [&[&str]; 3] = [
            &["firewall", "name", "WAN;reboot", "rule", "10", "action"],
            &["a", "x*y$(z)"],
            &["a", "b", "#c", "d"],
        ];
        for p in paths {
            if let Err(e) = t.set(p, Some("v\\1")) {
                panic!("{e}");
            }
        }
        let text = render_commands(&t);
        assert!(
            text.contains("set firewall name WAN\\;reboot rule 10 action 'v\\1'\n"),
            "{text}"
        );
        assert_eq!(
            ConfigTree::parse_commands_strict(&text).as_ref(),
            Ok(&t),
            "{text}"
        );
        assert_eq!(ConfigTree::parse_commands(&text).as_ref(), Ok(&t), "{text}");
        let cmds = crate::vyos::diff(&ConfigTree::new(), &t, &[]);
        let listed: String = cmds.iter().map(|c| format!("{c}\n")).collect();
        assert_eq!(parse_commands_strict(&listed), Ok(cmds));
    }

    #[test]
    fn strict_refuses_ambiguous_last_words() {
        check_err("set system host-name vyos", "quote \"vyos\"", 1, 22);
        check_err(
            "set interfaces ethernet eth0 address 192.0.2.1/24",
            "set interfaces ethernet eth0 address '192.0.2.1/24'",
            1,
            38,
        );
        check_err("comment a b", "comment needs its text in quotes", 1, 11);
        check_err("set a 'x y' 'v'", "VyOS cannot hold", 1, 7);
    }

    #[test]
    fn strict_refuses_unquoted_shell_metacharacters() {
        for (input, column) in [
            ("set a b 'x' ; rm -rf /", 13),
            ("set a b;c 'x'", 8),
            ("set a b&c 'x'", 8),
            ("set a b|c 'x'", 8),
            ("set a $x 'x'", 7),
            ("set a `x` 'x'", 7),
            ("set a b>c 'x'", 8),
            ("set a b<c 'x'", 8),
            ("set a b 'x'\r", 12),
        ] {
            match parse_commands_strict(input) {
                Ok(c) => panic!("{input:?} parsed: {c:?}"),
                Err(e) => assert_eq!(e.position(), Some((1, column)), "{input:?}: {e}"),
            }
        }
        check_err("set a b 'x' ; rm -rf /", "quote the word \";\"", 1, 13);
        check_err("set a b \"$(reboot)\"", "single quotes", 1, 10);
        check_err("set a b 'x\ny'", "unterminated single quote", 1, 9);
        // Quoted, they are plain text.
        check("set a b 'x;y|z$(w)'", &["set a b 'x;y|z$(w)'"]);
    }

    /// Found by `scripts/fuzz-smoke` (commands_strict): a DEL inside a quoted value printed as
    /// `\127`, which read back as four other characters.
    #[test]
    fn strict_refuses_control_characters_in_values() {
        for input in [
            "set fi '\u{7f}plink'",
            "set a b 'x\ty'",
            "set a b \"x\u{1b}[2J\"",
        ] {
            check_err(
                input,
                "control character",
                1,
                1 + input.find(['\'', '"']).unwrap(),
            );
        }
        // A comment prints as written, so its text may hold a tab.
        assert!(parse_commands_strict("comment a b 'x\ty'").is_ok());
    }
}
