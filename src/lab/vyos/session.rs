//! One configuration session: a private working copy over the active config (reference §3.1,
//! §3.2), with `set`, `delete`, `comment`, `discard`, `load` and `merge` on it.
//!
//! Owns the working copy and its edits, checked against `schema`. A session remembers the active
//! config it was based on; when another session commits, [`Session::rebase`] replays this
//! session's own changes on the new active config, which is how cstore's union mount looks to a
//! user. Must not commit, print or know about front ends: `appliance` commits, `confmode` and
//! `api` word the outcomes. Besides the schema, the tree itself decides the shape of paths the
//! schema does not know ([`shape_conflict`]): a leaf never gets children.

use super::profile::Profile;
use super::schema::{self, SchemaError};
use crate::vyos::{
    self, Command, ConfigTree, DeleteOutcome, Op, SetMode, SetOutcome, apply, apply_command, diff,
};

/// Why an edit failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Schema(#[from] SchemaError),
    #[error(transparent)]
    Tree(#[from] vyos::Error),
}

/// What a successful `set` did, with the path and value the schema settled on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetReport {
    pub outcome: SetOutcome,
    pub path: Vec<String>,
    pub value: Option<String>,
}

/// Where `set path [value]` would break the shape of `tree`, as the index of the offending
/// word of `path + value`: a node that holds values (a leaf) cannot get children, and a node
/// with children cannot get a value. Paths outside the schema's table are checked this way
/// against what the tree already holds, so that every view of the tree shows the same thing.
pub fn shape_conflict(tree: &ConfigTree, path: &[String], value: Option<&str>) -> Option<usize> {
    let words = path.len() + usize::from(value.is_some());
    for len in 1..path.len() {
        if tree.values(&path[..len]).is_some_and(|v| !v.is_empty()) {
            // The word after the leaf's value, or the one in the value's place.
            return Some((len + 1).min(words - 1));
        }
    }
    if value.is_some() && tree.get(path).is_some_and(|n| !n.children().is_empty()) {
        return Some(path.len());
    }
    None
}

/// The path of the first node of `tree` that holds both values and children, if any: a
/// shape no view can show the same way (a `set` commands file can write it; VyOS cannot hold
/// it).
pub fn misshapen(tree: &ConfigTree) -> Option<Vec<String>> {
    fn walk(node: &vyos::Node, path: &mut Vec<String>) -> Option<Vec<String>> {
        for c in node.children() {
            path.push(c.name().to_owned());
            if !c.values().is_empty() && !c.children().is_empty() {
                return Some(path.clone());
            }
            if let Some(p) = walk(c, path) {
                return Some(p);
            }
            path.pop();
        }
        None
    }
    walk(tree.root(), &mut Vec::new())
}

/// A working copy over the active config.
#[derive(Debug, Clone, Default)]
pub struct Session {
    base: ConfigTree,
    working: ConfigTree,
}

impl Session {
    pub fn new(active: &ConfigTree) -> Session {
        Session {
            base: active.clone(),
            working: active.clone(),
        }
    }

    pub fn working(&self) -> &ConfigTree {
        &self.working
    }

    /// Follows a new active config, keeping this session's own changes.
    pub fn rebase(&mut self, active: &ConfigTree) {
        if diff(&self.base, active, &[]).is_empty() {
            self.base = active.clone();
            return;
        }
        let mine = diff(&self.base, &self.working, &[]);
        // A leaf whose value this session replaced keeps only this session's value, even if
        // the other commit changed it too (last writer wins, as with cstore).
        let replaced: Vec<&Vec<String>> = mine
            .iter()
            .filter(|c| c.op == Op::Delete && c.value.is_some())
            .map(|c| &c.path)
            .filter(|p| {
                mine.iter()
                    .any(|c| c.op == Op::Set && c.value.is_some() && &&c.path == p)
            })
            .collect();
        let mut next = active.clone();
        for c in &mine {
            let mode = if replaced.contains(&&c.path) {
                SetMode::Replace
            } else {
                SetMode::Add
            };
            // A change that no longer applies (its node went away, or the other commit made a
            // leaf where this one adds children, or the reverse) is dropped, as a union mount
            // would lose it.
            if c.op == Op::Set && shape_conflict(&next, &c.path, c.value.as_deref()).is_some() {
                continue;
            }
            let _ = apply_command(&mut next, c, mode);
        }
        schema::mark_tags(&mut next);
        self.base = active.clone();
        self.working = next;
    }

    /// Whether the working copy differs from `active` (tag/leaf flags aside).
    pub fn changed(&self, active: &ConfigTree) -> bool {
        !diff(active, &self.working, &[]).is_empty()
    }

    /// `set path [value]`. Without a value, whether the last word is one is decided by the
    /// schema and the working tree (see [`schema::last_word_is_value`]).
    pub fn set(
        &mut self,
        profile: Profile,
        path: &[String],
        value: Option<&str>,
    ) -> Result<SetReport, SessionError> {
        self.set_guessing(profile, path, value, false)
    }

    /// [`Session::set`] with the default used when neither schema nor tree can tell whether
    /// the last word is a value (configuration mode passes `true` for fully quoted lines).
    pub fn set_guessing(
        &mut self,
        profile: Profile,
        path: &[String],
        value: Option<&str>,
        default_value: bool,
    ) -> Result<SetReport, SessionError> {
        let mut plan = schema::plan_set_in(profile, path, value, &self.working, default_value)?;
        if let Some(v) = &plan.value
            && shape_conflict(&self.working, &plan.path, Some(v)) == Some(plan.path.len())
        {
            // A "value" for a node that has children is the next path word: quoting decides
            // nothing on VyOS, where path and value are joined the same way (§5.2).
            let joined: Vec<String> = plan.path.iter().chain([v]).cloned().collect();
            plan = schema::plan_set_in(profile, &joined, None, &ConfigTree::new(), false)?;
        }
        if let Some(bad) = shape_conflict(&self.working, &plan.path, plan.value.as_deref()) {
            let full: Vec<String> = plan.path.iter().cloned().chain(plan.value).collect();
            return Err(SchemaError::InvalidPath {
                path: full[..=bad].to_vec(),
                bad,
            }
            .into());
        }
        let outcome = self
            .working
            .set_with(&plan.path, plan.value.as_deref(), plan.mode)?;
        // Nodes the path now goes through are not leafs (a valueless leaf grew children).
        for len in 1..plan.path.len() {
            let _ = self.working.set_leaf(&plan.path[..len], false);
        }
        for i in &plan.tags {
            // The node exists: `set` just created the path through it.
            let _ = self.working.set_tag(&plan.path[..=*i], true);
            let _ = self.working.set_leaf(&plan.path[..=*i], false);
        }
        Ok(SetReport {
            outcome,
            path: plan.path,
            value: plan.value,
        })
    }

    /// `delete path [value]`; an unquoted last word is taken as a value when the path without it
    /// is a leaf holding it.
    pub fn delete(
        &mut self,
        profile: Profile,
        path: &[String],
        value: Option<&str>,
    ) -> Result<DeleteOutcome, SessionError> {
        schema::check_path(profile, path)?;
        // Without a separate value the last word may be one (it may hold spaces).
        let names = if value.is_none() {
            &path[..path.len().saturating_sub(1)]
        } else {
            path
        };
        schema::check_words(names)?;
        if value.is_none()
            && !self.working.exists(path)
            && let Some((last, init)) = path.split_last()
            && !init.is_empty()
            && self
                .working
                .values(init)
                .is_some_and(|vs| vs.iter().any(|v| v == last))
        {
            return Ok(self.working.delete(init, Some(last))?);
        }
        Ok(self.working.delete(path, value)?)
    }

    /// `comment path "text"`.
    pub fn comment(
        &mut self,
        profile: Profile,
        path: &[String],
        text: &str,
    ) -> Result<(), SessionError> {
        schema::check_path(profile, path)?;
        schema::check_words(path)?;
        Ok(self.working.comment(path, text)?)
    }

    /// Whether `delete path [value]` would find something: the node, the value, or (without
    /// a separate value) a last word that is a value of the leaf before it.
    pub fn deletable(&self, path: &[String], value: Option<&str>) -> bool {
        match value {
            Some(v) => self
                .working
                .values(path)
                .is_some_and(|vs| vs.iter().any(|x| x == v)),
            None => {
                self.working.exists(path)
                    || path.split_last().is_some_and(|(last, init)| {
                        !init.is_empty()
                            && self
                                .working
                                .values(init)
                                .is_some_and(|vs| vs.iter().any(|x| x == last))
                    })
            }
        }
    }

    /// One command of any kind (API batches, `merge`).
    pub fn run(&mut self, profile: Profile, cmd: &Command) -> Result<(), SessionError> {
        match cmd.op {
            Op::Set => self.set(profile, &cmd.path, cmd.value.as_deref()).map(drop),
            Op::Delete => self
                .delete(profile, &cmd.path, cmd.value.as_deref())
                .map(drop),
            Op::Comment => {
                self.comment(profile, &cmd.path, cmd.value.as_deref().unwrap_or_default())
            }
        }
    }

    /// `discard`: back to `active`; whether there was anything to discard.
    pub fn discard(&mut self, active: &ConfigTree) -> bool {
        let had = self.changed(active);
        *self = Session::new(active);
        had
    }

    /// `load`, `rollback-soft`: the working copy becomes `tree`.
    pub fn replace(&mut self, tree: ConfigTree) {
        self.working = tree;
    }

    /// `merge`: adds what `tree` has and the working copy lacks (never deletes), optionally
    /// only below `path`.
    pub fn merge(&mut self, tree: &ConfigTree, path: &[String]) -> Result<(), SessionError> {
        let scopes = if path.is_empty() {
            Vec::new()
        } else {
            vec![vyos::Path(path.to_vec())]
        };
        let sets: Vec<Command> = diff(&self.working, tree, &scopes)
            .into_iter()
            .filter(|c| c.op != Op::Delete)
            .collect();
        self.working = apply(&sets, &self.working)?;
        schema::mark_tags(&mut self.working);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split(' ').map(str::to_owned).collect()
    }

    #[test]
    fn rebase_keeps_own_changes() {
        let active = ConfigTree::parse_commands("set system host-name 'a'").unwrap_or_default();
        let mut s = Session::new(&active);
        assert!(
            s.set(Profile::V14, &words("system domain-name"), Some("x"))
                .is_ok()
        );
        let mut other = active.clone();
        assert!(other.set(&["system", "time-zone"], Some("UTC")).is_ok());
        s.rebase(&other);
        assert_eq!(
            vyos::render_commands(s.working()),
            "set system domain-name 'x'\nset system host-name 'a'\nset system time-zone 'UTC'\n"
        );
        assert!(s.changed(&other));
        // Both changed the host name: this session's value wins, as a single value.
        assert!(
            s.set(Profile::V14, &words("system host-name"), Some("mine"))
                .is_ok()
        );
        let mut third = other.clone();
        let _ = third.set_with(&["system", "host-name"], Some("theirs"), SetMode::Replace);
        s.rebase(&third);
        assert_eq!(
            s.working().values(&["system", "host-name"]),
            Some(&["mine".to_owned()][..])
        );
        assert!(s.discard(&other));
        assert!(!s.changed(&other));
    }

    #[test]
    fn shape_of_unknown_paths() {
        let active = ConfigTree::parse_commands("set service foo 'a'").unwrap_or_default();
        let mut s = Session::new(&active);
        // Below a leaf with a value: the word after the value's place is the bad one.
        let r = s.set(Profile::V14, &words("service foo a b"), None);
        assert!(
            matches!(
                &r,
                Err(SessionError::Schema(SchemaError::InvalidPath {
                    bad: 3,
                    ..
                }))
            ),
            "{r:?}"
        );
        // A value for a node with children is the next path word.
        let r = s.set(Profile::V14, &words("service"), Some("lldp"));
        assert!(r.is_ok(), "{r:?}");
        assert!(s.working().exists(&["service", "lldp"]));
        assert_eq!(misshapen(s.working()), None);
        let mixed = ConfigTree::parse_commands("set service foo 'a'\nset service foo bar 'b'");
        assert!(mixed.is_ok(), "{mixed:?}");
        if let Ok(t) = mixed {
            assert_eq!(
                misshapen(&t),
                Some(vec!["service".to_owned(), "foo".to_owned()])
            );
        }
    }

    #[test]
    fn delete_value_by_unquoted_word_and_merge() {
        let active = ConfigTree::parse_commands(
            "set interfaces ethernet eth0 address '192.0.2.1/24'\nset interfaces ethernet eth0 address '192.0.2.2/24'",
        )
        .unwrap_or_default();
        let mut s = Session::new(&active);
        let r = s.delete(
            Profile::V14,
            &words("interfaces ethernet eth0 address 192.0.2.1/24"),
            None,
        );
        assert_eq!(r, Ok(DeleteOutcome::Deleted));
        let other = ConfigTree::parse_commands("set system host-name 'b'").unwrap_or_default();
        assert!(s.merge(&other, &[]).is_ok());
        assert_eq!(
            vyos::render_commands(s.working()),
            "set interfaces ethernet eth0 address '192.0.2.2/24'\nset system host-name 'b'\n"
        );
    }
}
