//! The VyOS emulator: configuration sessions and commits over a `vyos::ConfigTree`, version
//! profiles, commit-confirm, an SSH front end and the HTTP API (reference/vyos.md §3–§5, §7).
//!
//! Code map: [`appliance`] holds one appliance's state and rules and implements
//! [`frontend::ExecBackend`]; [`session`] is a working copy; [`schema`] and [`validate`] are the
//! set-time and commit-time checks; [`profile`] is what differs between 1.3, 1.4 and 1.5;
//! [`lockout`] evaluates the input filter for management lockout; [`faults`] is fault
//! injection; behind an exec request, [`exec`] picks the script, [`script`] interprets it (with
//! [`vbash`]'s word splitting), [`confmode`] holds the configuration-mode verbs and [`opmode`]
//! the op-mode commands (shared with the API), over a [`console`]; [`api`] is the HTTP API;
//! [`control`] is the lab's control endpoint; [`lab`] starts many appliances and their
//! listeners; [`hostkey`] makes the stable per-appliance SSH host keys.

pub mod api;
pub mod appliance;
pub mod confmode;
pub mod console;
pub mod control;
pub mod crypt;
pub mod exec;
pub mod faults;
pub mod frontend;
pub mod hostkey;
pub mod lab;
pub mod lockout;
pub mod opmode;
pub mod profile;
pub mod schema;
pub mod script;
pub mod session;
pub mod ssh;
pub mod validate;
pub mod vbash;

pub use appliance::{Appliance, ApplianceSpec, Timing};
pub use profile::Profile;
