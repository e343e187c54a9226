//! Failpoints at every step boundary of reconcile and recovery, for the crash tests only.
//!
//! Owns: `failpoint(name)`. Built without the `failpoints` cargo feature it is an empty
//! inline function (nothing is read, nothing costs). With the feature, the environment
//! variable `VNFSYNC_FAILPOINT` names one point; reaching it aborts the process at once
//! (as a SIGKILL would: no destructor, no flush beyond what is already durable).
//! Must not be used for anything but tests.

/// Every failpoint name, in the order a pass reaches them.
pub const POINTS: &[&str] = &[
    "reconcile.before_fetch",
    "reconcile.after_fetch",
    "reconcile.after_intent",
    "reconcile.after_snapshot",
    "reconcile.after_apply",
    "reconcile.after_probes",
    "reconcile.after_confirm",
    "rollback.after_restore",
    "recover.after_fetch",
];

/// Abort here when this failpoint is armed (feature `failpoints` only).
#[cfg(feature = "failpoints")]
pub fn failpoint(name: &str) {
    if std::env::var("VNFSYNC_FAILPOINT").is_ok_and(|v| v == name) {
        std::process::abort();
    }
}

/// Does nothing: failpoints are compiled out of normal builds.
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub fn failpoint(_name: &str) {}
