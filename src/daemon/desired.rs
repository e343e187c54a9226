//! The commit the daemon serves.
//!
//! Owns: offering each new tip as a whole — read from the commit's tree (never the work tree),
//! loaded and checked with every diagnostic (file:line:column) — and either accepting it with
//! the appliances it touches, or rejecting it while the last good commit keeps being served.
//! Must not reconcile anything; the scheduler acts on what [`Tracker::offer`] returns.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use serde::Serialize;

use super::affected::{Affected, affected};
use crate::model::Diagnostic;
use crate::render::Loaded;
use crate::source::{self, SourceFiles};

/// A commit that passed every check.
#[derive(Debug)]
pub struct Desired {
    pub commit: String,
    pub files: SourceFiles,
    pub loaded: Loaded,
}

/// A commit refused as a whole, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejection {
    pub commit: String,
    /// One line per problem, `file:line:column: path: message` (or the read error).
    pub errors: Vec<String>,
}

/// What offering a commit did.
#[derive(Debug)]
pub enum Offer {
    /// Already served (or already rejected): nothing to do.
    Same,
    /// Now served; reconcile these appliances first.
    Accepted {
        desired: Arc<Desired>,
        affected: Affected,
    },
    /// Refused; the previous good commit (if any) stays served.
    Rejected(Rejection),
}

/// The served commit and the last rejection.
#[derive(Debug, Default)]
pub struct Tracker {
    good: Option<Arc<Desired>>,
    rejected: Option<Rejection>,
}

impl Tracker {
    /// The commit being served.
    pub fn good(&self) -> Option<&Arc<Desired>> {
        self.good.as_ref()
    }

    /// The last commit refused, if it is newer than the served one.
    pub fn rejected(&self) -> Option<&Rejection> {
        self.rejected.as_ref()
    }

    /// Read `commit` of `repo` below `subdir` and offer it. Blocking (gix and the checks): call
    /// it on the blocking pool.
    pub fn offer_commit(&mut self, repo: &Path, commit: &str, subdir: &str) -> Offer {
        if self.is_known(commit) {
            return Offer::Same;
        }
        match source::read_commit(repo, commit, subdir) {
            Ok(files) => self.offer(commit, files),
            Err(e) => self.reject(commit, vec![e.to_string()]),
        }
    }

    fn is_known(&self, commit: &str) -> bool {
        self.good.as_ref().is_some_and(|g| g.commit == commit)
            || self.rejected.as_ref().is_some_and(|r| r.commit == commit)
    }

    /// Offer files already read from `commit`.
    pub fn offer(&mut self, commit: &str, files: SourceFiles) -> Offer {
        if self.is_known(commit) {
            return Offer::Same;
        }
        match crate::render::load(&files) {
            Err(diags) => self.reject(commit, diags.iter().map(Diagnostic::to_string).collect()),
            Ok(loaded) => {
                let old = self.good.as_ref();
                let changed: BTreeSet<String> =
                    source::changed_files(old.map(|g| &g.files), &files);
                let affected = affected(old.map(|g| &g.loaded), &loaded, &changed);
                let desired = Arc::new(Desired {
                    commit: commit.to_string(),
                    files,
                    loaded,
                });
                self.good = Some(desired.clone());
                self.rejected = None;
                Offer::Accepted { desired, affected }
            }
        }
    }

    fn reject(&mut self, commit: &str, errors: Vec<String>) -> Offer {
        let r = Rejection {
            commit: commit.to_string(),
            errors,
        };
        tracing::warn!(commit, errors = ?r.errors, "commit rejected; still serving the last good one");
        self.rejected = Some(r.clone());
        Offer::Rejected(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped() -> SourceFiles {
        source::read_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("desired-state"))
            .expect("shipped desired-state")
    }

    #[test]
    fn a_bad_commit_is_rejected_and_the_good_one_kept() {
        let mut t = Tracker::default();
        let good = shipped();
        assert!(matches!(
            t.offer("c1", good.clone()),
            Offer::Accepted { .. }
        ));
        assert!(matches!(t.offer("c1", good.clone()), Offer::Same));
        let mut bad = good.clone();
        bad.files.insert(
            "appliances/edge-1.yaml".into(),
            b"name: edge-1\ndictionary: vyos-1.4\nbogus_field: 1\n".to_vec(),
        );
        let Offer::Rejected(r) = t.offer("c2", bad) else {
            panic!("bad commit accepted")
        };
        assert!(
            r.errors
                .iter()
                .any(|e| e.starts_with("appliances/edge-1.yaml:")),
            "errors name the file and line: {:?}",
            r.errors
        );
        assert_eq!(t.good().map(|g| g.commit.as_str()), Some("c1"));
        assert_eq!(t.rejected().map(|r| r.commit.as_str()), Some("c2"));
        // Fixing it touches only the appliance whose file changed since the good commit.
        let mut fixed = good;
        fixed
            .files
            .get_mut("appliances/edge-2.yaml")
            .expect("edge-2")
            .extend_from_slice(b"# edited\n");
        let Offer::Accepted { affected, .. } = t.offer("c3", fixed) else {
            panic!("good commit refused")
        };
        assert_eq!(
            affected.appliances.keys().collect::<Vec<_>>(),
            vec!["edge-2"]
        );
        assert!(t.rejected().is_none());
    }
}
