//! Failpoints at every step boundary of reconcile and recovery, for the crash tests only.
//!
//! Owns: `failpoint(name)`. Built without the `failpoints` cargo feature it is an empty
//! inline function (nothing is read, nothing costs). With the feature, the environment
//! variable `VNFSYNC_FAILPOINT` names one point; reaching it aborts the process at once
//! (as a SIGKILL would: no destructor, no flush beyond what is already durable). In-process
//! tests can instead hang a one-shot action on a point with [`on`] (an out-of-band change
//! between plan and apply, for instance).
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

#[cfg(feature = "failpoints")]
type Hook = Box<dyn FnOnce() + Send>;

#[cfg(feature = "failpoints")]
static HOOKS: std::sync::Mutex<Vec<(String, Hook)>> = std::sync::Mutex::new(Vec::new());

/// Run `action` once, on the thread that next reaches the failpoint `name` (feature
/// `failpoints` only; in-process tests). The action runs synchronously inside the engine's
/// future: blocking IO belongs on a thread of its own.
#[cfg(feature = "failpoints")]
pub fn on(name: &str, action: impl FnOnce() + Send + 'static) {
    HOOKS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push((name.to_owned(), Box::new(action)));
}

/// Abort here when this failpoint is armed; run a hook hung on it (feature `failpoints`
/// only).
#[cfg(feature = "failpoints")]
pub fn failpoint(name: &str) {
    if std::env::var("VNFSYNC_FAILPOINT").is_ok_and(|v| v == name) {
        std::process::abort();
    }
    let hook = {
        let mut hooks = HOOKS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        hooks
            .iter()
            .position(|(n, _)| n == name)
            .map(|i| hooks.remove(i).1)
    };
    if let Some(action) = hook {
        action();
    }
}

/// Does nothing: failpoints are compiled out of normal builds.
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub fn failpoint(_name: &str) {}
