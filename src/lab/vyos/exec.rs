//! Exec requests of an emulated appliance, as SSH (or the control endpoint) delivers them:
//! `vbash -s` (the script on stdin), `vbash -c 'script'`, either behind `sg vyattacfg -c
//! "..."` or `sudo`, or one op-mode command (optionally behind `vyatta-op-cmd-wrapper`), run
//! by the login shell.
//!
//! Owns choosing the script and whether it starts with the VyOS commands available, the
//! [`ExecBackend`] of an [`Appliance`] (login checks included), and holding an SSH exec's
//! answer while the config drops its own connection (the output is held until access comes
//! back, or the connection is dropped at the next reboot). Must not interpret commands
//! ([`script`](super::script) does) nor touch appliance state except through [`Appliance`]
//! methods.

use std::net::IpAddr;
use std::sync::Arc;

use super::appliance::{Appliance, Service, Via};
use super::console::Flow;
use super::frontend::{Admission, BoxFuture, ExecBackend, ExecResult};
use super::script::Interpreter;
use super::vbash;

fn is_vbash(w: &str) -> bool {
    matches!(
        w,
        "vbash" | "/bin/vbash" | "/usr/bin/vbash" | "bash" | "/bin/bash" | "/usr/bin/bash"
    )
}

/// The command an exec request runs once `sudo` and `sg GROUP -c "..."` are unwrapped, as
/// words; `None` if it does not split.
fn unwrap(command: &str) -> Option<Vec<String>> {
    let mut words: Vec<String> = match vbash::parse_line(command) {
        Ok(c) if c.len() == 1 => c
            .into_iter()
            .next()?
            .words
            .into_iter()
            .map(|w| w.text)
            .collect(),
        _ => return None,
    };
    loop {
        match words.as_slice() {
            [sudo, ..] if sudo == "sudo" => {
                words.remove(0);
            }
            [sg, _, flag, inner] if sg == "sg" && flag == "-c" => {
                words = unwrap(inner)?;
            }
            [sg, _, inner] if sg == "sg" => {
                words = unwrap(inner)?;
            }
            _ => return Some(words),
        }
    }
}

/// Whether an exec command reads a script from stdin (`vbash -s`, also behind `sg`/`sudo`).
pub fn wants_stdin(command: &str) -> bool {
    unwrap(command)
        .is_some_and(|w| matches!(w.as_slice(), [sh, s, ..] if is_vbash(sh) && s == "-s"))
}

/// Runs one exec request for `user`, arriving through `via`.
pub async fn run(
    app: Arc<Appliance>,
    user: String,
    via: Via,
    command: String,
    stdin: Vec<u8>,
) -> ExecResult {
    let words = unwrap(&command).unwrap_or_default();
    let (script, template) = match words.as_slice() {
        [sh, s, ..] if is_vbash(sh) && s == "-s" => {
            app.record(via, &user, &command);
            (String::from_utf8_lossy(&stdin).into_owned(), false)
        }
        // `vbash -c 'script'`: a script given inline, without the template unless it
        // sources it.
        [sh, c, inner, ..] if is_vbash(sh) && c == "-c" => {
            app.record(via, &user, &command);
            (inner.clone(), false)
        }
        [first, rest @ ..] if first.ends_with("vyatta-op-cmd-wrapper") => (vbash_quote(rest), true),
        // A single command, as the login shell runs it.
        _ => (command.clone(), true),
    };
    let mut sh = Interpreter::new(app.clone(), user, via, &script);
    sh.template = template;
    let flow = sh.run().await;
    // The output travels on the open SSH connection: if the config now drops it (this script
    // locked SSH out, and established traffic is not accepted), it never arrives. The control
    // endpoint is the lab's console: nothing in the config drops it.
    let me = IpAddr::from([127, 0, 0, 1]);
    if via == Via::Ssh
        && flow != Flow::Drop
        && app.admission_established(Service::Ssh, me) == Admission::Refuse
        && !app.hold_while_dropped(Service::Ssh, me).await
    {
        // Rebooted meanwhile: the connection is gone, the output never arrived.
        return ExecResult {
            drop_connection: true,
            exit_status: 255,
            ..ExecResult::default()
        };
    }
    let drop_connection = flow == Flow::Drop;
    if drop_connection {
        sh.con.status = 255;
    }
    ExecResult {
        stdout: std::mem::take(&mut sh.con.out).into_bytes(),
        stderr: std::mem::take(&mut sh.con.err).into_bytes(),
        exit_status: match flow {
            Flow::Exit(n) => n,
            _ => sh.con.status,
        },
        drop_connection,
    }
}

/// Words back into one line, each single-quoted (the wrapper's arguments are words already).
fn vbash_quote(words: &[String]) -> String {
    words
        .iter()
        .map(|w| format!("'{}'", w.replace('\'', "'\\''")))
        .collect::<Vec<_>>()
        .join(" ")
}

impl ExecBackend for Appliance {
    fn admit(&self) -> Admission {
        self.admission(Service::Ssh, IpAddr::from([127, 0, 0, 1]))
    }

    fn check_password(&self, user: &str, password: &str) -> bool {
        !self.refuse_auth() && self.is_up() && self.login_password_ok(user, password)
    }

    fn check_public_key(&self, user: &str, key_openssh: &str) -> bool {
        !self.refuse_auth() && self.is_up() && self.login_key_ok(user, key_openssh)
    }

    fn wants_stdin(&self, command: &str) -> bool {
        wants_stdin(command)
    }

    fn exec(&self, user: &str, command: String, stdin: Vec<u8>) -> BoxFuture<'static, ExecResult> {
        let me = self.arc();
        let user = user.to_owned();
        Box::pin(async move {
            match me {
                Some(app) => run(app, user, Via::Ssh, command, stdin).await,
                None => ExecResult {
                    drop_connection: true,
                    ..ExecResult::default()
                },
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::lab::vyos::appliance::ConfirmAction;
    use crate::lab::vyos::appliance::{ApplianceSpec, Timing};
    use crate::lab::vyos::faults::Faults;
    use crate::lab::vyos::profile::Profile;

    const HEAD: &str =
        "#!/bin/vbash\nsource /opt/vyatta/etc/functions/script-template\nconfigure\n";

    fn timing() -> Timing {
        Timing {
            minute: Duration::from_millis(500),
            reboot: Duration::from_millis(300),
        }
    }

    fn appliance(profile: Profile) -> Arc<Appliance> {
        match Appliance::new(ApplianceSpec::new("r1", profile), timing()) {
            Ok(a) => a,
            Err(e) => panic!("{e}"),
        }
    }

    /// Runs `body` as a `vbash -s` script after the template and `configure`.
    async fn script(app: &Arc<Appliance>, body: &str) -> (String, u32) {
        let r = app
            .exec(
                "vyos",
                "vbash -s".to_owned(),
                format!("{HEAD}{body}").into_bytes(),
            )
            .await;
        (
            String::from_utf8_lossy(&r.stdout).into_owned(),
            r.exit_status,
        )
    }

    async fn op(app: &Arc<Appliance>, command: &str) -> String {
        let r = app.exec("vyos", command.to_owned(), Vec::new()).await;
        String::from_utf8_lossy(&r.stdout).into_owned()
    }

    /// Polls `f` every 10 ms until it holds or 5 s pass.
    async fn eventually(what: &str, f: impl Fn() -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while !f() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn has(app: &Appliance, path: &[&str]) -> bool {
        app.active().exists(path)
    }

    #[tokio::test]
    async fn set_commit_show_round_trip() {
        let app = appliance(Profile::V14);
        let (out, rc) = script(
            &app,
            "set system host-name 'edge1'\nset interfaces ethernet eth1 description WAN\ncommit comment 'first'\nsave\nexit\n",
        )
        .await;
        assert_eq!((out.as_str(), rc), ("", 0));
        let cmds = op(&app, "show configuration commands").await;
        assert!(cmds.contains("set system host-name 'edge1'\n"), "{cmds}");
        assert!(
            cmds.contains("set interfaces ethernet eth1 description 'WAN'\n"),
            "{cmds}"
        );
        assert!(
            app.saved().contains("host-name \"edge1\""),
            "{}",
            app.saved()
        );
        assert!(app.saved().ends_with("// Release version: 1.4.0\n"));
        let log = op(&app, "show system commit").await;
        assert!(log.starts_with("0   "), "{log}");
        assert!(log.contains(" by vyos via cli\n    first\n"), "{log}");
        assert!(
            op(&app, "show version")
                .await
                .contains("Version:          VyOS 1.4.0\n")
        );
        let json = op(&app, "show configuration json").await;
        assert!(json.contains("\"host-name\":\"edge1\""), "{json}");
        let inline = op(
            &app,
            "vbash -c 'source /opt/vyatta/etc/functions/script-template; run show host name'",
        )
        .await;
        assert_eq!(inline, "edge1\n");
        let wrapped = op(&app, "/opt/vyatta/bin/vyatta-op-cmd-wrapper show host name").await;
        assert_eq!(wrapped, "edge1\n");
        let masked = op(&app, "show configuration").await;
        assert!(masked.contains("key ****************"), "{masked}");
    }

    /// The shape of script the daemon's driver generates: every word single-quoted, echo
    /// markers between steps, config-mgmt commit-confirm, `exit discard` at the end.
    #[tokio::test]
    async fn generated_script_with_every_word_quoted() {
        let app = appliance(Profile::V14);
        let body = "source /opt/vyatta/etc/functions/script-template\nconfigure\n\
            echo '@@vnfsync-step 0'\nset 'system' 'host-name' 'r1x'\n\
            echo '@@vnfsync-step 1'\nset 'interfaces' 'loopback' 'lo' 'address' '10.255.0.1/32'\n\
            echo '@@vnfsync-step 2'\nset 'firewall' 'ipv4' 'name' 'WAN' 'rule' '10' 'description' 'a; rm -rf / $(x) `y`'\n\
            echo '@@vnfsync-step 3'\nset 'firewall' 'ipv4' 'name' 'WAN' 'rule' '10' 'action' 'accept'\n\
            echo '@@vnfsync-step 4'\nset 'interfaces' 'ethernet' 'eth1' 'disable'\n\
            echo '@@vnfsync-step 5'\nset 'interfaces' 'ethernet' 'eth1' 'address' '198.51.100.1/24'\n\
            echo '@@vnfsync-step 6'\ndelete 'interfaces' 'ethernet' 'eth0' 'address' '192.0.2.1/24'\n\
            echo '@@vnfsync-step 7'\nsg vyattacfg -c \"/usr/bin/config-mgmt commit_confirm -y -t 2\"\n\
            export IN_COMMIT_CONFIRM=t\ncommit comment 'vnfsync abc'\nunset IN_COMMIT_CONFIRM\n\
            echo '@@vnfsync-step 8'\nconfirm\n\
            echo '@@vnfsync-step 9'\nrun 'show' 'configuration' 'commands'\n\
            echo '@@vnfsync-step end'\nexit discard\n";
        let r = app
            .exec("vyos", "vbash -s".to_owned(), body.as_bytes().to_vec())
            .await;
        let out = String::from_utf8_lossy(&r.stdout);
        assert_eq!(r.exit_status, 0);
        let step = |n: &str| {
            let start = out.find(&format!("@@vnfsync-step {n}\n")).unwrap_or(0);
            out[start..].lines().nth(1).unwrap_or_default().to_owned()
        };
        assert_eq!(step("0"), "@@vnfsync-step 1");
        assert_eq!(
            step("7"),
            "Initialized commit-confirm; 2 minutes to confirm before reboot"
        );
        assert_eq!(step("8"), "Reboot timer stopped");
        for line in [
            "set firewall ipv4 name WAN rule 10 action 'accept'\n",
            "set firewall ipv4 name WAN rule 10 description 'a; rm -rf / $(x) `y`'\n",
            "set interfaces ethernet eth1 address '198.51.100.1/24'\n",
            "set interfaces ethernet eth1 disable\n",
            "set interfaces loopback lo address '10.255.0.1/32'\n",
            "set system host-name 'r1x'\n",
        ] {
            assert!(out.contains(line), "{line} missing in {out}");
        }
        assert!(!out.contains("address '192.0.2.1/24'"), "{out}");
        assert!(out.ends_with("@@vnfsync-step end\n"), "{out}");
    }

    #[tokio::test]
    async fn exit_code_quirks_and_messages() {
        let app = appliance(Profile::V14);
        let (out, rc) = script(&app, "set interfaces foo bar\n").await;
        assert_eq!(
            out,
            "\n  Configuration path: interfaces [foo] is not valid\n  Set failed\n\n"
        );
        assert_eq!(rc, 0, "a failed set exits 0");
        let (out, rc) = script(&app, "set foo bar\n").await;
        assert_eq!(
            (out.as_str(), rc),
            (
                "\n  Configuration path: [foo] is not valid\n  Set failed\n\n",
                0
            )
        );
        let (out, _) = script(&app, "set system host-name 'r1'\n").await;
        assert_eq!(
            out,
            "\n  Configuration path: [system host-name r1] already exists\n\n"
        );
        let (out, rc) = script(&app, "delete system domain-name\n").await;
        assert_eq!(
            (out.as_str(), rc),
            (
                "\n  Nothing to delete (the specified node does not exist)\n\n",
                0
            )
        );
        let (out, rc) = script(&app, "set system host-name 'bad name'\n").await;
        assert_eq!(
            out,
            "\n  Invalid host name\n  Value validation failed\n  Set failed\n\n"
        );
        assert_eq!(rc, 0);
        let (out, rc) = script(&app, "set system domain-name \"it's\"\n").await;
        assert!(
            out.contains("Cannot use the single quote (') character in a value string"),
            "{out}"
        );
        assert_eq!(rc, 0);
        let (out, rc) = script(&app, "commit\n").await;
        assert_eq!(
            (out.as_str(), rc),
            ("No configuration changes to commit\n", 1)
        );
        let (out, rc) = script(&app, "commit confirm\n").await;
        assert_eq!((out.as_str(), rc), ("Use commit-confirm command\n", 1));
        let (out, rc) = script(&app, "set system time-zone 'UTC'\nexit\necho after\n").await;
        assert_eq!(
            out,
            "Cannot exit: configuration modified.\nUse 'exit discard' to discard the changes and exit.\nafter\n"
        );
        assert_eq!(rc, 0, "echo ran last");
        let (out, _) = script(&app, "set system time-zone 'UTC'\ndiscard\ndiscard\n").await;
        assert_eq!(
            out,
            "Changes have been discarded\nNo changes have been discarded\n"
        );
        // Without the template, configuration commands do not exist.
        let r = app
            .exec(
                "vyos",
                "vbash -s".to_owned(),
                b"configure\nset system host-name x\n".to_vec(),
            )
            .await;
        assert_eq!(r.exit_status, 127);
        assert_eq!(
            String::from_utf8_lossy(&r.stderr),
            "vbash: line 1: configure: command not found\nvbash: line 2: set: command not found\n"
        );
    }

    #[tokio::test]
    async fn partial_commit_and_validation_errors() {
        let app = appliance(Profile::V14);
        let (out, rc) = script(
            &app,
            "set system host-name 'edge2'\nset nat source rule 10 outbound-interface name 'eth0'\ncommit\necho MARK\ncompare commands\n",
        )
        .await;
        assert_eq!(rc, 0, "a failed commit exits 0");
        assert_eq!(
            out,
            "\nSource NAT configuration error in rule 10: translation requires address\nand/or port\n\n[[nat]] failed\nCommit failed\nMARK\nset nat source rule 10 outbound-interface name 'eth0'\n"
        );
        assert_eq!(
            app.active().values(&["system", "host-name"]),
            Some(&["edge2".to_owned()][..]),
            "the system subtree stayed committed"
        );
        assert!(!has(&app, &["nat"]));
        let (out, _) = script(
            &app,
            "set firewall ipv4 name IN rule 10 action 'jump'\nset firewall ipv4 name IN rule 10 jump-target 'NOPE'\ncommit\n",
        )
        .await;
        assert_eq!(
            out,
            "\nInvalid jump-target. Firewall ipv4 name NOPE does not exist on the\nsystem\n\n[[firewall]] failed\nCommit failed\n"
        );
        let (out, _) = script(
            &app,
            "set nat source rule 10 outbound-interface name 'eth9'\nset nat source rule 10 translation address 'masquerade'\ncommit\n",
        )
        .await;
        assert_eq!(
            out,
            "\nWARNING: Interface \"eth9\" for source NAT rule \"10\" does not exist!\n\n"
        );
        assert!(has(&app, &["nat", "source", "rule", "10"]));
        let (out, _) = script(&app, "set firewall name X default-action drop\n").await;
        assert!(
            out.contains("Configuration path: firewall [name] is not valid"),
            "{out}"
        );
    }

    #[tokio::test]
    async fn load_merge_compare_rollback_soft() {
        let app = appliance(Profile::V14);
        let (out, _) = script(
            &app,
            "save /config/snap\nset system host-name 'changed'\ncompare\ncommit\nload /config/snap\ncompare commands\ncommit\nrollback-soft 1\ncompare commands\nload /config/missing\n",
        )
        .await;
        assert_eq!(
            out,
            "[system]\n- host-name \"r1\"\n+ host-name \"changed\"\nLoading configuration from '/config/snap'\nLoad complete. Use 'commit' to make changes effective.\ndelete system host-name 'changed'\nset system host-name 'r1'\nRollback diff has been applied.\nUse \"compare\" to review the changes or \"commit\" to apply them.\ndelete system host-name 'r1'\nset system host-name 'changed'\nCannot load: configuration modified.\n"
        );
    }

    #[tokio::test]
    async fn commit_confirm_prompt_swallows_next_line_and_hangs_at_eof() {
        let app = appliance(Profile::V14);
        let (out, rc) = script(
            &app,
            "set system time-zone 'UTC'\ncommit-confirm 5\ny\nconfirm\n",
        )
        .await;
        assert_eq!(
            out,
            "commit-confirm will automatically reboot in 5 minutes unless changes are confirmed.\nProceed ? [Y/n] \nInitialized commit-confirm; 5 minutes to confirm before reboot\nReboot timer stopped\n"
        );
        assert_eq!(rc, 0);
        // The next line is taken as the answer: `echo` is not yes/no, so it asks again, and EOF
        // then loops forever.
        let hung = tokio::time::timeout(
            Duration::from_millis(300),
            script(
                &app,
                "set system time-zone 'CET'\ncommit-confirm 5\necho lost\n",
            ),
        )
        .await;
        assert!(hung.is_err(), "ask_yes_no at EOF never returns");
        assert_eq!(app.pending_confirm(), None, "nothing was armed");
    }

    #[tokio::test]
    async fn commit_confirm_timeout_1_4_reboots_to_saved_config() {
        let app = appliance(Profile::V14);
        // An earlier unsaved commit is lost too (§3.6).
        let (_, _) = script(&app, "set system domain-name 'unsaved.example'\ncommit\n").await;
        let (out, _) = script(&app, "set system time-zone 'UTC'\ncommit-confirm 1\ny\n").await;
        assert!(
            out.starts_with("You should save previous commits before commit-confirm !\n"),
            "{out}"
        );
        assert!(has(&app, &["system", "time-zone"]));
        eventually("the reboot", || !app.is_up()).await;
        assert_eq!(app.admit(), Admission::Refuse);
        eventually("the end of the reboot", || app.is_up()).await;
        assert!(!has(&app, &["system", "time-zone"]));
        assert!(!has(&app, &["system", "domain-name"]));
        assert_eq!(app.admit(), Admission::Accept);
    }

    #[tokio::test]
    async fn commit_confirm_save_in_window_survives_on_1_4_but_not_1_3() {
        for (profile, survives) in [(Profile::V14, true), (Profile::V13, false)] {
            let app = appliance(profile);
            let (out, _) = script(
                &app,
                "set system time-zone 'UTC'\ncommit-confirm 1\ny\nsave\n",
            )
            .await;
            if profile == Profile::V13 {
                assert!(out.starts_with("commit confirm will be automatically reboot in 1 minutes unless confirmed\nProceed? [confirm]\n"), "{out}");
                assert!(
                    out.ends_with("Saving configuration to '/config/config.boot'...\nDone\n"),
                    "{out}"
                );
            }
            eventually("the reboot", || !app.is_up()).await;
            eventually("the end of the reboot", || app.is_up()).await;
            assert_eq!(has(&app, &["system", "time-zone"]), survives, "{profile}");
        }
    }

    #[tokio::test]
    async fn timer_armed_before_a_failing_commit_still_fires() {
        let app = appliance(Profile::V14);
        app.set_faults(Faults {
            fail_next_commit: Some("boom".to_owned()),
            ..Faults::default()
        });
        let (out, rc) = script(&app, "set system time-zone 'UTC'\ncommit-confirm 1\ny\n").await;
        assert!(out.ends_with("Initialized commit-confirm; 1 minutes to confirm before reboot\n\nboom\n\nCommit failed\n"), "{out}");
        assert_eq!(rc, 0);
        assert_eq!(app.pending_confirm(), Some(ConfirmAction::Reboot));
        eventually("the reboot", || !app.is_up()).await;
    }

    #[tokio::test]
    async fn save_and_exit_warnings() {
        let app = appliance(Profile::V14);
        let (out, rc) = script(
            &app,
            "set system time-zone 'UTC'\ncommit\nset system domain-name 'x.example'\nsave\ndiscard\nexit\n",
        )
        .await;
        assert_eq!(
            out,
            "Warning: you have uncommitted changes that will not be saved.\nChanges have been discarded\n"
        );
        assert_eq!(rc, 0);
        assert!(app.saved().contains("time-zone \"UTC\""));
        let (out, _) = script(&app, "set system domain-name 'y.example'\ncommit\nexit\n").await;
        assert_eq!(out, "Warning: configuration changes have not been saved.\n");
        let (out, _) = script(
            &app,
            "set system domain-name 'z.example'\nexit discard\nrun show configuration commands\n",
        )
        .await;
        assert!(
            out.contains("set system domain-name 'y.example'\n"),
            "{out}"
        );
    }

    #[tokio::test]
    async fn commit_confirm_1_5_reload_reverts_without_reboot() {
        let app = appliance(Profile::V15);
        let (_, _) = script(
            &app,
            "set system config-management commit-confirm action 'reload'\ncommit\n",
        )
        .await;
        let (out, _) = script(&app, "set system time-zone 'UTC'\ncommit-confirm 1\ny\n").await;
        assert!(
            out.contains("will automatically reload previous config in 1 minutes"),
            "{out}"
        );
        eventually("the revert", || !has(&app, &["system", "time-zone"])).await;
        assert!(app.is_up(), "reload does not reboot");
        assert!(has(
            &app,
            &["system", "config-management", "commit-confirm"]
        ));
        assert!(
            app.log()
                .iter()
                .any(|e| e.command == "[commit-confirm] Reverting to previous config now")
        );
    }

    #[tokio::test]
    async fn config_mgmt_path_and_one_pending_confirm() {
        let app = appliance(Profile::V14);
        let (out, rc) = script(
            &app,
            "set system time-zone 'UTC'\nsg vyattacfg -c \"/usr/bin/config-mgmt commit_confirm -y -t 5\"\nexport IN_COMMIT_CONFIRM=t\ncommit\nunset IN_COMMIT_CONFIRM\nsudo sg vyattacfg \"/usr/bin/config-mgmt commit_confirm -y -t 5\"\necho rc-marker\n",
        )
        .await;
        assert_eq!(
            out,
            "Initialized commit-confirm; 5 minutes to confirm before reboot\nAnother confirm is pending\nrc-marker\n"
        );
        assert_eq!(rc, 0);
        let held = app.archive().len();
        let (out, _) = script(
            &app,
            "set system domain-name 'x.example'\ncommit-confirm 5\ny\n",
        )
        .await;
        assert!(out.ends_with("Another confirm is pending\n"), "{out}");
        assert!(
            !has(&app, &["system", "domain-name"]),
            "1.4 skips the commit"
        );
        let (out, _) = script(&app, "confirm\nconfirm\n").await;
        assert_eq!(out, "Reboot timer stopped\nNo confirm pending\n");
        assert_eq!(
            app.archive().len(),
            held + 1,
            "the held revision is archived by confirm"
        );
        // 1.3: no config-mgmt; a second commit-confirm still commits, without a new timer.
        let old = appliance(Profile::V13);
        let r = old
            .exec(
                "vyos",
                "vbash -s".to_owned(),
                b"sg vyattacfg -c \"/usr/bin/config-mgmt commit_confirm -y -t 5\"\n".to_vec(),
            )
            .await;
        assert_eq!(r.exit_status, 127);
        let (_, _) = script(&old, "set system time-zone 'UTC'\ncommit-confirm 5\ny\n").await;
        let (out, _) = script(
            &old,
            "set system domain-name 'x.example'\ncommit-confirm 5\ny\n",
        )
        .await;
        assert!(out.ends_with("Another confirm is pending\n"), "{out}");
        assert!(has(&old, &["system", "domain-name"]), "1.3 still commits");
    }

    #[tokio::test]
    async fn lockout_and_recovery_by_commit_confirm() {
        let app = appliance(Profile::V14);
        assert_eq!(app.admit(), Admission::Accept);
        let run = tokio::spawn({
            let app = app.clone();
            async move {
                script(
                    &app,
                    "set firewall ipv4 input filter rule 10 action 'drop'\nset firewall ipv4 input filter rule 10 protocol 'tcp'\nset firewall ipv4 input filter rule 10 destination port '22'\ncommit-confirm 1\ny\n",
                )
                .await
            }
        });
        eventually("the commit", || app.pending_confirm().is_some()).await;
        assert_eq!(app.admit(), Admission::Refuse, "locked out of SSH");
        // The script's own output is dropped with its connection: it ends with the reboot.
        let (out, rc) = match run.await {
            Ok(r) => r,
            Err(e) => panic!("{e}"),
        };
        assert_eq!((out.as_str(), rc), ("", 255));
        eventually("the reboot", || !app.is_up()).await;
        eventually("the end of the reboot", || app.is_up()).await;
        assert_eq!(app.admit(), Admission::Accept, "commit-confirm saved us");
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config::with_cases(64))]
        /// Any script ends (no prompt here) without a panic, and its exit status is one bash
        /// could give.
        #[test]
        fn any_script_runs_to_the_end(lines in proptest::collection::vec(
            proptest::prop_oneof![
                proptest::strategy::Just("set system host-name 'x'".to_owned()),
                proptest::strategy::Just("delete system".to_owned()),
                proptest::strategy::Just("commit".to_owned()),
                proptest::strategy::Just("compare".to_owned()),
                proptest::strategy::Just("exit".to_owned()),
                proptest::strategy::Just("configure".to_owned()),
                proptest::strategy::Just("load /config/config.boot".to_owned()),
                proptest::strategy::Just("rollback-soft 0".to_owned()),
                "(set|delete|comment|show|run|echo|sg|sudo) [a-z'\" \\\\-]{0,30}",
                "[ -~]{0,40}",
            ],
            0..12,
        )) {
            let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(rt) => rt,
                Err(e) => panic!("{e}"),
            };
            let script = lines
                .into_iter()
                .filter(|l| !l.contains("commit-confirm") && !l.contains("rollback ") && !l.contains("config-mgmt"))
                .collect::<Vec<_>>()
                .join("\n");
            let status = rt.block_on(async {
                let app = appliance(Profile::V14);
                let run = script_status(&app, &script);
                tokio::time::timeout(Duration::from_secs(5), run).await
            });
            match status {
                Ok(rc) => proptest::prop_assert!(rc <= 255, "status {rc}"),
                Err(_) => proptest::prop_assert!(false, "script hung: {script:?}"),
            }
        }
    }

    async fn script_status(app: &Arc<Appliance>, body: &str) -> u32 {
        script(app, body).await.1
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn commit_lock_refuses_a_concurrent_commit() {
        let app = appliance(Profile::V14);
        // The latency fault makes each commit hold the lock for 300 ms.
        app.set_faults(Faults {
            latency_ms: 300,
            ..Faults::default()
        });
        let a = tokio::spawn({
            let app = app.clone();
            async move { script(&app, "set system time-zone 'UTC'\ncommit\n").await }
        });
        let b = tokio::spawn({
            let app = app.clone();
            async move { script(&app, "set system domain-name 'b.example'\ncommit\n").await }
        });
        let (a, b) = match (a.await, b.await) {
            (Ok(a), Ok(b)) => (a, b),
            _ => panic!("script task failed"),
        };
        let locked = "Configuration system temporarily locked due to another commit in progress\n";
        assert!(
            (a.0 == locked) != (b.0 == locked),
            "exactly one commit is refused: {a:?} {b:?}"
        );
        let (out, _) = script(&app, "merge /config/config.boot\ncompare 0\n").await;
        assert!(
            out.starts_with("No configuration changes to commit.\n"),
            "{out}"
        );
    }

    #[tokio::test]
    async fn lockout_spares_the_open_session_with_an_established_policy() {
        let app = appliance(Profile::V14);
        let (out, rc) = script(
            &app,
            "set firewall global-options state-policy established action 'accept'\nset firewall ipv4 input filter rule 10 action 'drop'\nset firewall ipv4 input filter rule 10 protocol 'tcp'\nset firewall ipv4 input filter rule 10 destination port '22'\ncommit\necho still here\n",
        )
        .await;
        assert_eq!((out.as_str(), rc), ("still here\n", 0));
        assert_eq!(
            app.admit(),
            Admission::Refuse,
            "new connections are refused"
        );
    }

    #[tokio::test]
    async fn faults() {
        let app = appliance(Profile::V14);
        app.set_faults(Faults {
            fail_next_commit: Some("injected failure".to_owned()),
            ..Faults::default()
        });
        let (out, rc) = script(&app, "set system time-zone 'UTC'\ncommit\ncommit\n").await;
        assert_eq!(out, "\ninjected failure\n\nCommit failed\n");
        assert_eq!(rc, 0);
        assert!(
            has(&app, &["system", "time-zone"]),
            "the second commit went through"
        );

        app.set_faults(Faults {
            drop_after: Some(4),
            ..Faults::default()
        });
        let r = app
            .exec(
                "vyos",
                "vbash -s".to_owned(),
                format!("{HEAD}echo one\necho two\n").into_bytes(),
            )
            .await;
        assert!(r.drop_connection);
        assert_eq!(String::from_utf8_lossy(&r.stdout), "one\n");

        app.set_faults(Faults {
            hang_on: Some("show version".to_owned()),
            ..Faults::default()
        });
        let hung = tokio::time::timeout(Duration::from_millis(200), op(&app, "show version")).await;
        assert!(hung.is_err());

        app.set_faults(Faults {
            latency_ms: 100,
            ..Faults::default()
        });
        let t0 = tokio::time::Instant::now();
        let _ = op(&app, "show version").await;
        assert!(t0.elapsed() >= Duration::from_millis(100));

        app.set_faults(Faults {
            refuse_auth: true,
            ..Faults::default()
        });
        assert!(!app.check_password("vyos", "vyos"));
        app.set_faults(Faults::default());
        assert!(app.check_password("vyos", "vyos"));
        assert!(!app.check_password("vyos", "wrong"));

        app.reboot_now();
        assert_eq!(app.admit(), Admission::Refuse);
        assert!(!app.check_password("vyos", "vyos"));
        eventually("the end of the reboot", || app.is_up()).await;
        assert!(app.log().iter().any(|e| e.command == "echo one"));
    }
}
