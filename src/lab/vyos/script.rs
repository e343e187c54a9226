//! The vbash interpreter of an emulated appliance: runs a script line by line, the way the
//! script-template (reference §4.1) makes vbash behave.
//!
//! Owns the shell-level commands and state: `source .../script-template` (which makes the
//! VyOS commands exist), `configure` and `exit` (the configuration session), `run <op>`,
//! `echo`, `export`/`unset IN_COMMIT_CONFIRM`, `true`, `false`, `:`, `sudo X`,
//! `sg vyattacfg -c "X"`, and the sequencing of `;`, `&&` and `||` (the syntax is
//! [`vbash`](super::vbash)'s; what it refuses is refused with a message and the line does not
//! run). Each script line is one command for the log and the faults. Configuration-mode verbs
//! go to [`confmode`], op-mode commands to [`opmode`]. Must not touch appliance state except
//! through [`Appliance`] methods.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use super::appliance::{Appliance, SessionId, Via};
use super::confmode;
use super::console::{Console, Flow};
use super::faults::Action;
use super::opmode;
use super::vbash::{self, Join, Simple, Word};

/// The file whose sourcing turns the VyOS commands on.
pub const TEMPLATE: &str = "/opt/vyatta/etc/functions/script-template";

/// Configuration-mode verbs: outside `configure` they reach op mode's `Invalid command`.
const CONF_VERBS: &[&str] = &[
    "comment",
    "commit",
    "commit-confirm",
    "compare",
    "discard",
    "edit",
    "load",
    "merge",
    "rollback-soft",
    "save",
    "top",
    "up",
];

/// One running script.
pub struct Interpreter {
    pub con: Console,
    /// Whether the VyOS commands exist (the template was sourced, or this is the login shell).
    pub template: bool,
    session: Option<SessionId>,
    in_confirm: bool,
    generation: u64,
}

impl Drop for Interpreter {
    fn drop(&mut self) {
        if let Some(id) = self.session.take() {
            self.con.app.close_session(id);
        }
    }
}

type LineFuture<'a> = Pin<Box<dyn Future<Output = Flow> + Send + 'a>>;

impl Interpreter {
    pub fn new(app: Arc<Appliance>, user: String, via: Via, script: &str) -> Interpreter {
        let generation = app.generation();
        Interpreter {
            con: Console::new(app, user, via, script),
            template: false,
            session: None,
            in_confirm: false,
            generation,
        }
    }

    fn app(&self) -> &Arc<Appliance> {
        &self.con.app
    }

    /// Runs the script to its end, an `exit`, or the loss of the connection.
    pub async fn run(&mut self) -> Flow {
        while let Some(line) = self.con.next_line() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if self.app().generation() != self.generation || !self.app().is_up() {
                return Flow::Drop;
            }
            let latency = match self.app().on_command(self.con.via, &self.con.user, line) {
                Action::Drop => return Flow::Drop,
                Action::Hang => std::future::pending::<Duration>().await,
                Action::Run { latency } => latency,
            };
            let commands = match vbash::parse_line(line) {
                Ok(c) => c,
                Err(e) => {
                    self.con.error(&e.to_string(), 2);
                    continue;
                }
            };
            let is_commit = commands.iter().any(|c| {
                matches!(
                    c.words.first().map(|w| w.text.as_str()),
                    Some("commit" | "commit-confirm")
                )
            });
            if !is_commit && !latency.is_zero() {
                tokio::time::sleep(latency).await;
            }
            match self.line(commands, latency).await {
                Flow::Next => {}
                other => return other,
            }
            if self.app().generation() != self.generation {
                return Flow::Drop;
            }
        }
        Flow::Next
    }

    /// Runs the simple commands of one line, as `;`, `&&` and `||` join them.
    fn line(&mut self, commands: Vec<Simple>, latency: Duration) -> LineFuture<'_> {
        Box::pin(async move {
            let mut run = true;
            for c in commands {
                if run {
                    match self.command(c.words, latency).await {
                        Flow::Next => {}
                        other => return other,
                    }
                }
                run = match c.join {
                    Join::Then => true,
                    Join::And => self.con.status == 0,
                    Join::Or => self.con.status != 0,
                };
            }
            Flow::Next
        })
    }

    async fn command(&mut self, mut words: Vec<Word>, latency: Duration) -> Flow {
        // `sudo X`: run X (the lab has one user class).
        while words.first().is_some_and(|w| w.text == "sudo") {
            words.remove(0);
        }
        // `sg GROUP -c "X"`, `sg GROUP "X"`: run the line X.
        if words.first().is_some_and(|w| w.text == "sg") {
            let inner = match words.as_slice() {
                [_, _, flag, inner] if flag.text == "-c" => inner.text.clone(),
                [_, _, inner] => inner.text.clone(),
                _ => {
                    self.con.err.push_str("Usage: sg group [[-c] command]\n");
                    self.con.status = 2;
                    return Flow::Next;
                }
            };
            return match vbash::parse_line(&inner) {
                Ok(commands) => self.line(commands, latency).await,
                Err(e) => {
                    self.con.error(&e.to_string(), 2);
                    Flow::Next
                }
            };
        }
        let Some(first) = words.first() else {
            return Flow::Next;
        };
        let verb = first.text.clone();
        let args: Vec<String> = words[1..].iter().map(|w| w.text.clone()).collect();
        let con = &mut self.con;
        match verb.as_str() {
            "source" | "." => {
                match args.first().map(String::as_str) {
                    Some(TEMPLATE) => {
                        self.template = true;
                        con.status = 0;
                    }
                    Some(f) => con.error(&format!("{f}: No such file or directory"), 1),
                    None => con.error("source: filename argument required", 2),
                }
                Flow::Next
            }
            "echo" => {
                let (newline, rest) = match args.first().map(String::as_str) {
                    Some("-n") => (false, &args[1..]),
                    _ => (true, &args[..]),
                };
                con.out.push_str(&rest.join(" "));
                if newline {
                    con.out.push('\n');
                }
                con.status = 0;
                Flow::Next
            }
            "export" => {
                for a in &args {
                    if let Some(v) = a.strip_prefix("IN_COMMIT_CONFIRM=") {
                        self.in_confirm = !v.is_empty();
                    }
                }
                con.status = 0;
                Flow::Next
            }
            "unset" => {
                if args.iter().any(|a| a == "IN_COMMIT_CONFIRM") {
                    self.in_confirm = false;
                }
                con.status = 0;
                Flow::Next
            }
            "true" | ":" => {
                con.status = 0;
                Flow::Next
            }
            "false" => {
                con.status = 1;
                Flow::Next
            }
            "config-mgmt" | "/usr/bin/config-mgmt" => confmode::config_mgmt(con, &args).await,
            "exit" if self.session.is_none() => {
                let n = args
                    .first()
                    .and_then(|a| a.parse::<u32>().ok())
                    .unwrap_or(con.status);
                Flow::Exit(n)
            }
            _ if !self.template => {
                con.not_found(&verb);
                Flow::Next
            }
            "configure" => {
                if self.session.is_none() {
                    self.session = Some(con.app.open_session(&con.user, con.via));
                }
                con.status = 0;
                Flow::Next
            }
            _ => match self.session {
                Some(id) => match verb.as_str() {
                    "exit" => match confmode::exit(con, id, &args) {
                        None => Flow::Drop,
                        Some(closed) => {
                            if closed {
                                self.session = None;
                            }
                            Flow::Next
                        }
                    },
                    _ => confmode::command(con, id, &verb, &words, self.in_confirm, latency).await,
                },
                None if opmode::is_op_word(&verb) || CONF_VERBS.contains(&verb.as_str()) => {
                    let w: Vec<String> = words.iter().map(|w| w.text.clone()).collect();
                    opmode::run(con, &w);
                    Flow::Next
                }
                None => {
                    con.not_found(&verb);
                    Flow::Next
                }
            },
        }
    }
}
