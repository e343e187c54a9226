//! The SSH front end of an emulated VyOS appliance: a russh server speaking to real OpenSSH
//! clients and to vnfsync's own SSH driver.
//!
//! Owns: the accept loop on the appliance's SSH port, admission before the SSH banner,
//! password and public-key authentication (both delegated to [`ExecBackend`]), exec channels
//! (stdin collection for commands that want it, stdout/stderr/exit-status/EOF/close), channel
//! limits, timeouts, keepalive replies, and abandoning exec requests whose client went away.
//!
//! Must not: interpret commands, hold appliance state or know VyOS semantics (all of that is
//! the backend's); block the accept loop or a connection on an exec (execs run in their own
//! tasks); outlive its caller (dropping the [`serve_ssh`] future closes every connection it
//! accepted and abandons their execs).
//!
//! Interactive use is refused on purpose: `shell`, `pty-req`, `subsystem`, `x11-req`,
//! `env` and agent forwarding get a channel failure. Automation drives VyOS through `exec`
//! (`vbash -s` with the script on stdin); mapping a `shell` request onto `vbash -s` would hide
//! a driver that forgot to send its command, so it is not done.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use russh::keys::PrivateKey;
use russh::keys::ssh_key::PublicKey;
use russh::server::{self, Auth, ChannelOpenHandle, Msg, Session};
use russh::{Channel, ChannelId, ChannelOpenFailure, Disconnect, MethodKind, MethodSet, Pty};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};
use tracing::{debug, info, warn};

use super::frontend::{Admission, ExecBackend, ExecResult};

/// The SSH identification string the emulator sends (RFC 4253 §4.2: no `-` in the version).
pub const SERVER_ID: &str = "SSH-2.0-vnfsync_lab";

/// The SSH `extended data` type code for stderr (RFC 4254 §5.2).
const STDERR: u32 = 1;

/// How long a connection to be dropped stays up after the result was sent, so that the client
/// can write the result out before the disconnect (see [`deliver`]).
const DROP_GRACE: Duration = Duration::from_millis(250);

/// The disconnect message of a connection dropped by fault injection.
const DROP_MESSAGE: &str = "connection dropped";

/// How long the accept loop backs off after a resource error (out of file descriptors…).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Errors of one SSH connection. They end that connection only, never the server.
#[derive(Debug, thiserror::Error)]
pub enum SshError {
    /// The SSH transport or protocol failed (bad packet, kex failure, timeout, closed socket).
    #[error("ssh protocol: {0}")]
    Protocol(#[from] russh::Error),
}

/// Limits and timeouts of the SSH front end. [`serve_ssh`] uses [`SshServerConfig::default`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshServerConfig {
    /// A connection with no traffic in either direction for this long is closed. Client
    /// keepalives count as traffic, so `ServerAliveInterval` keeps a slow exec alive.
    pub inactivity_timeout: Duration,
    /// Delay before an authentication failure is reported (kept small: the lab is local, and
    /// tests try wrong credentials on purpose).
    pub auth_rejection_time: Duration,
    /// How long a failed password login waits before it is answered, as sshd does through
    /// PAM (`pam_faildelay`/`pam_unix`: about 2 s), so that nobody hammers a login.
    pub login_failure_delay: Duration,
    /// Authentication attempts per connection (OpenSSH `MaxAuthTries`).
    pub max_auth_attempts: usize,
    /// Session channels open at once on one connection (OpenSSH `MaxSessions`); more are
    /// refused with "resource shortage".
    pub max_channels_per_connection: usize,
    /// Largest stdin collected for a command that wants it; a larger one fails the command
    /// (exit status 1, message on stderr) without running it.
    pub max_stdin_bytes: usize,
}

impl Default for SshServerConfig {
    fn default() -> Self {
        Self {
            inactivity_timeout: Duration::from_secs(300),
            auth_rejection_time: Duration::from_millis(50),
            login_failure_delay: Duration::from_secs(2),
            max_auth_attempts: 6,
            max_channels_per_connection: 10,
            max_stdin_bytes: 8 * 1024 * 1024,
        }
    }
}

impl SshServerConfig {
    fn russh_config(&self, host_key: PrivateKey) -> server::Config {
        server::Config {
            server_id: russh::SshId::Standard(SERVER_ID.into()),
            methods: MethodSet::from(&[MethodKind::Password, MethodKind::PublicKey][..]),
            auth_rejection_time: self.auth_rejection_time,
            // OpenSSH clients probe with "none" first; answering that at once is not a leak.
            auth_rejection_time_initial: Some(Duration::ZERO),
            max_auth_attempts: self.max_auth_attempts,
            keys: vec![host_key],
            inactivity_timeout: Some(self.inactivity_timeout),
            keepalive_interval: None,
            nodelay: true,
            ..server::Config::default()
        }
    }
}

/// Serves SSH on `listener` with `host_key` until the returned future is dropped, with the
/// default [`SshServerConfig`]. See [`serve_ssh_with`].
pub async fn serve_ssh(
    listener: TcpListener,
    host_key: PrivateKey,
    backend: Arc<dyn ExecBackend>,
) -> std::io::Result<()> {
    serve_ssh_with(listener, host_key, backend, SshServerConfig::default()).await
}

/// Serves SSH on `listener` until the returned future is dropped; dropping it closes every
/// connection it accepted. Returns an error only when the listener itself is unusable; errors
/// of single connections are logged and end that connection only.
pub async fn serve_ssh_with(
    listener: TcpListener,
    host_key: PrivateKey,
    backend: Arc<dyn ExecBackend>,
    config: SshServerConfig,
) -> std::io::Result<()> {
    let limits = Arc::new(ConnectionLimits {
        max_channels: config.max_channels_per_connection,
        max_stdin_bytes: config.max_stdin_bytes,
        login_failure_delay: config.login_failure_delay,
    });
    let russh_config = Arc::new(config.russh_config(host_key));
    let local = listener.local_addr()?;
    info!(addr = %local, "lab ssh: listening");
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    if backend.admit() == Admission::Refuse {
                        refuse(stream, peer);
                        continue;
                    }
                    debug!(peer = %peer, "lab ssh: connection accepted");
                    let handler = Connection::new(Arc::clone(&backend), peer, Arc::clone(&limits));
                    connections.spawn(serve_connection(Arc::clone(&russh_config), stream, peer, handler));
                }
                Err(error) => match classify_accept_error(&error) {
                    AcceptError::Connection => {
                        debug!(addr = %local, %error, "lab ssh: accept: connection error");
                    }
                    AcceptError::Resource => {
                        warn!(addr = %local, %error, "lab ssh: accept failed, backing off");
                        tokio::time::sleep(ACCEPT_BACKOFF).await;
                    }
                    AcceptError::Fatal => {
                        warn!(addr = %local, %error, "lab ssh: listener unusable");
                        return Err(error);
                    }
                },
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// Closes a refused connection before the SSH banner, with a reset as a firewall's REJECT or
/// a rebooting host's closed port would look.
fn refuse(stream: TcpStream, peer: SocketAddr) {
    if let Err(error) = stream.set_zero_linger() {
        debug!(peer = %peer, %error, "lab ssh: could not arm reset on refused connection");
    }
    info!(peer = %peer, "lab ssh: connection refused by admission");
    drop(stream);
}

enum AcceptError {
    /// The one incoming connection failed; carry on at once.
    Connection,
    /// Out of descriptors or memory: carry on after a pause.
    Resource,
    /// The listener cannot accept anymore.
    Fatal,
}

fn classify_accept_error(error: &std::io::Error) -> AcceptError {
    use std::io::ErrorKind;
    match error.kind() {
        ErrorKind::ConnectionAborted
        | ErrorKind::ConnectionReset
        | ErrorKind::ConnectionRefused
        | ErrorKind::Interrupted
        | ErrorKind::WouldBlock
        | ErrorKind::TimedOut => AcceptError::Connection,
        ErrorKind::InvalidInput
        | ErrorKind::PermissionDenied
        | ErrorKind::Unsupported
        | ErrorKind::NotConnected => AcceptError::Fatal,
        _ => AcceptError::Resource,
    }
}

/// Runs one SSH connection to its end. russh runs the session in a task of its own; if this
/// future is dropped (the server is dropped), the guard tells that task to disconnect.
async fn serve_connection(
    config: Arc<server::Config>,
    stream: TcpStream,
    peer: SocketAddr,
    handler: Connection,
) {
    // As sshd does: no Nagle delay, or every small packet waits for the peer's delayed ACK
    // (russh applies `nodelay` only in `run_on_socket`, not to a stream handed to it).
    if let Err(e) = stream.set_nodelay(true) {
        tracing::debug!(%peer, error = %e, "lab ssh: cannot set TCP_NODELAY");
    }
    let session = match server::run_stream(config, stream, handler).await {
        Ok(session) => session,
        Err(error) => {
            debug!(peer = %peer, %error, "lab ssh: handshake failed");
            return;
        }
    };
    let mut guard = DisconnectOnDrop(Some(session.handle()));
    let ended = session.await;
    guard.0 = None;
    match ended {
        Ok(()) => debug!(peer = %peer, "lab ssh: connection closed"),
        Err(error) => debug!(peer = %peer, %error, "lab ssh: connection ended"),
    }
}

/// Disconnects a russh session when dropped before the session ended by itself.
struct DisconnectOnDrop(Option<server::Handle>);

impl Drop for DisconnectOnDrop {
    fn drop(&mut self) {
        let Some(handle) = self.0.take() else { return };
        // Without a runtime (it is shutting down) the session task is dropped with it anyway.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                // Fails only when the session has ended already, which is the goal.
                let _ = handle
                    .disconnect(
                        Disconnect::ByApplication,
                        "server stopped".into(),
                        "en".into(),
                    )
                    .await;
            });
        }
    }
}

/// Per-connection limits shared by all connections of one server.
#[derive(Debug)]
struct ConnectionLimits {
    max_channels: usize,
    max_stdin_bytes: usize,
    login_failure_delay: Duration,
}

/// What one session channel is doing.
enum ChannelState {
    /// Open, no exec yet.
    Idle,
    /// Collecting stdin until EOF for `command`.
    Stdin { command: String, stdin: Vec<u8> },
    /// The exec runs (or its result is being sent); dropping this abandons it.
    Running(ExecTask),
}

/// An exec task, aborted when dropped: when its channel closes or its connection ends.
struct ExecTask {
    task: JoinHandle<()>,
    /// Set by the task once it has sent a result that asks for the connection to be dropped.
    drop_requested: Arc<AtomicBool>,
}

impl ExecTask {
    /// Spawns the task that awaits `result` and delivers it on `channel`.
    fn spawn(
        handle: server::Handle,
        channel: ChannelId,
        peer: SocketAddr,
        result: impl Future<Output = ExecResult> + Send + 'static,
    ) -> Self {
        let drop_requested = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&drop_requested);
        let task = tokio::spawn(async move {
            let result = result.await;
            deliver(&handle, channel, peer, result, &flag).await;
        });
        Self {
            task,
            drop_requested,
        }
    }
}

impl Drop for ExecTask {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The russh handler of one connection. Dropped when the connection ends, and with it every
/// exec task still running on it.
struct Connection {
    backend: Arc<dyn ExecBackend>,
    peer: SocketAddr,
    limits: Arc<ConnectionLimits>,
    /// The authenticated user, set once authentication succeeded.
    user: Option<String>,
    channels: HashMap<ChannelId, ChannelState>,
}

impl Connection {
    fn new(backend: Arc<dyn ExecBackend>, peer: SocketAddr, limits: Arc<ConnectionLimits>) -> Self {
        Self {
            backend,
            peer,
            limits,
            user: None,
            channels: HashMap::new(),
        }
    }

    fn check_key(&self, user: &str, key: &PublicKey) -> bool {
        match PublicKey::new(key.key_data().clone(), "").to_openssh() {
            Ok(key_openssh) => self.backend.check_public_key(user, &key_openssh),
            Err(error) => {
                debug!(peer = %self.peer, user, %error, "lab ssh: public key not encodable");
                false
            }
        }
    }

    /// Starts `command` on `channel` in a task of its own and remembers the task.
    fn start_exec(
        &mut self,
        channel: ChannelId,
        command: String,
        stdin: Vec<u8>,
        session: &Session,
    ) {
        let handle = session.handle();
        let task = match self.user.as_deref() {
            Some(user) => {
                info!(peer = %self.peer, user, ?channel, command, stdin_bytes = stdin.len(), "lab ssh: exec");
                let exec = self.backend.exec(user, command, stdin);
                ExecTask::spawn(handle, channel, self.peer, exec)
            }
            // russh opens channels only after authentication; answer as a shell would.
            None => ExecTask::spawn(
                handle,
                channel,
                self.peer,
                std::future::ready(failure("not authenticated")),
            ),
        };
        self.channels.insert(channel, ChannelState::Running(task));
    }
}

fn failure(message: &str) -> ExecResult {
    ExecResult {
        stderr: format!("vnfsync lab: {message}\n").into_bytes(),
        exit_status: 1,
        ..ExecResult::default()
    }
}

/// Sends an exec's result to the client: stdout, stderr, exit status, EOF, close.
///
/// A result that asks for the connection to be dropped sets `drop_requested` first; the
/// connection is then dropped as soon as the client closes the channel (the handler sees that
/// only if the client closes before our close arrives, as russh's client does after EOF), else
/// by this task [`DROP_GRACE`] after the close. OpenSSH closes only after the server did, and
/// quits without writing out buffered output on a disconnect: the grace lets it finish, so a
/// one-command `ssh` run sees the whole result and its exit status, and a client reusing the
/// connection sees it closed. Stops quietly when the connection is gone.
async fn deliver(
    handle: &server::Handle,
    channel: ChannelId,
    peer: SocketAddr,
    result: ExecResult,
    drop_requested: &AtomicBool,
) {
    debug!(
        peer = %peer,
        ?channel,
        exit_status = result.exit_status,
        stdout_bytes = result.stdout.len(),
        stderr_bytes = result.stderr.len(),
        drop_connection = result.drop_connection,
        "lab ssh: exec done"
    );
    let drop_connection = result.drop_connection;
    let sent = async {
        if !result.stdout.is_empty() {
            handle.data(channel, result.stdout).await.map_err(drop)?;
        }
        if !result.stderr.is_empty() {
            handle
                .extended_data(channel, STDERR, result.stderr)
                .await
                .map_err(drop)?;
        }
        handle
            .exit_status_request(channel, result.exit_status)
            .await?;
        // Set before the EOF goes out: the client's close may follow it at once.
        drop_requested.store(drop_connection, Ordering::SeqCst);
        handle.eof(channel).await?;
        handle.close(channel).await
    }
    .await;
    if sent.is_err() {
        debug!(peer = %peer, ?channel, "lab ssh: connection gone before the result was sent");
        return;
    }
    if drop_connection {
        tokio::time::sleep(DROP_GRACE).await;
        info!(peer = %peer, ?channel, "lab ssh: dropping the connection (fault)");
        if handle
            .disconnect(Disconnect::ByApplication, DROP_MESSAGE.into(), "en".into())
            .await
            .is_err()
        {
            debug!(peer = %peer, "lab ssh: connection gone before the drop");
        }
    }
}

impl server::Handler for Connection {
    type Error = SshError;

    async fn auth_password(&mut self, user: &str, password: &str) -> Result<Auth, SshError> {
        if self.backend.check_password(user, password) {
            info!(peer = %self.peer, user, method = "password", "lab ssh: authenticated");
            self.user = Some(user.to_owned());
            Ok(Auth::Accept)
        } else {
            info!(peer = %self.peer, user, method = "password", "lab ssh: authentication failed");
            tokio::time::sleep(self.limits.login_failure_delay).await;
            Ok(Auth::reject())
        }
    }

    async fn auth_publickey_offered(
        &mut self,
        user: &str,
        offer: server::PublicKeyOffer<'_>,
    ) -> Result<Auth, SshError> {
        // Tell the client at once whether signing with this key is worth it.
        if self.check_key(user, offer.public_key) {
            Ok(Auth::Accept)
        } else {
            Ok(Auth::reject())
        }
    }

    async fn auth_publickey(
        &mut self,
        user: &str,
        key: server::VerifiedPublicKey<'_>,
    ) -> Result<Auth, SshError> {
        if self.check_key(user, key.public_key) {
            info!(peer = %self.peer, user, method = "publickey", "lab ssh: authenticated");
            self.user = Some(user.to_owned());
            Ok(Auth::Accept)
        } else {
            info!(peer = %self.peer, user, method = "publickey", "lab ssh: authentication failed");
            Ok(Auth::reject())
        }
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), SshError> {
        // The channel's own message stream is dropped unused: the handler callbacks carry
        // everything. russh does not report the client's reply to a close we sent, so channels
        // whose exec is done are forgotten here, before counting.
        self.channels.retain(|_, state| match state {
            ChannelState::Running(task) => !task.task.is_finished(),
            ChannelState::Idle | ChannelState::Stdin { .. } => true,
        });
        if self.channels.len() >= self.limits.max_channels {
            info!(peer = %self.peer, open = self.channels.len(), "lab ssh: channel refused: too many open");
            reply.reject(ChannelOpenFailure::ResourceShortage).await;
            return Ok(());
        }
        self.channels.insert(channel.id(), ChannelState::Idle);
        reply.accept().await;
        Ok(())
    }

    async fn exec_request(
        &mut self,
        channel: ChannelId,
        data: &[u8],
        session: &mut Session,
    ) -> Result<(), SshError> {
        if !matches!(self.channels.get(&channel), None | Some(ChannelState::Idle)) {
            debug!(peer = %self.peer, ?channel, "lab ssh: second request on a channel refused");
            session.channel_failure(channel)?;
            return Ok(());
        }
        let Ok(command) = String::from_utf8(data.to_vec()) else {
            info!(peer = %self.peer, ?channel, "lab ssh: exec refused: command is not UTF-8");
            session.channel_failure(channel)?;
            return Ok(());
        };
        session.channel_success(channel)?;
        if self.backend.wants_stdin(&command) {
            self.channels.insert(
                channel,
                ChannelState::Stdin {
                    command,
                    stdin: Vec::new(),
                },
            );
        } else {
            self.start_exec(channel, command, Vec::new(), session);
        }
        Ok(())
    }

    async fn data(
        &mut self,
        channel: ChannelId,
        data: &[u8],
        session: &mut Session,
    ) -> Result<(), SshError> {
        let max = self.limits.max_stdin_bytes;
        let Some(ChannelState::Stdin { stdin, .. }) = self.channels.get_mut(&channel) else {
            // Input to a command that does not read it is discarded, as a closed pipe would.
            return Ok(());
        };
        if stdin.len().saturating_add(data.len()) <= max {
            stdin.extend_from_slice(data);
            return Ok(());
        }
        info!(peer = %self.peer, ?channel, max_stdin_bytes = max, "lab ssh: stdin too large");
        let result = failure(&format!("stdin larger than {max} bytes"));
        let task = ExecTask::spawn(
            session.handle(),
            channel,
            self.peer,
            std::future::ready(result),
        );
        self.channels.insert(channel, ChannelState::Running(task));
        Ok(())
    }

    async fn channel_eof(
        &mut self,
        channel: ChannelId,
        session: &mut Session,
    ) -> Result<(), SshError> {
        if let Some(ChannelState::Stdin { .. }) = self.channels.get(&channel)
            && let Some(ChannelState::Stdin { command, stdin }) = self.channels.remove(&channel)
        {
            self.start_exec(channel, command, stdin, session);
        }
        Ok(())
    }

    async fn channel_close(
        &mut self,
        channel: ChannelId,
        session: &mut Session,
    ) -> Result<(), SshError> {
        // Dropping the state abandons an exec still running.
        let Some(ChannelState::Running(task)) = self.channels.remove(&channel) else {
            return Ok(());
        };
        if task.drop_requested.load(Ordering::SeqCst) {
            info!(peer = %self.peer, ?channel, "lab ssh: dropping the connection (fault)");
            session.disconnect(Disconnect::ByApplication, DROP_MESSAGE, "en")?;
        } else if !task.task.is_finished() {
            info!(peer = %self.peer, ?channel, "lab ssh: exec abandoned: channel closed");
        }
        Ok(())
    }

    async fn pty_request(
        &mut self,
        channel: ChannelId,
        _term: &str,
        _col_width: u32,
        _row_height: u32,
        _pix_width: u32,
        _pix_height: u32,
        _modes: &[(Pty, u32)],
        session: &mut Session,
    ) -> Result<(), SshError> {
        debug!(peer = %self.peer, ?channel, "lab ssh: pty refused (exec only)");
        session.channel_failure(channel)?;
        Ok(())
    }

    async fn shell_request(
        &mut self,
        channel: ChannelId,
        session: &mut Session,
    ) -> Result<(), SshError> {
        info!(peer = %self.peer, ?channel, "lab ssh: shell refused (exec only)");
        session.channel_failure(channel)?;
        Ok(())
    }

    async fn subsystem_request(
        &mut self,
        channel: ChannelId,
        name: &str,
        session: &mut Session,
    ) -> Result<(), SshError> {
        info!(peer = %self.peer, ?channel, subsystem = name, "lab ssh: subsystem refused");
        session.channel_failure(channel)?;
        Ok(())
    }

    async fn x11_request(
        &mut self,
        channel: ChannelId,
        _single_connection: bool,
        _x11_auth_protocol: &str,
        _x11_auth_cookie: &str,
        _x11_screen_number: u32,
        session: &mut Session,
    ) -> Result<(), SshError> {
        session.channel_failure(channel)?;
        Ok(())
    }

    async fn env_request(
        &mut self,
        channel: ChannelId,
        _variable_name: &str,
        _variable_value: &str,
        session: &mut Session,
    ) -> Result<(), SshError> {
        // As sshd without AcceptEnv: refused, and silent when no reply is wanted.
        session.channel_failure(channel)?;
        Ok(())
    }
}
