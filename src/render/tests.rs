use super::*;

/// Load a desired state from `(path, text)` files.
pub(crate) fn loaded(files: &[(&str, &str)]) -> Result<Loaded, Vec<String>> {
    let mut f = SourceFiles::default();
    for (name, text) in files {
        f.files.insert((*name).into(), text.as_bytes().to_vec());
    }
    load(&f).map_err(|e| e.iter().map(ToString::to_string).collect())
}

/// Issue 9: a confirm window VyOS cannot express is refused where it was written (here the
/// fleet defaults), with the nearest whole minutes.
#[test]
fn a_confirm_window_from_the_fleet_defaults_is_checked_where_written() {
    const HEAD: &str = "name: a\ndictionary: vyos-1.4\nendpoint:\n  transport: vyos-http\n  host: 127.0.0.1\n  api_key: env:K\nowns: [nat destination]\n";
    let fleet = "defaults:\n  commit: {confirm_window: 150s}\n";
    let mut files = crate::source::SourceFiles::default();
    files
        .files
        .insert("appliances/a.yaml".into(), HEAD.as_bytes().to_vec());
    files
        .files
        .insert("vnfsync.yaml".into(), fleet.as_bytes().to_vec());
    let e = load(&files).expect_err("150s");
    assert_eq!(
        (e[0].file.as_str(), e[0].line, e[0].path.as_str()),
        ("vnfsync.yaml", 2, "defaults.commit.confirm_window")
    );
    assert!(e[0].message.ends_with("use 2m or 3m"), "{}", e[0].message);
}

const EDGE: &str = "name: edge\ndictionary: vyos-1.4\nendpoint:\n  transport: vyos-http\n  host: 127.0.0.1\n  api_key: env:K\nowns:\n  - firewall ipv4 name APP-VPN39\n  - firewall ipv4 name APP-DEV16\n  - firewall ipv4 forward filter\n  - firewall ipv4 input filter\npolicies: [vpn, dev]\n";

fn attached(name: &str, set: &str, attach: &str) -> String {
    format!(
        "name: {name}\nrule_sets:\n  - name: {set}\n    default_action: drop\n    attach:\n      - {attach}\n    rules:\n      - {{id: r, number: 10, action: accept}}\n"
    )
}

/// Issue 11: two attachments whose jump rules get one number (here two derived numbers,
/// FNV-1a of `in eth1 APP-VPN39` and of `in eth1 APP-DEV16` are both 80642) are refused,
/// naming the appliance, both attachments with their policies, and the number.
#[test]
fn issue_11_derived_attachment_numbers_that_collide_are_refused() {
    let vpn = attached("vpn", "APP-VPN39", "{interface: eth1, direction: in}");
    let dev = attached("dev", "APP-DEV16", "{interface: eth1, direction: in}");
    let e = loaded(&[
        ("appliances/edge.yaml", EDGE),
        ("policies/vpn.yaml", &vpn),
        ("policies/dev.yaml", &dev),
    ])
    .expect_err("collision");
    assert_eq!(e.len(), 1, "{e:#?}");
    assert_eq!(
        e[0],
        "policies/dev.yaml:3:5: rule_sets[0]: appliance `edge`: attachment of rule set `APP-VPN39` to eth1 in (from policy `vpn`) (derived: it has no `number:`) and attachment of rule set `APP-DEV16` to eth1 in (from policy `dev`) (derived: it has no `number:`) both get jump-rule number 80642, so both would be `firewall ipv4 forward filter rule 80642`; give one of them another `number:` on its attachment"
    );

    // A given number that meets a derived one is refused too.
    let dev = attached(
        "dev",
        "APP-DEV16",
        "{interface: eth2, direction: out, number: 80642}",
    );
    let e = loaded(&[
        ("appliances/edge.yaml", EDGE),
        ("policies/vpn.yaml", &vpn),
        ("policies/dev.yaml", &dev),
    ])
    .expect_err("collision");
    assert!(
        e[0].contains("(given with `number:`) both get jump-rule number 80642"),
        "{e:#?}"
    );

    // Another number, or another chain (`local` is the input chain), is fine.
    for attach in [
        "{interface: eth1, direction: in, number: 20}",
        "{interface: eth1, direction: local, number: 80642}",
    ] {
        let dev = attached("dev", "APP-DEV16", attach);
        let l = loaded(&[
            ("appliances/edge.yaml", EDGE),
            ("policies/vpn.yaml", &vpn),
            ("policies/dev.yaml", &dev),
        ])
        .unwrap_or_else(|e| panic!("{attach}: {e:#?}"));
        render(&l, &l.state.appliances[0]).expect("renders");
    }
}

/// Issue 11: an appliance put together from the policies' cached renders is the one a replay
/// of every command gives: the same tree (flags too), hashes and objects; and the cache is
/// shared by the appliances of a policy.
#[test]
fn issue_11_fragments_render_as_the_replay_does() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("desired-state");
    let files = crate::source::read_dir(&dir).expect("desired-state");
    let l = load(&files).expect("valid");
    assert!(!l.state.appliances.is_empty());
    for a in &l.state.appliances {
        let dict = l.dictionary_of(a).expect("dictionary");
        let fast = render(&l, a).expect("render");
        let mut groups = BTreeMap::new();
        for g in &a.existing_groups {
            groups.insert(g.name.as_str(), g.kind);
        }
        for (_, r) in l.state.resources_of(a) {
            for g in &r.groups {
                groups.insert(g.name.as_str(), g.kind);
            }
        }
        let mut r = Renderer {
            appliance: a,
            dict,
            scopes: a
                .owns
                .iter()
                .map(|s| Path(s.path.words().to_vec()))
                .collect(),
            groups: &groups,
            tree: ConfigTree::new(),
            objects: Vec::new(),
            attachments: Vec::new(),
            valueless: None,
            errors: Vec::new(),
        };
        for (policy, res) in l.state.resources_of(a) {
            r.resources(policy, res);
        }
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert_eq!(fast.tree, r.tree, "{}", a.name);
        assert_eq!(
            vyos::render_boot(&fast.tree, &vyos::BootStyle::vyos_1_5()),
            vyos::render_boot(&r.tree, &vyos::BootStyle::vyos_1_5()),
            "{}: flags",
            a.name
        );
        assert_eq!(fast.objects, r.objects, "{}", a.name);
        for s in &fast.scopes {
            assert_eq!(
                s.hash,
                sha256(vyos::render_commands(&r.tree.restrict(&[Path::parse(&s.path)])).as_bytes())
            );
        }
    }
    let policies_used: std::collections::BTreeSet<(&str, &str)> = l
        .state
        .appliances
        .iter()
        .flat_map(|a| {
            a.policies
                .iter()
                .map(|p| (a.dictionary.as_str(), p.as_str()))
        })
        .collect();
    assert_eq!(l.fragments.lock().len(), policies_used.len());
}

/// Issue 11: a policy line outside one appliance's scopes is refused for that appliance
/// even when the policy's render is cached from another appliance that owns it.
#[test]
fn issue_11_cached_policy_is_checked_against_each_appliances_scopes() {
    let web = "name: web\nrule_sets:\n  - name: WEB\n    default_action: drop\n    rules:\n      - {id: r, number: 10, action: accept}\n";
    let head = |name: &str, port: u16, owns: &str| {
        format!(
            "name: {name}\ndictionary: vyos-1.4\nendpoint:\n  transport: vyos-http\n  host: 127.0.0.1\n  port: {port}\n  api_key: env:K\nowns: [{owns}]\npolicies: [web]\n"
        )
    };
    let a = head("a", 1001, "firewall ipv4 name WEB");
    let b = head("b", 1002, "firewall ipv4 name OTHER");
    let e = loaded(&[
        ("appliances/a.yaml", &a),
        ("appliances/b.yaml", &b),
        ("policies/web.yaml", web),
    ])
    .expect_err("b does not own WEB");
    // One error per resource of the policy (the rule set and its rule), all for `b`.
    assert_eq!(e.len(), 2, "{e:#?}");
    assert!(
        e.iter().all(|e| e.starts_with("policies/web.yaml:")
            && e.contains("outside the scopes appliance `b` owns")),
        "{e:#?}"
    );
}

/// Issue 11: when an appliance's own lines and a cached policy clash (a value where the
/// policy has a subtree), check and render both fall back to the replay and say where.
#[test]
fn issue_11_a_clash_between_own_lines_and_a_policy_is_reported_by_the_replay() {
    let out = "name: out\nnat:\n  source:\n    - {number: 100, outbound_interface: eth0, source_prefix: 192.168.1.0/24, translation: masquerade}\n";
    let a = "name: a\ndictionary: vyos-1.4\nendpoint:\n  transport: vyos-http\n  host: 127.0.0.1\n  api_key: env:K\nowns: [nat source]\npolicies: [out]\nraw:\n  - \"set nat source rule 100 'x'\"\n";
    let e = loaded(&[("appliances/a.yaml", a), ("policies/out.yaml", out)]).expect_err("clash");
    assert!(
        e.iter().any(|e| e.starts_with("policies/out.yaml:")
            && e.contains("holds values: it cannot have children")),
        "{e:#?}"
    );
}
