//! Conformance of the VyOS emulator's HTTP API and control endpoint, driven by a client we did
//! not write: the system `curl` (`.ci/run` installs it). Every lab binds 127.0.0.1 on ephemeral
//! ports and stops when the test ends. No test sleeps a fixed time: waits poll with a deadline.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use vnfsync::lab::vyos::lab::{Lab, LabOptions};
use vnfsync::lab::vyos::{Appliance, ApplianceSpec, Profile, Timing};

#[path = "support/lab_process.rs"]
mod lab_process;
use lab_process::spawn_lab;

const KEY: &str = "vnfsync-lab-key";

#[derive(Debug)]
struct Reply {
    /// curl's exit code (0 when an HTTP answer came back).
    rc: i32,
    status: u16,
    content_type: String,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

const MARK: &str = "\n--curl-meta--";

/// Runs curl with `args` (plus silent mode and a 5 s cap) off the runtime's threads.
async fn curl(args: Vec<String>) -> Reply {
    tokio::task::spawn_blocking(move || {
        let out = Command::new("curl")
            .args(["-sS", "--max-time", "5", "-w"])
            .arg(format!("{MARK}%{{http_code}} %{{content_type}}"))
            .args(&args)
            .output();
        let out = match out {
            Ok(o) => o,
            Err(e) => panic!("cannot run curl: {e}"),
        };
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, meta) = text.rsplit_once(MARK).unwrap_or((&text, "000 "));
        let (code, ct) = meta.split_once(' ').unwrap_or((meta, ""));
        Reply {
            rc: out.status.code().unwrap_or(-1),
            status: code.parse().unwrap_or(0),
            content_type: ct.to_owned(),
            body: body.to_owned(),
        }
    })
    .await
    .unwrap_or_else(|e| panic!("curl task: {e}"))
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| (*x).to_owned()).collect()
}

/// POST a JSON body.
async fn post_json(base: &str, endpoint: &str, body: &Value) -> Reply {
    curl(s(&[
        "-H",
        "Content-Type: application/json",
        "--data-binary",
        &body.to_string(),
        &format!("{base}/{endpoint}"),
    ]))
    .await
}

/// POST an urlencoded form with `data` and `key`.
async fn post_form(base: &str, endpoint: &str, data: &Value, key: &str) -> Reply {
    curl(s(&[
        "--data-urlencode",
        &format!("data={data}"),
        "--data-urlencode",
        &format!("key={key}"),
        &format!("{base}/{endpoint}"),
    ]))
    .await
}

fn timing() -> Timing {
    Timing {
        minute: Duration::from_millis(1000),
        reboot: Duration::from_millis(800),
    }
}

struct TestLab {
    lab: Lab,
}

impl TestLab {
    async fn new(profile: Profile) -> TestLab {
        let lab = Lab::start(
            vec![ApplianceSpec::new("r1", profile)],
            LabOptions {
                port_base: None,
                timing: timing(),
            },
        )
        .await
        .unwrap_or_else(|e| panic!("lab: {e}"));
        TestLab { lab }
    }
    fn api(&self) -> String {
        format!("http://{}", self.lab.appliances()[0].api)
    }
    fn control(&self) -> String {
        self.lab.control_url("r1")
    }
    fn app(&self) -> &Arc<Appliance> {
        &self.lab.appliances()[0].appliance
    }
}

async fn eventually<F: std::future::Future<Output = bool>>(what: &str, f: impl Fn() -> F) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !f().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn set(path: &[&str]) -> Value {
    json!({"op": "set", "path": path})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_round_trip_in_every_body_format() {
    let t = TestLab::new(Profile::V14).await;
    let api = t.api();
    // JSON body, key in the body.
    let r = post_json(
        &api,
        "configure",
        &json!({"key": KEY, "op": "set", "path": ["system", "host-name", "api1"]}),
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.content_type, "text/html; charset=utf-8");
    assert_eq!(
        r.body,
        "{\"success\": true, \"data\": null, \"error\": null}"
    );
    // urlencoded form, a batch in one commit.
    let revs = t.app().archive().len();
    let r = post_form(
        &api,
        "configure",
        &json!([
            {"op": "set", "path": ["interfaces", "ethernet", "eth1", "address"], "value": "198.51.100.1/24"},
            {"op": "set", "path": ["interfaces", "ethernet", "eth1", "description"], "value": "LAN"},
            {"op": "comment", "path": ["interfaces", "ethernet", "eth1"], "value": "downstream"},
        ]),
        KEY,
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(t.app().archive().len(), revs + 1, "one commit per request");
    // multipart form (curl -F), as the VyOS documentation does it.
    let r = curl(s(&[
        "-F",
        "data={\"op\": \"showConfig\", \"path\": [\"interfaces\", \"ethernet\", \"eth1\"]}",
        "-F",
        &format!("key={KEY}"),
        &format!("{api}/retrieve"),
    ]))
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        r.json()["data"],
        json!({"address": "198.51.100.1/24", "description": "LAN", "hw-id": "00:53:00:00:00:01"})
    );
    let r = post_json(
        &api,
        "retrieve",
        &json!({"key": KEY, "op": "showConfig", "path": ["system", "host-name"]}),
    )
    .await;
    assert_eq!(r.json()["data"], json!({"host-name": "api1"}));
    let r = post_json(
        &api,
        "retrieve",
        &json!({"key": KEY, "op": "returnValue", "path": ["system", "host-name"]}),
    )
    .await;
    assert_eq!(r.json()["data"], json!("api1"));
    let r = post_json(
        &api,
        "retrieve",
        &json!({"key": KEY, "op": "exists", "path": ["nat"]}),
    )
    .await;
    assert_eq!(r.json()["data"], json!(false));
    let r = post_json(
        &api,
        "show",
        &json!({"key": KEY, "op": "show", "path": ["configuration", "commands"]}),
    )
    .await;
    let shown = r.json()["data"].as_str().unwrap_or_default().to_owned();
    assert!(
        shown.contains("comment interfaces ethernet eth1 'downstream'\n"),
        "{shown}"
    );
    let r = post_json(&api, "config-file", &json!({"key": KEY, "op": "save"})).await;
    assert_eq!(
        r.body,
        "{\"success\": true, \"data\": \"\", \"error\": null}"
    );
    assert!(t.app().saved().contains("host-name \"api1\""));
    // The same as seen through the SSH exec path.
    let r = curl(s(&[
        "--data-binary",
        "{\"command\": \"show configuration commands\"}",
        &format!("{}/exec", t.control()),
    ]))
    .await;
    assert!(
        r.json()["stdout"]
            .as_str()
            .unwrap_or_default()
            .contains("set system host-name 'api1'")
    );
    // Delete, and load of a saved file (which commits).
    let r = post_json(
        &api,
        "configure",
        &json!({"key": KEY, "op": "delete", "path": ["interfaces", "ethernet", "eth1"]}),
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(!t.app().active().exists(&["interfaces", "ethernet", "eth1"]));
    let r = post_json(
        &api,
        "config-file",
        &json!({"key": KEY, "op": "load", "file": "/config/config.boot"}),
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert!(t.app().active().exists(&["interfaces", "ethernet", "eth1"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_configure_section_and_natural_order() {
    let t = TestLab::new(Profile::V14).await;
    let api = t.api();
    let r = post_json(
        &api,
        "configure-section",
        &json!({"key": KEY, "op": "load", "path": ["protocols", "static"], "section": {
            "route": {
                "10.0.0.0/8": {"next-hop": {"192.0.2.254": {"distance": "10"}}},
                "0.0.0.0/0": {"blackhole": {}},
            }
        }}),
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    let r = post_json(
        &api,
        "configure",
        &json!({"key": KEY, "commands": [
            set(&["interfaces", "ethernet", "eth10", "description", "ten"]),
            set(&["interfaces", "ethernet", "eth2", "description", "two"]),
        ]}),
    )
    .await;
    // eth10 is not part of the emulated hardware: that subtree fails, eth2 commits.
    assert_eq!(r.status, 400);
    assert!(
        r.body.contains("Interface \\\"eth10\\\" does not exist!"),
        "{}",
        r.body
    );
    let r = post_json(
        &api,
        "retrieve",
        &json!({"key": KEY, "op": "showConfig", "path": ["protocols", "static", "route"]}),
    )
    .await;
    assert_eq!(
        r.body,
        "{\"success\": true, \"data\": {\"0.0.0.0/0\": {\"blackhole\": {}}, \"10.0.0.0/8\": {\"next-hop\": {\"192.0.2.254\": {\"distance\": \"10\"}}}}, \"error\": null}"
    );
    let r = post_json(&api, "retrieve", &json!({"key": KEY, "op": "showConfig", "path": ["interfaces", "ethernet"], "configFormat": "raw"})).await;
    let raw = r.json()["data"].as_str().unwrap_or_default().to_owned();
    assert!(
        raw.starts_with("ethernet eth0 {") || raw.starts_with("eth0 {"),
        "{raw}"
    );
    // The control endpoint shows the configs.
    let summary = curl(s(&[&t.control()])).await.json();
    assert_eq!(summary["profile"], json!("1.4"));
    assert_eq!(summary["up"], json!(true));
    assert!(
        summary["active"]
            .as_str()
            .unwrap_or_default()
            .contains("set protocols static route 0.0.0.0/0 blackhole\n")
    );
    assert!(summary["unsaved"].as_bool().unwrap_or(false));
    let boot = curl(s(&[&format!("{}/active?format=boot", t.control())])).await;
    assert!(boot.body.contains("    ethernet eth2 {\n"), "{}", boot.body);
    let saved = curl(s(&[&format!("{}/saved", t.control())])).await;
    assert!(
        saved.body.ends_with("// Release version: 1.4.0\n"),
        "{}",
        saved.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_status_codes_and_messages() {
    let t = TestLab::new(Profile::V14).await;
    let api = t.api();
    let bad_key = post_json(
        &api,
        "retrieve",
        &json!({"key": "nope", "op": "showConfig", "path": []}),
    )
    .await;
    assert_eq!(
        (bad_key.status, bad_key.body.as_str()),
        (
            401,
            "{\"success\": false, \"error\": \"Valid API key is required\", \"data\": null}"
        )
    );
    let no_data = curl(s(&[
        "--data-urlencode",
        &format!("key={KEY}"),
        &format!("{api}/retrieve"),
    ]))
    .await;
    assert_eq!(no_data.status, 422);
    assert_eq!(
        no_data.json()["error"],
        json!("Non-empty data field is required")
    );
    let bad_op = post_json(
        &api,
        "retrieve",
        &json!({"key": KEY, "op": "foo", "path": []}),
    )
    .await;
    assert_eq!(bad_op.status, 400);
    assert_eq!(
        bad_op.json()["error"],
        json!("'foo' is not a valid operation")
    );
    let no_op = post_json(&api, "retrieve", &json!({"key": KEY, "path": []})).await;
    assert_eq!(no_op.status, 400);
    assert_eq!(
        no_op.json()["error"],
        json!("{'loc': ('body', 'op'), 'msg': 'field required', 'type': 'value_error.missing'}")
    );
    let get = curl(s(&[&format!("{api}/retrieve")])).await;
    assert_eq!(
        (get.status, get.body.as_str()),
        (405, "{\"detail\":\"Method Not Allowed\"}")
    );
    let no_path = post_json(&api, "configure", &json!({"key": KEY, "op": "set"})).await;
    assert_eq!(no_path.status, 400);
    assert_eq!(
        no_path.json()["error"],
        json!("Malformed command \"{\"op\": \"set\"}\": missing \"path\" field")
    );
    let bad_json = curl(s(&[
        "--data-urlencode",
        "data={not json",
        "--data-urlencode",
        &format!("key={KEY}"),
        &format!("{api}/configure"),
    ]))
    .await;
    assert_eq!(bad_json.status, 400);
    assert!(
        bad_json.json()["error"]
            .as_str()
            .unwrap_or_default()
            .starts_with("Failed to parse JSON: "),
        "{bad_json:?}"
    );
    let set_failed = post_json(&api, "configure", &json!({"key": KEY, "commands": [set(&["system", "host-name", "ok"]), set(&["foo", "bar"])]})).await;
    assert_eq!(set_failed.status, 400);
    assert_eq!(
        set_failed.json()["error"],
        json!("Configuration path: [foo] is not valid\nSet failed")
    );
    assert!(
        t.app().active().values(&["system", "host-name"]) == Some(&["r1".to_owned()][..]),
        "a failing set discards the whole request"
    );
    let bad_value = post_json(
        &api,
        "configure",
        &json!({"key": KEY, "op": "set", "path": ["system", "domain-name"], "value": "a\"b"}),
    )
    .await;
    assert_eq!(
        bad_value.json()["error"],
        json!(
            "Cannot use the double quote (\") character in a value string\nValue validation failed\nSet failed"
        )
    );
    // Deleting a missing path silently succeeds, unless strict.
    let del = post_json(
        &api,
        "configure",
        &json!({"key": KEY, "op": "delete", "path": ["system", "domain-name"]}),
    )
    .await;
    assert_eq!(del.status, 200);
    let strict = post_json(
        &api,
        "configure",
        &json!({"key": KEY, "op": "set", "path": ["service", "https", "api", "strict"]}),
    )
    .await;
    assert_eq!(
        strict.json()["data"],
        json!(
            "Requested HTTP API server configuration change; commit will be called in the background"
        )
    );
    eventually("strict mode", || async { t.app().api_strict() }).await;
    let del = post_json(
        &api,
        "configure",
        &json!({"key": KEY, "op": "delete", "path": ["system", "domain-name"]}),
    )
    .await;
    assert_eq!(del.status, 400);
    assert_eq!(
        del.json()["error"],
        json!("Cannot delete [system domain-name]: path/value does not exist")
    );
    // nginx's body limit.
    let big = format!(
        "{{\"key\": \"{KEY}\", \"op\": \"showConfig\", \"path\": [], \"pad\": \"{}\"}}",
        "x".repeat(1024 * 1024)
    );
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let file = dir.path().join("big.json");
    std::fs::write(&file, big).unwrap_or_else(|e| panic!("{e}"));
    let r = curl(s(&[
        "-H",
        "Content-Type: application/json",
        "--data-binary",
        &format!("@{}", file.display()),
        &format!("{api}/retrieve"),
    ]))
    .await;
    assert_eq!(r.status, 413);
    assert!(
        r.body
            .contains("<title>413 Request Entity Too Large</title>")
    );
    // Features of newer builds are absent on 1.4.
    let info = curl(s(&[&format!("{api}/info")])).await;
    assert_eq!(info.status, 404);
    let confirm = post_json(&api, "config-file", &json!({"key": KEY, "op": "confirm"})).await;
    assert_eq!(confirm.status, 400);
    assert_eq!(
        confirm.json()["error"],
        json!("'confirm' is not a valid operation")
    );
    // confirm_time is ignored on 1.4: a plain commit, no timer.
    let r = post_json(&api, "configure", &json!({"key": KEY, "op": "set", "path": ["system", "time-zone", "UTC"], "confirm_time": 1})).await;
    assert_eq!(r.status, 200);
    assert_eq!(t.app().pending_confirm(), None);
    // No changes: silent success in the API.
    let r = post_json(
        &api,
        "configure",
        &json!({"key": KEY, "op": "set", "path": ["system", "time-zone", "UTC"]}),
    )
    .await;
    assert_eq!(
        r.body,
        "{\"success\": true, \"data\": null, \"error\": null}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_1_3_missing_key_is_422() {
    let t = TestLab::new(Profile::V13).await;
    let r = curl(s(&[
        "--data-urlencode",
        "data={\"op\": \"showConfig\", \"path\": []}",
        &format!("{}/retrieve", t.api()),
    ]))
    .await;
    assert_eq!(r.status, 422, "{r:?}");
    let r = post_json(&t.api(), "config-file", &json!({"key": KEY, "op": "save"})).await;
    assert_eq!(
        r.json()["data"],
        json!("Saving configuration to '/config/config.boot'...\nDone\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_partial_commit() {
    let t = TestLab::new(Profile::V14).await;
    let r = post_json(
        &t.api(),
        "configure",
        &json!({"key": KEY, "commands": [
            {"op": "set", "path": ["system", "host-name"], "value": "partial"},
            {"op": "set", "path": ["nat", "destination", "rule", "5", "destination", "port"], "value": "443"},
            {"op": "set", "path": ["nat", "destination", "rule", "5", "translation", "address"], "value": "192.0.2.10"},
        ]}),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["error"],
        json!(
            "\nDestination NAT configuration error in rule 5: ports can only be\nspecified when protocol is either tcp, udp or tcp_udp!\n\n[[nat]] failed\nCommit failed\n"
        )
    );
    let active = t.app().active();
    assert_eq!(
        active.values(&["system", "host-name"]),
        Some(&["partial".to_owned()][..])
    );
    assert!(!active.exists(&["nat"]));
    // The API discarded the rest of its session.
    let w = curl(s(&[&format!("{}/working", t.control())])).await;
    assert!(!w.body.contains("nat destination"), "{}", w.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_commit_confirm_1_5() {
    let t = TestLab::new(Profile::V15).await;
    let api = t.api();
    let info = curl(s(&[&format!("{api}/info?hostname=false")])).await;
    assert_eq!(info.status, 200);
    assert_eq!(
        info.json()["data"],
        json!({"version": "1.5-stream-2025-Q2", "hostname": "", "banner": ""})
    );
    let r = post_json(&api, "config-file", &json!({"key": KEY, "op": "confirm"})).await;
    assert_eq!(r.json()["data"], json!("No confirm pending\n"));
    // Confirmed in time.
    let r = post_json(&api, "configure", &json!({"key": KEY, "op": "set", "path": ["system", "time-zone"], "value": "UTC", "confirm_time": 3})).await;
    assert_eq!(
        r.json()["data"],
        json!("Initialized commit-confirm; 3 minutes to confirm before reboot\n")
    );
    let r = post_json(&api, "configure", &json!({"key": KEY, "op": "confirm"})).await;
    assert_eq!(r.json()["data"], json!("Reboot timer stopped\n"));
    // Nothing to commit: no timer.
    let r = post_json(&api, "configure", &json!({"key": KEY, "op": "set", "path": ["system", "time-zone"], "value": "UTC", "confirm_time": 3})).await;
    assert_eq!(
        r.body,
        "{\"success\": true, \"data\": null, \"error\": null}"
    );
    assert_eq!(t.app().pending_confirm(), None);
    // Not confirmed: the box reboots to its saved config and is unreachable meanwhile.
    let r = post_json(&api, "configure", &json!({"key": KEY, "op": "set", "path": ["system", "domain-name"], "value": "lost.example", "confirm_time": 1})).await;
    assert_eq!(r.status, 200);
    let second = post_json(&api, "configure", &json!({"key": KEY, "op": "set", "path": ["system", "domain-name"], "value": "x.example", "confirm_time": 1})).await;
    assert_eq!(second.json()["error"], json!("Another confirm is pending"));
    eventually("the reboot", || async {
        let r = curl(s(&[&format!("{api}/info")])).await;
        r.status == 0 && r.rc != 0
    })
    .await;
    eventually("the end of the reboot", || async {
        curl(s(&[&format!("{api}/info")])).await.status == 200
    })
    .await;
    let active = t.app().active();
    assert!(!active.exists(&["system", "domain-name"]));
    assert!(
        !active.exists(&["system", "time-zone"]),
        "unsaved, so lost in the reboot"
    );
    // action reload: back to the last confirmed revision without a reboot.
    let r = post_json(&api, "configure", &json!({"key": KEY, "op": "set", "path": ["system", "config-management", "commit-confirm", "action"], "value": "reload"})).await;
    assert_eq!(r.status, 200);
    let r = post_json(&api, "configure", &json!({"key": KEY, "op": "set", "path": ["system", "domain-name"], "value": "reverted.example", "confirm_time": 1})).await;
    assert_eq!(
        r.json()["data"],
        json!("Initialized commit-confirm; 1 minutes to confirm before reload\n")
    );
    eventually("the revert", || async {
        !t.app().active().exists(&["system", "domain-name"])
    })
    .await;
    assert!(t.app().is_up());
    assert!(
        t.app()
            .active()
            .exists(&["system", "config-management", "commit-confirm"])
    );
}

async fn api_answers(api: &str) -> bool {
    post_json(
        api,
        "retrieve",
        &json!({"key": KEY, "op": "exists", "path": []}),
    )
    .await
    .status
        == 200
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_lockout_and_recovery() {
    let t = TestLab::new(Profile::V14).await;
    let api = t.api();
    let drop443 = json!({"key": KEY, "commands": [
        {"op": "set", "path": ["firewall", "ipv4", "input", "filter", "rule", "10", "action"], "value": "drop"},
        {"op": "set", "path": ["firewall", "ipv4", "input", "filter", "rule", "10", "protocol"], "value": "tcp"},
        {"op": "set", "path": ["firewall", "ipv4", "input", "filter", "rule", "10", "destination", "port"], "value": "443"},
    ]});
    let r = curl(s(&[
        "--max-time",
        "1",
        "-H",
        "Content-Type: application/json",
        "--data-binary",
        &drop443.to_string(),
        &format!("{api}/configure"),
    ]))
    .await;
    assert_eq!(
        r.rc, 28,
        "the committing request's answer is dropped with its connection: {r:?}"
    );
    eventually("the commit", || async {
        t.app().active().exists(&["firewall"])
    })
    .await;
    let refused = post_json(
        &api,
        "retrieve",
        &json!({"key": KEY, "op": "exists", "path": []}),
    )
    .await;
    assert_eq!(refused.status, 0, "{refused:?}");
    assert_ne!(refused.rc, 0);
    // Recovery from another path (the console, here the control endpoint's exec).
    let script = "source /opt/vyatta/etc/functions/script-template\nconfigure\ndelete firewall\ncommit\nexit\n";
    let r = curl(s(&[
        "--data-binary",
        &json!({"command": "vbash -s", "stdin": script}).to_string(),
        &format!("{}/exec", t.control()),
    ]))
    .await;
    assert_eq!(r.json()["exit_status"], json!(0), "{r:?}");
    assert!(api_answers(&api).await);
    // Recovery by commit-confirm: the same change, unconfirmed, is undone by the reboot.
    let save = post_json(&api, "config-file", &json!({"key": KEY, "op": "save"})).await;
    assert_eq!(save.status, 200);
    let script = "source /opt/vyatta/etc/functions/script-template\nconfigure\nset firewall ipv4 input filter rule 10 action 'drop'\nset firewall ipv4 input filter rule 10 protocol 'tcp'\nset firewall ipv4 input filter rule 10 destination port '443'\ncommit-confirm 1\ny\nexit\n";
    let r = curl(s(&[
        "--data-binary",
        &json!({"command": "vbash -s", "stdin": script}).to_string(),
        &format!("{}/exec", t.control()),
    ]))
    .await;
    assert!(
        r.json()["stdout"]
            .as_str()
            .unwrap_or_default()
            .contains("Proceed ? [Y/n]"),
        "{r:?}"
    );
    assert!(!api_answers(&api).await, "locked out");
    eventually("recovery by the commit-confirm reboot", || {
        api_answers(&api)
    })
    .await;
    assert!(!t.app().active().exists(&["firewall"]));
}

async fn set_faults(t: &TestLab, faults: Value) {
    let r = curl(s(&[
        "--data-binary",
        &faults.to_string(),
        &format!("{}/faults", t.control()),
    ]))
    .await;
    assert_eq!(r.status, 200, "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_faults() {
    let t = TestLab::new(Profile::V14).await;
    let api = t.api();
    let ask = json!({"key": KEY, "op": "exists", "path": ["system"]});

    set_faults(&t, json!({"latency_ms": 300})).await;
    let t0 = tokio::time::Instant::now();
    assert_eq!(post_json(&api, "retrieve", &ask).await.status, 200);
    assert!(t0.elapsed() >= Duration::from_millis(300));

    set_faults(&t, json!({"drop_after": 2})).await;
    assert_eq!(post_json(&api, "retrieve", &ask).await.status, 200);
    let dropped = post_json(&api, "retrieve", &ask).await;
    assert_eq!(dropped.status, 0, "{dropped:?}");
    assert_eq!(dropped.rc, 52, "curl: empty reply from server");
    assert_eq!(
        post_json(&api, "retrieve", &ask).await.status,
        200,
        "fires once"
    );

    set_faults(&t, json!({"fail_next_commit": "injected: disk full"})).await;
    let r = post_json(
        &api,
        "configure",
        &json!({"key": KEY, "op": "set", "path": ["system", "time-zone", "UTC"]}),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["error"],
        json!("\ninjected: disk full\n\nCommit failed\n")
    );
    assert!(!t.app().active().exists(&["system", "time-zone"]));

    set_faults(&t, json!({"hang_on": "retrieve exists"})).await;
    let hung = curl(s(&[
        "--max-time",
        "1",
        "-H",
        "Content-Type: application/json",
        "--data-binary",
        &ask.to_string(),
        &format!("{api}/retrieve"),
    ]))
    .await;
    assert_eq!(hung.rc, 28, "curl: operation timed out");

    set_faults(&t, json!({"refuse_auth": true})).await;
    assert_eq!(post_json(&api, "retrieve", &ask).await.status, 401);
    set_faults(&t, json!({})).await;
    assert_eq!(post_json(&api, "retrieve", &ask).await.status, 200);

    let r = curl(s(&["-X", "POST", &format!("{}/reboot", t.control())])).await;
    assert_eq!(r.status, 200);
    assert_eq!(post_json(&api, "retrieve", &ask).await.status, 0, "down");
    eventually("the end of the reboot", || api_answers(&api)).await;

    let bad = curl(s(&[
        "--data-binary",
        "{\"colour\": 1}",
        &format!("{}/faults", t.control()),
    ]))
    .await;
    assert_eq!(bad.status, 400);
    // The control endpoint's log saw every request.
    let log = curl(s(&[&format!("{}/log", t.control())])).await;
    let entries = log.json();
    let commands: Vec<&str> = entries
        .as_array()
        .map(|a| a.iter().filter_map(|e| e["command"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        commands.contains(&"configure set system time-zone UTC"),
        "{commands:?}"
    );
    assert!(commands.contains(&"reboot"), "{commands:?}");
}

#[test]
fn vnfsync_lab_prints_one_json_line_per_appliance() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let file = dir.path().join("lab.yaml");
    std::fs::write(
        &file,
        "appliances:\n  - name: edge\n    profile: '1.5'\n    api_key: k1\n  - name: core\n    profile: '1.3'\n    password: secret\n    config_file: core.boot\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        dir.path().join("core.boot"),
        "service {\n    ssh {\n    }\n}\nsystem {\n    host-name \"core-from-file\"\n}\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let file_arg = file.display().to_string();
    let (mut lab, parsed) = spawn_lab(
        &[
            "--file",
            &file_arg,
            "--minute-seconds",
            "1",
            "--reboot-seconds",
            "1",
        ],
        2,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let edge = &parsed[0];
    assert_eq!(edge["name"], json!("edge"));
    assert_eq!(edge["profile"], json!("1.5"));
    assert!(
        edge["ssh"]
            .as_str()
            .unwrap_or_default()
            .starts_with("127.0.0.1:")
    );
    assert_eq!(edge["api_key"], json!("k1"));
    assert_eq!(edge["user"], json!("vyos"));
    assert!(
        edge["host_key"]
            .as_str()
            .unwrap_or_default()
            .starts_with("ssh-ed25519 AAAA")
    );
    assert_eq!(parsed[1]["password"], json!("secret"));
    let core_control = parsed[1]["control"].as_str().unwrap_or_default().to_owned();
    let active = Command::new("curl")
        .args(["-sS", "--max-time", "5"])
        .arg(format!("{core_control}/active"))
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        String::from_utf8_lossy(&active.stdout),
        "set service ssh\nset system host-name 'core-from-file'\n"
    );
    let api = edge["api"].as_str().unwrap_or_default().to_owned();
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "5"])
        .arg(format!("{api}/info"))
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    // SIGTERM stops the lab cleanly.
    let term = Command::new("kill")
        .args(["-TERM", &lab.0.id().to_string()])
        .status()
        .unwrap_or_else(|e| panic!("kill: {e}"));
    assert!(term.success());
    let status = lab.0.wait().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(status.code(), Some(0));
    let body = String::from_utf8_lossy(&out.stdout);
    assert!(body.contains("\"hostname\": \"edge\""), "{body}");

    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "appliances:\n  - name: x\n    profile: '2.0'\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let out = Command::new(env!("CARGO_BIN_EXE_vnfsync"))
        .args(["lab", "--file"])
        .arg(&bad)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(64));
}

/// Runs the system `ssh` with key authentication and a pinned host key.
fn ssh(dir: &std::path::Path, port: &str, command: &str, stdin: &str) -> (String, Option<i32>) {
    use std::io::Write as _;
    let mut child = Command::new("ssh")
        .arg("-i")
        .arg(dir.join("id"))
        .arg("-o")
        .arg(format!(
            "UserKnownHostsFile={}",
            dir.join("known").display()
        ))
        .args([
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "BatchMode=yes",
            "-o",
            "ConnectTimeout=5",
            "-p",
            port,
            "vyos@127.0.0.1",
            command,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("ssh: {e}"));
    if let Some(mut i) = child.stdin.take() {
        let _ = i.write_all(stdin.as_bytes());
    }
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("ssh: {e}"));
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        out.status.code(),
    )
}

#[test]
fn openssh_round_trip_lockout_and_commit_confirm() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let keygen = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(dir.path().join("id"))
        .status()
        .unwrap_or_else(|e| panic!("ssh-keygen: {e}"));
    assert!(keygen.success());
    let public = std::fs::read_to_string(dir.path().join("id.pub")).unwrap_or_default();
    let file = dir.path().join("lab.yaml");
    std::fs::write(
        &file,
        format!(
            "appliances:\n  - name: r1\n    profile: '1.4'\n    authorized_keys: ['{}']\n",
            public.trim()
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let file_arg = file.display().to_string();
    let (_lab, mut lines) = spawn_lab(
        &[
            "--file",
            &file_arg,
            "--minute-seconds",
            "3",
            "--reboot-seconds",
            "1",
        ],
        1,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let info: Value = lines.remove(0);
    let addr = info["ssh"].as_str().unwrap_or_default().to_owned();
    let port = addr.rsplit(':').next().unwrap_or_default().to_owned();
    std::fs::write(
        dir.path().join("known"),
        format!(
            "[127.0.0.1]:{port} {}\n",
            info["host_key"].as_str().unwrap_or_default()
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let head = "#!/bin/vbash\nsource /opt/vyatta/etc/functions/script-template\nconfigure\n";
    let (out, rc) = ssh(
        dir.path(),
        &port,
        "vbash -s",
        &format!(
            "{head}set system host-name 'viassh'\nset interfaces foo\ncommit\nsave\nexit\necho DONE\n"
        ),
    );
    assert_eq!(
        out,
        "\n  Configuration path: interfaces [foo] is not valid\n  Set failed\n\nDONE\n"
    );
    assert_eq!(rc, Some(0));
    let (out, _) = ssh(dir.path(), &port, "show configuration commands", "");
    assert!(out.contains("set system host-name 'viassh'\n"), "{out}");
    let (out, rc) = ssh(dir.path(), &port, "vbash -s", &format!("{head}commit\n"));
    assert_eq!(
        (out.as_str(), rc),
        ("No configuration changes to commit\n", Some(1))
    );
    // Lock SSH out under commit-confirm: refused, then back after the timeout's reboot, with
    // the saved config (no firewall).
    let lock = {
        let dir = dir.path().to_owned();
        let port = port.clone();
        let script = format!(
            "{head}set firewall ipv4 input filter rule 10 action 'drop'\nset firewall ipv4 input filter rule 10 protocol 'tcp'\nset firewall ipv4 input filter rule 10 destination port '22'\ncommit-confirm 1\ny\n"
        );
        std::thread::spawn(move || ssh(&dir, &port, "vbash -s", &script))
    };
    // New connections are refused while the change is active.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while ssh(dir.path(), &port, "show version", "").1 != Some(255) {
        assert!(tokio::time::Instant::now() < deadline, "never locked out");
        std::thread::sleep(Duration::from_millis(50));
    }
    // The change drops the session that made it: its output never arrives, and the reboot at
    // the timeout closes the connection.
    let (out, rc) = lock.join().unwrap_or_else(|_| panic!("ssh thread"));
    assert_eq!((out.as_str(), rc), ("", Some(255)));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let (out, rc) = ssh(dir.path(), &port, "show configuration commands", "");
        if rc == Some(0) {
            assert!(!out.contains("firewall"), "{out}");
            assert!(out.contains("host-name 'viassh'"), "{out}");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "ssh never came back"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn port_base_lays_out_the_ports() {
    // Pick a base the OS just had free; retry on the rare collision with another process.
    for _ in 0..5 {
        let base = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or(0);
        if base == 0 || base > 65_000 {
            continue;
        }
        let base_arg = base.to_string();
        // A failure here is most likely another process taking a port of the layout: retry.
        let Ok((_lab, lines)) = spawn_lab(
            &["--vyos", "2", "--profile", "1.3", "--port-base", &base_arg],
            2,
        ) else {
            continue;
        };
        let second = &lines[1];
        assert_eq!(second["name"], json!("vyos2"));
        assert_eq!(second["profile"], json!("1.3"));
        assert_eq!(
            second["api"],
            json!(format!("http://127.0.0.1:{}", base + 4))
        );
        let token = second["control_token"].as_str().unwrap_or_default();
        assert_eq!(token.len(), 32, "{second}");
        assert_eq!(
            second["control"],
            json!(format!(
                "http://127.0.0.1:{base}/t/{token}/appliances/vyos2"
            ))
        );
        return;
    }
    panic!("no free port base found");
}
