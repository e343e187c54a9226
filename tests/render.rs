//! Rendering through the shipped dictionaries, and `vnfsync diff` offline: snapshots of the
//! rendered commands of every appliance in `desired-state/` and of every resource kind under
//! each dictionary; determinism; the diff text and JSON (validated against `vnfsync schema
//! plan`) with its exit codes.

use std::path::{Path, PathBuf};

use assert_cmd::cargo::cargo_bin_cmd;
use vnfsync::render::{self, Loaded};
use vnfsync::source::{self, SourceFiles};
use vnfsync::vyos;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn shipped() -> Loaded {
    let files = source::read_dir(&root().join("desired-state")).expect("read");
    render::load(&files).unwrap_or_else(|e| panic!("{e:#?}"))
}

#[test]
fn every_shipped_appliance_renders() {
    let loaded = shipped();
    assert_eq!(loaded.state.appliances.len(), 3);
    for a in &loaded.state.appliances {
        let i = render::render(&loaded, a).expect("render");
        let mut text = format!("# {} with {}\n", a.name, i.dictionary);
        for s in &i.scopes {
            text.push_str(&format!("# scope {} ({:?})\n", s.path, s.drift));
        }
        text.push_str(&vyos::render_commands(&i.tree));
        insta::assert_snapshot!(format!("shipped-{}", a.name), text);
    }
}

fn owns(dictionary: &str) -> &'static str {
    if dictionary == "vyos-1.3" {
        "  - firewall name LAB-IN\n  - firewall name LAB-LOCAL\n  - firewall ipv6-name LAB6-IN\n  - firewall group\n  - interfaces ethernet eth1 firewall\n  - interfaces ethernet eth0 firewall local\n  - nat\n  - protocols static\n"
    } else {
        "  - firewall ipv4 name LAB-IN\n  - firewall ipv4 name LAB-LOCAL\n  - firewall ipv6 name LAB6-IN\n  - firewall group\n  - firewall ipv4 forward filter\n  - firewall ipv4 input filter\n  - firewall ipv6 forward filter\n  - nat\n  - protocols static\n"
    }
}

/// The features appliance; `extra` rule sets come from a policy `more` (owned as rule sets
/// under `firewall ipv4 name`).
fn features(dictionary: &str, extra: &str) -> Loaded {
    let (more_owns, more_ref) = if extra.is_empty() {
        ("", "")
    } else {
        ("  - firewall ipv4 name MORE\n", "policies: [more]\n")
    };
    let yaml = format!(
        "name: lab\ndictionary: {dictionary}\nendpoint:\n  transport: vyos-http\n  host: 127.0.0.1\n  api_key: env:K\nowns:\n{}{more_owns}{more_ref}{}",
        owns(dictionary),
        std::fs::read_to_string(root().join("tests/data/render/features.yaml")).expect("read")
    );
    let mut files = SourceFiles::default();
    files
        .files
        .insert("appliances/lab.yaml".into(), yaml.into_bytes());
    if !extra.is_empty() {
        files.files.insert(
            "policies/more.yaml".into(),
            format!("name: more\nrule_sets:\n{extra}").into_bytes(),
        );
    }
    render::load(&files).unwrap_or_else(|e| panic!("{dictionary}: {e:#?}"))
}

#[test]
fn every_resource_kind_under_every_dictionary() {
    for dictionary in ["vyos-1.3", "vyos-1.4", "vyos-1.5"] {
        let loaded = features(dictionary, "");
        let i = render::render(&loaded, &loaded.state.appliances[0]).expect("render");
        insta::assert_snapshot!(
            format!("features-{dictionary}"),
            vyos::render_commands(&i.tree)
        );
        // Deterministic: rendering again gives the same tree, hashes and objects.
        let again = render::render(&loaded, &loaded.state.appliances[0]).expect("render");
        assert_eq!(again, i);
    }
}

#[test]
fn vif_and_other_interface_kinds_attach_on_1_3() {
    let extra = "  - name: VIF-IN\n    default_action: drop\n    attach:\n      - {interface: eth1.10, direction: in}\n      - {interface: bond0, direction: out}\n      - {interface: br0.20, direction: local}\n      - {interface: wg0, direction: in}\n";
    let yaml = format!(
        "name: lab\ndictionary: vyos-1.3\nendpoint:\n  transport: vyos-http\n  host: 127.0.0.1\n  api_key: env:K\nowns:\n  - firewall name VIF-IN\n  - interfaces ethernet eth1 vif 10 firewall\n  - interfaces bonding bond0 firewall\n  - interfaces bridge br0 vif 20 firewall\n  - interfaces wireguard wg0 firewall\nrule_sets:\n{extra}"
    );
    let mut files = SourceFiles::default();
    files
        .files
        .insert("appliances/lab.yaml".into(), yaml.into_bytes());
    let loaded = render::load(&files).unwrap_or_else(|e| panic!("{e:#?}"));
    let i = render::render(&loaded, &loaded.state.appliances[0]).expect("render");
    let text = vyos::render_commands(&i.tree);
    for line in [
        "set interfaces ethernet eth1 vif 10 firewall in name 'VIF-IN'",
        "set interfaces bonding bond0 firewall out name 'VIF-IN'",
        "set interfaces bridge br0 vif 20 firewall local name 'VIF-IN'",
        "set interfaces wireguard wg0 firewall in name 'VIF-IN'",
    ] {
        assert!(text.contains(line), "{line} in:\n{text}");
    }
}

#[test]
fn attachment_numbers_are_stable_when_others_come_and_go() {
    let number_of = |loaded: &Loaded| -> Vec<String> {
        let i = render::render(loaded, &loaded.state.appliances[0]).expect("render");
        vyos::render_commands(&i.tree)
            .lines()
            .filter(|l| l.contains("forward filter rule") && l.contains("jump-target 'LAB-IN'"))
            .map(str::to_string)
            .collect()
    };
    let before = number_of(&features("vyos-1.4", ""));
    let with_more = number_of(&features(
        "vyos-1.4",
        "  - name: MORE\n    default_action: drop\n    attach:\n      - {interface: eth2, direction: in}\n",
    ));
    assert_eq!(before.len(), 1);
    assert_eq!(before, with_more);
}

fn diff(dir: &Path, extra: &[&str]) -> (i32, String, String) {
    let out = cargo_bin_cmd!("vnfsync")
        .arg("diff")
        .arg("--repo")
        .arg(root())
        .args(["--running-dir"])
        .arg(dir)
        .args(extra)
        .output()
        .expect("run");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn diff_offline_text_json_and_exit_codes() {
    let loaded = shipped();
    let dir = tempfile::tempdir().expect("tempdir");
    // edge-1 and edge-2 are in sync; branch-1 runs with one rule changed and unowned config.
    for a in &loaded.state.appliances {
        let i = render::render(&loaded, a).expect("render");
        let mut text = vyos::render_commands(&i.tree);
        if a.name.as_str() == "branch-1" {
            text = text.replace("protocol 'icmp'", "protocol 'tcp'");
            text.push_str("set system host-name 'branch-1'\n");
        }
        std::fs::write(dir.path().join(format!("{}.commands", a.name)), text).expect("write");
    }
    let (code, out, err) = diff(dir.path(), &["--appliance", "edge-1"]);
    assert_eq!((code, err.as_str()), (0, ""), "{out}");
    assert_eq!(
        out,
        "edge-1 (vyos-1.4): 0 missing, 0 extra, 0 mismatched, 0 command(s)\n"
    );
    let (code, out, _) = diff(dir.path(), &[]);
    assert_eq!(code, 2, "{out}");
    insta::assert_snapshot!("diff-offline-text", out);

    let (code, out, _) = diff(dir.path(), &["--format", "json"]);
    assert_eq!(code, 2);
    let report: serde_json::Value = serde_json::from_str(&out).expect("json");
    let schema = cargo_bin_cmd!("vnfsync")
        .args(["schema", "plan"])
        .output()
        .expect("schema");
    let schema: serde_json::Value = serde_json::from_slice(&schema.stdout).expect("schema json");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&report)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    let plans = report["plans"].as_array().expect("plans");
    assert_eq!(plans.len(), 3);
    assert_eq!(
        plans[0]["mismatched"][0]["key"],
        serde_json::json!({"rule_set": "BRANCH-IN", "rule": "icmp", "number": 20})
    );

    // A missing running config is bad input; the others are still reported.
    std::fs::remove_file(dir.path().join("edge-2.commands")).expect("rm");
    let (code, out, _) = diff(dir.path(), &[]);
    assert_eq!(code, 64, "{out}");
    assert!(out.contains("edge-1 (vyos-1.4): 0 missing"), "{out}");
    assert!(
        out.contains("edge-2: error BAD_INPUT: no running config for appliance `edge-2`"),
        "{out}"
    );
    // --running for one appliance; an unknown appliance; --running with several.
    let one = dir.path().join("edge-1.commands");
    let out = cargo_bin_cmd!("vnfsync")
        .args(["diff", "--repo"])
        .arg(root())
        .args(["--appliance", "edge-1", "--running"])
        .arg(&one)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0));
    let (code, _, err) = diff(dir.path(), &["--appliance", "edge1"]);
    assert_eq!(code, 64);
    assert!(err.contains("did you mean `edge-1`?"), "{err}");
    let out = cargo_bin_cmd!("vnfsync")
        .args(["diff", "--repo"])
        .arg(root())
        .arg("--running")
        .arg(&one)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(64));
}

#[test]
fn diff_refuses_a_config_boot_of_another_firmware() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("edge-1.boot"),
        "system {\n    host-name \"edge-1\"\n}\n\n// Warning: Do not remove the following line.\n// vyos-config-version: \"system@21\"\n// Release version: 1.3.8\n",
    )
    .expect("write");
    let (code, out, _) = diff(dir.path(), &["--appliance", "edge-1"]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(
        out,
        "edge-1: error VNF_INVALID: VNF_INVALID: appliance `edge-1` runs 1.3.8, but its dictionary `vyos-1.4` is for firmware >=1.4, <1.5; nothing was planned or written\n"
    );
}
