//! The VyOS HTTP API's JSON envelope reader (`driver::vyos::http::parse_reply`). The first
//! byte picks the HTTP status; must never panic on any body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vnfsync::driver::vyos::http;

fuzz_target!(|data: &[u8]| {
    let (status, body) = match data.split_first() {
        Some((b, rest)) => (200 + u16::from(*b % 4) * 100, rest),
        None => (200, data),
    };
    let _ = http::parse_reply(status, &String::from_utf8_lossy(body));
});
