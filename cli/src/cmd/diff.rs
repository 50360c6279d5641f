//! `diff`: the connectivity difference between two versions of the manifests.

use crate::args::{DiffArgs, DiffFormat, GroupBy};
use crate::input;
use crate::output::diff_out;
use crate::query;
use anyhow::{bail, Context, Result};
use netfence_analyzer::diff::{self, Grouping};
use netfence_model::{Model, TargetNamespace};
use std::process::ExitCode;

/// Reads one version: paths, or the -f paths at a git revision, or (head only) the -f
/// paths in the working tree.
fn version(
    args: &DiffArgs,
    which: &str,
    paths: &[String],
    rev: Option<&str>,
    ns: TargetNamespace<'_>,
) -> Result<Model> {
    let loaded = match (paths.is_empty(), rev) {
        (false, _) => netfence_loader::files::load_paths(paths, ns)?,
        (true, Some(rev)) => {
            if args.files.is_empty() {
                bail!("--{which}-ref needs -f PATH: the manifest files or directories to read at {rev}");
            }
            netfence_loader::git::load_revision(&args.repo, rev, &args.files, ns)?
        }
        (true, None) if which == "head" && !args.files.is_empty() => {
            netfence_loader::files::load_paths(&args.files, ns)?
        }
        (true, None) => bail!("give the {which} version: --{which} PATH or --{which}-ref REF"),
    };
    input::compile(loaded, args.keep_going).with_context(|| format!("reading the {which} version"))
}

pub fn run(args: DiffArgs) -> Result<ExitCode> {
    if !args.files.is_empty()
        && args.base_ref.is_none()
        && args.head_ref.is_none()
        && !args.head.is_empty()
    {
        bail!("-f names the paths read at --base-ref/--head-ref (or the head working tree); with --base and --head it is not used");
    }
    let name = args.namespace.clone().unwrap_or_else(|| "default".into());
    // As for the other commands: an explicit -n refuses objects of other namespaces.
    let ns = TargetNamespace {
        name: &name,
        required: args.namespace.is_some(),
    };
    let base = version(&args, "base", &args.base, args.base_ref.as_deref(), ns)?;
    let head = version(&args, "head", &args.head, args.head_ref.as_deref(), ns)?;
    let mut ports = diff::default_ports(&base, &head);
    for p in &args.ports {
        let p = query::matrix_port(p)?;
        if !ports.contains(&p) {
            ports.push(p);
        }
    }
    let grouping = match args.by {
        GroupBy::Pod => Grouping::Pod,
        GroupBy::Workload => Grouping::Workload,
    };
    let options = diff::DiffOptions {
        all_ports: args.all_ports,
        outside: !args.no_outside,
    };
    let d = diff::diff_with(&base, &head, &ports, grouping, options);
    let out = match args.output {
        DiffFormat::Text => diff_out::text(&d),
        DiffFormat::Json => diff_out::json(&d)?,
        DiffFormat::Markdown => diff_out::markdown(&d),
    };
    print!("{out}");
    Ok(if args.fail_on_new_allow && d.newly_allowed() > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
