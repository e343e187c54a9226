//! The command line: clap definitions and one `run` function per subcommand.
//!
//! Owns argument parsing and turning library results into text and exit codes. It must not hold
//! logic of its own: every subcommand calls into the library modules.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub mod apply;
pub mod check;
pub mod daemon;
pub mod demo;
pub mod diff;
pub mod lab;
pub mod ops;
pub mod schema;
pub mod vyos;

/// What a subcommand concluded; mapped to the process exit code by [`Exit::code`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Everything fine (0).
    Ok,
    /// `diff` found changes (2).
    Changes,
    /// The input was bad: desired state, config file, arguments (64, `EX_USAGE`/`EX_DATAERR` family).
    BadInput,
    /// Anything else failed (1).
    Failure,
    /// `apply` rolled a change back (3).
    RolledBack,
    /// Pass on another program's exit status (`lab-shell` relays the emulated command's).
    Status(u8),
}

impl Exit {
    pub fn code(self) -> ExitCode {
        ExitCode::from(match self {
            Exit::Ok => 0,
            Exit::Changes => 2,
            Exit::BadInput => 64,
            Exit::Failure => 1,
            Exit::RolledBack => 3,
            Exit::Status(n) => n,
        })
    }
}

pub use crate::config::LogFormat;

#[derive(Debug, Parser)]
#[command(name = "vnfsync", version, about = "GitOps for network appliances")]
pub struct Cli {
    /// Log format: `text` for humans, `json` for log collectors.
    #[arg(long, global = true, value_enum, env = "VNFSYNC_LOG_FORMAT")]
    pub log_format: Option<LogFormat>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate a desired state and its dictionaries (exit 0 valid, 64 not).
    Check(check::CheckArgs),
    /// Show what would change on each appliance: missing / extra / mismatched and the exact
    /// commands, against the live device (read-only) or running configs from files (exit 0 no
    /// change, 2 changes, 64 bad input, 1 device error).
    Diff(diff::DiffArgs),
    /// Reconcile the selected appliances once: journaled, health-gated commit-confirm with
    /// automatic rollback (exit 0 all converged, 1 any failed, 3 any rolled back).
    Apply(apply::ApplyArgs),
    /// Reachability, latency, last contact and each declared health probe of one appliance.
    Probe(apply::ProbeArgs),
    /// Return an appliance to a snapshot (restore without a reboot) or to a commit (rendered
    /// and applied with the same safety as `apply`); journaled, and un-parks the appliance.
    Rollback(apply::RollbackArgs),
    /// Let writes to a parked appliance start again.
    Resume(apply::ApplianceArgs),
    /// List an appliance's snapshots from the journal.
    Snapshots(apply::ApplianceArgs),
    /// Print the JSON Schema of a desired-state file kind, for editors.
    Schema(schema::SchemaArgs),
    /// Parse, render and diff VyOS configurations (config.boot or set commands).
    Vyos(vyos::VyosArgs),
    /// Run emulated appliances on loopback (prints one JSON line per appliance when ready).
    Lab(lab::LabArgs),
    /// Relay one SSH exec to a lab appliance: the `ForceCommand` of a real sshd in front of the
    /// emulator (reads `SSH_ORIGINAL_COMMAND` and stdin to EOF, prints the output, exits with
    /// the emulated command's status).
    LabShell(lab::LabShellArgs),
    /// List operations from the journal, newest first (filters, paging, text or JSON).
    Ops(ops::OpsArgs),
    /// Verify the journal file, or export its audit trail.
    Journal(ops::JournalArgs),
    /// Run the daemon: follow the branch, apply each good commit, serve the API.
    Daemon(daemon::DaemonArgs),
    /// Ask a running daemon for its status (JSON).
    Status(daemon::StatusArgs),
    /// Approve an appliance's held first apply, on the running daemon (`--api`).
    Approve(daemon::ActionArgs),
    /// Start lab appliances and the daemon syncing the shipped desired state into them.
    Demo(demo::DemoArgs),
}

/// Run the parsed command line.
pub fn run(cli: Cli) -> Exit {
    match &cli.command {
        Command::Check(args) => check::run(args),
        Command::Diff(args) => diff::run(args),
        Command::Apply(args) => apply::run(args),
        Command::Probe(args) => apply::run_probe(args),
        Command::Rollback(args) => apply::run_rollback(args),
        Command::Resume(args) => apply::run_resume(args),
        Command::Snapshots(args) => apply::run_snapshots(args),
        Command::Schema(args) => schema::run(args),
        Command::Vyos(args) => vyos::run(args),
        Command::Lab(args) => lab::run(args),
        Command::LabShell(args) => lab::run_shell(args),
        Command::Ops(args) => ops::run(args),
        Command::Journal(args) => ops::run_journal(args),
        Command::Daemon(args) => daemon::run(args),
        Command::Status(args) => daemon::run_status(args),
        Command::Demo(args) => demo::run(args),
        Command::Approve(args) => daemon::run_action(args, "approve"),
    }
}

/// Set up tracing: human lines by default, one JSON object per event with `--log-format json`.
/// Logs go to stderr; stdout carries command output. Text lines are coloured only when stderr
/// is a terminal and `NO_COLOR` is unset.
pub fn init_logging(format: Option<LogFormat>) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("VNFSYNC_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let format = format.unwrap_or_default();
    // Colours only for a person at a terminal (and never with NO_COLOR): escape codes in a
    // journal or a log file are noise.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    // A second initialisation (tests) is harmless: keep the first subscriber.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
