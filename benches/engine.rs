//! The reconcile engine against zero-latency lab appliances (in this process), over SSH and the
//! HTTP API. Run: `cargo bench --bench engine`.
//!
//! - `engine/noop_reconcile_200_rules/{ssh,http}`: `engine::reconcile` of an appliance whose
//!   200 firewall rules are already in place (profile 1.4): a new driver, the version check,
//!   one fetch, render, plan, the journal's status read and one durable status write; the
//!   answer must be `InSync`. `engine/noop_device_calls/{ssh,http}` is the same pass's device
//!   calls alone (a new driver, `info`, `fetch`), and `engine/noop_cpu_200_rules` the pure part
//!   (render + plan with the last-applied hashes, no IO; also each alone): what a no-op pass
//!   adds to the device calls.
//! - `engine/change_100_commands/{ssh,http}`: `engine::reconcile` of a 100-command change
//!   (50 rules' descriptions replaced: VyOS's `compare commands` form is a delete and a set
//!   each) on profile 1.5, with a confirm window and two health probes
//!   (`login` and `command show version`, each over a new connection): plan, the journaled
//!   intent, the snapshot on the device and in the local store, the commit-confirm, the probes,
//!   the confirm, the save, until `completed`. Each iteration gets a new description, so every
//!   plan is new; each outcome must be `Completed`. The desired state is rendered outside the
//!   timed part. The journal lives in a temporary directory on the machine's disk (durable
//!   commits, fsync).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use tokio::runtime::Runtime;
use tokio::time::Instant;
use vnfsync::driver::secret::Env;
use vnfsync::driver::store::SnapshotStore;
use vnfsync::driver::vyos::Timeouts;
use vnfsync::driver::{AnyDriver, Driver};
use vnfsync::engine::{self, Action, Context, Policy};
use vnfsync::journal::{Journal, Options};
use vnfsync::lab::vyos::Profile;
use vnfsync::lab::vyos::lab::{Lab, LabOptions, Running, specs_for_count};
use vnfsync::lab::vyos::{ApplianceSpec, Timing};
use vnfsync::render::{self, Loaded};
use vnfsync::source::SourceFiles;

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

fn endpoint(transport: &str, running: &Running) -> String {
    let spec: &ApplianceSpec = running.appliance.spec();
    match transport {
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
    }
}

/// The desired state: one appliance owning `firewall ipv4 name BENCH` with `rules` rules whose
/// description is `word`.
fn loaded(
    transport: &str,
    running: &Running,
    profile: &str,
    rules: usize,
    word: &str,
    health: &str,
) -> Loaded {
    let health = if health.is_empty() {
        String::new()
    } else {
        format!("health:\n{health}")
    };
    let mut yaml = format!(
        "name: bench-{transport}\ndictionary: vyos-{profile}\nendpoint:\n{}owns:\n  - firewall ipv4 name BENCH\ncommit:\n  confirm_window: 1m\n{health}rule_sets:\n  - name: BENCH\n    default_action: drop\n    rules:\n",
        endpoint(transport, running)
    );
    for n in 1..=rules {
        yaml.push_str(&format!(
            "      - {{id: r{n}, number: {n}, action: accept, protocol: tcp, destination: {{port: [{}]}}, description: {word}}}\n",
            1000 + n
        ));
    }
    let mut files = SourceFiles::default();
    files.files.insert(
        format!("appliances/bench-{transport}.yaml"),
        yaml.into_bytes(),
    );
    let mut l = render::load(&files).unwrap_or_else(|e| panic!("desired state: {e:?}"));
    l.state.commit = Some("0123456789abcdef0123456789abcdef01234567".into());
    l
}

fn context(dir: &std::path::Path, running: &Running) -> Context {
    let spec = running.appliance.spec();
    let env = MemEnv(HashMap::from([
        ("BENCH_PASSWORD", spec.password.clone()),
        ("BENCH_API_KEY", spec.api_key.clone()),
    ]));
    let journal = Journal::open(
        dir.join("journal.redb"),
        Options {
            create: true,
            ..Options::default()
        },
    )
    .expect("journal");
    Context::new(
        journal,
        SnapshotStore::new(dir.join("rollback")),
        Arc::new(env),
        Timeouts::default(),
        Policy::default(),
    )
}

const PROBES: &str = "  - {kind: login}\n  - {kind: command, run: show version, expect: 'VyOS'}\n";

fn noop(c: &mut Criterion, rt: &Runtime) {
    let lab = rt
        .block_on(Lab::start(
            specs_for_count(2, Profile::V14),
            LabOptions {
                port_base: None,
                timing: Timing::default(),
            },
        ))
        .expect("start the lab");
    let mut group = c.benchmark_group("engine");
    group.sample_size(20);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(5));
    for (transport, running) in ["ssh", "http"].into_iter().zip(lab.appliances()) {
        let dir = tempfile::tempdir().expect("tempdir");
        let ctx = context(dir.path(), running);
        let l = loaded(transport, running, "1.4", 200, "a", "");
        let a = l.state.appliances[0].clone();
        let first = rt.block_on(engine::reconcile(&l, &a, &ctx)).expect("seed");
        assert!(matches!(first, Action::Completed { .. }), "{first:?}");
        let (mut runs, mut in_sync) = (0u64, 0u64);
        group.bench_function(format!("noop_reconcile_200_rules/{transport}"), |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        let r = engine::reconcile(&l, &a, &ctx).await.expect("reconcile");
                        runs += 1;
                        in_sync += u64::from(matches!(r, Action::InSync { .. }));
                    }
                    start.elapsed()
                })
            })
        });
        println!("engine/noop_reconcile_200_rules/{transport}: {in_sync}/{runs} InSync");
        assert_eq!(in_sync, runs, "{transport}: every pass is a no-op");
        group.bench_function(format!("noop_device_calls/{transport}"), |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        let mut d =
                            AnyDriver::new(&a, ctx.env.as_ref(), ctx.timeouts).expect("driver");
                        d.info().await.expect("info");
                        d.fetch().await.expect("fetch");
                    }
                    start.elapsed()
                })
            })
        });
        if transport == "ssh" {
            // The pure part of a no-op pass: render and plan against the device's config.
            let mut d = AnyDriver::new(&a, ctx.env.as_ref(), ctx.timeouts).expect("driver");
            let running_tree = rt.block_on(d.fetch()).expect("fetch");
            let intended = render::render(&l, &a).expect("render");
            let last = vnfsync::plan::scope_hashes(&intended, &intended.tree);
            group.bench_function("noop_render_200_rules", |b| {
                b.iter(|| render::render(&l, &a).expect("render"))
            });
            group.bench_function("noop_plan_200_rules", |b| {
                b.iter(|| vnfsync::plan::plan(&intended, &running_tree, Some(&last)))
            });
            group.bench_function("noop_cpu_200_rules", |b| {
                b.iter(|| {
                    let i = render::render(&l, &a).expect("render");
                    let p = vnfsync::plan::plan(&i, &running_tree, Some(&last));
                    assert!(p.is_empty());
                    p
                })
            });
        }
    }
    group.finish();
    drop(lab);
}

fn change(c: &mut Criterion, rt: &Runtime) {
    let lab = rt
        .block_on(Lab::start(
            specs_for_count(2, Profile::V15),
            LabOptions {
                port_base: None,
                timing: Timing::default(),
            },
        ))
        .expect("start the lab");
    let mut group = c.benchmark_group("engine");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(10));
    for (transport, running) in ["ssh", "http"].into_iter().zip(lab.appliances()) {
        let dir = tempfile::tempdir().expect("tempdir");
        let ctx = context(dir.path(), running);
        let seed = loaded(transport, running, "1.5", 50, "d0", PROBES);
        let a = seed.state.appliances[0].clone();
        let first = rt
            .block_on(engine::reconcile(&seed, &a, &ctx))
            .expect("seed");
        assert!(matches!(first, Action::Completed { .. }), "{first:?}");
        let mut n = 0u64;
        let (mut runs, mut completed) = (0u64, 0u64);
        group.bench_function(format!("change_100_commands/{transport}"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    n += 1;
                    let l = loaded(transport, running, "1.5", 50, &format!("d{n}"), PROBES);
                    total += rt.block_on(async {
                        let start = Instant::now();
                        let r = engine::reconcile(&l, &l.state.appliances[0], &ctx)
                            .await
                            .expect("reconcile");
                        let took = start.elapsed();
                        runs += 1;
                        match r {
                            Action::Completed { op } => {
                                let rec = ctx.journal.get(op).await.expect("get").expect("op");
                                completed +=
                                    u64::from(rec.planned.len() == 100 && rec.probes.len() == 2);
                            }
                            other => eprintln!("{transport}: not completed: {other:?}"),
                        }
                        took
                    });
                }
                total
            })
        });
        println!(
            "engine/change_100_commands/{transport}: {completed}/{runs} Completed with 100 commands and 2 probes"
        );
        assert_eq!(completed, runs, "{transport}: every change completes");
    }
    group.finish();
    drop(lab);
}

fn bench(c: &mut Criterion) {
    let rt = runtime();
    noop(c, &rt);
    change(c, &rt);
}

criterion_group!(benches, bench);
criterion_main!(benches);
