//! The real `vnfsync daemon` against a temporary git repository and a lab appliance: a commit
//! converges (polling `/v1/status` with a deadline), an invalid commit is rejected while the
//! last good one stays served, `/metrics` passes `promtool check metrics`, auth answers
//! 401/403 and a tenant's token never sees another tenant's appliance, SIGHUP reloads, and the
//! systemd notify protocol (READY, WATCHDOG, RELOADING, STOPPING) is seen on a test
//! `NOTIFY_SOCKET`; SIGTERM drains and exits 0. The lab's secrets never reach the API or logs.

// The daemon and the lab are other processes with their own clocks: deadlines are wall-clock.
#![allow(clippy::disallowed_methods)]

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

#[path = "support/lab_process.rs"]
mod lab_process;
use lab_process::{Killed, start_lab};

fn git(dir: &Path, args: &[&str]) -> String {
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

/// `vnfsync ops --format json` output: every operation ended (and, if `some`, there is one).
fn assert_no_open_operation(stdout: &[u8], some: bool) {
    let v: Value = serde_json::from_slice(stdout).expect("ops json");
    let ops = v["operations"].as_array().expect("operations");
    assert!(!some || !ops.is_empty(), "no operation journaled");
    for op in ops {
        let state = op["state"].as_str().expect("state");
        assert!(
            ["completed", "rolled_back", "failed"].contains(&state),
            "operation left {state}: {op:#}"
        );
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

struct Api {
    base: String,
    client: reqwest::blocking::Client,
}

impl Api {
    fn call(&self, method: &str, path: &str, token: Option<&str>) -> (u16, String) {
        let mut req = self.client.request(
            method.parse().expect("method"),
            format!("{}{path}", self.base),
        );
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        match req.send() {
            Ok(r) => {
                let s = r.status().as_u16();
                (s, r.text().unwrap_or_default())
            }
            Err(e) => (0, e.to_string()),
        }
    }

    fn json(&self, path: &str, token: &str) -> Value {
        let (s, text) = self.call("GET", path, Some(token));
        assert_eq!(s, 200, "GET {path}: {text}");
        serde_json::from_str(&text).expect("json")
    }

    /// Poll until `pred` holds for `path`'s JSON, or fail after `within`.
    fn wait(
        &self,
        path: &str,
        token: &str,
        within: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + within;
        let mut last = Value::Null;
        while Instant::now() < deadline {
            let (s, text) = self.call("GET", path, Some(token));
            if s == 200 {
                last = serde_json::from_str(&text).unwrap_or(Value::Null);
                if pred(&last) {
                    return last;
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("{path}: condition not met within {within:?}; last: {last:#}");
    }
}

/// Datagrams received on the test NOTIFY_SOCKET, until `want` is seen.
fn notified(sock: &UnixDatagram, seen: &mut Vec<String>, want: &str, within: Duration) {
    let deadline = Instant::now() + within;
    while !seen.iter().any(|s| s.lines().any(|l| l == want)) {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "`{want}` not notified; seen {seen:?}");
        sock.set_read_timeout(Some(left)).expect("timeout");
        let mut buf = [0u8; 4096];
        if let Ok(n) = sock.recv(&mut buf) {
            seen.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    }
}

fn appliance_yaml(name: &str, tenant: &str, lab: &Value, secrets: &Path, route: &str) -> String {
    appliance_yaml_owning(name, tenant, lab, secrets, route, "  - protocols static\n")
}

fn appliance_yaml_owning(
    name: &str,
    tenant: &str,
    lab: &Value,
    secrets: &Path,
    route: &str,
    owns: &str,
) -> String {
    let ssh = lab["ssh"].as_str().expect("ssh");
    let (host, port) = ssh.rsplit_once(':').expect("host:port");
    format!(
        "name: {name}\ndictionary: vyos-1.4\nlabels:\n  tenant: {tenant}\nendpoint:\n  transport: ssh\n  host: {host}\n  port: {port}\n  user: {}\n  password: file:{}/password\n  host_key: {}\nowns:\n{}commit:\n  confirm_window: 1m\nhealth:\n  - kind: login\nroutes:\n  - {{prefix: {route}, next_hop: 192.0.2.253}}\n",
        lab["user"].as_str().expect("user"),
        secrets.display(),
        lab["host_key_fingerprint"].as_str().expect("fp"),
        owns,
    )
}

/// Change the lab appliance out of band, as an operator on its console would.
fn out_of_band(lab: &Value, lines: &str) {
    let url = format!("{}/exec", lab["control"].as_str().expect("control"));
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

fn active(lab: &Value) -> String {
    let url = format!("{}/active", lab["control"].as_str().expect("control"));
    reqwest::blocking::get(&url)
        .and_then(|r| r.text())
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
}

#[test]
fn daemon_converges_rejects_bad_commits_and_speaks_systemd() {
    let (_lab, info) = start_lab("1.4", &[]);
    let password = info["password"].as_str().expect("password").to_string();
    let work = tempfile::tempdir().expect("tempdir");
    let secrets = work.path().join("secrets");
    std::fs::create_dir_all(&secrets).expect("mkdir");
    std::fs::write(secrets.join("password"), &password).expect("write");

    // The desired state sits in a subfolder of the repository.
    let repo = work.path().join("repo");
    let apps = repo.join("state/appliances");
    std::fs::create_dir_all(&apps).expect("mkdir");
    git(&repo, &["init", "-q", "-b", "main"]);
    std::fs::write(
        apps.join("edge.yaml"),
        appliance_yaml("edge", "netops", &info, &secrets, "10.20.0.0/16"),
    )
    .expect("write");
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "edge"]);
    let first = git(&repo, &["rev-parse", "HEAD"]);

    let tokens = work.path().join("tokens");
    std::fs::write(
        &tokens,
        [
            vnfsync::api::auth::entry_line(
                "admin",
                &[vnfsync::api::Scope::Read, vnfsync::api::Scope::Write],
                None,
                "admin-secret",
            ),
            vnfsync::api::auth::entry_line(
                "reader",
                &[vnfsync::api::Scope::Read],
                None,
                "reader-secret",
            ),
            vnfsync::api::auth::entry_line(
                "branches",
                &[vnfsync::api::Scope::Read],
                Some("branches"),
                "branches-secret",
            ),
        ]
        .join("\n"),
    )
    .expect("tokens");

    let notify_path = work.path().join("notify.sock");
    let notify = UnixDatagram::bind(&notify_path).expect("notify socket");
    let port = free_port();
    let log = work.path().join("daemon.log");
    let mut daemon = Killed(
        Command::new(env!("CARGO_BIN_EXE_vnfsync"))
            .args(["daemon", "--repo"])
            .arg(&repo)
            .args(["--path", "state", "--branch", "main", "--state-dir"])
            .arg(work.path().join("state"))
            .args(["--listen", &format!("127.0.0.1:{port}"), "--tokens"])
            .arg(format!("file:{}", tokens.display()))
            .env("NOTIFY_SOCKET", &notify_path)
            .env("WATCHDOG_USEC", "400000")
            .env("VNFSYNC_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("start daemon"),
    );
    let api = Api {
        base: format!("http://127.0.0.1:{port}"),
        client: reqwest::blocking::Client::new(),
    };
    let admin = "admin-secret";
    let mut seen = Vec::new();
    notified(&notify, &mut seen, "READY=1", Duration::from_secs(30));

    // 1. The first commit converges.
    let st = api.wait("/v1/status", admin, Duration::from_secs(60), |s| {
        s["converged"] == true && s["commit"] == first.as_str()
    });
    assert_eq!(st["appliances"][0]["name"], "edge");
    assert_eq!(api.call("GET", "/readyz", None).0, 200);
    notified(&notify, &mut seen, "WATCHDOG=1", Duration::from_secs(10));

    // 2. Auth: 401 without or with a wrong token, 403 without the scope, tenant isolation.
    assert_eq!(api.call("GET", "/v1/status", None).0, 401);
    assert_eq!(api.call("GET", "/v1/status", Some("wrong")).0, 401);
    assert_eq!(api.call("POST", "/v1/sync", Some("reader-secret")).0, 403);
    let theirs = api.json("/v1/status", "branches-secret");
    assert_eq!(theirs["appliances"], serde_json::json!([]));
    for path in [
        "/v1/appliances/edge",
        "/v1/operations?appliance=edge",
        "/metrics",
    ] {
        assert_eq!(
            api.call("GET", path, Some("branches-secret")).0,
            404,
            "{path}"
        );
    }
    let ops = api.json("/v1/operations", "branches-secret");
    assert_eq!(ops["operations"], serde_json::json!([]));
    let mine = api.json("/v1/operations?appliance=edge", admin);
    assert!(!mine["operations"].as_array().expect("ops").is_empty());

    // 3. An invalid commit is rejected with file:line; the good one stays served.
    std::fs::write(
        apps.join("edge.yaml"),
        "name: edge\ndictionary: vyos-1.4\nbogus: 1\n",
    )
    .expect("write");
    git(&repo, &["commit", "-qam", "broken"]);
    let bad = git(&repo, &["rev-parse", "HEAD"]);
    let st = api.wait("/v1/status", admin, Duration::from_secs(20), |s| {
        s["rejected"]["commit"] == bad.as_str()
    });
    assert_eq!(st["commit"], first.as_str());
    let errors = st["rejected"]["errors"].to_string();
    assert!(errors.contains("appliances/edge.yaml:"), "{errors}");
    let c = api.json(&format!("/v1/commits/{bad}"), admin);
    assert_eq!(c["status"], "rejected");

    // 4. A good commit after it converges, and says what it touched.
    std::fs::write(
        apps.join("edge.yaml"),
        appliance_yaml("edge", "netops", &info, &secrets, "10.30.0.0/16"),
    )
    .expect("write");
    git(&repo, &["commit", "-qam", "route"]);
    let second = git(&repo, &["rev-parse", "HEAD"]);
    api.wait("/v1/status", admin, Duration::from_secs(60), |s| {
        s["converged"] == true && s["commit"] == second.as_str()
    });
    assert_eq!(
        api.call("POST", "/v1/appliances/edge/resume", Some(admin))
            .0,
        200
    );
    let c = api.json(&format!("/v1/commits/{second}"), admin);
    assert_eq!(c["affected"]["edge"]["outcome"], "completed", "{c:#}");

    // 5. /metrics is valid OpenMetrics for promtool.
    let (s, metrics) = api.call("GET", "/metrics", Some(admin));
    assert_eq!(s, 200);
    assert!(
        metrics.contains("vnfsync_rejected_commits_total 1"),
        "{metrics}"
    );
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (scripts/test-deps installs Debian's prometheus package)");
    std::io::Write::write_all(
        &mut promtool.stdin.take().expect("stdin"),
        metrics.as_bytes(),
    )
    .expect("write metrics");
    let out = promtool.wait_with_output().expect("promtool");
    assert!(
        out.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // 6. SIGHUP reloads through the startup path.
    let pid = daemon.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .expect("kill")
            .success()
    );
    notified(&notify, &mut seen, "RELOADING=1", Duration::from_secs(10));
    let readies = |seen: &Vec<String>| {
        seen.iter()
            .filter(|s| s.lines().any(|l| l == "READY=1"))
            .count()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while readies(&seen) < 2 {
        assert!(Instant::now() < deadline, "no READY after reload: {seen:?}");
        notify
            .set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        let mut buf = [0u8; 4096];
        if let Ok(n) = notify.recv(&mut buf) {
            seen.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    }

    // 7. SIGTERM: STOPPING, a drain, exit 0, and no operation left open.
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill")
            .success()
    );
    notified(&notify, &mut seen, "STOPPING=1", Duration::from_secs(10));
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = daemon.0.try_wait().expect("wait") {
            break s;
        }
        assert!(Instant::now() < deadline, "daemon did not stop");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit: {status:?}");
    let ops = Command::new(env!("CARGO_BIN_EXE_vnfsync"))
        .args(["ops", "--format", "json", "--state-dir"])
        .arg(work.path().join("state"))
        .output()
        .expect("vnfsync ops");
    assert_no_open_operation(&ops.stdout, false);

    // The lab's password never appears in the logs, the API answers or the journal.
    let logs = std::fs::read_to_string(&log).expect("log");
    assert!(!logs.contains(&password), "password in the daemon's log");
    assert!(!metrics.contains(&password));
    let journal = std::fs::read(vnfsync::journal::Journal::path_in(
        &work.path().join("state"),
    ))
    .expect("journal file");
    assert!(
        !journal
            .windows(password.len())
            .any(|w| w == password.as_bytes()),
        "password in the journal file"
    );
}

/// Onboarding is held when the first apply would delete config already on the device, until
/// approved; drift made out of band is reported under `alert` and put back under `overwrite`.
#[test]
fn onboarding_hold_and_drift_policies() {
    let (_lab, info) = start_lab("1.4", &[]);
    let password = info["password"].as_str().expect("password").to_string();
    let work = tempfile::tempdir().expect("tempdir");
    let secrets = work.path().join("secrets");
    std::fs::create_dir_all(&secrets).expect("mkdir");
    std::fs::write(secrets.join("password"), &password).expect("write");
    // Already on the device before vnfsync manages it.
    out_of_band(
        &info,
        "set protocols static route 10.99.0.0/16 next-hop 192.0.2.9",
    );
    assert!(active(&info).contains("10.99.0.0/16"));

    let repo = work.path().join("repo");
    let apps = repo.join("appliances");
    std::fs::create_dir_all(&apps).expect("mkdir");
    git(&repo, &["init", "-q", "-b", "main"]);
    std::fs::write(
        apps.join("edge.yaml"),
        appliance_yaml("edge", "netops", &info, &secrets, "10.20.0.0/16"),
    )
    .expect("write");
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "edge"]);
    let tokens = work.path().join("tokens");
    std::fs::write(
        &tokens,
        vnfsync::api::auth::entry_line(
            "admin",
            &[vnfsync::api::Scope::Read, vnfsync::api::Scope::Write],
            None,
            "admin-secret",
        ),
    )
    .expect("tokens");
    let config = work.path().join("vnfsync.toml");
    std::fs::write(&config, "[intervals]\ndrift_check = \"10s\"\n").expect("config");
    let port = free_port();
    let _daemon = Killed(
        Command::new(env!("CARGO_BIN_EXE_vnfsync"))
            .args(["daemon", "--config"])
            .arg(&config)
            .arg("--repo")
            .arg(&repo)
            .args(["--path", ".", "--branch", "main", "--state-dir"])
            .arg(work.path().join("state"))
            .args(["--listen", &format!("127.0.0.1:{port}"), "--tokens"])
            .arg(&tokens)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start daemon"),
    );
    let api = Api {
        base: format!("http://127.0.0.1:{port}"),
        client: reqwest::blocking::Client::new(),
    };
    let admin = "admin-secret";
    let st = api.wait("/v1/status", admin, Duration::from_secs(60), |s| {
        s["appliances"][0]["state"] == "held"
    });
    let reason = st["appliances"][0]["reason"].as_str().expect("reason");
    assert!(
        reason.contains("delete protocols static route 10.99.0.0/16"),
        "{reason}"
    );
    assert!(
        active(&info).contains("10.99.0.0/16"),
        "nothing pruned while held"
    );
    // `vnfsync approve` through the API, the token by reference.
    let out = Command::new(env!("CARGO_BIN_EXE_vnfsync"))
        .args([
            "approve",
            "edge",
            "--api",
            &api.base,
            "--token",
            "env:DEMO_TOKEN",
        ])
        .env("DEMO_TOKEN", admin)
        .output()
        .expect("vnfsync approve");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    api.wait("/v1/status", admin, Duration::from_secs(60), |s| {
        s["converged"] == true
    });
    assert!(!active(&info).contains("10.99.0.0/16"));

    // Drift under `alert`: reported at the next drift check, left on the device.
    out_of_band(
        &info,
        "set protocols static route 10.98.0.0/16 next-hop 192.0.2.9",
    );
    let st = api.wait("/v1/status", admin, Duration::from_secs(40), |s| {
        s["appliances"][0]["state"] == "drift"
    });
    assert!(
        st["appliances"][0]["reason"]
            .as_str()
            .expect("reason")
            .contains("10.98.0.0/16")
    );
    assert!(active(&info).contains("10.98.0.0/16"));
    let (_, metrics) = api.call("GET", "/metrics", Some(admin));
    assert!(
        metrics.contains("vnfsync_drift{appliance=\"edge\"} 1"),
        "{metrics}"
    );

    // The scope switched to `overwrite` (a commit, which also puts it back), then new drift is
    // put back by the drift check alone.
    std::fs::write(
        apps.join("edge.yaml"),
        appliance_yaml_owning(
            "edge",
            "netops",
            &info,
            &secrets,
            "10.20.0.0/16",
            "  - path: protocols static\n    drift: overwrite\n",
        ),
    )
    .expect("write");
    git(&repo, &["commit", "-qam", "overwrite"]);
    let head = git(&repo, &["rev-parse", "HEAD"]);
    api.wait("/v1/status", admin, Duration::from_secs(60), |s| {
        s["converged"] == true && s["commit"] == head.as_str()
    });
    assert!(!active(&info).contains("10.98.0.0/16"));
    out_of_band(
        &info,
        "set protocols static route 10.97.0.0/16 next-hop 192.0.2.9",
    );
    let deadline = Instant::now() + Duration::from_secs(40);
    while active(&info).contains("10.97.0.0/16") {
        assert!(Instant::now() < deadline, "overwrite drift not put back");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// SIGTERM while an apply is in flight: the daemon says STOPPING, lets the apply reach a safe
/// state, exits 0, and the journal holds no open operation.
#[test]
fn sigterm_during_an_apply_leaves_no_open_operation() {
    let (_lab, info) = start_lab("1.4", &[]);
    let password = info["password"].as_str().expect("password").to_string();
    let work = tempfile::tempdir().expect("tempdir");
    let secrets = work.path().join("secrets");
    std::fs::create_dir_all(&secrets).expect("mkdir");
    std::fs::write(secrets.join("password"), &password).expect("write");
    let repo = work.path().join("repo");
    let apps = repo.join("appliances");
    std::fs::create_dir_all(&apps).expect("mkdir");
    git(&repo, &["init", "-q", "-b", "main"]);
    std::fs::write(
        apps.join("edge.yaml"),
        appliance_yaml("edge", "netops", &info, &secrets, "10.20.0.0/16"),
    )
    .expect("write");
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "edge"]);
    // Every device command is slow, so the apply is surely in flight when SIGTERM comes.
    let faults = format!("{}/faults", info["control"].as_str().expect("control"));
    reqwest::blocking::Client::new()
        .post(&faults)
        .header("content-type", "application/json")
        .body(r#"{"latency_ms": 300}"#)
        .send()
        .expect("set faults");
    let tokens = work.path().join("tokens");
    std::fs::write(
        &tokens,
        vnfsync::api::auth::entry_line("admin", &[vnfsync::api::Scope::Read], None, "t"),
    )
    .expect("tokens");
    let notify_path = work.path().join("notify.sock");
    let notify = UnixDatagram::bind(&notify_path).expect("notify socket");
    let port = free_port();
    let mut daemon = Killed(
        Command::new(env!("CARGO_BIN_EXE_vnfsync"))
            .args(["daemon", "--repo"])
            .arg(&repo)
            .args(["--path", ".", "--state-dir"])
            .arg(work.path().join("state"))
            .args(["--listen", &format!("127.0.0.1:{port}"), "--tokens"])
            .arg(&tokens)
            .env("NOTIFY_SOCKET", &notify_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start daemon"),
    );
    let api = Api {
        base: format!("http://127.0.0.1:{port}"),
        client: reqwest::blocking::Client::new(),
    };
    let mut seen = Vec::new();
    notified(&notify, &mut seen, "READY=1", Duration::from_secs(30));
    // Wait until the journal has an operation under way, then stop the daemon.
    api.wait(
        "/v1/operations?appliance=edge",
        "t",
        Duration::from_secs(60),
        |v| {
            v["operations"]
                .as_array()
                .is_some_and(|o| o.iter().any(|op| op["state"] != "completed"))
        },
    );
    let pid = daemon.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill")
            .success()
    );
    notified(&notify, &mut seen, "STOPPING=1", Duration::from_secs(10));
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = daemon.0.try_wait().expect("wait") {
            break s;
        }
        assert!(Instant::now() < deadline, "daemon did not drain");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit: {status:?}");
    let ops = Command::new(env!("CARGO_BIN_EXE_vnfsync"))
        .args(["ops", "--format", "json", "--state-dir"])
        .arg(work.path().join("state"))
        .output()
        .expect("vnfsync ops");
    assert_no_open_operation(&ops.stdout, true);
}
