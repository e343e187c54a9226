//! The charter's acceptance tests 1–5, as DESIGN.md "What the seeds asked for" maps them: the
//! real binary, a temporary git repository and lab appliances on loopback. Where the case is
//! not transport-specific it runs on every VyOS profile over SSH and the HTTP API.

// The lab and the daemon are other processes with their own clocks: deadlines are wall-clock.
#![allow(clippy::disallowed_methods)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

#[path = "support/desired.rs"]
mod desired;
#[path = "support/lab_process.rs"]
mod lab_process;
use desired::{git, lab_get, log_len, vnfsync, writes_since};
use lab_process::{Killed, start_lab};

const PROFILES: [&str; 3] = ["1.3", "1.4", "1.5"];
const TRANSPORTS: [&str; 2] = ["ssh", "http"];
const PASSING: &str = "  - {kind: login}\n  - {kind: command, run: show version, expect: 'VyOS'}\n";

/// Where a profile keeps named IPv4 rule sets.
fn rule_set_scope(profile: &str) -> &'static str {
    if profile == "1.3" {
        "firewall name WAN-IN"
    } else {
        "firewall ipv4 name WAN-IN"
    }
}

/// A lab appliance of one profile, a git repository with `desired-state/` and a state dir.
struct Env {
    _lab: Killed,
    info: Value,
    dir: tempfile::TempDir,
    secrets: PathBuf,
    profile: String,
}

impl Env {
    fn new(profile: &str) -> Env {
        let (lab, info) = start_lab(profile, &[]);
        let dir = tempfile::tempdir().expect("tempdir");
        let secrets = desired::write_secrets(dir.path(), &info);
        let repo = dir.path().join("repo");
        std::fs::create_dir_all(repo.join("desired-state/appliances")).expect("mkdir");
        git(&repo, &["init", "-q", "-b", "main"]);
        Env {
            _lab: lab,
            info,
            dir,
            secrets,
            profile: profile.to_string(),
        }
    }

    fn repo(&self) -> PathBuf {
        self.dir.path().join("repo")
    }

    fn state(&self) -> String {
        self.dir.path().join("state").display().to_string()
    }

    /// Write `desired-state/appliances/NAME.yaml` for the lab over `transport`, owning the
    /// profile's `WAN-IN` rule set, with `body` (rule sets) after the health probes.
    fn appliance(&self, name: &str, transport: &str, health: &str, body: &str) {
        let yaml = format!(
            "name: {name}\ndictionary: vyos-{}\nendpoint:\n{}owns:\n  - {}\ncommit:\n  confirm_window: 1m\nhealth:\n{health}{body}",
            self.profile,
            desired::endpoint(&self.info, &self.secrets, transport),
            rule_set_scope(&self.profile),
        );
        std::fs::write(
            self.repo()
                .join("desired-state/appliances")
                .join(format!("{name}.yaml")),
            yaml,
        )
        .expect("write");
    }

    fn commit(&self, message: &str) -> String {
        git(&self.repo(), &["add", "-A"]);
        git(&self.repo(), &["commit", "-q", "-m", message]);
        git(&self.repo(), &["rev-parse", "HEAD"])
    }

    /// `vnfsync ARGS… --repo REPO --rev HEAD --state-dir STATE` (`state`: with the state dir).
    fn run(&self, args: &[&str], state: bool) -> desired::Run {
        let repo = self.repo().display().to_string();
        let st = self.state();
        let mut all = args.to_vec();
        all.extend(["--repo", &repo, "--rev", "HEAD"]);
        if state {
            all.extend(["--state-dir", &st]);
        }
        vnfsync(&all)
    }

    /// `vnfsync apply --yes --format json`: appliance → (result, operation id).
    fn apply(&self, appliance: &str) -> (String, String, desired::Run) {
        let r = self.run(
            &[
                "apply",
                "--yes",
                "--format",
                "json",
                "--appliance",
                appliance,
            ],
            true,
        );
        let v: Value = serde_json::from_str(r.stdout.trim())
            .unwrap_or_else(|e| panic!("apply json: {e}: {}\n{}", r.stdout, r.stderr));
        let row = &v[0];
        (
            row["result"].as_str().expect("result").to_string(),
            row["operation"].as_str().expect("operation").to_string(),
            r,
        )
    }

    /// `vnfsync daemon` on this repository and state dir, ready (`/readyz` answers 200).
    fn daemon(&self) -> Daemon {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("free port");
        let tokens = self.dir.path().join("tokens");
        std::fs::write(
            &tokens,
            vnfsync::api::auth::entry_line(
                "admin",
                &[vnfsync::api::Scope::Read, vnfsync::api::Scope::Write],
                None,
                TOKEN,
            ),
        )
        .expect("tokens");
        let log = self.dir.path().join("daemon.log");
        let process = Killed(
            Command::new(env!("CARGO_BIN_EXE_vnfsync"))
                .args(["daemon", "--repo"])
                .arg(self.repo())
                .args(["--path", "desired-state", "--branch", "main", "--state-dir"])
                .arg(self.state())
                .args(["--listen", &format!("127.0.0.1:{port}"), "--tokens"])
                .arg(format!("file:{}", tokens.display()))
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log).expect("log file"))
                .spawn()
                .expect("start daemon"),
        );
        let d = Daemon {
            _process: process,
            base: format!("http://127.0.0.1:{port}"),
            client: reqwest::blocking::Client::new(),
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while d.call("GET", "/readyz").0 != 200 {
            assert!(
                Instant::now() < deadline,
                "the daemon is not ready: {}",
                std::fs::read_to_string(&d.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        d
    }
}

const TOKEN: &str = "acceptance-admin-token";

struct Daemon {
    _process: Killed,
    base: String,
    client: reqwest::blocking::Client,
    log: PathBuf,
}

impl Daemon {
    fn call(&self, method: &str, path: &str) -> (u16, String) {
        match self
            .client
            .request(
                method.parse().expect("method"),
                format!("{}{path}", self.base),
            )
            .bearer_auth(TOKEN)
            .send()
        {
            Ok(r) => (r.status().as_u16(), r.text().unwrap_or_default()),
            Err(e) => (0, e.to_string()),
        }
    }

    fn json(&self, method: &str, path: &str) -> Value {
        let (s, text) = self.call(method, path);
        assert_eq!(s, 200, "{method} {path}: {text}");
        serde_json::from_str(&text).expect("json")
    }
}

/// A rule set with one rule (the firewall rule of test 2).
const WAN_IN: &str = "rule_sets:\n  - name: WAN-IN\n    default_action: drop\n    rules:\n      - {id: web, number: 100, action: accept, protocol: tcp, destination: {port: [443]}, description: web}\n";

fn journal_ops(stdout: &str) -> Vec<Value> {
    let v: Value = serde_json::from_str(stdout.trim()).expect("ops json");
    v["operations"].as_array().expect("operations").clone()
}

fn ids(ops: &[Value]) -> Vec<String> {
    ops.iter()
        .map(|o| o["id"].as_str().expect("id").to_string())
        .collect()
}

/// Charter test 1, *Upload dictionary*: dictionaries live in the repository; `vnfsync check` validates them
/// (a broken one is refused with its file:line) and `GET /v1/dictionaries` lists them with
/// version and hash.
#[test]
fn acceptance_1_upload_dictionary() {
    let env = Env::new("1.4");
    let dicts = env.repo().join("desired-state/dictionaries");
    std::fs::create_dir_all(&dicts).expect("mkdir");
    let shipped = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("dictionaries/vyos-1.4.yaml"),
    )
    .expect("shipped dictionary");
    std::fs::write(dicts.join("vyos-1.4.yaml"), &shipped).expect("write");
    env.appliance("edge", "ssh", PASSING, WAN_IN);
    env.commit("upload the vyos-1.4 dictionary");
    let r = env.run(&["check", "--format", "json"], false);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let v: Value = serde_json::from_str(r.stdout.trim()).expect("check json");
    assert_eq!(v["valid"], true);
    let ours = v["dictionaries"]
        .as_array()
        .expect("dictionaries")
        .iter()
        .find(|d| d["name"] == "vyos-1.4")
        .cloned()
        .expect("vyos-1.4 listed");
    assert_eq!(
        ours["origin"]["repo"], "dictionaries/vyos-1.4.yaml",
        "{ours}"
    );

    // The API lists it with its version and hash.
    let daemon = env.daemon();
    let list = daemon.json("GET", "/v1/dictionaries");
    let entry = list
        .as_array()
        .expect("list")
        .iter()
        .find(|d| d["name"] == "vyos-1.4")
        .cloned()
        .unwrap_or_else(|| panic!("{list}"));
    assert!(entry["version"].as_u64().is_some(), "{entry}");
    let hash = entry["hash"].as_str().expect("hash");
    assert!(hash.len() >= 32, "{entry}");
    assert_eq!(entry["origin"]["repo"], "dictionaries/vyos-1.4.yaml");
    drop(daemon);

    // A broken upload is refused with where.
    std::fs::write(
        dicts.join("vyos-1.4.yaml"),
        shipped.replacen(
            "\nname: vyos-1.4\n",
            "\nname: vyos-1.4\nbogus_field: 1\n",
            1,
        ),
    )
    .expect("write");
    env.commit("a broken dictionary");
    let r = env.run(&["check"], false);
    assert_eq!(r.code, 64, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("dictionaries/vyos-1.4.yaml:")
            || r.stderr.contains("dictionaries/vyos-1.4.yaml:"),
        "{}\n{}",
        r.stdout,
        r.stderr
    );
    assert!(
        format!("{}{}", r.stdout, r.stderr).contains("bogus_field"),
        "{}",
        r.stderr
    );
}

/// Charter test 2, *Create firewall rule, idempotent*: a commit adds the rule; a second apply of the same
/// commit returns the same operation id and makes no device write (the lab's command log).
#[test]
fn acceptance_2_create_firewall_rule_idempotent() {
    for profile in PROFILES {
        let env = Env::new(profile);
        for transport in TRANSPORTS {
            env.appliance(transport, transport, PASSING, "");
        }
        env.commit("the appliances, no rule yet");
        for transport in TRANSPORTS {
            let ctx = format!("{profile}/{transport}");
            let (result, _, r) = env.apply(transport);
            assert!(
                result == "in_sync" || result == "completed",
                "{ctx}: {}\n{}",
                r.stdout,
                r.stderr
            );
            env.appliance(transport, transport, PASSING, WAN_IN);
            let sha = env.commit("a firewall rule");
            let (result, op, r) = env.apply(transport);
            assert_eq!(result, "completed", "{ctx}: {}\n{}", r.stdout, r.stderr);
            assert!(!op.is_empty(), "{ctx}");
            let active = lab_get(&env.info, "/active");
            assert!(
                active.contains(&format!(
                    "{} rule 100 destination port '443'",
                    rule_set_scope(profile)
                )),
                "{ctx}: {active}"
            );
            // The journal carries the commit.
            let ops = env.run_ops(&["ops", "--format", "json", "--appliance", transport]);
            assert!(
                ops.stdout.contains(&sha),
                "{ctx}: {}{}",
                ops.stdout,
                ops.stderr
            );
            let mark = log_len(&env.info);
            let (again, op2, r) = env.apply(transport);
            assert_eq!(again, "in_sync", "{ctx}: {}\n{}", r.stdout, r.stderr);
            assert_eq!(op2, op, "{ctx}: the same operation id");
            assert_eq!(
                writes_since(&env.info, mark),
                Vec::<String>::new(),
                "{ctx}: no device write"
            );
        }
    }
}

/// Charter test 3, *Test connectivity*: `vnfsync probe APPLIANCE` and `POST /v1/appliances/{name}/probe`
/// return `reachable`, `latency_ms` and `last_contact`.
#[test]
fn acceptance_3_test_connectivity() {
    for profile in PROFILES {
        let env = Env::new(profile);
        for transport in TRANSPORTS {
            env.appliance(transport, transport, PASSING, WAN_IN);
        }
        env.appliance("gone", "http", PASSING, "");
        // `gone` points at a port nobody listens on.
        let gone = env.repo().join("desired-state/appliances/gone.yaml");
        let text = std::fs::read_to_string(&gone).expect("read");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("port");
        let api_port = env.info["api"]
            .as_str()
            .and_then(|a| a.rsplit_once(':'))
            .map(|(_, p)| p.to_string())
            .expect("api port");
        std::fs::write(
            &gone,
            text.replace(&format!("port: {api_port}\n"), &format!("port: {port}\n")),
        )
        .expect("write");
        env.commit("three appliances");
        for transport in TRANSPORTS {
            let ctx = format!("{profile}/{transport}");
            let r = env.run(&["probe", transport, "--format", "json"], true);
            assert_eq!(r.code, 0, "{ctx}: {}\n{}", r.stdout, r.stderr);
            let v: Value = serde_json::from_str(r.stdout.trim()).expect("json");
            assert_eq!(v["reachable"], true, "{ctx}: {v}");
            assert!(
                v["latency_ms"].as_f64().is_some_and(|l| l >= 0.0),
                "{ctx}: {v}"
            );
            assert!(v["last_contact"].as_str().is_some(), "{ctx}: {v}");
        }
        let r = env.run(&["probe", "gone", "--format", "json"], true);
        let v: Value = serde_json::from_str(r.stdout.trim()).expect("json");
        assert_eq!(v["reachable"], false, "{profile}: {v}");
        assert_ne!(
            r.code, 0,
            "{profile}: an unreachable appliance is a failure"
        );
        if profile == "1.4" {
            let daemon = env.daemon();
            for transport in TRANSPORTS {
                let v = daemon.json("POST", &format!("/v1/appliances/{transport}/probe"));
                assert_eq!(v["reachable"], true, "{transport}: {v}");
                assert!(v["latency_ms"].as_f64().is_some(), "{v}");
                assert!(v["last_contact"].as_str().is_some(), "{v}");
            }
            let v = daemon.json("POST", "/v1/appliances/gone/probe");
            assert_eq!(v["reachable"], false, "{v}");
        }
    }
}

/// Charter test 4, *Reconcile network*: `vnfsync diff` returns per appliance `missing`, `extra`,
/// `mismatched` and the exact commands, and writes nothing.
#[test]
fn acceptance_4_reconcile_network() {
    for profile in PROFILES {
        let env = Env::new(profile);
        let scope = rule_set_scope(profile);
        // On the device: rule 100 with another port, rule 200 git does not have.
        desired::out_of_band(
            &env.info,
            &format!(
                "set {scope} default-action 'drop'\nset {scope} rule 100 action 'accept'\nset {scope} rule 100 protocol 'tcp'\nset {scope} rule 100 destination port '80'\nset {scope} rule 200 action 'drop'"
            ),
        );
        assert!(
            lab_get(&env.info, "/active").contains("rule 200"),
            "{profile}: setup"
        );
        let body = format!(
            "{}      - {{id: ssh, number: 110, action: accept, protocol: tcp, destination: {{port: [22]}}}}\n",
            WAN_IN
        );
        for transport in TRANSPORTS {
            env.appliance(transport, transport, PASSING, &body);
        }
        env.commit("rules");
        let mark = log_len(&env.info);
        let r = env.run(&["diff", "--format", "json"], false);
        assert_eq!(
            r.code, 2,
            "{profile}: changes found: {}\n{}",
            r.stdout, r.stderr
        );
        let v: Value = serde_json::from_str(r.stdout.trim()).expect("diff json");
        let plans = v["plans"].as_array().expect("plans");
        assert_eq!(plans.len(), 2, "{profile}: {v}");
        let expected = vec![
            format!("delete {scope} rule 100 destination port '80'"),
            format!("delete {scope} rule 200 action 'drop'"),
            format!("set {scope} rule 100 description 'web'"),
            format!("set {scope} rule 100 destination port '443'"),
            format!("set {scope} rule 110 action 'accept'"),
            format!("set {scope} rule 110 destination port '22'"),
            format!("set {scope} rule 110 protocol 'tcp'"),
        ];
        for p in plans {
            let ctx = format!("{profile}/{}", p["appliance"]);
            let names = |k: &str| -> Vec<String> {
                p[k].as_array()
                    .expect("list")
                    .iter()
                    .map(|e| e["path"].as_str().expect("path").to_string())
                    .collect()
            };
            assert_eq!(names("missing"), vec![format!("{scope} rule 110")], "{ctx}");
            assert_eq!(names("extra"), vec![format!("{scope} rule 200")], "{ctx}");
            assert_eq!(
                names("mismatched"),
                vec![format!("{scope} rule 100")],
                "{ctx}"
            );
            let commands: Vec<String> = p["commands"]
                .as_array()
                .expect("commands")
                .iter()
                .map(|c| c.as_str().expect("command").to_string())
                .collect();
            assert_eq!(commands, expected, "{ctx}");
        }
        assert_eq!(
            writes_since(&env.info, mark),
            Vec::<String>::new(),
            "{profile}: diff is read-only"
        );
    }
}

/// Charter test 5, *List operations*: `vnfsync ops --appliance X --state completed --since T` and
/// `GET /v1/operations` with the same filters.
#[test]
fn acceptance_5_list_operations() {
    let env = Env::new("1.5");
    let since = jiff::Timestamp::now().to_string();
    env.appliance("edge", "ssh", PASSING, WAN_IN);
    env.appliance("other", "http", PASSING, "");
    env.commit("edge");
    let (result, done, r) = env.apply("edge");
    assert_eq!(result, "completed", "{}\n{}", r.stdout, r.stderr);
    // A failing probe on the next commit: a rolled-back operation.
    env.appliance(
        "edge",
        "ssh",
        "  - {kind: command, run: show version, expect: 'NOT-THIS-ROUTER'}\n",
        &WAN_IN.replace("[443]", "[8443]"),
    );
    env.commit("a change whose probe fails");
    let (result, rolled, r) = env.apply("edge");
    assert_eq!(result, "rolled_back", "{}\n{}", r.stdout, r.stderr);

    let query = |args: &[&str]| {
        let mut all = vec!["ops", "--format", "json"];
        all.extend_from_slice(args);
        let r = env.run_ops(&all);
        assert_eq!(r.code, 0, "{args:?}: {}\n{}", r.stdout, r.stderr);
        ids(&journal_ops(&r.stdout))
    };
    assert_eq!(
        query(&[
            "--appliance",
            "edge",
            "--state",
            "completed",
            "--since",
            &since
        ]),
        vec![done.clone()]
    );
    assert_eq!(
        query(&["--appliance", "edge", "--state", "rolled_back"]),
        vec![rolled.clone()]
    );
    assert_eq!(
        query(&["--appliance", "edge", "--since", &since]),
        vec![rolled.clone(), done.clone()],
        "newest first"
    );
    assert!(query(&["--appliance", "other"]).is_empty());
    let later = jiff::Timestamp::now().to_string();
    assert!(query(&["--appliance", "edge", "--since", &later]).is_empty());

    let daemon = env.daemon();
    let api = |q: &str| {
        let v = daemon.json("GET", &format!("/v1/operations?{q}"));
        ids(v["operations"].as_array().expect("operations"))
    };
    let enc = |t: &str| t.replace(':', "%3A");
    assert_eq!(
        api(&format!(
            "appliance=edge&state=completed&since={}",
            enc(&since)
        )),
        vec![done.clone()]
    );
    assert_eq!(
        api("appliance=edge&state=rolled_back"),
        vec![rolled.clone()]
    );
    assert!(api(&format!("appliance=edge&since={}", enc(&later))).is_empty());
}

impl Env {
    /// `vnfsync ops ARGS… --state-dir STATE`.
    fn run_ops(&self, args: &[&str]) -> desired::Run {
        let st = self.state();
        let mut all = args.to_vec();
        all.extend(["--state-dir", &st]);
        vnfsync(&all)
    }
}
