//! Fixture configs written from `reference/vyos.md` §1–§2, one per dialect and grammar rule,
//! with their renderings as insta snapshots, and byte-exact round trips for the files that are
//! already in a VyOS output style.

use vnfsync::vyos::{
    self, BootFile, BootStyle, ConfigTree, Path, render_boot_file, render_commands, render_json,
    render_show,
};

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/data/vyos/{name}", env!("CARGO_MANIFEST_DIR"));
    match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => panic!("{path}: {e}"),
    }
}

fn parse(name: &str) -> BootFile {
    match ConfigTree::parse_any(&fixture(name)) {
        Ok(f) => f,
        Err(e) => panic!("{name}: {e} at {:?}", e.position()),
    }
}

/// Every rendering of one fixture, as one snapshot.
fn renderings(name: &str) -> String {
    let f = parse(name);
    format!(
        "--- boot (1.5) ---\n{}--- boot (1.3 cstore) ---\n{}--- commands ---\n{}--- json ---\n{}\n--- show configuration ---\n{}",
        render_boot_file(&f, &BootStyle::vyos_1_5()),
        render_boot_file(&f, &BootStyle::vyos_1_3()),
        render_commands(&f.tree),
        render_json(&f.tree),
        render_show(&f.tree),
    )
}

macro_rules! snapshot_fixture {
    ($test:ident, $file:literal) => {
        #[test]
        fn $test() {
            insta::assert_snapshot!(stringify!($test), renderings($file));
        }
    };
}

snapshot_fixture!(dialect_2025, "v2025.boot");
snapshot_fixture!(dialect_1_4_quoted, "v1_4_quoted.boot");
snapshot_fixture!(dialect_1_3_cstore, "v1_3_cstore.boot");
snapshot_fixture!(dialect_1_2_vyatta_footer, "v1_2_vyatta.boot");
snapshot_fixture!(dialect_1_3_migrated, "migrated_1_3.boot");
snapshot_fixture!(empty_node_spellings, "empty_nodes.boot");
snapshot_fixture!(comments_and_line_comments, "comments.boot");
snapshot_fixture!(quoting_escapes_backslashes_multivalues, "quoting.boot");
snapshot_fixture!(commands_exact_form, "commands.txt");
snapshot_fixture!(commands_operator_form, "operator.txt");

/// Files already in a VyOS output style come back byte for byte.
#[test]
fn canonical_files_round_trip_byte_exact() {
    let cases = [
        ("v2025.boot", BootStyle::vyos_1_5()),
        ("v1_4_quoted.boot", BootStyle::vyos_1_4_0()),
        ("v1_3_cstore.boot", BootStyle::vyos_1_3()),
        ("migrated_1_3.boot", BootStyle::migrated_1_3()),
        ("v1_2_vyatta.boot", {
            let mut s = BootStyle::vyos_1_3();
            s.footer_gap = 2;
            s
        }),
    ];
    for (name, style) in cases {
        let text = fixture(name);
        assert_eq!(render_boot_file(&parse(name), &style), text, "{name}");
    }
    let cmds = fixture("commands.txt");
    assert_eq!(render_commands(&parse("commands.txt").tree), cmds);
}

#[test]
fn every_dialect_means_the_same_tree() {
    // The same router written by each renderer parses to the same commands.
    let t = parse("v2025.boot").tree;
    for style in [
        BootStyle::vyos_1_5(),
        BootStyle::vyos_1_4_0(),
        BootStyle::vyos_1_3(),
        BootStyle::migrated_1_3(),
    ] {
        let text = vyos::render_boot(&t, &style);
        let back = match ConfigTree::parse_boot(&text) {
            Ok(b) => b,
            Err(e) => panic!("{style:?}: {e}\n{text}"),
        };
        assert_eq!(render_commands(&back), render_commands(&t), "{style:?}");
    }
}

#[test]
fn footers_are_kept() {
    let f = parse("v1_2_vyatta.boot").footer;
    let f = match f {
        Some(f) => f,
        None => panic!("no footer"),
    };
    assert_eq!(f.vintage, vyos::Vintage::Vyatta);
    assert_eq!(f.release, "1.2.6");
    assert_eq!(f.components.len(), 4);
    assert_eq!(
        parse("v2025.boot").footer.map(|f| f.release),
        Some("2025.06.24-0020-rolling".to_owned())
    );
    assert_eq!(parse("empty_nodes.boot").footer, None);
}

#[test]
fn diff_views() {
    let (a, b) = (parse("diff_old.boot").tree, parse("diff_new.boot").tree);
    let cmds: String = vyos::diff(&a, &b, &[])
        .iter()
        .map(|c| format!("{c}\n"))
        .collect();
    let scoped: String = vyos::diff(&a, &b, &[Path::parse("firewall ipv4 name WAN-IN")])
        .iter()
        .map(|c| format!("{c}\n"))
        .collect();
    insta::assert_snapshot!(
        "diff_views",
        format!(
            "--- diff ---\n{cmds}--- scoped to firewall ipv4 name WAN-IN ---\n{scoped}--- compare commands (VyOS text) ---\n{}--- compare ---\n{}--- unified ---\n{}",
            vyos::render_compare_commands(&a, &b, &[]),
            vyos::render_compare(&a, &b, &[]),
            vyos::render_unified(&a, &b, &[], "old", "new"),
        )
    );
    let applied = match vyos::apply(&vyos::diff(&a, &b, &[]), &a) {
        Ok(t) => t,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(render_commands(&applied), render_commands(&b));
}
