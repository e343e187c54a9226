//! config.boot parser: must never panic, and whatever parses must render and re-parse.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vnfsync::vyos::{self, BootStyle, ConfigTree};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(file) = vyos::parse_boot_file(text) {
        let _ = vyos::render_boot_file(&file, &BootStyle::vyos_1_5());
        let _ = vyos::render_boot(&file.tree, &BootStyle::vyos_1_3());
        let _ = vyos::render_commands(&file.tree);
        let _ = vyos::render_json(&file.tree);
        let _ = vyos::diff(&file.tree, &ConfigTree::new(), &[]);
    }
});
