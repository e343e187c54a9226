//! Op mode of an emulated appliance: the `show` commands, `confirm` and `rollback N`, as a
//! single exec request, `run <op>` inside a script, or the API's `/show` meet them.
//!
//! Owns the output and exit status of each op-mode command. [`op_command`] is the
//! non-interactive part the HTTP API shares; [`run`] adds what needs the script's stdin (the
//! `rollback` prompt). Must not touch appliance state except through [`Appliance`] methods.

use super::appliance::Appliance;
use super::console::{Console, framed};
use crate::vyos::{render_commands, render_compare, render_json, render_show};

/// The first words of VyOS op-mode commands. Other first words are not op mode: a real VyOS
/// would run a Linux program of that name, which the lab does not have (Known departures).
const OP_WORDS: &[&str] = &[
    "add",
    "clear",
    "configure",
    "confirm",
    "connect",
    "copy",
    "delete",
    "disconnect",
    "execute",
    "force",
    "format",
    "generate",
    "import",
    "install",
    "monitor",
    "ping",
    "poweroff",
    "release",
    "rename",
    "renew",
    "reset",
    "restart",
    "rollback",
    "run",
    "set",
    "show",
    "telnet",
    "traceroute",
    "update",
];

/// Whether `word` starts an op-mode command.
pub fn is_op_word(word: &str) -> bool {
    OP_WORDS.contains(&word)
}

/// An op-mode command (`show ...`, `confirm`, `rollback N`), directly or after `run`.
pub fn run(con: &mut Console, words: &[String]) {
    // The template makes `run` work outside configuration mode too.
    let words = match words.first() {
        Some(w) if w == "run" => &words[1..],
        _ => words,
    };
    let w: Vec<&str> = words.iter().map(String::as_str).collect();
    con.status = 0;
    match w.as_slice() {
        ["confirm"] => {
            let (m, _) = con.app.confirm();
            con.out.push_str(&m);
        }
        ["rollback", n] => {
            let prompt = if con.app.profile().is_1_4_plus() {
                "Proceed with reboot ? [Y/n] "
            } else {
                "Proceed with reboot? [confirm]"
            };
            con.out.push_str(prompt);
            match con.ask() {
                Some(true) => {
                    if let Err(m) = con.app.rollback(n.parse().unwrap_or(usize::MAX)) {
                        con.out.push_str(&m);
                        con.out.push('\n');
                        con.status = 1;
                    }
                }
                _ => con.status = 1,
            }
        }
        _ => {
            let (text, status) = op_command(&con.app, &w);
            con.out.push_str(&text);
            con.status = status;
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
