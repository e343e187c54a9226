//! `vnfsync vyos show` and `vnfsync vyos diff`: read VyOS config files and print what the
//! `vyos` module makes of them.
//!
//! Owns the file reading and the printing; all understanding of VyOS lives in
//! [`crate::vyos`]. Errors go to stderr as `FILE:LINE:COL: message`, with exit code 64.

use std::io::Write as _;

use clap::{Args, Subcommand, ValueEnum};

use super::Exit;
use crate::vyos::{self, BootFile, BootStyle, Path, Secrets};

#[derive(Debug, Args)]
pub struct VyosArgs {
    #[command(subcommand)]
    pub command: VyosCommand,
}

#[derive(Debug, Subcommand)]
pub enum VyosCommand {
    /// Parse a config.boot or command list and print it in VyOS's own formats.
    Show(ShowArgs),
    /// Print the commands (or views) that turn OLD into NEW; exits 2 when they differ.
    Diff(DiffArgs),
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = ShowFormat::Boot)]
    pub format: ShowFormat,
    /// config.boot style for `--format boot`.
    #[arg(long, value_enum, default_value_t = Style::V1_5)]
    pub style: Style,
    /// Hide secret values (`****************`), as plain `show configuration` does.
    #[arg(long)]
    pub hide_secrets: bool,
    /// A config.boot (any dialect) or a list of set commands.
    pub file: std::path::PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ShowFormat {
    /// config.boot as `save` writes it, with the footer if the input had one.
    Boot,
    /// `show configuration commands`.
    Commands,
    /// `show configuration json`.
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Style {
    /// 1.5 and 2025 builds.
    #[value(name = "1.5")]
    V1_5,
    /// 1.4.0.
    #[value(name = "1.4")]
    V1_4,
    /// 1.3 (cstore).
    #[value(name = "1.3")]
    V1_3,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = DiffFormat::Commands)]
    pub format: DiffFormat,
    /// Only compare below this path (repeatable), e.g. `--scope 'firewall ipv4 name WAN-IN'`.
    #[arg(long = "scope", value_name = "PATH")]
    pub scopes: Vec<String>,
    /// Hide secret values in the output.
    #[arg(long)]
    pub hide_secrets: bool,
    pub old: std::path::PathBuf,
    pub new: std::path::PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiffFormat {
    /// The commands that turn OLD into NEW: deletes, sets, then comment changes.
    Commands,
    /// Exactly what VyOS `compare commands` prints (no comment lines; see `vyos::diff`).
    CompareCommands,
    /// `compare`: `[path]` headers with `+` / `-` lines.
    Compare,
    /// A unified diff of the two rendered config.boot files.
    Unified,
}

pub fn run(args: &VyosArgs) -> Exit {
    match &args.command {
        VyosCommand::Show(a) => show(a),
        VyosCommand::Diff(a) => diff(a),
    }
}

fn load(path: &std::path::Path) -> Result<BootFile, Exit> {
    let name = path.display();
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{name}: {e}");
            return Err(Exit::BadInput);
        }
    };
    vyos::ConfigTree::parse_any(&text).map_err(|e| {
        match e.position() {
            Some((line, col)) => eprintln!("{name}:{line}:{col}: {e}"),
            None => eprintln!("{name}: {e}"),
        }
        Exit::BadInput
    })
}

fn emit(text: &str) -> Exit {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Exit::Ok,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Exit::Ok,
        Err(e) => {
            eprintln!("stdout: {e}");
            Exit::Failure
        }
    }
}

fn show(a: &ShowArgs) -> Exit {
    let file = match load(&a.file) {
        Ok(f) => f,
        Err(e) => return e,
    };
    let secrets = Secrets::hide_if(a.hide_secrets);
    let text = match a.format {
        ShowFormat::Boot => {
            let mut style = match a.style {
                Style::V1_5 => BootStyle::vyos_1_5(),
                Style::V1_4 => BootStyle::vyos_1_4_0(),
                Style::V1_3 => BootStyle::vyos_1_3(),
            };
            style.mask_secrets = a.hide_secrets;
            vyos::render_boot_file(&file, &style)
        }
        ShowFormat::Commands => vyos::render_commands_with(&file.tree, secrets),
        ShowFormat::Json => {
            let mut j = vyos::render_json_with(&file.tree, secrets);
            j.push('\n');
            j
        }
    };
    emit(&text)
}

fn diff(a: &DiffArgs) -> Exit {
    let (old, new) = match (load(&a.old), load(&a.new)) {
        (Ok(o), Ok(n)) => (o, n),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    let scopes: Vec<Path> = a.scopes.iter().map(|s| Path::parse(s)).collect();
    let secrets = Secrets::hide_if(a.hide_secrets);
    let text = match a.format {
        DiffFormat::Commands => {
            let mut s = String::new();
            for c in vyos::diff(&old.tree, &new.tree, &scopes) {
                s.push_str(&c.with_secrets(secrets).to_string());
                s.push('\n');
            }
            s
        }
        DiffFormat::CompareCommands => {
            vyos::render_compare_commands_with(&old.tree, &new.tree, &scopes, secrets)
        }
        DiffFormat::Compare => vyos::render_compare_with(&old.tree, &new.tree, &scopes, secrets),
        DiffFormat::Unified => vyos::render_unified_with(
            &old.tree,
            &new.tree,
            &scopes,
            &a.old.display().to_string(),
            &a.new.display().to_string(),
            secrets,
        ),
    };
    if text.is_empty() {
        return Exit::Ok;
    }
    match emit(&text) {
        Exit::Ok => Exit::Changes,
        other => other,
    }
}
