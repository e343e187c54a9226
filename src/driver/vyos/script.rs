//! vbash script-template scripts for VyOS over SSH, and the scanning of their output.
//!
//! Owns: turning a plan (VyOS `set`/`delete`/`comment` commands) and a few session steps into
//! one script with echo markers between steps (reference/vyos.md §4.1), quoting every word so
//! no input can inject a shell command, and reading the output back step by step, finding
//! failures by VyOS's own patterns whatever the exit status says. Pure: no IO.

use crate::vyos::Command;

/// The marker printed before each step; a step's output is what follows it.
pub const MARKER: &str = "@@vnfsync-step";

/// One step of a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A configuration command (set/delete/comment).
    Config(Command),
    /// `commit` with a comment.
    Commit {
        comment: String,
    },
    /// Arm commit-confirm the non-interactive way, then commit under it (1.4+, §4.1 (b)).
    CommitConfirm {
        minutes: u32,
        comment: String,
    },
    /// 1.3: `commit-confirm N` answered `y` on the next line (§4.1 (a)).
    CommitConfirmLegacy {
        minutes: u32,
    },
    Confirm,
    Save,
    /// Save the active config to a file (snapshots).
    SaveTo(String),
    /// Load a file into the session (snapshots), to be committed.
    Load(String),
    /// An op-mode command, run with `run`.
    Run(Vec<String>),
}

/// Why a value cannot be sent: the driver re-checks what validation already checked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("refusing to send `{word}`: {reason}")]
pub struct Unsafe {
    pub word: String,
    pub reason: String,
}

/// Single-quote a word for vbash. Words holding `'`, a newline or a control character are
/// refused (VyOS cannot hold them either, §1.3), so quoting can never be broken out of.
pub fn quote(word: &str) -> Result<String, Unsafe> {
    if word.contains('\'') {
        return Err(Unsafe {
            word: word.to_string(),
            reason: "it contains a single quote".into(),
        });
    }
    if word.chars().any(char::is_control) {
        return Err(Unsafe {
            word: word.to_string(),
            reason: "it contains a control character".into(),
        });
    }
    Ok(format!("'{word}'"))
}

/// Op-mode words: plain when they are plain (`run show version`), quoted otherwise.
fn words(parts: &[String]) -> Result<String, Unsafe> {
    let plain = |w: &str| {
        !w.is_empty()
            && w.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._:/@+,=%-".contains(&b))
    };
    let quoted: Result<Vec<String>, Unsafe> = parts
        .iter()
        .map(|w| if plain(w) { Ok(w.clone()) } else { quote(w) })
        .collect();
    Ok(quoted?.join(" "))
}

/// One configuration command as a vbash line: `vyos::Command::to_shell`, the one place that
/// formats commands for a shell (odd path words and every value single-quoted; values cstore
/// would refuse are refused).
pub fn config_line(cmd: &Command) -> Result<String, Unsafe> {
    cmd.to_shell().map_err(|e| Unsafe {
        word: cmd.path.join(" "),
        reason: e.to_string(),
    })
}

/// Build the script: template, `configure`, each step behind a marker, `exit discard` at the end
/// (uncommitted leftovers are dropped, never saved), and a final marker.
pub fn build(steps: &[Step]) -> Result<String, Unsafe> {
    let mut s = String::from("source /opt/vyatta/etc/functions/script-template\nconfigure\n");
    for (i, step) in steps.iter().enumerate() {
        s.push_str(&format!("echo '{MARKER} {i}'\n"));
        match step {
            Step::Config(cmd) => s.push_str(&config_line(cmd)?),
            Step::Commit { comment } => s.push_str(&format!("commit comment {}", quote(comment)?)),
            Step::CommitConfirm { minutes, comment } => {
                s.push_str(&format!(
                    "sg vyattacfg -c \"/usr/bin/config-mgmt commit_confirm -y -t {minutes}\"\n"
                ));
                s.push_str("export IN_COMMIT_CONFIRM=t\n");
                s.push_str(&format!("commit comment {}\n", quote(comment)?));
                s.push_str("unset IN_COMMIT_CONFIRM");
            }
            Step::CommitConfirmLegacy { minutes } => {
                s.push_str(&format!("commit-confirm {minutes}\ny"))
            }
            Step::Confirm => s.push_str("confirm"),
            Step::Save => s.push_str("save"),
            Step::SaveTo(file) => s.push_str(&format!("save {}", quote(file)?)),
            Step::Load(file) => s.push_str(&format!("load {}", quote(file)?)),
            Step::Run(cmd) => s.push_str(&format!("run {}", words(cmd)?)),
        }
        s.push('\n');
    }
    s.push_str(&format!("echo '{MARKER} end'\nexit discard\n"));
    Ok(s)
}

/// The output of each step, by index. Text before the first marker is the preamble.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Transcript {
    pub preamble: String,
    pub steps: Vec<String>,
    /// Whether the final marker was seen (the script ran to its end).
    pub completed: bool,
}

/// Split script output at the markers.
pub fn split(output: &str) -> Transcript {
    let mut t = Transcript::default();
    let mut current: Option<String> = None;
    for line in output.split_inclusive('\n') {
        let trimmed = line.trim_end();
        if let Some(rest) = trimmed.strip_prefix(MARKER) {
            let rest = rest.trim();
            if let Some(prev) = current.take() {
                t.steps.push(prev);
            }
            if rest == "end" {
                t.completed = true;
            } else {
                current = Some(String::new());
            }
            continue;
        }
        match &mut current {
            Some(buf) => buf.push_str(line),
            None if t.completed => {}
            None => t.preamble.push_str(line),
        }
    }
    if let Some(prev) = current {
        t.steps.push(prev);
    }
    t
}

/// How one step's output reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Ok,
    /// `No configuration changes to commit`: a successful no-op.
    NothingToCommit,
    /// Another commit holds the lock, or another confirm is pending.
    Busy(String),
    /// The device refused the step (set/delete/commit failure, invalid path).
    Failed(String),
}

/// Failure patterns (reference/vyos.md §4.1 and the tools in §4.2), in one place.
const FAILURES: &[&str] = &[
    "Commit failed",
    "Set failed",
    "Delete failed",
    "is not valid",
    "Invalid command",
    "Value validation failed",
    "Cannot load",
    "Failed to parse",
    "Load failed",
    "Failed to load",
    "No such file or directory",
    "Save failed",
    "commit-revisions is not configured",
    "requires non-zero commit-revisions",
];
const BUSY: &[&str] = &[
    "temporarily locked due to another commit",
    "Another confirm is pending",
];

/// Read one step's output.
pub fn verdict(output: &str) -> Verdict {
    let text = output.trim();
    if let Some(b) = BUSY.iter().find(|p| text.contains(*p)) {
        return Verdict::Busy((*b).to_string());
    }
    let failed = FAILURES.iter().any(|p| text.contains(p))
        || text.lines().any(|l| {
            let l = l.trim();
            l.starts_with("[[") && l.ends_with("failed")
        });
    if failed {
        return Verdict::Failed(text.to_string());
    }
    if text.contains("No configuration changes to commit") {
        return Verdict::NothingToCommit;
    }
    Verdict::Ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(path: &str, value: Option<&str>) -> Command {
        Command::set(
            path.split(' ').map(str::to_string).collect(),
            value.map(str::to_string),
        )
    }

    #[test]
    fn values_and_odd_words_are_quoted() {
        let line = config_line(&set(
            "firewall ipv4 name WAN rule 10 description",
            Some("a; rm -rf / $(x) `y`"),
        ))
        .expect("ok");
        assert_eq!(
            line,
            "set firewall ipv4 name WAN rule 10 description 'a; rm -rf / $(x) `y`'"
        );
        let odd = config_line(&set("system host-name $(reboot)", None)).expect("ok");
        assert_eq!(odd, "set system host-name '$(reboot)'");
    }

    #[test]
    fn injection_attempts_are_refused() {
        assert!(config_line(&set("system host-name", Some("x' ; reboot ; echo '"))).is_err());
        assert!(config_line(&set("system host-name", Some("x\nreboot"))).is_err());
        assert!(config_line(&set("system host'name", None)).is_err());
        assert!(
            build(&[Step::Commit {
                comment: "it's".into()
            }])
            .is_err()
        );
    }

    #[test]
    fn script_shape() {
        let s = build(&[
            Step::Config(set("system host-name", Some("r1"))),
            Step::CommitConfirm {
                minutes: 2,
                comment: "vnfsync abc".into(),
            },
        ])
        .expect("script");
        assert_eq!(
            s,
            "source /opt/vyatta/etc/functions/script-template\nconfigure\n\
             echo '@@vnfsync-step 0'\nset system host-name 'r1'\n\
             echo '@@vnfsync-step 1'\nsg vyattacfg -c \"/usr/bin/config-mgmt commit_confirm -y -t 2\"\n\
             export IN_COMMIT_CONFIRM=t\ncommit comment 'vnfsync abc'\nunset IN_COMMIT_CONFIRM\n\
             echo '@@vnfsync-step end'\nexit discard\n"
        );
    }

    #[test]
    fn transcript_and_verdicts() {
        let out = "Welcome\n@@vnfsync-step 0\n@@vnfsync-step 1\n\n  Configuration path: [foo] is not valid\n  Set failed\n\n@@vnfsync-step 2\n[[nat]] failed\nCommit failed\n@@vnfsync-step end\n";
        let t = split(out);
        assert_eq!(t.preamble, "Welcome\n");
        assert!(t.completed);
        assert_eq!(t.steps.len(), 3);
        assert_eq!(verdict(&t.steps[0]), Verdict::Ok);
        assert!(matches!(verdict(&t.steps[1]), Verdict::Failed(m) if m.contains("Set failed")));
        assert!(matches!(verdict(&t.steps[2]), Verdict::Failed(m) if m.contains("[[nat]] failed")));
        assert_eq!(
            verdict("No configuration changes to commit"),
            Verdict::NothingToCommit
        );
        assert!(matches!(
            verdict("Configuration system temporarily locked due to another commit in progress"),
            Verdict::Busy(_)
        ));
        assert!(!split("@@vnfsync-step 0\nhalf").completed);
        assert_eq!(
            verdict("Configuration path: [x] already exists"),
            Verdict::Ok
        );
        assert_eq!(
            verdict("Nothing to delete (the specified node does not exist)"),
            Verdict::Ok
        );
    }
}
