//! The local snapshot store: config.boot texts kept on the management host, so a device can be
//! restored even when its own copy is gone.
//!
//! Owns: the layout `<root>/<appliance>/<time>-<commit>.boot` (time as UTC
//! `YYYYmmddTHHMMSSZ`, commit abbreviated to 12 hex digits) and atomic writes (temp file +
//! rename). A snapshot is a whole device config, secrets included (password hashes, API keys):
//! directories are made 0700 and files 0600, readable by the daemon's user only. Must not know
//! how snapshots are taken.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Debug, thiserror::Error)]
#[error("snapshot store {path}: {source}")]
pub struct StoreError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// A directory of snapshots.
#[derive(Debug, Clone)]
pub struct SnapshotStore {
    root: PathBuf,
}

/// `YYYYmmddTHHMMSSZ` for a time (UTC, proleptic Gregorian; civil-from-days algorithm).
pub fn stamp(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

impl SnapshotStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        SnapshotStore { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Keep `boot` for `appliance` at `time`, taken before applying `commit`.
    pub fn save(
        &self,
        appliance: &str,
        commit: &str,
        time: SystemTime,
        boot: &str,
    ) -> Result<PathBuf, StoreError> {
        let dir = self.root.join(appliance);
        let err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| StoreError { path, source }
        };
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(err(&dir))?;
        let short: String = commit
            .chars()
            .filter(char::is_ascii_hexdigit)
            .take(12)
            .collect();
        let name = format!(
            "{}-{}.boot",
            stamp(time),
            if short.is_empty() { "none" } else { &short }
        );
        let path = dir.join(name);
        let tmp = dir.join(format!(".{}.tmp", std::process::id()));
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(err(&tmp))?;
        f.write_all(boot.as_bytes())
            .and_then(|()| f.sync_all())
            .map_err(err(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(err(&path))?;
        Ok(path)
    }

    /// Read a snapshot back.
    pub fn load(&self, path: &Path) -> Result<String, StoreError> {
        std::fs::read_to_string(path).map_err(|source| StoreError {
            path: path.to_path_buf(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn stamps_are_utc_calendar_times() {
        assert_eq!(stamp(UNIX_EPOCH), "19700101T000000Z");
        assert_eq!(
            stamp(UNIX_EPOCH + Duration::from_secs(1_795_000_000)),
            "20261118T110640Z"
        );
        assert_eq!(
            stamp(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "20000229T000000Z"
        );
    }

    #[test]
    fn save_and_load() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SnapshotStore::new(dir.path());
        let path = store
            .save(
                "edge-1",
                "0123456789abcdef0123",
                UNIX_EPOCH,
                "interfaces {\n}\n",
            )
            .expect("save");
        assert!(
            path.ends_with("edge-1/19700101T000000Z-0123456789ab.boot"),
            "{}",
            path.display()
        );
        assert_eq!(store.load(&path).expect("load"), "interfaces {\n}\n");
    }

    /// A snapshot holds the device's secrets: only the daemon's user may read it.
    #[test]
    fn snapshots_are_private_to_the_daemons_user() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SnapshotStore::new(dir.path().join("rollback"));
        let path = store
            .save("edge-1", "abc", UNIX_EPOCH, "service {\n}\n")
            .expect("save");
        let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&dir.path().join("rollback/edge-1")), 0o700);
        assert_eq!(mode(&dir.path().join("rollback")), 0o700);
    }
}
