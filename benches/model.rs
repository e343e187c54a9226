//! Loading and validating desired state: a fleet of 1,000 appliances sharing 20 policies of 200
//! rules each, and a single 50 KB policy file. Run: `cargo bench --bench model`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use vnfsync::model;
use vnfsync::source::SourceFiles;

fn policy(p: usize, rules: usize) -> String {
    let mut s = format!(
        "name: policy-{p}\ndescription: generated policy {p}\nrule_sets:\n  - name: SET-{p}\n    default_action: drop\n    attach:\n      - interface: eth0\n        direction: in\n    rules:\n"
    );
    for r in 0..rules {
        s.push_str(&format!(
            "      - id: rule-{r}\n        number: {}\n        action: accept\n        protocol: tcp\n        source:\n          address: 10.{}.{}.0/24\n        destination:\n          port: [{}, '{}-{}']\n        description: rule {r} of policy {p}\n",
            (r + 1) * 10,
            p % 256,
            r % 256,
            1 + r % 1000,
            2000 + r,
            3000 + r,
        ));
    }
    s
}

fn appliance(a: usize, policies: usize) -> String {
    let refs: Vec<String> = (0..3)
        .map(|k| format!("policy-{}", (a + k) % policies))
        .collect();
    format!(
        "name: edge-{a}\ndictionary: vyos-1.4\nlabels:\n  site: site-{}\nendpoint:\n  transport: vyos-http\n  host: 10.255.{}.{}\n  api_key: env:KEY_{a}\nowns:\n  - firewall ipv4\n  - nat destination\n  - protocols static route\npolicies: [{}]\nroutes:\n  - prefix: 0.0.0.0/0\n    next_hop: 192.0.2.1\n",
        a % 40,
        a / 250,
        a % 250,
        refs.join(", ")
    )
}

fn fleet(appliances: usize, policies: usize, rules: usize) -> SourceFiles {
    let mut files = SourceFiles::default();
    for p in 0..policies {
        files.files.insert(
            format!("policies/policy-{p}.yaml"),
            policy(p, rules).into_bytes(),
        );
    }
    for a in 0..appliances {
        files.files.insert(
            format!("appliances/edge-{a}.yaml"),
            appliance(a, policies).into_bytes(),
        );
    }
    files
}

fn benches(c: &mut Criterion) {
    let files = fleet(1000, 20, 200);
    assert!(model::load(&files).is_ok(), "generated fleet must be valid");
    let mut g = c.benchmark_group("model");
    g.sample_size(10);
    g.bench_function("load_fleet_1000x20x200", |b| {
        b.iter(|| model::load(black_box(&files)).map(|s| s.appliances.len()))
    });
    g.finish();

    // One policy file of about 50 KB.
    let mut rules = 1;
    while policy(0, rules).len() < 50_000 {
        rules += 1;
    }
    let mut one = SourceFiles::default();
    one.files.insert(
        "policies/policy-0.yaml".into(),
        policy(0, rules).into_bytes(),
    );
    let size = one.files.values().map(Vec::len).sum::<usize>();
    assert!(model::load(&one).is_ok());
    c.bench_function(
        &format!("parse_policy_{}kb_{}rules", size / 1000, rules),
        |b| b.iter(|| model::load(black_box(&one)).map(|s| s.policies.len())),
    );
    let text = policy(0, rules);
    c.bench_function("yaml_parse_only_50kb", |b| {
        b.iter(|| vnfsync::yaml::parse(black_box(&text)).is_ok())
    });
    let empty = SourceFiles::default();
    c.bench_function("load_empty_state", |b| {
        b.iter(|| model::load(black_box(&empty)).is_ok())
    });
}

criterion_group!(model_benches, benches);
criterion_main!(model_benches);
