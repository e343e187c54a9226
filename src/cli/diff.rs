//! `vnfsync diff`: render each appliance, read its running config (from the device, read-only,
//! or from files for CI), and print the plan: counts, missing / extra / mismatched, the exact
//! commands. Exit 0 no change, 2 changes, 64 bad input, 1 device error (the other appliances
//! are still reported).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use clap::Args;

use super::Exit;
use super::check::Format;
use crate::config::Config;
use crate::driver::Driver;
use crate::driver::secret::ProcessEnv;
use crate::driver::vyos::{Timeouts, VyosDriver};
use crate::model::Appliance;
use crate::model::decode::did_you_mean;
use crate::plan::{self, Entry, Plan, PlanError, Report};
use crate::render::{self, Intended};
use crate::source;
use crate::vyos::{ConfigTree, Op};

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The git repository (or plain directory, without --rev) holding the desired state.
    #[arg(long)]
    pub repo: Option<PathBuf>,
    /// The desired-state directory inside the repository.
    #[arg(long)]
    pub path: Option<String>,
    /// Use the committed tree at this revision instead of the work tree.
    #[arg(long)]
    pub rev: Option<String>,
    /// Take repo, path and timeouts from this vnfsync.toml.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Only this appliance (repeatable; default all).
    #[arg(long = "appliance", value_name = "NAME")]
    pub appliances: Vec<String>,
    /// The running config of the (one) selected appliance, from a file (config.boot or a
    /// command list) instead of the device.
    #[arg(long, conflicts_with = "running_dir")]
    pub running: Option<PathBuf>,
    /// Running configs from files, one per appliance: `<name>.boot`, `<name>.commands`,
    /// `<name>.conf` or `<name>` (config.boot or a command list).
    #[arg(long)]
    pub running_dir: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

/// How one appliance's running config is obtained.
enum Observe<'a> {
    File(&'a Path),
    Dir(&'a Path),
    Device(Timeouts),
}

/// Why one appliance was not planned.
struct Failed {
    bad_input: bool,
    error: PlanError,
}

fn failed(a: &Appliance, bad_input: bool, code: &str, message: String) -> Failed {
    Failed {
        bad_input,
        error: PlanError {
            appliance: a.name.to_string(),
            code: code.to_owned(),
            message,
        },
    }
}

/// A running config read from a file, and the release its footer names.
fn read_running(a: &Appliance, file: &Path) -> Result<(ConfigTree, Option<String>), Failed> {
    let text = std::fs::read_to_string(file).map_err(|e| {
        failed(
            a,
            true,
            "BAD_INPUT",
            format!("cannot read {}: {e}", file.display()),
        )
    })?;
    let boot = ConfigTree::parse_any(&text).map_err(|e| {
        let at = e
            .position()
            .map(|(l, c)| format!(":{l}:{c}"))
            .unwrap_or_default();
        failed(a, true, "BAD_INPUT", format!("{}{at}: {e}", file.display()))
    })?;
    Ok((boot.tree, boot.footer.map(|f| f.release)))
}

fn find_in_dir(a: &Appliance, dir: &Path) -> Result<PathBuf, Failed> {
    let name = a.name.as_str();
    let names = [
        format!("{name}.boot"),
        format!("{name}.commands"),
        format!("{name}.conf"),
        name.to_owned(),
    ];
    names
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            failed(
                a,
                true,
                "BAD_INPUT",
                format!(
                    "no running config for appliance `{name}` in {} (looked for {})",
                    dir.display(),
                    names.join(", ")
                ),
            )
        })
}

/// Fetch over the driver: read-only (`fetch` and `info` only).
async fn fetch_live(
    a: &Appliance,
    timeouts: Timeouts,
) -> Result<(ConfigTree, Option<String>), Failed> {
    let device = |e: crate::driver::DriverError| failed(a, false, e.code().as_str(), e.to_string());
    let mut driver = VyosDriver::new(a, &ProcessEnv, timeouts).map_err(device)?;
    let running = driver.fetch().await.map_err(device)?;
    let info = driver.info().await.map_err(device)?;
    Ok((running, Some(info.version)))
}

async fn observe(a: &Appliance, how: &Observe<'_>) -> Result<(ConfigTree, Option<String>), Failed> {
    match how {
        Observe::File(f) => read_running(a, f),
        Observe::Dir(d) => read_running(a, &find_in_dir(a, d)?),
        Observe::Device(t) => fetch_live(a, *t).await,
    }
}

async fn plan_one(intended: &Intended, a: &Appliance, how: &Observe<'_>) -> Result<Plan, Failed> {
    let observed = observe(a, how).await?;
    plan_observed(intended, a, observed)
}

fn plan_observed(
    intended: &Intended,
    a: &Appliance,
    (running, release): (ConfigTree, Option<String>),
) -> Result<Plan, Failed> {
    if let Some(release) = release {
        plan::check_version(intended, &release)
            .map_err(|e| failed(a, false, "VNF_INVALID", e.to_string()))?;
    }
    Ok(plan::plan(intended, &running, None))
}

/// What became of one appliance.
enum Outcome {
    /// It did not render (cannot happen after `render::load`, which renders every one).
    NotRendered(Vec<render::RenderError>),
    Planned(Box<Result<Plan, Failed>>),
}

/// Render and plan one appliance against its running config from a file (`dir` given: the
/// appliance's file in that directory).
fn offline_one(loaded: &render::Loaded, a: &Appliance, file: &Path, dir: bool) -> Outcome {
    let intended = match render::render(loaded, a) {
        Ok(i) => i,
        Err(errors) => return Outcome::NotRendered(errors),
    };
    let observed = if dir {
        find_in_dir(a, file).and_then(|f| read_running(a, &f))
    } else {
        read_running(a, file)
    };
    Outcome::Planned(Box::new(
        observed.and_then(|o| plan_observed(&intended, a, o)),
    ))
}

/// Running configs from files need no device: the appliances are rendered, read and planned
/// on every core, and the outcomes kept in appliance order.
fn plan_offline(
    loaded: &render::Loaded,
    chosen: &[&Appliance],
    file: &Path,
    dir: bool,
) -> Vec<Outcome> {
    let workers = std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .clamp(1, chosen.len().max(1));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut out: Vec<Option<Outcome>> = (0..chosen.len()).map(|_| None).collect();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                s.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(a) = chosen.get(i) else {
                            break;
                        };
                        mine.push((i, offline_one(loaded, a, file, dir)));
                    }
                    mine
                })
            })
            .collect();
        for h in handles {
            match h.join() {
                Ok(mine) => {
                    for (i, o) in mine {
                        out[i] = Some(o);
                    }
                }
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
    });
    out.into_iter().flatten().collect()
}

fn key_text(e: &Entry) -> String {
    e.key
        .iter()
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => format!("{k}={s}"),
            other => format!("{k}={other}"),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

pub(crate) fn print_text(report: &Report, color: bool) {
    let paint = |code: &str, text: &str| {
        if color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    };
    for p in &report.plans {
        println!(
            "{} ({}): {} missing, {} extra, {} mismatched, {} command(s){}",
            p.appliance,
            p.dictionary,
            p.missing.len(),
            p.extra.len(),
            p.mismatched.len(),
            p.commands.len(),
            if p.drift.is_empty() { "" } else { ", drift" }
        );
        for (title, list) in [
            ("missing", &p.missing),
            ("extra", &p.extra),
            ("mismatched", &p.mismatched),
        ] {
            if list.is_empty() {
                continue;
            }
            println!("  {title}:");
            for e in list {
                println!("    {} {}  ({})", e.kind, key_text(e), e.path);
            }
        }
        if !p.commands.is_empty() {
            println!("  commands:");
            for c in &p.commands {
                let line = c.to_string();
                let line = match c.op {
                    Op::Delete => paint("31", &line),
                    Op::Set => paint("32", &line),
                    Op::Comment => paint("36", &line),
                };
                println!("    {line}");
            }
        }
    }
    for e in &report.errors {
        println!("{}: error {}: {}", e.appliance, e.code, e.message);
    }
}

/// The plans of `chosen` against their live devices, read-only (what `vnfsync diff` prints):
/// `vnfsync apply` shows it before it asks. An appliance that cannot be rendered or reached is
/// in the report's errors.
pub(crate) fn live_report(
    loaded: &render::Loaded,
    chosen: &[Appliance],
    timeouts: Timeouts,
    commit: Option<String>,
) -> Report {
    let mut report = Report {
        commit,
        plans: Vec::new(),
        errors: Vec::new(),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            report.errors.push(PlanError {
                appliance: "*".into(),
                code: "VNF_UPSTREAM".into(),
                message: e.to_string(),
            });
            return report;
        }
    };
    let how = Observe::Device(timeouts);
    for a in chosen {
        match render::render(loaded, a) {
            Ok(i) => match runtime.block_on(plan_one(&i, a, &how)) {
                Ok(p) => report.plans.push(p),
                Err(f) => report.errors.push(f.error),
            },
            Err(errors) => report.errors.push(PlanError {
                appliance: a.name.to_string(),
                code: "VNF_INVALID".into(),
                message: errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            }),
        }
    }
    report
}

pub fn run(args: &DiffArgs) -> Exit {
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
    let repo = args.repo.clone().unwrap_or(config.repo.clone());
    let path = args.path.clone().unwrap_or(config.path.clone());
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
    let loaded = match render::load(&files) {
        Ok(l) => l,
        Err(diags) => {
            for d in &diags {
                eprintln!("{d}");
            }
            eprintln!("{} error(s): nothing was planned", diags.len());
            return Exit::BadInput;
        }
    };
    let all = &loaded.state.appliances;
    let mut chosen: Vec<&Appliance> = Vec::new();
    for name in &args.appliances {
        match all.iter().find(|a| a.name.as_str() == name) {
            Some(a) => chosen.push(a),
            None => {
                let mut msg = format!("error: no appliance named `{name}`");
                if let Some(s) = did_you_mean(name, all.iter().map(|a| a.name.as_str())) {
                    msg.push_str(&format!("; did you mean `{s}`?"));
                }
                eprintln!("{msg}");
                return Exit::BadInput;
            }
        }
    }
    if args.appliances.is_empty() {
        chosen = all.iter().collect();
    }
    let how = match (&args.running, &args.running_dir) {
        (Some(f), _) => {
            if chosen.len() != 1 {
                eprintln!(
                    "error: --running gives one running config, but {} appliances are selected; name one with --appliance or use --running-dir",
                    chosen.len()
                );
                return Exit::BadInput;
            }
            Observe::File(f)
        }
        (None, Some(d)) => Observe::Dir(d),
        (None, None) => Observe::Device(Timeouts {
            connect: config.connect_timeout,
            command: config.command_timeout,
        }),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::Failure;
        }
    };
    let mut report = Report {
        commit: files.commit.clone(),
        plans: Vec::new(),
        errors: Vec::new(),
    };
    let outcomes = match how {
        Observe::File(f) => plan_offline(&loaded, &chosen, f, false),
        Observe::Dir(d) => plan_offline(&loaded, &chosen, d, true),
        Observe::Device(_) => {
            let mut out = Vec::new();
            for a in &chosen {
                match render::render(&loaded, a) {
                    Ok(i) => out.push(Outcome::Planned(Box::new(
                        runtime.block_on(plan_one(&i, a, &how)),
                    ))),
                    Err(errors) => {
                        out.push(Outcome::NotRendered(errors));
                        break;
                    }
                }
            }
            out
        }
    };
    let (mut bad_input, mut device_error) = (false, false);
    for (a, outcome) in chosen.iter().zip(outcomes) {
        match outcome {
            Outcome::NotRendered(errors) => {
                for e in errors {
                    eprintln!("{}", e.into_diagnostic(a));
                }
                return Exit::BadInput;
            }
            Outcome::Planned(planned) => match *planned {
                Ok(p) => report.plans.push(p),
                Err(f) => {
                    bad_input |= f.bad_input;
                    device_error |= !f.bad_input;
                    report.errors.push(f.error);
                }
            },
        }
    }
    match args.format {
        Format::Json => match serde_json::to_string_pretty(&report) {
            Ok(t) => println!("{t}"),
            Err(e) => {
                eprintln!("error: {e}");
                return Exit::Failure;
            }
        },
        Format::Text => print_text(&report, std::io::stdout().is_terminal()),
    }
    if bad_input {
        Exit::BadInput
    } else if device_error {
        Exit::Failure
    } else if report.plans.iter().any(|p| !p.is_empty()) {
        Exit::Changes
    } else {
        Exit::Ok
    }
}
