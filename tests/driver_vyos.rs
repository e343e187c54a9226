//! The VyOS driver against the lab emulator (`vnfsync lab`, the real binary), for every profile
//! and both transports: fetch, apply, idempotence (the emulator's command log shows no write),
//! commit-confirm confirmed and not confirmed, the lockout scenario, partial commits, a pinned
//! host key, bad credentials, a hang, and an injection attempt that never reaches the device.

// The lab is a separate process with its own clock: deadlines here are wall-clock.
#![allow(clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use serde_json::Value;
use vnfsync::driver::vyos::{Timeouts, VyosDriver};
use vnfsync::driver::{
    ApplyOptions, ApplyOutcome, ConfirmOutcome, ConfirmState, Driver, DriverError, ErrorCode, Pin,
    secret::ProcessEnv,
};
use vnfsync::model;
use vnfsync::source::SourceFiles;
use vnfsync::vyos::{Command, ConfigTree};

#[path = "support/lab_process.rs"]
mod lab_process;
use lab_process::{Killed, start_lab};

/// A running `vnfsync lab` with one appliance; killed on drop.
struct Lab {
    _process: Killed,
    info: Value,
    secrets: tempfile::TempDir,
}

impl Lab {
    fn start(profile: &str) -> Lab {
        let (process, info) =
            start_lab(profile, &["--minute-seconds", "1", "--reboot-seconds", "1"]);
        let secrets = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            secrets.path().join("password"),
            info["password"].as_str().expect("password"),
        )
        .expect("write");
        std::fs::write(
            secrets.path().join("api_key"),
            info["api_key"].as_str().expect("api_key"),
        )
        .expect("write");
        std::fs::write(secrets.path().join("wrong"), "not-the-password").expect("write");
        Lab {
            _process: process,
            info,
            secrets,
        }
    }

    fn control(&self) -> String {
        self.info["control"].as_str().expect("control").to_string()
    }

    fn addr(&self, key: &str) -> (String, u16) {
        let a = self.info[key]
            .as_str()
            .expect("address")
            .trim_start_matches("http://");
        let (host, port) = a.rsplit_once(':').expect("host:port");
        (host.to_string(), port.parse().expect("port"))
    }

    /// The appliance as the desired state would describe it.
    fn appliance(
        &self,
        transport: &str,
        password_file: &str,
        host_key: Option<&str>,
    ) -> model::Appliance {
        let secrets = self.secrets.path().display();
        let endpoint = match transport {
            "ssh" => {
                let (host, port) = self.addr("ssh");
                let pin = host_key.map(str::to_string).unwrap_or_else(|| {
                    self.info["host_key_fingerprint"]
                        .as_str()
                        .expect("fp")
                        .to_string()
                });
                format!(
                    "  transport: ssh\n  host: {host}\n  port: {port}\n  user: {}\n  password: file:{secrets}/{password_file}\n  host_key: {pin}\n",
                    self.info["user"].as_str().expect("user")
                )
            }
            _ => {
                let (host, port) = self.addr("api");
                format!(
                    "  transport: vyos-http\n  scheme: http\n  host: {host}\n  port: {port}\n  api_key: file:{secrets}/{}\n",
                    if password_file == "password" {
                        "api_key"
                    } else {
                        password_file
                    }
                )
            }
        };
        let yaml = format!(
            "name: r1\ndictionary: vyos-1.4\nendpoint:\n{endpoint}owns: [firewall, nat, protocols, system, interfaces]\n"
        );
        let mut files = SourceFiles::default();
        files
            .files
            .insert("appliances/r1.yaml".into(), yaml.into_bytes());
        let state = model::load(&files).unwrap_or_else(|e| panic!("appliance yaml: {e:?}"));
        state.appliances[0].clone()
    }

    fn driver(&self, transport: &str) -> VyosDriver {
        self.driver_with(transport, "password", None, Duration::from_secs(10))
    }

    fn driver_with(
        &self,
        transport: &str,
        secret: &str,
        host_key: Option<&str>,
        command: Duration,
    ) -> VyosDriver {
        let a = self.appliance(transport, secret, host_key);
        VyosDriver::new(
            &a,
            &ProcessEnv,
            Timeouts {
                connect: Duration::from_secs(5),
                command,
            },
        )
        .expect("driver")
    }

    fn get(&self, path: &str) -> String {
        http_get(&format!("{}{path}", self.control()))
    }

    fn log_len(&self) -> u64 {
        let log: Value = serde_json::from_str(&self.get("/log")).expect("log json");
        log.as_array()
            .and_then(|a| a.last())
            .and_then(|e| e["seq"].as_u64())
            .unwrap_or(0)
    }

    /// Commands the device received after `since` that write (set/delete/commit/save/load …).
    fn writes_since(&self, since: u64) -> Vec<String> {
        let log: Value =
            serde_json::from_str(&self.get(&format!("/log?since={since}"))).expect("log json");
        log.as_array()
            .expect("list")
            .iter()
            .filter_map(|e| e["command"].as_str())
            .filter(|c| {
                let c = c.trim_start();
                [
                    "set ",
                    "delete ",
                    "comment ",
                    "commit",
                    "save",
                    "load",
                    "merge",
                    "configure set",
                    "configure delete",
                    "config-file save",
                    "config-file load",
                ]
                .iter()
                .any(|w| c.starts_with(w))
            })
            .map(str::to_string)
            .collect()
    }

    fn post(&self, path: &str, body: &str) {
        http_post(&format!("{}{path}", self.control()), body);
    }
}

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

fn http_get(url: &str) -> String {
    client()
        .get(url)
        .send()
        .and_then(|r| r.text())
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
}

fn http_post(url: &str, body: &str) {
    let r = client()
        .post(url)
        .body(body.to_string())
        .send()
        .unwrap_or_else(|e| panic!("POST {url}: {e}"));
    assert!(r.status().is_success(), "POST {url}: {}", r.status());
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn cmds(text: &str) -> Vec<Command> {
    vnfsync::vyos::parse_commands(text).expect("commands")
}

fn plan() -> Vec<Command> {
    cmds(
        "set firewall ipv4 name WAN-IN default-action 'drop'\n\
         set firewall ipv4 name WAN-IN rule 10 action 'accept'\n\
         set firewall ipv4 name WAN-IN rule 10 state 'established'\n\
         set protocols static route 10.20.0.0/16 next-hop 192.0.2.1\n",
    )
}

fn plan_for(profile: &str) -> Vec<Command> {
    if profile == "1.3" {
        cmds(
            "set firewall name WAN-IN default-action 'drop'\n\
             set firewall name WAN-IN rule 10 action 'accept'\n\
             set protocols static route 10.20.0.0/16 next-hop 192.0.2.1\n",
        )
    } else {
        plan()
    }
}

fn options(window: Option<u64>) -> ApplyOptions {
    ApplyOptions {
        confirm_window: window.map(|m| Duration::from_secs(m * 60)),
        comment: "vnfsync 0123456789ab".into(),
        ..ApplyOptions::default()
    }
}

/// Poll `f` until it returns Some, or panic after `secs`.
fn poll<T>(secs: u64, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn is_none(v: &Value) -> bool {
    v.is_null() || *v == Value::Bool(false)
}

fn has_route(tree: &ConfigTree) -> bool {
    tree.get(&["protocols", "static", "route", "10.20.0.0/16"])
        .is_some()
}

const PROFILES: [&str; 3] = ["1.3", "1.4", "1.5"];
const TRANSPORTS: [&str; 2] = ["ssh", "http"];

#[test]
fn fetch_apply_and_idempotence_on_every_profile_and_transport() {
    for profile in PROFILES {
        for transport in TRANSPORTS {
            let lab = Lab::start(profile);
            let rt = rt();
            let mut d = lab.driver(transport);
            let before = rt
                .block_on(d.fetch())
                .unwrap_or_else(|e| panic!("{profile}/{transport} fetch: {e}"));
            assert!(!has_route(&before));
            let out = rt
                .block_on(d.apply(&plan_for(profile), &options(None)))
                .unwrap_or_else(|e| panic!("{profile}/{transport} apply: {e}"));
            assert_eq!(
                out,
                ApplyOutcome::Committed {
                    confirm: ConfirmState::NotRequested,
                    saved_before: false,
                    comment_carried: transport == "ssh",
                }
            );
            let active = ConfigTree::parse_commands(&lab.get("/active")).expect("active");
            assert!(has_route(&active), "{profile}/{transport}: route committed");
            let mark = lab.log_len();
            let again = rt
                .block_on(d.apply(&plan_for(profile), &options(None)))
                .expect("second apply");
            assert_eq!(again, ApplyOutcome::NoChange, "{profile}/{transport}");
            assert_eq!(
                lab.writes_since(mark),
                Vec::<String>::new(),
                "{profile}/{transport}: a second apply writes nothing"
            );
            let info = rt.block_on(d.info()).expect("info");
            assert_eq!(
                info.line, profile,
                "{profile}/{transport}: version detected"
            );
        }
    }
}

#[test]
fn commit_confirm_confirmed_stays() {
    for profile in PROFILES {
        let lab = Lab::start(profile);
        let rt = rt();
        let mut d = lab.driver("ssh");
        let out = rt
            .block_on(d.apply(&plan_for(profile), &options(Some(1))))
            .unwrap_or_else(|e| panic!("{profile}: {e}"));
        let ApplyOutcome::Committed {
            confirm: ConfirmState::Armed { .. },
            saved_before,
            ..
        } = out
        else {
            panic!("{profile}: {out:?}")
        };
        assert!(
            saved_before,
            "{profile}: the reboot fallback needs the good config saved first"
        );
        let summary: Value = serde_json::from_str(&lab.get("")).expect("summary");
        assert!(
            !is_none(&summary["pending_confirm"]),
            "{profile}: a confirm is pending: {summary}"
        );
        assert!(
            d.confirm_pending().is_some(),
            "{profile}: the driver knows it armed a confirm"
        );
        assert_eq!(
            rt.block_on(d.confirm()).expect("confirm"),
            ConfirmOutcome::Stopped,
            "{profile}: the pending confirm was stopped"
        );
        assert!(d.confirm_pending().is_none(), "{profile}");
        assert_eq!(
            rt.block_on(d.confirm()).expect("second confirm"),
            ConfirmOutcome::NothingPending,
            "{profile}: nothing left to confirm"
        );
        // The timer is gone, so nothing will revert: no confirm pending, the box up, the change in.
        let summary: Value = serde_json::from_str(&lab.get("")).expect("summary");
        assert!(is_none(&summary["pending_confirm"]), "{profile}: {summary}");
        assert_eq!(summary["up"], true);
        let now = rt.block_on(d.fetch()).expect("fetch after confirm");
        assert!(has_route(&now), "{profile}: confirmed change stays");
    }
}

#[test]
fn commit_confirm_not_confirmed_reverts() {
    for profile in PROFILES {
        let lab = Lab::start(profile);
        let rt = rt();
        let mut d = lab.driver("ssh");
        rt.block_on(d.apply(&plan_for(profile), &options(Some(1))))
            .unwrap_or_else(|e| panic!("{profile}: {e}"));
        let reverted = poll(30, "the device to revert", || {
            match rt.block_on(d.fetch()) {
                Ok(t) if !has_route(&t) => Some(t),
                _ => None,
            }
        });
        assert!(!has_route(&reverted), "{profile}");
        // The timer fired: a late confirm must not read as a success.
        assert_eq!(
            rt.block_on(d.confirm()).expect("late confirm"),
            ConfirmOutcome::NothingPending,
            "{profile}"
        );
    }
}

#[test]
fn http_without_confirm_support_leaves_it_to_the_daemon() {
    let lab = Lab::start("1.4");
    let rt = rt();
    let mut d = lab.driver("http");
    let out = rt
        .block_on(d.apply(&plan(), &options(Some(1))))
        .expect("apply");
    assert_eq!(
        out,
        ApplyOutcome::Committed {
            confirm: ConfirmState::DaemonWatchdog,
            saved_before: false,
            comment_carried: false,
        }
    );
}

#[test]
fn lockout_is_undone_by_commit_confirm() {
    let lab = Lab::start("1.4");
    let rt = rt();
    let mut d = lab.driver("ssh");
    let lock = cmds(
        "set firewall ipv4 input filter default-action 'accept'\n\
         set firewall ipv4 input filter rule 10 action 'drop'\n\
         set firewall ipv4 input filter rule 10 protocol 'tcp'\n\
         set firewall ipv4 input filter rule 10 destination port '22'\n",
    );
    // The change cuts off the very session that makes it (no state-policy accepts established
    // traffic), so the answer may never come: either outcome of apply is possible.
    match rt.block_on(d.apply(&lock, &options(Some(1)))) {
        Ok(out) => assert!(
            matches!(
                out,
                ApplyOutcome::Committed {
                    confirm: ConfirmState::Armed { .. },
                    ..
                }
            ),
            "{out:?}"
        ),
        Err(e) => assert_eq!(e.code(), ErrorCode::Unreachable, "{e}"),
    }
    let probe = rt.block_on(d.probe());
    assert!(
        probe.is_err(),
        "a fresh connection must be refused while locked out: {probe:?}"
    );
    // Not confirmed: the box reboots into the saved config and lets us in again.
    let report = poll(30, "the appliance to come back", || {
        rt.block_on(d.probe()).ok()
    });
    assert!(report.reachable);
    let now = rt.block_on(d.fetch()).expect("fetch");
    assert!(
        now.get(&["firewall", "ipv4", "input", "filter", "rule", "10"])
            .is_none()
    );
}

#[test]
fn partial_commit_is_reported_with_the_running_config() {
    for transport in TRANSPORTS {
        let lab = Lab::start("1.4");
        let rt = rt();
        let mut d = lab.driver(transport);
        let mixed = cmds(
            "set protocols static route 10.20.0.0/16 next-hop 192.0.2.1\n\
             set nat source rule 10 outbound-interface name 'eth0'\n\
             set nat source rule 10 source port '80'\n\
             set nat source rule 10 translation address 'masquerade'\n",
        );
        let err = rt
            .block_on(d.apply(&mixed, &options(None)))
            .expect_err("NAT rule without protocol fails");
        assert_eq!(err.code(), ErrorCode::Invalid, "{transport}: {err}");
        match err {
            DriverError::CommitFailed {
                partial,
                running,
                device,
                ..
            } => {
                assert!(device.contains("nat"), "{transport}: {device}");
                assert!(partial, "{transport}: the static route committed anyway");
                assert!(running.is_some_and(|r| has_route(&r)), "{transport}");
            }
            other => panic!("{transport}: {other}"),
        }
    }
}

#[test]
fn wrong_host_key_is_refused() {
    let lab = Lab::start("1.4");
    let rt = rt();
    let mut d = lab.driver_with(
        "ssh",
        "password",
        Some("SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU"),
        Duration::from_secs(10),
    );
    let err = rt.block_on(d.fetch()).expect_err("pin mismatch");
    assert!(matches!(err, DriverError::HostKey { .. }), "{err}");
    assert_eq!(err.code(), ErrorCode::Auth);
    assert!(!err.retryable());
    // The full public key works as a pin as well as the fingerprint.
    let key = lab.info["host_key"].as_str().expect("host key").to_string();
    let mut ok = lab.driver_with("ssh", "password", Some(&key), Duration::from_secs(10));
    rt.block_on(ok.fetch()).expect("pinned by public key");
}

#[test]
fn wrong_credentials_are_vnf_auth() {
    let lab = Lab::start("1.5");
    let rt = rt();
    for transport in TRANSPORTS {
        let mut d = lab.driver_with(transport, "wrong", None, Duration::from_secs(10));
        let err = rt.block_on(d.fetch()).expect_err("bad credentials");
        assert_eq!(err.code(), ErrorCode::Auth, "{transport}: {err}");
    }
}

#[test]
fn a_hang_is_vnf_timeout_within_the_timeout() {
    let lab = Lab::start("1.4");
    let rt = rt();
    lab.post("/faults", r#"{"hang_on": "run show configuration"}"#);
    let mut d = lab.driver_with("ssh", "password", None, Duration::from_secs(2));
    let start = Instant::now();
    let err = rt.block_on(d.fetch()).expect_err("hang");
    assert_eq!(err.code(), ErrorCode::Timeout, "{err}");
    assert!(err.retryable());
    assert!(
        start.elapsed() < Duration::from_secs(8),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn an_injection_attempt_never_reaches_the_device() {
    let lab = Lab::start("1.4");
    let rt = rt();
    let mut d = lab.driver("ssh");
    let mark = lab.log_len();
    let evil = vec![Command::set(
        vec!["system".into(), "host-name".into()],
        Some("r1'; reboot; echo '".into()),
    )];
    let err = rt
        .block_on(d.apply(&evil, &options(None)))
        .expect_err("refused");
    assert_eq!(err.code(), ErrorCode::Invalid, "{err}");
    let log: Value = serde_json::from_str(&lab.get(&format!("/log?since={mark}"))).expect("log");
    assert_eq!(
        log.as_array().map(Vec::len),
        Some(0),
        "nothing reached the device: {log}"
    );
}

#[test]
fn snapshot_and_restore_without_reboot() {
    for transport in TRANSPORTS {
        let lab = Lab::start("1.4");
        let rt = rt();
        let mut d = lab.driver(transport);
        let store_dir = tempfile::tempdir().expect("tempdir");
        let store = vnfsync::driver::store::SnapshotStore::new(store_dir.path());
        let (snap, kept) = rt
            .block_on(vnfsync::driver::snapshot_to_store(
                &mut d,
                &store,
                "r1",
                "0123456789abcdef",
                std::time::UNIX_EPOCH,
            ))
            .unwrap_or_else(|e| panic!("{transport}: {e}"));
        assert_eq!(
            snap.device_path,
            "/config/vnfsync/19700101T000000Z-0123456789ab.boot"
        );
        assert!(
            kept.ends_with("r1/19700101T000000Z-0123456789ab.boot"),
            "{}",
            kept.display()
        );
        assert_eq!(std::fs::read_to_string(&kept).expect("kept"), snap.boot);
        rt.block_on(d.apply(&plan(), &options(None)))
            .expect("apply");
        rt.block_on(d.restore(&snap))
            .unwrap_or_else(|e| panic!("{transport} restore: {e}"));
        let now = rt.block_on(d.fetch()).expect("fetch");
        assert!(!has_route(&now), "{transport}: restored");
        assert!(ConfigTree::parse_boot(&snap.boot).is_ok());
    }
}

/// Plan pinning: a plan made on another base is refused before a byte is written.
#[test]
fn plan_pinning_refuses_a_moved_base() {
    for transport in TRANSPORTS {
        let lab = Lab::start("1.4");
        let rt = rt();
        let mut d = lab.driver(transport);
        let scopes = vec![vnfsync::vyos::Path::parse("protocols")];
        let running = rt.block_on(d.fetch()).expect("fetch");
        let base = vnfsync::render::tree_hash(&running, &scopes);
        // Someone changes the owned scope out of band after the plan was made.
        rt.block_on(d.apply(
            &cmds("set protocols static route 10.99.0.0/16 next-hop 192.0.2.9\n"),
            &options(None),
        ))
        .expect("out-of-band change");
        let mark = lab.log_len();
        let pinned = ApplyOptions {
            pin: Some(Pin {
                scopes: scopes.clone(),
                base_hash: base.clone(),
            }),
            ..options(None)
        };
        let err = rt
            .block_on(d.apply(&plan(), &pinned))
            .expect_err("the base moved");
        assert!(matches!(err, DriverError::BaseMoved { .. }), "{err}");
        assert_eq!(err.code(), ErrorCode::Conflict);
        assert_eq!(lab.writes_since(mark), Vec::<String>::new(), "{transport}");
        // Re-planned on the new base, the same change goes through.
        let now = rt.block_on(d.fetch()).expect("fetch");
        let fresh = ApplyOptions {
            pin: Some(Pin {
                base_hash: vnfsync::render::tree_hash(&now, &scopes),
                scopes,
            }),
            ..options(None)
        };
        rt.block_on(d.apply(&plan(), &fresh))
            .unwrap_or_else(|e| panic!("{transport}: {e}"));
    }
}

/// `save: never` reaches the driver: no save before the commit-confirm, none after.
#[test]
fn save_never_is_honoured() {
    let lab = Lab::start("1.4");
    let rt = rt();
    let mut d = lab.driver("ssh");
    let mark = lab.log_len();
    let out = rt
        .block_on(d.apply(
            &plan(),
            &ApplyOptions {
                save: vnfsync::model::SavePolicy::Never,
                ..options(Some(1))
            },
        ))
        .expect("apply");
    assert!(
        matches!(
            out,
            ApplyOutcome::Committed {
                confirm: ConfirmState::Armed { .. },
                saved_before: false,
                ..
            }
        ),
        "{out:?}"
    );
    rt.block_on(d.confirm()).expect("confirm");
    let writes = lab.writes_since(mark);
    assert!(
        !writes.iter().any(|w| w.starts_with("save")),
        "nothing saved: {writes:?}"
    );
}

/// A lost answer after a write went out is an unknown outcome, never plain unreachable.
#[test]
fn a_lost_answer_to_a_write_is_an_unknown_outcome() {
    for (transport, hang) in [("ssh", "commit"), ("http", "configure set")] {
        let lab = Lab::start("1.4");
        let rt = rt();
        lab.post("/faults", &format!(r#"{{"hang_on": "{hang}"}}"#));
        let mut d = lab.driver_with(transport, "password", None, Duration::from_secs(2));
        let err = rt
            .block_on(d.apply(&plan(), &options(None)))
            .expect_err("the answer is lost");
        assert!(err.outcome_unknown(), "{transport}: {err}");
        assert!(!err.retryable(), "{transport}: never retried blindly");
    }
}

/// Restore works from the local text when the device's copy is gone.
#[test]
fn restore_from_local_text_when_the_device_copy_is_gone() {
    for transport in TRANSPORTS {
        let lab = Lab::start("1.4");
        let rt = rt();
        let mut d = lab.driver(transport);
        let mut snap = rt.block_on(d.snapshot("keep-1")).expect("snapshot");
        rt.block_on(d.apply(&plan(), &options(None)))
            .expect("apply");
        snap.device_path = "/config/vnfsync/gone.boot".into();
        rt.block_on(d.restore(&snap))
            .unwrap_or_else(|e| panic!("{transport}: {e}"));
        let now = rt.block_on(d.fetch()).expect("fetch");
        assert!(!has_route(&now), "{transport}: back to the snapshot");
    }
}

/// Health probes each open a new connection: after a change that refuses new connections to
/// the API, the login probe fails although the pooled client could still be answered.
#[test]
fn health_probes_over_fresh_connections() {
    use vnfsync::driver::probe::run_probes;
    let lab = Lab::start("1.5");
    let rt = rt();
    for transport in TRANSPORTS {
        let a = lab.appliance(transport, "password", None);
        let probes = probes_yaml(&lab, transport);
        let report = rt.block_on(run_probes(
            &a,
            &probes,
            &ProcessEnv,
            Timeouts {
                connect: Duration::from_secs(3),
                command: Duration::from_secs(5),
            },
            Duration::from_secs(5),
        ));
        assert!(report.passed(), "{transport}: {report:?}");
        let names: Vec<&str> = report.probes.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names.len(), 4, "{names:?}");
        assert_eq!(names[0], "login");
        assert!(names[3].starts_with("command show version"), "{names:?}");
        assert!(report.probes[3].output.contains("VyOS"), "{report:?}");
    }
    // Lock out the API port: the login probe over the API fails, the SSH one still passes.
    let mut d = lab.driver("ssh");
    rt.block_on(d.apply(
        &cmds(
            "set firewall ipv4 input filter rule 10 action 'drop'\n\
             set firewall ipv4 input filter rule 10 protocol 'tcp'\n\
             set firewall ipv4 input filter rule 10 destination port '443'\n",
        ),
        &options(None),
    ))
    .expect("lock out 443");
    let a = lab.appliance("http", "password", None);
    let report = rt.block_on(run_probes(
        &a,
        &[model::HealthProbe::Login { timeout: None }],
        &ProcessEnv,
        Timeouts {
            connect: Duration::from_secs(2),
            command: Duration::from_secs(2),
        },
        Duration::from_secs(4),
    ));
    assert!(!report.passed(), "a fresh API login is refused: {report:?}");
    assert_eq!(
        report.first_failure().map(|p| p.name.as_str()),
        Some("login")
    );
}

fn probes_yaml(lab: &Lab, transport: &str) -> Vec<model::HealthProbe> {
    let (_, port) = lab.addr(if transport == "ssh" { "ssh" } else { "api" });
    vec![
        model::HealthProbe::Login { timeout: None },
        model::HealthProbe::Tcp {
            port: model::values::Port(port),
            host: None,
            timeout: None,
        },
        model::HealthProbe::HttpGet {
            url: lab.control(),
            expect_status: 200,
            timeout: None,
        },
        model::HealthProbe::Command {
            run: "show version".parse().expect("text"),
            expect: "VyOS 1\\.5".into(),
            timeout: None,
        },
    ]
}
