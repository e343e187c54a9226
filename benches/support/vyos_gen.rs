//! Generator of the benchmark config: `sets` firewall rule sets with `rules` rules in total,
//! written as VyOS 1.5 `save` would (about 6 MB for 20,000 rules in 40 sets). Rules whose
//! index is a multiple of `change_every` get a different action and port, so two configs made
//! with different `change_every` differ in a known share of their rules.

use std::fmt::Write as _;

pub fn config_boot(sets: usize, rules: usize, change_every: Option<usize>) -> String {
    let per_set = rules / sets.max(1);
    let mut s = String::with_capacity(rules * 320 + 4096);
    s.push_str("firewall {\n    ipv4 {\n");
    s.push_str("        forward {\n            filter {\n");
    for set in 0..sets {
        let _ = write!(
            s,
            "                rule {} {{\n                    action \"jump\"\n                    jump-target \"SET-{set}\"\n                }}\n",
            set + 1
        );
    }
    s.push_str("            }\n        }\n");
    // Natural order of `SET-N` names matches numeric order.
    for set in 0..sets {
        let _ = write!(
            s,
            "        name SET-{set} {{\n            default-action \"drop\"\n            description \"rule set {set}\"\n"
        );
        for r in 0..per_set {
            let idx = set * per_set + r;
            let changed = change_every.is_some_and(|n| idx.is_multiple_of(n));
            let action = if changed { "reject" } else { "accept" };
            let port = if changed { 8443 } else { 443 };
            let _ = write!(
                s,
                "            rule {rule} {{\n                action \"{action}\"\n                description \"r{idx}\"\n                destination {{\n                    address \"10.{a}.{b}.0/24\"\n                    port \"22,80,{port}\"\n                }}\n                log\n                protocol \"tcp\"\n                state \"established\"\n            }}\n",
                rule = (r + 1) * 10,
                a = idx / 256 % 256,
                b = idx % 256,
            );
        }
        s.push_str("        }\n");
    }
    s.push_str("    }\n}\n");
    s.push_str("interfaces {\n    ethernet eth0 {\n        address \"192.0.2.1/24\"\n    }\n    loopback lo {\n    }\n}\n");
    s
}
