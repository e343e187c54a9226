//! The VyOS tree under hostile and large input (issue 8), through the real `vnfsync` binary:
//! secrets hidden in every format, strict command lists, size caps.

use assert_cmd::Command;

fn vnfsync() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vnfsync"))
}

fn write(dir: &std::path::Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    if let Err(e) = std::fs::write(&p, text) {
        panic!("{}: {e}", p.display());
    }
    p.display().to_string()
}

fn tempdir() -> tempfile::TempDir {
    match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("{e}"),
    }
}

/// Secret leaves of every kind the masking rule names, each holding a canary.
fn secrets_boot(tag: &str) -> String {
    format!(
        "interfaces {{\n    wireguard wg0 {{\n        private-key \"CANARY-wg-{tag}\"\n        peer p1 {{\n            preshared-key \"CANARY-psk-{tag}\"\n            public-key \"CANARY-pub-{tag}\"\n        }}\n    }}\n}}\n\
protocols {{\n    bgp {{\n        neighbor 192.0.2.1 {{\n            password \"CANARY-bgp-{tag}\"\n        }}\n    }}\n}}\n\
service {{\n    https {{\n        api {{\n            keys {{\n                id ops {{\n                    key \"CANARY-api-{tag}\"\n                }}\n            }}\n        }}\n    }}\n}}\n\
system {{\n    host-name \"r1\"\n    login {{\n        radius {{\n            server 192.0.2.9 {{\n                secret \"CANARY-radius-{tag}\"\n            }}\n        }}\n        user vyos {{\n            authentication {{\n                encrypted-password \"CANARY-hash-{tag}\"\n                plaintext-password \"CANARY-plain-{tag}\"\n            }}\n        }}\n    }}\n}}\n\
vpn {{\n    ipsec {{\n        authentication {{\n            psk peer1 {{\n                secret \"CANARY-ipsec-{tag}\"\n            }}\n        }}\n    }}\n}}\n"
    )
}

#[test]
fn hide_secrets_masks_canaries_in_every_show_and_diff_format() {
    let dir = tempdir();
    let old = write(dir.path(), "old.boot", &secrets_boot("old"));
    let new = write(dir.path(), "new.boot", &secrets_boot("new"));
    let check = |args: &[&str], expect_mask: bool| {
        let out = vnfsync().args(args).output();
        let out = match out {
            Ok(o) => o,
            Err(e) => panic!("{args:?}: {e}"),
        };
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            matches!(out.status.code(), Some(0 | 2)),
            "{args:?}: {:?} {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!text.contains("CANARY"), "{args:?} leaks a secret:\n{text}");
        if expect_mask {
            assert!(text.contains(vnfsync::vyos::MASK), "{args:?}:\n{text}");
        }
    };
    for format in ["boot", "commands", "json"] {
        for style in ["1.5", "1.4", "1.3"] {
            check(
                &[
                    "vyos",
                    "show",
                    "--hide-secrets",
                    "--format",
                    format,
                    "--style",
                    style,
                    &old,
                ],
                true,
            );
        }
    }
    for format in ["commands", "compare-commands", "compare", "unified"] {
        check(
            &[
                "vyos",
                "diff",
                "--hide-secrets",
                "--format",
                format,
                &old,
                &new,
            ],
            true,
        );
        check(
            &[
                "vyos",
                "diff",
                "--hide-secrets",
                "--format",
                format,
                &new,
                &old,
            ],
            true,
        );
    }
    // Without the flag the values are there (the test would be vacuous otherwise).
    let out = vnfsync()
        .args(["vyos", "diff", "--format", "unified", &old, &new])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    assert!(out.contains("CANARY-radius-new"), "{out}");
}

/// A firewall group of `n` networks, as `show configuration commands` prints it; `changed`
/// drops that entry and appends a new one (a blocklist update).
fn blocklist_commands(n: usize, changed: Option<usize>) -> String {
    let mut s = String::with_capacity(n * 70);
    let order = (0..n)
        .filter(|i| Some(*i) != changed)
        .chain(changed.map(|_| n + 7));
    for i in order {
        s.push_str(&format!(
            "set firewall group network-group BL network '10.{}.{}.{}/32'\n",
            i >> 16,
            (i >> 8) & 255,
            i & 255
        ));
    }
    s
}

#[test]
// A CPU-bound test with no tokio runtime: a wall-clock bound is what it checks.
#[allow(clippy::disallowed_methods)]
fn multi_value_leaves_cost_linear_time() {
    use vnfsync::vyos::{self, BootStyle, ConfigTree, Secrets};
    let n = 50_000;
    let started = std::time::Instant::now();
    let a_text = blocklist_commands(n, None);
    let a = ConfigTree::parse_commands(&a_text).unwrap_or_default();
    let path = ["firewall", "group", "network-group", "BL", "network"];
    assert_eq!(a.values(&path).map(<[String]>::len), Some(n));
    // VyOS's value order is kept.
    assert_eq!(
        a.values(&path).and_then(|v| v.get(1)).map(String::as_str),
        Some("10.0.0.1/32")
    );
    let strict = ConfigTree::parse_commands_strict(&a_text).unwrap_or_default();
    assert_eq!(strict, a);
    let b = ConfigTree::parse_commands(&blocklist_commands(n, Some(n / 2))).unwrap_or_default();
    let boot = vyos::render_boot(&a, &BootStyle::vyos_1_5());
    assert_eq!(ConfigTree::parse_boot(&boot).ok().as_ref(), Some(&a));
    let cmds = vyos::diff(&a, &b, &[]);
    assert_eq!(cmds.len(), 2, "{:?}", cmds.get(..4));
    assert_eq!(vyos::apply(&cmds, &a).ok().as_ref(), Some(&b));
    assert_eq!(
        vyos::render_compare_commands_with(&a, &b, &[], Secrets::Hide)
            .lines()
            .count(),
        2
    );
    assert!(!vyos::render_compare(&a, &b, &[]).is_empty());
    assert!(!vyos::render_unified(&a, &b, &[], "a", "b").is_empty());
    // Removing the whole leaf: one delete per value, applied in one pass.
    let gone = vyos::diff(&a, &ConfigTree::new(), &[]);
    assert_eq!(gone.len(), n);
    assert_eq!(vyos::apply(&gone, &a).ok(), Some(ConfigTree::new()));
    // Set one value at a time through the tree API.
    let mut t = ConfigTree::new();
    for v in a.values(&path).unwrap_or_default() {
        let _ = t.set(&path, Some(v));
    }
    assert_eq!(t, a);
    let elapsed = started.elapsed();
    // Quadratic handling took minutes here (debug build); linear takes about a second.
    assert!(
        elapsed < std::time::Duration::from_secs(60),
        "took {elapsed:?}"
    );
}

#[test]
fn inputs_over_the_size_cap_exit_64_without_loading_them() {
    // /dev/zero never ends: the read must stop at the cap.
    vnfsync()
        .args(["vyos", "show", "--max-input-size", "1M", "/dev/zero"])
        .assert()
        .code(64)
        .stderr("/dev/zero: larger than the input cap of 1 MiB (raise it with --max-input-size)\n");
    let out = vnfsync()
        .args(["vyos", "diff", "/dev/zero", "/dev/zero"])
        .assert()
        .code(64);
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        err.contains("/dev/zero: larger than the input cap of 64 MiB"),
        "{err}"
    );
    let dir = tempdir();
    let big = write(
        dir.path(),
        "big.txt",
        &"set system host-name 'r1'\n".repeat(100),
    );
    vnfsync()
        .args(["vyos", "show", "--max-input-size", "1K", &big])
        .assert()
        .code(64)
        .stderr(format!(
            "{big}: larger than the input cap of 1 KiB (raise it with --max-input-size)\n"
        ));
    vnfsync()
        .args(["vyos", "show", "--max-input-size", "2600", &big])
        .assert()
        .success();
    vnfsync()
        .args(["vyos", "show", "--max-input-size", "0", &big])
        .assert()
        .code(64);
}

#[test]
fn strict_flag_refuses_ambiguous_hand_written_lists() {
    let dir = tempdir();
    let hand = write(dir.path(), "hand.txt", "set system host-name vyos\n");
    let out = vnfsync()
        .args(["vyos", "show", "--strict", &hand])
        .assert()
        .code(64);
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        err.starts_with(&format!("{hand}:1:22: quote \"vyos\"")),
        "{err}"
    );
    vnfsync().args(["vyos", "show", &hand]).assert().success();
}
