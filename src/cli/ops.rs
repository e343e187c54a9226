//! `vnfsync ops` and `vnfsync journal check|export`: read the journal in the state dir.
//!
//! The state dir is `--state-dir`, else `state_dir` of `--config` (default `./vnfsync.toml`
//! when it exists), else the built-in default. redb lets one process open the file: while the
//! daemon runs it holds the journal, and these commands say so.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};
use jiff::Timestamp;

use super::Exit;
use crate::config::Config;
use crate::journal::{Cursor, Journal, OpKind, OpState, Operation, Options, Page, Query};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ExportFormat {
    /// One JSON object per line, one operation each, oldest first.
    #[default]
    Jsonl,
}

/// Where the journal is.
#[derive(Debug, Args)]
pub struct Location {
    /// The daemon's state dir (holds `journal.redb`).
    #[arg(long)]
    pub state_dir: Option<PathBuf>,
    /// Take `state_dir` from this vnfsync.toml (default: ./vnfsync.toml when it exists).
    #[arg(long)]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct OpsArgs {
    #[command(flatten)]
    pub location: Location,
    #[arg(long)]
    pub appliance: Option<String>,
    /// pending, in_progress, awaiting_confirm, completed, rolled_back, failed.
    #[arg(long)]
    pub state: Option<String>,
    /// apply, rollback, restore, probe, drift_check, recover, validate.
    #[arg(long)]
    pub kind: Option<String>,
    /// The git commit id the operations applied.
    #[arg(long)]
    pub commit: Option<String>,
    /// Created at or after: an RFC 3339 time (`2026-12-05T07:00:00Z`) or an age (`90m`, `2h`,
    /// `7d`).
    #[arg(long)]
    pub since: Option<String>,
    /// Created before (same forms as --since).
    #[arg(long)]
    pub until: Option<String>,
    /// At most this many, newest first.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
    /// Continue after this operation id (the `next` of the previous page).
    #[arg(long)]
    pub after: Option<String>,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    #[command(flatten)]
    pub remote: super::daemon::Remote,
}

#[derive(Debug, Args)]
pub struct JournalArgs {
    #[command(subcommand)]
    pub command: JournalCommand,
}

#[derive(Debug, Subcommand)]
pub enum JournalCommand {
    /// Verify the journal: schema version, indexes agree with the records, every unfinished
    /// operation has its in-flight entry (exit 0 consistent, 1 not).
    Check {
        #[command(flatten)]
        location: Location,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Write the audit trail to stdout.
    Export {
        #[command(flatten)]
        location: Location,
        /// Operations created at or after (RFC 3339 or an age such as `30d`).
        #[arg(long)]
        since: Option<String>,
        #[arg(long, value_enum, default_value_t)]
        format: ExportFormat,
    },
}

fn journal_path(location: &Location) -> Result<PathBuf, Exit> {
    if let Some(dir) = &location.state_dir {
        return Ok(Journal::path_in(dir));
    }
    Ok(Journal::path_in(&config_of(location)?.state_dir))
}

/// The configuration `--config` names (default: ./vnfsync.toml when it exists).
pub fn config_of(location: &Location) -> Result<Config, Exit> {
    let default = Path::new("vnfsync.toml");
    let file = match &location.config {
        Some(f) => Some(f.as_path()),
        None => default.exists().then_some(default),
    };
    let config = match file {
        Some(f) => Config::load(f).map_err(|e| {
            eprintln!("error: {e}");
            Exit::BadInput
        })?,
        None => Config::default(),
    };
    Ok(config)
}

fn open(location: &Location) -> Result<Journal, Exit> {
    let path = journal_path(location)?;
    Journal::open(&path, Options::default()).map_err(|e| {
        eprintln!("error: {e}");
        Exit::Failure
    })
}

/// `2026-12-05T07:00:00Z`, or an age before `now`: a number and `s`, `m`, `h`, `d` or `w`.
pub fn parse_time(s: &str, now: Timestamp) -> Result<Timestamp, String> {
    if let Ok(t) = s.parse::<Timestamp>() {
        return Ok(t);
    }
    let bad = || format!("`{s}` is neither an RFC 3339 time nor an age such as 90m, 2h, 7d");
    let split = s.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let n: i64 = s[..split].parse().map_err(|_| bad())?;
    let unit = match &s[split..] {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return Err(bad()),
    };
    let secs = n.checked_mul(unit).ok_or_else(bad)?;
    now.checked_sub(jiff::SignedDuration::from_secs(secs))
        .map_err(|_| bad())
}

fn bad(message: String) -> Exit {
    eprintln!("error: {message}");
    Exit::BadInput
}

fn query_of(args: &OpsArgs) -> Result<Query, Exit> {
    let now = Timestamp::now();
    let time = |s: &Option<String>| s.as_deref().map(|s| parse_time(s, now)).transpose();
    Ok(Query {
        appliance: args.appliance.clone(),
        state: args
            .state
            .as_deref()
            .map(str::parse::<OpState>)
            .transpose()
            .map_err(bad)?,
        kind: args
            .kind
            .as_deref()
            .map(str::parse::<OpKind>)
            .transpose()
            .map_err(bad)?,
        commit: args.commit.clone(),
        since: time(&args.since).map_err(|e| bad(format!("--since: {e}")))?,
        until: time(&args.until).map_err(|e| bad(format!("--until: {e}")))?,
        limit: args.limit.max(1),
        after: args
            .after
            .as_deref()
            .map(str::parse::<Cursor>)
            .transpose()
            .map_err(|e| bad(format!("--after: {e}")))?,
    })
}

pub fn run(args: &OpsArgs) -> Exit {
    match run_ops(args) {
        Ok(exit) | Err(exit) => exit,
    }
}

fn run_ops(args: &OpsArgs) -> Result<Exit, Exit> {
    let query = query_of(args)?;
    let page = if args.remote.api.is_some() {
        remote_ops(args, &args.remote, &query)?
    } else {
        let path = journal_path(&args.location)?;
        match Journal::open(&path, Options::default()) {
            Ok(journal) => journal.query(query).wait().map_err(|e| {
                eprintln!("error: {e}");
                Exit::Failure
            })?,
            Err(e) if super::daemon::held_by_daemon(&e) => {
                remote_ops(args, &args.remote.held_by(&e), &query)?
            }
            Err(e) => {
                eprintln!("error: {e}");
                return Err(Exit::Failure);
            }
        }
    };
    let mut out = String::new();
    match args.format {
        Format::Json => {
            let v = serde_json::json!({
                "operations": page.ops,
                "next": page.next.map(|c| c.to_string()),
            });
            out = serde_json::to_string_pretty(&v).unwrap_or_default();
            out.push('\n');
        }
        Format::Text => {
            if page.ops.is_empty() {
                out.push_str("no operations\n");
            }
            for op in &page.ops {
                out.push_str(&text_line(op));
            }
            if let Some(next) = page.next {
                out.push_str(&format!("more: --after {next}\n"));
            }
        }
    }
    print(&out)
}

/// The same query asked of the running daemon's `GET /v1/operations`.
fn remote_ops(args: &OpsArgs, remote: &super::daemon::Remote, q: &Query) -> Result<Page, Exit> {
    let base = args.remote.url_or(&config_of(&args.location)?);
    let mut params: Vec<(&str, String)> = vec![("limit", q.limit.to_string())];
    if let Some(v) = &q.appliance {
        params.push(("appliance", v.clone()));
    }
    if let Some(v) = q.state {
        params.push(("state", v.as_str().into()));
    }
    if let Some(v) = q.kind {
        params.push(("kind", v.as_str().into()));
    }
    if let Some(v) = &q.commit {
        params.push(("commit", v.clone()));
    }
    if let Some(v) = q.since {
        params.push(("since", v.to_string()));
    }
    if let Some(v) = q.until {
        params.push(("until", v.to_string()));
    }
    if let Some(v) = &q.after {
        params.push(("cursor", v.to_string()));
    }
    let query = serde_urlencoded::to_string(&params).map_err(|e| bad(e.to_string()))?;
    let (_, v) = remote.request(&base, "GET", &format!("/v1/operations?{query}"))?;
    let ops: Vec<Operation> = serde_json::from_value(v["operations"].clone()).map_err(|e| {
        eprintln!("error: {base}: an answer this vnfsync does not read: {e}");
        Exit::Failure
    })?;
    let next = v["next"]
        .as_str()
        .map(str::parse::<Cursor>)
        .transpose()
        .map_err(|e| {
            eprintln!("error: {base}: bad cursor: {e}");
            Exit::Failure
        })?;
    Ok(Page { ops, next })
}

fn text_line(op: &Operation) -> String {
    let commit: String = op.commit.chars().take(12).collect();
    let mut line = format!(
        "{}  {}  {:<16} {:<12} {:<16} {}",
        op.id,
        op.created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        op.appliance,
        op.kind,
        op.state,
        if commit.is_empty() { "-" } else { &commit },
    );
    if let Some(e) = &op.error {
        line.push_str(&format!("  {}: {}", e.code, e.message));
    }
    line.push('\n');
    line
}

fn print(text: &str) -> Result<Exit, Exit> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|_| Exit::Failure)?;
    Ok(Exit::Ok)
}

pub fn run_journal(args: &JournalArgs) -> Exit {
    let result = match &args.command {
        JournalCommand::Check { location, format } => check(location, *format),
        JournalCommand::Export {
            location,
            since,
            format: ExportFormat::Jsonl,
        } => export(location, since.as_deref()),
    };
    match result {
        Ok(exit) | Err(exit) => exit,
    }
}

fn check(location: &Location, format: Format) -> Result<Exit, Exit> {
    let journal = open(location)?;
    let report = journal.check().wait().map_err(|e| {
        eprintln!("error: {e}");
        Exit::Failure
    })?;
    let text = match format {
        Format::Json => serde_json::to_string_pretty(&report).unwrap_or_default() + "\n",
        Format::Text => {
            let mut t = format!(
                "{}: schema version {}{}; {} operations ({} in flight), {} appliances, {} snapshots{}\n",
                journal.path().display(),
                report.schema_version,
                if report.migrated_from != report.schema_version {
                    format!(" (migrated from {})", report.migrated_from)
                } else {
                    String::new()
                },
                report.operations,
                report.in_flight,
                report.appliances,
                report.snapshots,
                if report.repaired {
                    "; redb repaired the file on open"
                } else {
                    ""
                },
            );
            for p in &report.problems {
                t.push_str(&format!("problem: {p}\n"));
            }
            t.push_str(if report.problems.is_empty() {
                "consistent\n"
            } else {
                "INCONSISTENT\n"
            });
            t
        }
    };
    print(&text)?;
    Ok(if report.problems.is_empty() {
        Exit::Ok
    } else {
        Exit::Failure
    })
}

fn export(location: &Location, since: Option<&str>) -> Result<Exit, Exit> {
    let since = since
        .map(|s| parse_time(s, Timestamp::now()))
        .transpose()
        .map_err(|e| bad(format!("--since: {e}")))?;
    let journal = open(location)?;
    let n = journal
        .export(since, |op| {
            let mut line = serde_json::to_vec(op).map_err(std::io::Error::other)?;
            line.push(b'\n');
            std::io::stdout().lock().write_all(&line)
        })
        .wait()
        .map_err(|e| {
            eprintln!("error: {e}");
            Exit::Failure
        })?;
    tracing::info!(operations = n, "exported");
    std::io::stdout().flush().map_err(|_| Exit::Failure)?;
    Ok(Exit::Ok)
}

#[cfg(test)]
mod tests {
    use super::parse_time;
    use jiff::Timestamp;

    #[test]
    fn times_and_ages() {
        let now: Timestamp = "2026-12-05T07:00:00Z".parse().unwrap();
        let check = |s: &str, expect: &str| {
            assert_eq!(
                parse_time(s, now).map(|t| t.to_string()),
                Ok(expect.to_owned()),
                "{s}"
            );
        };
        check("2026-01-02T03:04:05Z", "2026-01-02T03:04:05Z");
        check("90m", "2026-12-05T05:30:00Z");
        check("2d", "2026-12-03T07:00:00Z");
        assert!(parse_time("yesterday", now).is_err());
        assert!(parse_time("5y", now).is_err());
    }
}
