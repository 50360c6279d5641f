//! One module per subcommand.

pub mod can_reach;
mod compile;
mod coverage;
mod diff;
mod drops;
mod lint;
mod matrix;

use crate::args::{Cli, Command, InputArgs};
use anyhow::{bail, Result};
use std::process::ExitCode;

/// -A is about names (can-reach, explain); the other commands read every namespace
/// already, and saying so beats ignoring the flag.
fn refuse_all_namespaces(command: &str, input: &InputArgs) -> Result<()> {
    if input.all_namespaces {
        bail!(
            "-A/--all-namespaces looks names up in every namespace (can-reach, explain); \
             {command} already covers every namespace"
        );
    }
    Ok(())
}

pub fn run(cli: Cli) -> Result<ExitCode> {
    let (name, input) = match &cli.command {
        Command::Matrix(a) => ("matrix", Some(&a.input)),
        Command::Compile(a) => ("compile", Some(&a.input)),
        Command::Lint(a) => ("lint", Some(&a.input)),
        Command::Coverage(a) => ("coverage", Some(&a.input)),
        _ => ("", None),
    };
    if let Some(input) = input {
        refuse_all_namespaces(name, input)?;
    }
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
