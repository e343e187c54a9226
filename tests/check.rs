//! `vnfsync check` through the real binary: the shipped example, the bad-input corpus
//! (`tests/data/bad/*.yaml`, each dropped into a valid base state as an appliance file, and
//! `tests/data/bad/<case>/` directories laid over the base state, with their exact messages as
//! snapshots), JSON output, `--rev` reading a commit, not the work tree, and the same verdict
//! from both on a committed symbolic link.

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
        let dir = if path.is_dir() {
            let dir = tempfile::tempdir().expect("tempdir");
            copy_dir(&data().join("base"), dir.path());
            copy_dir(&path, dir.path());
            dir
        } else {
            state_with(&name, &std::fs::read(&path).expect("read"))
        };
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

#[test]
fn committed_symlink_gives_the_same_verdict_in_work_tree_and_revision() {
    let repo = tempfile::tempdir().expect("tempdir");
    copy_dir(&data().join("base"), &repo.path().join("state"));
    // A link to a file outside the desired state (it could as well be outside the repository).
    std::fs::write(
        repo.path().join("outside.yaml"),
        "name: link\ndictionary: vyos-1.4\nendpoint:\n  transport: vyos-http\n  host: 127.0.0.1\n  api_key: env:K\nowns: [nat destination]\n",
    )
    .expect("write");
    std::os::unix::fs::symlink(
        "../../outside.yaml",
        repo.path().join("state/appliances/link.yaml"),
    )
    .expect("symlink");
    std::os::unix::fs::symlink("../outside.yaml", repo.path().join("state/vnfsync.yaml"))
        .expect("symlink");
    git(repo.path(), &["init", "-q"]);
    git(repo.path(), &["add", "."]);
    git(repo.path(), &["commit", "-qm", "links"]);
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
    let work_tree = run(&[]);
    let committed = run(&["--rev", "HEAD"]);
    assert_eq!(work_tree.0, Some(64), "{}", work_tree.1);
    assert_eq!(work_tree, committed);
    insta::assert_snapshot!("committed-symlink", work_tree.1);
}

#[test]
fn an_empty_state_needs_allow_empty() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("policies")).expect("mkdir");
    let (code, stdout) = check(dir.path(), &[]);
    assert_eq!(code, 64);
    insta::assert_snapshot!("empty-state", stdout);
    let (code, stdout) = check(dir.path(), &["--allow-empty"]);
    assert_eq!(code, 0, "{stdout}");
}

#[test]
fn path_may_not_leave_the_repository() {
    let repo = tempfile::tempdir().expect("tempdir");
    copy_dir(&data().join("base"), &repo.path().join("inside"));
    let outside = tempfile::tempdir().expect("tempdir");
    copy_dir(&data().join("base"), outside.path());
    std::os::unix::fs::symlink(outside.path(), repo.path().join("link")).expect("symlink");
    git(repo.path(), &["init", "-q"]);
    git(repo.path(), &["add", "."]);
    git(repo.path(), &["commit", "-qm", "state"]);
    let run = |path: &str, extra: &[&str]| {
        let out = cargo_bin_cmd!("vnfsync")
            .args(["check", "--repo"])
            .arg(repo.path())
            .args(["--path", path])
            .args(extra)
            .output()
            .expect("run");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
                .replace(&repo.path().display().to_string(), "REPO"),
        )
    };
    assert_eq!(run("inside", &[]).0, Some(0));
    let mut seen = Vec::new();
    for (path, extra) in [
        ("../x", &[][..]),
        ("../x", &["--rev", "HEAD"][..]),
        ("/etc", &[][..]),
        ("link", &[][..]),
    ] {
        let (code, stderr) = run(path, extra);
        assert_eq!(code, Some(64), "{path} {extra:?}: {stderr}");
        seen.push(stderr);
    }
    insta::assert_snapshot!("path-outside-repository", seen.join(""));
    // The same rule in vnfsync.toml.
    let cfg = repo.path().join("vnfsync.toml");
    std::fs::write(&cfg, "path = \"../x\"\n").expect("write");
    let out = cargo_bin_cmd!("vnfsync")
        .args(["check", "--config"])
        .arg(&cfg)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(64));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("path: `../x` may not leave the repository"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn bad_log_level_exits_64() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("vnfsync.toml");
    std::fs::write(&cfg, "[log]\nlevel = \"verbose\"\n").expect("write");
    let out = cargo_bin_cmd!("vnfsync")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["check", "--config"])
        .arg(&cfg)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(64));
    let stderr =
        String::from_utf8_lossy(&out.stderr).replace(&cfg.display().to_string(), "vnfsync.toml");
    insta::assert_snapshot!("bad-log-level", stderr);
}

#[test]
fn logs_have_no_colours_when_stderr_is_not_a_terminal() {
    let out = cargo_bin_cmd!("vnfsync")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("VNFSYNC_LOG", "debug")
        .env_remove("NO_COLOR")
        .arg("check")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("checking the desired state"), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "ANSI escape in {stderr:?}");
}

#[test]
fn positional_dir_and_repo_root_fallback() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let run = |args: &[&str]| {
        let out = cargo_bin_cmd!("vnfsync")
            .current_dir(root)
            .args(args)
            .output()
            .expect("run");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let ok = "ok: 3 appliance(s), 3 policy file(s), 3 dictionary(ies)\n";
    // DIR is a repository holding desired-state/, or the desired state itself.
    assert_eq!(run(&["check", "."]), (Some(0), ok.to_string()));
    assert_eq!(run(&["check", "desired-state"]), (Some(0), ok.to_string()));
    assert_eq!(
        run(&["check", "--repo", "desired-state"]),
        (Some(0), ok.to_string())
    );
    // An explicit --path is taken at its word.
    let (code, _) = run(&[
        "check",
        "--repo",
        "desired-state",
        "--path",
        "desired-state",
    ]);
    assert_eq!(code, Some(64));
    // DIR and --repo say the same thing twice.
    assert_eq!(run(&["check", ".", "--repo", "."]).0, Some(64));

    // The same with --rev: a repository whose root is the desired state.
    let repo = tempfile::tempdir().expect("tempdir");
    copy_dir(&data().join("base"), repo.path());
    git(repo.path(), &["init", "-q"]);
    git(repo.path(), &["add", "."]);
    git(repo.path(), &["commit", "-qm", "state at the root"]);
    let out = cargo_bin_cmd!("vnfsync")
        .arg("check")
        .arg(repo.path())
        .args(["--rev", "HEAD"])
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn fatal_errors_are_explained_and_json_too() {
    let repo = tempfile::tempdir().expect("tempdir");
    copy_dir(&data().join("base"), &repo.path().join("state"));
    git(repo.path(), &["init", "-q"]);
    git(repo.path(), &["add", "."]);
    git(repo.path(), &["commit", "-qm", "one"]);
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
            String::from_utf8_lossy(&out.stdout)
                .replace(&repo.path().display().to_string(), "REPO"),
            String::from_utf8_lossy(&out.stderr)
                .replace(&repo.path().display().to_string(), "REPO"),
        )
    };
    let mut text = String::new();
    for rev in ["no-such-branch", "HEAD~3", "HEAD^{tree}"] {
        let (code, _, stderr) = run(&["--rev", rev]);
        assert_eq!(code, Some(64), "{rev}");
        text.push_str(&stderr);
    }
    insta::assert_snapshot!("bad-revision", text);

    let (code, stdout, stderr) = run(&["--rev", "no-such-branch", "--format", "json"]);
    assert_eq!(code, Some(64));
    assert_eq!(stderr, "");
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(report["valid"], false);
    assert!(
        report["fatal"]
            .as_str()
            .is_some_and(|m| m.contains("no commit, branch or tag is called `no-such-branch`")),
        "{stdout}"
    );
    assert_eq!(report["errors"], serde_json::json!([]));

    let cfg = repo.path().join("vnfsync.toml");
    std::fs::write(&cfg, "[retry]\nattempts = 0\n").expect("write");
    let out = cargo_bin_cmd!("vnfsync")
        .args(["check", "--format", "json", "--config"])
        .arg(&cfg)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(64));
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("json on a config error");
    assert!(
        report["fatal"]
            .as_str()
            .is_some_and(|m| m.contains("retry.attempts: 0 is out of range 1-10")),
        "{report}"
    );
}

/// Every `$schema` comment of the shipped desired state names a file that exists, and the
/// committed `schema/` is what `vnfsync schema --write` writes today.
#[test]
fn shipped_schema_comments_point_at_current_schemas() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut yaml = vec![root.join("desired-state/vnfsync.yaml")];
    for folder in ["appliances", "policies"] {
        for e in std::fs::read_dir(root.join("desired-state").join(folder)).expect("folder") {
            yaml.push(e.expect("entry").path());
        }
    }
    for file in &yaml {
        let text = std::fs::read_to_string(file).expect("read");
        let target = text
            .lines()
            .next()
            .and_then(|l| l.split_once("$schema="))
            .map(|(_, t)| t.trim())
            .unwrap_or_else(|| panic!("{} has no $schema comment", file.display()));
        let path = file.parent().expect("parent").join(target);
        assert!(
            path.is_file(),
            "{}: $schema {target} does not exist",
            file.display()
        );
    }
    let written = tempfile::tempdir().expect("tempdir");
    let out = cargo_bin_cmd!("vnfsync")
        .args(["schema", "--write"])
        .arg(written.path())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0));
    for name in [
        "appliance.json",
        "policy.json",
        "fleet.json",
        "dictionary.json",
        "plan.json",
    ] {
        let fresh = std::fs::read_to_string(written.path().join(name)).expect("written");
        let committed = std::fs::read_to_string(root.join("schema").join(name)).unwrap_or_default();
        assert!(
            fresh == committed,
            "schema/{name} is stale: run `cargo run -- schema --write schema` and commit it"
        );
    }
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
