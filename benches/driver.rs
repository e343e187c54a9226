//! Driver-side cost of applying a 100-command plan to a zero-latency lab appliance, end to end,
//! over SSH and over the HTTP API, plus a `fetch` alone over each for context. Run:
//! `cargo bench --bench driver`.
//!
//! The lab emulator runs in this process (one tokio multi-thread runtime hosts it and the
//! drivers), profile 1.4, no faults. Each transport gets its own appliance and one `VyosDriver`
//! kept across iterations, so the SSH connection and the HTTP client are reused. "End to end"
//! is one `Driver::apply`: the driver's fetch of the running config, the local check that the
//! plan applies and changes something, the script (SSH) or `/configure` request (HTTP), and the
//! emulator's set-by-set session and commit. No confirm window.
//!
//! Every iteration really changes the config: the appliance is seeded with 100 rules in
//! `firewall ipv4 name BENCH` (description 'a'), and the timed applies alternate between a
//! plan setting all 100 descriptions to 'b' and one setting them back to 'a'. Each outcome must
//! be `Committed`; the count is checked and printed after every benchmark.

use std::collections::HashMap;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use tokio::runtime::Runtime;
use tokio::time::Instant;
use vnfsync::driver::secret::Env;
use vnfsync::driver::vyos::{Timeouts, VyosDriver};
use vnfsync::driver::{ApplyOptions, ApplyOutcome, ConfirmState, Driver};
use vnfsync::lab::vyos::Profile;
use vnfsync::lab::vyos::lab::{Lab, LabOptions, Running, specs_for_count};
use vnfsync::lab::vyos::{ApplianceSpec, Timing};
use vnfsync::model;
use vnfsync::source::SourceFiles;
use vnfsync::vyos::{Command, ConfigTree, parse_commands};

const RULES: usize = 100;

/// Credentials for `env:` references, without touching the process environment.
struct MemEnv(HashMap<&'static str, String>);

impl Env for MemEnv {
    fn var(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
    }
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// The appliance as the desired state would describe it, credentials as `env:` references.
fn appliance(transport: &str, running: &Running) -> model::Appliance {
    let spec: &ApplianceSpec = running.appliance.spec();
    let endpoint = match transport {
        "ssh" => {
            let addr = running.ssh.expect("the lab serves SSH");
            format!(
                "  transport: ssh\n  host: {}\n  port: {}\n  user: {}\n  password: env:BENCH_PASSWORD\n  host_key: {}\n",
                addr.ip(),
                addr.port(),
                spec.user,
                running.host_key.fingerprint
            )
        }
        _ => format!(
            "  transport: vyos-http\n  scheme: http\n  host: {}\n  port: {}\n  api_key: env:BENCH_API_KEY\n",
            running.api.ip(),
            running.api.port()
        ),
    };
    let yaml = format!(
        "name: bench-{transport}\ndictionary: vyos-1.4\nendpoint:\n{endpoint}owns: [firewall]\n"
    );
    let mut files = SourceFiles::default();
    files.files.insert(
        format!("appliances/bench-{transport}.yaml"),
        yaml.into_bytes(),
    );
    let state = model::load(&files).unwrap_or_else(|e| panic!("appliance yaml: {e:?}"));
    state.appliances[0].clone()
}

fn driver(transport: &str, running: &Running) -> VyosDriver {
    let spec = running.appliance.spec();
    let env = MemEnv(HashMap::from([
        ("BENCH_PASSWORD", spec.password.clone()),
        ("BENCH_API_KEY", spec.api_key.clone()),
    ]));
    VyosDriver::new(&appliance(transport, running), &env, Timeouts::default()).expect("driver")
}

/// 100 rules with an action, so the chain commits; description 'a'.
fn seed_plan() -> Vec<Command> {
    let text: String = (1..=RULES)
        .map(|n| {
            format!(
                "set firewall ipv4 name BENCH rule {n} action 'accept'\nset firewall ipv4 name BENCH rule {n} description 'a'\n"
            )
        })
        .collect();
    parse_commands(&text).expect("seed plan")
}

/// The 100-command plan: every rule's description set to `word`.
fn description_plan(word: &str) -> Vec<Command> {
    let text: String = (1..=RULES)
        .map(|n| format!("set firewall ipv4 name BENCH rule {n} description '{word}'\n"))
        .collect();
    let plan = parse_commands(&text).expect("plan");
    assert_eq!(plan.len(), RULES);
    plan
}

fn options() -> ApplyOptions {
    ApplyOptions {
        confirm_window: None,
        comment: "vnfsync benchdriver0".into(),
        ..ApplyOptions::default()
    }
}

fn committed(outcome: &ApplyOutcome) -> bool {
    matches!(
        outcome,
        ApplyOutcome::Committed {
            confirm: ConfirmState::NotRequested,
            saved_before: false,
            ..
        }
    )
}

/// Every rule's description in the running config is `word`.
fn all_descriptions(tree: &ConfigTree, word: &str) -> bool {
    (1..=RULES).all(|n| {
        let n = n.to_string();
        tree.get(&[
            "firewall",
            "ipv4",
            "name",
            "BENCH",
            "rule",
            &n,
            "description",
        ])
        .is_some_and(|d| d.values().iter().any(|v| v == word))
    })
}

fn bench(c: &mut Criterion) {
    let rt = runtime();
    let lab = rt
        .block_on(Lab::start(
            specs_for_count(2, Profile::V14),
            LabOptions {
                port_base: None,
                timing: Timing::default(),
            },
        ))
        .expect("start the lab");
    let plans = [description_plan("b"), description_plan("a")];
    let opts = options();

    let mut group = c.benchmark_group("driver");
    group.sample_size(20);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(5));

    for (transport, running) in ["ssh", "http"].into_iter().zip(lab.appliances()) {
        let mut d = driver(transport, running);
        let seeded = rt
            .block_on(d.apply(&seed_plan(), &opts))
            .expect("seed apply");
        assert!(committed(&seeded), "{transport}: seed: {seeded:?}");

        // Which plan comes next, and what happened, across every criterion call.
        let mut next = 0usize;
        let mut applies = 0u64;
        let mut commits = 0u64;
        group.bench_function(format!("apply_100_commands/{transport}"), |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        let outcome = d.apply(&plans[next], &opts).await.expect("apply");
                        applies += 1;
                        commits += u64::from(committed(&outcome));
                        next ^= 1;
                    }
                    start.elapsed()
                })
            })
        });
        let running_now = rt.block_on(d.fetch()).expect("fetch after the applies");
        let last = if next == 1 { "b" } else { "a" };
        let in_place = all_descriptions(&running_now, last);
        println!(
            "driver/apply_100_commands/{transport}: {commits}/{applies} applies Committed (no confirm, not saved); running config ends with all {RULES} descriptions '{last}': {in_place}"
        );
        assert_eq!(commits, applies, "{transport}: every apply commits");
        assert!(
            in_place,
            "{transport}: the last plan is in the running config"
        );

        let mut fetches = 0u64;
        let mut complete = 0u64;
        group.bench_function(format!("fetch/{transport}"), |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        let tree = d.fetch().await.expect("fetch");
                        fetches += 1;
                        complete += u64::from(
                            tree.get(&["firewall", "ipv4", "name", "BENCH", "rule"])
                                .is_some_and(|r| r.children().len() == RULES),
                        );
                    }
                    start.elapsed()
                })
            })
        });
        println!(
            "driver/fetch/{transport}: {complete}/{fetches} fetches returned all {RULES} BENCH rules"
        );
        assert_eq!(complete, fetches, "{transport}: every fetch sees the rules");
    }
    group.finish();
    drop(lab);
}

criterion_group!(benches, bench);
criterion_main!(benches);
