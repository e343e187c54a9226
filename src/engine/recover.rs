//! Crash recovery: every operation not in a final state is finished by looking at the device
//! (ARCHITECTURE.md has the case table), never by sending a side-effecting `confirm` to find out.

use std::time::Duration;

use jiff::Timestamp;

use super::{
    Action, Context, EngineError, failpoint, gate, note_failure, now_plus, parked_for,
    verify_rolled_back,
};
use crate::driver::{
    AnyDriver, CommitPlan, ConfirmFallback, Driver, DriverError, Reverter, Snapshot,
    vyos::SNAPSHOT_DIR,
};
use crate::journal::{Change, ErrorRecord, OpState, Operation};
use crate::model::{Appliance, SavePolicy};
use crate::render::{Intended, tree_hash};
use crate::vyos::{ConfigTree, Path};

/// What recovery did with one operation.
#[derive(Debug, Clone, PartialEq)]
pub struct Recovered {
    pub op: crate::journal::OpId,
    pub appliance: String,
    pub action: Action,
}

/// Where the device stands relative to an operation.
enum Seen {
    Base,
    Target,
    Neither,
    Unreachable(String),
}

fn scopes_of(appliance: &Appliance) -> Vec<Path> {
    appliance
        .owns
        .iter()
        .map(|s| Path(s.path.words().to_vec()))
        .collect()
}

fn seen(tree: &ConfigTree, scopes: &[Path], base: &str, target: &str) -> Seen {
    let h = tree_hash(tree, scopes);
    if h == target {
        Seen::Target
    } else if h == base {
        Seen::Base
    } else {
        Seen::Neither
    }
}

/// Fetch until the device answers or `wait` runs out; the flag says whether it answered at
/// the first attempt (a device that was away and comes back on the base reverted by itself).
async fn look_first(
    driver: &mut AnyDriver,
    scopes: &[Path],
    base: &str,
    target: &str,
    wait: Duration,
) -> (Seen, bool) {
    let until = tokio::time::Instant::now() + wait;
    let mut first = true;
    loop {
        match driver.fetch().await {
            Ok(t) => return (seen(&t, scopes, base, target), first),
            Err(e) if tokio::time::Instant::now() >= until => {
                return (Seen::Unreachable(e.to_string()), false);
            }
            Err(_) => {
                first = false;
                tokio::time::sleep(Duration::from_millis(500)).await
            }
        }
    }
}

/// Fetch until the device answers or `wait` runs out.
async fn look(
    driver: &mut AnyDriver,
    scopes: &[Path],
    base: &str,
    target: &str,
    wait: Duration,
) -> Seen {
    let until = tokio::time::Instant::now() + wait;
    loop {
        match driver.fetch().await {
            Ok(t) => return seen(&t, scopes, base, target),
            Err(e) if tokio::time::Instant::now() >= until => {
                return Seen::Unreachable(e.to_string());
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

/// The commit mode as the intent recorded it.
fn mode_of(op: &Operation, appliance: &Appliance) -> CommitPlan {
    let m = op.commit_mode.as_ref();
    let reverter = match super::reverter_of(m) {
        "device_reboot" => Reverter::Device {
            fallback: ConfirmFallback::RebootToSaved,
        },
        "device_reload" => Reverter::Device {
            fallback: ConfirmFallback::Reload,
        },
        "daemon" => Reverter::Daemon,
        _ => Reverter::None,
    };
    CommitPlan {
        reverter,
        window: m
            .filter(|m| m.window_secs > 0)
            .map(|m| Duration::from_secs(m.window_secs)),
        save_first: m.is_some_and(|m| m.save_first),
        save_after_confirm: appliance.commit.save == SavePolicy::AfterConfirm,
        comment_on_device: true,
    }
}

/// The snapshot an operation took, from the local store (the device path by convention).
async fn snapshot_of(op: &Operation, ctx: &Context) -> Option<Snapshot> {
    let id = op.snapshot_id.clone()?;
    let entries = ctx.journal.snapshots(op.appliance.clone()).await.ok()?;
    let entry = entries.into_iter().find(|e| e.id == id)?;
    let boot = ctx
        .store
        .load(std::path::Path::new(&entry.location))
        .unwrap_or_default();
    Some(Snapshot {
        device_path: format!("{SNAPSHOT_DIR}/{id}.boot"),
        id,
        boot,
    })
}

async fn fail(
    ctx: &Context,
    op: &Operation,
    reason: &str,
    park: bool,
) -> Result<Action, EngineError> {
    let state = ctx.journal.get(op.id).await?.map_or(op.state, |o| o.state);
    if !state.is_final() {
        ctx.journal
            .change(
                op.id,
                Change::to(OpState::Failed)
                    .step(format!("recovery: {reason}"))
                    .error(ErrorRecord::new("VNF_RECOVERED", !park, reason.to_owned())),
            )
            .await?;
    }
    if park {
        note_failure(
            ctx,
            &op.appliance,
            ErrorRecord::new("VNF_RECOVERED", false, reason.to_owned()),
            Some(parked_for(&op.commit, reason)),
        )
        .await?;
    }
    Ok(Action::Failed {
        op: Some(op.id),
        reason: reason.to_owned(),
        parked: park,
    })
}

/// Finish every open operation of the appliances in `fleet` (at start).
pub async fn recover_all(
    fleet: &[Appliance],
    ctx: &Context,
) -> Result<Vec<Recovered>, EngineError> {
    let mut out = Vec::new();
    for op in ctx.journal.in_flight().await? {
        let Some(a) = fleet.iter().find(|a| a.name.as_str() == op.appliance) else {
            continue;
        };
        let action = recover(&op, a, ctx).await?;
        out.push(Recovered {
            op: op.id,
            appliance: op.appliance.clone(),
            action,
        });
    }
    Ok(out)
}

/// Finish one open operation by looking at the device (the case table in ARCHITECTURE.md).
pub async fn recover(
    op: &Operation,
    appliance: &Appliance,
    ctx: &Context,
) -> Result<Action, EngineError> {
    if op.state == OpState::Pending {
        // The intent was recorded; the snapshot (the first device call) was not: no write.
        return fail(ctx, op, "not applied: stopped before any write", false).await;
    }
    let mut driver = AnyDriver::new(appliance, ctx.env.as_ref(), ctx.timeouts)?;
    let scopes = scopes_of(appliance);
    let mode = mode_of(op, appliance);
    let deadline = op.confirm_deadline;
    let wait = match deadline {
        Some(d) => {
            let left = d.duration_since(Timestamp::now());
            Duration::try_from(left).unwrap_or_default() + ctx.policy.revert_grace
        }
        None => mode.window.unwrap_or_default() + ctx.policy.revert_grace,
    };
    let found = look(&mut driver, &scopes, &op.base_hash, &op.target_hash, wait).await;
    failpoint("recover.after_fetch");
    let passed = deadline.is_some_and(|d| Timestamp::now() >= d);
    let snap = snapshot_of(op, ctx).await;
    match (op.state, found) {
        (_, Seen::Unreachable(e)) => {
            fail(
                ctx,
                op,
                &format!("device state unknown: unreachable: {e}"),
                true,
            )
            .await
        }
        (_, Seen::Neither) => fail(ctx, op, "changed by someone else", true).await,
        (OpState::InProgress, Seen::Base) => {
            fail(ctx, op, "not applied: the device holds the base", false).await
        }
        (OpState::AwaitingConfirm, Seen::Base) => {
            let cause = if passed {
                "the confirm window ran out while the daemon was down; the device reverted"
            } else {
                "the device is back on the base before the confirm"
            };
            if !passed && matches!(mode.reverter, Reverter::Device { .. }) {
                // Back on the base inside the window (a restore that finished just before a
                // crash): the timer we armed may still run and would reboot the box for
                // nothing. Confirming the base stops it; the device's answer changes nothing.
                let answer = driver.confirm().await;
                ctx.journal
                    .change(
                        op.id,
                        Change::note(format!(
                            "recovery: on the base inside the window; confirm to stop the timer: {}",
                            match answer {
                                Ok(o) => format!("{o:?}"),
                                Err(e) => e.to_string(),
                            }
                        )),
                    )
                    .await?;
            }
            verify_rolled_back(
                ctx,
                &mut driver,
                op.id,
                &op.base_hash,
                &scopes,
                cause,
                &op.commit,
            )
            .await
        }
        (state, Seen::Target) => {
            if state == OpState::InProgress {
                let mut c = Change::to(OpState::AwaitingConfirm).step("recovery: target in place");
                if let Some(w) = mode.window {
                    c = c.confirm_deadline(now_plus(w));
                }
                ctx.journal.change(op.id, c).await?;
            }
            // Past a device deadline and still on the target: the confirm was already sent
            // (the device would have reverted otherwise); probe, but send no confirm.
            let mode = if passed {
                CommitPlan {
                    reverter: Reverter::None,
                    ..mode
                }
            } else {
                mode
            };
            let Some(snap) = snap else {
                return fail(
                    ctx,
                    op,
                    "device state unknown: the snapshot is missing",
                    true,
                )
                .await;
            };
            gate(
                appliance,
                ctx,
                &mut driver,
                op.id,
                &op.commit,
                &op.base_hash,
                &scopes,
                mode,
                &snap,
            )
            .await
        }
        (_, Seen::Base) => fail(ctx, op, "not applied", false).await,
    }
}

/// A write whose answer was lost: read the device to learn what happened.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn settle_unknown(
    intended: &Intended,
    appliance: &Appliance,
    ctx: &Context,
    driver: &mut AnyDriver,
    op: Operation,
    snap: Snapshot,
    mode: CommitPlan,
    err: DriverError,
) -> Result<Action, EngineError> {
    let scopes = intended.scope_paths();
    ctx.journal
        .change(
            op.id,
            Change::note(format!("outcome unknown, reading the device: {err}")),
        )
        .await?;
    let wait = mode.window.unwrap_or_default() + ctx.policy.revert_grace;
    let (found, at_once) = look_first(driver, &scopes, &op.base_hash, &op.target_hash, wait).await;
    match found {
        Seen::Base if !at_once && matches!(mode.reverter, Reverter::Device { .. }) => {
            // The device went away after the write and came back on the base: the change
            // landed, cut our management path, and the device's own timer reverted it.
            ctx.journal
                .change(
                    op.id,
                    Change::to(OpState::AwaitingConfirm)
                        .step("the device was unreachable after the write and came back"),
                )
                .await?;
            verify_rolled_back(
                ctx,
                driver,
                op.id,
                &op.base_hash,
                &scopes,
                &format!("lost management access: the device reverted by itself ({err})"),
                &op.commit,
            )
            .await
        }
        Seen::Target => {
            let mut c = Change::to(OpState::AwaitingConfirm).step("the write landed");
            if let Some(w) = mode.window {
                c = c.confirm_deadline(now_plus(w));
            }
            ctx.journal.change(op.id, c).await?;
            gate(
                appliance,
                ctx,
                driver,
                op.id,
                &op.commit,
                &op.base_hash,
                &scopes,
                mode,
                &snap,
            )
            .await
        }
        Seen::Base => fail(ctx, &op, "not applied: the device holds the base", false).await,
        Seen::Neither => fail(ctx, &op, "changed by someone else", true).await,
        Seen::Unreachable(e) => {
            fail(
                ctx,
                &op,
                &format!("device state unknown: unreachable: {e}"),
                true,
            )
            .await
        }
    }
}
