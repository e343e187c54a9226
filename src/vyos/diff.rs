//! Tree diff: the command list that turns tree A into tree B ([`diff()`]), VyOS's exact
//! `compare commands` text ([`render_compare_commands`]), the human `compare` view, a unified
//! text diff, and [`apply`] to replay commands on a tree.
//!
//! Owns the diff algorithm and its law: `apply(&diff(a, b, &[]), a)` equals `b` up to the `tag`
//! and `leaf` flags, which set commands cannot express (see [`crate::vyos::tree`]). It must not
//! render anything but commands and the two text views.
//!
//! The command list follows vyos1x-config `Config_diff` with `cmds=true` (reference §2.2): a walk
//! in natural order; a subtree only in A gives one `delete` per leaf value; a subtree only in B
//! one `set` per leaf value; a leaf whose values changed gives a `delete` per removed value (in
//! natural order) and a `set` per added value; then all deletes come first, all sets after.
//! Where that output alone would not rebuild B, extra commands are added (VyOS prints neither):
//! - `comment` commands for changed comments, after the sets (VyOS's list drops comment lines);
//! - a leaf whose kept values would end up in a different order than in B is rebuilt: every
//!   old value deleted, every new one set in B's order (VyOS prints nothing for a reorder);
//! - a node emptied by the deletes disappears (cstore removes emptied nodes); if B still has it
//!   it is recreated by the sets below it, or by `set path` if it is empty in B.

use std::cmp::Ordering;
use std::fmt::Write as _;

use super::Error;
use super::commands::{Command, Op};
use super::natural::natural_cmp;
use super::render::{BootStyle, render_boot};
use super::secret::Secrets;
use super::tree::{ConfigTree, Node, Path, SetMode, harmonize_flags, path_cmp};

#[derive(Default)]
struct Out {
    deletes: Vec<Command>,
    sets: Vec<Command>,
    comments: Vec<Command>,
}

/// Natural order of two child names; equal names (the common case in a diff) skip the walk.
fn name_cmp(x: &Node, y: &Node) -> Ordering {
    if x.name() == y.name() {
        Ordering::Equal
    } else {
        natural_cmp(x.name(), y.name())
    }
}

/// Pairs the children of two nodes by name, walking both lists in natural order.
fn zip_children<'t>(
    ac: &'t [Node],
    bc: &'t [Node],
) -> impl Iterator<Item = (Option<&'t Node>, Option<&'t Node>)> {
    let (mut i, mut j) = (0, 0);
    std::iter::from_fn(move || {
        let (x, y) = (ac.get(i), bc.get(j));
        let ord = match (x, y) {
            (None, None) => return None,
            (Some(p), Some(q)) => name_cmp(p, q),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
        };
        Some(match ord {
            Ordering::Less => {
                i += 1;
                (x, None)
            }
            Ordering::Greater => {
                j += 1;
                (None, y)
            }
            Ordering::Equal => {
                i += 1;
                j += 1;
                (x, y)
            }
        })
    })
}

fn owned(path: &[&str]) -> Vec<String> {
    path.iter().map(|s| (*s).to_owned()).collect()
}

/// Sorted, de-duplicated scopes with nested ones folded into their ancestors.
fn normalize_scopes(scopes: &[Path]) -> Vec<&Path> {
    let mut v: Vec<&Path> = scopes.iter().collect();
    v.sort_by(|a, b| path_cmp(&a.0, &b.0));
    let mut out: Vec<&Path> = Vec::new();
    for s in v {
        if out.last().is_some_and(|last| s.starts_with(last)) {
            continue;
        }
        out.push(s);
    }
    out
}

/// The ordered commands that turn `a` into `b`, restricted to `scopes` (all of the tree when
/// empty): deletes, then sets, then comments.
pub fn diff(a: &ConfigTree, b: &ConfigTree, scopes: &[Path]) -> Vec<Command> {
    let mut out = Out::default();
    let mut path: Vec<&str> = Vec::new();
    let scopes = normalize_scopes(scopes);
    if scopes.is_empty() || scopes.iter().any(|s| s.is_empty()) {
        diff_common(a.root(), b.root(), &mut path, &mut out);
    } else {
        for scope in scopes {
            path.clear();
            path.extend(scope.0.iter().map(String::as_str));
            match (a.get(&scope.0), b.get(&scope.0)) {
                (Some(x), Some(y)) => {
                    diff_common(x, y, &mut path, &mut out);
                }
                (Some(x), None) => delete_subtree(x, &mut path, &mut out.deletes),
                (None, Some(y)) => set_subtree(y, &mut path, &mut out),
                (None, None) => {}
            }
        }
    }
    let mut cmds = out.deletes;
    cmds.extend(out.sets);
    cmds.extend(out.comments);
    cmds
}

/// Walks two nodes at the same path. Returns whether node A survives the delete phase.
fn diff_common<'t>(a: &'t Node, b: &'t Node, path: &mut Vec<&'t str>, out: &mut Out) -> bool {
    let a_was_empty = a.is_empty();
    // Values.
    let mut values_survive = !a.values().is_empty();
    if a.values() != b.values() {
        let av = a.values();
        let bv = b.values();
        let kept: Vec<&String> = av.iter().filter(|v| bv.contains(v)).collect();
        let added: Vec<&String> = bv.iter().filter(|v| !av.contains(v)).collect();
        let in_place = kept.len() + added.len() == bv.len()
            && kept
                .iter()
                .chain(added.iter())
                .zip(bv)
                .all(|(x, y)| *x == y);
        let (removed, to_set): (Vec<&String>, Vec<&String>) = if in_place {
            (
                sorted_distinct(av.iter().filter(|v| !bv.contains(v))),
                added,
            )
        } else {
            (sorted_distinct(av.iter()), bv.iter().collect())
        };
        values_survive = in_place && !kept.is_empty();
        for v in removed {
            out.deletes
                .push(Command::delete(owned(path), Some(v.clone())));
        }
        for v in to_set {
            out.sets.push(Command::set(owned(path), Some(v.clone())));
        }
    }
    // Children, merged in natural order.
    let mut any_child_survives = false;
    for pair in zip_children(a.children(), b.children()) {
        match pair {
            (Some(x), None) => {
                path.push(x.name());
                delete_subtree(x, path, &mut out.deletes);
                path.pop();
            }
            (None, Some(y)) => {
                path.push(y.name());
                set_subtree(y, path, out);
                path.pop();
            }
            (Some(x), Some(y)) => {
                path.push(x.name());
                any_child_survives |= diff_common(x, y, path, out);
                path.pop();
            }
            (None, None) => {}
        }
    }
    let survives = a_was_empty || values_survive || any_child_survives;
    if path.is_empty() {
        return true;
    }
    if survives {
        if a.comment() != b.comment() {
            out.comments.push(Command::comment(
                owned(path),
                b.comment().unwrap_or_default().to_owned(),
            ));
        }
    } else {
        // Recreated by the sets below it; an empty node needs its own `set`.
        if b.is_empty() {
            out.sets.push(Command::set(owned(path), None));
        }
        if let Some(c) = b.comment().filter(|c| !c.is_empty()) {
            out.comments
                .push(Command::comment(owned(path), c.to_owned()));
        }
    }
    survives
}

fn sorted_distinct<'v>(it: impl Iterator<Item = &'v String>) -> Vec<&'v String> {
    let mut v: Vec<&String> = it.collect();
    v.sort_by(|a, b| natural_cmp(a, b));
    v.dedup();
    v
}

/// `render_commands ~op:Delete` of a subtree: one delete per leaf value.
fn delete_subtree<'t>(n: &'t Node, path: &mut Vec<&'t str>, out: &mut Vec<Command>) {
    if n.children().is_empty() && n.values().is_empty() {
        out.push(Command::delete(owned(path), None));
        return;
    }
    for v in n.values() {
        out.push(Command::delete(owned(path), Some(v.clone())));
    }
    for c in n.children() {
        path.push(c.name());
        delete_subtree(c, path, out);
        path.pop();
    }
}

/// `render_commands ~op:Set` of a subtree: one set per leaf value, comments kept aside.
fn set_subtree<'t>(n: &'t Node, path: &mut Vec<&'t str>, out: &mut Out) {
    if n.is_empty() {
        out.sets.push(Command::set(owned(path), None));
    }
    for v in n.values() {
        out.sets.push(Command::set(owned(path), Some(v.clone())));
    }
    for c in n.children() {
        path.push(c.name());
        set_subtree(c, path, out);
        path.pop();
    }
    if let Some(c) = n.comment().filter(|c| !c.is_empty()) {
        out.comments
            .push(Command::comment(owned(path), c.to_owned()));
    }
}

/// The exact text of VyOS `compare commands` (vyos1x-config `Config_diff.diff_compare ~cmds:true`
/// and `order_commands`): all `delete` lines, a newline, all `set` lines, a newline; comment
/// lines are dropped, changed values of a leaf are listed in natural order, a leaf whose values
/// only changed order prints nothing, and the children of a leaf whose values changed are not
/// visited. Empty when the trees are equal in scope (VyOS then prints its "No changes" line).
///
/// This is what VyOS shows, not a complete recipe: use [`diff()`] to get commands that rebuild B.
pub fn render_compare_commands(a: &ConfigTree, b: &ConfigTree, scopes: &[Path]) -> String {
    render_compare_commands_with(a, b, scopes, Secrets::Show)
}

/// [`render_compare_commands`] with secret values shown or hidden.
pub fn render_compare_commands_with(
    a: &ConfigTree,
    b: &ConfigTree,
    scopes: &[Path],
    secrets: Secrets,
) -> String {
    let mut out = Out::default();
    let scopes = normalize_scopes(scopes);
    let mut path: Vec<&str> = Vec::new();
    if scopes.is_empty() || scopes.iter().any(|s| s.is_empty()) {
        vyos_walk(Some(a.root()), Some(b.root()), &mut path, &mut out);
    } else {
        for scope in scopes {
            path.clear();
            path.extend(scope.0.iter().map(String::as_str));
            vyos_walk(a.get(&scope.0), b.get(&scope.0), &mut path, &mut out);
        }
    }
    if out.deletes.is_empty() && out.sets.is_empty() {
        return String::new();
    }
    let lines = |cmds: &[Command]| {
        cmds.iter()
            .map(|c| c.with_secrets(secrets).to_string())
            .collect::<Vec<_>>()
            .join("\n")
    };
    format!("{}\n{}\n", lines(&out.deletes), lines(&out.sets))
}

fn vyos_walk<'t>(a: Option<&'t Node>, b: Option<&'t Node>, path: &mut Vec<&'t str>, out: &mut Out) {
    match (a, b) {
        (None, None) => {}
        (Some(x), None) => vyos_render(x, path, Op::Delete, &mut out.deletes),
        (None, Some(y)) => vyos_render(y, path, Op::Set, &mut out.sets),
        (Some(x), Some(y)) if x == y => {}
        (Some(x), Some(y)) if x.values() != y.values() => {
            let (av, bv) = (x.values(), y.values());
            let (sub, add) = if av.len() == 1 && bv.len() == 1 {
                (vec![&av[0]], vec![&bv[0]])
            } else {
                (
                    sorted_distinct(av.iter().filter(|v| !bv.contains(v))),
                    sorted_distinct(bv.iter().filter(|v| !av.contains(v))),
                )
            };
            for v in sub {
                out.deletes
                    .push(Command::delete(owned(path), Some(v.clone())));
            }
            for v in add {
                out.sets.push(Command::set(owned(path), Some(v.clone())));
            }
        }
        (Some(x), Some(y)) => {
            for (ca, cb) in zip_children(x.children(), y.children()) {
                path.push(ca.or(cb).map_or("", Node::name));
                vyos_walk(ca, cb, path, out);
                path.pop();
            }
        }
    }
}

/// `Config_tree.render_commands` of one subtree: values of childless nodes only.
fn vyos_render<'t>(n: &'t Node, path: &mut Vec<&'t str>, op: Op, out: &mut Vec<Command>) {
    if n.children().is_empty() {
        if n.values().is_empty() {
            out.push(Command {
                op,
                path: owned(path),
                value: None,
            });
        }
        for v in n.values() {
            out.push(Command {
                op,
                path: owned(path),
                value: Some(v.clone()),
            });
        }
        return;
    }
    for c in n.children() {
        path.push(c.name());
        vyos_render(c, path, op, out);
        path.pop();
    }
}

/// Applies one command to a tree: `set` with `mode`, `delete`, `comment`.
pub fn apply_command(tree: &mut ConfigTree, cmd: &Command, mode: SetMode) -> Result<(), Error> {
    match cmd.op {
        Op::Set => tree
            .set_with(&cmd.path, cmd.value.as_deref(), mode)
            .map(drop),
        Op::Delete => tree.delete(&cmd.path, cmd.value.as_deref()).map(drop),
        Op::Comment => tree.comment(&cmd.path, cmd.value.as_deref().unwrap_or_default()),
    }
}

/// Replays `cmds` on a copy of `tree` (`set` appends values, see [`SetMode::Add`]).
pub fn apply(cmds: &[Command], tree: &ConfigTree) -> Result<ConfigTree, Error> {
    let mut t = tree.clone();
    for c in cmds {
        apply_command(&mut t, c, SetMode::Add)?;
    }
    Ok(t)
}

/// The `compare` view of vyos1x-config `Config_diff` (`cmds=false`): for each change a
/// `[parent path]` header (when it differs from the previous change's; never for top-level
/// changes), then the removed and added config rendered in the 1.4+ style with `- ` / `+ `.
/// Empty when nothing differs. Rendering flags are first made to agree
/// ([`harmonize_flags`]), so a side read from set commands shows tag nodes as the other does;
/// nodes equal but for those flags therefore count as unchanged.
pub fn render_compare(a: &ConfigTree, b: &ConfigTree, scopes: &[Path]) -> String {
    render_compare_with(a, b, scopes, Secrets::Show)
}

/// [`render_compare`] with secret values shown or hidden. A changed secret still shows as a
/// `-` and a `+` line, both masked.
pub fn render_compare_with(
    a: &ConfigTree,
    b: &ConfigTree,
    scopes: &[Path],
    secrets: Secrets,
) -> String {
    let (mut a, mut b) = (a.restrict(scopes), b.restrict(scopes));
    harmonize_flags(&mut a, &mut b);
    let (a, b) = (&a, &b);
    let mut style = BootStyle::vyos_1_5();
    style.mask_secrets = secrets == Secrets::Hide;
    let mut c = Compare {
        out: String::new(),
        ppath: Vec::new(),
        style,
    };
    let scopes = normalize_scopes(scopes);
    if scopes.is_empty() || scopes.iter().any(|s| s.is_empty()) {
        c.walk(&mut Vec::new(), Some(a.root()), Some(b.root()));
    } else {
        for scope in scopes {
            let mut path: Vec<&str> = scope.0.iter().map(String::as_str).collect();
            let (x, y) = (a.get(&scope.0), b.get(&scope.0));
            if x.is_some() || y.is_some() {
                c.walk(&mut path, x, y);
            }
        }
    }
    c.out
}

struct Compare<'p> {
    out: String,
    ppath: Vec<&'p str>,
    style: BootStyle,
}

impl<'p> Compare<'p> {
    fn walk(&mut self, path: &mut Vec<&'p str>, a: Option<&'p Node>, b: Option<&'p Node>) {
        match (a, b) {
            (None, None) => {}
            (Some(x), None) => {
                self.header(path);
                self.marked("- ", x);
            }
            (None, Some(y)) => {
                self.header(path);
                self.marked("+ ", y);
            }
            (Some(x), Some(y)) if x == y => {}
            (Some(x), Some(y)) if x.values() != y.values() => {
                self.header(path);
                if x.values().len() == 1 && y.values().len() == 1 {
                    self.marked("- ", x);
                    self.marked("+ ", y);
                } else {
                    let sub =
                        sorted_distinct(x.values().iter().filter(|v| !y.values().contains(v)));
                    let add =
                        sorted_distinct(y.values().iter().filter(|v| !x.values().contains(v)));
                    if !sub.is_empty() {
                        self.marked("- ", &with_values(x, &sub));
                    }
                    if !add.is_empty() {
                        self.marked("+ ", &with_values(y, &add));
                    }
                }
            }
            (Some(x), Some(y)) => {
                for (ca, cb) in zip_children(x.children(), y.children()) {
                    path.push(ca.or(cb).map_or("", Node::name));
                    self.walk(path, ca, cb);
                    path.pop();
                }
            }
        }
    }

    fn header(&mut self, path: &[&'p str]) {
        let parent = &path[..path.len().saturating_sub(1)];
        if parent != self.ppath.as_slice() {
            let _ = writeln!(self.out, "[{}]", parent.join(" "));
            self.ppath = parent.to_vec();
        }
    }

    fn marked(&mut self, mark: &str, node: &Node) {
        let mut root = Node::new("");
        root.children_mut().push(node.clone());
        let text = render_boot(&ConfigTree::from_root(root), &self.style);
        for line in text.split_inclusive('\n') {
            if line != "\n" {
                self.out.push_str(mark);
            }
            self.out.push_str(line);
        }
    }
}

fn with_values(n: &Node, values: &[&String]) -> Node {
    let mut m = n.clone();
    *m.values_mut() = values.iter().map(|v| (*v).clone()).collect();
    m
}

/// A unified diff (3 lines of context) of the two trees rendered as 1.4+ config.boot,
/// restricted to `scopes`, after [`harmonize_flags`].
pub fn render_unified(
    a: &ConfigTree,
    b: &ConfigTree,
    scopes: &[Path],
    old_name: &str,
    new_name: &str,
) -> String {
    render_unified_with(a, b, scopes, old_name, new_name, Secrets::Show)
}

/// [`render_unified`] with secret values shown or hidden. The lines are compared with their
/// real values and printed masked, so a changed secret still shows as a `-` and a `+` line.
pub fn render_unified_with(
    a: &ConfigTree,
    b: &ConfigTree,
    scopes: &[Path],
    old_name: &str,
    new_name: &str,
    secrets: Secrets,
) -> String {
    let style = BootStyle::vyos_1_5();
    let (mut a, mut b) = (a.restrict(scopes), b.restrict(scopes));
    harmonize_flags(&mut a, &mut b);
    let old = render_boot(&a, &style);
    let new = render_boot(&b, &style);
    if old == new {
        return String::new();
    }
    // The masked renders have the same lines as the real ones (a value is one line), only
    // the secret values differ.
    let (old_shown, new_shown) = match secrets {
        Secrets::Show => (None, None),
        Secrets::Hide => {
            let mut masked = style;
            masked.mask_secrets = true;
            (
                Some(render_boot(&a, &masked)),
                Some(render_boot(&b, &masked)),
            )
        }
    };
    let old_lines: Vec<&str> = old_shown
        .as_deref()
        .unwrap_or(&old)
        .split_inclusive('\n')
        .collect();
    let new_lines: Vec<&str> = new_shown
        .as_deref()
        .unwrap_or(&new)
        .split_inclusive('\n')
        .collect();
    let diff = similar::TextDiff::from_lines(&old, &new);
    let mut out = String::new();
    for ops in diff.grouped_ops(3) {
        if ops.is_empty() {
            continue;
        }
        if out.is_empty() {
            let _ = writeln!(out, "--- {old_name}\n+++ {new_name}");
        }
        let _ = writeln!(out, "{}", similar::udiff::UnifiedHunkHeader::new(&ops));
        for op in &ops {
            let (tag, old_range, new_range) = op.as_tag_tuple();
            let mut push = |mark: char, lines: &[&str]| {
                for line in lines {
                    out.push(mark);
                    out.push_str(line);
                }
            };
            let old_part = old_lines.get(old_range).unwrap_or_default();
            let new_part = new_lines.get(new_range).unwrap_or_default();
            match tag {
                similar::DiffTag::Equal => push(' ', old_part),
                similar::DiffTag::Delete => push('-', old_part),
                similar::DiffTag::Insert => push('+', new_part),
                similar::DiffTag::Replace => {
                    push('-', old_part);
                    push('+', new_part);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vyos::boot::parse_body;

    fn tree(s: &str) -> ConfigTree {
        match parse_body(s) {
            Ok(t) => t,
            Err(e) => panic!("{s:?}: {e}"),
        }
    }

    fn check(a: &str, b: &str, expected: &[&str]) {
        let (ta, tb) = (tree(a), tree(b));
        let cmds = diff(&ta, &tb, &[]);
        let shown: Vec<String> = cmds.iter().map(ToString::to_string).collect();
        assert_eq!(shown, expected);
        let applied = match apply(&cmds, &ta) {
            Ok(t) => t,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(
            crate::vyos::render_commands(&applied),
            crate::vyos::render_commands(&tb)
        );
    }

    #[test]
    fn compare_commands_order() {
        check(
            "nat {\n source {\n  rule 10 {\n   outbound-interface {\n    name eth1\n   }\n   translation {\n    address masquerade\n   }\n  }\n }\n}\n",
            "nat {\n source {\n  rule 20 {\n   translation {\n    address masquerade\n   }\n  }\n }\n}\n",
            &[
                "delete nat source rule 10 outbound-interface name 'eth1'",
                "delete nat source rule 10 translation address 'masquerade'",
                "set nat source rule 20 translation address 'masquerade'",
            ],
        );
        check(
            "a {\n d WAN\n m 1\n m 2\n}\n",
            "a {\n d Uplink\n m 1\n m 3\n}\n",
            &[
                "delete a d 'WAN'",
                "delete a m '2'",
                "set a d 'Uplink'",
                "set a m '3'",
            ],
        );
    }

    #[test]
    fn extra_commands_rebuild_b() {
        check(
            "a {\n m 1\n m 2\n}\n",
            "a {\n m 2\n m 1\n}\n",
            &[
                "delete a m '1'",
                "delete a m '2'",
                "set a m '2'",
                "set a m '1'",
            ],
        );
        check("x {\n y 1\n}\n", "x {\n}\n", &["delete x y '1'", "set x"]);
        check("/* c */\nx 1\n", "/* d */\nx 1\n", &["comment x 'd'"]);
        check("/* c */\nx 1\n", "x 2\n", &["delete x '1'", "set x '2'"]);
        check(
            "/* c */\nx 1\n",
            "/* c */\nx 2\n",
            &["delete x '1'", "set x '2'", "comment x 'c'"],
        );
        check("x 1\n", "x 1\n", &[]);
    }

    #[test]
    fn vyos_compare_commands_text() {
        let a = tree("a {\n m 1\n m 2\n s x\n}\nb {\n c 1\n}\n");
        let b = tree("/* new */\na {\n m 2\n m 1\n m 9\n m 3\n s y\n}\n");
        assert_eq!(
            render_compare_commands(&a, &b, &[]),
            "delete a s 'x'\ndelete b c '1'\nset a m '3'\nset a m '9'\nset a s 'y'\n"
        );
        let only_sets = render_compare_commands(&ConfigTree::new(), &b, &[]);
        assert_eq!(
            only_sets,
            "\nset a m '2'\nset a m '1'\nset a m '9'\nset a m '3'\nset a s 'y'\n"
        );
        assert_eq!(render_compare_commands(&a, &a, &[]), "");
    }

    #[test]
    fn scopes() {
        let a = tree("a {\n x 1\n}\nb {\n y 1\n}\n");
        let b = tree("a {\n x 2\n}\nb {\n y 2\n}\n");
        let cmds = diff(&a, &b, &[Path::parse("b"), Path::parse("b y")]);
        let shown: Vec<String> = cmds.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["delete b y '1'", "set b y '2'"]);
    }

    #[test]
    fn compare_view() {
        let a = tree(
            "interfaces {\n ethernet eth0 {\n  address 192.0.2.1/24\n  description WAN\n }\n}\nnat {\n source {\n  rule 10 {\n   exclude\n  }\n }\n}\n",
        );
        let b = tree(
            "interfaces {\n ethernet eth0 {\n  address 192.0.2.1/24\n  address 2001:db8::1/64\n  description Uplink\n }\n}\n",
        );
        assert_eq!(
            render_compare(&a, &b, &[]),
            "[interfaces ethernet eth0]\n+ address \"2001:db8::1/64\"\n- description \"WAN\"\n+ description \"Uplink\"\n[]\n- nat {\n-     source {\n-         rule 10 {\n-             exclude\n-         }\n-     }\n- }\n"
        );
        assert_eq!(render_compare(&a, &a, &[]), "");
        // A top-level change first gets no header at all (VyOS starts from the empty path).
        let c = tree("system {\n host-name r1\n}\n");
        assert_eq!(
            render_compare(&ConfigTree::new(), &c, &[]),
            "+ system {\n+     host-name \"r1\"\n+ }\n"
        );
    }
}
