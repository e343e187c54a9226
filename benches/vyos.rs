//! Criterion benchmarks of the `vyos` module on a generated config of 20,000 firewall rules in
//! 40 rule sets (about 6 MB of config.boot): parse + render `commands`, and the diff of two such
//! configs that differ in 1 % of the rules; and one leaf with 100,000 values (issue 8): parse
//! as config.boot and as commands, diff with one value changed, the text views, and applying
//! the deletes of the whole leaf. Figures are recorded in `BENCHMARKS.md`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use vnfsync::vyos::{self, ConfigTree};

#[path = "support/vyos_gen.rs"]
mod vyos_gen;

fn parse_tree(text: &str) -> ConfigTree {
    match ConfigTree::parse_boot(text) {
        Ok(t) => t,
        Err(e) => panic!("generated config does not parse: {e}"),
    }
}

fn benches(c: &mut Criterion) {
    let a = vyos_gen::config_boot(40, 20_000, None);
    let b = vyos_gen::config_boot(40, 20_000, Some(100));
    let mut g = c.benchmark_group("vyos_20k_rules");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .throughput(Throughput::Bytes(a.len() as u64));
    g.bench_function("parse_boot", |bench| {
        bench.iter(|| parse_tree(black_box(&a)));
    });
    g.bench_function("parse_boot+render_commands", |bench| {
        bench.iter(|| vyos::render_commands(&parse_tree(black_box(&a))));
    });
    let (ta, tb) = (parse_tree(&a), parse_tree(&b));
    let n = vyos::diff(&ta, &tb, &[]).len();
    assert!(n > 0, "the two configs must differ");
    g.bench_function("diff_1pct", |bench| {
        bench.iter(|| vyos::diff(black_box(&ta), black_box(&tb), &[]));
    });
    g.bench_function("parse_both+diff_1pct", |bench| {
        bench.iter(|| {
            let (x, y) = (parse_tree(black_box(&a)), parse_tree(black_box(&b)));
            vyos::diff(&x, &y, &[])
        });
    });
    g.bench_function("render_boot", |bench| {
        bench.iter(|| vyos::render_boot(black_box(&ta), &vyos::BootStyle::vyos_1_5()));
    });
    g.finish();
}

/// A firewall group with `n` networks, as `show configuration commands` prints it; `changed`
/// drops that entry and appends a new one.
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

/// Issue 8: one leaf with 100,000 values must cost about what its config.boot parse costs.
fn big_leaf(c: &mut Criterion) {
    let n = 100_000;
    let cmds = blocklist_commands(n, None);
    let tree = match ConfigTree::parse_commands(&cmds) {
        Ok(t) => t,
        Err(e) => panic!("{e}"),
    };
    let boot = vyos::render_boot(&tree, &vyos::BootStyle::vyos_1_5());
    let other = match ConfigTree::parse_commands(&blocklist_commands(n, Some(n / 2))) {
        Ok(t) => t,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(vyos::diff(&tree, &other, &[]).len(), 2);
    let mut g = c.benchmark_group("vyos_100k_value_leaf");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    g.bench_function("parse_boot", |bench| {
        bench.iter(|| parse_tree(black_box(&boot)));
    });
    g.bench_function("parse_commands", |bench| {
        bench.iter(|| ConfigTree::parse_commands(black_box(&cmds)));
    });
    g.bench_function("parse_commands_strict", |bench| {
        bench.iter(|| ConfigTree::parse_commands_strict(black_box(&cmds)));
    });
    g.bench_function("diff_one_value_changed", |bench| {
        bench.iter(|| vyos::diff(black_box(&tree), black_box(&other), &[]));
    });
    g.bench_function("render_compare_commands", |bench| {
        bench.iter(|| vyos::render_compare_commands(black_box(&tree), black_box(&other), &[]));
    });
    g.bench_function("render_unified", |bench| {
        bench.iter(|| vyos::render_unified(black_box(&tree), black_box(&other), &[], "a", "b"));
    });
    let gone = vyos::diff(&tree, &ConfigTree::new(), &[]);
    g.bench_function("apply_delete_all", |bench| {
        bench.iter(|| vyos::apply(black_box(&gone), black_box(&tree)));
    });
    g.finish();
}

criterion_group!(vyos_benches, benches, big_leaf);
criterion_main!(vyos_benches);
