//! `coverage`: which workloads are isolated for ingress and egress, by namespace.

use crate::args::{CoverageArgs, CoverageFormat};
use crate::input;
use crate::output::coverage_out;
use anyhow::{bail, Result};
use std::process::ExitCode;

pub fn run(args: CoverageArgs) -> Result<ExitCode> {
    let input = input::load(&args.input)?;
    let mut namespaces = netfence_lint::coverage::coverage(&input.model);
    if !args.show_namespace.is_empty() {
        namespaces.retain(|n| args.show_namespace.contains(&n.name));
        if namespaces.is_empty() {
            bail!(
                "no pods or workloads in namespace {}",
                args.show_namespace.join(", ")
            );
        }
    }
    let index = netfence_lint::exposure::ExposureIndex::new(&input.model);
    let exposure: Vec<Vec<_>> = namespaces
        .iter()
        .map(|ns| ns.workloads.iter().map(|w| index.of(&w.members)).collect())
        .collect();
    let out = match args.output {
        CoverageFormat::Table => coverage_out::table(&namespaces, &exposure),
        CoverageFormat::Json => coverage_out::json(&namespaces, &exposure)?,
    };
    print!("{out}");
    Ok(ExitCode::SUCCESS)
}
