//! The writer thread and its group commit.
//!
//! redb is synchronous and has one write transaction at a time, so every write goes through one
//! dedicated OS thread (never a tokio worker). The thread takes the first waiting request, then
//! every other request already queued (up to [`MAX_BATCH`]), applies them all in one write
//! transaction, commits it durably (`Durability::Immediate`, quick-repair on, so a crash needs
//! no repair), and only then answers each caller. While one batch is being made durable, the
//! next one queues up: many concurrent writers share one fsync.
//!
//! A request that is refused (bad transition, unknown id) is refused before it writes anything
//! and does not disturb the rest of its batch. A storage failure fails the whole batch: no
//! caller of it is told its write is durable.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, TryRecvError};

use jiff::Timestamp;
use redb::Database;
use tokio::sync::oneshot;

use super::JournalError;
use super::store::{W, storage};

/// Most requests folded into one commit.
pub const MAX_BATCH: usize = 1024;

pub(crate) type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

type Work<T> = Box<dyn for<'a> FnOnce(&mut W<'a>, Timestamp) -> Result<T, JournalError> + Send>;

/// One queued write, type-erased so one channel carries them all.
pub(crate) trait Job: Send {
    /// Apply inside the batch's transaction. `Err` only for a storage failure (the batch is
    /// abandoned); a refusal is kept for the caller.
    fn apply(&mut self, w: &mut W<'_>, now: Timestamp) -> Result<(), JournalError>;
    /// Answer the caller once the batch is durable (or failed with `failure`).
    fn answer(self: Box<Self>, failure: Option<JournalError>);
}

pub(crate) struct Typed<T> {
    work: Option<Work<T>>,
    out: Option<Result<T, JournalError>>,
    reply: oneshot::Sender<Result<T, JournalError>>,
}

impl<T: Send + 'static> Typed<T> {
    pub fn job(work: Work<T>) -> (Box<dyn Job>, oneshot::Receiver<Result<T, JournalError>>) {
        let (reply, rx) = oneshot::channel();
        (
            Box::new(Typed {
                work: Some(work),
                out: None,
                reply,
            }),
            rx,
        )
    }
}

impl<T: Send + 'static> Job for Typed<T> {
    fn apply(&mut self, w: &mut W<'_>, now: Timestamp) -> Result<(), JournalError> {
        let Some(work) = self.work.take() else {
            return Ok(());
        };
        match work(w, now) {
            Err(e @ JournalError::Storage(_)) => Err(e),
            out => {
                self.out = Some(out);
                Ok(())
            }
        }
    }

    fn answer(self: Box<Self>, failure: Option<JournalError>) {
        let out = match (failure, self.out) {
            (Some(e), _) => Err(e),
            (None, Some(out)) => out,
            (None, None) => Err(JournalError::Storage(
                "the write was not applied (its batch failed)".into(),
            )),
        };
        // The caller may have gone away (a dropped future): nothing to tell.
        let _ = self.reply.send(out);
    }
}

/// The thread's loop: runs until every `Journal` handle is dropped.
pub(crate) fn run(
    db: Arc<Database>,
    rx: Receiver<Box<dyn Job>>,
    clock: Clock,
    mut last_id: u128,
    commits: Arc<AtomicU64>,
    on_commit: Option<Arc<dyn Fn(std::time::Duration) + Send + Sync>>,
) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        let saved_last = last_id;
        // tokio's clock outside a runtime is the monotonic system clock.
        let started = tokio::time::Instant::now();
        let outcome = commit_batch(&db, &mut batch, clock(), &mut last_id);
        match outcome {
            Ok(()) => {
                commits.fetch_add(1, Ordering::Relaxed);
                if let Some(f) = &on_commit {
                    f(started.elapsed());
                }
            }
            Err(_) => last_id = saved_last,
        }
        for job in batch {
            job.answer(outcome.as_ref().err().cloned());
        }
    }
}

fn commit_batch(
    db: &Database,
    batch: &mut [Box<dyn Job>],
    now: Timestamp,
    last_id: &mut u128,
) -> Result<(), JournalError> {
    let mut txn = db.begin_write().map_err(storage)?;
    txn.set_quick_repair(true);
    {
        let mut w = W::open(&txn, last_id)?;
        for job in batch.iter_mut() {
            if let Err(e) = job.apply(&mut w, now) {
                drop(w);
                txn.abort().map_err(storage)?;
                return Err(e);
            }
        }
    }
    txn.commit().map_err(storage)
}
