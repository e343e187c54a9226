//! Health probes as the desired state declares them (`login`, `tcp`, `http_get`, `command` +
//! regex), each over a **new** connection with its own timeout, so a change that refuses new
//! connections (a management lockout) fails the probe even while an old session lives on.
//!
//! Owns: running the declared probes and the report naming each one, its result, latency and
//! output. Must not decide what a failure means (the engine does) or print credentials.

use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use super::secret::Env;
use super::vyos::Timeouts;
use super::{AnyDriver, Driver};
use crate::model::{Appliance, HealthProbe};

/// The longest output kept per probe in a report.
const OUTPUT_LIMIT: usize = 2048;

/// One probe's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProbeOutcome {
    /// `login`, `tcp host:port`, `http_get URL`, `command RUN`.
    pub name: String,
    pub ok: bool,
    #[serde(serialize_with = "millis")]
    pub latency: Duration,
    /// What the probe saw (the error, the status, the command's output), trimmed.
    pub output: String,
}

fn millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Every declared probe's result, in declaration order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HealthReport {
    pub probes: Vec<ProbeOutcome>,
}

impl HealthReport {
    pub fn passed(&self) -> bool {
        self.probes.iter().all(|p| p.ok)
    }
    /// The first failing probe.
    pub fn first_failure(&self) -> Option<&ProbeOutcome> {
        self.probes.iter().find(|p| !p.ok)
    }
}

/// A probe's display name.
pub fn probe_name(appliance: &Appliance, probe: &HealthProbe) -> String {
    match probe {
        HealthProbe::Login { .. } => "login".into(),
        HealthProbe::Tcp { port, host, .. } => format!(
            "tcp {}:{}",
            host.as_ref()
                .map_or_else(|| appliance.endpoint.host.to_string(), ToString::to_string),
            port.0
        ),
        HealthProbe::HttpGet { url, .. } => format!("http_get {url}"),
        HealthProbe::Command { run, .. } => format!("command {run}"),
    }
}

fn clip(s: &str) -> String {
    let s = s.trim();
    if s.len() <= OUTPUT_LIMIT {
        return s.to_string();
    }
    let mut end = OUTPUT_LIMIT;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// A probe's own driver, or why it could not be made.
type Prepared = Result<AnyDriver, String>;

/// Run every probe of `probes` in order, each over a new connection and within its own
/// `timeout` (the probe's, or `timeout` when it declares none). A probe that cannot even be set up (bad credentials reference) fails with the
/// reason; the others still run.
pub fn run_probes<'a>(
    appliance: &'a Appliance,
    probes: &'a [HealthProbe],
    env: &dyn Env,
    timeouts: Timeouts,
    timeout: Duration,
) -> impl std::future::Future<Output = HealthReport> + Send + 'a {
    // Drivers (and their credentials) are made before the first await: `env` is not held
    // across one, so the future stays `Send`.
    let prepared: Vec<(String, &HealthProbe, Option<Prepared>)> = probes
        .iter()
        .map(|p| {
            let needs_driver = matches!(p, HealthProbe::Login { .. } | HealthProbe::Command { .. });
            let d = needs_driver
                .then(|| AnyDriver::new(appliance, env, timeouts).map_err(|e| e.to_string()));
            (probe_name(appliance, p), p, d)
        })
        .collect();
    async move {
        let mut report = HealthReport::default();
        for (name, probe, driver) in prepared {
            let start = Instant::now();
            let timeout = probe.timeout().unwrap_or(timeout);
            let run = one(appliance, probe, driver);
            let (ok, output) = match tokio::time::timeout(timeout, run).await {
                Ok(r) => r,
                Err(_) => (false, format!("timed out after {timeout:?}")),
            };
            report.probes.push(ProbeOutcome {
                name,
                ok,
                latency: start.elapsed(),
                output: clip(&output),
            });
        }
        report
    }
}

async fn one(
    appliance: &Appliance,
    probe: &HealthProbe,
    driver: Option<Result<AnyDriver, String>>,
) -> (bool, String) {
    match (probe, driver) {
        (_, Some(Err(e))) => (false, e),
        (HealthProbe::Login { .. }, Some(Ok(mut d))) => match d.probe().await {
            Ok(r) => (r.reachable, "logged in".into()),
            Err(e) => (false, e.to_string()),
        },
        (HealthProbe::Command { run, expect, .. }, Some(Ok(mut d))) => {
            let re = match regex::Regex::new(expect) {
                Ok(re) => re,
                Err(e) => return (false, format!("bad regular expression `{expect}`: {e}")),
            };
            let words: Vec<String> = run
                .as_str()
                .split_whitespace()
                .map(str::to_string)
                .collect();
            match d.op(&words).await {
                Ok(out) if re.is_match(&out) => (true, out),
                Ok(out) => (false, format!("output does not match `{expect}`: {out}")),
                Err(e) => (false, e.to_string()),
            }
        }
        (HealthProbe::Tcp { port, host, .. }, _) => {
            let host = host
                .as_ref()
                .map_or_else(|| appliance.endpoint.host.to_string(), ToString::to_string);
            match tokio::net::TcpStream::connect((host.as_str(), port.0)).await {
                Ok(_) => (true, "connected".into()),
                Err(e) => (false, e.to_string()),
            }
        }
        (
            HealthProbe::HttpGet {
                url, expect_status, ..
            },
            _,
        ) => {
            // A client of its own: no pooled connection from an earlier request can answer.
            let client = match reqwest::Client::builder().pool_max_idle_per_host(0).build() {
                Ok(c) => c,
                Err(e) => return (false, e.to_string()),
            };
            match client.get(url).send().await {
                Ok(r) if r.status().as_u16() == *expect_status => {
                    (true, format!("HTTP {}", r.status().as_u16()))
                }
                Ok(r) => (
                    false,
                    format!("HTTP {} (expected {expect_status})", r.status().as_u16()),
                ),
                Err(e) => (false, e.to_string()),
            }
        }
        (HealthProbe::Login { .. } | HealthProbe::Command { .. }, None) => {
            (false, "no driver for this probe".into())
        }
    }
}
