//! The SSH transport of the VyOS driver (russh client).
//!
//! Owns: connecting with a timeout, refusing any host key but the pinned one, password or key
//! authentication from resolved secrets, keepalive, and running one exec request (command +
//! stdin, until EOF) with a timeout. Must not know VyOS commands: scripts come from
//! `script.rs`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use russh::client;
use russh::keys::{HashAlg, PrivateKey, PrivateKeyWithHashAlg, PublicKey};
use secrecy::{ExposeSecret, SecretString};

use crate::driver::{DriverError, Result};

/// How to authenticate.
#[derive(Clone)]
pub enum SshAuth {
    Password(SecretString),
    Key(Arc<PrivateKey>),
}

impl std::fmt::Debug for SshAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SshAuth::Password(_) => f.write_str("Password(<redacted>)"),
            SshAuth::Key(_) => f.write_str("Key(<redacted>)"),
        }
    }
}

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct SshTarget {
    pub appliance: String,
    pub host: String,
    pub port: u16,
    pub user: String,
    pub auth: SshAuth,
    /// `SHA256:…` or `ssh-ed25519 AAAA…`.
    pub host_key: String,
    pub connect_timeout: Duration,
    pub command_timeout: Duration,
}

/// What one exec request returned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecOutput {
    pub stdout: String,
    pub stderr: String,
    pub exit_status: Option<u32>,
}

/// Whether `key` is the one `pin` names.
pub fn matches_pin(key: &PublicKey, pin: &str) -> bool {
    if pin.starts_with("SHA256:") {
        return key.fingerprint(HashAlg::Sha256).to_string() == pin;
    }
    match key.to_openssh() {
        Ok(text) => {
            let mut ours = text.split_whitespace();
            let mut theirs = pin.split_whitespace();
            ours.next() == theirs.next() && ours.next() == theirs.next()
        }
        Err(_) => false,
    }
}

struct Pinned {
    pin: String,
    presented: Arc<Mutex<Option<String>>>,
}

impl client::Handler for Pinned {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        presented: &russh::keys::PublicKeyOrCertificate,
    ) -> std::result::Result<bool, Self::Error> {
        // A certificate is never accepted: pins name plain keys.
        let russh::keys::PublicKeyOrCertificate::PublicKey { key, .. } = presented else {
            return Ok(false);
        };
        let fp = key.fingerprint(HashAlg::Sha256).to_string();
        if let Ok(mut seen) = self.presented.lock() {
            *seen = Some(fp);
        }
        Ok(matches_pin(key, &self.pin))
    }
}

/// An authenticated SSH connection to one appliance.
pub struct SshSession {
    handle: client::Handle<Pinned>,
    appliance: String,
    command_timeout: Duration,
}

impl SshSession {
    /// Connect, check the host key, authenticate.
    pub async fn connect(t: &SshTarget) -> Result<SshSession> {
        let presented = Arc::new(Mutex::new(None));
        let handler = Pinned {
            pin: t.host_key.clone(),
            presented: presented.clone(),
        };
        let config = Arc::new(client::Config {
            inactivity_timeout: Some(t.command_timeout * 4),
            keepalive_interval: Some(Duration::from_secs(15)),
            keepalive_max: 3,
            nodelay: true,
            ..Default::default()
        });
        let addr = (t.host.clone(), t.port);
        let connected =
            tokio::time::timeout(t.connect_timeout, client::connect(config, addr, handler)).await;
        let mut handle = match connected {
            Err(_) => {
                return Err(DriverError::Timeout {
                    appliance: t.appliance.clone(),
                    during: "SSH connect".into(),
                    after: t.connect_timeout,
                });
            }
            Ok(Ok(h)) => h,
            Ok(Err(e)) => {
                let seen = presented.lock().ok().and_then(|s| s.clone());
                return Err(match (e, seen) {
                    (russh::Error::UnknownKey, Some(presented)) => DriverError::HostKey {
                        appliance: t.appliance.clone(),
                        presented,
                        pinned: t.host_key.clone(),
                    },
                    (russh::Error::IO(io), _) => DriverError::Unreachable {
                        appliance: t.appliance.clone(),
                        message: format!("{}:{}: {io}", t.host, t.port),
                    },
                    (e, _) => DriverError::Unreachable {
                        appliance: t.appliance.clone(),
                        message: format!("{}:{}: SSH handshake failed: {e}", t.host, t.port),
                    },
                });
            }
        };
        let auth = async {
            match &t.auth {
                SshAuth::Password(pw) => {
                    handle
                        .authenticate_password(t.user.clone(), pw.expose_secret())
                        .await
                }
                SshAuth::Key(key) => {
                    let hash = handle
                        .best_supported_rsa_hash()
                        .await
                        .ok()
                        .flatten()
                        .flatten();
                    handle
                        .authenticate_publickey(
                            t.user.clone(),
                            PrivateKeyWithHashAlg::new(key.clone(), hash),
                        )
                        .await
                }
            }
        };
        let result = tokio::time::timeout(t.connect_timeout, auth)
            .await
            .map_err(|_| DriverError::Timeout {
                appliance: t.appliance.clone(),
                during: "SSH authentication".into(),
                after: t.connect_timeout,
            })?;
        match result {
            Ok(r) if r.success() => Ok(SshSession {
                handle,
                appliance: t.appliance.clone(),
                command_timeout: t.command_timeout,
            }),
            Ok(_) => Err(DriverError::Auth {
                appliance: t.appliance.clone(),
                message: format!("the device refused the credentials of user {}", t.user),
            }),
            Err(e) => Err(DriverError::Unreachable {
                appliance: t.appliance.clone(),
                message: format!("connection lost during authentication: {e}"),
            }),
        }
    }

    /// Run `command`, feed it `stdin` then EOF, and collect its output until the channel closes.
    pub async fn exec(&self, command: &str, stdin: &[u8], during: &str) -> Result<ExecOutput> {
        let lost = |e: russh::Error| DriverError::Unreachable {
            appliance: self.appliance.clone(),
            message: format!("{during}: connection lost: {e}"),
        };
        let run = async {
            let mut channel = self.handle.channel_open_session().await.map_err(lost)?;
            channel.exec(true, command).await.map_err(lost)?;
            if !stdin.is_empty() {
                channel.data(stdin).await.map_err(lost)?;
            }
            channel.eof().await.map_err(lost)?;
            let mut out = ExecOutput::default();
            let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
            let cap = crate::driver::MAX_DEVICE_REPLY;
            while let Some(msg) = channel.wait().await {
                let room = |a: &Vec<u8>, b: &Vec<u8>, n: usize| a.len() + b.len() + n <= cap;
                match msg {
                    russh::ChannelMsg::Data { data }
                    | russh::ChannelMsg::ExtendedData { data, .. }
                        if !room(&stdout, &stderr, data.len()) =>
                    {
                        let _ = channel.close().await;
                        return Err(DriverError::Upstream {
                            appliance: self.appliance.clone(),
                            during: during.to_string(),
                            message: format!(
                                "the output is larger than the {} MiB cap; stopped reading",
                                cap >> 20
                            ),
                            retryable: false,
                        });
                    }
                    russh::ChannelMsg::Data { data } => stdout.extend_from_slice(&data),
                    russh::ChannelMsg::ExtendedData { data, .. } => stderr.extend_from_slice(&data),
                    russh::ChannelMsg::ExitStatus { exit_status } => {
                        out.exit_status = Some(exit_status)
                    }
                    russh::ChannelMsg::Close => break,
                    _ => {}
                }
            }
            out.stdout = String::from_utf8_lossy(&stdout).into_owned();
            out.stderr = String::from_utf8_lossy(&stderr).into_owned();
            Ok(out)
        };
        match tokio::time::timeout(self.command_timeout, run).await {
            Ok(r) => r,
            Err(_) => Err(DriverError::Timeout {
                appliance: self.appliance.clone(),
                during: during.to_string(),
                after: self.command_timeout,
            }),
        }
    }

    /// Whether the connection is still up.
    pub fn is_closed(&self) -> bool {
        self.handle.is_closed()
    }

    pub async fn close(self) {
        let _ = self
            .handle
            .disconnect(russh::Disconnect::ByApplication, "", "en")
            .await;
    }
}
