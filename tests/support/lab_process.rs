//! Starting the real `vnfsync lab` binary for a test and reading its JSON lines.
//! Shared by the lab and driver tests (`#[path = "support/lab_process.rs"] mod lab_process;`);
//! each test crate uses part of it, and the lab is another process with its own clock, so the
//! deadline is wall-clock.
#![allow(dead_code, clippy::disallowed_methods)]

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

/// `vnfsync lab ARGS…`, waiting (at most 30 s) for its first `count` JSON lines. The process is
/// killed on any failure.
pub fn spawn_lab(args: &[&str], count: usize) -> Result<(Killed, Vec<Value>), String> {
    // Failed logins wait 2 s by default (as sshd); tests that try wrong credentials need not.
    let delay: &[&str] = if args.contains(&"--login-delay-ms") {
        &[]
    } else {
        &["--login-delay-ms", "100"]
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_vnfsync"))
        .arg("lab")
        .args(args)
        .args(delay)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("start vnfsync lab: {e}"))?;
    let stdout = child.stdout.take();
    let process = Killed(child);
    let stdout = stdout.ok_or("vnfsync lab has no stdout")?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut lines = Vec::with_capacity(count);
    while lines.len() < count {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let line = rx
            .recv_timeout(left)
            .map_err(|_| format!("vnfsync lab printed {} of {count} JSON lines", lines.len()))?;
        lines.push(
            serde_json::from_str(&line).map_err(|e| format!("not a JSON line: {line}: {e}"))?,
        );
    }
    Ok((process, lines))
}

/// `vnfsync lab --vyos 1 --profile PROFILE EXTRA…`; returns the process and its JSON line.
pub fn start_lab(profile: &str, extra: &[&str]) -> (Killed, Value) {
    let mut args = vec!["--vyos", "1", "--profile", profile];
    args.extend_from_slice(extra);
    let (process, mut lines) = spawn_lab(&args, 1).unwrap_or_else(|e| panic!("{e}"));
    (process, lines.remove(0))
}
