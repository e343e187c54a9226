//! A desired state pointed at a lab appliance, for the tests that run the real binary
//! (`#[path = "support/desired.rs"] mod desired;`, next to `lab_process`): the lab's secrets
//! written to files the appliance references, the endpoint block per transport, an appliance
//! file, git, running `vnfsync`, and the lab's control endpoint (active config, command log).
#![allow(dead_code, clippy::disallowed_methods)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

#[path = "lab_log.rs"]
mod lab_log;

/// The lab's password and API key, written to `DIR/secrets/{password,api_key}`.
pub fn write_secrets(dir: &Path, info: &Value) -> PathBuf {
    let secrets = dir.join("secrets");
    std::fs::create_dir_all(&secrets).expect("mkdir");
    for key in ["password", "api_key"] {
        std::fs::write(secrets.join(key), info[key].as_str().expect("secret")).expect("write");
    }
    secrets
}

/// The `endpoint:` block (indented, without the key) for `ssh` or `http`.
pub fn endpoint(info: &Value, secrets: &Path, transport: &str) -> String {
    let addr = |k: &str| {
        let a = info[k]
            .as_str()
            .expect("addr")
            .trim_start_matches("http://");
        let (h, p) = a.rsplit_once(':').expect("host:port");
        (h.to_string(), p.to_string())
    };
    if transport == "ssh" {
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
    }
}

/// An appliance file `lab` for the lab appliance: `owns` lines (each `  - …\n`), the confirm
/// window, the `health:` list and the resources after it.
#[allow(clippy::too_many_arguments)]
pub fn appliance(
    info: &Value,
    secrets: &Path,
    profile: &str,
    transport: &str,
    owns: &str,
    window: &str,
    health: &str,
    resources: &str,
) -> String {
    format!(
        "name: lab\ndictionary: vyos-{profile}\nendpoint:\n{}owns:\n{owns}commit:\n  confirm_window: {window}\nhealth:\n{health}{resources}",
        endpoint(info, secrets, transport)
    )
}

/// The route every engine test converges to, owned under `protocols static`.
pub const ROUTE: &str = "routes:\n  - {prefix: 10.20.0.0/16, next_hop: 192.0.2.253}\n";
pub const OWNS_STATIC: &str = "  - protocols static\n";

/// `DIR/desired/appliances/lab.yaml` owning `protocols static` with [`ROUTE`].
pub fn write_desired(
    dir: &Path,
    info: &Value,
    profile: &str,
    transport: &str,
    window: &str,
    health: &str,
) {
    let secrets = write_secrets(dir, info);
    let desired = dir.join("desired/appliances");
    std::fs::create_dir_all(&desired).expect("mkdir");
    std::fs::write(
        desired.join("lab.yaml"),
        appliance(
            info,
            &secrets,
            profile,
            transport,
            OWNS_STATIC,
            window,
            health,
            ROUTE,
        ),
    )
    .expect("write");
}

/// `git -C DIR ARGS…` with a fixed identity; its trimmed stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// What one run of the binary gave.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// `vnfsync ARGS…` with extra environment.
pub fn vnfsync_env(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vnfsync"));
    c.args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().expect("run vnfsync");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `vnfsync ARGS…`.
pub fn vnfsync(args: &[&str]) -> Run {
    vnfsync_env(args, &[])
}

/// `vnfsync ARGS… --repo DIR/desired --path . --state-dir DIR/state` (the work tree).
pub fn vnfsync_in(dir: &Path, args: &[&str]) -> Run {
    let repo = dir.join("desired").display().to_string();
    let state = dir.join("state").display().to_string();
    let mut all = args.to_vec();
    all.extend(["--repo", &repo, "--path", ".", "--state-dir", &state]);
    vnfsync(&all)
}

/// `GET` on the lab appliance's control URL (`path` after it, such as `/active` or `/log`).
pub fn lab_get(info: &Value, path: &str) -> String {
    let url = format!("{}{path}", info["control"].as_str().expect("control"));
    reqwest::blocking::get(&url)
        .and_then(|r| r.text())
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
}

/// The sequence number of the last command in the lab's log.
pub fn log_len(info: &Value) -> u64 {
    let log: Value = serde_json::from_str(&lab_get(info, "/log")).expect("log json");
    log.as_array()
        .and_then(|a| a.last())
        .and_then(|e| e["seq"].as_u64())
        .unwrap_or(0)
}

/// The commands after `since` that write (configuration verbs, commit, confirm, save, load,
/// the API's `configure` and `config-file`).
pub fn writes_since(info: &Value, since: u64) -> Vec<String> {
    let log: Value =
        serde_json::from_str(&lab_get(info, &format!("/log?since={since}"))).expect("log json");
    lab_log::writes(&log)
}

/// The lab's password and API key appear in none of `texts` and in no byte of the journal.
pub fn assert_no_secret(info: &Value, journal: &Path, texts: &[&str]) {
    let secrets = [
        info["password"].as_str().expect("pw"),
        info["api_key"].as_str().expect("key"),
    ];
    for t in texts {
        for s in secrets {
            assert!(!t.contains(s), "a secret leaked into output: {t}");
        }
    }
    let bytes = std::fs::read(journal).expect("journal");
    for s in secrets {
        assert!(
            !bytes.windows(s.len()).any(|w| w == s.as_bytes()),
            "a secret is in the journal file"
        );
    }
}

/// Change the lab appliance out of band, as an operator on its console would (the control
/// endpoint's `exec`, one commit).
pub fn out_of_band(info: &Value, lines: &str) {
    let url = format!("{}/exec", info["control"].as_str().expect("control"));
    let script = format!(
        "source /opt/vyatta/etc/functions/script-template\nconfigure\n{lines}\ncommit\nexit\n"
    );
    let r = reqwest::blocking::Client::new()
        .post(&url)
        .body(serde_json::json!({"command": "vbash -s", "stdin": script}).to_string())
        .header("content-type", "application/json")
        .send()
        .and_then(|r| r.text())
        .unwrap_or_else(|e| panic!("POST {url}: {e}"));
    assert!(!r.contains("\"error\""), "{r}");
}
