//! The daemon's speed, with the real `vnfsync` binary (release) and `vnfsync lab` processes on
//! loopback, as an operator runs them.
//!
//! - criterion `daemon/commit_to_converged`: one lab appliance (1.4, SSH, no emulated
//!   latency); each iteration commits a changed route to the repository the daemon follows and
//!   polls `/v1/status` (every 2 ms) until the appliance converged on that commit. The time
//!   covers noticing the commit (notify + debounce), validating it, the engine's whole safe
//!   change (fetch, plan, journal, snapshot, commit-confirm, a fresh-login health probe,
//!   confirm, save) and the status poll.
//! - `VNFSYNC_BENCH_FLEET=N` (after criterion): N lab appliances (the HTTP API transport), one
//!   commit for all of them; prints `/healthz` latency percentiles sampled while the N first
//!   applies run, the time to converge, the daemon's RSS once idle, and the CPU the daemon used
//!   over one drift interval (`drift_check = 10s`: one no-op drift sweep over all N, plus idle).
//!
//! - `VNFSYNC_BENCH_APPLY=N` (with `VNFSYNC_BENCH_TRANSPORT=ssh|http`, default http): `vnfsync
//!   apply --yes` over N lab appliances at 20 ms emulated latency per device command with
//!   `concurrency = 20`: wall time and appliances per second, then the same apply again.
//!
//! Run: `nice cargo bench --bench daemon` (criterion) and
//! `VNFSYNC_BENCH_FLEET=1000 nice cargo bench --bench daemon` (the fleet figures only).

// Other processes with their own clocks: wall-clock deadlines and timings.
#![allow(clippy::disallowed_methods)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use criterion::Criterion;
use serde_json::Value;
use vnfsync::api::Scope;
use vnfsync::api::auth::entry_line;

const TOKEN: &str = "bench-token";

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "b")
        .env("GIT_AUTHOR_EMAIL", "b@example.invalid")
        .env("GIT_COMMITTER_NAME", "b")
        .env("GIT_COMMITTER_EMAIL", "b@example.invalid")
        .output()
        .expect("git");
    assert!(out.status.success(), "git {args:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// `vnfsync lab --vyos N`; its JSON lines.
fn lab(n: usize) -> (Killed, Vec<Value>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vnfsync"))
        .args(["lab", "--vyos", &n.to_string(), "--profile", "1.4"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("vnfsync lab");
    let out = BufReader::new(child.stdout.take().expect("stdout"));
    let lab = Killed(child);
    let lines: Vec<Value> = out
        .lines()
        .take(n)
        .map(|l| serde_json::from_str(&l.expect("line")).expect("json"))
        .collect();
    assert_eq!(lines.len(), n, "the lab did not start");
    (lab, lines)
}

struct Env {
    dir: tempfile::TempDir,
    repo: PathBuf,
    port: u16,
    client: reqwest::blocking::Client,
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = dir.path().join("repo");
        std::fs::create_dir_all(repo.join("appliances")).expect("mkdir");
        git(&repo, &["init", "-q", "-b", "main"]);
        std::fs::write(
            dir.path().join("tokens"),
            entry_line("bench", &[Scope::Read, Scope::Write], None, TOKEN),
        )
        .expect("tokens");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("port");
        Env {
            dir,
            repo,
            port,
            client: reqwest::blocking::Client::new(),
        }
    }

    fn secret(&self, name: &str, value: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, value).expect("secret");
        p
    }

    fn commit(&self) -> String {
        git(&self.repo, &["add", "-A"]);
        git(&self.repo, &["commit", "-q", "-m", "bench"]);
        git(&self.repo, &["rev-parse", "HEAD"])
    }

    fn daemon(&self, toml_extra: &str) -> Killed {
        let config = self.dir.path().join("vnfsync.toml");
        std::fs::write(
            &config,
            format!(
                "repo = {:?}\npath = \".\"\nstate_dir = {:?}\nlisten = \"127.0.0.1:{}\"\n{toml_extra}",
                self.repo.display().to_string(),
                self.dir.path().join("state").display().to_string(),
                self.port
            ),
        )
        .expect("config");
        Killed(
            Command::new(env!("CARGO_BIN_EXE_vnfsync"))
                .args(["daemon", "--config"])
                .arg(&config)
                .arg("--tokens")
                .arg(self.dir.path().join("tokens"))
                .env("VNFSYNC_LOG", "warn")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("vnfsync daemon"),
        )
    }

    fn get(&self, path: &str) -> Option<Value> {
        let r = self
            .client
            .get(format!("http://127.0.0.1:{}{path}", self.port))
            .bearer_auth(TOKEN)
            .send()
            .ok()?;
        r.json().ok()
    }

    fn wait_converged(&self, commit: &str, within: Duration, poll: Duration) {
        let deadline = Instant::now() + within;
        loop {
            if self
                .get("/v1/status")
                .is_some_and(|s| s["converged"] == true && s["commit"] == commit)
            {
                return;
            }
            assert!(Instant::now() < deadline, "not converged on {commit}");
            std::thread::sleep(poll);
        }
    }
}

fn ssh_appliance(env: &Env, name: &str, lab: &Value, route: &str) -> String {
    let (host, port) = lab["ssh"]
        .as_str()
        .and_then(|s| s.rsplit_once(':'))
        .expect("ssh");
    let password = env.secret(
        &format!("{name}.password"),
        lab["password"].as_str().expect("pw"),
    );
    format!(
        "name: {name}\ndictionary: vyos-1.4\nendpoint:\n  transport: ssh\n  host: {host}\n  port: {port}\n  user: {}\n  password: file:{}\n  host_key: {}\nowns: [protocols static]\ncommit:\n  confirm_window: 1m\nhealth:\n  - kind: login\nroutes:\n  - {{prefix: {route}, next_hop: 192.0.2.253}}\n",
        lab["user"].as_str().expect("user"),
        password.display(),
        lab["host_key_fingerprint"].as_str().expect("fp"),
    )
}

fn http_appliance(env: &Env, name: &str, lab: &Value, route: &str) -> String {
    let (host, port) = lab["api"]
        .as_str()
        .and_then(|s| s.strip_prefix("http://"))
        .and_then(|s| s.rsplit_once(':'))
        .expect("api");
    let key = env.secret(
        &format!("{name}.key"),
        lab["api_key"].as_str().expect("key"),
    );
    format!(
        "name: {name}\ndictionary: vyos-1.4\nadopt: auto\nendpoint:\n  transport: vyos-http\n  scheme: http\n  host: {host}\n  port: {port}\n  api_key: file:{}\nowns: [protocols static]\ncommit:\n  confirm_window: 1m\nhealth:\n  - kind: login\nroutes:\n  - {{prefix: {route}, next_hop: 192.0.2.253}}\n",
        key.display(),
    )
}

fn commit_to_converged(c: &mut Criterion) {
    let (_lab, labs) = lab(1);
    let env = Env::new();
    let file = env.repo.join("appliances/edge.yaml");
    std::fs::write(&file, ssh_appliance(&env, "edge", &labs[0], "10.0.0.0/16")).expect("write");
    let first = env.commit();
    let _daemon = env.daemon("");
    env.wait_converged(&first, Duration::from_secs(60), Duration::from_millis(50));
    let mut n = 0u32;
    let mut group = c.benchmark_group("daemon");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(2));
    group.measurement_time(Duration::from_secs(15));
    group.bench_function("commit_to_converged", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                n += 1;
                let route = format!("10.{}.{}.0/24", 1 + n / 250, n % 250);
                std::fs::write(&file, ssh_appliance(&env, "edge", &labs[0], &route))
                    .expect("write");
                // The commit itself (git) is the operator's time, not the daemon's.
                git(&env.repo, &["add", "-A"]);
                let start = Instant::now();
                git(&env.repo, &["commit", "-q", "-m", "bench"]);
                let sha = git(&env.repo, &["rev-parse", "HEAD"]);
                env.wait_converged(&sha, Duration::from_secs(60), Duration::from_millis(2));
                total += start.elapsed();
            }
            total
        });
    });
    group.finish();
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// utime + stime of a process, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the `(comm)`: state is field 3; utime 14 and stime 15 (1-based).
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|u| u.parse::<f64>().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0);
    // CLK_TCK is 100 on Linux.
    ticks / 100.0
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn fleet(n: usize) {
    let (lab, labs) = lab(n);
    let env = Env::new();
    for (i, l) in labs.iter().enumerate() {
        let name = format!("r{i}");
        std::fs::write(
            env.repo.join(format!("appliances/{name}.yaml")),
            http_appliance(&env, &name, l, &format!("10.{}.{}.0/24", i / 250, i % 250)),
        )
        .expect("write");
    }
    let commit = env.commit();
    let started = Instant::now();
    let daemon = env.daemon("concurrency = 32\n[intervals]\ndrift_check = \"10s\"\n");
    let pid = daemon.0.id();
    // /healthz while the first applies run, until everything converged.
    let mut samples = Vec::new();
    let health = format!("http://127.0.0.1:{}/healthz", env.port);
    let deadline = Instant::now() + Duration::from_secs(1800);
    let mut last_status = Instant::now();
    loop {
        let t = Instant::now();
        if env
            .client
            .get(&health)
            .send()
            .is_ok_and(|r| r.status().is_success())
        {
            samples.push(t.elapsed());
        }
        if last_status.elapsed() > Duration::from_secs(1) {
            last_status = Instant::now();
            if env
                .get("/v1/status")
                .is_some_and(|s| s["converged"] == true && s["commit"] == commit.as_str())
            {
                break;
            }
        }
        assert!(Instant::now() < deadline, "the fleet did not converge");
        std::thread::sleep(Duration::from_millis(5));
    }
    let converged = started.elapsed();
    samples.sort();
    println!(
        "fleet {n}: converged in {:.1} s; /healthz during the first applies: {} samples, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        converged.as_secs_f64(),
        samples.len(),
        percentile(&samples, 0.5).as_secs_f64() * 1000.0,
        percentile(&samples, 0.99).as_secs_f64() * 1000.0,
        samples.last().copied().unwrap_or_default().as_secs_f64() * 1000.0,
    );
    // Idle: let the last drift sweep and its connections settle, then one full interval.
    std::thread::sleep(Duration::from_secs(12));
    let cpu0 = cpu_seconds(pid);
    let rss0 = rss_kib(pid);
    std::thread::sleep(Duration::from_secs(10));
    let cpu1 = cpu_seconds(pid);
    let rss1 = rss_kib(pid);
    println!(
        "fleet {n}: idle daemon RSS {:.1} MB (then {:.1} MB); CPU over one 10 s drift interval (one no-op sweep over all {n} + idle): {:.2} s; lab RSS {:.1} MB",
        rss0 as f64 / 1024.0,
        rss1 as f64 / 1024.0,
        cpu1 - cpu0,
        rss_kib(lab.0.id()) as f64 / 1024.0,
    );
}

/// `vnfsync apply --yes` over `n` lab appliances with `latency_ms` of emulated latency on every
/// device command, `concurrency` at a time (issue 13's fleet figure): wall time and rate, then
/// a second apply with nothing to do.
fn apply_fleet(n: usize, latency_ms: u64, concurrency: usize, transport: &str) {
    let (_lab, labs) = lab(n);
    let env = Env::new();
    let client = reqwest::blocking::Client::new();
    for (i, l) in labs.iter().enumerate() {
        let control = l["control"].as_str().expect("control");
        let r = client
            .post(format!("{control}/faults"))
            .body(format!("{{\"latency_ms\": {latency_ms}}}"))
            .header("content-type", "application/json")
            .send()
            .expect("faults");
        assert!(r.status().is_success(), "faults: {}", r.status());
        let name = format!("r{i}");
        let route = format!("10.{}.{}.0/24", i / 250, i % 250);
        let file = if transport == "ssh" {
            ssh_appliance(&env, &name, l, &route).replace("owns:", "adopt: auto\nowns:")
        } else {
            http_appliance(&env, &name, l, &route)
        };
        std::fs::write(env.repo.join(format!("appliances/{name}.yaml")), file).expect("write");
    }
    env.commit();
    let config = env.dir.path().join("vnfsync.toml");
    std::fs::write(
        &config,
        format!(
            "repo = {:?}\npath = \".\"\nstate_dir = {:?}\nconcurrency = {concurrency}\n",
            env.repo.display().to_string(),
            env.dir.path().join("state").display().to_string(),
        ),
    )
    .expect("config");
    let run = || {
        let t = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_vnfsync"))
            .args(["apply", "--yes", "--format", "json", "--config"])
            .arg(&config)
            .env("VNFSYNC_LOG", "warn")
            .output()
            .expect("vnfsync apply");
        let took = t.elapsed();
        let v: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
        let mut counts = std::collections::BTreeMap::<String, usize>::new();
        for r in v.as_array().expect("rows") {
            *counts
                .entry(r["result"].as_str().unwrap_or("?").to_string())
                .or_default() += 1;
        }
        (took, counts)
    };
    let (first, counts) = run();
    println!(
        "apply fleet {n} ({transport}, {latency_ms} ms latency, concurrency {concurrency}): {:.2} s wall, {:.1} appliances/s; results {counts:?}",
        first.as_secs_f64(),
        n as f64 / first.as_secs_f64()
    );
    let (again, counts) = run();
    println!(
        "apply fleet {n} again (nothing to do): {:.2} s wall, {:.1} appliances/s; results {counts:?}",
        again.as_secs_f64(),
        n as f64 / again.as_secs_f64()
    );
}

fn main() {
    if let Some(n) = std::env::var("VNFSYNC_BENCH_APPLY")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        let transport = std::env::var("VNFSYNC_BENCH_TRANSPORT").unwrap_or_else(|_| "http".into());
        apply_fleet(n, 20, 20, &transport);
        return;
    }
    match std::env::var("VNFSYNC_BENCH_FLEET")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        Some(n) => fleet(n),
        None => {
            let mut c = Criterion::default().configure_from_args();
            commit_to_converged(&mut c);
            c.final_summary();
        }
    }
}
