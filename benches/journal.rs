//! The journal's speed: durable transitions under 100 concurrent writers, single-writer
//! latency, and reads on a journal of 1,000,000 operations over 1,000 appliances. Run:
//! `nice -n 19 cargo bench --bench journal`.
//!
//! Writes go to a fresh file in `CARGO_TARGET_TMPDIR` on the machine's disk, each commit
//! durable (`Durability::Immediate`, fsync). The 1M-operation journal is built once through the
//! bulk path (`Journal::import`, 20,000 records per transaction) and kept in
//! `CARGO_TARGET_TMPDIR/journal-bench/` for later runs; its records look like the engine's:
//! ten planned commands, four steps, 40-hex commit ids and 64-hex hashes, spread over 90 days,
//! ten of them in flight (the fleet concurrency cap's order of magnitude).
//! Besides criterion's figures, the run prints single-writer p50/p99 and bytes per operation.
//! The write benchmarks' files are removed afterwards; the 1M journal (2.4 GB) is kept for
//! reuse: delete `journal-bench/` when done.

use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use jiff::Timestamp;
use tokio::time::Instant;
use vnfsync::journal::{
    Change, CommitMode, Intent, Journal, OpId, OpKind, OpState, Operation, Options, Query, Step,
};

const WRITERS: usize = 100;
const OPS_PER_WRITER: usize = 5;
/// begin + in_progress + awaiting_confirm + completed.
const TRANSITIONS_PER_OP: usize = 4;
const BIG: usize = 1_000_000;
const APPLIANCES: usize = 1_000;
const BIG_IN_FLIGHT: usize = 10;

fn bench_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("journal-bench");
    std::fs::create_dir_all(&dir).expect("bench dir");
    dir
}

fn open(path: &Path) -> Journal {
    Journal::open(
        path,
        Options {
            create: true,
            ..Options::default()
        },
    )
    .expect("open the journal")
}

fn fresh(name: &str) -> Journal {
    let path = bench_dir().join(name);
    let _ = std::fs::remove_file(&path);
    open(&path)
}

fn intent(appliance: usize, i: usize) -> Intent {
    Intent {
        appliance: format!("edge-{appliance:04}"),
        kind: OpKind::Apply,
        commit: format!("{:040x}", i),
        idempotency_key: format!("{:064x}", i * 7919 + appliance),
        base_hash: format!("{:064x}", i),
        target_hash: format!("{:064x}", i + 1),
        planned: (0..10)
            .map(|r| {
                format!(
                    "set firewall ipv4 name WAN-IN rule {} destination port '{}'",
                    10 + r,
                    8000 + r
                )
            })
            .collect(),
        commit_mode: Some(CommitMode {
            confirm_by: "daemon".into(),
            window_secs: 120,
            save_first: true,
        }),
        ..Intent::default()
    }
}

/// One operation through its whole happy path: 4 durable transitions.
async fn one_op(j: &Journal, appliance: usize, i: usize) {
    let op = j
        .begin(intent(appliance, i))
        .await
        .expect("begin")
        .into_operation();
    for s in [
        OpState::InProgress,
        OpState::AwaitingConfirm,
        OpState::Completed,
    ] {
        j.change(op.id, Change::to(s)).await.expect("transition");
    }
}

fn writes(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut g = c.benchmark_group("journal_write");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));

    let j = fresh("concurrent.redb");
    let mut round = 0usize;
    g.throughput(Throughput::Elements(
        (WRITERS * OPS_PER_WRITER * TRANSITIONS_PER_OP) as u64,
    ));
    g.bench_function("100_writers_durable_transitions", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                round += 1;
                let r = round;
                total += rt.block_on(async {
                    let start = Instant::now();
                    let tasks: Vec<_> = (0..WRITERS)
                        .map(|w| {
                            let j = j.clone();
                            tokio::spawn(async move {
                                for k in 0..OPS_PER_WRITER {
                                    one_op(&j, w, r * 1000 + k).await;
                                }
                            })
                        })
                        .collect();
                    for t in tasks {
                        t.await.expect("writer");
                    }
                    start.elapsed()
                });
            }
            total
        })
    });
    let commits = j.commits();
    drop(j);
    let _ = std::fs::remove_file(bench_dir().join("concurrent.redb"));

    let j = fresh("single.redb");
    g.throughput(Throughput::Elements(1));
    let mut i = 0usize;
    g.bench_function("single_writer_begin", |b| {
        b.iter(|| {
            i += 1;
            rt.block_on(async { j.begin(intent(1, i)).await })
                .expect("begin")
        })
    });
    g.finish();

    // Latency percentiles of one writer alone, 1,000 durable transitions.
    let mut lat: Vec<Duration> = Vec::with_capacity(1000);
    rt.block_on(async {
        for k in 0..250 {
            let start = Instant::now();
            let op = j
                .begin(intent(2, 1_000_000 + k))
                .await
                .expect("begin")
                .into_operation();
            lat.push(start.elapsed());
            for s in [
                OpState::InProgress,
                OpState::AwaitingConfirm,
                OpState::Completed,
            ] {
                let start = Instant::now();
                j.change(op.id, Change::to(s)).await.expect("transition");
                lat.push(start.elapsed());
            }
        }
    });
    lat.sort();
    let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
    println!(
        "journal single writer: {} durable transitions, p50 {:?}, p99 {:?}, max {:?}",
        lat.len(),
        pct(0.50),
        pct(0.99),
        lat[lat.len() - 1]
    );
    println!("journal 100 writers: {commits} durable commits in the concurrent benchmark");
    drop(j);
    let _ = std::fs::remove_file(bench_dir().join("single.redb"));
}

/// A realistic completed record, for the bulk build.
fn record(n: usize, start: Timestamp, in_flight: bool) -> Operation {
    let appliance = n % APPLIANCES;
    // 1M operations over 90 days: one every ~7.8 s.
    let created = start
        .checked_add(jiff::SignedDuration::from_millis((n as i64) * 7_776))
        .expect("time");
    let ms = u64::try_from(created.as_millisecond()).expect("after 1970");
    let ts = uuid::Timestamp::from_unix(
        uuid::NoContext,
        ms / 1000,
        u32::try_from(ms % 1000).expect("ms") * 1_000_000,
    );
    let id = OpId(uuid::Uuid::new_v7(ts));
    let i = intent(appliance, n);
    let state = if in_flight {
        OpState::AwaitingConfirm
    } else if n.is_multiple_of(20) {
        OpState::Failed
    } else {
        OpState::Completed
    };
    let step = |what: &str| Step {
        at: created,
        what: what.into(),
    };
    Operation {
        id,
        appliance: i.appliance,
        kind: if n.is_multiple_of(5) {
            OpKind::DriftCheck
        } else {
            OpKind::Apply
        },
        state,
        commit: i.commit,
        idempotency_key: i.idempotency_key,
        base_hash: i.base_hash,
        target_hash: i.target_hash,
        planned: i.planned,
        commit_mode: i.commit_mode,
        confirm_deadline: None,
        snapshot_id: Some(format!("{appliance:04}-{n}")),
        request_summary: None,
        response_summary: Some("commit ok".into()),
        vendor_ref: None,
        error: None,
        attempts: 1,
        probes: Vec::new(),
        correlation_id: None,
        retry_of: None,
        created,
        started: Some(created),
        finished: (!in_flight).then_some(created),
        steps: vec![
            step("pending: intent recorded"),
            step("in_progress: snapshot taken"),
            step("awaiting_confirm"),
            step(state.as_str()),
        ],
    }
}

/// The 1M-operation journal, built once and kept.
fn big_journal() -> Journal {
    let path = bench_dir().join("1m.redb");
    let done = bench_dir().join("1m.done");
    if !done.exists() {
        let _ = std::fs::remove_file(&path);
        let j = open(&path);
        let start: Timestamp = "2026-09-01T00:00:00Z".parse().expect("time");
        let started = Instant::now();
        for chunk in (0..BIG).collect::<Vec<_>>().chunks(20_000) {
            let ops = chunk
                .iter()
                .map(|&n| record(n, start, n >= BIG - BIG_IN_FLIGHT))
                .collect();
            j.import(ops).wait().expect("import");
        }
        println!("journal: built {BIG} operations in {:?}", started.elapsed());
        drop(j);
        std::fs::write(&done, b"").expect("marker");
    }
    let j = open(&path);
    let size = std::fs::metadata(&path).expect("size").len();
    println!(
        "journal: {BIG} operations, file {size} bytes, {:.0} bytes per operation",
        size as f64 / BIG as f64
    );
    j
}

fn reads(c: &mut Criterion) {
    let big = big_journal();
    let small = fresh("10k.redb");
    {
        let start: Timestamp = "2026-09-01T00:00:00Z".parse().expect("time");
        let ops = (0..10_000).map(|n| record(n, start, false)).collect();
        small.import(ops).wait().expect("import");
    }
    let mut g = c.benchmark_group("journal_read");
    g.sample_size(50);
    let newest = |appliance: &str| Query {
        appliance: Some(appliance.into()),
        limit: 50,
        ..Query::default()
    };
    for (name, j) in [("1m", &big), ("10k", &small)] {
        g.bench_function(format!("{name}/newest_50_of_one_appliance"), |b| {
            b.iter(|| {
                let page = j.query(newest("edge-0500")).wait().expect("query");
                assert_eq!(page.ops.len(), 50.min(page.ops.len()));
                page
            })
        });
        g.bench_function(format!("{name}/appliance_failed_newest_50"), |b| {
            b.iter(|| {
                j.query(Query {
                    state: Some(OpState::Failed),
                    ..newest("edge-0500")
                })
                .wait()
                .expect("query")
            })
        });
        g.bench_function(format!("{name}/in_flight"), |b| {
            b.iter(|| j.in_flight().wait().expect("in_flight"))
        });
    }
    g.finish();
    assert_eq!(
        big.in_flight().wait().expect("in_flight").len(),
        BIG_IN_FLIGHT
    );
    assert_eq!(
        big.query(newest("edge-0500"))
            .wait()
            .expect("query")
            .ops
            .len(),
        50
    );
    drop(small);
    let _ = std::fs::remove_file(bench_dir().join("10k.redb"));
}

criterion_group!(benches, writes, reads);
criterion_main!(benches);
