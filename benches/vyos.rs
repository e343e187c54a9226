//! Criterion benchmarks of the `vyos` module on a generated config of 20,000 firewall rules in
//! 40 rule sets (about 6 MB of config.boot): parse + render `commands`, and the diff of two such
//! configs that differ in 1 % of the rules. Figures are recorded in `BENCHMARKS.md`.

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

criterion_group!(vyos_benches, benches);
criterion_main!(vyos_benches);
