//! The journal: every operation on an appliance, each appliance's status and the snapshot
//! index, in one embedded redb file (`<state_dir>/journal.redb`).
//!
//! Owns: the operation records and their state machine (the journal refuses any transition the
//! table in [`OpState::can_go_to`] does not allow), the write-ahead `begin` with idempotency,
//! the index tables and the queries over them, durability (one writer thread, group commit),
//! the schema version and its migrations, retention, redaction of what it stores, and the
//! integrity check and export behind `vnfsync journal`.
//! Must not: talk to devices, decide what to change, or let a redb type out of this module
//! (it is the only code that knows redb).
//!
//! Use from async code: every call returns a [`Ticket`] (writes) or a [`Reading`] (reads) that
//! is either `.await`ed — the work runs on the writer thread or in `spawn_blocking`, never on a
//! tokio worker — or `.wait()`ed from plain threads (the CLI).
//!
//! ```no_run
//! # async fn demo(journal: vnfsync::journal::Journal) -> Result<(), vnfsync::journal::JournalError> {
//! use vnfsync::journal::{Begun, Change, Intent, OpKind, OpState};
//! let intent = Intent { appliance: "edge-1".into(), kind: OpKind::Apply, commit: "abc123".into(),
//!     idempotency_key: "sha256…".into(), ..Intent::default() };
//! let op = match journal.begin(intent).await? {
//!     Begun::New(op) => op,                        // durable: now touch the device
//!     Begun::Completed(op) => return Ok(()),       // already done, no device call
//!     Begun::InFlight(op) => return Ok(()),        // someone (or recovery) owns it
//! };
//! journal.change(op.id, Change::to(OpState::InProgress).snapshot("snap-1")).await?;
//! # Ok(()) }
//! ```

mod check;
mod migrate;
mod query;
mod record;
mod redact;
mod retention;
mod store;
mod writer;

use std::future::{Future, IntoFuture};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::mpsc;
use std::thread::JoinHandle;

use jiff::Timestamp;
use redb::{Database, DatabaseError, ReadableDatabase, ReadableTable};
use tokio::sync::oneshot;

pub use check::CheckReport;
pub use query::{Cursor, Page, Query};
pub use record::{
    ApplianceStatus, Breaker, Change, CommitMode, ErrorRecord, Intent, OpId, OpKind, OpState,
    Operation, ProbeResult, SnapshotEntry, Step, VALIDATE_APPLIANCE,
};
pub use redact::{redact, sensitive};
pub use retention::{Pruned, Retention};
pub use store::{Begun, SCHEMA_VERSION};

use store::{R, W, storage};
use writer::{Clock, Job, Typed};

/// The journal's file name inside the state dir.
pub const FILE_NAME: &str = "journal.redb";

/// What went wrong with the journal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JournalError {
    #[error(
        "{path}: the journal is held by another process (the daemon holds the journal while it runs: stop it, or ask its API)"
    )]
    Locked { path: PathBuf },
    #[error("{path}: no journal here")]
    Missing { path: PathBuf },
    #[error(
        "{path}: the journal has schema version {found}, newer than the version {supported} this vnfsync understands; use a newer vnfsync"
    )]
    NewerSchema {
        path: PathBuf,
        found: u64,
        supported: u64,
    },
    #[error("{path}: {message}")]
    Open { path: PathBuf, message: String },
    #[error("journal storage: {0}")]
    Storage(String),
    #[error("journal table {table}, record {key}: {message}")]
    Corrupt {
        table: String,
        key: String,
        message: String,
    },
    #[error("operation {id}: {from} → {to} is not a transition the journal allows")]
    Transition {
        id: OpId,
        from: OpState,
        to: OpState,
    },
    #[error("operation {id} is {state}: a finished operation does not change")]
    Finished { id: OpId, state: OpState },
    #[error("operation {id} is not in the journal")]
    NotFound { id: OpId },
    #[error("refused: {0}")]
    BadIntent(String),
    #[error("bad cursor `{0}`")]
    Cursor(String),
    #[error("the journal's writer thread has stopped")]
    Closed,
}

pub type Result<T, E = JournalError> = std::result::Result<T, E>;

/// How to open a journal.
#[derive(Clone, Default)]
pub struct Options {
    /// Create the file (and its directory) when missing. `false`: a missing file is
    /// [`JournalError::Missing`] (the CLI reads; it does not create).
    pub create: bool,
    /// The wall clock (tests pin it); `None`: the system clock.
    pub clock: Option<Arc<dyn Fn() -> Timestamp + Send + Sync>>,
    /// Told, on the writer thread, how long each durable commit took (the daemon's
    /// `journal_seconds` histogram). Must be quick: the next batch waits for it.
    pub on_commit: Option<Arc<dyn Fn(std::time::Duration) + Send + Sync>>,
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("create", &self.create)
            .field("clock", &self.clock.as_ref().map(|_| "custom"))
            .field("on_commit", &self.on_commit.is_some())
            .finish()
    }
}

/// What opening found (for `journal check`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opened {
    /// The schema version the file had before opening (migrated to [`SCHEMA_VERSION`]).
    pub from_version: u64,
    /// Whether redb had to repair the file (it should not: every commit records the allocator
    /// state).
    pub repaired: bool,
}

struct Inner {
    path: PathBuf,
    db: Arc<Database>,
    tx: Option<mpsc::Sender<Box<dyn Job>>>,
    thread: Option<JoinHandle<()>>,
    clock: Clock,
    opened: Opened,
    commits: Arc<std::sync::atomic::AtomicU64>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the channel ends the writer thread once it has answered what is queued.
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A handle on the open journal; clones share the file and its writer thread.
#[derive(Clone)]
pub struct Journal {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("path", &self.inner.path)
            .finish()
    }
}

/// A write on its way to durability: `.await` it (async) or [`Ticket::wait`] (threads).
/// The write is queued when the ticket is made, whether or not anyone waits.
#[must_use = "a write is only known to be durable once its ticket answers"]
pub struct Ticket<T> {
    rx: std::result::Result<oneshot::Receiver<Result<T>>, JournalError>,
}

impl<T: Send + 'static> Ticket<T> {
    /// Block the current thread until the write is durable. Not for async code (use `.await`):
    /// called on a tokio worker it panics (tokio refuses to block a worker).
    pub fn wait(self) -> Result<T> {
        self.rx?.blocking_recv().map_err(|_| JournalError::Closed)?
    }
}

impl<T: Send + 'static> IntoFuture for Ticket<T> {
    type Output = Result<T>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<T>> + Send>>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move { self.rx?.await.map_err(|_| JournalError::Closed)? })
    }
}

type ReadWork<T> = Box<dyn FnOnce(&R) -> Result<T> + Send>;

/// A read: `.await` it (runs in `spawn_blocking`) or [`Reading::wait`] (runs here).
#[must_use = "a reading does nothing until awaited or waited"]
pub struct Reading<T> {
    db: Arc<Database>,
    work: ReadWork<T>,
}

impl<T: Send + 'static> Reading<T> {
    /// Run the read on the current thread (blocking: from async code, `.await` instead).
    pub fn wait(self) -> Result<T> {
        let txn = self.db.begin_read().map_err(storage)?;
        let r = R::open(&txn)?;
        (self.work)(&r)
    }
}

impl<T: Send + 'static> IntoFuture for Reading<T> {
    type Output = Result<T>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<T>> + Send>>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            tokio::task::spawn_blocking(move || self.wait())
                .await
                .map_err(|_| JournalError::Closed)?
        })
    }
}

impl Journal {
    /// The journal file of a state dir.
    pub fn path_in(state_dir: &Path) -> PathBuf {
        state_dir.join(FILE_NAME)
    }

    /// Open (or with `options.create`, create) the journal at `path`, migrating an older
    /// schema forward in one write transaction, and start its writer thread. Blocking: call
    /// it at startup or from `spawn_blocking`.
    pub fn open(path: impl AsRef<Path>, options: Options) -> Result<Journal> {
        let path = path.as_ref().to_path_buf();
        if !path.exists() {
            if !options.create {
                return Err(JournalError::Missing { path });
            }
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| JournalError::Open {
                    path: path.clone(),
                    message: format!("creating {}: {e}", dir.display()),
                })?;
            }
        }
        let repaired = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = repaired.clone();
        let mut builder = redb::Builder::new();
        builder.set_repair_callback(move |_| flag.store(true, std::sync::atomic::Ordering::SeqCst));
        let db = builder.create(&path).map_err(|e| match e {
            DatabaseError::DatabaseAlreadyOpen => JournalError::Locked { path: path.clone() },
            e => JournalError::Open {
                path: path.clone(),
                message: e.to_string(),
            },
        })?;
        let from_version = migrate::prepare(&db, &path)?;
        let db = Arc::new(db);
        let last_id = {
            let txn = db.begin_read().map_err(storage)?;
            let r = R::open(&txn)?;
            r.ops
                .last()
                .map_err(storage)?
                .map(|(k, _)| k.value())
                .unwrap_or(0)
        };
        let clock: Clock = options.clock.unwrap_or_else(|| Arc::new(Timestamp::now));
        let commits = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let on_commit = options.on_commit;
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("journal-writer".into())
            .spawn({
                let db = db.clone();
                let clock = clock.clone();
                let commits = commits.clone();
                move || writer::run(db, rx, clock, last_id, commits, on_commit)
            })
            .map_err(|e| JournalError::Open {
                path: path.clone(),
                message: format!("starting the writer thread: {e}"),
            })?;
        Ok(Journal {
            inner: Arc::new(Inner {
                path,
                db,
                tx: Some(tx),
                thread: Some(thread),
                clock,
                opened: Opened {
                    from_version,
                    repaired: repaired.load(std::sync::atomic::Ordering::SeqCst),
                },
                commits,
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// What opening found: the version migrated from, whether redb repaired the file.
    pub fn opened(&self) -> Opened {
        self.inner.opened
    }

    /// How many durable commits the writer thread made since open (each may carry many
    /// writes: group commit).
    pub fn commits(&self) -> u64 {
        self.inner
            .commits
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The journal's clock (pinned in tests).
    pub fn now(&self) -> Timestamp {
        (self.inner.clock)()
    }

    fn submit<T: Send + 'static>(
        &self,
        work: impl for<'a> FnOnce(&mut W<'a>, Timestamp) -> Result<T> + Send + 'static,
    ) -> Ticket<T> {
        let (job, rx) = Typed::job(Box::new(work));
        let sent = match &self.inner.tx {
            Some(tx) => tx.send(job).map_err(|_| JournalError::Closed),
            None => Err(JournalError::Closed),
        };
        Ticket {
            rx: sent.map(|()| rx),
        }
    }

    fn read<T: Send + 'static>(
        &self,
        work: impl FnOnce(&R) -> Result<T> + Send + 'static,
    ) -> Reading<T> {
        Reading {
            db: self.inner.db.clone(),
            work: Box::new(work),
        }
    }

    /// Record an intent, write-ahead: answers once it is durable. With an idempotency key
    /// already used, answers the completed operation ([`Begun::Completed`]: do nothing) or the
    /// one still in flight ([`Begun::InFlight`]); after a failed or rolled-back one, the new
    /// operation links to it (`retry_of`).
    pub fn begin(&self, intent: Intent) -> Ticket<Begun> {
        self.submit(move |w, now| store::begin(w, now, intent))
    }

    /// Apply a change to an operation: a state transition (refused unless the table allows
    /// it), a step, what was learnt. Answers the updated operation once it is durable.
    pub fn change(&self, id: OpId, change: Change) -> Ticket<Operation> {
        self.submit(move |w, now| store::change(w, now, id, change))
    }

    /// Update an appliance's status (created on first use) with `f`; answers the new status
    /// once durable.
    pub fn update_status(
        &self,
        appliance: impl Into<String>,
        f: impl FnOnce(&mut ApplianceStatus) + Send + 'static,
    ) -> Ticket<ApplianceStatus> {
        let appliance = appliance.into();
        self.submit(move |w, _| store::update_status(w, &appliance, Box::new(f)))
    }

    /// Add a snapshot to the index.
    pub fn record_snapshot(&self, entry: SnapshotEntry) -> Ticket<()> {
        self.submit(move |w, _| store::record_snapshot(w, entry))
    }

    /// Write whole records in one transaction (bulk loads, restoring an export). Redacted and
    /// indexed like any other write; an id already present is replaced.
    pub fn import(&self, ops: Vec<Operation>) -> Ticket<usize> {
        self.submit(move |w, _| store::import(w, ops))
    }

    /// Forget operations and snapshot records `keep` does not keep, in one transaction
    /// (never an in-flight operation or an appliance's last good snapshot). Run it
    /// periodically so each run has little to do.
    pub fn prune(&self, keep: Retention) -> Ticket<Pruned> {
        self.submit(move |w, now| retention::prune(w, now, keep))
    }

    /// One operation by id.
    pub fn get(&self, id: OpId) -> Reading<Option<Operation>> {
        self.read(move |r| r.load(id))
    }

    /// Every operation not yet in a final state, oldest first (what recovery must end).
    pub fn in_flight(&self) -> Reading<Vec<Operation>> {
        self.read(|r| {
            let mut out = Vec::new();
            for entry in r.in_flight.iter().map_err(storage)? {
                let (k, _) = entry.map_err(storage)?;
                let id = OpId::from_key(k.value());
                out.push(r.load(id)?.ok_or_else(|| JournalError::Corrupt {
                    table: "in_flight".into(),
                    key: id.to_string(),
                    message: "no such operation".into(),
                })?);
            }
            Ok(out)
        })
    }

    /// One appliance's status.
    pub fn status(&self, appliance: impl Into<String>) -> Reading<Option<ApplianceStatus>> {
        let appliance = appliance.into();
        self.read(
            move |r| match r.appliances.get(appliance.as_str()).map_err(storage)? {
                Some(g) => store::decode("appliances", &appliance, g.value()).map(Some),
                None => Ok(None),
            },
        )
    }

    /// Every appliance's status, by name.
    pub fn statuses(&self) -> Reading<Vec<ApplianceStatus>> {
        self.read(|r| {
            let mut out = Vec::new();
            for entry in r.appliances.iter().map_err(storage)? {
                let (k, v) = entry.map_err(storage)?;
                out.push(store::decode("appliances", k.value(), v.value())?);
            }
            Ok(out)
        })
    }

    /// An appliance's snapshots, newest first.
    pub fn snapshots(&self, appliance: impl Into<String>) -> Reading<Vec<SnapshotEntry>> {
        let appliance = appliance.into();
        self.read(move |r| {
            let mut out = Vec::new();
            let a = appliance.as_str();
            for entry in r
                .snapshots
                .range((a, i64::MIN, "")..)
                .map_err(storage)?
                .rev()
            {
                let (k, v) = entry.map_err(storage)?;
                if k.value().0 != a {
                    continue;
                }
                out.push(store::decode("snapshots", k.value().2, v.value())?);
            }
            Ok(out)
        })
    }

    /// Verify the file: indexes agree with the records both ways, every unfinished operation
    /// has its in-flight entry and no finished one has, idempotency entries point at
    /// operations with that key. Reads everything: for `vnfsync journal check`, not hot paths.
    pub fn check(&self) -> Reading<CheckReport> {
        let opened = self.inner.opened;
        self.read(move |r| check::run(r, opened))
    }

    /// Every operation created at or after `since`, oldest first, passed to `each` (the audit
    /// export). Blocking.
    pub fn export(
        &self,
        since: Option<Timestamp>,
        mut each: impl FnMut(&Operation) -> std::io::Result<()> + Send + 'static,
    ) -> Reading<u64> {
        self.read(move |r| {
            let lo = since.map(OpId::lower_bound).unwrap_or(0);
            let mut n = 0;
            for entry in r.ops.range(lo..).map_err(storage)? {
                let (k, v) = entry.map_err(storage)?;
                let op: Operation =
                    store::decode("ops", &OpId::from_key(k.value()).to_string(), v.value())?;
                if since.is_some_and(|t| op.created < t) {
                    continue;
                }
                each(&op).map_err(|e| JournalError::Storage(format!("writing the export: {e}")))?;
                n += 1;
            }
            Ok(n)
        })
    }

    /// Operations matching `query`, newest first, one page at a time (see [`Query`]).
    pub fn query(&self, query: Query) -> Reading<Page> {
        self.read(move |r| query::run(r, &query))
    }
}

#[cfg(test)]
mod tests;
