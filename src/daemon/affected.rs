//! Which appliances a commit touches, from the files it changed.
//!
//! Owns: the rule (pure): an appliance is affected when its own file changed, when a policy it
//! uses changed, when the repository's override of its dictionary changed (added, edited or
//! removed), or when `vnfsync.yaml` changed (every appliance); the first commit served
//! affects every appliance. Must not look at devices or at the journal.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::dictionary::Origin;
use crate::render::Loaded;
use crate::source::FLEET_FILE;

/// Why an appliance is affected.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "name")]
pub enum Reason {
    /// No commit was served before this one.
    FirstCommit,
    /// `vnfsync.yaml` changed.
    Fleet,
    /// The appliance's own file changed (or was added or renamed).
    OwnFile,
    /// A policy it uses changed.
    Policy(String),
    /// The repository's override of its dictionary changed.
    Dictionary(String),
}

/// The appliances a commit touches and why, plus those it removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Affected {
    pub appliances: BTreeMap<String, BTreeSet<Reason>>,
    /// Appliances in the old state that the new one no longer declares (left as they are).
    pub removed: Vec<String>,
}

/// Work out the affected appliances of `new` given the previous good state and the changed
/// files (paths relative to the desired-state directory).
pub fn affected(old: Option<&Loaded>, new: &Loaded, changed: &BTreeSet<String>) -> Affected {
    let mut out = Affected::default();
    let dict_file = |l: &Loaded, name: &str| -> Option<String> {
        match l.dictionaries.get(name)?.origin.as_ref()? {
            Origin::Repo(f) => Some(f.clone()),
            Origin::Shipped => None,
        }
    };
    for a in &new.state.appliances {
        let mut why = BTreeSet::new();
        let Some(old) = old else {
            why.insert(Reason::FirstCommit);
            out.appliances.insert(a.name.to_string(), why);
            continue;
        };
        if changed.contains(FLEET_FILE) {
            why.insert(Reason::Fleet);
        }
        if changed.contains(&*a.at.file) {
            why.insert(Reason::OwnFile);
        }
        for p in &a.policies {
            let in_new = new.state.policies.get(p.as_str()).map(|p| &*p.at.file);
            let in_old = old.state.policies.get(p.as_str()).map(|p| &*p.at.file);
            if [in_new, in_old]
                .into_iter()
                .flatten()
                .any(|f| changed.contains(f))
            {
                why.insert(Reason::Policy(p.to_string()));
            }
        }
        let d = a.dictionary.as_str();
        if [dict_file(new, d), dict_file(old, d)]
            .into_iter()
            .flatten()
            .any(|f| changed.contains(&f))
        {
            why.insert(Reason::Dictionary(d.to_string()));
        }
        if !why.is_empty() {
            out.appliances.insert(a.name.to_string(), why);
        }
    }
    if let Some(old) = old {
        out.removed = old
            .state
            .appliances
            .iter()
            .filter(|a| new.state.appliance(a.name.as_str()).is_none())
            .map(|a| a.name.to_string())
            .collect();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::{SourceFiles, changed_files, read_dir};

    fn shipped() -> SourceFiles {
        read_dir(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("desired-state"))
            .expect("shipped desired-state")
    }

    fn load(files: &SourceFiles) -> Loaded {
        crate::render::load(files).expect("valid desired state")
    }

    /// Apply `edit` to the shipped state and return the affected appliances with their reasons.
    fn check(edit: impl FnOnce(&mut SourceFiles)) -> Vec<(String, Vec<Reason>)> {
        let old_files = shipped();
        let mut new_files = old_files.clone();
        edit(&mut new_files);
        let (old, new) = (load(&old_files), load(&new_files));
        let changed = changed_files(Some(&old_files), &new_files);
        affected(Some(&old), &new, &changed)
            .appliances
            .into_iter()
            .map(|(k, v)| (k, v.into_iter().collect()))
            .collect()
    }

    fn append(files: &mut SourceFiles, file: &str, text: &str) {
        files
            .files
            .get_mut(file)
            .expect("file in the shipped state")
            .extend_from_slice(text.as_bytes());
    }

    #[test]
    fn own_file_touches_only_that_appliance() {
        let got = check(|f| append(f, "appliances/branch-1.yaml", "# note\n"));
        assert_eq!(got, vec![("branch-1".to_string(), vec![Reason::OwnFile])]);
    }

    #[test]
    fn policy_touches_its_users() {
        let got = check(|f| append(f, "policies/outbound.yaml", "# note\n"));
        let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, vec!["edge-1", "edge-2"]);
        assert_eq!(got[0].1, vec![Reason::Policy("outbound".into())]);
    }

    #[test]
    fn fleet_file_touches_all() {
        let got = check(|f| append(f, "vnfsync.yaml", "# note\n"));
        assert_eq!(got.len(), 3);
        assert!(got.iter().all(|(_, r)| r == &vec![Reason::Fleet]));
    }

    #[test]
    fn dictionary_override_touches_its_users() {
        let text = std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("dictionaries/vyos-1.3.yaml"),
        )
        .expect("shipped dictionary file");
        let got = check(|f| {
            f.files.insert("dictionaries/vyos-1.3.yaml".into(), text);
        });
        assert_eq!(
            got,
            vec![(
                "branch-1".to_string(),
                vec![Reason::Dictionary("vyos-1.3".into())]
            )]
        );
    }

    #[test]
    fn first_commit_touches_all_and_removed_are_listed() {
        let files = shipped();
        let new = load(&files);
        let all = affected(None, &new, &changed_files(None, &files));
        assert_eq!(all.appliances.len(), 3);
        let mut fewer = files.clone();
        fewer.files.remove("appliances/branch-1.yaml");
        let smaller = load(&fewer);
        let got = affected(Some(&new), &smaller, &changed_files(Some(&files), &fewer));
        assert!(got.appliances.is_empty());
        assert_eq!(got.removed, vec!["branch-1".to_string()]);
    }
}
