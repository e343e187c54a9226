//! Schema versions and the migrations between them, run at open in one write transaction:
//! either the file is at the current version afterwards, or (on any error) it is untouched.
//!
//! - 1 → 2: build the `by_appliance_state` index from the records.

use std::path::Path;

use redb::{ReadableTable, WriteTransaction};

use super::record::Operation;
use super::store::{META, OPS, SCHEMA_VERSION, VERSION_KEY, W, decode, storage};
use super::{JournalError, OpId, Result};

/// Record the version of a new file, migrate an older one, refuse a newer one. Returns the
/// version the file had.
pub(super) fn prepare(db: &redb::Database, path: &Path) -> Result<u64> {
    let mut txn = db.begin_write().map_err(storage)?;
    txn.set_quick_repair(true);
    let found = {
        let meta = txn.open_table(META).map_err(storage)?;
        meta.get(VERSION_KEY).map_err(storage)?.map(|g| g.value())
    };
    let from = match found {
        Some(v) if v > SCHEMA_VERSION => {
            return Err(JournalError::NewerSchema {
                path: path.to_path_buf(),
                found: v,
                supported: SCHEMA_VERSION,
            });
        }
        Some(0) => {
            return Err(JournalError::Open {
                path: path.to_path_buf(),
                message: "schema version 0 is not a version any vnfsync wrote".into(),
            });
        }
        Some(v) => v,
        // A new file: every table is created below.
        None => SCHEMA_VERSION,
    };
    if found == Some(SCHEMA_VERSION) {
        // Nothing to write: spare the open a durable commit.
        txn.abort().map_err(storage)?;
        return Ok(SCHEMA_VERSION);
    }
    for v in from..SCHEMA_VERSION {
        match v {
            1 => v1_to_v2(&txn)?,
            _ => unreachable!("no migration from schema version {v}: SCHEMA_VERSION skipped one"),
        }
    }
    txn.open_table(META)
        .map_err(storage)?
        .insert(VERSION_KEY, SCHEMA_VERSION)
        .map_err(storage)?;
    // Every table exists from here on, so readers can open them all.
    let mut last = 0;
    drop(W::open(&txn, &mut last)?);
    txn.commit().map_err(storage)?;
    Ok(from)
}

/// Version 2 adds the (appliance, state, id) index: fill it from the records.
fn v1_to_v2(txn: &WriteTransaction) -> Result<()> {
    let ops = txn.open_table(OPS).map_err(storage)?;
    let mut index = txn
        .open_table(super::store::BY_APPLIANCE_STATE)
        .map_err(storage)?;
    for entry in ops.iter().map_err(storage)? {
        let (k, v) = entry.map_err(storage)?;
        let key = k.value();
        let op: Operation = decode("ops", &OpId::from_key(key).to_string(), v.value())?;
        index
            .insert((op.appliance.as_str(), op.state.code(), key), ())
            .map_err(storage)?;
    }
    Ok(())
}
