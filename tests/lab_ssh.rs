//! Conformance of the lab's SSH front end (`src/lab/vyos/ssh.rs`) with the system OpenSSH
//! client (`ssh`), plus a few protocol cases driven with russh's client (several channels on
//! one connection, channel limits, dropping a connection).
//!
//! Every test starts its own server on 127.0.0.1 port 0 with the test backend of
//! `tests/support/lab_ssh_backend.rs`, waits by polling with deadlines, and stops by itself.
//! A missing `ssh` fails the tests (`.ci/run` installs openssh-client).

#[path = "support/lab_ssh_backend.rs"]
mod backend;

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use backend::{PASSWORD, TestBackend, USER, ed25519, openssh_public, russh_exec, russh_login};
use russh::keys::PrivateKey;
use russh::keys::ssh_key::LineEnding;
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;
use vnfsync::lab::vyos::ssh::{SshServerConfig, serve_ssh_with};

/// Upper bound for anything a test waits for; reaching it fails the test.
const DEADLINE: Duration = Duration::from_secs(30);

/// A running SSH front end on a loopback port, with the files an OpenSSH client needs.
struct Lab {
    port: u16,
    backend: Arc<TestBackend>,
    dir: TempDir,
    server: JoinHandle<std::io::Result<()>>,
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.server.abort();
    }
}

const HOST_KEY_SEED: u8 = 1;
const CLIENT_KEY_SEED: u8 = 2;

async fn start(config: Option<SshServerConfig>) -> Lab {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let port = listener.local_addr().expect("local addr").port();
    let backend = Arc::new(TestBackend::new(&ed25519(CLIENT_KEY_SEED)));
    let dyn_backend: Arc<dyn vnfsync::lab::vyos::frontend::ExecBackend> = backend.clone();
    let host_key = ed25519(HOST_KEY_SEED);
    let server = match config {
        // Failed logins wait 2 s by default (as sshd); these tests try wrong ones on purpose.
        None => tokio::spawn(serve_ssh_with(
            listener,
            host_key,
            dyn_backend,
            SshServerConfig {
                login_failure_delay: Duration::from_millis(50),
                ..SshServerConfig::default()
            },
        )),
        Some(config) => tokio::spawn(serve_ssh_with(listener, host_key, dyn_backend, config)),
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let lab = Lab {
        port,
        backend,
        dir,
        server,
    };
    lab.write_known_hosts("known_hosts", &ed25519(HOST_KEY_SEED));
    lab.write_private_key("id_good", &ed25519(CLIENT_KEY_SEED));
    lab.write_private_key("id_other", &ed25519(9));
    write_file(
        &lab.path("askpass_good"),
        &format!("#!/bin/sh\necho '{PASSWORD}'\n"),
        0o700,
    );
    write_file(
        &lab.path("askpass_bad"),
        "#!/bin/sh\necho 'not-the-password'\n",
        0o700,
    );
    lab
}

fn write_file(path: &Path, text: &str, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).expect("write test file");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

impl Lab {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write_known_hosts(&self, name: &str, host_key: &PrivateKey) {
        let line = format!("[127.0.0.1]:{} {}\n", self.port, openssh_public(host_key));
        write_file(&self.path(name), &line, 0o600);
    }

    fn write_private_key(&self, name: &str, key: &PrivateKey) {
        let text = key.to_openssh(LineEnding::LF).expect("encode private key");
        write_file(&self.path(name), &text, 0o600);
    }

    /// An OpenSSH client command for this lab: no user config, strict host key checking
    /// against `known_hosts`, no agent, no default identities.
    fn ssh(&self, auth: Auth, extra: &[&str]) -> Command {
        let mut cmd = Command::new("ssh");
        cmd.args(["-F", "/dev/null", "-T", "-p", &self.port.to_string()])
            .args(["-o", "StrictHostKeyChecking=yes"])
            .arg("-o")
            .arg(format!(
                "UserKnownHostsFile={}",
                self.path("known_hosts").display()
            ))
            .args(["-o", "GlobalKnownHostsFile=/dev/null"])
            .args(["-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none"])
            .args(["-o", "ControlMaster=no", "-o", "ControlPath=none"])
            .args(["-o", "ConnectTimeout=10", "-o", "LogLevel=ERROR"])
            .args(["-l", USER]);
        match auth {
            Auth::Key(name) => {
                cmd.args([
                    "-o",
                    "BatchMode=yes",
                    "-o",
                    "PreferredAuthentications=publickey",
                ])
                .arg("-i")
                .arg(self.path(name));
            }
            Auth::Password(script) => {
                cmd.args([
                    "-o",
                    "BatchMode=no",
                    "-o",
                    "PreferredAuthentications=password",
                ])
                .args([
                    "-o",
                    "PubkeyAuthentication=no",
                    "-o",
                    "NumberOfPasswordPrompts=1",
                ])
                .env("SSH_ASKPASS_REQUIRE", "force")
                .env("SSH_ASKPASS", self.path(script))
                .env("DISPLAY", ":0");
            }
        }
        // OpenSSH reads options after the destination too; the first other word is the command.
        cmd.arg("127.0.0.1")
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        cmd
    }
}

#[derive(Clone, Copy)]
enum Auth {
    /// Public key from the named file in the lab directory.
    Key(&'static str),
    /// Password from the named askpass script in the lab directory.
    Password(&'static str),
}

const GOOD_KEY: Auth = Auth::Key("id_good");
const GOOD_PASSWORD: Auth = Auth::Password("askpass_good");

/// Fails the test with a clear message when the OpenSSH client is missing.
async fn require_ssh() {
    let found = Command::new("ssh")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        found,
        "the OpenSSH client `ssh` is required by tests/lab_ssh.rs and was not found on PATH; \
         install openssh-client (`.ci/run` does it)"
    );
}

/// Runs a command to its end, with `stdin` written first, within [`DEADLINE`].
async fn run(mut cmd: Command, stdin: &[u8]) -> Output {
    if !stdin.is_empty() {
        cmd.stdin(Stdio::piped());
    }
    let mut child = cmd.spawn().expect("spawn ssh");
    if let Some(mut pipe) = child.stdin.take() {
        let data = stdin.to_vec();
        tokio::spawn(async move {
            // The server may stop reading early (a test of that); the error is expected then.
            let _ = pipe.write_all(&data).await;
        });
    }
    tokio::time::timeout(DEADLINE, child.wait_with_output())
        .await
        .expect("ssh did not finish within the deadline")
        .expect("wait for ssh")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Polls `condition` until it holds or [`DEADLINE`] passes (then fails with `what`).
async fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let start = tokio::time::Instant::now();
    while !condition() {
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_round_trip_with_public_key() {
    require_ssh().await;
    let lab = start(None).await;
    let out = run(lab.ssh(GOOD_KEY, &["show version"]), b"").await;
    assert_eq!(
        text(&out.stdout),
        "vyos ran: show version\n",
        "stderr: {}",
        text(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(lab.backend.execs(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_round_trip_with_password() {
    require_ssh().await;
    let lab = start(None).await;
    let out = run(lab.ssh(GOOD_PASSWORD, &["show interfaces"]), b"").await;
    assert_eq!(
        text(&out.stdout),
        "vyos ran: show interfaces\n",
        "stderr: {}",
        text(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdout_stderr_and_exit_status_are_propagated() {
    require_ssh().await;
    let lab = start(None).await;
    let out = run(lab.ssh(GOOD_KEY, &["fail 3 commit failed"]), b"").await;
    assert_eq!(text(&out.stdout), "out:commit failed\n");
    assert!(
        text(&out.stderr).contains("err:commit failed\n"),
        "stderr: {}",
        text(&out.stderr)
    );
    assert_eq!(
        out.status.code(),
        Some(3),
        "ssh exits with the remote exit status"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdin_reaches_vbash_s() {
    require_ssh().await;
    let lab = start(None).await;
    let script = b"configure\nset system host-name lab1\ncommit\nexit\n";
    let out = run(lab.ssh(GOOD_KEY, &["vbash -s"]), script).await;
    assert_eq!(out.stdout, script, "stderr: {}", text(&out.stderr));
    assert_eq!(out.status.code(), Some(0));

    // A large script crosses many SSH packets and window adjustments both ways.
    let big: Vec<u8> = (0..1_000_000u32)
        .map(|i| b"set firewall rule\n"[(i % 18) as usize])
        .collect();
    let out = run(lab.ssh(GOOD_KEY, &["vbash -s"]), &big).await;
    assert_eq!(out.stdout.len(), big.len());
    assert!(out.stdout == big, "1 MB of stdin came back altered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_stdin_fails_the_command_without_running_it() {
    require_ssh().await;
    let lab = start(Some(SshServerConfig {
        max_stdin_bytes: 1000,
        ..SshServerConfig::default()
    }))
    .await;
    let out = run(lab.ssh(GOOD_KEY, &["vbash -s"]), &[b'x'; 5000]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("stdin larger than 1000 bytes"),
        "stderr: {}",
        text(&out.stderr)
    );
    assert_eq!(lab.backend.execs(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_is_permission_denied() {
    require_ssh().await;
    let lab = start(None).await;
    let out = run(
        lab.ssh(Auth::Password("askpass_bad"), &["show version"]),
        b"",
    )
    .await;
    assert_eq!(out.status.code(), Some(255));
    assert!(
        text(&out.stderr).contains("Permission denied"),
        "stderr: {}",
        text(&out.stderr)
    );
    assert_eq!(lab.backend.execs(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_public_key_is_permission_denied() {
    require_ssh().await;
    let lab = start(None).await;
    let out = run(lab.ssh(Auth::Key("id_other"), &["show version"]), b"").await;
    assert_eq!(out.status.code(), Some(255));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("Permission denied (password,publickey)"),
        "both methods are offered; stderr: {stderr}"
    );
    assert_eq!(lab.backend.execs(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_host_key_is_refused_by_the_client() {
    require_ssh().await;
    let lab = start(None).await;
    lab.write_known_hosts("known_hosts", &ed25519(77));
    let out = run(lab.ssh(GOOD_KEY, &["show version"]), b"").await;
    assert_eq!(out.status.code(), Some(255));
    assert!(
        text(&out.stderr).contains("Host key verification failed"),
        "stderr: {}",
        text(&out.stderr)
    );
    assert_eq!(lab.backend.execs(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_admission_closes_before_the_banner() {
    require_ssh().await;
    let lab = start(None).await;
    lab.backend.refuse.store(true, Ordering::SeqCst);

    // The reset may come before the connect call returns, or on the first read; never a byte.
    match tokio::net::TcpStream::connect(("127.0.0.1", lab.port)).await {
        Err(error) => assert_eq!(error.kind(), std::io::ErrorKind::ConnectionReset),
        Ok(mut raw) => {
            let mut got = Vec::new();
            let read = tokio::time::timeout(DEADLINE, raw.read_to_end(&mut got))
                .await
                .expect("refused connection closed within the deadline");
            assert!(
                got.is_empty(),
                "no SSH banner before closing: {:?}",
                text(&got)
            );
            if let Err(error) = read {
                assert_eq!(error.kind(), std::io::ErrorKind::ConnectionReset);
            }
        }
    }

    let out = run(lab.ssh(GOOD_KEY, &["show version"]), b"").await;
    assert_eq!(
        out.status.code(),
        Some(255),
        "stderr: {}",
        text(&out.stderr)
    );
    assert_eq!(lab.backend.execs(), 0);

    // Admission is asked per connection: accepting again serves again.
    lab.backend.refuse.store(false, Ordering::SeqCst);
    let out = run(lab.ssh(GOOD_KEY, &["show version"]), b"").await;
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
}

/// Starts `ssh … hang` and waits until the backend runs it.
async fn start_hanging(lab: &Lab, extra: &[&str]) -> Child {
    let before = lab.backend.hanging();
    let mut args = extra.to_vec();
    args.push("hang");
    let child = lab.ssh(GOOD_KEY, &args).spawn().expect("spawn ssh");
    wait_until("the hanging exec to start", || {
        lab.backend.hanging() > before
    })
    .await;
    child
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_exec_blocks_nobody_and_is_abandoned_when_the_client_leaves() {
    require_ssh().await;
    let lab = start(None).await;
    let mut hanging = start_hanging(&lab, &[]).await;

    // Other connections are served meanwhile, by OpenSSH and by russh.
    let out = run(lab.ssh(GOOD_KEY, &["show version"]), b"").await;
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    let handle = russh_login(lab.port).await.expect("russh login");
    let seen = russh_exec(&handle, "show ip route", b"")
        .await
        .expect("exec");
    assert_eq!(seen.stdout, b"vyos ran: show ip route\n");
    assert_eq!(
        lab.backend.abandoned(),
        0,
        "the hanging exec is still running"
    );

    hanging.start_kill().expect("kill ssh");
    wait_until("the hanging exec to be abandoned", || {
        lab.backend.abandoned() == 1
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_connection_times_out_and_its_exec_is_abandoned() {
    require_ssh().await;
    let lab = start(Some(SshServerConfig {
        inactivity_timeout: Duration::from_millis(500),
        ..SshServerConfig::default()
    }))
    .await;
    let hanging = start_hanging(&lab, &[]).await;
    let out = tokio::time::timeout(DEADLINE, hanging.wait_with_output())
        .await
        .expect("the server closes the idle connection")
        .expect("wait for ssh");
    assert_eq!(out.status.code(), Some(255));
    wait_until("the hanging exec to be abandoned", || {
        lab.backend.abandoned() == 1
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keepalives_are_answered_during_a_slow_exec() {
    require_ssh().await;
    // The inactivity timeout is shorter than the exec: only the client's keepalives (and our
    // replies) keep the connection open, and the client gives up after one unanswered one.
    let lab = start(Some(SshServerConfig {
        inactivity_timeout: Duration::from_millis(2500),
        ..SshServerConfig::default()
    }))
    .await;
    let out = run(
        lab.ssh(
            GOOD_KEY,
            &[
                "-o",
                "ServerAliveInterval=1",
                "-o",
                "ServerAliveCountMax=1",
                "sleep 4000 awake",
            ],
        ),
        b"",
    )
    .await;
    assert_eq!(
        text(&out.stdout),
        "awake\n",
        "stderr: {}",
        text(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_connection_delivers_the_result_then_closes() {
    require_ssh().await;
    let lab = start(None).await;
    // A one-command OpenSSH run gets the whole result, exit status included.
    let out = run(lab.ssh(GOOD_KEY, &["drop bye"]), b"").await;
    assert_eq!(text(&out.stdout), "bye\n", "stderr: {}", text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));

    // On one connection: the channel gets its result, then the whole connection is gone.
    let handle = russh_login(lab.port).await.expect("russh login");
    let seen = russh_exec(&handle, "drop ciao", b"").await.expect("exec");
    assert_eq!(seen.stdout, b"ciao\n");
    assert_eq!(seen.exit_status, Some(0));
    wait_until("the connection to close", || handle.is_closed()).await;
    assert!(handle.channel_open_session().await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shell_and_pty_are_refused() {
    require_ssh().await;
    let lab = start(None).await;
    // No command: a shell request, refused.
    let out = run(lab.ssh(GOOD_KEY, &[]), b"").await;
    assert_ne!(out.status.code(), Some(0));
    assert!(
        text(&out.stderr).contains("shell request failed"),
        "stderr: {}",
        text(&out.stderr)
    );
    assert_eq!(lab.backend.execs(), 0);
    // A forced pty is refused, which OpenSSH treats as fatal for `-tt`.
    let out = run(lab.ssh(GOOD_KEY, &["-tt", "show version"]), b"").await;
    assert_ne!(out.status.code(), Some(0));
    assert!(
        text(&out.stderr).contains("PTY allocation request failed"),
        "stderr: {}",
        text(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openssh_multiplexes_sessions_over_one_connection() {
    require_ssh().await;
    let lab = start(None).await;
    let socket = lab.path("mux");
    let socket_arg = socket.display().to_string();
    // The master holds the one connection; -M and -S override the builder's no-mux options.
    let _master = lab
        .ssh(GOOD_KEY, &["-M", "-S", &socket_arg, "-N"])
        .spawn()
        .expect("spawn ssh master");
    wait_until("the control socket", || socket.exists()).await;

    let slow = run(
        lab.ssh(GOOD_KEY, &["-S", &socket_arg, "sleep 300 slow"]),
        b"",
    );
    let script = run(
        lab.ssh(GOOD_KEY, &["-S", &socket_arg, "vbash -s"]),
        b"show version\n",
    );
    let failing = run(lab.ssh(GOOD_KEY, &["-S", &socket_arg, "fail 2 no"]), b"");
    let (slow, script, failing) = tokio::join!(slow, script, failing);
    assert_eq!(
        text(&slow.stdout),
        "slow\n",
        "stderr: {}",
        text(&slow.stderr)
    );
    assert_eq!(text(&script.stdout), "show version\n");
    assert_eq!(failing.status.code(), Some(2));
    assert_eq!(text(&failing.stdout), "out:no\n");
    assert_eq!(lab.backend.execs(), 3);
    assert_eq!(
        lab.backend.admitted(),
        1,
        "all sessions share the master's connection"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_channels_on_one_connection() {
    let lab = start(None).await;
    let handle = russh_login(lab.port).await.expect("russh login");
    // More than the channel limit, one after the other: finished channels free their slot.
    for i in 0..25 {
        let seen = russh_exec(&handle, &format!("show {i}"), b"")
            .await
            .expect("sequential exec");
        assert_eq!(seen.stdout, format!("vyos ran: show {i}\n").into_bytes());
        assert_eq!(seen.exit_status, Some(0));
    }
    let runs = (0..5).map(|i| {
        let handle = &handle;
        async move {
            if i % 2 == 0 {
                russh_exec(handle, "sleep 200 slow", b"").await
            } else {
                russh_exec(handle, "vbash -s", format!("script {i}\n").as_bytes()).await
            }
        }
    });
    let seen = futures::future::join_all(runs).await;
    for (i, seen) in seen.into_iter().enumerate() {
        let seen = seen.expect("concurrent exec");
        let expected = if i % 2 == 0 {
            "slow\n".to_owned()
        } else {
            format!("script {i}\n")
        };
        assert_eq!(text(&seen.stdout), expected);
        assert_eq!(seen.exit_status, Some(0));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channels_per_connection_are_limited() {
    let lab = start(Some(SshServerConfig {
        max_channels_per_connection: 2,
        ..SshServerConfig::default()
    }))
    .await;
    let handle = russh_login(lab.port).await.expect("russh login");
    let first = handle.channel_open_session().await.expect("first channel");
    first.exec(true, "hang").await.expect("exec");
    wait_until("the hanging exec to start", || lab.backend.hanging() == 1).await;
    // The hanging channel blocks no other channel of its connection.
    let seen = russh_exec(&handle, "show version", b"")
        .await
        .expect("exec");
    assert_eq!(seen.stdout, b"vyos ran: show version\n");
    // That channel is done, so its slot is free again; the one after it is not.
    let second = handle.channel_open_session().await.expect("second channel");
    assert!(
        handle.channel_open_session().await.is_err(),
        "a third channel is refused"
    );
    // Closing one frees its slot and abandons its exec.
    first.close().await.expect("close");
    wait_until("the exec to be abandoned", || lab.backend.abandoned() == 1).await;
    let mut third = None;
    let start = tokio::time::Instant::now();
    while third.is_none() {
        assert!(start.elapsed() < DEADLINE, "no channel slot freed");
        third = handle.channel_open_session().await.ok();
    }
    drop((second, third));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_server_closes_its_connections() {
    let lab = start(None).await;
    let handle = russh_login(lab.port).await.expect("russh login");
    let channel = handle.channel_open_session().await.expect("channel");
    channel.exec(true, "hang").await.expect("exec");
    wait_until("the hanging exec to start", || lab.backend.hanging() == 1).await;
    let backend = Arc::clone(&lab.backend);
    drop(lab);
    wait_until("the connection to close", || handle.is_closed()).await;
    wait_until("the exec to be abandoned", || backend.abandoned() == 1).await;
}
