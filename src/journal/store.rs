//! The file layout: redb tables, record encoding, and the transactional steps the writer thread
//! and the readers run. Nothing outside `journal` sees a redb type.
//!
//! Layout (schema version in `meta`):
//! - `ops`: op id (u128, UUIDv7 so time-ordered) → the operation as JSON.
//! - indexes, value `()`: `by_appliance` (appliance, id), `by_state` (state code, id),
//!   `by_kind` (kind code, id), `by_commit` (commit, id).
//! - since version 2, `by_appliance_state` (appliance, state code, id): the charter's
//!   "operations of X in state S" without reading X's other operations.
//! - `idempotency`: key → the latest operation with that key.
//! - `in_flight`: the ids of every non-final operation.
//! - `appliances`: name → [`ApplianceStatus`] as JSON.
//! - `snapshots`: (appliance, taken in µs, id) → [`SnapshotEntry`] as JSON.

use jiff::Timestamp;
use redb::{
    ReadOnlyTable, ReadTransaction, ReadableTable, Table, TableDefinition, WriteTransaction,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::JournalError;
use super::record::{
    ApplianceStatus, Change, Intent, OpId, OpState, Operation, SnapshotEntry, Step,
};
use super::redact::redact;

pub(crate) const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
pub(crate) const OPS: TableDefinition<u128, &[u8]> = TableDefinition::new("ops");
pub(crate) const BY_APPLIANCE: TableDefinition<(&str, u128), ()> =
    TableDefinition::new("by_appliance");
pub(crate) const BY_STATE: TableDefinition<(u8, u128), ()> = TableDefinition::new("by_state");
pub(crate) const BY_KIND: TableDefinition<(u8, u128), ()> = TableDefinition::new("by_kind");
pub(crate) const BY_COMMIT: TableDefinition<(&str, u128), ()> = TableDefinition::new("by_commit");
pub(crate) const BY_APPLIANCE_STATE: TableDefinition<(&str, u8, u128), ()> =
    TableDefinition::new("by_appliance_state");
pub(crate) const IDEMPOTENCY: TableDefinition<&str, u128> = TableDefinition::new("idempotency");
pub(crate) const IN_FLIGHT: TableDefinition<u128, ()> = TableDefinition::new("in_flight");
pub(crate) const APPLIANCES: TableDefinition<&str, &[u8]> = TableDefinition::new("appliances");
pub(crate) const SNAPSHOTS: TableDefinition<(&str, i64, &str), &[u8]> =
    TableDefinition::new("snapshots");

/// The schema version this code writes. 1: records and single-field indexes; 2: adds
/// `by_appliance_state`.
pub const SCHEMA_VERSION: u64 = 2;
pub(crate) const VERSION_KEY: &str = "schema_version";

pub(crate) fn storage(e: impl Into<redb::Error>) -> JournalError {
    JournalError::Storage(e.into().to_string())
}

pub(crate) fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    // Serialising our own plain records to JSON cannot fail (string keys, no NaN floats
    // that matter: a NaN latency becomes null).
    serde_json::to_vec(v).unwrap_or_default()
}

pub(crate) fn decode<T: DeserializeOwned>(
    table: &str,
    key: &str,
    bytes: &[u8],
) -> Result<T, JournalError> {
    serde_json::from_slice(bytes).map_err(|e| JournalError::Corrupt {
        table: table.to_owned(),
        key: key.to_owned(),
        message: e.to_string(),
    })
}

/// Every table of one write transaction, opened once per batch.
pub(crate) struct W<'t> {
    pub ops: Table<'t, u128, &'static [u8]>,
    pub by_appliance: Table<'t, (&'static str, u128), ()>,
    pub by_state: Table<'t, (u8, u128), ()>,
    pub by_kind: Table<'t, (u8, u128), ()>,
    pub by_commit: Table<'t, (&'static str, u128), ()>,
    pub by_appliance_state: Table<'t, (&'static str, u8, u128), ()>,
    pub idempotency: Table<'t, &'static str, u128>,
    pub in_flight: Table<'t, u128, ()>,
    pub appliances: Table<'t, &'static str, &'static [u8]>,
    pub snapshots: Table<'t, (&'static str, i64, &'static str), &'static [u8]>,
    /// The last id handed out, so ids stay strictly increasing within this process.
    pub last_id: &'t mut u128,
}

impl<'t> W<'t> {
    pub fn open(txn: &'t WriteTransaction, last_id: &'t mut u128) -> Result<W<'t>, JournalError> {
        Ok(W {
            ops: txn.open_table(OPS).map_err(storage)?,
            by_appliance: txn.open_table(BY_APPLIANCE).map_err(storage)?,
            by_state: txn.open_table(BY_STATE).map_err(storage)?,
            by_kind: txn.open_table(BY_KIND).map_err(storage)?,
            by_commit: txn.open_table(BY_COMMIT).map_err(storage)?,
            by_appliance_state: txn.open_table(BY_APPLIANCE_STATE).map_err(storage)?,
            idempotency: txn.open_table(IDEMPOTENCY).map_err(storage)?,
            in_flight: txn.open_table(IN_FLIGHT).map_err(storage)?,
            appliances: txn.open_table(APPLIANCES).map_err(storage)?,
            snapshots: txn.open_table(SNAPSHOTS).map_err(storage)?,
            last_id,
        })
    }

    pub fn load(&self, id: OpId) -> Result<Option<Operation>, JournalError> {
        let Some(g) = self.ops.get(id.key()).map_err(storage)? else {
            return Ok(None);
        };
        decode("ops", &id.to_string(), g.value()).map(Some)
    }

    /// A new id for an operation created at `now`: its UUIDv7 timestamp is `now`, and it is
    /// greater than every id this process handed out before.
    fn new_id(&mut self, now: Timestamp) -> OpId {
        let ms = u64::try_from(now.as_millisecond().max(0)).unwrap_or(0);
        let secs = ms / 1000;
        let nanos = u32::try_from((ms % 1000) * 1_000_000).unwrap_or(0);
        let ts = uuid::Timestamp::from_unix(uuid::NoContext, secs, nanos);
        let mut key = uuid::Uuid::new_v7(ts).as_u128();
        if key <= *self.last_id {
            // Same millisecond (or a clock step back): keep the version and variant bits, count up
            // in the random part.
            key = *self.last_id + 1;
        }
        *self.last_id = key;
        OpId::from_key(key)
    }

    /// Write a record and every index entry it implies (a new record, or after `remove`).
    pub fn insert(&mut self, op: &Operation) -> Result<(), JournalError> {
        let k = op.id.key();
        self.ops.insert(k, encode(op).as_slice()).map_err(storage)?;
        self.by_appliance
            .insert((op.appliance.as_str(), k), ())
            .map_err(storage)?;
        self.by_state
            .insert((op.state.code(), k), ())
            .map_err(storage)?;
        self.by_appliance_state
            .insert((op.appliance.as_str(), op.state.code(), k), ())
            .map_err(storage)?;
        self.by_kind
            .insert((op.kind.code(), k), ())
            .map_err(storage)?;
        if !op.commit.is_empty() {
            self.by_commit
                .insert((op.commit.as_str(), k), ())
                .map_err(storage)?;
        }
        if !op.state.is_final() {
            self.in_flight.insert(k, ()).map_err(storage)?;
        }
        if !op.idempotency_key.is_empty() {
            let newer = self
                .idempotency
                .get(op.idempotency_key.as_str())
                .map_err(storage)?
                .is_some_and(|g| g.value() > k);
            if !newer {
                self.idempotency
                    .insert(op.idempotency_key.as_str(), k)
                    .map_err(storage)?;
            }
        }
        Ok(())
    }

    /// Remove a record and every index entry pointing at it.
    pub fn remove(&mut self, op: &Operation) -> Result<(), JournalError> {
        let k = op.id.key();
        self.ops.remove(k).map_err(storage)?;
        self.by_appliance
            .remove((op.appliance.as_str(), k))
            .map_err(storage)?;
        self.by_state
            .remove((op.state.code(), k))
            .map_err(storage)?;
        self.by_appliance_state
            .remove((op.appliance.as_str(), op.state.code(), k))
            .map_err(storage)?;
        self.by_kind.remove((op.kind.code(), k)).map_err(storage)?;
        self.by_commit
            .remove((op.commit.as_str(), k))
            .map_err(storage)?;
        self.in_flight.remove(k).map_err(storage)?;
        if !op.idempotency_key.is_empty() {
            let points_here = self
                .idempotency
                .get(op.idempotency_key.as_str())
                .map_err(storage)?
                .is_some_and(|g| g.value() == k);
            if points_here {
                self.idempotency
                    .remove(op.idempotency_key.as_str())
                    .map_err(storage)?;
            }
        }
        Ok(())
    }

    /// Rewrite a record whose state may have changed from `old_state`.
    fn update(&mut self, op: &Operation, old_state: OpState) -> Result<(), JournalError> {
        let k = op.id.key();
        self.ops.insert(k, encode(op).as_slice()).map_err(storage)?;
        if op.state != old_state {
            self.by_state
                .remove((old_state.code(), k))
                .map_err(storage)?;
            self.by_state
                .insert((op.state.code(), k), ())
                .map_err(storage)?;
            let a = op.appliance.as_str();
            self.by_appliance_state
                .remove((a, old_state.code(), k))
                .map_err(storage)?;
            self.by_appliance_state
                .insert((a, op.state.code(), k), ())
                .map_err(storage)?;
            if op.state.is_final() {
                self.in_flight.remove(k).map_err(storage)?;
            }
        }
        Ok(())
    }
}

/// What [`crate::journal::Journal::begin`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begun {
    /// The intent is recorded as a new pending operation.
    New(Operation),
    /// An operation with the same idempotency key already completed: nothing to do.
    Completed(Operation),
    /// An operation with the same idempotency key is still in flight: let it finish (or let
    /// recovery end it) first.
    InFlight(Operation),
}

impl Begun {
    pub fn operation(&self) -> &Operation {
        match self {
            Begun::New(op) | Begun::Completed(op) | Begun::InFlight(op) => op,
        }
    }
    pub fn into_operation(self) -> Operation {
        match self {
            Begun::New(op) | Begun::Completed(op) | Begun::InFlight(op) => op,
        }
    }
    pub fn is_new(&self) -> bool {
        matches!(self, Begun::New(_))
    }
}

fn redact_opt(s: Option<String>) -> Option<String> {
    s.map(|s| redact(&s))
}

pub(crate) fn begin(w: &mut W<'_>, now: Timestamp, intent: Intent) -> Result<Begun, JournalError> {
    if intent.appliance.is_empty() {
        return Err(JournalError::BadIntent("no appliance named".into()));
    }
    let mut retry_of = None;
    if !intent.idempotency_key.is_empty()
        && let Some(prev) = w
            .idempotency
            .get(intent.idempotency_key.as_str())
            .map_err(storage)?
            .map(|g| OpId::from_key(g.value()))
        && let Some(prev) = w.load(prev)?
    {
        match prev.state {
            OpState::Completed => return Ok(Begun::Completed(prev)),
            s if !s.is_final() => return Ok(Begun::InFlight(prev)),
            _ => retry_of = Some(prev.id),
        }
    }
    let id = w.new_id(now);
    let op = Operation {
        id,
        appliance: intent.appliance,
        kind: intent.kind,
        state: OpState::Pending,
        commit: intent.commit,
        idempotency_key: intent.idempotency_key,
        base_hash: intent.base_hash,
        target_hash: intent.target_hash,
        planned: intent.planned.iter().map(|c| redact(c)).collect(),
        commit_mode: intent.commit_mode,
        confirm_deadline: intent.confirm_deadline,
        snapshot_id: intent.snapshot_id,
        request_summary: redact_opt(intent.request_summary),
        response_summary: None,
        vendor_ref: None,
        error: None,
        attempts: 0,
        probes: Vec::new(),
        correlation_id: intent.correlation_id,
        retry_of,
        created: now,
        started: None,
        finished: None,
        steps: vec![Step {
            at: now,
            what: match retry_of {
                Some(prev) => format!("pending: intent recorded (retries {prev})"),
                None => "pending: intent recorded".into(),
            },
        }],
    };
    w.insert(&op)?;
    Ok(Begun::New(op))
}

pub(crate) fn change(
    w: &mut W<'_>,
    now: Timestamp,
    id: OpId,
    change: Change,
) -> Result<Operation, JournalError> {
    let mut op = w.load(id)?.ok_or(JournalError::NotFound { id })?;
    let old = op.state;
    if old.is_final() {
        return Err(JournalError::Finished { id, state: old });
    }
    if let Some(to) = change.state
        && !old.can_go_to(to)
    {
        return Err(JournalError::Transition { id, from: old, to });
    }
    if let Some(to) = change.state {
        op.state = to;
        if to == OpState::InProgress {
            op.started = Some(now);
        }
        if to.is_final() {
            op.finished = Some(now);
        }
    }
    let what = match (change.state, change.step) {
        (Some(to), Some(s)) => format!("{to}: {}", redact(&s)),
        (Some(to), None) => to.to_string(),
        (None, Some(s)) => redact(&s),
        (None, None) => "updated".into(),
    };
    op.steps.push(Step { at: now, what });
    if let Some(s) = change.snapshot_id {
        op.snapshot_id = Some(s);
    }
    if let Some(v) = change.vendor_ref {
        op.vendor_ref = Some(redact(&v));
    }
    if let Some(r) = change.response_summary {
        op.response_summary = Some(redact(&r));
    }
    if let Some(d) = change.confirm_deadline {
        op.confirm_deadline = Some(d);
    }
    if let Some(mut e) = change.error {
        e.message = redact(&e.message);
        e.device = redact_opt(e.device);
        op.error = Some(e);
    }
    for mut p in change.probes {
        p.detail = redact(&p.detail);
        op.probes.push(p);
    }
    if change.attempt {
        op.attempts += 1;
    }
    w.update(&op, old)?;
    Ok(op)
}

pub(crate) fn update_status(
    w: &mut W<'_>,
    appliance: &str,
    f: Box<dyn FnOnce(&mut ApplianceStatus) + Send>,
) -> Result<ApplianceStatus, JournalError> {
    let mut status = match w.appliances.get(appliance).map_err(storage)? {
        Some(g) => decode("appliances", appliance, g.value())?,
        None => ApplianceStatus {
            appliance: appliance.to_owned(),
            ..ApplianceStatus::default()
        },
    };
    f(&mut status);
    status.appliance = appliance.to_owned();
    if let Some(e) = status.last_error.as_mut() {
        e.message = redact(&e.message);
        e.device = redact_opt(e.device.take());
    }
    status.parked_reason = redact_opt(status.parked_reason.take());
    w.appliances
        .insert(appliance, encode(&status).as_slice())
        .map_err(storage)?;
    Ok(status)
}

pub(crate) fn snapshot_key(s: &SnapshotEntry) -> (&str, i64, &str) {
    (
        s.appliance.as_str(),
        s.taken.as_microsecond(),
        s.id.as_str(),
    )
}

pub(crate) fn record_snapshot(w: &mut W<'_>, s: SnapshotEntry) -> Result<(), JournalError> {
    if s.appliance.is_empty() || s.id.is_empty() {
        return Err(JournalError::BadIntent(
            "a snapshot needs an appliance and an id".into(),
        ));
    }
    w.snapshots
        .insert(snapshot_key(&s), encode(&s).as_slice())
        .map_err(storage)?;
    Ok(())
}

/// Import whole records (restore from an export, bulk loads): each is redacted and indexed
/// as if it had been written one by one. An id already present is replaced.
pub(crate) fn import(w: &mut W<'_>, ops: Vec<Operation>) -> Result<usize, JournalError> {
    let n = ops.len();
    for mut op in ops {
        if let Some(old) = w.load(op.id)? {
            w.remove(&old)?;
        }
        op.planned = op.planned.iter().map(|c| redact(c)).collect();
        op.request_summary = redact_opt(op.request_summary);
        op.response_summary = redact_opt(op.response_summary);
        if let Some(e) = op.error.as_mut() {
            e.message = redact(&e.message);
            e.device = redact_opt(e.device.take());
        }
        *w.last_id = (*w.last_id).max(op.id.key());
        w.insert(&op)?;
    }
    Ok(n)
}

/// Every table of one read transaction.
pub(crate) struct R {
    pub ops: ReadOnlyTable<u128, &'static [u8]>,
    pub by_appliance: ReadOnlyTable<(&'static str, u128), ()>,
    pub by_state: ReadOnlyTable<(u8, u128), ()>,
    pub by_kind: ReadOnlyTable<(u8, u128), ()>,
    pub by_commit: ReadOnlyTable<(&'static str, u128), ()>,
    pub by_appliance_state: ReadOnlyTable<(&'static str, u8, u128), ()>,
    pub idempotency: ReadOnlyTable<&'static str, u128>,
    pub in_flight: ReadOnlyTable<u128, ()>,
    pub appliances: ReadOnlyTable<&'static str, &'static [u8]>,
    pub snapshots: ReadOnlyTable<(&'static str, i64, &'static str), &'static [u8]>,
}

impl R {
    pub fn open(txn: &ReadTransaction) -> Result<R, JournalError> {
        Ok(R {
            ops: txn.open_table(OPS).map_err(storage)?,
            by_appliance: txn.open_table(BY_APPLIANCE).map_err(storage)?,
            by_state: txn.open_table(BY_STATE).map_err(storage)?,
            by_kind: txn.open_table(BY_KIND).map_err(storage)?,
            by_commit: txn.open_table(BY_COMMIT).map_err(storage)?,
            by_appliance_state: txn.open_table(BY_APPLIANCE_STATE).map_err(storage)?,
            idempotency: txn.open_table(IDEMPOTENCY).map_err(storage)?,
            in_flight: txn.open_table(IN_FLIGHT).map_err(storage)?,
            appliances: txn.open_table(APPLIANCES).map_err(storage)?,
            snapshots: txn.open_table(SNAPSHOTS).map_err(storage)?,
        })
    }

    pub fn load(&self, id: OpId) -> Result<Option<Operation>, JournalError> {
        let Some(g) = self.ops.get(id.key()).map_err(storage)? else {
            return Ok(None);
        };
        decode("ops", &id.to_string(), g.value()).map(Some)
    }
}
