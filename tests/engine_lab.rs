//! The reconcile engine against the lab (`vnfsync lab`, the real binary): idempotent
//! re-apply with zero device writes, a failing health probe rolled back at once without a
//! reboot, and crash recovery by reading the device, one test per row of the case table.

// The lab is a separate process with its own clock: deadlines here are wall-clock.
#![allow(clippy::disallowed_methods)]

use std::time::Duration;

use vnfsync::driver::secret::ProcessEnv;
use vnfsync::driver::vyos::{Timeouts, VyosDriver};
use vnfsync::driver::{ApplyOptions, Driver};
use vnfsync::engine::{self, Action, Context};
use vnfsync::journal::{Change, CommitMode, Intent, OpKind, OpState};
use vnfsync::render::{self, Loaded};
use vnfsync::source::SourceFiles;

#[path = "support/engine_env.rs"]
mod engine_env;
use engine_env::{FAILING, Lab, PASSING, ROUTES, has_route, rt, start_lab};

#[test]
fn reconcile_is_send() {
    fn send<T: Send>(_: &T) {}
    let loaded = Lab::start("1.4");
    let l = loaded.loaded("ssh", ROUTES, PASSING);
    let ctx = loaded.context();
    let a = l.state.appliances[0].clone();
    let fut = engine::reconcile(&l, &a, &ctx);
    send(&fut);
}

#[test]
fn idempotent_reapply_makes_zero_device_writes() {
    for transport in ["ssh", "http"] {
        let lab = Lab::start("1.4");
        let loaded = lab.loaded(transport, ROUTES, PASSING);
        let ctx = lab.context();
        let a = &loaded.state.appliances[0];
        let rt = rt();
        let before =
            vnfsync::vyos::ConfigTree::parse_commands(&lab.get("/active")).expect("before");
        let first = rt
            .block_on(engine::reconcile(&loaded, a, &ctx))
            .unwrap_or_else(|e| panic!("{transport}: {e}"));
        let Action::Completed { op } = first else {
            panic!("{transport}: {first:?}")
        };
        let rec = ctx.journal.get(op).wait().expect("get").expect("op");
        assert_eq!(rec.state, OpState::Completed);
        assert!(rec.probes.iter().all(|p| p.passed), "{rec:?}");
        assert!(has_route(&lab.get("/active")), "{transport}");
        // Config outside the owned scopes is untouched.
        let after = vnfsync::vyos::ConfigTree::parse_commands(&lab.get("/active")).expect("after");
        for c in vnfsync::vyos::diff(&before, &after, &[]) {
            assert!(
                c.path
                    .starts_with(&["protocols".to_string(), "static".to_string()]),
                "{transport}: outside the owned scope: {c}"
            );
        }
        let summary = lab.summary();
        assert!(
            summary["pending_confirm"].is_null() || summary["pending_confirm"] == false,
            "{transport}: confirmed: {summary}"
        );
        let mark = lab.log_len();
        let again = rt
            .block_on(engine::reconcile(&loaded, a, &ctx))
            .expect("again");
        // The same operation id, and not one device write.
        assert_eq!(
            again,
            Action::InSync {
                last_op: Some(op),
                drift: Vec::new()
            },
            "{transport}"
        );
        assert_eq!(again.op(), Some(op), "{transport}");
        assert_eq!(lab.writes_since(mark), Vec::<String>::new(), "{transport}");
    }
}

#[test]
fn failing_probe_rolls_back_at_once_without_reboot() {
    for (profile, transport) in [
        ("1.3", "ssh"),
        ("1.4", "ssh"),
        ("1.4", "http"),
        ("1.5", "http"),
    ] {
        let lab = Lab::start(profile);
        let loaded = lab.loaded(transport, ROUTES, FAILING);
        let ctx = lab.context();
        let a = &loaded.state.appliances[0];
        let rt = rt();
        let before = lab.get("/active");
        let out = rt
            .block_on(engine::reconcile(&loaded, a, &ctx))
            .unwrap_or_else(|e| panic!("{transport}: {e}"));
        let Action::RolledBack { op, cause } = out else {
            panic!("{transport}: {out:?}")
        };
        assert!(cause.contains("command show version"), "{cause}");
        let rec = ctx.journal.get(op).wait().expect("get").expect("op");
        assert_eq!(rec.state, OpState::RolledBack);
        // Back on the base at once: config byte-identical, no timer left to reboot the box.
        assert_eq!(lab.get("/active"), before, "{transport}");
        let summary = lab.summary();
        assert_eq!(summary["up"], true, "{summary}");
        assert_eq!(summary["reboots"], 0, "{transport}: no reboot: {summary}");
        assert!(
            summary["pending_confirm"].is_null() || summary["pending_confirm"] == false,
            "{transport}: no timer left: {summary}"
        );
        // Parked until a new commit.
        let next = rt
            .block_on(engine::reconcile(&loaded, a, &ctx))
            .expect("next");
        assert!(matches!(next, Action::Parked { .. }), "{next:?}");
    }
}

/// Build an open operation the way a crashed daemon left it.
fn open_op(
    ctx: &Context,
    lab: &Lab,
    loaded: &Loaded,
    state: OpState,
    confirm_by: &str,
) -> vnfsync::journal::Operation {
    let a = &loaded.state.appliances[0];
    let intended = render::render(loaded, a).expect("render");
    let rt = rt();
    let mut d = VyosDriver::new(
        a,
        &ProcessEnv,
        Timeouts {
            connect: Duration::from_secs(5),
            command: Duration::from_secs(10),
        },
    )
    .expect("driver");
    let running = rt.block_on(d.fetch()).expect("fetch");
    let p = vnfsync::plan::plan(&intended, &running, None);
    let (snap, path) = rt
        .block_on(vnfsync::driver::snapshot_to_store(
            &mut d,
            &ctx.store,
            "lab",
            "0123456789ab",
            std::time::SystemTime::now(),
        ))
        .expect("snapshot");
    ctx.journal
        .record_snapshot(vnfsync::journal::SnapshotEntry {
            appliance: "lab".into(),
            id: snap.id.clone(),
            commit: "0123456789ab".into(),
            taken: jiff::Timestamp::now(),
            location: path.display().to_string(),
        })
        .wait()
        .expect("snapshot entry");
    let begun = ctx
        .journal
        .begin(Intent {
            appliance: "lab".into(),
            kind: OpKind::Apply,
            commit: "0123456789ab".into(),
            idempotency_key: p.idempotency_key.clone(),
            base_hash: p.base_hash.clone(),
            target_hash: p.target_hash.clone(),
            commit_mode: Some(CommitMode {
                confirm_by: confirm_by.into(),
                window_secs: 60,
                save_first: false,
            }),
            ..Intent::default()
        })
        .wait()
        .expect("begin")
        .into_operation();
    if state == OpState::Pending {
        return begun;
    }
    ctx.journal
        .change(begun.id, Change::to(OpState::InProgress).snapshot(&snap.id))
        .wait()
        .expect("in progress");
    let _ = lab;
    if state == OpState::AwaitingConfirm {
        rt.block_on(d.apply(
            &p.commands,
            &ApplyOptions {
                confirm_window: Some(Duration::from_secs(60)),
                comment: "vnfsync 0123456789ab".into(),
                ..ApplyOptions::default()
            },
        ))
        .expect("apply");
        ctx.journal
            .change(
                begun.id,
                Change::to(OpState::AwaitingConfirm)
                    .confirm_deadline(jiff::Timestamp::now() + jiff::SignedDuration::from_secs(60)),
            )
            .wait()
            .expect("awaiting");
    }
    ctx.journal.get(begun.id).wait().expect("get").expect("op")
}

/// Case table row: pending → failed "not applied", no device call.
#[test]
fn recovery_pending_is_not_applied() {
    let lab = Lab::start("1.4");
    let loaded = lab.loaded("ssh", ROUTES, PASSING);
    let ctx = lab.context();
    let op = open_op(&ctx, &lab, &loaded, OpState::Pending, "device_reboot");
    let a = &loaded.state.appliances[0];
    let out = rt()
        .block_on(engine::recover(&op, a, &ctx))
        .expect("recover");
    assert!(
        matches!(out, Action::Failed { parked: false, .. }),
        "{out:?}"
    );
    let rec = ctx.journal.get(op.id).wait().expect("get").expect("op");
    assert_eq!(rec.state, OpState::Failed);
}

/// Case table row: in_progress and the device holds the base → failed "not applied".
#[test]
fn recovery_in_progress_on_base_is_not_applied() {
    let lab = Lab::start("1.4");
    let loaded = lab.loaded("ssh", ROUTES, PASSING);
    let ctx = lab.context();
    let op = open_op(&ctx, &lab, &loaded, OpState::InProgress, "device_reboot");
    let a = &loaded.state.appliances[0];
    let out = rt()
        .block_on(engine::recover(&op, a, &ctx))
        .expect("recover");
    let Action::Failed { reason, parked, .. } = out else {
        panic!("{out:?}")
    };
    assert!(reason.contains("not applied"), "{reason}");
    assert!(!parked);
}

/// Case table row: awaiting_confirm inside the window, device on the target, probes pass →
/// confirm and complete.
#[test]
fn recovery_awaiting_on_target_confirms_and_completes() {
    for transport in ["ssh", "http"] {
        let lab = Lab::start("1.5");
        let loaded = lab.loaded(transport, ROUTES, PASSING);
        let ctx = lab.context();
        let op = open_op(
            &ctx,
            &lab,
            &loaded,
            OpState::AwaitingConfirm,
            if transport == "ssh" {
                "device_reboot"
            } else {
                "device_reload"
            },
        );
        let a = &loaded.state.appliances[0];
        let out = rt()
            .block_on(engine::recover(&op, a, &ctx))
            .expect("recover");
        assert!(
            matches!(out, Action::Completed { .. }),
            "{transport}: {out:?}"
        );
        let summary = lab.summary();
        assert!(
            summary["pending_confirm"].is_null() || summary["pending_confirm"] == false,
            "{transport}: confirmed: {summary}"
        );
        assert!(has_route(&lab.get("/active")));
    }
}

/// Case table row: awaiting_confirm, device on the target, a probe fails → rolled back.
#[test]
fn recovery_awaiting_with_failing_probe_rolls_back() {
    let lab = Lab::start("1.4");
    let loaded = lab.loaded("ssh", ROUTES, FAILING);
    let ctx = lab.context();
    let before = lab.get("/active");
    let op = open_op(
        &ctx,
        &lab,
        &loaded,
        OpState::AwaitingConfirm,
        "device_reboot",
    );
    let a = &loaded.state.appliances[0];
    let out = rt()
        .block_on(engine::recover(&op, a, &ctx))
        .expect("recover");
    assert!(matches!(out, Action::RolledBack { .. }), "{out:?}");
    assert_eq!(lab.get("/active"), before);
}

/// Case table row: the device holds neither base nor target → failed "changed by someone
/// else", parked.
#[test]
fn recovery_neither_base_nor_target_parks() {
    let lab = Lab::start("1.4");
    let loaded = lab.loaded("ssh", ROUTES, PASSING);
    let ctx = lab.context();
    let op = open_op(&ctx, &lab, &loaded, OpState::InProgress, "device_reboot");
    // Someone else changes the owned scope.
    let a = &loaded.state.appliances[0];
    let mut d = VyosDriver::new(a, &ProcessEnv, Timeouts::default()).expect("driver");
    rt().block_on(
        d.apply(
            &vnfsync::vyos::parse_commands(
                "set protocols static route 10.77.0.0/16 next-hop 192.0.2.7\n",
            )
            .expect("cmds"),
            &ApplyOptions::default(),
        ),
    )
    .expect("out of band");
    let out = rt()
        .block_on(engine::recover(&op, a, &ctx))
        .expect("recover");
    let Action::Failed { reason, parked, .. } = out else {
        panic!("{out:?}")
    };
    assert!(reason.contains("changed by someone else"), "{reason}");
    assert!(parked);
    let status = ctx
        .journal
        .status("lab")
        .wait()
        .expect("status")
        .expect("s");
    assert!(status.parked_reason.is_some());
}

/// The lockout raw lines of a profile: an input filter that drops new connections to `port`
/// (1.4+: `firewall ipv4 input filter`; 1.3: a `local` rule set on the management interface),
/// and the scopes that own them.
fn lockout_state(profile: &str, port: u16) -> (String, Vec<String>) {
    if profile == "1.3" {
        (
            "  - firewall name LOCKOUT\n  - interfaces ethernet eth0 firewall local\n".into(),
            vec![
                "set firewall name LOCKOUT default-action 'accept'".into(),
                "set firewall name LOCKOUT rule 10 action 'drop'".into(),
                "set firewall name LOCKOUT rule 10 protocol 'tcp'".into(),
                format!("set firewall name LOCKOUT rule 10 destination port '{port}'"),
                "set interfaces ethernet eth0 firewall local name 'LOCKOUT'".into(),
            ],
        )
    } else {
        (
            "  - firewall ipv4 input filter\n".into(),
            vec![
                "set firewall ipv4 input filter default-action 'accept'".into(),
                "set firewall ipv4 input filter rule 10 action 'drop'".into(),
                "set firewall ipv4 input filter rule 10 protocol 'tcp'".into(),
                format!("set firewall ipv4 input filter rule 10 destination port '{port}'"),
            ],
        )
    }
}

/// The lockout: a change whose input filter drops the management port (SSH's 22, or the
/// API's 443) cuts the path the engine talks over. The login probe fails over a fresh
/// connection; restoring cannot reach the device; the device reverts by itself (the reboot to
/// the saved config of 1.3 and 1.4, the reboot or reload of 1.5); the engine waits past the
/// deadline, reconnects, verifies the base and records `rolled_back` "lost management access".
/// Nothing unconfirmed is ever saved. Over the HTTP API only where the profile arms the
/// confirm on that transport (1.5): elsewhere the daemon is the confirmer and a lockout over
/// the API leaves nothing to revert it.
#[test]
fn lockout_is_survived_and_rolled_back() {
    for (profile, transport) in [
        ("1.3", "ssh"),
        ("1.4", "ssh"),
        ("1.5", "ssh"),
        ("1.5", "http"),
    ] {
        let ctx_name = format!("{profile}/{transport}");
        let (process, info) =
            start_lab(profile, &["--minute-seconds", "1", "--reboot-seconds", "1"]);
        let dir = tempfile::tempdir().expect("tempdir");
        for key in ["password", "api_key"] {
            std::fs::write(dir.path().join(key), info[key].as_str().expect("secret"))
                .expect("write");
        }
        let lab = Lab {
            _process: process,
            info,
            dir,
            profile: profile.to_string(),
        };
        let (owns, raw) = lockout_state(profile, if transport == "ssh" { 22 } else { 443 });
        let yaml = format!(
            "name: lab\ndictionary: vyos-{profile}\nendpoint:\n{}owns:\n{owns}commit:\n  confirm_window: 1m\nhealth:\n  - {{kind: login}}\nraw:\n{}",
            lab.endpoint(transport),
            raw.iter()
                .map(|l| format!("  - \"{l}\"\n"))
                .collect::<String>()
        );
        let mut files = SourceFiles::default();
        files
            .files
            .insert("appliances/lab.yaml".into(), yaml.into_bytes());
        let mut loaded = render::load(&files).unwrap_or_else(|e| panic!("{ctx_name}: {e:#?}"));
        loaded.state.commit = Some("0123456789abcdef0123456789abcdef01234567".into());
        let mut ctx = lab.context();
        ctx.policy.revert_grace = Duration::from_secs(30);
        ctx.timeouts = Timeouts {
            connect: Duration::from_secs(2),
            command: Duration::from_secs(3),
        };
        ctx.policy.probe_timeout = Duration::from_secs(3);
        let before = lab.get("/active");
        let reboots = lab.summary()["reboots"].as_u64();
        let a = &loaded.state.appliances[0];
        let out = rt()
            .block_on(engine::reconcile(&loaded, a, &ctx))
            .unwrap_or_else(|e| panic!("{ctx_name}: {e}"));
        let Action::RolledBack { op, cause } = out else {
            panic!("{ctx_name}: {out:?}")
        };
        assert!(
            cause.contains("lost management access"),
            "{ctx_name}: {cause}"
        );
        let rec = ctx.journal.get(op).wait().expect("get").expect("op");
        assert_eq!(rec.state, OpState::RolledBack, "{ctx_name}");
        // The cut is seen either by the login probe over a fresh connection or by the apply's
        // own session dying after the commit (an unknown outcome, settled by reading).
        assert!(
            rec.probes
                .iter()
                .any(|p| p.name.contains("login") && !p.passed)
                || rec.steps.iter().any(|s| s.what.contains("outcome unknown")),
            "{ctx_name}: {rec:#?}"
        );
        assert_eq!(lab.get("/active"), before, "{ctx_name}: back on the base");
        let summary = lab.summary();
        assert_eq!(summary["up"], true, "{ctx_name}: {summary}");
        // The device reverted by itself: the reboot to the saved config (no reload is set).
        assert!(
            summary["reboots"].as_u64() > reboots,
            "{ctx_name}: {summary}"
        );
        let saved = vnfsync::vyos::ConfigTree::parse_boot(&lab.get("/saved"))
            .map(|t| vnfsync::vyos::render_commands(&t))
            .expect("saved config.boot");
        for line in &raw[1..] {
            assert!(
                !saved.contains(line.as_str()),
                "{ctx_name}: nothing unconfirmed saved: {line}\n{saved}"
            );
        }
    }
}

/// Change the device behind vnfsync's back (one plain commit over the driver).
fn out_of_band(loaded: &Loaded, commands: &str) {
    let a = &loaded.state.appliances[0];
    let mut d = VyosDriver::new(a, &ProcessEnv, Timeouts::default()).expect("driver");
    rt().block_on(d.apply(
        &vnfsync::vyos::parse_commands(commands).expect("cmds"),
        &ApplyOptions::default(),
    ))
    .expect("out of band");
}

const OOB_ROUTE: &str = "set protocols static route 10.77.0.0/16 next-hop 192.0.2.7\n";
const ROUTES_2: &str = "  - {prefix: 10.20.0.0/16, next_hop: 192.0.2.253}\n  - {prefix: 10.30.0.0/16, next_hop: 192.0.2.253}\n";

/// Drift is told apart from a new change (the planner gets what was last applied): drift in an
/// `alert` scope is reported and left alone, with zero device writes; a new commit touching
/// the scope is applied, and the journal says it overwrote the drift.
#[test]
fn drift_in_an_alert_scope_is_reported_and_left_alone() {
    let lab = Lab::start("1.4");
    let loaded = lab.loaded("ssh", ROUTES, PASSING);
    let ctx = lab.context();
    let a = &loaded.state.appliances[0];
    let rt = rt();
    let first = rt
        .block_on(engine::reconcile(&loaded, a, &ctx))
        .expect("first");
    let Action::Completed { op } = first else {
        panic!("{first:?}")
    };
    out_of_band(&loaded, OOB_ROUTE);
    let mark = lab.log_len();
    let again = rt
        .block_on(engine::reconcile(&loaded, a, &ctx))
        .expect("again");
    assert_eq!(
        again,
        Action::InSync {
            last_op: None,
            drift: vec!["protocols static".into()]
        }
    );
    assert_eq!(lab.writes_since(mark), Vec::<String>::new());
    assert!(lab.get("/active").contains("10.77.0.0/16"), "left alone");
    // Left alone again on the next pass: the record of what git put there is kept.
    let third = rt
        .block_on(engine::reconcile(&loaded, a, &ctx))
        .expect("third");
    assert!(
        matches!(&third, Action::InSync { drift, .. } if drift.len() == 1),
        "{third:?}"
    );
    // A new commit changing the scope is applied: git wins, and the journal says so.
    let next = lab.loaded("ssh", ROUTES_2, PASSING);
    let applied = rt
        .block_on(engine::reconcile(&next, &next.state.appliances[0], &ctx))
        .expect("new commit");
    let Action::Completed { op: op2 } = applied else {
        panic!("{applied:?}")
    };
    assert_ne!(op2, op);
    let rec = ctx.journal.get(op2).wait().expect("get").expect("op");
    assert!(
        rec.request_summary
            .as_deref()
            .is_some_and(|s| s.contains("overwrites drift in protocols static")),
        "{rec:?}"
    );
    let active = lab.get("/active");
    assert!(
        active.contains("10.30.0.0/16") && !active.contains("10.77.0.0/16"),
        "{active}"
    );
}

/// Drift in an `overwrite` scope is put back, as a new operation, also when the device was put
/// back exactly on the base of an operation that completed (same plan, same base: the
/// idempotency key alone would call it done).
#[test]
fn drift_in_an_overwrite_scope_is_put_back() {
    let lab = Lab::start("1.4");
    let owns = "{path: protocols static, drift: overwrite}";
    let loaded = lab.loaded_owning("http", owns, ROUTES, PASSING);
    let ctx = lab.context();
    let a = &loaded.state.appliances[0];
    let rt = rt();
    let Action::Completed { op } = rt
        .block_on(engine::reconcile(&loaded, a, &ctx))
        .expect("first")
    else {
        panic!("first")
    };
    out_of_band(&loaded, OOB_ROUTE);
    let Action::Completed { op: op2 } = rt
        .block_on(engine::reconcile(&loaded, a, &ctx))
        .expect("extra")
    else {
        panic!("extra route put back")
    };
    assert_ne!(op2, op);
    assert!(!lab.get("/active").contains("10.77.0.0/16"));
    // Someone deletes the route: the device is on the first operation's base again.
    out_of_band(&loaded, "delete protocols static route 10.20.0.0/16\n");
    let out = rt
        .block_on(engine::reconcile(&loaded, a, &ctx))
        .expect("deleted");
    let Action::Completed { op: op3 } = out else {
        panic!("{out:?}")
    };
    assert!(op3 != op && op3 != op2);
    assert!(has_route(&lab.get("/active")));
    // And in sync now, answering the last operation.
    let done = rt
        .block_on(engine::reconcile(&loaded, a, &ctx))
        .expect("done");
    assert_eq!(done.op(), Some(op3), "{done:?}");
}

/// An operator's return to a snapshot is not drift: the next pass does not undo it.
#[test]
fn an_operator_rollback_is_not_undone_as_drift() {
    let lab = Lab::start("1.4");
    let owns = "{path: protocols static, drift: overwrite}";
    let loaded = lab.loaded_owning("ssh", owns, ROUTES, PASSING);
    let ctx = lab.context();
    let a = &loaded.state.appliances[0];
    let rt = rt();
    let Action::Completed { op } = rt
        .block_on(engine::reconcile(&loaded, a, &ctx))
        .expect("first")
    else {
        panic!("first")
    };
    let snap = ctx
        .journal
        .get(op)
        .wait()
        .expect("get")
        .and_then(|o| o.snapshot_id)
        .expect("snapshot");
    let back = rt
        .block_on(engine::restore_snapshot(a, &snap, &ctx))
        .expect("restore");
    assert!(matches!(back, Action::Completed { .. }), "{back:?}");
    assert!(!has_route(&lab.get("/active")));
    let mark = lab.log_len();
    let next = rt
        .block_on(engine::reconcile(&loaded, a, &ctx))
        .expect("next");
    assert_eq!(next, Action::AlreadyDone { op }, "{next:?}");
    assert_eq!(lab.writes_since(mark), Vec::<String>::new());
}

/// A partial commit (the lab fails the `protocols static` part of the next commit and commits
/// the rest): the journal says which owned scope landed and which did not, no confirm timer is
/// left armed, and the next pass finishes the job.
#[test]
fn a_partial_commit_is_recorded_and_the_next_pass_finishes() {
    for transport in ["ssh", "http"] {
        let lab = Lab::start("1.4");
        let owns = "protocols static\n  - system login banner";
        let routes = format!(
            "{ROUTES}raw:\n  - \"set system login banner pre-login 'authorised use only'\"\n"
        );
        let loaded = lab.loaded_owning(transport, owns, &routes, PASSING);
        let ctx = lab.context();
        let a = &loaded.state.appliances[0];
        let rt = rt();
        lab.post("/faults", r#"{"fail_next_commit_of": "protocols static"}"#);
        let out = rt
            .block_on(engine::reconcile(&loaded, a, &ctx))
            .unwrap_or_else(|e| panic!("{transport}: {e}"));
        assert!(
            matches!(out, Action::Requeue { .. }),
            "{transport}: {out:?}"
        );
        let active = lab.get("/active");
        assert!(
            active.contains("authorised use only"),
            "{transport}: {active}"
        );
        assert!(!has_route(&active), "{transport}: {active}");
        let summary = lab.summary();
        assert!(
            summary["pending_confirm"].is_null() || summary["pending_confirm"] == false,
            "{transport}: no timer left to reboot the box: {summary}"
        );
        let ops = ctx
            .journal
            .query(vnfsync::journal::Query {
                appliance: Some("lab".into()),
                ..Default::default()
            })
            .wait()
            .expect("ops")
            .ops;
        let partial = &ops[0];
        assert_eq!(partial.state, OpState::Failed, "{transport}: {partial:#?}");
        let said = partial.response_summary.clone().unwrap_or_default();
        assert!(
            said.contains("landed: system login banner")
                && said.contains("not landed: protocols static"),
            "{transport}: {said}"
        );
        // The next pass plans from what is on the device and finishes.
        let next = rt
            .block_on(engine::reconcile(&loaded, a, &ctx))
            .expect("next");
        assert!(
            matches!(next, Action::Completed { .. }),
            "{transport}: {next:?}"
        );
        let rec = ctx
            .journal
            .get(next.op().expect("op"))
            .wait()
            .expect("get")
            .expect("op");
        assert_eq!(
            rec.planned.len(),
            1,
            "{transport}: only the route is left: {:?}",
            rec.planned
        );
        assert!(has_route(&lab.get("/active")));
    }
}

/// A probe's own `timeout` bounds it (here 300ms, under the engine's 5 s default): a probe
/// whose command never answers fails in time, named, and the change is rolled back.
#[test]
fn a_probe_times_out_by_its_own_timeout() {
    let lab = Lab::start("1.4");
    let health = "  - {kind: login, timeout: 5s}\n  - {kind: command, run: show host name, expect: 'vyos', timeout: 300ms}\n";
    let loaded = lab.loaded("ssh", ROUTES, health);
    let ctx = lab.context();
    assert_eq!(ctx.policy.probe_timeout, Duration::from_secs(5));
    let a = &loaded.state.appliances[0];
    lab.post("/faults", r#"{"hang_on": "run show host name"}"#);
    let out = rt()
        .block_on(engine::reconcile(&loaded, a, &ctx))
        .expect("reconcile");
    let Action::RolledBack { op, cause } = out else {
        panic!("{out:?}")
    };
    assert!(
        cause.contains("command show host name") && cause.contains("timed out after 300ms"),
        "{cause}"
    );
    let rec = ctx.journal.get(op).wait().expect("get").expect("op");
    assert!(
        rec.probes.iter().any(|p| p.name == "login" && p.passed),
        "{:?}",
        rec.probes
    );
    assert!(!has_route(&lab.get("/active")));
}
