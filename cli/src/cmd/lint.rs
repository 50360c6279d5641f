//! `lint`: the catalogue of checks over the manifests (or the live cluster).

use crate::args::{FailOn, LintArgs, LintFormat};
use crate::input;
use crate::output::lint_out;
use anyhow::{anyhow, bail, Context, Result};
use netfence_lint::{Finding, LintConfig, Severity, Subject, CATALOGUE};
use netfence_model::Cluster;
use std::path::Path;
use std::process::ExitCode;

/// Read from the working directory when no --config is given.
const DEFAULT_CONFIG: &str = ".netfence-lint.yaml";

fn load_config(args: &LintArgs) -> Result<LintConfig> {
    let path = match (&args.config, args.no_config) {
        (Some(p), _) => p.clone(),
        (None, true) => return Ok(LintConfig::default()),
        (None, false) if Path::new(DEFAULT_CONFIG).is_file() => DEFAULT_CONFIG.into(),
        (None, false) => return Ok(LintConfig::default()),
    };
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {shown}"))?;
    Ok(LintConfig::parse(&shown, &text)?)
}

fn check_id(id: &str, flag: &str) -> Result<&'static str> {
    netfence_lint::check(id)
        .map(|c| c.id)
        .ok_or_else(|| anyhow!("{flag} {id}: unknown check id (see `lint --list`)"))
}

fn threshold(f: FailOn) -> Option<Severity> {
    match f {
        FailOn::Error => Some(Severity::Error),
        FailOn::Warning => Some(Severity::Warning),
        FailOn::Info => Some(Severity::Info),
        FailOn::Never => None,
    }
}

/// Whether --show-namespace keeps a finding: one about an object of a shown namespace,
/// or about a manifest that did not become an object (never hidden: the input is bad).
/// Cluster-scoped tiered policies belong to no namespace.
fn shown(cluster: &Cluster, finding: &Finding, namespaces: &[String]) -> bool {
    let ns = match finding.subject {
        Subject::Manifest => return true,
        Subject::TierPolicy(_) => return false,
        Subject::Policy(p) => &cluster.policy(p).meta.namespace,
        Subject::Service(i) => &cluster.services[i].meta.namespace,
        Subject::Namespace(n) => &cluster.namespace(n).name,
        Subject::Workload(w) => &cluster.workloads[w].meta.namespace,
        Subject::Endpoint(e) => &cluster.namespace(cluster.endpoint(e).namespace).name,
    };
    namespaces.contains(ns)
}

pub fn run(args: LintArgs) -> Result<ExitCode> {
    if let Some(id) = &args.explain {
        let Some(c) = netfence_lint::check(id) else {
            bail!("unknown check id {id} (see `lint --list`)");
        };
        print!("{}", lint_out::explain(c));
        return Ok(ExitCode::SUCCESS);
    }
    if args.list {
        print!("{}", lint_out::catalogue(CATALOGUE));
        return Ok(ExitCode::SUCCESS);
    }
    let mut config = load_config(&args)?;
    for id in &args.disable {
        config.disable.push(check_id(id, "--disable")?);
    }
    for id in &args.enable {
        config.enable.push(check_id(id, "--enable")?);
    }
    if args.coverage {
        config.enable.extend(["NF701", "NF702", "NF703"]);
    }
    let (input, errors) = input::load_with_errors(&args.input, &config.pod_cidrs)?;
    let mut report = netfence_lint::lint(&input.model, &errors, &config);
    if !args.show_namespace.is_empty() {
        let cluster = &input.model.cluster;
        report
            .findings
            .retain(|f| shown(cluster, f, &args.show_namespace));
    }
    let out = match args.output {
        LintFormat::Text => lint_out::text(&report),
        LintFormat::Json => lint_out::json(&report)?,
        LintFormat::Sarif => lint_out::sarif(&report)?,
        LintFormat::Github => lint_out::github(&report),
    };
    print!("{out}");
    let failed = threshold(args.fail_on)
        .zip(report.worst())
        .is_some_and(|(limit, worst)| worst >= limit);
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
