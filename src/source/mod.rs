//! Where the desired state comes from: a directory on disk, or the tree of a git commit.
//!
//! Owns: reading the desired-state files (`vnfsync.yaml`, `appliances/*.yaml`, `policies/*.yaml`,
//! `dictionaries/*.yaml`) into memory as [`SourceFiles`], from the work tree (for `check` while
//! editing) or from a commit via gix (what the daemon applies: invariant 1, never the work tree),
//! and listing every other entry it met ([`SourceFiles::entries`]) so that nothing is skipped
//! silently. Both readers see the same thing: symbolic links are never followed (a committed
//! link is a link in the tree too), only regular files named `*.yaml` are read, and the
//! desired-state directory may not leave the repository ([`check_subdir`]).
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
    #[error("--path `{path}`: {message}")]
    BadSubdir { path: String, message: String },
    #[error("{repo}: revision `{rev}` cannot be resolved: {message}")]
    UnknownRevision {
        repo: PathBuf,
        rev: String,
        message: String,
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

/// The kind of a directory entry; links are reported as links, never followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EntryKind {
    File,
    Dir,
    Symlink,
    /// A socket, device, fifo, or a git submodule.
    Other,
}

/// The desired-state files, keyed by their path relative to the desired-state directory
/// (`appliances/edge-1.yaml`). Files larger than the YAML limit are kept truncated to one byte
/// past it, so the loader reports them without holding them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceFiles {
    pub files: BTreeMap<String, Vec<u8>>,
    /// The commit the files were read from, if any (full hex id).
    pub commit: Option<String>,
    /// Every entry found but not read: at the top of the desired-state directory (anything but
    /// `vnfsync.yaml` and the folders), and inside the folders (anything but regular `*.yaml`
    /// files). Keyed like `files`; `model` decides which of them are mistakes.
    pub entries: BTreeMap<String, EntryKind>,
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

/// Whether a file in one of [`FOLDERS`] is read: a regular file named `*.yaml`, not hidden.
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
    name.ends_with(".yaml") && !name.starts_with('.') && name.len() > ".yaml".len()
}

/// A desired-state directory must stay inside its repository: relative, without `..`.
pub fn check_subdir(subdir: &str) -> Result<(), String> {
    if subdir.starts_with('/') || subdir.starts_with('\\') {
        return Err("must be relative to the repository".into());
    }
    if subdir.split(['/', '\\']).any(|c| c == "..") {
        return Err("may not leave the repository (`..`)".into());
    }
    Ok(())
}

fn kind_of(ft: std::fs::FileType) -> EntryKind {
    if ft.is_symlink() {
        EntryKind::Symlink
    } else if ft.is_dir() {
        EntryKind::Dir
    } else if ft.is_file() {
        EntryKind::File
    } else {
        EntryKind::Other
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SourceError + '_ {
    move |source| SourceError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Read the desired state at `subdir` of `repo`: the tree of commit `rev`, or the work tree
/// without one. With `root_fallback`, a repository without `subdir` whose own root is a
/// desired state (it has `vnfsync.yaml` or files in the folders) is read from the root: this
/// is what `check --repo desired-state` means.
pub fn read(
    repo: &Path,
    subdir: &str,
    rev: Option<&str>,
    root_fallback: bool,
) -> Result<SourceFiles, SourceError> {
    let at = |sub: &str| match rev {
        Some(r) => read_commit(repo, r, sub),
        None => read_worktree(repo, sub),
    };
    let first = at(subdir);
    let missing = matches!(
        first,
        Err(SourceError::NoSuchPath { .. } | SourceError::NotADirectory { .. })
    );
    let at_root = matches!(subdir.trim_matches('/'), "" | ".");
    if missing
        && root_fallback
        && !at_root
        && let Ok(files) = at(".")
        && !files.files.is_empty()
    {
        return Ok(files);
    }
    first
}

/// Read the desired state at `subdir` of the work tree of `repo`. The directory must be inside
/// the repository ([`check_subdir`]) and no part of `subdir` may be a symbolic link, so that
/// the work tree gives the verdict the committed tree would.
pub fn read_worktree(repo: &Path, subdir: &str) -> Result<SourceFiles, SourceError> {
    check_subdir(subdir).map_err(|message| SourceError::BadSubdir {
        path: subdir.to_string(),
        message,
    })?;
    let mut dir = repo.to_path_buf();
    for part in subdir.split('/').filter(|c| !c.is_empty() && *c != ".") {
        dir.push(part);
        if std::fs::symlink_metadata(&dir).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(SourceError::BadSubdir {
                path: subdir.to_string(),
                message: format!(
                    "`{}` is a symbolic link; the desired state must be a real directory of the repository",
                    dir.display()
                ),
            });
        }
    }
    read_dir(&dir)
}

/// Read the desired state from a directory on disk (the work tree). Symbolic links inside it
/// are listed in [`SourceFiles::entries`], never followed.
pub fn read_dir(dir: &Path) -> Result<SourceFiles, SourceError> {
    if !dir.is_dir() {
        return Err(SourceError::NotADirectory {
            path: dir.to_path_buf(),
        });
    }
    let mut out = SourceFiles::default();
    let mut folders = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let kind = kind_of(entry.file_type().map_err(io(dir))?);
        match (name.as_str(), kind) {
            (FLEET_FILE, EntryKind::File) => {
                let path = entry.path();
                out.files
                    .insert(name, read_capped(&path).map_err(io(&path))?);
            }
            (folder, EntryKind::Dir) if FOLDERS.contains(&folder) => folders.push(name),
            _ => {
                out.entries.insert(name, kind);
            }
        }
    }
    for folder in folders {
        let sub = dir.join(&folder);
        for entry in std::fs::read_dir(&sub).map_err(io(&sub))? {
            let entry = entry.map_err(io(&sub))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let kind = kind_of(entry.file_type().map_err(io(&sub))?);
            let key = format!("{folder}/{name}");
            if kind == EntryKind::File && is_yaml(&name) {
                let path = entry.path();
                out.files
                    .insert(key, read_capped(&path).map_err(io(&path))?);
            } else {
                out.entries.insert(key, kind);
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
    check_subdir(subdir).map_err(|message| SourceError::BadSubdir {
        path: subdir.to_string(),
        message,
    })?;
    let git = gix::open(repo).map_err(|e| SourceError::OpenRepo {
        repo: repo.to_path_buf(),
        source: e.into(),
    })?;
    let rev_err = |e: BoxError| SourceError::Revision {
        repo: repo.to_path_buf(),
        rev: rev.to_string(),
        source: e,
    };
    let id = git
        .rev_parse_single(rev)
        .map_err(|_| SourceError::UnknownRevision {
            repo: repo.to_path_buf(),
            rev: rev.to_string(),
            message: revision_words(&git, rev),
        })?;
    let object = id.object().map_err(|e| rev_err(e.into()))?;
    let kind = object.kind;
    let commit = object
        .peel_to_commit()
        .map_err(|_| SourceError::UnknownRevision {
            repo: repo.to_path_buf(),
            rev: rev.to_string(),
            message: format!("it names a {kind}, not a commit"),
        })?;
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
        entries: BTreeMap::new(),
    };
    let read_blob =
        |entry: &gix::object::tree::EntryRef<'_, '_>, name: &str| -> Result<Vec<u8>, SourceError> {
            let obj = git
                .find_object(entry.oid())
                .map_err(|e| obj_err(name, e.into()))?;
            let mut data = obj.detach().data;
            data.truncate(MAX_FILE_BYTES + 1);
            Ok(data)
        };
    let mut folders = Vec::new();
    for entry in base.iter() {
        let entry = entry.map_err(|e| obj_err("", e.into()))?;
        let name = entry.filename().to_string();
        let kind = git_kind(entry.mode());
        match (name.as_str(), kind) {
            (FLEET_FILE, EntryKind::File) => {
                let data = read_blob(&entry, &name)?;
                out.files.insert(name, data);
            }
            (folder, EntryKind::Dir) if FOLDERS.contains(&folder) => {
                folders.push((name.clone(), entry.oid().to_owned()));
            }
            _ => {
                out.entries.insert(name, kind);
            }
        }
    }
    for (folder, oid) in folders {
        let tree = git
            .find_object(oid)
            .map_err(|e| obj_err(&folder, e.into()))?
            .into_tree();
        for entry in tree.iter() {
            let entry = entry.map_err(|e| obj_err(&folder, e.into()))?;
            let name = entry.filename().to_string();
            let kind = git_kind(entry.mode());
            let key = format!("{folder}/{name}");
            if kind == EntryKind::File && is_yaml(&name) {
                let data = read_blob(&entry, &key)?;
                out.files.insert(key, data);
            } else {
                out.entries.insert(key, kind);
            }
        }
    }
    Ok(out)
}

fn git_kind(mode: gix::object::tree::EntryMode) -> EntryKind {
    if mode.is_link() {
        EntryKind::Symlink
    } else if mode.is_tree() {
        EntryKind::Dir
    } else if mode.is_blob() {
        EntryKind::File
    } else {
        EntryKind::Other
    }
}

/// Why a revision does not resolve, in the words a git user knows (`git rev-parse`'s
/// "unknown revision").
fn revision_words(git: &gix::Repository, rev: &str) -> String {
    if git.head().is_ok_and(|h| h.is_unborn()) {
        return "the repository has no commits yet (`git log` shows none)".to_string();
    }
    // `main~5`, `v1^2`: the name resolves but the history does not go back that far.
    if let Some(cut) = rev.find(['~', '^'])
        && cut > 0
        && git.rev_parse_single(&rev[..cut]).is_ok()
    {
        return format!(
            "`{}` exists, but its history has no such ancestor (`git log --oneline --graph {}` shows it)",
            &rev[..cut],
            &rev[..cut]
        );
    }
    format!(
        "unknown revision: no commit, branch or tag is called `{rev}` (`git branch -a` and `git tag` list the names; a remote branch is `origin/{rev}`)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_only_desired_state_files_and_lists_the_rest() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path();
        std::fs::create_dir_all(p.join("appliances/nested")).expect("mkdir");
        std::fs::create_dir_all(p.join("policies")).expect("mkdir");
        std::fs::create_dir_all(p.join("appliance")).expect("mkdir");
        std::fs::write(p.join("appliances/a.yaml"), "name: a\n").expect("write");
        std::fs::write(p.join("appliances/notes.txt"), "x").expect("write");
        std::fs::write(p.join("appliances/nested/b.yaml"), "x").expect("write");
        std::fs::write(p.join("policies/p.yml"), "name: p\n").expect("write");
        std::fs::write(p.join("vnfsync.yaml"), "defaults: {}\n").expect("write");
        std::os::unix::fs::symlink("/etc/hostname", p.join("policies/l.yaml")).expect("symlink");
        let files = read_dir(p).expect("read");
        let names: Vec<&str> = files.files.keys().map(String::as_str).collect();
        assert_eq!(names, vec!["appliances/a.yaml", "vnfsync.yaml"]);
        let entries: Vec<(&str, EntryKind)> = files
            .entries
            .iter()
            .map(|(k, v)| (k.as_str(), *v))
            .collect();
        assert_eq!(
            entries,
            vec![
                ("appliance", EntryKind::Dir),
                ("appliances/nested", EntryKind::Dir),
                ("appliances/notes.txt", EntryKind::File),
                ("policies/l.yaml", EntryKind::Symlink),
                ("policies/p.yml", EntryKind::File),
            ]
        );
        assert_eq!(files.in_folder("appliances").count(), 1);
    }

    #[test]
    fn the_desired_state_stays_in_the_repository() {
        assert!(check_subdir("desired-state").is_ok());
        assert!(check_subdir(".").is_ok());
        assert!(check_subdir("../elsewhere").is_err());
        assert!(check_subdir("a/../../b").is_err());
        assert!(check_subdir("/etc").is_err());
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("real")).expect("mkdir");
        std::os::unix::fs::symlink(dir.path().join("real"), dir.path().join("link"))
            .expect("symlink");
        assert!(read_worktree(dir.path(), "real").is_ok());
        let e = read_worktree(dir.path(), "link").expect_err("link");
        assert!(e.to_string().contains("is a symbolic link"), "{e}");
    }

    #[test]
    fn changed_files_names_added_removed_and_changed() {
        let mk = |pairs: &[(&str, &str)]| SourceFiles {
            files: pairs
                .iter()
                .map(|(k, v)| ((*k).to_string(), v.as_bytes().to_vec()))
                .collect(),
            commit: None,
            entries: BTreeMap::new(),
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
