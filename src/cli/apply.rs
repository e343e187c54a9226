//! `vnfsync apply` (one-shot reconcile of the selected appliances through the engine and the
//! journal, one writer per appliance, at most `concurrency` at once) and `vnfsync probe`
//! (reachability, latency, last contact and each declared health probe). Formats results and
//! maps exit codes: apply 0 all converged, 1 any failed, 3 any rolled back; 64 bad input.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;

use super::Exit;
use super::check::Format;
use super::daemon::{Remote, default_api, held_by_daemon};
use crate::api::RollbackTo;
use crate::config::Config;
use crate::driver::secret::ProcessEnv;
use crate::driver::store::SnapshotStore;
use crate::driver::vyos::Timeouts;
use crate::engine::{self, Action, Context, Policy};
use crate::journal::{Journal, Options};
use crate::model::Appliance;
use crate::render::{self, Loaded};
use crate::source;

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The git repository (or plain directory, without --rev) holding the desired state.
    #[arg(long)]
    pub repo: Option<PathBuf>,
    /// The desired-state directory inside the repository.
    #[arg(long)]
    pub path: Option<String>,
    /// Use the committed tree at this revision instead of the work tree.
    #[arg(long)]
    pub rev: Option<String>,
    /// Where the journal and the local snapshots live.
    #[arg(long)]
    pub state_dir: Option<PathBuf>,
    /// Take repo, path, state dir, timeouts and concurrency from this vnfsync.toml.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Only this appliance (repeatable; default all).
    #[arg(long = "appliance", value_name = "NAME")]
    pub appliances: Vec<String>,
    /// Do not ask before writing (required when stdin is not a terminal).
    #[arg(long)]
    pub yes: bool,
    /// Output format of the summary.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// The appliance to probe.
    pub appliance: String,
    #[arg(long)]
    pub repo: Option<PathBuf>,
    #[arg(long)]
    pub path: Option<String>,
    #[arg(long)]
    pub rev: Option<String>,
    #[arg(long)]
    pub state_dir: Option<PathBuf>,
    #[arg(long)]
    pub config: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    #[command(flatten)]
    pub remote: Remote,
}

struct Setup {
    config: Config,
    loaded: Loaded,
    state_dir: PathBuf,
}

fn setup(
    config: Option<&PathBuf>,
    repo: Option<&PathBuf>,
    path: Option<&String>,
    rev: Option<&String>,
    state_dir: Option<&PathBuf>,
) -> Result<Setup, Exit> {
    let config = match config {
        Some(file) => Config::load(file).map_err(|e| {
            eprintln!("error: {e}");
            Exit::BadInput
        })?,
        None => Config::default(),
    };
    let repo = repo.cloned().unwrap_or(config.repo.clone());
    let path = path.cloned().unwrap_or(config.path.clone());
    let files = match rev {
        Some(rev) => source::read_commit(&repo, rev, &path),
        None => source::read_dir(&repo.join(&path)),
    }
    .map_err(|e| {
        eprintln!("error: {e}");
        Exit::BadInput
    })?;
    let loaded = render::load(&files).map_err(|diags| {
        for d in &diags {
            eprintln!("{d}");
        }
        eprintln!("{} error(s): nothing was applied", diags.len());
        Exit::BadInput
    })?;
    let state_dir = state_dir.cloned().unwrap_or(config.state_dir.clone());
    Ok(Setup {
        config,
        loaded,
        state_dir,
    })
}

/// Why there is no local context: the daemon holds the journal (ask its API), or a failure.
enum NoContext {
    /// The API to ask instead (`listen` of the configuration), and the remote to ask with
    /// (it says why when asking fails).
    Held(String, Remote),
    Exit(Exit),
}

impl From<Exit> for NoContext {
    fn from(e: Exit) -> Self {
        NoContext::Exit(e)
    }
}

fn context(s: &Setup) -> Result<Context, Exit> {
    context_or_held(s, &Remote::default()).map_err(|e| match e {
        NoContext::Exit(e) => e,
        NoContext::Held(..) => Exit::Failure,
    })
}

/// The local engine context, or [`NoContext::Held`] when the running daemon holds the journal.
fn context_or_held(s: &Setup, remote: &Remote) -> Result<Context, NoContext> {
    let journal = match Journal::open(
        Journal::path_in(&s.state_dir),
        Options {
            create: true,
            ..Options::default()
        },
    ) {
        Ok(j) => j,
        Err(e) if held_by_daemon(&e) => {
            return Err(NoContext::Held(default_api(&s.config), remote.held_by(&e)));
        }
        Err(e) => {
            eprintln!("error: {e}");
            return Err(NoContext::Exit(Exit::Failure));
        }
    };
    let r = s.config.retry;
    let mut delays = Vec::new();
    let mut d = r.initial_backoff;
    for _ in 0..r.attempts {
        delays.push(d);
        d = (d * 2).min(r.max_backoff);
    }
    Ok(Context::new(
        journal,
        SnapshotStore::new(s.state_dir.join("rollback")),
        Arc::new(ProcessEnv),
        Timeouts {
            connect: s.config.connect_timeout,
            command: s.config.command_timeout,
        },
        Policy {
            retry_delays: delays,
            probe_timeout: s.config.probe_timeout,
            ..Policy::default()
        },
    ))
}

fn runtime() -> Result<tokio::runtime::Runtime, Exit> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("error: {e}");
            Exit::Failure
        })
}

fn describe(r: &Result<Action, engine::EngineError>) -> (&'static str, String, String) {
    match r {
        Ok(Action::InSync { last_op, drift }) => (
            "in_sync",
            last_op.map(|o| o.to_string()).unwrap_or_default(),
            if drift.is_empty() {
                String::new()
            } else {
                format!("drift left alone (alert) in {}", drift.join(", "))
            },
        ),
        Ok(Action::AlreadyDone { op }) => ("completed", op.to_string(), "already applied".into()),
        Ok(Action::Completed { op }) => ("completed", op.to_string(), String::new()),
        Ok(Action::RolledBack { op, cause }) => ("rolled_back", op.to_string(), cause.clone()),
        Ok(Action::Failed { op, reason, parked }) => (
            "failed",
            op.map(|o| o.to_string()).unwrap_or_default(),
            format!("{reason}{}", if *parked { " (parked)" } else { "" }),
        ),
        Ok(Action::Parked { reason }) => ("parked", String::new(), reason.clone()),
        Ok(Action::Requeue { reason, .. }) => ("failed", String::new(), reason.clone()),
        Err(e) => ("failed", String::new(), e.to_string()),
    }
}

/// From this many appliances on, `apply` on a terminal draws one progress bar instead of a
/// line per appliance (an appliance that fails or rolls back still gets its line).
const PROGRESS_BAR_FROM: usize = 10;

/// What `apply` has finished so far, as a line per appliance or a progress bar.
struct Progress {
    total: usize,
    done: usize,
    counts: std::collections::BTreeMap<&'static str, usize>,
    bar: bool,
}

impl Progress {
    fn new(total: usize, bar: bool) -> Progress {
        Progress {
            total,
            done: 0,
            counts: Default::default(),
            bar,
        }
    }

    /// Counts one finished appliance and returns what to print on stderr for it.
    fn record(&mut self, name: &str, result: &'static str, detail: &str) -> String {
        self.done += 1;
        *self.counts.entry(result).or_default() += 1;
        let line = if detail.is_empty() {
            format!("{name}: {result}\n")
        } else {
            format!("{name}: {result}: {detail}\n")
        };
        if !self.bar {
            return line;
        }
        // The bar is redrawn in place (`\r`, erase line); a line that matters stays above it.
        let mut out = String::from("\r\x1b[2K");
        if matches!(result, "failed" | "parked" | "rolled_back") {
            out.push_str(&line);
        }
        out.push_str(&self.bar_line());
        if self.done == self.total {
            out.push('\n');
        }
        out
    }

    fn bar_line(&self) -> String {
        const WIDTH: usize = 30;
        let filled = (self.done * WIDTH).checked_div(self.total).unwrap_or(WIDTH);
        let counts: Vec<String> = self
            .counts
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        format!(
            "[{}{}] {}/{}  {}",
            "#".repeat(filled),
            "-".repeat(WIDTH - filled),
            self.done,
            self.total,
            counts.join(" · ")
        )
    }
}

/// `vnfsync apply`.
pub fn run(args: &ApplyArgs) -> Exit {
    let s = match setup(
        args.config.as_ref(),
        args.repo.as_ref(),
        args.path.as_ref(),
        args.rev.as_ref(),
        args.state_dir.as_ref(),
    ) {
        Ok(s) => s,
        Err(e) => return e,
    };
    let all = &s.loaded.state.appliances;
    let mut chosen: Vec<Appliance> = Vec::new();
    for name in &args.appliances {
        match all.iter().find(|a| a.name.as_str() == name) {
            Some(a) => chosen.push(a.clone()),
            None => {
                eprintln!("error: no appliance named `{name}`");
                return Exit::BadInput;
            }
        }
    }
    if args.appliances.is_empty() {
        chosen = all.clone();
    }
    if !args.yes {
        if !std::io::stdin().is_terminal() {
            eprintln!(
                "error: apply writes to {} appliance(s); pass --yes when stdin is not a terminal (see the plan with `vnfsync diff`)",
                chosen.len()
            );
            return Exit::BadInput;
        }
        // The plan first, read-only, as `vnfsync diff` prints it.
        let timeouts = Timeouts {
            connect: s.config.connect_timeout,
            command: s.config.command_timeout,
        };
        let report = super::diff::live_report(&s.loaded, &chosen, timeouts, None);
        super::diff::print_text(&report, std::io::stdout().is_terminal());
        let _ = std::io::stdout().flush();
        eprint!(
            "apply the desired state to {} appliance(s)? [y/N] ",
            chosen.len()
        );
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        if std::io::stdin().read_line(&mut answer).is_err()
            || !matches!(answer.trim(), "y" | "Y" | "yes")
        {
            eprintln!("nothing applied");
            return Exit::Ok;
        }
    }
    let ctx = match context(&s) {
        Ok(c) => c,
        Err(e) => return e,
    };
    let rt = match runtime() {
        Ok(r) => r,
        Err(e) => return e,
    };
    let loaded = Arc::new(s.loaded);
    let cap = Arc::new(tokio::sync::Semaphore::new(s.config.concurrency.max(1)));
    let progress = Arc::new(std::sync::Mutex::new(Progress::new(
        chosen.len(),
        std::io::stderr().is_terminal() && chosen.len() >= PROGRESS_BAR_FROM,
    )));
    let results = rt.block_on(async {
        // Anything a crash left open is finished first.
        let _ = engine::recover_all(&chosen, &ctx).await;
        let mut set = tokio::task::JoinSet::new();
        for (i, a) in chosen.iter().cloned().enumerate() {
            let (loaded, ctx, cap) = (loaded.clone(), ctx.clone(), cap.clone());
            let progress = progress.clone();
            set.spawn(async move {
                let _permit = cap.acquire_owned().await;
                let r = engine::reconcile(&loaded, &a, &ctx).await;
                let (result, _, detail) = describe(&r);
                let text = progress
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .record(a.name.as_str(), result, &detail);
                eprint!("{text}");
                (i, a.name.to_string(), r)
            });
        }
        let mut out = Vec::new();
        while let Some(j) = set.join_next().await {
            if let Ok(r) = j {
                out.push(r);
            }
        }
        out.sort_by_key(|(i, _, _)| *i);
        out
    });
    let (mut failed, mut rolled) = (results.len() < chosen.len(), false);
    let mut rows = Vec::new();
    for (_, name, r) in &results {
        let (result, op, detail) = describe(r);
        failed |= matches!(result, "failed" | "parked");
        rolled |= result == "rolled_back";
        rows.push((name.clone(), result, op, detail));
    }
    match args.format {
        Format::Json => {
            let v: Vec<serde_json::Value> = rows
                .iter()
                .map(|(n, r, o, d)| {
                    serde_json::json!({"appliance": n, "result": r, "operation": o, "detail": d})
                })
                .collect();
            println!("{}", serde_json::Value::Array(v));
        }
        Format::Text => {
            println!(
                "{:<24} {:<12} {:<38} DETAIL",
                "APPLIANCE", "RESULT", "OPERATION"
            );
            for (n, r, o, d) in &rows {
                println!("{n:<24} {r:<12} {o:<38} {d}");
            }
        }
    }
    if failed {
        Exit::Failure
    } else if rolled {
        Exit::RolledBack
    } else {
        Exit::Ok
    }
}

/// `vnfsync probe APPLIANCE`: here, or on the running daemon (`--api`, or when it holds
/// the journal).
pub fn run_probe(args: &ProbeArgs) -> Exit {
    let path = format!("/v1/appliances/{}/probe", args.appliance);
    if let Some(api) = &args.remote.api {
        return match args.remote.request(api, "POST", &path) {
            Ok((_, v)) => print_probe(&v, args.format),
            Err(e) => e,
        };
    }
    let s = match setup(
        args.config.as_ref(),
        args.repo.as_ref(),
        args.path.as_ref(),
        args.rev.as_ref(),
        args.state_dir.as_ref(),
    ) {
        Ok(s) => s,
        Err(e) => return e,
    };
    let Some(a) = s.loaded.state.appliance(&args.appliance).cloned() else {
        eprintln!("error: no appliance named `{}`", args.appliance);
        return Exit::BadInput;
    };
    let ctx = match context_or_held(&s, &args.remote) {
        Ok(c) => c,
        Err(NoContext::Held(base, remote)) => {
            return match remote.request(&base, "POST", &path) {
                Ok((_, v)) => print_probe(&v, args.format),
                Err(e) => e,
            };
        }
        Err(NoContext::Exit(e)) => return e,
    };
    let rt = match runtime() {
        Ok(r) => r,
        Err(e) => return e,
    };
    let v = rt.block_on(crate::daemon::operator::probe(&a, &ctx));
    print_probe(&v, args.format)
}

/// A probe answer (`daemon::operator::probe`) as JSON or text; exit 0 only if it passed.
fn print_probe(v: &serde_json::Value, format: Format) -> Exit {
    match format {
        Format::Json => println!("{v}"),
        Format::Text => {
            println!(
                "appliance:    {}",
                v["appliance"].as_str().unwrap_or_default()
            );
            println!("reachable:    {}", v["reachable"] == true);
            match v["latency_ms"].as_f64() {
                Some(ms) => println!("latency_ms:   {ms:.1}"),
                None => println!(
                    "error:        {}",
                    v["error"].as_str().unwrap_or("unreachable")
                ),
            }
            println!(
                "last_contact: {}",
                v["last_contact"].as_str().unwrap_or("never")
            );
            for p in v["probes"].as_array().into_iter().flatten() {
                println!(
                    "probe {:<30} {:<4} {:>6} ms  {}",
                    p["name"].as_str().unwrap_or_default(),
                    if p["ok"] == true { "ok" } else { "FAIL" },
                    p["latency"].as_u64().unwrap_or_default(),
                    p["output"]
                        .as_str()
                        .unwrap_or_default()
                        .lines()
                        .next()
                        .unwrap_or("")
                );
            }
        }
    }
    if crate::daemon::operator::probe_passed(v) {
        Exit::Ok
    } else {
        Exit::Failure
    }
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The appliance to roll back.
    pub appliance: String,
    /// Return to this snapshot (see `vnfsync snapshots`); default: the last good one.
    #[arg(long, conflicts_with = "to_commit")]
    pub snapshot: Option<String>,
    /// Render this commit and apply it with the same safety as `apply`.
    #[arg(long)]
    pub to_commit: Option<String>,
    #[arg(long)]
    pub repo: Option<PathBuf>,
    #[arg(long)]
    pub path: Option<String>,
    #[arg(long)]
    pub state_dir: Option<PathBuf>,
    #[arg(long)]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub remote: Remote,
}

#[derive(Debug, Args)]
pub struct ApplianceArgs {
    /// The appliance.
    pub appliance: String,
    #[arg(long)]
    pub repo: Option<PathBuf>,
    #[arg(long)]
    pub path: Option<String>,
    #[arg(long)]
    pub state_dir: Option<PathBuf>,
    #[arg(long)]
    pub config: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    #[command(flatten)]
    pub remote: Remote,
}

fn print_action(name: &str, r: &Result<Action, engine::EngineError>) -> Exit {
    let (result, op, detail) = describe(r);
    println!("{name}: {result} {op} {detail}");
    match result {
        "completed" | "in_sync" => Exit::Ok,
        "rolled_back" => Exit::RolledBack,
        _ => Exit::Failure,
    }
}

fn rollback_to(args: &RollbackArgs) -> RollbackTo {
    match (&args.snapshot, &args.to_commit) {
        (Some(id), _) => RollbackTo::Snapshot(id.clone()),
        (None, Some(sha)) => RollbackTo::Commit(sha.clone()),
        (None, None) => RollbackTo::LastGood,
    }
}

/// `POST /v1/appliances/{name}/rollback` on the running daemon; printed as locally.
fn remote_rollback(args: &RollbackArgs, remote: &Remote, base: &str) -> Exit {
    let query = match rollback_to(args) {
        RollbackTo::Snapshot(id) => format!(
            "?{}",
            serde_urlencoded::to_string([("snapshot", id)]).unwrap_or_default()
        ),
        RollbackTo::Commit(sha) => format!(
            "?{}",
            serde_urlencoded::to_string([("to_commit", sha)]).unwrap_or_default()
        ),
        RollbackTo::LastGood => String::new(),
    };
    let path = format!("/v1/appliances/{}/rollback{query}", args.appliance);
    match remote.request(base, "POST", &path) {
        Ok((_, v)) => {
            let result = v["result"].as_str().unwrap_or("failed");
            println!(
                "{}: {} {} {}",
                args.appliance,
                if result == "already_done" {
                    "completed"
                } else {
                    result
                },
                v["op"].as_str().unwrap_or_default(),
                v["detail"].as_str().unwrap_or_default()
            );
            if let Some(p) = v["parked"].as_str() {
                println!("{}: parked: {p}", args.appliance);
            }
            match result {
                "completed" | "in_sync" | "already_done" => Exit::Ok,
                "rolled_back" => Exit::RolledBack,
                _ => Exit::Failure,
            }
        }
        Err(e) => e,
    }
}

/// `vnfsync rollback APPLIANCE [--snapshot ID | --to-commit SHA]`: here, or on the running
/// daemon (`--api`, or when it holds the journal).
pub fn run_rollback(args: &RollbackArgs) -> Exit {
    if let Some(api) = &args.remote.api {
        return remote_rollback(args, &args.remote, api);
    }
    let s = match setup(
        args.config.as_ref(),
        args.repo.as_ref(),
        args.path.as_ref(),
        args.to_commit.as_ref(),
        args.state_dir.as_ref(),
    ) {
        Ok(s) => s,
        Err(e) => return e,
    };
    let Some(a) = s.loaded.state.appliance(&args.appliance).cloned() else {
        eprintln!("error: no appliance named `{}`", args.appliance);
        return Exit::BadInput;
    };
    let ctx = match context_or_held(&s, &args.remote) {
        Ok(c) => c,
        Err(NoContext::Held(base, remote)) => return remote_rollback(args, &remote, &base),
        Err(NoContext::Exit(e)) => return e,
    };
    let rt = match runtime() {
        Ok(r) => r,
        Err(e) => return e,
    };
    let to = rollback_to(args);
    let r = rt.block_on(crate::daemon::operator::rollback(
        &a,
        Some(&s.loaded),
        &to,
        &ctx,
    ));
    print_action(a.name.as_str(), &r)
}

/// `vnfsync resume APPLIANCE`: here, or on the running daemon (`--api`, or when it holds the
/// journal).
pub fn run_resume(args: &ApplianceArgs) -> Exit {
    let path = format!("/v1/appliances/{}/resume", args.appliance);
    let remote = |r: &Remote, base: &str| match r.request(base, "POST", &path) {
        Ok(_) => {
            println!("{}: resumed", args.appliance);
            Exit::Ok
        }
        Err(e) => e,
    };
    if let Some(api) = &args.remote.api {
        return remote(&args.remote, api);
    }
    let s = match setup(
        args.config.as_ref(),
        args.repo.as_ref(),
        args.path.as_ref(),
        None,
        args.state_dir.as_ref(),
    ) {
        Ok(s) => s,
        Err(e) => return e,
    };
    let ctx = match context_or_held(&s, &args.remote) {
        Ok(c) => c,
        Err(NoContext::Held(base, r)) => return remote(&r, &base),
        Err(NoContext::Exit(e)) => return e,
    };
    match ctx
        .journal
        .update_status(args.appliance.clone(), |st| {
            st.parked_reason = None;
            st.breaker = crate::journal::Breaker::Closed;
        })
        .wait()
    {
        Ok(_) => {
            println!("{}: resumed", args.appliance);
            Exit::Ok
        }
        Err(e) => {
            eprintln!("error: {e}");
            Exit::Failure
        }
    }
}

/// `vnfsync snapshots APPLIANCE`: from the journal, or the running daemon's
/// `GET /v1/appliances/{name}/snapshots` (`--api`, or when it holds the journal).
pub fn run_snapshots(args: &ApplianceArgs) -> Exit {
    let config = match &args.config {
        Some(f) => match Config::load(f) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: {e}");
                return Exit::BadInput;
            }
        },
        None => Config::default(),
    };
    let state_dir = args.state_dir.clone().unwrap_or(config.state_dir.clone());
    let remote = |r: &Remote, base: &str| -> Exit {
        let path = format!("/v1/appliances/{}/snapshots", args.appliance);
        match r.request(base, "GET", &path) {
            Ok((_, v)) => {
                let list: Vec<crate::journal::SnapshotEntry> = match serde_json::from_value(v) {
                    Ok(l) => l,
                    Err(e) => {
                        eprintln!("error: {base}: an answer this vnfsync does not read: {e}");
                        return Exit::Failure;
                    }
                };
                print_snapshots(&list, args.format)
            }
            Err(e) => e,
        }
    };
    if let Some(api) = &args.remote.api {
        return remote(&args.remote, api);
    }
    let journal = match Journal::open(Journal::path_in(&state_dir), Options::default()) {
        Ok(j) => j,
        Err(e) if held_by_daemon(&e) => {
            return remote(&args.remote.held_by(&e), &args.remote.url_or(&config));
        }
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::Failure;
        }
    };
    let list = match journal.snapshots(args.appliance.clone()).wait() {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::Failure;
        }
    };
    print_snapshots(&list, args.format)
}

fn print_snapshots(list: &[crate::journal::SnapshotEntry], format: Format) -> Exit {
    match format {
        Format::Json => {
            let v: Vec<serde_json::Value> = list
                .iter()
                .map(|e| {
                    serde_json::json!({"id": e.id, "commit": e.commit, "taken": e.taken.to_string(), "location": e.location})
                })
                .collect();
            println!("{}", serde_json::Value::Array(v));
        }
        Format::Text => {
            println!("{:<36} {:<14} {:<28} LOCATION", "ID", "COMMIT", "TAKEN");
            for e in list {
                let short: String = e.commit.chars().take(12).collect();
                println!("{:<36} {:<14} {:<28} {}", e.id, short, e.taken, e.location);
            }
        }
    }
    Exit::Ok
}

#[cfg(test)]
mod tests {
    use super::Progress;

    #[test]
    fn a_line_per_appliance_without_the_bar() {
        let mut p = Progress::new(2, false);
        assert_eq!(p.record("r1", "completed", ""), "r1: completed\n");
        assert_eq!(
            p.record("r2", "rolled_back", "probe ssh failed"),
            "r2: rolled_back: probe ssh failed\n"
        );
    }

    #[test]
    fn the_bar_counts_results_and_keeps_the_lines_that_matter() {
        let mut p = Progress::new(4, true);
        assert_eq!(
            p.record("r1", "completed", ""),
            "\r\x1b[2K[#######-----------------------] 1/4  completed 1"
        );
        p.record("r2", "in_sync", "");
        let failed = p.record("r3", "failed", "unreachable");
        assert!(failed.contains("r3: failed: unreachable\n"), "{failed:?}");
        assert!(
            failed.ends_with("3/4  completed 1 · failed 1 · in_sync 1"),
            "{failed:?}"
        );
        let last = p.record("r4", "completed", "");
        assert!(
            last.ends_with("] 4/4  completed 2 · failed 1 · in_sync 1\n"),
            "{last:?}"
        );
        assert!(last.contains(&"#".repeat(30)));
    }
}
