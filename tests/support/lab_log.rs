//! Reading the lab's command log (`GET <control>/log`), shared by the test benches
//! (`desired.rs`, `engine_env.rs`).
#![allow(dead_code)]

use serde_json::Value;

/// The commands of a log answer that write: configuration verbs, commit, confirm, save, load,
/// the API's `configure` and `config-file`.
pub fn writes(log: &Value) -> Vec<String> {
    const WRITING: [&str; 10] = [
        "set ",
        "delete ",
        "comment ",
        "commit",
        "save",
        "load",
        "merge",
        "confirm",
        "configure ",
        "config-file ",
    ];
    log.as_array()
        .expect("list")
        .iter()
        .filter_map(|e| e["command"].as_str())
        .filter(|c| {
            let c = c.trim_start();
            WRITING.iter().any(|w| c.starts_with(w))
        })
        .map(str::to_string)
        .collect()
}
