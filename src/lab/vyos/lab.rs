//! A lab: many emulated appliances in one process, their listeners on loopback, and the control
//! endpoint; plus the lab file (`--file lab.yaml`).
//!
//! Owns building appliances from a lab file or a count, binding ports (`port_base` or
//! ephemeral), starting the API servers and the control endpoint, and the one JSON line per
//! appliance that scripts read. Must not hold VyOS semantics.
//!
//! Port layout with a port base B: control on B, appliance i (from 0) SSH on B+1+2i and API on
//! B+2+2i. The SSH front end is `ssh::serve_ssh` with the appliance as its [`ExecBackend`].
//!
//! [`ExecBackend`]: super::frontend::ExecBackend

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::api;
use super::appliance::{Appliance, ApplianceError, ApplianceSpec, Timing};
use super::control;
use super::faults::Faults;
use super::hostkey::{HostKey, host_key};
use super::profile::Profile;
use crate::yaml;

/// Why a lab could not start.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error("lab file: {line}:{column}: {message}")]
    Yaml {
        line: u32,
        column: u32,
        message: String,
    },
    #[error("lab file: {0}")]
    File(String),
    #[error(transparent)]
    Appliance(#[from] ApplianceError),
    #[error("binding {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("port layout does not fit below 65536 with port base {0}")]
    Ports(u16),
}

/// The lab file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabFile {
    /// Default profile for appliances that do not name one.
    #[serde(default)]
    pub profile: Option<Profile>,
    pub appliances: Vec<LabAppliance>,
}

/// One appliance in the lab file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabAppliance {
    pub name: String,
    #[serde(default)]
    pub profile: Option<Profile>,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub api_key: Option<String>,
    #[serde(default)]
    pub authorized_keys: Vec<String>,
    /// Initial config: config.boot text or `set` commands.
    #[serde(default)]
    pub config: Option<String>,
    /// Initial config read from a file (relative to the lab file's directory).
    #[serde(default)]
    pub config_file: Option<String>,
    #[serde(default)]
    pub faults: Faults,
}

fn to_json(node: &yaml::Node) -> Value {
    match &node.value {
        yaml::Value::Null => Value::Null,
        yaml::Value::Bool(b) => Value::Bool(*b),
        yaml::Value::Int(i) => i64::try_from(*i).map_or(Value::Null, |i| json!(i)),
        yaml::Value::Float(f) => json!(f),
        yaml::Value::Str(s) => Value::String(s.clone()),
        yaml::Value::Seq(v) => Value::Array(v.iter().map(to_json).collect()),
        yaml::Value::Map(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let key = match &k.value {
                        yaml::Value::Str(s) => s.clone(),
                        other => format!("{other:?}"),
                    };
                    (key, to_json(v))
                })
                .collect(),
        ),
    }
}

/// Whether `name` is a DNS label, as an appliance (host) name must be.
fn is_dns_label(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && !name.starts_with('-')
        && !name.ends_with('-')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// Reads a lab file into appliance specs (default profile 1.4 when neither the file nor the
/// appliance names one). `config_file` entries are refused: use [`parse_lab_file_in`].
pub fn parse_lab_file(text: &str) -> Result<Vec<ApplianceSpec>, LabError> {
    parse_lab_file_in(text, None)
}

/// [`parse_lab_file`], reading `config_file` entries relative to `dir`.
pub fn parse_lab_file_in(
    text: &str,
    dir: Option<&std::path::Path>,
) -> Result<Vec<ApplianceSpec>, LabError> {
    let node = yaml::parse(text).map_err(|e| LabError::Yaml {
        line: e.pos.line,
        column: e.pos.column,
        message: e.message,
    })?;
    let file: LabFile =
        serde_json::from_value(to_json(&node)).map_err(|e| LabError::File(e.to_string()))?;
    let mut seen = std::collections::BTreeSet::new();
    let mut specs = Vec::new();
    if file.appliances.is_empty() {
        return Err(LabError::File("appliances: give at least one".to_owned()));
    }
    for a in file.appliances {
        if !is_dns_label(&a.name) {
            return Err(LabError::File(format!(
                "appliance name {:?} is not a DNS label (1-63 letters, digits and inner hyphens)",
                a.name
            )));
        }
        if a.api_key.as_deref().is_some_and(str::is_empty) {
            return Err(LabError::File(format!(
                "appliance {:?}: api_key is empty",
                a.name
            )));
        }
        if a.user.as_deref().is_some_and(str::is_empty) {
            return Err(LabError::File(format!(
                "appliance {:?}: user is empty",
                a.name
            )));
        }
        if !seen.insert(a.name.clone()) {
            return Err(LabError::File(format!(
                "appliance name {:?} is used twice",
                a.name
            )));
        }
        let profile = a.profile.or(file.profile).unwrap_or(Profile::V14);
        let mut spec = ApplianceSpec::new(a.name, profile);
        if let Some(u) = a.user {
            spec.user = u;
        }
        if let Some(p) = a.password {
            spec.password = p;
        }
        if let Some(k) = a.api_key {
            spec.api_key = k;
        }
        spec.authorized_keys = a.authorized_keys;
        spec.config = match (a.config, a.config_file) {
            (Some(_), Some(_)) => {
                return Err(LabError::File(format!(
                    "appliance {:?}: give config or config_file, not both",
                    spec.name
                )));
            }
            (Some(c), None) => Some(c),
            (None, Some(f)) => {
                let Some(dir) = dir else {
                    return Err(LabError::File(format!(
                        "appliance {:?}: config_file needs the lab file's directory",
                        spec.name
                    )));
                };
                let path = dir.join(&f);
                Some(std::fs::read_to_string(&path).map_err(|e| {
                    LabError::File(format!(
                        "appliance {:?}: {}: {e}",
                        spec.name,
                        path.display()
                    ))
                })?)
            }
            (None, None) => None,
        };
        spec.faults = a.faults;
        specs.push(spec);
    }
    Ok(specs)
}

/// `--vyos N --profile P`: appliances `vyos1` … `vyosN`.
pub fn specs_for_count(count: usize, profile: Profile) -> Vec<ApplianceSpec> {
    (1..=count)
        .map(|i| ApplianceSpec::new(format!("vyos{i}"), profile))
        .collect()
}

/// How to run a lab.
#[derive(Debug, Clone, Copy)]
pub struct LabOptions {
    /// First port of the layout; `None` for ephemeral ports.
    pub port_base: Option<u16>,
    pub timing: Timing,
}

/// What guards the lab: the control endpoint's token and the delay before a failed SSH
/// password login is answered.
#[derive(Debug, Clone)]
pub struct LabSecurity {
    /// `None`: a fresh random token.
    pub control_token: Option<String>,
    /// How long a failed password login waits before it is answered (as sshd with PAM does).
    pub login_failure_delay: std::time::Duration,
}

impl Default for LabSecurity {
    fn default() -> Self {
        LabSecurity {
            control_token: None,
            login_failure_delay: std::time::Duration::from_secs(2),
        }
    }
}

/// A fresh random control token (32 hex digits).
fn random_token() -> String {
    use ring::rand::SecureRandom as _;
    let mut bytes = [0u8; 16];
    if ring::rand::SystemRandom::new().fill(&mut bytes).is_err() {
        // No system RNG: fall back on the process's hash keys (random per process).
        use std::hash::{BuildHasher as _, Hasher as _};
        for chunk in bytes.chunks_mut(8) {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u64(u64::from(std::process::id()));
            chunk.copy_from_slice(&h.finish().to_le_bytes());
        }
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One running appliance and where to reach it.
#[derive(Debug)]
pub struct Running {
    pub appliance: Arc<Appliance>,
    pub api: SocketAddr,
    /// The SSH front end's address.
    pub ssh: Option<SocketAddr>,
    pub host_key: HostKey,
}

/// A running lab. Dropping it stops every listener.
#[derive(Debug)]
pub struct Lab {
    running: Vec<Running>,
    control: SocketAddr,
    token: String,
    tasks: Vec<JoinHandle<()>>,
}

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

async fn bind(base: Option<u16>, offset: usize) -> Result<TcpListener, LabError> {
    let port = match base {
        None => 0,
        Some(b) => u16::try_from(usize::from(b) + offset).map_err(|_| LabError::Ports(b))?,
    };
    let addr = SocketAddr::new(LOOPBACK, port);
    TcpListener::bind(addr)
        .await
        .map_err(|source| LabError::Bind { addr, source })
}

fn local(l: &TcpListener) -> SocketAddr {
    l.local_addr()
        .unwrap_or_else(|_| SocketAddr::new(LOOPBACK, 0))
}

impl Lab {
    /// Builds every appliance, binds every port, then starts serving. Must run inside a tokio
    /// runtime. Nothing is served if any appliance or port fails.
    pub async fn start(specs: Vec<ApplianceSpec>, opts: LabOptions) -> Result<Lab, LabError> {
        Lab::start_with(specs, opts, LabSecurity::default()).await
    }

    /// [`Lab::start`] with an explicit control token and login delay.
    pub async fn start_with(
        specs: Vec<ApplianceSpec>,
        opts: LabOptions,
        security: LabSecurity,
    ) -> Result<Lab, LabError> {
        let token = security.control_token.clone().unwrap_or_else(random_token);
        let ssh_config = super::ssh::SshServerConfig {
            login_failure_delay: security.login_failure_delay,
            ..super::ssh::SshServerConfig::default()
        };
        let mut apps = Vec::with_capacity(specs.len());
        for spec in specs {
            apps.push(Appliance::new(spec, opts.timing)?);
        }
        let control_listener = bind(opts.port_base, 0).await?;
        let mut listeners = Vec::with_capacity(apps.len());
        for (i, _) in apps.iter().enumerate() {
            let ssh = bind(opts.port_base, 1 + 2 * i).await?;
            let api = bind(opts.port_base, 2 + 2 * i).await?;
            listeners.push((ssh, api));
        }
        let mut tasks = Vec::new();
        let mut running = Vec::with_capacity(apps.len());
        let mut by_name = BTreeMap::new();
        for (app, (ssh_listener, listener)) in apps.into_iter().zip(listeners) {
            let api_addr = local(&listener);
            let ssh_addr = local(&ssh_listener);
            let key = host_key(app.name());
            let backend: Arc<dyn super::frontend::ExecBackend> = app.clone();
            let host = key.key.clone();
            let name = app.name().to_owned();
            let config = ssh_config.clone();
            tasks.push(tokio::spawn(async move {
                if let Err(e) =
                    super::ssh::serve_ssh_with(ssh_listener, host, backend, config).await
                {
                    tracing::error!(appliance = %name, error = %e, "ssh server stopped");
                }
            }));
            let a = app.clone();
            tasks.push(tokio::spawn(async move {
                if let Err(e) = api::serve_api(listener, a.clone()).await {
                    tracing::error!(appliance = a.name(), error = %e, "api server stopped");
                }
            }));
            by_name.insert(app.name().to_owned(), app.clone());
            running.push(Running {
                host_key: key,
                appliance: app,
                api: api_addr,
                ssh: Some(ssh_addr),
            });
        }
        let control = local(&control_listener);
        let service = control::service(Arc::new(by_name), token.clone());
        tasks.push(tokio::spawn(async move {
            let make = axum::ServiceExt::into_make_service(service);
            if let Err(e) = axum::serve(control_listener, make).await {
                tracing::error!(error = %e, "control endpoint stopped");
            }
        }));
        Ok(Lab {
            running,
            control,
            token,
            tasks,
        })
    }

    pub fn appliances(&self) -> &[Running] {
        &self.running
    }

    pub fn get(&self, name: &str) -> Option<&Running> {
        self.running.iter().find(|r| r.appliance.name() == name)
    }

    /// The control endpoint's address.
    pub fn control_addr(&self) -> SocketAddr {
        self.control
    }

    /// The control endpoint's token.
    pub fn control_token(&self) -> &str {
        &self.token
    }

    /// The control URL of appliance `name`, token included.
    pub fn control_url(&self, name: &str) -> String {
        format!("http://{}/t/{}/appliances/{name}", self.control, self.token)
    }

    /// The line printed for one appliance when the lab is ready.
    pub fn json_line(&self, r: &Running) -> String {
        let spec = r.appliance.spec();
        json!({
            "name": spec.name,
            "profile": spec.profile,
            "ssh": r.ssh.map(|a| a.to_string()),
            "api": format!("http://{}", r.api),
            "host_key": r.host_key.public_openssh,
            "host_key_fingerprint": r.host_key.fingerprint,
            "user": spec.user,
            "password": spec.password,
            "api_key": spec.api_key,
            "control": self.control_url(&spec.name),
            "control_token": self.token,
        })
        .to_string()
    }

    /// One JSON line per appliance, in lab order.
    pub fn json_lines(&self) -> Vec<String> {
        self.running.iter().map(|r| self.json_line(r)).collect()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lab_file() {
        let specs = parse_lab_file(
            "profile: '1.5'\nappliances:\n  - name: r1\n    password: pw\n    faults:\n      latency_ms: 5\n  - name: r2\n    profile: '1.3'\n",
        );
        let specs = match specs {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(specs.len(), 2);
        assert_eq!(specs[0].profile, Profile::V15);
        assert_eq!(specs[0].password, "pw");
        assert_eq!(specs[0].faults.latency_ms, 5);
        assert_eq!(specs[1].profile, Profile::V13);
        let bad = parse_lab_file("appliances:\n  - name: r1\n    colour: red\n");
        assert!(matches!(bad, Err(LabError::File(m)) if m.contains("colour")));
    }
}
