//! The crash matrix (build with `--features failpoints`): `vnfsync apply` aborted at every
//! failpoint of a pass, then run again: no operation is left open and the device holds the
//! target. Runs on 1.4 and 1.5 over SSH and HTTP.
#![cfg(feature = "failpoints")]
#![allow(clippy::disallowed_methods)]

use std::process::Command;

use serde_json::Value;
use vnfsync::journal::{Journal, Options};

#[path = "support/lab_process.rs"]
mod lab_process;
use lab_process::start_lab;

fn write_state(dir: &std::path::Path, info: &Value, profile: &str, transport: &str) {
    let secrets = dir.join("secrets");
    std::fs::create_dir_all(&secrets).expect("mkdir");
    for key in ["password", "api_key"] {
        std::fs::write(secrets.join(key), info[key].as_str().expect("secret")).expect("write");
    }
    let addr = |k: &str| {
        let a = info[k]
            .as_str()
            .expect("addr")
            .trim_start_matches("http://");
        let (h, p) = a.rsplit_once(':').expect("host:port");
        (h.to_string(), p.to_string())
    };
    let endpoint = if transport == "ssh" {
        let (h, p) = addr("ssh");
        format!(
            "  transport: ssh\n  host: {h}\n  port: {p}\n  user: {}\n  password: file:{}/password\n  host_key: {}\n",
            info["user"].as_str().expect("user"),
            secrets.display(),
            info["host_key_fingerprint"].as_str().expect("fp")
        )
    } else {
        let (h, p) = addr("api");
        format!(
            "  transport: vyos-http\n  scheme: http\n  host: {h}\n  port: {p}\n  api_key: file:{}/api_key\n",
            secrets.display()
        )
    };
    let desired = dir.join("desired/appliances");
    std::fs::create_dir_all(&desired).expect("mkdir");
    std::fs::write(
        desired.join("lab.yaml"),
        format!(
            "name: lab\ndictionary: vyos-{profile}\nendpoint:\n{endpoint}owns:\n  - protocols static\ncommit:\n  confirm_window: 5m\nhealth:\n  - {{kind: login}}\nroutes:\n  - {{prefix: 10.20.0.0/16, next_hop: 192.0.2.253}}\n"
        ),
    )
    .expect("write");
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
