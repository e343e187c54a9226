use proptest::prelude::*;

use super::*;
use crate::render::tests::loaded;

const APPLIANCE: &str = "name: edge\ndictionary: vyos-1.4\nendpoint:\n  transport: vyos-http\n  host: 127.0.0.1\n  api_key: env:K\nowns:\n  - firewall ipv4 name WEB\n  - path: nat destination\n    drift: overwrite\n";

const WEB: &str = "rule_sets:\n  - name: WEB\n    default_action: drop\n    rules:\n      - {id: https, number: 10, action: accept, protocol: tcp, destination: {port: 443}}\n      - {id: ssh, number: 20, action: accept, protocol: tcp, source: {address: 203.0.113.0/24}, destination: {port: 22}}\n      - {id: dns, number: 30, action: accept, protocol: udp, destination: {port: 53}}\nnat:\n  destination:\n    - {number: 100, inbound_interface: eth0, protocol: tcp, external_port: 443, translation_address: 192.168.1.10}\n";

fn intended(extra: &str) -> Intended {
    let l = loaded(&[("appliances/edge.yaml", &format!("{APPLIANCE}{extra}"))])
        .unwrap_or_else(|e| panic!("{e:#?}"));
    crate::render::render(&l, &l.state.appliances[0]).expect("render")
}

fn tree(commands: &str) -> ConfigTree {
    ConfigTree::parse_commands(commands).expect("commands")
}

/// The charter's test 4 (reconcile network): one rule missing, one extra rule inside an owned
/// rule set, one rule with a different port, and unowned config that must not appear. The JSON
/// document is the one `vnfsync diff --format json` prints for the appliance.
#[test]
fn charter_test_4_reconcile_network() {
    let i = intended(WEB);
    let running = tree(concat!(
        "set firewall ipv4 name WEB default-action 'drop'\n",
        "set firewall ipv4 name WEB rule 10 action 'accept'\n",
        "set firewall ipv4 name WEB rule 10 destination port '8443'\n",
        "set firewall ipv4 name WEB rule 10 protocol 'tcp'\n",
        "set firewall ipv4 name WEB rule 30 action 'accept'\n",
        "set firewall ipv4 name WEB rule 30 destination port '53'\n",
        "set firewall ipv4 name WEB rule 30 protocol 'udp'\n",
        "set firewall ipv4 name WEB rule 50 action 'accept'\n",
        "set firewall ipv4 name WEB rule 50 protocol 'icmp'\n",
        "set firewall ipv4 name OTHER rule 1 action 'drop'\n",
        "set nat destination rule 100 destination port '443'\n",
        "set nat destination rule 100 inbound-interface name 'eth0'\n",
        "set nat destination rule 100 protocol 'tcp'\n",
        "set nat destination rule 100 translation address '192.168.1.10'\n",
        "set system host-name 'edge'\n",
        "set service ssh port '22'\n",
    ));
    let p = plan(&i, &running, None);
    let json = serde_json::to_value(&p).expect("json");
    let base = json["base_hash"].clone();
    let target = json["target_hash"].clone();
    let key = json["idempotency_key"].clone();
    assert_eq!(
        json,
        serde_json::json!({
            "appliance": "edge",
            "dictionary": "vyos-1.4",
            "commit": null,
            "commands": [
                "delete firewall ipv4 name WEB rule 10 destination port '8443'",
                "delete firewall ipv4 name WEB rule 50 action 'accept'",
                "delete firewall ipv4 name WEB rule 50 protocol 'icmp'",
                "set firewall ipv4 name WEB rule 10 destination port '443'",
                "set firewall ipv4 name WEB rule 20 action 'accept'",
                "set firewall ipv4 name WEB rule 20 destination port '22'",
                "set firewall ipv4 name WEB rule 20 protocol 'tcp'",
                "set firewall ipv4 name WEB rule 20 source address '203.0.113.0/24'"
            ],
            "missing": [
                {"kind": "rule", "key": {"rule_set": "WEB", "rule": "ssh", "number": 20},
                 "path": "firewall ipv4 name WEB rule 20"}
            ],
            "extra": [
                {"kind": "rule", "key": {"rule_set": "WEB", "number": 50},
                 "path": "firewall ipv4 name WEB rule 50"}
            ],
            "mismatched": [
                {"kind": "rule", "key": {"rule_set": "WEB", "rule": "https", "number": 10},
                 "path": "firewall ipv4 name WEB rule 10"}
            ],
            "drift": [],
            "base_hash": base,
            "target_hash": target,
            "idempotency_key": key,
        })
    );
    for c in &p.commands {
        let c = c.to_string();
        assert!(
            !c.contains("OTHER") && !c.contains("system") && !c.contains("service"),
            "{c}"
        );
    }
    // The hashes are of the owned scopes only: unowned config does not change them.
    let mut other = running.clone();
    other
        .set(&["system", "host-name"], Some("renamed"))
        .expect("set");
    let q = plan(&i, &other, None);
    assert_eq!(q.base_hash, p.base_hash);
    assert_eq!(q.idempotency_key, p.idempotency_key);
    assert!(p.base_hash.starts_with("sha256:") && p.base_hash.len() == 71);
    assert_ne!(p.base_hash, p.target_hash);
}

#[test]
fn applied_plan_is_empty_and_drift_is_reported_per_scope() {
    let i = intended(WEB);
    let empty = ConfigTree::new();
    let p = plan(&i, &empty, None);
    assert_eq!(p.missing.len(), 5, "{:?}", p.missing);
    let applied = vyos::apply(&p.commands, &empty).expect("apply");
    let last = scope_hashes(&i, &i.tree);
    let again = plan(&i, &applied, Some(&last));
    assert!(again.is_empty() && again.drift.is_empty(), "{again:?}");
    assert_eq!(again.base_hash, again.target_hash);
    // Someone changed NAT on the device.
    let mut changed = applied.clone();
    changed
        .set(
            &[
                "nat",
                "destination",
                "rule",
                "100",
                "translation",
                "address",
            ],
            Some("192.168.1.99"),
        )
        .expect("set");
    let drifted = plan(&i, &changed, Some(&last));
    assert_eq!(
        drifted.drift,
        vec![Drift {
            scope: "nat destination".into(),
            policy: DriftPolicy::Overwrite
        }]
    );
    assert_eq!(drifted.mismatched.len(), 1);
    assert_eq!(
        drifted.mismatched[0].key.get("nat_destination"),
        Some(&serde_json::json!(100))
    );
    // A new change from git on an undrifted device: commands, and no drift.
    let fresh = plan(&i, &empty, Some(&scope_hashes(&i, &empty)));
    assert!(!fresh.is_empty() && fresh.drift.is_empty(), "{fresh:?}");
    // A scope the last apply did not record is not judged.
    let mut partial = last.clone();
    partial.remove("nat destination");
    assert!(plan(&i, &changed, Some(&partial)).drift.is_empty());
}

#[test]
fn version_mismatch_names_both_versions() {
    let i = intended(WEB);
    assert!(check_version(&i, "1.4.0").is_ok());
    let e = check_version(&i, "1.3.8").expect_err("1.3 device");
    assert_eq!(
        e.to_string(),
        "VNF_INVALID: appliance `edge` runs 1.3.8, but its dictionary `vyos-1.4` is for firmware >=1.4, <1.5; nothing was planned or written"
    );
    assert!(check_version(&i, "unknown build").is_err());
}

/// A generated rule set on a vyos-1.4 appliance owning it.
fn model() -> impl Strategy<Value = String> {
    let rule = (
        1u32..60,
        prop::sample::select(vec!["accept", "drop", "reject"]),
        prop::option::of(1u16..2000),
    );
    prop::collection::vec(rule, 0..8).prop_map(|rules| {
        let mut s = String::from("rule_sets:\n  - name: GEN\n    default_action: drop\n    rules:\n");
        let mut seen = std::collections::BTreeSet::new();
        for (n, action, port) in rules {
            if !seen.insert(n) {
                continue;
            }
            match port {
                Some(p) => s.push_str(&format!(
                    "      - {{id: r{n}, number: {n}, action: {action}, protocol: tcp, destination: {{port: {p}}}}}\n"
                )),
                None => s.push_str(&format!("      - {{id: r{n}, number: {n}, action: {action}}}\n")),
            }
        }
        if seen.is_empty() {
            s = "rule_sets:\n  - {name: GEN, default_action: accept}\n".into();
        }
        s
    })
}

/// Random device config, owned (`firewall ipv4 name GEN …`) and not.
fn running() -> impl Strategy<Value = Vec<(bool, u32, String)>> {
    prop::collection::vec(
        (
            any::<bool>(),
            1u32..60,
            prop::sample::select(vec!["action", "protocol", "description"]),
        ),
        0..20,
    )
    .prop_map(|v| {
        v.into_iter()
            .map(|(o, n, l)| (o, n, l.to_owned()))
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Law: the plan applied to the running tree gives the intended tree inside the owned
    /// scopes, touches nothing outside them, and planning again finds nothing to do.
    #[test]
    fn plan_inside_scopes(resources in model(), noise in running()) {
        let yaml = format!(
            "name: edge\ndictionary: vyos-1.4\nendpoint:\n  transport: vyos-http\n  host: 127.0.0.1\n  api_key: env:K\nowns: [firewall ipv4 name GEN]\n{resources}"
        );
        let l = loaded(&[("appliances/edge.yaml", &yaml)]).expect("valid");
        let i = crate::render::render(&l, &l.state.appliances[0]).expect("render");
        let mut run = ConfigTree::new();
        for (owned, n, leaf) in &noise {
            let set = if *owned { "GEN" } else { "OTHER" };
            run.set(&["firewall", "ipv4", "name", set, "rule", &n.to_string(), leaf], Some("x"))
                .expect("set");
        }
        run.set(&["system", "host-name"], Some("edge")).expect("set");
        let p = plan(&i, &run, None);
        let scope = [Path::parse("firewall ipv4 name GEN")];
        for c in &p.commands {
            prop_assert!(c.path.starts_with(&scope[0].0), "{c} is outside the scope");
        }
        let applied = vyos::apply(&p.commands, &run).expect("apply");
        prop_assert_eq!(applied.restrict(&scope), i.tree.restrict(&scope));
        prop_assert_eq!(applied.get(&["firewall", "ipv4", "name", "OTHER"]), run.get(&["firewall", "ipv4", "name", "OTHER"]));
        prop_assert_eq!(applied.get(&["system"]), run.get(&["system"]));
        prop_assert!(plan(&i, &applied, None).is_empty());
    }
}
