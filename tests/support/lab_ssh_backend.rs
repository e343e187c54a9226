//! A small `ExecBackend` for the SSH front end's own tests and benchmark (not the VyOS
//! appliance): it echoes commands and has switches for the faults the front end must survive.
//!
//! Commands:
//! - `vbash -s`: wants stdin, returns it as stdout (proves the stdin path);
//! - `hang`: never finishes; `hanging` counts starts, `abandoned` counts drops of the future;
//! - `drop TEXT`: prints TEXT, then asks for the connection to be dropped;
//! - `fail CODE TEXT`: `out:TEXT` on stdout, `err:TEXT` on stderr, exit status CODE;
//! - `sleep MS TEXT`: prints TEXT after MS milliseconds (a slow exec);
//! - anything else: `USER ran: COMMAND`.
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use russh::keys::PrivateKey;
use russh::keys::ssh_key::private::Ed25519Keypair;
use vnfsync::lab::vyos::frontend::{Admission, BoxFuture, ExecBackend, ExecResult};

pub const USER: &str = "vyos";
pub const PASSWORD: &str = "lab-secret";

/// A deterministic Ed25519 key: the same seed gives the same key in every run.
pub fn ed25519(seed: u8) -> PrivateKey {
    PrivateKey::from(Ed25519Keypair::from_seed(&[seed; 32]))
}

/// `ssh-ed25519 AAAA…` without comment, as `authorized_keys` and `known_hosts` hold it.
pub fn openssh_public(key: &PrivateKey) -> String {
    russh::keys::PublicKey::new(key.public_key().key_data().clone(), "")
        .to_openssh()
        .expect("an Ed25519 public key encodes")
}

#[derive(Debug, Default)]
pub struct Counters {
    pub execs: AtomicUsize,
    pub hanging: AtomicUsize,
    pub abandoned: AtomicUsize,
}

#[derive(Debug)]
pub struct TestBackend {
    pub refuse: AtomicBool,
    pub authorized_key: String,
    pub counters: Arc<Counters>,
}

impl TestBackend {
    pub fn new(authorized_key: &PrivateKey) -> Self {
        Self {
            refuse: AtomicBool::new(false),
            authorized_key: openssh_public(authorized_key),
            counters: Arc::default(),
        }
    }

    pub fn execs(&self) -> usize {
        self.counters.execs.load(Ordering::SeqCst)
    }
    pub fn hanging(&self) -> usize {
        self.counters.hanging.load(Ordering::SeqCst)
    }
    pub fn abandoned(&self) -> usize {
        self.counters.abandoned.load(Ordering::SeqCst)
    }
}

/// Counts a hanging exec as abandoned when its future is dropped.
struct AbandonGuard(Arc<Counters>);

impl Drop for AbandonGuard {
    fn drop(&mut self) {
        self.0.abandoned.fetch_add(1, Ordering::SeqCst);
    }
}

impl ExecBackend for TestBackend {
    fn admit(&self) -> Admission {
        if self.refuse.load(Ordering::SeqCst) {
            Admission::Refuse
        } else {
            Admission::Accept
        }
    }

    fn check_password(&self, user: &str, password: &str) -> bool {
        user == USER && password == PASSWORD
    }

    fn check_public_key(&self, user: &str, key_openssh: &str) -> bool {
        user == USER && key_openssh == self.authorized_key
    }

    fn wants_stdin(&self, command: &str) -> bool {
        command == "vbash -s"
    }

    fn exec(&self, user: &str, command: String, stdin: Vec<u8>) -> BoxFuture<'static, ExecResult> {
        self.counters.execs.fetch_add(1, Ordering::SeqCst);
        let user = user.to_owned();
        let counters = Arc::clone(&self.counters);
        Box::pin(async move {
            let mut words = command.splitn(3, ' ');
            let verb = words.next().unwrap_or_default();
            let arg = words.next().unwrap_or_default();
            let rest = words.next().unwrap_or_default();
            match verb {
                "vbash" if arg == "-s" => ExecResult {
                    stdout: stdin,
                    ..ExecResult::default()
                },
                "hang" => {
                    counters.hanging.fetch_add(1, Ordering::SeqCst);
                    let _guard = AbandonGuard(counters);
                    std::future::pending::<ExecResult>().await
                }
                "drop" => ExecResult {
                    stdout: format!("{arg}\n").into_bytes(),
                    drop_connection: true,
                    ..ExecResult::default()
                },
                "fail" => ExecResult {
                    stdout: format!("out:{rest}\n").into_bytes(),
                    stderr: format!("err:{rest}\n").into_bytes(),
                    exit_status: arg.parse().unwrap_or(1),
                    drop_connection: false,
                },
                "sleep" => {
                    let ms = arg.parse().unwrap_or(0);
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    ExecResult {
                        stdout: format!("{rest}\n").into_bytes(),
                        ..ExecResult::default()
                    }
                }
                _ => ExecResult {
                    stdout: format!("{user} ran: {command}\n").into_bytes(),
                    ..ExecResult::default()
                },
            }
        })
    }
}

/// A russh client that trusts any host key (the OpenSSH tests check host keys).
pub struct TrustingClient;

impl russh::client::Handler for TrustingClient {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        _key: &russh::keys::PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        Ok(true)
    }
}

/// Bound of every russh client call here, so that a test fails instead of hanging.
pub const CLIENT_DEADLINE: Duration = Duration::from_secs(30);

/// Connects to 127.0.0.1:`port` and logs in with the test password.
pub async fn russh_login(port: u16) -> Result<russh::client::Handle<TrustingClient>, russh::Error> {
    tokio::time::timeout(CLIENT_DEADLINE, login(port))
        .await
        .map_err(|_| russh::Error::ConnectionTimeout)?
}

async fn login(port: u16) -> Result<russh::client::Handle<TrustingClient>, russh::Error> {
    let config = Arc::new(russh::client::Config::default());
    let mut handle = russh::client::connect(config, ("127.0.0.1", port), TrustingClient).await?;
    let auth = handle.authenticate_password(USER, PASSWORD).await?;
    if !auth.success() {
        return Err(russh::Error::NotAuthenticated);
    }
    Ok(handle)
}

/// What one exec produced, as the client saw it.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Seen {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub exit_status: Option<u32>,
}

/// Runs `command` on a new channel of `handle`, sends `stdin` then EOF, collects until the
/// server's EOF, then closes the channel as OpenSSH does (russh forgets a channel it closed,
/// so the server's close is not awaited).
pub async fn russh_exec(
    handle: &russh::client::Handle<TrustingClient>,
    command: &str,
    stdin: &[u8],
) -> Result<Seen, russh::Error> {
    tokio::time::timeout(CLIENT_DEADLINE, exec(handle, command, stdin))
        .await
        .map_err(|_| russh::Error::ConnectionTimeout)?
}

async fn exec(
    handle: &russh::client::Handle<TrustingClient>,
    command: &str,
    stdin: &[u8],
) -> Result<Seen, russh::Error> {
    let mut channel = handle.channel_open_session().await?;
    channel.exec(true, command).await?;
    if !stdin.is_empty() {
        channel.data_bytes(stdin.to_vec()).await?;
    }
    channel.eof().await?;
    let mut seen = Seen::default();
    while let Some(msg) = channel.wait().await {
        match msg {
            russh::ChannelMsg::Data { data } => seen.stdout.extend_from_slice(&data),
            russh::ChannelMsg::ExtendedData { data, ext: 1 } => {
                seen.stderr.extend_from_slice(&data)
            }
            russh::ChannelMsg::ExitStatus { exit_status } => seen.exit_status = Some(exit_status),
            russh::ChannelMsg::Eof => {
                channel.close().await?;
                break;
            }
            russh::ChannelMsg::Close => break,
            _ => {}
        }
    }
    Ok(seen)
}
