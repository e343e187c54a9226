//! Commit-time checks, one per owner subtree, the way VyOS's conf-mode scripts `verify()`
//! (reference §3.3, §6): the firewall (jump targets, actions, ports), NAT (translation, ports,
//! interface warnings), static routes, ethernet interfaces that must exist, and
//! `system config-management`.
//!
//! Owns the split of a commit into owner subtrees ([`owner_of`], [`priority`]) and the verify
//! messages. Subtrees outside this set are committed unvalidated. Must not change trees: the
//! commit (in `appliance`) decides what to do with a verdict.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use super::profile::Profile;
use crate::vyos::{ConfigTree, Node, natural_cmp};

/// What the checks need besides the tree.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    pub profile: Profile,
    /// Ethernet interfaces the emulated hardware has (`eth0`, `eth1`, ...).
    pub hardware: &'a BTreeSet<String>,
}

/// The outcome of one owner's verify: warnings always, an error when it fails.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict {
    pub warnings: Vec<String>,
    pub error: Option<String>,
}

/// The owner subtree a path belongs to (the config path VyOS prints as `[[...]]`).
pub fn owner_of(path: &[String]) -> Vec<String> {
    let n = match path.first().map(String::as_str) {
        Some("interfaces") => 3,
        Some("firewall" | "nat") => 1,
        Some("protocols" | "system" | "service") => 2,
        _ => 1,
    };
    path.iter().take(n).cloned().collect()
}

/// The order owners commit in (lower first): system, interfaces, firewall, static routes,
/// NAT, services, then everything else; natural order within a rank.
pub fn priority(a: &[String], b: &[String]) -> Ordering {
    fn rank(p: &[String]) -> u8 {
        match p.first().map(String::as_str) {
            Some("system") => 0,
            Some("interfaces") => 1,
            Some("firewall") => 2,
            Some("protocols") => 3,
            Some("nat") => 4,
            Some("service") => 5,
            _ => 6,
        }
    }
    rank(a).cmp(&rank(b)).then_with(|| {
        for (x, y) in a.iter().zip(b) {
            let o = natural_cmp(x, y);
            if o != Ordering::Equal {
                return o;
            }
        }
        a.len().cmp(&b.len())
    })
}

/// Runs the checks of `owner` on the candidate config (the active config with this owner's
/// part of the working copy applied); `before` is the active config before the commit.
pub fn verify(
    ctx: &Context<'_>,
    owner: &[String],
    candidate: &ConfigTree,
    before: &ConfigTree,
) -> Verdict {
    let mut v = Verdict::default();
    let first = owner.first().map(String::as_str);
    let result = match first {
        Some("firewall") if ctx.profile.is_1_4_plus() => firewall_14(candidate),
        Some("firewall") => firewall_13(candidate, before),
        Some("nat") => nat(ctx, candidate, &mut v.warnings),
        Some("protocols") if owner.get(1).is_some_and(|w| w == "static") => {
            static_routes(candidate)
        }
        Some("interfaces") => interfaces(ctx, owner, candidate),
        Some("system") if owner.get(1).is_some_and(|w| w == "config-management") => {
            config_management(ctx, candidate)
        }
        _ => Ok(()),
    };
    v.error = result.err().map(|e| wrap(&e, 72));
    v
}

/// Word-wraps like Python's `textwrap.fill` (vyos `ConfigError`).
pub fn wrap(text: &str, width: usize) -> String {
    let mut out = String::new();
    for (i, para) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let mut line_len = 0;
        for word in para.split_whitespace() {
            if line_len > 0 && line_len + 1 + word.len() > width {
                out.push('\n');
                line_len = 0;
            } else if line_len > 0 {
                out.push(' ');
                line_len += 1;
            }
            out.push_str(word);
            line_len += word.len();
        }
    }
    out
}

fn value<'a>(node: &'a Node, path: &[&str]) -> Option<&'a str> {
    node.get(path)
        .and_then(|n| n.values().first())
        .map(String::as_str)
}

fn has(node: &Node, path: &[&str]) -> bool {
    node.get(path).is_some()
}

fn children<'a>(tree: &'a ConfigTree, path: &[&str]) -> &'a [Node] {
    tree.get(path).map_or(&[], Node::children)
}

fn rule_ports_ok(rule: &Node) -> Result<(), String> {
    let ports = has(rule, &["destination", "port"]) || has(rule, &["source", "port"]);
    if !ports {
        return Ok(());
    }
    match value(rule, &["protocol"]) {
        None => Err("Protocol must be defined if specifying a port or port-group".to_owned()),
        Some("tcp" | "udp" | "tcp_udp") => Ok(()),
        Some(_) => Err(
            "Protocol must be tcp, udp, or tcp_udp when specifying a port or port-group".to_owned(),
        ),
    }
}

fn firewall_14(tree: &ConfigTree) -> Result<(), String> {
    for family in ["ipv4", "ipv6"] {
        let names: BTreeSet<&str> = children(tree, &["firewall", family, "name"])
            .iter()
            .map(Node::name)
            .collect();
        let mut chains: Vec<&Node> = children(tree, &["firewall", family, "name"])
            .iter()
            .collect();
        for base in ["input", "forward", "output"] {
            if let Some(c) = tree.get(&["firewall", family, base, "filter"]) {
                chains.push(c);
            }
        }
        for chain in chains {
            for rule in chain.child("rule").map_or(&[][..], Node::children) {
                let action = value(rule, &["action"]);
                let target = value(rule, &["jump-target"]);
                if action.is_none() {
                    return Err("Rule action must be defined".to_owned());
                }
                if action == Some("jump") && target.is_none() {
                    return Err("Action set to jump, but no jump-target specified".to_owned());
                }
                if let Some(t) = target {
                    if action != Some("jump") {
                        return Err(
                            "jump-target defined, but action jump needed and it is not defined"
                                .to_owned(),
                        );
                    }
                    if !names.contains(t) {
                        return Err(format!(
                            "Invalid jump-target. Firewall {family} name {t} does not exist on the system"
                        ));
                    }
                }
                rule_ports_ok(rule)?;
            }
        }
        jump_loops(tree, family)?;
    }
    Ok(())
}

/// The named chains a chain jumps to.
fn jumps(chain: &Node) -> impl Iterator<Item = &str> {
    chain
        .child("rule")
        .map_or(&[][..], Node::children)
        .iter()
        .filter(|r| value(r, &["action"]) == Some("jump"))
        .filter_map(|r| value(r, &["jump-target"]))
}

/// A cycle of jumps between named chains (the first part of the message is VyOS's, the rest
/// is ours: the reference does not give it).
fn jump_loops(tree: &ConfigTree, family: &str) -> Result<(), String> {
    let chains = children(tree, &["firewall", family, "name"]);
    for start in chains {
        let mut stack: Vec<(&str, Vec<&str>)> = vec![(start.name(), vec![start.name()])];
        while let Some((name, trail)) = stack.pop() {
            let Some(chain) = chains.iter().find(|c| c.name() == name) else {
                continue;
            };
            for t in jumps(chain) {
                if trail.contains(&t) {
                    return Err(format!(
                        "Loop detected in jump-targets, firewall {family} name {name} refers to previously traversed {family} name {t}"
                    ));
                }
                let mut next = trail.clone();
                next.push(t);
                stack.push((t, next));
            }
        }
    }
    Ok(())
}

fn firewall_13(tree: &ConfigTree, before: &ConfigTree) -> Result<(), String> {
    let names: BTreeSet<&str> = children(tree, &["firewall", "name"])
        .iter()
        .map(Node::name)
        .collect();
    for ifc in children(tree, &["interfaces", "ethernet"]) {
        for dir in ["in", "out", "local"] {
            if let Some(x) = value(ifc, &["firewall", dir, "name"])
                && !names.contains(x)
                && before.exists(&["firewall", "name", x])
            {
                return Err(format!("Cannot delete rule set \"{x}\" (still in use)"));
            }
        }
    }
    for chain in children(tree, &["firewall", "name"]) {
        for rule in chain.child("rule").map_or(&[][..], Node::children) {
            if !has(rule, &["action"]) {
                return Err("Rule action must be defined".to_owned());
            }
            rule_ports_ok(rule)?;
        }
    }
    Ok(())
}

fn interface_exists(tree: &ConfigTree, name: &str) -> bool {
    name == "any"
        || name.contains('*')
        || name.starts_with('!')
        || [
            "ethernet",
            "loopback",
            "bonding",
            "bridge",
            "dummy",
            "wireguard",
            "pppoe",
            "tunnel",
        ]
        .iter()
        .any(|t| tree.exists(&["interfaces", t, name]))
        || name
            .split_once('.')
            .is_some_and(|(p, vif)| tree.exists(&["interfaces", "ethernet", p, "vif", vif]))
}

fn nat(ctx: &Context<'_>, tree: &ConfigTree, warnings: &mut Vec<String>) -> Result<(), String> {
    for (kind, title, ifnode) in [
        ("source", "Source", "outbound-interface"),
        ("destination", "Destination", "inbound-interface"),
    ] {
        for rule in children(tree, &["nat", kind, "rule"]) {
            let n = rule.name();
            let ifname = if ctx.profile.is_1_4_plus() {
                value(rule, &[ifnode, "name"])
            } else {
                value(rule, &[ifnode])
            };
            if let Some(i) = ifname
                && !interface_exists(tree, i)
            {
                warnings.push(format!(
                    "Interface \"{i}\" for {kind} NAT rule \"{n}\" does not exist!"
                ));
            }
            let translated = has(rule, &["translation", "address"])
                || has(rule, &["translation", "port"])
                || has(rule, &["translation", "redirect"]);
            let exempt = has(rule, &["exclude"]) || has(rule, &["load-balance"]);
            if !translated && !exempt {
                return Err(format!(
                    "{title} NAT configuration error in rule {n}: translation requires address and/or port"
                ));
            }
            let ports = has(rule, &["source", "port"])
                || has(rule, &["destination", "port"])
                || has(rule, &["translation", "port"]);
            let proto = value(rule, &["protocol"]).unwrap_or("all");
            if ports && !matches!(proto, "tcp" | "udp" | "tcp_udp") {
                return Err(format!(
                    "{title} NAT configuration error in rule {n}: ports can only be specified when protocol is either tcp, udp or tcp_udp!"
                ));
            }
        }
    }
    Ok(())
}

fn static_routes(tree: &ConfigTree) -> Result<(), String> {
    for family in ["route", "route6"] {
        for route in children(tree, &["protocols", "static", family]) {
            if has(route, &["blackhole"]) && has(route, &["reject"]) {
                return Err(format!(
                    "Can not use both blackhole and reject for prefix \"{}\"!",
                    route.name()
                ));
            }
        }
    }
    Ok(())
}

fn interfaces(ctx: &Context<'_>, owner: &[String], tree: &ConfigTree) -> Result<(), String> {
    if owner.get(1).is_some_and(|t| t == "ethernet")
        && let Some(name) = owner.get(2)
        && tree.exists(owner)
        && !ctx.hardware.contains(name)
    {
        return Err(format!("Interface \"{name}\" does not exist!"));
    }
    Ok(())
}

fn config_management(ctx: &Context<'_>, tree: &ConfigTree) -> Result<(), String> {
    let revs = tree
        .get(&["system", "config-management", "commit-revisions"])
        .and_then(|n| n.values().first())
        .and_then(|v| v.parse::<u32>().ok())
        .unwrap_or(0);
    let reload = tree
        .get(&["system", "config-management", "commit-confirm", "action"])
        .and_then(|n| n.values().first())
        .is_some_and(|a| a == "reload");
    if ctx.profile.has_confirm_reload() && reload && revs == 0 {
        return Err("commit-confirm reload requires non-zero commit-revisions".to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(profile: Profile, config: &str, owner: &str, expected: Result<&[&str], &str>) {
        let tree = match ConfigTree::parse_commands(config) {
            Ok(t) => t,
            Err(e) => panic!("{config}: {e}"),
        };
        let hw: BTreeSet<String> = ["eth0".to_owned(), "eth1".to_owned()].into();
        let ctx = Context {
            profile,
            hardware: &hw,
        };
        let owner: Vec<String> = owner.split(' ').map(str::to_owned).collect();
        let v = verify(&ctx, &owner, &tree, &ConfigTree::new());
        match expected {
            Ok(w) => {
                assert_eq!(v.error, None, "{config}");
                assert_eq!(v.warnings, w, "{config}");
            }
            // VyOS wraps conf-mode errors at 72 columns.
            Err(e) => assert_eq!(v.error, Some(wrap(e, 72)), "{config}"),
        }
    }

    #[test]
    fn firewall_checks() {
        use Profile::V14;
        check(
            V14,
            "set firewall ipv4 name A rule 10 action 'jump'",
            "firewall",
            Err("Action set to jump, but no jump-target specified"),
        );
        check(
            V14,
            "set firewall ipv4 name A rule 10 action 'jump'\nset firewall ipv4 name A rule 10 jump-target 'B'",
            "firewall",
            Err("Invalid jump-target. Firewall ipv4 name B does not exist on the system"),
        );
        check(
            V14,
            "set firewall ipv4 name A rule 10 jump-target 'A'\nset firewall ipv4 name A rule 10 action 'drop'",
            "firewall",
            Err("jump-target defined, but action jump needed and it is not defined"),
        );
        check(
            V14,
            "set firewall ipv4 name A rule 10 destination port '22'\nset firewall ipv4 name A rule 10 action 'drop'",
            "firewall",
            Err("Protocol must be defined if specifying a port or port-group"),
        );
        check(
            V14,
            "set firewall ipv4 input filter rule 5 protocol 'tcp'",
            "firewall",
            Err("Rule action must be defined"),
        );
        check(
            V14,
            "set firewall ipv4 name A rule 10 action 'accept'",
            "firewall",
            Ok(&[]),
        );
        check(
            V14,
            "set firewall ipv4 name A rule 1 action 'jump'\nset firewall ipv4 name A rule 1 jump-target 'B'\nset firewall ipv4 name B rule 1 action 'jump'\nset firewall ipv4 name B rule 1 jump-target 'A'",
            "firewall",
            Err(
                "Loop detected in jump-targets, firewall ipv4 name B refers to previously traversed ipv4 name A",
            ),
        );
        check(
            V14,
            "set firewall ipv4 name A rule 1 action 'jump'\nset firewall ipv4 name A rule 1 jump-target 'B'\nset firewall ipv4 name B rule 1 action 'accept'\nset firewall ipv4 name C rule 1 action 'jump'\nset firewall ipv4 name C rule 1 jump-target 'B'",
            "firewall",
            Ok(&[]),
        );
    }

    #[test]
    fn nat_checks() {
        use Profile::{V13, V14};
        check(
            V14,
            "set nat source rule 10 outbound-interface name 'eth0'",
            "nat",
            Err(
                "Source NAT configuration error in rule 10: translation requires address and/or port",
            ),
        );
        check(
            V14,
            "set nat destination rule 5 destination port '443'\nset nat destination rule 5 translation address '192.0.2.1'",
            "nat",
            Err(
                "Destination NAT configuration error in rule 5: ports can only be specified when protocol is either tcp, udp or tcp_udp!",
            ),
        );
        check(
            V14,
            "set nat source rule 10 outbound-interface name 'eth9'\nset nat source rule 10 translation address 'masquerade'",
            "nat",
            Ok(&["Interface \"eth9\" for source NAT rule \"10\" does not exist!"]),
        );
        check(
            V13,
            "set interfaces ethernet eth0\nset nat source rule 10 outbound-interface 'eth0'\nset nat source rule 10 translation address 'masquerade'",
            "nat",
            Ok(&[]),
        );
    }

    #[test]
    fn other_checks() {
        use Profile::{V14, V15};
        check(
            V14,
            "set interfaces ethernet eth7 address '192.0.2.1/24'",
            "interfaces ethernet eth7",
            Err("Interface \"eth7\" does not exist!"),
        );
        check(
            V14,
            "set protocols static route 10.0.0.0/8 blackhole\nset protocols static route 10.0.0.0/8 reject",
            "protocols static",
            Err("Can not use both blackhole and reject for prefix \"10.0.0.0/8\"!"),
        );
        check(
            V15,
            "set system config-management commit-confirm action 'reload'",
            "system config-management",
            Err("commit-confirm reload requires non-zero commit-revisions"),
        );
        assert_eq!(wrap(&"word ".repeat(20), 12).lines().count(), 10);
        assert_eq!(
            wrap(
                "Source NAT configuration error in rule 10: translation requires address and/or port",
                72
            ),
            "Source NAT configuration error in rule 10: translation requires address\nand/or port"
        );
    }
}
