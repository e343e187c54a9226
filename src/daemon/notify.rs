//! The systemd notify protocol (`sd_notify`): `READY=1`, `WATCHDOG=1`, `STOPPING=1`,
//! `RELOADING=1`, `STATUS=…` datagrams to `$NOTIFY_SOCKET`.
//!
//! Owns: finding the socket (a path, or `@name` for an abstract socket) and the watchdog
//! interval (`$WATCHDOG_USEC`), and sending. Without `NOTIFY_SOCKET` every call is a no-op.
//! Must not decide when to send: the daemon's main loop does (WATCHDOG only while it makes
//! progress).

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

/// Where notifications go.
#[derive(Debug)]
pub struct Notifier {
    target: Option<String>,
    watchdog: Option<Duration>,
}

impl Notifier {
    /// From the process environment.
    pub fn from_env() -> Notifier {
        let target = std::env::var("NOTIFY_SOCKET")
            .ok()
            .filter(|s| !s.is_empty());
        let watchdog = std::env::var("WATCHDOG_USEC")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|us| *us > 0)
            .map(Duration::from_micros);
        Notifier { target, watchdog }
    }

    /// How often to send `WATCHDOG=1` (half the unit's `WatchdogSec=`), if a watchdog is set.
    pub fn watchdog_interval(&self) -> Option<Duration> {
        self.watchdog.map(|w| w / 2)
    }

    /// Send one notification (`KEY=value` lines); errors are logged, not fatal.
    pub fn send(&self, state: &str) {
        let Some(target) = &self.target else {
            return;
        };
        if let Err(e) = send_to(target, state) {
            tracing::warn!(socket = %target, error = %e, "sd_notify failed");
        }
    }
}

fn send_to(target: &str, state: &str) -> std::io::Result<usize> {
    let sock = UnixDatagram::unbound()?;
    if let Some(name) = target.strip_prefix('@') {
        use std::os::linux::net::SocketAddrExt;
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())?;
        sock.send_to_addr(state.as_bytes(), &addr)
    } else {
        sock.send_to(state.as_bytes(), target)
    }
}
