//! The desired state: typed appliances, policies and fleet defaults, loaded from a desired-state
//! directory so that bad input cannot get past.
//!
//! Owns: [`load`], which turns [`SourceFiles`] into a validated [`DesiredState`] or into every
//! [`Diagnostic`] found (file, line, column, field path, message), never just the first. Parsing
//! goes through `crate::yaml` (budgets), decoding through [`decode`], per-value rules live in
//! [`values`], cross-file rules in [`validate`].
//! Must not do IO (files arrive in memory) and must not know vendor syntax beyond asking the
//! dictionary for resource paths.

pub mod appliance;
pub mod decode;
pub mod resources;
pub mod validate;
pub mod values;

use std::collections::BTreeMap;

pub use appliance::{
    Appliance, CommitSettings, Connection, DriftPolicy, FleetDefaults, FleetFile, HealthProbe,
    OwnedScope, Policy, SavePolicy, TlsPin, Transport,
};
pub use decode::Diagnostic;
pub use resources::{
    Action, Attachment, ConnState, Direction, Nat, NatDestination, NatSource, Protocol, RawLine,
    Resources, Rule, RuleSet, SourceTranslation, StaticRoute, TrafficMatch,
};

use crate::dictionary::{self, Dictionary};
use crate::source::{FLEET_FILE, SourceFiles};
use crate::yaml::{self, MAX_FILE_BYTES};
use decode::{Decode, Decoder, FieldPath};

/// A validated desired state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredState {
    pub fleet: FleetFile,
    /// Appliances in file-name order.
    pub appliances: Vec<Appliance>,
    /// Policies by name.
    pub policies: BTreeMap<String, Policy>,
    /// Dictionaries in effect (own first, then shipped), by name.
    pub dictionaries: BTreeMap<String, Dictionary>,
    /// The commit the state was read from, if any.
    pub commit: Option<String>,
}

impl DesiredState {
    pub fn appliance(&self, name: &str) -> Option<&Appliance> {
        self.appliances.iter().find(|a| a.name.as_str() == name)
    }

    /// The resources an appliance carries: its own, then each referenced policy's.
    pub fn resources_of<'a>(
        &'a self,
        a: &'a Appliance,
    ) -> impl Iterator<Item = (Option<&'a Policy>, &'a Resources)> {
        std::iter::once((None, &a.resources)).chain(
            a.policies
                .iter()
                .filter_map(|p| self.policies.get(p.as_str()))
                .map(|p| (Some(p), &p.resources)),
        )
    }
}

/// Parse one file's text into a positioned tree, or record why not.
fn parse_file<'a>(d: &mut Decoder, bytes: &'a [u8]) -> Option<(yaml::Node, &'a str)> {
    let root = FieldPath::root();
    if bytes.len() > MAX_FILE_BYTES {
        d.error(
            yaml::Pos::new(1, 1),
            &root,
            format!("file is larger than the limit of {MAX_FILE_BYTES} bytes (1 MiB)"),
        );
        return None;
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let before = &bytes[..e.valid_up_to()];
            let line = before.iter().filter(|b| **b == b'\n').count() + 1;
            let col = before.iter().rev().take_while(|b| **b != b'\n').count() + 1;
            d.error(
                yaml::Pos::new(line as u32, col as u32),
                &root,
                "file is not valid UTF-8",
            );
            return None;
        }
    };
    match yaml::parse(text) {
        Ok(n) => Some((n, text)),
        Err(e) => {
            d.error(e.pos, &root, e.message);
            None
        }
    }
}

/// Load and validate the desired state. Every problem found is returned, sorted by file and
/// position; the state is returned only when there are none.
pub fn load(files: &SourceFiles) -> Result<DesiredState, Vec<Diagnostic>> {
    let mut diags = Vec::new();

    let fleet = match files.get(FLEET_FILE) {
        None => Some(FleetFile::default()),
        Some(bytes) => {
            let mut d = Decoder::new(FLEET_FILE);
            let fleet = parse_file(&mut d, bytes)
                .and_then(|(n, _)| FleetFile::decode(&mut d, &n, &FieldPath::root()));
            diags.extend(d.into_diagnostics());
            fleet
        }
    };

    let own: Vec<(&str, String)> = files
        .in_folder("dictionaries")
        .filter_map(|(name, bytes)| {
            let mut d = Decoder::new(name);
            let text = parse_file(&mut d, bytes).map(|(_, t)| t.to_string());
            diags.extend(d.into_diagnostics());
            text.map(|t| (name, t))
        })
        .collect();
    let own_refs: Vec<(&str, &str)> = own.iter().map(|(n, t)| (*n, t.as_str())).collect();
    let (dictionaries, dict_diags) = dictionary::load_all(&own_refs);
    diags.extend(dict_diags);

    let mut policies: Vec<Policy> = Vec::new();
    for (name, bytes) in files.in_folder("policies") {
        let mut d = Decoder::new(name);
        if let Some((node, _)) = parse_file(&mut d, bytes)
            && let Some(p) = Policy::decode(&mut d, &node, &FieldPath::root())
        {
            policies.push(p);
        }
        diags.extend(d.into_diagnostics());
    }

    let defaults = fleet
        .as_ref()
        .map(|f| f.defaults.clone())
        .unwrap_or_default();
    let mut appliances = Vec::new();
    for (name, bytes) in files.in_folder("appliances") {
        let mut d = Decoder::new(name);
        if let Some((node, _)) = parse_file(&mut d, bytes)
            && let Some(a) = Appliance::decode_with(&mut d, &node, &defaults)
        {
            appliances.push(a);
        }
        diags.extend(d.into_diagnostics());
    }

    let policies = validate::unique_policies(policies, &mut diags);
    validate::check(&appliances, &policies, &dictionaries, &mut diags);

    if !diags.is_empty() {
        diags.sort();
        diags.dedup();
        return Err(diags);
    }
    Ok(DesiredState {
        fleet: fleet.unwrap_or_default(),
        appliances,
        policies,
        dictionaries,
        commit: files.commit.clone(),
    })
}
