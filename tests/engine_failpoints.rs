//! The engine with an action hung on a failpoint (build with `--features failpoints`): plan
//! pinning, seen from the engine. An out-of-band change lands between the plan and the write:
//! the pinned apply refuses with `VNF_CONFLICT` before writing anything, the engine plans
//! again from what is on the device, and the out-of-band change is not clobbered.
#![cfg(feature = "failpoints")]
#![allow(clippy::disallowed_methods)]

use vnfsync::engine::{self, Action};
use vnfsync::journal::{OpState, Query};

#[path = "support/engine_env.rs"]
mod engine_env;
use engine_env::{Lab, PASSING, ROUTES, has_route, rt};

/// A console change on the lab appliance (the control endpoint's `exec`, one commit), run on a
/// thread of its own (the hook runs inside the engine's future).
fn console(control: String, lines: &'static str) {
    std::thread::spawn(move || {
        let script = format!(
            "source /opt/vyatta/etc/functions/script-template\nconfigure\n{lines}\ncommit\nexit\n"
        );
        reqwest::blocking::Client::new()
            .post(format!("{control}/exec"))
            .header("content-type", "application/json")
            .body(serde_json::json!({"command": "vbash -s", "stdin": script}).to_string())
            .send()
            .and_then(|r| r.error_for_status())
            .expect("console change");
    })
    .join()
    .expect("console thread");
}

#[test]
fn an_out_of_band_change_between_plan_and_apply_is_a_conflict_and_is_not_clobbered() {
    for (profile, transport) in [("1.4", "ssh"), ("1.5", "http")] {
        let ctx_name = format!("{profile}/{transport}");
        let lab = Lab::start(profile);
        let owns = "protocols static\n  - system login banner";
        let banner = |text: &str| {
            format!("{ROUTES}raw:\n  - \"set system login banner pre-login '{text}'\"\n")
        };
        let ctx = lab.context();
        let rt = rt();
        let first = lab.loaded_owning(transport, owns, &banner("first"), PASSING);
        let out = rt
            .block_on(engine::reconcile(&first, &first.state.appliances[0], &ctx))
            .expect("first");
        assert!(
            matches!(out, Action::Completed { .. }),
            "{ctx_name}: {out:?}"
        );
        // The next commit changes the banner; while the engine holds its plan (after the
        // snapshot, before the write) someone adds a route in the owned `protocols static`.
        let next = lab.loaded_owning(transport, owns, &banner("second"), PASSING);
        let control = lab.info["control"].as_str().expect("control").to_string();
        engine::failpoint::on("reconcile.after_snapshot", move || {
            console(
                control,
                "set protocols static route 10.77.0.0/16 next-hop 192.0.2.7",
            );
        });
        let out = rt
            .block_on(engine::reconcile(&next, &next.state.appliances[0], &ctx))
            .expect("next");
        let Action::Completed { op } = out else {
            panic!("{ctx_name}: {out:?}")
        };
        let active = lab.get("/active");
        assert!(active.contains("'second'"), "{ctx_name}: {active}");
        assert!(has_route(&active), "{ctx_name}: {active}");
        assert!(
            active.contains("10.77.0.0/16"),
            "{ctx_name}: the out-of-band route is not clobbered: {active}"
        );
        let ops = ctx
            .journal
            .query(Query {
                appliance: Some("lab".into()),
                ..Query::default()
            })
            .wait()
            .expect("ops")
            .ops;
        // Newest first: the re-planned write, the refused one, the first commit.
        assert_eq!(ops.len(), 3, "{ctx_name}: {ops:#?}");
        assert_eq!(ops[0].id, op);
        let refused = &ops[1];
        assert_eq!(refused.state, OpState::Failed, "{ctx_name}");
        assert_eq!(
            refused.error.as_ref().map(|e| e.code.as_str()),
            Some("VNF_CONFLICT"),
            "{ctx_name}: {refused:#?}"
        );
        assert!(
            ops[0]
                .planned
                .iter()
                .all(|c| !c.contains("protocols static")),
            "{ctx_name}: the re-plan leaves the drifted alert scope alone: {:?}",
            ops[0].planned
        );
    }
}
