//! `vnfsync apply` and `vnfsync probe`, the real binary against the lab: converge, re-apply
//! with nothing to do, a failing probe rolled back (exit 3), probe's reachability and last
//! contact (charter test 3), and the secrets canary over output and journal bytes.

#![allow(clippy::disallowed_methods)]

use std::process::Command;

use serde_json::Value;

#[path = "support/lab_process.rs"]
mod lab_process;
use lab_process::start_lab;

fn state(dir: &std::path::Path, info: &Value, transport: &str, health: &str) {
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
            "name: lab\ndictionary: vyos-1.4\nendpoint:\n{endpoint}owns:\n  - protocols static\ncommit:\n  confirm_window: 1m\nhealth:\n{health}routes:\n  - {{prefix: 10.20.0.0/16, next_hop: 192.0.2.253}}\n"
        ),
    )
    .expect("write");
}

fn vnfsync(dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_vnfsync"))
        .args(args)
        .args([
            "--repo",
            &dir.join("desired").display().to_string(),
            "--path",
            ".",
            "--state-dir",
            &dir.join("state").display().to_string(),
        ])
        .output()
        .expect("run vnfsync");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn canary(info: &Value, dir: &std::path::Path, texts: &[&str]) {
    let secrets = [
        info["password"].as_str().expect("pw"),
        info["api_key"].as_str().expect("key"),
    ];
    for t in texts {
        for s in secrets {
            assert!(!t.contains(s), "a secret leaked into output: {t}");
        }
    }
    let journal = std::fs::read(dir.join("state/journal.redb")).expect("journal");
    for s in secrets {
        assert!(
            !journal.windows(s.len()).any(|w| w == s.as_bytes()),
            "a secret is in the journal file"
        );
    }
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
