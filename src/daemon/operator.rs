//! An operator's actions on one appliance, the same whether `vnfsync` runs them on the journal
//! itself or the daemon runs them for its API: `probe` and `rollback`.
//!
//! Owns: what each action does, in engine and driver calls, and the JSON it answers. Must not
//! decide who may act (the API does) or hold the appliance's writer slot (the caller does:
//! the CLI is the only writer while it holds the journal; the daemon takes its writer lock).

use serde_json::{Value, json};

use crate::api::RollbackTo;
use crate::driver::{AnyDriver, Driver};
use crate::engine::{self, Action, Context, EngineError};
use crate::model::Appliance;
use crate::render::Loaded;

/// Reachability (a read-only call on a fresh connection), its latency, every declared health
/// probe, and the last contact (recorded in the journal when the device answered). Answers
/// `{appliance, reachable, latency_ms, last_contact, error, probes}`.
pub async fn probe(a: &Appliance, ctx: &Context) -> Value {
    let reach = match AnyDriver::new(a, ctx.env.as_ref(), ctx.timeouts) {
        Ok(mut d) => d.probe().await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    let report = crate::driver::probe::run_probes(
        a,
        &a.health,
        ctx.env.as_ref(),
        ctx.timeouts,
        ctx.policy
            .probe_timeout
            .max(std::time::Duration::from_millis(1)),
    )
    .await;
    let latency_ms = reach
        .as_ref()
        .ok()
        .map(|r| r.latency.as_secs_f64() * 1000.0);
    if let Some(latency) = latency_ms {
        let recorded = ctx
            .journal
            .update_status(a.name.to_string(), move |st| {
                st.last_contact = Some(jiff::Timestamp::now());
                st.reachable = true;
                st.latency_ms = Some(latency);
            })
            .await;
        if let Err(e) = recorded {
            tracing::warn!(appliance = %a.name, error = %e, "recording the contact");
        }
    }
    let last_contact = ctx
        .journal
        .status(a.name.to_string())
        .await
        .ok()
        .flatten()
        .and_then(|s| s.last_contact)
        .map(|t| t.to_string());
    json!({
        "appliance": a.name.to_string(),
        "reachable": reach.is_ok(),
        "latency_ms": latency_ms,
        "last_contact": last_contact,
        "error": reach.as_ref().err(),
        "probes": report.probes,
    })
}

/// Whether a probe answer (from [`probe`]) is a pass: reachable and every probe ok.
pub fn probe_passed(v: &Value) -> bool {
    v["reachable"] == true
        && v["probes"]
            .as_array()
            .is_none_or(|ps| ps.iter().all(|p| p["ok"] == true))
}

/// Return `served` (the appliance as the current desired state has it) to a snapshot, or
/// reconcile it to `older` (the appliance in an earlier commit, for [`RollbackTo::Commit`]):
/// parking and the breaker cleared first, then journaled like any write by the engine.
pub async fn rollback(
    served: &Appliance,
    older: Option<&Loaded>,
    to: &RollbackTo,
    ctx: &Context,
) -> Result<Action, EngineError> {
    let name = served.name.as_str();
    engine::resume(name, ctx).await?;
    if let RollbackTo::Commit(_) = to {
        let Some(loaded) = older else {
            return Ok(Action::Failed {
                op: None,
                reason: "the commit to return to was not loaded".into(),
                parked: false,
            });
        };
        let Some(a) = loaded.state.appliance(name) else {
            return Ok(Action::Failed {
                op: None,
                reason: format!("appliance `{name}` is not in that commit"),
                parked: false,
            });
        };
        return engine::reconcile(loaded, a, ctx).await;
    }
    let id = match to {
        RollbackTo::Snapshot(id) => Some(id.clone()),
        _ => ctx
            .journal
            .status(name.to_string())
            .await?
            .and_then(|s| s.last_good_snapshot),
    };
    match id {
        Some(id) => engine::restore_snapshot(served, &id, ctx).await,
        None => Ok(Action::Failed {
            op: None,
            reason: "no last good snapshot: name one (`vnfsync snapshots` lists them)".into(),
            parked: false,
        }),
    }
}

/// The outcome's name in the API and the CLI.
pub fn outcome_name(a: &Action) -> &'static str {
    match a {
        Action::InSync { .. } => "in_sync",
        Action::AlreadyDone { .. } => "already_done",
        Action::Completed { .. } => "completed",
        Action::RolledBack { .. } => "rolled_back",
        Action::Failed { .. } => "failed",
        Action::Parked { .. } => "parked",
        Action::Requeue { .. } => "requeue",
    }
}

/// What a rollback did, as the API answers it: `{appliance, to, result, op, detail}`.
pub fn rollback_answer(name: &str, to: &RollbackTo, action: &Action) -> Value {
    let detail = match action {
        Action::RolledBack { cause, .. } => Some(cause.clone()),
        Action::Failed { reason, .. }
        | Action::Parked { reason }
        | Action::Requeue { reason, .. } => Some(reason.clone()),
        _ => None,
    };
    json!({
        "appliance": name,
        "to": to,
        "result": outcome_name(action),
        "op": action.op().map(|o| o.to_string()),
        "detail": detail,
    })
}
