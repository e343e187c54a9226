//! The dictionaries speak each version's real syntax: for every profile (1.3, 1.4, 1.5) and both
//! transports (SSH, HTTP API), a desired state using every resource kind is rendered, planned
//! against a fresh lab appliance, applied with the driver (no confirm), accepted by the lab's
//! commit-time validation, fetched again, and planned again: the second plan is empty. Also:
//! `vnfsync diff` against the live lab is read-only, and refuses a device whose firmware the
//! appliance's dictionary is not for.

// The lab is a separate process with its own clock: deadlines here are wall-clock.
#![allow(clippy::disallowed_methods)]

use std::time::Duration;

use assert_cmd::cargo::cargo_bin_cmd;
use serde_json::Value;
use vnfsync::driver::secret::ProcessEnv;
use vnfsync::driver::vyos::{Timeouts, VyosDriver};
use vnfsync::driver::{ApplyOptions, ApplyOutcome, Driver};
use vnfsync::render;
use vnfsync::source::SourceFiles;

#[path = "support/lab_process.rs"]
mod lab_process;
use lab_process::{Killed, start_lab};

struct Lab {
    _process: Killed,
    info: Value,
    secrets: tempfile::TempDir,
}

impl Lab {
    fn start(profile: &str) -> Lab {
        let (process, info) = start_lab(profile, &[]);
        let secrets = tempfile::tempdir().expect("tempdir");
        for key in ["password", "api_key"] {
            std::fs::write(
                secrets.path().join(key),
                info[key].as_str().expect("secret"),
            )
            .expect("write");
        }
        Lab {
            _process: process,
            info,
            secrets,
        }
    }

    fn addr(&self, key: &str) -> (String, u16) {
        let a = self.info[key]
            .as_str()
            .expect("address")
            .trim_start_matches("http://");
        let (host, port) = a.rsplit_once(':').expect("host:port");
        (host.to_string(), port.parse().expect("port"))
    }

    fn endpoint(&self, transport: &str) -> String {
        let secrets = self.secrets.path().display();
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

    /// Every command the appliance received, oldest first.
    fn commands(&self) -> Vec<String> {
        let url = format!("{}/log", self.info["control"].as_str().expect("control"));
        let text = reqwest::blocking::get(url)
            .and_then(|r| r.text())
            .expect("control log");
        let log: Value = serde_json::from_str(&text).expect("log json");
        log.as_array()
            .expect("list")
            .iter()
            .filter_map(|e| e["command"].as_str().map(str::to_string))
            .collect()
    }
}

/// Owned scopes per dictionary: the rule sets, their attachment points, groups, NAT, routes.
fn owns(profile: &str) -> &'static str {
    if profile == "1.3" {
        "  - firewall name LAB-IN\n  - firewall name LAB-LOCAL\n  - firewall ipv6-name LAB6-IN\n  - firewall group\n  - interfaces ethernet eth1 firewall\n  - interfaces ethernet eth0 firewall local\n  - nat\n  - protocols static\n"
    } else {
        "  - firewall ipv4 name LAB-IN\n  - firewall ipv4 name LAB-LOCAL\n  - firewall ipv6 name LAB6-IN\n  - firewall group\n  - firewall ipv4 forward filter\n  - firewall ipv4 input filter\n  - firewall ipv6 forward filter\n  - nat\n  - protocols static\n"
    }
}

/// Every resource kind and rule field the model has.
const RESOURCES: &str = include_str!("data/render/features.yaml");

fn state(lab: &Lab, profile: &str, transport: &str, dictionary: &str) -> SourceFiles {
    let yaml = format!(
        "name: lab\ndictionary: {dictionary}\nendpoint:\n{}owns:\n{}{RESOURCES}",
        lab.endpoint(transport),
        owns(profile)
    );
    let mut files = SourceFiles::default();
    files
        .files
        .insert("appliances/lab.yaml".into(), yaml.into_bytes());
    files
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn render_plan_apply_fetch_plan_is_empty_on_every_profile_and_transport() {
    for profile in ["1.3", "1.4", "1.5"] {
        for transport in ["ssh", "http"] {
            let ctx = format!("{profile}/{transport}");
            let lab = Lab::start(profile);
            let files = state(&lab, profile, transport, &format!("vyos-{profile}"));
            let loaded = render::load(&files).unwrap_or_else(|e| panic!("{ctx}: {e:#?}"));
            let a = &loaded.state.appliances[0];
            let intended = render::render(&loaded, a).unwrap_or_else(|e| panic!("{ctx}: {e:?}"));
            let rt = rt();
            let mut d = VyosDriver::new(
                a,
                &ProcessEnv,
                Timeouts {
                    connect: Duration::from_secs(5),
                    command: Duration::from_secs(20),
                },
            )
            .expect("driver");
            let running = rt.block_on(d.fetch()).expect("fetch");
            let info = rt.block_on(d.info()).expect("info");
            vnfsync::plan::check_version(&intended, &info.version).expect("version in range");
            let first = vnfsync::plan::plan(&intended, &running, None);
            assert!(!first.is_empty(), "{ctx}");
            assert!(first.extra.is_empty(), "{ctx}: {:?}", first.extra);
            let out = rt
                .block_on(d.apply(
                    &first.commands,
                    &ApplyOptions {
                        confirm_window: None,
                        comment: "vnfsync render test".into(),
                        ..ApplyOptions::default()
                    },
                ))
                .unwrap_or_else(|e| {
                    let cmds: Vec<String> =
                        first.commands.iter().map(ToString::to_string).collect();
                    panic!("{ctx}: apply refused: {e}\n{}", cmds.join("\n"))
                });
            assert!(
                matches!(out, ApplyOutcome::Committed { .. }),
                "{ctx}: {out:?}"
            );
            let after = rt.block_on(d.fetch()).expect("fetch again");
            let second = vnfsync::plan::plan(
                &intended,
                &after,
                Some(&vnfsync::plan::scope_hashes(&intended, &intended.tree)),
            );
            let left: Vec<String> = second.commands.iter().map(ToString::to_string).collect();
            assert!(second.is_empty(), "{ctx}: plan after apply: {left:#?}");
            assert!(second.drift.is_empty(), "{ctx}: {:?}", second.drift);
            assert_eq!(second.target_hash, first.target_hash, "{ctx}");
            assert_eq!(second.base_hash, second.target_hash, "{ctx}");
        }
    }
}

#[test]
fn live_diff_is_read_only_and_refuses_a_firmware_outside_the_dictionary() {
    // A 1.3 device for an appliance that names vyos-1.4 is refused; a 1.5 device (whose HTTP
    // API knows `op: confirm`) is planned without a confirm probe.
    for (device, dictionary, code) in [("1.3", "1.4", 1), ("1.5", "1.5", 2)] {
        for transport in ["ssh", "http"] {
            let lab = Lab::start(device);
            let dir = tempfile::tempdir().expect("tempdir");
            let files = state(&lab, dictionary, transport, &format!("vyos-{dictionary}"));
            for (name, bytes) in &files.files {
                let p = dir.path().join(name);
                std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
                std::fs::write(p, bytes).expect("write");
            }
            let before = lab.commands().len();
            let out = cargo_bin_cmd!("vnfsync")
                .args(["diff", "--repo"])
                .arg(dir.path())
                .args(["--path", ".", "--format", "json"])
                .output()
                .expect("run");
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert_eq!(out.status.code(), Some(code), "{transport}: {stdout}");
            let report: Value = serde_json::from_str(&stdout).expect("json");
            if code == 1 {
                let e = &report["errors"][0];
                assert_eq!(e["code"], "VNF_INVALID", "{report}");
                let msg = e["message"].as_str().expect("message");
                assert!(
                    msg.contains("runs 1.3.8")
                        && msg.contains("vyos-1.4")
                        && msg.contains(">=1.4, <1.5"),
                    "{msg}"
                );
            } else {
                assert!(
                    !report["plans"][0]["commands"]
                        .as_array()
                        .expect("commands")
                        .is_empty()
                );
            }
            let seen = lab.commands();
            let new = &seen[before..];
            assert!(
                !new.is_empty(),
                "{transport}: diff read nothing from the device"
            );
            for c in new {
                for word in [
                    "set ", "delete ", "comment ", "commit", "confirm", "save", "load", "merge",
                ] {
                    assert!(!c.contains(word), "{transport}: diff sent `{c}`");
                }
            }
        }
    }
}
