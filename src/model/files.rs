//! Which files make up a desired state, and what is said about the ones that do not fit.
//!
//! Owns: the verdict on every entry `source` found but did not read (symbolic links,
//! subdirectories, `.yml` or upper-case extensions, hidden YAML files, a misspelled folder),
//! the rule that a file's `name` is its file name, and the refusal of a desired state without
//! any appliance. Nothing is skipped silently: a file the loader would not read is an error, so
//! that what the operator meant to deploy is what gets checked. Must not read files (the
//! listing comes from `source`), and reports at file level (line 0) when there is no line.

use super::decode::{Diagnostic, did_you_mean};
use crate::source::{EntryKind, FLEET_FILE, FOLDERS, SourceFiles};
use crate::yaml::{Node, Value};

fn at_file(file: &str, message: String) -> Diagnostic {
    Diagnostic {
        file: file.to_string(),
        line: 0,
        column: 0,
        path: String::new(),
        message,
    }
}

/// Whether a name ends like a YAML file in any spelling (`.yaml`, `.yml`, `.YAML`, ...).
fn yamlish(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.ends_with(".yaml") || lower.ends_with(".yml")
}

/// The `.yaml` spelling of a YAML-ish file name, without a leading dot.
fn proper_name(name: &str) -> String {
    let bare = name.trim_start_matches('.');
    let lower = bare.to_ascii_lowercase();
    let stem_len = if lower.ends_with(".yaml") {
        bare.len() - 5
    } else {
        bare.len() - 4
    };
    format!("{}.yaml", &bare[..stem_len])
}

/// Report every entry found but not read that is (or looks like) part of the desired state.
pub fn check_entries(files: &SourceFiles, diags: &mut Vec<Diagnostic>) {
    for (path, kind) in &files.entries {
        let message = match path.split_once('/') {
            Some((folder, name)) => in_folder(folder, name, *kind),
            None => at_top(path, *kind),
        };
        if let Some(m) = message {
            diags.push(at_file(path, m));
        }
    }
}

fn in_folder(folder: &str, name: &str, kind: EntryKind) -> Option<String> {
    let hidden = name.starts_with('.');
    Some(match kind {
        EntryKind::Symlink => "is a symbolic link; desired-state files must be regular files (a link can point outside the repository, and git stores only the link)".to_string(),
        EntryKind::Dir => format!(
            "is a subdirectory, and files in subdirectories are not read; put its files in {folder}/ itself"
        ),
        EntryKind::Other => "is not a regular file".to_string(),
        EntryKind::File if hidden && yamlish(name) => format!(
            "is a hidden file and would not be read; rename it to `{}` or remove it",
            proper_name(name)
        ),
        // Editor and VCS droppings such as .gitkeep are no desired state.
        EntryKind::File if hidden => return None,
        EntryKind::File if yamlish(name) => format!(
            "would not be read: desired-state files end in `.yaml`; rename it to `{}`",
            proper_name(name)
        ),
        EntryKind::File => format!(
            "is not a desired-state file: only `*.yaml` files belong in {folder}/"
        ),
    })
}

fn at_top(name: &str, kind: EntryKind) -> Option<String> {
    if FOLDERS.contains(&name) {
        return Some(match kind {
            EntryKind::Symlink => "is a symbolic link; it must be a real directory (a link can point outside the repository)".to_string(),
            _ => "must be a directory".to_string(),
        });
    }
    if name == FLEET_FILE {
        return Some(match kind {
            EntryKind::Symlink => "is a symbolic link; it must be a regular file (a link can point outside the repository)".to_string(),
            _ => "must be a regular file".to_string(),
        });
    }
    if kind == EntryKind::Dir || kind == EntryKind::Symlink {
        let lower = name.to_ascii_lowercase();
        let near = FOLDERS
            .iter()
            .copied()
            .find(|f| *f == lower)
            .or_else(|| did_you_mean(&lower, FOLDERS));
        if let Some(f) = near {
            return Some(format!(
                "is a directory vnfsync does not read; did you mean `{f}/`?"
            ));
        }
    }
    if yamlish(name) {
        let proper = proper_name(name);
        if proper.eq_ignore_ascii_case(FLEET_FILE) {
            return Some(format!("is not read; did you mean `{FLEET_FILE}`?"));
        }
        // Hidden files at the top belong to tools (`.gitlab-ci.yml`, `.yamllint.yaml`).
        if name.starts_with('.') {
            return None;
        }
        return Some(format!(
            "is not read: at the top of the desired state only `{FLEET_FILE}` is; appliances go in appliances/, policies in policies/, dictionaries in dictionaries/"
        ));
    }
    // Anything else (README, .git, CI files) may share the directory.
    None
}

/// An appliance's or policy's `name` must be its file name: `appliances/edge-1.yaml` says
/// `name: edge-1`. Checked only when the name is a valid name (otherwise its own error says so).
pub fn check_file_name(file: &str, what: &str, root: &Node, diags: &mut Vec<Diagnostic>) {
    let Value::Map(entries) = &root.value else {
        return;
    };
    let Some((_, node)) = entries
        .iter()
        .find(|(k, _)| matches!(&k.value, Value::Str(s) if s == "name"))
    else {
        return;
    };
    let Value::Str(name) = &node.value else {
        return;
    };
    if name.parse::<super::values::Name>().is_err() {
        return;
    }
    let base = file.rsplit('/').next().unwrap_or(file);
    let stem = base.strip_suffix(".yaml").unwrap_or(base);
    if stem != name {
        diags.push(Diagnostic {
            file: file.to_string(),
            line: node.pos.line,
            column: node.pos.column,
            path: "name".to_string(),
            message: format!(
                "{what} `{name}` is in `{base}`, but the name of every {what} is its file name: rename the file to `{name}.yaml` or the {what} to `{stem}`"
            ),
        });
    }
}

/// A desired state with no appliance at all is most likely a wrong `--path`; it is refused
/// unless the caller allows it.
pub fn check_not_empty(files: &SourceFiles, appliances: usize, diags: &mut Vec<Diagnostic>) {
    if appliances == 0 && files.in_folder("appliances").next().is_none() {
        diags.push(at_file(
            "appliances/",
            "no appliance is defined (no appliances/*.yaml): is the path right? Pass --allow-empty if an empty desired state is meant".to_string(),
        ));
    }
}
