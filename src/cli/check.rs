//! `vnfsync check`: validate a desired state (work tree or a committed revision) and its
//! dictionaries, printing every problem with file, line, column and field path.
//!
//! With `--format json` every outcome is one JSON document on stdout, a fatal error (bad
//! config, unreadable source, unknown revision) included.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use serde::Serialize;

use super::Exit;
use crate::config::Config;
use crate::model::{self, Diagnostic};
use crate::render;
use crate::source;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Shorthand for --repo DIR: a repository holding desired-state/, or a desired-state
    /// directory itself.
    #[arg(value_name = "DIR", conflicts_with = "repo")]
    pub dir: Option<PathBuf>,
    /// The git repository (or plain directory, without --rev) holding the desired state. When
    /// it has no desired-state/ directory (and no --path is given), its root is the desired
    /// state.
    #[arg(long)]
    pub repo: Option<PathBuf>,
    /// The desired-state directory inside the repository (relative, inside it).
    #[arg(long)]
    pub path: Option<String>,
    /// Validate the committed tree at this revision (a commit, branch or tag) instead of the
    /// work tree.
    #[arg(long)]
    pub rev: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    /// Take repo and path defaults from this vnfsync.toml (and validate it).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Accept a desired state without any appliance (refused otherwise: most likely a wrong path).
    #[arg(long)]
    pub allow_empty: bool,
}

#[derive(Serialize)]
struct Report<'a> {
    valid: bool,
    commit: Option<&'a str>,
    /// Why nothing could be checked (bad config, unreadable source, unknown revision).
    #[serde(skip_serializing_if = "Option::is_none")]
    fatal: Option<String>,
    errors: &'a [Diagnostic],
    appliances: Vec<&'a str>,
    policies: Vec<&'a str>,
    dictionaries: Vec<DictSummary<'a>>,
}

#[derive(Serialize)]
struct DictSummary<'a> {
    name: &'a str,
    origin: &'a Option<crate::dictionary::Origin>,
}

/// Report a fatal error in the chosen format; it is bad input (64).
fn fatal(format: Format, message: String) -> Exit {
    match format {
        Format::Text => eprintln!("error: {message}"),
        Format::Json => {
            let report = Report {
                valid: false,
                commit: None,
                fatal: Some(message.clone()),
                errors: &[],
                appliances: Vec::new(),
                policies: Vec::new(),
                dictionaries: Vec::new(),
            };
            match serde_json::to_string_pretty(&report) {
                Ok(text) => println!("{text}"),
                Err(e) => {
                    eprintln!("error: {message} ({e})");
                    return Exit::Failure;
                }
            }
        }
    }
    Exit::BadInput
}

pub fn run(args: &CheckArgs) -> Exit {
    let config = match &args.config {
        Some(file) => match Config::load(file) {
            Ok(c) => c,
            Err(e) => return fatal(args.format, e.to_string()),
        },
        None => Config::default(),
    };
    let repo = args
        .dir
        .clone()
        .or_else(|| args.repo.clone())
        .unwrap_or(config.repo);
    // The repository root is the desired state only when nobody named a path.
    let root_fallback = args.path.is_none() && args.config.is_none();
    let path = args.path.clone().unwrap_or(config.path);
    tracing::debug!(repo = %repo.display(), path = %path, rev = ?args.rev, "checking the desired state");
    let files = match source::read(&repo, &path, args.rev.as_deref(), root_fallback) {
        Ok(f) => f,
        Err(e) => return fatal(args.format, e.to_string()),
    };
    let result = render::load_with(
        &files,
        model::LoadOptions {
            allow_empty: args.allow_empty,
        },
    );
    let (errors, loaded) = match &result {
        Ok(l) => (&[][..], Some(l)),
        Err(e) => (e.as_slice(), None),
    };
    let state = loaded.map(|l| &l.state);
    match args.format {
        Format::Json => {
            let report = Report {
                valid: state.is_some(),
                commit: files.commit.as_deref(),
                fatal: None,
                errors,
                appliances: state
                    .map(|s| s.appliances.iter().map(|a| a.name.as_str()).collect())
                    .unwrap_or_default(),
                policies: state
                    .map(|s| s.policies.keys().map(String::as_str).collect())
                    .unwrap_or_default(),
                dictionaries: loaded
                    .map(|s| {
                        s.dictionaries
                            .values()
                            .map(|d| DictSummary {
                                name: d.name.as_str(),
                                origin: &d.origin,
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            };
            match serde_json::to_string_pretty(&report) {
                Ok(text) => println!("{text}"),
                Err(e) => {
                    eprintln!("error: {e}");
                    return Exit::Failure;
                }
            }
        }
        Format::Text => match state {
            Some(s) => println!(
                "ok: {} appliance(s), {} policy file(s), {} dictionary(ies){}",
                s.appliances.len(),
                s.policies.len(),
                loaded.map_or(0, |l| l.dictionaries.len()),
                files
                    .commit
                    .as_deref()
                    .map(|c| format!(" at {c}"))
                    .unwrap_or_default()
            ),
            None => {
                for e in errors {
                    println!("{e}");
                }
                let mut files: Vec<&str> = errors.iter().map(|e| e.file.as_str()).collect();
                files.sort_unstable();
                files.dedup();
                println!("{} error(s) in {} file(s)", errors.len(), files.len());
            }
        },
    }
    if state.is_some() {
        Exit::Ok
    } else {
        Exit::BadInput
    }
}
