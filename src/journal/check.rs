//! `journal check`: the records and every index agree, both ways.

use redb::{ReadableTable, ReadableTableMetadata};
use serde::Serialize;

use super::record::{OpId, Operation};
use super::store::{R, SCHEMA_VERSION, decode, storage};
use super::{Opened, Result};

/// What a check found. `problems` empty: the journal is consistent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckReport {
    pub schema_version: u64,
    pub migrated_from: u64,
    pub repaired: bool,
    pub operations: u64,
    pub in_flight: u64,
    pub appliances: u64,
    pub snapshots: u64,
    pub problems: Vec<String>,
}

pub(crate) fn run(r: &R, opened: Opened) -> Result<CheckReport> {
    let mut problems = Vec::new();
    let mut operations = 0;
    let mut in_flight = 0;
    let mut has = |present: bool, what: String| {
        if !present {
            problems.push(what);
        }
    };
    // Records → indexes.
    let mut ops: Vec<Operation> = Vec::new();
    for entry in r.ops.iter().map_err(storage)? {
        let (k, v) = entry.map_err(storage)?;
        let key = k.value();
        let id = OpId::from_key(key);
        let op: Operation = match decode("ops", &id.to_string(), v.value()) {
            Ok(op) => op,
            Err(e) => {
                has(false, e.to_string());
                continue;
            }
        };
        operations += 1;
        has(
            op.id == id,
            format!("operation {id}: its record says id {}", op.id),
        );
        let a = op.appliance.as_str();
        let s = op.state.code();
        has(
            r.by_appliance.get((a, key)).map_err(storage)?.is_some(),
            format!("operation {id}: missing from by_appliance"),
        );
        has(
            r.by_state.get((s, key)).map_err(storage)?.is_some(),
            format!("operation {id}: missing from by_state"),
        );
        has(
            r.by_appliance_state
                .get((a, s, key))
                .map_err(storage)?
                .is_some(),
            format!("operation {id}: missing from by_appliance_state"),
        );
        has(
            r.by_kind
                .get((op.kind.code(), key))
                .map_err(storage)?
                .is_some(),
            format!("operation {id}: missing from by_kind"),
        );
        if !op.commit.is_empty() {
            has(
                r.by_commit
                    .get((op.commit.as_str(), key))
                    .map_err(storage)?
                    .is_some(),
                format!("operation {id}: missing from by_commit"),
            );
        }
        let listed = r.in_flight.get(key).map_err(storage)?.is_some();
        if op.state.is_final() {
            has(
                !listed,
                format!("operation {id}: {} but listed in flight", op.state),
            );
        } else {
            in_flight += 1;
            has(
                listed,
                format!(
                    "operation {id}: {} but not listed in flight (recovery would miss it)",
                    op.state
                ),
            );
        }
        if !op.idempotency_key.is_empty() {
            has(
                r.idempotency
                    .get(op.idempotency_key.as_str())
                    .map_err(storage)?
                    .is_some_and(|g| g.value() >= key),
                format!("operation {id}: its idempotency key is not indexed"),
            );
        }
        ops.push(op);
    }
    // Indexes → records.
    let find = |key: u128| -> Option<&Operation> {
        ops.binary_search_by_key(&key, |op| op.id.key())
            .ok()
            .map(|i| &ops[i])
    };
    let mut stray = Vec::new();
    for entry in r.by_appliance.iter().map_err(storage)? {
        let (k, _) = entry.map_err(storage)?;
        let (a, key) = k.value();
        if find(key).is_none_or(|op| op.appliance != a) {
            stray.push(format!(
                "by_appliance ({a}, {}) names no such operation",
                OpId::from_key(key)
            ));
        }
    }
    for entry in r.by_commit.iter().map_err(storage)? {
        let (k, _) = entry.map_err(storage)?;
        let (c, key) = k.value();
        if find(key).is_none_or(|op| op.commit != c) {
            stray.push(format!(
                "by_commit ({c}, {}) names no such operation",
                OpId::from_key(key)
            ));
        }
    }
    for entry in r.by_state.iter().map_err(storage)? {
        let (k, _) = entry.map_err(storage)?;
        let (s, key) = k.value();
        if find(key).is_none_or(|op| op.state.code() != s) {
            stray.push(format!(
                "by_state ({s}, {}) names no such operation",
                OpId::from_key(key)
            ));
        }
    }
    for entry in r.by_appliance_state.iter().map_err(storage)? {
        let (k, _) = entry.map_err(storage)?;
        let (a, s, key) = k.value();
        if find(key).is_none_or(|op| op.state.code() != s || op.appliance != a) {
            stray.push(format!(
                "by_appliance_state ({a}, {s}, {}) names no such operation",
                OpId::from_key(key)
            ));
        }
    }
    for entry in r.by_kind.iter().map_err(storage)? {
        let (k, _) = entry.map_err(storage)?;
        let (c, key) = k.value();
        if find(key).is_none_or(|op| op.kind.code() != c) {
            stray.push(format!(
                "by_kind ({c}, {}) names no such operation",
                OpId::from_key(key)
            ));
        }
    }
    for entry in r.in_flight.iter().map_err(storage)? {
        let (k, _) = entry.map_err(storage)?;
        if find(k.value()).is_none() {
            stray.push(format!(
                "in_flight names {}, which is not there",
                OpId::from_key(k.value())
            ));
        }
    }
    for entry in r.idempotency.iter().map_err(storage)? {
        let (k, v) = entry.map_err(storage)?;
        if find(v.value()).is_none_or(|op| op.idempotency_key != k.value()) {
            stray.push(format!(
                "idempotency key {} names {}, which does not carry it",
                k.value(),
                OpId::from_key(v.value())
            ));
        }
    }
    problems.extend(stray);
    let appliances = r.appliances.len().map_err(storage)?;
    let snapshots = r.snapshots.len().map_err(storage)?;
    Ok(CheckReport {
        schema_version: SCHEMA_VERSION,
        migrated_from: opened.from_version,
        repaired: opened.repaired,
        operations,
        in_flight,
        appliances,
        snapshots,
        problems,
    })
}
