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
