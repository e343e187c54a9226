//! The journal's records: operations and their state machine, appliance status, snapshot
//! entries. Plain data with serde; the storage layout lives in `store.rs`.

use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// An operation's identity: a UUIDv7 whose timestamp is the operation's creation time, so the
/// ids sort by creation and a time range is a key range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OpId(pub Uuid);

impl OpId {
    /// The id as the big-endian integer the tables are keyed by.
    pub fn key(self) -> u128 {
        self.0.as_u128()
    }
    pub fn from_key(key: u128) -> OpId {
        OpId(Uuid::from_u128(key))
    }
    /// The smallest id whose timestamp is at or after `t` (for time-range bounds).
    pub fn lower_bound(t: Timestamp) -> u128 {
        let ms = u128::try_from(t.as_millisecond().max(0)).unwrap_or(0);
        (ms & ((1 << 48) - 1)) << 80
    }
}

impl fmt::Display for OpId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::str::FromStr for OpId {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(OpId)
    }
}

/// Where an operation stands (DESIGN.md: pending → in_progress → awaiting_confirm → completed |
/// rolled_back | failed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpState {
    Pending,
    InProgress,
    AwaitingConfirm,
    Completed,
    RolledBack,
    Failed,
}

impl OpState {
    pub const ALL: [OpState; 6] = [
        OpState::Pending,
        OpState::InProgress,
        OpState::AwaitingConfirm,
        OpState::Completed,
        OpState::RolledBack,
        OpState::Failed,
    ];

    /// The transition table, the only place it is written down. Everything not listed is
    /// refused by the journal.
    pub fn can_go_to(self, to: OpState) -> bool {
        use OpState::*;
        matches!(
            (self, to),
            (Pending, InProgress)
                | (InProgress, AwaitingConfirm)
                | (AwaitingConfirm, Completed | RolledBack | Failed)
                | (Pending | InProgress, Failed)
        )
    }

    /// Whether the operation is over (nothing may change it any more).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            OpState::Completed | OpState::RolledBack | OpState::Failed
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            OpState::Pending => "pending",
            OpState::InProgress => "in_progress",
            OpState::AwaitingConfirm => "awaiting_confirm",
            OpState::Completed => "completed",
            OpState::RolledBack => "rolled_back",
            OpState::Failed => "failed",
        }
    }

    /// The one-byte code of the state indexes (stable: part of the file format).
    pub(crate) fn code(self) -> u8 {
        match self {
            OpState::Pending => 0,
            OpState::InProgress => 1,
            OpState::AwaitingConfirm => 2,
            OpState::Completed => 3,
            OpState::RolledBack => 4,
            OpState::Failed => 5,
        }
    }
}

impl fmt::Display for OpState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl std::str::FromStr for OpState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        OpState::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown state `{s}` (one of {})",
                    OpState::ALL.map(|k| k.as_str()).join(", ")
                )
            })
    }
}

/// What an operation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpKind {
    #[default]
    Apply,
    Rollback,
    Restore,
    Probe,
    DriftCheck,
    Recover,
    /// A commit checked by the daemon as a whole; a rejected one is journaled as `failed`
    /// under the appliance name [`VALIDATE_APPLIANCE`] (it concerns the whole desired state).
    Validate,
}

/// The appliance name a [`OpKind::Validate`] operation is journaled under.
pub const VALIDATE_APPLIANCE: &str = "*";

impl OpKind {
    pub const ALL: [OpKind; 7] = [
        OpKind::Apply,
        OpKind::Rollback,
        OpKind::Restore,
        OpKind::Probe,
        OpKind::DriftCheck,
        OpKind::Recover,
        OpKind::Validate,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OpKind::Apply => "apply",
            OpKind::Rollback => "rollback",
            OpKind::Restore => "restore",
            OpKind::Probe => "probe",
            OpKind::DriftCheck => "drift_check",
            OpKind::Recover => "recover",
            OpKind::Validate => "validate",
        }
    }

    /// The one-byte code of the kind index (stable: part of the file format).
    pub(crate) fn code(self) -> u8 {
        match self {
            OpKind::Apply => 0,
            OpKind::Rollback => 1,
            OpKind::Restore => 2,
            OpKind::Probe => 3,
            OpKind::DriftCheck => 4,
            OpKind::Recover => 5,
            OpKind::Validate => 6,
        }
    }
}

impl fmt::Display for OpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl std::str::FromStr for OpKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        OpKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown kind `{s}` (one of {})",
                    OpKind::ALL.map(|k| k.as_str()).join(", ")
                )
            })
    }
}

/// How the write will be committed, decided before it happens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitMode {
    /// Who confirms: `"daemon"` after the probes pass, `"none"` for a plain commit, or a
    /// vendor-specific word.
    pub confirm_by: String,
    /// The confirm window, in seconds (0: no commit-confirm).
    pub window_secs: u64,
    /// Whether the current config is saved before the commit (versions whose confirm timeout
    /// reboots to the saved config).
    pub save_first: bool,
}

/// An error as the journal keeps it: a `VNF_*` code (the driver's [`crate::driver::ErrorCode`]
/// or the daemon's own), whether trying again may help, our message and the device's words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorRecord {
    pub code: String,
    pub retryable: bool,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
}

impl ErrorRecord {
    /// The record of a driver failure, by the driver's own classification.
    pub fn from_driver(e: &crate::driver::DriverError) -> ErrorRecord {
        ErrorRecord {
            code: e.code().as_str().to_owned(),
            retryable: e.retryable(),
            message: e.to_string(),
            device: e.device_message().map(str::to_owned),
        }
    }

    /// A record with a code of the daemon's own (`VNF_INTERNAL`, `VNF_BAD_INPUT`, ...).
    pub fn new(code: impl Into<String>, retryable: bool, message: impl Into<String>) -> Self {
        ErrorRecord {
            code: code.into(),
            retryable,
            message: message.into(),
            device: None,
        }
    }
}

/// The outcome of one health probe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeResult {
    pub name: String,
    pub passed: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
    pub at: Timestamp,
}

/// One timestamped step of an operation (each state change adds one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub at: Timestamp,
    pub what: String,
}

/// What the engine intends to do, recorded by [`crate::journal::Journal::begin`] before the
/// first device write.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Intent {
    pub appliance: String,
    pub kind: OpKind,
    pub commit: String,
    /// DESIGN invariant 4: SHA-256 of appliance + normalised plan + base hash. Empty: none.
    pub idempotency_key: String,
    pub base_hash: String,
    pub target_hash: String,
    /// The planned commands, secret values already masked (`show configuration` style).
    pub planned: Vec<String>,
    pub commit_mode: Option<CommitMode>,
    pub confirm_deadline: Option<Timestamp>,
    pub snapshot_id: Option<String>,
    /// What is sent, summarised; redacted again before it is stored.
    pub request_summary: Option<String>,
    pub correlation_id: Option<String>,
}

/// One operation on one appliance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operation {
    pub id: OpId,
    pub appliance: String,
    pub kind: OpKind,
    pub state: OpState,
    pub commit: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub idempotency_key: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub base_hash: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub target_hash: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub planned: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit_mode: Option<CommitMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirm_deadline: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_summary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_summary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor_ref: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorRecord>,
    #[serde(default)]
    pub attempts: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub probes: Vec<ProbeResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    /// The failed or rolled-back operation with the same idempotency key this one retries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_of: Option<OpId>,
    pub created: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<Step>,
}

/// A change to an operation: optionally a new state, plus what was learnt on the way.
/// Build with [`Change::to`] or [`Change::note`] and the setters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Change {
    pub state: Option<OpState>,
    pub step: Option<String>,
    pub snapshot_id: Option<String>,
    pub vendor_ref: Option<String>,
    pub response_summary: Option<String>,
    pub confirm_deadline: Option<Timestamp>,
    pub error: Option<ErrorRecord>,
    pub probes: Vec<ProbeResult>,
    /// Count one more attempt at the device.
    pub attempt: bool,
}

impl Change {
    /// Move the operation to `state` (checked against the transition table).
    pub fn to(state: OpState) -> Change {
        Change {
            state: Some(state),
            ..Change::default()
        }
    }
    /// Record a step without changing the state (refused on a finished operation).
    pub fn note(what: impl Into<String>) -> Change {
        Change {
            step: Some(what.into()),
            ..Change::default()
        }
    }
    pub fn step(mut self, what: impl Into<String>) -> Self {
        self.step = Some(what.into());
        self
    }
    pub fn snapshot(mut self, id: impl Into<String>) -> Self {
        self.snapshot_id = Some(id.into());
        self
    }
    pub fn vendor_ref(mut self, r: impl Into<String>) -> Self {
        self.vendor_ref = Some(r.into());
        self
    }
    pub fn response(mut self, summary: impl Into<String>) -> Self {
        self.response_summary = Some(summary.into());
        self
    }
    pub fn confirm_deadline(mut self, at: Timestamp) -> Self {
        self.confirm_deadline = Some(at);
        self
    }
    pub fn error(mut self, e: ErrorRecord) -> Self {
        self.error = Some(e);
        self
    }
    pub fn probe(mut self, p: ProbeResult) -> Self {
        self.probes.push(p);
        self
    }
    pub fn attempt(mut self) -> Self {
        self.attempt = true;
        self
    }
}

/// The circuit breaker of an appliance, as the engine last set it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Breaker {
    #[default]
    Closed,
    Open,
    HalfOpen,
}

/// What the journal knows of one appliance.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ApplianceStatus {
    pub appliance: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_applied_commit: Option<String>,
    /// Scope path → hash of the config inside it, at the last applied commit.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub scope_hashes: std::collections::BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_good_snapshot: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_contact: Option<Timestamp>,
    #[serde(default)]
    pub reachable: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<ErrorRecord>,
    #[serde(default)]
    pub breaker: Breaker,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parked_reason: Option<String>,
}

/// One snapshot the daemon took, and where it is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotEntry {
    pub appliance: String,
    pub id: String,
    pub commit: String,
    pub taken: Timestamp,
    /// Where the snapshot is kept (a file under the state dir, or a device-side name).
    pub location: String,
}

#[cfg(test)]
mod tests {
    use super::OpState::{self, *};

    /// The whole table, written out independently of `can_go_to`: every pair of states is
    /// either listed here as allowed or must be refused.
    const ALLOWED: [(OpState, OpState); 7] = [
        (Pending, InProgress),
        (InProgress, AwaitingConfirm),
        (AwaitingConfirm, Completed),
        (AwaitingConfirm, RolledBack),
        (AwaitingConfirm, Failed),
        (Pending, Failed),
        (InProgress, Failed),
    ];

    #[test]
    fn transition_table_is_exhaustive() {
        let mut checked = 0;
        for from in OpState::ALL {
            for to in OpState::ALL {
                assert_eq!(
                    from.can_go_to(to),
                    ALLOWED.contains(&(from, to)),
                    "{from} → {to}"
                );
                checked += 1;
            }
        }
        assert_eq!(checked, 36);
    }

    #[test]
    fn final_states_lead_nowhere() {
        for from in OpState::ALL.into_iter().filter(|s| s.is_final()) {
            assert!(OpState::ALL.iter().all(|&to| !from.can_go_to(to)), "{from}");
        }
        for s in OpState::ALL.into_iter().filter(|s| !s.is_final()) {
            assert!(s.can_go_to(Failed), "{s} can always fail");
        }
    }

    #[test]
    fn driver_errors_keep_their_code_flag_and_words() {
        use crate::driver::DriverError;
        let e = DriverError::Conflict {
            appliance: "edge-1".into(),
            during: "commit".into(),
            device: "Configuration is locked".into(),
        };
        let r = super::ErrorRecord::from_driver(&e);
        assert_eq!(r.code, "VNF_CONFLICT");
        assert!(r.retryable);
        assert_eq!(r.device.as_deref(), Some("Configuration is locked"));
        assert_eq!(r.message, e.to_string());
        let e = DriverError::Unreachable {
            appliance: "edge-1".into(),
            message: "connection refused".into(),
        };
        let r = super::ErrorRecord::from_driver(&e);
        assert_eq!(
            (r.code.as_str(), r.retryable, r.device),
            ("VNF_UNREACHABLE", true, None)
        );
    }

    #[test]
    fn codes_and_names_round_trip() {
        for s in OpState::ALL {
            assert_eq!(s.as_str().parse::<OpState>(), Ok(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        let codes: std::collections::BTreeSet<u8> = OpState::ALL.map(|s| s.code()).into();
        assert_eq!(codes.len(), 6);
        for k in super::OpKind::ALL {
            assert_eq!(k.as_str().parse::<super::OpKind>(), Ok(k));
        }
    }
}
