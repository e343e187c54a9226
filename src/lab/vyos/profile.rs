//! Version profiles: what differs between the emulated VyOS 1.3, 1.4 and 1.5 (reference §0,
//! §1.3, §3.4–§3.6, §5.1, §5.4, §6).
//!
//! Owns every version-dependent fact the emulator uses: release strings, the config.boot style
//! `save` writes, the firewall syntax, the commit-confirm texts and the API features. It must
//! not hold state; the appliance asks it questions.

use serde::{Deserialize, Serialize};

use crate::vyos::BootStyle;

/// An emulated VyOS release line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Profile {
    /// 1.3 "equuleus": cstore, iptables firewall (`firewall name X`), 1.3 commit-confirm.
    #[serde(rename = "1.3")]
    V13,
    /// 1.4 "sagitta": nftables firewall (`firewall ipv4 name X`), commit-confirm reboots.
    #[serde(rename = "1.4")]
    V14,
    /// 1.5 stream (2025): as 1.4 plus `commit-confirm action reload`, API `confirm_time`,
    /// `/info`, and REST switched on with `service https api rest`.
    #[serde(rename = "1.5")]
    V15,
}

/// An unknown profile name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown VyOS profile \"{0}\": expected 1.3, 1.4 or 1.5")]
pub struct ProfileError(pub String);

impl std::str::FromStr for Profile {
    type Err = ProfileError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "1.3" => Ok(Profile::V13),
            "1.4" => Ok(Profile::V14),
            "1.5" => Ok(Profile::V15),
            other => Err(ProfileError(other.to_owned())),
        }
    }
}

impl std::fmt::Display for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Profile {
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::V13 => "1.3",
            Profile::V14 => "1.4",
            Profile::V15 => "1.5",
        }
    }

    /// The release string of `show version` and the config.boot footer.
    pub fn release(self) -> &'static str {
        match self {
            Profile::V13 => "1.3.8",
            Profile::V14 => "1.4.0",
            Profile::V15 => "1.5-stream-2025-Q2",
        }
    }

    fn train(self) -> &'static str {
        match self {
            Profile::V13 => "equuleus",
            Profile::V14 => "sagitta",
            Profile::V15 => "circinus",
        }
    }

    /// How `save` writes config.boot (§1.3).
    pub fn boot_style(self) -> BootStyle {
        match self {
            Profile::V13 => BootStyle::vyos_1_3(),
            Profile::V14 => BootStyle::vyos_1_4_0(),
            Profile::V15 => BootStyle::vyos_1_5(),
        }
    }

    /// 1.4 and later (vyos-1x `config-mgmt`, nftables firewall, `rollback-soft`).
    pub fn is_1_4_plus(self) -> bool {
        self != Profile::V13
    }

    /// The path of named IPv4 firewall chains (§6.1, §6.2).
    pub fn firewall_name_path(self) -> &'static [&'static str] {
        match self {
            Profile::V13 => &["firewall", "name"],
            _ => &["firewall", "ipv4", "name"],
        }
    }

    /// Whether `commit-confirm action reload` exists (rolling since Oct 2024, later 1.5).
    pub fn has_confirm_reload(self) -> bool {
        self == Profile::V15
    }

    /// Whether the API knows `confirm_time`, `op: confirm`, `merge` and `string` (§5.4).
    pub fn api_commit_confirm(self) -> bool {
        self == Profile::V15
    }

    /// Whether `GET /info` exists (§5.2).
    pub fn api_info(self) -> bool {
        self == Profile::V15
    }

    /// Whether REST needs `service https api rest` (§5.1).
    pub fn api_needs_rest_node(self) -> bool {
        self == Profile::V15
    }

    /// The `save` output on success (§3.4).
    pub fn save_message(self, file: &str) -> String {
        match self {
            Profile::V13 => format!("Saving configuration to '{file}'...\nDone\n"),
            _ => String::new(),
        }
    }

    /// The commit-confirm prompt (§3.6); `reload` only on 1.5 with `action reload`.
    pub fn confirm_prompt(self, minutes: u64, reload: bool) -> String {
        match self {
            Profile::V13 => format!(
                "commit confirm will be automatically reboot in {minutes} minutes unless confirmed\nProceed? [confirm]"
            ),
            _ if reload => format!(
                "commit-confirm will automatically reload previous config in {minutes} minutes unless changes are confirmed.\nProceed ? [Y/n] "
            ),
            _ => format!(
                "commit-confirm will automatically reboot in {minutes} minutes unless changes are confirmed.\nProceed ? [Y/n] "
            ),
        }
    }

    /// `show version`, shaped like VyOS's (the build fields are the lab's own).
    pub fn show_version(self) -> String {
        format!(
            "\nVersion:          VyOS {release}\nRelease train:    {train}\nRelease flavor:   generic\n\nBuilt by:         vnfsync lab\nBuilt on:         emulated\nBuild UUID:       00000000-0000-0000-0000-000000000000\nBuild commit ID:  0000000000000\n\nArchitecture:     x86_64\nBoot via:         installed image\nSystem type:      emulated (vnfsync lab)\n\nHardware vendor:  vnfsync\nHardware model:   VyOS emulator\n\nCopyright:        VyOS maintainers and contributors\n",
            release = self.release(),
            train = self.train(),
        )
    }
}
