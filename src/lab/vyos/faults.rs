//! Fault injection for one appliance: the settings (from the lab file or the control endpoint)
//! and the bookkeeping of the one-shot and counting faults.
//!
//! Owns what a fault *is* and when it fires. It must not perform IO: the front ends ask
//! [`FaultState`] what to do for each command and do it themselves (sleep, hang, drop).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The faults of one appliance. Every field is optional; the empty value injects nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Faults {
    /// Delay before every command (each script line, each API request), in milliseconds.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub latency_ms: u64,
    /// Drop the connection when the N-th command from now arrives (it is not run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drop_after: Option<u64>,
    /// Fail the next commit with this message (nothing is committed); fires once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_next_commit: Option<String>,
    /// Fail the part of the next commit under this owner subtree (`nat`, `protocols static`,
    /// `system login`: the subtrees a VyOS commit runs one by one) and commit the rest: a
    /// partial commit. Fires once, at the first commit that changes that subtree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_next_commit_of: Option<String>,
    /// Never answer a command that starts with this text (a script line, or an API request's
    /// `"<endpoint> <op>"`, such as `"configure set"` or `"retrieve showConfig"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hang_on: Option<String>,
    /// Refuse every authentication (SSH password and key, API key).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub refuse_auth: bool,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// What to do with one command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Run it (after `latency`).
    Run { latency: Duration },
    /// Never answer.
    Hang,
    /// Close the connection without answering.
    Drop,
}

/// The faults plus the counter of `drop_after`.
#[derive(Debug, Clone, Default)]
pub struct FaultState {
    faults: Faults,
    seen: u64,
}

impl FaultState {
    pub fn new(faults: Faults) -> FaultState {
        FaultState { faults, seen: 0 }
    }

    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// Replaces the faults and restarts the `drop_after` count.
    pub fn set(&mut self, faults: Faults) {
        *self = FaultState::new(faults);
    }

    pub fn refuse_auth(&self) -> bool {
        self.faults.refuse_auth
    }

    /// Counts one command and says what to do with it.
    pub fn on_command(&mut self, command: &str) -> Action {
        self.seen += 1;
        if let Some(n) = self.faults.drop_after
            && self.seen >= n
        {
            // Fires once; the next connection works again.
            self.faults.drop_after = None;
            self.seen = 0;
            return Action::Drop;
        }
        if let Some(h) = &self.faults.hang_on
            && !h.is_empty()
            && command.trim_start().starts_with(h.as_str())
        {
            return Action::Hang;
        }
        Action::Run {
            latency: Duration::from_millis(self.faults.latency_ms),
        }
    }

    /// Takes the one-shot failure of the owner subtree `owner` (words joined by a space), if
    /// armed for it.
    pub fn take_subtree_failure(&mut self, owner: &str) -> bool {
        if self.faults.fail_next_commit_of.as_deref() == Some(owner) {
            self.faults.fail_next_commit_of = None;
            return true;
        }
        false
    }

    /// Takes the one-shot commit failure, if armed.
    pub fn take_commit_failure(&mut self) -> Option<String> {
        self.faults.fail_next_commit.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drop_after_counts_and_fires_once() {
        let mut f = FaultState::new(Faults {
            drop_after: Some(2),
            hang_on: Some("show".into()),
            ..Faults::default()
        });
        assert!(matches!(f.on_command("set a"), Action::Run { .. }));
        assert_eq!(f.on_command("set b"), Action::Drop);
        assert_eq!(f.on_command("show x"), Action::Hang);
        assert!(matches!(f.on_command("set c"), Action::Run { .. }));
        let mut g = FaultState::new(Faults {
            fail_next_commit: Some("boom".into()),
            ..Faults::default()
        });
        assert_eq!(g.take_commit_failure().as_deref(), Some("boom"));
        assert_eq!(g.take_commit_failure(), None);
        let mut h = FaultState::new(Faults {
            fail_next_commit_of: Some("nat".into()),
            ..Faults::default()
        });
        assert!(!h.take_subtree_failure("protocols static"));
        assert!(h.take_subtree_failure("nat"));
        assert!(!h.take_subtree_failure("nat"));
    }
}
