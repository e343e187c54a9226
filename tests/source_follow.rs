//! Following a branch of a real git repository: new commits are seen at once (watcher), from a
//! remote after `git fetch`, and a commit is read from its tree below a subfolder and offered
//! as a whole (an invalid one rejected with file:line, the last good one kept).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use vnfsync::daemon::{Offer, Tracker};
use vnfsync::source::{FollowConfig, follow};

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        let dst = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), dst).expect("copy");
        }
    }
}

/// A repository with the shipped desired state under `state/`, one commit on `main`.
fn repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    git(dir.path(), &["init", "-q", "-b", "main"]);
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("desired-state"),
        &dir.path().join("state"),
    );
    git(dir.path(), &["add", "-A"]);
    git(dir.path(), &["commit", "-q", "-m", "initial"]);
    dir
}

fn commit_edit(dir: &Path, file: &str, text: &str, msg: &str) -> String {
    std::fs::write(dir.join(file), text).expect("write");
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", msg]);
    git(dir, &["rev-parse", "HEAD"])
}

async fn wait_for(
    rx: &mut tokio::sync::watch::Receiver<Option<String>>,
    want: &str,
    within: Duration,
) {
    tokio::time::timeout(within, async {
        loop {
            if rx.borrow_and_update().as_deref() == Some(want) {
                return;
            }
            rx.changed().await.expect("follower alive");
        }
    })
    .await
    .unwrap_or_else(|_| panic!("tip {want} not seen within {within:?}"));
}

#[tokio::test]
async fn a_new_commit_is_seen_at_once() {
    let dir = repo();
    let first = git(dir.path(), &["rev-parse", "HEAD"]);
    let f = follow(FollowConfig {
        repo: dir.path().to_path_buf(),
        branch: "main".into(),
        remote: None,
        // The poll interval is far longer than the deadline: only the watcher can see it.
        poll: Duration::from_secs(3600),
        fetch_interval: Duration::from_secs(3600),
        fetch_timeout: Duration::from_secs(10),
    })
    .await
    .expect("follow");
    assert!(f.watcher_error.is_none(), "{:?}", f.watcher_error);
    let mut rx = f.tips();
    assert_eq!(rx.borrow_and_update().as_deref(), Some(first.as_str()));
    let second = commit_edit(dir.path(), "state/vnfsync.yaml", "defaults: {}\n", "second");
    wait_for(&mut rx, &second, Duration::from_secs(5)).await;
    // Another branch moving is not the followed one.
    git(dir.path(), &["branch", "-q", "other", &first]);
    assert_eq!(rx.borrow().as_deref(), Some(second.as_str()));
}

#[tokio::test]
async fn a_remote_is_fetched_and_followed() {
    let upstream = repo();
    let local = tempfile::tempdir().expect("tempdir");
    git(local.path(), &["init", "-q", "-b", "main"]);
    git(
        local.path(),
        &[
            "remote",
            "add",
            "origin",
            &upstream.path().display().to_string(),
        ],
    );
    let f = follow(FollowConfig {
        repo: local.path().to_path_buf(),
        branch: "main".into(),
        remote: Some("origin".into()),
        poll: Duration::from_secs(3600),
        fetch_interval: Duration::from_millis(100),
        fetch_timeout: Duration::from_secs(10),
    })
    .await
    .expect("follow");
    let mut rx = f.tips();
    let first = git(upstream.path(), &["rev-parse", "HEAD"]);
    wait_for(&mut rx, &first, Duration::from_secs(10)).await;
    let second = commit_edit(
        upstream.path(),
        "state/vnfsync.yaml",
        "defaults: {}\n",
        "up",
    );
    wait_for(&mut rx, &second, Duration::from_secs(10)).await;
}

#[test]
fn commits_are_offered_whole_from_a_subfolder() {
    let dir = repo();
    let good = git(dir.path(), &["rev-parse", "HEAD"]);
    let mut t = Tracker::default();
    assert!(matches!(
        t.offer_commit(dir.path(), &good, "state"),
        Offer::Accepted { .. }
    ));
    // The work tree is never read: an uncommitted edit changes nothing.
    std::fs::write(dir.path().join("state/appliances/edge-1.yaml"), "broken: [").expect("write");
    assert!(matches!(
        t.offer_commit(dir.path(), &good, "state"),
        Offer::Same
    ));
    let bad = commit_edit(
        dir.path(),
        "state/appliances/edge-1.yaml",
        "name: edge-1\ndictionary: vyos-1.4\nendpoint: {transport: ssh, host: 127.0.0.1}\nowns: [nat source]\nnat:\n  source:\n    - rule: 10\n      outbound_interface: eth0\n      translation: 10.0.0.999\n",
        "bad",
    );
    let Offer::Rejected(r) = t.offer_commit(dir.path(), &bad, "state") else {
        panic!("bad commit accepted")
    };
    assert!(
        r.errors
            .iter()
            .all(|e| e.starts_with("appliances/edge-1.yaml:")),
        "{:?}",
        r.errors
    );
    assert_eq!(t.good().map(|g| g.commit.as_str()), Some(good.as_str()));
    // A path the commit lacks is a rejection too, not a crash.
    let Offer::Rejected(r) = Tracker::default().offer_commit(dir.path(), &good, "nope") else {
        panic!("missing path accepted")
    };
    assert!(r.errors[0].contains("`nope`"), "{:?}", r.errors);
}
