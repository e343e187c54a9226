//! The vbash of an emulated appliance, as an SSH exec request meets it: `vbash -s` scripts built
//! on the script-template (reference §4.1), and single op-mode commands.
//!
//! Owns the interpretation of script lines and the exact output and exit status of each:
//! `source .../script-template`, `configure`, `set`/`delete`/`comment` (failures framed and
//! indented, exit 0), `commit` (a failed commit exits 0, "nothing to commit" exits 1),
//! `commit-confirm` (its prompt swallows the next script line; at EOF it loops forever),
//! `confirm`, `compare`, `discard`, `save`, `load`, `merge`, `rollback-soft`, `exit [discard]`,
//! `run <op>`, `echo`, `export`/`unset IN_COMMIT_CONFIRM`, `sg vyattacfg -c "..."`, `sudo`,
//! `config-mgmt commit_confirm -y -t N`, and the op-mode `show` commands. An exec request is
//! either `vbash -s` (the script on stdin), `vbash -c 'script'` (split at `; `), or one op-mode
//! command (optionally behind `vyatta-op-cmd-wrapper`). Each script line is one
//! command for the log and the faults. It is a line interpreter, not a shell: no variables,
//! pipes, `;`, `&&` or process substitution (`source <(...)` is refused with a message).
//! When a script leaves the config dropping its own (established) SSH connection, the output is
//! held until access comes back, or the connection is dropped at the next reboot.
//! Must not touch appliance state except through [`Appliance`] methods.

use std::sync::Arc;
use std::time::Duration;

use std::net::IpAddr;

use super::appliance::{Appliance, CommitStatus, ConfirmAction, Service, SessionId, Via};
use super::faults::Action;
use super::frontend::Admission;
use super::frontend::ExecResult;
use super::profile::Profile;
use super::schema::SchemaError;
use super::session::SessionError;
use crate::vyos::commands::split_words;
use crate::vyos::{
    self, ConfigTree, DeleteOutcome, Op, SetOutcome, diff, render_boot, render_commands,
    render_compare, render_json, render_show,
};

const TEMPLATE: &str = "/opt/vyatta/etc/functions/script-template";

fn is_vbash(w: &str) -> bool {
    matches!(
        w,
        "vbash" | "/bin/vbash" | "/usr/bin/vbash" | "bash" | "/bin/bash" | "/usr/bin/bash"
    )
}

/// Whether an exec command reads a script from stdin (`vbash -s`).
pub fn wants_stdin(command: &str) -> bool {
    let w: Vec<&str> = command.split_whitespace().collect();
    matches!(w.as_slice(), [sh, "-s", ..] if is_vbash(sh))
}

/// Runs one exec request.
pub async fn run(app: Arc<Appliance>, user: String, command: String, stdin: Vec<u8>) -> ExecResult {
    let generation = app.generation();
    let mut sh = Shell {
        app,
        user,
        template: false,
        session: None,
        in_confirm: false,
        out: String::new(),
        err: String::new(),
        status: 0,
        generation,
        line_no: 0,
    };
    let words: Vec<String> = split_words(&command)
        .map(|w| w.into_iter().map(|w| w.text).collect())
        .unwrap_or_default();
    let script = if wants_stdin(&command) {
        sh.app.record(Via::Ssh, &sh.user, &command);
        String::from_utf8_lossy(&stdin).into_owned()
    } else if let [sh_name, flag, inner, ..] = words.as_slice()
        && is_vbash(sh_name)
        && flag == "-c"
    {
        // `vbash -c 'script'`: a script given inline, without the template unless it sources it.
        sh.app.record(Via::Ssh, &sh.user, &command);
        inner.replace("; ", "\n")
    } else if let Some((first, rest)) = words.split_first()
        && first.ends_with("vyatta-op-cmd-wrapper")
    {
        sh.template = true;
        rest.join(" ")
    } else {
        // A single op-mode command, as the login shell runs it.
        sh.template = true;
        command
    };
    let lines: Vec<&str> = script.lines().collect();
    let flow = sh.script(&lines).await;
    // The output travels on the open SSH connection: if the config now drops it (this script
    // locked SSH out, and established traffic is not accepted), it never arrives.
    let me = IpAddr::from([127, 0, 0, 1]);
    if !matches!(flow, Flow::Drop)
        && sh.app.admission_established(Service::Ssh, me) == Admission::Refuse
        && !sh.app.hold_while_dropped(Service::Ssh, me).await
    {
        // Rebooted meanwhile: the connection is gone, the output never arrived.
        return ExecResult {
            drop_connection: true,
            exit_status: 255,
            ..ExecResult::default()
        };
    }
    let drop_connection = matches!(flow, Flow::Drop);
    if drop_connection {
        sh.status = 255;
    }
    ExecResult {
        stdout: std::mem::take(&mut sh.out).into_bytes(),
        stderr: std::mem::take(&mut sh.err).into_bytes(),
        exit_status: match flow {
            Flow::Exit(n) => n,
            _ => sh.status,
        },
        drop_connection,
    }
}

enum Flow {
    Next,
    Exit(u32),
    Drop,
}

struct Word {
    text: String,
    quoted: bool,
}

struct Shell {
    app: Arc<Appliance>,
    user: String,
    template: bool,
    session: Option<SessionId>,
    in_confirm: bool,
    out: String,
    err: String,
    status: u32,
    generation: u64,
    line_no: usize,
}

impl Drop for Shell {
    fn drop(&mut self) {
        if let Some(id) = self.session.take() {
            self.app.close_session(id);
        }
    }
}

/// Output framed the way vyatta-cfg-run prints errors: a blank line, each line indented by
/// two spaces, a blank line.
fn framed(lines: &[String]) -> String {
    let mut s = String::from("\n");
    for l in lines {
        s.push_str("  ");
        s.push_str(l);
        s.push('\n');
    }
    s.push('\n');
    s
}

fn schema_lines(e: &SchemaError, verb: &str) -> Vec<String> {
    let mut v = match e {
        SchemaError::InvalidPath { path, bad } => {
            let before = path[..*bad].join(" ");
            let word = path.get(*bad).map_or("", String::as_str);
            if before.is_empty() {
                vec![format!("Configuration path: [{word}] is not valid")]
            } else {
                vec![format!(
                    "Configuration path: {before} [{word}] is not valid"
                )]
            }
        }
        SchemaError::RequiresValue { .. } => vec![e.to_string()],
        SchemaError::BadValue { messages } => {
            let mut m = messages.clone();
            m.push("Value validation failed".to_owned());
            m
        }
    };
    v.push(format!("{verb} failed"));
    v
}

fn session_lines(e: &SessionError, verb: &str) -> Vec<String> {
    match e {
        SessionError::Schema(s) => schema_lines(s, verb),
        SessionError::Tree(t) => vec![t.to_string(), format!("{verb} failed")],
    }
}

fn yes_no(answer: &str) -> Option<bool> {
    match answer.trim().to_ascii_lowercase().as_str() {
        "" | "y" | "yes" => Some(true),
        "n" | "no" => Some(false),
        _ => None,
    }
}

fn subtree(tree: &ConfigTree, path: &[String]) -> Option<ConfigTree> {
    if path.is_empty() {
        return Some(tree.clone());
    }
    tree.get(path)
        .map(|node| ConfigTree::from_root(node.clone()))
}

impl Shell {
    fn profile(&self) -> Profile {
        self.app.profile()
    }

    async fn script(&mut self, lines: &[&str]) -> Flow {
        let mut i = 0;
        while i < lines.len() {
            let line = lines[i].trim();
            i += 1;
            self.line_no = i;
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if self.app.generation() != self.generation || !self.app.is_up() {
                return Flow::Drop;
            }
            let latency = match self.app.on_command(Via::Ssh, &self.user, line) {
                Action::Drop => return Flow::Drop,
                Action::Hang => std::future::pending::<Duration>().await,
                Action::Run { latency } => latency,
            };
            let words = match split_words(line) {
                Ok(w) => w
                    .into_iter()
                    .map(|w| Word {
                        text: w.text,
                        quoted: w.quoted,
                    })
                    .collect::<Vec<_>>(),
                Err((_, msg)) => {
                    self.err.push_str(&format!(
                        "vbash: line {}: syntax error: {msg}\n",
                        self.line_no
                    ));
                    self.status = 2;
                    continue;
                }
            };
            let is_commit = matches!(
                words.first().map(|w| w.text.as_str()),
                Some("commit" | "commit-confirm")
            );
            if !is_commit && !latency.is_zero() {
                tokio::time::sleep(latency).await;
            }
            match self.command(words, lines, &mut i, latency).await {
                Flow::Next => {}
                other => return other,
            }
            if self.app.generation() != self.generation {
                return Flow::Drop;
            }
        }
        Flow::Next
    }

    fn not_found(&mut self, what: &str) {
        self.err.push_str(&format!(
            "vbash: line {}: {what}: command not found\n",
            self.line_no
        ));
        self.status = 127;
    }

    /// Reads the next script line as a prompt's answer, as `input()` would; `None` at EOF.
    fn answer(&mut self, lines: &[&str], i: &mut usize) -> Option<String> {
        let a = lines.get(*i)?;
        *i += 1;
        self.app
            .record(Via::Ssh, &self.user, &format!("(prompt answer) {a}"));
        Some((*a).to_owned())
    }

    /// Asks a `[Y/n]` question on the script's stdin. `None`: EOF (the caller hangs).
    fn ask(&mut self, lines: &[&str], i: &mut usize) -> Option<bool> {
        loop {
            let a = self.answer(lines, i)?;
            self.out.push('\n');
            match yes_no(&a) {
                Some(b) => return Some(b),
                None => self.out.push_str("Please respond with yes/y or no/n\n"),
            }
        }
    }

    async fn command(
        &mut self,
        mut words: Vec<Word>,
        lines: &[&str],
        i: &mut usize,
        latency: Duration,
    ) -> Flow {
        // `sudo X`, `sg vyattacfg -c "X"`, `sg vyattacfg "X"`: run X.
        loop {
            match words.first().map(|w| w.text.as_str()) {
                Some("sudo") => {
                    words.remove(0);
                }
                Some("sg") if words.len() >= 3 => {
                    let inner = words.last().map(|w| w.text.clone()).unwrap_or_default();
                    words = match split_words(&inner) {
                        Ok(w) => w
                            .into_iter()
                            .map(|w| Word {
                                text: w.text,
                                quoted: w.quoted,
                            })
                            .collect(),
                        Err((_, msg)) => {
                            self.err.push_str(&format!("sg: {msg}\n"));
                            self.status = 2;
                            return Flow::Next;
                        }
                    };
                }
                _ => break,
            }
        }
        let Some(first) = words.first() else {
            return Flow::Next;
        };
        let verb = first.text.clone();
        let args: Vec<String> = words[1..].iter().map(|w| w.text.clone()).collect();
        match verb.as_str() {
            "source" | "." => {
                match args.first().map(String::as_str) {
                    Some(TEMPLATE) => {
                        self.template = true;
                        self.status = 0;
                    }
                    Some(f) if f.starts_with("<(") => {
                        self.err.push_str(&format!(
                            "vbash: line {}: process substitution is not supported by the vnfsync lab\n",
                            self.line_no
                        ));
                        self.status = 1;
                    }
                    Some(f) => {
                        self.err.push_str(&format!(
                            "vbash: line {}: {f}: No such file or directory\n",
                            self.line_no
                        ));
                        self.status = 1;
                    }
                    None => {
                        self.err.push_str(&format!(
                            "vbash: line {}: source: filename argument required\n",
                            self.line_no
                        ));
                        self.status = 2;
                    }
                }
                Flow::Next
            }
            "echo" => {
                let (newline, rest) = match args.first().map(String::as_str) {
                    Some("-n") => (false, &args[1..]),
                    _ => (true, &args[..]),
                };
                self.out.push_str(&rest.join(" "));
                if newline {
                    self.out.push('\n');
                }
                self.status = 0;
                Flow::Next
            }
            "export" => {
                for a in &args {
                    if let Some(v) = a.strip_prefix("IN_COMMIT_CONFIRM=") {
                        self.in_confirm = !v.is_empty();
                    }
                }
                self.status = 0;
                Flow::Next
            }
            "unset" => {
                if args.iter().any(|a| a == "IN_COMMIT_CONFIRM") {
                    self.in_confirm = false;
                }
                self.status = 0;
                Flow::Next
            }
            "true" | ":" => {
                self.status = 0;
                Flow::Next
            }
            "false" => {
                self.status = 1;
                Flow::Next
            }
            "config-mgmt" | "/usr/bin/config-mgmt" => {
                self.config_mgmt(&args, lines, i, latency).await
            }
            "exit" if self.session.is_none() => {
                let n = args
                    .first()
                    .and_then(|a| a.parse::<u32>().ok())
                    .unwrap_or(self.status);
                Flow::Exit(n)
            }
            _ if !self.template => {
                self.not_found(&verb);
                Flow::Next
            }
            "configure" => {
                if self.session.is_none() {
                    self.session = Some(self.app.open_session(&self.user, Via::Ssh));
                }
                self.status = 0;
                Flow::Next
            }
            _ => match self.session {
                Some(id) => {
                    self.config_command(id, &verb, &words, lines, i, latency)
                        .await
                }
                None => {
                    self.op_mode(&words, lines, i);
                    Flow::Next
                }
            },
        }
    }

    async fn config_mgmt(
        &mut self,
        args: &[String],
        lines: &[&str],
        i: &mut usize,
        _latency: Duration,
    ) -> Flow {
        if !self.profile().is_1_4_plus() {
            self.err.push_str(&format!(
                "vbash: line {}: /usr/bin/config-mgmt: No such file or directory\n",
                self.line_no
            ));
            self.status = 127;
            return Flow::Next;
        }
        match args.first().map(String::as_str) {
            Some("commit_confirm") => {
                let mut yes = false;
                let mut minutes: u64 = 10;
                let mut it = args[1..].iter();
                while let Some(a) = it.next() {
                    if a == "-y" {
                        yes = true;
                    } else if a == "-t" {
                        minutes = it.next().and_then(|m| m.parse().ok()).unwrap_or(minutes);
                    } else if let Some(m) = a.strip_prefix("-t=").or_else(|| a.strip_prefix("-t")) {
                        minutes = m.parse().unwrap_or(minutes);
                    }
                }
                if !yes {
                    let reload = self.app.confirm_action() == ConfirmAction::Reload;
                    self.out
                        .push_str(&self.profile().confirm_prompt(minutes, reload));
                    match self.ask(lines, i) {
                        None => return self.hang_prompt().await,
                        Some(false) => {
                            self.status = 1;
                            return Flow::Next;
                        }
                        Some(true) => {}
                    }
                }
                match self.app.arm_confirm(minutes) {
                    Ok(a) => {
                        self.out.push_str(&a.message);
                        self.status = 0;
                    }
                    Err(m) => {
                        self.out.push_str(&m);
                        self.out.push('\n');
                        self.status = 1;
                    }
                }
                Flow::Next
            }
            Some("confirm") => {
                let (m, _) = self.app.confirm();
                self.out.push_str(&m);
                self.status = 0;
                Flow::Next
            }
            other => {
                self.err.push_str(&format!(
                    "config-mgmt: error: argument subcommand: invalid choice: '{}'\n",
                    other.unwrap_or_default()
                ));
                self.status = 2;
                Flow::Next
            }
        }
    }

    /// `ask_yes_no` at EOF: prints its complaint forever; the exec never ends.
    async fn hang_prompt(&mut self) -> Flow {
        self.app.record(
            Via::Ssh,
            &self.user,
            "(prompt at EOF: Please respond with yes/y or no/n, forever)",
        );
        std::future::pending::<Flow>().await
    }

    fn with<R>(
        &mut self,
        id: SessionId,
        f: impl FnOnce(&mut super::session::Session, &ConfigTree) -> R,
    ) -> Option<R> {
        self.app.with_session(id, f)
    }

    async fn config_command(
        &mut self,
        id: SessionId,
        verb: &str,
        words: &[Word],
        lines: &[&str],
        i: &mut usize,
        latency: Duration,
    ) -> Flow {
        let profile = self.profile();
        let args: Vec<String> = words[1..].iter().map(|w| w.text.clone()).collect();
        match verb {
            "set" | "delete" => {
                // A quoted last word after unquoted ones is a value (operator style); when every
                // word is quoted (generated scripts) the schema and the tree decide.
                let all_quoted = words[1..].iter().all(|w| w.quoted);
                let (path, value) = match words[1..].split_last() {
                    Some((last, init)) if last.quoted && !init.is_empty() && !all_quoted => (
                        init.iter().map(|w| w.text.clone()).collect::<Vec<_>>(),
                        Some(last.text.clone()),
                    ),
                    _ => (args.clone(), None),
                };
                if path.is_empty() {
                    self.out.push_str(&framed(&[
                        "Configuration path: [] is not valid".to_owned(),
                        format!("{} failed", if verb == "set" { "Set" } else { "Delete" }),
                    ]));
                    self.status = 0;
                    return Flow::Next;
                }
                if verb == "set" {
                    let r = self.with(id, |s, _| {
                        s.set_guessing(profile, &path, value.as_deref(), all_quoted)
                    });
                    match r {
                        None => return Flow::Drop,
                        Some(Ok(rep)) if rep.outcome == SetOutcome::AlreadyExists => {
                            let mut shown = rep.path.join(" ");
                            if let Some(v) = &rep.value {
                                shown.push(' ');
                                shown.push_str(v);
                            }
                            self.out.push_str(&framed(&[format!(
                                "Configuration path: [{shown}] already exists"
                            )]));
                        }
                        Some(Ok(_)) => {}
                        Some(Err(e)) => self.out.push_str(&framed(&session_lines(&e, "Set"))),
                    }
                } else {
                    let r = self.with(id, |s, _| s.delete(profile, &path, value.as_deref()));
                    match r {
                        None => return Flow::Drop,
                        Some(Ok(DeleteOutcome::NothingToDelete)) => {
                            let what = if value.is_some() { "value" } else { "node" };
                            self.out.push_str(&framed(&[format!(
                                "Nothing to delete (the specified {what} does not exist)"
                            )]));
                        }
                        Some(Ok(DeleteOutcome::Deleted)) => {}
                        Some(Err(e)) => {
                            self.out.push_str(&framed(&session_lines(&e, "Delete")));
                        }
                    }
                }
                // vyatta-cfg-run ends in a print or `break`: set/delete always exit 0 (§4.1).
                self.status = 0;
                Flow::Next
            }
            "comment" => {
                let Some((text, path)) = words[1..].split_last() else {
                    self.out.push_str(&framed(&["Comment failed".to_owned()]));
                    return Flow::Next;
                };
                let path: Vec<String> = path.iter().map(|w| w.text.clone()).collect();
                let text = text.text.clone();
                match self.with(id, |s, _| s.comment(profile, &path, &text)) {
                    None => return Flow::Drop,
                    Some(Ok(())) => {}
                    Some(Err(e)) => self.out.push_str(&framed(&session_lines(&e, "Comment"))),
                }
                self.status = 0;
                Flow::Next
            }
            "commit" => {
                let comment = match args.first().map(String::as_str) {
                    None => None,
                    Some("comment") => Some(args[1..].join(" ")),
                    Some("confirm") => {
                        self.out.push_str("Use commit-confirm command\n");
                        self.status = 1;
                        return Flow::Next;
                    }
                    Some(other) => {
                        self.out
                            .push_str(&framed(&[format!("Invalid command: commit [{other}]")]));
                        self.status = 1;
                        return Flow::Next;
                    }
                };
                self.do_commit(id, comment.as_deref(), self.in_confirm, latency)
                    .await;
                Flow::Next
            }
            "commit-confirm" => self.commit_confirm(id, &args, lines, i, latency).await,
            "confirm" => {
                let (m, _) = self.app.confirm();
                self.out.push_str(&m);
                self.status = 0;
                Flow::Next
            }
            "discard" => {
                match self.with(id, |s, a| s.discard(a)) {
                    None => return Flow::Drop,
                    Some(true) => self.out.push_str("Changes have been discarded\n"),
                    Some(false) => self.out.push_str("No changes have been discarded\n"),
                }
                self.status = 0;
                Flow::Next
            }
            "compare" => {
                self.compare(id, &args);
                Flow::Next
            }
            "save" => {
                if self.with(id, |s, a| s.changed(a)) == Some(true) {
                    self.out.push_str(
                        "Warning: you have uncommitted changes that will not be saved.\n",
                    );
                }
                let path = self.app.save(args.first().map(String::as_str));
                self.out.push_str(&profile.save_message(&path));
                self.status = 0;
                Flow::Next
            }
            "load" => {
                self.load(id, &args);
                Flow::Next
            }
            "merge" => {
                self.merge(id, &args);
                Flow::Next
            }
            "rollback-soft" if profile.is_1_4_plus() => {
                let n = args.first().and_then(|a| a.parse::<usize>().ok());
                let rev = match n {
                    Some(n) => self.app.revision(n),
                    None => Err(format!(
                        "Invalid revision number {}: must be 0 < rev < {}",
                        args.first().map_or("", String::as_str),
                        self.app.archive().len()
                    )),
                };
                match rev {
                    Ok(tree) => {
                        if self.with(id, |s, _| s.replace(tree)).is_none() {
                            return Flow::Drop;
                        }
                        self.out.push_str("Rollback diff has been applied.\nUse \"compare\" to review the changes or \"commit\" to apply them.\n");
                        self.status = 0;
                    }
                    Err(m) => {
                        self.out.push_str(&m);
                        self.out.push('\n');
                        self.status = 1;
                    }
                }
                Flow::Next
            }
            "show" => {
                let working = self.with(id, |s, _| s.working().clone());
                let Some(working) = working else {
                    return Flow::Drop;
                };
                match subtree(&working, &args) {
                    Some(t) if !t.is_empty() => {
                        self.out
                            .push_str(&render_boot(&t, &vyos::BootStyle::vyos_1_3()));
                    }
                    _ => self
                        .out
                        .push_str("\nConfiguration under specified path is empty\n\n"),
                }
                self.status = 0;
                Flow::Next
            }
            "run" => {
                self.op_mode(&words[1..], lines, i);
                Flow::Next
            }
            "exit" => {
                if args.first().is_some_and(|a| a == "discard") {
                    self.app.close_session(id);
                    self.session = None;
                    self.status = 0;
                    return Flow::Next;
                }
                match self.with(id, |s, a| s.changed(a)) {
                    None => return Flow::Drop,
                    Some(true) => {
                        self.out.push_str("Cannot exit: configuration modified.\nUse 'exit discard' to discard the changes and exit.\n");
                        self.status = 1;
                    }
                    Some(false) => {
                        if self.app.unsaved() {
                            self.out
                                .push_str("Warning: configuration changes have not been saved.\n");
                        }
                        self.app.close_session(id);
                        self.session = None;
                        self.status = 0;
                    }
                }
                Flow::Next
            }
            other => {
                self.out
                    .push_str(&framed(&[format!("Invalid command: [{other}]")]));
                self.status = 1;
                Flow::Next
            }
        }
    }

    async fn do_commit(
        &mut self,
        id: SessionId,
        comment: Option<&str>,
        in_confirm: bool,
        hold: Duration,
    ) {
        let user = self.user.clone();
        let r = self
            .app
            .commit(id, &user, Via::Ssh, comment, in_confirm, hold)
            .await;
        match r.status {
            CommitStatus::NoChanges => {
                self.out.push_str("No configuration changes to commit\n");
                self.status = 1;
            }
            // A failed commit still exits 0 (`unset COMMIT_COMMENT` comes last, §4.1).
            CommitStatus::Committed | CommitStatus::Failed => {
                self.out.push_str(&r.output);
                self.status = 0;
            }
        }
    }

    async fn commit_confirm(
        &mut self,
        id: SessionId,
        args: &[String],
        lines: &[&str],
        i: &mut usize,
        latency: Duration,
    ) -> Flow {
        let profile = self.profile();
        let mut minutes: u64 = 10;
        let mut comment = None;
        let mut rest = args;
        if let Some(m) = rest.first().and_then(|a| a.parse::<u64>().ok()) {
            minutes = m;
            rest = &rest[1..];
        }
        if rest.first().is_some_and(|a| a == "comment") {
            comment = Some(rest[1..].join(" "));
        }
        match self.with(id, |s, a| s.changed(a)) {
            None => return Flow::Drop,
            Some(false) => {
                self.out.push_str("No configuration changes to commit\n");
                self.status = 1;
                return Flow::Next;
            }
            Some(true) => {}
        }
        if profile.is_1_4_plus() && self.app.unsaved() {
            self.out
                .push_str("You should save previous commits before commit-confirm !\n");
        }
        let reload = self.app.confirm_action() == ConfirmAction::Reload;
        self.out.push_str(&profile.confirm_prompt(minutes, reload));
        match self.ask(lines, i) {
            None => return self.hang_prompt().await,
            Some(false) => {
                self.status = 1;
                return Flow::Next;
            }
            Some(true) => {}
        }
        match self.app.arm_confirm(minutes) {
            // 1.4+ prints config-mgmt's "Initialized commit-confirm; ..."; 1.3's `at` job is
            // silent; a second one on 1.3 says "Another confirm is pending" and commits anyway.
            Ok(a) => {
                if !a.new_timer || profile.is_1_4_plus() {
                    self.out.push_str(&a.message);
                }
            }
            Err(m) => {
                self.out.push_str(&m);
                self.out.push('\n');
                self.status = 1;
                return Flow::Next;
            }
        }
        self.do_commit(id, comment.as_deref(), profile.is_1_4_plus(), latency)
            .await;
        Flow::Next
    }

    fn compare(&mut self, id: SessionId, args: &[String]) {
        let Some(working) = self.with(id, |s, _| s.working().clone()) else {
            return;
        };
        let active = self.app.active();
        let (old, new, what) = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
            [] => (active, working, "active".to_owned()),
            ["saved"] => match ConfigTree::parse_boot(&self.app.saved()) {
                Ok(t) => (t, working, "saved".to_owned()),
                Err(e) => {
                    self.out.push_str(&format!("{e}\n"));
                    self.status = 1;
                    return;
                }
            },
            ["commands"] => {
                for c in diff(&active, &working, &[]) {
                    if c.op != Op::Comment {
                        self.out.push_str(&c.to_string());
                        self.out.push('\n');
                    }
                }
                self.status = 0;
                return;
            }
            [n] if n.parse::<usize>().is_ok() => match self.app.revision(n.parse().unwrap_or(0)) {
                Ok(t) => (t, working, format!("revision {n}")),
                Err(m) => {
                    self.out.push_str(&m);
                    self.out.push('\n');
                    self.status = 1;
                    return;
                }
            },
            [n, m] if n.parse::<usize>().is_ok() && m.parse::<usize>().is_ok() => {
                let a = self.app.revision(n.parse().unwrap_or(0));
                let b = self.app.revision(m.parse().unwrap_or(0));
                match (a, b) {
                    (Ok(a), Ok(b)) => (b, a, format!("revision {m}")),
                    (Err(e), _) | (_, Err(e)) => {
                        self.out.push_str(&e);
                        self.out.push('\n');
                        self.status = 1;
                        return;
                    }
                }
            }
            _ => {
                self.out.push_str(&framed(&[format!(
                    "Invalid command: compare [{}]",
                    args.join(" ")
                )]));
                self.status = 1;
                return;
            }
        };
        let text = render_compare(&old, &new, &[]);
        if text.is_empty() {
            self.out.push_str(&format!(
                "No changes between working and {what} configurations.\n"
            ));
        } else {
            self.out.push_str(&text);
        }
        self.status = 0;
    }

    fn read_tree(&mut self, file: &str) -> Option<ConfigTree> {
        let Some(text) = self.app.read_file(file) else {
            self.out.push_str(&format!(
                "Failed to load file '{file}': No such file or directory\n"
            ));
            self.status = 1;
            return None;
        };
        match ConfigTree::parse_any(&text) {
            Ok(mut f) => {
                super::schema::mark_tags(&mut f.tree);
                Some(f.tree)
            }
            Err(_) => {
                self.out.push_str("Failed to parse specified config file\n");
                self.status = 1;
                None
            }
        }
    }

    fn load(&mut self, id: SessionId, args: &[String]) {
        let Some(file) = args.first() else {
            self.out.push_str("Usage: load <file>\n");
            self.status = 1;
            return;
        };
        if self.with(id, |s, a| s.changed(a)) == Some(true) {
            self.out.push_str("Cannot load: configuration modified.\n");
            self.status = 1;
            return;
        }
        self.out
            .push_str(&format!("Loading configuration from '{file}'\n"));
        let Some(tree) = self.read_tree(file) else {
            return;
        };
        let changed = self.with(id, |s, _| {
            let changed = !diff(s.working(), &tree, &[]).is_empty();
            s.replace(tree);
            changed
        });
        if changed == Some(true) {
            self.out
                .push_str("Load complete. Use 'commit' to make changes effective.\n");
        } else {
            self.out.push_str("No configuration changes to commit.\n");
        }
        self.status = 0;
    }

    fn merge(&mut self, id: SessionId, args: &[String]) {
        let Some((file, path)) = args.split_first() else {
            self.out.push_str("Usage: merge <file> [path]\n");
            self.status = 1;
            return;
        };
        let Some(tree) = self.read_tree(file) else {
            return;
        };
        let r = self.with(id, |s, _| {
            let before = s.working().clone();
            s.merge(&tree, path)
                .map(|()| !diff(&before, s.working(), &[]).is_empty())
        });
        match r {
            Some(Ok(true)) => self
                .out
                .push_str("Merge complete. Use 'commit' to make changes effective.\n"),
            Some(Ok(false)) => self.out.push_str("No configuration changes to commit.\n"),
            Some(Err(e)) => {
                self.out.push_str(&format!("{e}\n"));
                self.status = 1;
                return;
            }
            None => return,
        }
        self.status = 0;
    }

    /// An op-mode command (`show ...`, `confirm`, `rollback N`), directly or after `run`.
    fn op_mode(&mut self, words: &[Word], lines: &[&str], i: &mut usize) {
        // The template makes `run` work outside configuration mode too.
        let words = match words.first() {
            Some(w) if w.text == "run" => &words[1..],
            _ => words,
        };
        let w: Vec<&str> = words.iter().map(|w| w.text.as_str()).collect();
        self.status = 0;
        match w.as_slice() {
            ["confirm"] => {
                let (m, _) = self.app.confirm();
                self.out.push_str(&m);
            }
            ["rollback", n] => {
                let prompt = if self.profile().is_1_4_plus() {
                    "Proceed with reboot ? [Y/n] "
                } else {
                    "Proceed with reboot? [confirm]"
                };
                self.out.push_str(prompt);
                match self.ask(lines, i) {
                    Some(true) => {
                        if let Err(m) = self.app.rollback(n.parse().unwrap_or(usize::MAX)) {
                            self.out.push_str(&m);
                            self.out.push('\n');
                            self.status = 1;
                        }
                    }
                    _ => self.status = 1,
                }
            }
            _ => {
                let (text, status) = op_command(&self.app, &w);
                self.out.push_str(&text);
                self.status = status;
            }
        }
    }
}

/// A non-interactive op-mode command: its output and exit status. Used by `run`, by exec
/// requests and by the API's `/show`.
pub fn op_command(app: &Appliance, w: &[&str]) -> (String, u32) {
    let active = app.active();
    let mut out = String::new();
    let mut status = 0;
    match w {
        ["show", "configuration"] => out.push_str(&render_show(&active)),
        ["show", "configuration", "commands"] => out.push_str(&render_commands(&active)),
        ["show", "configuration", "json"] => {
            out.push_str(&render_json(&active));
            out.push('\n');
        }
        ["show", "configuration", "json", "pretty"] => {
            let v: serde_json::Value =
                serde_json::from_str(&render_json(&active)).unwrap_or_default();
            out.push_str(&serde_json::to_string_pretty(&v).unwrap_or_default());
            out.push('\n');
        }
        ["show", "version"] => out.push_str(&app.profile().show_version()),
        ["show", "host", "name"] => {
            let name = active
                .values(&["system", "host-name"])
                .and_then(|v| v.first().cloned())
                .unwrap_or_else(|| "vyos".to_owned());
            out.push_str(&name);
            out.push('\n');
        }
        ["show", "system", "commit"] => {
            for (n, r) in app.archive().iter().enumerate() {
                out.push_str(&format!("{n:<4}{} by {} via {}\n", r.time, r.user, r.via));
                if !r.comment.is_empty() {
                    out.push_str(&format!("    {}\n", r.comment));
                }
            }
        }
        ["show", "system", "commit", "diff", n] => {
            let n: usize = n.parse().unwrap_or(usize::MAX);
            match (app.revision(n.saturating_add(1)), app.revision(n)) {
                (Ok(old), Ok(new)) => out.push_str(&render_compare(&old, &new, &[])),
                (Err(m), _) | (_, Err(m)) => {
                    out.push_str(&m);
                    out.push('\n');
                    status = 1;
                }
            }
        }
        ["show", "system", "commit", "file", n] => {
            match app.revision(n.parse().unwrap_or(usize::MAX)) {
                Ok(t) => out.push_str(&app.render_saved(&t)),
                Err(m) => {
                    out.push_str(&m);
                    out.push('\n');
                    status = 1;
                }
            }
        }
        _ => {
            out.push_str(&framed(&[format!("Invalid command: [{}]", w.join(" "))]));
            status = 1;
        }
    }
    (out, status)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::lab::vyos::appliance::{ApplianceSpec, Timing};
    use crate::lab::vyos::faults::Faults;
    use crate::lab::vyos::frontend::{Admission, ExecBackend};

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
