//! `kubectl-netfence`: who may talk to whom, from manifests or a live cluster.
//!
//! Exit codes: 0 allowed / no finding, 1 denied, 2 error (bad input, unknown names).

mod args;
mod cmd;
mod complete;
mod input;
mod output;
mod plugin;
mod query;
mod timeout;
mod version;

use clap::{CommandFactory, FromArgMatches};
use std::process::ExitCode;

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    // cobra's protocol, asked by kubectl_complete-netfence; hidden from usage.
    if let Some(request @ ("__complete" | "__completeNoDesc")) = argv.get(1).map(String::as_str) {
        let mut answer = complete::complete(args::Cli::command(), &argv[2..]);
        if request == "__completeNoDesc" {
            for c in &mut answer.candidates {
                c.truncate(c.find('\t').unwrap_or(c.len()));
            }
        }
        print!("{}", answer.render());
        return ExitCode::SUCCESS;
    }
    let mut command = args::Cli::command();
    if let Some(name) = plugin::bin_name() {
        command = command.bin_name(name);
    }
    let cli = match args::Cli::from_arg_matches(&command.get_matches()) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    match cmd::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
