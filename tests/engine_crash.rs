//! The crash matrix (build with `--features failpoints`): `vnfsync apply` aborted at every
//! failpoint of a pass, then run again: no operation is left open and the device holds the
//! target. Runs on 1.4 and 1.5 over SSH and HTTP.
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
    for profile in ["1.4", "1.5"] {
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
