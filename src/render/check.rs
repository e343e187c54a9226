//! The checks that need the model and the dictionary together: the appliance's dictionary
//! exists and speaks its transport; its owned scopes are paths the dictionary knows (with a
//! "did you mean" from the vendor's other versions), do not overlap with different drift
//! policies, and do not take a whole management-critical root unless the appliance says
//! `allow_broad_ownership: true`; and every resource renders inside the scopes.
//!
//! Owns nothing but the wording of those refusals; the data comes from the dictionary.

use super::{Loaded, check_renders};
use crate::dictionary::Dictionary;
use crate::model::decode::{Decoder, Diagnostic, Located, did_you_mean};
use crate::model::{Appliance, OwnedScope};

fn push(diags: &mut Vec<Diagnostic>, at: &Located, message: String) {
    let mut d = Decoder::new(&at.file);
    d.error_in(at, message);
    diags.extend(d.into_diagnostics());
}

/// Every problem of every appliance that needs its dictionary to be seen.
pub fn check(loaded: &Loaded) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    for a in &loaded.state.appliances {
        let before = diags.len();
        let Some(dict) = loaded.dictionaries.get(a.dictionary.as_str()) else {
            let mut msg = format!(
                "dictionary `{}` does not exist (neither in dictionaries/ nor shipped)",
                a.dictionary
            );
            if let Some(s) = did_you_mean(
                a.dictionary.as_str(),
                loaded.dictionaries.keys().map(String::as_str),
            ) {
                msg.push_str(&format!("; did you mean `{s}`?"));
            }
            push(&mut diags, &a.dictionary_at, msg);
            continue;
        };
        if !dict.transports.contains(&a.endpoint.transport) {
            let known: Vec<&str> = dict.transports.iter().map(|t| t.as_str()).collect();
            push(
                &mut diags,
                &a.transport_at,
                format!(
                    "dictionary `{}` does not support transport {} (it supports: {})",
                    dict.name,
                    a.endpoint.transport.as_str(),
                    known.join(", ")
                ),
            );
        }
        check_confirm_window(a, dict, &mut diags);
        check_scopes(a, dict, loaded, &mut diags);
        if diags.len() > before {
            continue;
        }
        if let Err(errors) = check_renders(&loaded.state, a, dict, &loaded.fragments) {
            diags.extend(errors.into_iter().map(|e| e.into_diagnostic(a)));
        }
    }
    diags
}

fn check_scopes(a: &Appliance, dict: &Dictionary, loaded: &Loaded, diags: &mut Vec<Diagnostic>) {
    for scope in &a.owns {
        let words = scope.path.words();
        if !dict.knows(words) {
            let mut msg = format!(
                "owned scope `{}` is not a path dictionary `{}` knows",
                scope.path, dict.name
            );
            let hint = loaded
                .dictionaries
                .values()
                .filter(|o| o.name != dict.name && o.vendor == dict.vendor)
                .find_map(|o| dict.translate(o, words).map(|w| (o, w)));
            if let Some((other, w)) = hint {
                msg.push_str(&format!(
                    "; did you mean `{}`? (`{}` is how {} says it)",
                    w.join(" "),
                    scope.path,
                    other.name
                ));
            }
            push(diags, &scope.at, msg);
            continue;
        }
        if a.allow_broad_ownership {
            continue;
        }
        let critical = dict.critical.iter().find(|c| c.words().starts_with(words));
        if let Some(c) = critical {
            let what = if c.words() == words {
                format!("`{c}`")
            } else {
                format!("`{}`, which holds `{c}`,", scope.path)
            };
            push(
                diags,
                &scope.at,
                format!(
                    "owning {what} would prune everything configured there and can lock operators out; own narrower paths, or set `allow_broad_ownership: true` if this is meant"
                ),
            );
            continue;
        }
        if let Some(m) = dict.management.get(a.endpoint.transport.as_str())
            && (m.words().starts_with(words) || words.starts_with(m.words()))
        {
            push(
                diags,
                &scope.at,
                format!(
                    "owned scope `{}` touches `{m}`, the service vnfsync reaches appliance `{}` through ({}); pruning there can cut vnfsync off; set `allow_broad_ownership: true` if this is meant",
                    scope.path,
                    a.name,
                    a.endpoint.transport.as_str()
                ),
            );
        }
    }
    overlaps(&a.owns, diags);
}

/// Nested scopes must agree on the drift policy: the inner one would otherwise say two things.
fn overlaps(owns: &[OwnedScope], diags: &mut Vec<Diagnostic>) {
    for (i, x) in owns.iter().enumerate() {
        for y in &owns[i + 1..] {
            let (xw, yw) = (x.path.words(), y.path.words());
            if (xw.starts_with(yw) || yw.starts_with(xw)) && x.drift != y.drift {
                let (outer, inner) = if xw.len() <= yw.len() { (x, y) } else { (y, x) };
                push(
                    diags,
                    &y.at,
                    format!(
                        "owned scopes `{}` (drift {}) and `{}` (drift {}) overlap with different drift policies; give them the same policy or do not nest them",
                        outer.path,
                        drift_name(outer.drift),
                        inner.path,
                        drift_name(inner.drift)
                    ),
                );
            }
        }
    }
}

fn drift_name(d: crate::model::DriftPolicy) -> &'static str {
    match d {
        crate::model::DriftPolicy::Alert => "alert",
        crate::model::DriftPolicy::Overwrite => "overwrite",
    }
}

/// The confirm window must be one the vendor can express: VyOS counts whole minutes
/// (`commit-confirm <minutes>`), so `90s` would silently become something else.
fn check_confirm_window(a: &Appliance, dict: &Dictionary, diags: &mut Vec<Diagnostic>) {
    const MINUTE: u128 = 60_000;
    let window = a.commit.confirm_window;
    let ms = window.0.as_millis();
    if dict.vendor.as_str() != "vyos" || ms.is_multiple_of(MINUTE) {
        return;
    }
    let below = ms / MINUTE;
    let near: Vec<String> = [below, below + 1]
        .into_iter()
        .filter(|m| (1..=60).contains(m))
        .map(|m| format!("{m}m"))
        .collect();
    push(
        diags,
        &a.confirm_window_at,
        format!(
            "appliance `{}`: confirm_window {window} cannot be expressed by {} (VyOS counts the confirm window in whole minutes); use {}",
            a.name,
            dict.name,
            near.join(" or ")
        ),
    );
}
