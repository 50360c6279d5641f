//! One module per subcommand.

pub mod can_reach;
mod compile;
mod completion;
mod coverage;
mod diff;
mod drops;
mod lint;
mod matrix;

use crate::args::{Cli, Command};
use anyhow::Result;
use std::process::ExitCode;

pub fn run(cli: Cli) -> Result<ExitCode> {
    let kube = cli.kube;
    match cli.command {
        Command::CanReach(mut args) => {
            args.input.kube = kube;
            can_reach::run(args, false)
        }
        Command::Explain(mut args) => {
            args.input.kube = kube;
            can_reach::run(args, true)
        }
        Command::Matrix(mut args) => {
            refuse_all_namespaces(
                args.input.all_namespaces,
                "matrix",
                "it already covers every namespace (-A looks names up in every namespace: can-reach, explain)",
            )?;
            args.input.kube = kube;
            matrix::run(args)
        }
        Command::Compile(mut args) => {
            refuse_all_namespaces(
                args.input.all_namespaces,
                "compile",
                "the ruleset always covers the pods of every namespace (on --node, or on every node)",
            )?;
            args.input.kube = kube;
            compile::run(args)
        }
        Command::Lint(mut args) => {
            refuse_all_namespaces(
                args.input.all_namespaces,
                "lint",
                "it already covers every namespace (-A looks names up in every namespace: can-reach, explain)",
            )?;
            args.input.kube = kube;
            lint::run(args)
        }
        Command::Diff(args) => {
            refuse_all_namespaces(
                args.all_namespaces,
                "diff",
                "it always compares every namespace of both versions",
            )?;
            diff::run(args)
        }
        Command::Coverage(mut args) => {
            refuse_all_namespaces(
                args.input.all_namespaces,
                "coverage",
                "it already covers every namespace (-A looks names up in every namespace: can-reach, explain)",
            )?;
            args.input.kube = kube;
            coverage::run(args)
        }
        Command::Drops(args) => {
            refuse_all_namespaces(
                args.all_namespaces,
                "drops",
                "the report is the one node's controller's, of every namespace",
            )?;
            drops::run(args)
        }
        Command::Version => {
            println!("kubectl-netfence {}", crate::version::VERSION);
            Ok(ExitCode::SUCCESS)
        }
        Command::Completion(args) => completion::run(args),
    }
}

/// `-A` where it selects nothing is refused rather than ignored: a user who asked for
/// every namespace learns that the output is not per namespace at all.
fn refuse_all_namespaces(given: bool, command: &str, why: &str) -> Result<()> {
    if given {
        anyhow::bail!("{command}: -A/--all-namespaces means nothing here: {why}");
    }
    Ok(())
}
