//! `vnfsync daemon` (run the daemon) and `vnfsync status` (ask a running daemon).
//!
//! Flags override `vnfsync.toml`; a bad configuration exits 64 before anything is bound.
//! The API token file is given by reference (`--tokens`, or `VNFSYNC_TOKENS`): a path,
//! `file:PATH` or `credential:NAME` (systemd's `$CREDENTIALS_DIRECTORY/NAME`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::Args;

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
}

/// `vnfsync approve|probe APPLIANCE`: a write action on the running daemon's API.
#[derive(Debug, Args)]
pub struct ActionArgs {
    /// The appliance.
    pub appliance: String,
    #[command(flatten)]
    pub api: StatusArgs,
}

/// The file a reference names: `credential:NAME`, `file:PATH`, or a plain path.
pub fn reference_path(reference: &str) -> Result<PathBuf, String> {
    if let Some(name) = reference.strip_prefix("credential:") {
        let dir = std::env::var_os("CREDENTIALS_DIRECTORY").ok_or_else(|| {
            format!("`{reference}`: CREDENTIALS_DIRECTORY is not set (not started by systemd with LoadCredential=)")
        })?;
        if name.is_empty() || name.contains('/') {
            return Err(format!("`{reference}`: not a credential name"));
        }
        return Ok(Path::new(&dir).join(name));
    }
    Ok(PathBuf::from(
        reference.strip_prefix("file:").unwrap_or(reference),
    ))
}

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
    let token = match args.token.as_deref().map(resolve_token).transpose() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: token: {e}");
            return Exit::BadInput;
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return Exit::Failure;
        }
    };
    let url = format!("{}{path}", args.api.trim_end_matches('/'));
    let method = if method == "POST" {
        reqwest::Method::POST
    } else {
        reqwest::Method::GET
    };
    let result = rt.block_on(async {
        let mut req = reqwest::Client::new().request(method, &url);
        if let Some(t) = &token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await?;
        let status = resp.status();
        let text = resp.text().await?;
        Ok::<_, reqwest::Error>((status, text))
    });
    match result {
        Ok((status, text)) if status.is_success() => {
            println!("{text}");
            Exit::Ok
        }
        Ok((status, text)) => {
            eprintln!("error: {url}: {status}: {text}");
            Exit::Failure
        }
        Err(e) => {
            eprintln!("error: {url}: {e}");
            Exit::Failure
        }
    }
}
