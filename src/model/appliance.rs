//! An appliance file (`appliances/*.yaml`), the policy files (`policies/*.yaml`) and the fleet
//! defaults (`vnfsync.yaml`).
//!
//! Owns: how to reach an appliance (transport, credentials by reference, pins), what it owns,
//! how it commits, how it is probed, how drift is handled, which policies it uses. Fleet defaults
//! are resolved here, so the rest of the program sees concrete values. Must not do IO or resolve
//! secrets: references stay references until a driver needs them.

use std::collections::BTreeMap;
use std::time::Duration;

use schemars::JsonSchema;
use serde::Serialize;

use super::decode::{Decode, Decoder, FieldPath, Located, int_in};
use super::resources::{ExistingGroup, Resources};
use super::values::{
    CertFingerprint, DictionaryName, Host, HostKeyPin, LabelKey, Name, Port, ProbeCommand,
    ScopePath, SecretRef, Span, Text,
};
use crate::yaml::{Node, Value};

/// One managed appliance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Appliance {
    /// Unique name (a DNS label).
    pub name: Name,
    /// The vendor dictionary that renders this appliance's config, such as `vyos-1.4`.
    pub dictionary: DictionaryName,
    pub endpoint: Connection,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<LabelKey, Text>,
    /// The device paths or objects vnfsync may change and prune. Everything else is left alone.
    pub owns: Vec<OwnedScope>,
    #[serde(default)]
    pub commit: CommitSettings,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub health: Vec<HealthProbe>,
    /// Default drift policy of the owned scopes.
    #[serde(default)]
    pub drift: DriftPolicy,
    /// Firewall groups already on the device that rules may reference without defining them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub existing_groups: Vec<ExistingGroup>,
    /// Owning a whole management-critical root (`system`, `service`, `interfaces`, `system
    /// login`, the management service) prunes everything an operator configured there and can
    /// lock everyone out; it is refused unless this is `true`.
    #[serde(default, skip_serializing_if = "crate::model::resources::is_default")]
    pub allow_broad_ownership: bool,
    /// Names of policies (files in `policies/`) whose resources this appliance also carries.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<Name>,
    /// The daemon's onboarding: `hold` (default) waits for an operator's approval before a
    /// first apply that would delete config already on the device; `auto` applies at once.
    #[serde(default, skip_serializing_if = "crate::model::resources::is_default")]
    pub adopt: Adopt,
    #[serde(flatten)]
    pub resources: Resources,
    #[serde(skip)]
    #[schemars(skip)]
    pub at: Located,
    /// Where each policy reference is, for cross-file messages.
    #[serde(skip)]
    #[schemars(skip)]
    pub policy_refs: Vec<Located>,
    /// Where `dictionary` and `endpoint.transport` are, for cross-file messages.
    #[serde(skip)]
    #[schemars(skip)]
    pub dictionary_at: Located,
    #[serde(skip)]
    #[schemars(skip)]
    pub transport_at: Located,
    /// Where `endpoint` is.
    #[serde(skip)]
    #[schemars(skip)]
    pub endpoint_at: Located,
    /// Where the confirm window in effect was written (here or in the fleet defaults).
    #[serde(skip)]
    #[schemars(skip)]
    pub confirm_window_at: Located,
}

/// How vnfsync talks to an appliance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, JsonSchema)]
pub enum Transport {
    /// SSH with vbash scripts (VyOS).
    #[serde(rename = "ssh")]
    Ssh,
    /// The VyOS HTTP API.
    #[serde(rename = "vyos-http")]
    VyosHttp,
    /// A REST API described by the dictionary (pfSense, OPNsense, …).
    #[serde(rename = "rest")]
    Rest,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Ssh => "ssh",
            Transport::VyosHttp => "vyos-http",
            Transport::Rest => "rest",
        }
    }
    pub fn default_port(self) -> u16 {
        match self {
            Transport::Ssh => 22,
            Transport::VyosHttp | Transport::Rest => 443,
        }
    }
}

impl Decode for Transport {
    fn decode(d: &mut Decoder, node: &Node, path: &FieldPath) -> Option<Self> {
        match d.choice(node, path, &["ssh", "vyos-http", "rest"])? {
            "ssh" => Some(Transport::Ssh),
            "vyos-http" => Some(Transport::VyosHttp),
            _ => Some(Transport::Rest),
        }
    }
}

/// TLS verification for HTTP transports: a CA file, a pinned certificate fingerprint, or both.
/// Without either, the system roots verify the certificate.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TlsPin {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<CertFingerprint>,
}

/// Where and how to connect. Credentials are references (`env:`, `file:`, `credential:`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Connection {
    pub transport: Transport,
    pub host: Host,
    /// Defaults to 22 for ssh, 443 otherwise.
    #[schemars(with = "Option<Port>")]
    pub port: Port,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<SecretRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_key: Option<SecretRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<SecretRef>,
    /// The SSH host key the appliance must present (required for ssh).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_key: Option<HostKeyPin>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsPin>,
    /// `https` (the default) or `http` for HTTP transports; plain HTTP is for the lab on
    /// loopback and carries the API key in clear, so it is refused to any other host unless
    /// `insecure_http: true` says so.
    #[serde(default, skip_serializing_if = "crate::model::resources::is_default")]
    pub scheme: Scheme,
    /// Allow `scheme: http` to a host that is not loopback: the API key crosses the network in
    /// clear. Off by default; only for isolated test networks.
    #[serde(default, skip_serializing_if = "crate::model::resources::is_default")]
    pub insecure_http: bool,
}

impl Connection {
    /// Whether the host is this machine (`127.0.0.0/8`, `::1` or `localhost`).
    pub fn is_loopback(&self) -> bool {
        let h = self.host.as_str();
        h.parse::<std::net::IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or_else(|_| h.eq_ignore_ascii_case("localhost"))
    }

    /// The host and port as one comparable key: IP addresses in canonical form, names in
    /// lower case without a trailing dot.
    pub fn host_port(&self) -> (String, u16) {
        let h = self.host.as_str();
        let host = match h.parse::<std::net::IpAddr>() {
            Ok(ip) => ip.to_string(),
            Err(_) => h.trim_end_matches('.').to_ascii_lowercase(),
        };
        (host, self.port.0)
    }
}

/// The URL scheme of an HTTP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    #[default]
    Https,
    Http,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Https => "https",
            Scheme::Http => "http",
        }
    }
}

impl Decode for Scheme {
    fn decode(d: &mut Decoder, node: &Node, path: &FieldPath) -> Option<Self> {
        match d.choice(node, path, &["https", "http"])? {
            "https" => Some(Scheme::Https),
            _ => Some(Scheme::Http),
        }
    }
}

/// How the daemon's first apply to an appliance (nothing journaled for it yet) meets config
/// already on the device inside the owned scopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Adopt {
    /// A first apply that would delete anything already on the device waits, its plan shown
    /// in status, until an operator approves it (`vnfsync approve`).
    #[default]
    Hold,
    /// Apply at once, pruning what the owned scopes do not declare.
    Auto,
}

/// What vnfsync does when an owned scope differs from git although no commit changed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DriftPolicy {
    /// Report the drift (status, metrics, journal), change nothing.
    #[default]
    Alert,
    /// Put the scope back to what git says.
    Overwrite,
}

/// A path (or object kind) the appliance owns, with its drift policy. Written as the path
/// alone, or as `{path, drift}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OwnedScope {
    pub path: ScopePath,
    pub drift: DriftPolicy,
    /// Where the scope is written (for the checks that need the dictionary).
    #[serde(skip)]
    pub at: Located,
}

impl JsonSchema for OwnedScope {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "OwnedScope".into()
    }
    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let drift = g.subschema_for::<DriftPolicy>();
        schemars::json_schema!({
            "description": "a device path vnfsync owns (`nat destination`), alone or with its drift policy",
            "anyOf": [
                {"type": "string", "minLength": 1},
                {"type": "object", "additionalProperties": false, "required": ["path"],
                 "properties": {"path": {"type": "string", "minLength": 1}, "drift": drift}}
            ]
        })
    }
}

/// When to persist a change on the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SavePolicy {
    /// Save (make boot-persistent) once the health probes passed and the commit is confirmed.
    #[default]
    AfterConfirm,
    /// Never save; the running config is lost at reboot.
    Never,
}

/// How a change is committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommitSettings {
    /// How long the device waits for the confirm before it reverts (1m to 60m, whole minutes
    /// on VyOS).
    pub confirm_window: Span,
    pub save: SavePolicy,
}

impl Default for CommitSettings {
    fn default() -> Self {
        CommitSettings {
            confirm_window: Span(Duration::from_secs(300)),
            save: SavePolicy::AfterConfirm,
        }
    }
}

/// A check run over a fresh connection after a commit, before confirming it. Every kind takes
/// an optional `timeout` (100ms–5m; the daemon's `probe_timeout` when absent) within which it
/// must pass, connecting included.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum HealthProbe {
    /// A TCP connect to the appliance (or `host`) on `port`.
    Tcp {
        port: Port,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        host: Option<Host>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timeout: Option<Span>,
    },
    /// An HTTP GET that must answer `expect_status`.
    HttpGet {
        url: String,
        #[serde(default = "default_status")]
        expect_status: u16,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timeout: Option<Span>,
    },
    /// A fresh login over the appliance's transport.
    Login {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timeout: Option<Span>,
    },
    /// An operational `show …` command whose output must match the regular expression `expect`.
    Command {
        run: ProbeCommand,
        expect: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timeout: Option<Span>,
    },
}

impl HealthProbe {
    /// The probe's own timeout, when it has one.
    pub fn timeout(&self) -> Option<Duration> {
        match self {
            HealthProbe::Tcp { timeout, .. }
            | HealthProbe::HttpGet { timeout, .. }
            | HealthProbe::Login { timeout }
            | HealthProbe::Command { timeout, .. } => timeout.map(|t| t.0),
        }
    }
}

fn default_status() -> u16 {
    200
}

/// A reusable bundle of resources (`policies/*.yaml`) that appliances reference by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    pub name: Name,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<Text>,
    #[serde(flatten)]
    pub resources: Resources,
    #[serde(skip)]
    #[schemars(skip)]
    pub at: Located,
}

/// Fleet-wide defaults (`vnfsync.yaml`), applied to appliances that do not say otherwise.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FleetDefaults {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<CommitSettings>,
    /// Where `commit.confirm_window` was written.
    #[serde(skip)]
    #[schemars(skip)]
    pub confirm_window_at: Option<Located>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<Vec<HealthProbe>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<DriftPolicy>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<LabelKey, Text>,
}

/// The `vnfsync.yaml` file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FleetFile {
    #[serde(default)]
    pub defaults: FleetDefaults,
}

impl Decode for Adopt {
    fn decode(d: &mut Decoder, node: &Node, path: &FieldPath) -> Option<Self> {
        match d.choice(node, path, &["hold", "auto"])? {
            "hold" => Some(Adopt::Hold),
            _ => Some(Adopt::Auto),
        }
    }
}

impl Decode for DriftPolicy {
    fn decode(d: &mut Decoder, node: &Node, path: &FieldPath) -> Option<Self> {
        match d.choice(node, path, &["alert", "overwrite"])? {
            "alert" => Some(DriftPolicy::Alert),
            _ => Some(DriftPolicy::Overwrite),
        }
    }
}

impl Decode for SavePolicy {
    fn decode(d: &mut Decoder, node: &Node, path: &FieldPath) -> Option<Self> {
        match d.choice(node, path, &["after_confirm", "never"])? {
            "after_confirm" => Some(SavePolicy::AfterConfirm),
            _ => Some(SavePolicy::Never),
        }
    }
}

impl Decode for CommitSettings {
    fn decode(d: &mut Decoder, node: &Node, path: &FieldPath) -> Option<Self> {
        let mut f = d.fields(node, path)?;
        let window = match f.node("confirm_window") {
            None => Some(CommitSettings::default().confirm_window),
            Some(n) => Span::decode_in(
                d,
                n,
                &path.key("confirm_window"),
                Duration::from_secs(60),
                Duration::from_secs(3600),
            ),
        };
        let save = f.or_default::<SavePolicy>(d, "save");
        f.finish(d);
        Some(CommitSettings {
            confirm_window: window?,
            save: save?,
        })
    }
}

impl Decode for TlsPin {
    fn decode(d: &mut Decoder, node: &Node, path: &FieldPath) -> Option<Self> {
        let mut f = d.fields(node, path)?;
        let ca = f.opt::<String>(d, "ca");
        let fingerprint = f.opt::<CertFingerprint>(d, "fingerprint");
        let pos = f.pos();
        let ok = f.finish(d);
        if let Some(p) = &ca
            && !p.starts_with('/')
        {
            d.error(
                pos,
                &path.key("ca"),
                format!("`{p}` must be an absolute path"),
            );
            return None;
        }
        if ok && ca.is_none() && fingerprint.is_none() {
            d.error(
                pos,
                path,
                "give `ca`, `fingerprint` or both (or leave out `tls` to use the system roots)",
            );
            return None;
        }
        ok.then_some(TlsPin { ca, fingerprint })
    }
}

impl Decode for Connection {
    fn decode(d: &mut Decoder, node: &Node, path: &FieldPath) -> Option<Self> {
        let mut f = d.fields(node, path)?;
        let transport = f.req::<Transport>(d, "transport");
        let host = f.req::<Host>(d, "host");
        let port = f.opt::<Port>(d, "port");
        let user = f.opt::<Text>(d, "user");
        let password = f.opt::<SecretRef>(d, "password");
        let private_key = f.opt::<SecretRef>(d, "private_key");
        let api_key = f.opt::<SecretRef>(d, "api_key");
        let host_key = f.opt::<HostKeyPin>(d, "host_key");
        let tls = f.opt::<TlsPin>(d, "tls");
        let scheme = f.or_default::<Scheme>(d, "scheme");
        let insecure_http = f.or_default::<bool>(d, "insecure_http");
        let present: Vec<&str> = [
            "port",
            "user",
            "password",
            "private_key",
            "api_key",
            "host_key",
            "tls",
            "scheme",
            "insecure_http",
        ]
        .into_iter()
        .filter(|k| f.has(k))
        .collect();
        let pos = f.pos();
        let fields_ok = f.finish(d);
        let transport = transport?;
        let host = host?;
        let scheme = scheme?;
        let insecure_http = insecure_http?;
        if !fields_ok {
            return None;
        }
        let mut ok = true;
        let mut need = |d: &mut Decoder, cond: bool, msg: &str| {
            if !cond {
                d.error(
                    pos,
                    path,
                    format!("transport {}: {msg}", transport.as_str()),
                );
                ok = false;
            }
        };
        let not_for = |keys: &[&str]| present.iter().find(|k| keys.contains(k)).copied();
        match transport {
            Transport::Ssh => {
                need(d, user.is_some(), "needs `user`");
                need(
                    d,
                    password.is_some() || private_key.is_some(),
                    "needs `password` or `private_key`",
                );
                need(
                    d,
                    host_key.is_some(),
                    "needs `host_key` (the pinned SSH host key)",
                );
                if let Some(k) = not_for(&["api_key", "tls", "scheme", "insecure_http"]) {
                    need(d, false, &format!("does not use `{k}`"));
                }
            }
            Transport::VyosHttp => {
                need(d, api_key.is_some(), "needs `api_key`");
                if let Some(k) = not_for(&["user", "password", "private_key", "host_key"]) {
                    need(d, false, &format!("does not use `{k}`"));
                }
            }
            Transport::Rest => {
                need(
                    d,
                    api_key.is_some() || (user.is_some() && password.is_some()),
                    "needs `api_key`, or `user` and `password`",
                );
                if let Some(k) = not_for(&["private_key", "host_key"]) {
                    need(d, false, &format!("does not use `{k}`"));
                }
            }
        }
        if scheme == Scheme::Http && tls.is_some() {
            d.error(
                pos,
                &path.key("tls"),
                "`tls` does not apply to `scheme: http`",
            );
            ok = false;
        }
        let conn = Connection {
            transport,
            host,
            port: port.unwrap_or(Port(transport.default_port())),
            user,
            password,
            private_key,
            api_key,
            host_key,
            tls,
            scheme,
            insecure_http,
        };
        if transport != Transport::Ssh {
            if scheme == Scheme::Http && !conn.is_loopback() && !insecure_http {
                d.error(
                    pos,
                    &path.key("scheme"),
                    format!(
                        "plain http to `{}` would send the API key in clear; use https (with `tls` to pin the certificate), or say `insecure_http: true` if this network is isolated",
                        conn.host
                    ),
                );
                ok = false;
            }
            if insecure_http && scheme != Scheme::Http {
                d.error(
                    pos,
                    &path.key("insecure_http"),
                    "`insecure_http` only applies to `scheme: http`",
                );
                ok = false;
            }
        }
        ok.then_some(conn)
    }
}

impl OwnedScope {
    fn decode_with(
        d: &mut Decoder,
        node: &Node,
        path: &FieldPath,
        default: DriftPolicy,
    ) -> Option<Self> {
        let at = d.locate(node, path);
        if let Value::Str(_) = node.value {
            return ScopePath::decode(d, node, path).map(|p| OwnedScope {
                path: p,
                drift: default,
                at,
            });
        }
        let mut f = d.fields(node, path)?;
        let p = f.req::<ScopePath>(d, "path");
        let drift = f.opt::<DriftPolicy>(d, "drift");
        if !f.finish(d) {
            return None;
        }
        Some(OwnedScope {
            path: p?,
            drift: drift.unwrap_or(default),
            at,
        })
    }
}

impl Decode for HealthProbe {
    fn decode(d: &mut Decoder, node: &Node, path: &FieldPath) -> Option<Self> {
        let mut f = d.fields(node, path)?;
        let kind = match f.node("kind") {
            Some(n) => d.choice(
                n,
                &path.key("kind"),
                &["tcp", "http_get", "login", "command"],
            ),
            None if f.null_required("kind") => None,
            None => {
                d.error(f.pos(), path, "missing required field `kind`");
                None
            }
        };
        let timeout = match f.node("timeout") {
            None => Ok(None),
            Some(n) => Span::decode_in(
                d,
                n,
                &path.key("timeout"),
                Duration::from_millis(100),
                Duration::from_secs(300),
            )
            .map(Some)
            .ok_or(()),
        };
        let probe = match kind {
            Some("tcp") => {
                let port = f.req::<Port>(d, "port");
                let host = f.opt::<Host>(d, "host");
                port.map(|port| HealthProbe::Tcp {
                    port,
                    host,
                    timeout: None,
                })
            }
            Some("http_get") => {
                let url = f.req::<String>(d, "url");
                let status = match f.node("expect_status") {
                    None => Some(200),
                    Some(n) => int_in(d, n, &path.key("expect_status"), 100, 599, "HTTP status")
                        .map(|s| s as u16),
                };
                let url = url.filter(|u| {
                    let ok = (u.starts_with("http://") || u.starts_with("https://"))
                        && u.len() > 8
                        && !u.chars().any(|c| c.is_whitespace() || c.is_control());
                    if !ok {
                        d.error(
                            f.pos(),
                            &path.key("url"),
                            format!("`{u}` is not an http:// or https:// URL"),
                        );
                    }
                    ok
                });
                match (url, status) {
                    (Some(url), Some(expect_status)) => Some(HealthProbe::HttpGet {
                        url,
                        expect_status,
                        timeout: None,
                    }),
                    _ => None,
                }
            }
            Some("login") => Some(HealthProbe::Login { timeout: None }),
            Some("command") => {
                let run = f.req::<ProbeCommand>(d, "run");
                let expect = f.req::<String>(d, "expect");
                let expect = expect.filter(|re| {
                    match regex::RegexBuilder::new(re).size_limit(1 << 20).build() {
                        Ok(_) => true,
                        Err(e) => {
                            d.error(
                                f.pos(),
                                &path.key("expect"),
                                format!("not a valid regular expression: {e}"),
                            );
                            false
                        }
                    }
                });
                match (run, expect) {
                    (Some(run), Some(expect)) => Some(HealthProbe::Command {
                        run,
                        expect,
                        timeout: None,
                    }),
                    _ => None,
                }
            }
            _ => None,
        };
        if !f.finish(d) {
            return None;
        }
        let Ok(t) = timeout else { return None };
        probe.map(|mut p| {
            match &mut p {
                HealthProbe::Tcp { timeout, .. }
                | HealthProbe::HttpGet { timeout, .. }
                | HealthProbe::Login { timeout }
                | HealthProbe::Command { timeout, .. } => *timeout = t,
            }
            p
        })
    }
}

/// Where the value of `key` in mapping `node` is (`path.key`), or the mapping itself.
fn located_child(d: &Decoder, node: &Node, key: &str, path: &FieldPath) -> Located {
    match &node.value {
        Value::Map(entries) => entries
            .iter()
            .find(|(k, _)| matches!(&k.value, Value::Str(s) if s == key))
            .map(|(_, v)| d.locate(v, &path.key(key)))
            .unwrap_or_else(|| d.locate(node, path)),
        _ => d.locate(node, path),
    }
}

/// Labels: keys checked, values are device-safe text.
fn decode_labels(
    d: &mut Decoder,
    node: &Node,
    path: &FieldPath,
) -> Option<BTreeMap<LabelKey, Text>> {
    let raw = <BTreeMap<String, Text>>::decode(d, node, path)?;
    let mut out = BTreeMap::new();
    let mut ok = true;
    for (k, v) in raw {
        match k.parse::<LabelKey>() {
            Ok(key) => {
                out.insert(key, v);
            }
            Err(m) => {
                d.error(node.pos, &path.key(&k), m);
                ok = false;
            }
        }
    }
    ok.then_some(out)
}

impl Decode for FleetDefaults {
    fn decode(d: &mut Decoder, node: &Node, path: &FieldPath) -> Option<Self> {
        let mut f = d.fields(node, path)?;
        let confirm_window_at = f
            .node("commit")
            .map(|n| located_child(d, n, "confirm_window", &path.key("commit")));
        let commit = f.opt::<CommitSettings>(d, "commit");
        let health = f.opt::<Vec<HealthProbe>>(d, "health");
        let drift = f.opt::<DriftPolicy>(d, "drift");
        let labels = match f.node("labels") {
            Some(n) => decode_labels(d, n, &path.key("labels")),
            None => Some(BTreeMap::new()),
        };
        let ok = f.finish(d);
        ok.then_some(FleetDefaults {
            commit,
            confirm_window_at,
            health,
            drift,
            labels: labels?,
        })
    }
}

impl Decode for FleetFile {
    fn decode(d: &mut Decoder, node: &Node, path: &FieldPath) -> Option<Self> {
        if node.value == Value::Null {
            return Some(FleetFile::default());
        }
        let mut f = d.fields(node, path)?;
        let defaults = f.or_default::<FleetDefaults>(d, "defaults");
        f.finish(d);
        Some(FleetFile {
            defaults: defaults?,
        })
    }
}

impl Decode for Policy {
    fn decode(d: &mut Decoder, node: &Node, path: &FieldPath) -> Option<Self> {
        let at = d.locate(node, path);
        let mut f = d.fields(node, path)?;
        let name = f.req::<Name>(d, "name");
        let description = f.opt::<Text>(d, "description");
        let resources = Resources::decode_fields(d, &mut f);
        if !f.finish(d) {
            return None;
        }
        Some(Policy {
            name: name?,
            description,
            resources: resources?,
            at,
        })
    }
}

impl Appliance {
    /// Decode an appliance file, filling what it leaves out from the fleet defaults.
    pub fn decode_with(d: &mut Decoder, node: &Node, defaults: &FleetDefaults) -> Option<Self> {
        let path = FieldPath::root();
        let at = d.locate(node, &path);
        let mut f = d.fields(node, &path)?;
        let name = f.req::<Name>(d, "name");
        let dictionary_at = f
            .node("dictionary")
            .map(|n| d.locate(n, &path.key("dictionary")))
            .unwrap_or_else(|| at.clone());
        let dictionary = f.req::<DictionaryName>(d, "dictionary");
        let transport_at = f
            .node("endpoint")
            .and_then(|n| match &n.value {
                Value::Map(entries) => entries
                    .iter()
                    .find(|(k, _)| k.value == Value::Str("transport".into())),
                _ => None,
            })
            .map(|(_, v)| d.locate(v, &path.key("endpoint").key("transport")))
            .unwrap_or_else(|| at.clone());
        let endpoint_at = f
            .node("endpoint")
            .map(|n| d.locate(n, &path.key("endpoint")))
            .unwrap_or_else(|| at.clone());
        let endpoint = f.req::<Connection>(d, "endpoint");
        let labels = match f.node("labels") {
            Some(n) => decode_labels(d, n, &path.key("labels")),
            None => Some(BTreeMap::new()),
        };
        let drift = match f.node("drift") {
            Some(n) => DriftPolicy::decode(d, n, &path.key("drift")),
            None => Some(defaults.drift.unwrap_or_default()),
        };
        let owns = match (f.node("owns"), drift) {
            (Some(n), Some(drift)) => match &n.value {
                Value::Seq(items) if !items.is_empty() => {
                    let scopes: Vec<Option<OwnedScope>> = items
                        .iter()
                        .enumerate()
                        .map(|(i, it)| {
                            OwnedScope::decode_with(d, it, &path.key("owns").index(i), drift)
                        })
                        .collect();
                    scopes.into_iter().collect::<Option<Vec<_>>>()
                }
                Value::Seq(_) => {
                    d.error(
                        n.pos,
                        &path.key("owns"),
                        "at least one scope is needed: `owns` lists the device paths vnfsync may change (like `firewall ipv4 name WAN-IN` or `nat destination`)",
                    );
                    None
                }
                other => {
                    d.error(
                        n.pos,
                        &path.key("owns"),
                        format!("expected a list of owned scopes, found {}", other.kind()),
                    );
                    None
                }
            },
            (None, _) if f.null_required("owns") => None,
            (None, _) => {
                d.error(
                    f.pos(),
                    &path,
                    "missing required field `owns` (the paths vnfsync may change)",
                );
                None
            }
            (Some(_), None) => None,
        };
        let (commit, confirm_window_at) = match f.node("commit") {
            Some(n) => (
                CommitSettings::decode(d, n, &path.key("commit")),
                located_child(d, n, "confirm_window", &path.key("commit")),
            ),
            None => (
                Some(defaults.commit.unwrap_or_default()),
                defaults
                    .confirm_window_at
                    .clone()
                    .unwrap_or_else(|| at.clone()),
            ),
        };
        let health = match f.node("health") {
            Some(n) => <Vec<HealthProbe>>::decode(d, n, &path.key("health")),
            None => Some(defaults.health.clone().unwrap_or_default()),
        };
        let policy_nodes = f.node("policies");
        let policies = policy_nodes.and_then(|n| <Vec<Name>>::decode(d, n, &path.key("policies")));
        let policy_refs = match policy_nodes.map(|n| &n.value) {
            Some(Value::Seq(items)) => items
                .iter()
                .enumerate()
                .map(|(i, n)| d.locate(n, &path.key("policies").index(i)))
                .collect(),
            _ => Vec::new(),
        };
        let policies = if policy_nodes.is_some() {
            policies
        } else {
            Some(Vec::new())
        };
        let existing_groups = f.or_default::<Vec<ExistingGroup>>(d, "existing_groups");
        let allow_broad_ownership = f.or_default::<bool>(d, "allow_broad_ownership");
        let adopt = f.or_default::<Adopt>(d, "adopt");
        let resources = Resources::decode_fields(d, &mut f);
        f.finish(d);
        let mut labels = labels?;
        for (k, v) in &defaults.labels {
            labels.entry(k.clone()).or_insert_with(|| v.clone());
        }
        Some(Appliance {
            name: name?,
            dictionary: dictionary?,
            endpoint: endpoint?,
            labels,
            owns: owns?,
            commit: commit?,
            health: health?,
            drift: drift?,
            existing_groups: existing_groups?,
            allow_broad_ownership: allow_broad_ownership?,
            policies: policies?,
            adopt: adopt?,
            resources: resources?,
            at,
            policy_refs,
            dictionary_at,
            transport_at,
            endpoint_at,
            confirm_window_at,
        })
    }
}
