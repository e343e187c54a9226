//! The running daemon: follow the branch, serve the API, schedule reconciles.
//!
//! Owns: startup and SIGHUP reload through one path (load the tip, crash recovery first, then
//! a full pass), the scheduler (one reconcile per appliance at a time, the fleet concurrency
//! cap, dedupe of queued triggers, requeue after the engine's backoff), the API's backend,
//! sd_notify (READY after recovery, WATCHDOG from the main loop only, STOPPING on SIGTERM) and
//! the drain on SIGTERM (in-flight reconciles run to a safe state within the grace period).
//! Must not plan or apply itself (the engine does) or format device commands.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use jiff::Timestamp;
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use super::desired::{Desired, Offer, Rejection, Tracker};
use super::notify::Notifier;
use super::operator::outcome_name;
use crate::api::metrics::Metrics;
use crate::api::{
    self, Action as ApiAction, ApiError, Backend, BoxFut, OpsParams, Readiness, RollbackTo, Tokens,
    View, Visible,
};
use crate::config::Config;
use crate::driver::Driver;
use crate::driver::secret::ProcessEnv;
use crate::driver::store::SnapshotStore;
use crate::driver::vyos::Timeouts;
use crate::engine::{self, Action, Context, Policy};
use crate::journal::{
    Change, ErrorRecord, Intent, Journal, JournalError, OpKind, OpState, Options, Query,
    VALIDATE_APPLIANCE,
};
use crate::source::{FollowConfig, SourceError, follow};

/// Why the daemon could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("journal: {0}")]
    Journal(#[from] JournalError),
    #[error("{0}")]
    Source(#[from] SourceError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("signals: {0}")]
    Signal(#[source] std::io::Error),
    #[error("API server: {0}")]
    Serve(#[source] std::io::Error),
    #[error("TLS: {0}")]
    Tls(String),
}

/// What happened to one appliance most recently, as the scheduler saw it.
#[derive(Debug, Clone, Default, serde::Serialize)]
struct Live {
    state: &'static str,
    commit: Option<String>,
    outcome: Option<String>,
    op: Option<String>,
    reason: Option<String>,
    finished: Option<Timestamp>,
    /// The drift last journaled (its commands), so a standing drift is journaled once.
    #[serde(skip)]
    drift_journaled: Option<String>,
}

#[derive(Debug, Default)]
struct Slot {
    queued: bool,
    running: bool,
    again: bool,
}

/// How a commit touched the fleet (for `GET /v1/commits/{sha}`).
#[derive(Debug, Clone, Default, serde::Serialize)]
struct CommitRecord {
    status: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<String>,
    affected: BTreeMap<String, Value>,
    removed: Vec<String>,
}

const KEPT_COMMITS: usize = 200;

/// How often `vnfsync_pending_confirms` is read from the journal.
const PENDING_CONFIRMS_EVERY: Duration = Duration::from_secs(2);

/// A commit loaded for a rollback, with its full id.
struct LoadedAt {
    loaded: crate::render::Loaded,
    files_commit: Option<String>,
}

impl std::ops::Deref for LoadedAt {
    type Target = crate::render::Loaded;
    fn deref(&self) -> &Self::Target {
        &self.loaded
    }
}

struct Runtime {
    cfg: Config,
    tracker: Mutex<Tracker>,
    served: RwLock<Option<Arc<Desired>>>,
    live: RwLock<BTreeMap<String, Live>>,
    slots: Mutex<HashMap<String, Slot>>,
    commits: RwLock<BTreeMap<String, CommitRecord>>,
    metrics: Arc<Metrics>,
    ctx: Context,
    sem: Arc<Semaphore>,
    recovered: AtomicBool,
    draining: AtomicBool,
    /// Appliances an operator approved for their first reconcile (onboarding hold).
    approved: Mutex<BTreeSet<String>>,
    /// One writer per appliance: a reconcile and an operator's rollback take this lock.
    writers: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// The main runtime: reconciles and device calls run there, never on the API's thread.
    main: tokio::runtime::Handle,
}

/// The plan against the live device, read-only (the same planner `vnfsync diff` uses), with
/// the owned scopes and their drift policies.
async fn live_plan(
    loaded: &crate::render::Loaded,
    a: &crate::model::Appliance,
    ctx: &Context,
) -> Result<(Vec<crate::render::ScopeState>, crate::plan::Plan), String> {
    let intended = crate::render::render(loaded, a).map_err(|errs| {
        errs.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    })?;
    let mut driver = crate::driver::AnyDriver::new(a, ctx.env.as_ref(), ctx.timeouts)
        .map_err(|e| e.to_string())?;
    let running = driver.fetch().await.map_err(|e| e.to_string())?;
    let plan = crate::plan::plan(&intended, &running, None);
    Ok((intended.scopes, plan))
}

/// The owned scopes a command falls in.
fn scope_of<'a>(
    scopes: &'a [crate::render::ScopeState],
    cmd: &crate::vyos::Command,
) -> Option<&'a crate::render::ScopeState> {
    let line = cmd.path.join(" ");
    scopes.iter().find(|s| {
        line == s.path
            || line
                .strip_prefix(s.path.as_str())
                .is_some_and(|r| r.starts_with(' '))
    })
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
fn read<T>(m: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}
fn write<T>(m: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    m.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Runtime {
    fn served(&self) -> Option<Arc<Desired>> {
        read(&self.served).clone()
    }

    /// Queue a reconcile of `name`; a trigger for an appliance already queued is dropped, one
    /// for an appliance being reconciled runs once more afterwards.
    fn trigger(self: &Arc<Self>, name: &str) {
        if self.draining.load(Ordering::SeqCst) {
            return;
        }
        {
            let mut slots = lock(&self.slots);
            let slot = slots.entry(name.to_string()).or_default();
            if slot.running {
                slot.again = true;
                return;
            }
            if slot.queued {
                return;
            }
            slot.queued = true;
        }
        write(&self.live).entry(name.to_string()).or_default().state = "queued";
        let rt = self.clone();
        let name = name.to_string();
        self.main.spawn(async move { rt.run_one(name).await });
    }

    /// `fut` with its device calls timed into `vnfsync_device_call_seconds`.
    async fn observed<F: std::future::Future>(&self, fut: F) -> F::Output {
        crate::driver::observe::scope(self.metrics.clone(), fut).await
    }

    /// The lock that makes one writer per appliance.
    fn writer(&self, name: &str) -> Arc<tokio::sync::Mutex<()>> {
        lock(&self.writers)
            .entry(name.to_string())
            .or_default()
            .clone()
    }

    async fn run_one(self: Arc<Self>, name: String) {
        let Ok(_permit) = self.sem.clone().acquire_owned().await else {
            return;
        };
        let writer = self.writer(&name);
        let _writing = writer.lock().await;
        {
            let mut slots = lock(&self.slots);
            let slot = slots.entry(name.clone()).or_default();
            slot.queued = false;
            slot.running = true;
        }
        let desired = self.served();
        let result = match desired
            .as_ref()
            .and_then(|d| Some((d, d.loaded.state.appliance(&name)?)))
        {
            None => None,
            Some((d, a)) if self.held(d, a).await => None,
            Some((d, a)) => {
                write(&self.live).entry(name.clone()).or_default().state = "reconciling";
                tracing::info!(appliance = %name, commit = %d.commit, "reconcile");
                Some((
                    d.commit.clone(),
                    self.observed(engine::reconcile(&d.loaded, a, &self.ctx))
                        .await,
                ))
            }
        };
        let mut requeue = None;
        if let Some((commit, result)) = result {
            let (state, outcome, op, reason) = match &result {
                Ok(action) => {
                    let (state, reason) = match action {
                        Action::InSync { .. } => ("in_sync", None),
                        // Nothing to do by policy, but not the commit's config: an operator's
                        // rollback put the device back and it stays so until a new commit.
                        Action::AlreadyDone { op } => (
                            "in_sync",
                            Some(format!(
                                "held on an operator's rollback: this commit was applied by operation {op} and is not applied again until a new commit"
                            )),
                        ),
                        Action::Completed { .. } => ("in_sync", None),
                        Action::RolledBack { cause, .. } => {
                            self.metrics.rolled_back(cause);
                            ("rolled_back", Some(cause.clone()))
                        }
                        Action::Failed { reason, parked, .. } => (
                            if *parked { "parked" } else { "failed" },
                            Some(reason.clone()),
                        ),
                        Action::Parked { reason } => ("parked", Some(reason.clone())),
                        Action::Requeue { after, reason } => {
                            requeue = Some(*after);
                            ("backoff", Some(reason.clone()))
                        }
                    };
                    (state, outcome_name(action), action.op(), reason)
                }
                Err(e) => ("failed", "error", None, Some(e.to_string())),
            };
            tracing::info!(appliance = %name, commit = %commit, outcome, reason = ?reason, "reconciled");
            self.metrics.reconciled(&name, outcome);
            self.metrics
                .set_breaker(&name, matches!(state, "parked" | "backoff"));
            if state == "in_sync" {
                let prev = read(&self.live)
                    .get(&name)
                    .and_then(|l| (l.state == "in_sync").then(|| l.commit.clone()).flatten());
                if prev.as_deref() != Some(commit.as_str()) {
                    self.metrics.applied(
                        &name,
                        prev.as_deref(),
                        &commit,
                        Timestamp::now().as_millisecond() as f64 / 1000.0,
                    );
                }
            }
            if let Some(rec) = write(&self.commits).get_mut(&commit)
                && let Some(v) = rec.affected.get_mut(&name)
            {
                v["outcome"] = json!(outcome);
                v["state"] = json!(state);
                v["op"] = json!(op.map(|o| o.to_string()));
            }
            // A commit accepted meanwhile that does not touch this appliance renders the
            // same config: in sync with the one applied is in sync with it.
            let commit = match self.served() {
                Some(now)
                    if state == "in_sync"
                        && now.commit != commit
                        && read(&self.commits)
                            .get(&now.commit)
                            .is_some_and(|r| !r.affected.contains_key(&name)) =>
                {
                    now.commit.clone()
                }
                _ => commit,
            };
            write(&self.live).insert(
                name.clone(),
                Live {
                    state,
                    commit: Some(commit),
                    outcome: Some(outcome.to_string()),
                    op: op.map(|o| o.to_string()),
                    reason,
                    finished: Some(Timestamp::now()),
                    drift_journaled: None,
                },
            );
        }
        let again = {
            let mut slots = lock(&self.slots);
            let slot = slots.entry(name.clone()).or_default();
            slot.running = false;
            std::mem::take(&mut slot.again)
        };
        if again {
            self.trigger(&name);
        } else if let Some(after) = requeue {
            let rt = self.clone();
            tokio::spawn(async move {
                tokio::time::sleep(after).await;
                rt.trigger(&name);
            });
        }
    }

    /// Onboarding: an appliance's first reconcile (nothing journaled for it) whose plan would
    /// delete anything already on the device waits for an operator's approval, its plan shown
    /// in status. An approved appliance, or one the journal knows, goes on.
    async fn held(&self, d: &Desired, a: &crate::model::Appliance) -> bool {
        let name = a.name.as_str();
        if a.adopt == crate::model::Adopt::Auto || lock(&self.approved).contains(name) {
            return false;
        }
        match self.ctx.journal.status(name.to_string()).await {
            Ok(Some(_)) => return false,
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(appliance = name, error = %e, "journal status");
                return false;
            }
        }
        let Ok((_, plan)) = self.observed(live_plan(&d.loaded, a, &self.ctx)).await else {
            // Unreachable now: the engine's own error policy reports and retries it.
            return false;
        };
        let deletes: Vec<String> = plan
            .commands
            .iter()
            .filter(|c| c.op == crate::vyos::commands::Op::Delete)
            .map(ToString::to_string)
            .collect();
        if deletes.is_empty() {
            return false;
        }
        tracing::warn!(
            appliance = name,
            deletes = deletes.len(),
            "onboarding held: the first apply would delete config already on the device; approve it to go on"
        );
        write(&self.live).insert(
            name.to_string(),
            Live {
                state: "held",
                commit: Some(d.commit.clone()),
                outcome: Some("held".into()),
                op: None,
                reason: Some(format!(
                    "first apply would delete {} line(s) already on the device: {}",
                    deletes.len(),
                    deletes.join("; ")
                )),
                finished: Some(Timestamp::now()),
                drift_journaled: None,
            },
        );
        true
    }

    /// A drift check: plan against the live device; nothing to do is in sync; drift in a
    /// scope whose policy is `alert` is reported (status, metric, log) and left alone; drift
    /// only in `overwrite` scopes is put back by a reconcile.
    async fn drift_check(self: Arc<Self>, name: String) {
        {
            let slots = lock(&self.slots);
            if slots.get(&name).is_some_and(|s| s.running || s.queued) {
                return;
            }
        }
        let writer = self.writer(&name);
        let Ok(_reading) = writer.try_lock() else {
            return;
        };
        let settled = read(&self.live)
            .get(&name)
            .is_some_and(|l| matches!(l.state, "in_sync" | "drift"));
        let Some(d) = self.served() else { return };
        let Some(a) = d.loaded.state.appliance(&name) else {
            return;
        };
        if !settled {
            return;
        }
        let (scopes, plan) = match self.observed(live_plan(&d.loaded, a, &self.ctx)).await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(appliance = %name, error = %e, "drift check failed");
                return;
            }
        };
        if plan.commands.is_empty() {
            self.metrics.set_drift(&name, false);
            if let Some(l) = write(&self.live).get_mut(&name)
                && l.state == "drift"
            {
                l.state = "in_sync";
                l.reason = None;
            }
            return;
        }
        self.metrics.set_drift(&name, true);
        let mut alert = BTreeSet::new();
        let mut overwrite = BTreeSet::new();
        for c in &plan.commands {
            match scope_of(&scopes, c) {
                Some(s) if s.drift == crate::model::DriftPolicy::Overwrite => {
                    overwrite.insert(s.path.clone())
                }
                Some(s) => alert.insert(s.path.clone()),
                None => alert.insert(c.path.join(" ")),
            };
        }
        if alert.is_empty() {
            tracing::warn!(appliance = %name, scopes = ?overwrite, "drift (overwrite): putting it back");
            self.trigger(&name);
        } else {
            tracing::warn!(appliance = %name, scopes = ?alert, "drift (alert): reported, left alone");
            let commands: Vec<String> = plan.commands.iter().map(ToString::to_string).collect();
            let reason = format!(
                "drift in {}: {}",
                alert.into_iter().collect::<Vec<_>>().join(", "),
                commands.join("; ")
            );
            let key = commands.join("\n");
            // Journaled first, then reported: what status shows is in the journal.
            let new = {
                let mut live = write(&self.live);
                let l = live.entry(name.clone()).or_default();
                let new = l.drift_journaled.as_deref() != Some(key.as_str());
                l.drift_journaled = Some(key);
                new
            };
            if new {
                self.journal_finding(
                    &name,
                    OpKind::DriftCheck,
                    &d.commit,
                    commands,
                    "drift check (policy alert)".into(),
                    ErrorRecord::new("VNF_DRIFT", false, reason.clone()),
                )
                .await;
            }
            if let Some(l) = write(&self.live).get_mut(&name) {
                l.state = "drift";
                l.reason = Some(reason);
            }
        }
    }

    /// `vnfsync_pending_confirms`: per appliance, whether the journal holds an operation
    /// applied and waiting for its confirm (read from the journal's in-flight set).
    async fn refresh_pending_confirms(&self) {
        let Ok(open) = self.ctx.journal.in_flight().await else {
            return;
        };
        let waiting: BTreeSet<&str> = open
            .iter()
            .filter(|o| o.state == OpState::AwaitingConfirm)
            .map(|o| o.appliance.as_str())
            .collect();
        if let Some(d) = self.served() {
            for a in &d.loaded.state.appliances {
                self.metrics
                    .set_pending_confirm(a.name.as_str(), waiting.contains(a.name.as_str()));
            }
        }
    }

    /// Journal a finding that is not a device write (a rejected commit, drift left alone
    /// under `alert`) as an operation that ended `failed` with `error`.
    async fn journal_finding(
        &self,
        appliance: &str,
        kind: OpKind,
        commit: &str,
        planned: Vec<String>,
        summary: String,
        error: ErrorRecord,
    ) {
        let journal = &self.ctx.journal;
        let done = async {
            let op = journal
                .begin(Intent {
                    appliance: appliance.to_string(),
                    kind,
                    commit: commit.to_string(),
                    planned,
                    request_summary: Some(summary),
                    ..Intent::default()
                })
                .await?
                .into_operation();
            journal
                .change(op.id, Change::to(OpState::Failed).error(error))
                .await?;
            Ok::<_, JournalError>(op.id)
        }
        .await;
        match done {
            Ok(op) => {
                tracing::info!(appliance, commit, kind = kind.as_str(), op = %op, "journaled")
            }
            Err(e) => {
                tracing::error!(appliance, commit, kind = kind.as_str(), error = %e, "journal")
            }
        }
    }

    /// A rejected commit in the journal (kind `validate`, appliance `*`, `failed`, with every
    /// `file:line:column` error), once per commit even across restarts.
    async fn journal_rejection(&self, commit: &str, errors: &[String]) {
        let seen = self
            .ctx
            .journal
            .query(Query {
                kind: Some(OpKind::Validate),
                commit: Some(commit.to_string()),
                limit: 1,
                ..Query::default()
            })
            .await
            .is_ok_and(|p| !p.ops.is_empty());
        if seen {
            return;
        }
        self.journal_finding(
            VALIDATE_APPLIANCE,
            OpKind::Validate,
            commit,
            Vec::new(),
            "validate commit".into(),
            ErrorRecord::new(
                "VNF_INVALID",
                false,
                format!("commit rejected: {}", errors.join("\n")),
            ),
        )
        .await;
    }

    /// Findings left open by a stop between their two journal writes: nothing was sent to a
    /// device for them, so they end `failed`.
    async fn close_interrupted_findings(&self) {
        let Ok(open) = self.ctx.journal.in_flight().await else {
            return;
        };
        for op in open
            .into_iter()
            .filter(|o| matches!(o.kind, OpKind::Validate | OpKind::DriftCheck))
        {
            let r = self
                .ctx
                .journal
                .change(
                    op.id,
                    Change::to(OpState::Failed).error(ErrorRecord::new(
                        "VNF_INTERNAL",
                        false,
                        "interrupted before its outcome was journaled",
                    )),
                )
                .await;
            if let Err(e) = r {
                tracing::error!(op = %op.id, error = %e, "closing an interrupted finding");
            }
        }
    }

    /// One sweep: a drift check per appliance, each after its own jitter (up to a tenth of the
    /// interval) so a fleet is not read all at once.
    fn drift_sweep(self: &Arc<Self>) {
        use std::hash::BuildHasher;
        let Some(d) = self.served() else { return };
        let spread = self.cfg.drift_check_interval / 10;
        for a in &d.loaded.state.appliances {
            let name = a.name.to_string();
            let r = std::collections::hash_map::RandomState::new().hash_one(&name);
            let jitter = spread.mul_f64((r % 1000) as f64 / 1000.0);
            let rt = self.clone();
            tokio::spawn(async move {
                tokio::time::sleep(jitter).await;
                rt.drift_check(name).await;
            });
        }
    }

    /// Offer the tip; trigger the affected appliances of an accepted commit.
    async fn offer(self: &Arc<Self>, tip: Option<String>) {
        let Some(tip) = tip else {
            return;
        };
        let rt = self.clone();
        let t = tip.clone();
        let offered = tokio::task::spawn_blocking(move || {
            lock(&rt.tracker).offer_commit(&rt.cfg.repo, &t, &rt.cfg.path)
        })
        .await;
        let offer = match offered {
            Ok(o) => o,
            Err(e) => {
                tracing::error!(commit = %tip, error = %e, "reading the commit panicked");
                return;
            }
        };
        match offer {
            Offer::Same => {}
            Offer::Rejected(Rejection { commit, errors }) => {
                self.metrics.commit_rejected();
                self.journal_rejection(&commit, &errors).await;
                self.remember(
                    &commit,
                    CommitRecord {
                        status: "rejected",
                        errors,
                        ..CommitRecord::default()
                    },
                );
            }
            Offer::Accepted { desired, affected } => {
                tracing::info!(commit = %desired.commit, affected = ?affected.appliances.keys().collect::<Vec<_>>(), "commit accepted");
                *write(&self.served) = Some(desired.clone());
                self.remember(
                    &desired.commit,
                    CommitRecord {
                        status: "accepted",
                        errors: Vec::new(),
                        affected: affected
                            .appliances
                            .iter()
                            .map(|(k, why)| (k.clone(), json!({"reasons": why, "state": "queued"})))
                            .collect(),
                        removed: affected.removed.clone(),
                    },
                );
                // An appliance the commit does not touch renders the same config: in sync
                // before, it is in sync with the new commit.
                {
                    let mut live = write(&self.live);
                    for a in &desired.loaded.state.appliances {
                        let name = a.name.as_str();
                        if affected.appliances.contains_key(name) {
                            continue;
                        }
                        if let Some(l) = live.get_mut(name)
                            && l.state == "in_sync"
                        {
                            l.commit = Some(desired.commit.clone());
                        }
                    }
                }
                for name in affected.appliances.keys() {
                    self.trigger(name);
                }
            }
        }
    }

    /// An operator's rollback (`POST /v1/appliances/{name}/rollback`), through the engine
    /// exactly as `vnfsync rollback` goes: un-park, then restore a snapshot (the one named, or
    /// the last good one) or reconcile to an earlier commit, journaled like any write. It
    /// holds the appliance's writer lock and a fleet permit, so no reconcile runs beside it.
    /// Done, the appliance stays parked on the served commit (the scheduler would otherwise
    /// re-apply it at once) until a new commit or `resume`.
    async fn operator_rollback(
        self: Arc<Self>,
        name: &str,
        to: RollbackTo,
    ) -> Result<Value, ApiError> {
        if self.draining.load(Ordering::SeqCst) {
            return Err(ApiError::unavailable("the daemon is stopping"));
        }
        let d = self
            .served()
            .ok_or_else(|| ApiError::unavailable("no commit loaded"))?;
        let served = d
            .loaded
            .state
            .appliance(name)
            .cloned()
            .ok_or_else(|| ApiError::not_found(&format!("appliance `{name}`")))?;
        let older = match &to {
            RollbackTo::Commit(rev) => Some(self.load_commit(rev, name).await?),
            _ => None,
        };
        let _permit = self
            .sem
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| ApiError::unavailable("the daemon is stopping"))?;
        let writer = self.writer(name);
        let _writing = writer.lock().await;
        write(&self.live).entry(name.to_string()).or_default().state = "rolling_back";
        tracing::info!(appliance = %name, to = ?to, "rollback by an operator");
        let ctx = &self.ctx;
        let result = self
            .observed(super::operator::rollback(
                &served,
                older.as_deref(),
                &to,
                ctx,
            ))
            .await;
        let action = result.map_err(|e| {
            tracing::error!(appliance = %name, error = %e, "rollback");
            ApiError::internal(e.to_string())
        })?;
        let outcome = outcome_name(&action);
        self.metrics.reconciled(name, outcome);
        let target_commit = older
            .as_ref()
            .and_then(|l| l.files_commit.clone())
            .unwrap_or_default();
        let done = matches!(
            action,
            Action::Completed { .. } | Action::InSync { .. } | Action::AlreadyDone { .. }
        );
        let mut parked = None;
        if done {
            self.metrics.rolled_back("operator");
            if target_commit != d.commit {
                let reason = format!(
                    "commit {}: rolled back by an operator ({}); writes wait for a new commit or `vnfsync resume`",
                    d.commit,
                    match &to {
                        RollbackTo::Commit(_) => format!("to commit {target_commit}"),
                        RollbackTo::Snapshot(id) => format!("to snapshot {id}"),
                        RollbackTo::LastGood => "to the last good snapshot".into(),
                    }
                );
                let r = reason.clone();
                ctx.journal
                    .update_status(name.to_string(), move |s| s.parked_reason = Some(r))
                    .await
                    .map_err(|e| ApiError::internal(e.to_string()))?;
                parked = Some(reason);
            }
        }
        let mut answer = super::operator::rollback_answer(name, &to, &action);
        let detail = answer["detail"].as_str().map(str::to_string);
        tracing::info!(appliance = %name, outcome, op = ?action.op().map(|o| o.to_string()), "rollback finished");
        write(&self.live).insert(
            name.to_string(),
            Live {
                state: if parked.is_some() {
                    "parked"
                } else if done {
                    "in_sync"
                } else {
                    "failed"
                },
                commit: Some(if target_commit.is_empty() {
                    d.commit.clone()
                } else {
                    target_commit.clone()
                }),
                outcome: Some(outcome.to_string()),
                op: action.op().map(|o| o.to_string()),
                reason: parked.clone().or(detail.clone()),
                finished: Some(Timestamp::now()),
                drift_journaled: None,
            },
        );
        answer["parked"] = json!(parked);
        Ok(answer)
    }

    /// Read and check an earlier commit for a rollback (on the blocking pool).
    async fn load_commit(&self, rev: &str, name: &str) -> Result<LoadedAt, ApiError> {
        let repo = self.cfg.repo.clone();
        let path = self.cfg.path.clone();
        let rev = rev.to_string();
        let loaded = tokio::task::spawn_blocking(move || {
            let files = crate::source::read_commit(&repo, &rev, &path)
                .map_err(|e| ApiError::invalid(e.to_string()))?;
            let commit = files.commit.clone();
            let loaded = crate::render::load(&files).map_err(|diags| {
                ApiError::invalid(format!(
                    "commit {rev} does not pass the checks: {}",
                    diags
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; ")
                ))
            })?;
            Ok::<_, ApiError>(LoadedAt {
                loaded,
                files_commit: commit,
            })
        })
        .await
        .map_err(|e| ApiError::internal(format!("reading the commit: {e}")))??;
        if loaded.state.appliance(name).is_none() {
            return Err(ApiError::invalid(format!(
                "appliance `{name}` is not in that commit"
            )));
        }
        Ok(loaded)
    }

    fn remember(&self, commit: &str, rec: CommitRecord) {
        let mut c = write(&self.commits);
        c.insert(commit.to_string(), rec);
        while c.len() > KEPT_COMMITS {
            let Some(k) = c.keys().next().cloned() else {
                break;
            };
            c.remove(&k);
        }
    }

    /// Startup and SIGHUP: crash recovery first, then a full pass.
    async fn recover_and_pass(self: &Arc<Self>) {
        if let Some(d) = self.served() {
            match engine::recover_all(&d.loaded.state.appliances, &self.ctx).await {
                Ok(done) => {
                    for r in done {
                        tracing::info!(appliance = %r.appliance, op = %r.op, action = ?r.action, "recovered");
                    }
                }
                Err(e) => tracing::error!(error = %e, "crash recovery"),
            }
            self.recovered.store(true, Ordering::SeqCst);
            for a in &d.loaded.state.appliances {
                self.trigger(a.name.as_str());
            }
        }
    }

    fn visible(&self, view: &View, name: &str) -> bool {
        view.as_ref().is_none_or(|v| v.contains(name))
    }
}

impl Backend for Runtime {
    fn readiness(&self) -> Readiness {
        Readiness {
            journal_open: true,
            commit_loaded: read(&self.served).is_some(),
            recovery_done: self.recovered.load(Ordering::SeqCst),
        }
    }

    fn metrics(&self) -> String {
        self.metrics.encode()
    }

    fn appliances(&self) -> Vec<Visible> {
        self.served()
            .map(|d| {
                d.loaded
                    .state
                    .appliances
                    .iter()
                    .map(|a| Visible {
                        name: a.name.to_string(),
                        tenant: a
                            .labels
                            .iter()
                            .find(|(k, _)| k.as_str() == "tenant")
                            .map(|(_, v)| v.to_string()),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    fn status<'a>(&'a self, view: &'a View) -> BoxFut<'a, Value> {
        Box::pin(async move {
            let served = self.served();
            let live = read(&self.live).clone();
            let appliances: Vec<Value> = self
                .appliances()
                .into_iter()
                .filter(|a| self.visible(view, &a.name))
                .map(|a| {
                    let l = live.get(&a.name).cloned().unwrap_or_default();
                    let converged = l.state == "in_sync"
                        && l.commit.as_deref() == served.as_ref().map(|d| d.commit.as_str());
                    json!({
                        "name": a.name,
                        "state": if l.state.is_empty() { "waiting" } else { l.state },
                        "commit": l.commit,
                        "converged": converged,
                        "outcome": l.outcome,
                        "reason": l.reason,
                    })
                })
                .collect();
            let converged =
                !appliances.is_empty() && appliances.iter().all(|a| a["converged"] == json!(true));
            let rejected = lock(&self.tracker).rejected().cloned();
            let mut out = json!({
                "commit": served.as_ref().map(|d| d.commit.clone()),
                "ready": self.readiness(),
                "converged": converged,
                "appliances": appliances,
            });
            if view.is_none()
                && let Some(r) = rejected
            {
                out["rejected"] = json!(r);
            }
            out
        })
    }

    fn appliance_list<'a>(&'a self, view: &'a View) -> BoxFut<'a, Value> {
        Box::pin(async move {
            let s = self.status(view).await;
            s["appliances"].clone()
        })
    }

    fn appliance<'a>(&'a self, name: &'a str) -> BoxFut<'a, Option<Value>> {
        Box::pin(async move {
            let l = read(&self.live).get(name).cloned().unwrap_or_default();
            let journaled = self
                .ctx
                .journal
                .status(name.to_string())
                .await
                .ok()
                .flatten();
            Some(json!({
                "name": name,
                "state": if l.state.is_empty() { "waiting" } else { l.state },
                "last": l,
                "journal": journaled,
            }))
        })
    }

    fn diff<'a>(&'a self, name: &'a str) -> BoxFut<'a, Result<Value, ApiError>> {
        Box::pin(async move {
            // The same renderer and planner as `vnfsync diff --live`, read-only on the device;
            // answered as its `--format json` document.
            let d = self
                .served()
                .ok_or_else(|| ApiError::unavailable("no commit loaded"))?;
            let a = d
                .loaded
                .state
                .appliance(name)
                .ok_or_else(|| ApiError::not_found(&format!("appliance `{name}`")))?;
            let mut report = crate::plan::Report {
                commit: Some(d.commit.clone()),
                plans: Vec::new(),
                errors: Vec::new(),
            };
            match self.observed(live_plan(&d.loaded, a, &self.ctx)).await {
                Ok((_, plan)) => report.plans.push(plan),
                Err(message) => report.errors.push(crate::plan::PlanError {
                    appliance: name.to_string(),
                    code: "VNF_UPSTREAM".into(),
                    message,
                }),
            }
            serde_json::to_value(&report).map_err(|e| ApiError::internal(e.to_string()))
        })
    }

    fn operations<'a>(
        &'a self,
        params: OpsParams,
        view: &'a View,
    ) -> BoxFut<'a, Result<Value, ApiError>> {
        Box::pin(async move {
            let bad =
                |what: &str, v: &str| ApiError::invalid(format!("{what}: `{v}` is not valid"));
            let time = |v: &Option<String>, what: &str| -> Result<Option<Timestamp>, ApiError> {
                v.as_ref()
                    .map(|s| s.parse::<Timestamp>().map_err(|_| bad(what, s)))
                    .transpose()
            };
            let mut q = Query {
                appliance: params.appliance.clone(),
                state: params
                    .state
                    .as_ref()
                    .map(|s| s.parse().map_err(|_| bad("state", s)))
                    .transpose()?,
                kind: params
                    .kind
                    .as_ref()
                    .map(|s| s.parse().map_err(|_| bad("kind", s)))
                    .transpose()?,
                commit: params.commit.clone(),
                since: time(&params.since, "since")?,
                until: time(&params.until, "until")?,
                limit: params.limit.unwrap_or(50).clamp(1, 500),
                after: params
                    .cursor
                    .as_ref()
                    .map(|s| s.parse().map_err(|_| bad("cursor", s)))
                    .transpose()?,
            };
            let want = q.limit;
            let mut ops = Vec::new();
            let mut next;
            loop {
                let page = self
                    .ctx
                    .journal
                    .query(q.clone())
                    .await
                    .map_err(|e| ApiError::internal(e.to_string()))?;
                next = page.next;
                ops.extend(
                    page.ops
                        .into_iter()
                        .filter(|o| self.visible(view, &o.appliance)),
                );
                if ops.len() >= want || next.is_none() {
                    break;
                }
                q.after = next;
            }
            ops.truncate(want);
            let cursor = if ops.len() == want {
                ops.last().map(|o| o.id.to_string())
            } else {
                None
            };
            Ok(json!({"operations": ops, "next": cursor}))
        })
    }

    fn dictionaries(&self, view: &View) -> Value {
        let Some(d) = self.served() else {
            return json!([]);
        };
        let used: BTreeSet<&str> = d
            .loaded
            .state
            .appliances
            .iter()
            .filter(|a| self.visible(view, a.name.as_str()))
            .map(|a| a.dictionary.as_str())
            .collect();
        let list: Vec<Value> = d
            .loaded
            .dictionaries
            .iter()
            .filter(|(n, _)| view.is_none() || used.contains(n.as_str()))
            .map(|(n, dict)| {
                let text = serde_json::to_vec(dict).unwrap_or_default();
                json!({
                    "name": n,
                    "version": dict.schema_version,
                    "firmware": dict.firmware,
                    "origin": dict.origin,
                    "hash": crate::api::auth::hash_hex(&String::from_utf8_lossy(&text)),
                })
            })
            .collect();
        json!(list)
    }

    fn commit(&self, sha: &str, view: &View) -> Option<Value> {
        let commits = read(&self.commits);
        let (full, rec) = commits
            .iter()
            .find(|(k, _)| sha.len() >= 7 && k.starts_with(sha))?;
        let affected: BTreeMap<&String, &Value> = rec
            .affected
            .iter()
            .filter(|(k, _)| self.visible(view, k))
            .collect();
        let mut out = json!({"commit": full, "status": rec.status, "affected": affected});
        if view.is_none() {
            out["errors"] = json!(rec.errors);
            out["removed"] = json!(rec.removed);
        }
        Some(out)
    }

    fn snapshots<'a>(&'a self, name: &'a str) -> BoxFut<'a, Result<Value, ApiError>> {
        Box::pin(async move {
            let list = self
                .ctx
                .journal
                .snapshots(name.to_string())
                .await
                .map_err(|e| ApiError::internal(e.to_string()))?;
            Ok(json!(list))
        })
    }

    fn rollback<'a>(&'a self, _: &'a str, _: RollbackTo) -> BoxFut<'a, Result<Value, ApiError>> {
        Box::pin(async {
            Err(ApiError::internal(
                "rollback is handled by the runtime, not here",
            ))
        })
    }

    fn act<'a>(
        &'a self,
        action: ApiAction,
        appliance: Option<&'a str>,
        view: &'a View,
    ) -> BoxFut<'a, Result<Value, ApiError>> {
        Box::pin(async move {
            match action {
                ApiAction::Sync => Err(ApiError::internal(
                    "sync is handled by the runtime's trigger, not here",
                )),
                ApiAction::Probe => {
                    let name = appliance.unwrap_or_default();
                    let d = self
                        .served()
                        .ok_or_else(|| ApiError::unavailable("no commit loaded"))?;
                    let a = d
                        .loaded
                        .state
                        .appliance(name)
                        .ok_or_else(|| ApiError::not_found(&format!("appliance `{name}`")))?;
                    let _ = view;
                    Ok(self.observed(super::operator::probe(a, &self.ctx)).await)
                }
                ApiAction::Resume => Err(ApiError::internal(
                    "resume is handled by the runtime, not here",
                )),
                ApiAction::Approve => Err(ApiError::internal(
                    "approve is handled by the runtime's trigger, not here",
                )),
            }
        })
    }
}

/// The API backend: the runtime, with `sync` wired to the scheduler.
struct Api(Arc<Runtime>);

impl Backend for Api {
    fn readiness(&self) -> Readiness {
        self.0.readiness()
    }
    fn metrics(&self) -> String {
        self.0.metrics()
    }
    fn appliances(&self) -> Vec<Visible> {
        self.0.appliances()
    }
    fn status<'a>(&'a self, view: &'a View) -> BoxFut<'a, Value> {
        self.0.status(view)
    }
    fn appliance_list<'a>(&'a self, view: &'a View) -> BoxFut<'a, Value> {
        self.0.appliance_list(view)
    }
    fn appliance<'a>(&'a self, name: &'a str) -> BoxFut<'a, Option<Value>> {
        self.0.appliance(name)
    }
    fn diff<'a>(&'a self, name: &'a str) -> BoxFut<'a, Result<Value, ApiError>> {
        let rt = self.0.clone();
        let name = name.to_string();
        Box::pin(on_main(&self.0.main, async move { rt.diff(&name).await }))
    }
    fn operations<'a>(
        &'a self,
        params: OpsParams,
        view: &'a View,
    ) -> BoxFut<'a, Result<Value, ApiError>> {
        self.0.operations(params, view)
    }
    fn dictionaries(&self, view: &View) -> Value {
        self.0.dictionaries(view)
    }
    fn commit(&self, sha: &str, view: &View) -> Option<Value> {
        self.0.commit(sha, view)
    }
    fn snapshots<'a>(&'a self, name: &'a str) -> BoxFut<'a, Result<Value, ApiError>> {
        self.0.snapshots(name)
    }
    fn rollback<'a>(
        &'a self,
        name: &'a str,
        to: RollbackTo,
    ) -> BoxFut<'a, Result<Value, ApiError>> {
        let rt = self.0.clone();
        let name = name.to_string();
        Box::pin(on_main(&self.0.main, async move {
            rt.operator_rollback(&name, to).await
        }))
    }
    fn act<'a>(
        &'a self,
        action: ApiAction,
        appliance: Option<&'a str>,
        view: &'a View,
    ) -> BoxFut<'a, Result<Value, ApiError>> {
        if action == ApiAction::Approve {
            return Box::pin(async move {
                let name = appliance.unwrap_or_default().to_string();
                lock(&self.0.approved).insert(name.clone());
                tracing::info!(appliance = %name, "onboarding approved");
                if let Some(l) = write(&self.0.live).get_mut(&name)
                    && l.state == "held"
                {
                    l.state = "queued";
                }
                self.0.trigger(&name);
                Ok(json!({"approved": name}))
            });
        }
        if action == ApiAction::Resume {
            return Box::pin(async move {
                let name = appliance.unwrap_or_default().to_string();
                engine::resume(&name, &self.0.ctx)
                    .await
                    .map_err(|e| ApiError::internal(e.to_string()))?;
                tracing::info!(appliance = %name, "resumed by an operator");
                self.0.trigger(&name);
                Ok(json!({"resumed": name}))
            });
        }
        if action == ApiAction::Probe {
            let rt = self.0.clone();
            let name = appliance.map(str::to_string);
            let view = view.clone();
            return Box::pin(on_main(&self.0.main, async move {
                rt.act(ApiAction::Probe, name.as_deref(), &view).await
            }));
        }
        if action != ApiAction::Sync {
            return self.0.act(action, appliance, view);
        }
        Box::pin(async move {
            let names: Vec<String> = match appliance {
                Some(a) => vec![a.to_string()],
                None => self
                    .0
                    .appliances()
                    .into_iter()
                    .filter(|a| self.0.visible(view, &a.name))
                    .map(|a| a.name)
                    .collect(),
            };
            for n in &names {
                self.0.trigger(n);
            }
            Ok(json!({"queued": names}))
        })
    }
}

/// Run `fut` as a task of the main runtime and wait for it: device work stays off the API's
/// thread, and a client that goes away does not cut a device write short.
async fn on_main<F>(main: &tokio::runtime::Handle, fut: F) -> Result<Value, ApiError>
where
    F: std::future::Future<Output = Result<Value, ApiError>> + Send + 'static,
{
    main.spawn(fut)
        .await
        .map_err(|e| ApiError::internal(format!("task: {e}")))?
}

/// Run the daemon until SIGTERM/SIGINT (or `stop` resolves).
pub async fn run(
    cfg: Config,
    tokens: Tokens,
    stop: impl std::future::Future<Output = ()>,
) -> Result<(), DaemonError> {
    run_with(cfg, tokens, BTreeSet::new(), stop).await
}

/// [`run`], with appliances whose onboarding is approved from the start (`vnfsync demo`
/// approves its own lab appliances, which it has just created).
pub async fn run_with(
    cfg: Config,
    tokens: Tokens,
    approved: BTreeSet<String>,
    stop: impl std::future::Future<Output = ()>,
) -> Result<(), DaemonError> {
    use tokio::signal::unix::{SignalKind, signal};
    let notifier = Notifier::from_env();
    let metrics = Arc::new(Metrics::new());
    let journal = Journal::open(
        Journal::path_in(&cfg.state_dir),
        Options {
            create: true,
            on_commit: Some({
                let m = metrics.clone();
                Arc::new(move |took: Duration| m.journal_write(took.as_secs_f64()))
            }),
            ..Options::default()
        },
    )?;
    let ctx = Context::new(
        journal,
        SnapshotStore::new(cfg.state_dir.join("snapshots")),
        Arc::new(ProcessEnv),
        Timeouts {
            connect: cfg.connect_timeout,
            command: cfg.command_timeout,
        },
        Policy {
            probe_timeout: cfg.probe_timeout,
            ..Policy::default()
        },
    );
    // TLS is loaded before anything is bound: a bad certificate or key stops the start.
    let tls = match &cfg.tls {
        None => None,
        Some(t) => {
            let cert = crate::config::reference_path(&t.cert).map_err(DaemonError::Tls)?;
            let key = crate::config::reference_path(&t.key).map_err(DaemonError::Tls)?;
            Some(api::tls::acceptor(&cert, &key).map_err(DaemonError::Tls)?)
        }
    };
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .map_err(|source| DaemonError::Bind {
            addr: cfg.listen,
            source,
        })?;
    let local = listener.local_addr().map_err(DaemonError::Serve)?;
    tracing::info!(listen = %local, tls = tls.is_some(), "API listening");
    let follower = follow(FollowConfig {
        repo: cfg.repo.clone(),
        branch: cfg.branch.clone(),
        remote: cfg.remote.clone(),
        poll: cfg.poll_interval,
        fetch_interval: cfg.fetch_interval,
        fetch_timeout: cfg.command_timeout,
    })
    .await?;
    let rt = Arc::new(Runtime {
        sem: Arc::new(Semaphore::new(cfg.concurrency.max(1))),
        cfg,
        tracker: Mutex::default(),
        served: RwLock::default(),
        live: RwLock::default(),
        slots: Mutex::default(),
        commits: RwLock::default(),
        metrics: metrics.clone(),
        ctx,
        recovered: AtomicBool::new(false),
        draining: AtomicBool::new(false),
        approved: Mutex::new(approved),
        writers: Mutex::default(),
        main: tokio::runtime::Handle::current(),
    });
    let app = api::router(Arc::new(Api(rt.clone())), tokens);
    let (stop_server, server_stopped) = tokio::sync::oneshot::channel::<()>();
    // The API has a thread and a runtime of its own, so `/healthz` and status answers never
    // queue behind reconciles on the main runtime's workers.
    let listener = listener.into_std().map_err(DaemonError::Serve)?;
    let (served_tx, server) = tokio::sync::oneshot::channel::<std::io::Result<()>>();
    std::thread::Builder::new()
        .name("vnfsync-api".into())
        .spawn(move || {
            let result = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .and_then(|api_rt| {
                    api_rt.block_on(async move {
                        let listener = tokio::net::TcpListener::from_std(listener)?;
                        let stopped = async {
                            let _ = server_stopped.await;
                        };
                        match tls {
                            Some(acceptor) => {
                                api::tls::serve(listener, acceptor, app, stopped).await;
                                Ok(())
                            }
                            None => {
                                axum::serve(listener, app)
                                    .with_graceful_shutdown(stopped)
                                    .await
                            }
                        }
                    })
                });
            let _ = served_tx.send(result);
        })
        .map_err(DaemonError::Serve)?;

    let mut term = signal(SignalKind::terminate()).map_err(DaemonError::Signal)?;
    let mut int = signal(SignalKind::interrupt()).map_err(DaemonError::Signal)?;
    let mut hup = signal(SignalKind::hangup()).map_err(DaemonError::Signal)?;
    let mut tips = follower.tips();

    // Startup: load the tip, recover, full pass; then READY.
    let first = tips.borrow_and_update().clone();
    rt.offer(first).await;
    // Only at start: nothing else is writing findings yet.
    rt.close_interrupted_findings().await;
    rt.recover_and_pass().await;
    rt.recovered.store(true, Ordering::SeqCst);
    notifier.send("READY=1\nSTATUS=serving");
    tracing::info!("ready");

    let mut watchdog = tokio::time::interval(
        notifier
            .watchdog_interval()
            .unwrap_or(Duration::from_secs(3600)),
    );
    let mut drift = tokio::time::interval_at(
        tokio::time::Instant::now() + rt.cfg.drift_check_interval,
        rt.cfg.drift_check_interval,
    );
    drift.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut gauges = tokio::time::interval(PENDING_CONFIRMS_EVERY);
    gauges.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    tokio::pin!(stop);
    loop {
        tokio::select! {
            changed = tips.changed() => {
                if changed.is_err() {
                    tracing::error!("the git follower stopped");
                    break;
                }
                let tip = tips.borrow_and_update().clone();
                rt.offer(tip).await;
            }
            _ = hup.recv() => {
                notifier.send("RELOADING=1");
                tracing::info!("SIGHUP: reload");
                follower.poke();
                let tip = tips.borrow_and_update().clone();
                rt.offer(tip).await;
                rt.recover_and_pass().await;
                notifier.send("READY=1\nSTATUS=serving");
            }
            _ = drift.tick() => rt.drift_sweep(),
            _ = gauges.tick() => {
                let rt = rt.clone();
                tokio::spawn(async move { rt.refresh_pending_confirms().await });
            }
            _ = watchdog.tick() => {
                notifier.send("WATCHDOG=1");
            }
            _ = term.recv() => break,
            _ = int.recv() => break,
            () = &mut stop => break,
        }
    }

    // Drain: no new reconciles; those in flight reach a safe state within the grace period.
    notifier.send("STOPPING=1\nSTATUS=draining");
    tracing::info!("stopping: draining in-flight reconciles");
    rt.draining.store(true, Ordering::SeqCst);
    let all = u32::try_from(rt.cfg.concurrency.max(1)).unwrap_or(u32::MAX);
    match tokio::time::timeout(rt.cfg.shutdown_grace, rt.sem.acquire_many(all)).await {
        Ok(_) => tracing::info!("drained"),
        Err(_) => {
            tracing::warn!(grace = ?rt.cfg.shutdown_grace, "grace period over with reconciles in flight; recovery finishes them at the next start")
        }
    }
    let _ = stop_server.send(());
    match server.await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(DaemonError::Serve(e)),
        Err(_) => Err(DaemonError::Serve(std::io::Error::other(
            "the API thread stopped without an answer",
        ))),
    }
}
