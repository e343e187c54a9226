//! The slice of the VyOS schema the emulator knows at `set` time: which top-level nodes exist,
//! which paths are leafs (single or multi-value, or valueless), which nodes are tag nodes, the
//! profile-specific paths (§6.1 against §6.2, `commit-confirm action`, `api rest`) and the value
//! checks of a few leafs.
//!
//! Owns set-time path and value validation (reference §1.3, §3.2). Commit-time checks live in
//! `validate`. Paths below a known top-level node but outside the table are accepted
//! unvalidated, and a set there appends values (multi-value) because nothing says otherwise.
//! Must not touch trees.

use std::net::IpAddr;

use ipnet::IpNet;

use super::profile::Profile;
use crate::vyos::{ConfigTree, Node, SetMode, validate_value};

/// Why a `set` was refused. Rendered by the front ends in their own framing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    /// `Configuration path: [..] is not valid`; `bad` is the index of the first bad word.
    #[error("Configuration path: [{}] is not valid", .path.join(" "))]
    InvalidPath { path: Vec<String>, bad: usize },
    /// `Configuration path: [..] requires a value`.
    #[error("Configuration path: [{}] requires a value", .path.join(" "))]
    RequiresValue { path: Vec<String> },
    /// The validator's messages (then `Value validation failed`).
    #[error("{}", .messages.join("\n"))]
    BadValue { messages: Vec<String> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A leaf holding one value.
    Single,
    /// A multi-value leaf.
    Multi,
    /// A valueless leaf (`disable`).
    Flag,
}

type Check = fn(&str) -> Result<(), String>;
/// The fields of a rule: (path below the rule, kind, value check).
type Fields = &'static [(&'static str, Kind, Option<Check>)];

/// Which profiles an entry applies to.
#[derive(Debug, Clone, Copy)]
enum On {
    All,
    V13,
    UpTo14,
    V14Up,
    V15,
}

impl On {
    fn includes(self, p: Profile) -> bool {
        match self {
            On::All => true,
            On::V13 => p == Profile::V13,
            On::UpTo14 => p != Profile::V15,
            On::V14Up => p.is_1_4_plus(),
            On::V15 => p == Profile::V15,
        }
    }
}

/// Top-level nodes of the VyOS schema (all profiles; profile-specific ones below).
const TOP: &[&str] = &[
    "container",
    "firewall",
    "high-availability",
    "interfaces",
    "load-balancing",
    "nat",
    "nat64",
    "nat66",
    "netns",
    "pki",
    "policy",
    "protocols",
    "qos",
    "service",
    "system",
    "vpn",
    "vrf",
];
const TOP_13: &[&str] = &["cluster", "traffic-policy", "zone-policy"];

/// The children a few top-level nodes can have (interface types, NAT kinds).
const SECOND: &[(&str, &[&str])] = &[
    (
        "interfaces",
        &[
            "bonding",
            "bridge",
            "dummy",
            "ethernet",
            "geneve",
            "input",
            "l2tpv3",
            "loopback",
            "macsec",
            "openvpn",
            "pppoe",
            "pseudo-ethernet",
            "sstpc",
            "tunnel",
            "virtual-ethernet",
            "vti",
            "vxlan",
            "wireguard",
            "wireless",
            "wwan",
        ],
    ),
    ("nat", &["cgnat", "destination", "source", "static"]),
];

/// Paths that exist only in some profiles: the listed prefix is invalid elsewhere.
const GATED: &[(&str, On)] = &[
    ("firewall ipv4", On::V14Up),
    ("firewall ipv6", On::V14Up),
    ("firewall global-options", On::V14Up),
    ("firewall bridge", On::V14Up),
    ("firewall flowtable", On::V14Up),
    ("firewall zone", On::V14Up),
    ("firewall name", On::V13),
    ("firewall ipv6-name", On::V13),
    ("firewall all-ping", On::V13),
    ("firewall state-policy", On::V13),
    ("interfaces ethernet * firewall", On::V13),
    ("system config-management commit-confirm", On::V15),
    ("service https api rest", On::V15),
];

const RULE_FIELDS_14: Fields = &[
    ("action", Kind::Single, Some(fw_action)),
    ("description", Kind::Single, Some(description)),
    ("protocol", Kind::Single, Some(protocol)),
    ("jump-target", Kind::Single, None),
    ("disable", Kind::Flag, None),
    ("log", Kind::Flag, None),
    ("state", Kind::Multi, Some(fw_state)),
    ("destination port", Kind::Single, Some(port_spec)),
    ("destination address", Kind::Single, Some(address_spec)),
    ("source port", Kind::Single, Some(port_spec)),
    ("source address", Kind::Single, Some(address_spec)),
    ("inbound-interface name", Kind::Single, None),
    ("inbound-interface group", Kind::Single, None),
    ("outbound-interface name", Kind::Single, None),
    ("outbound-interface group", Kind::Single, None),
];

const RULE_FIELDS_13: Fields = &[
    ("action", Kind::Single, Some(fw_action_13)),
    ("description", Kind::Single, Some(description)),
    ("protocol", Kind::Single, Some(protocol)),
    ("disable", Kind::Flag, None),
    ("log", Kind::Single, Some(enable_disable)),
    ("state established", Kind::Single, Some(enable_disable)),
    ("state related", Kind::Single, Some(enable_disable)),
    ("state new", Kind::Single, Some(enable_disable)),
    ("state invalid", Kind::Single, Some(enable_disable)),
    ("destination port", Kind::Single, Some(port_spec)),
    ("destination address", Kind::Single, Some(address_spec)),
    ("source port", Kind::Single, Some(port_spec)),
    ("source address", Kind::Single, Some(address_spec)),
];

const NAT_FIELDS: Fields = &[
    ("description", Kind::Single, Some(description)),
    ("protocol", Kind::Single, Some(protocol)),
    ("exclude", Kind::Flag, None),
    ("log", Kind::Flag, None),
    ("disable", Kind::Flag, None),
    ("destination address", Kind::Single, Some(address_spec)),
    ("destination port", Kind::Single, Some(port_spec)),
    ("source address", Kind::Single, Some(address_spec)),
    ("source port", Kind::Single, Some(port_spec)),
    ("translation address", Kind::Single, None),
    ("translation port", Kind::Single, Some(port_spec)),
];

/// Rule nodes and the fields below them.
const RULE_PATTERNS: &[(&str, Fields, On)] = &[
    ("firewall ipv4 name * rule *", RULE_FIELDS_14, On::V14Up),
    ("firewall ipv4 * filter rule *", RULE_FIELDS_14, On::V14Up),
    ("firewall name * rule *", RULE_FIELDS_13, On::V13),
    ("nat source rule *", NAT_FIELDS, On::All),
    ("nat destination rule *", NAT_FIELDS, On::All),
];

/// Other leafs: (pattern, kind, check, profiles). `*` matches any one word.
const LEAFS: &[(&str, Kind, Option<Check>, On)] = &[
    (
        "firewall ipv4 name * default-action",
        Kind::Single,
        Some(fw_default_name),
        On::V14Up,
    ),
    (
        "firewall ipv4 name * default-log",
        Kind::Flag,
        None,
        On::V14Up,
    ),
    (
        "firewall ipv4 name * description",
        Kind::Single,
        Some(description),
        On::V14Up,
    ),
    (
        "firewall ipv4 * filter default-action",
        Kind::Single,
        Some(fw_default_base),
        On::V14Up,
    ),
    (
        "firewall name * default-action",
        Kind::Single,
        Some(fw_default_13),
        On::V13,
    ),
    (
        "firewall name * description",
        Kind::Single,
        Some(description),
        On::V13,
    ),
    (
        "interfaces ethernet * firewall in name",
        Kind::Single,
        None,
        On::V13,
    ),
    (
        "interfaces ethernet * firewall out name",
        Kind::Single,
        None,
        On::V13,
    ),
    (
        "interfaces ethernet * firewall local name",
        Kind::Single,
        None,
        On::V13,
    ),
    (
        "nat source rule * outbound-interface name",
        Kind::Single,
        None,
        On::V14Up,
    ),
    (
        "nat destination rule * inbound-interface name",
        Kind::Single,
        None,
        On::V14Up,
    ),
    (
        "nat source rule * outbound-interface",
        Kind::Single,
        None,
        On::V13,
    ),
    (
        "nat destination rule * inbound-interface",
        Kind::Single,
        None,
        On::V13,
    ),
    (
        "protocols static route * description",
        Kind::Single,
        Some(description),
        On::All,
    ),
    (
        "protocols static route * blackhole distance",
        Kind::Single,
        Some(distance),
        On::All,
    ),
    ("protocols static route * reject", Kind::Flag, None, On::All),
    (
        "protocols static route * next-hop * distance",
        Kind::Single,
        Some(distance),
        On::All,
    ),
    (
        "protocols static route * next-hop * interface",
        Kind::Single,
        None,
        On::All,
    ),
    (
        "protocols static route * next-hop * disable",
        Kind::Flag,
        None,
        On::All,
    ),
    (
        "protocols static route * interface * distance",
        Kind::Single,
        Some(distance),
        On::All,
    ),
    (
        "interfaces ethernet * address",
        Kind::Multi,
        Some(if_address),
        On::All,
    ),
    (
        "interfaces ethernet * description",
        Kind::Single,
        Some(description),
        On::All,
    ),
    (
        "interfaces ethernet * mtu",
        Kind::Single,
        Some(mtu),
        On::All,
    ),
    ("interfaces ethernet * disable", Kind::Flag, None, On::All),
    ("interfaces ethernet * hw-id", Kind::Single, None, On::All),
    (
        "interfaces ethernet * vif * address",
        Kind::Multi,
        Some(if_address),
        On::All,
    ),
    (
        "interfaces ethernet * vif * description",
        Kind::Single,
        Some(description),
        On::All,
    ),
    (
        "interfaces loopback * address",
        Kind::Multi,
        Some(if_address),
        On::All,
    ),
    (
        "interfaces loopback * description",
        Kind::Single,
        Some(description),
        On::All,
    ),
    ("system host-name", Kind::Single, Some(host_name), On::All),
    (
        "system login user * authentication plaintext-password",
        Kind::Single,
        None,
        On::All,
    ),
    (
        "system login user * authentication encrypted-password",
        Kind::Single,
        None,
        On::All,
    ),
    (
        "system login user * authentication public-keys * key",
        Kind::Single,
        None,
        On::All,
    ),
    (
        "system login user * authentication public-keys * type",
        Kind::Single,
        None,
        On::All,
    ),
    ("system login user * full-name", Kind::Single, None, On::All),
    ("system domain-name", Kind::Single, None, On::All),
    ("system name-server", Kind::Multi, None, On::All),
    ("system time-zone", Kind::Single, None, On::All),
    (
        "system config-management commit-revisions",
        Kind::Single,
        Some(revisions),
        On::All,
    ),
    (
        "system config-management commit-confirm action",
        Kind::Single,
        Some(reload_reboot),
        On::V15,
    ),
    ("service ssh port", Kind::Multi, Some(port_number), On::All),
    (
        "service https api keys id * key",
        Kind::Single,
        None,
        On::All,
    ),
    ("service https api strict", Kind::Flag, None, On::UpTo14),
    ("service https api rest strict", Kind::Flag, None, On::V15),
];

/// Tag nodes by pattern of their own path; the word after one is a tag value.
const TAGS: &[(&str, Option<Check>)] = &[
    ("firewall ipv4 name", None),
    ("firewall ipv4 name * rule", Some(rule_number)),
    ("firewall ipv4 * filter rule", Some(rule_number)),
    ("firewall name", None),
    ("firewall name * rule", Some(rule_number)),
    ("nat source rule", Some(rule_number)),
    ("nat destination rule", Some(rule_number)),
    ("protocols static route", Some(ipv4_prefix)),
    ("protocols static route6", Some(ipv6_prefix)),
    ("protocols static route6 * next-hop", Some(ipv6_address)),
    ("protocols static route * next-hop", Some(ipv4_address)),
    ("protocols static route * interface", None),
    ("interfaces ethernet", Some(ethernet_name)),
    ("interfaces ethernet * vif", None),
    ("interfaces loopback", Some(loopback_name)),
    ("service https api keys id", None),
    ("system login user", None),
    ("system login user * authentication public-keys", None),
];

fn matches(pattern: &str, words: &[String]) -> bool {
    let mut n = 0;
    for (p, w) in pattern.split(' ').zip(words) {
        if p != "*" && p != w {
            return false;
        }
        n += 1;
    }
    n == words.len() && pattern.split(' ').count() == n
}

/// The kind and value check of the leaf at `words`, if the table knows it.
fn leaf(profile: Profile, words: &[String]) -> Option<(Kind, Option<Check>)> {
    for (pat, kind, check, on) in LEAFS {
        if on.includes(profile) && matches(pat, words) {
            return Some((*kind, *check));
        }
    }
    // firewall and NAT rule fields.
    for (prefix, fields, on) in RULE_PATTERNS {
        let plen = prefix.split(' ').count();
        if !on.includes(profile) || words.len() <= plen || !matches(prefix, &words[..plen]) {
            continue;
        }
        let rest = words[plen..].join(" ");
        for (f, kind, check) in *fields {
            if *f == rest {
                return Some((*kind, *check));
            }
        }
    }
    None
}

/// What `set` should do, after the schema had its say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetPlan {
    pub path: Vec<String>,
    pub value: Option<String>,
    pub mode: SetMode,
    /// Indices of the path words that are tag nodes (for config.boot rendering).
    pub tags: Vec<usize>,
}

/// Checks a `set` and decides its value and mode. `value` is the quoted last word, if any; an
/// unquoted last word is taken as the value when the path before it is a known leaf.
pub fn plan_set(
    profile: Profile,
    path: &[String],
    value: Option<&str>,
) -> Result<SetPlan, SchemaError> {
    plan_set_in(profile, path, value, &ConfigTree::new(), false)
}

/// Whether the last word of a value-less `set`/`delete` is the leaf's value. The schema decides
/// where it knows the path (a leaf before the word: yes; a known node, valueless leaf or tag
/// instance: no); otherwise the working tree (a leaf with values there: yes; the whole path
/// exists: no); otherwise `default`. Configuration mode passes `default = true` when every word of the
/// line was quoted (as generated scripts write them), since quoting then says nothing.
pub fn last_word_is_value(
    profile: Profile,
    path: &[String],
    tree: &ConfigTree,
    default: bool,
) -> bool {
    let Some((_, init)) = path.split_last() else {
        return false;
    };
    if init.is_empty() {
        return false;
    }
    match leaf(profile, init) {
        Some((Kind::Single | Kind::Multi, _)) => return true,
        Some((Kind::Flag, _)) => return false,
        None => {}
    }
    if leaf(profile, path).is_some()
        || TAGS
            .iter()
            .any(|(pat, _)| matches(pat, init) || matches(pat, path))
        || known_node(profile, path)
    {
        return false;
    }
    if tree.values(init).is_some_and(|v| !v.is_empty()) {
        return true;
    }
    if tree.exists(path) || tree.get(init).is_some_and(|n| !n.children().is_empty()) {
        return false;
    }
    default
}

/// Whether `path` is a node on the way to something the table knows (`firewall ipv4 input
/// filter`, `nat source`, ...).
fn known_node(profile: Profile, path: &[String]) -> bool {
    let n = path.len();
    let prefix_of = |pat: &str| {
        let words: Vec<&str> = pat.split(' ').collect();
        words.len() > n
            && words[..n]
                .iter()
                .zip(path)
                .all(|(p, w)| *p == "*" || p == w)
    };
    LEAFS
        .iter()
        .any(|(pat, _, _, on)| on.includes(profile) && prefix_of(pat))
        || TAGS.iter().any(|(pat, _)| prefix_of(&format!("{pat} *")))
        || RULE_PATTERNS.iter().any(|(prefix, fields, on)| {
            on.includes(profile)
                && fields
                    .iter()
                    .any(|(f, _, _)| prefix_of(&format!("{prefix} {f}")))
        })
}

/// [`plan_set`] with the working tree and the default of [`last_word_is_value`].
pub fn plan_set_in(
    profile: Profile,
    path: &[String],
    value: Option<&str>,
    tree: &ConfigTree,
    default_value: bool,
) -> Result<SetPlan, SchemaError> {
    let mut path = path.to_vec();
    let mut value = value.map(str::to_owned);
    if value.is_none() && last_word_is_value(profile, &path, tree, default_value) {
        value = path.pop();
    }
    // A tag node or a known inner node takes no value: the word is the next path element
    // (the API's `value` and a quoted last word are joined to the path the same way, §5.2).
    if value.is_some()
        && leaf(profile, &path).is_none()
        && (TAGS.iter().any(|(pat, _)| matches(pat, &path)) || known_node(profile, &path))
    {
        path.extend(value.take());
    }
    check_path(profile, &path)?;
    check_words(&path)?;
    // Extra words after a leaf's value: `set system host-name a b` (the value may also come
    // separately, as the API's `value` field; both are joined the same way, §5.2).
    let full: Vec<String> = path.iter().cloned().chain(value.clone()).collect();
    if let Some(bad) = beyond_value(profile, &full) {
        return Err(SchemaError::InvalidPath {
            path: full[..=bad].to_vec(),
            bad,
        });
    }
    let known = leaf(profile, &path);
    let mode = match known {
        Some((Kind::Single, _)) => SetMode::Replace,
        _ => SetMode::Add,
    };
    match (known, &value) {
        (Some((Kind::Single | Kind::Multi, _)), None) => {
            return Err(SchemaError::RequiresValue { path });
        }
        (Some((Kind::Flag, _)), Some(_)) => {
            let bad = path.len();
            let mut full = path;
            full.extend(value);
            return Err(SchemaError::InvalidPath { path: full, bad });
        }
        _ => {}
    }
    if let Some(v) = &value {
        let mut messages = Vec::new();
        if let Err(m) = validate_value(v) {
            messages.push(m);
        } else if let Some((_, Some(check))) = known
            && let Err(m) = check(v)
        {
            messages.push(m);
        }
        if !messages.is_empty() {
            return Err(SchemaError::BadValue { messages });
        }
    }
    let tags = tag_values(&path)?;
    Ok(SetPlan {
        path,
        value,
        mode,
        tags,
    })
}

/// Checks a path for `delete` / `comment`: the same path rules as `set`, without values.
pub fn check_path(profile: Profile, path: &[String]) -> Result<(), SchemaError> {
    let invalid = |bad: usize| SchemaError::InvalidPath {
        path: path[..=bad].to_vec(),
        bad,
    };
    let Some(first) = path.first() else {
        return Err(SchemaError::InvalidPath {
            path: Vec::new(),
            bad: 0,
        });
    };
    let top_ok = TOP.contains(&first.as_str())
        || (profile == Profile::V13 && TOP_13.contains(&first.as_str()));
    if !top_ok {
        return Err(invalid(0));
    }
    if let Some(second) = path.get(1)
        && let Some((_, allowed)) = SECOND.iter().find(|(top, _)| top == first)
        && !allowed.contains(&second.as_str())
    {
        return Err(invalid(1));
    }
    for (pat, on) in GATED {
        let plen = pat.split(' ').count();
        if !on.includes(profile) && path.len() >= plen && matches(pat, &path[..plen]) {
            return Err(invalid(plen - 1));
        }
    }
    // Below a valueless leaf nothing can exist (1.4's `log enable` is the classic).
    for len in 1..path.len() {
        if let Some((Kind::Flag, _)) = leaf(profile, &path[..len]) {
            return Err(invalid(len));
        }
    }
    if let Some(bad) = beyond_value(profile, path) {
        return Err(invalid(bad));
    }
    Ok(())
}

/// The index of the first word after a known leaf's value (`system host-name a [b]`), if any:
/// a leaf holds values, never children.
fn beyond_value(profile: Profile, words: &[String]) -> Option<usize> {
    (1..words.len().saturating_sub(1)).find_map(|len| match leaf(profile, &words[..len]) {
        Some((Kind::Single | Kind::Multi, _)) => Some(len + 1),
        _ => None,
    })
}

/// Checks the words of a path (values excluded): a tag value may not hold whitespace nor a
/// character cstore refuses in values (§1.3, §3.2); any other word is a node name, which can
/// hold none of those nor braces (config.boot could not write it back).
pub fn check_words(path: &[String]) -> Result<(), SchemaError> {
    for (i, w) in path.iter().enumerate() {
        let tag_value = i > 0 && TAGS.iter().any(|(pat, _)| matches(pat, &path[..i]));
        if tag_value {
            if let Err(m) = validate_value(w) {
                return Err(SchemaError::BadValue { messages: vec![m] });
            }
            if w.is_empty() || w.chars().any(char::is_whitespace) {
                return Err(SchemaError::BadValue {
                    messages: vec!["Tag node value name must not contain whitespace".to_owned()],
                });
            }
        } else if w.is_empty()
            || w.chars()
                .any(|c| c.is_whitespace() || c.is_control() || "{}'\"".contains(c))
        {
            return Err(SchemaError::InvalidPath {
                path: path[..=i].to_vec(),
                bad: i,
            });
        }
    }
    Ok(())
}

/// The positions of tag nodes along `path`, checking each tag value that has a check.
fn tag_values(path: &[String]) -> Result<Vec<usize>, SchemaError> {
    let mut tags = Vec::new();
    for len in 1..path.len() {
        for (pat, check) in TAGS {
            if matches(pat, &path[..len]) {
                tags.push(len - 1);
                if let Some(check) = check
                    && let Err(m) = check(&path[len])
                {
                    return Err(SchemaError::BadValue { messages: vec![m] });
                }
            }
        }
    }
    Ok(tags)
}

/// Sets the `tag` flag on every known tag node of `tree` that has instances (so that
/// config.boot renders `ethernet eth0 {`); for trees built from `set` commands, which carry no
/// flags.
pub fn mark_tags(tree: &mut ConfigTree) {
    let mut paths = Vec::new();
    collect_tags(tree.root(), &mut Vec::new(), &mut paths);
    for p in paths {
        // The path was just read from the tree, so it exists.
        let _ = tree.set_tag(&p, true);
        let _ = tree.set_leaf(&p, false);
    }
}

fn collect_tags(node: &Node, path: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    for c in node.children() {
        path.push(c.name().to_owned());
        if !c.children().is_empty() && TAGS.iter().any(|(pat, _)| matches(pat, path)) {
            out.push(path.clone());
        }
        collect_tags(c, path, out);
        path.pop();
    }
}

fn one_of(v: &str, allowed: &[&str], what: &str) -> Result<(), String> {
    if allowed.contains(&v) {
        Ok(())
    } else {
        Err(format!("{what} must be one of: {}", allowed.join(", ")))
    }
}

fn fw_action(v: &str) -> Result<(), String> {
    one_of(
        v,
        &[
            "accept", "continue", "jump", "reject", "return", "drop", "queue", "offload",
            "synproxy",
        ],
        "Action",
    )
}

fn fw_action_13(v: &str) -> Result<(), String> {
    one_of(v, &["accept", "drop", "reject", "inspect"], "Action")
}

fn fw_default_name(v: &str) -> Result<(), String> {
    one_of(
        v,
        &["drop", "jump", "reject", "return", "accept", "continue"],
        "Default action",
    )
}

fn fw_default_base(v: &str) -> Result<(), String> {
    one_of(v, &["drop", "accept"], "Default action")
}

fn fw_default_13(v: &str) -> Result<(), String> {
    one_of(v, &["drop", "reject", "accept"], "Default action")
}

fn fw_state(v: &str) -> Result<(), String> {
    one_of(v, &["established", "invalid", "new", "related"], "State")
}

fn enable_disable(v: &str) -> Result<(), String> {
    one_of(v, &["enable", "disable"], "Value")
}

fn reload_reboot(v: &str) -> Result<(), String> {
    one_of(v, &["reload", "reboot"], "Action")
}

fn number_in(v: &str, lo: u64, hi: u64, what: &str) -> Result<(), String> {
    match v.parse::<u64>() {
        Ok(n) if (lo..=hi).contains(&n) => Ok(()),
        _ => Err(format!("{what} must be between {lo} and {hi}")),
    }
}

fn rule_number(v: &str) -> Result<(), String> {
    number_in(v, 1, 999_999, "Number")
}

fn distance(v: &str) -> Result<(), String> {
    number_in(v, 1, 255, "Distance")
}

fn mtu(v: &str) -> Result<(), String> {
    number_in(v, 68, 16_000, "MTU")
}

fn revisions(v: &str) -> Result<(), String> {
    number_in(v, 0, 65_535, "Number of revisions")
}

/// VyOS's description constraint (`generic-description.xml.i`): at most 256 characters.
fn description(v: &str) -> Result<(), String> {
    if v.chars().count() <= 256 {
        Ok(())
    } else {
        Err("Description too long (limit 256 characters)".to_owned())
    }
}

/// Protocol names of `/etc/protocols` as VyOS ships it, plus `all` and `tcp_udp`.
const PROTOCOLS: &[&str] = &[
    "all",
    "tcp_udp",
    "ip",
    "hopopt",
    "icmp",
    "igmp",
    "ggp",
    "ipencap",
    "st",
    "tcp",
    "egp",
    "igp",
    "pup",
    "udp",
    "hmp",
    "xns-idp",
    "rdp",
    "iso-tp4",
    "dccp",
    "xtp",
    "ddp",
    "idpr-cmtp",
    "ipv6",
    "ipv6-route",
    "ipv6-frag",
    "idrp",
    "rsvp",
    "gre",
    "esp",
    "ah",
    "skip",
    "ipv6-icmp",
    "ipv6-nonxt",
    "ipv6-opts",
    "rspf",
    "vmtp",
    "eigrp",
    "ospf",
    "ax.25",
    "ipip",
    "etherip",
    "encap",
    "pim",
    "ipcomp",
    "vrrp",
    "l2tp",
    "isis",
    "sctp",
    "fc",
    "mobility-header",
    "udplite",
    "mpls-in-ip",
    "manet",
    "hip",
    "shim6",
    "wesp",
    "rohc",
    "ethernet",
];

/// A protocol name or number (0-255), optionally negated with `!`.
fn protocol(v: &str) -> Result<(), String> {
    let p = v.strip_prefix('!').unwrap_or(v);
    if PROTOCOLS.contains(&p) || p.parse::<u8>().is_ok() {
        Ok(())
    } else {
        Err(format!(
            "Invalid protocol \"{v}\": not a name of /etc/protocols, tcp_udp, all or a number 0-255"
        ))
    }
}

fn port_number(v: &str) -> Result<(), String> {
    number_in(v, 1, 65_535, "Port number")
}

/// A port, a name, a range `a-b`, or a comma list of those (§6.2).
fn port_spec(v: &str) -> Result<(), String> {
    let ok = !v.is_empty()
        && v.split(',').all(|part| {
            let part = part.strip_prefix('!').unwrap_or(part);
            let num = |s: &str| s.parse::<u16>().ok().filter(|n| *n > 0);
            // A service name of /etc/services: it starts with a letter (so `65536` is no name).
            let name_ok = |s: &str| {
                s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                    && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            };
            match part.split_once('-') {
                Some((a, b)) if num(a).is_some() || num(b).is_some() => {
                    matches!((num(a), num(b)), (Some(a), Some(b)) if a <= b)
                }
                _ => num(part).is_some() || name_ok(part),
            }
        });
    if ok {
        Ok(())
    } else {
        Err(format!("Invalid port \"{v}\""))
    }
}

/// An address, a prefix or a range `a-b`, optionally negated with `!`.
fn address_spec(v: &str) -> Result<(), String> {
    let s = v.strip_prefix('!').unwrap_or(v);
    let ok = s.parse::<IpAddr>().is_ok()
        || s.parse::<IpNet>().is_ok()
        || s.split_once('-')
            .is_some_and(|(a, b)| a.parse::<IpAddr>().is_ok() && b.parse::<IpAddr>().is_ok());
    if ok {
        Ok(())
    } else {
        Err(format!("Invalid address \"{v}\""))
    }
}

fn if_address(v: &str) -> Result<(), String> {
    if matches!(v, "dhcp" | "dhcpv6") || v.parse::<IpNet>().is_ok() {
        Ok(())
    } else {
        Err(format!(
            "Invalid IP address \"{v}\": must be an address/prefix, dhcp or dhcpv6"
        ))
    }
}

fn ipv4_prefix(v: &str) -> Result<(), String> {
    match v.parse::<ipnet::Ipv4Net>() {
        Ok(n) if n.trunc() == n => Ok(()),
        Ok(_) => Err(format!("\"{v}\" is not a valid IPv4 prefix: host bits set")),
        Err(_) => Err(format!("\"{v}\" is not a valid IPv4 prefix")),
    }
}

fn ipv4_address(v: &str) -> Result<(), String> {
    match v.parse::<std::net::Ipv4Addr>() {
        Ok(_) => Ok(()),
        Err(_) => Err(format!("\"{v}\" is not a valid IPv4 address")),
    }
}

fn ipv6_prefix(v: &str) -> Result<(), String> {
    match v.parse::<ipnet::Ipv6Net>() {
        Ok(n) if n.trunc() == n => Ok(()),
        Ok(_) => Err(format!("\"{v}\" is not a valid IPv6 prefix: host bits set")),
        Err(_) => Err(format!("\"{v}\" is not a valid IPv6 prefix")),
    }
}

fn ipv6_address(v: &str) -> Result<(), String> {
    match v.parse::<std::net::Ipv6Addr>() {
        Ok(_) => Ok(()),
        Err(_) => Err(format!("\"{v}\" is not a valid IPv6 address")),
    }
}

fn ethernet_name(v: &str) -> Result<(), String> {
    let ok = v
        .strip_prefix("eth")
        .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
    if ok {
        Ok(())
    } else {
        Err("Invalid Ethernet interface name, must be of type ethN".to_owned())
    }
}

fn loopback_name(v: &str) -> Result<(), String> {
    if v == "lo" {
        Ok(())
    } else {
        Err("Loopback interface must be named lo".to_owned())
    }
}

fn host_name(v: &str) -> Result<(), String> {
    let ok = !v.is_empty()
        && v.len() <= 63
        && v.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    if ok {
        Ok(())
    } else {
        Err("Invalid host name".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split(' ').map(str::to_owned).collect()
    }

    fn check(profile: Profile, path: &str, value: Option<&str>, expected: Result<&str, &str>) {
        let got = plan_set(profile, &words(path), value);
        match (got, expected) {
            (Ok(plan), Ok(exp)) => {
                let shown = format!("{} = {:?} {:?}", plan.path.join(" "), plan.value, plan.mode);
                assert_eq!(shown, exp, "{path}");
            }
            (Err(e), Err(exp)) => assert_eq!(e.to_string(), exp, "{path}"),
            (got, exp) => panic!("{path}: got {got:?}, expected {exp:?}"),
        }
    }

    #[test]
    fn set_time_schema() {
        use Profile::*;
        check(
            V14,
            "system host-name r1",
            None,
            Ok("system host-name = Some(\"r1\") Replace"),
        );
        check(
            V14,
            "system host-name",
            Some("r1"),
            Ok("system host-name = Some(\"r1\") Replace"),
        );
        check(
            V14,
            "interfaces ethernet eth0 address",
            Some("192.0.2.1/24"),
            Ok("interfaces ethernet eth0 address = Some(\"192.0.2.1/24\") Add"),
        );
        check(
            V14,
            "foo bar",
            None,
            Err("Configuration path: [foo] is not valid"),
        );
        check(
            V13,
            "firewall ipv4 name X",
            None,
            Err("Configuration path: [firewall ipv4] is not valid"),
        );
        check(
            V14,
            "firewall name X",
            None,
            Err("Configuration path: [firewall name] is not valid"),
        );
        check(
            V14,
            "firewall ipv4 name X rule 10 log enable",
            None,
            Err("Configuration path: [firewall ipv4 name X rule 10 log enable] is not valid"),
        );
        check(
            V14,
            "system host-name",
            None,
            Err("Configuration path: [system host-name] requires a value"),
        );
        check(
            V14,
            "firewall ipv4 name X rule 0 action",
            Some("drop"),
            Err("Number must be between 1 and 999999"),
        );
        check(
            V14,
            "system host-name",
            Some("a b"),
            Err("Invalid host name"),
        );
        check(
            V14,
            "system domain-name",
            Some("it's"),
            Err("Cannot use the single quote (') character in a value string"),
        );
        check(
            V14,
            "system config-management commit-confirm action",
            Some("reload"),
            Err("Configuration path: [system config-management commit-confirm] is not valid"),
        );
        check(
            V15,
            "system config-management commit-confirm action",
            Some("reload"),
            Ok("system config-management commit-confirm action = Some(\"reload\") Replace"),
        );
        check(V14, "service lldp", None, Ok("service lldp = None Add"));
        check(
            V14,
            "system host-name a b",
            None,
            Err("Configuration path: [system host-name a b] is not valid"),
        );
        check(
            V14,
            "system host-name a",
            Some("b"),
            Err("Configuration path: [system host-name a b] is not valid"),
        );
        check(
            V14,
            "interfaces ethernet eth0 address 192.0.2.9/24 x y",
            None,
            Err(
                "Configuration path: [interfaces ethernet eth0 address 192.0.2.9/24 x] is not valid",
            ),
        );
        // Every word quoted (generated scripts): the schema, then the tree, then the default.
        let t = ConfigTree::new();
        let split = |p: &str, d: bool| last_word_is_value(V14, &words(p), &t, d);
        assert!(split("system host-name r1", false));
        assert!(!split("interfaces loopback lo", true));
        assert!(!split("firewall ipv4 input filter", true));
        assert!(!split("firewall ipv4 name WAN", true));
        assert!(!split("firewall ipv4 name WAN rule 10", true));
        assert!(!split("interfaces ethernet eth0 disable", true));
        assert!(split("service lldp interface eth0 mode", true));
        assert!(!split("service lldp", false));
    }
}
