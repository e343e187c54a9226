//! Queries over the index tables, newest first, paged by cursor.
//!
//! A query walks one index (the most selective its filters allow: commit, appliance and
//! state, appliance, kind, state, else the operations table itself), inside the id range its time bounds give (ids are
//! UUIDv7, so a time range is a key range), and checks the other filters on each record it
//! loads. It stops after `limit` matches, so a query costs what it returns (plus what its
//! other filters skip), not what the journal holds.

use std::ops::ControlFlow;

use jiff::Timestamp;
use redb::ReadableTable;

use super::record::{OpId, OpKind, OpState, Operation};
use super::store::{R, storage};
use super::{JournalError, Result};

/// The default page size.
pub const DEFAULT_LIMIT: usize = 50;

/// Where the next page starts: the id of the last operation returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor(pub OpId);

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::str::FromStr for Cursor {
    type Err = JournalError;
    fn from_str(s: &str) -> Result<Self> {
        s.parse::<OpId>()
            .map(Cursor)
            .map_err(|_| JournalError::Cursor(s.to_owned()))
    }
}

/// Which operations, and how many.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    pub appliance: Option<String>,
    pub state: Option<OpState>,
    pub kind: Option<OpKind>,
    pub commit: Option<String>,
    /// Created at or after (millisecond precision).
    pub since: Option<Timestamp>,
    /// Created before.
    pub until: Option<Timestamp>,
    /// At most this many (0: [`DEFAULT_LIMIT`]).
    pub limit: usize,
    /// Continue after this operation (from [`Page::next`]).
    pub after: Option<Cursor>,
}

/// One page of results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub ops: Vec<Operation>,
    /// More operations match: pass this as [`Query::after`].
    pub next: Option<Cursor>,
}

impl Query {
    /// Whether an operation passes every filter (the cursor aside).
    pub fn matches(&self, op: &Operation) -> bool {
        self.appliance.as_ref().is_none_or(|a| *a == op.appliance)
            && self.state.is_none_or(|s| s == op.state)
            && self.kind.is_none_or(|k| k == op.kind)
            && self.commit.as_ref().is_none_or(|c| *c == op.commit)
            && self.since.is_none_or(|t| op.created >= t)
            && self.until.is_none_or(|t| op.created < t)
    }

    /// The half-open id range `[lo, hi)` the filters allow.
    fn id_range(&self) -> (u128, u128) {
        let lo = self.since.map(OpId::lower_bound).unwrap_or(0);
        let mut hi = self
            .until
            .map(|t| OpId::lower_bound(t).saturating_add(1 << 80))
            .unwrap_or(u128::MAX);
        if let Some(Cursor(c)) = self.after {
            hi = hi.min(c.key());
        }
        (lo, hi)
    }
}

pub(crate) fn run(r: &R, q: &Query) -> Result<Page> {
    let limit = if q.limit == 0 { DEFAULT_LIMIT } else { q.limit };
    let (lo, hi) = q.id_range();
    let mut ops = Vec::new();
    let mut more = false;
    if lo >= hi {
        return Ok(Page { ops, next: None });
    }
    let mut visit = |k: u128| -> Result<ControlFlow<()>> {
        let id = OpId::from_key(k);
        let op = r.load(id)?.ok_or_else(|| JournalError::Corrupt {
            table: "index".into(),
            key: id.to_string(),
            message: "an index names an operation that is not there".into(),
        })?;
        if q.matches(&op) {
            if ops.len() == limit {
                more = true;
                return Ok(ControlFlow::Break(()));
            }
            ops.push(op);
        }
        Ok(ControlFlow::Continue(()))
    };
    // `hi` is exclusive; redb ranges over `..hi` exclude it too.
    if let Some(c) = &q.commit {
        walk_str(&r.by_commit, c, lo, hi, &mut visit)?;
    } else if let (Some(a), Some(s)) = (&q.appliance, q.state) {
        for entry in r
            .by_appliance_state
            .range((a.as_str(), s.code(), lo)..(a.as_str(), s.code(), hi))
            .map_err(storage)?
            .rev()
        {
            let (k, _) = entry.map_err(storage)?;
            if visit(k.value().2)?.is_break() {
                break;
            }
        }
    } else if let Some(a) = &q.appliance {
        walk_str(&r.by_appliance, a, lo, hi, &mut visit)?;
    } else if let Some(k) = q.kind {
        walk_code(&r.by_kind, k.code(), lo, hi, &mut visit)?;
    } else if let Some(s) = q.state {
        walk_code(&r.by_state, s.code(), lo, hi, &mut visit)?;
    } else {
        for entry in r.ops.range(lo..hi).map_err(storage)?.rev() {
            let (k, _) = entry.map_err(storage)?;
            if visit(k.value())?.is_break() {
                break;
            }
        }
    }
    let next = if more {
        ops.last().map(|op| Cursor(op.id))
    } else {
        None
    };
    Ok(Page { ops, next })
}

pub(crate) type Visit<'a> = dyn FnMut(u128) -> Result<ControlFlow<()>> + 'a;

pub(crate) fn walk_str(
    t: &redb::ReadOnlyTable<(&'static str, u128), ()>,
    prefix: &str,
    lo: u128,
    hi: u128,
    visit: &mut Visit<'_>,
) -> Result<()> {
    for entry in t.range((prefix, lo)..(prefix, hi)).map_err(storage)?.rev() {
        let (k, _) = entry.map_err(storage)?;
        if visit(k.value().1)?.is_break() {
            break;
        }
    }
    Ok(())
}

pub(crate) fn walk_code(
    t: &redb::ReadOnlyTable<(u8, u128), ()>,
    code: u8,
    lo: u128,
    hi: u128,
    visit: &mut Visit<'_>,
) -> Result<()> {
    for entry in t.range((code, lo)..(code, hi)).map_err(storage)?.rev() {
        let (k, _) = entry.map_err(storage)?;
        if visit(k.value().1)?.is_break() {
            break;
        }
    }
    Ok(())
}
