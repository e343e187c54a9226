//! vnfsync — keeps network appliances in the state a git repository declares.
//!
//! The library holds all logic; `src/main.rs` is a thin script over [`cli`].
//! See `ARCHITECTURE.md` for the code map and the invariants.
#![forbid(unsafe_code)]

pub mod api;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod dictionary;
pub mod driver;
pub mod engine;
pub mod journal;
pub mod lab;
pub mod model;
pub mod plan;
pub mod render;
pub mod source;
pub mod vyos;
pub mod yaml;
