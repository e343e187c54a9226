//! The reconcile engine: one appliance brought to its desired state through a health-gated
//! commit-confirm, journaled before any write, rolled back at once (without a reboot) when a
//! probe fails, and operations left open by a crash finished by looking at the device.
//!
//! Owns: the order of the steps (render → firmware check → fetch → plan → journal the intent →
//! snapshot → apply → probes → confirm and save, or roll back and verify), the error policy
//! (bounded retries, parking, the circuit breaker) and crash recovery (the case table in
//! ARCHITECTURE.md). `reconcile` is idempotent and is not told why it runs.
//! Must not: format output (the CLI does), talk to a device except through a `Driver`, or
//! keep state outside the journal.

pub mod failpoint;
mod recover;

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;

use crate::driver::probe::{HealthReport, run_probes};
use crate::driver::secret::Env;
use crate::driver::store::SnapshotStore;
use crate::driver::vyos::Timeouts;
use crate::driver::{
    AnyDriver, ApplyOptions, ApplyOutcome, CommitPlan, ConfirmOutcome, Driver, DriverError, Pin,
    Reverter, Snapshot, commit_mode,
};
use crate::journal::{
    Begun, Breaker, Change, CommitMode, ErrorRecord, Intent, Journal, JournalError, OpId, OpKind,
    OpState, Operation, ProbeResult, Query, SnapshotEntry,
};
use crate::model::{Appliance, DriftPolicy};
use crate::plan::{Plan, ScopeHashes, check_version, plan};
use crate::render::{Intended, Loaded, render, tree_hash};
use crate::vyos::ConfigTree;

pub use failpoint::failpoint;
pub use recover::{Recovered, recover, recover_all};

/// What went wrong in the engine itself (device failures become journaled outcomes, not
/// errors).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("journal: {0}")]
    Journal(#[from] JournalError),
    #[error("{appliance}: cannot render: {message}")]
    Render { appliance: String, message: String },
    #[error("{0}")]
    Driver(#[from] DriverError),
}

/// Retries and the circuit breaker (DESIGN invariant 7).
#[derive(Debug, Clone)]
pub struct Policy {
    /// The waits between attempts of a transient failure (1 s, 2 s, 4 s).
    pub retry_delays: Vec<Duration>,
    /// Consecutive failed passes after which the breaker opens.
    pub breaker_threshold: u32,
    /// How long to wait past a device-side confirm deadline for the device to come back.
    pub revert_grace: Duration,
    /// Per-probe timeout.
    pub probe_timeout: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            retry_delays: vec![
                Duration::from_secs(1),
                Duration::from_secs(2),
                Duration::from_secs(4),
            ],
            breaker_threshold: 5,
            revert_grace: Duration::from_secs(300),
            probe_timeout: Duration::from_secs(10),
        }
    }
}

/// What the engine works with.
#[derive(Clone)]
pub struct Context {
    pub journal: Journal,
    pub store: SnapshotStore,
    pub env: Arc<dyn Env + Send + Sync>,
    pub timeouts: Timeouts,
    pub policy: Policy,
    /// Consecutive failed passes per appliance (the circuit breaker's count).
    pub failures: Arc<std::sync::Mutex<std::collections::HashMap<String, u32>>>,
}

impl Context {
    pub fn new(
        journal: Journal,
        store: SnapshotStore,
        env: Arc<dyn Env + Send + Sync>,
        timeouts: Timeouts,
        policy: Policy,
    ) -> Context {
        Context {
            journal,
            store,
            env,
            timeouts,
            policy,
            failures: Arc::default(),
        }
    }
}

/// What `reconcile` did, and so what to do next.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// The device already matches: contact recorded, nothing written. `last_op` is the
    /// completed operation that left the device in this state (the second apply of a commit
    /// answers the first one's id); `drift` names the `alert` scopes changed on the device
    /// since the last apply, reported and left alone.
    InSync {
        last_op: Option<OpId>,
        drift: Vec<String>,
    },
    /// The operation with this plan already completed (idempotency): nothing written.
    AlreadyDone { op: OpId },
    /// Applied, probed, confirmed (and saved).
    Completed { op: OpId },
    /// A probe failed (or the window ran out) and the device is back on the base.
    RolledBack { op: OpId, cause: String },
    /// The operation failed; `park` says whether writes stop until a new commit or an
    /// operator's `rollback`/`resume`.
    Failed {
        op: Option<OpId>,
        reason: String,
        parked: bool,
    },
    /// Parked earlier: nothing done.
    Parked { reason: String },
    /// A transient failure: try again after this long.
    Requeue { after: Duration, reason: String },
}

impl Action {
    /// The operation this pass made or found, if any.
    pub fn op(&self) -> Option<OpId> {
        match self {
            Action::AlreadyDone { op }
            | Action::Completed { op }
            | Action::RolledBack { op, .. } => Some(*op),
            Action::Failed { op, .. } => *op,
            Action::InSync { last_op, .. } => *last_op,
            _ => None,
        }
    }
}

/// The parked reason's prefix naming the commit it holds for.
fn parked_for(commit: &str, reason: &str) -> String {
    format!("commit {commit}: {reason}")
}

/// Run a driver call with the retry policy while it fails with a transient error
/// (`OutcomeUnknown` is not transient: it is never sent again).
macro_rules! retrying {
    ($policy:expr, $call:expr) => {{
        let mut delays = $policy.retry_delays.iter();
        loop {
            match $call.await {
                Err(e) if e.retryable() => match delays.next() {
                    Some(d) => tokio::time::sleep(*d).await,
                    None => break Err(e),
                },
                other => break other,
            }
        }
    }};
}

fn now_plus(d: Duration) -> Timestamp {
    let span = jiff::SignedDuration::try_from(d).unwrap_or(jiff::SignedDuration::ZERO);
    Timestamp::now()
        .checked_add(span)
        .unwrap_or_else(|_| Timestamp::now())
}

fn journal_mode(m: &CommitPlan) -> CommitMode {
    CommitMode {
        confirm_by: m.confirm_by().to_owned(),
        window_secs: m.window.map_or(0, |w| w.as_secs()),
        save_first: m.save_first,
    }
}

/// Rebuild the driver's commit mode from the journal's record (recovery).
pub(crate) fn reverter_of(mode: Option<&CommitMode>) -> &'static str {
    match mode.map(|m| m.confirm_by.as_str()) {
        Some("device_reboot") => "device_reboot",
        Some("device_reload") => "device_reload",
        Some("daemon") => "daemon",
        _ => "none",
    }
}

/// Record a failed pass in the appliance status (breaker, parking).
async fn note_failure(
    ctx: &Context,
    appliance: &str,
    err: ErrorRecord,
    park: Option<String>,
) -> Result<(), EngineError> {
    let parked = park.is_some();
    let open = {
        let mut f = ctx
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = f.entry(appliance.to_owned()).or_insert(0);
        *n += 1;
        !parked && *n >= ctx.policy.breaker_threshold
    };
    ctx.journal
        .update_status(appliance.to_owned(), move |s| {
            s.last_error = Some(err);
            if let Some(p) = park {
                s.parked_reason = Some(p);
            }
            if open {
                s.breaker = Breaker::Open;
            }
        })
        .await?;
    Ok(())
}

/// What a completed apply leaves in the status: commit, scope hashes, the good snapshot.
type Applied = (String, Vec<(String, String)>, Option<String>);

async fn note_contact(
    ctx: &Context,
    appliance: &str,
    applied: Option<Applied>,
) -> Result<(), EngineError> {
    ctx.failures
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .remove(appliance);
    ctx.journal
        .update_status(appliance.to_owned(), move |s| {
            s.last_contact = Some(Timestamp::now());
            s.reachable = true;
            s.breaker = Breaker::Closed;
            if let Some((commit, hashes, snap)) = applied {
                s.last_applied_commit = Some(commit);
                s.scope_hashes = hashes.into_iter().collect();
                if snap.is_some() {
                    s.last_good_snapshot = snap;
                }
                s.parked_reason = None;
                s.last_error = None;
            }
        })
        .await?;
    Ok(())
}

/// Bring one appliance to the desired state of `loaded`.
pub async fn reconcile(
    loaded: &Loaded,
    appliance: &Appliance,
    ctx: &Context,
) -> Result<Action, EngineError> {
    let name = appliance.name.to_string();
    // Anything a crash left open is finished first, by looking at the device.
    let open: Vec<Operation> = ctx
        .journal
        .in_flight()
        .await?
        .into_iter()
        .filter(|o| o.appliance == name)
        .collect();
    for op in open {
        recover(&op, appliance, ctx).await?;
    }
    let intended = render(loaded, appliance).map_err(|errs| EngineError::Render {
        appliance: name.clone(),
        message: errs
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; "),
    })?;
    let commit = intended.commit.clone().unwrap_or_else(|| "worktree".into());
    let status = ctx.journal.status(name.clone()).await?;
    if let Some(reason) = status.as_ref().and_then(|s| s.parked_reason.clone())
        && (reason.starts_with(&format!("commit {commit}:")) || !reason.starts_with("commit "))
    {
        return Ok(Action::Parked { reason });
    }
    let mut driver = AnyDriver::new(appliance, ctx.env.as_ref(), ctx.timeouts)?;
    if status.as_ref().is_some_and(|s| s.breaker == Breaker::Open) {
        // Half-open: one read-only probe decides whether to try at all.
        match driver.probe().await {
            Ok(_) => {
                ctx.journal
                    .update_status(name.clone(), |s| s.breaker = Breaker::HalfOpen)
                    .await?;
            }
            Err(e) => {
                return Ok(Action::Requeue {
                    after: ctx.policy.retry_delays.last().copied().unwrap_or_default() * 4,
                    reason: format!("circuit open: {e}"),
                });
            }
        }
    }
    failpoint("reconcile.before_fetch");
    // Pinning conflicts re-plan; two in a row is someone else writing: requeue.
    for _ in 0..2 {
        match pass(&intended, appliance, ctx, &mut driver, &commit).await {
            Err(PassError::Moved) => continue,
            Err(PassError::Engine(e)) => return Err(e),
            Ok(a) => return Ok(a),
        }
    }
    Ok(Action::Requeue {
        after: Duration::from_secs(1),
        reason: "the running config keeps changing under the plan".into(),
    })
}

enum PassError {
    Moved,
    Engine(EngineError),
}

impl From<EngineError> for PassError {
    fn from(e: EngineError) -> Self {
        PassError::Engine(e)
    }
}
impl From<JournalError> for PassError {
    fn from(e: JournalError) -> Self {
        PassError::Engine(e.into())
    }
}

/// A device failure before the write: transient → requeue, permanent → park.
async fn before_write(
    ctx: &Context,
    name: &str,
    commit: &str,
    e: DriverError,
) -> Result<Action, EngineError> {
    let rec = ErrorRecord::from_driver(&e);
    if e.retryable() {
        note_failure(ctx, name, rec, None).await?;
        return Ok(Action::Requeue {
            after: Duration::from_secs(8),
            reason: e.to_string(),
        });
    }
    let reason = e.to_string();
    note_failure(ctx, name, rec, Some(parked_for(commit, &reason))).await?;
    Ok(Action::Failed {
        op: None,
        reason,
        parked: true,
    })
}

async fn pass(
    intended: &Intended,
    appliance: &Appliance,
    ctx: &Context,
    driver: &mut AnyDriver,
    commit: &str,
) -> Result<Action, PassError> {
    let name = appliance.name.to_string();
    let info = match retrying!(ctx.policy, driver.info()) {
        Ok(i) => i,
        Err(e) => return Ok(before_write(ctx, &name, commit, e).await?),
    };
    if let Err(v) = check_version(intended, &info.version) {
        let reason = v.to_string();
        note_failure(
            ctx,
            &name,
            ErrorRecord::new("VNF_INVALID", false, reason.clone()),
            Some(parked_for(commit, &reason)),
        )
        .await?;
        return Ok(Action::Failed {
            op: None,
            reason,
            parked: true,
        });
    }
    let running = match retrying!(ctx.policy, driver.fetch()) {
        Ok(r) => r,
        Err(e) => return Ok(before_write(ctx, &name, commit, e).await?),
    };
    failpoint("reconcile.after_fetch");
    // What the last apply left, per scope: drift (the device changed, no commit did) is told
    // apart from a new change (the commit changed the scope).
    let status = ctx.journal.status(name.clone()).await?;
    let last = status.map(|s| s.scope_hashes).filter(|h| !h.is_empty());
    let mut p = plan(intended, &running, last.as_ref());
    // Drift in an `alert` scope that no commit changed since: reported, never written. The
    // plan is made again with the device's own content in those scopes.
    let left_alone: Vec<String> = p
        .drift
        .iter()
        .filter(|d| d.policy == DriftPolicy::Alert)
        .filter(|d| {
            let intended_now = intended.scopes.iter().find(|s| s.path == d.scope);
            intended_now.map(|s| &s.hash) == last.as_ref().and_then(|l| l.get(&d.scope))
        })
        .map(|d| d.scope.clone())
        .collect();
    let adjusted;
    let intended = if left_alone.is_empty() {
        intended
    } else {
        tracing::warn!(appliance = %name, scopes = ?left_alone, "drift in alert scopes: reported, left alone");
        let mut a = intended.clone();
        for scope in &left_alone {
            let words = crate::vyos::Path::parse(scope);
            a.tree
                .graft(words.words(), &running)
                .map_err(|e| EngineError::Render {
                    appliance: name.clone(),
                    message: format!("scope `{scope}`: {e}"),
                })?;
        }
        adjusted = a;
        p = plan(&adjusted, &running, last.as_ref());
        &adjusted
    };
    // What the status keeps as applied: the intended hash of every scope written, the previous
    // record of every scope left alone.
    let applied_hashes: ScopeHashes = intended
        .scopes
        .iter()
        .map(|s| {
            let h = match last.as_ref().and_then(|l| l.get(&s.path)) {
                Some(prev) if left_alone.contains(&s.path) => prev.clone(),
                _ => s.hash.clone(),
            };
            (s.path.clone(), h)
        })
        .collect();
    if p.is_empty() {
        let last_op = last_completed(ctx, &name, &p.base_hash).await?;
        note_in_sync(ctx, &name, applied_hashes).await?;
        return Ok(Action::InSync {
            last_op,
            drift: left_alone,
        });
    }
    let drift_note = if p.drift.is_empty() {
        String::new()
    } else {
        format!(
            "; overwrites drift in {}",
            p.drift
                .iter()
                .map(|d| d.scope.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let mode = commit_mode(
        &info,
        Some(appliance.commit.confirm_window.0),
        appliance.commit.save,
    );
    let intent = Intent {
        appliance: name.clone(),
        kind: OpKind::Apply,
        commit: commit.to_owned(),
        idempotency_key: p.idempotency_key.clone(),
        base_hash: p.base_hash.clone(),
        target_hash: p.target_hash.clone(),
        planned: p
            .commands
            .iter()
            .map(|c| crate::journal::redact(&c.to_string()))
            .collect(),
        commit_mode: Some(journal_mode(&mode)),
        request_summary: Some(format!(
            "{} commands, comment `vnfsync {commit}`{}{drift_note}",
            p.commands.len(),
            if mode.comment_on_device {
                ""
            } else {
                " (not carried: the transport has no commit comment)"
            }
        )),
        ..Intent::default()
    };
    let op = match ctx.journal.begin(intent.clone()).await? {
        Begun::New(op) => op,
        // The same plan from the same base completed before and the device is back on that
        // base. Without drift it was put back through vnfsync (an operator's rollback): leave
        // it. With drift (someone else did it) the change is made again, as its own operation.
        Begun::Completed(prev) if p.drift.is_empty() => {
            return Ok(Action::AlreadyDone { op: prev.id });
        }
        Begun::Completed(prev) => {
            let again = Intent {
                idempotency_key: crate::render::sha256(
                    format!(
                        "{}\nrepairs drift after {}",
                        intent.idempotency_key, prev.id
                    )
                    .as_bytes(),
                ),
                ..intent
            };
            match ctx.journal.begin(again).await? {
                Begun::New(op) => op,
                Begun::Completed(op) => return Ok(Action::AlreadyDone { op: op.id }),
                Begun::InFlight(op) => {
                    recover(&op, appliance, ctx).await?;
                    return Ok(Action::Requeue {
                        after: Duration::ZERO,
                        reason: format!("operation {} was in flight; recovered", op.id),
                    });
                }
            }
        }
        Begun::InFlight(op) => {
            recover(&op, appliance, ctx).await?;
            return Ok(Action::Requeue {
                after: Duration::ZERO,
                reason: format!("operation {} was in flight; recovered", op.id),
            });
        }
    };
    failpoint("reconcile.after_intent");
    let done = write(intended, appliance, ctx, driver, &p, mode, op).await?;
    if matches!(done, Action::Completed { .. }) && !left_alone.is_empty() {
        // The scopes left alone keep the record of what git last put there.
        ctx.journal
            .update_status(name, move |s| s.scope_hashes = applied_hashes)
            .await?;
    }
    Ok(done)
}

/// The newest completed operation of an appliance, when it left the owned scopes as they are
/// now (`hash`): what a re-apply of the same commit answers.
async fn last_completed(
    ctx: &Context,
    appliance: &str,
    hash: &str,
) -> Result<Option<OpId>, EngineError> {
    let page = ctx
        .journal
        .query(Query {
            appliance: Some(appliance.to_owned()),
            state: Some(OpState::Completed),
            limit: 1,
            ..Query::default()
        })
        .await?;
    Ok(page
        .ops
        .first()
        .filter(|o| o.target_hash == hash)
        .map(|o| o.id))
}

/// Nothing to write: record the contact, and the per-scope hashes as applied (so a later
/// change on the device is seen as drift).
async fn note_in_sync(
    ctx: &Context,
    appliance: &str,
    hashes: ScopeHashes,
) -> Result<(), EngineError> {
    ctx.failures
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .remove(appliance);
    // One durable write: a no-op pass costs one commit of the journal.
    ctx.journal
        .update_status(appliance.to_owned(), move |s| {
            s.last_contact = Some(Timestamp::now());
            s.reachable = true;
            s.breaker = Breaker::Closed;
            s.scope_hashes = hashes;
        })
        .await?;
    Ok(())
}

/// From the journaled intent on: snapshot, apply, probes, confirm or roll back.
async fn write(
    intended: &Intended,
    appliance: &Appliance,
    ctx: &Context,
    driver: &mut AnyDriver,
    p: &Plan,
    mode: CommitPlan,
    op: Operation,
) -> Result<Action, PassError> {
    let name = appliance.name.to_string();
    let j = &ctx.journal;
    j.change(op.id, Change::to(OpState::InProgress).step("snapshot"))
        .await?;
    let snap = match crate::driver::snapshot_to_store(
        driver,
        &ctx.store,
        &name,
        &op.commit,
        std::time::SystemTime::now(),
    )
    .await
    {
        Ok((snap, path)) => {
            j.record_snapshot(SnapshotEntry {
                appliance: name.clone(),
                id: snap.id.clone(),
                commit: op.commit.clone(),
                taken: Timestamp::now(),
                location: path.display().to_string(),
            })
            .await?;
            j.change(op.id, Change::note("snapshot taken").snapshot(&snap.id))
                .await?;
            snap
        }
        Err(e) => {
            let rec = ErrorRecord::from_driver(&e);
            j.change(
                op.id,
                Change::to(OpState::Failed)
                    .step("snapshot failed; nothing written")
                    .error(rec.clone()),
            )
            .await?;
            let parked = !e.retryable();
            note_failure(
                ctx,
                &name,
                rec,
                parked.then(|| parked_for(&op.commit, &e.to_string())),
            )
            .await?;
            return Ok(Action::Failed {
                op: Some(op.id),
                reason: e.to_string(),
                parked,
            });
        }
    };
    failpoint("reconcile.after_snapshot");
    let scopes = intended.scope_paths();
    let options = ApplyOptions {
        comment: format!("vnfsync {}", op.commit),
        mode: Some(mode),
        pin: Some(Pin {
            scopes: scopes.clone(),
            base_hash: p.base_hash.clone(),
        }),
        ..ApplyOptions::default()
    };
    let deadline = mode.window.map(now_plus);
    let applied = retrying!(ctx.policy, driver.apply(&p.commands, &options));
    failpoint("reconcile.after_apply");
    match applied {
        Ok(ApplyOutcome::NoChange) => {
            j.change(
                op.id,
                Change::to(OpState::AwaitingConfirm).step("already in place"),
            )
            .await?;
        }
        Ok(ApplyOutcome::Committed {
            comment_carried, ..
        }) => {
            let mut c = Change::to(OpState::AwaitingConfirm)
                .step(format!("committed ({})", mode.confirm_by()))
                .attempt();
            if let Some(d) = deadline {
                c = c.confirm_deadline(d);
            }
            if !comment_carried {
                c = c.response("commit comment not carried by this transport");
            }
            j.change(op.id, c).await?;
        }
        Err(DriverError::BaseMoved { .. }) => {
            j.change(
                op.id,
                Change::to(OpState::Failed)
                    .step("the base moved before the write; re-planning")
                    .error(ErrorRecord::new(
                        "VNF_CONFLICT",
                        true,
                        "the running config changed since the plan",
                    )),
            )
            .await?;
            return Err(PassError::Moved);
        }
        Err(e) if e.outcome_unknown() => {
            // Resolve by reading the device, never by sending the write again.
            return Ok(recover::settle_unknown(
                intended, appliance, ctx, driver, op, snap, mode, e,
            )
            .await?);
        }
        Err(e) => {
            let partial = matches!(&e, DriverError::CommitFailed { partial: true, .. });
            let landed = match &e {
                DriverError::CommitFailed {
                    running: Some(now), ..
                } => Some((landed(intended, p, now), now.clone())),
                _ => None,
            };
            if partial && !matches!(mode.reverter, Reverter::None) {
                // What landed is a change like any other, under the armed timer (or waiting for
                // the daemon's verdict): health-gated now, so no timer reboots the box later.
                let mut c = Change::to(OpState::AwaitingConfirm)
                    .step("partial commit: the part that landed is probed before it is kept");
                if let Some(d) = deadline {
                    c = c.confirm_deadline(d);
                }
                if let Some((text, _)) = &landed {
                    c = c.response(text.clone());
                }
                j.change(op.id, c).await?;
                let report = probes(appliance, ctx).await;
                record_probes(ctx, op.id, &report).await?;
                if !report.passed() {
                    let failing = report
                        .first_failure()
                        .map(|p| format!("probe `{}` failed: {}", p.name, p.output))
                        .unwrap_or_default();
                    return Ok(roll_back(
                        ctx,
                        driver,
                        op.id,
                        &op.commit,
                        &p.base_hash,
                        &scopes,
                        mode,
                        &snap,
                        &failing,
                    )
                    .await?);
                }
                if matches!(mode.reverter, Reverter::Device { .. })
                    && let Err(err) = driver.confirm().await
                {
                    return Ok(Action::Requeue {
                        after: Duration::from_secs(1),
                        reason: format!("confirm after a partial commit: {err}"),
                    });
                }
                if mode.save_after_confirm
                    && let Err(err) = driver.save().await
                {
                    j.change(op.id, Change::note(format!("save failed: {err}")))
                        .await?;
                }
                // The scopes that landed count as applied (the next pass sees no drift there).
                if let Some((_, now)) = &landed {
                    let done: ScopeHashes = intended
                        .scopes
                        .iter()
                        .filter(|s| {
                            tree_hash(
                                now,
                                std::slice::from_ref(&crate::vyos::Path::parse(&s.path)),
                            ) == s.hash
                        })
                        .map(|s| (s.path.clone(), s.hash.clone()))
                        .collect();
                    j.update_status(name.clone(), move |s| s.scope_hashes.extend(done))
                        .await?;
                }
            }
            let mut c = Change::to(OpState::Failed).error(ErrorRecord::from_driver(&e));
            if let Some((text, _)) = landed {
                c = c.response(text);
            }
            j.change(op.id, c.step("apply failed")).await?;
            let park = !e.retryable() && !partial;
            note_failure(
                ctx,
                &name,
                ErrorRecord::from_driver(&e),
                park.then(|| parked_for(&op.commit, &e.to_string())),
            )
            .await?;
            if e.retryable() || partial {
                return Ok(Action::Requeue {
                    after: Duration::from_secs(8),
                    reason: e.to_string(),
                });
            }
            return Ok(Action::Failed {
                op: Some(op.id),
                reason: e.to_string(),
                parked: park,
            });
        }
    }
    Ok(gate(
        appliance,
        ctx,
        driver,
        op.id,
        &op.commit,
        &p.base_hash,
        &scopes,
        mode,
        &snap,
    )
    .await?)
}

/// Probe over fresh connections, then confirm and save, or roll back and verify.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn gate(
    appliance: &Appliance,
    ctx: &Context,
    driver: &mut AnyDriver,
    id: OpId,
    commit: &str,
    base_hash: &str,
    scopes: &[crate::vyos::Path],
    mode: CommitPlan,
    snap: &Snapshot,
) -> Result<Action, EngineError> {
    let name = appliance.name.to_string();
    let j = &ctx.journal;
    let report = probes(appliance, ctx).await;
    record_probes(ctx, id, &report).await?;
    failpoint("reconcile.after_probes");
    if report.passed() {
        if matches!(mode.reverter, Reverter::Device { .. }) {
            match driver.confirm().await {
                Ok(ConfirmOutcome::Stopped) => {}
                Ok(ConfirmOutcome::NothingPending)
                    if driver
                        .fetch()
                        .await
                        .is_ok_and(|t| tree_hash(&t, scopes) != base_hash) =>
                {
                    // Nothing pending and the change still in place: it was confirmed before
                    // (a confirm sent just before a crash). Carry on to the save.
                }
                Ok(ConfirmOutcome::NothingPending) => {
                    // The timer fired before we confirmed: the device went back by itself.
                    return verify_rolled_back(
                        ctx,
                        driver,
                        id,
                        base_hash,
                        scopes,
                        "the confirm window ran out before the probes finished",
                        commit,
                    )
                    .await;
                }
                Err(e) => {
                    // Unknown whether the confirm landed: recovery decides by the device.
                    return Ok(Action::Requeue {
                        after: Duration::from_secs(1),
                        reason: format!("confirm: {e}"),
                    });
                }
            }
        }
        failpoint("reconcile.after_confirm");
        if mode.save_after_confirm
            && let Err(e) = driver.save().await
        {
            j.change(id, Change::note(format!("save failed: {e}")))
                .await?;
        }
        let now = driver.fetch().await.ok();
        let hashes = now
            .map(|t| {
                scopes
                    .iter()
                    .map(|s| (s.0.join(" "), tree_hash(&t, std::slice::from_ref(s))))
                    .collect()
            })
            .unwrap_or_default();
        j.change(id, Change::to(OpState::Completed).step("confirmed"))
            .await?;
        note_contact(
            ctx,
            &name,
            Some((commit.to_owned(), hashes, Some(snap.id.clone()))),
        )
        .await?;
        return Ok(Action::Completed { op: id });
    }
    let failing = report
        .first_failure()
        .map(|p| format!("probe `{}` failed: {}", p.name, p.output))
        .unwrap_or_default();
    roll_back(
        ctx, driver, id, commit, base_hash, scopes, mode, snap, &failing,
    )
    .await
}

/// Journal every probe's name, result, latency and output.
async fn record_probes(ctx: &Context, id: OpId, report: &HealthReport) -> Result<(), EngineError> {
    let mut c = Change::note("health probes");
    for p in &report.probes {
        c = c.probe(ProbeResult {
            name: p.name.clone(),
            passed: p.ok,
            detail: format!("{} ms: {}", p.latency.as_millis(), p.output),
            at: Timestamp::now(),
        });
    }
    ctx.journal.change(id, c).await?;
    Ok(())
}

/// After a partial commit: which owned scopes with planned changes landed (now hold the
/// target) and which did not, and the owned scopes' hash now.
fn landed(intended: &Intended, p: &Plan, now: &ConfigTree) -> String {
    let (mut yes, mut no) = (Vec::new(), Vec::new());
    for s in &intended.scopes {
        let path = crate::vyos::Path::parse(&s.path);
        if !p.commands.iter().any(|c| c.path.starts_with(path.words())) {
            continue;
        }
        if tree_hash(now, std::slice::from_ref(&path)) == s.hash {
            yes.push(s.path.as_str());
        } else {
            no.push(s.path.as_str());
        }
    }
    format!(
        "partial commit: landed: {}; not landed: {}; owned scopes now hash {}",
        if yes.is_empty() {
            "nothing".into()
        } else {
            yes.join(", ")
        },
        if no.is_empty() {
            "nothing".into()
        } else {
            no.join(", ")
        },
        tree_hash(now, &intended.scope_paths())
    )
}

async fn probes(appliance: &Appliance, ctx: &Context) -> HealthReport {
    run_probes(
        appliance,
        &appliance.health,
        ctx.env.as_ref(),
        ctx.timeouts,
        ctx.policy.probe_timeout,
    )
    .await
}

/// Roll back: at once and without a reboot while the device answers (restore, then confirm
/// so an armed timer cannot fire); otherwise let the device's timer revert it and wait.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn roll_back(
    ctx: &Context,
    driver: &mut AnyDriver,
    id: OpId,
    commit: &str,
    base_hash: &str,
    scopes: &[crate::vyos::Path],
    mode: CommitPlan,
    snap: &Snapshot,
    cause: &str,
) -> Result<Action, EngineError> {
    let j = &ctx.journal;
    j.change(id, Change::note(format!("rolling back: {cause}")))
        .await?;
    let restored = driver.restore(snap).await;
    failpoint("rollback.after_restore");
    match restored {
        Ok(()) => {
            if matches!(mode.reverter, Reverter::Device { .. }) {
                let _ = driver.confirm().await;
            }
            verify_rolled_back(ctx, driver, id, base_hash, scopes, cause, commit).await
        }
        Err(e) => {
            j.change(id, Change::note(format!("restore failed: {e}")))
                .await?;
            let cause = format!("lost management access ({cause})");
            // Wait for the device's own revert (device timer) or for it to answer again.
            let wait = mode.window.unwrap_or_default() + ctx.policy.revert_grace;
            let until = tokio::time::Instant::now() + wait;
            loop {
                if let Ok(now) = driver.fetch().await {
                    if tree_hash(&now, scopes) != base_hash
                        && matches!(mode.reverter, Reverter::Daemon | Reverter::None)
                    {
                        let _ = driver.restore(snap).await;
                    }
                    return verify_rolled_back(ctx, driver, id, base_hash, scopes, &cause, commit)
                        .await;
                }
                if tokio::time::Instant::now() >= until {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            unknown(ctx, id, commit, &cause).await
        }
    }
}

async fn unknown(
    ctx: &Context,
    id: OpId,
    commit: &str,
    cause: &str,
) -> Result<Action, EngineError> {
    let reason = format!("device state unknown: {cause}");
    ctx.journal
        .change(
            id,
            Change::to(OpState::Failed)
                .step(reason.clone())
                .error(ErrorRecord::new("VNF_UNREACHABLE", false, reason.clone())),
        )
        .await?;
    note_failure(
        ctx,
        &ctx_name(ctx, id).await?,
        ErrorRecord::new("VNF_UNREACHABLE", false, reason.clone()),
        Some(parked_for(commit, &reason)),
    )
    .await?;
    Ok(Action::Failed {
        op: Some(id),
        reason,
        parked: true,
    })
}

async fn ctx_name(ctx: &Context, id: OpId) -> Result<String, EngineError> {
    Ok(ctx
        .journal
        .get(id)
        .await?
        .map(|o| o.appliance)
        .unwrap_or_default())
}

/// Fetch and check that the owned scopes are back on the base.
pub(crate) async fn verify_rolled_back(
    ctx: &Context,
    driver: &mut AnyDriver,
    id: OpId,
    base_hash: &str,
    scopes: &[crate::vyos::Path],
    cause: &str,
    commit: &str,
) -> Result<Action, EngineError> {
    let now: Option<ConfigTree> = driver.fetch().await.ok();
    match now {
        Some(t) if tree_hash(&t, scopes) == base_hash => {
            ctx.journal
                .change(
                    id,
                    Change::to(OpState::RolledBack)
                        .step(format!("rolled back, base verified: {cause}"))
                        .error(ErrorRecord::new("VNF_ROLLED_BACK", false, cause.to_owned())),
                )
                .await?;
            let name = ctx_name(ctx, id).await?;
            note_failure(
                ctx,
                &name,
                ErrorRecord::new("VNF_ROLLED_BACK", false, cause.to_owned()),
                Some(parked_for(commit, cause)),
            )
            .await?;
            Ok(Action::RolledBack {
                op: id,
                cause: cause.to_owned(),
            })
        }
        _ => unknown(ctx, id, commit, cause).await,
    }
}

/// An operator's return to a snapshot (`vnfsync rollback --snapshot`): journaled like any
/// write (intent first), restored without a reboot (the device's copy, or the local text when
/// it is gone), verified by fetching, and the appliance un-parked.
pub async fn restore_snapshot(
    appliance: &Appliance,
    snapshot_id: &str,
    ctx: &Context,
) -> Result<Action, EngineError> {
    let name = appliance.name.to_string();
    let entries = ctx.journal.snapshots(name.clone()).await?;
    let Some(entry) = entries.into_iter().find(|e| e.id == snapshot_id) else {
        return Ok(Action::Failed {
            op: None,
            reason: format!("no snapshot `{snapshot_id}` of `{name}` in the journal"),
            parked: false,
        });
    };
    let boot = ctx
        .store
        .load(std::path::Path::new(&entry.location))
        .unwrap_or_default();
    let snap = Snapshot {
        device_path: format!("{}/{}.boot", crate::driver::vyos::SNAPSHOT_DIR, entry.id),
        id: entry.id.clone(),
        boot,
    };
    let scopes: Vec<crate::vyos::Path> = appliance
        .owns
        .iter()
        .map(|s| crate::vyos::Path(s.path.words().to_vec()))
        .collect();
    let target_hash = ConfigTree::parse_boot(&snap.boot)
        .map(|t| tree_hash(&t, &scopes))
        .unwrap_or_default();
    let mut driver = AnyDriver::new(appliance, ctx.env.as_ref(), ctx.timeouts)?;
    let running = match retrying!(ctx.policy, driver.fetch()) {
        Ok(r) => r,
        Err(e) => {
            return Ok(Action::Failed {
                op: None,
                reason: e.to_string(),
                parked: false,
            });
        }
    };
    let op = ctx
        .journal
        .begin(Intent {
            appliance: name.clone(),
            kind: OpKind::Rollback,
            commit: entry.commit.clone(),
            base_hash: tree_hash(&running, &scopes),
            target_hash: target_hash.clone(),
            snapshot_id: Some(entry.id.clone()),
            request_summary: Some(format!("restore snapshot {}", entry.id)),
            ..Intent::default()
        })
        .await?
        .into_operation();
    ctx.journal
        .change(op.id, Change::to(OpState::InProgress).step("restore"))
        .await?;
    let restored = driver.restore(&snap).await;
    if let Err(e) = restored {
        ctx.journal
            .change(
                op.id,
                Change::to(OpState::Failed).error(ErrorRecord::from_driver(&e)),
            )
            .await?;
        return Ok(Action::Failed {
            op: Some(op.id),
            reason: e.to_string(),
            parked: false,
        });
    }
    ctx.journal
        .change(op.id, Change::to(OpState::AwaitingConfirm).step("restored"))
        .await?;
    let now = driver.fetch().await.ok();
    if let Some(t) = now.filter(|t| target_hash.is_empty() || tree_hash(t, &scopes) == target_hash)
    {
        ctx.journal
            .change(op.id, Change::to(OpState::Completed).step("verified"))
            .await?;
        // What the operator restored counts as applied: it is not drift to put back.
        let hashes: ScopeHashes = appliance
            .owns
            .iter()
            .zip(&scopes)
            .map(|(o, p)| (o.path.to_string(), tree_hash(&t, std::slice::from_ref(p))))
            .collect();
        ctx.journal
            .update_status(name, move |s| {
                s.parked_reason = None;
                s.breaker = Breaker::Closed;
                s.last_contact = Some(Timestamp::now());
                s.scope_hashes = hashes;
            })
            .await?;
        return Ok(Action::Completed { op: op.id });
    }
    unknown(
        ctx,
        op.id,
        &op.commit,
        "the restored config could not be verified",
    )
    .await
}

/// An operator's `vnfsync resume`: writes may start again (parking and the breaker cleared).
pub async fn resume(appliance: &str, ctx: &Context) -> Result<(), EngineError> {
    ctx.failures
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .remove(appliance);
    ctx.journal
        .update_status(appliance.to_owned(), |s| {
            s.parked_reason = None;
            s.breaker = Breaker::Closed;
        })
        .await?;
    Ok(())
}
