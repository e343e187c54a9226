//! `vnfsync apply` and `vnfsync probe`, the real binary against the lab: converge, re-apply
//! with nothing to do, a failing probe rolled back (exit 3), probe's reachability and last
//! contact (charter test 3), and the secrets canary over output and journal bytes.

#![allow(clippy::disallowed_methods)]

use serde_json::Value;

#[path = "support/desired.rs"]
mod desired;
#[path = "support/lab_process.rs"]
mod lab_process;
use lab_process::start_lab;

fn state(dir: &std::path::Path, info: &Value, transport: &str, health: &str) {
    desired::write_desired(dir, info, "1.4", transport, "1m", health);
}

fn vnfsync(dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let r = desired::vnfsync_in(dir, args);
    (r.code, r.stdout, r.stderr)
}

fn canary(info: &Value, dir: &std::path::Path, texts: &[&str]) {
    desired::assert_no_secret(info, &dir.join("state/journal.redb"), texts);
}

const PASSING: &str = "  - {kind: login}\n  - {kind: command, run: show version, expect: 'VyOS'}\n";
const FAILING: &str = "  - {kind: command, run: show version, expect: 'NOT-THIS-ROUTER'}\n";

#[test]
fn apply_converges_then_has_nothing_to_do_and_probe_reports_contact() {
    for transport in ["ssh", "http"] {
        let (_lab, info) = start_lab("1.4", &[]);
        let dir = tempfile::tempdir().expect("tempdir");
        state(dir.path(), &info, transport, PASSING);
        let (code, out, err) = vnfsync(dir.path(), &["apply", "--yes"]);
        assert_eq!(code, 0, "{transport}: {out}\n{err}");
        assert!(out.contains("completed"), "{out}");
        let (code, out2, err2) = vnfsync(dir.path(), &["apply", "--yes"]);
        assert_eq!(code, 0, "{out2}\n{err2}");
        assert!(out2.contains("in_sync"), "{out2}");
        let (code, probe, err3) = vnfsync(dir.path(), &["probe", "lab", "--format", "json"]);
        assert_eq!(code, 0, "{probe}\n{err3}");
        let v: Value = serde_json::from_str(probe.trim()).expect("json");
        assert_eq!(v["reachable"], true, "{v}");
        assert!(v["latency_ms"].as_f64().is_some(), "{v}");
        assert!(v["last_contact"].as_str().is_some(), "{v}");
        assert_eq!(v["probes"].as_array().map(Vec::len), Some(2), "{v}");
        canary(
            &info,
            dir.path(),
            &[&out, &err, &out2, &err2, &probe, &err3],
        );
    }
}

#[test]
fn apply_with_a_failing_probe_exits_3_rolled_back() {
    let (_lab, info) = start_lab("1.4", &[]);
    let dir = tempfile::tempdir().expect("tempdir");
    state(dir.path(), &info, "ssh", FAILING);
    let (code, out, err) = vnfsync(dir.path(), &["apply", "--yes"]);
    assert_eq!(code, 3, "{out}\n{err}");
    assert!(out.contains("rolled_back"), "{out}");
    assert!(out.contains("command show version"), "{out}");
    canary(&info, dir.path(), &[&out, &err]);
}

/// On a terminal (util-linux `script` gives it one), `apply` without `--yes` prints the plan
/// first, then asks; "n" writes nothing.
#[test]
fn apply_on_a_terminal_shows_the_plan_and_asks() {
    let (_lab, info) = start_lab("1.4", &[]);
    let dir = tempfile::tempdir().expect("tempdir");
    state(dir.path(), &info, "ssh", PASSING);
    let since = desired::log_len(&info);
    let d = dir.path();
    let line = format!(
        "{} apply --repo {} --path . --state-dir {}",
        env!("CARGO_BIN_EXE_vnfsync"),
        d.join("desired").display(),
        d.join("state").display()
    );
    let mut child = std::process::Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("util-linux script");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(b"n\n").expect("answer");
    }
    let out = child.wait_with_output().expect("apply on a terminal");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("set "),
        "the plan's commands come first: {text}"
    );
    let plan_at = text.find("set ").expect("plan");
    let question_at = text.find("appliance(s)? [y/N]").expect("the question");
    assert!(plan_at < question_at, "{text}");
    assert!(text.contains("nothing applied"), "{text}");
    assert!(
        desired::writes_since(&info, since).is_empty(),
        "{:?}",
        desired::writes_since(&info, since)
    );
}

#[test]
fn apply_without_yes_off_a_terminal_writes_nothing() {
    let (_lab, info) = start_lab("1.4", &[]);
    let dir = tempfile::tempdir().expect("tempdir");
    state(dir.path(), &info, "ssh", PASSING);
    let (code, _, err) = vnfsync(dir.path(), &["apply"]);
    assert_eq!(code, 64, "{err}");
    assert!(err.contains("--yes"), "{err}");
}

#[test]
fn snapshots_rollback_and_resume() {
    let (_lab, info) = start_lab("1.4", &[]);
    let dir = tempfile::tempdir().expect("tempdir");
    state(dir.path(), &info, "ssh", PASSING);
    let (code, out, err) = vnfsync(dir.path(), &["apply", "--yes"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let (code, list, err) = vnfsync(dir.path(), &["snapshots", "lab", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(list.trim()).expect("json");
    let id = v[0]["id"].as_str().expect("a snapshot").to_string();
    // The snapshot holds the config before the change: rolling back to it removes the route.
    let (code, out, err) = vnfsync(dir.path(), &["rollback", "lab", "--snapshot", &id]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("completed"), "{out}");
    let active = reqwest::blocking::get(format!(
        "{}/active",
        info["control"].as_str().expect("control")
    ))
    .and_then(|r| r.text())
    .expect("active");
    assert!(!active.contains("10.20.0.0/16"), "{active}");
    let (code, out, err) = vnfsync(dir.path(), &["resume", "lab"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("resumed"), "{out}");
}

/// The secrets canary: with debug logs in text and in JSON, over SSH and the HTTP API, through
/// a converging apply, a rolled-back one, a probe, the snapshot list and an operator's
/// rollback, the lab's password and API key appear in no log line, no output and no byte of
/// the journal.
#[test]
fn secrets_canary_over_logs_output_and_journal() {
    for transport in ["ssh", "http"] {
        for format in ["text", "json"] {
            let ctx = format!("{transport}/{format}");
            let (_lab, info) = start_lab("1.4", &[]);
            let dir = tempfile::tempdir().expect("tempdir");
            let env = [("VNFSYNC_LOG", "debug"), ("VNFSYNC_LOG_FORMAT", format)];
            let run = |args: &[&str]| {
                let repo = dir.path().join("desired").display().to_string();
                let state = dir.path().join("state").display().to_string();
                let mut all = args.to_vec();
                all.extend(["--repo", &repo, "--path", ".", "--state-dir", &state]);
                desired::vnfsync_env(&all, &env)
            };
            let mut seen = Vec::new();
            state(dir.path(), &info, transport, PASSING);
            let r = run(&["apply", "--yes"]);
            assert_eq!(r.code, 0, "{ctx}: {}\n{}", r.stdout, r.stderr);
            assert!(!r.stderr.is_empty(), "{ctx}: debug logs were written");
            if format == "json" {
                for line in r.stderr.lines().filter(|l| l.starts_with('{')) {
                    serde_json::from_str::<Value>(line)
                        .unwrap_or_else(|e| panic!("{ctx}: not a JSON log line: {e}: {line}"));
                }
            }
            seen.push(r);
            seen.push(run(&["probe", "lab"]));
            seen.push(run(&["snapshots", "lab"]));
            // A change (another route) whose probe fails.
            state(dir.path(), &info, transport, FAILING);
            let file = dir.path().join("desired/appliances/lab.yaml");
            let text = std::fs::read_to_string(&file).expect("read");
            std::fs::write(&file, text.replace("10.20.0.0/16", "10.21.0.0/16")).expect("write");
            let r = run(&["apply", "--yes"]);
            assert_eq!(r.code, 3, "{ctx}: {}\n{}", r.stdout, r.stderr);
            seen.push(r);
            seen.push(run(&["rollback", "lab"]));
            let texts: Vec<&str> = seen
                .iter()
                .flat_map(|r| [r.stdout.as_str(), r.stderr.as_str()])
                .collect();
            canary(&info, dir.path(), &texts);
        }
    }
}
