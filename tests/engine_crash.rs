//! The crash matrix (build with `--features failpoints`): `vnfsync apply` aborted at every
//! failpoint of a pass, then run again: no operation is left open and the device holds the
//! target. Runs on 1.3, 1.4 and 1.5 over SSH and HTTP. A crash inside a rollback (after the
//! restore) ends `rolled_back` with no confirm timer left; a crash inside a 1.4 confirm window
//! followed by the device's reboot ends `rolled_back`.
#![cfg(feature = "failpoints")]
#![allow(clippy::disallowed_methods)]

use std::process::Command;

use serde_json::Value;
use vnfsync::journal::{Journal, Options};

#[path = "support/desired.rs"]
mod desired;
#[path = "support/lab_process.rs"]
mod lab_process;
use lab_process::start_lab;

fn write_state(dir: &std::path::Path, info: &Value, profile: &str, transport: &str) {
    desired::write_desired(dir, info, profile, transport, "5m", "  - {kind: login}\n");
}

fn apply(dir: &std::path::Path, failpoint: Option<&str>) -> (i32, String) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vnfsync"));
    c.args(["apply", "--yes", "--path", "."])
        .arg("--repo")
        .arg(dir.join("desired"))
        .arg("--state-dir")
        .arg(dir.join("state"));
    if let Some(f) = failpoint {
        c.env("VNFSYNC_FAILPOINT", f);
    }
    let out = c.output().expect("run");
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn crash_at_every_failpoint_then_restart_leaves_nothing_open() {
    let points = [
        "reconcile.before_fetch",
        "reconcile.after_fetch",
        "reconcile.after_intent",
        "reconcile.after_snapshot",
        "reconcile.after_apply",
        "reconcile.after_probes",
        "reconcile.after_confirm",
    ];
    for profile in ["1.3", "1.4", "1.5"] {
        for transport in ["ssh", "http"] {
            for point in points {
                let ctx = format!("{profile}/{transport}/{point}");
                let (_lab, info) = start_lab(profile, &[]);
                let dir = tempfile::tempdir().expect("tempdir");
                write_state(dir.path(), &info, profile, transport);
                let (code, out) = apply(dir.path(), Some(point));
                assert_ne!(code, 0, "{ctx}: the failpoint aborts: {out}");
                let (code, out) = apply(dir.path(), None);
                assert_eq!(code, 0, "{ctx}: {out}");
                let journal =
                    Journal::open(dir.path().join("state/journal.redb"), Options::default())
                        .expect("journal");
                let open = journal.in_flight().wait().expect("in flight");
                assert!(open.is_empty(), "{ctx}: left open: {open:?}");
                let active = reqwest::blocking::get(format!(
                    "{}/active",
                    info["control"].as_str().expect("control")
                ))
                .and_then(|r| r.text())
                .expect("active");
                assert!(active.contains("10.20.0.0/16"), "{ctx}: target in place");
            }
        }
    }
}

/// The operations of `lab` in the journal of `dir`, newest first, and whether any is open.
fn ops(dir: &std::path::Path) -> (Vec<vnfsync::journal::Operation>, bool) {
    let journal =
        Journal::open(dir.join("state/journal.redb"), Options::default()).expect("journal");
    let open = !journal.in_flight().wait().expect("in flight").is_empty();
    let page = journal
        .query(vnfsync::journal::Query {
            appliance: Some("lab".into()),
            ..Default::default()
        })
        .wait()
        .expect("ops");
    (page.ops, open)
}

const FAILING: &str = "  - {kind: command, run: show version, expect: 'NOT-THIS-ROUTER'}\n";

#[test]
fn crash_inside_a_rollback_then_restart_ends_rolled_back() {
    for (profile, transport) in [
        ("1.3", "ssh"),
        ("1.4", "ssh"),
        ("1.4", "http"),
        ("1.5", "ssh"),
        ("1.5", "http"),
    ] {
        let ctx = format!("{profile}/{transport}");
        let (_lab, info) = start_lab(profile, &[]);
        let dir = tempfile::tempdir().expect("tempdir");
        desired::write_desired(dir.path(), &info, profile, transport, "5m", FAILING);
        let before = desired::lab_get(&info, "/active");
        let (code, out) = apply(dir.path(), Some("rollback.after_restore"));
        assert_ne!(code, 0, "{ctx}: the failpoint aborts: {out}");
        let (_, out) = apply(dir.path(), None);
        let (ops, open) = ops(dir.path());
        assert!(!open, "{ctx}: left open: {ops:#?}");
        assert_eq!(
            ops[0].state,
            vnfsync::journal::OpState::RolledBack,
            "{ctx}: {out}\n{ops:#?}"
        );
        assert_eq!(
            desired::lab_get(&info, "/active"),
            before,
            "{ctx}: the base"
        );
        if transport == "ssh" || profile == "1.5" {
            // The device's timer was armed: recovery stopped it by confirming the base.
            assert!(
                ops[0]
                    .steps
                    .iter()
                    .any(|s| s.what.contains("stop the timer")),
                "{ctx}: {:#?}",
                ops[0].steps
            );
        }
        let summary: Value = serde_json::from_str(&desired::lab_get(&info, "")).expect("summary");
        assert!(
            summary["pending_confirm"].is_null(),
            "{ctx}: no timer left to reboot the box: {summary}"
        );
        assert_eq!(summary["reboots"], 0, "{ctx}: {summary}");
    }
}

#[test]
fn crash_inside_a_confirm_window_then_reboot_ends_rolled_back() {
    let (_lab, info) = start_lab("1.4", &["--reboot-seconds", "1"]);
    let dir = tempfile::tempdir().expect("tempdir");
    write_state(dir.path(), &info, "1.4", "ssh");
    let before = desired::lab_get(&info, "/active");
    // Killed after the commit-confirm and the probes, before the confirm.
    let (code, out) = apply(dir.path(), Some("reconcile.after_probes"));
    assert_ne!(code, 0, "the failpoint aborts: {out}");
    let summary: Value = serde_json::from_str(&desired::lab_get(&info, "")).expect("summary");
    assert_eq!(summary["pending_confirm"], "reboot", "{summary}");
    // The device reboots (its timer, or a power cycle) to the config saved before the change.
    let url = format!("{}/reboot", info["control"].as_str().expect("control"));
    reqwest::blocking::Client::new()
        .post(&url)
        .send()
        .and_then(|r| r.error_for_status())
        .expect("reboot");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let s: Value = serde_json::from_str(&desired::lab_get(&info, "")).expect("summary");
        if s["up"] == true {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the lab did not come back: {s}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let (_, out) = apply(dir.path(), None);
    let (ops, open) = ops(dir.path());
    assert!(!open, "left open: {ops:#?}");
    let crashed = ops.iter().last().expect("the crashed operation");
    assert_eq!(
        crashed.state,
        vnfsync::journal::OpState::RolledBack,
        "{out}\n{ops:#?}"
    );
    assert_eq!(desired::lab_get(&info, "/active"), before, "the base");
}
