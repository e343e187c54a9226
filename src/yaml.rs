//! The one place that knows about the YAML crate (serde-saphyr).
//!
//! Owns: turning untrusted YAML text into a positioned [`Node`] tree under hard budgets (size,
//! depth, node count, alias expansion, duplicate keys), and writing serde values back as YAML.
//! It must not know about the desired-state model: typed decoding lives in `model::decode`.

use std::fmt;

use serde::Serialize;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

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
    let mut options = serde_saphyr::Options::default();
    options.with_snippet = false;
    options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::Error;
    // Only `true` and `false` are booleans: `no` (Norway) and `y` stay strings.
    options.strict_booleans = true;
    options.alias_limits.max_total_replayed_events = MAX_ALIAS_REPLAY;
    options.alias_limits.max_replay_stack_depth = 8;
    let mut budget = serde_saphyr::Budget::default();
    budget.max_depth = MAX_DEPTH;
    budget.max_nodes = MAX_NODES;
    budget.max_documents = 1;
    options.budget = Some(budget);
    if text.trim().is_empty() {
        return Ok(Node {
            pos: Pos::new(1, 1),
            value: Value::Null,
        });
    }
    serde_saphyr::from_str_with_options::<Node>(text, options).map_err(|e| {
        let pos = e
            .location()
            .map(|l| Pos::new(clamp(l.line()), clamp(l.column())))
            .unwrap_or(Pos::new(1, 1));
        YamlError {
            pos,
            message: clean_message(&e.to_string()),
        }
    })
}

/// Write a serde value as YAML.
pub fn to_string<T: Serialize>(value: &T) -> Result<String, String> {
    serde_saphyr::to_string(value).map_err(|e| e.to_string())
}

fn clamp(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The crate appends "at line L, column C" (and alias provenance) to its messages; we print the
/// position ourselves, in front, so cut that tail off and make budget breaches readable.
fn clean_message(raw: &str) -> String {
    let first = raw.lines().next().unwrap_or(raw);
    let msg = match first.find(" at line ") {
        Some(i) => &first[..i],
        None => first,
    };
    let msg = msg.trim();
    if let Some(rest) = msg.strip_prefix("budget breached: ") {
        if rest.starts_with("Depth") {
            return format!("nesting deeper than {MAX_DEPTH} levels");
        }
        if rest.starts_with("Nodes") || rest.starts_with("Alias") || rest.starts_with("Events") {
            return format!(
                "document expands to too many nodes (more than {MAX_NODES}; alias bomb?)"
            );
        }
        return format!("YAML budget exceeded: {rest}");
    }
    if msg.contains("recursion limit") {
        return format!("nesting deeper than {MAX_DEPTH} levels");
    }
    if msg.contains("alias replay") || msg.contains("replayed events") {
        return "aliases expand to too much data (alias bomb?)".to_string();
    }
    if let Some(rest) = msg.strip_prefix("duplicate mapping key: ") {
        let key = rest
            .split(", set DuplicateKeyPolicy")
            .next()
            .unwrap_or(rest);
        return format!("duplicate key `{key}`");
    }
    msg.to_string()
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s: Spanned<Value> = Spanned::deserialize(d)?;
        Ok(Node {
            pos: Pos::new(clamp(s.referenced.line()), clamp(s.referenced.column())),
            value: s.value,
        })
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Int(v.into()))
    }
    fn visit_i128<E>(self, v: i128) -> Result<Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        i128::try_from(v)
            .map(Value::Int)
            .map_err(|_| E::custom("integer out of range"))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(n) = a.next_element::<Node>()? {
            items.push(n);
        }
        Ok(Value::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Value, A::Error> {
        let mut entries = Vec::new();
        while let Some(k) = a.next_key::<Node>()? {
            let v = a.next_value::<Node>()?;
            entries.push((k, v));
        }
        Ok(Value::Map(entries))
    }
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
    fn oversized_file_rejected() {
        let big = format!("a: \"{}\"\n", "x".repeat(MAX_FILE_BYTES));
        assert!(err(&big).contains("larger than the limit"));
    }
}
