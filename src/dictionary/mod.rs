//! Vendor dictionaries: one YAML file per vendor and version (`vyos-1.4`, …) holding the whole
//! mapping from the abstract desired state to the device, as data.
//!
//! Owns: loading and validating dictionary files, the lookup order (the desired-state
//! directory's own `dictionaries/` first, then the ones shipped inside the binary from the
//! repository's `dictionaries/`), the firmware range a dictionary is for (a parsed version
//! requirement), the templates that render each resource kind into vendor lines ([`template`],
//! the only minijinja user, with the contexts of [`context`]), the object paths those lines
//! create (which name the entries of a plan), the other paths the vendor knows (which owned
//! scopes are checked against), and the management-critical roots. A dictionary is checked
//! whole when loaded: every template compiles, reads only variables its context has, and
//! renders its sample within the fuel limit into lines that parse.
//! Must not do IO (files arrive as text) and must not know any vendor's syntax in Rust: the
//! per-version differences live in the YAML files.

pub mod context;
pub mod template;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use schemars::JsonSchema;
use serde::Serialize;

pub use context::Kind;
use template::{TemplateError, Templates};

use crate::model::Transport;
use crate::model::decode::{Decode, Decoder, Diagnostic, FieldPath};
use crate::model::values::{DictionaryName, ScopePath, Text, check_device_text};
use crate::yaml::{self, Node, Pos};

/// The dictionaries built into the binary, from the repository's `dictionaries/` folder.
pub const SHIPPED: &[(&str, &str)] = &[
    ("vyos-1.3", include_str!("../../dictionaries/vyos-1.3.yaml")),
    ("vyos-1.4", include_str!("../../dictionaries/vyos-1.4.yaml")),
    ("vyos-1.5", include_str!("../../dictionaries/vyos-1.5.yaml")),
];

/// The version of the dictionary format this build reads.
pub const SCHEMA_VERSION: u32 = 2;

/// Where a dictionary came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// The desired-state directory's own `dictionaries/` (file path given).
    Repo(String),
    /// Built into this binary.
    Shipped,
}

/// How raw vendor lines are written for this vendor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RawSyntax {
    /// VyOS `set <path> ['value']` commands, read by the strict VyOS command parser.
    VyosSet,
    /// Raw lines are not supported by this vendor.
    None,
}

/// One word of a [`PathPattern`].
#[derive(Debug, Clone, PartialEq, Eq)]
enum Word {
    Literal(String),
    /// `{name}`: any one word, captured as `name`.
    Capture(String),
    /// `**` (last word only): anything below.
    Rest,
}

/// A device path with placeholders: `firewall ipv4 name {rule_set} rule {number}`; a last word
/// `**` admits any path below.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathPattern {
    text: String,
    words: Vec<Word>,
}

impl Serialize for PathPattern {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl JsonSchema for PathPattern {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "PathPattern".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"type": "string", "minLength": 1,
            "description": "device path words; `{name}` matches one word, a last `**` anything below"})
    }
}

impl fmt::Display for PathPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::str::FromStr for PathPattern {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let parts: Vec<&str> = s.split_whitespace().collect();
        if parts.is_empty() {
            return Err("a path needs at least one word".into());
        }
        let mut words = Vec::with_capacity(parts.len());
        for (i, p) in parts.iter().enumerate() {
            check_device_text(p).map_err(|m| format!("path word `{p}`: {m}"))?;
            let w = if *p == "**" {
                if i + 1 != parts.len() {
                    return Err(format!("`**` may only end a path, in `{s}`"));
                }
                Word::Rest
            } else if let Some(name) = p.strip_prefix('{').and_then(|r| r.strip_suffix('}')) {
                if name.is_empty() || !name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
                    return Err(format!("bad placeholder `{p}` in `{s}` (use `{{name}}`)"));
                }
                Word::Capture(name.to_owned())
            } else if p.contains(['{', '}', '*']) {
                return Err(format!("bad path word `{p}` in `{s}`"));
            } else {
                Word::Literal((*p).to_owned())
            };
            words.push(w);
        }
        Ok(PathPattern {
            text: parts.join(" "),
            words,
        })
    }
}

impl PathPattern {
    /// The number of words a path needs to match the whole pattern (`**` counts none).
    pub fn len(&self) -> usize {
        self.words.iter().filter(|w| **w != Word::Rest).count()
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    fn word_matches(w: &Word, s: &str) -> bool {
        match w {
            Word::Literal(l) => l == s,
            Word::Capture(_) | Word::Rest => true,
        }
    }

    /// The captures if `path` begins with a full match of this pattern.
    pub fn match_prefix<S: AsRef<str>>(&self, path: &[S]) -> Option<Vec<(String, String)>> {
        let mut caps = Vec::new();
        for (i, w) in self.words.iter().enumerate() {
            if *w == Word::Rest {
                return Some(caps);
            }
            let word = path.get(i)?.as_ref();
            if !Self::word_matches(w, word) {
                return None;
            }
            if let Word::Capture(name) = w {
                caps.push((name.clone(), word.to_owned()));
            }
        }
        Some(caps)
    }

    /// Whether `path` begins with a full match of this pattern ([`Self::match_prefix`]
    /// without collecting the captures).
    pub fn matches_prefix<S: AsRef<str>>(&self, path: &[S]) -> bool {
        for (i, w) in self.words.iter().enumerate() {
            if *w == Word::Rest {
                return true;
            }
            match path.get(i) {
                Some(word) if Self::word_matches(w, word.as_ref()) => {}
                _ => return false,
            }
        }
        true
    }

    /// Whether `scope` is an instance of this pattern or of a leading part of it, or lies
    /// below a `**`: the paths this pattern makes known.
    pub fn admits<S: AsRef<str>>(&self, scope: &[S]) -> bool {
        for (i, s) in scope.iter().enumerate() {
            match self.words.get(i) {
                None => return false,
                Some(Word::Rest) => return true,
                Some(w) if Self::word_matches(w, s.as_ref()) => {}
                Some(_) => return false,
            }
        }
        true
    }

    /// The leading `n` words of this pattern with the captures filled in, if all are known.
    pub fn fill(&self, caps: &[(String, String)], n: usize) -> Option<Vec<String>> {
        self.words
            .iter()
            .take(n)
            .map(|w| match w {
                Word::Literal(l) => Some(l.clone()),
                Word::Capture(name) => caps.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()),
                Word::Rest => None,
            })
            .collect()
    }

    /// Placeholder names, in order.
    pub fn placeholders(&self) -> impl Iterator<Item = &str> {
        self.words.iter().filter_map(|w| match w {
            Word::Capture(n) => Some(n.as_str()),
            _ => None,
        })
    }
}

/// Where the lines of one resource kind land: the path of the object they make.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ObjectPattern {
    pub kind: Kind,
    pub path: PathPattern,
}

/// The firmware versions a dictionary is for: a version requirement (`>=1.4, <1.5`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Firmware {
    text: String,
    req: semver::VersionReq,
}

impl Serialize for Firmware {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl JsonSchema for Firmware {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Firmware".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"type": "string", "minLength": 1,
            "description": "a version requirement such as `>=1.4, <1.5` (Cargo syntax)"})
    }
}

impl fmt::Display for Firmware {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::str::FromStr for Firmware {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        semver::VersionReq::parse(s)
            .map(|req| Firmware {
                text: s.to_owned(),
                req,
            })
            .map_err(|e| format!("`{s}` is not a version requirement (like `>=1.4, <1.5`): {e}"))
    }
}

impl Firmware {
    /// Whether a device's release string lies in the range; `None` when the release string
    /// says no version this build can read.
    pub fn admits(&self, release: &str) -> Option<bool> {
        release_version(release).map(|v| self.req.matches(&v))
    }
}

/// The version in a VyOS release string: `1.4.0` → 1.4.0, `1.3.8` → 1.3.8, `1.5-stream-2025-Q2`
/// → 1.5.0, `1.4-rolling-202303160317` → 1.4.0. Rolling builds named by date
/// (`2025.06.24-0020-rolling`) are of the current branch and read as 1.5.0, as the driver
/// treats them.
pub fn release_version(release: &str) -> Option<semver::Version> {
    let r = release.trim();
    let mut nums = Vec::new();
    for part in r
        .split(|c: char| !c.is_ascii_digit() && c != '.')
        .next()?
        .split('.')
    {
        if part.is_empty() {
            break;
        }
        nums.push(part.parse::<u64>().ok()?);
        if nums.len() == 3 {
            break;
        }
    }
    match nums.as_slice() {
        [y, ..] if *y >= 2000 => Some(semver::Version::new(1, 5, 0)),
        [a, b] => Some(semver::Version::new(*a, *b, 0)),
        [a, b, c] => Some(semver::Version::new(*a, *b, *c)),
        _ => None,
    }
}

/// One template's text and where it starts in the dictionary file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(transparent)]
pub struct TemplateSource {
    pub text: String,
    /// The file line of the template's first line.
    #[serde(skip)]
    #[schemars(skip)]
    pub line: u32,
}

/// The templates, one per resource kind. Each renders the `set` lines of one resource from its
/// context (see `dictionaries/README.md`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateSet {
    pub group: TemplateSource,
    pub rule_set: TemplateSource,
    pub rule: TemplateSource,
    pub attachment: TemplateSource,
    pub nat_destination: TemplateSource,
    pub nat_source: TemplateSource,
    pub route: TemplateSource,
}

impl TemplateSet {
    pub fn get(&self, kind: Kind) -> &TemplateSource {
        match kind {
            Kind::Group => &self.group,
            Kind::RuleSet => &self.rule_set,
            Kind::Rule => &self.rule,
            Kind::Attachment => &self.attachment,
            Kind::NatDestination => &self.nat_destination,
            Kind::NatSource => &self.nat_source,
            Kind::Route => &self.route,
        }
    }
}

/// A vendor dictionary.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Dictionary {
    pub schema_version: u32,
    pub name: DictionaryName,
    pub vendor: Text,
    pub product: Text,
    /// Firmware versions this dictionary is for; a device reporting another is refused.
    pub firmware: Firmware,
    pub transports: Vec<Transport>,
    pub raw: RawSyntax,
    /// Interface name prefix → the vendor's interface type (`eth` → `ethernet`).
    pub interfaces: BTreeMap<String, String>,
    /// The objects the templates create, by kind: what names the entries of a plan.
    pub objects: Vec<ObjectPattern>,
    /// Other paths this vendor version knows (for owned scopes and raw lines).
    pub known: Vec<PathPattern>,
    /// Roots whose whole ownership could lock operators out.
    pub critical: Vec<ScopePath>,
    /// The service each transport reaches the device through (`ssh` → `service ssh`).
    pub management: BTreeMap<String, ScopePath>,
    pub templates: TemplateSet,
    #[serde(skip)]
    #[schemars(skip)]
    pub compiled: Arc<Templates>,
    /// The file the dictionary was read from.
    #[serde(skip)]
    #[schemars(skip)]
    pub file: String,
    #[serde(skip)]
    #[schemars(skip)]
    pub origin: Option<Origin>,
}

/// A problem rendering a template, located in the dictionary file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {error}")]
pub struct DictionaryError {
    pub file: String,
    /// The file line (the template's own line mapped into the file).
    pub line: u32,
    pub error: TemplateError,
}

impl Dictionary {
    /// Render the template of `kind` with `ctx`; errors name the dictionary file and line.
    pub fn render<S: Serialize>(&self, kind: Kind, ctx: S) -> Result<String, DictionaryError> {
        self.compiled
            .render(kind.as_str(), ctx)
            .map_err(|error| self.locate(kind, error))
    }

    fn locate(&self, kind: Kind, error: TemplateError) -> DictionaryError {
        // The template the engine names (another one, when one includes another).
        let kind = Kind::ALL
            .into_iter()
            .find(|k| k.as_str() == error.template)
            .unwrap_or(kind);
        let start = self.templates.get(kind).line;
        let line = start + error.line.map_or(0, |l| l.saturating_sub(1) as u32);
        DictionaryError {
            file: self.file.clone(),
            line,
            error,
        }
    }

    /// The vendor interface type of an interface name, by the longest matching prefix of the
    /// `interfaces` table.
    pub fn interface_kind(&self, name: &str) -> Option<&str> {
        let letters: &str = name
            .split(|c: char| c.is_ascii_digit())
            .next()
            .unwrap_or(name);
        self.interfaces.get(letters).map(String::as_str)
    }

    /// The object a device path belongs to: the longest object pattern matching its start.
    pub fn object_of<S: AsRef<str>>(
        &self,
        path: &[S],
    ) -> Option<(&ObjectPattern, Vec<(String, String)>)> {
        self.objects
            .iter()
            .filter_map(|o| o.path.match_prefix(path).map(|c| (o, c)))
            .max_by_key(|(o, _)| o.path.len())
    }

    /// The number of words of the object `path` belongs to ([`Self::object_of`] without the
    /// captures).
    pub fn object_len<S: AsRef<str>>(&self, path: &[S]) -> Option<usize> {
        self.objects
            .iter()
            .filter(|o| o.path.matches_prefix(path))
            .map(|o| o.path.len())
            .max()
    }

    /// Whether this dictionary knows `path` (an object path, a leading part of one, or a
    /// `known` path).
    pub fn knows<S: AsRef<str>>(&self, path: &[S]) -> bool {
        self.objects.iter().any(|o| o.path.admits(path))
            || self.known.iter().any(|k| k.admits(path))
    }

    /// Where `path`, written for another version of this vendor (`other`), lives in this one:
    /// the same object kind with the same placeholders.
    pub fn translate<S: AsRef<str>>(&self, other: &Dictionary, path: &[S]) -> Option<Vec<String>> {
        for o in &other.objects {
            if !o.path.admits(path) {
                continue;
            }
            let caps: Vec<(String, String)> = o
                .path
                .words
                .iter()
                .zip(path)
                .filter_map(|(w, s)| match w {
                    Word::Capture(n) => Some((n.clone(), s.as_ref().to_owned())),
                    _ => None,
                })
                .collect();
            let wanted: Vec<&str> = caps.iter().map(|(k, _)| k.as_str()).collect();
            for mine in self.objects.iter().filter(|m| m.kind == o.kind) {
                // The shortest leading part of `mine` holding the same placeholders.
                let mut n = 0;
                let mut seen = 0;
                for w in &mine.path.words {
                    if seen == wanted.len() && !wanted.is_empty() {
                        break;
                    }
                    n += 1;
                    if let Word::Capture(name) = w {
                        if wanted.contains(&name.as_str()) {
                            seen += 1;
                        } else {
                            n = usize::MAX;
                            break;
                        }
                    }
                }
                if n == usize::MAX || seen != wanted.len() {
                    continue;
                }
                if wanted.is_empty() {
                    n = path.len().min(mine.path.len());
                }
                if let Some(words) = mine.path.fill(&caps, n)
                    && self.knows(&words)
                    && words
                        .iter()
                        .map(String::as_str)
                        .ne(path.iter().map(AsRef::as_ref))
                {
                    return Some(words);
                }
            }
        }
        None
    }
}

impl Decode for RawSyntax {
    fn decode(d: &mut Decoder, node: &Node, path: &FieldPath) -> Option<Self> {
        match d.choice(node, path, &["vyos-set", "none"])? {
            "vyos-set" => Some(RawSyntax::VyosSet),
            _ => Some(RawSyntax::None),
        }
    }
}

macro_rules! decode_from_str {
    ($t:ty) => {
        impl Decode for $t {
            fn decode(d: &mut Decoder, node: &Node, path: &FieldPath) -> Option<Self> {
                let text = String::decode(d, node, path)?;
                match text.parse() {
                    Ok(v) => Some(v),
                    Err(m) => {
                        d.error(node.pos, path, m);
                        None
                    }
                }
            }
        }
    };
}
decode_from_str!(PathPattern);
decode_from_str!(Firmware);

impl Decode for Kind {
    fn decode(d: &mut Decoder, node: &Node, path: &FieldPath) -> Option<Self> {
        let names: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
        let c = d.choice(node, path, &names)?;
        Kind::ALL.into_iter().find(|k| k.as_str() == c)
    }
}

impl Decode for ObjectPattern {
    fn decode(d: &mut Decoder, node: &Node, path: &FieldPath) -> Option<Self> {
        let mut f = d.fields(node, path)?;
        let kind = f.req(d, "kind");
        let p = f.req(d, "path");
        f.finish(d);
        Some(ObjectPattern {
            kind: kind?,
            path: p?,
        })
    }
}

/// Decodes the template texts; `text` is the whole file, to find where each template starts.
fn decode_templates(
    d: &mut Decoder,
    node: &Node,
    path: &FieldPath,
    text: &str,
) -> Option<TemplateSet> {
    let mut f = d.fields(node, path)?;
    let lines: Vec<&str> = text.split('\n').collect();
    let mut one = |d: &mut Decoder, key: &'static str| -> Option<TemplateSource> {
        let n = f.node(key);
        let t = f.req::<String>(d, key)?;
        let n = n?;
        // A block scalar (`|`) starts on the line after its indicator.
        let at = lines
            .get(n.pos.line as usize - 1)
            .and_then(|l| l.get(n.pos.column as usize - 1..))
            .unwrap_or("");
        let line = if at.starts_with('|') || at.starts_with('>') {
            n.pos.line + 1
        } else {
            n.pos.line
        };
        Some(TemplateSource { text: t, line })
    };
    let group = one(d, "group");
    let rule_set = one(d, "rule_set");
    let rule = one(d, "rule");
    let attachment = one(d, "attachment");
    let nat_destination = one(d, "nat_destination");
    let nat_source = one(d, "nat_source");
    let route = one(d, "route");
    f.finish(d);
    Some(TemplateSet {
        group: group?,
        rule_set: rule_set?,
        rule: rule?,
        attachment: attachment?,
        nat_destination: nat_destination?,
        nat_source: nat_source?,
        route: route?,
    })
}

/// Globals minijinja provides to every template.
const BUILTINS: [&str; 5] = ["range", "dict", "namespace", "debug", "loop"];

/// Compile every template and prove it on its sample: variables exist, the fuel lasts, and
/// every line parses as a `set` command. Errors are recorded at the template's file line.
fn compile(
    d: &mut Decoder,
    file: &str,
    set: &TemplateSet,
    templates_pos: Pos,
) -> Option<Templates> {
    let mut t = Templates::new();
    let mut ok = true;
    let at = |line: u32| Pos::new(line, 1);
    for kind in Kind::ALL {
        let src = set.get(kind);
        let path = FieldPath::root().key("templates").key(kind.as_str());
        if let Err(e) = t.add(kind.as_str(), &src.text) {
            let line = src.line + e.line.map_or(0, |l| l.saturating_sub(1) as u32);
            d.error(at(line), &path, e.message);
            ok = false;
            continue;
        }
        let sample = kind.sample();
        for var in t.variables(kind.as_str()) {
            let root = var.split('.').next().unwrap_or(&var);
            if BUILTINS.contains(&root) {
                continue;
            }
            if !context::has_variable(&sample, &var) {
                let known: Vec<String> = match &sample {
                    serde_json::Value::Object(m) => m.keys().cloned().collect(),
                    _ => Vec::new(),
                };
                let line = template::variable_line(&src.text, &var)
                    .map_or(src.line, |l| src.line + l.saturating_sub(1) as u32);
                d.error(
                    at(line),
                    &path,
                    format!(
                        "unknown variable `{var}`: the {} template's context has {}",
                        kind.as_str(),
                        known
                            .iter()
                            .map(|k| format!("`{k}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
                ok = false;
            }
        }
        if !ok {
            continue;
        }
        match t.render(kind.as_str(), &sample) {
            Err(e) => {
                let line = src.line + e.line.map_or(0, |l| l.saturating_sub(1) as u32);
                d.error(
                    at(line),
                    &path,
                    format!("on the sample {}: {}", kind.as_str(), e.message),
                );
                ok = false;
            }
            Ok(out) => {
                if let Err(e) = crate::render::parse_lines(&out) {
                    d.error(
                        at(src.line),
                        &path,
                        format!(
                            "on the sample {}, the output does not parse: {e}",
                            kind.as_str()
                        ),
                    );
                    ok = false;
                }
            }
        }
    }
    let _ = (file, templates_pos);
    ok.then_some(t)
}

/// Parse and validate one dictionary file. `file` names it in messages.
pub fn parse(file: &str, text: &str, origin: Origin) -> Result<Dictionary, Vec<Diagnostic>> {
    let mut d = Decoder::new(file);
    let node = match yaml::parse(text) {
        Ok(n) => n,
        Err(e) => {
            d.error(e.pos, &FieldPath::root(), e.message);
            return Err(d.into_diagnostics());
        }
    };
    let path = FieldPath::root();
    let Some(mut f) = d.fields(&node, &path) else {
        return Err(d.into_diagnostics());
    };
    let version = f.node("schema_version");
    let schema_version = f.req::<u32>(&mut d, "schema_version");
    if let (Some(v), Some(n)) = (schema_version, version)
        && v != SCHEMA_VERSION
    {
        d.error(
            n.pos,
            &path.key("schema_version"),
            format!("schema_version {v} is not supported (this build reads {SCHEMA_VERSION})"),
        );
    }
    let name_node = f.node("name");
    let name = f.req::<DictionaryName>(&mut d, "name");
    let vendor = f.req(&mut d, "vendor");
    let product = f.req(&mut d, "product");
    let firmware = f.req::<Firmware>(&mut d, "firmware");
    let transports = f.req::<Vec<Transport>>(&mut d, "transports");
    let raw = f.req(&mut d, "raw");
    let interfaces = f.req::<BTreeMap<String, String>>(&mut d, "interfaces");
    let objects = f.req::<Vec<ObjectPattern>>(&mut d, "objects");
    let known = f.or_default::<Vec<PathPattern>>(&mut d, "known");
    let critical = f.or_default::<Vec<ScopePath>>(&mut d, "critical");
    let management = f.or_default::<BTreeMap<String, ScopePath>>(&mut d, "management");
    let templates_node = f.node("templates");
    let pos = f.pos();
    f.finish(&mut d);
    let templates = match templates_node {
        Some(n) => decode_templates(&mut d, n, &path.key("templates"), text),
        None => {
            d.error(pos, &path, "missing required field `templates`");
            None
        }
    };
    if transports.as_ref().is_some_and(Vec::is_empty) {
        d.error(
            pos,
            &path.key("transports"),
            "a dictionary needs at least one transport",
        );
    }
    if let Some(m) = &management {
        for k in m.keys() {
            if !["ssh", "vyos-http", "rest"].contains(&k.as_str()) {
                d.error(
                    pos,
                    &path.key("management").key(k),
                    format!("unknown transport `{k}`"),
                );
            }
        }
    }
    if let (Some(n), Some(name)) = (name_node, &name) {
        let stem = file.rsplit('/').next().unwrap_or(file);
        let stem = stem.trim_end_matches(".yaml").trim_end_matches(".yml");
        if stem != name.as_str() {
            d.error(
                n.pos,
                &path.key("name"),
                format!("dictionary `{name}` must be in a file named `{name}.yaml`"),
            );
        }
    }
    if d.has_errors() {
        return Err(d.into_diagnostics());
    }
    let (Some(templates), Some(templates_node)) = (templates, templates_node) else {
        return Err(d.into_diagnostics());
    };
    let compiled = compile(&mut d, file, &templates, templates_node.pos);
    let built = (|| {
        Some(Dictionary {
            schema_version: schema_version?,
            name: name?,
            vendor: vendor?,
            product: product?,
            firmware: firmware?,
            transports: transports?,
            raw: raw?,
            interfaces: interfaces?,
            objects: objects?,
            known: known?,
            critical: critical?,
            management: management?,
            templates,
            compiled: Arc::new(compiled?),
            file: file.to_owned(),
            origin: Some(origin),
        })
    })();
    match built {
        Some(dict) if !d.has_errors() => Ok(dict),
        _ => Err(d.into_diagnostics()),
    }
}

/// The dictionaries in effect: the desired state's own (`dictionaries/*.yaml` of `own`, as
/// file name and text), then the shipped ones not overridden.
pub fn load_all(own: &[(&str, &str)]) -> (BTreeMap<String, Dictionary>, Vec<Diagnostic>) {
    let mut out = BTreeMap::new();
    let mut diags = Vec::new();
    for (file, text) in own {
        match parse(file, text, Origin::Repo((*file).to_string())) {
            Ok(dict) => {
                out.insert(dict.name.to_string(), dict);
            }
            Err(e) => diags.extend(e),
        }
    }
    for (name, parsed) in shipped() {
        if out.contains_key(*name) {
            continue;
        }
        match parsed {
            Ok(dict) => {
                out.insert(dict.name.to_string(), dict.clone());
            }
            Err(e) => diags.extend(e.iter().cloned()),
        }
    }
    (out, diags)
}

/// The dictionaries of a desired state read into memory: its own `dictionaries/` files, then
/// the shipped ones.
pub fn load_from(
    files: &crate::source::SourceFiles,
) -> (BTreeMap<String, Dictionary>, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let mut own: Vec<(&str, &str)> = Vec::new();
    for (name, bytes) in files.in_folder("dictionaries") {
        match std::str::from_utf8(bytes) {
            Ok(t) => own.push((name, t)),
            Err(_) => {
                let mut d = Decoder::new(name);
                d.error(
                    Pos::new(1, 1),
                    &FieldPath::root(),
                    "file is not valid UTF-8",
                );
                diags.extend(d.into_diagnostics());
            }
        }
    }
    let (dicts, more) = load_all(&own);
    diags.extend(more);
    (dicts, diags)
}

type Parsed = Result<Dictionary, Vec<Diagnostic>>;

/// The shipped dictionaries, parsed once per process (they are part of the binary).
fn shipped() -> &'static [(&'static str, Parsed)] {
    static PARSED: std::sync::LazyLock<Vec<(&'static str, Parsed)>> =
        std::sync::LazyLock::new(|| {
            SHIPPED
                .iter()
                .map(|(name, text)| {
                    (
                        *name,
                        parse(&format!("dictionaries/{name}.yaml"), text, Origin::Shipped),
                    )
                })
                .collect()
        });
    &PARSED
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_dictionaries_are_valid() {
        let (dicts, diags) = load_all(&[]);
        assert!(diags.is_empty(), "{diags:#?}");
        assert_eq!(
            dicts.keys().collect::<Vec<_>>(),
            vec!["vyos-1.3", "vyos-1.4", "vyos-1.5"]
        );
    }

    #[test]
    fn patterns_match_admit_and_fill() {
        let p: PathPattern = "firewall ipv4 name {rule_set} rule {number}"
            .parse()
            .expect("ok");
        let path = ["firewall", "ipv4", "name", "WAN", "rule", "10", "action"];
        assert_eq!(
            p.match_prefix(&path),
            Some(vec![
                ("rule_set".into(), "WAN".into()),
                ("number".into(), "10".into())
            ])
        );
        assert!(p.match_prefix(&path[..4]).is_none());
        assert!(p.matches_prefix(&path) && !p.matches_prefix(&path[..4]));
        assert!(p.admits(&["firewall", "ipv4", "name", "X"]));
        assert!(!p.admits(&["firewall", "name", "X"]));
        let rest: PathPattern = "system **".parse().expect("ok");
        assert!(rest.admits(&["system", "ntp", "server"]));
        assert!(!rest.admits(&["frobnicate"]));
        assert!("a ** b".parse::<PathPattern>().is_err());
        assert!("a {B}".parse::<PathPattern>().is_err());
    }

    #[test]
    fn release_versions() {
        let v = |s: &str| release_version(s).map(|v| v.to_string());
        assert_eq!(v("1.4.0").as_deref(), Some("1.4.0"));
        assert_eq!(v("1.3.8").as_deref(), Some("1.3.8"));
        assert_eq!(v("1.5-stream-2025-Q2").as_deref(), Some("1.5.0"));
        assert_eq!(v("1.4-rolling-202303160317").as_deref(), Some("1.4.0"));
        assert_eq!(v("2025.06.24-0020-rolling").as_deref(), Some("1.5.0"));
        assert_eq!(v("equuleus"), None);
        let f: Firmware = ">=1.4, <1.5".parse().expect("req");
        assert_eq!(f.admits("1.4.0"), Some(true));
        assert_eq!(f.admits("1.3.8"), Some(false));
        assert!("any".parse::<Firmware>().is_err());
    }

    #[test]
    fn scopes_translate_across_versions() {
        let (dicts, _) = load_all(&[]);
        let (v13, v14) = (&dicts["vyos-1.3"], &dicts["vyos-1.4"]);
        assert!(!v14.knows(&["firewall", "name", "X"]));
        assert!(v14.knows(&["firewall", "ipv4", "name", "X"]));
        assert_eq!(
            v14.translate(v13, &["firewall", "name", "X"]),
            Some(vec![
                "firewall".into(),
                "ipv4".into(),
                "name".into(),
                "X".into()
            ])
        );
        assert!(!v14.knows(&["frobnicate", "widgets"]));
    }
}
