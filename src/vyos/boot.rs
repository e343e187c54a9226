//! The config.boot reader: version footer split, the backslash pre-escape, the lexer and the
//! parser, for every dialect VyOS has written (reference §1.1, §1.2, §1.5).
//!
//! Owns turning config.boot text into a [`ConfigTree`] plus its [`VersionFooter`], with VyOS's
//! own error messages and positions. It must not do IO and must not panic on any input.
//!
//! The model is vyos1x-config's ocamllex lexer and Menhir grammar, including its quirks:
//! - A NEWLINE token exists only right after an identifier or a quoted string, so a leaf must
//!   end its line and `b { c d }` is a syntax error.
//! - Longest match decides between rules: `/*x*/` (no space after `/*`) is an identifier, not a
//!   comment; `//` at the start of a token comments out the rest of the line.
//! - Positions are true ones, where VyOS's are not: its lexer does not count the newlines inside
//!   `/* */`, and counts a newline inside a quoted string only when it stands alone between an
//!   escape or quote and the next quote or backslash, so after a multi-line comment or string
//!   VyOS reports too small a line. We accept and reject exactly what VyOS does, but count
//!   every newline.
//! - A syntax error is reported at the start of the offending token as the lexer saw it last: a
//!   quoted string at its closing quote, a comment at its `*/`. Columns count bytes from 1.
//! - Repeated plain nodes merge one level deep (their children lists are concatenated), so a
//!   repeated tag instance, or the same child in two copies of a node, fails with
//!   `Node "a t" has two children named "x"`.
//! - Before lexing, every quoted string that contains a backslash and ends a line gets its
//!   backslashes doubled (vyos-1x `configtree.py`, `escape_backslash`), so backslashes there
//!   are literal; elsewhere `\n`, `\t`, `\"`, ... are escapes and any other `\x` fails with
//!   `lexing: empty token`.
//!
//! The parser nests at most [`MAX_NESTING`] levels (VyOS has no limit; this guards the stack).

use std::borrow::Cow;

use super::Error;
use super::natural::natural_cmp;
use super::tree::{ConfigTree, Node, Values, validate_path_word};

/// Deepest brace nesting accepted.
pub const MAX_NESTING: usize = 200;

/// Which footer style a config.boot ends with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vintage {
    /// 1.3 and later: `// Warning: ...`, `// vyos-config-version: "..."`, `// Release version: ...`.
    Vyos,
    /// 1.2 and earlier: `/* Warning: ... */`, `/* === vyatta-config-version: "..." === */`, ...
    Vyatta,
}

/// The version footer: component versions (which migration scripts have run) and the release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionFooter {
    pub vintage: Vintage,
    /// `name@N` pairs, in file order.
    pub components: Vec<(String, u32)>,
    /// Free-form release string: `1.3.4`, `1.4-rolling-202303160317`, `1.5-stream-2025-Q2`, ...
    pub release: String,
}

impl VersionFooter {
    /// The three footer lines as VyOS writes them (components sorted by name), each ending in
    /// a newline (vyos-1x `python/vyos/component_version.py`, `version_footer`).
    pub fn render(&self) -> String {
        let mut comps: Vec<&(String, u32)> = self.components.iter().collect();
        comps.sort_by(|a, b| a.0.cmp(&b.0));
        let list = comps
            .iter()
            .map(|(n, v)| format!("{n}@{v}"))
            .collect::<Vec<_>>()
            .join(":");
        match self.vintage {
            Vintage::Vyos => format!(
                "// Warning: Do not remove the following line.\n// vyos-config-version: \"{list}\"\n// Release version: {}\n",
                self.release
            ),
            Vintage::Vyatta => format!(
                "/* Warning: Do not remove the following line. */\n/* === vyatta-config-version: \"{list}\" === */\n/* Release version: {} */\n",
                self.release
            ),
        }
    }
}

/// A parsed config.boot: the tree and the footer, if the file had a valid one.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BootFile {
    pub tree: ConfigTree,
    pub footer: Option<VersionFooter>,
}

const WARNING_VYOS: &str = "// Warning: Do not remove the following line.";
const WARNING_VYATTA: &str = "/* Warning: Do not remove the following line. */";

/// Splits text at the footer's "Warning" line, if what follows is a valid 3-line footer.
/// Returns the body and the footer; without a valid footer the whole text is the body.
pub fn split_footer(text: &str) -> (&str, Option<VersionFooter>) {
    const MARK: &str = "Warning: Do not remove the following line.";
    for (at, _) in text.match_indices(MARK) {
        let start = text[..at].rfind('\n').map_or(0, |n| n + 1);
        let end = text[at..].find('\n').map_or(text.len(), |n| at + n);
        let line = text[start..end].trim();
        if line == WARNING_VYOS || line == WARNING_VYATTA {
            return match parse_footer(&text[start..]) {
                Some(f) => (&text[..start], Some(f)),
                None => (text, None),
            };
        }
    }
    (text, None)
}

fn parse_footer(text: &str) -> Option<VersionFooter> {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let [warning, version, release] = lines[..] else {
        return None;
    };
    let (vintage, list, release) = if warning == WARNING_VYOS {
        let list = version
            .strip_prefix("// vyos-config-version:")?
            .trim()
            .strip_prefix('"')?
            .strip_suffix('"')?;
        let release = release.strip_prefix("// Release version:")?;
        (Vintage::Vyos, list, release)
    } else {
        let list = version
            .strip_prefix("/* === vyatta-config-version:")?
            .strip_suffix("=== */")?
            .trim()
            .strip_prefix('"')?
            .strip_suffix('"')?;
        let release = release
            .strip_prefix("/* Release version:")?
            .strip_suffix("*/")?;
        (Vintage::Vyatta, list, release)
    };
    let mut components = Vec::new();
    if !list.is_empty() {
        for item in list.split(':') {
            let (name, num) = item.split_once('@')?;
            let ok_name = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b',');
            if !ok_name || num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            components.push((name.to_owned(), num.parse().ok()?));
        }
    }
    Some(VersionFooter {
        vintage,
        components,
        release: release.trim().to_owned(),
    })
}

/// The input pass of vyos-1x `configtree.py` (`escape_backslash`): the regex
/// `("[^"]*[\\][^"]*"\n|'[^']*[\\][^']*'\n)` applied left to right, doubling each backslash
/// inside a match. (The output pass, `unescape_backslash`, is applied per value in `render`.)
pub(crate) fn pre_escape(text: &str) -> Cow<'_, str> {
    let b = text.as_bytes();
    if !b.contains(&b'\\') {
        return Cow::Borrowed(text);
    }
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut i = 0;
    while i < b.len() {
        let q = b[i];
        if (q == b'"' || q == b'\'')
            && let Some(rel) = b[i + 1..].iter().position(|&c| c == q)
        {
            let close = i + 1 + rel;
            let inner = &b[i + 1..close];
            if b.get(close + 1) == Some(&b'\n') && inner.contains(&b'\\') {
                let o = out.get_or_insert_with(|| String::with_capacity(text.len() + 16));
                o.push_str(&text[copied..i + 1]);
                let inner_str = &text[i + 1..close];
                o.push_str(&inner_str.replace('\\', "\\\\"));
                copied = i + 1 + inner_str.len();
                i = close + 2;
                continue;
            }
        }
        i += 1;
    }
    match out {
        None => Cow::Borrowed(text),
        Some(mut o) => {
            o.push_str(&text[copied..]);
            Cow::Owned(o)
        }
    }
}

/// Parses a whole config.boot: footer split, pre-escape, lex, parse.
pub fn parse_boot_file(text: &str) -> Result<BootFile, Error> {
    let (body, footer) = split_footer(text);
    let tree = parse_body(body)?;
    Ok(BootFile { tree, footer })
}

/// Parses config.boot text as it is, without splitting a footer off (what libvyosconfig's
/// `from_string` sees): a `//` footer is skipped by the lexer, a 1.2 `/* */` footer fails.
pub fn parse_body(text: &str) -> Result<ConfigTree, Error> {
    let pre = pre_escape(text);
    let mut p = Parser {
        lx: Lexer::new(&pre),
        peeked: None,
        stack: Vec::new(),
    };
    let root_children = p.contents(0, false, None)?;
    Ok(ConfigTree::from_root(Node::from_parts(
        String::new(),
        Values::new(),
        root_children,
        None,
        false,
        false,
    )))
}

#[derive(Debug, Clone, PartialEq)]
enum Tok<'a> {
    Ident(&'a str),
    Str(Cow<'a, str>),
    Comment(&'a str),
    LBrace,
    RBrace,
    Newline,
    Eof,
}

#[derive(Debug, Clone, Copy)]
struct Pos {
    line: usize,
    column: usize,
}

struct Lexer<'a> {
    src: &'a str,
    b: &'a [u8],
    pos: usize,
    line: usize,
    bol: usize,
    inside: bool,
}

impl<'a> Lexer<'a> {
    fn new(src: &'a str) -> Self {
        Lexer {
            src,
            b: src.as_bytes(),
            pos: 0,
            line: 1,
            bol: 0,
            inside: false,
        }
    }

    fn pos_at(&self, offset: usize) -> Pos {
        Pos {
            line: self.line,
            column: offset.saturating_sub(self.bol) + 1,
        }
    }

    fn newline_at(&mut self, offset: usize) {
        self.line += 1;
        self.bol = offset + 1;
    }

    /// The next token and the position VyOS would report for it.
    fn next(&mut self) -> Result<(Tok<'a>, Pos), Error> {
        loop {
            let Some(&c) = self.b.get(self.pos) else {
                return Ok((Tok::Eof, self.pos_at(self.pos)));
            };
            let start = self.pos;
            match c {
                b' ' | b'\t' | b'\r' => self.pos += 1,
                b'\n' => {
                    let at = self.pos_at(start);
                    self.newline_at(start);
                    self.pos += 1;
                    if self.inside {
                        self.inside = false;
                        return Ok((Tok::Newline, at));
                    }
                }
                b'"' | b'\'' => {
                    let (s, at) = self.string(c)?;
                    self.inside = true;
                    return Ok((Tok::Str(s), at));
                }
                b'{' => {
                    self.pos += 1;
                    self.inside = false;
                    return Ok((Tok::LBrace, self.pos_at(start)));
                }
                b'}' => {
                    self.pos += 1;
                    self.inside = false;
                    return Ok((Tok::RBrace, self.pos_at(start)));
                }
                _ => {
                    let end = self.ident_end(start);
                    let next = self.b.get(start + 1).copied();
                    if c == b'/' && next == Some(b'/') {
                        // `"//" [^ '\n']*` is never shorter than an identifier here.
                        self.pos = self.b[start..]
                            .iter()
                            .position(|&x| x == b'\n')
                            .map_or(self.b.len(), |n| start + n);
                        continue;
                    }
                    if c == b'/' && next == Some(b'*') && end - start == 2 {
                        return self.comment(start);
                    }
                    self.pos = end;
                    self.inside = true;
                    return Ok((Tok::Ident(&self.src[start..end]), self.pos_at(start)));
                }
            }
        }
    }

    fn ident_end(&self, start: usize) -> usize {
        self.b[start..]
            .iter()
            .position(|&x| matches!(x, b' ' | b'\t' | b'\n' | b'\r' | b'{' | b'}' | b'"' | b'\''))
            .map_or(self.b.len(), |n| start + n)
    }

    fn comment(&mut self, start: usize) -> Result<(Tok<'a>, Pos), Error> {
        let body = start + 2;
        match self.b[body..].windows(2).position(|w| w == b"*/") {
            Some(n) => {
                let close = body + n;
                for (k, &x) in self.b[body..close].iter().enumerate() {
                    if x == b'\n' {
                        self.newline_at(body + k);
                    }
                }
                self.pos = close + 2;
                self.inside = false;
                Ok((Tok::Comment(&self.src[body..close]), self.pos_at(close)))
            }
            None => {
                for (k, &x) in self.b[body..].iter().enumerate() {
                    if x == b'\n' {
                        self.newline_at(body + k);
                    }
                }
                let at = self.pos_at(self.b.len());
                self.pos = self.b.len();
                Err(Error::Lexing {
                    line: at.line,
                    column: at.column,
                })
            }
        }
    }

    fn string(&mut self, q: u8) -> Result<(Cow<'a, str>, Pos), Error> {
        let open = self.pos;
        let mut i = open + 1;
        let mut owned: Option<String> = None;
        let mut chunk_start = i;
        loop {
            let Some(&c) = self.b.get(i) else {
                let at = self.pos_at(i);
                self.pos = i;
                let which = if q == b'"' { "double" } else { "single" };
                return Err(Error::Syntax {
                    line: at.line,
                    column: at.column,
                    message: format!("Quoted string is missing the closing {which} quote"),
                });
            };
            if c == q {
                let at = self.pos_at(i);
                self.pos = i + 1;
                let s = match owned {
                    None => Cow::Borrowed(&self.src[open + 1..i]),
                    Some(mut o) => {
                        o.push_str(&self.src[chunk_start..i]);
                        Cow::Owned(o)
                    }
                };
                return Ok((s, at));
            }
            if c == b'\\' {
                let esc = match self.b.get(i + 1) {
                    Some(b'/') => '/',
                    Some(b'\\') => '\\',
                    Some(b'b') => '\u{8}',
                    Some(b'f') => '\u{c}',
                    Some(b'n') => '\n',
                    Some(b'r') => '\r',
                    Some(b't') => '\t',
                    Some(b'\'') => '\'',
                    Some(b'"') => '"',
                    _ => {
                        let at = self.pos_at(i);
                        self.pos = i;
                        return Err(Error::Lexing {
                            line: at.line,
                            column: at.column,
                        });
                    }
                };
                let o = owned.get_or_insert_with(String::new);
                o.push_str(&self.src[chunk_start..i]);
                o.push(esc);
                i += 2;
                chunk_start = i;
                continue;
            }
            // A run of ordinary characters; every newline in it counts (ocamllex counts one only
            // when it is the whole run).
            let run_end = self.b[i..]
                .iter()
                .position(|&x| x == q || x == b'\\')
                .map_or(self.b.len(), |n| i + n);
            for k in i..run_end {
                if self.b[k] == b'\n' {
                    self.newline_at(k);
                }
            }
            i = run_end;
        }
    }
}

struct Parser<'a> {
    lx: Lexer<'a>,
    peeked: Option<(Tok<'a>, Pos)>,
    /// Children of the nodes being parsed, innermost last; each node takes its own off the
    /// top into an exactly sized `Vec`.
    stack: Vec<Node>,
}

fn syntax(at: Pos) -> Error {
    Error::Syntax {
        line: at.line,
        column: at.column,
        message: "Invalid syntax.".to_owned(),
    }
}

impl<'a> Parser<'a> {
    fn peek(&mut self) -> Result<&(Tok<'a>, Pos), Error> {
        let tok = match self.peeked.take() {
            Some(t) => t,
            None => self.lx.next()?,
        };
        Ok(self.peeked.insert(tok))
    }

    fn bump(&mut self) -> Result<(Tok<'a>, Pos), Error> {
        match self.peeked.take() {
            Some(t) => Ok(t),
            None => self.lx.next(),
        }
    }

    /// `node_content*` up to `}` (if `closing`) or EOF; children merged, sorted and checked.
    /// `prefix` names the enclosing node for duplicate errors.
    fn contents(
        &mut self,
        depth: usize,
        closing: bool,
        prefix: Option<&str>,
    ) -> Result<Vec<Node>, Error> {
        let start = self.stack.len();
        loop {
            let (tok, at) = self.peek()?;
            let at = *at;
            match tok {
                Tok::Comment(_) | Tok::Ident(_) => {}
                Tok::RBrace if closing => {
                    self.bump()?;
                    let raw: Vec<Node> = self.stack.drain(start..).collect();
                    return finish_children(raw, prefix, at);
                }
                Tok::Eof if !closing => {
                    let raw: Vec<Node> = self.stack.drain(start..).collect();
                    return finish_children(raw, prefix, at);
                }
                _ => return Err(syntax(at)),
            }
            let node = self.node_content(depth)?;
            self.stack.push(node);
        }
    }

    fn node_content(&mut self, depth: usize) -> Result<Node, Error> {
        let mut comment = None;
        let name = loop {
            let (tok, at) = self.bump()?;
            match tok {
                Tok::Comment(c) => comment = Some(c),
                Tok::Ident(n) => break n,
                _ => return Err(syntax(at)),
            }
        };
        let comment = comment.map(|c| c.trim_matches(OCAML_SPACE).to_owned());
        let (tok, at) = self.bump()?;
        match tok {
            Tok::LBrace => {
                let depth = self.deeper(depth, at)?;
                let children = self.contents(depth, true, Some(name))?;
                Ok(Node::from_parts(
                    name.to_owned(),
                    Values::new(),
                    children,
                    comment,
                    false,
                    false,
                ))
            }
            Tok::Newline | Tok::Eof => Ok(Node::from_parts(
                name.to_owned(),
                Values::new(),
                Vec::new(),
                comment,
                false,
                true,
            )),
            Tok::Ident(_) | Tok::Str(_) => {
                let value = match tok {
                    Tok::Ident(v) => v.to_owned(),
                    Tok::Str(v) => v.into_owned(),
                    _ => String::new(),
                };
                let value_at = at;
                let (tok, at) = self.bump()?;
                match tok {
                    Tok::Newline | Tok::Eof => Ok(Node::from_parts(
                        name.to_owned(),
                        smallvec::smallvec![value],
                        Vec::new(),
                        comment,
                        false,
                        true,
                    )),
                    Tok::LBrace => {
                        if let Err(message) = validate_path_word(&value) {
                            return Err(Error::Syntax {
                                line: value_at.line,
                                column: value_at.column,
                                message: format!("{message} (under \"{name}\")"),
                            });
                        }
                        let depth = self.deeper(depth, at)?;
                        let prefix = format!("{name} {value}");
                        let children = self.contents(depth, true, Some(&prefix))?;
                        let inner =
                            Node::from_parts(value, Values::new(), children, comment, false, false);
                        Ok(Node::from_parts(
                            name.to_owned(),
                            Values::new(),
                            vec![inner],
                            None,
                            true,
                            false,
                        ))
                    }
                    _ => Err(syntax(at)),
                }
            }
            _ => Err(syntax(at)),
        }
    }

    fn deeper(&self, depth: usize, at: Pos) -> Result<usize, Error> {
        if depth + 1 > MAX_NESTING {
            return Err(Error::Syntax {
                line: at.line,
                column: at.column,
                message: format!("nesting deeper than {MAX_NESTING} levels"),
            });
        }
        Ok(depth + 1)
    }
}

/// OCaml's `String.trim` whitespace.
const OCAML_SPACE: &[char] = &[' ', '\u{c}', '\n', '\r', '\t'];

/// `Vytree.merge_children` + `sort_children` + `find_duplicate_children` for one node's
/// children, in the order the Menhir actions run them.
fn finish_children(mut raw: Vec<Node>, prefix: Option<&str>, at: Pos) -> Result<Vec<Node>, Error> {
    // The common case, a file VyOS wrote: already sorted, no repeats, nothing to merge.
    if raw
        .windows(2)
        .all(|w| natural_cmp(w[0].name(), w[1].name()) == std::cmp::Ordering::Less)
    {
        return Ok(raw);
    }
    raw.sort_by(|a, b| natural_cmp(a.name(), b.name()));
    let mut out: Vec<Node> = Vec::with_capacity(raw.len());
    let mut merged_any = false;
    let mut merged: Vec<bool> = Vec::new();
    for node in raw {
        if let Some(last) = out.last_mut()
            && last.name() == node.name()
        {
            let (values, children) = node.into_values_children();
            last.values_mut().extend(values);
            last.children_mut().extend(children);
            if let Some(m) = merged.last_mut() {
                *m = true;
            }
            merged_any = true;
            continue;
        }
        out.push(node);
        merged.push(false);
    }
    if merged_any {
        for (node, was_merged) in out.iter_mut().zip(&merged) {
            if !*was_merged {
                continue;
            }
            node.children_mut()
                .sort_by(|a, b| natural_cmp(a.name(), b.name()));
        }
        for (node, was_merged) in out.iter().zip(&merged) {
            if !*was_merged {
                continue;
            }
            if let Some(w) = node
                .children()
                .windows(2)
                .find(|w| w[0].name() == w[1].name())
            {
                let path = match prefix {
                    Some(p) => format!("{p} {}", node.name()),
                    None => node.name().to_owned(),
                };
                return Err(Error::DuplicateChild {
                    line: at.line,
                    column: at.column,
                    node: path,
                    child: w[0].name().to_owned(),
                });
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected_commands: &str) {
        let tree = match parse_body(input) {
            Ok(t) => t,
            Err(e) => panic!("parse failed: {e} for {input:?}"),
        };
        assert_eq!(
            crate::vyos::render_commands(&tree),
            expected_commands,
            "{input:?}"
        );
    }

    fn check_err(input: &str, expected: &str, line: usize, column: usize) {
        match parse_body(input) {
            Ok(t) => panic!("expected an error for {input:?}, got {t:?}"),
            Err(e) => {
                assert_eq!(e.to_string(), expected, "{input:?}");
                assert_eq!(e.position(), Some((line, column)), "{input:?}: {e}");
            }
        }
    }

    #[test]
    fn grammar() {
        check("a {\n b 1\n}\n", "set a b '1'\n");
        check("a { }", "set a\n");
        check("a\n", "set a\n");
        check("a", "set a\n");
        check("a \"x\"", "set a 'x'\n");
        check(
            "a {\n b 1\n b 2\n b 1\n}",
            "set a b '1'\nset a b '2'\nset a b '1'\n",
        );
        check("/* one */ /* two */ a\n", "set a\ncomment a 'two'\n");
        check("/*x*/ a\n", "set /\\*x\\*/ 'a'\n");
        check("// note\na // trailing\n", "set a\n");
        check("a 'it\\'s'\n", "set a 'it'\\''s'\n");
        check("a \"fo\\o\"\n", "set a 'fo\\o'\n");
        check("eth10 {\n}\neth2 {\n}\n", "set eth2\nset eth10\n");
        check("a {\n x 1\n}\na {\n y 2\n}\n", "set a x '1'\nset a y '2'\n");
    }

    #[test]
    fn true_line_numbers_after_multi_line_comments() {
        // VyOS says line 3 (it skips the comment's newlines); the error is on line 5.
        check_err(
            "/* one\ntwo\nthree */\na {\n    b c d\n}\n",
            "Syntax error on line 5, character 9: Invalid syntax.",
            5,
            9,
        );
        // And after a multi-line quoted value.
        check_err(
            "a \"x\ny\nz\"\nb c d\n",
            "Syntax error on line 4, character 5: Invalid syntax.",
            4,
            5,
        );
        // The same inputs are accepted as before.
        check(
            "/* one\ntwo */\na \"x\ny\"\n",
            "set a 'x\\ny'\ncomment a 'one\ntwo'\n",
        );
    }

    #[test]
    fn tag_values_with_whitespace_are_refused() {
        for input in [
            "t \"x y\" {\n}\n",
            "a {\n t \"tab\\there\" {\n }\n}\n",
            "t \"\" {\n}\n",
            "t \"a\nb\" {\n}\n",
            "t \"a{b\" {\n}\n",
            "t \"//x\" {\n}\n",
        ] {
            match parse_body(input) {
                Ok(t) => panic!("{input:?} parsed: {t:?}"),
                Err(e) => {
                    assert!(e.to_string().contains("VyOS cannot hold"), "{input:?}: {e}");
                    assert!(e.position().is_some());
                }
            }
        }
        // A leaf value may hold spaces; only tag values may not.
        check("t \"x y\"\n", "set t 'x y'\n");
    }

    #[test]
    fn errors() {
        check_err(
            "b { c d }",
            "Syntax error on line 1, character 9: Invalid syntax.",
            1,
            9,
        );
        check_err(
            "a \"v\" /* x */\n",
            "Syntax error on line 1, character 12: Invalid syntax.",
            1,
            12,
        );
        check_err(
            "a v1 v2\n",
            "Syntax error on line 1, character 6: Invalid syntax.",
            1,
            6,
        );
        check_err(
            "a {\n /* c */\n}\n",
            "Syntax error on line 3, character 1: Invalid syntax.",
            3,
            1,
        );
        check_err(
            "a\n/* c */\n",
            "Syntax error on line 3, character 1: Invalid syntax.",
            3,
            1,
        );
        check_err(
            "}",
            "Syntax error on line 1, character 1: Invalid syntax.",
            1,
            1,
        );
        check_err("a \"fo\\o\" {\n}\n", "lexing: empty token", 1, 6);
        check_err(
            "/* a\n\n*/ b {\n c d e\n}\n",
            "Syntax error on line 4, character 6: Invalid syntax.",
            4,
            6,
        );
        check_err(
            "/* a\n*/ x y z\n",
            "Syntax error on line 2, character 8: Invalid syntax.",
            2,
            8,
        );
        check_err(
            "a \"x\n",
            "Syntax error on line 2, character 1: Quoted string is missing the closing double quote",
            2,
            1,
        );
        check_err("/* open", "lexing: empty token", 1, 8);
        check_err(
            "a {\n t x {\n }\n t x {\n }\n}\n",
            "Node \"a t\" has two children named \"x\"",
            6,
            1,
        );
        check_err(
            "t x {\n}\nt x {\n}\n",
            "Node \"t\" has two children named \"x\"",
            5,
            1,
        );
        check_err(
            "a {\n b 1\n}\na {\n b 2\n}\n",
            "Node \"a\" has two children named \"b\"",
            7,
            1,
        );
    }

    #[test]
    fn footer_split() {
        let text = "a {\n}\n\n\n// Warning: Do not remove the following line.\n// vyos-config-version: \"bgp@5:nat@8\"\n// Release version: 1.4.0\n";
        let f = parse_boot_file(text).map(|f| f.footer);
        assert_eq!(
            f,
            Ok(Some(VersionFooter {
                vintage: Vintage::Vyos,
                components: vec![("bgp".into(), 5), ("nat".into(), 8)],
                release: "1.4.0".into(),
            }))
        );
        let old = "a {\n}\n/* Warning: Do not remove the following line. */\n/* === vyatta-config-version: \"nat@3:system@6\" === */\n/* Release version: 1.2.6 */\n";
        let f = parse_boot_file(old);
        assert!(
            matches!(
                &f,
                Ok(BootFile {
                    footer: Some(VersionFooter {
                        vintage: Vintage::Vyatta,
                        ..
                    }),
                    ..
                })
            ),
            "{f:?}"
        );
        assert_eq!(
            f.map(|f| f.footer.map(|x| x.render())),
            Ok(Some(old[6..].to_owned()))
        );
        // A broken vyatta footer stays in the body, and the trailing comments fail as in VyOS.
        let broken = "a {\n}\n/* Warning: Do not remove the following line. */\n/* Release version: 1.2.6 */\n";
        assert!(parse_boot_file(broken).is_err());
    }

    #[test]
    fn pre_escape_matches_the_regex() {
        assert_eq!(pre_escape("a \"x\\y\"\n"), "a \"x\\\\y\"\n");
        assert_eq!(pre_escape("a \"x\\y\" {"), "a \"x\\y\" {");
        assert_eq!(pre_escape("a 'x\\y'\n"), "a 'x\\\\y'\n");
        assert_eq!(pre_escape("\"\n"), "\"\n");
        assert_eq!(
            pre_escape("/* \" */ b \"c\\d\"\n"),
            "/* \" */ b \"c\\\\d\"\n"
        );
    }
}
