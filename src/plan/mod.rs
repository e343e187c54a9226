//! Plan: what must change on one appliance ([`plan()`] → [`Plan`]), from its intended config,
//! its running config and, when known, the config last applied.
//!
//! Owns: the one planner that `diff`, the engine and the API share (DESIGN invariant 2). The
//! commands are `vyos::diff` inside the owned scopes (the order of VyOS `compare commands`);
//! missing, extra and mismatched objects are named by the model's keys (rule set, rule id and
//! number, NAT rule number, route prefix, group), or by the dictionary's object patterns for
//! what only the device has; drift, the base and target hashes and the idempotency key
//! (SHA-256 of appliance, normalised commands and base hash: DESIGN invariant 4).
//! Pure: no IO, no clock. Must not render (that is `render`) or talk to devices.

use std::collections::{BTreeMap, HashMap};

use schemars::JsonSchema;
use serde::Serialize;

use crate::model::DriftPolicy;
use crate::render::{Intended, ObjectRef, sha256, tree_hash};
use crate::vyos::{self, Command, ConfigTree, Path};

/// One object that differs, named by the model's keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Entry {
    /// The resource kind: `group`, `rule_set`, `rule`, `attachment`, `nat_destination`,
    /// `nat_source`, `route`, `raw`, or `scope` for config under an owned scope that no object
    /// pattern names.
    pub kind: String,
    /// The model's keys (`rule_set`, `rule`, `number`, `nat_destination`, `route`, `group`, …);
    /// for an object only the device has, the keys its path gives.
    #[schemars(with = "BTreeMap<String, serde_json::Value>")]
    pub key: BTreeMap<String, serde_json::Value>,
    /// The object's device path.
    pub path: String,
}

/// An owned scope where the device differs from what vnfsync last applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Drift {
    pub scope: String,
    /// What the appliance asks for when it happens.
    #[schemars(with = "String")]
    pub policy: DriftPolicy,
}

/// What must change on one appliance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Plan {
    pub appliance: String,
    pub dictionary: String,
    /// The commit of the desired state.
    pub commit: Option<String>,
    /// The device commands, in the order of `compare commands` (deletes, then sets, then
    /// comments), as `show configuration commands` prints them.
    #[schemars(with = "Vec<String>")]
    #[serde(serialize_with = "commands_text")]
    pub commands: Vec<Command>,
    /// Objects the device lacks.
    pub missing: Vec<Entry>,
    /// Objects inside the owned scopes that the desired state does not have.
    pub extra: Vec<Entry>,
    /// Objects both have, with different content.
    pub mismatched: Vec<Entry>,
    /// Owned scopes changed on the device since the last apply (empty when unknown).
    pub drift: Vec<Drift>,
    /// `sha256:` of the running config inside the owned scopes.
    pub base_hash: String,
    /// `sha256:` of the intended config.
    pub target_hash: String,
    /// `sha256:` of appliance, normalised commands and base hash: the same plan on the same
    /// device state always has the same key.
    pub idempotency_key: String,
}

fn commands_text<S: serde::Serializer>(cmds: &[Command], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(cmds.iter().map(ToString::to_string))
}

impl Plan {
    /// Whether nothing needs to change.
    pub fn is_empty(&self) -> bool {
        self.commands.is_empty()
    }
}

/// The object a device path belongs to: the longest object pattern matching its start, or
/// the owned scope holding it.
fn object_of(
    intended: &Intended,
    scopes: &[Path],
    path: &[String],
) -> (String, Vec<String>, Vec<(String, String)>) {
    let best = intended
        .patterns
        .iter()
        .filter_map(|o| o.path.match_prefix(path).map(|c| (o, c)))
        .max_by_key(|(o, _)| o.path.len());
    if let Some((o, caps)) = best {
        return (
            o.kind.as_str().to_owned(),
            path[..o.path.len()].to_vec(),
            caps,
        );
    }
    let scope = scopes
        .iter()
        .filter(|s| path.starts_with(&s.0))
        .max_by_key(|s| s.0.len())
        .map_or_else(|| path.to_vec(), |s| s.0.clone());
    ("scope".to_owned(), scope, Vec::new())
}

/// What vnfsync last applied to an appliance, per owned scope: the scope's path (as written in
/// `owns`) → `sha256:` of its config then ([`tree_hash`] of that one scope). The journal keeps
/// it in the appliance status; [`scope_hashes`] computes it.
pub type ScopeHashes = BTreeMap<String, String>;

/// The per-scope hashes of `tree` inside the owned scopes of `intended`.
pub fn scope_hashes(intended: &Intended, tree: &ConfigTree) -> ScopeHashes {
    intended
        .scopes
        .iter()
        .map(|s| {
            (
                s.path.clone(),
                tree_hash(tree, std::slice::from_ref(&Path::parse(&s.path))),
            )
        })
        .collect()
}

/// Plan the change of one appliance: `running` is the device's config, `last_applied` the
/// per-scope hashes of what the last successful apply left, when known. A scope whose running
/// config no longer hashes to it has drifted (changed on the device, not by a commit); a scope
/// it does not name is not judged.
#[allow(clippy::type_complexity)]
pub fn plan(intended: &Intended, running: &ConfigTree, last_applied: Option<&ScopeHashes>) -> Plan {
    let scopes = intended.scope_paths();
    let commands = vyos::diff(running, &intended.tree, &scopes);

    let mut objects: Vec<(String, Vec<String>, Vec<(String, String)>)> = Vec::new();
    let mut seen: std::collections::HashSet<Vec<String>> = std::collections::HashSet::new();
    for cmd in &commands {
        let o = object_of(intended, &scopes, &cmd.path);
        if seen.insert(o.1.clone()) {
            objects.push(o);
        }
    }
    objects.sort_by(|a, b| vyos::tree::path_cmp(&a.1, &b.1));
    // The first object rendered at each path (a scan per entry is quadratic on a big device).
    let mut rendered: HashMap<&[String], &ObjectRef> = HashMap::new();
    if !objects.is_empty() {
        for o in &intended.objects {
            rendered.entry(o.path.as_slice()).or_insert(&**o);
        }
    }
    let (mut missing, mut extra, mut mismatched) = (Vec::new(), Vec::new(), Vec::new());
    for (kind, path, caps) in objects {
        let in_intended = intended.tree.get(&path).is_some();
        let in_running = running.get(&path).is_some();
        let known = rendered.get(path.as_slice()).copied();
        let entry = Entry {
            kind: known.map_or(kind, |o| o.kind.clone()),
            key: known.map_or_else(
                || {
                    caps.into_iter()
                        .map(|(k, v)| {
                            let value = match v.parse::<u64>() {
                                Ok(n) if k == "number" => serde_json::Value::from(n),
                                _ => serde_json::Value::from(v),
                            };
                            (k, value)
                        })
                        .collect()
                },
                |o| o.key.clone(),
            ),
            path: path.join(" "),
        };
        match (in_intended, in_running) {
            (true, false) => missing.push(entry),
            (false, true) => extra.push(entry),
            _ => mismatched.push(entry),
        }
    }

    let drift = match last_applied {
        None => Vec::new(),
        Some(last) => intended
            .scopes
            .iter()
            .filter(|s| {
                last.get(&s.path).is_some_and(|h| {
                    *h != tree_hash(running, std::slice::from_ref(&Path::parse(&s.path)))
                })
            })
            .map(|s| Drift {
                scope: s.path.clone(),
                policy: s.drift,
            })
            .collect(),
    };

    let base_hash = tree_hash(running, &scopes);
    let target_hash = tree_hash(&intended.tree, &scopes);
    let mut key_text = String::new();
    key_text.push_str(&intended.appliance);
    key_text.push('\n');
    for c in &commands {
        key_text.push_str(&c.to_string());
        key_text.push('\n');
    }
    key_text.push_str(&base_hash);
    Plan {
        appliance: intended.appliance.clone(),
        dictionary: intended.dictionary.clone(),
        commit: intended.commit.clone(),
        idempotency_key: sha256(key_text.as_bytes()),
        commands,
        missing,
        extra,
        mismatched,
        drift,
        base_hash,
        target_hash,
    }
}

/// The device's reported release is outside the dictionary's firmware range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "VNF_INVALID: appliance `{appliance}` runs {release}, but its dictionary `{dictionary}` is for firmware {firmware}; nothing was planned or written"
)]
pub struct VersionMismatch {
    pub appliance: String,
    pub release: String,
    pub dictionary: String,
    pub firmware: String,
}

/// Refuse a device whose reported release the dictionary is not for (before planning).
pub fn check_version(intended: &Intended, release: &str) -> Result<(), VersionMismatch> {
    match intended.firmware.admits(release) {
        Some(true) => Ok(()),
        _ => Err(VersionMismatch {
            appliance: intended.appliance.clone(),
            release: release.to_owned(),
            dictionary: intended.dictionary.clone(),
            firmware: intended.firmware.to_string(),
        }),
    }
}

/// An appliance that could not be planned (it is still reported; the others are planned).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct PlanError {
    pub appliance: String,
    /// `VNF_*` for device errors (`VNF_INVALID` for a firmware the dictionary is not for),
    /// `BAD_INPUT` for a running config file that is missing or does not parse.
    pub code: String,
    pub message: String,
}

/// What `vnfsync diff --format json` prints: one document for the whole run
/// (`vnfsync schema plan`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Report {
    /// The commit of the desired state, when read from git.
    pub commit: Option<String>,
    /// One plan per appliance planned, in appliance order.
    pub plans: Vec<Plan>,
    /// Appliances that could not be planned.
    pub errors: Vec<PlanError>,
}

#[cfg(test)]
mod tests;
