//! Unit tests of the journal over real files in a temporary directory.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use jiff::Timestamp;
use redb::ReadableDatabase;

use super::*;

/// A pinned clock, in milliseconds since the epoch.
struct Clock(Arc<AtomicI64>);

impl Clock {
    fn set(&self, ms: i64) {
        self.0.store(ms, Ordering::SeqCst);
    }
}

const T0: i64 = 1_780_000_000_000;

fn open_at(path: &Path) -> (Journal, Clock) {
    let ms = Arc::new(AtomicI64::new(T0));
    let c = ms.clone();
    let j = Journal::open(
        path,
        Options {
            create: true,
            clock: Some(Arc::new(move || {
                Timestamp::from_millisecond(c.load(Ordering::SeqCst))
                    .unwrap_or(Timestamp::UNIX_EPOCH)
            })),
            ..Options::default()
        },
    )
    .unwrap();
    (j, Clock(ms))
}

fn intent(appliance: &str, key: &str) -> Intent {
    Intent {
        appliance: appliance.into(),
        kind: OpKind::Apply,
        commit: "c0ffee".into(),
        idempotency_key: key.into(),
        planned: vec!["set firewall ipv4 name WAN-IN rule 10 action 'accept'".into()],
        ..Intent::default()
    }
}

/// Drive a fresh operation to `state` along the allowed path.
fn reach(j: &Journal, op: &Operation, state: OpState) -> Operation {
    use OpState::*;
    let path: &[OpState] = match state {
        Pending => &[],
        InProgress => &[InProgress],
        AwaitingConfirm => &[InProgress, AwaitingConfirm],
        Completed => &[InProgress, AwaitingConfirm, Completed],
        RolledBack => &[InProgress, AwaitingConfirm, RolledBack],
        Failed => &[Failed],
    };
    let mut op = op.clone();
    for &s in path {
        op = j.change(op.id, Change::to(s)).wait().unwrap();
    }
    assert_eq!(op.state, state);
    op
}

#[test]
fn every_transition_through_the_journal_follows_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let (j, _) = open_at(&dir.path().join(FILE_NAME));
    for from in OpState::ALL {
        for to in OpState::ALL {
            let op = j
                .begin(intent("edge-1", ""))
                .wait()
                .unwrap()
                .into_operation();
            let op = reach(&j, &op, from);
            let got = j.change(op.id, Change::to(to)).wait();
            match (from.can_go_to(to), got) {
                (true, Ok(after)) => {
                    assert_eq!(after.state, to);
                    assert_eq!(after.finished.is_some(), to.is_final());
                }
                (false, Err(JournalError::Transition { from: f, to: t, .. })) => {
                    assert_eq!((f, t), (from, to));
                    assert!(!from.is_final());
                }
                (false, Err(JournalError::Finished { state, .. })) => {
                    assert_eq!(state, from);
                    assert!(from.is_final());
                }
                (allowed, got) => panic!("{from} → {to}: allowed {allowed}, got {got:?}"),
            }
            // A refused change wrote nothing.
            let now = j.get(op.id).wait().unwrap().unwrap();
            assert_eq!(now.state, if from.can_go_to(to) { to } else { from });
        }
    }
}

#[test]
fn begin_is_durable_and_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE_NAME);
    let first = {
        let (j, _) = open_at(&path);
        let Begun::New(op) = j.begin(intent("edge-1", "k1")).wait().unwrap() else {
            panic!("a new key makes a new operation")
        };
        // Same key while in flight: the same operation, nothing new.
        let again = j.begin(intent("edge-1", "k1")).wait().unwrap();
        assert_eq!(again, Begun::InFlight(op.clone()));
        op
    };
    // Reopened: the intent survived the close.
    let (j, _) = open_at(&path);
    assert_eq!(j.get(first.id).wait().unwrap().as_ref(), Some(&first));
    let done = reach(&j, &first, OpState::Completed);
    let Begun::Completed(same) = j.begin(intent("edge-1", "k1")).wait().unwrap() else {
        panic!("a completed key answers the completed operation")
    };
    assert_eq!(same, done);
    // A failed operation may be retried: a new operation linking to it.
    let failed = j
        .begin(intent("edge-1", "k2"))
        .wait()
        .unwrap()
        .into_operation();
    let failed = reach(&j, &failed, OpState::Failed);
    let Begun::New(retry) = j.begin(intent("edge-1", "k2")).wait().unwrap() else {
        panic!("a failed key is retried")
    };
    assert_eq!(retry.retry_of, Some(failed.id));
    assert!(retry.id > failed.id);
    // Rolled back too.
    let rb = reach(&j, &retry, OpState::RolledBack);
    let Begun::New(again) = j.begin(intent("edge-1", "k2")).wait().unwrap() else {
        panic!("a rolled-back key is retried")
    };
    assert_eq!(again.retry_of, Some(rb.id));
}

#[test]
fn in_flight_lists_exactly_the_unfinished() {
    let dir = tempfile::tempdir().unwrap();
    let (j, _) = open_at(&dir.path().join(FILE_NAME));
    let mut expect = Vec::new();
    for (i, s) in OpState::ALL.into_iter().enumerate() {
        let op = j
            .begin(intent(&format!("a{i}"), ""))
            .wait()
            .unwrap()
            .into_operation();
        let op = reach(&j, &op, s);
        if !s.is_final() {
            expect.push(op);
        }
    }
    assert_eq!(j.in_flight().wait().unwrap(), expect);
}

#[test]
fn changes_record_steps_and_what_was_learnt() {
    let dir = tempfile::tempdir().unwrap();
    let (j, clock) = open_at(&dir.path().join(FILE_NAME));
    let op = j
        .begin(intent("edge-1", ""))
        .wait()
        .unwrap()
        .into_operation();
    clock.set(T0 + 1000);
    let op = j
        .change(
            op.id,
            Change::to(OpState::InProgress)
                .step("snapshot taken")
                .snapshot("snap-1")
                .attempt(),
        )
        .wait()
        .unwrap();
    clock.set(T0 + 2000);
    let deadline = Timestamp::from_millisecond(T0 + 62_000).unwrap();
    let op = j
        .change(
            op.id,
            Change::to(OpState::AwaitingConfirm)
                .confirm_deadline(deadline)
                .vendor_ref("commit 42")
                .response("{\"success\": true}"),
        )
        .wait()
        .unwrap();
    let op = j
        .change(
            op.id,
            Change::to(OpState::Failed).error(ErrorRecord::new(
                "VNF_TIMEOUT",
                true,
                "probe timed out",
            )),
        )
        .wait()
        .unwrap();
    assert_eq!(op.snapshot_id.as_deref(), Some("snap-1"));
    assert_eq!(op.attempts, 1);
    assert_eq!(op.confirm_deadline, Some(deadline));
    assert_eq!(
        op.started,
        Some(Timestamp::from_millisecond(T0 + 1000).unwrap())
    );
    assert_eq!(
        op.error.as_ref().map(|e| e.code.as_str()),
        Some("VNF_TIMEOUT")
    );
    let steps: Vec<_> = op.steps.iter().map(|s| s.what.as_str()).collect();
    assert_eq!(
        steps,
        [
            "pending: intent recorded",
            "in_progress: snapshot taken",
            "awaiting_confirm",
            "failed"
        ]
    );
    // A finished operation takes no notes either.
    assert!(matches!(
        j.change(op.id, Change::note("late")).wait(),
        Err(JournalError::Finished { .. })
    ));
    let missing = OpId::from_key(1);
    assert_eq!(
        j.change(missing, Change::note("x")).wait(),
        Err(JournalError::NotFound { id: missing })
    );
}

#[test]
fn status_and_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    let (j, _) = open_at(&dir.path().join(FILE_NAME));
    j.update_status("edge-1", |s| {
        s.reachable = true;
        s.last_applied_commit = Some("c1".into());
    })
    .wait()
    .unwrap();
    let s = j
        .update_status("edge-1", |s| s.last_good_snapshot = Some("s2".into()))
        .wait()
        .unwrap();
    assert!(s.reachable);
    assert_eq!(s.last_applied_commit.as_deref(), Some("c1"));
    assert_eq!(j.status("edge-1").wait().unwrap(), Some(s));
    assert_eq!(j.status("nope").wait().unwrap(), None);
    for (i, app) in [(1, "edge-1"), (2, "edge-1"), (3, "edge-10")] {
        j.record_snapshot(SnapshotEntry {
            appliance: app.into(),
            id: format!("s{i}"),
            commit: "c1".into(),
            taken: Timestamp::from_millisecond(T0 + i).unwrap(),
            location: format!("rollback/{app}/s{i}.boot"),
        })
        .wait()
        .unwrap();
    }
    let ids: Vec<_> = j
        .snapshots("edge-1")
        .wait()
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(ids, ["s2", "s1"]);
}

/// 60 operations over 3 appliances, 2 kinds, 3 commits, one per second.
fn populated(j: &Journal, clock: &Clock) -> Vec<Operation> {
    let mut all = Vec::new();
    for i in 0..60i64 {
        clock.set(T0 + i * 1000);
        let mut it = intent(&format!("edge-{}", i % 3), "");
        it.kind = if i % 4 == 0 {
            OpKind::DriftCheck
        } else {
            OpKind::Apply
        };
        it.commit = format!("c{}", i % 5);
        let op = j.begin(it).wait().unwrap().into_operation();
        let op = match i % 3 {
            0 => reach(j, &op, OpState::Completed),
            1 => reach(j, &op, OpState::Failed),
            _ => op,
        };
        all.push(op);
    }
    all.reverse();
    all
}

#[test]
fn queries_follow_the_filters_newest_first() {
    let dir = tempfile::tempdir().unwrap();
    let (j, clock) = open_at(&dir.path().join(FILE_NAME));
    let all = populated(&j, &clock);
    let at = |s: i64| Some(Timestamp::from_millisecond(T0 + s * 1000).unwrap());
    let cases: Vec<Query> = vec![
        Query::default(),
        Query {
            appliance: Some("edge-1".into()),
            ..Query::default()
        },
        Query {
            state: Some(OpState::Completed),
            ..Query::default()
        },
        Query {
            kind: Some(OpKind::DriftCheck),
            ..Query::default()
        },
        Query {
            commit: Some("c3".into()),
            ..Query::default()
        },
        Query {
            since: at(10),
            until: at(20),
            ..Query::default()
        },
        Query {
            appliance: Some("edge-2".into()),
            state: Some(OpState::Pending),
            since: at(30),
            ..Query::default()
        },
        Query {
            commit: Some("c1".into()),
            kind: Some(OpKind::Apply),
            until: at(40),
            ..Query::default()
        },
        Query {
            appliance: Some("nope".into()),
            ..Query::default()
        },
    ];
    for q in cases {
        let expect: Vec<_> = all.iter().filter(|op| q.matches(op)).cloned().collect();
        // One big page.
        let page = j
            .query(Query {
                limit: 1000,
                ..q.clone()
            })
            .wait()
            .unwrap();
        assert_eq!(page.ops, expect, "{q:?}");
        assert_eq!(page.next, None);
        // Pages of 7, following the cursor, give the same list.
        let mut paged = Vec::new();
        let mut after = None;
        loop {
            let p = j
                .query(Query {
                    limit: 7,
                    after,
                    ..q.clone()
                })
                .wait()
                .unwrap();
            assert!(p.ops.len() <= 7);
            paged.extend(p.ops);
            match p.next {
                Some(c) => after = Some(c),
                None => break,
            }
        }
        assert_eq!(paged, expect, "paged {q:?}");
    }
}

#[test]
fn secrets_never_reach_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE_NAME);
    {
        let (j, _) = open_at(&path);
        let mut it = intent("edge-1", "");
        it.planned.push(
            "set system login user ops authentication plaintext-password 'CANARY-PW-1'".into(),
        );
        it.request_summary = Some(r#"{"key": "CANARY-KEY-2", "op": "set"}"#.into());
        let op = j.begin(it).wait().unwrap().into_operation();
        j.change(
            op.id,
            Change::to(OpState::Failed)
                .response("api-key=CANARY-KEY-2 rejected")
                .error(ErrorRecord::new(
                    "VNF_AUTH",
                    false,
                    "password CANARY-PW-1 refused",
                )),
        )
        .wait()
        .unwrap();
    }
    let bytes = std::fs::read(&path).unwrap();
    for canary in ["CANARY-PW-1", "CANARY-KEY-2"] {
        assert!(
            !bytes.windows(canary.len()).any(|w| w == canary.as_bytes()),
            "{canary} is in the file"
        );
    }
}

/// Many concurrent callers on one current-thread runtime: if a call blocked the worker, every
/// write would be its own commit; the writer thread folds them into few durable commits, and
/// each caller's write is there after a reopen.
#[test]
fn concurrent_writers_share_commits() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE_NAME);
    let (j, _) = open_at(&path);
    let before = j.commits();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let ids = rt.block_on(async {
        let tasks: Vec<_> = (0..200)
            .map(|i| {
                let j = j.clone();
                tokio::spawn(async move {
                    let op = j
                        .begin(intent(&format!("a{}", i % 20), ""))
                        .await?
                        .into_operation();
                    j.change(op.id, Change::to(OpState::InProgress)).await
                })
            })
            .collect();
        let mut ids = Vec::new();
        for t in tasks {
            ids.push(t.await.unwrap().unwrap().id);
        }
        ids
    });
    let commits = j.commits() - before;
    assert!(commits < 100, "400 writes took {commits} commits");
    drop(j);
    let (j, _) = open_at(&path);
    for id in ids {
        assert_eq!(
            j.get(id).wait().unwrap().unwrap().state,
            OpState::InProgress
        );
    }
}

/// The fixture `tests/data/journal/v1.redb` was written by the version-1 code (commit
/// 73d80f8: `populated` above, then a status and a snapshot). Opening it migrates it to the
/// current version in one transaction, keeps every record, and builds the new index.
#[test]
fn a_version_1_file_is_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE_NAME);
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/journal/v1.redb"),
        &path,
    )
    .unwrap();
    let (j, _) = open_at(&path);
    assert_eq!(j.opened().from_version, 1);
    let report = j.check().wait().unwrap();
    assert_eq!(report.problems, Vec::<String>::new());
    assert_eq!((report.schema_version, report.operations), (2, 60));
    let all = j
        .query(Query {
            limit: 1000,
            ..Query::default()
        })
        .wait()
        .unwrap()
        .ops;
    assert_eq!(all.len(), 60);
    // The version-2 index answers appliance + state.
    for s in OpState::ALL {
        let q = Query {
            appliance: Some("edge-2".into()),
            state: Some(s),
            limit: 1000,
            ..Query::default()
        };
        let expect: Vec<_> = all.iter().filter(|op| q.matches(op)).cloned().collect();
        assert_eq!(j.query(q).wait().unwrap().ops, expect);
    }
    assert!(j.status("edge-1").wait().unwrap().unwrap().reachable);
    assert_eq!(j.snapshots("edge-1").wait().unwrap().len(), 1);
    // New writes keep going, after the old ids.
    let op = j
        .begin(intent("edge-1", ""))
        .wait()
        .unwrap()
        .into_operation();
    assert!(op.id > all[0].id);
    drop(j);
    let (j, _) = open_at(&path);
    assert_eq!(j.opened().from_version, 2);
}

#[test]
fn a_newer_file_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE_NAME);
    drop(open_at(&path));
    {
        let db = redb::Database::open(&path).unwrap();
        let txn = db.begin_write().unwrap();
        txn.open_table(store::META)
            .unwrap()
            .insert(store::VERSION_KEY, 3)
            .unwrap();
        txn.commit().unwrap();
    }
    let err = Journal::open(&path, Options::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}: the journal has schema version 3, newer than the version 2 this vnfsync understands; use a newer vnfsync",
            path.display()
        )
    );
    // Nothing was written: still version 3 (redb itself touches its header on open, so the
    // bytes are not compared).
    let db = redb::Database::open(&path).unwrap();
    let txn = db.begin_read().unwrap();
    let meta = txn.open_table(store::META).unwrap();
    assert_eq!(meta.get(store::VERSION_KEY).unwrap().unwrap().value(), 3);
}

#[test]
fn check_finds_broken_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE_NAME);
    let (j, clock) = open_at(&path);
    let all = populated(&j, &clock);
    assert!(j.check().wait().unwrap().problems.is_empty());
    drop(j);
    {
        let db = redb::Database::open(&path).unwrap();
        let txn = db.begin_write().unwrap();
        let pending = all.iter().find(|op| op.state == OpState::Pending).unwrap();
        txn.open_table(store::IN_FLIGHT)
            .unwrap()
            .remove(pending.id.key())
            .unwrap();
        txn.open_table(store::BY_COMMIT)
            .unwrap()
            .insert(("c9", 7u128), ())
            .unwrap();
        txn.commit().unwrap();
    }
    let (j, _) = open_at(&path);
    let problems = j.check().wait().unwrap().problems;
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems[0].contains("not listed in flight"), "{problems:?}");
    assert!(problems[1].starts_with("by_commit (c9,"), "{problems:?}");
}

#[test]
fn retention_by_age_and_count_spares_in_flight_and_last_good() {
    let dir = tempfile::tempdir().unwrap();
    let (j, clock) = open_at(&dir.path().join(FILE_NAME));
    const DAY: i64 = 24 * 3600 * 1000;
    // Day 0..10, one operation per day on each of two appliances; day 0 of `a` stays in flight.
    let mut stuck = None;
    for d in 0..10 {
        clock.set(T0 + d * DAY);
        for a in ["a", "b"] {
            let op = j.begin(intent(a, "")).wait().unwrap().into_operation();
            if d == 0 && a == "a" {
                stuck = Some(op.clone());
            } else {
                reach(&j, &op, OpState::Completed);
            }
            j.record_snapshot(SnapshotEntry {
                appliance: a.into(),
                id: format!("s{d}"),
                commit: "c".into(),
                taken: Timestamp::from_millisecond(T0 + d * DAY).unwrap(),
                location: String::new(),
            })
            .wait()
            .unwrap();
        }
    }
    j.update_status("b", |s| s.last_good_snapshot = Some("s1".into()))
        .wait()
        .unwrap();
    clock.set(T0 + 10 * DAY);
    // Older than 5 days: days 0..5 go, except `a`'s in-flight day 0 and `b`'s last good s1.
    let pruned = j
        .prune(Retention {
            max_age: Some(std::time::Duration::from_secs(5 * 24 * 3600)),
            keep_per_appliance: None,
        })
        .wait()
        .unwrap();
    assert_eq!(
        pruned,
        Pruned {
            operations: 9,
            snapshots: 9
        }
    );
    let stuck = stuck.unwrap();
    assert_eq!(
        j.in_flight().wait().unwrap(),
        vec![j.get(stuck.id).wait().unwrap().unwrap()]
    );
    let snaps = |a: &str| -> Vec<String> {
        j.snapshots(a)
            .wait()
            .unwrap()
            .into_iter()
            .map(|s| s.id)
            .collect()
    };
    assert_eq!(snaps("b"), ["s9", "s8", "s7", "s6", "s5", "s1"]);
    // Keep 2 per appliance: the in-flight one stays on top of them.
    let pruned = j
        .prune(Retention {
            max_age: None,
            keep_per_appliance: Some(2),
        })
        .wait()
        .unwrap();
    assert_eq!(
        pruned,
        Pruned {
            operations: 3 + 3,
            snapshots: 3 + 3
        }
    );
    let left = |a: &str| {
        j.query(Query {
            appliance: Some(a.into()),
            ..Query::default()
        })
        .wait()
        .unwrap()
        .ops
        .len()
    };
    assert_eq!((left("a"), left("b")), (3, 2));
    assert_eq!(snaps("a"), ["s9", "s8"]);
    assert_eq!(snaps("b"), ["s9", "s8", "s1"]);
    assert_eq!(j.check().wait().unwrap().problems, Vec::<String>::new());
}
