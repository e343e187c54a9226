//! `src/yaml.rs`, the positioned YAML reader of desired-state files: must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = vnfsync::yaml::parse(text);
});
