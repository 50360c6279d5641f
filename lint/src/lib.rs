//! netfence-lint: checks over the compiled NetworkPolicy model.
//!
//! Pure: the caller reads manifests (or the cluster) and the config file; this crate
//! turns a [`Model`] plus the objects that failed validation into a [`Report`]. Each
//! family of checks lives in its own module under `checks`; the [`catalogue`] holds
//! every check's id, severity and explanation.

pub mod catalogue;
mod checks;
pub mod config;
mod context;
pub mod coverage;
pub mod exposure;
pub mod finding;

pub use catalogue::{check, Check, Severity, CATALOGUE};
pub use config::{ConfigError, Ignore, LintConfig};
pub use context::IGNORE_ANNOTATION;
pub use finding::{Finding, Report, Subject};

use context::Context;
use netfence_model::{ManifestError, Model};

/// Lints a model. `errors` are the objects that failed validation (they become NF001
/// and NF403 findings, so one run reports everything).
pub fn lint(model: &Model, errors: &[ManifestError], config: &LintConfig) -> Report {
    let ctx = Context::new(model, config);
    let mut found = checks::invalid::findings(errors);
    checks::run_all(&ctx, &mut found);

    let mut report = Report::default();
    for f in found {
        if !config.is_enabled(f.check) {
            continue;
        }
        let ignored = ctx.ignored_by_annotation(f.subject, f.id())
            || config.ignore.iter().any(|i| i.matches(f.id(), &f.key));
        if ignored {
            report.suppressed += 1;
        } else {
            report.findings.push(f);
        }
    }
    report.findings.sort_by(|a, b| {
        (&a.source.file, a.source.line, a.id(), &a.object, &a.message).cmp(&(
            &b.source.file,
            b.source.line,
            b.id(),
            &b.object,
            &b.message,
        ))
    });
    report.findings.dedup();
    report
}
