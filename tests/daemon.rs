//! The real `vnfsync daemon` against a temporary git repository and lab appliances: a commit
//! converges (polling `/v1/status` with a deadline), an invalid commit is rejected (and
//! journaled) while the last good one stays served, `/metrics` passes `promtool check
//! metrics`, auth answers 401/403 and a tenant's token never sees another tenant's appliance,
//! SIGHUP reloads, the systemd notify protocol (READY, WATCHDOG, RELOADING, STOPPING) is seen
//! on a test `NOTIFY_SOCKET`, SIGTERM drains and exits 0; onboarding holds (unless `adopt:
//! auto`), drift policies, a policy change touches only its appliances (counted in the lab's
//! command logs), rollback / probe / resume / snapshots through the API and through the CLI
//! against the running daemon, and the API over TLS. The lab's canary password and API key
//! never reach the logs, the journal, an API answer or the snapshot listing.

// The daemon and the lab are other processes with their own clocks: deadlines are wall-clock.
#![allow(clippy::disallowed_methods)]

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use vnfsync::api::Scope;
use vnfsync::api::auth::entry_line;

#[path = "support/lab_process.rs"]
mod lab_process;
use lab_process::{Killed, spawn_lab};

const PASSWORD: &str = "canary-pw-5c1e0b7d93";
const API_KEY: &str = "canary-key-8e24f61aa0";
const ADMIN: &str = "admin-secret";
const READER: &str = "reader-secret";
const BRANCHES: &str = "branches-secret";
const BRANCHES_RW: &str = "branches-rw-secret";

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

/// Poll `f` until it gives `Some`, or fail after `within` saying `what`.
fn eventually<T>(what: &str, within: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
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

    /// Wait until every appliance converged on `commit`.
    fn converged(&self, commit: &str) -> Value {
        self.wait("/v1/status", ADMIN, Duration::from_secs(60), |s| {
            s["converged"] == true && s["commit"] == commit
        })
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

/// One lab appliance as `vnfsync lab` describes it.
struct Lab {
    info: Value,
}

impl Lab {
    fn control(&self, rest: &str) -> String {
        format!("{}{rest}", self.info["control"].as_str().expect("control"))
    }

    /// Change the appliance out of band, as an operator on its console would.
    fn out_of_band(&self, lines: &str) {
        let url = self.control("/exec");
        let script = format!(
            "source /opt/vyatta/etc/functions/script-template\nconfigure\n{lines}\ncommit\nexit\n"
        );
        let r = reqwest::blocking::Client::new()
            .post(&url)
            .body(json!({"command": "vbash -s", "stdin": script}).to_string())
            .header("content-type", "application/json")
            .send()
            .and_then(|r| r.text())
            .unwrap_or_else(|e| panic!("POST {url}: {e}"));
        assert!(!r.contains("\"error\""), "{r}");
    }

    fn active(&self) -> String {
        let url = self.control("/active");
        reqwest::blocking::get(&url)
            .and_then(|r| r.text())
            .unwrap_or_else(|e| panic!("GET {url}: {e}"))
    }

    /// The command log's entries after `since` (a `seq`).
    fn log_since(&self, since: u64) -> Vec<Value> {
        let url = self.control(&format!("/log?since={since}"));
        reqwest::blocking::get(&url)
            .and_then(|r| r.json::<Vec<Value>>())
            .unwrap_or_else(|e| panic!("GET {url}: {e}"))
    }

    fn last_seq(&self) -> u64 {
        self.log_since(0)
            .last()
            .and_then(|e| e["seq"].as_u64())
            .unwrap_or(0)
    }

    /// Config writes (`set`, `delete`, `commit…`) logged after `since`.
    fn writes_since(&self, since: u64) -> usize {
        self.log_since(since)
            .iter()
            .filter_map(|e| e["command"].as_str())
            .filter(|c| {
                let c = c.trim_start();
                c.starts_with("set ") || c.starts_with("delete ") || c.starts_with("commit")
            })
            .count()
    }
}

/// A temporary directory with lab appliances (canary password and API key), a git repository
/// holding the desired state in `subdir`, the password in a secret file, and the API tokens
/// `admin` (read, write), `reader` (read), `branches` (read) and `branches-rw` (read, write)
/// of tenant `branches`.
struct Fixture {
    work: tempfile::TempDir,
    _lab: Killed,
    labs: Vec<Lab>,
    repo: PathBuf,
    state: PathBuf,
    tokens: PathBuf,
}

impl Fixture {
    fn new(names: &[&str], subdir: &str) -> Fixture {
        let work = tempfile::tempdir().expect("tempdir");
        let lab_file = work.path().join("lab.yaml");
        let mut text = String::from("profile: '1.4'\nappliances:\n");
        for n in names {
            text.push_str(&format!(
                "  - name: {n}\n    password: {PASSWORD}\n    api_key: {API_KEY}\n"
            ));
        }
        std::fs::write(&lab_file, text).expect("lab file");
        let lab_arg = lab_file.display().to_string();
        let (lab, infos) =
            spawn_lab(&["--file", &lab_arg], names.len()).unwrap_or_else(|e| panic!("{e}"));
        std::fs::create_dir_all(work.path().join("secrets")).expect("mkdir");
        std::fs::write(work.path().join("secrets/password"), PASSWORD).expect("write");
        let repo = work.path().join("repo");
        let state = repo.join(subdir);
        std::fs::create_dir_all(state.join("appliances")).expect("mkdir");
        git(&repo, &["init", "-q", "-b", "main"]);
        let tokens = work.path().join("tokens");
        std::fs::write(
            &tokens,
            [
                entry_line("admin", &[Scope::Read, Scope::Write], None, ADMIN),
                entry_line("reader", &[Scope::Read], None, READER),
                entry_line("branches", &[Scope::Read], Some("branches"), BRANCHES),
                entry_line(
                    "branches-rw",
                    &[Scope::Read, Scope::Write],
                    Some("branches"),
                    BRANCHES_RW,
                ),
            ]
            .join("\n"),
        )
        .expect("tokens");
        Fixture {
            work,
            _lab: lab,
            labs: infos.into_iter().map(|info| Lab { info }).collect(),
            repo,
            state,
            tokens,
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.work.path().join(rel)
    }

    /// The appliance file of lab appliance `i`, named `name`, with a route and `extra` YAML.
    fn appliance(&self, i: usize, name: &str, route: &str, owns: &str, extra: &str) -> String {
        let lab = &self.labs[i].info;
        let ssh = lab["ssh"].as_str().expect("ssh");
        let (host, port) = ssh.rsplit_once(':').expect("host:port");
        format!(
            "name: {name}\ndictionary: vyos-1.4\nlabels:\n  tenant: netops\nendpoint:\n  transport: ssh\n  host: {host}\n  port: {port}\n  user: {}\n  password: file:{}\n  host_key: {}\nowns:\n{owns}commit:\n  confirm_window: 1m\nhealth:\n  - kind: login\nroutes:\n  - {{prefix: {route}, next_hop: 192.0.2.253}}\n{extra}",
            lab["user"].as_str().expect("user"),
            self.path("secrets/password").display(),
            lab["host_key_fingerprint"].as_str().expect("fp"),
        )
    }

    /// Write `text` at `rel` inside the desired-state folder.
    fn write(&self, rel: &str, text: &str) {
        let p = self.state.join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    }

    /// Commit everything; the new commit's id.
    fn commit(&self, message: &str) -> String {
        git(&self.repo, &["add", "-A"]);
        git(&self.repo, &["commit", "-q", "-m", message]);
        git(&self.repo, &["rev-parse", "HEAD"])
    }

    fn state_dir(&self) -> PathBuf {
        self.path("state")
    }

    /// `vnfsync.toml` for the daemon (and for CLI calls that find it through `--config`).
    fn config(&self, port: u16, extra: &str) -> PathBuf {
        let rel = self
            .state
            .strip_prefix(&self.repo)
            .expect("subdir")
            .display()
            .to_string();
        let file = self.path("vnfsync.toml");
        std::fs::write(
            &file,
            format!(
                "repo = {:?}\npath = {:?}\nstate_dir = {:?}\nlisten = \"127.0.0.1:{port}\"\n{extra}",
                self.repo.display().to_string(),
                if rel.is_empty() { ".".into() } else { rel },
                self.state_dir().display().to_string(),
            ),
        )
        .expect("config");
        file
    }

    /// Start `vnfsync daemon --config CONFIG --tokens file:…` with its log in `daemon.log`.
    fn daemon(&self, config: &Path, envs: &[(&str, &std::ffi::OsStr)]) -> Killed {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_vnfsync"));
        cmd.args(["daemon", "--config"])
            .arg(config)
            .arg("--tokens")
            .arg(format!("file:{}", self.tokens.display()))
            .env("VNFSYNC_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.path("daemon.log")).expect("log file"));
        for (k, v) in envs {
            cmd.env(k, v);
        }
        Killed(cmd.spawn().expect("start daemon"))
    }

    /// `vnfsync ARGS…` with the admin token in `$T` (`--token env:T`).
    fn cli(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_vnfsync"))
            .args(args)
            .env("T", ADMIN)
            .output()
            .expect("run vnfsync")
    }

    /// The canary secrets appear nowhere the daemon wrote: its log and the journal file.
    fn assert_no_secret_written(&self) {
        let logs = std::fs::read(self.path("daemon.log")).expect("log");
        let journal =
            std::fs::read(vnfsync::journal::Journal::path_in(&self.state_dir())).expect("journal");
        for secret in [PASSWORD, API_KEY] {
            for (what, bytes) in [("daemon log", &logs), ("journal file", &journal)] {
                assert!(
                    !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                    "a canary secret in the {what}"
                );
            }
        }
    }
}

fn api(port: u16) -> Api {
    Api {
        base: format!("http://127.0.0.1:{port}"),
        client: reqwest::blocking::Client::new(),
    }
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}: {}{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn no_secret(what: &str, text: &str) {
    assert!(
        !text.contains(PASSWORD) && !text.contains(API_KEY),
        "a canary secret in {what}: {text}"
    );
}

fn promtool_check(metrics: &str) {
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
}

fn signal(child: &Killed, sig: &str) {
    let pid = child.0.id().to_string();
    assert!(
        Command::new("kill")
            .args([sig, &pid])
            .status()
            .expect("kill")
            .success()
    );
}

fn exit_within(child: &mut Killed, within: Duration) -> std::process::ExitStatus {
    eventually("the daemon to exit", within, || {
        child.0.try_wait().expect("wait")
    })
}

const STATIC: &str = "  - protocols static\n";

#[test]
fn daemon_converges_rejects_bad_commits_and_speaks_systemd() {
    // The desired state sits in a subfolder of the repository.
    let f = Fixture::new(&["edge"], "state");
    f.write(
        "appliances/edge.yaml",
        &f.appliance(0, "edge", "10.20.0.0/16", STATIC, ""),
    );
    let first = f.commit("edge");
    let notify_path = f.path("notify.sock");
    let notify = UnixDatagram::bind(&notify_path).expect("notify socket");
    let port = free_port();
    let config = f.config(port, "");
    let mut daemon = f.daemon(
        &config,
        &[
            ("NOTIFY_SOCKET", notify_path.as_os_str()),
            ("WATCHDOG_USEC", "400000".as_ref()),
        ],
    );
    let api = api(port);
    let mut seen = Vec::new();
    notified(&notify, &mut seen, "READY=1", Duration::from_secs(30));

    // 1. The first commit converges.
    let st = api.converged(&first);
    assert_eq!(st["appliances"][0]["name"], "edge");
    assert_eq!(api.call("GET", "/readyz", None).0, 200);
    notified(&notify, &mut seen, "WATCHDOG=1", Duration::from_secs(10));

    // 2. Auth: 401 without or with a wrong token, 403 without the scope, tenant isolation.
    assert_eq!(api.call("GET", "/v1/status", None).0, 401);
    assert_eq!(api.call("GET", "/v1/status", Some("wrong")).0, 401);
    assert_eq!(api.call("POST", "/v1/sync", Some(READER)).0, 403);
    let theirs = api.json("/v1/status", BRANCHES);
    assert_eq!(theirs["appliances"], json!([]));
    for path in [
        "/v1/appliances/edge",
        "/v1/appliances/edge/snapshots",
        "/v1/operations?appliance=edge",
        "/metrics",
    ] {
        assert_eq!(api.call("GET", path, Some(BRANCHES)).0, 404, "{path}");
    }
    let ops = api.json("/v1/operations", BRANCHES);
    assert_eq!(ops["operations"], json!([]));
    let mine = api.json("/v1/operations?appliance=edge", ADMIN);
    assert!(!mine["operations"].as_array().expect("ops").is_empty());
    // The plan `vnfsync diff` would print: nothing to do.
    let diff = api.json("/v1/appliances/edge/diff", ADMIN);
    assert_eq!(diff["plans"][0]["commands"], json!([]), "{diff:#}");

    // 3. An invalid commit is rejected with file:line, in status and in the journal; the good
    //    one stays served.
    f.write(
        "appliances/edge.yaml",
        "name: edge\ndictionary: vyos-1.4\nbogus: 1\n",
    );
    let bad = f.commit("broken");
    let st = api.wait("/v1/status", ADMIN, Duration::from_secs(20), |s| {
        s["rejected"]["commit"] == bad.as_str()
    });
    assert_eq!(st["commit"], first.as_str());
    let errors = st["rejected"]["errors"].to_string();
    assert!(errors.contains("appliances/edge.yaml:"), "{errors}");
    let c = api.json(&format!("/v1/commits/{bad}"), ADMIN);
    assert_eq!(c["status"], "rejected");
    let journaled = api.json("/v1/operations?kind=validate", ADMIN);
    let op = &journaled["operations"][0];
    assert_eq!(op["commit"], bad.as_str(), "{journaled:#}");
    assert_eq!(op["state"], "failed");
    assert_eq!(op["error"]["code"], "VNF_INVALID");
    assert!(
        op["error"]["message"]
            .as_str()
            .expect("message")
            .contains("appliances/edge.yaml:3:"),
        "{op:#}"
    );
    // A tenant's token does not see the whole repository's rejection.
    let theirs = api.json("/v1/operations?kind=validate", BRANCHES);
    assert_eq!(theirs["operations"], json!([]));

    // `vnfsync ops` while the daemon holds the journal: asked of the API at the configured
    // `listen`, and the same with `--api`.
    let config_arg = config.display().to_string();
    let held = ok(&f.cli(&[
        "ops",
        "--config",
        &config_arg,
        "--kind",
        "validate",
        "--format",
        "json",
        "--token",
        "env:T",
    ]));
    let held: Value = serde_json::from_str(&held).expect("ops json");
    assert_eq!(held["operations"][0]["commit"], bad.as_str());
    let text = ok(&f.cli(&[
        "ops",
        "--api",
        &api.base,
        "--token",
        "env:T",
        "--appliance",
        "edge",
    ]));
    assert!(text.contains("edge") && text.contains("apply"), "{text}");

    // 4. A good commit after it converges, and says what it touched.
    f.write(
        "appliances/edge.yaml",
        &f.appliance(0, "edge", "10.30.0.0/16", STATIC, ""),
    );
    let second = f.commit("route");
    api.converged(&second);
    assert_eq!(
        api.call("POST", "/v1/appliances/edge/resume", Some(ADMIN))
            .0,
        200
    );
    let c = api.json(&format!("/v1/commits/{second}"), ADMIN);
    assert_eq!(c["affected"]["edge"]["outcome"], "completed", "{c:#}");

    // 5. /metrics is valid for promtool, with device-call and journal latency recorded and
    //    the pending-confirm gauge read from the journal.
    let metrics = eventually("the pending-confirm gauge", Duration::from_secs(30), || {
        let (s, m) = api.call("GET", "/metrics", Some(ADMIN));
        (s == 200 && m.contains("vnfsync_pending_confirms{appliance=\"edge\"} 0")).then_some(m)
    });
    for want in [
        "vnfsync_rejected_commits_total 1",
        "vnfsync_device_call_seconds_count{vendor=\"vyos\",operation=\"fetch\"}",
        "vnfsync_device_call_seconds_count{vendor=\"vyos\",operation=\"apply\"}",
        "vnfsync_device_call_seconds_count{vendor=\"vyos\",operation=\"confirm\"}",
        "vnfsync_journal_seconds_count ",
    ] {
        assert!(metrics.contains(want), "{want} missing:\n{metrics}");
    }
    assert!(!metrics.contains("vnfsync_journal_seconds_count 0\n"));
    promtool_check(&metrics);

    // 6. SIGHUP reloads through the startup path.
    signal(&daemon, "-HUP");
    notified(&notify, &mut seen, "RELOADING=1", Duration::from_secs(10));
    let readies = |seen: &Vec<String>| {
        seen.iter()
            .filter(|s| s.lines().any(|l| l == "READY=1"))
            .count()
    };
    eventually("READY after reload", Duration::from_secs(30), || {
        notify
            .set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        let mut buf = [0u8; 4096];
        if let Ok(n) = notify.recv(&mut buf) {
            seen.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        (readies(&seen) >= 2).then_some(())
    });

    // 7. SIGTERM: STOPPING, a drain, exit 0, and no operation left open.
    signal(&daemon, "-TERM");
    notified(&notify, &mut seen, "STOPPING=1", Duration::from_secs(10));
    let status = exit_within(&mut daemon, Duration::from_secs(30));
    assert!(status.success(), "exit: {status:?}");
    let state_dir = f.state_dir().display().to_string();
    let ops = ok(&f.cli(&["ops", "--format", "json", "--state-dir", &state_dir]));
    assert_no_open_operation(ops.as_bytes(), false);

    // The lab's secrets never appear in the logs, the API answers or the journal.
    no_secret("metrics", &metrics);
    no_secret("ops", &ops);
    f.assert_no_secret_written();
}

/// Onboarding is held when the first apply would delete config already on the device, until
/// approved; drift made out of band is reported (and journaled) under `alert` and put back
/// under `overwrite`.
#[test]
fn onboarding_hold_and_drift_policies() {
    let f = Fixture::new(&["edge"], ".");
    let lab = &f.labs[0];
    // Already on the device before vnfsync manages it.
    lab.out_of_band("set protocols static route 10.99.0.0/16 next-hop 192.0.2.9");
    assert!(lab.active().contains("10.99.0.0/16"));
    f.write(
        "appliances/edge.yaml",
        &f.appliance(0, "edge", "10.20.0.0/16", STATIC, ""),
    );
    f.commit("edge");
    let port = free_port();
    let config = f.config(port, "[intervals]\ndrift_check = \"10s\"\n");
    let _daemon = f.daemon(&config, &[]);
    let api = api(port);
    let st = api.wait("/v1/status", ADMIN, Duration::from_secs(60), |s| {
        s["appliances"][0]["state"] == "held"
    });
    let reason = st["appliances"][0]["reason"].as_str().expect("reason");
    assert!(
        reason.contains("delete protocols static route 10.99.0.0/16"),
        "{reason}"
    );
    assert!(
        lab.active().contains("10.99.0.0/16"),
        "nothing pruned while held"
    );
    // `vnfsync approve` through the API, the token by reference.
    ok(&f.cli(&["approve", "edge", "--api", &api.base, "--token", "env:T"]));
    api.wait("/v1/status", ADMIN, Duration::from_secs(60), |s| {
        s["converged"] == true
    });
    assert!(!lab.active().contains("10.99.0.0/16"));

    // Drift under `alert`: reported at the next drift check, journaled, left on the device.
    lab.out_of_band("set protocols static route 10.98.0.0/16 next-hop 192.0.2.9");
    let st = api.wait("/v1/status", ADMIN, Duration::from_secs(40), |s| {
        s["appliances"][0]["state"] == "drift"
    });
    assert!(
        st["appliances"][0]["reason"]
            .as_str()
            .expect("reason")
            .contains("10.98.0.0/16")
    );
    assert!(lab.active().contains("10.98.0.0/16"));
    let (_, metrics) = api.call("GET", "/metrics", Some(ADMIN));
    assert!(
        metrics.contains("vnfsync_drift{appliance=\"edge\"} 1"),
        "{metrics}"
    );
    let drift = api.json("/v1/operations?kind=drift_check&appliance=edge", ADMIN);
    let op = &drift["operations"][0];
    assert_eq!(op["error"]["code"], "VNF_DRIFT", "{drift:#}");
    assert!(op["planned"].to_string().contains("10.98.0.0/16"), "{op:#}");

    // The scope switched to `overwrite` (a commit, which also puts it back), then new drift is
    // put back by the drift check alone.
    f.write(
        "appliances/edge.yaml",
        &f.appliance(
            0,
            "edge",
            "10.20.0.0/16",
            "  - path: protocols static\n    drift: overwrite\n",
            "",
        ),
    );
    let head = f.commit("overwrite");
    api.converged(&head);
    assert!(!lab.active().contains("10.98.0.0/16"));
    lab.out_of_band("set protocols static route 10.97.0.0/16 next-hop 192.0.2.9");
    eventually("overwrite drift put back", Duration::from_secs(40), || {
        (!lab.active().contains("10.97.0.0/16")).then_some(())
    });
    // Drift that was put back is not a finding: still one drift_check record.
    let drift = api.json("/v1/operations?kind=drift_check", ADMIN);
    assert_eq!(drift["operations"].as_array().map(Vec::len), Some(1));
}

/// SIGTERM while an apply is in flight: the daemon says STOPPING, lets the apply reach a safe
/// state, exits 0, and the journal holds no open operation.
#[test]
fn sigterm_during_an_apply_leaves_no_open_operation() {
    let f = Fixture::new(&["edge"], ".");
    f.write(
        "appliances/edge.yaml",
        &f.appliance(0, "edge", "10.20.0.0/16", STATIC, ""),
    );
    f.commit("edge");
    // Every device command is slow, so the apply is surely in flight when SIGTERM comes.
    reqwest::blocking::Client::new()
        .post(f.labs[0].control("/faults"))
        .header("content-type", "application/json")
        .body(r#"{"latency_ms": 300}"#)
        .send()
        .expect("set faults");
    let notify_path = f.path("notify.sock");
    let notify = UnixDatagram::bind(&notify_path).expect("notify socket");
    let port = free_port();
    let config = f.config(port, "");
    let mut daemon = f.daemon(&config, &[("NOTIFY_SOCKET", notify_path.as_os_str())]);
    let api = api(port);
    let mut seen = Vec::new();
    notified(&notify, &mut seen, "READY=1", Duration::from_secs(30));
    // Wait until the journal has an operation under way, then stop the daemon.
    api.wait(
        "/v1/operations?appliance=edge",
        READER,
        Duration::from_secs(60),
        |v| {
            v["operations"]
                .as_array()
                .is_some_and(|o| o.iter().any(|op| op["state"] != "completed"))
        },
    );
    signal(&daemon, "-TERM");
    notified(&notify, &mut seen, "STOPPING=1", Duration::from_secs(10));
    let status = exit_within(&mut daemon, Duration::from_secs(60));
    assert!(status.success(), "exit: {status:?}");
    let state_dir = f.state_dir().display().to_string();
    let ops = ok(&f.cli(&["ops", "--format", "json", "--state-dir", &state_dir]));
    assert_no_open_operation(ops.as_bytes(), true);
}

/// `POST /v1/appliances/{name}/rollback` and the CLI's `rollback`, `probe`, `resume` and
/// `snapshots` against the running daemon (which holds the journal): journaled through the
/// engine, write scope, tenant 404, the appliance parked on the served commit until resumed.
#[test]
fn rollback_probe_resume_and_snapshots_against_the_running_daemon() {
    let f = Fixture::new(&["edge"], ".");
    let lab = &f.labs[0];
    f.write(
        "appliances/edge.yaml",
        &f.appliance(0, "edge", "10.20.0.0/16", STATIC, ""),
    );
    let first = f.commit("first");
    let port = free_port();
    let config = f.config(port, "");
    let _daemon = f.daemon(&config, &[]);
    let api = api(port);
    api.converged(&first);
    f.write(
        "appliances/edge.yaml",
        &f.appliance(0, "edge", "10.30.0.0/16", STATIC, ""),
    );
    let second = f.commit("second");
    api.converged(&second);

    // Scope and tenant first: nothing happens for these.
    assert_eq!(
        api.call("POST", "/v1/appliances/edge/rollback", Some(READER))
            .0,
        403
    );
    assert_eq!(
        api.call("POST", "/v1/appliances/edge/rollback", Some(BRANCHES_RW))
            .0,
        404
    );
    assert_eq!(
        api.call(
            "POST",
            "/v1/appliances/edge/rollback?snapshot=a&to_commit=b",
            Some(ADMIN)
        )
        .0,
        400
    );

    // `vnfsync rollback --to-commit` finds the daemon holding the journal and asks its API
    // (the one `listen` of --config names).
    let config_arg = config.display().to_string();
    let out = ok(&f.cli(&[
        "rollback",
        "edge",
        "--to-commit",
        &first,
        "--config",
        &config_arg,
        "--token",
        "env:T",
    ]));
    assert!(out.contains("edge: completed"), "{out}");
    assert!(out.contains("parked"), "{out}");
    let active = lab.active();
    assert!(
        active.contains("10.20.0.0/16") && !active.contains("10.30.0.0/16"),
        "{active}"
    );
    let st = api.json("/v1/status", ADMIN);
    assert_eq!(st["appliances"][0]["state"], "parked", "{st:#}");
    assert_eq!(st["commit"], second.as_str());

    // The snapshot listing (CLI over the API): ids and commits, never the device's secrets.
    let snaps = ok(&f.cli(&[
        "snapshots",
        "edge",
        "--api",
        &api.base,
        "--token",
        "env:T",
        "--format",
        "json",
    ]));
    no_secret("the snapshot listing", &snaps);
    let snaps: Vec<Value> = serde_json::from_str(&snaps).expect("snapshots json");
    assert!(snaps.len() >= 2, "{snaps:?}");
    let (_, raw) = api.call("GET", "/v1/appliances/edge/snapshots", Some(ADMIN));
    no_secret("GET snapshots", &raw);
    // The newest snapshot was taken just before the rollback's apply: the second commit's
    // config. `vnfsync rollback --snapshot` returns to it through the API.
    let newest = snaps
        .iter()
        .max_by_key(|s| {
            s["taken"]
                .as_str()
                .and_then(|t| t.parse::<jiff::Timestamp>().ok())
        })
        .and_then(|s| s["id"].as_str())
        .expect("a snapshot id");
    let out = ok(&f.cli(&[
        "rollback",
        "edge",
        "--snapshot",
        newest,
        "--api",
        &api.base,
        "--token",
        "env:T",
    ]));
    assert!(out.contains("edge: completed"), "{out}");
    let active = lab.active();
    assert!(
        active.contains("10.30.0.0/16") && !active.contains("10.20.0.0/16"),
        "{active}"
    );
    let rollbacks = api.json("/v1/operations?kind=rollback&appliance=edge", ADMIN);
    let op = &rollbacks["operations"][0];
    assert_eq!(op["state"], "completed", "{rollbacks:#}");
    assert_eq!(op["snapshot_id"], newest);
    // With curl and no query: the last good snapshot (the one the last apply took).
    let curl = Command::new("curl")
        .args(["-sS", "-X", "POST", "-H"])
        .arg(format!("Authorization: Bearer {ADMIN}"))
        .arg(format!("{}/v1/appliances/edge/rollback", api.base))
        .output()
        .expect("curl");
    let answer: Value = serde_json::from_slice(&curl.stdout).expect("rollback json");
    assert_eq!(answer["result"], "completed", "{answer:#}");
    assert_eq!(answer["to"], "last_good");
    no_secret("the rollback answer", &answer.to_string());
    let rollbacks = api.json("/v1/operations?kind=rollback&appliance=edge", ADMIN);
    assert_eq!(rollbacks["operations"].as_array().map(Vec::len), Some(2));

    // `vnfsync probe` over the API, then `vnfsync resume`: parking lifted, the served commit
    // (already in place) is in sync again.
    let probe = ok(&f.cli(&[
        "probe", "edge", "--api", &api.base, "--token", "env:T", "--format", "json",
    ]));
    let probe: Value = serde_json::from_str(&probe).expect("probe json");
    assert_eq!(probe["reachable"], true, "{probe:#}");
    assert!(probe["last_contact"].is_string());
    assert_eq!(probe["probes"][0]["ok"], true);
    assert_eq!(
        api.json("/v1/status", ADMIN)["appliances"][0]["state"],
        "parked"
    );
    let out = ok(&f.cli(&[
        "resume",
        "edge",
        "--config",
        &config_arg,
        "--token",
        "env:T",
    ]));
    assert!(out.contains("edge: resumed"), "{out}");
    api.converged(&second);
    // Without a token the CLI says how to give one.
    let out = Command::new(env!("CARGO_BIN_EXE_vnfsync"))
        .args(["resume", "edge", "--api", &api.base])
        .env_remove("VNFSYNC_TOKEN_REF")
        .output()
        .expect("vnfsync resume");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--token"));
    f.assert_no_secret_written();
}

/// A change to a policy reconciles exactly the appliances that use it: the lab's command logs
/// show writes on those and none on the other. An appliance that says `adopt: auto` is not
/// held at onboarding, though its first apply prunes config already on the device.
#[test]
fn a_policy_change_touches_only_its_appliances_and_adopt_auto_skips_the_hold() {
    let f = Fixture::new(&["a", "b", "c"], ".");
    f.labs[2].out_of_band("set protocols static route 10.99.0.0/16 next-hop 192.0.2.9");
    let uses = "policies: [shared]\n";
    f.write(
        "appliances/a.yaml",
        &f.appliance(0, "a", "10.1.0.0/16", STATIC, uses),
    );
    f.write(
        "appliances/b.yaml",
        &f.appliance(1, "b", "10.2.0.0/16", STATIC, uses),
    );
    f.write(
        "appliances/c.yaml",
        &f.appliance(2, "c", "10.3.0.0/16", STATIC, "adopt: auto\n"),
    );
    let policy = |prefix: &str| {
        format!("name: shared\nroutes:\n  - {{prefix: {prefix}, next_hop: 192.0.2.254}}\n")
    };
    f.write("policies/shared.yaml", &policy("10.50.0.0/16"));
    let first = f.commit("three appliances");
    let port = free_port();
    let config = f.config(port, "");
    let _daemon = f.daemon(&config, &[]);
    let api = api(port);
    api.converged(&first);
    assert!(
        !f.labs[2].active().contains("10.99.0.0/16"),
        "adopt: auto applied without a hold"
    );
    assert!(f.labs[0].active().contains("10.50.0.0/16"));

    let before: Vec<u64> = f.labs.iter().map(Lab::last_seq).collect();
    f.write("policies/shared.yaml", &policy("10.51.0.0/16"));
    let second = f.commit("policy");
    api.converged(&second);
    let c = api.json(&format!("/v1/commits/{second}"), ADMIN);
    let affected: Vec<&String> = c["affected"]
        .as_object()
        .expect("affected")
        .keys()
        .collect();
    assert_eq!(affected, ["a", "b"], "{c:#}");
    let writes: Vec<usize> = f
        .labs
        .iter()
        .zip(&before)
        .map(|(lab, since)| lab.writes_since(*since))
        .collect();
    assert!(writes[0] > 0 && writes[1] > 0, "{writes:?}");
    assert_eq!(writes[2], 0, "c was written to: {writes:?}");
    assert!(f.labs[1].active().contains("10.51.0.0/16"));
    assert!(!f.labs[1].active().contains("10.50.0.0/16"));
}

/// The API off loopback needs TLS: a plain `--listen 0.0.0.0:…` is refused before anything is
/// bound (exit 64); with `[tls]` the API is served over rustls and verified by curl and by the
/// CLI against the test's own CA.
#[test]
fn the_api_over_tls_and_plain_http_refused_off_loopback() {
    let f = Fixture::new(&["edge"], ".");
    f.write(
        "appliances/edge.yaml",
        &f.appliance(0, "edge", "10.20.0.0/16", STATIC, ""),
    );
    f.commit("edge");
    let port = free_port();
    let config = f.config(port, "");
    let out = Command::new(env!("CARGO_BIN_EXE_vnfsync"))
        .args(["daemon", "--config"])
        .arg(&config)
        .args(["--listen", &format!("0.0.0.0:{port}")])
        .output()
        .expect("vnfsync daemon");
    assert_eq!(out.status.code(), Some(64));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not a loopback address"), "{err}");

    let dir = f.work.path();
    make_cert(dir);
    let config = f.config(
        port,
        &format!(
            "[tls]\ncert = \"file:{}\"\nkey = {:?}\n",
            dir.join("api.pem").display(),
            dir.join("api.key").display().to_string()
        ),
    );
    let _daemon = f.daemon(&config, &[]);
    let ca = dir.join("ca.pem").display().to_string();
    let url = format!("https://localhost:{port}");
    let body = eventually("TLS /healthz", Duration::from_secs(30), || {
        let out = Command::new("curl")
            .args(["-sS", "--fail", "--cacert", &ca])
            .arg(format!("{url}/healthz"))
            .output()
            .ok()?;
        out.status.success().then_some(out.stdout)
    });
    let v: Value = serde_json::from_slice(&body).expect("healthz json");
    assert_eq!(v["status"], "alive");
    // Not trusted without the CA; no plain HTTP on the TLS port.
    let untrusted = Command::new("curl")
        .args(["-sS", "--fail"])
        .arg(format!("{url}/healthz"))
        .output()
        .expect("curl");
    assert!(!untrusted.status.success());
    assert_eq!(api(port).call("GET", "/healthz", None).0, 0);
    let out = ok(&f.cli(&["status", "--api", &url, "--api-ca", &ca, "--token", "env:T"]));
    let status: Value = serde_json::from_str(&out).expect("status json");
    assert!(status["appliances"].is_array(), "{status:#}");
}

fn openssl(args: &[&str], dir: &Path) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl (scripts/test-deps installs it)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA (`ca.pem`) and a certificate for localhost / 127.0.0.1 it signed (`api.pem`,
/// `api.key`), in `dir`.
fn make_cert(dir: &Path) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut args = vec![
        "req",
        "-x509",
        "-days",
        "2",
        "-subj",
        "/CN=vnfsync test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ];
    args.extend(ec);
    openssl(&args, dir);
    let mut args = vec![
        "req",
        "-new",
        "-subj",
        "/CN=localhost",
        "-keyout",
        "api.key",
        "-out",
        "api.csr",
    ];
    args.extend(ec);
    openssl(&args, dir);
    std::fs::write(
        dir.join("api.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .expect("ext");
    openssl(
        &[
            "x509",
            "-req",
            "-in",
            "api.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "api.ext",
            "-out",
            "api.pem",
        ],
        dir,
    );
}
