//! Command-list parser: must never panic; a parsed list must apply and render.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vnfsync::vyos::{self, ConfigTree};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(cmds) = vyos::parse_commands(text) {
        let _ = vyos::apply(&cmds, &ConfigTree::new());
    }
    if let Ok(tree) = ConfigTree::parse_commands(text) {
        let _ = vyos::render_commands(&tree);
    }
});
