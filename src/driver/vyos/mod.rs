//! The VyOS driver: one [`Driver`] over two transports (SSH scripts or the HTTP API), picked by
//! the appliance's endpoint.
//!
//! Owns: the safe-change sequence of reference/vyos.md §3.6 and DESIGN invariant 5 — detect the
//! version; on versions whose commit-confirm timeout reboots, save the current good config
//! before arming and never save between commit and confirm; use `action reload` where it
//! exists; one commit per plan carrying `vnfsync <commit>`; re-read the running config after a
//! failed commit (partial commits); snapshots kept on the device (`/config/vnfsync/…`) and
//! returned as text; restore = load + commit, no reboot.
//! Must not decide what to change: plans come from the planner.

pub mod http;
pub mod script;
pub mod ssh;

use std::sync::Arc;
use std::time::Duration;

use secrecy::ExposeSecret;
use tokio::time::Instant;

use self::http::{HttpApi, HttpTarget};
use self::script::{Step, Transcript, Verdict};
use self::ssh::{SshAuth, SshSession, SshTarget};
use super::secret::{self, Env};
use super::{
    ApplyOptions, ApplyOutcome, ConfirmFallback, ConfirmOutcome, ConfirmState, DeviceInfo, Driver,
    DriverError, OpOutput, ProbeReport, Result, Reverter, Snapshot, commit_mode,
};
use crate::model::{Appliance, Transport};
use crate::vyos::{self as tree, Command, ConfigTree};

/// Where snapshots live on the device.
pub const SNAPSHOT_DIR: &str = "/config/vnfsync";

/// Timeouts for one appliance (DESIGN invariant 7: 30 s per device call by default).
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub connect: Duration,
    pub command: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            command: Duration::from_secs(30),
        }
    }
}

enum Link {
    Ssh {
        target: Box<SshTarget>,
        session: Option<SshSession>,
    },
    Http {
        api: HttpApi,
        /// Kept to open a fresh client (probes must never reuse a pooled connection).
        target: Box<HttpTarget>,
    },
}

/// A VyOS appliance.
pub struct VyosDriver {
    name: String,
    link: Link,
    info: Option<DeviceInfo>,
    /// The deadline of the commit-confirm this driver armed and has not confirmed.
    armed: Option<Instant>,
}

/// The version line of a release string.
pub fn version_line(release: &str) -> &'static str {
    let r = release.trim();
    if r.starts_with("1.3") || r.starts_with("1.2") {
        "1.3"
    } else if r.starts_with("1.4") {
        "1.4"
    } else {
        // 1.5, circinus, rolling and stream builds all behave as the 1.5 line.
        "1.5"
    }
}

/// Whether the HTTP API of this release takes `confirm_time` (reference/vyos.md §5.4: vyos-1x
/// PR #4533, merged 2025-05-30; in `1.5-stream-2025-Q2` and rolling builds after it). Decided
/// from the release string alone, because the only probe the API offers, `op: confirm`, would
/// confirm a pending commit-confirm. Unknown releases answer false: the daemon then watches
/// the change itself, which is safe.
pub fn api_confirm_from_release(release: &str) -> bool {
    let r = release.trim();
    if let Some(rest) = r.strip_prefix("1.5-stream-") {
        let mut parts = rest.split('-');
        let year = parts.next().and_then(|y| y.parse::<u32>().ok());
        let quarter = parts
            .next()
            .and_then(|q| q.strip_prefix('Q'))
            .and_then(|q| q.parse::<u32>().ok());
        return matches!((year, quarter), (Some(y), Some(q)) if (y, q) >= (2025, 2));
    }
    let date: String = r.chars().take(10).collect();
    let mut d = date.split('.');
    match (d.next(), d.next(), d.next()) {
        (Some(y), Some(m), Some(day)) if y.len() == 4 => {
            match (y.parse::<u32>(), m.parse::<u32>(), day.parse::<u32>()) {
                (Ok(y), Ok(m), Ok(day)) => (y, m, day) >= (2025, 5, 31),
                _ => false,
            }
        }
        _ => false,
    }
}

/// The release string in `show version` output (`Version:          VyOS 1.4.0`).
pub fn parse_show_version(text: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let rest = l.trim().strip_prefix("Version:")?;
        let rest = rest.trim();
        Some(rest.strip_prefix("VyOS").unwrap_or(rest).trim().to_string())
    })
}

/// What the timeout does, from the version line and the running config.
pub fn confirm_fallback(line: &str, running: &ConfigTree) -> ConfirmFallback {
    let reload = running
        .get(&["system", "config-management", "commit-confirm", "action"])
        .is_some_and(|n| n.values().iter().any(|v| v == "reload"));
    match line {
        "1.3" => ConfirmFallback::RebootToArmedSave,
        "1.5" if reload => ConfirmFallback::Reload,
        _ => ConfirmFallback::RebootToSaved,
    }
}

impl VyosDriver {
    /// Build the driver for an appliance, resolving its credentials now.
    pub fn new(appliance: &Appliance, env: &dyn Env, timeouts: Timeouts) -> Result<VyosDriver> {
        let name = appliance.name.to_string();
        let ep = &appliance.endpoint;
        let resolve = |r: &crate::model::values::SecretRef| {
            secret::resolve(r, env).map_err(|message| DriverError::Secret {
                appliance: name.clone(),
                reference: r.to_string(),
                message,
            })
        };
        let link = match ep.transport {
            Transport::Ssh => {
                let auth = match (&ep.private_key, &ep.password) {
                    (Some(k), _) => {
                        let text = resolve(k)?;
                        let key = russh::keys::decode_secret_key(text.expose_secret(), None)
                            .map_err(|e| DriverError::Secret {
                                appliance: name.clone(),
                                reference: k.to_string(),
                                message: format!("not an OpenSSH private key: {e}"),
                            })?;
                        SshAuth::Key(Arc::new(key))
                    }
                    (None, Some(p)) => SshAuth::Password(resolve(p)?),
                    (None, None) => {
                        return Err(DriverError::Unsupported {
                            appliance: name,
                            what: "SSH without credentials".into(),
                            why: "validation requires password or private_key".into(),
                        });
                    }
                };
                let target = SshTarget {
                    appliance: name.clone(),
                    host: ep.host.to_string(),
                    port: ep.port.0,
                    user: ep
                        .user
                        .as_ref()
                        .map(|u| u.to_string())
                        .unwrap_or_else(|| "vyos".into()),
                    auth,
                    host_key: ep
                        .host_key
                        .as_ref()
                        .map(|k| k.to_string())
                        .unwrap_or_default(),
                    connect_timeout: timeouts.connect,
                    command_timeout: timeouts.command,
                };
                Link::Ssh {
                    target: Box::new(target),
                    session: None,
                }
            }
            Transport::VyosHttp => {
                let key = match &ep.api_key {
                    Some(k) => resolve(k)?,
                    None => {
                        return Err(DriverError::Unsupported {
                            appliance: name,
                            what: "the HTTP API without a key".into(),
                            why: "validation requires api_key".into(),
                        });
                    }
                };
                let target = HttpTarget {
                    appliance: name.clone(),
                    scheme: ep.scheme,
                    host: ep.host.to_string(),
                    port: ep.port.0,
                    key,
                    tls: ep.tls.clone(),
                    connect_timeout: timeouts.connect,
                    command_timeout: timeouts.command,
                };
                Link::Http {
                    api: HttpApi::new(&target)?,
                    target: Box::new(target),
                }
            }
            Transport::Rest => {
                return Err(DriverError::Unsupported {
                    appliance: name,
                    what: "transport rest".into(),
                    why: "the VyOS driver speaks ssh and vyos-http".into(),
                });
            }
        };
        Ok(VyosDriver {
            name,
            link,
            info: None,
            armed: None,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Run a script over the kept SSH connection (reconnecting once if it dropped).
    async fn script(&mut self, steps: &[Step], during: &str) -> Result<Transcript> {
        let text = script::build(steps).map_err(|e| DriverError::Plan {
            appliance: self.name.clone(),
            message: e.to_string(),
        })?;
        let Link::Ssh { target, session } = &mut self.link else {
            return Err(DriverError::Unsupported {
                appliance: self.name.clone(),
                what: "scripts".into(),
                why: "not an SSH appliance".into(),
            });
        };
        if session.as_ref().is_none_or(SshSession::is_closed) {
            *session = Some(SshSession::connect(target).await?);
        }
        let Some(s) = session.as_ref() else {
            return Err(DriverError::Unreachable {
                appliance: self.name.clone(),
                message: "no SSH session".into(),
            });
        };
        let writes = steps.iter().any(|s| !matches!(s, Step::Run(_)));
        let out = match s.exec("vbash -s", text.as_bytes(), during).await {
            Ok(o) => o,
            Err(e) => {
                *session = None;
                // Once a writing script went out, a lost answer is an unknown outcome.
                return Err(match e {
                    DriverError::Timeout { .. } | DriverError::Unreachable { .. } if writes => {
                        DriverError::OutcomeUnknown {
                            appliance: self.name.clone(),
                            during: during.into(),
                            message: e.to_string(),
                        }
                    }
                    e => e,
                });
            }
        };
        let t = script::split(&out.stdout);
        if !t.completed {
            // The connection went away mid-script (a reboot, a dropped session, a change that
            // cut off our own port): what ran is unknown, so the caller must re-read.
            let message = format!(
                "{during}: the session ended before the script finished (exit status {:?}); the outcome is unknown{}",
                out.exit_status,
                match (out.stdout.trim(), out.stderr.trim()) {
                    ("", "") => String::new(),
                    (o, e) => format!(": {o}{e}"),
                }
            );
            return Err(if writes {
                DriverError::OutcomeUnknown {
                    appliance: self.name.clone(),
                    during: during.into(),
                    message,
                }
            } else {
                DriverError::Unreachable {
                    appliance: self.name.clone(),
                    message,
                }
            });
        }
        Ok(t)
    }

    /// The first failing step of a transcript, as a driver error.
    fn first_failure(&self, t: &Transcript, steps: &[Step], during: &str) -> Option<DriverError> {
        for (i, out) in t.steps.iter().enumerate() {
            match script::verdict(out) {
                Verdict::Ok | Verdict::NothingToCommit => {}
                Verdict::Busy(_) => {
                    return Some(DriverError::Conflict {
                        appliance: self.name.clone(),
                        during: during.into(),
                        device: out.trim().to_string(),
                    });
                }
                Verdict::Failed(device) => {
                    let step = steps.get(i);
                    return Some(match step {
                        Some(Step::Config(cmd)) => DriverError::Rejected {
                            appliance: self.name.clone(),
                            command: cmd.to_string(),
                            device,
                        },
                        Some(
                            Step::Commit { .. }
                            | Step::CommitConfirm { .. }
                            | Step::CommitConfirmLegacy { .. },
                        ) => DriverError::CommitFailed {
                            appliance: self.name.clone(),
                            device,
                            partial: false,
                            running: None,
                        },
                        _ => DriverError::Upstream {
                            appliance: self.name.clone(),
                            during: during.into(),
                            message: device,
                            retryable: false,
                        },
                    });
                }
            }
        }
        None
    }

    /// After a failed commit: re-read the running config and say whether it moved.
    async fn after_failed_commit(&mut self, err: DriverError, before: &ConfigTree) -> DriverError {
        let DriverError::CommitFailed {
            appliance, device, ..
        } = err
        else {
            return err;
        };
        match self.fetch().await {
            Ok(now) => DriverError::CommitFailed {
                appliance,
                device,
                partial: &now != before,
                running: Some(Box::new(now)),
            },
            Err(_) => DriverError::CommitFailed {
                appliance,
                device,
                partial: false,
                running: None,
            },
        }
    }

    /// Version and capabilities, cached; `running` spares a fetch when the caller has it.
    async fn detect(&mut self, running: Option<&ConfigTree>) -> Result<DeviceInfo> {
        if let Some(i) = &self.info {
            return Ok(i.clone());
        }
        let comment_on_transport = self.http().is_none();
        let (version, confirm_on_transport) = match self.http() {
            Some(api) => {
                // Read-only: `/info` (or `show version`), never a probing `op: confirm`, which
                // would confirm somebody else's pending commit-confirm.
                let info = api.info().await?;
                let from_info = info.as_ref().and_then(|v| {
                    v.get("version")
                        .and_then(|s| s.as_str())
                        .map(str::to_string)
                });
                let version = match from_info {
                    Some(v) => parse_show_version(&v).unwrap_or(v),
                    None => {
                        let text = api.show(&["version"]).await?;
                        parse_show_version(&text).unwrap_or_default()
                    }
                };
                let confirm = info.is_some() && api_confirm_from_release(&version);
                (version, confirm)
            }
            None => {
                let steps = [Step::Run(vec!["show".into(), "version".into()])];
                let t = self.script(&steps, "show version").await?;
                (
                    t.steps
                        .first()
                        .and_then(|s| parse_show_version(s))
                        .unwrap_or_default(),
                    true,
                )
            }
        };
        if version.is_empty() {
            return Err(DriverError::Upstream {
                appliance: self.name.clone(),
                during: "version detection".into(),
                message: "the device did not report a VyOS version".into(),
                retryable: false,
            });
        }
        let line = version_line(&version).to_string();
        let running = match running {
            Some(r) => r.clone(),
            None => self.fetch().await?,
        };
        let info = DeviceInfo {
            confirm_fallback: confirm_fallback(&line, &running),
            version,
            line,
            confirm_on_transport,
            confirm_unit: Duration::from_secs(60),
            comment_on_transport,
        };
        self.info = Some(info.clone());
        Ok(info)
    }

    fn http(&self) -> Option<&HttpApi> {
        match &self.link {
            Link::Http { api, .. } => Some(api),
            Link::Ssh { .. } => None,
        }
    }

    /// A write over the HTTP API whose answer was lost after the request went out.
    fn http_unknown(&self, e: DriverError, during: &str) -> DriverError {
        match e {
            DriverError::Timeout { .. }
            | DriverError::Upstream {
                retryable: true, ..
            } => DriverError::OutcomeUnknown {
                appliance: self.name.clone(),
                during: during.into(),
                message: e.to_string(),
            },
            e => e,
        }
    }

    /// Restore by applying the snapshot's text (the device's copy is gone): the whole-tree
    /// difference from the running config, as one plain commit.
    async fn restore_from_text(&mut self, snapshot: &Snapshot) -> Result<()> {
        let want = ConfigTree::parse_boot(&snapshot.boot).map_err(|e| DriverError::Plan {
            appliance: self.name.clone(),
            message: format!("snapshot {}: {e}", snapshot.id),
        })?;
        let running = self.fetch().await?;
        let plan = tree::diff(&running, &want, &[]);
        if plan.is_empty() {
            return Ok(());
        }
        let options = ApplyOptions {
            comment: format!("vnfsync restore {}", snapshot.id),
            save: crate::model::SavePolicy::Never,
            ..ApplyOptions::default()
        };
        self.apply(&plan, &options).await.map(|_| ())
    }
}

/// Whether a device message says the file to load is not there.
fn file_missing(e: &DriverError) -> bool {
    e.device_message()
        .is_some_and(|m| m.contains("No such file") || m.contains("does not exist"))
}

/// Turn the API's commit failure text into the driver's error.
fn http_commit_error(e: DriverError) -> DriverError {
    match e {
        DriverError::Rejected {
            appliance, device, ..
        } if device.contains("Commit failed")
            || device.contains("failed") && device.contains("[[") =>
        {
            DriverError::CommitFailed {
                appliance,
                device,
                partial: false,
                running: None,
            }
        }
        other => other,
    }
}

impl Driver for VyosDriver {
    async fn fetch(&mut self) -> Result<ConfigTree> {
        let text = match self.http() {
            Some(api) => api.show_config_raw().await?,
            None => {
                let steps = [Step::Run(vec![
                    "show".into(),
                    "configuration".into(),
                    "commands".into(),
                ])];
                let t = self.script(&steps, "show configuration commands").await?;
                if let Some(e) = self.first_failure(&t, &steps, "show configuration commands") {
                    return Err(e);
                }
                t.steps.first().cloned().unwrap_or_default()
            }
        };
        let parsed = if self.http().is_some() {
            tree::ConfigTree::parse_boot(&text)
        } else {
            tree::ConfigTree::parse_commands(&text)
        };
        parsed.map_err(|e| DriverError::Upstream {
            appliance: self.name.clone(),
            during: "reading the running config".into(),
            message: format!("the device answered a config we cannot parse: {e}"),
            retryable: false,
        })
    }

    async fn info(&mut self) -> Result<DeviceInfo> {
        self.detect(None).await
    }

    async fn apply(&mut self, plan: &[Command], options: &ApplyOptions) -> Result<ApplyOutcome> {
        if plan.is_empty() {
            return Ok(ApplyOutcome::NoChange);
        }
        for cmd in plan {
            script::config_line(cmd).map_err(|e| DriverError::Plan {
                appliance: self.name.clone(),
                message: e.to_string(),
            })?;
        }
        let running = self.fetch().await?;
        if let Some(pin) = &options.pin {
            let found = crate::render::tree_hash(&running, &pin.scopes);
            if found != pin.base_hash {
                return Err(DriverError::BaseMoved {
                    appliance: self.name.clone(),
                    expected: pin.base_hash.clone(),
                    found,
                });
            }
        }
        let target = tree::apply(plan, &running).map_err(|e| DriverError::Plan {
            appliance: self.name.clone(),
            message: e.to_string(),
        })?;
        if target == running {
            return Ok(ApplyOutcome::NoChange);
        }
        let info = self.detect(Some(&running)).await?;
        let decided = match options.mode {
            Some(m) => commit_mode(
                &info,
                m.window,
                if m.save_after_confirm {
                    crate::model::SavePolicy::AfterConfirm
                } else {
                    crate::model::SavePolicy::Never
                },
            ),
            None => commit_mode(&info, options.confirm_window, options.save),
        };
        let mode = match options.mode {
            Some(m) if m.reverter != decided.reverter => {
                return Err(DriverError::Conflict {
                    appliance: self.name.clone(),
                    during: "apply".into(),
                    device: format!(
                        "the commit mode decided before the write ({}) no longer fits the device ({}, {}); nothing was written",
                        m.confirm_by(),
                        info.version,
                        decided.confirm_by()
                    ),
                });
            }
            Some(m) => m,
            None => decided,
        };
        let window = mode.window_units(info.confirm_unit);
        let device_confirm = matches!(mode.reverter, Reverter::Device { .. });
        let save_first = mode.save_first;
        let confirm = match mode.reverter {
            Reverter::None => ConfirmState::NotRequested,
            Reverter::Device { fallback } => ConfirmState::Armed {
                window: Duration::from_secs(u64::from(window.unwrap_or(1)) * 60),
                fallback,
            },
            Reverter::Daemon => ConfirmState::DaemonWatchdog,
        };
        let result = match self.http() {
            Some(api) => {
                if save_first {
                    api.config_file("save", None, "save before commit-confirm")
                        .await?;
                }
                let during = format!("configure ({} commands)", plan.len());
                match api
                    .configure(plan, window.filter(|_| device_confirm), &during)
                    .await
                {
                    Ok(_) => Ok(()),
                    Err(e) => {
                        let e = self.http_unknown(e, &during);
                        if e.outcome_unknown() {
                            return Err(e);
                        }
                        Err(http_commit_error(e))
                    }
                }
            }
            None => {
                let mut steps: Vec<Step> = Vec::with_capacity(plan.len() + 2);
                if save_first {
                    steps.push(Step::Save);
                }
                steps.extend(plan.iter().cloned().map(Step::Config));
                steps.push(
                    match (window.filter(|_| device_confirm), info.line.as_str()) {
                        (None, _) => Step::Commit {
                            comment: options.comment.clone(),
                        },
                        (Some(m), "1.3") => Step::CommitConfirmLegacy { minutes: m },
                        (Some(m), _) => Step::CommitConfirm {
                            minutes: m,
                            comment: options.comment.clone(),
                        },
                    },
                );
                let t = self.script(&steps, "apply").await?;
                match self.first_failure(&t, &steps, "apply") {
                    Some(e) => Err(e),
                    None => Ok(()),
                }
            }
        };
        match result {
            Ok(()) => {
                if let ConfirmState::Armed { window, .. } = confirm {
                    self.armed = Some(Instant::now() + window);
                }
                Ok(ApplyOutcome::Committed {
                    confirm,
                    saved_before: save_first,
                    // 1.3's `commit-confirm N` takes no comment.
                    comment_carried: info.comment_on_transport
                        && !(device_confirm && info.line == "1.3"),
                })
            }
            Err(e) => Err(self.after_failed_commit(e, &running).await),
        }
    }

    async fn confirm(&mut self) -> Result<ConfirmOutcome> {
        let said = if let Some(api) = self.http() {
            match api.config_file("confirm", None, "confirm").await {
                Ok(reply) => match reply.data {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                },
                Err(e) => return Err(self.http_unknown(e, "confirm")),
            }
        } else {
            let steps = [Step::Confirm];
            let t = self.script(&steps, "confirm").await?;
            if let Some(e) = self.first_failure(&t, &steps, "confirm") {
                return Err(e);
            }
            t.steps.first().cloned().unwrap_or_default()
        };
        self.armed = None;
        // §3.6: `No confirm pending` when nothing was armed or the timer already fired;
        // `Reboot/Reload timer stopped` (1.4+) or nothing at all (1.3) when one was stopped.
        Ok(if said.contains("No confirm pending") {
            ConfirmOutcome::NothingPending
        } else {
            ConfirmOutcome::Stopped
        })
    }

    fn confirm_pending(&self) -> Option<Instant> {
        self.armed.filter(|deadline| Instant::now() < *deadline)
    }

    async fn save(&mut self) -> Result<()> {
        if let Some(api) = self.http() {
            api.config_file("save", None, "save").await?;
            return Ok(());
        }
        let steps = [Step::Save];
        let t = self.script(&steps, "save").await?;
        self.first_failure(&t, &steps, "save").map_or(Ok(()), Err)
    }

    async fn snapshot(&mut self, id: &str) -> Result<Snapshot> {
        let safe = !id.is_empty()
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
            && !id.starts_with('.');
        if !safe {
            return Err(DriverError::Plan {
                appliance: self.name.clone(),
                message: format!("bad snapshot id `{id}`"),
            });
        }
        let device_path = format!("{SNAPSHOT_DIR}/{id}.boot");
        let running = self.fetch().await?;
        match self.http() {
            Some(api) => {
                api.config_file("save", Some(&device_path), "snapshot")
                    .await?;
            }
            None => {
                let steps = [Step::SaveTo(device_path.clone())];
                let t = self.script(&steps, "snapshot").await?;
                if let Some(e) = self.first_failure(&t, &steps, "snapshot") {
                    return Err(e);
                }
            }
        }
        let boot = tree::render_boot(&running, &tree::BootStyle::default());
        Ok(Snapshot {
            id: id.to_string(),
            device_path,
            boot,
        })
    }

    async fn restore(&mut self, snapshot: &Snapshot) -> Result<()> {
        let loaded = match self.http() {
            Some(api) => {
                // The API's load migrates, loads and commits (§5.2).
                match api
                    .config_file("load", Some(&snapshot.device_path), "restore")
                    .await
                {
                    Ok(_) => Ok(()),
                    Err(e) => Err(http_commit_error(self.http_unknown(e, "restore"))),
                }
            }
            None => {
                let steps = [
                    Step::Load(snapshot.device_path.clone()),
                    Step::Commit {
                        comment: format!("vnfsync restore {}", snapshot.id),
                    },
                ];
                let t = self.script(&steps, "restore").await?;
                self.first_failure(&t, &steps, "restore")
                    .map_or(Ok(()), Err)
            }
        };
        match loaded {
            Err(e) if file_missing(&e) && !snapshot.boot.is_empty() => {
                self.restore_from_text(snapshot).await
            }
            other => other,
        }
    }

    async fn probe(&mut self) -> Result<ProbeReport> {
        let start = Instant::now();
        match &self.link {
            Link::Http { target, .. } => {
                // A new client: a pooled connection made before a lockout would still answer.
                let fresh = HttpApi::new(target)?;
                fresh.show(&["version"]).await?;
            }
            Link::Ssh { target, .. } => {
                let fresh = SshSession::connect(target).await?;
                fresh.close().await;
            }
        }
        Ok(ProbeReport {
            reachable: true,
            latency: start.elapsed(),
        })
    }

    async fn op(&mut self, words: &[String]) -> Result<OpOutput> {
        if let Some(api) = self.http() {
            // The API runs op-mode `show` commands only.
            let Some(("show", rest)) = words.split_first().map(|(a, b)| (a.as_str(), b)) else {
                return Err(DriverError::Unsupported {
                    appliance: self.name.clone(),
                    what: format!("`{}` over the HTTP API", words.join(" ")),
                    why: "the API runs op-mode `show` commands only".into(),
                });
            };
            let path: Vec<&str> = rest.iter().map(String::as_str).collect();
            return api.show(&path).await;
        }
        let steps = [Step::Run(words.to_vec())];
        let during = words.join(" ");
        let t = self.script(&steps, &during).await?;
        if let Some(e) = self.first_failure(&t, &steps, &during) {
            return Err(e);
        }
        Ok(t.steps.first().cloned().unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 11: API commit-confirm support is read from the release, never probed with
    /// `op: confirm` (which would confirm a pending change).
    #[test]
    fn issue_11_api_confirm_from_release_without_probing() {
        assert!(api_confirm_from_release("1.5-stream-2025-Q2"));
        assert!(api_confirm_from_release("1.5-stream-2026-Q1"));
        assert!(!api_confirm_from_release("1.5-stream-2025-Q1"));
        assert!(api_confirm_from_release("2025.06.24-0020-rolling"));
        assert!(!api_confirm_from_release("2025.05.20-0020-rolling"));
        assert!(!api_confirm_from_release("1.4.0"));
        assert!(!api_confirm_from_release("1.3.8"));
        assert!(!api_confirm_from_release("circinus"));
    }

    #[test]
    fn versions_and_fallbacks() {
        assert_eq!(
            parse_show_version("Version:          VyOS 1.4.0\nRelease train:    sagitta\n")
                .as_deref(),
            Some("1.4.0")
        );
        assert_eq!(version_line("1.3.4"), "1.3");
        assert_eq!(version_line("1.4-rolling-202303160317"), "1.4");
        assert_eq!(version_line("2025.06.24-0020-rolling"), "1.5");
        assert_eq!(version_line("1.5-stream-2025-Q2"), "1.5");
        let plain = ConfigTree::new();
        let reload = ConfigTree::parse_commands(
            "set system config-management commit-confirm action 'reload'\n",
        )
        .expect("tree");
        assert_eq!(
            confirm_fallback("1.3", &reload),
            ConfirmFallback::RebootToArmedSave
        );
        assert_eq!(
            confirm_fallback("1.4", &reload),
            ConfirmFallback::RebootToSaved
        );
        assert_eq!(
            confirm_fallback("1.5", &plain),
            ConfirmFallback::RebootToSaved
        );
        assert_eq!(confirm_fallback("1.5", &reload), ConfirmFallback::Reload);
    }
}
