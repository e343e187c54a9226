//! The engine's in-process test bench (`#[path = "support/engine_env.rs"] mod engine_env;`):
//! a `vnfsync lab` process, a desired state pointed at it (rendered in memory), an engine
//! context with a journal and snapshot store in a temporary directory, and the lab's control
//! endpoint (active and saved configs, the command log, the summary).
#![allow(dead_code, clippy::disallowed_methods)]

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

#[path = "lab_log.rs"]
mod lab_log;
use vnfsync::driver::secret::ProcessEnv;
use vnfsync::driver::store::SnapshotStore;
use vnfsync::driver::vyos::Timeouts;
use vnfsync::engine::{Context, Policy};
use vnfsync::journal::{Journal, Options};
use vnfsync::render::{self, Loaded};
use vnfsync::source::SourceFiles;

#[path = "lab_process.rs"]
mod lab_process;
pub use lab_process::{Killed, start_lab};

pub struct Lab {
    pub _process: Killed,
    pub info: Value,
    pub dir: tempfile::TempDir,
    pub profile: String,
}

impl Lab {
    pub fn start(profile: &str) -> Lab {
        let (process, info) = start_lab(profile, &[]);
        let dir = tempfile::tempdir().expect("tempdir");
        for key in ["password", "api_key"] {
            std::fs::write(dir.path().join(key), info[key].as_str().expect("secret"))
                .expect("write");
        }
        Lab {
            _process: process,
            info,
            dir,
            profile: profile.to_string(),
        }
    }

    pub fn addr(&self, key: &str) -> (String, u16) {
        let a = self.info[key]
            .as_str()
            .expect("address")
            .trim_start_matches("http://");
        let (host, port) = a.rsplit_once(':').expect("host:port");
        (host.to_string(), port.parse().expect("port"))
    }

    pub fn endpoint(&self, transport: &str) -> String {
        let secrets = self.dir.path().display();
        if transport == "ssh" {
            let (host, port) = self.addr("ssh");
            format!(
                "  transport: ssh\n  host: {host}\n  port: {port}\n  user: {}\n  password: file:{secrets}/password\n  host_key: {}\n",
                self.info["user"].as_str().expect("user"),
                self.info["host_key_fingerprint"].as_str().expect("fp"),
            )
        } else {
            let (host, port) = self.addr("api");
            format!(
                "  transport: vyos-http\n  scheme: http\n  host: {host}\n  port: {port}\n  api_key: file:{secrets}/api_key\n"
            )
        }
    }

    pub fn get(&self, path: &str) -> String {
        let url = format!("{}{path}", self.info["control"].as_str().expect("control"));
        reqwest::blocking::get(&url)
            .and_then(|r| r.text())
            .unwrap_or_else(|e| panic!("GET {url}: {e}"))
    }

    pub fn log_len(&self) -> u64 {
        let log: Value = serde_json::from_str(&self.get("/log")).expect("log json");
        log.as_array()
            .and_then(|a| a.last())
            .and_then(|e| e["seq"].as_u64())
            .unwrap_or(0)
    }

    /// Commands after `since` that write.
    pub fn writes_since(&self, since: u64) -> Vec<String> {
        let log: Value =
            serde_json::from_str(&self.get(&format!("/log?since={since}"))).expect("log json");
        lab_log::writes(&log)
    }

    /// `POST` a JSON body to the control URL (`/faults`, `/reboot`).
    pub fn post(&self, path: &str, body: &str) -> String {
        let url = format!("{}{path}", self.info["control"].as_str().expect("control"));
        reqwest::blocking::Client::new()
            .post(&url)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .and_then(|r| r.error_for_status())
            .and_then(|r| r.text())
            .unwrap_or_else(|e| panic!("POST {url}: {e}"))
    }

    pub fn summary(&self) -> Value {
        serde_json::from_str(&self.get("")).expect("summary")
    }

    pub fn loaded(&self, transport: &str, routes: &str, health: &str) -> Loaded {
        self.loaded_owning(transport, "protocols static", routes, health)
    }

    /// `owns` is one entry of the list (`protocols static`, or `{path: …, drift: overwrite}`).
    pub fn loaded_owning(&self, transport: &str, owns: &str, routes: &str, health: &str) -> Loaded {
        let yaml = format!(
            "name: lab\ndictionary: vyos-{}\nendpoint:\n{}owns:\n  - {owns}\ncommit:\n  confirm_window: 1m\nhealth:\n{health}routes:\n{routes}",
            self.profile,
            self.endpoint(transport)
        );
        let mut files = SourceFiles::default();
        files
            .files
            .insert("appliances/lab.yaml".into(), yaml.into_bytes());
        let mut loaded = render::load(&files).unwrap_or_else(|e| panic!("{e:#?}"));
        loaded.state.commit = Some("0123456789abcdef0123456789abcdef01234567".into());
        loaded
    }

    pub fn context(&self) -> Context {
        let journal = Journal::open(
            self.dir.path().join("state/journal.redb"),
            Options {
                create: true,
                ..Options::default()
            },
        )
        .expect("journal");
        Context::new(
            journal,
            SnapshotStore::new(self.dir.path().join("state/rollback")),
            Arc::new(ProcessEnv),
            Timeouts {
                connect: Duration::from_secs(5),
                command: Duration::from_secs(10),
            },
            Policy {
                retry_delays: vec![Duration::from_millis(100)],
                revert_grace: Duration::from_secs(5),
                probe_timeout: Duration::from_secs(5),
                ..Policy::default()
            },
        )
    }
}

pub const ROUTES: &str = "  - {prefix: 10.20.0.0/16, next_hop: 192.0.2.253}\n";
pub const PASSING: &str =
    "  - {kind: login}\n  - {kind: command, run: show version, expect: 'VyOS'}\n";
pub const FAILING: &str =
    "  - {kind: login}\n  - {kind: command, run: show version, expect: 'NOT-THIS-ROUTER'}\n";

pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

pub fn has_route(active: &str) -> bool {
    active.contains("10.20.0.0/16")
}
