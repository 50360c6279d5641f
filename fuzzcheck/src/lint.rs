//! Target `lint`: every check over the compiled model.

use netfence_lint::{lint, LintConfig};

/// Lints `data` with the default configuration. Asserts the compile checks, that
/// every object the model rejected is reported at its own location (as NF001 or
/// NF403), that every finding has a message and a location, and that linting is
/// deterministic.
pub fn check(data: &[u8]) {
    let (model, errors) = crate::compile::check(data);
    let config = LintConfig::default();
    let report = lint(&model, &errors, &config);
    for e in &errors {
        assert!(
            report
                .findings
                .iter()
                .any(|f| matches!(f.id(), "NF001" | "NF403") && f.source == e.location),
            "rejected object not reported: {e}"
        );
    }
    for f in &report.findings {
        assert!(!f.message.trim().is_empty(), "{} without a message", f.id());
        assert_eq!(&*f.source.file, crate::FILE, "{} at {}", f.id(), f.source);
    }
    let again = lint(&model, &errors, &config);
    assert_eq!(again.findings, report.findings, "lint is not deterministic");
    assert_eq!(again.suppressed, report.suppressed);
}
