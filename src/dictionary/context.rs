//! What each template of a dictionary sees: one context type per resource kind, and a fully
//! populated sample of each, which `check` renders to prove a dictionary works before any
//! appliance uses it (fuel, strict variables, output that parses).
//!
//! Owns the template-facing shape of the resources; `crate::render` fills it from the model.
//! Every optional field is present (as `none`) so that templates can test it with `if` under
//! strict undefined. Must not format any vendor syntax.

use serde::Serialize;

/// The resource kinds a dictionary has a template for.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Group,
    RuleSet,
    Rule,
    Attachment,
    NatDestination,
    NatSource,
    Route,
}

impl Kind {
    pub const ALL: [Kind; 7] = [
        Kind::Group,
        Kind::RuleSet,
        Kind::Rule,
        Kind::Attachment,
        Kind::NatDestination,
        Kind::NatSource,
        Kind::Route,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Group => "group",
            Kind::RuleSet => "rule_set",
            Kind::Rule => "rule",
            Kind::Attachment => "attachment",
            Kind::NatDestination => "nat_destination",
            Kind::NatSource => "nat_source",
            Kind::Route => "route",
        }
    }

    /// A sample context with every field filled, for checking a template.
    pub fn sample(self) -> serde_json::Value {
        let set = RuleSetCtx {
            name: "SAMPLE".into(),
            family: "ipv4".into(),
            default_action: "drop".into(),
            description: Some("sample rule set".into()),
        };
        let iface = InterfaceCtx {
            name: "eth0.10".into(),
            kind: "ethernet".into(),
            base: "eth0".into(),
            vif: Some("10".into()),
        };
        let m = MatchCtx {
            address: Some("192.0.2.0/24".into()),
            group: Some(GroupRefCtx {
                name: "SAMPLE-HOSTS".into(),
                kind: "address".into(),
            }),
            port: Some("22,80,1000-2000".into()),
            port_group: Some("SAMPLE-PORTS".into()),
        };
        let v = match self {
            Kind::Group => serde_json::to_value(GroupContext {
                group: GroupCtx {
                    name: "SAMPLE-HOSTS".into(),
                    kind: "address".into(),
                    family: "ipv4".into(),
                    members: vec!["192.0.2.1".into(), "192.0.2.10-192.0.2.20".into()],
                    description: Some("sample group".into()),
                },
            }),
            Kind::RuleSet => serde_json::to_value(RuleSetContext { set: set.clone() }),
            Kind::Rule => serde_json::to_value(RuleContext {
                set: set.clone(),
                rule: RuleCtx {
                    id: "sample".into(),
                    number: 10,
                    action: "accept".into(),
                    protocol: "tcp".into(),
                    source: Some(m.clone()),
                    destination: Some(m),
                    state: vec!["established".into(), "related".into()],
                    log: true,
                    disabled: true,
                    description: Some("sample rule".into()),
                },
            }),
            Kind::Attachment => serde_json::to_value(AttachmentContext {
                set,
                attachment: AttachmentCtx {
                    interface: iface.clone(),
                    direction: "in".into(),
                    number: 10,
                },
            }),
            Kind::NatDestination => serde_json::to_value(NatDestinationContext {
                nat: NatDestinationCtx {
                    number: 100,
                    description: Some("sample port forward".into()),
                    disabled: true,
                    inbound_interface: iface.clone(),
                    protocol: "tcp_udp".into(),
                    external_address: Some("198.51.100.1".into()),
                    external_port: Some("443".into()),
                    source_address: Some("203.0.113.0/24".into()),
                    translation_address: Some("192.168.1.10".into()),
                    translation_port: Some("8443".into()),
                },
            }),
            Kind::NatSource => serde_json::to_value(NatSourceContext {
                nat: NatSourceCtx {
                    number: 100,
                    description: Some("sample source NAT".into()),
                    disabled: true,
                    outbound_interface: iface.clone(),
                    source_prefix: "192.168.1.0/24".into(),
                    translation: "masquerade".into(),
                },
            }),
            Kind::Route => serde_json::to_value(RouteContext {
                route: RouteCtx {
                    prefix: "2001:db8::/32".into(),
                    family: "ipv6".into(),
                    next_hop: Some("2001:db8:ffff::1".into()),
                    interface: Some(iface),
                    blackhole: true,
                    distance: Some(10),
                    description: Some("sample route".into()),
                },
            }),
        };
        v.unwrap_or(serde_json::Value::Null)
    }
}

/// A rule set as templates see it (`set`).
#[derive(Debug, Clone, Serialize)]
pub struct RuleSetCtx {
    pub name: String,
    /// `ipv4` or `ipv6`.
    pub family: String,
    pub default_action: String,
    pub description: Option<String>,
}

/// An interface: `name` as written (`eth0.10`), `kind` from the dictionary's `interfaces`
/// table (`ethernet`), `base` (`eth0`) and `vif` (`10`, or none).
#[derive(Debug, Clone, Serialize)]
pub struct InterfaceCtx {
    pub name: String,
    pub kind: String,
    pub base: String,
    pub vif: Option<String>,
}

/// A group reference: its name and kind (`address`, `network`, `port`).
#[derive(Debug, Clone, Serialize)]
pub struct GroupRefCtx {
    pub name: String,
    pub kind: String,
}

/// The source or destination match of a rule.
#[derive(Debug, Clone, Serialize)]
pub struct MatchCtx {
    /// An address, prefix or range, `!` for negation.
    pub address: Option<String>,
    pub group: Option<GroupRefCtx>,
    /// Ports as VyOS writes them (`22,80,1000-2000`).
    pub port: Option<String>,
    pub port_group: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RuleCtx {
    pub id: String,
    pub number: u32,
    pub action: String,
    pub protocol: String,
    pub source: Option<MatchCtx>,
    pub destination: Option<MatchCtx>,
    pub state: Vec<String>,
    pub log: bool,
    pub disabled: bool,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct GroupCtx {
    pub name: String,
    pub kind: String,
    pub family: String,
    pub members: Vec<String>,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AttachmentCtx {
    pub interface: InterfaceCtx,
    /// `in`, `out` or `local`.
    pub direction: String,
    /// The jump-rule number (given or derived, see `model::Attachment::number_for`).
    pub number: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct NatDestinationCtx {
    pub number: u32,
    pub description: Option<String>,
    pub disabled: bool,
    pub inbound_interface: InterfaceCtx,
    pub protocol: String,
    pub external_address: Option<String>,
    pub external_port: Option<String>,
    pub source_address: Option<String>,
    pub translation_address: Option<String>,
    pub translation_port: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct NatSourceCtx {
    pub number: u32,
    pub description: Option<String>,
    pub disabled: bool,
    pub outbound_interface: InterfaceCtx,
    pub source_prefix: String,
    /// `masquerade` or an address.
    pub translation: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct RouteCtx {
    pub prefix: String,
    pub family: String,
    pub next_hop: Option<String>,
    pub interface: Option<InterfaceCtx>,
    pub blackhole: bool,
    pub distance: Option<u8>,
    pub description: Option<String>,
}

/// Context of the `group` template.
#[derive(Debug, Clone, Serialize)]
pub struct GroupContext {
    pub group: GroupCtx,
}
/// Context of the `rule_set` template.
#[derive(Debug, Clone, Serialize)]
pub struct RuleSetContext {
    pub set: RuleSetCtx,
}
/// Context of the `rule` template.
#[derive(Debug, Clone, Serialize)]
pub struct RuleContext {
    pub set: RuleSetCtx,
    pub rule: RuleCtx,
}
/// Context of the `attachment` template.
#[derive(Debug, Clone, Serialize)]
pub struct AttachmentContext {
    pub set: RuleSetCtx,
    pub attachment: AttachmentCtx,
}
/// Context of the `nat_destination` template.
#[derive(Debug, Clone, Serialize)]
pub struct NatDestinationContext {
    pub nat: NatDestinationCtx,
}
/// Context of the `nat_source` template.
#[derive(Debug, Clone, Serialize)]
pub struct NatSourceContext {
    pub nat: NatSourceCtx,
}
/// Context of the `route` template.
#[derive(Debug, Clone, Serialize)]
pub struct RouteContext {
    pub route: RouteCtx,
}

/// Whether the dotted attribute path `var` exists in `sample` (a path through a list or a
/// scalar, such as a loop variable's attributes, is not followed further).
pub fn has_variable(sample: &serde_json::Value, var: &str) -> bool {
    let mut cur = sample;
    for part in var.split('.') {
        match cur {
            serde_json::Value::Object(m) => match m.get(part) {
                Some(v) => cur = v,
                None => return false,
            },
            _ => return true,
        }
    }
    true
}
