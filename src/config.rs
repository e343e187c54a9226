//! The daemon's own configuration, `vnfsync.toml`.
//!
//! Owns: the raw serde structs (what the file may say), their validation into a typed
//! [`Config`] with defaults (so an almost empty file works), and errors that name the field and
//! its line. The `toml` crate is used only here. Must not start anything: binding, connecting
//! and spawning belong to the daemon.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::model::values::Span;

/// Log output format (`[log] format` here, `--log-format` on the command line).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum LogFormat {
    /// Human-readable lines (the default on a terminal).
    #[default]
    Text,
    /// One JSON object per event.
    Json,
}

/// A configuration problem, naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{file}: {message}")]
    Read { file: String, message: String },
    #[error("{file}:{line}:{column}: {message}")]
    Syntax {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{file}: {field}: {message}")]
    Invalid {
        file: String,
        field: String,
        message: String,
    },
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    repo: Option<PathBuf>,
    path: Option<String>,
    branch: Option<String>,
    remote: Option<String>,
    state_dir: Option<PathBuf>,
    listen: Option<String>,
    concurrency: Option<i64>,
    #[serde(default)]
    intervals: RawIntervals,
    #[serde(default)]
    timeouts: RawTimeouts,
    #[serde(default)]
    retry: RawRetry,
    #[serde(default)]
    log: RawLog,
    tls: Option<RawTls>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert: String,
    key: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIntervals {
    poll: Option<String>,
    fetch: Option<String>,
    drift_check: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTimeouts {
    connect: Option<String>,
    command: Option<String>,
    probe: Option<String>,
    shutdown_grace: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRetry {
    attempts: Option<i64>,
    initial_backoff: Option<String>,
    max_backoff: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLog {
    format: Option<String>,
    level: Option<String>,
}

/// Validated daemon configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The git repository holding the desired state.
    pub repo: PathBuf,
    /// The desired-state directory inside the repository.
    pub path: String,
    /// The branch the daemon follows.
    pub branch: String,
    /// An optional remote to fetch from (with the `git` CLI).
    pub remote: Option<String>,
    /// Journal and snapshots.
    pub state_dir: PathBuf,
    pub listen: SocketAddr,
    /// Most appliances worked on at once.
    pub concurrency: usize,
    pub poll_interval: Duration,
    /// How often `remote` is fetched (`intervals.fetch`).
    pub fetch_interval: Duration,
    pub drift_check_interval: Duration,
    pub connect_timeout: Duration,
    pub command_timeout: Duration,
    pub probe_timeout: Duration,
    pub shutdown_grace: Duration,
    pub retry: Retry,
    pub log_format: LogFormat,
    pub log_level: String,
    /// TLS for the API (`[tls]`); required when `listen` is not a loopback address.
    pub tls: Option<Tls>,
}

/// The API's certificate and key, each by reference: a path, `file:PATH` or
/// `credential:NAME` (systemd's `$CREDENTIALS_DIRECTORY/NAME`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tls {
    /// The certificate chain (PEM), leaf first.
    pub cert: String,
    /// The private key (PEM).
    pub key: String,
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

/// Bounded retries with exponential backoff (DESIGN invariant 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    pub attempts: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            repo: PathBuf::from("."),
            path: "desired-state".into(),
            branch: "main".into(),
            remote: None,
            state_dir: PathBuf::from("rollback"),
            listen: SocketAddr::from(([127, 0, 0, 1], 9180)),
            concurrency: 8,
            poll_interval: Duration::from_secs(10),
            fetch_interval: Duration::from_secs(60),
            drift_check_interval: Duration::from_secs(900),
            connect_timeout: Duration::from_secs(10),
            command_timeout: Duration::from_secs(30),
            probe_timeout: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(30),
            retry: Retry {
                attempts: 3,
                initial_backoff: Duration::from_secs(1),
                max_backoff: Duration::from_secs(4),
            },
            log_format: LogFormat::Text,
            log_level: "info".into(),
            tls: None,
        }
    }
}

const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];

/// A log level (`info`), or comma-separated directives of levels and `target=level`
/// (`info,vnfsync::driver=debug`). Anything else, such as `verbose`, is refused: tracing would
/// take an unknown word for a target name and log nothing for it.
fn check_log_level(text: &str) -> Result<(), String> {
    let level_ok = |l: &str| LEVELS.contains(&l.to_ascii_lowercase().as_str());
    for directive in text.split(',') {
        let d = directive.trim();
        let ok = match d.split_once('=') {
            Some((target, level)) => {
                !target.is_empty()
                    && target
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
                    && level_ok(level)
            }
            None => level_ok(d),
        };
        if !ok {
            return Err(format!(
                "`{text}` is not a log level ({}) or a list of `target=level` directives",
                LEVELS.join(", ")
            ));
        }
    }
    Ok(())
}

impl Config {
    /// Read and validate a `vnfsync.toml` file.
    pub fn load(file: &Path) -> Result<Config, ConfigError> {
        let name = file.display().to_string();
        let text = std::fs::read_to_string(file).map_err(|e| ConfigError::Read {
            file: name.clone(),
            message: e.to_string(),
        })?;
        Config::parse(&name, &text)
    }

    /// Parse and validate configuration text; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            let (line, column) = e
                .span()
                .map(|s| {
                    let before = &text[..s.start.min(text.len())];
                    (
                        before.matches('\n').count() + 1,
                        before.chars().rev().take_while(|c| *c != '\n').count() + 1,
                    )
                })
                .unwrap_or((1, 1));
            ConfigError::Syntax {
                file: file.to_string(),
                line,
                column,
                message: e.message().trim().to_string(),
            }
        })?;
        let invalid = |field: &str, message: String| ConfigError::Invalid {
            file: file.to_string(),
            field: field.into(),
            message,
        };
        let span = |field: &str,
                    v: &Option<String>,
                    default: Duration,
                    min: Duration,
                    max: Duration|
         -> Result<Duration, ConfigError> {
            let Some(v) = v else { return Ok(default) };
            let s: Span = v.parse().map_err(|m: String| invalid(field, m))?;
            if s.0 < min || s.0 > max {
                return Err(invalid(
                    field,
                    format!("{s} is out of range {}-{}", Span(min), Span(max)),
                ));
            }
            Ok(s.0)
        };
        let d = Config::default();
        let secs = Duration::from_secs;
        let ms = Duration::from_millis;
        let concurrency = match raw.concurrency {
            None => d.concurrency,
            Some(n) if (1..=1024).contains(&n) => n as usize,
            Some(n) => {
                return Err(invalid(
                    "concurrency",
                    format!("{n} is out of range 1-1024"),
                ));
            }
        };
        let listen = match raw.listen {
            None => d.listen,
            Some(l) => l.parse().map_err(|_| {
                invalid(
                    "listen",
                    format!("`{l}` is not an address:port (like 127.0.0.1:9180)"),
                )
            })?,
        };
        let path = raw.path.unwrap_or(d.path);
        if let Err(m) = crate::source::check_subdir(&path) {
            return Err(invalid("path", format!("`{path}` {m}")));
        }
        let branch = raw.branch.unwrap_or(d.branch);
        if branch.is_empty()
            || branch.contains(char::is_whitespace)
            || branch.contains("..")
            || branch.starts_with('-')
        {
            return Err(invalid(
                "branch",
                format!("`{branch}` is not a branch name"),
            ));
        }
        let attempts = match raw.retry.attempts {
            None => d.retry.attempts,
            Some(n) if (1..=10).contains(&n) => n as u32,
            Some(n) => {
                return Err(invalid(
                    "retry.attempts",
                    format!("{n} is out of range 1-10"),
                ));
            }
        };
        let initial_backoff = span(
            "retry.initial_backoff",
            &raw.retry.initial_backoff,
            d.retry.initial_backoff,
            ms(10),
            secs(60),
        )?;
        let max_backoff = span(
            "retry.max_backoff",
            &raw.retry.max_backoff,
            d.retry.max_backoff,
            ms(10),
            secs(3600),
        )?;
        if max_backoff < initial_backoff {
            return Err(invalid(
                "retry.max_backoff",
                "is smaller than retry.initial_backoff".into(),
            ));
        }
        let log_format = match raw.log.format.as_deref() {
            None => d.log_format,
            Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(invalid(
                    "log.format",
                    format!("`{other}` is neither `text` nor `json`"),
                ));
            }
        };
        let log_level = match raw.log.level {
            None => d.log_level,
            Some(l) => {
                check_log_level(&l).map_err(|m| invalid("log.level", m))?;
                l
            }
        };
        Config {
            repo: raw.repo.unwrap_or(d.repo),
            path,
            branch,
            remote: raw.remote,
            state_dir: raw.state_dir.unwrap_or(d.state_dir),
            listen,
            concurrency,
            poll_interval: span(
                "intervals.poll",
                &raw.intervals.poll,
                d.poll_interval,
                secs(1),
                secs(86_400),
            )?,
            fetch_interval: span(
                "intervals.fetch",
                &raw.intervals.fetch,
                d.fetch_interval,
                secs(1),
                secs(86_400),
            )?,
            drift_check_interval: span(
                "intervals.drift_check",
                &raw.intervals.drift_check,
                d.drift_check_interval,
                secs(10),
                secs(86_400),
            )?,
            connect_timeout: span(
                "timeouts.connect",
                &raw.timeouts.connect,
                d.connect_timeout,
                ms(100),
                secs(600),
            )?,
            command_timeout: span(
                "timeouts.command",
                &raw.timeouts.command,
                d.command_timeout,
                ms(100),
                secs(3600),
            )?,
            probe_timeout: span(
                "timeouts.probe",
                &raw.timeouts.probe,
                d.probe_timeout,
                ms(100),
                secs(600),
            )?,
            shutdown_grace: span(
                "timeouts.shutdown_grace",
                &raw.timeouts.shutdown_grace,
                d.shutdown_grace,
                secs(0),
                secs(600),
            )?,
            retry: Retry {
                attempts,
                initial_backoff,
                max_backoff,
            },
            log_format,
            log_level,
            tls: raw.tls.map(|t| Tls {
                cert: t.cert,
                key: t.key,
            }),
        }
        .checked(file)
    }

    /// The rules across fields, checked again after command-line flags override the file:
    /// the API is plain HTTP only on loopback.
    pub fn checked(self, file: &str) -> Result<Config, ConfigError> {
        if !self.listen.ip().is_loopback() && self.tls.is_none() {
            return Err(ConfigError::Invalid {
                file: file.to_string(),
                field: "listen".into(),
                message: format!(
                    "{} is not a loopback address: the API would carry bearer tokens in clear; give `[tls] cert` and `key`, or listen on 127.0.0.1",
                    self.listen
                ),
            });
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        Config::parse("vnfsync.toml", text)
            .expect_err("must fail")
            .to_string()
    }

    #[test]
    fn empty_file_gives_defaults() {
        assert_eq!(Config::parse("vnfsync.toml", ""), Ok(Config::default()));
    }

    #[test]
    fn listen_off_loopback_needs_tls() {
        let e = err("listen = \"0.0.0.0:9180\"\n");
        assert!(
            e.contains("listen: 0.0.0.0:9180 is not a loopback address"),
            "{e}"
        );
        let c = Config::parse(
            "vnfsync.toml",
            "listen = \"0.0.0.0:9180\"\n[tls]\ncert = \"/etc/vnfsync/api.pem\"\nkey = \"credential:api-key\"\n",
        )
        .expect("valid");
        assert_eq!(c.tls.map(|t| t.key).as_deref(), Some("credential:api-key"));
        assert!(err("[tls]\ncert = \"x\"\n").contains("key"));
    }

    #[test]
    fn values_are_read() {
        let c = Config::parse(
            "vnfsync.toml",
            "repo = \"/srv/state\"\nbranch = \"prod\"\nconcurrency = 4\nlisten = \"127.0.0.1:9999\"\n[timeouts]\ncommand = \"45s\"\n[retry]\nattempts = 5\n[log]\nformat = \"json\"\n",
        )
        .expect("valid");
        assert_eq!(c.repo, PathBuf::from("/srv/state"));
        assert_eq!(c.branch, "prod");
        assert_eq!(c.concurrency, 4);
        assert_eq!(c.command_timeout, Duration::from_secs(45));
        assert_eq!(c.retry.attempts, 5);
        assert_eq!(c.log_format, LogFormat::Json);
    }

    #[test]
    fn bad_values_name_the_field() {
        assert_eq!(
            err("concurrency = 0\n"),
            "vnfsync.toml: concurrency: 0 is out of range 1-1024"
        );
        assert_eq!(
            err("listen = \"nowhere\"\n"),
            "vnfsync.toml: listen: `nowhere` is not an address:port (like 127.0.0.1:9180)"
        );
        assert_eq!(
            err("[timeouts]\ncommand = \"soon\"\n"),
            "vnfsync.toml: timeouts.command: `soon` is not a duration (like `500ms`, `30s`, `5m`, `1h`)"
        );
        assert_eq!(
            err("[log]\nformat = \"xml\"\n"),
            "vnfsync.toml: log.format: `xml` is neither `text` nor `json`"
        );
        assert_eq!(
            err("path = \"../x\"\n"),
            "vnfsync.toml: path: `../x` may not leave the repository (`..`)"
        );
        assert_eq!(
            err("[log]\nlevel = \"verbose\"\n"),
            "vnfsync.toml: log.level: `verbose` is not a log level (trace, debug, info, warn, error, off) or a list of `target=level` directives"
        );
        assert!(Config::parse("c", "[log]\nlevel = \"info,vnfsync::driver=debug\"\n").is_ok());
        assert_eq!(
            err("path = \"/srv/state\"\n"),
            "vnfsync.toml: path: `/srv/state` must be relative to the repository"
        );
        assert!(
            err("concurrency = 2\nconcurency = 3\n")
                .starts_with("vnfsync.toml:2:1: unknown field `concurency`")
        );
        assert!(err("concurrency = \n").starts_with("vnfsync.toml:1:"));
    }
}
