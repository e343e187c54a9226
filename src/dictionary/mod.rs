//! Vendor dictionaries: one YAML file per vendor and version (`vyos-1.4`, …) that says how the
//! abstract desired state maps onto a device.
//!
//! Owns: loading and validating dictionary files, the lookup order (the desired-state
//! directory's own `dictionaries/` first, then the ones shipped inside the binary from the
//! repository's `dictionaries/`), and the vendor path of each resource, which is what owned
//! scopes are checked against. So far a dictionary declares its transports, its raw-line syntax
//! and its resource paths; rendering of whole configs comes with the planner.
//! Must not do IO: files arrive as text.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Serialize;

use crate::model::Transport;
use crate::model::decode::{Decode, Decoder, Diagnostic, FieldPath, Fields};
use crate::model::values::{DictionaryName, Text, check_device_text};
use crate::yaml::{self, Node, Value};

/// The dictionaries built into the binary, from the repository's `dictionaries/` folder.
pub const SHIPPED: &[(&str, &str)] = &[
    ("vyos-1.3", include_str!("../../dictionaries/vyos-1.3.yaml")),
    ("vyos-1.4", include_str!("../../dictionaries/vyos-1.4.yaml")),
    ("vyos-1.5", include_str!("../../dictionaries/vyos-1.5.yaml")),
];

/// The version of the dictionary format this build reads.
pub const SCHEMA_VERSION: u32 = 1;

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
    /// VyOS `set <path> ['value']` commands.
    VyosSet,
    /// Raw lines are not supported by this vendor.
    None,
}

/// Vendor paths of the resources, as templates of words with `{placeholder}`s.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourcePaths {
    /// Placeholders: `{family}`, `{name}`.
    pub rule_set: PathTemplate,
    /// For IPv6 rule sets, where the vendor spells them differently (VyOS 1.3 `ipv6-name`);
    /// `rule_set` is used when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_set_ipv6: Option<PathTemplate>,
    /// Where an inbound attachment lives. Placeholders: `{family}`, `{name}`, `{interface}`.
    pub attach_in: PathTemplate,
    pub attach_out: PathTemplate,
    pub attach_local: PathTemplate,
    /// Placeholder: `{number}`.
    pub nat_destination: PathTemplate,
    pub nat_source: PathTemplate,
    /// Placeholders: `{family}`, `{prefix}`.
    pub static_route: PathTemplate,
}

/// A path template: words, each either literal or with `{placeholder}`s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathTemplate(String);

impl Serialize for PathTemplate {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl JsonSchema for PathTemplate {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "PathTemplate".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"type": "string", "minLength": 1})
    }
}

impl PathTemplate {
    /// Fill the placeholders from `vars` and split into words.
    pub fn render(&self, vars: &[(&str, &str)]) -> Result<Vec<String>, String> {
        let mut out = String::with_capacity(self.0.len() + 16);
        let mut rest = self.0.as_str();
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            let close = after
                .find('}')
                .ok_or_else(|| format!("unclosed `{{` in `{}`", self.0))?;
            let key = &after[..close];
            let value = vars
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| *v)
                .ok_or_else(|| format!("unknown placeholder `{{{key}}}` in `{}`", self.0))?;
            out.push_str(value);
            rest = &after[close + 1..];
        }
        if rest.contains('}') {
            return Err(format!("unmatched `}}` in `{}`", self.0));
        }
        out.push_str(rest);
        Ok(out.split_whitespace().map(str::to_string).collect())
    }

    fn check(&self, allowed: &[&str]) -> Result<(), String> {
        let vars: Vec<(&str, &str)> = allowed.iter().map(|k| (*k, "x")).collect();
        let words = self.render(&vars)?;
        if words.is_empty() {
            return Err("a path template needs at least one word".into());
        }
        check_device_text(&self.0)
    }
}

/// A vendor dictionary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Dictionary {
    pub schema_version: u32,
    pub name: DictionaryName,
    pub vendor: Text,
    pub product: Text,
    /// Firmware versions this dictionary is for, as a semver-style range (`>=1.4 <1.5`).
    pub firmware: Text,
    pub transports: Vec<Transport>,
    pub raw: RawSyntax,
    pub paths: ResourcePaths,
    #[serde(skip)]
    #[schemars(skip)]
    pub origin: Option<Origin>,
}

impl Dictionary {
    /// Split a raw line into its device path words (value included), per the dictionary's syntax.
    pub fn raw_path(&self, line: &str) -> Result<Vec<String>, String> {
        match self.raw {
            RawSyntax::None => Err(format!(
                "dictionary {} does not support raw lines",
                self.name
            )),
            RawSyntax::VyosSet => vyos_set_words(line),
        }
    }
}

/// The words of an operator-written VyOS `set` line; quotes group words and are removed.
fn vyos_set_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut chars = line.trim().chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut word = String::new();
        if c == '\'' || c == '"' {
            chars.next();
            let mut closed = false;
            for ch in chars.by_ref() {
                if ch == c {
                    closed = true;
                    break;
                }
                word.push(ch);
            }
            if !closed {
                return Err(format!("unclosed {c} quote"));
            }
        } else {
            while let Some(&ch) = chars.peek() {
                if ch.is_whitespace() {
                    break;
                }
                if ch == '\'' || ch == '"' {
                    return Err(format!("a quote inside the word starting `{word}`"));
                }
                word.push(ch);
                chars.next();
            }
        }
        check_device_text(&word)?;
        words.push(word);
    }
    match words.first().map(String::as_str) {
        Some("set") if words.len() > 1 => Ok(words.split_off(1)),
        Some("set") => Err("`set` needs a path".into()),
        Some(other) => Err(format!("raw lines are `set …` commands, not `{other} …`")),
        None => Err("empty raw line".into()),
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

impl Decode for PathTemplate {
    fn decode(d: &mut Decoder, node: &Node, path: &FieldPath) -> Option<Self> {
        String::decode(d, node, path).map(PathTemplate)
    }
}

impl Decode for ResourcePaths {
    fn decode(d: &mut Decoder, node: &Node, path: &FieldPath) -> Option<Self> {
        let mut f = d.fields(node, path)?;
        let get = |d: &mut Decoder,
                   f: &mut Fields<'_>,
                   key: &'static str,
                   allowed: &[&str]|
         -> Option<PathTemplate> {
            let n = f.node(key);
            let t = f.req::<PathTemplate>(d, key)?;
            if let (Err(m), Some(n)) = (t.check(allowed), n) {
                d.error(n.pos, &path.key(key), m);
                return None;
            }
            Some(t)
        };
        let rule_set = get(d, &mut f, "rule_set", &["family", "name"]);
        let rule_set_ipv6 = if f.has("rule_set_ipv6") {
            get(d, &mut f, "rule_set_ipv6", &["family", "name"]).map(Some)
        } else {
            Some(None)
        };
        let attach_in = get(d, &mut f, "attach_in", &["family", "name", "interface"]);
        let attach_out = get(d, &mut f, "attach_out", &["family", "name", "interface"]);
        let attach_local = get(d, &mut f, "attach_local", &["family", "name", "interface"]);
        let nat_destination = get(d, &mut f, "nat_destination", &["number"]);
        let nat_source = get(d, &mut f, "nat_source", &["number"]);
        let static_route = get(d, &mut f, "static_route", &["family", "prefix"]);
        f.finish(d);
        Some(ResourcePaths {
            rule_set: rule_set?,
            rule_set_ipv6: rule_set_ipv6?,
            attach_in: attach_in?,
            attach_out: attach_out?,
            attach_local: attach_local?,
            nat_destination: nat_destination?,
            nat_source: nat_source?,
            static_route: static_route?,
        })
    }
}

impl Decode for Dictionary {
    fn decode(d: &mut Decoder, node: &Node, path: &FieldPath) -> Option<Self> {
        let mut f = d.fields(node, path)?;
        let version = f.node("schema_version");
        let schema_version = f.req::<u32>(d, "schema_version");
        if let (Some(v), Some(n)) = (schema_version, version)
            && v != SCHEMA_VERSION
        {
            d.error(
                n.pos,
                &path.key("schema_version"),
                format!("schema_version {v} is not supported (this build reads {SCHEMA_VERSION})"),
            );
        }
        let name = f.req(d, "name");
        let vendor = f.req(d, "vendor");
        let product = f.req(d, "product");
        let firmware = f.req(d, "firmware");
        let transports = f.req::<Vec<Transport>>(d, "transports");
        let raw = f.req(d, "raw");
        let paths = f.req(d, "paths");
        let pos = f.pos();
        f.finish(d);
        if transports.as_ref().is_some_and(Vec::is_empty) {
            d.error(
                pos,
                &path.key("transports"),
                "a dictionary needs at least one transport",
            );
            return None;
        }
        Some(Dictionary {
            schema_version: schema_version.filter(|v| *v == SCHEMA_VERSION)?,
            name: name?,
            vendor: vendor?,
            product: product?,
            firmware: firmware?,
            transports: transports?,
            raw: raw?,
            paths: paths?,
            origin: None,
        })
    }
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
    let dict = Dictionary::decode(&mut d, &node, &FieldPath::root());
    match dict {
        Some(mut dict) if !d.has_errors() => {
            let stem = file.rsplit('/').next().unwrap_or(file);
            let stem = stem.trim_end_matches(".yaml").trim_end_matches(".yml");
            if stem != dict.name.as_str() {
                let at = match &node.value {
                    Value::Map(entries) => entries
                        .iter()
                        .find(|(k, _)| k.value == Value::Str("name".into()))
                        .map_or(node.pos, |(_, v)| v.pos),
                    _ => node.pos,
                };
                d.error(
                    at,
                    &FieldPath::root().key("name"),
                    format!(
                        "dictionary `{}` must be in a file named `{}.yaml`",
                        dict.name, dict.name
                    ),
                );
                return Err(d.into_diagnostics());
            }
            dict.origin = Some(origin);
            Ok(dict)
        }
        _ => Err(d.into_diagnostics()),
    }
}

/// The dictionaries in effect: the desired state's own, then the shipped ones not overridden.
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
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(
            dicts.keys().collect::<Vec<_>>(),
            vec!["vyos-1.3", "vyos-1.4", "vyos-1.5"]
        );
    }

    #[test]
    fn templates_render_and_reject_unknown_placeholders() {
        let t = PathTemplate("firewall {family} name {name}".into());
        assert_eq!(
            t.render(&[("family", "ipv4"), ("name", "WAN")])
                .expect("ok"),
            vec!["firewall", "ipv4", "name", "WAN"]
        );
        assert!(
            t.render(&[("name", "WAN")])
                .unwrap_err()
                .contains("unknown placeholder `{family}`")
        );
        assert!(PathTemplate("a {b".into()).render(&[]).is_err());
    }

    #[test]
    fn bad_dictionary_reports_every_problem() {
        let text = "schema_version: 2\nname: vyos-9\nvendor: vyos\nproduct: VyOS\nfirmware: any\ntransports: [ssh, telnet]\nraw: vyos-set\npaths:\n  rule_set: \"firewall {colour} name {name}\"\n";
        let errs: Vec<String> = parse("dictionaries/vyos-9.yaml", text, Origin::Shipped)
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert!(
            errs.iter().any(|e| e
                .starts_with("dictionaries/vyos-9.yaml:1:17: schema_version: schema_version 2")),
            "{errs:?}"
        );
        assert!(
            errs.iter()
                .any(|e| e.contains("transports[1]: unknown value `telnet`")),
            "{errs:?}"
        );
        assert!(
            errs.iter()
                .any(|e| e.contains("paths.rule_set: unknown placeholder `{colour}`")),
            "{errs:?}"
        );
        assert!(
            errs.iter()
                .any(|e| e.contains("missing required field `attach_in`")),
            "{errs:?}"
        );
    }

    #[test]
    fn raw_vyos_lines() {
        assert_eq!(
            vyos_set_words("set system ntp server 'time.example.net'"),
            Ok(vec![
                "system".into(),
                "ntp".into(),
                "server".into(),
                "time.example.net".into()
            ])
        );
        assert_eq!(
            vyos_set_words("set system login banner post-login \"Authorised use only\"")
                .expect("ok")
                .last()
                .map(String::as_str),
            Some("Authorised use only")
        );
        assert!(
            vyos_set_words("delete system ntp")
                .unwrap_err()
                .contains("not `delete")
        );
        assert!(vyos_set_words("set a 'b").unwrap_err().contains("unclosed"));
        assert!(vyos_set_words("set a b'c'").is_err());
        assert!(
            vyos_set_words("set a \"it's\"")
                .unwrap_err()
                .contains("single quote")
        );
    }
}
