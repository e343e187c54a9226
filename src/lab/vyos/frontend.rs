//! The seam between an emulated VyOS appliance and its SSH front end.
//!
//! Owns: the [`ExecBackend`] trait the SSH server (`ssh.rs`) calls for authentication, admission
//! (lockout, reboot downtime, faults) and exec requests, and the plain data it passes. The
//! appliance side (`exec.rs`, for an `Appliance`) implements it. Must not know about russh types
//! beyond the public key passed in for authentication, nor about VyOS semantics.

use std::future::Future;
use std::pin::Pin;

/// Whether a new connection (or a new authentication) is accepted right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Serve it.
    Accept,
    /// Refuse it: the config drops traffic to this port (management lockout), or the appliance
    /// is rebooting. The connection is closed at once, as a dropped SYN/RST would look.
    Refuse,
}

/// What one exec request produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecResult {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// The exit status sent to the client (`exit-status` channel request).
    pub exit_status: u32,
    /// Close the whole connection after sending this result (fault: drop after N commands).
    pub drop_connection: bool,
}

/// A boxed future, so the trait stays object-safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the SSH server needs from an emulated appliance.
pub trait ExecBackend: Send + Sync + 'static {
    /// Admission of a new TCP connection on the SSH port.
    fn admit(&self) -> Admission;
    /// Password authentication.
    fn check_password(&self, user: &str, password: &str) -> bool;
    /// Public-key authentication; `key_openssh` is the key as in `authorized_keys`
    /// (`ssh-ed25519 AAAA…`, without comment).
    fn check_public_key(&self, user: &str, key_openssh: &str) -> bool;
    /// Whether `command` reads its stdin to EOF before running (`vbash -s`): the server then
    /// collects channel data until EOF and passes it as `stdin`; other commands run at once
    /// with an empty stdin.
    fn wants_stdin(&self, command: &str) -> bool;
    /// Run one exec request. May never finish (fault: hang); the server must not block other
    /// channels or connections on it, and drops it when the client disconnects.
    fn exec(&self, user: &str, command: String, stdin: Vec<u8>) -> BoxFuture<'static, ExecResult>;
}
