//! Starting the real `vnfsync lab` binary for a test and reading its JSON lines.
//! Shared by the driver tests (`#[path = "support/lab_process.rs"] mod lab_process;`).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

/// A child process killed (and reaped) on drop.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `vnfsync lab --vyos 1 --profile PROFILE EXTRA…`; returns the process and its JSON line.
pub fn start_lab(profile: &str, extra: &[&str]) -> (Killed, Value) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vnfsync"))
        .args(["lab", "--vyos", "1", "--profile", profile])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start vnfsync lab");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let line = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the lab prints its JSON line");
    (
        Killed(child),
        serde_json::from_str(&line).expect("JSON line"),
    )
}
