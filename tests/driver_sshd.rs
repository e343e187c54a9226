//! Interop: the VyOS driver's SSH client against a real OpenSSH `sshd` (Debian
//! `openssh-server`, installed by `.ci/run`), started here on a loopback port with a
//! `ForceCommand` into `vnfsync lab-shell`, which relays each exec to a lab appliance. So the
//! client is proven against an SSH server we did not write, not only russh against russh.

// The lab and sshd are separate processes: deadlines here are wall-clock.
#![allow(clippy::disallowed_methods)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command as Process, Stdio};
use std::time::{Duration, Instant};

use vnfsync::driver::vyos::{Timeouts, VyosDriver};
use vnfsync::driver::{
    ApplyOptions, ApplyOutcome, ConfirmState, Driver, ErrorCode, secret::ProcessEnv,
};
use vnfsync::model;
use vnfsync::source::SourceFiles;

#[path = "support/lab_process.rs"]
mod lab_process;
use lab_process::{Killed, start_lab};

const PROFILE: &str = "1.4";

fn sshd() -> PathBuf {
    for p in ["/usr/sbin/sshd", "/usr/bin/sshd"] {
        if Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    panic!("OpenSSH sshd is not installed: install openssh-server (.ci/run does)");
}

fn run(cmd: &mut Process) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn user() -> String {
    let out = Process::new("id").arg("-un").output().expect("id -un");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A real sshd on a loopback port whose every session runs `force_command`, with a key pair
/// in `d` (`id`) and the host key's SHA256 pin. Returns (sshd, port, pin).
fn start_sshd(d: &Path, force_command: &str) -> (Killed, u16, String) {
    let sshd = sshd();
    for (name, kind) in [("host_key", "ed25519"), ("id", "ed25519")] {
        run(Process::new("ssh-keygen")
            .args(["-q", "-t", kind, "-N", "", "-C", "vnfsync-test", "-f"])
            .arg(d.join(name)));
    }
    std::fs::copy(d.join("id.pub"), d.join("authorized_keys")).expect("authorized_keys");
    let fingerprint = run(Process::new("ssh-keygen")
        .args(["-l", "-E", "sha256", "-f"])
        .arg(d.join("host_key.pub")));
    let pin = fingerprint
        .split_whitespace()
        .nth(1)
        .expect("fingerprint")
        .to_string();
    if nix_is_root() {
        // sshd's privilege separation directory, as the Debian unit creates it.
        std::fs::create_dir_all("/run/sshd").expect("/run/sshd");
    }
    let port = free_port();
    let config = format!(
        "Port {port}\nListenAddress 127.0.0.1\nHostKey {hk}\nPidFile {pid}\nAuthorizedKeysFile {ak}\n\
         PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n\
         PermitRootLogin prohibit-password\nForceCommand {force_command}\n\
         LogLevel ERROR\n",
        hk = d.join("host_key").display(),
        pid = d.join("sshd.pid").display(),
        ak = d.join("authorized_keys").display(),
    );
    std::fs::write(d.join("sshd_config"), config).expect("sshd_config");
    let server = Killed(
        Process::new(&sshd)
            .args(["-D", "-e", "-f"])
            .arg(d.join("sshd_config"))
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start sshd"),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "sshd did not start listening on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (server, port, pin)
}

#[test]
fn driver_talks_to_real_openssh_sshd() {
    let (_lab, info) = start_lab(PROFILE, &[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let control = info["control"].as_str().expect("control");
    let (_sshd, port, pin) = start_sshd(
        d,
        &format!(
            "{bin} lab-shell --control {control}",
            bin = env!("CARGO_BIN_EXE_vnfsync")
        ),
    );

    let yaml = format!(
        "name: r1\ndictionary: vyos-1.4\nendpoint:\n  transport: ssh\n  host: 127.0.0.1\n  port: {port}\n  user: {user}\n  private_key: file:{key}\n  host_key: {pin}\nowns: [protocols, system]\n",
        user = user(),
        key = d.join("id").display(),
    );
    let mut files = SourceFiles::default();
    files
        .files
        .insert("appliances/r1.yaml".into(), yaml.into_bytes());
    let state = model::load(&files).unwrap_or_else(|e| panic!("{e:?}"));
    let appliance = &state.appliances[0];
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let timeouts = Timeouts {
        connect: Duration::from_secs(10),
        command: Duration::from_secs(20),
    };
    let mut driver = VyosDriver::new(appliance, &ProcessEnv, timeouts).expect("driver");

    let info = rt.block_on(driver.info()).expect("version over sshd");
    assert_eq!(info.line, "1.4");
    let plan = vnfsync::vyos::parse_commands(
        "set protocols static route 10.20.0.0/16 next-hop 192.0.2.1\n",
    )
    .expect("plan");
    let options = ApplyOptions {
        confirm_window: None,
        comment: "vnfsync interop".into(),
        ..ApplyOptions::default()
    };
    let out = rt
        .block_on(driver.apply(&plan, &options))
        .expect("apply over sshd");
    assert_eq!(
        out,
        ApplyOutcome::Committed {
            confirm: ConfirmState::NotRequested,
            saved_before: false,
            comment_carried: true,
        }
    );
    let active = reqwest::blocking::get(format!("{control}/active"))
        .and_then(|r| r.text())
        .expect("active");
    assert!(
        active.contains("set protocols static route 10.20.0.0/16 next-hop 192.0.2.1"),
        "{active}"
    );
    assert_eq!(
        rt.block_on(driver.apply(&plan, &options)).expect("again"),
        ApplyOutcome::NoChange
    );

    // The pin is checked against sshd's key too.
    let wrong = model::load(&{
        let mut f = SourceFiles::default();
        let text = String::from_utf8(files.files["appliances/r1.yaml"].clone())
            .expect("utf8")
            .replace(&pin, "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU");
        f.files
            .insert("appliances/r1.yaml".into(), text.into_bytes());
        f
    })
    .expect("valid");
    let mut bad = VyosDriver::new(&wrong.appliances[0], &ProcessEnv, timeouts).expect("driver");
    let err = rt.block_on(bad.fetch()).expect_err("wrong pin");
    assert_eq!(err.code(), ErrorCode::Auth, "{err}");
}

fn nix_is_root() -> bool {
    Process::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// A device that answers without end (here: sshd running `head -c 70M /dev/zero` for every
/// command) is cut off at the driver's 64 MiB cap with a clear error, not read into memory.
#[test]
fn driver_stops_reading_an_endless_answer_at_the_cap() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let (_sshd, port, pin) = start_sshd(d, "head -c 70000000 /dev/zero");
    let yaml = format!(
        "name: r1\ndictionary: vyos-1.4\nendpoint:\n  transport: ssh\n  host: 127.0.0.1\n  port: {port}\n  user: {user}\n  private_key: file:{key}\n  host_key: {pin}\nowns: [protocols]\n",
        user = user(),
        key = d.join("id").display(),
    );
    let mut files = SourceFiles::default();
    files
        .files
        .insert("appliances/r1.yaml".into(), yaml.into_bytes());
    let state = model::load(&files).unwrap_or_else(|e| panic!("{e:?}"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let timeouts = Timeouts {
        connect: Duration::from_secs(10),
        command: Duration::from_secs(120),
    };
    let mut driver = VyosDriver::new(&state.appliances[0], &ProcessEnv, timeouts).expect("driver");
    let err = rt.block_on(driver.fetch()).expect_err("an endless answer");
    assert_eq!(err.code(), ErrorCode::Upstream, "{err}");
    assert!(
        err.to_string().contains("larger than the 64 MiB cap"),
        "{err}"
    );
    assert!(!err.retryable(), "{err}");
}
