//! What a running vbash script writes to and reads from: its stdout, stderr and exit status,
//! the rest of the script (which a prompt reads its answer from, as `input()` does with
//! `vbash -s`), and who runs it (user, front end).
//!
//! Owns the wording shared by the interpreter, configuration mode and op mode: framed error
//! output, `command not found`, and the `[Y/n]` prompt. Must not interpret commands.

use std::sync::Arc;

use super::appliance::{Appliance, Via};

/// What the interpreter does after a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Next,
    Exit(u32),
    /// The connection is gone (reboot, fault).
    Drop,
}

/// The script's terminal.
pub struct Console {
    pub app: Arc<Appliance>,
    pub user: String,
    pub via: Via,
    pub out: String,
    pub err: String,
    pub status: u32,
    /// The current line's number (1-based), for `vbash: line N:` messages.
    pub line_no: usize,
    lines: Vec<(usize, String)>,
    pos: usize,
}

/// Output framed the way vyatta-cfg-run prints errors: a blank line, each line indented by
/// two spaces, a blank line.
pub fn framed(lines: &[String]) -> String {
    let mut s = String::from("\n");
    for l in lines {
        s.push_str("  ");
        s.push_str(l);
        s.push('\n');
    }
    s.push('\n');
    s
}

fn yes_no(answer: &str) -> Option<bool> {
    match answer.trim().to_ascii_lowercase().as_str() {
        "" | "y" | "yes" => Some(true),
        "n" | "no" => Some(false),
        _ => None,
    }
}

impl Console {
    pub fn new(app: Arc<Appliance>, user: String, via: Via, script: &str) -> Console {
        Console {
            app,
            user,
            via,
            out: String::new(),
            err: String::new(),
            status: 0,
            line_no: 0,
            lines: super::vbash::logical_lines(script),
            pos: 0,
        }
    }

    /// The next script line, as the interpreter reads it.
    pub fn next_line(&mut self) -> Option<String> {
        let (n, line) = self.lines.get(self.pos)?.clone();
        self.pos += 1;
        self.line_no = n;
        Some(line)
    }

    /// `vbash: line N: <message>` on stderr.
    pub fn error(&mut self, message: &str, status: u32) {
        self.err
            .push_str(&format!("vbash: line {}: {message}\n", self.line_no));
        self.status = status;
    }

    pub fn not_found(&mut self, what: &str) {
        self.error(&format!("{what}: command not found"), 127);
    }

    /// Reads the next script line as a prompt's answer, as `input()` would; `None` at EOF.
    pub fn answer(&mut self) -> Option<String> {
        let a = self.next_line()?;
        self.app
            .record(self.via, &self.user, &format!("(prompt answer) {a}"));
        Some(a)
    }

    /// Asks a `[Y/n]` question on the script's stdin. `None`: EOF (the caller hangs).
    pub fn ask(&mut self) -> Option<bool> {
        loop {
            let a = self.answer()?;
            self.out.push('\n');
            match yes_no(&a) {
                Some(b) => return Some(b),
                None => self.out.push_str("Please respond with yes/y or no/n\n"),
            }
        }
    }

    /// `ask_yes_no` at EOF: prints its complaint forever; the exec never ends.
    pub async fn hang_prompt(&mut self) -> Flow {
        self.app.record(
            self.via,
            &self.user,
            "(prompt at EOF: Please respond with yes/y or no/n, forever)",
        );
        std::future::pending::<Flow>().await
    }
}
