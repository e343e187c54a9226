//! Renderers: config.boot in each VyOS style, `show configuration commands`, the JSON of
//! `showConfig`, and plain `show configuration` with secrets hidden.
//!
//! Owns the exact bytes VyOS writes (reference §1.3, §1.5, §2.1, §2.3). It must not parse or
//! change trees.
//!
//! - [`BootStyle::vyos_1_5`] (the default) is vyos1x-config's `Config_tree.Renderer` in 2025
//!   builds, as `save` writes it on 1.4+/1.5: 4-space indent, every leaf value double-quoted,
//!   tag values and names bare, a valueless leaf as its bare name, an empty node as `name {` /
//!   `}`, comments as `/* text */` on their own line, two blank lines before the footer.
//! - [`BootStyle::vyos_1_4_0`]: the Aug 2023 – early 2024 library, which printed empty nodes as
//!   bare names, and one blank line before the footer.
//! - [`BootStyle::vyos_1_3`]: vyatta-cfg cstore (`cnode-algorithm.cpp`, `_print_value_str`):
//!   values quoted only when empty or holding space, tab, LF, VT, FF, CR, `*`, `{`, `}` or `;`,
//!   with no escaping.
//! - [`BootStyle::migrated_1_3`]: the ConfigTree renderer before Aug 2023, which is what 1.3
//!   migration scripts wrote: every value quoted, valueless leafs and empty nodes as `name { }`
//!   (an empty tag instance is assumed to stay `parent tag {` / `}`: the reference is silent).
//! - [`BootStyle::show_configuration`]: the cstore style with secrets hidden.
//!
//! Value escaping in the quoted styles and in commands is `Util.escape_string` followed by the
//! vyos-1x output pass that turns `\\` back into `\` (so backslashes are literal). That pass is
//! applied to each value here; VyOS runs its regex over the whole text, which differs only when
//! a comment holds a quote character before a value with a backslash.

use super::boot::BootFile;
use super::secret::{MASK, Secrets, command_value, escape_value, hidden, path_word, shown};
use super::tree::{ConfigTree, Node, Path};

/// How values are quoted in config.boot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quoting {
    /// libvyosconfig (1.4+): every leaf value in double quotes, escaped.
    Always,
    /// cstore (1.3): quoted only when needed, never escaped.
    WhenNeeded,
}

/// How a childless node without values is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmptyNode {
    /// By the node's leaf flag: a leaf as its bare name, a node as `name {` / `}` (2025 builds,
    /// and cstore).
    ByLeafFlag,
    /// Always as a bare name (Aug 2023 – early 2024).
    Bare,
    /// Always as `name { }` (before Aug 2023; 1.3 migration output).
    InlineBraces,
}

/// A config.boot rendering style.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BootStyle {
    pub quoting: Quoting,
    pub empty_node: EmptyNode,
    /// Blank lines between the body and the version footer.
    pub footer_gap: usize,
    /// Print secret values as `****************` (plain `show configuration`).
    pub mask_secrets: bool,
}

impl Default for BootStyle {
    fn default() -> Self {
        BootStyle::vyos_1_5()
    }
}

impl BootStyle {
    /// 1.5 and 2025 rolling/stream builds (the default).
    pub const fn vyos_1_5() -> BootStyle {
        BootStyle {
            quoting: Quoting::Always,
            empty_node: EmptyNode::ByLeafFlag,
            footer_gap: 2,
            mask_secrets: false,
        }
    }
    /// 1.4.0 (the library of Aug 2023 – early 2024).
    pub const fn vyos_1_4_0() -> BootStyle {
        BootStyle {
            quoting: Quoting::Always,
            empty_node: EmptyNode::Bare,
            footer_gap: 1,
            mask_secrets: false,
        }
    }
    /// 1.3 `save` (cstore). The gap before the footer is not documented in the reference; one
    /// blank line is assumed.
    pub const fn vyos_1_3() -> BootStyle {
        BootStyle {
            quoting: Quoting::WhenNeeded,
            empty_node: EmptyNode::ByLeafFlag,
            footer_gap: 1,
            mask_secrets: false,
        }
    }
    /// A 1.3 file rewritten by a migration script (the pre-Aug 2023 ConfigTree renderer).
    pub const fn migrated_1_3() -> BootStyle {
        BootStyle {
            quoting: Quoting::Always,
            empty_node: EmptyNode::InlineBraces,
            footer_gap: 1,
            mask_secrets: false,
        }
    }
    /// Plain `show configuration`: cstore style, secrets hidden.
    pub const fn show_configuration() -> BootStyle {
        BootStyle {
            quoting: Quoting::WhenNeeded,
            empty_node: EmptyNode::ByLeafFlag,
            footer_gap: 0,
            mask_secrets: true,
        }
    }
}

/// cstore's "needs quotes" test (`_print_value_str`).
fn cstore_needs_quotes(v: &str) -> bool {
    v.bytes().any(|b| {
        matches!(
            b,
            b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b'*' | b'{' | b'}' | b';'
        )
    })
}

/// The config.boot body (what `ConfigTree.to_string()` returns), without a footer.
pub fn render_boot(tree: &ConfigTree, style: &BootStyle) -> String {
    let mut out = String::new();
    for child in tree.root().children() {
        render_node(&mut out, child, 0, style);
    }
    out
}

/// The whole file as `save` writes it: body, blank lines, footer (if any).
pub fn render_boot_file(file: &BootFile, style: &BootStyle) -> String {
    let mut out = render_boot(&file.tree, style);
    if let Some(f) = &file.footer {
        for _ in 0..style.footer_gap {
            out.push('\n');
        }
        out.push_str(&f.render());
    }
    out
}

/// Plain `show configuration`: the cstore style with secrets hidden.
pub fn render_show(tree: &ConfigTree) -> String {
    render_boot(tree, &BootStyle::show_configuration())
}

fn indent(out: &mut String, level: usize) {
    for _ in 0..level {
        out.push_str("    ");
    }
}

fn render_comment(out: &mut String, node: &Node, level: usize) {
    if let Some(c) = node.comment() {
        indent(out, level);
        out.push_str("/* ");
        out.push_str(c);
        out.push_str(" */\n");
    }
}

fn render_node(out: &mut String, node: &Node, level: usize, style: &BootStyle) {
    if node.children().is_empty() {
        render_comment(out, node, level);
        let as_values = match style.empty_node {
            EmptyNode::ByLeafFlag => node.is_leaf(),
            EmptyNode::Bare | EmptyNode::InlineBraces => true,
        };
        if as_values {
            render_values(out, node, level, style);
        } else {
            indent(out, level);
            out.push_str(node.name());
            out.push_str(" {\n");
            indent(out, level);
            out.push_str("}\n");
        }
    } else if node.is_tag() && node.children().iter().all(|c| c.values().is_empty()) {
        // (A tag node whose instance holds a value, which only a flag-less edit can make,
        // is written as a plain node: `rule a "x"` could not be read back.)
        for child in node.children() {
            render_comment(out, child, level);
            indent(out, level);
            out.push_str(node.name());
            out.push(' ');
            push_tag_value(out, child.name(), style);
            out.push_str(" {\n");
            for grandchild in child.children() {
                render_node(out, grandchild, level + 1, style);
            }
            indent(out, level);
            out.push_str("}\n");
        }
    } else {
        render_comment(out, node, level);
        indent(out, level);
        out.push_str(node.name());
        out.push_str(" {\n");
        for child in node.children() {
            render_node(out, child, level + 1, style);
        }
        indent(out, level);
        out.push_str("}\n");
    }
}

fn push_tag_value(out: &mut String, v: &str, style: &BootStyle) {
    if style.quoting == Quoting::WhenNeeded && cstore_needs_quotes(v) {
        out.push('"');
        out.push_str(v);
        out.push('"');
    } else {
        out.push_str(v);
    }
}

fn render_values(out: &mut String, node: &Node, level: usize, style: &BootStyle) {
    if node.values().is_empty() {
        indent(out, level);
        out.push_str(node.name());
        if style.empty_node == EmptyNode::InlineBraces {
            out.push_str(" { }");
        }
        out.push('\n');
        return;
    }
    let secrets = Secrets::hide_if(style.mask_secrets);
    for v in node.values() {
        indent(out, level);
        out.push_str(node.name());
        out.push(' ');
        if hidden(node.name(), secrets) {
            out.push_str(MASK);
        } else {
            match style.quoting {
                Quoting::Always => {
                    out.push('"');
                    out.push_str(&escape_value(v));
                    out.push('"');
                }
                Quoting::WhenNeeded => {
                    if v.is_empty() || cstore_needs_quotes(v) {
                        out.push('"');
                        out.push_str(v);
                        out.push('"');
                    } else {
                        out.push_str(v);
                    }
                }
            }
        }
        out.push('\n');
    }
}

/// `show configuration commands` (vyos1x-config `render_commands`): one `set` line per value,
/// depth first in natural order, each node's `comment` line after its `set` lines.
pub fn render_commands(tree: &ConfigTree) -> String {
    render_commands_with(tree, Secrets::Show)
}

/// Like [`render_commands`] with secret values hidden.
pub fn render_commands_masked(tree: &ConfigTree) -> String {
    render_commands_with(tree, Secrets::Hide)
}

/// [`render_commands`] with secrets shown or hidden.
pub fn render_commands_with(tree: &ConfigTree, secrets: Secrets) -> String {
    let mut out = String::with_capacity(commands_len(tree.root(), 3));
    let mut prefix = String::from("set");
    for child in tree.root().children() {
        commands_node(&mut out, &mut prefix, child, secrets);
    }
    out
}

/// [`render_commands`] of `tree.restrict(scopes)`, without copying the tree: the lines of the
/// subtrees at `scopes`, in tree order (what `render` hashes per owned scope).
pub fn render_commands_within(tree: &ConfigTree, scopes: &[Path]) -> String {
    fn within(
        out: &mut String,
        prefix: &mut String,
        path: &mut Vec<String>,
        node: &Node,
        scopes: &[Path],
    ) {
        for child in node.children() {
            path.push(child.name().to_owned());
            if scopes.iter().any(|s| s.0 == *path) {
                out.reserve(node_commands_len(child, prefix.len()));
                commands_node(out, prefix, child, Secrets::Show);
            } else if scopes.iter().any(|s| s.0.starts_with(path)) {
                let len = prefix.len();
                prefix.push(' ');
                prefix.push_str(&path_word(child.name()));
                within(out, prefix, path, child, scopes);
                prefix.truncate(len);
            }
            path.pop();
        }
    }
    if scopes.is_empty() || scopes.iter().any(Path::is_empty) {
        return render_commands(tree);
    }
    let mut out = String::new();
    let mut prefix = String::from("set");
    within(&mut out, &mut prefix, &mut Vec::new(), tree.root(), scopes);
    out
}

/// The length of the commands text, assuming no value needs escaping (a capacity hint).
fn commands_len(node: &Node, prefix: usize) -> usize {
    node.children()
        .iter()
        .map(|child| node_commands_len(child, prefix))
        .sum()
}

/// [`commands_len`] of one node under a prefix of `prefix` bytes.
fn node_commands_len(child: &Node, prefix: usize) -> usize {
    let p = prefix + 1 + child.name().len();
    let n = if child.children().is_empty() {
        if child.values().is_empty() {
            p + 1
        } else {
            child.values().iter().map(|v| p + v.len() + 4).sum()
        }
    } else {
        commands_len(child, p)
    };
    n + child.comment().map_or(0, |c| p + 4 + 4 + c.len())
}

fn commands_node(out: &mut String, prefix: &mut String, node: &Node, secrets: Secrets) {
    let len = prefix.len();
    prefix.push(' ');
    prefix.push_str(&path_word(node.name()));
    if node.children().is_empty() {
        if node.values().is_empty() {
            out.push_str(prefix);
            out.push('\n');
        }
        for v in node.values() {
            out.push_str(prefix);
            out.push_str(" '");
            out.push_str(&command_value(shown(node.name(), v, secrets)));
            out.push_str("'\n");
        }
    } else {
        for child in node.children() {
            commands_node(out, prefix, child, secrets);
        }
    }
    if let Some(c) = node.comment().filter(|c| !c.is_empty()) {
        out.push_str("comment");
        out.push_str(&prefix[3..]);
        out.push_str(" '");
        out.push_str(&c.replace('\'', "'\\''"));
        out.push_str("'\n");
    }
    prefix.truncate(len);
}

/// The JSON of `show configuration json` / the API's `showConfig` (reference §2.3): a single
/// value is a string, several a list, a valueless leaf or empty node `{}`, tag nodes nest.
/// Compact, keys in natural order. Strings are escaped as JSON (VyOS's renderer uses
/// `escape_string`, which writes control bytes as `\DDD`, not valid JSON; the two agree on
/// every value cstore accepts that has no control byte other than tab).
pub fn render_json(tree: &ConfigTree) -> String {
    render_json_with(tree, Secrets::Show)
}

/// [`render_json`] with secrets shown or hidden.
pub fn render_json_with(tree: &ConfigTree, secrets: Secrets) -> String {
    let mut out = String::new();
    json_object(&mut out, tree.root(), secrets);
    out
}

fn json_object(out: &mut String, node: &Node, secrets: Secrets) {
    out.push('{');
    for (i, child) in node.children().iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        json_string(out, child.name());
        out.push(':');
        json_value(out, child, secrets);
    }
    out.push('}');
}

fn json_value(out: &mut String, node: &Node, secrets: Secrets) {
    if !node.children().is_empty() {
        return json_object(out, node, secrets);
    }
    match node.values() {
        [] => out.push_str("{}"),
        [v] => json_string(out, shown(node.name(), v, secrets)),
        vs => {
            out.push('[');
            for (i, v) in vs.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_string(out, shown(node.name(), v, secrets));
            }
            out.push(']');
        }
    }
}

fn json_string(out: &mut String, s: &str) {
    match serde_json::to_string(s) {
        Ok(j) => out.push_str(&j),
        Err(_) => out.push_str("\"\""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vyos::boot::parse_body;

    fn check(input: &str, style: BootStyle, expected: &str) {
        let tree = match parse_body(input) {
            Ok(t) => t,
            Err(e) => panic!("{input:?}: {e}"),
        };
        assert_eq!(render_boot(&tree, &style), expected);
    }

    #[test]
    fn styles() {
        let src = "interfaces {\n ethernet eth0 {\n  address dhcp\n  description \"a b\"\n  disable\n }\n loopback lo {\n }\n}\nservice {\n rest {\n }\n}\n";
        check(
            src,
            BootStyle::vyos_1_5(),
            "interfaces {\n    ethernet eth0 {\n        address \"dhcp\"\n        description \"a b\"\n        disable\n    }\n    loopback lo {\n    }\n}\nservice {\n    rest {\n    }\n}\n",
        );
        check(
            src,
            BootStyle::vyos_1_4_0(),
            "interfaces {\n    ethernet eth0 {\n        address \"dhcp\"\n        description \"a b\"\n        disable\n    }\n    loopback lo {\n    }\n}\nservice {\n    rest\n}\n",
        );
        check(
            src,
            BootStyle::vyos_1_3(),
            "interfaces {\n    ethernet eth0 {\n        address dhcp\n        description \"a b\"\n        disable\n    }\n    loopback lo {\n    }\n}\nservice {\n    rest {\n    }\n}\n",
        );
        check(
            src,
            BootStyle::migrated_1_3(),
            "interfaces {\n    ethernet eth0 {\n        address \"dhcp\"\n        description \"a b\"\n        disable { }\n    }\n    loopback lo {\n    }\n}\nservice {\n    rest { }\n}\n",
        );
    }

    #[test]
    fn escaping() {
        check("a \"fo\\o\"\n", BootStyle::vyos_1_5(), "a \"fo\\o\"\n");
        check(
            "a \"x;y\"\nb \"\"\nc 'q*'\n",
            BootStyle::vyos_1_3(),
            "a \"x;y\"\nb \"\"\nc \"q*\"\n",
        );
    }

    #[test]
    fn json_and_masking() {
        let t = parse_body(
            "interfaces {\n ethernet eth0 {\n  address 1\n  address 2\n  mtu 1500\n  disable\n }\n}\nsystem {\n login {\n  user vyos {\n   authentication {\n    plaintext-password hunter2\n   }\n  }\n }\n}\n",
        );
        let Ok(t) = t else { panic!("{t:?}") };
        assert_eq!(
            render_json(&t),
            r#"{"interfaces":{"ethernet":{"eth0":{"address":["1","2"],"disable":{},"mtu":"1500"}}},"system":{"login":{"user":{"vyos":{"authentication":{"plaintext-password":"hunter2"}}}}}}"#
        );
        assert!(render_show(&t).contains("plaintext-password ****************\n"));
        assert!(render_commands_masked(&t).contains("plaintext-password '****************'\n"));
        assert!(render_commands(&t).contains("plaintext-password 'hunter2'\n"));
    }
}
