//! Laws of the desired-state model: any valid model written out as YAML and loaded again is
//! equal to itself; and the shipped example validates against the generated JSON Schema.

use std::collections::BTreeMap;
use std::path::Path;

use proptest::prelude::*;
use vnfsync::model::{self, Appliance, Policy};
use vnfsync::source::SourceFiles;
use vnfsync::yaml;

/// Valid YAML for one rule, from generated parts.
fn rule_yaml(
    i: usize,
    action: &str,
    proto: &str,
    port: Option<u16>,
    addr: Option<(u8, u8)>,
    log: bool,
    desc: &str,
) -> String {
    let mut s = format!(
        "id: r{i}\nnumber: {}\naction: {action}\nprotocol: {proto}\n",
        (i + 1) * 10
    );
    if let Some((a, len)) = addr {
        let len = len % 33;
        let net = ipnet::Ipv4Net::new(std::net::Ipv4Addr::new(10, a, 7, 1), len)
            .expect("net")
            .trunc();
        s.push_str(&format!("source:\n  address: {net}\n"));
    }
    if let Some(p) = port.filter(|_| matches!(proto, "tcp" | "udp" | "tcp_udp")) {
        s.push_str(&format!("destination:\n  port: {}\n", p.max(1)));
    }
    if log {
        s.push_str("log: true\n");
    }
    if !desc.is_empty() {
        s.push_str(&format!("description: '{desc}'\n"));
    }
    s
}

fn indent(text: &str, n: usize) -> String {
    let pad = " ".repeat(n);
    text.lines().map(|l| format!("{pad}{l}\n")).collect()
}

prop_compose! {
    fn rule_parts()(
        action in prop::sample::select(vec!["accept", "drop", "reject"]),
        proto in prop::sample::select(vec!["all", "tcp", "udp", "tcp_udp", "icmp"]),
        port in prop::option::of(1u16..),
        addr in prop::option::of((any::<u8>(), any::<u8>())),
        log in any::<bool>(),
        desc in "[a-zA-Z0-9 #$;{}\\\\-]{0,20}",
    ) -> (String, String, Option<u16>, Option<(u8, u8)>, bool, String) {
        (action.to_string(), proto.to_string(), port, addr, log, desc)
    }
}

prop_compose! {
    fn appliance_yaml()(
        name in "[a-z][a-z0-9-]{0,10}[a-z0-9]",
        transport in prop::sample::select(vec!["ssh", "vyos-http"]),
        port in prop::option::of(1u16..),
        rules in prop::collection::vec(rule_parts(), 0..6),
        nat_ports in prop::collection::vec((1u16.., any::<bool>()), 0..4),
        routes in prop::collection::vec((any::<u8>(), 1u8..=255), 0..4),
        window in 1u64..=60,
        drift in prop::sample::select(vec!["alert", "overwrite"]),
    ) -> String {
        let mut s = format!("name: {name}\ndictionary: vyos-1.4\nendpoint:\n  transport: {transport}\n  host: 127.0.0.1\n");
        if let Some(p) = port {
            s.push_str(&format!("  port: {p}\n"));
        }
        if transport == "ssh" {
            s.push_str("  user: vyos\n  password: env:PW\n  host_key: SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU\n");
        } else {
            s.push_str("  api_key: file:/run/keys/api\n");
        }
        s.push_str(&format!("owns:\n  - firewall\n  - path: nat\n    drift: {drift}\n  - protocols static\n"));
        s.push_str(&format!("commit:\n  confirm_window: {window}m\n  save: after_confirm\n"));
        s.push_str("health:\n  - kind: login\n  - kind: tcp\n    port: 22\n");
        s.push_str("rule_sets:\n  - name: WAN-IN\n    default_action: drop\n    attach:\n      - interface: eth0\n        direction: in\n");
        // An empty list is written `[]`: `rules:` alone would be a null, which is an error.
        s.push_str(if rules.is_empty() { "    rules: []\n" } else { "    rules:\n" });
        for (i, (a, p, port, addr, log, desc)) in rules.iter().enumerate() {
            let r = rule_yaml(i, a, p, *port, *addr, *log, desc);
            let mut lines = r.lines();
            s.push_str(&format!("      - {}\n", lines.next().unwrap_or_default()));
            for l in lines {
                s.push_str(&format!("        {l}\n"));
            }
        }
        if !nat_ports.is_empty() {
            s.push_str("nat:\n  destination:\n");
            for (i, (p, tcp)) in nat_ports.iter().enumerate() {
                let proto = if *tcp { "tcp" } else { "udp" };
                s.push_str(&format!("    - number: {}\n", i + 1));
                let body = format!("inbound_interface: eth0\nprotocol: {proto}\nexternal_port: {p}\ntranslation_address: 192.168.1.{}\n", i + 2);
                s.push_str(&indent(&body, 6));
            }
        }
        if !routes.is_empty() {
            s.push_str("routes:\n");
            for (i, (b, dist)) in routes.iter().enumerate() {
                s.push_str(&format!("  - prefix: 10.{b}.{i}.0/24\n    next_hop: 192.0.2.1\n    distance: {dist}\n"));
            }
        }
        s
    }
}

/// Load one appliance file, named after the appliance (`name: x` is in `appliances/x.yaml`).
fn load_one(text: String) -> Result<model::DesiredState, Vec<model::Diagnostic>> {
    let name = text
        .lines()
        .find_map(|l| l.strip_prefix("name: "))
        .unwrap_or("a");
    let file = format!("appliances/{name}.yaml");
    let mut files = SourceFiles::default();
    files.files.insert(file.to_string(), text.into_bytes());
    model::load(&files)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn written_model_loads_back_equal(text in appliance_yaml()) {
        let state = load_one(text.clone()).map_err(|e| TestCaseError::fail(format!("generated state invalid: {e:?}\n{text}")))?;
        let original: &Appliance = &state.appliances[0];
        let written = yaml::to_string(original).map_err(TestCaseError::fail)?;
        let again = load_one(written.clone()).map_err(|e| TestCaseError::fail(format!("{e:?}\n--- written:\n{written}")))?;
        prop_assert_eq!(original, &again.appliances[0], "written:\n{}", written);
    }
}

#[test]
fn shipped_policies_round_trip() {
    let files =
        vnfsync::source::read_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("desired-state"))
            .expect("read");
    let state = model::load(&files).expect("valid example");
    let mut again = SourceFiles::default();
    for (name, p) in &state.policies {
        again.files.insert(
            format!("policies/{name}.yaml"),
            yaml::to_string::<Policy>(p).expect("yaml").into_bytes(),
        );
    }
    for a in &state.appliances {
        again.files.insert(
            format!("appliances/{}.yaml", a.name),
            yaml::to_string(a).expect("yaml").into_bytes(),
        );
    }
    let reloaded = model::load(&again).expect("written state loads");
    assert_eq!(state.appliances, reloaded.appliances);
    assert_eq!(state.policies, reloaded.policies);
}

/// The example's YAML files, as JSON values, validate against `vnfsync schema KIND`.
#[test]
fn shipped_example_validates_against_schema() {
    use vnfsync::cli::schema::{Kind, schema_of};
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut checked = BTreeMap::new();
    for (folder, kind) in [
        ("desired-state/appliances", Kind::Appliance),
        ("desired-state/policies", Kind::Policy),
        ("dictionaries", Kind::Dictionary),
    ] {
        let validator = jsonschema::validator_for(&schema_of(kind)).expect("schema compiles");
        for entry in std::fs::read_dir(root.join(folder)).expect("dir") {
            let path = entry.expect("entry").path();
            if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("read");
            let value: serde_json::Value = serde_saphyr_json(&text);
            let errors: Vec<String> = validator
                .iter_errors(&value)
                .map(|e| format!("{e} at {}", e.instance_path()))
                .collect();
            assert!(errors.is_empty(), "{}: {errors:?}", path.display());
            checked.insert(path, ());
        }
    }
    let fleet = jsonschema::validator_for(&schema_of(Kind::Fleet)).expect("schema");
    let text = std::fs::read_to_string(root.join("desired-state/vnfsync.yaml")).expect("read");
    assert!(fleet.is_valid(&serde_saphyr_json(&text)));
    assert!(checked.len() >= 9, "{checked:?}");

    // And the schema is not vacuous: a bad port fails it.
    let validator = jsonschema::validator_for(&schema_of(Kind::Policy)).expect("schema");
    let bad = serde_json::json!({"name": "p", "nat": {"destination": [{"number": 1, "inbound_interface": "eth0", "external_port": 70000, "translation_address": "192.0.2.1"}]}});
    assert!(!validator.is_valid(&bad));
}

/// YAML text to a JSON value via our positioned tree (the same parser the loader uses).
fn serde_saphyr_json(text: &str) -> serde_json::Value {
    fn conv(n: &yaml::Node) -> serde_json::Value {
        match &n.value {
            yaml::Value::Null => serde_json::Value::Null,
            yaml::Value::Bool(b) => (*b).into(),
            yaml::Value::Int(i) => serde_json::Value::from(i64::try_from(*i).expect("small ints")),
            yaml::Value::Float(f) => serde_json::Value::from(*f),
            yaml::Value::Str(s) => s.clone().into(),
            yaml::Value::Seq(items) => items.iter().map(conv).collect(),
            yaml::Value::Map(entries) => entries
                .iter()
                .map(|(k, v)| match &k.value {
                    yaml::Value::Str(s) => (s.clone(), conv(v)),
                    other => panic!("non-string key {other:?}"),
                })
                .collect::<serde_json::Map<_, _>>()
                .into(),
        }
    }
    conv(&yaml::parse(text).expect("yaml"))
}
