//! Strict command-list parser: must never panic; what it accepts must apply, print, and read
//! back (strictly) as the same commands.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vnfsync::vyos::{self, ConfigTree};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(cmds) = vyos::parse_commands_strict(text) {
        let printed: String = cmds.iter().map(|c| format!("{c}\n")).collect();
        match vyos::parse_commands_strict(&printed) {
            Ok(back) => assert_eq!(back, cmds, "{printed:?}"),
            Err(e) => {
                // Printing may only fall back to a form strict reading refuses for a valueless
                // last word it cannot place; never for a line with a value.
                assert!(e.to_string().starts_with("quote"), "{printed:?}: {e}");
            }
        }
        let _ = vyos::apply(&cmds, &ConfigTree::new());
    }
    if let Ok(tree) = ConfigTree::parse_commands_strict(text) {
        let _ = vyos::render_commands(&tree);
        let _ = vyos::render_json(&tree);
    }
});
