//! Device-call observation: how long each call through [`super::AnyDriver`] took, told to an
//! observer the caller installs for the calls made inside one future ([`scope`]).
//!
//! Owns: the task-local observer and the timing wrapper. Must not change what a call does,
//! and must not hold anything secret (the labels are the vendor and the operation's name).
//! A task-local rather than a field of the driver: the engine builds its drivers itself, and
//! the daemon measures them without the engine knowing (the engine spawns no tasks, so every
//! call of a reconcile runs inside the scope).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// Told about every device call made inside a [`scope`].
pub trait CallObserver: Send + Sync {
    /// `vendor` (`vyos`), `operation` (`fetch`, `apply`, ...), how long it took, and whether it
    /// succeeded.
    fn device_call(&self, vendor: &'static str, operation: &'static str, took: Duration, ok: bool);
}

tokio::task_local! {
    static OBSERVER: Arc<dyn CallObserver>;
}

/// Run `fut` with `observer` told about its device calls.
pub async fn scope<F: Future>(observer: Arc<dyn CallObserver>, fut: F) -> F::Output {
    OBSERVER.scope(observer, fut).await
}

/// Time `call` and tell the scope's observer (if any).
pub(crate) async fn timed<T, E>(
    vendor: &'static str,
    operation: &'static str,
    call: impl Future<Output = Result<T, E>>,
) -> Result<T, E> {
    let Ok(observer) = OBSERVER.try_with(Arc::clone) else {
        return call.await;
    };
    let started = tokio::time::Instant::now();
    let out = call.await;
    observer.device_call(vendor, operation, started.elapsed(), out.is_ok());
    out
}
