//! Management lockout: does the active config drop a new TCP connection to one of the
//! appliance's own services (SSH on 22, the API on 443)?
//!
//! Owns a small evaluator of the input filter: on 1.4+ `firewall ipv4 input filter` (with
//! `jump` into `firewall ipv4 name X`), on 1.3 the `firewall local name X` rule-sets bound to
//! the management interface. Management traffic is taken to arrive on [`MGMT_INTERFACE`] from
//! the client's address, as a new TCP connection. Matching understands `protocol`,
//! `destination port`, `source address`, `destination address`, `state`, `inbound-interface
//! name`, `disable` and the actions accept, drop, reject, jump, return and continue; any other
//! condition (groups, time, limits, ...) counts as not matching. A packet of an open connection
//! (`established`) passes the global `state-policy established action accept` first. Must not
//! change anything.

use std::net::IpAddr;

use ipnet::IpNet;

use super::profile::Profile;
use crate::vyos::{ConfigTree, Node};

/// The interface management connections are assumed to come in on.
pub const MGMT_INTERFACE: &str = "eth0";

/// A new TCP connection to the router on `port` from `client`.
#[derive(Debug, Clone, Copy)]
pub struct Probe {
    pub port: u16,
    pub client: IpAddr,
    /// The router's own address the client connected to.
    pub local: IpAddr,
    /// A packet of a connection already open (conntrack state `established`) rather than a
    /// new one.
    pub established: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Accept,
    Drop,
    /// Fell off the end of a jumped-to chain (return to the caller).
    Return,
}

/// Whether the firewall in `tree` lets `probe` through.
pub fn allowed(profile: Profile, tree: &ConfigTree, probe: &Probe) -> bool {
    // The global state policy accepts established traffic before any chain.
    let policy = if profile.is_1_4_plus() {
        &[
            "firewall",
            "global-options",
            "state-policy",
            "established",
            "action",
        ][..]
    } else {
        &["firewall", "state-policy", "established", "action"][..]
    };
    if probe.established
        && tree
            .get(policy)
            .and_then(|n| n.values().first())
            .is_some_and(|a| a == "accept")
    {
        return true;
    }
    if profile.is_1_4_plus() {
        match tree.get(&["firewall", "ipv4", "input", "filter"]) {
            Some(chain) => chain_verdict(tree, chain, probe, true, 0) != Verdict::Drop,
            None => true,
        }
    } else {
        let Some(name) = tree
            .get(&[
                "interfaces",
                "ethernet",
                MGMT_INTERFACE,
                "firewall",
                "local",
                "name",
            ])
            .and_then(|n| n.values().first())
        else {
            return true;
        };
        match tree.get(&["firewall", "name", name]) {
            Some(chain) => chain_verdict(tree, chain, probe, false, 0) != Verdict::Drop,
            // A binding to a missing rule-set cannot be committed; treat as open.
            None => true,
        }
    }
}

fn first<'a>(node: &'a Node, path: &[&str]) -> Option<&'a str> {
    node.get(path)
        .and_then(|n| n.values().first())
        .map(String::as_str)
}

fn chain_verdict(tree: &ConfigTree, chain: &Node, probe: &Probe, base: bool, depth: u8) -> Verdict {
    if depth > 16 {
        return Verdict::Drop;
    }
    for rule in chain.child("rule").map_or(&[][..], Node::children) {
        if rule.child("disable").is_some() || !rule_matches(rule, probe) {
            continue;
        }
        match first(rule, &["action"]) {
            Some("accept") => return Verdict::Accept,
            Some("drop" | "reject") => return Verdict::Drop,
            Some("return") => return Verdict::Return,
            Some("jump") => {
                let target = first(rule, &["jump-target"])
                    .and_then(|t| tree.get(&["firewall", "ipv4", "name", t]));
                if let Some(t) = target {
                    match chain_verdict(tree, t, probe, false, depth + 1) {
                        Verdict::Return => continue,
                        v => return v,
                    }
                }
            }
            _ => continue,
        }
    }
    match first(chain, &["default-action"]) {
        Some("accept") => Verdict::Accept,
        Some("drop" | "reject") => Verdict::Drop,
        Some("return" | "continue") => Verdict::Return,
        // Base chains default to accept, named chains to drop (§6.2); 1.3 rule-sets to drop.
        _ if base => Verdict::Accept,
        _ => Verdict::Drop,
    }
}

fn rule_matches(rule: &Node, probe: &Probe) -> bool {
    let proto_ok = match first(rule, &["protocol"]) {
        None | Some("all" | "tcp" | "tcp_udp" | "6") => true,
        Some(p) => p.strip_prefix('!').is_some_and(|p| p != "tcp" && p != "6"),
    };
    if !proto_ok {
        return false;
    }
    if let Some(ports) = first(rule, &["destination", "port"])
        && !port_matches(ports, probe.port)
    {
        return false;
    }
    if rule.get(&["source", "port"]).is_some() {
        // Client ports are ephemeral and unknown here.
        return false;
    }
    if let Some(a) = first(rule, &["source", "address"])
        && !address_matches(a, probe.client)
    {
        return false;
    }
    if let Some(a) = first(rule, &["destination", "address"])
        && !address_matches(a, probe.local)
    {
        return false;
    }
    if let Some(i) = first(rule, &["inbound-interface", "name"])
        && !interface_matches(i)
    {
        return false;
    }
    if let Some(state) = rule.get(&["state"]) {
        // 1.4+: a multi-value leaf; 1.3: `state new enable`.
        let want = if probe.established {
            "established"
        } else {
            "new"
        };
        let ok = state.values().iter().any(|v| v == want)
            || state
                .child(want)
                .is_some_and(|n| n.values().first().is_some_and(|v| v == "enable"));
        if !ok {
            return false;
        }
    }
    let known = [
        "action",
        "description",
        "protocol",
        "destination",
        "source",
        "inbound-interface",
        "state",
        "jump-target",
        "log",
        "disable",
    ];
    rule.children().iter().all(|c| known.contains(&c.name()))
}

fn port_matches(spec: &str, port: u16) -> bool {
    let (neg, spec) = match spec.strip_prefix('!') {
        Some(s) => (true, s),
        None => (false, spec),
    };
    let hit = spec.split(',').any(|part| match part.split_once('-') {
        Some((a, b)) => match (a.parse::<u16>(), b.parse::<u16>()) {
            (Ok(a), Ok(b)) => (a..=b).contains(&port),
            _ => false,
        },
        None => match part {
            "ssh" => port == 22,
            "https" => port == 443,
            "http" => port == 80,
            p => p.parse::<u16>() == Ok(port),
        },
    });
    hit != neg
}

fn address_matches(spec: &str, addr: IpAddr) -> bool {
    let (neg, s) = match spec.strip_prefix('!') {
        Some(s) => (true, s),
        None => (false, spec),
    };
    let hit = if let Ok(a) = s.parse::<IpAddr>() {
        a == addr
    } else if let Ok(n) = s.parse::<IpNet>() {
        n.contains(&addr)
    } else if let Some((a, b)) = s.split_once('-') {
        match (a.parse::<IpAddr>(), b.parse::<IpAddr>()) {
            (Ok(a), Ok(b)) => a <= addr && addr <= b,
            _ => false,
        }
    } else {
        false
    };
    hit != neg
}

fn interface_matches(spec: &str) -> bool {
    let (neg, s) = match spec.strip_prefix('!') {
        Some(s) => (true, s),
        None => (false, spec),
    };
    let hit = match s.strip_suffix('*') {
        Some(prefix) => MGMT_INTERFACE.starts_with(prefix),
        None => s == MGMT_INTERFACE,
    };
    hit != neg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(profile: Profile, config: &str, port: u16, expected: bool) {
        let tree = match ConfigTree::parse_commands(config) {
            Ok(t) => t,
            Err(e) => panic!("{config}: {e}"),
        };
        let probe = Probe {
            port,
            client: IpAddr::from([127, 0, 0, 1]),
            local: IpAddr::from([127, 0, 0, 1]),
            established: false,
        };
        assert_eq!(
            allowed(profile, &tree, &probe),
            expected,
            "{config} port {port}"
        );
    }

    #[test]
    fn established_connections() {
        let drop22 = "set firewall ipv4 input filter rule 10 action 'drop'\nset firewall ipv4 input filter rule 10 destination port '22'\nset firewall ipv4 input filter rule 10 protocol 'tcp'";
        let probe = |established| Probe {
            port: 22,
            client: IpAddr::from([127, 0, 0, 1]),
            local: IpAddr::from([127, 0, 0, 1]),
            established,
        };
        let tree = ConfigTree::parse_commands(drop22).unwrap_or_default();
        assert!(
            !allowed(Profile::V14, &tree, &probe(true)),
            "no state policy: the open session dies too"
        );
        let with_policy = format!(
            "{drop22}\nset firewall global-options state-policy established action 'accept'"
        );
        let tree = ConfigTree::parse_commands(&with_policy).unwrap_or_default();
        assert!(allowed(Profile::V14, &tree, &probe(true)));
        assert!(!allowed(Profile::V14, &tree, &probe(false)));
        let est_only = "set firewall ipv4 input filter default-action 'drop'\nset firewall ipv4 input filter rule 5 action 'accept'\nset firewall ipv4 input filter rule 5 state 'established'";
        let tree = ConfigTree::parse_commands(est_only).unwrap_or_default();
        assert!(allowed(Profile::V14, &tree, &probe(true)));
        assert!(!allowed(Profile::V14, &tree, &probe(false)));
    }

    #[test]
    fn input_filter() {
        use Profile::{V13, V14};
        let drop22 = "set firewall ipv4 input filter rule 10 action 'drop'\nset firewall ipv4 input filter rule 10 protocol 'tcp'\nset firewall ipv4 input filter rule 10 destination port '22'";
        check(V14, drop22, 22, false);
        check(V14, drop22, 443, true);
        check(
            V14,
            "set firewall ipv4 input filter default-action 'drop'",
            443,
            false,
        );
        check(
            V14,
            "set firewall ipv4 input filter default-action 'drop'\nset firewall ipv4 input filter rule 5 action 'accept'\nset firewall ipv4 input filter rule 5 source address '10.0.0.0/8'",
            443,
            false,
        );
        check(
            V14,
            "set firewall ipv4 input filter rule 5 action 'jump'\nset firewall ipv4 input filter rule 5 jump-target 'MGMT'\nset firewall ipv4 name MGMT rule 1 action 'drop'\nset firewall ipv4 name MGMT rule 1 destination port '22,443'\nset firewall ipv4 name MGMT rule 1 protocol 'tcp'",
            22,
            false,
        );
        check(
            V14,
            "set firewall ipv4 input filter rule 10 action 'drop'\nset firewall ipv4 input filter rule 10 state 'established'",
            22,
            true,
        );
        check(
            V13,
            "set interfaces ethernet eth0 firewall local name 'L'\nset firewall name L rule 1 action 'accept'\nset firewall name L rule 1 destination port '443'\nset firewall name L rule 1 protocol 'tcp'",
            22,
            false,
        );
        check(
            V13,
            "set interfaces ethernet eth0 firewall local name 'L'\nset firewall name L rule 1 action 'accept'\nset firewall name L rule 1 destination port '443'\nset firewall name L rule 1 protocol 'tcp'",
            443,
            true,
        );
    }
}
