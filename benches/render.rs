//! Render and plan: the model benchmark's fleet (1,000 appliances, 20 policies of 200 rules,
//! three policies per appliance) rendered into intended trees; one appliance with 10,000 rules
//! rendered and planned against a running config differing in 1 % of the rules; and
//! `vnfsync diff --running-dir` over 1,000 appliances (the real binary, wall time).
//! Run: `nice -n 19 cargo bench --bench render`.

use std::hint::black_box;
use std::process::Command;

use criterion::{Criterion, criterion_group, criterion_main};
use vnfsync::source::SourceFiles;
use vnfsync::{plan, render, vyos};

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
    appliance_with(a, &refs)
}

fn appliance_with(a: usize, refs: &[String]) -> String {
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
    let loaded = render::load(&files).expect("generated fleet must be valid");
    let mut g = c.benchmark_group("render");
    g.sample_size(10);
    // From a cold cache: each of the 20 policies is rendered once, then put into the
    // 1,000 trees.
    g.bench_function("render_fleet_1000x3x200", |b| {
        b.iter(|| {
            loaded.clear_render_cache();
            loaded
                .state
                .appliances
                .iter()
                .map(|a| {
                    render::render(black_box(&loaded), a)
                        .map(|i| i.objects.len())
                        .unwrap_or(0)
                })
                .sum::<usize>()
        })
    });

    // One appliance, 10,000 rules (four policies of 2,500: a policy file holds at most
    // 1 MiB); the device differs in 1 % of them. Each sample renders from a cold cache.
    let mut one = SourceFiles::default();
    let refs: Vec<String> = (0..4).map(|p| format!("policy-{p}")).collect();
    for p in 0..4 {
        one.files.insert(
            format!("policies/policy-{p}.yaml"),
            policy(p, 2_500).into_bytes(),
        );
    }
    one.files.insert(
        "appliances/edge-0.yaml".into(),
        appliance_with(0, &refs).into_bytes(),
    );
    let big = render::load(&one).expect("10k rules valid");
    let a = &big.state.appliances[0];
    let intended = render::render(&big, a).expect("render");
    assert_eq!(
        intended.objects.iter().filter(|o| o.kind == "rule").count(),
        10_000
    );
    let mut text = vyos::render_commands(&intended.tree);
    for p in 0..4 {
        for r in (0..2_500).step_by(100) {
            let at = |port: usize| {
                format!(
                    "name SET-{p} rule {} destination port '{port},",
                    (r + 1) * 10
                )
            };
            text = text.replacen(&at(1 + r % 1000), &at(9 + r % 1000), 1);
        }
    }
    let running = vyos::ConfigTree::parse_commands(&text).expect("running");
    let p = plan::plan(&intended, &running, None);
    assert_eq!(p.mismatched.len(), 100);
    g.bench_function("render_and_plan_10000_rules_1pct_changed", |b| {
        b.iter(|| {
            big.clear_render_cache();
            let i = render::render(black_box(&big), a).expect("render");
            plan::plan(&i, black_box(&running), None).commands.len()
        })
    });

    // `vnfsync diff --running-dir` over 1,000 appliances (a process per sample).
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    let run = dir.path().join("running");
    std::fs::create_dir_all(&run).expect("mkdir");
    for (name, bytes) in &files.files {
        let p = state.join(name);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, bytes).expect("write");
    }
    for a in &loaded.state.appliances {
        let i = render::render(&loaded, a).expect("render");
        std::fs::write(
            run.join(format!("{}.commands", a.name)),
            vyos::render_commands(&i.tree),
        )
        .expect("write");
    }
    g.bench_function("diff_running_dir_1000_appliances", |b| {
        b.iter(|| {
            let out = Command::new(env!("CARGO_BIN_EXE_vnfsync"))
                .args(["diff", "--repo"])
                .arg(&state)
                .args(["--path", ".", "--running-dir"])
                .arg(&run)
                .output()
                .expect("run");
            assert_eq!(out.status.code(), Some(0));
        })
    });
    g.finish();
}

criterion_group!(render_benches, benches);
criterion_main!(render_benches);
