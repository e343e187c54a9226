//! `vnfsync demo`: the whole product on one machine, on embedded defaults.
//!
//! Owns: starting lab appliances on loopback (profiles 1.3, 1.4, 1.5; SSH and the HTTP API),
//! writing the shipped `desired-state/` (embedded in the binary) into a fresh git repository
//! with each endpoint pointed at its lab appliance and its secrets in files, generating an API
//! token, running the daemon in this process with a temporary state dir, and waiting until
//! every appliance converged. Everything lives in one temporary directory removed on drop.
//! Must not touch anything outside that directory and loopback.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::api::{Scope, Tokens, auth};
use crate::config::Config;
use crate::lab::vyos::lab::{Lab, LabOptions, parse_lab_file};

/// The shipped desired state, as files relative to its directory.
pub const SHIPPED: &[(&str, &str)] = &[
    (
        "vnfsync.yaml",
        include_str!("../../desired-state/vnfsync.yaml"),
    ),
    (
        "appliances/branch-1.yaml",
        include_str!("../../desired-state/appliances/branch-1.yaml"),
    ),
    (
        "appliances/edge-1.yaml",
        include_str!("../../desired-state/appliances/edge-1.yaml"),
    ),
    (
        "appliances/edge-2.yaml",
        include_str!("../../desired-state/appliances/edge-2.yaml"),
    ),
    (
        "policies/management.yaml",
        include_str!("../../desired-state/policies/management.yaml"),
    ),
    (
        "policies/outbound.yaml",
        include_str!("../../desired-state/policies/outbound.yaml"),
    ),
    (
        "policies/web-servers.yaml",
        include_str!("../../desired-state/policies/web-servers.yaml"),
    ),
];

/// The NOC network of the shipped management policy, and the demo's (this machine).
pub const SHIPPED_NOC: &str = "203.0.113.0/24";
pub const DEMO_NOC: &str = "127.0.0.0/8";

const LAB: [(&str, &str); 3] = [("branch-1", "1.3"), ("edge-1", "1.4"), ("edge-2", "1.5")];

/// `bytes` random bytes in hex (the token, and the lab's password and API key: generated per
/// run, so no demo secret is a well-known word).
fn random_hex(bytes: usize) -> Result<String, DemoError> {
    let mut raw = vec![0u8; bytes];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut raw)
        .map_err(|_| DemoError::Other("no randomness for the demo's secrets".into()))?;
    Ok(raw.iter().map(|b| format!("{b:02x}")).collect())
}

/// Why the demo could not start.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("lab: {0}")]
    Lab(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("git {args}: {message}")]
    Git { args: String, message: String },
    #[error("{0}")]
    Other(String),
}

/// A running demo: the lab, the repository and the daemon's address and token.
pub struct Demo {
    pub lab: Lab,
    pub dir: tempfile::TempDir,
    pub api: String,
    pub token: String,
    pub config: Config,
    pub tokens: Tokens,
}

impl Demo {
    pub fn repo(&self) -> PathBuf {
        self.dir.path().join("repo")
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DemoError + '_ {
    move |source| DemoError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn git(dir: &Path, args: &[&str]) -> Result<String, DemoError> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "vnfsync demo")
        .env("GIT_AUTHOR_EMAIL", "demo@vnfsync.invalid")
        .env("GIT_COMMITTER_NAME", "vnfsync demo")
        .env("GIT_COMMITTER_EMAIL", "demo@vnfsync.invalid")
        .output()
        .map_err(|e| DemoError::Git {
            args: args.join(" "),
            message: e.to_string(),
        })?;
    if !out.status.success() {
        return Err(DemoError::Git {
            args: args.join(" "),
            message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Replace the `endpoint:` block of an appliance file with `endpoint`, and a health probe's
/// `port: OLD` with the lab port.
fn point_at(text: &str, endpoint: &str, old_port: &str, new_port: &str) -> String {
    let mut out = String::new();
    let mut skipping = false;
    for line in text.lines() {
        if line == "endpoint:" {
            out.push_str(endpoint);
            skipping = true;
            continue;
        }
        if skipping && (line.starts_with(' ') || line.is_empty()) {
            continue;
        }
        skipping = false;
        let trimmed = line.trim_start();
        if trimmed == format!("port: {old_port}") {
            out.push_str(&line.replace(old_port, new_port));
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

fn str_of<'a>(v: &'a Value, key: &str) -> Result<&'a str, DemoError> {
    v[key]
        .as_str()
        .ok_or_else(|| DemoError::Lab(format!("the lab line has no `{key}`")))
}

/// Start the lab and write the repository, the token file and the daemon's configuration.
pub async fn prepare() -> Result<Demo, DemoError> {
    let dir = tempfile::Builder::new()
        .prefix("vnfsync-demo-")
        .tempdir()
        .map_err(io(Path::new("temporary directory")))?;
    let (password, api_key) = (random_hex(12)?, random_hex(16)?);
    let lab_file: String = std::iter::once("appliances:\n".to_string())
        .chain(LAB.iter().map(|(name, profile)| {
            format!("  - {{name: {name}, profile: '{profile}', password: {password}, api_key: {api_key}}}\n")
        }))
        .collect();
    let specs = parse_lab_file(&lab_file).map_err(|e| DemoError::Lab(e.to_string()))?;
    let lab = Lab::start(
        specs,
        LabOptions {
            port_base: None,
            timing: Default::default(),
        },
    )
    .await
    .map_err(|e| DemoError::Lab(e.to_string()))?;
    let secrets = dir.path().join("secrets");
    std::fs::create_dir_all(&secrets).map_err(io(&secrets))?;
    let repo = dir.path().join("repo");
    let state = repo.join("desired-state");
    for sub in ["appliances", "policies"] {
        let p = state.join(sub);
        std::fs::create_dir_all(&p).map_err(io(&p))?;
    }
    let lines: Vec<Value> = lab
        .json_lines()
        .iter()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let find = |name: &str| -> Result<&Value, DemoError> {
        lines
            .iter()
            .find(|l| l["name"] == name)
            .ok_or_else(|| DemoError::Lab(format!("no lab appliance `{name}`")))
    };
    for (file, text) in SHIPPED {
        let text = if let Some(name) = file
            .strip_prefix("appliances/")
            .and_then(|f| f.strip_suffix(".yaml"))
        {
            let l = find(name)?;
            let write_secret = |key: &str| -> Result<PathBuf, DemoError> {
                let p = secrets.join(format!("{name}.{key}"));
                std::fs::write(&p, str_of(l, key)?).map_err(io(&p))?;
                Ok(p)
            };
            let (host, port) = str_of(l, "ssh")?
                .rsplit_once(':')
                .ok_or_else(|| DemoError::Lab("ssh address".into()))?;
            let endpoint = if name == "edge-2" {
                let api = str_of(l, "api")?.trim_start_matches("http://");
                let (ahost, aport) = api
                    .rsplit_once(':')
                    .ok_or_else(|| DemoError::Lab("api address".into()))?;
                format!(
                    "endpoint:\n  transport: vyos-http\n  scheme: http\n  host: {ahost}\n  port: {aport}\n  api_key: file:{}\n",
                    write_secret("api_key")?.display()
                )
            } else {
                format!(
                    "endpoint:\n  transport: ssh\n  host: {host}\n  port: {port}\n  user: {}\n  password: file:{}\n  host_key: {}\n",
                    str_of(l, "user")?,
                    write_secret("password")?.display(),
                    str_of(l, "host_key_fingerprint")?
                )
            };
            let old = match name {
                "edge-1" => "2201",
                "branch-1" => "2203",
                _ => "8442",
            };
            point_at(text, &endpoint, old, port)
        } else if *file == "policies/management.yaml" {
            // The lab is reached from this machine: here the NOC is loopback.
            text.replace(SHIPPED_NOC, DEMO_NOC)
        } else {
            (*text).to_string()
        };
        let p = state.join(file);
        std::fs::write(&p, text).map_err(io(&p))?;
    }
    git(&repo, &["init", "-q", "-b", "main"])?;
    git(&repo, &["add", "-A"])?;
    git(
        &repo,
        &["commit", "-q", "-m", "desired state for the demo lab"],
    )?;

    let token = random_hex(24)?;
    let tokens = Tokens::parse(
        "generated",
        &auth::entry_line("demo", &[Scope::Read, Scope::Write], None, &token),
    )
    .map_err(|e| DemoError::Other(e.to_string()))?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(io(Path::new("127.0.0.1:0")))?
        .port();
    let config = Config {
        repo: repo.clone(),
        path: "desired-state".into(),
        branch: "main".into(),
        state_dir: dir.path().join("state"),
        listen: std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        poll_interval: Duration::from_secs(5),
        ..Config::default()
    };
    Ok(Demo {
        lab,
        api: format!("http://127.0.0.1:{port}"),
        token,
        config,
        tokens,
        dir,
    })
}

/// The appliances of the shipped state (approved from the start: the demo made them).
pub fn names() -> BTreeSet<String> {
    ["branch-1", "edge-1", "edge-2"]
        .iter()
        .map(|s| (*s).to_string())
        .collect()
}

/// Poll the daemon's status until every appliance converged, or give up after `within`.
pub async fn wait_converged(api: &str, token: &str, within: Duration) -> Result<Value, DemoError> {
    let client = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + within;
    let mut last = Value::Null;
    while tokio::time::Instant::now() < deadline {
        if let Ok(r) = client
            .get(format!("{api}/v1/status"))
            .bearer_auth(token)
            .send()
            .await
            && let Ok(v) = r.json::<Value>().await
        {
            if v["converged"] == true {
                return Ok(v);
            }
            last = v;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err(DemoError::Other(format!(
        "the appliances did not converge within {within:?}; last status: {last}"
    )))
}
