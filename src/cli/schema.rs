//! `vnfsync schema`: JSON Schemas of the desired-state files, generated from the Rust types,
//! for editors (yaml-language-server `# yaml-language-server: $schema=…`), and of the
//! `vnfsync diff --format json` document (`plan`). `--write DIR` writes every kind as
//! `DIR/<kind>.json`, which is how the repository's `schema/` is made (the shipped desired
//! state points its `$schema` comments there).

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};

use super::Exit;
use crate::dictionary::Dictionary;
use crate::model::{Appliance, FleetFile, Policy};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Kind {
    /// `appliances/*.yaml`
    #[default]
    Appliance,
    /// `policies/*.yaml`
    Policy,
    /// `vnfsync.yaml`
    Fleet,
    /// `dictionaries/*.yaml`
    Dictionary,
    /// The document `vnfsync diff --format json` prints.
    Plan,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::Appliance,
        Kind::Policy,
        Kind::Fleet,
        Kind::Dictionary,
        Kind::Plan,
    ];

    /// The file name `--write` gives this kind's schema.
    pub fn file_name(self) -> &'static str {
        match self {
            Kind::Appliance => "appliance.json",
            Kind::Policy => "policy.json",
            Kind::Fleet => "fleet.json",
            Kind::Dictionary => "dictionary.json",
            Kind::Plan => "plan.json",
        }
    }
}

#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// Which file's schema to print.
    #[arg(value_enum, conflicts_with = "write")]
    pub kind: Option<Kind>,
    /// Write every kind's schema into this directory (created if missing) as
    /// appliance.json, policy.json, fleet.json and dictionary.json.
    #[arg(long, value_name = "DIR")]
    pub write: Option<PathBuf>,
}

/// The JSON Schema of one kind of desired-state file.
pub fn schema_of(kind: Kind) -> serde_json::Value {
    let schema = match kind {
        Kind::Appliance => schemars::schema_for!(Appliance),
        Kind::Policy => schemars::schema_for!(Policy),
        Kind::Fleet => schemars::schema_for!(FleetFile),
        Kind::Dictionary => schemars::schema_for!(Dictionary),
        Kind::Plan => schemars::schema_for!(crate::plan::Report),
    };
    schema.to_value()
}

/// The text `--write` puts in a kind's file: pretty JSON and a final newline.
pub fn schema_text(kind: Kind) -> Result<String, serde_json::Error> {
    serde_json::to_string_pretty(&schema_of(kind)).map(|t| t + "\n")
}

fn write_all(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for kind in Kind::ALL {
        let path = dir.join(kind.file_name());
        let text = schema_text(kind).map_err(|e| e.to_string())?;
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        println!("{}", path.display());
    }
    Ok(())
}

pub fn run(args: &SchemaArgs) -> Exit {
    if let Some(dir) = &args.write {
        return match write_all(dir) {
            Ok(()) => Exit::Ok,
            Err(e) => {
                eprintln!("error: {e}");
                Exit::Failure
            }
        };
    }
    match schema_text(args.kind.unwrap_or_default()) {
        Ok(text) => {
            print!("{text}");
            Exit::Ok
        }
        Err(e) => {
            eprintln!("error: {e}");
            Exit::Failure
        }
    }
}
