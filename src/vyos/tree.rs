//! The config tree: nodes, their values, comments and flags, and the `set` / `delete` /
//! `comment` edits that VyOS's configuration mode performs on it.
//!
//! Owns the data model and its invariants: children are unique by name and kept in natural order
//! (see [`natural_cmp`]); values keep insertion order. It must not know about text formats; the
//! parsers and renderers build and read trees only through this API.
//!
//! Edits follow vyatta-cfg cstore and vyos1x-config `Config_tree` (reference §3.2):
//! - `set` of an existing path (or of a value the leaf already holds) changes nothing and
//!   reports [`SetOutcome::AlreadyExists`]; `set` creates missing nodes on the way.
//! - Without a schema a tree cannot know whether a leaf is multi-valued, so `set` with a value
//!   takes a [`SetMode`]: [`SetMode::Add`] appends (what a multi-value leaf does, and what
//!   [`crate::vyos::apply`] uses, because `diff` always deletes a replaced value first) and
//!   [`SetMode::Replace`] replaces (a single-value leaf).
//! - `delete` of something that is not there changes nothing and reports
//!   [`DeleteOutcome::NothingToDelete`]. Deleting the last value of a leaf deletes the leaf
//!   (`Config_tree.delete`). A node that a delete leaves with no value and no child is removed
//!   too, up to the root (an empty node that was never touched stays). The reference does not
//!   say what cstore does there; removing them is what makes the per-value deletes that
//!   `compare commands` prints for a removed subtree remove the whole subtree.
//! - `comment path ""` removes the comment.
//!
//! The `tag` and `leaf` flags only steer config.boot rendering (`ethernet eth0 {`, and a valueless
//! leaf `disable` against an empty node `rest {` / `}`). Set commands carry neither: a node
//! created by `set` gets `leaf = true` only if it is the last node of the path, and `tag = true`
//! only if the same node under a sibling instance of a tag node is one (`set firewall ipv4 name
//! NEW rule 10 ...` copies the flag of `rule` under another `name`); otherwise `tag = false`, and
//! a schema-aware caller sets it with [`ConfigTree::set_tag`].

use std::cmp::Ordering;
use std::fmt;

use smallvec::SmallVec;

use super::Error;
use super::natural::natural_cmp;

/// Leaf values: almost always one, kept inline to save an allocation per leaf.
pub(crate) type Values = SmallVec<[String; 1]>;

/// A path of node names (and tag values) from the root, such as `firewall ipv4 name WAN-IN`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Path(pub Vec<String>);

impl Path {
    /// Splits on whitespace: `Path::parse("nat source")` is `["nat", "source"]`.
    pub fn parse(s: &str) -> Path {
        Path(s.split_whitespace().map(str::to_owned).collect())
    }

    pub fn words(&self) -> &[String] {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `self` is `other` or lies below it.
    pub fn starts_with(&self, other: &Path) -> bool {
        self.0.starts_with(&other.0)
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(" "))
    }
}

impl std::str::FromStr for Path {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Path::parse(s))
    }
}

impl<S: AsRef<str>> From<&[S]> for Path {
    fn from(words: &[S]) -> Self {
        Path(words.iter().map(|w| w.as_ref().to_owned()).collect())
    }
}

/// How many values a leaf holds before `set` and `delete` look them up through a hash index
/// instead of scanning (a firewall group with tens of thousands of entries is ordinary).
const INDEX_FROM: usize = 32;

/// A lookup of a leaf's values (value → how many times it is held), built on the first
/// lookup once the leaf holds [`INDEX_FROM`] values and kept up to date by the edits of this
/// module; anything else that changes the values drops it. Not part of a node's identity:
/// equality ignores it, a clone starts without it.
#[derive(Default)]
// Boxed so that every node pays one pointer for it, not a whole map header.
#[allow(clippy::box_collection)]
struct ValueIndex(Option<Box<std::collections::HashMap<Box<str>, u32>>>);

impl Clone for ValueIndex {
    fn clone(&self) -> Self {
        ValueIndex(None)
    }
}

impl PartialEq for ValueIndex {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for ValueIndex {}

impl fmt::Debug for ValueIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ValueIndex")
    }
}

/// One node of the tree. The root is a node with an empty name.
///
/// Equality is by content (name, values, children, comment): the `tag` and `leaf` flags only
/// steer config.boot rendering, so a tree built from set commands equals the same config
/// parsed from a device.
#[derive(Debug, Clone, Default)]
pub struct Node {
    name: Box<str>,
    values: Values,
    index: ValueIndex,
    children: Vec<Node>,
    comment: Option<Box<str>>,
    tag: bool,
    leaf: bool,
}

impl PartialEq for Node {
    fn eq(&self, other: &Node) -> bool {
        self.name == other.name
            && self.values == other.values
            && self.comment == other.comment
            && self.children == other.children
    }
}

impl Eq for Node {}

impl Node {
    /// A node with no values, children or comment; `tag` and `leaf` false.
    pub fn new(name: impl Into<String>) -> Node {
        Node {
            name: name.into().into_boxed_str(),
            ..Node::default()
        }
    }

    pub(crate) fn from_parts(
        name: String,
        values: Values,
        children: Vec<Node>,
        comment: Option<String>,
        tag: bool,
        leaf: bool,
    ) -> Node {
        Node {
            name: name.into_boxed_str(),
            values,
            index: ValueIndex::default(),
            children,
            comment: comment.map(String::into_boxed_str),
            tag,
            leaf,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }
    /// Leaf values in stored (insertion) order.
    pub fn values(&self) -> &[String] {
        &self.values
    }
    /// Children in natural order, unique by name.
    pub fn children(&self) -> &[Node] {
        &self.children
    }
    pub fn comment(&self) -> Option<&str> {
        self.comment.as_deref()
    }
    /// A tag node (`ethernet` in `ethernet eth0 { }`); its children are the instances.
    pub fn is_tag(&self) -> bool {
        self.tag
    }
    /// Written as a leaf (a bare name or `name value`) rather than with braces.
    pub fn is_leaf(&self) -> bool {
        self.leaf
    }
    /// No values and no children.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty() && self.children.is_empty()
    }

    pub fn child(&self, name: &str) -> Option<&Node> {
        self.find(name).ok().map(|i| &self.children[i])
    }

    pub(crate) fn into_values_children(self) -> (Values, Vec<Node>) {
        (self.values, self.children)
    }

    pub(crate) fn children_mut(&mut self) -> &mut Vec<Node> {
        &mut self.children
    }
    pub(crate) fn values_mut(&mut self) -> &mut Values {
        self.index = ValueIndex::default();
        &mut self.values
    }

    /// Whether the leaf holds `v`: a scan for a few values, the index for many.
    fn has_value(&mut self, v: &str) -> bool {
        if self.values.len() < INDEX_FROM && self.index.0.is_none() {
            return self.values.iter().any(|x| x == v);
        }
        let values = &self.values;
        let index = self.index.0.get_or_insert_with(|| {
            let mut m = std::collections::HashMap::with_capacity(values.len());
            for x in values {
                *m.entry(Box::from(x.as_str())).or_insert(0) += 1;
            }
            Box::new(m)
        });
        index.contains_key(v)
    }

    /// Appends a value, keeping the index.
    fn push_value(&mut self, v: &str) {
        if let Some(m) = &mut self.index.0 {
            *m.entry(Box::from(v)).or_insert(0) += 1;
        }
        self.values.push(v.to_owned());
    }

    /// Removes every copy of each of `vs` in one pass; returns whether any was there.
    fn remove_values(&mut self, vs: &[&str]) -> bool {
        if vs.len() == 1 && !self.has_value(vs[0]) {
            return false;
        }
        let before = self.values.len();
        if vs.len() < 4 {
            self.values.retain(|x| !vs.contains(&x.as_str()));
        } else {
            let gone: std::collections::HashSet<&str> = vs.iter().copied().collect();
            self.values.retain(|x| !gone.contains(x.as_str()));
        }
        if let Some(m) = &mut self.index.0 {
            for v in vs {
                m.remove(*v);
            }
        }
        self.values.len() != before
    }

    fn find(&self, name: &str) -> Result<usize, usize> {
        // Config arrives mostly in order (set commands, config.boot, rendered templates): the
        // last child is then the node looked for, or the place of a new one.
        if let Some(last) = self.children.last() {
            match natural_cmp(&last.name, name) {
                Ordering::Equal => return Ok(self.children.len() - 1),
                Ordering::Less => return Err(self.children.len()),
                Ordering::Greater => {}
            }
        }
        self.children
            .binary_search_by(|c| natural_cmp(&c.name, name))
    }

    fn child_or_insert(&mut self, name: &str) -> (&mut Node, bool) {
        match self.find(name) {
            Ok(i) => (&mut self.children[i], false),
            Err(i) => {
                self.children.insert(i, Node::new(name));
                (&mut self.children[i], true)
            }
        }
    }

    /// The descendant at `path` (this node for an empty path).
    pub fn get<S: AsRef<str>>(&self, path: &[S]) -> Option<&Node> {
        let mut node = self;
        for word in path {
            node = node.child(word.as_ref())?;
        }
        Some(node)
    }

    fn get_mut<S: AsRef<str>>(&mut self, path: &[S]) -> Option<&mut Node> {
        let mut node = self;
        for word in path {
            let i = node.find(word.as_ref()).ok()?;
            node = &mut node.children[i];
        }
        Some(node)
    }
}

/// How `set` with a value treats a leaf that already has other values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SetMode {
    /// Append the value (a multi-value leaf). The default, and what `apply` uses.
    #[default]
    Add,
    /// Replace all values with this one (a single-value leaf).
    Replace,
}

/// What a `set` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetOutcome {
    /// The node was created (with the value, if any).
    Created,
    /// The value was added to an existing leaf.
    Added,
    /// The existing value(s) were replaced.
    Replaced,
    /// The path (and value) already existed: VyOS prints `Configuration path: [...] already
    /// exists` and succeeds.
    AlreadyExists,
}

/// What a `delete` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteOutcome {
    Deleted,
    /// Nothing there: VyOS prints `Nothing to delete (the specified node does not exist)` (or
    /// `value`) and succeeds.
    NothingToDelete,
}

/// A whole configuration: the root node and everything under it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConfigTree {
    root: Node,
}

/// The longest path `set` accepts; deeper trees would only serve to exhaust the stack of the
/// recursive renderers.
pub const MAX_DEPTH: usize = 256;

impl ConfigTree {
    pub fn new() -> ConfigTree {
        ConfigTree::default()
    }

    pub(crate) fn from_root(root: Node) -> ConfigTree {
        ConfigTree { root }
    }

    pub fn root(&self) -> &Node {
        &self.root
    }

    pub fn is_empty(&self) -> bool {
        self.root.is_empty()
    }

    /// The node at `path`; the root for an empty path.
    pub fn get<S: AsRef<str>>(&self, path: &[S]) -> Option<&Node> {
        self.root.get(path)
    }

    pub fn exists<S: AsRef<str>>(&self, path: &[S]) -> bool {
        self.get(path).is_some()
    }

    /// The values of the leaf at `path` (empty for a valueless leaf or a node).
    pub fn values<S: AsRef<str>>(&self, path: &[S]) -> Option<&[String]> {
        self.get(path).map(Node::values)
    }

    /// `set path [value]` with [`SetMode::Add`]. The value must pass [`validate_value`].
    pub fn set<S: AsRef<str>>(
        &mut self,
        path: &[S],
        value: Option<&str>,
    ) -> Result<SetOutcome, Error> {
        self.set_with(path, value, SetMode::Add)
    }

    /// `set path [value]` with an explicit [`SetMode`].
    pub fn set_with<S: AsRef<str>>(
        &mut self,
        path: &[S],
        value: Option<&str>,
        mode: SetMode,
    ) -> Result<SetOutcome, Error> {
        check_path(path)?;
        for w in path {
            validate_path_word(w.as_ref()).map_err(|message| Error::InvalidValue { message })?;
        }
        if let Some(v) = value {
            validate_value(v).map_err(|message| Error::InvalidValue { message })?;
        }
        // A node holds values or children, never both (no config.boot could write it).
        let mut at: &Node = &self.root;
        for (k, word) in path.iter().enumerate() {
            let last = k + 1 == path.len();
            match at.child(word.as_ref()) {
                Some(c) => at = c,
                None => break,
            }
            if (!last && !at.values.is_empty())
                || (last && value.is_some() && !at.children.is_empty())
            {
                let shown = Path::from(&path[..=k]).to_string();
                return Err(Error::InvalidValue {
                    message: if last {
                        format!("[{shown}] has children: it cannot hold a value")
                    } else {
                        format!("[{shown}] holds values: it cannot have children")
                    },
                });
            }
        }
        let mut node = &mut self.root;
        let mut first_new = None;
        for (k, word) in path.iter().enumerate() {
            let (child, new) = node.child_or_insert(word.as_ref());
            if new && first_new.is_none() {
                first_new = Some(k);
            }
            node = child;
        }
        if let Some(first_new) = first_new {
            node.leaf = true;
            node.values.extend(value.map(str::to_owned));
            self.infer_tags(path, first_new);
            return Ok(SetOutcome::Created);
        }
        let Some(v) = value else {
            return Ok(SetOutcome::AlreadyExists);
        };
        if (mode == SetMode::Add || node.values.len() == 1) && node.has_value(v) {
            return Ok(SetOutcome::AlreadyExists);
        }
        node.leaf = true;
        match mode {
            SetMode::Add => {
                node.push_value(v);
                Ok(SetOutcome::Added)
            }
            SetMode::Replace => {
                let had = !node.values.is_empty();
                node.values_mut().clear();
                node.values.push(v.to_owned());
                Ok(if had {
                    SetOutcome::Replaced
                } else {
                    SetOutcome::Added
                })
            }
        }
    }

    /// Gives new nodes the tag flag that the same node has under a sibling instance: after
    /// `set firewall ipv4 name NEW rule 10 ...`, `rule` under `NEW` is a tag node if `rule` is
    /// one under another `name`. Set commands carry no tag flags; this keeps config.boot output
    /// right for trees loaded from config.boot and then edited.
    fn infer_tags<S: AsRef<str>>(&mut self, path: &[S], first_new: usize) {
        // One walk down the path: `tag_node` is the node at `path[..k - 1]`.
        let start = first_new.max(2);
        if start >= path.len() {
            return;
        }
        let Some(mut tag_node) = self.root.get_mut(&path[..start - 1]) else {
            return;
        };
        for k in start..path.len() {
            let instance = path[k - 1].as_ref();
            let name = path[k].as_ref();
            let inferred = tag_node.tag
                && tag_node
                    .children
                    .iter()
                    .filter(|i| &*i.name != instance)
                    .find_map(|i| i.child(name))
                    .is_some_and(|n| n.tag);
            let Ok(i) = tag_node.find(instance) else {
                return;
            };
            tag_node = &mut tag_node.children[i];
            if inferred && let Ok(j) = tag_node.find(name) {
                let n = &mut tag_node.children[j];
                n.tag = true;
                n.leaf = false;
            }
        }
    }

    /// `delete path [value]`.
    pub fn delete<S: AsRef<str>>(
        &mut self,
        path: &[S],
        value: Option<&str>,
    ) -> Result<DeleteOutcome, Error> {
        match value {
            Some(v) => self.delete_values(path, &[v]),
            None => self.delete_node(path),
        }
    }

    /// `delete path value` for each of `values` at once, in one pass over the leaf's values
    /// (what a run of deletes on one leaf costs in [`crate::vyos::apply`]). `Deleted` if any
    /// was there.
    pub fn delete_values<S: AsRef<str>>(
        &mut self,
        path: &[S],
        values: &[&str],
    ) -> Result<DeleteOutcome, Error> {
        check_path(path)?;
        let Some((last, parent_path)) = path.split_last() else {
            return Err(Error::EmptyPath);
        };
        let Some(parent) = self.root.get_mut(parent_path) else {
            return Ok(DeleteOutcome::NothingToDelete);
        };
        let Ok(i) = parent.find(last.as_ref()) else {
            return Ok(DeleteOutcome::NothingToDelete);
        };
        let node = &mut parent.children[i];
        if !node.remove_values(values) {
            return Ok(DeleteOutcome::NothingToDelete);
        }
        if !node.is_empty() {
            return Ok(DeleteOutcome::Deleted);
        }
        parent.children.remove(i);
        self.prune(parent_path);
        Ok(DeleteOutcome::Deleted)
    }

    fn delete_node<S: AsRef<str>>(&mut self, path: &[S]) -> Result<DeleteOutcome, Error> {
        check_path(path)?;
        let Some((last, parent_path)) = path.split_last() else {
            return Err(Error::EmptyPath);
        };
        let Some(parent) = self.root.get_mut(parent_path) else {
            return Ok(DeleteOutcome::NothingToDelete);
        };
        let Ok(i) = parent.find(last.as_ref()) else {
            return Ok(DeleteOutcome::NothingToDelete);
        };
        parent.children.remove(i);
        self.prune(parent_path);
        Ok(DeleteOutcome::Deleted)
    }

    /// Removes the nodes along `path` that are left empty, deepest first.
    fn prune<S: AsRef<str>>(&mut self, path: &[S]) {
        for len in (1..=path.len()).rev() {
            let (last, parent_path) = match path[..len].split_last() {
                Some(x) => x,
                None => return,
            };
            let Some(parent) = self.root.get_mut(parent_path) else {
                return;
            };
            match parent.find(last.as_ref()) {
                Ok(i) if parent.children[i].is_empty() => {
                    parent.children.remove(i);
                }
                _ => return,
            }
        }
    }

    /// `comment path "text"`; an empty text removes the comment.
    pub fn comment<S: AsRef<str>>(&mut self, path: &[S], text: &str) -> Result<(), Error> {
        check_path(path)?;
        let node = self.root.get_mut(path).ok_or_else(|| Error::NoSuchNode {
            path: Path::from(path).to_string(),
        })?;
        node.comment = (!text.is_empty()).then(|| Box::from(text));
        Ok(())
    }

    /// Marks the node at `path` as a tag node (or not); a schema-aware caller uses this after
    /// `set` so that config.boot renders `ethernet eth0 {`.
    pub fn set_tag<S: AsRef<str>>(&mut self, path: &[S], tag: bool) -> Result<(), Error> {
        self.node_mut(path)?.tag = tag;
        Ok(())
    }

    /// Marks the node at `path` as a leaf (or not): an empty non-leaf renders as `name {` / `}`.
    pub fn set_leaf<S: AsRef<str>>(&mut self, path: &[S], leaf: bool) -> Result<(), Error> {
        self.node_mut(path)?.leaf = leaf;
        Ok(())
    }

    fn node_mut<S: AsRef<str>>(&mut self, path: &[S]) -> Result<&mut Node, Error> {
        check_path(path)?;
        self.root.get_mut(path).ok_or_else(|| Error::NoSuchNode {
            path: Path::from(path).to_string(),
        })
    }

    /// Makes the subtree at `path` equal to `from`'s, flags and comments included, or removes
    /// it (pruning emptied parents) when `from` has none. Nodes created on the way take `from`'s
    /// tag flag. Used to commit one owner subtree of a working copy at a time.
    pub fn graft<S: AsRef<str>>(&mut self, path: &[S], from: &ConfigTree) -> Result<(), Error> {
        check_path(path)?;
        let Some((last, parents)) = path.split_last() else {
            return Err(Error::EmptyPath);
        };
        let Some(src) = from.get(path) else {
            if let Some(parent) = self.root.get_mut(parents)
                && let Ok(i) = parent.find(last.as_ref())
            {
                parent.children.remove(i);
                self.prune(parents);
            }
            return Ok(());
        };
        let mut node = &mut self.root;
        let mut orig = Some(&from.root);
        for word in parents {
            orig = orig.and_then(|o| o.child(word.as_ref()));
            let (child, new) = node.child_or_insert(word.as_ref());
            if new && let Some(o) = orig {
                child.tag = o.tag;
            }
            node = child;
        }
        match node.find(last.as_ref()) {
            Ok(i) => node.children[i] = src.clone(),
            Err(i) => node.children.insert(i, src.clone()),
        }
        Ok(())
    }

    /// Adds what `other` holds as replaying, with [`SetMode::Add`], the `set` commands that
    /// built `other` from an empty tree would: a node this tree lacks is copied whole (with its
    /// flags), a value this tree lacks is appended in `other`'s order (and makes the node a
    /// leaf), nodes both have are merged. This is how `render` puts the cached output of a
    /// policy into each appliance's tree without replaying its commands one by one.
    ///
    /// `other` must hold set commands only (no comments) and neither tree tag flags (trees built
    /// from set commands have none: tags are not inferred here). Fails on the first node where a
    /// set would: one side holds values and the other children there; this tree is then left
    /// partly merged.
    pub fn merge_sets(&mut self, other: &ConfigTree) -> Result<(), Path> {
        fn merge_node(into: &mut Node, from: &Node, path: &mut Vec<String>) -> Result<(), Path> {
            if (!into.values.is_empty() && !from.children.is_empty())
                || (!into.children.is_empty() && !from.values.is_empty())
            {
                return Err(Path(path.clone()));
            }
            let mut added = false;
            for v in &from.values {
                if !into.has_value(v) {
                    into.push_value(v);
                    added = true;
                }
            }
            if added {
                into.leaf = true;
            }
            for c in &from.children {
                match into.find(&c.name) {
                    Ok(i) => {
                        path.push(c.name.to_string());
                        merge_node(&mut into.children[i], c, path)?;
                        path.pop();
                    }
                    Err(i) => into.children.insert(i, c.clone()),
                }
            }
            Ok(())
        }
        merge_node(&mut self.root, &other.root, &mut Vec::new())
    }

    /// Whether [`ConfigTree::merge_sets`] of `other` onto this tree would fail: at some path
    /// one holds values and the other children. Only the nodes both have are visited.
    pub fn sets_conflict(&self, other: &ConfigTree) -> bool {
        fn clash(a: &Node, b: &Node) -> bool {
            if (!a.values.is_empty() && !b.children.is_empty())
                || (!a.children.is_empty() && !b.values.is_empty())
            {
                return true;
            }
            // Look up the children of the smaller side in the larger.
            if a.children.len() <= b.children.len() {
                a.children
                    .iter()
                    .any(|c| b.child(&c.name).is_some_and(|d| clash(c, d)))
            } else {
                b.children
                    .iter()
                    .any(|d| a.child(&d.name).is_some_and(|c| clash(c, d)))
            }
        }
        clash(&self.root, &other.root)
    }

    /// A copy holding only the given subtrees, and bare nodes (no values or comments, the
    /// original tag flag) on the way to them.
    pub fn restrict(&self, scopes: &[Path]) -> ConfigTree {
        if scopes.is_empty() {
            return self.clone();
        }
        let mut out = ConfigTree::new();
        for scope in scopes {
            let Some(src) = self.get(&scope.0) else {
                continue;
            };
            let Some((last, parents)) = scope.0.split_last() else {
                return self.clone();
            };
            let mut node = &mut out.root;
            let mut orig = &self.root;
            for word in parents {
                orig = match orig.child(word) {
                    Some(o) => o,
                    None => break,
                };
                let (child, new) = node.child_or_insert(word);
                if new {
                    child.tag = orig.tag;
                }
                node = child;
            }
            match node.find(last) {
                Ok(i) => node.children[i] = src.clone(),
                Err(i) => node.children.insert(i, src.clone()),
            }
        }
        out
    }
}

/// Gives two trees the same config.boot rendering flags where they have the same node, so that
/// a view of their differences shows content, not spelling: a node is a tag node if either tree
/// says so, and an empty node is written with braces if either tree does. Then, inside each tree,
/// a child of a tag instance becomes a tag node if the same child is one under another
/// instance. Needed when one side came from set commands, which carry no flags.
pub fn harmonize_flags(a: &mut ConfigTree, b: &mut ConfigTree) {
    fn unify(x: &mut Node, y: &mut Node) {
        let tag = x.tag || y.tag;
        let leaf = x.leaf && y.leaf;
        (x.tag, y.tag, x.leaf, y.leaf) = (tag, tag, leaf, leaf);
        let (mut i, mut j) = (0, 0);
        while i < x.children.len() && j < y.children.len() {
            match natural_cmp(&x.children[i].name, &y.children[j].name) {
                Ordering::Less => i += 1,
                Ordering::Greater => j += 1,
                Ordering::Equal => {
                    unify(&mut x.children[i], &mut y.children[j]);
                    i += 1;
                    j += 1;
                }
            }
        }
    }
    fn propagate(n: &mut Node) {
        if n.tag {
            let mut tagged: Vec<Box<str>> = Vec::new();
            for inst in &n.children {
                for c in inst.children.iter().filter(|c| c.tag) {
                    if !tagged.contains(&c.name) {
                        tagged.push(c.name.clone());
                    }
                }
            }
            for inst in &mut n.children {
                for c in &mut inst.children {
                    if tagged.contains(&c.name) {
                        c.tag = true;
                    }
                }
            }
        }
        for c in &mut n.children {
            propagate(c);
        }
    }
    unify(&mut a.root, &mut b.root);
    a.root.tag = false;
    b.root.tag = false;
    propagate(&mut a.root);
    propagate(&mut b.root);
}

/// Whether [`harmonize_flags`] would change nothing (so that views can skip copying the trees).
pub fn flags_agree(a: &ConfigTree, b: &ConfigTree) -> bool {
    fn same(x: &Node, y: &Node) -> bool {
        if x.tag != y.tag || x.leaf != y.leaf {
            return false;
        }
        let (mut i, mut j) = (0, 0);
        while i < x.children.len() && j < y.children.len() {
            let (p, q) = (&x.children[i], &y.children[j]);
            let ord = if p.name == q.name {
                Ordering::Equal
            } else {
                natural_cmp(&p.name, &q.name)
            };
            match ord {
                Ordering::Less => i += 1,
                Ordering::Greater => j += 1,
                Ordering::Equal => {
                    if !same(p, q) {
                        return false;
                    }
                    i += 1;
                    j += 1;
                }
            }
        }
        true
    }
    fn settled(n: &Node) -> bool {
        if n.tag {
            let tagged: std::collections::HashSet<&str> = n
                .children
                .iter()
                .flat_map(|inst| inst.children.iter().filter(|c| c.tag))
                .map(|c| &*c.name)
                .collect();
            if !tagged.is_empty()
                && n.children
                    .iter()
                    .flat_map(|inst| inst.children.iter())
                    .any(|c| !c.tag && tagged.contains(&*c.name))
            {
                return false;
            }
        }
        n.children.iter().all(settled)
    }
    !a.root.tag && !b.root.tag && same(&a.root, &b.root) && settled(&a.root) && settled(&b.root)
}

fn check_path<S: AsRef<str>>(path: &[S]) -> Result<(), Error> {
    if path.is_empty() {
        return Err(Error::EmptyPath);
    }
    if path.len() > MAX_DEPTH {
        return Err(Error::PathTooDeep { max: MAX_DEPTH });
    }
    Ok(())
}

/// cstore's check of a value string (vyatta-cfg `src/cli_new.c`, `validate_value`): the first
/// single quote, newline or double quote in the value decides the message.
pub fn validate_value(value: &str) -> Result<(), String> {
    for c in value.chars() {
        let what = match c {
            '\'' => "single quote (')",
            '\n' => "newline",
            '"' => "double quote (\")",
            _ => continue,
        };
        return Err(format!("Cannot use the {what} character in a value string"));
    }
    Ok(())
}

/// The check of a node name or tag value: VyOS node names are `[-[:alnum:]_]+` and no tag
/// value VyOS accepts holds whitespace, so a word that is empty, holds whitespace, a control
/// character, a brace or a quote, or starts a config.boot comment (`//`, or is `/*`) is
/// refused: config.boot could not write it back as the same word.
pub fn validate_path_word(w: &str) -> Result<(), String> {
    let bad = w.is_empty()
        || w.starts_with("//")
        || w == "/*"
        || w.chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '{' | '}' | '"' | '\''));
    if bad {
        return Err(format!(
            "Invalid node name or tag value {w:?}: VyOS cannot hold one that is empty, holds whitespace, a control character, a brace or a quote, or starts with \"//\""
        ));
    }
    Ok(())
}

/// Orders two paths word by word in natural order (the order of a depth-first walk).
pub fn path_cmp<S: AsRef<str>>(a: &[S], b: &[S]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let o = natural_cmp(x.as_ref(), y.as_ref());
        if o != Ordering::Equal {
            return o;
        }
    }
    a.len().cmp(&b.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Vec<String> {
        Path::parse(s).0
    }

    /// Issue 11: a rendered tree (from set commands, no flags) equals the same config read from
    /// a device (config.boot, with tag and leaf flags).
    #[test]
    fn issue_11_equality_ignores_render_flags() {
        let mut from_commands = ConfigTree::new();
        from_commands
            .set(&p("interfaces ethernet eth0 address"), Some("192.0.2.1/24"))
            .expect("set");
        from_commands
            .set(&p("service https api rest"), None)
            .expect("set");
        let mut flagged = from_commands.clone();
        flagged
            .set_tag(&p("interfaces ethernet"), true)
            .expect("tag");
        flagged
            .set_leaf(&p("service https api rest"), false)
            .expect("leaf");
        assert_ne!(
            flagged.get(&p("interfaces ethernet")).map(Node::is_tag),
            from_commands
                .get(&p("interfaces ethernet"))
                .map(Node::is_tag)
        );
        assert_eq!(flagged, from_commands);
        flagged
            .comment(&p("interfaces ethernet eth0"), "uplink")
            .expect("comment");
        assert_ne!(flagged, from_commands);
    }

    #[test]
    fn set_creates_and_keeps_natural_order() {
        let mut t = ConfigTree::new();
        for name in ["eth10", "eth2", "eth1"] {
            let path = p(&format!("interfaces ethernet {name}"));
            assert_eq!(t.set(&path, None), Ok(SetOutcome::Created));
        }
        let names: Vec<_> = t.get(&p("interfaces ethernet")).map_or(vec![], |n| {
            n.children().iter().map(|c| c.name().to_owned()).collect()
        });
        assert_eq!(names, ["eth1", "eth2", "eth10"]);
        assert_eq!(
            t.set(&p("interfaces ethernet eth1"), None),
            Ok(SetOutcome::AlreadyExists)
        );
    }

    #[test]
    fn set_modes() {
        let mut t = ConfigTree::new();
        let path = p("system host-name");
        assert_eq!(t.set(&path, Some("a")), Ok(SetOutcome::Created));
        assert_eq!(t.set(&path, Some("a")), Ok(SetOutcome::AlreadyExists));
        assert_eq!(t.set(&path, Some("b")), Ok(SetOutcome::Added));
        assert_eq!(t.values(&path), Some(&["a".to_owned(), "b".to_owned()][..]));
        assert_eq!(
            t.set_with(&path, Some("c"), SetMode::Replace),
            Ok(SetOutcome::Replaced)
        );
        assert_eq!(t.values(&path), Some(&["c".to_owned()][..]));
        assert!(matches!(
            t.set(&path, Some("it's")),
            Err(Error::InvalidValue { .. })
        ));
        assert_eq!(t.set::<&str>(&[], None), Err(Error::EmptyPath));
    }

    #[test]
    fn delete_prunes_emptied_parents_only() {
        let mut t = ConfigTree::new();
        t.set(
            &p("nat source rule 10 translation address"),
            Some("masquerade"),
        )
        .ok();
        t.set(&p("nat source rule 10 exclude"), None).ok();
        t.set(&p("system empty"), None).ok();
        assert_eq!(
            t.delete(
                &p("nat source rule 10 translation address"),
                Some("masquerade")
            ),
            Ok(DeleteOutcome::Deleted)
        );
        assert!(t.exists(&p("nat source rule 10 exclude")));
        assert!(!t.exists(&p("nat source rule 10 translation")));
        assert_eq!(
            t.delete(&p("nat source rule 10 exclude"), None),
            Ok(DeleteOutcome::Deleted)
        );
        assert!(!t.exists(&p("nat")));
        assert!(t.exists(&p("system empty")));
        assert_eq!(
            t.delete(&p("nat"), None),
            Ok(DeleteOutcome::NothingToDelete)
        );
        assert_eq!(
            t.delete(&p("system empty"), Some("x")),
            Ok(DeleteOutcome::NothingToDelete)
        );
    }

    #[test]
    fn validate_value_messages() {
        let check = |v: &str, expected: Result<(), &str>| {
            assert_eq!(validate_value(v), expected.map_err(str::to_owned), "{v:?}");
        };
        check("C:\\temp {x}; *", Ok(()));
        check(
            "it's",
            Err("Cannot use the single quote (') character in a value string"),
        );
        check(
            "a\"b'",
            Err("Cannot use the double quote (\") character in a value string"),
        );
        check(
            "a\nb",
            Err("Cannot use the newline character in a value string"),
        );
    }

    #[test]
    fn new_nodes_take_tag_flags_from_sibling_instances() {
        let mut t = ConfigTree::new();
        t.set(&p("firewall name WAN rule 10 action"), Some("accept"))
            .ok();
        t.set_tag(&p("firewall name"), true).ok();
        t.set_tag(&p("firewall name WAN rule"), true).ok();
        t.set(&p("firewall name LAN rule 5 action"), Some("drop"))
            .ok();
        assert!(
            t.get(&p("firewall name LAN rule"))
                .is_some_and(Node::is_tag)
        );
        assert!(
            !t.get(&p("firewall name LAN rule 5"))
                .is_some_and(Node::is_tag)
        );
    }

    #[test]
    fn harmonized_flags_follow_the_informed_side() {
        let mut from_boot = ConfigTree::new();
        from_boot
            .set(&p("interfaces ethernet eth0 address"), Some("dhcp"))
            .ok();
        from_boot.set(&p("interfaces loopback lo"), None).ok();
        from_boot.set_tag(&p("interfaces ethernet"), true).ok();
        from_boot.set_tag(&p("interfaces loopback"), true).ok();
        from_boot.set_leaf(&p("interfaces loopback lo"), false).ok();
        let mut from_cmds = ConfigTree::new();
        from_cmds
            .set(&p("interfaces ethernet eth1 address"), Some("dhcp"))
            .ok();
        from_cmds.set(&p("interfaces loopback lo"), None).ok();
        harmonize_flags(&mut from_boot, &mut from_cmds);
        assert!(
            from_cmds
                .get(&p("interfaces ethernet"))
                .is_some_and(Node::is_tag)
        );
        assert!(
            !from_cmds
                .get(&p("interfaces loopback lo"))
                .is_some_and(Node::is_leaf)
        );
        assert!(
            !from_cmds
                .get(&p("interfaces ethernet eth1"))
                .is_some_and(Node::is_tag)
        );
    }

    #[test]
    fn comments_and_flags() {
        let mut t = ConfigTree::new();
        t.set(&p("interfaces ethernet eth0"), None).ok();
        assert_eq!(t.comment(&p("interfaces ethernet eth0"), "uplink"), Ok(()));
        assert_eq!(
            t.get(&p("interfaces ethernet eth0"))
                .and_then(Node::comment),
            Some("uplink")
        );
        assert_eq!(t.comment(&p("interfaces ethernet eth0"), ""), Ok(()));
        assert_eq!(
            t.get(&p("interfaces ethernet eth0"))
                .and_then(Node::comment),
            None
        );
        assert!(t.comment(&p("interfaces x"), "c").is_err());
        assert_eq!(t.set_tag(&p("interfaces ethernet"), true), Ok(()));
        assert!(t.get(&p("interfaces ethernet")).is_some_and(Node::is_tag));
    }

    /// A flag-exact view of a tree: every node's path, values and flags.
    fn flags(t: &ConfigTree) -> Vec<String> {
        fn walk(n: &Node, path: &mut Vec<String>, out: &mut Vec<String>) {
            for c in n.children() {
                path.push(c.name().to_owned());
                out.push(format!(
                    "{} {:?} tag={} leaf={}",
                    path.join(" "),
                    c.values(),
                    c.is_tag(),
                    c.is_leaf()
                ));
                walk(c, path, out);
                path.pop();
            }
        }
        let mut out = Vec::new();
        walk(t.root(), &mut Vec::new(), &mut out);
        out
    }

    type Sets = Vec<(Vec<String>, Option<String>)>;

    fn replay(t: &mut ConfigTree, sets: &Sets) -> Result<(), Error> {
        for (path, value) in sets {
            t.set_with(path, value.as_deref(), SetMode::Add)?;
        }
        Ok(())
    }

    fn sets() -> impl proptest::strategy::Strategy<Value = Sets> {
        use proptest::prelude::*;
        let path = prop::collection::vec(prop::sample::select(vec!["a", "b", "c"]), 1..4)
            .prop_map(|w| w.into_iter().map(str::to_owned).collect::<Vec<_>>());
        let value =
            prop::option::of(prop::sample::select(vec!["1", "2", "3"]).prop_map(str::to_owned));
        prop::collection::vec((path, value), 0..8)
    }

    proptest::proptest! {
        /// Issue 11: grafting the tree of B's set commands onto the tree of A's is replaying
        /// B's commands after A's: the same content, values in the same order, the same flags,
        /// and a failure exactly when the replay fails.
        #[test]
        fn issue_11_merge_sets_is_replay(a in sets(), b in sets()) {
            let mut ta = ConfigTree::new();
            if replay(&mut ta, &a).is_err() {
                return Ok(());
            }
            let mut tb = ConfigTree::new();
            if replay(&mut tb, &b).is_err() {
                return Ok(());
            }
            let mut replayed = ta.clone();
            let by_replay = replay(&mut replayed, &b);
            let conflict = ta.sets_conflict(&tb);
            let mut grafted = ta;
            let by_graft = grafted.merge_sets(&tb);
            proptest::prop_assert_eq!(conflict, by_graft.is_err());
            proptest::prop_assert_eq!(by_replay.is_ok(), by_graft.is_ok(), "{:?} {:?}", by_replay, by_graft);
            if by_replay.is_ok() {
                proptest::prop_assert_eq!(flags(&replayed), flags(&grafted));
            }
        }
    }
}
