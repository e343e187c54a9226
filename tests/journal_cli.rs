//! `vnfsync ops` and `vnfsync journal check|export` through the real binary, over journals
//! written with the library; the secrets canary.

use std::path::Path;

use assert_cmd::cargo::cargo_bin_cmd;
use vnfsync::journal::{Change, ErrorRecord, Intent, Journal, OpKind, OpState, Operation, Options};

const PASSWORD: &str = "CANARY-pw-7f3a9c";
const API_KEY: &str = "CANARY-key-51d2e8";

fn journal(dir: &Path) -> Journal {
    Journal::open(
        Journal::path_in(dir),
        Options {
            create: true,
            ..Options::default()
        },
    )
    .unwrap()
}

/// Twelve operations over three appliances; `edge-1`'s are completed, `edge-2`'s failed with
/// the secrets in their request and error, `edge-3`'s pending.
fn populate(j: &Journal) -> Vec<Operation> {
    let mut ops = Vec::new();
    for i in 0..12 {
        let appliance = format!("edge-{}", i % 3 + 1);
        let op = j
            .begin(Intent {
                appliance: appliance.clone(),
                kind: if i % 4 == 0 { OpKind::DriftCheck } else { OpKind::Apply },
                commit: format!("commit{}", i % 2),
                planned: vec![format!(
                    "set system login user ops authentication plaintext-password '{PASSWORD}'"
                )],
                request_summary: Some(format!(
                    r#"{{"key": "{API_KEY}", "commands": [{{"op": "set", "path": ["system", "login", "user", "ops", "authentication", "plaintext-password", "{PASSWORD}"]}}]}}"#
                )),
                ..Intent::default()
            })
            .wait()
            .unwrap()
            .into_operation();
        let op = match i % 3 {
            0 => {
                let mut op = op;
                for s in [
                    OpState::InProgress,
                    OpState::AwaitingConfirm,
                    OpState::Completed,
                ] {
                    op = j.change(op.id, Change::to(s)).wait().unwrap();
                }
                op
            }
            1 => j
                .change(
                    op.id,
                    Change::to(OpState::Failed)
                        .response(format!("HTTP 401 for key={API_KEY}"))
                        .error(ErrorRecord::new(
                            "VNF_AUTH",
                            false,
                            format!("login with password {PASSWORD} refused"),
                        )),
                )
                .wait()
                .unwrap(),
            _ => op,
        };
        ops.push(op);
    }
    ops.reverse();
    ops
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = cargo_bin_cmd!("vnfsync").args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn ops_lists_filters_and_pages() {
    let dir = tempfile::tempdir().unwrap();
    let all = populate(&journal(dir.path()));
    let d = dir.path().to_str().unwrap();

    let (code, out, err) = run(&[
        "ops",
        "--state-dir",
        d,
        "--format",
        "json",
        "--limit",
        "100",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let ids: Vec<&str> = v["operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    let expect: Vec<String> = all.iter().map(|o| o.id.to_string()).collect();
    assert_eq!(ids, expect, "newest first");
    assert!(v["next"].is_null());

    let (code, out, _) = run(&[
        "ops",
        "--state-dir",
        d,
        "--appliance",
        "edge-1",
        "--state",
        "completed",
        "--since",
        "1h",
    ]);
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert!(
        lines
            .iter()
            .all(|l| l.contains(" edge-1 ") && l.contains(" completed ")),
        "{out}"
    );

    let (_, out, _) = run(&[
        "ops",
        "--state-dir",
        d,
        "--kind",
        "drift_check",
        "--commit",
        "commit0",
    ]);
    assert_eq!(out.lines().count(), 3, "{out}");

    // Paging: 5 at a time, following `more: --after ID`.
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut args = vec!["ops", "--state-dir", d, "--limit", "5"];
        if let Some(a) = &after {
            args.extend(["--after", a.as_str()]);
        }
        let (code, out, _) = run(&args);
        assert_eq!(code, 0);
        after = None;
        for line in out.lines() {
            match line.strip_prefix("more: --after ") {
                Some(c) => after = Some(c.to_owned()),
                None => seen.push(line.split_whitespace().next().unwrap().to_owned()),
            }
        }
        if after.is_none() {
            break;
        }
    }
    assert_eq!(seen, expect);

    let (code, _, err) = run(&["ops", "--state-dir", d, "--state", "done"]);
    assert_eq!(code, 64);
    assert!(err.contains("unknown state `done`"), "{err}");
}

#[test]
fn ops_finds_the_state_dir_in_vnfsync_toml() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    populate(&journal(&state));
    std::fs::write(dir.path().join("vnfsync.toml"), "state_dir = \"state\"\n").unwrap();
    let out = cargo_bin_cmd!("vnfsync")
        .current_dir(dir.path())
        .args(["ops", "--limit", "3"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 4); // 3 + `more:`
}

#[test]
fn a_journal_held_by_the_daemon_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let held = journal(dir.path());
    let d = dir.path().to_str().unwrap();
    for args in [
        vec!["ops", "--state-dir", d],
        vec!["journal", "check", "--state-dir", d],
    ] {
        let (code, out, err) = run(&args);
        assert_eq!(code, 1, "{args:?}");
        assert_eq!(out, "");
        assert!(
            err.contains(
                "the journal is held by another process (the daemon holds the journal while it runs"
            ),
            "{err}"
        );
    }
    drop(held);
    let (code, _, err) = run(&["ops", "--state-dir", &format!("{d}/nowhere")]);
    assert_eq!(code, 1);
    assert!(
        err.contains("nowhere/journal.redb: no journal here"),
        "{err}"
    );
}

#[test]
fn check_and_export() {
    let dir = tempfile::tempdir().unwrap();
    let all = populate(&journal(dir.path()));
    let d = dir.path().to_str().unwrap();
    let (code, out, err) = run(&["journal", "check", "--state-dir", d]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("schema version 2; 12 operations (4 in flight)"),
        "{out}"
    );
    assert!(out.ends_with("consistent\n"), "{out}");

    let (code, out, _) = run(&["journal", "check", "--state-dir", d, "--format", "json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["problems"], serde_json::json!([]));
    assert_eq!(v["repaired"], false);

    let (code, out, err) = run(&["journal", "export", "--state-dir", d, "--format", "jsonl"]);
    assert_eq!(code, 0, "{err}");
    let exported: Vec<Operation> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut oldest_first = all.clone();
    oldest_first.reverse();
    assert_eq!(exported, oldest_first);

    let (_, out, _) = run(&[
        "journal",
        "export",
        "--state-dir",
        d,
        "--since",
        "2100-01-01T00:00:00Z",
    ]);
    assert_eq!(out, "");
}

/// DESIGN invariant 9: a password and an API key in requests, responses and errors appear
/// nowhere in the journal file's bytes nor in what `ops` and `export` print.
#[test]
fn secrets_canary() {
    let dir = tempfile::tempdir().unwrap();
    let j = journal(dir.path());
    let all = populate(&j);
    drop(j);
    let d = dir.path().to_str().unwrap();
    let bytes = std::fs::read(Journal::path_in(dir.path())).unwrap();
    let mut outputs = vec![(
        "journal.redb".to_owned(),
        String::from_utf8_lossy(&bytes).into_owned(),
    )];
    for args in [
        vec!["ops", "--state-dir", d, "--format", "json"],
        vec!["ops", "--state-dir", d],
        vec!["journal", "export", "--state-dir", d],
    ] {
        let (code, out, err) = run(&args);
        assert_eq!(code, 0, "{err}");
        outputs.push((format!("{args:?}"), out + &err));
    }
    for (what, text) in &outputs {
        for canary in [PASSWORD, API_KEY] {
            assert!(!text.contains(canary), "{canary} leaked into {what}");
        }
    }
    for canary in [PASSWORD, API_KEY] {
        assert!(!bytes.windows(canary.len()).any(|w| w == canary.as_bytes()));
    }
    // The redacted records are still there (the canary would pass on an empty journal).
    let failed = all.iter().find(|o| o.state == OpState::Failed).unwrap();
    assert_eq!(failed.error.as_ref().unwrap().code, "VNF_AUTH");
    assert!(
        failed
            .error
            .as_ref()
            .unwrap()
            .message
            .starts_with("login with password ****")
    );
    assert!(outputs[3].1.contains("VNF_AUTH"));
}
