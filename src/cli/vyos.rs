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
    /// Refuse an input larger than this (bytes, or with a K, M or G suffix: KiB, MiB, GiB).
    #[arg(long, value_name = "SIZE", default_value = "64M", value_parser = parse_size)]
    pub max_input_size: u64,
    /// Read a command list as text written by people (the strict parser): refuse what VyOS
    /// would read differently instead of taking an unquoted last word as a node.
    #[arg(long)]
    pub strict: bool,
    /// A config.boot (any dialect) or a list of set commands.
    pub file: std::path::PathBuf,
}

/// The default of `--max-input-size`, in bytes.
pub const DEFAULT_MAX_INPUT: u64 = 64 << 20;

/// `--max-input-size`: bytes, or a number with a K, M or G (binary) suffix.
fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (digits, shift) = match t.char_indices().last() {
        Some((i, 'K' | 'k')) => (&t[..i], 10),
        Some((i, 'M' | 'm')) => (&t[..i], 20),
        Some((i, 'G' | 'g')) => (&t[..i], 30),
        _ => (t, 0),
    };
    let n: u64 = digits
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a size (bytes, or a number with K, M or G)"))?;
    n.checked_mul(1 << shift)
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("{s:?} is out of range"))
}

/// A size for messages: `64 MiB`, or bytes.
fn show_size(n: u64) -> String {
    match n {
        n if n >= 1 << 30 && n % (1 << 30) == 0 => format!("{} GiB", n >> 30),
        n if n >= 1 << 20 && n % (1 << 20) == 0 => format!("{} MiB", n >> 20),
        n if n >= 1 << 10 && n % (1 << 10) == 0 => format!("{} KiB", n >> 10),
        n => format!("{n} bytes"),
    }
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
    /// Refuse an input larger than this (bytes, or with a K, M or G suffix: KiB, MiB, GiB).
    #[arg(long, value_name = "SIZE", default_value = "64M", value_parser = parse_size)]
    pub max_input_size: u64,
    /// Read command lists as text written by people (see `vyos show --strict`).
    #[arg(long)]
    pub strict: bool,
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

/// Reads at most `cap` bytes of `path`, streaming: an input over the cap (`/dev/zero`, a
/// runaway file) is refused after `cap + 1` bytes, never loaded whole.
fn read_capped(path: &std::path::Path, cap: u64) -> Result<String, String> {
    use std::io::Read as _;
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let hint = file
        .metadata()
        .ok()
        .map_or(0, |m| m.len().min(cap.saturating_add(1)));
    let mut buf = Vec::with_capacity(usize::try_from(hint).unwrap_or(0));
    file.take(cap.saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(|e| e.to_string())?;
    if buf.len() as u64 > cap {
        return Err(format!(
            "larger than the input cap of {} (raise it with --max-input-size)",
            show_size(cap)
        ));
    }
    String::from_utf8(buf).map_err(|e| format!("not UTF-8 text: {}", e.utf8_error()))
}

fn load(path: &std::path::Path, cap: u64, strict: bool) -> Result<BootFile, Exit> {
    let name = path.display();
    let text = match read_capped(path, cap) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{name}: {e}");
            return Err(Exit::BadInput);
        }
    };
    let parsed = if strict && vyos::detect(&text) == vyos::InputKind::Commands {
        vyos::ConfigTree::parse_commands_strict(&text).map(|tree| BootFile { tree, footer: None })
    } else {
        vyos::ConfigTree::parse_any(&text)
    };
    drop(text);
    parsed.map_err(|e| {
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
    let file = match load(&a.file, a.max_input_size, a.strict) {
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
    let (old, new) = match (
        load(&a.old, a.max_input_size, a.strict),
        load(&a.new, a.max_input_size, a.strict),
    ) {
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
        DiffFormat::Unified => {
            // Each tree is rendered and freed in turn before the text diff runs.
            let sides = vyos::unified_sides_from(old.tree, new.tree, &scopes, secrets);
            sides.render(&a.old.display().to_string(), &a.new.display().to_string())
        }
    };
    if text.is_empty() {
        return Exit::Ok;
    }
    match emit(&text) {
        Exit::Ok => Exit::Changes,
        other => other,
    }
}
