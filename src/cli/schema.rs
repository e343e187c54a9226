//! `vnfsync schema`: JSON Schemas of the desired-state files, generated from the Rust types,
//! for editors (yaml-language-server `# yaml-language-server: $schema=…`).

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
