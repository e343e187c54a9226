//! `vnfsync demo --json` (the real binary): comes up, every appliance converged, the API
//! answers with the printed token, and SIGINT stops everything and removes the temporary
//! directory. The lab's secrets never appear in the API's answers.

// The demo is another process with its own clock: deadlines are wall-clock.
#![allow(clippy::disallowed_methods)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

#[test]
fn demo_comes_up_converged_and_cleans_up() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vnfsync"))
        .args(["demo", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start demo");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let line = match rx.recv_timeout(Duration::from_secs(180)) {
        Ok(l) => l,
        Err(e) => {
            let _ = child.kill();
            panic!("no JSON line from vnfsync demo: {e}");
        }
    };
    let v: Value = serde_json::from_str(&line).expect("one JSON line");
    let api = v["api"].as_str().expect("api");
    let token = v["token"].as_str().expect("token");
    let repo = std::path::PathBuf::from(v["repo"].as_str().expect("repo"));
    assert!(repo.join(".git").is_dir());
    let client = reqwest::blocking::Client::new();
    let status: Value = client
        .get(format!("{api}/v1/status"))
        .bearer_auth(token)
        .send()
        .and_then(|r| r.json())
        .expect("status");
    assert_eq!(status["converged"], true, "{status:#}");
    assert_eq!(status["appliances"].as_array().map(Vec::len), Some(3));
    let secrets = repo.parent().expect("demo dir").join("secrets");
    for entry in std::fs::read_dir(&secrets).expect("secrets") {
        let secret = std::fs::read_to_string(entry.expect("entry").path()).expect("secret");
        for path in ["/v1/status", "/v1/appliances", "/v1/operations", "/metrics"] {
            let body = client
                .get(format!("{api}{path}"))
                .bearer_auth(token)
                .send()
                .and_then(|r| r.text())
                .expect("GET");
            assert!(!body.contains(secret.trim()), "a lab secret in {path}");
        }
    }
    assert!(
        Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .expect("kill")
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("demo did not stop on SIGINT");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    assert!(!repo.exists(), "the temporary directory is removed");
}
