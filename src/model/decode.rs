//! Typed decoding of positioned YAML ([`crate::yaml::Node`]) that collects every error.
//!
//! Owns: the [`Decoder`] (file name + list of [`Diagnostic`]s), field paths, the [`Fields`] reader
//! for mappings (required/optional fields, unknown fields with a "did you mean" hint) and the
//! [`Decode`] impls of plain Rust types. Serde's derive stops at the first error; operators want
//! all of them, each with file, line, column and the field path, so decoding is explicit here.
//! A YAML null is never taken for an absent field: `address:` with nothing after it is an error
//! naming the field (an empty match would widen a rule to "any"), reported by [`Fields::finish`].
//! No field of the desired state gives null a meaning today; one that does must read its node
//! with [`Fields::nullable`] and say so in its documentation.
//! It must not hold model semantics: those live in the types that implement [`Decode`].

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use crate::yaml::{Node, Pos, Value};

/// One problem in the desired state, with where it is. Line and column are 0 for a problem
/// with a file as a whole (a symbolic link, a misplaced file).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Diagnostic {
    /// File path relative to the desired-state directory.
    pub file: String,
    pub line: u32,
    pub column: u32,
    /// Field path inside the file, like `rule_sets[0].rules[2].destination.port`; empty for the
    /// document itself.
    pub path: String,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: ", self.file)?;
        } else {
            write!(f, "{}:{}:{}: ", self.file, self.line, self.column)?;
        }
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

/// A dotted field path with list indexes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldPath(String);

impl FieldPath {
    pub fn root() -> Self {
        FieldPath(String::new())
    }
    pub fn key(&self, key: &str) -> Self {
        if self.0.is_empty() {
            FieldPath(key.to_string())
        } else {
            FieldPath(format!("{}.{key}", self.0))
        }
    }
    pub fn index(&self, i: usize) -> Self {
        FieldPath(format!("{}[{i}]", self.0))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Collects diagnostics for one file (or for cross-file checks, for many).
#[derive(Debug)]
pub struct Decoder {
    file: Arc<str>,
    diags: Vec<Diagnostic>,
}

impl Decoder {
    pub fn new(file: &str) -> Self {
        Decoder {
            file: Arc::from(file),
            diags: Vec::new(),
        }
    }

    pub fn file(&self) -> &str {
        &self.file
    }

    /// Record an error at `pos` for the field `path`.
    pub fn error(&mut self, pos: Pos, path: &FieldPath, message: impl Into<String>) {
        self.diags.push(Diagnostic {
            file: self.file.to_string(),
            line: pos.line,
            column: pos.column,
            path: path.0.clone(),
            message: message.into(),
        });
    }

    /// Record an error about another file (cross-file checks).
    pub fn error_in(&mut self, at: &Located, message: impl Into<String>) {
        self.diags.push(Diagnostic {
            file: at.file.to_string(),
            line: at.pos.line,
            column: at.pos.column,
            path: at.path.clone(),
            message: message.into(),
        });
    }

    pub fn has_errors(&self) -> bool {
        !self.diags.is_empty()
    }

    pub fn into_diagnostics(self) -> Vec<Diagnostic> {
        self.diags
    }

    pub fn extend(&mut self, other: Vec<Diagnostic>) {
        self.diags.extend(other);
    }

    /// Where a node is, to be kept in the model for later cross-file messages.
    pub fn locate(&self, node: &Node, path: &FieldPath) -> Located {
        Located {
            file: self.file.clone(),
            pos: node.pos,
            path: path.0.clone(),
        }
    }

    /// Start reading a mapping; records an error (and returns `None`) if `node` is not one.
    pub fn fields<'n>(&mut self, node: &'n Node, path: &FieldPath) -> Option<Fields<'n>> {
        match &node.value {
            Value::Map(entries) => Some(Fields {
                pos: node.pos,
                path: path.clone(),
                entries,
                used: vec![false; entries.len()],
                nulls: vec![false; entries.len()],
                required: vec![false; entries.len()],
                asked: Vec::new(),
                failed: false,
            }),
            other => {
                self.error(
                    node.pos,
                    path,
                    format!("expected a mapping, found {}", other.kind()),
                );
                None
            }
        }
    }

    /// Decode a string from one of `choices`, suggesting the closest when it is none of them.
    pub fn choice<'c>(
        &mut self,
        node: &Node,
        path: &FieldPath,
        choices: &[&'c str],
    ) -> Option<&'c str> {
        let text = String::decode(self, node, path)?;
        if let Some(c) = choices.iter().find(|c| **c == text) {
            return Some(c);
        }
        let mut msg = format!(
            "unknown value `{text}`, expected one of: {}",
            choices.join(", ")
        );
        if let Some(s) = did_you_mean(&text, choices.iter().copied()) {
            msg.push_str(&format!(" (did you mean `{s}`?)"));
        }
        self.error(node.pos, path, msg);
        None
    }
}

/// A place in a desired-state file, kept with model values that cross-file checks talk about.
///
/// Where a value was written is not part of what it is: two resources that say the same thing
/// are equal wherever they stand, so `Located` always compares equal (this is what lets a model
/// written out and loaded again compare equal to the original).
#[derive(Debug, Clone, Default)]
pub struct Located {
    pub file: Arc<str>,
    pub pos: Pos,
    pub path: String,
}

impl PartialEq for Located {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for Located {}

/// The closest candidate to `word` by Jaro-Winkler similarity, if close enough to suggest.
pub fn did_you_mean<'c>(
    word: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> Option<&'c str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// Reads the fields of one mapping, remembering which were asked for.
pub struct Fields<'n> {
    pos: Pos,
    path: FieldPath,
    entries: &'n [(Node, Node)],
    used: Vec<bool>,
    /// Fields asked for whose value is a YAML null (reported by `finish`).
    nulls: Vec<bool>,
    /// Fields asked for as required.
    required: Vec<bool>,
    asked: Vec<&'static str>,
    /// Whether a field was missing or present but invalid (its error is recorded).
    failed: bool,
}

impl<'n> Fields<'n> {
    /// Position of the mapping itself.
    pub fn pos(&self) -> Pos {
        self.pos
    }

    pub fn path(&self) -> &FieldPath {
        &self.path
    }

    /// The raw node of `key`, if present and not null; marks it used. A null value is recorded
    /// and reported as an error by [`Fields::finish`]: null never means "absent".
    pub fn node(&mut self, key: &'static str) -> Option<&'n Node> {
        self.asked.push(key);
        let i = self.index(key)?;
        self.used[i] = true;
        let v = &self.entries[i].1;
        if v.value == Value::Null {
            self.nulls[i] = true;
            None
        } else {
            Some(v)
        }
    }

    /// The raw node of `key` for a field that documents null as meaningful: `None` when
    /// absent, `Some(node)` (possibly a null node) when present.
    pub fn nullable(&mut self, key: &'static str) -> Option<&'n Node> {
        self.asked.push(key);
        let i = self.index(key)?;
        self.used[i] = true;
        Some(&self.entries[i].1)
    }

    fn index(&self, key: &str) -> Option<usize> {
        self.entries
            .iter()
            .position(|(k, _)| matches!(&k.value, Value::Str(s) if s == key))
    }

    /// For a required field read with [`Fields::node`]: if `key` is null, word its error as a
    /// missing required value and fail the mapping; returns whether it was null.
    pub fn null_required(&mut self, key: &str) -> bool {
        match self.index(key) {
            Some(i) if self.entries[i].1.value == Value::Null => {
                self.required[i] = true;
                self.failed = true;
                true
            }
            _ => false,
        }
    }

    /// Whether `key` is present with a null value.
    pub fn is_null(&self, key: &str) -> bool {
        self.index(key)
            .is_some_and(|i| self.entries[i].1.value == Value::Null)
    }

    /// Whether `key` is present (even with a null value).
    pub fn has(&self, key: &str) -> bool {
        self.entries
            .iter()
            .any(|(k, _)| matches!(&k.value, Value::Str(s) if s == key))
    }

    /// Decode a present field, remembering a failure.
    fn decode_node<T: Decode>(&mut self, d: &mut Decoder, node: &Node, key: &str) -> Option<T> {
        let v = T::decode(d, node, &self.path.key(key));
        self.failed |= v.is_none();
        v
    }

    /// Mark the mapping as failed by a check of the caller's (its error is recorded).
    pub fn fail(&mut self) {
        self.failed = true;
    }

    /// An optional field: `None` when absent or null, or when invalid (the error is recorded
    /// and [`Fields::finish`] returns false).
    pub fn opt<T: Decode>(&mut self, d: &mut Decoder, key: &'static str) -> Option<T> {
        let node = self.node(key)?;
        self.decode_node(d, node, key)
    }

    /// An optional field with a default when absent. `None` only when present and invalid.
    pub fn or_default<T: Decode + Default>(
        &mut self,
        d: &mut Decoder,
        key: &'static str,
    ) -> Option<T> {
        match self.node(key) {
            None => Some(T::default()),
            Some(node) => self.decode_node(d, node, key),
        }
    }

    /// A required field; a missing one is an error at the mapping's position.
    pub fn req<T: Decode>(&mut self, d: &mut Decoder, key: &'static str) -> Option<T> {
        match self.node(key) {
            Some(node) => self.decode_node(d, node, key),
            // Reported by `finish` as a null.
            None if self.is_null(key) => {
                self.null_required(key);
                None
            }
            None => {
                d.error(
                    self.pos,
                    &self.path,
                    format!("missing required field `{key}`"),
                );
                self.failed = true;
                None
            }
        }
    }

    /// Report every key nobody asked for, with a suggestion among the asked ones. Returns
    /// whether every field asked for was present when required, and valid.
    pub fn finish(self, d: &mut Decoder) -> bool {
        let mut ok = !self.failed;
        for (i, (k, _)) in self.entries.iter().enumerate() {
            if self.nulls[i] {
                if let Value::Str(name) = &k.value {
                    let msg = if self.required[i] {
                        format!("`{name}` has no value (YAML null) but is required")
                    } else {
                        format!(
                            "`{name}` has no value (YAML null), which is never read as \"not set\"; give it a value or leave the field out"
                        )
                    };
                    d.error(k.pos, &self.path.key(name), msg);
                }
                ok = false;
                continue;
            }
            if self.used[i] {
                continue;
            }
            let name = match &k.value {
                Value::Str(s) => s.clone(),
                other => {
                    d.error(
                        k.pos,
                        &self.path,
                        format!("field names must be strings, found {}", other.kind()),
                    );
                    continue;
                }
            };
            let mut msg = format!("unknown field `{name}`");
            if let Some(s) = did_you_mean(&name, self.asked.iter().copied()) {
                msg.push_str(&format!(", did you mean `{s}`?"));
            } else if !self.asked.is_empty() {
                let mut known = self.asked.clone();
                known.sort_unstable();
                known.dedup();
                msg.push_str(&format!(", expected one of: {}", known.join(", ")));
            }
            d.error(k.pos, &self.path.key(&name), msg);
        }
        ok
    }
}

/// Decode a value from a positioned YAML node, recording every error in the decoder.
/// Returns `None` when the value is invalid (at least one error was recorded).
pub trait Decode: Sized {
    fn decode(d: &mut Decoder, node: &Node, path: &FieldPath) -> Option<Self>;
}

impl Decode for String {
    fn decode(d: &mut Decoder, node: &Node, path: &FieldPath) -> Option<Self> {
        match &node.value {
            Value::Str(s) => Some(s.clone()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            other => {
                d.error(
                    node.pos,
                    path,
                    format!("expected a string, found {}", other.kind()),
                );
                None
            }
        }
    }
}

impl Decode for bool {
    fn decode(d: &mut Decoder, node: &Node, path: &FieldPath) -> Option<Self> {
        match &node.value {
            Value::Bool(b) => Some(*b),
            other => {
                d.error(
                    node.pos,
                    path,
                    format!("expected true or false, found {}", other.kind()),
                );
                None
            }
        }
    }
}

/// Decode an integer within `min..=max`.
pub fn int_in(
    d: &mut Decoder,
    node: &Node,
    path: &FieldPath,
    min: i128,
    max: i128,
    what: &str,
) -> Option<i128> {
    let n = match &node.value {
        Value::Int(i) => *i,
        // A quoted number is a string: refused like any other wrong type, so that what the
        // schema says (an integer) is what the file must say.
        Value::Str(s) if s.trim().parse::<i128>().is_ok() => {
            d.error(
                node.pos,
                path,
                format!("expected {what} (an integer), found the string \"{s}\"; write it without quotes"),
            );
            return None;
        }
        Value::Str(s) => {
            d.error(
                node.pos,
                path,
                format!("expected {what} (an integer), found `{s}`"),
            );
            return None;
        }
        other => {
            d.error(
                node.pos,
                path,
                format!("expected {what} (an integer), found {}", other.kind()),
            );
            return None;
        }
    };
    if n < min || n > max {
        d.error(
            node.pos,
            path,
            format!("{what} {n} is out of range {min}-{max}"),
        );
        return None;
    }
    Some(n)
}

impl Decode for u32 {
    fn decode(d: &mut Decoder, node: &Node, path: &FieldPath) -> Option<Self> {
        int_in(d, node, path, 0, u32::MAX.into(), "a number").and_then(|n| u32::try_from(n).ok())
    }
}

impl<T: Decode> Decode for Vec<T> {
    fn decode(d: &mut Decoder, node: &Node, path: &FieldPath) -> Option<Self> {
        let Value::Seq(items) = &node.value else {
            d.error(
                node.pos,
                path,
                format!("expected a list, found {}", node.value.kind()),
            );
            return None;
        };
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            match T::decode(d, item, &path.index(i)) {
                Some(v) => out.push(v),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }
}

impl<T: Decode> Decode for BTreeMap<String, T> {
    fn decode(d: &mut Decoder, node: &Node, path: &FieldPath) -> Option<Self> {
        let Value::Map(entries) = &node.value else {
            d.error(
                node.pos,
                path,
                format!("expected a mapping, found {}", node.value.kind()),
            );
            return None;
        };
        let mut out = BTreeMap::new();
        let mut ok = true;
        for (k, v) in entries {
            let Some(key) = String::decode(d, k, path) else {
                ok = false;
                continue;
            };
            match T::decode(d, v, &path.key(&key)) {
                Some(val) => {
                    out.insert(key, val);
                }
                None => ok = false,
            }
        }
        ok.then_some(out)
    }
}

/// Like `Vec<T>`, but each element is decoded together with its location.
impl<T: Decode> Decode for (T, Located) {
    fn decode(d: &mut Decoder, node: &Node, path: &FieldPath) -> Option<Self> {
        let at = d.locate(node, path);
        T::decode(d, node, path).map(|v| (v, at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml;

    fn decode_with<T>(
        text: &str,
        f: impl FnOnce(&mut Decoder, &Node) -> Option<T>,
    ) -> (Option<T>, Vec<String>) {
        let node = yaml::parse(text).expect("valid yaml");
        let mut d = Decoder::new("t.yaml");
        let v = f(&mut d, &node);
        (
            v,
            d.into_diagnostics()
                .iter()
                .map(ToString::to_string)
                .collect(),
        )
    }

    #[test]
    fn unknown_field_with_hint_and_missing_field() {
        let (v, errs) = decode_with("nmae: x\n", |d, n| {
            let mut f = d.fields(n, &FieldPath::root())?;
            let name: Option<String> = f.req(d, "name");
            f.finish(d);
            name
        });
        assert!(v.is_none());
        assert_eq!(
            errs,
            vec![
                "t.yaml:1:1: missing required field `name`",
                "t.yaml:1:1: nmae: unknown field `nmae`, did you mean `name`?"
            ]
        );
    }

    #[test]
    fn all_list_errors_are_reported() {
        let (v, errs) = decode_with("[1, x, 2, y]\n", |d, n| {
            <Vec<String>>::decode(d, n, &FieldPath::root().key("l"))?;
            let Value::Seq(items) = &n.value else {
                return None;
            };
            let mut ok = true;
            for (i, it) in items.iter().enumerate() {
                ok &=
                    int_in(d, it, &FieldPath::root().key("l").index(i), 0, 9, "a digit").is_some();
            }
            ok.then_some(())
        });
        assert!(v.is_none());
        assert_eq!(errs.len(), 2);
        assert_eq!(
            errs[0],
            "t.yaml:1:5: l[1]: expected a digit (an integer), found `x`"
        );
        assert_eq!(
            errs[1],
            "t.yaml:1:11: l[3]: expected a digit (an integer), found `y`"
        );
    }

    #[test]
    fn null_is_never_absent() {
        let (v, errs) = decode_with("name:\nnote: ~\n", |d, n| {
            let mut f = d.fields(n, &FieldPath::root())?;
            let name: Option<String> = f.req(d, "name");
            let note: Option<String> = f.opt(d, "note");
            assert!(note.is_none());
            f.finish(d).then_some(name)
        });
        assert!(v.is_none());
        assert_eq!(
            errs,
            vec![
                "t.yaml:1:1: name: `name` has no value (YAML null) but is required",
                "t.yaml:2:1: note: `note` has no value (YAML null), which is never read as \"not set\"; give it a value or leave the field out",
            ]
        );
        let (v, errs) = decode_with("note: ~\n", |d, n| {
            let mut f = d.fields(n, &FieldPath::root())?;
            let note = f.nullable("note").map(|n| n.value == Value::Null);
            f.finish(d).then_some(note)
        });
        assert_eq!((v, errs.len()), (Some(Some(true)), 0));
    }

    #[test]
    fn choice_suggests() {
        let (_, errs) = decode_with("acept\n", |d, n| {
            d.choice(n, &FieldPath::root().key("action"), &["accept", "drop"])
        });
        assert_eq!(
            errs,
            vec![
                "t.yaml:1:1: action: unknown value `acept`, expected one of: accept, drop (did you mean `accept`?)"
            ]
        );
    }
}
