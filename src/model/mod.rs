//! The desired state: typed appliances, policies and fleet defaults, loaded from a desired-state
//! directory so that bad input cannot get past.
//!
//! Owns: [`load`], which turns [`SourceFiles`] into a validated [`DesiredState`] or into every
//! [`Diagnostic`] found (file, line, column, field path, message), never just the first. Parsing
//! goes through `crate::yaml` (budgets), decoding through [`decode`], per-value rules live in
//! [`values`], cross-file rules in [`validate`].
//! Must not do IO (files arrive in memory) and must not know vendor syntax: checks that need a
//! dictionary (owned scopes, rendering, raw lines) run in `crate::render::check`, one layer up.

pub mod appliance;
pub mod decode;
pub mod files;
pub mod resources;
pub mod validate;
pub mod values;

use std::collections::BTreeMap;

pub use appliance::{
    Adopt, Appliance, CommitSettings, Connection, DriftPolicy, FleetDefaults, FleetFile,
    HealthProbe, OwnedScope, Policy, SavePolicy, Scheme, TlsPin, Transport,
};
pub use decode::Diagnostic;
pub use resources::{
    Action, Attachment, ConnState, Direction, ExistingGroup, Group, GroupKind, Nat, NatDestination,
    NatSource, Protocol, RawLine, Resources, Rule, RuleSet, SourceTranslation, StaticRoute,
    TrafficMatch,
};

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
pub(crate) fn parse_file<'a>(d: &mut Decoder, bytes: &'a [u8]) -> Option<(yaml::Node, &'a str)> {
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

/// How strict [`load_with`] is beyond the always-on rules.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// Accept a desired state without any appliance (refused by default: most likely a wrong
    /// path).
    pub allow_empty: bool,
}

/// Load and validate the desired state. Every problem found is returned, sorted by file and
/// position; the state is returned only when there are none.
pub fn load(files: &SourceFiles) -> Result<DesiredState, Vec<Diagnostic>> {
    load_with(files, LoadOptions::default())
}

/// [`load`] with options.
pub fn load_with(files: &SourceFiles, opts: LoadOptions) -> Result<DesiredState, Vec<Diagnostic>> {
    let mut diags = Vec::new();
    files::check_entries(files, &mut diags);

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

    let mut policies: Vec<Policy> = Vec::new();
    // Policies that failed to load, by the name of their file and by the name they give.
    let mut failed: BTreeMap<String, String> = BTreeMap::new();
    for (name, bytes) in files.in_folder("policies") {
        let mut d = Decoder::new(name);
        let mut loaded = false;
        let node = parse_file(&mut d, bytes).map(|(n, _)| n);
        if let Some(node) = &node {
            files::check_file_name(name, "policy", node, &mut diags);
            if let Some(p) = Policy::decode(&mut d, node, &FieldPath::root()) {
                policies.push(p);
                loaded = true;
            }
        }
        if !loaded {
            let stem = name
                .trim_start_matches("policies/")
                .trim_end_matches(".yaml");
            failed.insert(stem.to_string(), name.to_string());
            if let Some(yaml::Value::Map(entries)) = node.as_ref().map(|n| &n.value)
                && let Some((_, v)) = entries
                    .iter()
                    .find(|(k, _)| k.value == yaml::Value::Str("name".into()))
                && let yaml::Value::Str(given) = &v.value
            {
                failed.insert(given.clone(), name.to_string());
            }
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
        if let Some((node, _)) = parse_file(&mut d, bytes) {
            files::check_file_name(name, "appliance", &node, &mut diags);
            if let Some(a) = Appliance::decode_with(&mut d, &node, &defaults) {
                appliances.push(a);
            }
        }
        diags.extend(d.into_diagnostics());
    }
    if !opts.allow_empty {
        files::check_not_empty(files, appliances.len(), &mut diags);
    }

    let policies = validate::unique_policies(policies, &mut diags);
    validate::check_with(&appliances, &policies, &failed, &mut diags);

    if !diags.is_empty() {
        diags.sort();
        diags.dedup();
        return Err(diags);
    }
    Ok(DesiredState {
        fleet: fleet.unwrap_or_default(),
        appliances,
        policies,
        commit: files.commit.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "name: a\ndictionary: vyos-1.4\nendpoint:\n  transport: vyos-http\n  host: 127.0.0.1\n  api_key: env:K\nowns: [firewall, nat, protocols, system]\n";

    /// Load one appliance file (plus optional extra files); Ok(()) or the error messages.
    fn check_with(appliance: &str, extra: &[(&str, &str)]) -> Result<DesiredState, Vec<String>> {
        let mut files = SourceFiles::default();
        files
            .files
            .insert("appliances/a.yaml".into(), appliance.as_bytes().to_vec());
        for (name, text) in extra {
            files.files.insert((*name).into(), text.as_bytes().to_vec());
        }
        load(&files).map_err(|e| {
            e.iter()
                .map(|d| format!("{}: {}", d.path, d.message))
                .collect()
        })
    }

    fn check(body: &str) -> Result<DesiredState, Vec<String>> {
        check_with(&format!("{HEAD}{body}"), &[])
    }

    fn err(body: &str) -> String {
        check(body).expect_err("must be rejected").join(" | ")
    }

    #[test]
    fn minimal_appliance_gets_defaults() {
        let s = check("").expect("valid");
        let a = &s.appliances[0];
        assert_eq!(a.endpoint.port.0, 443);
        assert_eq!(a.commit, CommitSettings::default());
        assert_eq!(a.drift, DriftPolicy::Alert);
        assert!(a.owns.iter().all(|o| o.drift == DriftPolicy::Alert));
    }

    #[test]
    fn adopt_holds_by_default_and_says_auto() {
        assert_eq!(check("").expect("valid").appliances[0].adopt, Adopt::Hold);
        let s = check("adopt: auto\n").expect("valid");
        assert_eq!(s.appliances[0].adopt, Adopt::Auto);
        assert!(
            err("adopt: yes\n").contains("adopt"),
            "{}",
            err("adopt: yes\n")
        );
    }

    #[test]
    fn fleet_defaults_apply_unless_overridden() {
        let fleet = "defaults:\n  commit: {confirm_window: 10m, save: never}\n  drift: overwrite\n  labels: {team: noc}\n  health: [{kind: login}]\n";
        let s = check_with(
            &format!("{HEAD}labels: {{team: edge}}\n"),
            &[("vnfsync.yaml", fleet)],
        )
        .expect("valid");
        let a = &s.appliances[0];
        assert_eq!(a.commit.save, SavePolicy::Never);
        assert_eq!(a.commit.confirm_window.to_string(), "10m");
        assert_eq!(a.drift, DriftPolicy::Overwrite);
        assert_eq!(a.health, vec![HealthProbe::Login { timeout: None }]);
        assert_eq!(
            a.labels.values().map(|v| v.as_str()).collect::<Vec<_>>(),
            vec!["edge"]
        );
        let bad = check_with(HEAD, &[("vnfsync.yaml", "defaults:\n  drift: ignore\n")])
            .expect_err("bad fleet");
        assert!(bad[0].contains("unknown value `ignore`"), "{bad:?}");
    }

    #[test]
    fn transports_need_their_credentials() {
        let ssh = "name: a\ndictionary: vyos-1.4\nendpoint:\n  transport: ssh\n  host: r1.example.net\nowns: [nat]\n";
        let e = check_with(ssh, &[])
            .expect_err("incomplete ssh")
            .join(" | ");
        assert!(
            e.contains("needs `user`")
                && e.contains("needs `password` or `private_key`")
                && e.contains("needs `host_key`"),
            "{e}"
        );
        let http = "name: a\ndictionary: vyos-1.4\nendpoint:\n  transport: vyos-http\n  host: r1\n  user: vyos\nowns: [nat]\n";
        let e = check_with(http, &[]).expect_err("bad http").join(" | ");
        assert!(
            e.contains("needs `api_key`") && e.contains("does not use `user`"),
            "{e}"
        );
        let tls = "name: a\ndictionary: vyos-1.4\nendpoint:\n  transport: vyos-http\n  host: r1\n  api_key: env:K\n  tls: {}\nowns: [nat]\n";
        assert!(
            check_with(tls, &[])
                .expect_err("empty tls")
                .join("")
                .contains("give `ca`, `fingerprint` or both")
        );
    }

    #[test]
    fn plain_http_is_for_loopback_unless_insecure_http() {
        let http = |host: &str, extra: &str| {
            check_with(
                &format!(
                    "name: a\ndictionary: vyos-1.4\nendpoint:\n  transport: vyos-http\n  scheme: http\n  host: {host}\n  api_key: env:K\n{extra}owns: [nat]\n"
                ),
                &[],
            )
        };
        assert!(http("127.0.0.1", "").is_ok());
        assert!(http("'::1'", "").is_ok());
        assert!(http("localhost", "").is_ok());
        let e = http("192.0.2.1", "").expect_err("remote http").join("");
        assert!(e.contains("would send the API key in clear"), "{e}");
        assert!(http("192.0.2.1", "  insecure_http: true\n").is_ok());
        let ssh = "name: a\ndictionary: vyos-1.4\nendpoint:\n  transport: ssh\n  host: r1\n  user: u\n  password: env:P\n  host_key: SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n  insecure_http: true\nowns: [nat]\n";
        assert!(
            check_with(ssh, &[])
                .expect_err("ssh")
                .join("")
                .contains("does not use `insecure_http`")
        );
    }

    #[test]
    fn two_appliances_cannot_share_host_and_port() {
        let other = HEAD
            .replace("name: a\n", "name: b\n")
            .replace("127.0.0.1", "127.0.0.1\n  port: 443");
        let e = check_with(HEAD, &[("appliances/b.yaml", &other)])
            .expect_err("same endpoint")
            .join("");
        assert!(
            e.contains("connects to 127.0.0.1:443, as appliance `a` does"),
            "{e}"
        );
        let other = other.replace("port: 443", "port: 8443");
        assert!(check_with(HEAD, &[("appliances/b.yaml", &other)]).is_ok());
    }

    #[test]
    fn commit_and_health_rules() {
        assert!(err("commit: {confirm_window: 30s}\n").contains("30s is out of range 1m-1h"));
        assert!(err("commit: {save: later}\n").contains("unknown value `later`"));
        assert!(err("health: [{kind: ping}]\n").contains("unknown value `ping`"));
        assert!(
            err("health: [{kind: command, run: show version, expect: '(unclosed'}]\n")
                .contains("not a valid regular expression")
        );
        assert!(
            err("health: [{kind: http_get, url: 'ftp://x'}]\n")
                .contains("not an http:// or https:// URL")
        );
        assert!(
            err("health: [{kind: http_get, url: 'http://x', expect_status: 700}]\n")
                .contains("out of range 100-599")
        );
        assert!(err("health: [{kind: tcp}]\n").contains("missing required field `port`"));
        assert!(
            err("health: [{kind: command, run: 'show version;reboot', expect: x}]\n")
                .contains("holds `;`")
        );
        assert!(
            err("health: [{kind: command, run: configure, expect: x}]\n")
                .contains("is not an operational `show …` command")
        );
        assert!(
            check("health: [{kind: command, run: show ip route 0.0.0.0/0, expect: x}]\n").is_ok()
        );
        assert!(check("health: [{kind: tcp, port: 22}, {kind: login}, {kind: http_get, url: 'https://r1/info'}]\n").is_ok());
    }

    #[test]
    fn owned_scopes() {
        let without = HEAD.replace("owns: [firewall, nat, protocols, system]\n", "");
        let e = check_with(&format!("{without}owns: []\n"), &[])
            .expect_err("empty")
            .join("");
        assert!(e.contains("at least one scope is needed"), "{e}");
        assert!(
            check_with(&without, &[])
                .expect_err("missing")
                .join("")
                .contains("missing required field `owns`")
        );
        assert!(check_with(&format!("{without}owns: [nat]\n"), &[]).is_ok());
        let e = check_with(
            &HEAD.replace(
                "owns: [firewall, nat, protocols, system]\n",
                "owns: [{path: nat, drift: sometimes}]\n",
            ),
            &[],
        );
        assert!(
            e.expect_err("bad drift")
                .join("")
                .contains("unknown value `sometimes`")
        );
    }

    #[test]
    fn rule_rules() {
        let set = |rule: &str| {
            format!(
                "rule_sets:\n  - name: S\n    default_action: drop\n    rules:\n      - {rule}\n"
            )
        };
        assert!(
            check(&set(
                "{id: a, number: 1, action: accept, protocol: tcp, destination: {port: 22}}"
            ))
            .is_ok()
        );
        assert!(
            err(&set(
                "{id: a, number: 1, action: accept, protocol: icmp, destination: {port: 22}}"
            ))
            .contains("ports need protocol tcp, udp or tcp_udp (protocol is icmp)")
        );
        assert!(
            err(&set(
                "{id: a, number: 1, action: accept, source: {address: 10.0.0.0/8, group: G}}"
            ))
            .contains("only one of `address` or `group`")
        );
        assert!(
            err(&set(
                "{id: a, number: 1, action: accept, source: {address: '2001:db8::/32'}}"
            ))
            .contains("is ipv6 but the rule set is ipv4")
        );
        assert!(
            err(&set("{id: a, number: 1, action: accept, state: [open]}"))
                .contains("unknown value `open`")
        );
        assert!(err(&set("{id: a, number: 1, action: jump}")).contains("unknown value `jump`"));
        assert!(
            err(&set("{id: a, number: 1, action: accept, log: yes}"))
                .contains("expected true or false")
        );
        let dup = "rule_sets:\n  - {name: S, default_action: drop, rules: [{id: a, number: 1, action: accept}, {id: a, number: 2, action: accept}]}\n";
        assert!(err(dup).contains("already has a rule with id `a`"));
        let v6 = "rule_sets:\n  - {name: S, family: ipv6, default_action: drop, rules: [{id: a, number: 1, action: accept, source: {address: '2001:db8::/32'}}]}\n";
        assert!(check(v6).is_ok());
    }

    #[test]
    fn nat_and_route_rules() {
        let dnat = |extra: &str| {
            format!("nat:\n  destination:\n    - {{number: 10, inbound_interface: eth0{extra}}}\n")
        };
        assert!(
            check(&dnat(
                ", protocol: tcp, external_port: 443, translation_address: 192.0.2.10"
            ))
            .is_ok()
        );
        assert!(
            err(&dnat(", protocol: tcp, external_port: 443"))
                .contains("needs `translation_address` and/or `translation_port`")
        );
        assert!(
            err(&dnat(
                ", external_port: 443, translation_address: 192.0.2.10"
            ))
            .contains("ports need protocol tcp, udp or tcp_udp (protocol is all)")
        );
        assert!(err("nat:\n  source:\n    - {number: 10, outbound_interface: eth0, source_prefix: 10.0.0.0/8, translation: everything}\n").contains("neither `masquerade` nor an IP address"));
        assert!(check("nat:\n  source:\n    - {number: 10, outbound_interface: eth0, source_prefix: 10.0.0.0/8, translation: 192.0.2.1}\n").is_ok());
        assert!(
            err("routes:\n  - {prefix: 10.0.0.0/8}\n")
                .contains("exactly one of `next_hop`, `interface` or `blackhole: true`")
        );
        assert!(
            err("routes:\n  - {prefix: 10.0.0.0/8, next_hop: 192.0.2.1, blackhole: true}\n")
                .contains("exactly one")
        );
        assert!(
            err("routes:\n  - {prefix: 10.0.0.0/8, next_hop: '2001:db8::1'}\n")
                .contains("is not of the family of 10.0.0.0/8")
        );
        assert!(
            err("routes:\n  - {prefix: 10.0.0.0/8, interface: eth0, distance: 0}\n")
                .contains("distance 0 is out of range 1-255")
        );
        assert!(err("routes:\n  - {prefix: 10.0.0.0/8, blackhole: true}\n  - {prefix: 10.0.0.0/8, blackhole: true}\n").contains("route 10.0.0.0/8 is also defined"));
        let twice = "nat:\n  source:\n    - {number: 10, outbound_interface: eth0, source_prefix: 10.0.0.0/8, translation: masquerade}\n    - {number: 10, outbound_interface: eth1, source_prefix: 10.1.0.0/16, translation: masquerade}\n";
        assert!(err(twice).contains("source NAT rule 10 is also defined"));
    }

    #[test]
    fn policies_merge_and_clash() {
        let policy = "name: p\nrule_sets:\n  - {name: S, default_action: drop}\n";
        let s = check_with(
            &format!("{HEAD}policies: [p]\n"),
            &[("policies/p.yaml", policy)],
        )
        .expect("valid");
        assert_eq!(s.resources_of(&s.appliances[0]).count(), 2);
        let clash =
            format!("{HEAD}policies: [p]\nrule_sets:\n  - {{name: S, default_action: accept}}\n");
        let e = check_with(&clash, &[("policies/p.yaml", policy)])
            .expect_err("clash")
            .join("");
        assert!(
            e.contains("rule set `S` (from policy `p`) is also defined at appliances/a.yaml"),
            "{e}"
        );
        let e = check_with(
            HEAD,
            &[("policies/p.yaml", policy), ("policies/q.yaml", policy)],
        )
        .expect_err("dup")
        .join("");
        assert!(
            e.contains("policy `p` is already defined at policies/p.yaml"),
            "{e}"
        );
    }

    #[test]
    fn raw_lines_never_carry_a_literal_secret() {
        let e = err(
            "raw: [\"set system login user ops authentication plaintext-password 'hunter2'\"]\n",
        );
        assert!(
            e.contains("writes a literal secret into `plaintext-password`")
                && !e.contains("hunter2"),
            "{e}"
        );
        assert!(
            err("raw: ['set system login user ops authentication encrypted-password x']\n")
                .contains("into `encrypted-password`")
        );
        // Unused policies are checked too.
        let policy = "name: p\nraw: [\"set service https api keys id ci key 'abc'\"]\n";
        let e = check_with(HEAD, &[("policies/p.yaml", policy)])
            .expect_err("secret in policy")
            .join("");
        assert!(e.contains("into `key`") && !e.contains("abc"), "{e}");
        // A name that merely ends like a secret leaf, as a tag value, is no secret.
        assert!(check("raw: [\"set system ntp server monkey\"]\n").is_ok());
        assert!(check("raw: [\"set system login banner pre-login 'key'\"]\n").is_ok());
    }

    #[test]
    fn invalid_utf8_is_reported_with_position() {
        let mut files = SourceFiles::default();
        files
            .files
            .insert("appliances/a.yaml".into(), b"name: a\nx: \xff\n".to_vec());
        let e = load(&files).expect_err("utf8");
        assert_eq!(
            (e[0].line, e[0].column, e[0].message.as_str()),
            (2, 4, "file is not valid UTF-8")
        );
    }
}
