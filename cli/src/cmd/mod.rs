//! One module per subcommand.

pub mod can_reach;
mod compile;
mod coverage;
mod diff;
mod drops;
mod lint;
mod matrix;

use crate::args::{Cli, Command};
use anyhow::Result;
use std::process::ExitCode;

pub fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::CanReach(args) => can_reach::run(args, false),
        Command::Explain(args) => can_reach::run(args, true),
        Command::Matrix(args) => matrix::run(args),
        Command::Compile(args) => compile::run(args),
        Command::Lint(args) => lint::run(args),
        Command::Diff(args) => diff::run(args),
        Command::Coverage(args) => coverage::run(args),
        Command::Drops(args) => drops::run(args),
    }
}
