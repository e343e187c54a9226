//! Typed scalar values of the desired state: names, addresses, prefixes, ports, protocols, rule
//! numbers, interfaces, durations, secret references and pins.
//!
//! Owns: the rules each value must obey, and one error message per rule. Every type here is
//! checked once, when decoded, so the rest of the program never sees a bad value. A value that
//! VyOS cannot store (`'`, `"`, newline, control characters: reference/vyos.md §1.3) never gets
//! past [`check_device_text`]. Must not know about files or cross-file rules.

use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

use ipnet::IpNet;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Serialize, Serializer};

use super::decode::{Decode, Decoder, FieldPath, int_in};
use crate::yaml::Node;

/// Why VyOS could not hold `s` as a value, in VyOS's own words where it has them.
pub fn check_device_text(s: &str) -> Result<(), String> {
    if s.contains('"') {
        return Err("Cannot use the double quote (\") character in a value string".into());
    }
    if s.contains('\'') {
        return Err("Cannot use the single quote (') character in a value string".into());
    }
    if s.contains('\n') || s.contains('\r') {
        return Err("Cannot use a newline character in a value string".into());
    }
    if let Some(c) = s.chars().find(|c| c.is_control()) {
        return Err(format!(
            "Cannot use the control character U+{:04X} in a value string",
            c as u32
        ));
    }
    Ok(())
}

/// Implements Serialize (via Display), Decode (via FromStr, accepting YAML scalars) and a string
/// JsonSchema for a type whose text form is its YAML form.
macro_rules! via_text {
    ($name:ident, $schema_name:literal, $schema:expr) => {
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl Decode for $name {
            fn decode(d: &mut Decoder, node: &Node, path: &FieldPath) -> Option<Self> {
                let raw = String::decode(d, node, path)?;
                match raw.parse() {
                    Ok(v) => Some(v),
                    Err(msg) => {
                        d.error(node.pos, path, msg);
                        None
                    }
                }
            }
        }
        impl JsonSchema for $name {
            fn schema_name() -> Cow<'static, str> {
                $schema_name.into()
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                $schema
            }
        }
    };
}

/// Defines a validated, string-backed value type: decode + Display + Serialize + JsonSchema.
macro_rules! text_type {
    ($(#[$doc:meta])* $name:ident, $schema_name:literal, $pattern:expr, $check:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                let check: fn(&str) -> Result<(), String> = $check;
                check(s).map(|()| $name(s.to_string()))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        via_text!($name, $schema_name, match Option::<&str>::from($pattern) {
            Some(p) => json_schema!({"type": "string", "pattern": p}),
            None => json_schema!({"type": "string"}),
        });
    };
}

/// Defines a text type whose whole rule is a regular expression: the same pattern validates the
/// value and goes into the JSON Schema, so the two cannot drift apart.
macro_rules! pattern_type {
    ($(#[$doc:meta])* $name:ident, $schema_name:literal, $pattern:literal, $what:literal) => {
        text_type!($(#[$doc])* $name, $schema_name, Some($pattern), |s| {
            static RE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
                regex::Regex::new($pattern).expect("invariant: the pattern of a value type is a valid regex")
            });
            if RE.is_match(s) { Ok(()) } else { Err(format!(concat!("`{}` is not ", $what), s)) }
        });
    };
}

pattern_type!(
    /// An appliance or policy name: a DNS label.
    Name, "Name", "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$",
    "a DNS label (1-63 characters of a-z, 0-9 and `-`, not starting or ending with `-`)"
);

pattern_type!(
    /// A dictionary name such as `vyos-1.4` or `pfsense-2.7`.
    DictionaryName, "DictionaryName", "^[a-z0-9][a-z0-9.-]{0,63}$",
    "a dictionary name (like `vyos-1.4`: a-z, 0-9, `.` and `-`)"
);

pattern_type!(
    /// A firewall rule-set name as VyOS accepts it.
    RuleSetName, "RuleSetName", "^[A-Za-z0-9_][A-Za-z0-9_-]{0,27}$",
    "a rule-set name (1-28 of A-Z, a-z, 0-9, `_`, `-`)"
);

pattern_type!(
    /// A stable rule key, unique within its rule set: what git history follows when numbers change.
    RuleId, "RuleId", "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
    "a rule id (1-64 of A-Z, a-z, 0-9, `_`, `.`, `-`)"
);

pattern_type!(
    /// A network interface name (Linux: at most 15 bytes) such as `eth0`, `eth0.10`, `bond1`.
    Interface, "Interface", "^[A-Za-z][A-Za-z0-9._-]{0,14}$",
    "an interface name (a letter, then up to 14 of A-Z, a-z, 0-9, `.`, `_`, `-`)"
);

text_type!(
    /// Free text that ends up on a device (descriptions): at most 255 characters, and nothing VyOS
    /// cannot hold in a value.
    Text, "Text", Some("^[^\"'\\n\\r]{0,255}$"),
    |s| {
        if s.chars().count() > 255 {
            return Err("text longer than 255 characters".into());
        }
        check_device_text(s)
    }
);

pattern_type!(
    /// An address-group name (a firewall group on the device).
    GroupName, "GroupName", "^[A-Za-z0-9_][A-Za-z0-9_-]{0,30}$",
    "a group name (1-31 of A-Z, a-z, 0-9, `_`, `-`)"
);

text_type!(
    /// A host to connect to: an IP address or a DNS name.
    Host, "Host", None,
    |s| {
        if s.parse::<IpAddr>().is_ok() {
            return Ok(());
        }
        let ok = !s.is_empty()
            && s.len() <= 253
            && s.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    && !l.starts_with('-')
                    && !l.ends_with('-')
            });
        if ok { Ok(()) } else { Err(format!("`{s}` is neither an IP address nor a DNS name")) }
    }
);

text_type!(
    /// A pinned SSH host key: `ssh-ed25519 AAAA…` (the public key as in known_hosts) or an OpenSSH
    /// fingerprint `SHA256:…`.
    HostKeyPin, "HostKeyPin", Some("^(SHA256:[A-Za-z0-9+/]{43}=?|(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/]+=*)$"),
    |s| {
        let b64 = |t: &str| !t.is_empty() && t.trim_end_matches('=').bytes().all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/');
        if let Some(fp) = s.strip_prefix("SHA256:") {
            if fp.trim_end_matches('=').len() == 43 && b64(fp) {
                return Ok(());
            }
        } else if let Some((alg, key)) = s.split_once(' ') {
            let algs = ["ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521"];
            if algs.contains(&alg) && b64(key) {
                return Ok(());
            }
        }
        Err(format!("`{s}` is not a host-key pin (`ssh-ed25519 AAAA…` or `SHA256:<43 base64 characters>`)"))
    }
);

text_type!(
    /// A pinned TLS certificate: `sha256:` and 64 hex digits (colons allowed between bytes).
    CertFingerprint, "CertFingerprint", Some("^sha256:([0-9A-Fa-f]{2}:?){32}$"),
    |s| {
        let hex: String = s.strip_prefix("sha256:").unwrap_or("").chars().filter(|c| *c != ':').collect();
        if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(())
        } else {
            Err(format!("`{s}` is not a certificate fingerprint (`sha256:` and 64 hex digits)"))
        }
    }
);

text_type!(
    /// The command of a `command` health probe: an operational `show …` command of plain words
    /// (letters, digits and `. _ : / @ + , = -`, one space apart), so that a probe runs only
    /// what it says: no `;`, pipes, quotes, substitutions or `configure`.
    ProbeCommand, "ProbeCommand", Some("^show( [A-Za-z0-9._:/@+,=-]+)+$"),
    |s| {
        let plain = |w: &str| {
            !w.is_empty()
                && w.bytes().all(|b| {
                    b.is_ascii_alphanumeric()
                        || matches!(b, b'.' | b'_' | b':' | b'/' | b'@' | b'+' | b',' | b'=' | b'-')
                })
        };
        let shown = s.replace('\n', "\\n").replace('\r', "\\r");
        if let Some(c) = s.chars().find(|c| !(c.is_ascii_alphanumeric() || " ._:/@+,=-".contains(*c))) {
            return Err(format!(
                "`{shown}` holds {}: a probe command is plain words (letters, digits and . _ : / @ + , = -)",
                match c {
                    '\n' => "a newline".to_string(),
                    '\r' => "a carriage return".to_string(),
                    '\t' => "a tab".to_string(),
                    '`' => "a backtick".to_string(),
                    c if c.is_control() => format!("the control character U+{:04X}", c as u32),
                    c => format!("`{c}`"),
                }
            ));
        }
        let words: Vec<&str> = s.split(' ').collect();
        if words.first() != Some(&"show") || words.len() < 2 {
            return Err(format!(
                "`{shown}` is not an operational `show …` command (a probe only reads, like `show version`)"
            ));
        }
        if !words.iter().all(|w| plain(w)) {
            return Err(format!("`{shown}`: words are one space apart, without leading or trailing spaces"));
        }
        if words.contains(&"configure") {
            return Err(format!("`{shown}`: a probe may not enter configuration mode"));
        }
        Ok(())
    }
);

pattern_type!(
    /// A label key (`site`, `tenant`, `team.example/owner`).
    LabelKey, "LabelKey", "^[a-z0-9][a-z0-9_./-]{0,62}$",
    "a label key (a-z, 0-9, `_`, `.`, `/`, `-`; at most 63)"
);

/// A credential, by reference only: `env:NAME`, `file:/absolute/path` or `credential:NAME`
/// (systemd `LoadCredential=`). Literal secrets are refused.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SecretRef {
    Env(String),
    File(String),
    Credential(String),
}

impl FromStr for SecretRef {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let ident = |n: &str| {
            !n.is_empty()
                && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                && !n.as_bytes()[0].is_ascii_digit()
        };
        if let Some(n) = s.strip_prefix("env:") {
            if ident(n) {
                return Ok(SecretRef::Env(n.to_string()));
            }
            return Err(format!(
                "`env:{n}` does not name an environment variable (A-Z, a-z, 0-9, `_`)"
            ));
        }
        if let Some(p) = s.strip_prefix("file:") {
            if p.starts_with('/') && !p.contains('\0') && !p.split('/').any(|c| c == "..") {
                return Ok(SecretRef::File(p.to_string()));
            }
            return Err(format!("`file:{p}` must be an absolute path without `..`"));
        }
        if let Some(n) = s.strip_prefix("credential:") {
            if !n.is_empty()
                && n.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
            {
                return Ok(SecretRef::Credential(n.to_string()));
            }
            return Err(format!(
                "`credential:{n}` does not name a systemd credential"
            ));
        }
        Err("credentials are given by reference (`env:NAME`, `file:/path` or `credential:NAME`), never as literal values".into())
    }
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretRef::Env(n) => write!(f, "env:{n}"),
            SecretRef::File(p) => write!(f, "file:{p}"),
            SecretRef::Credential(n) => write!(f, "credential:{n}"),
        }
    }
}

via_text!(
    SecretRef,
    "SecretRef",
    json_schema!({"type": "string", "pattern": "^(env:[A-Za-z_][A-Za-z0-9_]*|file:/.+|credential:[A-Za-z0-9_.-]+)$"})
);

/// An IPv4 or IPv6 address family.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    #[default]
    Ipv4,
    Ipv6,
}

impl Family {
    pub fn of(addr: &IpAddr) -> Family {
        if addr.is_ipv4() {
            Family::Ipv4
        } else {
            Family::Ipv6
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Ipv4 => "ipv4",
            Family::Ipv6 => "ipv6",
        }
    }
}

impl Decode for Family {
    fn decode(d: &mut Decoder, node: &Node, path: &FieldPath) -> Option<Self> {
        match d.choice(node, path, &["ipv4", "ipv6"])? {
            "ipv4" => Some(Family::Ipv4),
            _ => Some(Family::Ipv6),
        }
    }
}

/// An IP address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Address(pub IpAddr);

impl FromStr for Address {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        s.parse()
            .map(Address)
            .map_err(|_| format!("`{s}` is not an IPv4 or IPv6 address"))
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

via_text!(
    Address,
    "Address",
    json_schema!({"type": "string", "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}]})
);

impl Address {
    /// Why this address cannot be the next hop of a route to `prefix`: the unspecified
    /// address, broadcast, multicast and loopback are no gateway, and a host route whose next
    /// hop is the host itself resolves through itself.
    pub fn next_hop_problem(&self, prefix: &Prefix) -> Option<String> {
        let ip = self.0;
        let what = if ip.is_unspecified() {
            Some("the unspecified address")
        } else if ip == IpAddr::V4(std::net::Ipv4Addr::BROADCAST) {
            Some("the broadcast address")
        } else if ip.is_multicast() {
            Some("a multicast address")
        } else if ip.is_loopback() {
            Some("a loopback address")
        } else {
            None
        };
        if let Some(w) = what {
            return Some(format!("next hop {ip} is {w}, which cannot be a gateway"));
        }
        let host = prefix.0.prefix_len() == prefix.0.max_prefix_len();
        if host && prefix.0.addr() == ip {
            return Some(format!(
                "next hop {ip} is the host {prefix} routes to; a route cannot go through its own destination"
            ));
        }
        None
    }
}

/// A network prefix (`192.0.2.0/24`, `2001:db8::/32`), with no host bits set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Prefix(pub IpNet);

impl Prefix {
    pub fn family(&self) -> Family {
        Family::of(&self.0.addr())
    }
}

impl FromStr for Prefix {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let net: IpNet = s.parse().map_err(|_| {
            format!("`{s}` is not a prefix (like `192.0.2.0/24` or `2001:db8::/32`)")
        })?;
        if net.addr() != net.network() {
            return Err(format!(
                "`{s}` has host bits set; the network is `{}`",
                net.trunc()
            ));
        }
        Ok(Prefix(net))
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

via_text!(
    Prefix,
    "Prefix",
    json_schema!({"type": "string", "pattern": "^[0-9A-Fa-f:.]+/[0-9]{1,3}$"})
);

/// What an address field of a rule matches: an address, a prefix or an inclusive range, optionally
/// negated with a leading `!` (as VyOS writes it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AddressMatch {
    pub negated: bool,
    pub kind: AddressKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AddressKind {
    Address(IpAddr),
    Prefix(IpNet),
    Range(IpAddr, IpAddr),
}

impl AddressMatch {
    pub fn family(&self) -> Family {
        match self.kind {
            AddressKind::Address(a) | AddressKind::Range(a, _) => Family::of(&a),
            AddressKind::Prefix(p) => Family::of(&p.addr()),
        }
    }
}

impl FromStr for AddressMatch {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (negated, body) = match s.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let kind = if body.contains('/') {
            AddressKind::Prefix(body.parse::<Prefix>()?.0)
        } else if let Some((a, b)) = body.split_once('-') {
            let (a, b) = match (a.parse::<IpAddr>(), b.parse::<IpAddr>()) {
                (Ok(a), Ok(b)) => (a, b),
                _ => {
                    return Err(format!(
                        "`{s}` is not an address range (like `192.0.2.10-192.0.2.20`)"
                    ));
                }
            };
            if a.is_ipv4() != b.is_ipv4() {
                return Err(format!("`{s}` mixes IPv4 and IPv6"));
            }
            if a > b {
                return Err(format!("`{s}` is an empty range: {a} comes after {b}"));
            }
            AddressKind::Range(a, b)
        } else {
            AddressKind::Address(
                body.parse::<Address>()
                    .map_err(|_| format!("`{s}` is not an address, prefix or range"))?
                    .0,
            )
        };
        Ok(AddressMatch { negated, kind })
    }
}

impl fmt::Display for AddressMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.negated {
            f.write_str("!")?;
        }
        match self.kind {
            AddressKind::Address(a) => write!(f, "{a}"),
            AddressKind::Prefix(p) => write!(f, "{p}"),
            AddressKind::Range(a, b) => write!(f, "{a}-{b}"),
        }
    }
}

via_text!(
    AddressMatch,
    "AddressMatch",
    json_schema!({"type": "string", "description": "an address, a prefix or a range a-b, optionally negated with a leading !"})
);

/// A TCP/UDP port, 1-65535.
pub fn port(d: &mut Decoder, node: &Node, path: &FieldPath) -> Option<u16> {
    int_in(d, node, path, 1, 65535, "port").and_then(|n| u16::try_from(n).ok())
}

/// A port number, 1-65535.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Port(pub u16);

impl Decode for Port {
    fn decode(d: &mut Decoder, node: &Node, path: &FieldPath) -> Option<Self> {
        port(d, node, path).map(Port)
    }
}

impl JsonSchema for Port {
    fn schema_name() -> Cow<'static, str> {
        "Port".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "integer", "minimum": 1, "maximum": 65535})
    }
}

/// Ports matched by a rule: one port, a range `a-b`, or a list of ports and ranges.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PortSpec(pub Vec<(u16, u16)>);

impl PortSpec {
    fn parse_item(s: &str) -> Result<(u16, u16), String> {
        let num = |t: &str| -> Result<u16, String> {
            let n: u64 = t
                .trim()
                .parse()
                .map_err(|_| format!("`{t}` is not a port number"))?;
            if (1..=65535).contains(&n) {
                Ok(n as u16)
            } else {
                Err(format!("port {n} is out of range 1-65535"))
            }
        };
        match s.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (num(a)?, num(b)?);
                if a > b {
                    return Err(format!("port range `{s}` is empty: {a} comes after {b}"));
                }
                Ok((a, b))
            }
            None => num(s).map(|p| (p, p)),
        }
    }

    fn item_text(&(a, b): &(u16, u16)) -> String {
        if a == b {
            a.to_string()
        } else {
            format!("{a}-{b}")
        }
    }
}

impl fmt::Display for PortSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(Self::item_text).collect();
        f.write_str(&parts.join(","))
    }
}

impl Serialize for PortSpec {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0.as_slice() {
            [(a, b)] if a == b => s.serialize_u16(*a),
            [one] => s.serialize_str(&Self::item_text(one)),
            many => s.collect_seq(many.iter().map(Self::item_text)),
        }
    }
}

impl Decode for PortSpec {
    fn decode(d: &mut Decoder, node: &Node, path: &FieldPath) -> Option<Self> {
        use crate::yaml::Value;
        let mut items = Vec::new();
        let mut ok = true;
        let one = |d: &mut Decoder, n: &Node, p: &FieldPath, items: &mut Vec<(u16, u16)>| match &n
            .value
        {
            Value::Int(_) => match port(d, n, p) {
                Some(x) => {
                    items.push((x, x));
                    true
                }
                None => false,
            },
            Value::Str(s) => {
                let mut good = true;
                for part in s.split(',') {
                    match Self::parse_item(part) {
                        Ok(r) => items.push(r),
                        Err(m) => {
                            d.error(n.pos, p, m);
                            good = false;
                        }
                    }
                }
                good
            }
            other => {
                d.error(
                    n.pos,
                    p,
                    format!(
                        "expected a port, a range `a-b` or a list, found {}",
                        other.kind()
                    ),
                );
                false
            }
        };
        match &node.value {
            Value::Seq(list) => {
                if list.is_empty() {
                    d.error(node.pos, path, "empty port list");
                    return None;
                }
                for (i, n) in list.iter().enumerate() {
                    ok &= one(d, n, &path.index(i), &mut items);
                }
            }
            _ => ok = one(d, node, path, &mut items),
        }
        ok.then_some(PortSpec(items))
    }
}

impl JsonSchema for PortSpec {
    fn schema_name() -> Cow<'static, str> {
        "PortSpec".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "a port, a range `a-b`, a comma list, or a list of those",
            "anyOf": [
                {"type": "integer", "minimum": 1, "maximum": 65535},
                {"type": "string", "pattern": "^[0-9]{1,5}(-[0-9]{1,5})?(,[0-9]{1,5}(-[0-9]{1,5})?)*$"},
                {"type": "array", "minItems": 1, "items": {"anyOf": [
                    {"type": "integer", "minimum": 1, "maximum": 65535},
                    {"type": "string", "pattern": "^[0-9]{1,5}(-[0-9]{1,5})?$"}
                ]}}
            ]
        })
    }
}

/// A firewall or NAT rule number, 1-999999 (VyOS's range).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct RuleNumber(pub u32);

impl Decode for RuleNumber {
    fn decode(d: &mut Decoder, node: &Node, path: &FieldPath) -> Option<Self> {
        int_in(d, node, path, 1, 999_999, "rule number").map(|n| RuleNumber(n as u32))
    }
}

impl JsonSchema for RuleNumber {
    fn schema_name() -> Cow<'static, str> {
        "RuleNumber".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "integer", "minimum": 1, "maximum": 999999})
    }
}

/// A span of time written as `500ms`, `30s`, `5m` or `1h`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span(pub Duration);

impl FromStr for Span {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (num, unit) = s.split_at(split);
        let n: u64 = num
            .parse()
            .map_err(|_| format!("`{s}` is not a duration (like `500ms`, `30s`, `5m`, `1h`)"))?;
        let d = match unit {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n.saturating_mul(60)),
            "h" => Duration::from_secs(n.saturating_mul(3600)),
            _ => {
                return Err(format!(
                    "`{s}` is not a duration (like `500ms`, `30s`, `5m`, `1h`)"
                ));
            }
        };
        Ok(Span(d))
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if ms.is_multiple_of(3_600_000) && ms > 0 {
            write!(f, "{}h", ms / 3_600_000)
        } else if ms.is_multiple_of(60_000) && ms > 0 {
            write!(f, "{}m", ms / 60_000)
        } else if ms.is_multiple_of(1000) {
            write!(f, "{}s", ms / 1000)
        } else {
            write!(f, "{ms}ms")
        }
    }
}

via_text!(
    Span,
    "Duration",
    json_schema!({"type": "string", "pattern": "^[0-9]+(ms|s|m|h)$"})
);

impl Span {
    /// Decode a span and check it lies in `min..=max`.
    pub fn decode_in(
        d: &mut Decoder,
        node: &Node,
        path: &FieldPath,
        min: Duration,
        max: Duration,
    ) -> Option<Span> {
        let s = Span::decode(d, node, path)?;
        if s.0 < min || s.0 > max {
            d.error(
                node.pos,
                path,
                format!("{s} is out of range {}-{}", Span(min), Span(max)),
            );
            return None;
        }
        Some(s)
    }
}

/// A path of words on the device (`firewall ipv4 name WAN-IN`, `nat destination`): what an
/// appliance owns. Matching is word-wise: `nat destination` owns `nat destination rule 10`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ScopePath(Vec<String>);

impl ScopePath {
    pub fn words(&self) -> &[String] {
        &self.0
    }

    /// Whether `path` lies inside this scope (is equal to it or below it).
    pub fn contains(&self, path: &[String]) -> bool {
        path.len() >= self.0.len() && self.0.iter().zip(path).all(|(a, b)| a == b)
    }
}

impl FromStr for ScopePath {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let words: Vec<String> = s.split_whitespace().map(str::to_string).collect();
        if words.is_empty() {
            return Err("an owned scope must name at least one path word".into());
        }
        for w in &words {
            check_device_text(w).map_err(|m| format!("scope word `{w}`: {m}"))?;
            if w.contains(['{', '}']) {
                return Err(format!("scope word `{w}` may not contain `{{` or `}}`"));
            }
        }
        Ok(ScopePath(words))
    }
}

impl fmt::Display for ScopePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(" "))
    }
}

via_text!(
    ScopePath,
    "ScopePath",
    json_schema!({"type": "string", "minLength": 1})
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml;

    /// Decode `text` as `T` at field `f`; Ok(display) or Err(first message).
    fn check<T: Decode + fmt::Debug>(text: &str) -> Result<T, String> {
        let node = yaml::parse(text).expect("yaml");
        let mut d = Decoder::new("t.yaml");
        let v = T::decode(&mut d, &node, &FieldPath::root().key("f"));
        let diags = d.into_diagnostics();
        match v {
            Some(v) if diags.is_empty() => Ok(v),
            _ => Err(diags
                .iter()
                .map(|d| d.message.clone())
                .collect::<Vec<_>>()
                .join(" | ")),
        }
    }

    #[test]
    fn names() {
        assert!(check::<Name>("edge-1").is_ok());
        assert!(
            check::<Name>("Edge")
                .unwrap_err()
                .contains("is not a DNS label")
        );
        assert!(check::<Name>("-a").is_err());
        assert!(check::<Name>(&"a".repeat(64)).is_err());
        assert!(check::<RuleSetName>("WAN-IN").is_ok());
        assert!(check::<RuleSetName>("WAN IN").is_err());
        assert!(check::<RuleSetName>(&"A".repeat(29)).is_err());
        assert!(check::<RuleId>("allow-ssh").is_ok());
        assert!(check::<RuleId>(".x").is_err());
        assert!(check::<Interface>("eth0.10").is_ok());
        assert!(check::<Interface>("0eth").is_err());
        assert!(check::<Interface>("averyverylongifname").is_err());
        assert!(check::<DictionaryName>("vyos-1.4").is_ok());
        assert!(check::<DictionaryName>("VyOS").is_err());
        assert!(check::<Host>("router.example.net").is_ok());
        assert!(check::<Host>("2001:db8::1").is_ok());
        assert!(check::<Host>("bad_host!").is_err());
        assert!(check::<LabelKey>("site").is_ok());
        assert!(check::<LabelKey>("Site").is_err());
        assert!(check::<GroupName>("ADMINS").is_ok());
        assert!(check::<GroupName>("a b").is_err());
    }

    #[test]
    fn device_text() {
        assert!(
            check::<Text>("web 'x'")
                .unwrap_err()
                .contains("single quote")
        );
        assert!(
            check::<Text>("\"a \\\" b\"")
                .unwrap_err()
                .contains("double quote")
        );
        assert!(check::<Text>("\"a\\nb\"").unwrap_err().contains("newline"));
        assert!(
            check::<Text>("\"a\\u0007b\"")
                .unwrap_err()
                .contains("U+0007")
        );
        assert!(check::<Text>("C:\\temp #1 {x}; $y").is_ok());
        assert!(
            check::<Text>(&"x".repeat(256))
                .unwrap_err()
                .contains("longer than 255")
        );
    }

    #[test]
    fn secrets_by_reference_only() {
        assert_eq!(
            check::<SecretRef>("env:EDGE_PW"),
            Ok(SecretRef::Env("EDGE_PW".into()))
        );
        assert_eq!(
            check::<SecretRef>("file:/run/keys/k"),
            Ok(SecretRef::File("/run/keys/k".into()))
        );
        assert_eq!(
            check::<SecretRef>("credential:edge.pw"),
            Ok(SecretRef::Credential("edge.pw".into()))
        );
        assert!(
            check::<SecretRef>("hunter2")
                .unwrap_err()
                .contains("never as literal values")
        );
        assert!(check::<SecretRef>("file:relative").is_err());
        assert!(check::<SecretRef>("file:/a/../b").is_err());
        assert!(check::<SecretRef>("env:1X").is_err());
    }

    #[test]
    fn pins() {
        assert!(check::<HostKeyPin>("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGb0").is_ok());
        assert!(check::<HostKeyPin>("SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU").is_ok());
        assert!(check::<HostKeyPin>("SHA256:short").is_err());
        assert!(check::<HostKeyPin>("ssh-dss AAAA").is_err());
        let fp = format!("sha256:{}", "ab:".repeat(31) + "ab");
        assert!(check::<CertFingerprint>(&fp).is_ok());
        assert!(check::<CertFingerprint>("sha256:abcd").is_err());
    }

    #[test]
    fn addresses_and_prefixes() {
        assert!(check::<Address>("192.0.2.1").is_ok());
        assert!(check::<Address>("2001:db8::1").is_ok());
        assert!(check::<Address>("192.0.2.256").is_err());
        assert!(check::<Prefix>("192.0.2.0/24").is_ok());
        assert_eq!(
            check::<Prefix>("192.0.2.5/24").unwrap_err(),
            "`192.0.2.5/24` has host bits set; the network is `192.0.2.0/24`"
        );
        assert!(check::<Prefix>("192.0.2.0/33").is_err());
        assert!(check::<Prefix>("10.0.0.0").is_err());
        let r = check::<AddressMatch>("192.0.2.10-192.0.2.20").expect("range");
        assert_eq!(r.to_string(), "192.0.2.10-192.0.2.20");
        assert!(
            check::<AddressMatch>("192.0.2.20-192.0.2.10")
                .unwrap_err()
                .contains("empty range")
        );
        assert!(
            check::<AddressMatch>("192.0.2.1-2001:db8::1")
                .unwrap_err()
                .contains("mixes")
        );
        assert!(
            check::<AddressMatch>("'!10.0.0.0/8'")
                .expect("negated")
                .negated
        );
        assert_eq!(
            check::<AddressMatch>("2001:db8::/32").expect("v6").family(),
            Family::Ipv6
        );
    }

    #[test]
    fn ports() {
        assert_eq!(check::<PortSpec>("22"), Ok(PortSpec(vec![(22, 22)])));
        assert_eq!(
            check::<PortSpec>("'1000-2000'"),
            Ok(PortSpec(vec![(1000, 2000)]))
        );
        assert_eq!(
            check::<PortSpec>("'22,80,1000-2000'")
                .expect("list")
                .to_string(),
            "22,80,1000-2000"
        );
        assert_eq!(
            check::<PortSpec>("[80, '443', 8000-8080]")
                .expect("seq")
                .0
                .len(),
            3
        );
        assert_eq!(
            check::<PortSpec>("70000").unwrap_err(),
            "port 70000 is out of range 1-65535"
        );
        assert_eq!(
            check::<PortSpec>("0").unwrap_err(),
            "port 0 is out of range 1-65535"
        );
        assert!(
            check::<PortSpec>("'2000-1000'")
                .unwrap_err()
                .contains("empty")
        );
        assert!(check::<PortSpec>("ssh").is_err());
        assert!(check::<PortSpec>("[]").is_err());
        assert_eq!(check::<Port>("443"), Ok(Port(443)));
        assert!(check::<Port>("65536").is_err());
    }

    #[test]
    fn rule_numbers_and_spans() {
        assert_eq!(check::<RuleNumber>("10"), Ok(RuleNumber(10)));
        assert!(
            check::<RuleNumber>("0")
                .unwrap_err()
                .contains("out of range 1-999999")
        );
        assert!(check::<RuleNumber>("1000000").is_err());
        assert_eq!(
            check::<Span>("5m").map(|s| s.0),
            Ok(Duration::from_secs(300))
        );
        assert_eq!(
            check::<Span>("250ms").map(|s| s.to_string()),
            Ok("250ms".into())
        );
        assert!(check::<Span>("5 minutes").is_err());
        assert!(check::<Span>("m").is_err());
    }

    #[test]
    fn scopes() {
        let s: ScopePath = "nat destination".parse().expect("scope");
        assert!(s.contains(&[
            "nat".into(),
            "destination".into(),
            "rule".into(),
            "10".into()
        ]));
        assert!(!s.contains(&["nat".into(), "source".into()]));
        assert!(!s.contains(&["nat".into()]));
        assert!("".parse::<ScopePath>().is_err());
        assert!("firewall 'x'".parse::<ScopePath>().is_err());
    }
}
