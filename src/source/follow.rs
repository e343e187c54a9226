//! Following one branch of the desired-state repository.
//!
//! Owns: knowing the commit at the tip of the followed branch, at once when the repository's
//! refs change (a notify watcher with a debouncer on the git dir and its `refs/`), on a polling
//! interval as the fallback (a watcher can miss events, or be unavailable), and after an
//! optional `git fetch` from a remote every `fetch_interval` (the `git` CLI under a timeout;
//! credentials stay where git keeps them: its credential helper or SSH key, never in our
//! configuration). Ref lookups go through gix on the blocking pool, off the async workers.
//! Must not read or validate the desired state (that is [`super::read_commit`] and `render`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify_debouncer_full::new_debouncer;
use notify_debouncer_full::notify::RecursiveMode;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use super::SourceError;

/// What to follow and how often to look.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowConfig {
    pub repo: PathBuf,
    pub branch: String,
    /// Fetch this remote and follow `refs/remotes/<remote>/<branch>` instead of the local branch.
    pub remote: Option<String>,
    /// Polling fallback: the tip is looked up at least this often.
    pub poll: Duration,
    /// How often to `git fetch` when a remote is set.
    pub fetch_interval: Duration,
    /// Longest a `git fetch` may take before it is killed.
    pub fetch_timeout: Duration,
}

impl FollowConfig {
    /// The full name of the reference whose tip is followed.
    pub fn reference(&self) -> String {
        match &self.remote {
            Some(remote) => format!("refs/remotes/{remote}/{}", self.branch),
            None => format!("refs/heads/{}", self.branch),
        }
    }
}

/// The commit id (full hex) a reference points to, or `None` when the reference does not exist.
pub fn tip(repo: &Path, reference: &str) -> Result<Option<String>, SourceError> {
    let git = gix::open(repo).map_err(|e| SourceError::OpenRepo {
        repo: repo.to_path_buf(),
        source: e.into(),
    })?;
    let rev_err = |e: Box<dyn std::error::Error + Send + Sync>| SourceError::Revision {
        repo: repo.to_path_buf(),
        rev: reference.to_string(),
        source: e,
    };
    let Some(mut r) = git
        .try_find_reference(reference)
        .map_err(|e| rev_err(e.into()))?
    else {
        return Ok(None);
    };
    let id = r.peel_to_id().map_err(|e| rev_err(e.into()))?;
    Ok(Some(id.to_string()))
}

/// The git directory of a repository (`.git` of a work tree, or the repository itself).
pub fn git_dir(repo: &Path) -> Result<PathBuf, SourceError> {
    let git = gix::open(repo).map_err(|e| SourceError::OpenRepo {
        repo: repo.to_path_buf(),
        source: e.into(),
    })?;
    Ok(git.path().to_path_buf())
}

/// A running follower. The latest tip is in [`Follower::tips`]; dropping the follower stops its
/// tasks and its watcher.
pub struct Follower {
    tips: watch::Receiver<Option<String>>,
    poke: Arc<Notify>,
    tasks: Vec<JoinHandle<()>>,
    /// Set when the filesystem watcher could not be started (polling only).
    pub watcher_error: Option<String>,
}

impl Follower {
    /// The tip as last seen; `changed()` on a clone wakes on every new tip.
    pub fn tips(&self) -> watch::Receiver<Option<String>> {
        self.tips.clone()
    }

    /// Look again now (used after a reload, and by tests).
    pub fn poke(&self) {
        self.poke.notify_one();
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Start following. The first tip is looked up before this returns, so an unreadable
/// repository is reported at startup.
pub async fn follow(cfg: FollowConfig) -> Result<Follower, SourceError> {
    let reference = cfg.reference();
    let first = lookup(cfg.repo.clone(), reference.clone()).await?;
    let gitdir = {
        let repo = cfg.repo.clone();
        tokio::task::spawn_blocking(move || git_dir(&repo))
            .await
            .map_err(|e| SourceError::OpenRepo {
                repo: cfg.repo.clone(),
                source: e.into(),
            })??
    };
    let (tx, rx) = watch::channel(first);
    let poke = Arc::new(Notify::new());
    let mut tasks = Vec::new();

    // The watcher lives on its own thread (notify's), and only pokes the lookup loop.
    let (watcher_error, watcher) = {
        let poke = poke.clone();
        match new_debouncer(Duration::from_millis(30), None, move |_res| {
            poke.notify_one();
        }) {
            Ok(mut d) => {
                let r = d
                    .watch(&gitdir, RecursiveMode::NonRecursive)
                    .and_then(|()| d.watch(gitdir.join("refs"), RecursiveMode::Recursive));
                match r {
                    Ok(()) => (None, Some(d)),
                    Err(e) => (Some(e.to_string()), None),
                }
            }
            Err(e) => (Some(e.to_string()), None),
        }
    };
    if let Some(e) = &watcher_error {
        tracing::warn!(repo = %cfg.repo.display(), error = %e, "git watcher unavailable; polling only");
    }

    {
        let poke = poke.clone();
        let repo = cfg.repo.clone();
        let reference = reference.clone();
        let poll = cfg.poll;
        tasks.push(tokio::spawn(async move {
            let _watcher = watcher;
            let mut tick = tokio::time::interval(poll);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = poke.notified() => {}
                    _ = tick.tick() => {}
                    () = tx.closed() => return,
                }
                match lookup(repo.clone(), reference.clone()).await {
                    Ok(new) => {
                        tx.send_if_modified(|cur| {
                            if *cur == new {
                                false
                            } else {
                                tracing::info!(reference = %reference, commit = ?new, "new tip");
                                *cur = new;
                                true
                            }
                        });
                    }
                    Err(e) => tracing::warn!(error = %e, "looking up the followed branch"),
                }
            }
        }));
    }

    if let Some(remote) = cfg.remote.clone() {
        let poke = poke.clone();
        let cfg = cfg.clone();
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(cfg.fetch_interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                match fetch(&cfg.repo, &remote, &cfg.branch, cfg.fetch_timeout).await {
                    Ok(()) => poke.notify_one(),
                    Err(e) => tracing::warn!(remote = %remote, error = %e, "git fetch failed"),
                }
            }
        }));
    }

    Ok(Follower {
        tips: rx,
        poke,
        tasks,
        watcher_error,
    })
}

async fn lookup(repo: PathBuf, reference: String) -> Result<Option<String>, SourceError> {
    let r = repo.clone();
    tokio::task::spawn_blocking(move || tip(&r, &reference))
        .await
        .map_err(|e| SourceError::OpenRepo {
            repo,
            source: e.into(),
        })?
}

/// Why a `git fetch` failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("cannot run git: {0}")]
    Spawn(#[source] std::io::Error),
    #[error("git fetch took longer than {0:?}; killed")]
    Timeout(Duration),
    #[error("git fetch exited with {status}: {stderr}")]
    Failed { status: String, stderr: String },
}

/// `git fetch <remote> +refs/heads/<branch>:refs/remotes/<remote>/<branch>` under a timeout,
/// never prompting for credentials.
pub async fn fetch(
    repo: &Path,
    remote: &str,
    branch: &str,
    timeout: Duration,
) -> Result<(), FetchError> {
    let refspec = format!("+refs/heads/{branch}:refs/remotes/{remote}/{branch}");
    let child = tokio::process::Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(["fetch", "--quiet", "--no-tags", "--", remote, &refspec])
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(FetchError::Spawn)?;
    let out = tokio::time::timeout(timeout, child.wait_with_output())
        .await
        .map_err(|_| FetchError::Timeout(timeout))?
        .map_err(FetchError::Spawn)?;
    if out.status.success() {
        Ok(())
    } else {
        Err(FetchError::Failed {
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }
}
