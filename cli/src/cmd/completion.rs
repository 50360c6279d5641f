//! `completion SHELL`: the shell's completion script for `kubectl-netfence`, by
//! clap_complete. (`kubectl netfence` completes through kubectl_complete-netfence and the
//! hidden `__complete`, see [`crate::complete`].)

use crate::args::{Cli, CompletionArgs, CompletionShell};
use anyhow::Result;
use clap::CommandFactory;
use clap_complete::Shell;
use std::process::ExitCode;

pub fn run(args: CompletionArgs) -> Result<ExitCode> {
    let shell = match args.shell {
        CompletionShell::Bash => Shell::Bash,
        CompletionShell::Zsh => Shell::Zsh,
        CompletionShell::Fish => Shell::Fish,
    };
    let mut cmd = Cli::command();
    clap_complete::generate(shell, &mut cmd, "kubectl-netfence", &mut std::io::stdout());
    Ok(ExitCode::SUCCESS)
}
