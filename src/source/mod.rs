//! Where the desired state comes from: a directory on disk, or the tree of a git commit.
//!
//! Owns: reading the desired-state files (`vnfsync.yaml`, `appliances/`, `policies/`,
//! `dictionaries/`) into memory as [`SourceFiles`], from the work tree (for `check` while
//! editing) or from a commit via gix (what the daemon applies: invariant 1, never the work tree).
//! Must not parse or validate the files: that is `model`'s job.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::yaml::MAX_FILE_BYTES;

pub mod follow;
pub use follow::{FollowConfig, Follower, follow};

/// The folders of a desired-state directory that hold YAML files.
pub const FOLDERS: [&str; 3] = ["appliances", "policies", "dictionaries"];
/// The optional fleet-defaults file at the top of the desired-state directory.
pub const FLEET_FILE: &str = "vnfsync.yaml";

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a directory")]
    NotADirectory { path: PathBuf },
    #[error("{repo}: cannot open git repository: {source}")]
    OpenRepo {
        repo: PathBuf,
        #[source]
        source: BoxError,
    },
    #[error("{repo}: revision `{rev}`: {source}")]
    Revision {
        repo: PathBuf,
        rev: String,
        #[source]
        source: BoxError,
    },
    #[error("{repo}: revision `{rev}` has no directory `{path}`")]
    NoSuchPath {
        repo: PathBuf,
        rev: String,
        path: String,
    },
    #[error("{repo}: reading `{path}` at `{rev}`: {source}")]
    Object {
        repo: PathBuf,
        rev: String,
        path: String,
        #[source]
        source: BoxError,
    },
}

/// The desired-state files, keyed by their path relative to the desired-state directory
/// (`appliances/edge-1.yaml`). Files larger than the YAML limit are kept truncated to one byte
/// past it, so the loader reports them without holding them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceFiles {
    pub files: BTreeMap<String, Vec<u8>>,
    /// The commit the files were read from, if any (full hex id).
    pub commit: Option<String>,
}

impl SourceFiles {
    /// Files in one of [`FOLDERS`], in name order.
    pub fn in_folder<'a>(
        &'a self,
        folder: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a [u8])> + 'a {
        self.files.iter().filter_map(move |(k, v)| {
            let rest = k.strip_prefix(folder)?.strip_prefix('/')?;
            (!rest.contains('/')).then_some((k.as_str(), v.as_slice()))
        })
    }

    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.files.get(name).map(Vec::as_slice)
    }
}

/// The desired-state files that differ between two reads (added, removed or changed), by path
/// relative to the desired-state directory. `None` as the old side means everything is new.
pub fn changed_files(old: Option<&SourceFiles>, new: &SourceFiles) -> BTreeSet<String> {
    let Some(old) = old else {
        return new.files.keys().cloned().collect();
    };
    let mut out: BTreeSet<String> = old
        .files
        .keys()
        .filter(|k| !new.files.contains_key(*k))
        .cloned()
        .collect();
    for (k, v) in &new.files {
        if old.files.get(k) != Some(v) {
            out.insert(k.clone());
        }
    }
    out
}

fn is_yaml(name: &str) -> bool {
    (name.ends_with(".yaml") || name.ends_with(".yml")) && !name.starts_with('.')
}

/// Read the desired state from a directory on disk (the work tree).
pub fn read_dir(dir: &Path) -> Result<SourceFiles, SourceError> {
    if !dir.is_dir() {
        return Err(SourceError::NotADirectory {
            path: dir.to_path_buf(),
        });
    }
    fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SourceError + '_ {
        move |source| SourceError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
    let mut out = SourceFiles::default();
    let fleet = dir.join(FLEET_FILE);
    if fleet.is_file() {
        out.files.insert(
            FLEET_FILE.to_string(),
            read_capped(&fleet).map_err(io(&fleet))?,
        );
    }
    for folder in FOLDERS {
        let sub = dir.join(folder);
        if !sub.is_dir() {
            continue;
        }
        for entry in std::fs::read_dir(&sub).map_err(io(&sub))? {
            let entry = entry.map_err(io(&sub))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            if is_yaml(&name) && path.is_file() {
                out.files.insert(
                    format!("{folder}/{name}"),
                    read_capped(&path).map_err(io(&path))?,
                );
            }
        }
    }
    Ok(out)
}

fn read_capped(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_FILE_BYTES as u64 + 1)
        .read_to_end(&mut buf)?;
    Ok(buf)
}

/// Read the desired state from the tree of commit `rev` in the git repository at `repo`, below
/// `subdir` ("" or "." for the repository root). The work tree is never looked at.
pub fn read_commit(repo: &Path, rev: &str, subdir: &str) -> Result<SourceFiles, SourceError> {
    let git = gix::open(repo).map_err(|e| SourceError::OpenRepo {
        repo: repo.to_path_buf(),
        source: e.into(),
    })?;
    let rev_err = |e: BoxError| SourceError::Revision {
        repo: repo.to_path_buf(),
        rev: rev.to_string(),
        source: e,
    };
    let id = git.rev_parse_single(rev).map_err(|e| rev_err(e.into()))?;
    let commit = id
        .object()
        .map_err(|e| rev_err(e.into()))?
        .peel_to_commit()
        .map_err(|e| rev_err(e.into()))?;
    let root = commit.tree().map_err(|e| rev_err(e.into()))?;
    let sub = subdir.trim_matches('/');
    let base = if sub.is_empty() || sub == "." {
        root
    } else {
        let entry = root
            .lookup_entry_by_path(sub)
            .map_err(|e| rev_err(e.into()))?
            .filter(|e| e.mode().is_tree())
            .ok_or_else(|| SourceError::NoSuchPath {
                repo: repo.to_path_buf(),
                rev: rev.to_string(),
                path: sub.to_string(),
            })?;
        entry.object().map_err(|e| rev_err(e.into()))?.into_tree()
    };
    let obj_err = |path: &str, e: BoxError| SourceError::Object {
        repo: repo.to_path_buf(),
        rev: rev.to_string(),
        path: path.to_string(),
        source: e,
    };
    let mut out = SourceFiles {
        files: BTreeMap::new(),
        commit: Some(commit.id.to_string()),
    };
    let read_blob =
        |entry: &gix::object::tree::Entry<'_>, name: &str| -> Result<Vec<u8>, SourceError> {
            let obj = entry.object().map_err(|e| obj_err(name, e.into()))?;
            let mut data = obj.detach().data;
            data.truncate(MAX_FILE_BYTES + 1);
            Ok(data)
        };
    if let Some(e) = base
        .lookup_entry_by_path(FLEET_FILE)
        .map_err(|e| obj_err(FLEET_FILE, e.into()))?
        && e.mode().is_blob()
    {
        out.files
            .insert(FLEET_FILE.to_string(), read_blob(&e, FLEET_FILE)?);
    }
    for folder in FOLDERS {
        let Some(dir) = base
            .lookup_entry_by_path(folder)
            .map_err(|e| obj_err(folder, e.into()))?
        else {
            continue;
        };
        if !dir.mode().is_tree() {
            continue;
        }
        let tree = dir
            .object()
            .map_err(|e| obj_err(folder, e.into()))?
            .into_tree();
        for entry in tree.iter() {
            let entry = entry.map_err(|e| obj_err(folder, e.into()))?;
            let name = entry.filename().to_string();
            if !is_yaml(&name) || !entry.mode().is_blob() {
                continue;
            }
            let path = format!("{folder}/{name}");
            let full = base
                .lookup_entry_by_path(&path)
                .map_err(|e| obj_err(&path, e.into()))?;
            if let Some(full) = full {
                out.files.insert(path.clone(), read_blob(&full, &path)?);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_only_desired_state_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path();
        std::fs::create_dir_all(p.join("appliances/nested")).expect("mkdir");
        std::fs::create_dir_all(p.join("policies")).expect("mkdir");
        std::fs::write(p.join("appliances/a.yaml"), "name: a\n").expect("write");
        std::fs::write(p.join("appliances/notes.txt"), "x").expect("write");
        std::fs::write(p.join("appliances/nested/b.yaml"), "x").expect("write");
        std::fs::write(p.join("policies/p.yml"), "name: p\n").expect("write");
        std::fs::write(p.join("vnfsync.yaml"), "defaults: {}\n").expect("write");
        let files = read_dir(p).expect("read");
        let names: Vec<&str> = files.files.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            vec!["appliances/a.yaml", "policies/p.yml", "vnfsync.yaml"]
        );
        assert_eq!(files.in_folder("appliances").count(), 1);
    }

    #[test]
    fn changed_files_names_added_removed_and_changed() {
        let mk = |pairs: &[(&str, &str)]| SourceFiles {
            files: pairs
                .iter()
                .map(|(k, v)| ((*k).to_string(), v.as_bytes().to_vec()))
                .collect(),
            commit: None,
        };
        let old = mk(&[("a", "1"), ("b", "2"), ("c", "3")]);
        let new = mk(&[("a", "1"), ("b", "22"), ("d", "4")]);
        let got: Vec<String> = changed_files(Some(&old), &new).into_iter().collect();
        assert_eq!(got, vec!["b", "c", "d"]);
        assert_eq!(changed_files(None, &new).len(), 3);
        assert!(changed_files(Some(&new), &new).is_empty());
    }

    #[test]
    fn large_files_are_capped() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("appliances")).expect("mkdir");
        std::fs::write(
            dir.path().join("appliances/big.yaml"),
            vec![b'#'; 3 * MAX_FILE_BYTES],
        )
        .expect("write");
        let files = read_dir(dir.path()).expect("read");
        assert_eq!(
            files.get("appliances/big.yaml").map(<[u8]>::len),
            Some(MAX_FILE_BYTES + 1)
        );
    }
}
