//! `vnfsync check` through the real binary: the shipped example, the bad-input corpus
//! (`tests/data/bad/*.yaml`, each dropped into a valid base state as an appliance file, with its
//! exact messages as snapshots), JSON output, and `--rev` reading a commit, not the work tree.

use std::path::{Path, PathBuf};
use std::process::Command;

use assert_cmd::cargo::cargo_bin_cmd;

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

/// A temporary desired state: the valid base plus `extra` as `appliances/<name>`.
fn state_with(name: &str, content: &[u8]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_dir(&data().join("base"), dir.path());
    std::fs::write(dir.path().join("appliances").join(name), content).expect("write");
    dir
}

fn check(dir: &Path, extra: &[&str]) -> (i32, String) {
    let out = cargo_bin_cmd!("vnfsync")
        .args(["check", "--repo"])
        .arg(dir)
        .args(["--path", "."])
        .args(extra)
        .output()
        .expect("run vnfsync");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn shipped_example_is_valid() {
    let out = cargo_bin_cmd!("vnfsync")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("check")
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "ok: 3 appliance(s), 3 policy file(s), 3 dictionary(ies)\n"
    );
}

#[test]
fn base_state_is_valid() {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_dir(&data().join("base"), dir.path());
    assert_eq!(check(dir.path(), &[]).0, 0);
}

#[test]
fn bad_input_corpus() {
    let mut names: Vec<PathBuf> = std::fs::read_dir(data().join("bad"))
        .expect("corpus")
        .map(|e| e.expect("entry").path())
        .collect();
    names.sort();
    assert!(names.len() >= 15, "corpus shrank: {names:?}");
    for path in names {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .expect("name")
            .to_string();
        let dir = state_with(&name, &std::fs::read(&path).expect("read"));
        let (code, stdout) = check(dir.path(), &[]);
        assert_eq!(code, 64, "{name} must be rejected:\n{stdout}");
        insta::assert_snapshot!(name.trim_end_matches(".yaml"), stdout);
    }
}

#[test]
fn two_mib_file_is_rejected_without_reading_it_all() {
    let mut big = b"name: big\ndescription: \"".to_vec();
    big.resize(2 * 1024 * 1024, b'x');
    big.extend_from_slice(b"\"\n");
    let dir = state_with("big.yaml", &big);
    let (code, stdout) = check(dir.path(), &[]);
    assert_eq!(code, 64);
    insta::assert_snapshot!("two-mib-file", stdout);
}

#[test]
fn broken_repo_dictionary_is_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_dir(&data().join("base"), dir.path());
    std::fs::create_dir_all(dir.path().join("dictionaries")).expect("mkdir");
    std::fs::write(
        dir.path().join("dictionaries/vyos-1.4.yaml"),
        "schema_version: 1\nname: vyos-1.4\nvendor: vyos\nproduct: VyOS\nfirmware: any\ntransports: [vyos-http]\nraw: vyos-set\npaths:\n  rule_set: \"firewall {family} name {nmae}\"\n",
    )
    .expect("write");
    let (code, stdout) = check(dir.path(), &[]);
    assert_eq!(code, 64);
    insta::assert_snapshot!("broken-repo-dictionary", stdout);
}

#[test]
fn json_report_lists_every_error() {
    let dir = state_with(
        "many.yaml",
        &std::fs::read(data().join("bad/many-errors.yaml")).expect("read"),
    );
    let (code, stdout) = check(dir.path(), &["--format", "json"]);
    assert_eq!(code, 64);
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(report["valid"], false);
    let errors = report["errors"].as_array().expect("errors");
    assert!(errors.len() >= 6, "{stdout}");
    for e in errors {
        assert_eq!(e["file"], "appliances/many.yaml");
        assert!(e["line"].as_u64().is_some_and(|l| l > 0));
        assert!(e["column"].as_u64().is_some_and(|c| c > 0));
    }
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.net",
            "-c",
            "init.defaultBranch=main",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .output()
        .expect("git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn rev_reads_the_commit_not_the_work_tree() {
    let repo = tempfile::tempdir().expect("tempdir");
    copy_dir(&data().join("base"), &repo.path().join("state"));
    git(repo.path(), &["init", "-q"]);
    git(repo.path(), &["add", "."]);
    git(repo.path(), &["commit", "-qm", "good"]);
    // Break the work tree after the commit.
    std::fs::write(
        repo.path().join("state/appliances/base.yaml"),
        "name: [broken\n",
    )
    .expect("write");

    let run = |extra: &[&str]| {
        let out = cargo_bin_cmd!("vnfsync")
            .args(["check", "--repo"])
            .arg(repo.path())
            .args(["--path", "state"])
            .args(extra)
            .output()
            .expect("run");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, out) = run(&["--rev", "HEAD"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.starts_with("ok: 1 appliance(s), 1 policy file(s)"),
        "{out}"
    );
    let (code, _) = run(&[]);
    assert_eq!(code, Some(64));

    // Commit the broken file: now the revision is bad too, and the old one still good.
    git(repo.path(), &["commit", "-qam", "bad"]);
    assert_eq!(run(&["--rev", "HEAD"]).0, Some(64));
    assert_eq!(run(&["--rev", "HEAD~1"]).0, Some(0));
    let (code, _) = run(&["--rev", "no-such-branch"]);
    assert_eq!(code, Some(64));
}

#[test]
fn bad_daemon_config_exits_64_naming_the_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("vnfsync.toml");
    std::fs::write(&cfg, "[retry]\nattempts = 0\n").expect("write");
    let out = cargo_bin_cmd!("vnfsync")
        .arg("check")
        .arg("--config")
        .arg(&cfg)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("retry.attempts: 0 is out of range 1-10"),
        "{stderr}"
    );
}

/// Issue 11: bad dictionaries (`tests/data/bad-dictionaries/*.yaml`, each dropped into the
/// valid base state as `dictionaries/vyos-1.4.yaml`, overriding the shipped one) are refused
/// with the dictionary file and template line, and the desired-state resource when one was
/// being rendered; the exact messages are snapshots.
#[test]
fn bad_dictionary_corpus() {
    let mut names: Vec<PathBuf> = std::fs::read_dir(data().join("bad-dictionaries"))
        .expect("corpus")
        .map(|e| e.expect("entry").path())
        .collect();
    names.sort();
    assert!(names.len() >= 10, "corpus shrank: {names:?}");
    for path in names {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .expect("name")
            .to_string();
        let dir = tempfile::tempdir().expect("tempdir");
        copy_dir(&data().join("base"), dir.path());
        std::fs::create_dir_all(dir.path().join("dictionaries")).expect("mkdir");
        std::fs::copy(&path, dir.path().join("dictionaries/vyos-1.4.yaml")).expect("copy");
        let (code, stdout) = check(dir.path(), &[]);
        assert_eq!(code, 64, "{name} must be rejected:\n{stdout}");
        assert!(
            stdout.contains("dictionaries/vyos-1.4.yaml:"),
            "{name}: {stdout}"
        );
        insta::assert_snapshot!(
            format!("dictionary-{}", name.trim_end_matches(".yaml")),
            stdout
        );
    }
}
