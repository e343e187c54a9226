//! The resources an appliance carries: firewall groups and rule sets, NAT rules, static routes
//! (IPv4 and IPv6), raw lines.
//!
//! Owns: their fields, decoding, and the rules that hold inside one resource (a port needs a
//! tcp/udp protocol, one of address or group, families agree, a route has exactly one target).
//! Rules that span resources (unique numbers, owned scopes, policy references) live in
//! `model::validate`. Must not know how any vendor spells these (that is the dictionary's job).

use schemars::JsonSchema;
use serde::Serialize;

use super::decode::{Decode, Decoder, FieldPath, Fields, Located, int_in};
use super::values::{
    AddressMatch, Family, GroupName, Interface, PortSpec, Prefix, RuleId, RuleNumber, RuleSetName,
    Text,
};
use crate::yaml::Node;
use crate::yaml::Pos;

/// Where a rule set takes effect: traffic coming in on, going out of, or addressed to the
/// appliance through an interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Attachment {
    pub interface: Interface,
    pub direction: Direction,
    /// Where a vendor attaches with jump rules in a base chain (VyOS 1.4+: `forward filter`,
    /// `input filter`), the number of the jump rule. When absent it is derived from the
    /// direction, interface and rule-set name alone ([`Attachment::derived_number`]), so it
    /// never changes when other attachments come or go. Give it when several rule sets attach
    /// to the same interface and direction and their order matters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<RuleNumber>,
}

impl Attachment {
    /// The jump-rule number used when `number` is not given: 10000 plus the FNV-1a hash of
    /// `"<direction> <interface> <rule set>"` modulo 80000, so it lies in 10000-89999 (below
    /// and above are left for numbers given by hand) and depends on nothing else.
    pub fn derived_number(&self, rule_set: &RuleSetName) -> RuleNumber {
        let key = format!(
            "{} {} {}",
            self.direction.as_str(),
            self.interface,
            rule_set
        );
        let mut h: u32 = 0x811c_9dc5;
        for b in key.bytes() {
            h ^= u32::from(b);
            h = h.wrapping_mul(0x0100_0193);
        }
        RuleNumber(10_000 + h % 80_000)
    }

    /// The jump-rule number: the given one or the derived one.
    pub fn number_for(&self, rule_set: &RuleSetName) -> RuleNumber {
        self.number.unwrap_or_else(|| self.derived_number(rule_set))
    }
}

/// What a firewall group holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum GroupKind {
    /// Addresses and address ranges.
    Address,
    /// Prefixes.
    Network,
    /// Ports and port ranges.
    Port,
}

impl GroupKind {
    pub fn as_str(self) -> &'static str {
        match self {
            GroupKind::Address => "address",
            GroupKind::Network => "network",
            GroupKind::Port => "port",
        }
    }
}

/// A firewall group (VyOS `firewall group address-group|network-group|port-group`) that rules
/// reference by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Group {
    pub name: GroupName,
    pub kind: GroupKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<Text>,
    /// Addresses or ranges (`address`), prefixes (`network`) or ports and ranges (`port`), all
    /// of one address family.
    pub members: Vec<String>,
    /// The address family of the members (`ipv4` for port groups).
    #[serde(skip)]
    #[schemars(skip)]
    pub family: Family,
    #[serde(skip)]
    #[schemars(skip)]
    pub at: Located,
}

/// A group the appliance already has on the device, which rules may reference although the
/// desired state does not define it (`existing_groups:` of an appliance).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExistingGroup {
    pub name: GroupName,
    pub kind: GroupKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Forwarded traffic arriving on the interface.
    In,
    /// Forwarded traffic leaving through the interface.
    Out,
    /// Traffic to the appliance itself, arriving on the interface.
    Local,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::In => "in",
            Direction::Out => "out",
            Direction::Local => "local",
        }
    }
}

/// A named firewall rule set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleSet {
    pub name: RuleSetName,
    #[serde(default, skip_serializing_if = "is_default")]
    pub family: Family,
    pub default_action: Action,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<Text>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attach: Vec<Attachment>,
    #[serde(default)]
    pub rules: Vec<Rule>,
    /// Where the rule set is defined (for cross-file messages).
    #[serde(skip)]
    #[schemars(skip)]
    pub at: Located,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Accept,
    Drop,
    Reject,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    #[default]
    All,
    Tcp,
    Udp,
    TcpUdp,
    Icmp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::All => "all",
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::TcpUdp => "tcp_udp",
            Protocol::Icmp => "icmp",
        }
    }
    /// Whether ports may be matched with this protocol.
    pub fn has_ports(self) -> bool {
        matches!(self, Protocol::Tcp | Protocol::Udp | Protocol::TcpUdp)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ConnState {
    Established,
    Related,
    New,
    Invalid,
}

/// Source or destination match of a rule.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrafficMatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<AddressMatch>,
    /// An address or network group (defined in `groups:` or declared in `existing_groups:`),
    /// instead of `address`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<GroupName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<PortSpec>,
    /// A port group, instead of `port`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_group: Option<GroupName>,
}

/// One firewall rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Stable key of the rule within its set.
    pub id: RuleId,
    pub number: RuleNumber,
    pub action: Action,
    #[serde(default, skip_serializing_if = "is_default")]
    pub protocol: Protocol,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<TrafficMatch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<TrafficMatch>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub state: Vec<ConnState>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub log: bool,
    #[serde(default, skip_serializing_if = "is_default")]
    pub disabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<Text>,
    #[serde(skip)]
    #[schemars(skip)]
    pub at: Located,
}

/// A destination NAT rule (port forward).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NatDestination {
    pub number: RuleNumber,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<Text>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub disabled: bool,
    pub inbound_interface: Interface,
    #[serde(default, skip_serializing_if = "is_default")]
    pub protocol: Protocol,
    /// The address the traffic is sent to (the appliance's public address), if it matters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_address: Option<AddressMatch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_port: Option<PortSpec>,
    /// Only forward traffic from these sources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_address: Option<AddressMatch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub translation_address: Option<super::values::Address>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub translation_port: Option<PortSpec>,
    #[serde(skip)]
    #[schemars(skip)]
    pub at: Located,
}

/// A source NAT rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NatSource {
    pub number: RuleNumber,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<Text>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub disabled: bool,
    pub outbound_interface: Interface,
    pub source_prefix: Prefix,
    /// `masquerade`, or an address to translate to.
    pub translation: SourceTranslation,
    #[serde(skip)]
    #[schemars(skip)]
    pub at: Located,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceTranslation {
    Masquerade,
    Address(super::values::Address),
}

impl Serialize for SourceTranslation {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            SourceTranslation::Masquerade => s.serialize_str("masquerade"),
            SourceTranslation::Address(a) => s.collect_str(a),
        }
    }
}

impl JsonSchema for SourceTranslation {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "SourceTranslation".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"type": "string", "description": "`masquerade` or an IP address"})
    }
}

/// NAT rules of an appliance or policy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Nat {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub destination: Vec<NatDestination>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub source: Vec<NatSource>,
}

impl Nat {
    pub fn is_empty(&self) -> bool {
        self.destination.is_empty() && self.source.is_empty()
    }
}

/// A static route: exactly one of next hop, interface or blackhole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StaticRoute {
    pub prefix: Prefix,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_hop: Option<super::values::Address>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<Interface>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub blackhole: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distance: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<Text>,
    #[serde(skip)]
    #[schemars(skip)]
    pub at: Located,
}

/// A raw vendor line (for VyOS: a `set …` command), allowed only inside owned scopes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(transparent)]
pub struct RawLine {
    pub line: String,
    #[serde(skip)]
    #[schemars(skip)]
    pub at: Located,
}

/// The resources that appliances and policies both carry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Resources {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<Group>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rule_sets: Vec<RuleSet>,
    #[serde(default, skip_serializing_if = "Nat::is_empty")]
    pub nat: Nat,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<StaticRoute>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub raw: Vec<RawLine>,
}

pub(crate) fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

impl Resources {
    /// Read the resource fields out of an appliance or policy mapping.
    pub(crate) fn decode_fields(d: &mut Decoder, f: &mut Fields<'_>) -> Option<Resources> {
        let groups = f.or_default::<Vec<Group>>(d, "groups");
        let rule_sets = f.or_default::<Vec<RuleSet>>(d, "rule_sets");
        let nat = f.or_default::<Nat>(d, "nat");
        let routes = f.or_default::<Vec<StaticRoute>>(d, "routes");
        let raw = f.or_default::<Vec<RawLine>>(d, "raw");
        Some(Resources {
            groups: groups?,
            rule_sets: rule_sets?,
            nat: nat?,
            routes: routes?,
            raw: raw?,
        })
    }
}

macro_rules! decode_enum {
    ($ty:ident { $($text:literal => $variant:ident),+ $(,)? }) => {
        impl Decode for $ty {
            fn decode(d: &mut Decoder, node: &Node, path: &FieldPath) -> Option<Self> {
                match d.choice(node, path, &[$($text),+])? {
                    $($text => Some($ty::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

decode_enum!(GroupKind { "address" => Address, "network" => Network, "port" => Port });
decode_enum!(Direction { "in" => In, "out" => Out, "local" => Local });
decode_enum!(Action { "accept" => Accept, "drop" => Drop, "reject" => Reject });
decode_enum!(Protocol { "all" => All, "tcp" => Tcp, "udp" => Udp, "tcp_udp" => TcpUdp, "icmp" => Icmp });
decode_enum!(ConnState { "established" => Established, "related" => Related, "new" => New, "invalid" => Invalid });

impl Decode for Attachment {
    fn decode(d: &mut Decoder, node: &Node, path: &FieldPath) -> Option<Self> {
        let mut f = d.fields(node, path)?;
        let interface = f.req(d, "interface");
        let direction = f.req(d, "direction");
        let number = f.opt::<RuleNumber>(d, "number");
        f.finish(d);
        Some(Attachment {
            interface: interface?,
            direction: direction?,
            number,
        })
    }
}

impl Decode for RuleSet {
    fn decode(d: &mut Decoder, node: &Node, path: &FieldPath) -> Option<Self> {
        let at = d.locate(node, path);
        let mut f = d.fields(node, path)?;
        let name = f.req(d, "name");
        let family = f.or_default::<Family>(d, "family");
        let default_action = f.req(d, "default_action");
        let description = f.opt(d, "description");
        let attach = f.or_default::<Vec<Attachment>>(d, "attach");
        let rules = f.or_default::<Vec<Rule>>(d, "rules");
        let mut ok = f.finish(d);
        let (family, rules) = (family?, rules?);
        for (i, rule) in rules.iter().enumerate() {
            ok &= rule.check_family(d, family, &path.key("rules").index(i));
        }
        if !ok {
            return None;
        }
        Some(RuleSet {
            name: name?,
            family,
            default_action: default_action?,
            description,
            attach: attach?,
            rules,
            at,
        })
    }
}

impl Decode for TrafficMatch {
    fn decode(d: &mut Decoder, node: &Node, path: &FieldPath) -> Option<Self> {
        let mut f = d.fields(node, path)?;
        let address = f.opt::<AddressMatch>(d, "address");
        let group = f.opt::<GroupName>(d, "group");
        let port = f.opt::<PortSpec>(d, "port");
        let port_group = f.opt::<GroupName>(d, "port_group");
        let pos = f.pos();
        let ok = f.finish(d);
        if address.is_some() && group.is_some() {
            d.error(pos, path, "only one of `address` or `group` can be given");
            return None;
        }
        if port.is_some() && port_group.is_some() {
            d.error(pos, path, "only one of `port` or `port_group` can be given");
            return None;
        }
        ok.then_some(TrafficMatch {
            address,
            group,
            port,
            port_group,
        })
    }
}

/// Ports only mean something with tcp, udp or tcp_udp (VyOS refuses the commit otherwise).
/// Records an error for each port field given with another protocol; false if any.
fn ports_need_protocol(
    d: &mut Decoder,
    pos: Pos,
    protocol: Protocol,
    ports: &[(FieldPath, bool)],
) -> bool {
    let mut ok = true;
    for (path, given) in ports {
        if *given && !protocol.has_ports() {
            d.error(
                pos,
                path,
                format!(
                    "ports need protocol tcp, udp or tcp_udp (protocol is {})",
                    protocol.as_str()
                ),
            );
            ok = false;
        }
    }
    ok
}

impl Rule {
    /// Addresses of a rule must be of its rule set's family.
    fn check_family(&self, d: &mut Decoder, family: Family, path: &FieldPath) -> bool {
        let mut ok = true;
        for (side, ep) in [("source", &self.source), ("destination", &self.destination)] {
            if let Some(a) = ep.as_ref().and_then(|e| e.address)
                && a.family() != family
            {
                d.error(
                    self.at.pos,
                    &path.key(side).key("address"),
                    format!(
                        "{a} is {} but the rule set is {}",
                        a.family().as_str(),
                        family.as_str()
                    ),
                );
                ok = false;
            }
        }
        ok
    }
}

impl Decode for Rule {
    fn decode(d: &mut Decoder, node: &Node, path: &FieldPath) -> Option<Self> {
        let at = d.locate(node, path);
        let mut f = d.fields(node, path)?;
        let id = f.req(d, "id");
        let number = f.req(d, "number");
        let action = f.req(d, "action");
        let protocol = f.or_default::<Protocol>(d, "protocol");
        let source = f.opt::<TrafficMatch>(d, "source");
        let destination = f.opt::<TrafficMatch>(d, "destination");
        let state = f.or_default::<Vec<ConnState>>(d, "state");
        let log = f.or_default::<bool>(d, "log");
        let disabled = f.or_default::<bool>(d, "disabled");
        let description = f.opt::<Text>(d, "description");
        let pos = f.pos();
        let ok = f.finish(d);
        let protocol = protocol?;
        let has_port = |m: &Option<TrafficMatch>| {
            m.as_ref()
                .is_some_and(|e| e.port.is_some() || e.port_group.is_some())
        };
        let ports = [
            (path.key("source").key("port"), has_port(&source)),
            (path.key("destination").key("port"), has_port(&destination)),
        ];
        if !(ports_need_protocol(d, pos, protocol, &ports) && ok) {
            return None;
        }
        Some(Rule {
            id: id?,
            number: number?,
            action: action?,
            protocol,
            source,
            destination,
            state: state?,
            log: log?,
            disabled: disabled?,
            description,
            at,
        })
    }
}

impl Decode for NatDestination {
    fn decode(d: &mut Decoder, node: &Node, path: &FieldPath) -> Option<Self> {
        let at = d.locate(node, path);
        let mut f = d.fields(node, path)?;
        let number = f.req(d, "number");
        let description = f.opt::<Text>(d, "description");
        let disabled = f.or_default::<bool>(d, "disabled");
        let inbound_interface = f.req(d, "inbound_interface");
        let protocol = f.or_default::<Protocol>(d, "protocol");
        let external_address = f.opt::<AddressMatch>(d, "external_address");
        let external_port = f.opt::<PortSpec>(d, "external_port");
        let source_address = f.opt::<AddressMatch>(d, "source_address");
        let translation_address = f.opt(d, "translation_address");
        let translation_port = f.opt::<PortSpec>(d, "translation_port");
        let pos = f.pos();
        let mut ok = f.finish(d);
        let protocol = protocol?;
        if ok && translation_address.is_none() && translation_port.is_none() {
            d.error(
                pos,
                path,
                "a port forward needs `translation_address` and/or `translation_port`",
            );
            ok = false;
        }
        let ports = [
            (path.key("external_port"), external_port.is_some()),
            (path.key("translation_port"), translation_port.is_some()),
        ];
        if !(ports_need_protocol(d, pos, protocol, &ports) && ok) {
            return None;
        }
        Some(NatDestination {
            number: number?,
            description,
            disabled: disabled?,
            inbound_interface: inbound_interface?,
            protocol,
            external_address,
            external_port,
            source_address,
            translation_address,
            translation_port,
            at,
        })
    }
}

impl Decode for SourceTranslation {
    fn decode(d: &mut Decoder, node: &Node, path: &FieldPath) -> Option<Self> {
        let text = String::decode(d, node, path)?;
        if text == "masquerade" {
            return Some(SourceTranslation::Masquerade);
        }
        match text.parse() {
            Ok(a) => Some(SourceTranslation::Address(a)),
            Err(_) => {
                d.error(
                    node.pos,
                    path,
                    format!("`{text}` is neither `masquerade` nor an IP address"),
                );
                None
            }
        }
    }
}

impl Decode for NatSource {
    fn decode(d: &mut Decoder, node: &Node, path: &FieldPath) -> Option<Self> {
        let at = d.locate(node, path);
        let mut f = d.fields(node, path)?;
        let number = f.req(d, "number");
        let description = f.opt::<Text>(d, "description");
        let disabled = f.or_default::<bool>(d, "disabled");
        let outbound_interface = f.req(d, "outbound_interface");
        let source_prefix = f.req(d, "source_prefix");
        let translation = f.req(d, "translation");
        if !f.finish(d) {
            return None;
        }
        Some(NatSource {
            number: number?,
            description,
            disabled: disabled?,
            outbound_interface: outbound_interface?,
            source_prefix: source_prefix?,
            translation: translation?,
            at,
        })
    }
}

impl Decode for Nat {
    fn decode(d: &mut Decoder, node: &Node, path: &FieldPath) -> Option<Self> {
        let mut f = d.fields(node, path)?;
        let destination = f.or_default::<Vec<NatDestination>>(d, "destination");
        let source = f.or_default::<Vec<NatSource>>(d, "source");
        f.finish(d);
        Some(Nat {
            destination: destination?,
            source: source?,
        })
    }
}

impl Decode for StaticRoute {
    fn decode(d: &mut Decoder, node: &Node, path: &FieldPath) -> Option<Self> {
        let at = d.locate(node, path);
        let mut f = d.fields(node, path)?;
        let prefix = f.req::<Prefix>(d, "prefix");
        let next_hop = f.opt::<super::values::Address>(d, "next_hop");
        let interface = f.opt::<Interface>(d, "interface");
        let blackhole = f.or_default::<bool>(d, "blackhole");
        let distance = match f.node("distance") {
            None => Some(None),
            Some(n) => {
                int_in(d, n, &path.key("distance"), 1, 255, "distance").map(|n| Some(n as u8))
            }
        };
        let description = f.opt::<Text>(d, "description");
        let pos = f.pos();
        let ok = f.finish(d);
        let (prefix, blackhole, distance) = (prefix?, blackhole?, distance?);
        if !ok {
            return None;
        }
        let targets = usize::from(next_hop.is_some())
            + usize::from(interface.is_some())
            + usize::from(blackhole);
        if targets != 1 {
            d.error(
                pos,
                path,
                "a route needs exactly one of `next_hop`, `interface` or `blackhole: true`",
            );
            return None;
        }
        if let Some(nh) = next_hop
            && Family::of(&nh.0) != prefix.family()
        {
            d.error(
                pos,
                &path.key("next_hop"),
                format!("next hop {nh} is not of the family of {prefix}"),
            );
            return None;
        }
        if let Some(m) = next_hop.and_then(|nh| nh.next_hop_problem(&prefix)) {
            d.error(pos, &path.key("next_hop"), m);
            return None;
        }
        Some(StaticRoute {
            prefix,
            next_hop,
            interface,
            blackhole,
            distance,
            description,
            at,
        })
    }
}

impl Decode for RawLine {
    fn decode(d: &mut Decoder, node: &Node, path: &FieldPath) -> Option<Self> {
        let at = d.locate(node, path);
        let line = String::decode(d, node, path)?;
        Some(RawLine { line, at })
    }
}

impl Decode for ExistingGroup {
    fn decode(d: &mut Decoder, node: &Node, path: &FieldPath) -> Option<Self> {
        let mut f = d.fields(node, path)?;
        let name = f.req(d, "name");
        let kind = f.req(d, "kind");
        f.finish(d);
        Some(ExistingGroup {
            name: name?,
            kind: kind?,
        })
    }
}

impl Decode for Group {
    fn decode(d: &mut Decoder, node: &Node, path: &FieldPath) -> Option<Self> {
        let at = d.locate(node, path);
        let mut f = d.fields(node, path)?;
        let name = f.req::<GroupName>(d, "name");
        let kind = f.req::<GroupKind>(d, "kind");
        let description = f.opt::<Text>(d, "description");
        let members_node = f.node("members");
        let pos = f.pos();
        let ok = f.finish(d);
        let kind = kind?;
        let Some(members_node) = members_node else {
            d.error(pos, path, "missing required field `members`");
            return None;
        };
        let mpath = path.key("members");
        let mut members = Vec::new();
        let mut families = std::collections::BTreeSet::new();
        let mut good = true;
        match &members_node.value {
            crate::yaml::Value::Seq(items) if !items.is_empty() => {
                for (i, item) in items.iter().enumerate() {
                    let p = mpath.index(i);
                    match kind {
                        GroupKind::Address => match AddressMatch::decode(d, item, &p) {
                            Some(a)
                                if a.negated
                                    || matches!(a.kind, super::values::AddressKind::Prefix(_)) =>
                            {
                                d.error(item.pos, &p, format!("`{a}` is not an address or an address range (prefixes go in a network group)"));
                                good = false;
                            }
                            Some(a) => {
                                families.insert(a.family());
                                members.push(a.to_string());
                            }
                            None => good = false,
                        },
                        GroupKind::Network => match Prefix::decode(d, item, &p) {
                            Some(n) => {
                                families.insert(n.family());
                                members.push(n.to_string());
                            }
                            None => good = false,
                        },
                        GroupKind::Port => match PortSpec::decode(d, item, &p) {
                            Some(ps) => {
                                members.extend(ps.to_string().split(',').map(str::to_string))
                            }
                            None => good = false,
                        },
                    }
                }
            }
            other => {
                d.error(
                    members_node.pos,
                    &mpath,
                    format!(
                        "expected a non-empty list of members, found {}",
                        other.kind()
                    ),
                );
                return None;
            }
        }
        if families.len() > 1 {
            d.error(
                members_node.pos,
                &mpath,
                "a group holds members of one address family only",
            );
            good = false;
        }
        if !(ok && good) {
            return None;
        }
        Some(Group {
            name: name?,
            kind,
            description,
            members,
            family: families.into_iter().next().unwrap_or_default(),
            at,
        })
    }
}
