//! The daemon's metrics, in OpenMetrics text.
//!
//! Owns: every metric family and its labels, and their encoding; the only user of
//! prometheus-client. Callers bump metrics through the methods here, at the same place they
//! log the event. Must not hold per-request state or anything secret in a label.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ApplianceOutcome {
    appliance: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ApplianceLabel {
    appliance: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ApplianceCommit {
    appliance: String,
    commit: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VendorOperation {
    vendor: String,
    operation: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Cause {
    cause: String,
}

type Seconds = Family<VendorOperation, Histogram, fn() -> Histogram>;

fn latency() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

/// Every metric the daemon exports.
pub struct Metrics {
    registry: Registry,
    reconciles: Family<ApplianceOutcome, Counter>,
    device_calls: Seconds,
    drift: Family<ApplianceLabel, Gauge>,
    pending_confirms: Family<ApplianceLabel, Gauge>,
    rollbacks: Family<Cause, Counter>,
    applied_commit: Family<ApplianceCommit, Gauge>,
    applied_time: Family<ApplianceLabel, Gauge<f64, AtomicU64>>,
    breaker_open: Family<ApplianceLabel, Gauge>,
    rejected_commits: Counter,
    journal: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("vnfsync");
        let m = Metrics {
            reconciles: Family::default(),
            device_calls: Family::new_with_constructor(latency),
            drift: Family::default(),
            pending_confirms: Family::default(),
            rollbacks: Family::default(),
            applied_commit: Family::default(),
            applied_time: Family::default(),
            breaker_open: Family::default(),
            rejected_commits: Counter::default(),
            journal: latency(),
            registry: Registry::default(),
        };
        registry.register(
            "reconciles",
            "Reconciles finished, per appliance and outcome",
            m.reconciles.clone(),
        );
        registry.register(
            "device_call_seconds",
            "Device call latency per vendor and operation",
            m.device_calls.clone(),
        );
        registry.register(
            "drift",
            "1 when the appliance's owned config differs from the desired state",
            m.drift.clone(),
        );
        registry.register(
            "pending_confirms",
            "Commits applied and waiting for confirmation",
            m.pending_confirms.clone(),
        );
        registry.register("rollbacks", "Rollbacks by cause", m.rollbacks.clone());
        registry.register(
            "applied_commit",
            "1 for the commit last applied to an appliance",
            m.applied_commit.clone(),
        );
        registry.register(
            "applied_timestamp_seconds",
            "When the last commit was applied to an appliance (Unix time)",
            m.applied_time.clone(),
        );
        registry.register(
            "breaker_open",
            "1 while an appliance is parked or backing off after errors",
            m.breaker_open.clone(),
        );
        registry.register(
            "rejected_commits",
            "Commits refused by validation",
            m.rejected_commits.clone(),
        );
        registry.register(
            "journal_seconds",
            "Journal durable-commit latency",
            m.journal.clone(),
        );
        Metrics { registry, ..m }
    }

    pub fn reconciled(&self, appliance: &str, outcome: &str) {
        self.reconciles
            .get_or_create(&ApplianceOutcome {
                appliance: appliance.into(),
                outcome: outcome.into(),
            })
            .inc();
    }

    pub fn device_call(&self, vendor: &str, operation: &str, seconds: f64) {
        self.device_calls
            .get_or_create(&VendorOperation {
                vendor: vendor.into(),
                operation: operation.into(),
            })
            .observe(seconds);
    }

    pub fn set_drift(&self, appliance: &str, drifted: bool) {
        self.drift
            .get_or_create(&ApplianceLabel {
                appliance: appliance.into(),
            })
            .set(i64::from(drifted));
    }

    pub fn set_pending_confirm(&self, appliance: &str, pending: bool) {
        self.pending_confirms
            .get_or_create(&ApplianceLabel {
                appliance: appliance.into(),
            })
            .set(i64::from(pending));
    }

    pub fn rolled_back(&self, cause: &str) {
        self.rollbacks
            .get_or_create(&Cause {
                cause: cause.into(),
            })
            .inc();
    }

    /// Record that `commit` is now applied to `appliance` at `unix_seconds`.
    pub fn applied(
        &self,
        appliance: &str,
        previous: Option<&str>,
        commit: &str,
        unix_seconds: f64,
    ) {
        if let Some(p) = previous {
            self.applied_commit.remove(&ApplianceCommit {
                appliance: appliance.into(),
                commit: p.into(),
            });
        }
        self.applied_commit
            .get_or_create(&ApplianceCommit {
                appliance: appliance.into(),
                commit: commit.into(),
            })
            .set(1);
        self.applied_time
            .get_or_create(&ApplianceLabel {
                appliance: appliance.into(),
            })
            .set(unix_seconds);
    }

    pub fn set_breaker(&self, appliance: &str, open: bool) {
        self.breaker_open
            .get_or_create(&ApplianceLabel {
                appliance: appliance.into(),
            })
            .set(i64::from(open));
    }

    pub fn commit_rejected(&self) {
        self.rejected_commits.inc();
    }

    pub fn journal_write(&self, seconds: f64) {
        self.journal.observe(seconds);
    }

    /// The OpenMetrics text (ends with `# EOF`).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail; an error here would be a broken invariant of
        // prometheus-client, reported as an empty exposition rather than a panic.
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
            out.push_str("# EOF\n");
        }
        out
    }
}

impl crate::driver::observe::CallObserver for Metrics {
    fn device_call(
        &self,
        vendor: &'static str,
        operation: &'static str,
        took: std::time::Duration,
        _ok: bool,
    ) {
        Metrics::device_call(self, vendor, operation, took.as_secs_f64());
    }
}

/// The content type of [`Metrics::encode`].
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// The content type of [`classic`].
pub const CLASSIC_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The same exposition in Prometheus' classic text format (0.0.4), for scrapers that do not
/// ask for OpenMetrics (and `promtool check metrics`): a counter family is named with its
/// `_total` suffix in `# HELP`/`# TYPE`, and there is no `# EOF`.
pub fn classic(openmetrics: &str) -> String {
    let counters: std::collections::BTreeSet<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" {
            continue;
        }
        let mut done = false;
        for prefix in ["# HELP ", "# TYPE "] {
            if let Some(rest) = line.strip_prefix(prefix) {
                let name = rest.split(' ').next().unwrap_or_default();
                if counters.contains(name) {
                    out.push_str(prefix);
                    out.push_str(name);
                    out.push_str("_total");
                    out.push_str(&rest[name.len()..]);
                    done = true;
                }
            }
        }
        if !done {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_every_family() {
        let m = Metrics::new();
        m.reconciled("edge-1", "completed");
        m.device_call("vyos", "fetch", 0.02);
        m.set_drift("edge-1", true);
        m.applied("edge-1", None, "abc", 1.7e9);
        m.applied("edge-1", Some("abc"), "def", 1.7e9 + 1.0);
        m.commit_rejected();
        let text = m.encode();
        assert!(
            text.contains("vnfsync_reconciles_total{appliance=\"edge-1\",outcome=\"completed\"} 1"),
            "{text}"
        );
        assert!(text.contains("vnfsync_applied_commit{appliance=\"edge-1\",commit=\"def\"} 1"));
        assert!(!text.contains("commit=\"abc\""));
        assert!(text.contains("vnfsync_rejected_commits_total 1"));
        assert!(text.ends_with("# EOF\n"));
        let c = classic(&text);
        assert!(
            c.contains("# TYPE vnfsync_reconciles_total counter\n"),
            "{c}"
        );
        assert!(c.contains("# HELP vnfsync_rejected_commits_total Commits"));
        assert!(!c.contains("# EOF"));
    }
}
