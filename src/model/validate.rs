//! Rules that span resources and files: unique names and numbers, policy references that
//! resolve. What needs a dictionary (the dictionary exists and speaks the transport, owned
//! scopes, every resource inside them) is checked by `crate::render::check`.
//!
//! Owns: cross-file checks, reported at the place of the offending value (in the policy file
//! when a policy's resource is the problem, naming the appliance). Must not re-check what
//! decoding already checked.

use std::collections::{BTreeMap, HashMap};

use super::appliance::{Appliance, Policy};
use super::decode::{Decoder, Diagnostic, Located, did_you_mean};
use super::resources::Resources;
use super::values::Family;

fn push(diags: &mut Vec<Diagnostic>, at: &Located, message: String) {
    let mut d = Decoder::new(&at.file);
    d.error_in(at, message);
    diags.extend(d.into_diagnostics());
}

fn place(at: &Located) -> String {
    format!("{}:{}:{}", at.file, at.pos.line, at.pos.column)
}

/// Index policies by name; a second policy of the same name is an error.
pub fn unique_policies(
    policies: Vec<Policy>,
    diags: &mut Vec<Diagnostic>,
) -> BTreeMap<String, Policy> {
    let mut out: BTreeMap<String, Policy> = BTreeMap::new();
    for p in policies {
        if let Some(first) = out.get(p.name.as_str()) {
            push(
                diags,
                &p.at,
                format!(
                    "policy `{}` is already defined at {}",
                    p.name,
                    place(&first.at)
                ),
            );
            continue;
        }
        out.insert(p.name.to_string(), p);
    }
    out
}

/// All cross-file checks.
pub fn check(
    appliances: &[Appliance],
    policies: &BTreeMap<String, Policy>,
    diags: &mut Vec<Diagnostic>,
) {
    let mut names: HashMap<&str, &Located> = HashMap::new();
    for a in appliances {
        if let Some(first) = names.insert(a.name.as_str(), &a.at) {
            push(
                diags,
                &a.at,
                format!(
                    "appliance `{}` is already defined at {}",
                    a.name,
                    place(first)
                ),
            );
        }
    }
    for p in policies.values() {
        check_inside(&p.resources, diags);
    }
    for a in appliances {
        check_inside(&a.resources, diags);
        check_appliance(a, policies, diags);
    }
}

/// Rules within one rule set: unique numbers and ids.
fn check_inside(r: &Resources, diags: &mut Vec<Diagnostic>) {
    for set in &r.rule_sets {
        let mut numbers: HashMap<u32, &Located> = HashMap::new();
        let mut ids: HashMap<&str, &Located> = HashMap::new();
        for rule in &set.rules {
            if let Some(first) = numbers.insert(rule.number.0, &rule.at) {
                push(
                    diags,
                    &rule.at,
                    format!(
                        "rule set `{}` already has a rule number {} (at {})",
                        set.name,
                        rule.number.0,
                        place(first)
                    ),
                );
            }
            if let Some(first) = ids.insert(rule.id.as_str(), &rule.at) {
                push(
                    diags,
                    &rule.at,
                    format!(
                        "rule set `{}` already has a rule with id `{}` (at {})",
                        set.name,
                        rule.id,
                        place(first)
                    ),
                );
            }
        }
    }
}

fn check_appliance(
    a: &Appliance,
    policies: &BTreeMap<String, Policy>,
    diags: &mut Vec<Diagnostic>,
) {
    // Policies referenced must exist; collect the resources in effect.
    let mut sources: Vec<(Option<&Policy>, &Resources)> = vec![(None, &a.resources)];
    for (i, p) in a.policies.iter().enumerate() {
        let at = a.policy_refs.get(i).unwrap_or(&a.at);
        match policies.get(p.as_str()) {
            Some(policy) => sources.push((Some(policy), &policy.resources)),
            None => {
                let mut msg =
                    format!("policy `{p}` does not exist (no policies/*.yaml defines it)");
                if let Some(s) = did_you_mean(p.as_str(), policies.keys().map(String::as_str)) {
                    msg.push_str(&format!("; did you mean `{s}`?"));
                }
                push(diags, at, msg);
            }
        }
    }

    // Names and numbers unique across the appliance and its policies.
    let origin = |p: Option<&Policy>| {
        p.map(|p| format!(" (from policy `{}`)", p.name))
            .unwrap_or_default()
    };
    let mut sets: HashMap<(Family, &str), &Located> = HashMap::new();
    let mut dnat: HashMap<u32, &Located> = HashMap::new();
    let mut snat: HashMap<u32, &Located> = HashMap::new();
    let mut routes: HashMap<String, &Located> = HashMap::new();
    for (policy, r) in &sources {
        for set in &r.rule_sets {
            if let Some(first) = sets.insert((set.family, set.name.as_str()), &set.at) {
                push(
                    diags,
                    &set.at,
                    format!(
                        "appliance `{}`: rule set `{}`{} is also defined at {}",
                        a.name,
                        set.name,
                        origin(*policy),
                        place(first)
                    ),
                );
            }
        }
        for n in &r.nat.destination {
            if let Some(first) = dnat.insert(n.number.0, &n.at) {
                push(
                    diags,
                    &n.at,
                    format!(
                        "appliance `{}`: destination NAT rule {}{} is also defined at {}",
                        a.name,
                        n.number.0,
                        origin(*policy),
                        place(first)
                    ),
                );
            }
        }
        for n in &r.nat.source {
            if let Some(first) = snat.insert(n.number.0, &n.at) {
                push(
                    diags,
                    &n.at,
                    format!(
                        "appliance `{}`: source NAT rule {}{} is also defined at {}",
                        a.name,
                        n.number.0,
                        origin(*policy),
                        place(first)
                    ),
                );
            }
        }
        for route in &r.routes {
            let key = format!(
                "{} {:?} {:?} {}",
                route.prefix, route.next_hop, route.interface, route.blackhole
            );
            if let Some(first) = routes.insert(key, &route.at) {
                push(
                    diags,
                    &route.at,
                    format!(
                        "appliance `{}`: route {}{} is also defined at {}",
                        a.name,
                        route.prefix,
                        origin(*policy),
                        place(first)
                    ),
                );
            }
        }
    }
    check_groups(a, &sources, diags);
}

/// Group names unique per appliance, and every group a rule references defined (in the
/// appliance or one of its policies) or declared in `existing_groups`, of a fitting kind.
fn check_groups(
    a: &Appliance,
    sources: &[(Option<&Policy>, &Resources)],
    diags: &mut Vec<Diagnostic>,
) {
    use super::resources::GroupKind;
    let mut kinds: HashMap<&str, GroupKind> = HashMap::new();
    let mut defined: HashMap<&str, &Located> = HashMap::new();
    for g in &a.existing_groups {
        kinds.insert(g.name.as_str(), g.kind);
    }
    for (_, r) in sources {
        for g in &r.groups {
            if let Some(first) = defined.insert(g.name.as_str(), &g.at) {
                push(
                    diags,
                    &g.at,
                    format!(
                        "appliance `{}`: group `{}` is also defined at {}",
                        a.name,
                        g.name,
                        place(first)
                    ),
                );
            }
            kinds.insert(g.name.as_str(), g.kind);
        }
    }
    for (_, r) in sources {
        for set in &r.rule_sets {
            for rule in &set.rules {
                for m in [&rule.source, &rule.destination].into_iter().flatten() {
                    let refs = [
                        (
                            m.group.as_ref(),
                            [GroupKind::Address, GroupKind::Network],
                            "`group`",
                        ),
                        (
                            m.port_group.as_ref(),
                            [GroupKind::Port, GroupKind::Port],
                            "`port_group`",
                        ),
                    ];
                    for (name, fits, field) in refs {
                        let Some(name) = name else { continue };
                        match kinds.get(name.as_str()) {
                            Some(k) if fits.contains(k) => {}
                            Some(k) => push(
                                diags,
                                &rule.at,
                                format!(
                                    "rule `{}` of rule set `{}`: {field} `{name}` is {} group",
                                    rule.id,
                                    set.name,
                                    match k {
                                        GroupKind::Address => "an address",
                                        GroupKind::Network => "a network",
                                        GroupKind::Port => "a port",
                                    }
                                ),
                            ),
                            None => {
                                let mut msg = format!(
                                    "rule `{}` of rule set `{}`: group `{name}` is not defined for appliance `{}` (define it under `groups:` or declare it in `existing_groups:`)",
                                    rule.id, set.name, a.name
                                );
                                if let Some(s) = did_you_mean(name.as_str(), kinds.keys().copied())
                                {
                                    msg.push_str(&format!("; did you mean `{s}`?"));
                                }
                                push(diags, &rule.at, msg);
                            }
                        }
                    }
                }
            }
        }
    }
}
