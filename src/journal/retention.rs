//! Retention: forget old operations and snapshot records, by age and by count per appliance.
//!
//! Never pruned: an operation still in flight (recovery needs it), the appliance's last good
//! snapshot record, and a snapshot an in-flight operation names.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use jiff::Timestamp;
use redb::ReadableTable;

use super::record::{ApplianceStatus, OpId, SnapshotEntry};
use super::store::{W, decode, snapshot_key, storage};
use super::{JournalError, Result};

/// What to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Forget what is older than this (`None`: keep regardless of age).
    pub max_age: Option<Duration>,
    /// Keep at most this many operations (and snapshot records) per appliance, newest first.
    pub keep_per_appliance: Option<usize>,
}

impl Default for Retention {
    /// 90 days, no count limit.
    fn default() -> Self {
        Retention {
            max_age: Some(Duration::from_secs(90 * 24 * 3600)),
            keep_per_appliance: None,
        }
    }
}

/// What a prune removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Pruned {
    pub operations: u64,
    pub snapshots: u64,
}

pub(crate) fn prune(w: &mut W<'_>, now: Timestamp, keep: Retention) -> Result<Pruned> {
    let cutoff = match keep.max_age {
        Some(age) => {
            let span = jiff::SignedDuration::try_from(age)
                .map_err(|e| JournalError::BadIntent(format!("retention age: {e}")))?;
            Some(now.checked_sub(span).unwrap_or(Timestamp::MIN))
        }
        None => None,
    };
    let mut doomed: BTreeSet<u128> = BTreeSet::new();
    if let Some(cutoff) = cutoff {
        // Ids are time-ordered: everything older than the cutoff is one key range.
        let hi = OpId::lower_bound(cutoff);
        for entry in w.ops.range(..hi).map_err(storage)? {
            let (k, _) = entry.map_err(storage)?;
            doomed.insert(k.value());
        }
    }
    if let Some(n) = keep.keep_per_appliance {
        // Visit each appliance's index range once: skip its newest `n`, doom the rest.
        let mut from = String::new();
        loop {
            let appliance = match w
                .by_appliance
                .range((from.as_str(), 0)..)
                .map_err(storage)?
                .next()
            {
                Some(entry) => entry.map_err(storage)?.0.value().0.to_owned(),
                None => break,
            };
            let a = appliance.as_str();
            for entry in w
                .by_appliance
                .range((a, 0)..=(a, u128::MAX))
                .map_err(storage)?
                .rev()
                .skip(n)
            {
                doomed.insert(entry.map_err(storage)?.0.value().1);
            }
            from = format!("{appliance}\0");
        }
    }
    let mut pruned = Pruned::default();
    for k in doomed {
        if w.in_flight.get(k).map_err(storage)?.is_some() {
            continue;
        }
        if let Some(op) = w.load(OpId::from_key(k))? {
            w.remove(&op)?;
            pruned.operations += 1;
        }
    }
    pruned.snapshots = prune_snapshots(w, cutoff, keep.keep_per_appliance)?;
    Ok(pruned)
}

fn prune_snapshots(w: &mut W<'_>, cutoff: Option<Timestamp>, keep: Option<usize>) -> Result<u64> {
    let mut protected: BTreeSet<(String, String)> = BTreeSet::new();
    for entry in w.appliances.iter().map_err(storage)? {
        let (k, v) = entry.map_err(storage)?;
        let s: ApplianceStatus = decode("appliances", k.value(), v.value())?;
        if let Some(id) = s.last_good_snapshot {
            protected.insert((s.appliance, id));
        }
    }
    let in_flight: Vec<u128> = w
        .in_flight
        .iter()
        .map_err(storage)?
        .map(|e| e.map(|(k, _)| k.value()).map_err(storage))
        .collect::<Result<_>>()?;
    for k in in_flight {
        if let Some(op) = w.load(OpId::from_key(k))?
            && let Some(id) = op.snapshot_id
        {
            protected.insert((op.appliance, id));
        }
    }
    let mut per_appliance: BTreeMap<String, Vec<SnapshotEntry>> = BTreeMap::new();
    for entry in w.snapshots.iter().map_err(storage)? {
        let (k, v) = entry.map_err(storage)?;
        let s: SnapshotEntry = decode("snapshots", k.value().2, v.value())?;
        per_appliance
            .entry(s.appliance.clone())
            .or_default()
            .push(s);
    }
    let mut removed = 0;
    for (_, mut list) in per_appliance {
        list.reverse(); // newest first
        for (i, s) in list.iter().enumerate() {
            let too_many = keep.is_some_and(|n| i >= n);
            let too_old = cutoff.is_some_and(|c| s.taken < c);
            if (too_many || too_old) && !protected.contains(&(s.appliance.clone(), s.id.clone())) {
                w.snapshots.remove(snapshot_key(s)).map_err(storage)?;
                removed += 1;
            }
        }
    }
    Ok(removed)
}
