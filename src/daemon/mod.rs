//! The daemon: the long-running wiring around the engine.
//!
//! Owns: which commit is served ([`desired`]: whole-commit validation, the last good commit
//! kept when a new one is rejected) and which appliances a commit touches ([`affected`]).
//! Must not plan or apply by itself: reconciling one appliance is the engine's job, reading
//! commits is `source`'s.

pub mod affected;
pub mod demo;
pub mod desired;
pub mod notify;
pub mod operator;
pub mod run;

pub use affected::{Affected, Reason, affected};
pub use desired::{Desired, Offer, Rejection, Tracker};
pub use run::{DaemonError, run, run_with};
