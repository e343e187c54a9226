//! Render: the desired model of one appliance, through its dictionary, into the intended
//! device config inside the scopes it owns ([`render()`] → [`Intended`]).
//!
//! Owns: building each resource's template context from the model, running the dictionary's
//! template, reading the output through the one VyOS command parser ([`parse_lines`]) and
//! replaying it on a tree; refusing any line outside the owned scopes; the hash per scope and
//! the model key of every object rendered (which names plan entries). Also the checks that need
//! both the model and a dictionary ([`check`]): the dictionary exists and speaks the transport,
//! owned scopes are real and safe, raw lines are strict `set` commands, and every resource
//! renders. [`load`] is the whole gate in front of a device: model, dictionaries, cross-checks.
//!
//! Pure and deterministic: the same state and appliance give the same bytes. Must not do IO
//! and must not format commands itself (templates produce text, `vyos` parses it).

mod check;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use sha2::{Digest, Sha256};

pub use check::check;

use crate::dictionary::context::{
    AttachmentContext, AttachmentCtx, GroupContext, GroupCtx, GroupRefCtx, InterfaceCtx, MatchCtx,
    NatDestinationContext, NatDestinationCtx, NatSourceContext, NatSourceCtx, RouteContext,
    RouteCtx, RuleContext, RuleCtx, RuleSetContext, RuleSetCtx,
};
use crate::dictionary::{self, Dictionary, DictionaryError, Kind, ObjectPattern, RawSyntax};
use crate::model::decode::{Decoder, Diagnostic, Located};
use crate::model::values::{Interface, check_device_text};
use crate::model::{
    self, Appliance, DesiredState, DriftPolicy, GroupKind, Policy, Resources, SourceTranslation,
    TrafficMatch,
};
use crate::source::SourceFiles;
use crate::vyos::{self, Command, ConfigTree, Node, Op, Path, SetMode};

/// Read the output of a dictionary template with the VyOS command parser. Every line must be a
/// `set` command; blank lines are skipped. Template output is machine-made: values are quoted
/// by the `q` filter and an unquoted last word is a path word (a tag value such as a
/// `next-hop` address, or a valueless leaf), so it is read with the rules of `show
/// configuration commands`, not the schema-free guesses the strict parser makes for people.
pub fn parse_lines(text: &str) -> Result<Vec<vyos::commands::Located>, vyos::Error> {
    set_only(vyos::commands::parse_located(text)?)
}

/// Read lines written by people (raw lines) with the strict VyOS command parser, which refuses
/// shell syntax and ambiguous words. Every line must be a `set` command.
pub fn parse_written(text: &str) -> Result<Vec<vyos::commands::Located>, vyos::Error> {
    set_only(vyos::commands::parse_located(text)?)
}

fn set_only(
    lines: Vec<vyos::commands::Located>,
) -> Result<Vec<vyos::commands::Located>, vyos::Error> {
    for l in &lines {
        if l.command.op != Op::Set {
            return Err(vyos::Error::Command {
                line: l.line,
                column: l.column,
                message: format!(
                    "only `set` commands are allowed here, not `{}`",
                    l.command.op.as_str()
                ),
            });
        }
    }
    Ok(lines)
}

/// A desired state with its dictionaries, checked as a whole.
///
/// It keeps what each policy rendered to (per dictionary and group kinds), so that the
/// appliances sharing a policy render its templates once: change `state.policies` or
/// `dictionaries` of a loaded state only after [`Loaded::clear_render_cache`].
#[derive(Debug, Clone)]
pub struct Loaded {
    pub state: DesiredState,
    /// Dictionaries in effect (the state's own first, then shipped), by name.
    pub dictionaries: BTreeMap<String, Dictionary>,
    fragments: Arc<Fragments>,
}

impl Loaded {
    /// The dictionary of an appliance (present for every appliance of a loaded state).
    pub fn dictionary_of(&self, a: &Appliance) -> Option<&Dictionary> {
        self.dictionaries.get(a.dictionary.as_str())
    }

    /// Forget what the policies rendered to: the next [`render()`] renders them again.
    pub fn clear_render_cache(&self) {
        self.fragments.clear();
    }
}

/// Load the model and the dictionaries and run every check, including rendering each
/// appliance once: what passes can be rendered and planned. Every problem is returned, sorted.
pub fn load(files: &SourceFiles) -> Result<Loaded, Vec<Diagnostic>> {
    load_with(files, model::LoadOptions::default())
}

/// [`load`] with the model's options (`--allow-empty`).
pub fn load_with(files: &SourceFiles, opts: model::LoadOptions) -> Result<Loaded, Vec<Diagnostic>> {
    let model = model::load_with(files, opts);
    let (dictionaries, mut diags) = dictionary::load_from(files);
    match model {
        Err(e) => {
            diags.extend(e);
        }
        Ok(state) => {
            let loaded = Loaded {
                state,
                dictionaries,
                fragments: Arc::default(),
            };
            diags.extend(check(&loaded));
            if diags.is_empty() {
                return Ok(loaded);
            }
        }
    }
    diags.sort();
    diags.dedup();
    Err(diags)
}

/// One owned scope of the intended config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScopeState {
    /// The scope's device path.
    pub path: String,
    pub drift: DriftPolicy,
    /// `sha256:` of the scope's intended config (its `show configuration commands` lines).
    pub hash: String,
}

/// An object the intended config holds, named by the model's keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectRef {
    /// The resource kind (`rule`, `nat_destination`, ...; `raw` for raw lines).
    pub kind: String,
    /// The model's keys: rule set, rule id and number, NAT rule number, route prefix, group.
    pub key: BTreeMap<String, serde_json::Value>,
    /// Its device path.
    pub path: Vec<String>,
}

/// The intended config of one appliance: what its owned scopes must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intended {
    pub appliance: String,
    pub dictionary: String,
    /// The dictionary's firmware range, as written (a device outside it is refused).
    pub firmware: dictionary::Firmware,
    /// The commit the desired state was read from.
    pub commit: Option<String>,
    /// The owned scopes in the appliance's order, each with its hash.
    pub scopes: Vec<ScopeState>,
    /// The intended config, holding nothing outside the scopes.
    pub tree: ConfigTree,
    /// The objects rendered, in the order they were rendered (shared with the render of the
    /// policy they came from).
    pub objects: Vec<Arc<ObjectRef>>,
    /// The dictionary's object patterns, to name what the device has beyond the intended.
    pub patterns: Vec<ObjectPattern>,
}

impl Intended {
    /// The owned scopes as tree paths.
    pub fn scope_paths(&self) -> Vec<Path> {
        self.scopes.iter().map(|s| Path::parse(&s.path)).collect()
    }
}

/// `sha256:` and the hex digest of `text`.
pub fn sha256(text: &[u8]) -> String {
    let digest = Sha256::digest(text);
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for b in digest.iter() {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// The hash of a tree's content inside `scopes`: its `show configuration commands` text.
pub fn tree_hash(tree: &ConfigTree, scopes: &[Path]) -> String {
    sha256(vyos::render_commands_within(tree, scopes).as_bytes())
}

/// Why an appliance could not be rendered, with where: the desired-state resource and, when
/// a template failed, the dictionary file and line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RenderError {
    /// The resource being rendered, when there is one.
    pub at: Option<Located>,
    pub message: String,
}

impl RenderError {
    fn new(at: Option<&Located>, message: String) -> RenderError {
        RenderError {
            at: at.cloned(),
            message,
        }
    }

    fn template(at: &Located, what: &str, e: DictionaryError) -> RenderError {
        RenderError::new(
            Some(at),
            format!(
                "{what}: dictionary template `{}` at {}:{}: {}",
                e.error.template, e.file, e.line, e.error.message
            ),
        )
    }

    /// As a diagnostic at the resource (or at the appliance file when there is none).
    pub fn into_diagnostic(self, appliance: &Appliance) -> Diagnostic {
        let at = self.at.unwrap_or_else(|| appliance.at.clone());
        let mut d = Decoder::new(&at.file);
        d.error_in(&at, self.message);
        d.into_diagnostics()
            .into_iter()
            .next()
            .unwrap_or_else(|| Diagnostic {
                file: at.file.to_string(),
                line: at.pos.line,
                column: at.pos.column,
                path: at.path.clone(),
                message: String::new(),
            })
    }
}

/// Where an interface lives for this dictionary.
fn interface(dict: &Dictionary, name: &Interface) -> Result<InterfaceCtx, String> {
    let text = name.as_str();
    let kind = dict.interface_kind(text).ok_or_else(|| {
        let known: Vec<&str> = dict.interfaces.keys().map(String::as_str).collect();
        format!(
            "dictionary `{}` does not know the interface type of `{text}` (it knows the prefixes {})",
            dict.name,
            known.join(", ")
        )
    })?;
    let (base, vif) = match text.split_once('.') {
        Some((b, v)) => (b.to_owned(), Some(v.to_owned())),
        None => (text.to_owned(), None),
    };
    Ok(InterfaceCtx {
        name: text.to_owned(),
        kind: kind.to_owned(),
        base,
        vif,
    })
}

fn set_ctx(set: &model::RuleSet) -> RuleSetCtx {
    RuleSetCtx {
        name: set.name.to_string(),
        family: set.family.as_str().to_owned(),
        default_action: action(set.default_action).to_owned(),
        description: set.description.as_ref().map(ToString::to_string),
    }
}

fn action(a: model::Action) -> &'static str {
    match a {
        model::Action::Accept => "accept",
        model::Action::Drop => "drop",
        model::Action::Reject => "reject",
    }
}

fn state_name(s: model::ConnState) -> &'static str {
    match s {
        model::ConnState::Established => "established",
        model::ConnState::Related => "related",
        model::ConnState::New => "new",
        model::ConnState::Invalid => "invalid",
    }
}

struct Renderer<'a> {
    appliance: &'a Appliance,
    dict: &'a Dictionary,
    scopes: Vec<Path>,
    groups: &'a BTreeMap<&'a str, GroupKind>,
    tree: ConfigTree,
    objects: Vec<Arc<ObjectRef>>,
    /// The attachments rendered, by the objects they made (to find two on one object).
    attachments: Vec<AttachmentOrigin>,
    /// When rendering a fragment: the paths of valueless `set` commands (their nodes may have
    /// children by the end, which a walk of the tree would not see as ends of commands).
    valueless: Option<Vec<Vec<String>>>,
    errors: Vec<RenderError>,
}

/// Where an attachment object came from, to name both sides of a collision.
#[derive(Debug, Clone)]
struct AttachmentOrigin {
    /// Index into the objects.
    object: usize,
    what: String,
    at: Located,
    number: u32,
    /// The number was derived, not given with `number:`.
    derived: bool,
}

fn key(pairs: &[(&str, serde_json::Value)]) -> BTreeMap<String, serde_json::Value> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

impl<'a> Renderer<'a> {
    fn inside(&self, path: &[String]) -> bool {
        self.scopes.iter().any(|s| path.starts_with(&s.0))
    }

    fn match_ctx(&self, m: &Option<TrafficMatch>) -> Option<MatchCtx> {
        m.as_ref().map(|m| MatchCtx {
            address: m.address.map(|a| a.to_string()),
            group: m.group.as_ref().map(|g| GroupRefCtx {
                name: g.to_string(),
                kind: self
                    .groups
                    .get(g.as_str())
                    .map_or("address", |k| k.as_str())
                    .to_owned(),
            }),
            port: m.port.as_ref().map(ToString::to_string),
            port_group: m.port_group.as_ref().map(ToString::to_string),
        })
    }

    /// Render one resource and replay its lines on the tree.
    fn emit<S: Serialize>(
        &mut self,
        kind: Kind,
        ctx: S,
        at: &Located,
        what: &str,
        key: BTreeMap<String, serde_json::Value>,
    ) {
        let text = match self.dict.render(kind, ctx) {
            Ok(t) => t,
            Err(e) => {
                self.errors.push(RenderError::template(at, what, e));
                return;
            }
        };
        let start = self.dict.templates.get(kind).line;
        let lines = match parse_lines(&text) {
            Ok(l) => l,
            Err(e) => {
                self.errors.push(RenderError::new(
                    Some(at),
                    format!(
                        "{what}: dictionary template `{}` ({}:{}) renders a line that does not parse: {e}",
                        kind.as_str(),
                        self.dict.file,
                        start
                    ),
                ));
                return;
            }
        };
        let origin = format!(
            " (rendered by dictionary template `{}`, {}:{})",
            kind.as_str(),
            self.dict.file,
            start
        );
        self.replay(
            lines.into_iter().map(|l| l.command),
            at,
            what,
            kind.as_str(),
            key,
            &origin,
        );
    }

    fn replay(
        &mut self,
        commands: impl Iterator<Item = Command>,
        at: &Located,
        what: &str,
        kind: &str,
        key: BTreeMap<String, serde_json::Value>,
        origin: &str,
    ) {
        let mut seen: Vec<Vec<String>> = Vec::new();
        for cmd in commands {
            if !self.inside(&cmd.path) {
                let scopes: Vec<String> = self
                    .appliance
                    .owns
                    .iter()
                    .map(|s| format!("`{}`", s.path))
                    .collect();
                self.errors.push(RenderError::new(
                    Some(at),
                    format!(
                        "{what} is outside the scopes appliance `{}` owns: `{}` is not under {}{origin}",
                        self.appliance.name,
                        cmd.path.join(" "),
                        scopes.join(", ")
                    ),
                ));
                return;
            }
            if cmd.value.is_none()
                && let Some(v) = &mut self.valueless
            {
                v.push(cmd.path.clone());
            }
            if let Err(e) = vyos::apply_command(&mut self.tree, &cmd, SetMode::Add) {
                self.errors
                    .push(RenderError::new(Some(at), format!("{what}: `{cmd}`: {e}")));
                return;
            }
            let object = match self.dict.object_len(&cmd.path) {
                Some(n) if kind != "raw" => cmd.path[..n].to_vec(),
                _ => cmd.path.clone(),
            };
            if !seen.contains(&object) {
                seen.push(object);
            }
        }
        // The resource's own object is the shortest path it wrote under (a rule set's lines
        // all lie under `firewall ipv4 name X`).
        for path in seen {
            self.objects.push(Arc::new(ObjectRef {
                kind: kind.to_owned(),
                key: key.clone(),
                path,
            }));
        }
    }

    fn resources(&mut self, policy: Option<&Policy>, r: &'a Resources) {
        let from = policy
            .map(|p| format!(" (from policy `{}`)", p.name))
            .unwrap_or_default();
        for g in &r.groups {
            let ctx = GroupContext {
                group: GroupCtx {
                    name: g.name.to_string(),
                    kind: g.kind.as_str().to_owned(),
                    family: g.family.as_str().to_owned(),
                    members: g.members.clone(),
                    description: g.description.as_ref().map(ToString::to_string),
                },
            };
            let k = key(&[("group", g.name.to_string().into())]);
            self.emit(
                Kind::Group,
                ctx,
                &g.at,
                &format!("group `{}`{from}", g.name),
                k,
            );
        }
        for set in &r.rule_sets {
            let sc = set_ctx(set);
            let what = format!("rule set `{}`{from}", set.name);
            let k = key(&[("rule_set", set.name.to_string().into())]);
            self.emit(
                Kind::RuleSet,
                RuleSetContext { set: sc.clone() },
                &set.at,
                &what,
                k,
            );
            for rule in &set.rules {
                let ctx = RuleContext {
                    set: sc.clone(),
                    rule: RuleCtx {
                        id: rule.id.to_string(),
                        number: rule.number.0,
                        action: action(rule.action).to_owned(),
                        protocol: rule.protocol.as_str().to_owned(),
                        source: self.match_ctx(&rule.source),
                        destination: self.match_ctx(&rule.destination),
                        state: rule
                            .state
                            .iter()
                            .map(|s| state_name(*s).to_owned())
                            .collect(),
                        log: rule.log,
                        disabled: rule.disabled,
                        description: rule.description.as_ref().map(ToString::to_string),
                    },
                };
                let k = key(&[
                    ("rule_set", set.name.to_string().into()),
                    ("rule", rule.id.to_string().into()),
                    ("number", rule.number.0.into()),
                ]);
                let what = format!("rule `{}` of rule set `{}`{from}", rule.id, set.name);
                self.emit(Kind::Rule, ctx, &rule.at, &what, k);
            }
            for att in &set.attach {
                let what = format!(
                    "attachment of rule set `{}` to {} {}{from}",
                    set.name,
                    att.interface,
                    att.direction.as_str()
                );
                let iface = match interface(self.dict, &att.interface) {
                    Ok(i) => i,
                    Err(m) => {
                        self.errors
                            .push(RenderError::new(Some(&set.at), format!("{what}: {m}")));
                        continue;
                    }
                };
                let number = att.number_for(&set.name).0;
                let first = self.objects.len();
                let ctx = AttachmentContext {
                    set: sc.clone(),
                    attachment: AttachmentCtx {
                        interface: iface,
                        direction: att.direction.as_str().to_owned(),
                        number,
                    },
                };
                let k = key(&[
                    ("rule_set", set.name.to_string().into()),
                    ("interface", att.interface.to_string().into()),
                    ("direction", att.direction.as_str().into()),
                    ("number", number.into()),
                ]);
                self.emit(Kind::Attachment, ctx, &set.at, &what, k);
                for object in first..self.objects.len() {
                    self.attachments.push(AttachmentOrigin {
                        object,
                        what: what.clone(),
                        at: set.at.clone(),
                        number,
                        derived: att.number.is_none(),
                    });
                }
            }
        }
        for n in &r.nat.destination {
            let what = format!("destination NAT rule {}{from}", n.number.0);
            let iface = match interface(self.dict, &n.inbound_interface) {
                Ok(i) => i,
                Err(m) => {
                    self.errors
                        .push(RenderError::new(Some(&n.at), format!("{what}: {m}")));
                    continue;
                }
            };
            let ctx = NatDestinationContext {
                nat: NatDestinationCtx {
                    number: n.number.0,
                    description: n.description.as_ref().map(ToString::to_string),
                    disabled: n.disabled,
                    inbound_interface: iface,
                    protocol: n.protocol.as_str().to_owned(),
                    external_address: n.external_address.map(|a| a.to_string()),
                    external_port: n.external_port.as_ref().map(ToString::to_string),
                    source_address: n.source_address.map(|a| a.to_string()),
                    translation_address: n.translation_address.map(|a| a.to_string()),
                    translation_port: n.translation_port.as_ref().map(ToString::to_string),
                },
            };
            let k = key(&[("nat_destination", n.number.0.into())]);
            self.emit(Kind::NatDestination, ctx, &n.at, &what, k);
        }
        for n in &r.nat.source {
            let what = format!("source NAT rule {}{from}", n.number.0);
            let iface = match interface(self.dict, &n.outbound_interface) {
                Ok(i) => i,
                Err(m) => {
                    self.errors
                        .push(RenderError::new(Some(&n.at), format!("{what}: {m}")));
                    continue;
                }
            };
            let ctx = NatSourceContext {
                nat: NatSourceCtx {
                    number: n.number.0,
                    description: n.description.as_ref().map(ToString::to_string),
                    disabled: n.disabled,
                    outbound_interface: iface,
                    source_prefix: n.source_prefix.to_string(),
                    translation: match &n.translation {
                        SourceTranslation::Masquerade => "masquerade".to_owned(),
                        SourceTranslation::Address(a) => a.to_string(),
                    },
                },
            };
            let k = key(&[("nat_source", n.number.0.into())]);
            self.emit(Kind::NatSource, ctx, &n.at, &what, k);
        }
        for route in &r.routes {
            let what = format!("route {}{from}", route.prefix);
            let iface = match &route.interface {
                None => None,
                Some(i) => match interface(self.dict, i) {
                    Ok(i) => Some(i),
                    Err(m) => {
                        self.errors
                            .push(RenderError::new(Some(&route.at), format!("{what}: {m}")));
                        continue;
                    }
                },
            };
            let ctx = RouteContext {
                route: RouteCtx {
                    prefix: route.prefix.to_string(),
                    family: route.prefix.family().as_str().to_owned(),
                    next_hop: route.next_hop.map(|a| a.to_string()),
                    interface: iface,
                    blackhole: route.blackhole,
                    distance: route.distance,
                    description: route.description.as_ref().map(ToString::to_string),
                },
            };
            let k = key(&[("route", route.prefix.to_string().into())]);
            self.emit(Kind::Route, ctx, &route.at, &what, k);
        }
        for raw in &r.raw {
            let shown = raw.line.replace('\n', "\\n").replace('\r', "\\r");
            let what = format!("raw line `{shown}`{from}");
            if self.dict.raw == RawSyntax::None {
                self.errors.push(RenderError::new(
                    Some(&raw.at),
                    format!(
                        "{what}: dictionary `{}` does not support raw lines",
                        self.dict.name
                    ),
                ));
                continue;
            }
            let commands = match parse_raw(&raw.line) {
                Ok(c) => c,
                Err(m) => {
                    self.errors
                        .push(RenderError::new(Some(&raw.at), format!("{what}: {m}")));
                    continue;
                }
            };
            let k = key(&[("raw", raw.line.clone().into())]);
            self.replay(std::iter::once(commands), &raw.at, &what, "raw", k, "");
        }
    }
}

/// A raw line: exactly one strict `set` command.
fn parse_raw(line: &str) -> Result<Command, String> {
    if let Some(c) = line.chars().find(|c| *c == '\n' || *c == '\r') {
        return Err(format!(
            "a raw line is one line: it may not hold {}",
            if c == '\n' {
                "a newline"
            } else {
                "a carriage return"
            }
        ));
    }
    let mut lines = parse_written(line).map_err(|e| match e.position() {
        Some((_, col)) => format!("column {col}: {e}"),
        None => e.to_string(),
    })?;
    match lines.len() {
        1 => {
            let cmd = lines.remove(0).command;
            for w in &cmd.path {
                check_device_text(w).map_err(|m| format!("path word `{w}`: {m}"))?;
            }
            Ok(cmd)
        }
        _ => Err("a raw line is one `set …` command".into()),
    }
}

/// Render one appliance of a loaded state into its intended config.
pub fn render(loaded: &Loaded, appliance: &Appliance) -> Result<Intended, Vec<RenderError>> {
    let Some(dict) = loaded.dictionary_of(appliance) else {
        return Err(vec![RenderError::new(
            Some(&appliance.dictionary_at),
            format!("dictionary `{}` does not exist", appliance.dictionary),
        )]);
    };
    render_in(&loaded.state, appliance, dict, &loaded.fragments)
}

/// Render one appliance with a given dictionary.
pub fn render_with(
    state: &DesiredState,
    appliance: &Appliance,
    dict: &Dictionary,
) -> Result<Intended, Vec<RenderError>> {
    render_in(state, appliance, dict, &Fragments::default())
}

/// What one block of resources (a policy's, or an appliance's own) renders to with one
/// dictionary and one reading of the groups its rules name. Nothing else of the appliance
/// goes in, so every appliance with that policy, dictionary and group kinds gets the same.
#[derive(Debug)]
struct Fragment {
    /// Its commands replayed on an empty tree; `None` when a resource did not render (the
    /// appliance is then rendered command by command, which reports each error where it arose).
    tree: Option<ConfigTree>,
    objects: Vec<Arc<ObjectRef>>,
    attachments: Vec<AttachmentOrigin>,
    /// Paths of valueless `set` commands whose nodes have children in `tree`.
    inner_ends: Vec<Vec<String>>,
}

/// Which fragment: dictionary, policy, and the kind of each group its rules name.
type FragmentKey = (String, String, Vec<Option<GroupKind>>);

/// The fragments of the policies of a loaded state, rendered on first use.
#[derive(Debug, Default)]
struct Fragments {
    map: Mutex<HashMap<FragmentKey, Arc<Fragment>>>,
}

impl Fragments {
    fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<FragmentKey, Arc<Fragment>>> {
        // A panic while rendering leaves nothing half-inserted: the map stays usable.
        self.map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The group names the rules of `r` refer to, in order of first use.
fn group_refs(r: &Resources) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for set in &r.rule_sets {
        for rule in &set.rules {
            for m in [&rule.source, &rule.destination].into_iter().flatten() {
                if let Some(g) = &m.group
                    && !out.contains(&g.as_str())
                {
                    out.push(g.as_str());
                }
            }
        }
    }
    out
}

fn fragment<'a>(
    appliance: &'a Appliance,
    dict: &'a Dictionary,
    groups: &'a BTreeMap<&'a str, GroupKind>,
    policy: Option<&'a Policy>,
    resources: &'a Resources,
) -> Fragment {
    let mut r = Renderer {
        appliance,
        dict,
        // Everything is inside: the appliance's scopes are checked when the fragment is used.
        scopes: vec![Path::default()],
        groups,
        tree: ConfigTree::new(),
        objects: Vec::new(),
        attachments: Vec::new(),
        valueless: Some(Vec::new()),
        errors: Vec::new(),
    };
    r.resources(policy, resources);
    let inner_ends = r
        .valueless
        .take()
        .unwrap_or_default()
        .into_iter()
        .filter(|p| r.tree.get(p).is_some_and(|n| !n.children().is_empty()))
        .collect();
    Fragment {
        tree: r.errors.is_empty().then_some(r.tree),
        objects: r.objects,
        attachments: r.attachments,
        inner_ends,
    }
}

/// Whether every command of a fragment lies inside `scopes`: what lies under a scope is in;
/// on the way to a scope, only the ends of commands (values, leaves, and valueless sets whose
/// nodes got children) are out.
fn fragment_inside(f: &Fragment, tree: &ConfigTree, scopes: &[Path]) -> bool {
    fn walk(node: &Node, path: &mut Vec<String>, scopes: &[Path]) -> bool {
        for c in node.children() {
            path.push(c.name().to_owned());
            let ok = if scopes.iter().any(|s| path.starts_with(&s.0)) {
                true
            } else if !scopes.iter().any(|s| s.0.starts_with(path))
                || !c.values().is_empty()
                || c.children().is_empty()
            {
                // Off every scope's way, or a command ends here on the way to one.
                false
            } else {
                walk(c, path, scopes)
            };
            path.pop();
            if !ok {
                return false;
            }
        }
        true
    }
    walk(tree.root(), &mut Vec::new(), scopes)
        && f.inner_ends
            .iter()
            .all(|p| scopes.iter().any(|s| p.starts_with(&s.0)))
}

/// The tree, objects and attachments of an appliance from fragments: each policy's rendered
/// once per loaded state, the appliance's own rendered now, merged in the order a replay of
/// their commands would take. `None` when that is not the same as the replay (a resource that
/// fails, a line outside the scopes, two fragments that clash): the caller replays then.
/// With `check_only`, no tree is built (clashes are found pair by pair) and only the
/// attachment objects are kept: what [`check`] needs to know that the appliance renders.
fn from_fragments(
    state: &DesiredState,
    appliance: &Appliance,
    dict: &Dictionary,
    groups: &BTreeMap<&str, GroupKind>,
    cache: &Fragments,
    scopes: &[Path],
    check_only: bool,
) -> Option<(ConfigTree, Vec<Arc<ObjectRef>>, Vec<AttachmentOrigin>)> {
    let mut tree = ConfigTree::new();
    let mut objects = Vec::new();
    let mut attachments = Vec::new();
    let mut used: Vec<Arc<Fragment>> = Vec::new();
    for (policy, res) in state.resources_of(appliance) {
        let f =
            match policy {
                None => Arc::new(fragment(appliance, dict, groups, None, res)),
                Some(p) => {
                    let kinds = group_refs(res)
                        .into_iter()
                        .map(|g| groups.get(g).copied())
                        .collect();
                    let key = (dict.name.to_string(), p.name.to_string(), kinds);
                    let mut map = cache.lock();
                    Arc::clone(map.entry(key).or_insert_with(|| {
                        Arc::new(fragment(appliance, dict, groups, policy, res))
                    }))
                }
            };
        let t = f.tree.as_ref()?;
        if !fragment_inside(&f, t, scopes) {
            return None;
        }
        if check_only {
            for before in &used {
                if before.tree.as_ref()?.sets_conflict(t) {
                    return None;
                }
            }
            for a in &f.attachments {
                attachments.push(AttachmentOrigin {
                    object: objects.len(),
                    ..a.clone()
                });
                objects.push(Arc::clone(&f.objects[a.object]));
            }
            used.push(f);
            continue;
        }
        tree.merge_sets(t).ok()?;
        let offset = objects.len();
        objects.extend(f.objects.iter().cloned());
        attachments.extend(f.attachments.iter().map(|a| AttachmentOrigin {
            object: a.object + offset,
            ..a.clone()
        }));
    }
    Some((tree, objects, attachments))
}

/// Two attachments whose jump rules got one number (a derived number can collide) would
/// silently merge into one rule holding two jump targets: refuse, naming both. Attachments
/// that are not jump rules (VyOS 1.3 binds rule sets to interfaces, where an IPv4 and an IPv6
/// rule set share one object) are not numbered and are left alone.
fn attachment_collisions(
    appliance: &Appliance,
    dict: &Dictionary,
    objects: &[Arc<ObjectRef>],
    attachments: &[AttachmentOrigin],
) -> Vec<RenderError> {
    let mut errors = Vec::new();
    let mut by_path: HashMap<&[String], &AttachmentOrigin> = HashMap::new();
    for a in attachments {
        let object = &objects[a.object];
        let numbered = dict.object_of(&object.path).is_some_and(|(_, caps)| {
            caps.iter()
                .any(|(k, v)| k == "number" && *v == a.number.to_string())
        });
        if !numbered {
            continue;
        }
        let Some(first) = by_path.get(object.path.as_slice()).copied() else {
            by_path.insert(&object.path, a);
            continue;
        };
        if objects[first.object].key == object.key {
            continue;
        }
        let how = |o: &AttachmentOrigin| {
            if o.derived {
                "derived: it has no `number:`"
            } else {
                "given with `number:`"
            }
        };
        errors.push(RenderError::new(
            Some(&a.at),
            format!(
                "appliance `{}`: {} ({}) and {} ({}) both get jump-rule number {}, so both would be `{}`; give one of them another `number:` on its attachment",
                appliance.name,
                first.what,
                how(first),
                a.what,
                how(a),
                a.number,
                object.path.join(" ")
            ),
        ));
    }
    errors
}

/// Render an appliance into its intended config.
fn render_in(
    state: &DesiredState,
    appliance: &Appliance,
    dict: &Dictionary,
    cache: &Fragments,
) -> Result<Intended, Vec<RenderError>> {
    let (tree, objects) = assemble(state, appliance, dict, cache, false)?;
    let scopes = appliance
        .owns
        .iter()
        .map(|s| ScopeState {
            path: s.path.to_string(),
            drift: s.drift,
            hash: tree_hash(&tree, &[Path(s.path.words().to_vec())]),
        })
        .collect();
    Ok(Intended {
        appliance: appliance.name.to_string(),
        dictionary: dict.name.to_string(),
        firmware: dict.firmware.clone(),
        commit: state.commit.clone(),
        scopes,
        tree,
        objects,
        patterns: dict.objects.clone(),
    })
}

/// Whether an appliance renders, with the errors [`render_in`] would give, without making
/// its intended config (what `check` runs for every appliance).
fn check_renders(
    state: &DesiredState,
    appliance: &Appliance,
    dict: &Dictionary,
    cache: &Fragments,
) -> Result<(), Vec<RenderError>> {
    assemble(state, appliance, dict, cache, true).map(drop)
}

/// The intended tree and objects of an appliance (with `check_only`, an empty tree and the
/// attachment objects only), or every error.
fn assemble(
    state: &DesiredState,
    appliance: &Appliance,
    dict: &Dictionary,
    cache: &Fragments,
    check_only: bool,
) -> Result<(ConfigTree, Vec<Arc<ObjectRef>>), Vec<RenderError>> {
    let mut groups = BTreeMap::new();
    for g in &appliance.existing_groups {
        groups.insert(g.name.as_str(), g.kind);
    }
    for (_, r) in state.resources_of(appliance) {
        for g in &r.groups {
            groups.insert(g.name.as_str(), g.kind);
        }
    }
    let scope_paths: Vec<Path> = appliance
        .owns
        .iter()
        .map(|s| Path(s.path.words().to_vec()))
        .collect();
    let fast = from_fragments(
        state,
        appliance,
        dict,
        &groups,
        cache,
        &scope_paths,
        check_only,
    );
    let (tree, objects, attachments) = match fast {
        Some(done) => done,
        None => {
            let mut r = Renderer {
                appliance,
                dict,
                scopes: scope_paths.clone(),
                groups: &groups,
                tree: ConfigTree::new(),
                objects: Vec::new(),
                attachments: Vec::new(),
                valueless: None,
                errors: Vec::new(),
            };
            for (policy, res) in state.resources_of(appliance) {
                r.resources(policy, res);
            }
            if !r.errors.is_empty() {
                return Err(r.errors);
            }
            (r.tree, r.objects, r.attachments)
        }
    };
    let collisions = attachment_collisions(appliance, dict, &objects, &attachments);
    if !collisions.is_empty() {
        return Err(collisions);
    }
    Ok((tree, objects))
}

#[cfg(test)]
pub(crate) mod tests;
