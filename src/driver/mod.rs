//! Appliance drivers: the one trait every vendor implements, its error taxonomy, and the
//! implementations (VyOS over SSH and over the HTTP API so far).
//!
//! Owns: talking to devices — fetch the running config, detect version and capabilities, apply
//! a plan as one transaction (optionally under a confirm window, with a commit comment),
//! confirm, save, snapshot and restore, probe. Errors are one typed enum mapped to the
//! `VNF_*` codes with a retryable flag and the device's own message.
//! Must not plan (what to change is decided before a driver sees it), journal, or log secrets.

pub mod any;
pub mod mode;
pub mod observe;
pub mod probe;
pub mod secret;
pub mod store;
pub mod vyos;

use std::future::Future;
use std::time::Duration;

use crate::vyos::{Command, ConfigTree, Path};

/// The most a device may answer to one request (an SSH command's output, an HTTP reply body):
/// 64 MiB, as the CLI's `--max-input-size` default. A larger answer is refused with
/// `VNF_UPSTREAM` (not retried) and the read stops at the cap.
pub const MAX_DEVICE_REPLY: usize = 64 << 20;

pub use any::AnyDriver;
pub use mode::{CommitPlan, Reverter, commit_mode};

/// The error codes of the charter, as journal and API show them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum ErrorCode {
    #[serde(rename = "VNF_TIMEOUT")]
    Timeout,
    #[serde(rename = "VNF_AUTH")]
    Auth,
    #[serde(rename = "VNF_CONFLICT")]
    Conflict,
    #[serde(rename = "VNF_INVALID")]
    Invalid,
    #[serde(rename = "VNF_UPSTREAM")]
    Upstream,
    #[serde(rename = "VNF_UNREACHABLE")]
    Unreachable,
    #[serde(rename = "VNF_CAPACITY")]
    Capacity,
    #[serde(rename = "VNF_RATE_LIMIT")]
    RateLimit,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Timeout => "VNF_TIMEOUT",
            ErrorCode::Auth => "VNF_AUTH",
            ErrorCode::Conflict => "VNF_CONFLICT",
            ErrorCode::Invalid => "VNF_INVALID",
            ErrorCode::Upstream => "VNF_UPSTREAM",
            ErrorCode::Unreachable => "VNF_UNREACHABLE",
            ErrorCode::Capacity => "VNF_CAPACITY",
            ErrorCode::RateLimit => "VNF_RATE_LIMIT",
        }
    }
}

/// What went wrong talking to an appliance. Every variant names the appliance.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error("{appliance}: {during}: timed out after {after:?}")]
    Timeout {
        appliance: String,
        during: String,
        after: Duration,
    },
    #[error("{appliance}: authentication failed: {message}")]
    Auth { appliance: String, message: String },
    #[error(
        "{appliance}: SSH host key mismatch: the device presented {presented}, the desired state pins {pinned}"
    )]
    HostKey {
        appliance: String,
        presented: String,
        pinned: String,
    },
    #[error("{appliance}: credential {reference}: {message}")]
    Secret {
        appliance: String,
        reference: String,
        message: String,
    },
    #[error("{appliance}: {during}: device busy: {device}")]
    Conflict {
        appliance: String,
        during: String,
        device: String,
    },
    #[error("{appliance}: device refused `{command}`: {device}")]
    Rejected {
        appliance: String,
        command: String,
        device: String,
    },
    #[error("{appliance}: commit failed{}: {device}", if *.partial { " (partially applied: the running config was re-read)" } else { "" })]
    CommitFailed {
        appliance: String,
        device: String,
        /// Whether the running config changed anyway (VyOS partial commit).
        partial: bool,
        /// The running config re-read after the failure, when it could be read.
        running: Option<Box<ConfigTree>>,
    },
    #[error("{appliance}: the plan does not apply to the running config: {message}")]
    Plan { appliance: String, message: String },
    #[error("{appliance}: {during}: {message}")]
    Upstream {
        appliance: String,
        during: String,
        message: String,
        retryable: bool,
    },
    #[error("{appliance}: unreachable: {message}")]
    Unreachable { appliance: String, message: String },
    /// The request was sent and the answer lost (the session died after the script went out,
    /// a timeout or a dropped connection mid-request): the change may or may not have landed.
    /// Never retried blindly; the caller resolves it by reading the device.
    #[error("{appliance}: {during}: the outcome is unknown: {message}")]
    OutcomeUnknown {
        appliance: String,
        during: String,
        message: String,
    },
    /// Plan pinning: the owned scopes of the running config no longer hash to the plan's base
    /// (someone changed the device between plan and apply). Nothing was written; re-plan.
    #[error(
        "{appliance}: the running config changed since the plan was made (owned scopes hash {found}, the plan was made on {expected}); nothing was written"
    )]
    BaseMoved {
        appliance: String,
        expected: String,
        found: String,
    },
    #[error("{appliance}: {during}: device at capacity: {message}")]
    Capacity {
        appliance: String,
        during: String,
        message: String,
    },
    #[error("{appliance}: {during}: rate limited: {message}")]
    RateLimit {
        appliance: String,
        during: String,
        message: String,
    },
    #[error("{appliance}: {what} is not supported: {why}")]
    Unsupported {
        appliance: String,
        what: String,
        why: String,
    },
}

impl DriverError {
    pub fn code(&self) -> ErrorCode {
        match self {
            DriverError::Timeout { .. } => ErrorCode::Timeout,
            DriverError::Auth { .. } | DriverError::HostKey { .. } | DriverError::Secret { .. } => {
                ErrorCode::Auth
            }
            DriverError::Conflict { .. } | DriverError::BaseMoved { .. } => ErrorCode::Conflict,
            DriverError::OutcomeUnknown { .. } => ErrorCode::Unreachable,
            DriverError::Rejected { .. }
            | DriverError::CommitFailed { .. }
            | DriverError::Plan { .. }
            | DriverError::Unsupported { .. } => ErrorCode::Invalid,
            DriverError::Upstream { .. } => ErrorCode::Upstream,
            DriverError::Unreachable { .. } => ErrorCode::Unreachable,
            DriverError::Capacity { .. } => ErrorCode::Capacity,
            DriverError::RateLimit { .. } => ErrorCode::RateLimit,
        }
    }

    /// Whether trying again later may succeed (DESIGN invariant 7: bounded retries).
    pub fn retryable(&self) -> bool {
        match self {
            DriverError::Timeout { .. }
            | DriverError::Conflict { .. }
            | DriverError::Unreachable { .. }
            | DriverError::Capacity { .. }
            | DriverError::RateLimit { .. } => true,
            DriverError::Upstream { retryable, .. } => *retryable,
            _ => false,
        }
    }

    /// Whether the change may or may not have landed (resolve by reading the device).
    pub fn outcome_unknown(&self) -> bool {
        matches!(self, DriverError::OutcomeUnknown { .. })
    }

    /// The device's own words, where it said something.
    pub fn device_message(&self) -> Option<&str> {
        match self {
            DriverError::Conflict { device, .. }
            | DriverError::Rejected { device, .. }
            | DriverError::CommitFailed { device, .. } => Some(device),
            DriverError::Upstream { message, .. } | DriverError::Auth { message, .. } => {
                Some(message)
            }
            _ => None,
        }
    }
}

pub type Result<T> = std::result::Result<T, DriverError>;

/// What a commit-confirm timeout does on this device (reference/vyos.md §3.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConfirmFallback {
    /// 1.3: writes back the config saved when commit-confirm was armed, then reboots.
    RebootToArmedSave,
    /// 1.4, and 1.5 without `action reload`: reboots into whatever config.boot holds.
    RebootToSaved,
    /// 1.5 with `commit-confirm action reload`: reverts to the last confirmed revision.
    Reload,
}

impl ConfirmFallback {
    /// Whether the fallback reboots (so the current good config must be saved first).
    pub fn reboots(self) -> bool {
        !matches!(self, ConfirmFallback::Reload)
    }
}

/// Version and capabilities of a device.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeviceInfo {
    /// The release string the device reports (`1.4.0`, `1.5-stream-2025-Q2`, …).
    pub version: String,
    /// The version line it belongs to (`1.3`, `1.4`, `1.5`).
    pub line: String,
    pub confirm_fallback: ConfirmFallback,
    /// Whether the transport can arm commit-confirm itself (the HTTP API only on new 1.5).
    pub confirm_on_transport: bool,
    /// The unit the device counts a confirm window in (VyOS: whole minutes).
    pub confirm_unit: Duration,
    /// Whether the transport carries a commit comment (VyOS's HTTP API has no field for it).
    pub comment_on_transport: bool,
}

/// How to apply a plan.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ApplyOptions {
    /// Commit under commit-confirm with this window (rounded up to the device's unit). Only
    /// read when `mode` is `None`.
    pub confirm_window: Option<Duration>,
    /// The commit comment; carries `vnfsync <git commit id>`.
    pub comment: String,
    /// Whether to save after the confirm (`save: never` in the desired state). Only read when
    /// `mode` is `None`.
    pub save: crate::model::SavePolicy,
    /// The commit mode decided before the write ([`commit_mode`]), as the journal's intent
    /// records it. `None`: the driver decides it the same way from `confirm_window` and `save`.
    /// A mode that no longer fits the device (its version changed) is refused.
    pub mode: Option<CommitPlan>,
    /// Plan pinning: refuse with [`DriverError::BaseMoved`] unless the running config's owned
    /// scopes still hash to this.
    pub pin: Option<Pin>,
}

/// The base a plan was made on: its owned scopes and their hash (`render::tree_hash`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    pub scopes: Vec<Path>,
    pub base_hash: String,
}

/// What `confirm` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConfirmOutcome {
    /// A pending commit-confirm was stopped: the change stands.
    Stopped,
    /// Nothing was pending: the change already reverted (the timer fired) or was never armed.
    NothingPending,
}

/// Who reverts the change if it is not confirmed in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConfirmState {
    /// No confirm window was asked for; the change stands.
    NotRequested,
    /// The device reverts by itself unless confirmed within `window`.
    Armed {
        window: Duration,
        fallback: ConfirmFallback,
    },
    /// The transport cannot arm a device-side confirm: the daemon must restore the snapshot
    /// itself if the probes fail (works only while the device is reachable).
    DaemonWatchdog,
}

/// What `apply` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApplyOutcome {
    /// The plan was already in place: nothing was written.
    NoChange,
    /// One commit was made.
    Committed {
        confirm: ConfirmState,
        saved_before: bool,
        /// Whether the commit comment reached the device (not over VyOS's HTTP API).
        comment_carried: bool,
    },
}

/// A point to return to: the device keeps a copy, and so do we.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub id: String,
    /// Where the device keeps it (`/config/vnfsync/<id>.boot`).
    pub device_path: String,
    /// The config.boot text.
    pub boot: String,
}

/// Reachability of a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ProbeReport {
    pub reachable: bool,
    pub latency: Duration,
}

/// What an op-mode command printed.
pub type OpOutput = String;

/// Take a snapshot on the device and keep its config.boot text in the local store too, as
/// `<store>/<appliance>/<time>-<commit>.boot`; returns the snapshot and the stored file.
pub async fn snapshot_to_store<D: Driver>(
    driver: &mut D,
    store: &store::SnapshotStore,
    appliance: &str,
    commit: &str,
    now: std::time::SystemTime,
) -> Result<(Snapshot, std::path::PathBuf)> {
    let short: String = commit
        .chars()
        .filter(char::is_ascii_hexdigit)
        .take(12)
        .collect();
    let id = format!(
        "{}-{}",
        store::stamp(now),
        if short.is_empty() { "none" } else { &short }
    );
    let snap = driver.snapshot(&id).await?;
    let path = store
        .save(appliance, commit, now, &snap.boot)
        .map_err(|e| DriverError::Upstream {
            appliance: appliance.to_string(),
            during: "keeping the snapshot".into(),
            message: e.to_string(),
            retryable: false,
        })?;
    Ok((snap, path))
}

/// What every appliance driver does. One writer per appliance: the caller never runs two
/// operations of one driver at once (hence `&mut self`). Every future is `Send`, so an engine
/// task can hold any driver; [`AnyDriver`] is the enum a mixed fleet holds.
pub trait Driver: Send {
    /// The running (active) configuration.
    fn fetch(&mut self) -> impl Future<Output = Result<ConfigTree>> + Send;
    /// Version and capabilities (cached after the first call).
    fn info(&mut self) -> impl Future<Output = Result<DeviceInfo>> + Send;
    /// Apply `plan` as one transaction. A plan already in place makes no write.
    fn apply(
        &mut self,
        plan: &[Command],
        options: &ApplyOptions,
    ) -> impl Future<Output = Result<ApplyOutcome>> + Send;
    /// Confirm a pending commit-confirm, telling a stopped timer from nothing pending.
    fn confirm(&mut self) -> impl Future<Output = Result<ConfirmOutcome>> + Send;
    /// When the commit-confirm this driver armed runs out, if it is still pending. VyOS has no
    /// side-effect-free query for it (reference/vyos.md §5.4: the only probe is `confirm`
    /// itself), so this is the driver's own record; after a restart the journal's record of the
    /// armed deadline is the authority.
    fn confirm_pending(&self) -> Option<tokio::time::Instant>;
    /// Persist the running config (boot config).
    fn save(&mut self) -> impl Future<Output = Result<()>> + Send;
    /// Take a snapshot on the device and return its text.
    fn snapshot(&mut self, id: &str) -> impl Future<Output = Result<Snapshot>> + Send;
    /// Return to a snapshot: load it and commit, without a reboot. When the device's copy is
    /// gone, the snapshot's text is applied instead (the difference as one commit).
    fn restore(&mut self, snapshot: &Snapshot) -> impl Future<Output = Result<()>> + Send;
    /// Reachability and latency over a fresh connection (never a pooled one).
    fn probe(&mut self) -> impl Future<Output = Result<ProbeReport>> + Send;
    /// Run an op-mode command (`show interfaces`) and return what it printed.
    fn op(&mut self, words: &[String]) -> impl Future<Output = Result<OpOutput>> + Send;
}
