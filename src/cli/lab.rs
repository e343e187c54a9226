//! `vnfsync lab`: run emulated appliances on loopback until SIGINT or SIGTERM.
//!
//! Owns the arguments, reading the lab file, printing one JSON line per appliance when every
//! port is bound, and waiting for a signal. All behaviour lives in [`crate::lab::vyos`].

use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::Exit;
use crate::lab::vyos::lab::{Lab, LabOptions, LabSecurity, parse_lab_file_in, specs_for_count};
use crate::lab::vyos::{Profile, Timing};

#[derive(Debug, Args)]
pub struct LabArgs {
    /// Number of VyOS appliances (named vyos1 … vyosN).
    #[arg(long, conflicts_with = "file", required_unless_present = "file")]
    pub vyos: Option<usize>,
    /// VyOS version profile for `--vyos`: 1.3, 1.4 or 1.5.
    #[arg(long, default_value = "1.4")]
    pub profile: Profile,
    /// Lab file (YAML): `profile` and `appliances` (each: `name`, `profile`, `user`, `password`,
    /// `api_key`, `authorized_keys`, `config` or `config_file`, `faults`).
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// First port: control on it, appliance i SSH on base+1+2i and API on base+2+2i.
    /// Ephemeral ports when absent.
    #[arg(long)]
    pub port_base: Option<u16>,
    /// Length of an emulated minute in seconds (commit-confirm timers).
    #[arg(long, default_value_t = 60.0)]
    pub minute_seconds: f64,
    /// How long a reboot keeps an appliance unreachable, in seconds.
    #[arg(long, default_value_t = 30.0)]
    pub reboot_seconds: f64,
    /// How long a failed SSH password login waits before it is answered, in milliseconds
    /// (sshd with PAM waits about 2 s).
    #[arg(long, default_value_t = 2000)]
    pub login_delay_ms: u64,
}

/// The lowest `--port-base`: below it are the privileged ports.
const LOWEST_PORT_BASE: u16 = 1024;

/// Checks the arguments that clap cannot: a port layout that fits, at least one appliance.
fn check_args(args: &LabArgs, appliances: usize) -> Result<(), String> {
    if appliances == 0 {
        return Err("--vyos: give at least one appliance".to_owned());
    }
    if let Some(base) = args.port_base {
        if base < LOWEST_PORT_BASE {
            return Err(format!(
                "--port-base {base}: below {LOWEST_PORT_BASE} (privileged ports)"
            ));
        }
        let last = usize::from(base) + 2 * appliances;
        if last > usize::from(u16::MAX) {
            return Err(format!(
                "--port-base {base}: {appliances} appliances need ports up to {last}, above 65535"
            ));
        }
    }
    Ok(())
}

fn seconds(name: &str, v: f64) -> Result<Duration, String> {
    Duration::try_from_secs_f64(v)
        .map_err(|_| format!("--{name}: {v} is not a duration in seconds"))
}

/// Runs the lab until a signal.
pub fn run(args: &LabArgs) -> Exit {
    let timing = match (
        seconds("minute-seconds", args.minute_seconds),
        seconds("reboot-seconds", args.reboot_seconds),
    ) {
        (Ok(minute), Ok(reboot)) => Timing { minute, reboot },
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("{e}");
            return Exit::BadInput;
        }
    };
    let specs = match (&args.file, args.vyos) {
        (Some(path), _) => {
            let text = match std::fs::read_to_string(path) {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("{}: {e}", path.display());
                    return Exit::BadInput;
                }
            };
            match parse_lab_file_in(&text, path.parent()) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("{}: {e}", path.display());
                    return Exit::BadInput;
                }
            }
        }
        (None, Some(n)) => specs_for_count(n, args.profile),
        (None, None) => {
            eprintln!("give --vyos COUNT or --file LAB.yaml");
            return Exit::BadInput;
        }
    };
    if let Err(e) = check_args(args, specs.len()) {
        eprintln!("{e}");
        return Exit::BadInput;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return Exit::Failure;
        }
    };
    runtime.block_on(async move {
        let opts = LabOptions {
            port_base: args.port_base,
            timing,
        };
        let security = LabSecurity {
            control_token: None,
            login_failure_delay: Duration::from_millis(args.login_delay_ms),
        };
        let lab = match Lab::start_with(specs, opts, security).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("{e}");
                return match e {
                    crate::lab::vyos::lab::LabError::Appliance(_) => Exit::BadInput,
                    _ => Exit::Failure,
                };
            }
        };
        {
            let mut out = std::io::stdout().lock();
            for line in lab.json_lines() {
                if writeln!(out, "{line}").is_err() {
                    return Exit::Failure;
                }
            }
            if out.flush().is_err() {
                return Exit::Failure;
            }
        }
        tracing::info!(appliances = lab.appliances().len(), control = %lab.control_addr(), "lab ready");
        wait_for_signal().await;
        tracing::info!("lab stopping");
        drop(lab);
        Exit::Ok
    })
}

#[derive(Debug, Args)]
pub struct LabShellArgs {
    /// The appliance's control URL, as `vnfsync lab` prints it
    /// (`http://127.0.0.1:PORT/appliances/NAME`).
    #[arg(long)]
    pub control: String,
    /// The command to run; by default `$SSH_ORIGINAL_COMMAND` (set by sshd's `ForceCommand`).
    #[arg(long)]
    pub command: Option<String>,
}

#[derive(serde::Deserialize)]
struct ExecReply {
    stdout: String,
    stderr: String,
    exit_status: u32,
}

/// Relays one exec to the lab's control endpoint (`POST …/exec`) and plays back its result.
pub fn run_shell(args: &LabShellArgs) -> Exit {
    use std::io::Read as _;
    let Some(command) = args
        .command
        .clone()
        .or_else(|| std::env::var("SSH_ORIGINAL_COMMAND").ok())
    else {
        eprintln!(
            "lab-shell: no command (give --command or run as sshd's ForceCommand with an exec request)"
        );
        return Exit::BadInput;
    };
    let mut stdin = Vec::new();
    if let Err(e) = std::io::stdin().read_to_end(&mut stdin) {
        eprintln!("lab-shell: reading stdin: {e}");
        return Exit::Failure;
    }
    let body = serde_json::json!({"command": command, "stdin": String::from_utf8_lossy(&stdin)});
    let url = format!("{}/exec", args.control.trim_end_matches('/'));
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("lab-shell: cannot start the runtime: {e}");
            return Exit::Failure;
        }
    };
    let reply = runtime.block_on(async {
        let resp = reqwest::Client::new().post(&url).json(&body).send().await?;
        resp.error_for_status()?.json::<ExecReply>().await
    });
    match reply {
        Ok(r) => {
            let mut out = std::io::stdout().lock();
            let mut err = std::io::stderr().lock();
            if out
                .write_all(r.stdout.as_bytes())
                .and_then(|()| out.flush())
                .is_err()
                || err
                    .write_all(r.stderr.as_bytes())
                    .and_then(|()| err.flush())
                    .is_err()
            {
                return Exit::Failure;
            }
            Exit::Status(u8::try_from(r.exit_status).unwrap_or(u8::MAX))
        }
        Err(e) => {
            eprintln!("lab-shell: {url}: {e}");
            Exit::Failure
        }
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
