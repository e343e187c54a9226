//! The VyOS emulator: configuration sessions and commits over a `vyos::ConfigTree`, version
//! profiles, commit-confirm, an SSH front end and the HTTP API (reference/vyos.md §3–§5, §7).

pub mod frontend;
pub mod ssh;
