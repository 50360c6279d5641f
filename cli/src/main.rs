//! `kubectl-netfence`: who may talk to whom, from manifests or a live cluster.
//!
//! Exit codes: 0 allowed / no finding, 1 denied, 2 error (bad input, unknown names).

mod args;
mod cmd;
mod input;
mod output;
mod query;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    match cmd::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
