//! `vnfsync daemon` (run the daemon) and `vnfsync status` (ask a running daemon).
//!
//! Flags override `vnfsync.toml`; a bad configuration exits 64 before anything is bound.
//! The API token file is given by reference (`--tokens`, or `VNFSYNC_TOKENS`): a path,
//! `file:PATH` or `credential:NAME` (systemd's `$CREDENTIALS_DIRECTORY/NAME`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::Args;
use serde_json::Value;

use super::Exit;
use crate::api::Tokens;
use crate::config::Config;

#[derive(Debug, Args)]
pub struct DaemonArgs {
    /// The daemon's configuration file.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The git repository holding the desired state.
    #[arg(long)]
    pub repo: Option<PathBuf>,
    /// The desired-state directory inside the repository.
    #[arg(long)]
    pub path: Option<String>,
    /// The branch to follow.
    #[arg(long)]
    pub branch: Option<String>,
    /// Journal and snapshots.
    #[arg(long)]
    pub state_dir: Option<PathBuf>,
    /// Where the API listens (loopback by default).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// The API token file, by reference: a path, `file:PATH` or `credential:NAME`.
    #[arg(long, env = "VNFSYNC_TOKENS", value_name = "REF")]
    pub tokens: Option<String>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The daemon's API.
    #[arg(long, default_value = "http://127.0.0.1:9180", value_name = "URL")]
    pub api: String,
    /// The API token, by reference: `env:NAME`, `file:PATH` or `credential:NAME`.
    #[arg(long, env = "VNFSYNC_TOKEN_REF", value_name = "REF")]
    pub token: Option<String>,
    /// A CA certificate (PEM) to trust for an `https://` API with its own CA.
    #[arg(long, value_name = "FILE")]
    pub api_ca: Option<PathBuf>,
}

/// Where the running daemon's API is, for the commands that otherwise open the journal
/// (`ops`, `probe`, `rollback`, `resume`, `snapshots`): while the daemon runs it holds the
/// journal, and these commands ask it instead.
#[derive(Debug, Args, Clone, Default)]
pub struct Remote {
    /// Ask the running daemon's API at this URL. Without it, the journal is opened, and when
    /// the daemon holds it the API at `listen` of the configuration is asked.
    #[arg(long, value_name = "URL")]
    pub api: Option<String>,
    /// The API token, by reference: `env:NAME`, `file:PATH` or `credential:NAME`.
    #[arg(long, env = "VNFSYNC_TOKEN_REF", value_name = "REF")]
    pub token: Option<String>,
    /// A CA certificate (PEM) to trust for an `https://` API with its own CA.
    #[arg(long, value_name = "FILE")]
    pub api_ca: Option<PathBuf>,
    /// Why the API is asked instead of the journal (said when asking fails too).
    #[arg(skip)]
    pub held: Option<String>,
}

impl Remote {
    /// This remote, asked because the journal is held (`why`: the journal's error).
    pub fn held_by(&self, why: &crate::journal::JournalError) -> Remote {
        Remote {
            held: Some(why.to_string()),
            ..self.clone()
        }
    }

    /// The URL to ask: `--api`, else the configured `listen` address.
    pub fn url_or(&self, cfg: &Config) -> String {
        self.api.clone().unwrap_or_else(|| default_api(cfg))
    }

    /// `method path` on the daemon at `base`: the status and the JSON body, or an error
    /// message (the token by reference is resolved here, and never printed).
    pub fn request(&self, base: &str, method: &str, path: &str) -> Result<(u16, Value), Exit> {
        let token = match self.token.as_deref().map(resolve_token).transpose() {
            Ok(t) => t,
            Err(e) => {
                eprintln!("error: token: {e}");
                return Err(Exit::BadInput);
            }
        };
        let url = format!("{}{path}", base.trim_end_matches('/'));
        let answer = request(&url, method, token.as_deref(), self.api_ca.as_deref());
        match answer {
            Ok((status, text)) => {
                let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
                if (200..300).contains(&status) {
                    return Ok((status, v));
                }
                let message = v["message"]
                    .as_str()
                    .map_or_else(|| v.to_string(), str::to_string);
                eprintln!("error: {url}: {status}: {message}");
                if status == 401 && token.is_none() {
                    eprintln!(
                        "hint: give the API token by reference with --token (or VNFSYNC_TOKEN_REF)"
                    );
                }
                if let Some(why) = &self.held {
                    eprintln!("note: {why}; its API was asked instead");
                }
                Err(if matches!(status, 400 | 404) {
                    Exit::BadInput
                } else {
                    Exit::Failure
                })
            }
            Err(e) => {
                eprintln!("error: {url}: {e}");
                if let Some(why) = &self.held {
                    eprintln!("note: {why}; its API was asked instead");
                }
                Err(Exit::Failure)
            }
        }
    }
}

/// The API of `cfg.listen` as a client reaches it (an unspecified address is asked on
/// loopback; `https` when the daemon serves TLS).
pub fn default_api(cfg: &Config) -> String {
    let mut addr = cfg.listen;
    if addr.ip().is_unspecified() {
        addr.set_ip(if addr.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    let scheme = if cfg.tls.is_some() { "https" } else { "http" };
    format!("{scheme}://{addr}")
}

/// One HTTP request (a small runtime of its own: the CLI is synchronous).
fn request(
    url: &str,
    method: &str,
    token: Option<&str>,
    ca: Option<&Path>,
) -> Result<(u16, String), String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let mut client = reqwest::Client::builder();
    if let Some(ca) = ca {
        let pem = std::fs::read(ca).map_err(|e| format!("{}: {e}", ca.display()))?;
        let cert =
            reqwest::Certificate::from_pem(&pem).map_err(|e| format!("{}: {e}", ca.display()))?;
        client = client.add_root_certificate(cert);
    }
    let client = client.build().map_err(|e| e.to_string())?;
    let method = if method == "POST" {
        reqwest::Method::POST
    } else {
        reqwest::Method::GET
    };
    rt.block_on(async {
        let mut req = client.request(method, url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let text = resp.text().await.map_err(|e| e.to_string())?;
        Ok((status, text))
    })
}

/// Whether a journal error means the daemon holds it (so its API is to be asked).
pub fn held_by_daemon(e: &crate::journal::JournalError) -> bool {
    matches!(e, crate::journal::JournalError::Locked { .. })
}

/// `vnfsync approve|probe APPLIANCE`: a write action on the running daemon's API.
#[derive(Debug, Args)]
pub struct ActionArgs {
    /// The appliance.
    pub appliance: String,
    #[command(flatten)]
    pub api: StatusArgs,
}

pub use crate::config::reference_path;

fn resolve_token(reference: &str) -> Result<String, String> {
    if let Some(var) = reference.strip_prefix("env:") {
        return std::env::var(var).map_err(|_| format!("`{reference}`: not set"));
    }
    let path = reference_path(reference)?;
    std::fs::read_to_string(&path)
        .map(|s| s.trim().to_string())
        .map_err(|e| format!("{}: {e}", path.display()))
}

pub fn run(args: &DaemonArgs) -> Exit {
    let mut cfg = match &args.config {
        Some(f) => match Config::load(f) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: {e}");
                return Exit::BadInput;
            }
        },
        None => Config::default(),
    };
    if let Some(v) = &args.repo {
        cfg.repo.clone_from(v);
    }
    if let Some(v) = &args.path {
        cfg.path.clone_from(v);
    }
    if let Some(v) = &args.branch {
        cfg.branch.clone_from(v);
    }
    if let Some(v) = &args.state_dir {
        cfg.state_dir.clone_from(v);
    }
    if let Some(v) = args.listen {
        cfg.listen = v;
    }
    let cfg = match cfg.checked("--listen") {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::BadInput;
        }
    };
    let tokens = match &args.tokens {
        None => {
            tracing::warn!("no API token file (--tokens): every /v1 request will answer 401");
            Tokens::default()
        }
        Some(r) => match reference_path(r)
            .map_err(|e| e.to_string())
            .and_then(|p| Tokens::load(&p).map_err(|e| e.to_string()))
        {
            Ok(t) => t,
            Err(e) => {
                eprintln!("error: tokens: {e}");
                return Exit::BadInput;
            }
        },
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return Exit::Failure;
        }
    };
    match rt.block_on(crate::daemon::run(cfg, tokens, std::future::pending())) {
        Ok(()) => Exit::Ok,
        Err(e) => {
            eprintln!("error: {e}");
            Exit::Failure
        }
    }
}

pub fn run_status(args: &StatusArgs) -> Exit {
    call(args, "GET", "/v1/status")
}

/// `approve` (onboarding hold) or `probe`, through the daemon's API.
pub fn run_action(args: &ActionArgs, action: &str) -> Exit {
    let path = format!("/v1/appliances/{}/{action}", args.appliance);
    call(&args.api, "POST", &path)
}

fn call(args: &StatusArgs, method: &str, path: &str) -> Exit {
    let remote = Remote {
        api: Some(args.api.clone()),
        token: args.token.clone(),
        api_ca: args.api_ca.clone(),
        held: None,
    };
    match remote.request(&args.api, method, path) {
        Ok((_, v)) => {
            println!("{v}");
            Exit::Ok
        }
        Err(e) => e,
    }
}
