//! The `vnfsync` binary: parse the command line, set up logging, run, map to an exit code.
//! All logic lives in the library.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use vnfsync::cli::{self, Cli};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let usage = e.use_stderr();
            // clap prints help/version itself; a usage error is bad input (64).
            let _ = e.print();
            return if usage {
                cli::Exit::BadInput.code()
            } else {
                cli::Exit::Ok.code()
            };
        }
    };
    cli::init_logging(cli.log_format);
    cli::run(cli).code()
}
