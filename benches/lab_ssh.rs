//! The lab's SSH front end under load: 100 concurrent sessions against one server, each a full
//! connect, key exchange, authentication, exec, result and close. Once with russh clients in
//! the same process (password auth), once with 100 OpenSSH `ssh` processes (public-key auth).
//! Every iteration checks that all 100 sessions got their result. Run:
//! `cargo bench --bench lab_ssh`.

#[path = "../tests/support/lab_ssh_backend.rs"]
mod backend;

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use backend::{TestBackend, ed25519, openssh_public, russh_exec, russh_login};
use criterion::{Criterion, criterion_group, criterion_main};
use russh::keys::ssh_key::LineEnding;
use tokio::runtime::Runtime;
use vnfsync::lab::vyos::frontend::ExecBackend;
use vnfsync::lab::vyos::ssh::serve_ssh;

const SESSIONS: usize = 100;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Starts a server on a loopback port; it runs until the runtime is dropped.
fn start_server(rt: &Runtime) -> u16 {
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("local addr").port();
        let backend: Arc<dyn ExecBackend> = Arc::new(TestBackend::new(&ed25519(2)));
        tokio::spawn(serve_ssh(listener, ed25519(1), backend));
        port
    })
}

/// 100 russh sessions at once; returns how many got the right result.
async fn russh_round(port: u16) -> usize {
    let sessions = (0..SESSIONS).map(|i| {
        tokio::spawn(async move {
            let handle = russh_login(port).await.ok()?;
            let command = format!("show session {i}");
            let seen = russh_exec(&handle, &command, b"").await.ok()?;
            let ok = seen.exit_status == Some(0)
                && seen.stdout == format!("vyos ran: {command}\n").into_bytes();
            Some(ok)
        })
    });
    let results = futures::future::join_all(sessions).await;
    results
        .into_iter()
        .filter(|r| matches!(r, Ok(Some(true))))
        .count()
}

/// 100 `ssh` processes at once; returns how many exited 0 with the right output.
async fn openssh_round(port: u16, dir: &Path) -> usize {
    let sessions = (0..SESSIONS).map(|i| {
        let command = format!("show session {i}");
        let mut ssh = tokio::process::Command::new("ssh");
        ssh.args(["-F", "/dev/null", "-T", "-p", &port.to_string()])
            .args(["-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes"])
            .arg("-o")
            .arg(format!(
                "UserKnownHostsFile={}",
                dir.join("known_hosts").display()
            ))
            .args(["-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none"])
            .args(["-o", "ControlMaster=no", "-o", "ControlPath=none"])
            .arg("-i")
            .arg(dir.join("id"))
            .args(["-l", "vyos", "127.0.0.1", &command])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        async move {
            let out = tokio::time::timeout(Duration::from_secs(60), ssh.output())
                .await
                .ok()?
                .ok()?;
            Some(
                out.status.success() && out.stdout == format!("vyos ran: {command}\n").into_bytes(),
            )
        }
    });
    futures::future::join_all(sessions)
        .await
        .into_iter()
        .filter(|r| *r == Some(true))
        .count()
}

fn write_private(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).expect("write");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
}

fn bench(c: &mut Criterion) {
    let rt = runtime();
    let port = start_server(&rt);

    let mut group = c.benchmark_group("lab_ssh");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));

    let start = rt.block_on(async { tokio::time::Instant::now() });
    let ok = rt.block_on(russh_round(port));
    println!(
        "lab_ssh: {ok}/{SESSIONS} concurrent russh sessions succeeded (first round, {:?})",
        start.elapsed()
    );
    assert_eq!(ok, SESSIONS, "every russh session gets its result");
    group.bench_function("100_concurrent_russh_sessions", |b| {
        b.iter(|| {
            let ok = rt.block_on(russh_round(port));
            assert_eq!(ok, SESSIONS, "every russh session gets its result");
        })
    });

    let dir = tempfile::tempdir().expect("tempdir");
    let key = ed25519(2)
        .to_openssh(LineEnding::LF)
        .expect("encode private key");
    write_private(&dir.path().join("id"), &key);
    write_private(
        &dir.path().join("known_hosts"),
        &format!("[127.0.0.1]:{port} {}\n", openssh_public(&ed25519(1))),
    );
    let start = rt.block_on(async { tokio::time::Instant::now() });
    let ok = rt.block_on(openssh_round(port, dir.path()));
    println!(
        "lab_ssh: {ok}/{SESSIONS} concurrent OpenSSH sessions succeeded (first round, {:?})",
        start.elapsed()
    );
    assert_eq!(ok, SESSIONS, "every ssh process gets its result");
    group.bench_function("100_concurrent_openssh_sessions", |b| {
        b.iter(|| {
            let ok = rt.block_on(openssh_round(port, dir.path()));
            assert_eq!(ok, SESSIONS, "every ssh process gets its result");
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
