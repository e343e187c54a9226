//! Rules that span resources and files: unique names and numbers, policy references that
//! resolve. What needs a dictionary (the dictionary exists and speaks the transport, owned
//! scopes, every resource inside them) is checked by `crate::render::check`.
//!
//! Owns: cross-file checks, reported at the place of the offending value (in the policy file
//! when a policy's resource is the problem, naming the appliance), and the refusal of raw lines
//! that write a literal secret (in every policy, used or not). Must not re-check what decoding
//! already checked, and never echoes a secret: raw lines are shown masked.

use std::collections::{BTreeMap, HashMap};

use super::appliance::{Appliance, Policy};
use super::decode::{Decoder, Diagnostic, Located, did_you_mean};
use super::resources::Resources;
use super::values::Family;
use crate::vyos::{MASK, is_secret};

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
    check_with(appliances, policies, &BTreeMap::new(), diags);
}

/// [`check`], knowing which policies failed to load (name → file): an appliance that uses one
/// is not told the policy "does not exist"; the policy file says once who uses it.
pub fn check_with(
    appliances: &[Appliance],
    policies: &BTreeMap<String, Policy>,
    failed: &BTreeMap<String, String>,
    diags: &mut Vec<Diagnostic>,
) {
    let mut users: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for a in appliances {
        for p in &a.policies {
            if failed.contains_key(p.as_str()) && !policies.contains_key(p.as_str()) {
                users.entry(p.as_str()).or_default().push(a.name.as_str());
            }
        }
    }
    for (name, used_by) in &users {
        if let Some(file) = failed.get(*name) {
            diags.push(Diagnostic {
                file: file.clone(),
                line: 0,
                column: 0,
                path: String::new(),
                message: format!(
                    "policy `{name}` failed to load (its errors are listed in this file), so appliance(s) {} that use it were checked without it",
                    used_by
                        .iter()
                        .map(|a| format!("`{a}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
    }
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
    let mut endpoints: HashMap<(String, u16), &Appliance> = HashMap::new();
    for a in appliances {
        let key = a.endpoint.host_port();
        if let Some(first) = endpoints.get(&key) {
            push(
                diags,
                &a.endpoint_at,
                format!(
                    "appliance `{}` connects to {}:{}, as appliance `{}` does (at {}); two appliances cannot be one device",
                    a.name,
                    a.endpoint.host,
                    key.1,
                    first.name,
                    place(&first.endpoint_at)
                ),
            );
        } else {
            endpoints.insert(key, a);
        }
    }
    for p in policies.values() {
        check_inside(&p.resources, diags);
        check_raw_secrets(&p.resources, diags);
    }
    for a in appliances {
        check_inside(&a.resources, diags);
        check_raw_secrets(&a.resources, diags);
        check_appliance(a, policies, failed, diags);
    }
}

/// The secret-bearing leaf a raw line writes a literal into, if any. A line the strict VyOS
/// command parser reads (`crate::vyos::parse_commands_strict`) has its value in quotes: the
/// leaf is the last path word when a value follows it. A line it refuses (and that is refused
/// for that elsewhere) is still searched, word by word: a secret-bearing word followed by
/// another word. The leaf names are those the tree masks (`crate::vyos::is_secret`).
fn raw_secret_leaf(line: &str) -> Option<String> {
    match crate::vyos::parse_commands_strict(line) {
        Ok(cmds) => cmds
            .into_iter()
            .find_map(|c| match (c.value, c.path.last()) {
                (Some(_), Some(leaf)) if is_secret(leaf) => Some(leaf.clone()),
                _ => None,
            }),
        Err(_) => {
            let words: Vec<&str> = line
                .split_whitespace()
                .map(|w| w.trim_matches(|c| c == '\'' || c == '"'))
                .collect();
            words
                .windows(2)
                .rev()
                .find(|pair| is_secret(pair[0]))
                .map(|pair| pair[0].to_string())
        }
    }
}

/// A raw line as shown in messages: control characters escaped, and everything after the last
/// secret-bearing word that has something after it replaced by the mask.
pub(crate) fn shown_raw(line: &str) -> String {
    let words: Vec<&str> = line.split(' ').collect();
    let last = words.iter().rposition(|w| !w.is_empty());
    let leaf = words.iter().enumerate().rposition(|(i, w)| {
        let bare = w.trim_matches(|c| c == '\'' || c == '"');
        Some(i) < last && !bare.is_empty() && is_secret(bare)
    });
    let shown: Vec<&str> = words
        .iter()
        .enumerate()
        .map(|(i, w)| match leaf {
            Some(l) if i > l && !w.is_empty() => MASK,
            _ => w,
        })
        .collect();
    shown.join(" ").replace('\n', "\\n").replace('\r', "\\r")
}

/// Raw lines must not carry a literal secret: a secret in the desired state would sit in git
/// history in clear. The typed fields take secret references; raw lines cannot.
fn check_raw_secrets(r: &Resources, diags: &mut Vec<Diagnostic>) {
    for raw in &r.raw {
        if let Some(leaf) = raw_secret_leaf(&raw.line) {
            push(
                diags,
                &raw.at,
                format!(
                    "raw line `{}` writes a literal secret into `{leaf}`; secrets never go into the desired state in clear, and raw lines cannot take a secret reference (manage this leaf outside vnfsync)",
                    shown_raw(&raw.line)
                ),
            );
        }
    }
}

/// Rules within one file's resources (checked in every policy, used or not): unique rule-set
/// names per family, one route per prefix, and within a rule set unique numbers and ids.
fn check_inside(r: &Resources, diags: &mut Vec<Diagnostic>) {
    let mut names: HashMap<(Family, &str), &Located> = HashMap::new();
    for set in &r.rule_sets {
        if let Some(first) = names.insert((set.family, set.name.as_str()), &set.at) {
            push(
                diags,
                &set.at,
                format!(
                    "rule set `{}` ({}) is also defined at {}",
                    set.name,
                    set.family.as_str(),
                    place(first)
                ),
            );
        }
    }
    let mut prefixes: HashMap<String, &Located> = HashMap::new();
    for route in &r.routes {
        if let Some(first) = prefixes.insert(route_key(route), &route.at) {
            push(
                diags,
                &route.at,
                format!(
                    "route {} is also defined at {} (one route per prefix and table)",
                    route.prefix,
                    place(first)
                ),
            );
        }
    }
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

/// What makes two static routes the same route: the prefix (in the one routing table there
/// is today).
fn route_key(route: &super::resources::StaticRoute) -> String {
    route.prefix.to_string()
}

fn check_appliance(
    a: &Appliance,
    policies: &BTreeMap<String, Policy>,
    failed: &BTreeMap<String, String>,
    diags: &mut Vec<Diagnostic>,
) {
    // Policies referenced must exist; collect the resources in effect.
    let mut sources: Vec<(Option<&Policy>, &Resources)> = vec![(None, &a.resources)];
    for (i, p) in a.policies.iter().enumerate() {
        let at = a.policy_refs.get(i).unwrap_or(&a.at);
        match policies.get(p.as_str()) {
            Some(policy) => sources.push((Some(policy), &policy.resources)),
            // Said once, at the policy file, by `check_with`.
            None if failed.contains_key(p.as_str()) => {}
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
    // Rule sets and routes repeated inside one file are reported once, by `check_inside`.
    let mut sets: HashMap<(Family, &str), (&Located, usize)> = HashMap::new();
    let mut dnat: HashMap<u32, &Located> = HashMap::new();
    let mut snat: HashMap<u32, &Located> = HashMap::new();
    let mut routes: HashMap<String, (&Located, usize)> = HashMap::new();
    for (idx, (policy, r)) in sources.iter().enumerate() {
        for set in &r.rule_sets {
            if let Some((first, from)) =
                sets.insert((set.family, set.name.as_str()), (&set.at, idx))
                && from != idx
            {
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
            if let Some((first, from)) = routes.insert(route_key(route), (&route.at, idx))
                && from != idx
            {
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
