//! The commit mode: who reverts a change that is not confirmed (the device's timer, by reboot
//! or reload, or the daemon itself), the confirm window in the device's unit, and whether the
//! current config is saved first.
//!
//! Owns: [`commit_mode`], a pure function of the device's capabilities and the desired
//! state's commit settings, so the decision is made — and journaled with the intent — before
//! any write. Must not do IO.

use std::time::Duration;

use serde::Serialize;

use super::{ConfirmFallback, DeviceInfo};
use crate::model::SavePolicy;

/// Who reverts an unconfirmed change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "by")]
pub enum Reverter {
    /// No confirm window was asked for: the change stands once committed.
    None,
    /// The device's own timer reverts it (reboot or reload, per `fallback`).
    Device { fallback: ConfirmFallback },
    /// The transport cannot arm a device-side confirm: the daemon restores the snapshot when
    /// the probes fail (only while the device can be reached).
    Daemon,
}

/// How one write is committed, decided before it happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CommitPlan {
    pub reverter: Reverter,
    /// The confirm window rounded up to the device's unit (`None`: no window).
    pub window: Option<Duration>,
    /// Save the current (good) config before the commit: a reboot fallback boots the saved
    /// config, so it must be the last good one (reference/vyos.md §3.6).
    pub save_first: bool,
    /// Save after the confirm (`save: after_confirm`); never between commit and confirm.
    pub save_after_confirm: bool,
    /// Whether the commit comment reaches the device on this transport.
    pub comment_on_device: bool,
}

impl CommitPlan {
    /// The journal's form of the mode.
    pub fn confirm_by(&self) -> &'static str {
        match self.reverter {
            Reverter::None => "none",
            Reverter::Device {
                fallback: ConfirmFallback::Reload,
            } => "device_reload",
            Reverter::Device { .. } => "device_reboot",
            Reverter::Daemon => "daemon",
        }
    }

    /// The window in whole device units (minutes on VyOS).
    pub fn window_units(&self, unit: Duration) -> Option<u32> {
        let w = self.window?;
        let unit = unit.as_secs().max(1);
        u32::try_from(w.as_secs().div_ceil(unit).max(1)).ok()
    }
}

/// Decide the commit mode. `window` is the desired state's confirm window (`None`: plain
/// commit). With `SavePolicy::Never` nothing is ever saved, not even the good config before a
/// reboot-fallback commit-confirm: the device then reboots into whatever it last saved.
pub fn commit_mode(info: &DeviceInfo, window: Option<Duration>, save: SavePolicy) -> CommitPlan {
    let unit = info.confirm_unit.as_secs().max(1);
    let rounded = window.map(|w| Duration::from_secs(w.as_secs().div_ceil(unit).max(1) * unit));
    let saves = save == SavePolicy::AfterConfirm;
    let reverter = match rounded {
        None => Reverter::None,
        Some(_) if info.confirm_on_transport => Reverter::Device {
            fallback: info.confirm_fallback,
        },
        Some(_) => Reverter::Daemon,
    };
    let save_first =
        saves && matches!(reverter, Reverter::Device { fallback } if fallback.reboots());
    CommitPlan {
        reverter,
        window: rounded,
        save_first,
        save_after_confirm: saves,
        comment_on_device: info.comment_on_transport,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(
        line: &str,
        fallback: ConfirmFallback,
        on_transport: bool,
        comment: bool,
    ) -> DeviceInfo {
        DeviceInfo {
            version: line.into(),
            line: line.into(),
            confirm_fallback: fallback,
            confirm_on_transport: on_transport,
            confirm_unit: Duration::from_secs(60),
            comment_on_transport: comment,
        }
    }

    #[test]
    fn every_case_of_the_commit_mode() {
        let min = |m: u64| Some(Duration::from_secs(m * 60));
        let v13 = info("1.3", ConfirmFallback::RebootToArmedSave, true, true);
        let m = commit_mode(
            &v13,
            Some(Duration::from_secs(61)),
            SavePolicy::AfterConfirm,
        );
        assert_eq!(m.window, min(2), "rounded up to whole minutes");
        assert_eq!(m.window_units(Duration::from_secs(60)), Some(2));
        assert!(m.save_first && m.save_after_confirm && m.comment_on_device);
        assert_eq!(m.confirm_by(), "device_reboot");

        let never = commit_mode(&v13, min(5), SavePolicy::Never);
        assert!(
            !never.save_first && !never.save_after_confirm,
            "save: never is honoured"
        );
        assert_eq!(never.confirm_by(), "device_reboot");

        let reload = info("1.5", ConfirmFallback::Reload, true, true);
        let m = commit_mode(&reload, min(1), SavePolicy::AfterConfirm);
        assert!(
            !m.save_first,
            "reload reverts to the archive: nothing to save first"
        );
        assert_eq!(m.confirm_by(), "device_reload");

        let http14 = info("1.4", ConfirmFallback::RebootToSaved, false, false);
        let m = commit_mode(&http14, min(5), SavePolicy::AfterConfirm);
        assert_eq!(m.reverter, Reverter::Daemon);
        assert!(!m.save_first && !m.comment_on_device);

        let m = commit_mode(&v13, None, SavePolicy::AfterConfirm);
        assert_eq!(m.reverter, Reverter::None);
        assert_eq!(m.window, None);
        assert!(!m.save_first);
        assert_eq!(m.confirm_by(), "none");
        assert_eq!(m.window_units(Duration::from_secs(60)), None);
        let m = commit_mode(&v13, Some(Duration::from_secs(1)), SavePolicy::AfterConfirm);
        assert_eq!(m.window, min(1), "never below one unit");
    }
}
