//! `vnfsync check`: validate a desired state (work tree or a committed revision) and its
//! dictionaries, printing every problem with file, line, column and field path.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use serde::Serialize;

use super::Exit;
use crate::config::Config;
use crate::model::Diagnostic;
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
    /// The git repository (or plain directory, without --rev) holding the desired state.
    #[arg(long)]
    pub repo: Option<PathBuf>,
    /// The desired-state directory inside the repository.
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
}

#[derive(Serialize)]
struct Report<'a> {
    valid: bool,
    commit: Option<&'a str>,
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

pub fn run(args: &CheckArgs) -> Exit {
    let config = match &args.config {
        Some(file) => match Config::load(file) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: {e}");
                return Exit::BadInput;
            }
        },
        None => Config::default(),
    };
    let repo = args.repo.clone().unwrap_or(config.repo);
    let path = args.path.clone().unwrap_or(config.path);
    let files = match &args.rev {
        Some(rev) => source::read_commit(&repo, rev, &path),
        None => source::read_dir(&repo.join(&path)),
    };
    let files = match files {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::BadInput;
        }
    };
    let result = render::load(&files);
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
