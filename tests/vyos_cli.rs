//! The real `vnfsync` binary: `vyos show` and `vyos diff` on the fixtures, exit codes, and
//! `FILE:LINE:COL: message` on bad input.

use assert_cmd::Command;

fn data(name: &str) -> String {
    format!("{}/tests/data/vyos/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn vnfsync() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vnfsync"))
}

fn read(name: &str) -> String {
    std::fs::read_to_string(data(name)).unwrap_or_default()
}

#[test]
fn show_boot_is_byte_exact_for_a_canonical_file() {
    vnfsync()
        .args(["vyos", "show", &data("v2025.boot")])
        .assert()
        .success()
        .stdout(read("v2025.boot"));
    vnfsync()
        .args(["vyos", "show", "--style", "1.3", &data("v1_3_cstore.boot")])
        .assert()
        .success()
        .stdout(read("v1_3_cstore.boot"));
}

#[test]
fn show_commands_and_json() {
    vnfsync()
        .args([
            "vyos",
            "show",
            "--format",
            "commands",
            &data("commands.txt"),
        ])
        .assert()
        .success()
        .stdout(read("commands.txt"));
    let out = vnfsync()
        .args([
            "vyos",
            "show",
            "--format",
            "json",
            &data("empty_nodes.boot"),
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(
        String::from_utf8_lossy(&out),
        "{\"service\":{\"https\":{\"api\":{\"rest\":{}}},\"lldp\":{},\"ssh\":{}},\"system\":{}}\n"
    );
    let out = vnfsync()
        .args([
            "vyos",
            "show",
            "--format",
            "commands",
            "--hide-secrets",
            &data("commands.txt"),
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert!(String::from_utf8_lossy(&out).contains("plaintext-password '****************'"));
}

#[test]
fn diff_exit_codes_and_formats() {
    let (old, new) = (data("diff_old.boot"), data("diff_new.boot"));
    vnfsync()
        .args(["vyos", "diff", &old, &old])
        .assert()
        .code(0)
        .stdout("");
    let out = vnfsync()
        .args([
            "vyos",
            "diff",
            &old,
            &new,
            "--scope",
            "interfaces ethernet eth0",
        ])
        .assert()
        .code(2)
        .get_output()
        .stdout
        .clone();
    assert_eq!(
        String::from_utf8_lossy(&out),
        "delete interfaces ethernet eth0 description 'WAN'\nset interfaces ethernet eth0 address '2001:db8::1/64'\nset interfaces ethernet eth0 description 'Uplink'\ncomment interfaces ethernet eth0 'uplink'\n"
    );
    for format in ["compare", "unified", "compare-commands"] {
        vnfsync()
            .args(["vyos", "diff", "--format", format, &old, &new])
            .assert()
            .code(2);
    }
    // A command list against a config.boot: inputs are detected.
    vnfsync()
        .args(["vyos", "diff", &data("commands.txt"), &data("operator.txt")])
        .assert()
        .code(2);
}

#[test]
fn a_config_boot_and_its_own_commands_do_not_differ() {
    let out = vnfsync()
        .args(["vyos", "show", "--format", "commands", &data("v2025.boot")])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("{e}"),
    };
    let cmds = dir.path().join("v2025.txt");
    if let Err(e) = std::fs::write(&cmds, out) {
        panic!("{e}");
    }
    let cmds = cmds.display().to_string();
    for format in ["commands", "compare-commands", "compare", "unified"] {
        vnfsync()
            .args([
                "vyos",
                "diff",
                "--format",
                format,
                &data("v2025.boot"),
                &cmds,
            ])
            .assert()
            .code(0)
            .stdout("");
    }
}

#[test]
fn bad_input_exits_64_with_the_position() {
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("{e}"),
    };
    let bad = dir.path().join("bad.boot");
    if let Err(e) = std::fs::write(
        &bad,
        "interfaces {\n    ethernet eth0 {\n        address dhcp mtu\n    }\n}\n",
    ) {
        panic!("{e}");
    }
    let bad = bad.display().to_string();
    vnfsync()
        .args(["vyos", "show", &bad])
        .assert()
        .code(64)
        .stderr(format!(
            "{bad}:3:22: Syntax error on line 3, character 22: Invalid syntax.\n"
        ));
    let cmds = dir.path().join("bad.txt");
    if let Err(e) = std::fs::write(&cmds, "set a 'x'\nset b \"it's\"\n") {
        panic!("{e}");
    }
    let cmds = cmds.display().to_string();
    vnfsync()
        .args(["vyos", "diff", &data("diff_old.boot"), &cmds])
        .assert()
        .code(64)
        .stderr(format!(
            "{cmds}:2:7: Cannot use the single quote (') character in a value string\n"
        ));
    vnfsync()
        .args(["vyos", "show", "/nonexistent/config.boot"])
        .assert()
        .code(64);
}
