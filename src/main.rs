use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = vnfsync::cli::Cli::parse();
    vnfsync::cli::run(cli).code()
}
