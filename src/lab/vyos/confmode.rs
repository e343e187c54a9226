//! Configuration mode of an emulated appliance, as a script meets it after `configure`: `set`,
//! `delete`, `comment` (failures framed and indented, exit 0), `commit` (a failed commit exits
//! 0, "nothing to commit" exits 1), `commit-confirm` (its prompt swallows the next script line;
//! at EOF it loops forever), `confirm`, `compare`, `discard`, `save`, `load`, `merge`,
//! `rollback-soft`, `show`, and `config-mgmt commit_confirm -y -t N` (reference §3, §4.1).
//!
//! Owns the wording and exit status of each verb; the rules live in [`Appliance`] and
//! [`Session`]. Must not touch appliance state except through [`Appliance`] methods, nor know
//! about shell syntax (the interpreter passes words).
//!
//! [`Session`]: super::session::Session
//! [`Appliance`]: super::appliance::Appliance

use std::time::Duration;

use super::appliance::{CommitStatus, ConfirmAction, SessionId};
use super::console::{Console, Flow, framed};
use super::opmode;
use super::schema::SchemaError;
use super::session::{Session, SessionError};
use super::vbash::Word;
use crate::vyos::{
    self, ConfigTree, DeleteOutcome, Op, SetOutcome, diff, render_boot, render_compare,
};

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

fn subtree(tree: &ConfigTree, path: &[String]) -> Option<ConfigTree> {
    if path.is_empty() {
        return Some(tree.clone());
    }
    tree.get(path)
        .map(|node| ConfigTree::from_root(node.clone()))
}

fn with<R>(
    con: &mut Console,
    id: SessionId,
    f: impl FnOnce(&mut Session, &ConfigTree) -> R,
) -> Option<R> {
    con.app.with_session(id, f)
}

/// `exit [discard]` inside configuration mode; `true` if the session was closed.
pub fn exit(con: &mut Console, id: SessionId, args: &[String]) -> Option<bool> {
    if args.first().is_some_and(|a| a == "discard") {
        con.app.close_session(id);
        con.status = 0;
        return Some(true);
    }
    match with(con, id, |s, a| s.changed(a))? {
        true => {
            con.out.push_str("Cannot exit: configuration modified.\nUse 'exit discard' to discard the changes and exit.\n");
            con.status = 1;
            Some(false)
        }
        false => {
            if con.app.unsaved() {
                con.out
                    .push_str("Warning: configuration changes have not been saved.\n");
            }
            con.app.close_session(id);
            con.status = 0;
            Some(true)
        }
    }
}

pub async fn config_mgmt(con: &mut Console, args: &[String]) -> Flow {
    if !con.app.profile().is_1_4_plus() {
        con.err.push_str(&format!(
            "vbash: line {}: /usr/bin/config-mgmt: No such file or directory\n",
            con.line_no
        ));
        con.status = 127;
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
                let reload = con.app.confirm_action() == ConfirmAction::Reload;
                con.out
                    .push_str(&con.app.profile().confirm_prompt(minutes, reload));
                match con.ask() {
                    None => return con.hang_prompt().await,
                    Some(false) => {
                        con.status = 1;
                        return Flow::Next;
                    }
                    Some(true) => {}
                }
            }
            match con.app.arm_confirm(minutes) {
                Ok(a) => {
                    con.out.push_str(&a.message);
                    con.status = 0;
                }
                Err(m) => {
                    con.out.push_str(&m);
                    con.out.push('\n');
                    con.status = 1;
                }
            }
            Flow::Next
        }
        Some("confirm") => {
            let (m, _) = con.app.confirm();
            con.out.push_str(&m);
            con.status = 0;
            Flow::Next
        }
        other => {
            con.err.push_str(&format!(
                "config-mgmt: error: argument subcommand: invalid choice: '{}'\n",
                other.unwrap_or_default()
            ));
            con.status = 2;
            Flow::Next
        }
    }
}

pub async fn command(
    con: &mut Console,
    id: SessionId,
    verb: &str,
    words: &[Word],
    in_confirm: bool,
    latency: Duration,
) -> Flow {
    let profile = con.app.profile();
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
                con.out.push_str(&framed(&[
                    "Configuration path: [] is not valid".to_owned(),
                    format!("{} failed", if verb == "set" { "Set" } else { "Delete" }),
                ]));
                con.status = 0;
                return Flow::Next;
            }
            if verb == "set" {
                let r = with(con, id, |s, _| {
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
                        con.out.push_str(&framed(&[format!(
                            "Configuration path: [{shown}] already exists"
                        )]));
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => con.out.push_str(&framed(&session_lines(&e, "Set"))),
                }
            } else {
                let r = with(con, id, |s, _| s.delete(profile, &path, value.as_deref()));
                match r {
                    None => return Flow::Drop,
                    Some(Ok(DeleteOutcome::NothingToDelete)) => {
                        let what = if value.is_some() { "value" } else { "node" };
                        con.out.push_str(&framed(&[format!(
                            "Nothing to delete (the specified {what} does not exist)"
                        )]));
                    }
                    Some(Ok(DeleteOutcome::Deleted)) => {}
                    Some(Err(e)) => {
                        con.out.push_str(&framed(&session_lines(&e, "Delete")));
                    }
                }
            }
            // vyatta-cfg-run ends in a print or `break`: set/delete always exit 0 (§4.1).
            con.status = 0;
            Flow::Next
        }
        "comment" => {
            let Some((text, path)) = words[1..].split_last() else {
                con.out.push_str(&framed(&["Comment failed".to_owned()]));
                return Flow::Next;
            };
            let path: Vec<String> = path.iter().map(|w| w.text.clone()).collect();
            let text = text.text.clone();
            match with(con, id, |s, _| s.comment(profile, &path, &text)) {
                None => return Flow::Drop,
                Some(Ok(())) => {}
                Some(Err(e)) => con.out.push_str(&framed(&session_lines(&e, "Comment"))),
            }
            con.status = 0;
            Flow::Next
        }
        "commit" => {
            let comment = match args.first().map(String::as_str) {
                None => None,
                Some("comment") => Some(args[1..].join(" ")),
                Some("confirm") => {
                    con.out.push_str("Use commit-confirm command\n");
                    con.status = 1;
                    return Flow::Next;
                }
                Some(other) => {
                    con.out
                        .push_str(&framed(&[format!("Invalid command: commit [{other}]")]));
                    con.status = 1;
                    return Flow::Next;
                }
            };
            do_commit(con, id, comment.as_deref(), in_confirm, latency).await;
            Flow::Next
        }
        "commit-confirm" => commit_confirm(con, id, &args, latency).await,
        "confirm" => {
            let (m, _) = con.app.confirm();
            con.out.push_str(&m);
            con.status = 0;
            Flow::Next
        }
        "discard" => {
            match with(con, id, |s, a| s.discard(a)) {
                None => return Flow::Drop,
                Some(true) => con.out.push_str("Changes have been discarded\n"),
                Some(false) => con.out.push_str("No changes have been discarded\n"),
            }
            con.status = 0;
            Flow::Next
        }
        "compare" => {
            compare(con, id, &args);
            Flow::Next
        }
        "save" => {
            if with(con, id, |s, a| s.changed(a)) == Some(true) {
                con.out
                    .push_str("Warning: you have uncommitted changes that will not be saved.\n");
            }
            let path = con.app.save(args.first().map(String::as_str));
            con.out.push_str(&profile.save_message(&path));
            con.status = 0;
            Flow::Next
        }
        "load" => {
            load(con, id, &args);
            Flow::Next
        }
        "merge" => {
            merge(con, id, &args);
            Flow::Next
        }
        "rollback-soft" if profile.is_1_4_plus() => {
            let n = args.first().and_then(|a| a.parse::<usize>().ok());
            let rev = match n {
                Some(n) => con.app.revision(n),
                None => Err(format!(
                    "Invalid revision number {}: must be 0 < rev < {}",
                    args.first().map_or("", String::as_str),
                    con.app.archive().len()
                )),
            };
            match rev {
                Ok(tree) => {
                    if with(con, id, |s, _| s.replace(tree)).is_none() {
                        return Flow::Drop;
                    }
                    con.out.push_str("Rollback diff has been applied.\nUse \"compare\" to review the changes or \"commit\" to apply them.\n");
                    con.status = 0;
                }
                Err(m) => {
                    con.out.push_str(&m);
                    con.out.push('\n');
                    con.status = 1;
                }
            }
            Flow::Next
        }
        "show" => {
            let working = with(con, id, |s, _| s.working().clone());
            let Some(working) = working else {
                return Flow::Drop;
            };
            match subtree(&working, &args) {
                Some(t) if !t.is_empty() => {
                    con.out
                        .push_str(&render_boot(&t, &vyos::BootStyle::vyos_1_3()));
                }
                _ => con
                    .out
                    .push_str("\nConfiguration under specified path is empty\n\n"),
            }
            con.status = 0;
            Flow::Next
        }
        "run" => {
            opmode::run(con, &args);
            Flow::Next
        }
        other => {
            con.out
                .push_str(&framed(&[format!("Invalid command: [{other}]")]));
            con.status = 1;
            Flow::Next
        }
    }
}

async fn do_commit(
    con: &mut Console,
    id: SessionId,
    comment: Option<&str>,
    in_confirm: bool,
    hold: Duration,
) {
    let user = con.user.clone();
    let r = con
        .app
        .commit(id, &user, con.via, comment, in_confirm, hold)
        .await;
    match r.status {
        CommitStatus::NoChanges => {
            con.out.push_str("No configuration changes to commit\n");
            con.status = 1;
        }
        // A failed commit still exits 0 (`unset COMMIT_COMMENT` comes last, §4.1).
        CommitStatus::Committed | CommitStatus::Failed => {
            con.out.push_str(&r.output);
            con.status = 0;
        }
    }
}

async fn commit_confirm(
    con: &mut Console,
    id: SessionId,
    args: &[String],
    latency: Duration,
) -> Flow {
    let profile = con.app.profile();
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
    match with(con, id, |s, a| s.changed(a)) {
        None => return Flow::Drop,
        Some(false) => {
            con.out.push_str("No configuration changes to commit\n");
            con.status = 1;
            return Flow::Next;
        }
        Some(true) => {}
    }
    if profile.is_1_4_plus() && con.app.unsaved() {
        con.out
            .push_str("You should save previous commits before commit-confirm !\n");
    }
    let reload = con.app.confirm_action() == ConfirmAction::Reload;
    con.out.push_str(&profile.confirm_prompt(minutes, reload));
    match con.ask() {
        None => return con.hang_prompt().await,
        Some(false) => {
            con.status = 1;
            return Flow::Next;
        }
        Some(true) => {}
    }
    match con.app.arm_confirm(minutes) {
        // 1.4+ prints config-mgmt's "Initialized commit-confirm; ..."; 1.3's `at` job is
        // silent; a second one on 1.3 says "Another confirm is pending" and commits anyway.
        Ok(a) => {
            if !a.new_timer || profile.is_1_4_plus() {
                con.out.push_str(&a.message);
            }
        }
        Err(m) => {
            con.out.push_str(&m);
            con.out.push('\n');
            con.status = 1;
            return Flow::Next;
        }
    }
    do_commit(con, id, comment.as_deref(), profile.is_1_4_plus(), latency).await;
    Flow::Next
}

fn compare(con: &mut Console, id: SessionId, args: &[String]) {
    let Some(working) = with(con, id, |s, _| s.working().clone()) else {
        return;
    };
    let active = con.app.active();
    let (old, new, what) = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        [] => (active, working, "active".to_owned()),
        ["saved"] => match ConfigTree::parse_boot(&con.app.saved()) {
            Ok(t) => (t, working, "saved".to_owned()),
            Err(e) => {
                con.out.push_str(&format!("{e}\n"));
                con.status = 1;
                return;
            }
        },
        ["commands"] => {
            for c in diff(&active, &working, &[]) {
                if c.op != Op::Comment {
                    con.out.push_str(&c.to_string());
                    con.out.push('\n');
                }
            }
            con.status = 0;
            return;
        }
        [n] if n.parse::<usize>().is_ok() => match con.app.revision(n.parse().unwrap_or(0)) {
            Ok(t) => (t, working, format!("revision {n}")),
            Err(m) => {
                con.out.push_str(&m);
                con.out.push('\n');
                con.status = 1;
                return;
            }
        },
        [n, m] if n.parse::<usize>().is_ok() && m.parse::<usize>().is_ok() => {
            let a = con.app.revision(n.parse().unwrap_or(0));
            let b = con.app.revision(m.parse().unwrap_or(0));
            match (a, b) {
                (Ok(a), Ok(b)) => (b, a, format!("revision {m}")),
                (Err(e), _) | (_, Err(e)) => {
                    con.out.push_str(&e);
                    con.out.push('\n');
                    con.status = 1;
                    return;
                }
            }
        }
        _ => {
            con.out.push_str(&framed(&[format!(
                "Invalid command: compare [{}]",
                args.join(" ")
            )]));
            con.status = 1;
            return;
        }
    };
    let text = render_compare(&old, &new, &[]);
    if text.is_empty() {
        con.out.push_str(&format!(
            "No changes between working and {what} configurations.\n"
        ));
    } else {
        con.out.push_str(&text);
    }
    con.status = 0;
}

fn read_tree(con: &mut Console, file: &str) -> Option<ConfigTree> {
    let Some(text) = con.app.read_file(file) else {
        con.out.push_str(&format!(
            "Failed to load file '{file}': No such file or directory\n"
        ));
        con.status = 1;
        return None;
    };
    match ConfigTree::parse_any(&text) {
        Ok(mut f) if super::session::misshapen(&f.tree).is_none() => {
            super::schema::mark_tags(&mut f.tree);
            Some(f.tree)
        }
        _ => {
            con.out.push_str("Failed to parse specified config file\n");
            con.status = 1;
            None
        }
    }
}

fn load(con: &mut Console, id: SessionId, args: &[String]) {
    let Some(file) = args.first() else {
        con.out.push_str("Usage: load <file>\n");
        con.status = 1;
        return;
    };
    if with(con, id, |s, a| s.changed(a)) == Some(true) {
        con.out.push_str("Cannot load: configuration modified.\n");
        con.status = 1;
        return;
    }
    con.out
        .push_str(&format!("Loading configuration from '{file}'\n"));
    let Some(tree) = read_tree(con, file) else {
        return;
    };
    let changed = with(con, id, |s, _| {
        let changed = !diff(s.working(), &tree, &[]).is_empty();
        s.replace(tree);
        changed
    });
    if changed == Some(true) {
        con.out
            .push_str("Load complete. Use 'commit' to make changes effective.\n");
    } else {
        con.out.push_str("No configuration changes to commit.\n");
    }
    con.status = 0;
}

fn merge(con: &mut Console, id: SessionId, args: &[String]) {
    let Some((file, path)) = args.split_first() else {
        con.out.push_str("Usage: merge <file> [path]\n");
        con.status = 1;
        return;
    };
    let Some(tree) = read_tree(con, file) else {
        return;
    };
    let r = with(con, id, |s, _| {
        let before = s.working().clone();
        s.merge(&tree, path)
            .map(|()| !diff(&before, s.working(), &[]).is_empty())
    });
    match r {
        Some(Ok(true)) => con
            .out
            .push_str("Merge complete. Use 'commit' to make changes effective.\n"),
        Some(Ok(false)) => con.out.push_str("No configuration changes to commit.\n"),
        Some(Err(e)) => {
            con.out.push_str(&format!("{e}\n"));
            con.status = 1;
            return;
        }
        None => return,
    }
    con.status = 0;
}
