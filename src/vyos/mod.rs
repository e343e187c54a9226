//! VyOS configuration, understood the way VyOS itself does: parse config.boot (every dialect)
//! and `set` command lists, render config.boot, `show configuration commands`, JSON and the
//! masked `show configuration`, and diff two trees into the ordered commands of
//! `compare commands`.
//!
//! Pure: no IO, no clock, no logging, no global state. Callers pass text in and get trees or
//! text out; files, devices and terminals belong to `cli`, `driver` and `lab`. Nothing here may
//! panic on any input; every parse error carries a line and column and reads like VyOS's own.
//!
//! The facts this module follows are in `reference/vyos.md` §1–§2; each submodule names the
//! VyOS source it mirrors and any place where it knowingly differs.
//!
//! - [`tree`]: [`ConfigTree`], [`Node`], [`Path`], `set` / `delete` / `comment`.
//! - [`natural`]: the lexical-numeric order of children.
//! - [`boot`]: the config.boot parser and the version footer.
//! - [`commands`]: [`Command`] and the command-list parser.
//! - [`render`]: config.boot styles, commands, JSON, masked view.
//! - [`secret`]: which values are secrets, [`MASK`], and the value escaping.
//! - [`mod@diff`]: [`diff()`], [`apply`], the `compare` view, the unified view.

pub mod boot;
pub mod commands;
pub mod diff;
pub mod natural;
pub mod render;
pub mod secret;
pub mod tree;

pub use boot::{BootFile, VersionFooter, Vintage, parse_boot_file};
pub use commands::{Command, Op, parse_commands, parse_commands_strict};
pub use diff::{
    UnifiedSides, apply, apply_all, apply_command, diff, render_compare, render_compare_commands,
    render_compare_commands_with, render_compare_with, render_unified, render_unified_with,
    unified_sides, unified_sides_from,
};
pub use natural::natural_cmp;
pub use render::{
    BootStyle, EmptyNode, Quoting, render_boot, render_boot_file, render_commands,
    render_commands_masked, render_commands_with, render_commands_within, render_json,
    render_json_with, render_show,
};
pub use secret::{MASK, Secrets, is_secret};
pub use tree::{
    ConfigTree, DeleteOutcome, Node, Path, SetMode, SetOutcome, flags_agree, harmonize_flags,
    validate_path_word, validate_value,
};

/// Everything that can go wrong in `vyos`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A config.boot syntax error, worded as libvyosconfig reports it (the message is
    /// `Invalid syntax.` or `Quoted string is missing the closing double quote`, ...).
    #[error("Syntax error on line {line}, character {column}: {message}")]
    Syntax {
        line: usize,
        column: usize,
        message: String,
    },
    /// The ocamllex failure for an unknown escape (`\o`) or an unclosed `/*`; VyOS gives no
    /// position, the fields hold where the lexer stopped.
    #[error("lexing: empty token")]
    Lexing { line: usize, column: usize },
    /// A node got two children of the same name after merging (a repeated tag instance); the
    /// position is where VyOS notices: the enclosing node's `}` or the end of the file.
    #[error("Node \"{node}\" has two children named \"{child}\"")]
    DuplicateChild {
        line: usize,
        column: usize,
        node: String,
        child: String,
    },
    /// A bad line in a command list.
    #[error("{message}")]
    Command {
        line: usize,
        column: usize,
        message: String,
    },
    /// A value cstore would reject (see [`validate_value`]).
    #[error("{message}")]
    InvalidValue { message: String },
    #[error("Path is empty")]
    EmptyPath,
    #[error("Path is longer than {max} words")]
    PathTooDeep { max: usize },
    /// `comment` (or a flag change) on a path that does not exist.
    #[error("Path doesn't exist: [{path}]")]
    NoSuchNode { path: String },
}

impl Error {
    /// Line and column (1-based) for errors that come from text.
    pub fn position(&self) -> Option<(usize, usize)> {
        match self {
            Error::Syntax { line, column, .. }
            | Error::Lexing { line, column }
            | Error::DuplicateChild { line, column, .. }
            | Error::Command { line, column, .. } => Some((*line, *column)),
            Error::InvalidValue { .. }
            | Error::EmptyPath
            | Error::PathTooDeep { .. }
            | Error::NoSuchNode { .. } => None,
        }
    }
}

/// What kind of text an input is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    Boot,
    Commands,
}

/// Tells a command list from a config.boot: the first line that is neither blank nor a `#`
/// comment starts with the word `set`, `delete` or `comment` and does not open a block.
pub fn detect(text: &str) -> InputKind {
    for line in text.lines() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let first = t.split_whitespace().next().unwrap_or_default();
        let opens_block = t.ends_with('{');
        return if matches!(first, "set" | "delete" | "comment") && !opens_block {
            InputKind::Commands
        } else {
            InputKind::Boot
        };
    }
    InputKind::Boot
}

/// Builds a tree from a command list, replaying it on an empty tree ([`SetMode::Add`]).
fn tree_from_commands(text: &str) -> Result<ConfigTree, Error> {
    tree_from_located(commands::parse_located(text)?)
}

fn tree_from_located(list: Vec<commands::Located>) -> Result<ConfigTree, Error> {
    let mut tree = ConfigTree::new();
    let (positions, cmds): (Vec<(usize, usize)>, Vec<Command>) = list
        .into_iter()
        .map(|l| ((l.line, l.column), l.command))
        .unzip();
    diff::apply_all(&mut tree, &cmds, SetMode::Add).map_err(|(i, e)| {
        let (line, column) = positions.get(i).copied().unwrap_or((0, 0));
        Error::Command {
            line,
            column,
            message: e.to_string(),
        }
    })?;
    Ok(tree)
}

fn json_children(
    tree: &mut ConfigTree,
    path: &mut Vec<String>,
    map: &serde_json::Map<String, serde_json::Value>,
) -> Result<(), Error> {
    use serde_json::Value;
    for (key, v) in map {
        path.push(key.clone());
        match v {
            Value::String(s) => {
                tree.set(path, Some(s))?;
            }
            Value::Array(items) => {
                for item in items {
                    let Value::String(s) = item else {
                        return Err(Error::InvalidValue {
                            message: format!("[{}]: a list holds only strings", path.join(" ")),
                        });
                    };
                    tree.set(path, Some(s))?;
                }
            }
            Value::Object(m) if m.is_empty() => {
                tree.set(path, None)?;
            }
            Value::Object(m) => json_children(tree, path, m)?,
            _ => {
                return Err(Error::InvalidValue {
                    message: format!(
                        "[{}]: expected a string, a list or an object",
                        path.join(" ")
                    ),
                });
            }
        }
        path.pop();
    }
    Ok(())
}

impl ConfigTree {
    /// Parses config.boot text, dropping the footer (see [`parse_boot_file`] to keep it).
    pub fn parse_boot(text: &str) -> Result<ConfigTree, Error> {
        parse_boot_file(text).map(|f| f.tree)
    }

    /// Parses a command list (see [`commands`] for the rules) into a tree.
    pub fn parse_commands(text: &str) -> Result<ConfigTree, Error> {
        tree_from_commands(text)
    }

    /// Parses a command list written by people, refusing what VyOS would read differently
    /// (see [`commands::parse_located_strict`]).
    pub fn parse_commands_strict(text: &str) -> Result<ConfigTree, Error> {
        tree_from_located(commands::parse_located_strict(text)?)
    }

    /// Reads the JSON of [`render_json`] back (a string is one value, a list several, `{}` a
    /// valueless leaf or empty node, an object children). JSON carries no comments and no
    /// tag or leaf flags. Errors carry serde_json's line and column.
    pub fn parse_json(text: &str) -> Result<ConfigTree, Error> {
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| Error::Syntax {
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?;
        let serde_json::Value::Object(map) = value else {
            return Err(Error::InvalidValue {
                message: "the JSON of a configuration is an object".to_owned(),
            });
        };
        let mut tree = ConfigTree::new();
        let mut path = Vec::new();
        json_children(&mut tree, &mut path, &map)?;
        Ok(tree)
    }

    /// Parses either kind of input, detected with [`detect`].
    pub fn parse_any(text: &str) -> Result<BootFile, Error> {
        match detect(text) {
            InputKind::Boot => parse_boot_file(text),
            InputKind::Commands => Ok(BootFile {
                tree: tree_from_commands(text)?,
                footer: None,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: InputKind) {
        assert_eq!(detect(input), expected, "{input:?}");
    }

    #[test]
    fn detects_the_input_kind() {
        check("set a 'b'\n", InputKind::Commands);
        check("# made by hand\n\n  delete a\n", InputKind::Commands);
        check("comment a 'x'", InputKind::Commands);
        check("interfaces {\n}\n", InputKind::Boot);
        check("set {\n}\n", InputKind::Boot);
        check("/* c */ settings\n", InputKind::Boot);
        check("", InputKind::Boot);
    }
}
