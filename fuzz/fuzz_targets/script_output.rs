//! The VyOS driver's script-output reader (`driver::vyos::script`): the transcript split at the
//! echo markers and each step's verdict. Must never panic on anything a device prints.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vnfsync::driver::vyos::script;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let t = script::split(&text);
    let _ = script::verdict(&t.preamble);
    for step in &t.steps {
        let _ = script::verdict(step);
    }
});
