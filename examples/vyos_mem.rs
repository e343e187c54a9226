//! Peak-memory probe for `BENCHMARKS.md`: run under `/usr/bin/time -v`.
//!
//! `vyos_mem gen OUT [CHANGE_EVERY]` writes the benchmark config; `vyos_mem commands FILE`
//! parses it and renders `show configuration commands`; `vyos_mem diff OLD NEW` parses both
//! and diffs them. Each prints the sizes and timings it saw.

// A measuring probe: wall-clock time is what it reports (clippy.toml bans it in the library).
#![allow(clippy::disallowed_methods)]

use std::time::Instant;

use vnfsync::vyos::{self, ConfigTree};

#[path = "../benches/support/vyos_gen.rs"]
mod vyos_gen;

fn read(path: &str) -> String {
    match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => panic!("{path}: {e}"),
    }
}

fn parse(text: &str) -> ConfigTree {
    match ConfigTree::parse_boot(text) {
        Ok(t) => t,
        Err(e) => panic!("{e}"),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("gen") => {
            let every = args.get(3).and_then(|s| s.parse().ok());
            let text = vyos_gen::config_boot(40, 20_000, every);
            if let Err(e) = std::fs::write(&args[2], &text) {
                panic!("{e}");
            }
            println!("wrote {} bytes", text.len());
        }
        Some("commands") => {
            let text = read(&args[2]);
            let t0 = Instant::now();
            let tree = parse(&text);
            let out = vyos::render_commands(&tree);
            println!(
                "input {} bytes, commands {} bytes, parse+render {:?}",
                text.len(),
                out.len(),
                t0.elapsed()
            );
        }
        Some("timing") => {
            // Best of N runs of each step, to see through a busy machine.
            let text = read(&args[2]);
            let (mut p, mut r, mut d) = (f64::MAX, f64::MAX, f64::MAX);
            for _ in 0..args.get(3).and_then(|n| n.parse().ok()).unwrap_or(10) {
                let t0 = Instant::now();
                let tree = parse(&text);
                let t1 = Instant::now();
                let out = vyos::render_commands(&tree);
                let t2 = Instant::now();
                drop(tree);
                drop(out);
                let t3 = Instant::now();
                p = p.min((t1 - t0).as_secs_f64());
                r = r.min((t2 - t1).as_secs_f64());
                d = d.min((t3 - t2).as_secs_f64());
            }
            println!(
                "best: parse {:.1} ms, render commands {:.1} ms, drop {:.1} ms",
                p * 1e3,
                r * 1e3,
                d * 1e3
            );
        }
        Some("difftiming") => {
            let (a, b) = (read(&args[2]), read(&args[3]));
            let (ta, tb) = (parse(&a), parse(&b));
            let mut best = f64::MAX;
            for _ in 0..args.get(4).and_then(|n| n.parse().ok()).unwrap_or(10) {
                let t0 = Instant::now();
                let cmds = vyos::diff(&ta, &tb, &[]);
                best = best.min(t0.elapsed().as_secs_f64());
                drop(cmds);
            }
            println!("best: diff {:.1} ms", best * 1e3);
        }
        Some("diff") => {
            // Like `vnfsync vyos diff`: read and parse both files, then diff.
            let t0 = Instant::now();
            let (a, b) = (read(&args[2]), read(&args[3]));
            let (ta, tb) = (parse(&a), parse(&b));
            let cmds = vyos::diff(&ta, &tb, &[]);
            println!(
                "inputs {} + {} bytes, {} commands, read+parse both+diff {:?}",
                a.len(),
                b.len(),
                cmds.len(),
                t0.elapsed()
            );
        }
        _ => eprintln!("usage: vyos_mem gen OUT [CHANGE_EVERY] | commands FILE | diff OLD NEW"),
    }
}
