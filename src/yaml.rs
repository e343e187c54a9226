//! The one place that knows about the YAML crate (serde-saphyr).
//!
//! Owns: turning untrusted YAML text into a positioned [`Node`] tree under hard budgets (size,
//! depth, node count, alias expansion, duplicate keys), and writing serde values back as YAML.
//! It must not know about the desired-state model: typed decoding lives in `model::decode`.

use std::fmt;

use serde::Serialize;

/// Largest YAML file we accept, in bytes.
pub const MAX_FILE_BYTES: usize = 1024 * 1024;
/// Deepest nesting of sequences and mappings we accept.
pub const MAX_DEPTH: usize = 32;
/// Most nodes (scalars, sequences, mappings, alias replays included) in one file.
pub const MAX_NODES: usize = 200_000;
/// Most events that alias replays may inject into one file (alias bombs stop here).
pub const MAX_ALIAS_REPLAY: usize = 10_000;

/// A position in a text file: 1-based line and column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Pos {
    pub line: u32,
    pub column: u32,
}

impl Pos {
    pub const fn new(line: u32, column: u32) -> Self {
        Pos { line, column }
    }
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// A YAML node with the position where it is used in the file.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub pos: Pos,
    pub value: Value,
}

/// The value of a [`Node`]. Mapping entries keep file order; duplicate keys never get this far.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl Value {
    /// A short name of the YAML type, for "expected X, found Y" messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a float",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

/// Why a YAML file could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct YamlError {
    pub pos: Pos,
    pub message: String,
}

/// Parse one YAML document into a positioned tree, enforcing every budget of this module.
///
/// The tree is built straight from the parser's events (serde-saphyr's own `granit_parser`),
/// which is about three times faster than going through serde for a positioned tree; the
/// budgets (size, depth, node count, alias replay), duplicate keys and the one-document rule
/// are enforced here as the events arrive.
pub fn parse(text: &str) -> Result<Node, YamlError> {
    if text.len() > MAX_FILE_BYTES {
        return Err(YamlError {
            pos: Pos::new(1, 1),
            message: format!(
                "file is {} bytes, larger than the limit of {} bytes (1 MiB)",
                text.len(),
                MAX_FILE_BYTES
            ),
        });
    }
    Builder::default().run(text)
}

fn err(pos: Pos, message: impl Into<String>) -> YamlError {
    YamlError {
        pos,
        message: message.into(),
    }
}

fn pos_of(m: &serde_saphyr::granit_parser::Marker) -> Pos {
    let clampz = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    Pos::new(clampz(m.line()), clampz(m.col()).saturating_add(1))
}

/// A collection being built.
enum Frame {
    Seq {
        pos: Pos,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        pos: Pos,
        anchor: usize,
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
    },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    root: Option<Node>,
    /// Anchored nodes by anchor id, with their node counts.
    anchors: std::collections::HashMap<usize, (Node, usize)>,
    nodes: usize,
    replayed: usize,
    documents: usize,
}

fn count(n: &Node) -> usize {
    1 + match &n.value {
        Value::Seq(items) => items.iter().map(count).sum(),
        Value::Map(entries) => entries.iter().map(|(k, v)| count(k) + count(v)).sum(),
        _ => 0,
    }
}

/// A plain scalar's value under the YAML 1.2 core schema; only `true`/`false` are booleans.
fn resolve(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" => return Value::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        _ => {}
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && let Ok(i) = text.parse::<i128>()
    {
        return Value::Int(i);
    }
    if let Some(hex) = text.strip_prefix("0x")
        && let Ok(i) = i128::from_str_radix(hex, 16)
    {
        return Value::Int(i);
    }
    if let Some(oct) = text.strip_prefix("0o")
        && let Ok(i) = i128::from_str_radix(oct, 8)
    {
        return Value::Int(i);
    }
    let numeric = !digits.is_empty()
        && digits
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'))
        && digits
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_digit() || b == b'.');
    if numeric && let Ok(f) = text.parse::<f64>() {
        return Value::Float(f);
    }
    Value::Str(text.to_string())
}

impl Builder {
    fn run(mut self, text: &str) -> Result<Node, YamlError> {
        use serde_saphyr::granit_parser::{Event, Parser};
        let mut parser = Parser::new_from_str(text);
        while let Some(next) = parser.next_event() {
            let (event, span) =
                next.map_err(|e| err(pos_of(e.marker()), clean_message(&e.info())))?;
            let pos = pos_of(&span.start);
            match event {
                Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Anchor(..) => {}
                Event::DocumentStart(..) => {
                    self.documents += 1;
                    if self.documents > 1 {
                        return Err(err(pos, "only one YAML document per file"));
                    }
                }
                Event::Alias(id) => {
                    let Some((node, size)) = self.anchors.get(&id) else {
                        return Err(err(pos, "alias to an unknown anchor"));
                    };
                    let (mut node, size) = (node.clone(), *size);
                    self.replayed += size;
                    if self.replayed > MAX_ALIAS_REPLAY {
                        return Err(err(pos, "aliases expand to too much data (alias bomb?)"));
                    }
                    node.pos = pos;
                    self.add(node, 0, size)?;
                }
                Event::UnresolvedAlias(name) => {
                    return Err(err(pos, format!("alias `*{name}` has no anchor")));
                }
                Event::Scalar(text, style, anchor, tag) => {
                    let value = match (&tag, style) {
                        (Some(t), _) if !is_str_tag(t) => {
                            return Err(err(
                                pos,
                                format!(
                                    "YAML tags are not supported (quote a value that starts with `!`): `{text}`"
                                ),
                            ));
                        }
                        (Some(_), _) => Value::Str(text.into_owned()),
                        (None, serde_saphyr::granit_parser::ScalarStyle::Plain) => resolve(&text),
                        (None, _) => Value::Str(text.into_owned()),
                    };
                    self.add(Node { pos, value }, anchor, 1)?;
                }
                Event::SequenceStart(_, anchor, ref tag)
                | Event::MappingStart(_, anchor, ref tag) => {
                    if tag.is_some() {
                        return Err(err(pos, "YAML tags are not supported"));
                    }
                    if self.stack.len() >= MAX_DEPTH {
                        return Err(err(pos, format!("nesting deeper than {MAX_DEPTH} levels")));
                    }
                    self.stack
                        .push(if matches!(event, Event::SequenceStart(..)) {
                            Frame::Seq {
                                pos,
                                anchor,
                                items: Vec::new(),
                            }
                        } else {
                            Frame::Map {
                                pos,
                                anchor,
                                entries: Vec::new(),
                                key: None,
                            }
                        });
                }
                Event::SequenceEnd | Event::MappingEnd => {
                    let (node, anchor) = match self.stack.pop() {
                        Some(Frame::Seq { pos, anchor, items }) => (
                            Node {
                                pos,
                                value: Value::Seq(items),
                            },
                            anchor,
                        ),
                        Some(Frame::Map {
                            pos,
                            anchor,
                            entries,
                            ..
                        }) => (
                            Node {
                                pos,
                                value: Value::Map(entries),
                            },
                            anchor,
                        ),
                        None => return Err(err(pos, "unbalanced collection end")),
                    };
                    // The collection itself was not counted when it started.
                    self.add(node, anchor, 1)?;
                }
                #[allow(unreachable_patterns)]
                _ => {}
            }
        }
        Ok(self.root.unwrap_or(Node {
            pos: Pos::new(1, 1),
            value: Value::Null,
        }))
    }

    /// A finished node: count it, remember its anchor, and hand it to its parent.
    fn add(&mut self, node: Node, anchor: usize, size: usize) -> Result<(), YamlError> {
        self.nodes += size;
        if self.nodes > MAX_NODES {
            return Err(err(
                node.pos,
                format!("document expands to too many nodes (more than {MAX_NODES}; alias bomb?)"),
            ));
        }
        if anchor != 0 {
            let n = count(&node);
            self.anchors.insert(anchor, (node.clone(), n));
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, key, .. }) => match key.take() {
                Some(k) => entries.push((k, node)),
                None => {
                    if entries.iter().any(|(k, _)| k.value == node.value) {
                        let shown = match &node.value {
                            Value::Str(s) => s.clone(),
                            other => format!("{other:?}"),
                        };
                        return Err(err(node.pos, format!("duplicate key `{shown}`")));
                    }
                    *key = Some(node);
                }
            },
        }
        Ok(())
    }
}

fn is_str_tag(tag: &serde_saphyr::granit_parser::Tag) -> bool {
    tag.to_string().ends_with(":str") || tag.to_string() == "!!str"
}

/// Write a serde value as YAML.
pub fn to_string<T: Serialize>(value: &T) -> Result<String, String> {
    serde_saphyr::to_string(value).map_err(|e| e.to_string())
}

/// The parser appends "at line L column C" to some messages; we print the position ourselves,
/// in front, so cut that tail off.
fn clean_message(raw: &str) -> String {
    let first = raw.lines().next().unwrap_or(raw);
    let msg = match first.find(" at line ") {
        Some(i) => &first[..i],
        None => first,
    };
    let msg = msg.trim();
    // The parser's own nesting guard can fire before ours does.
    if msg.contains("recursion limit") {
        return format!("nesting deeper than {MAX_DEPTH} levels");
    }
    msg.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        let e = parse(text).expect_err("must fail");
        format!("{}: {}", e.pos, e.message)
    }

    #[test]
    fn positions_of_nested_values() {
        let n = parse("a: 1\nb:\n  - x\n").expect("valid");
        let Value::Map(entries) = n.value else {
            panic!("map expected")
        };
        assert_eq!(entries[0].1.pos, Pos::new(1, 4));
        let Value::Seq(items) = &entries[1].1.value else {
            panic!("seq expected")
        };
        assert_eq!(items[0].pos, Pos::new(3, 5));
        assert_eq!(items[0].value, Value::Str("x".into()));
    }

    #[test]
    fn duplicate_keys_rejected() {
        assert_eq!(err("a: 1\na: 2\n"), "2:1: duplicate key `a`");
    }

    #[test]
    fn syntax_error_has_position() {
        assert_eq!(err("a: [1, 2\n"), "1:4: unclosed bracket '['");
    }

    #[test]
    fn deep_nesting_rejected() {
        let deep = "[".repeat(10_000) + &"]".repeat(10_000);
        assert!(err(&deep).contains("nesting deeper than 32 levels"));
    }

    #[test]
    fn alias_bomb_rejected() {
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x]\n");
        let mut prev = "a".to_string();
        for n in ["b", "c", "d", "e", "f", "g", "h", "i"] {
            bomb.push_str(&format!(
                "{n}: &{n} [{}]\n",
                vec![format!("*{prev}"); 9].join(", ")
            ));
            prev = n.to_string();
        }
        let msg = err(&bomb);
        assert!(msg.contains("alias"), "{msg}");
    }

    #[test]
    fn scalars_resolve_by_the_core_schema() {
        let n = parse("a: 22\nb: '22'\nc: 1.5\nd: ~\ne: no\nf: true\ng: 10.0.0.0/8\nh: 0x1F\ni:\n")
            .expect("valid");
        let Value::Map(entries) = n.value else {
            panic!("map expected")
        };
        let values: Vec<&Value> = entries.iter().map(|(_, v)| &v.value).collect();
        assert_eq!(
            values,
            vec![
                &Value::Int(22),
                &Value::Str("22".into()),
                &Value::Float(1.5),
                &Value::Null,
                &Value::Str("no".into()),
                &Value::Bool(true),
                &Value::Str("10.0.0.0/8".into()),
                &Value::Int(31),
                &Value::Null,
            ]
        );
    }

    #[test]
    fn small_aliases_are_fine() {
        let n = parse("base: &b {x: 1}\ncopy: *b\n").expect("valid");
        let Value::Map(entries) = n.value else {
            panic!("map expected")
        };
        assert_eq!(entries[0].1.value, entries[1].1.value);
        assert_eq!(entries[1].1.pos, Pos::new(2, 7));
    }

    #[test]
    fn tags_and_second_documents_are_refused() {
        assert!(err("a: !10.0.0.0/8\n").contains("YAML tags are not supported"));
        assert!(err("a: !!binary aGk=\n").contains("YAML tags are not supported"));
        assert!(parse("a: !!str 12\n").is_ok());
        assert_eq!(
            err("a: 1\n---\nb: 2\n"),
            "2:1: only one YAML document per file"
        );
        assert_eq!(err("{a: 1, a: 2}\n"), "1:8: duplicate key `a`");
    }

    #[test]
    fn oversized_file_rejected() {
        let big = format!("a: \"{}\"\n", "x".repeat(MAX_FILE_BYTES));
        assert!(err(&big).contains("larger than the limit"));
    }
}
