//! `vnfsync schema`: JSON Schemas of the desired-state files, generated from the Rust types,
//! for editors (yaml-language-server `# yaml-language-server: $schema=…`), and of the
//! `vnfsync diff --format json` document (`plan`).

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

#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// Which file's schema to print.
    #[arg(value_enum, default_value_t)]
    pub kind: Kind,
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

pub fn run(args: &SchemaArgs) -> Exit {
    match serde_json::to_string_pretty(&schema_of(args.kind)) {
        Ok(text) => {
            println!("{text}");
            Exit::Ok
        }
        Err(e) => {
            eprintln!("error: {e}");
            Exit::Failure
        }
    }
}
