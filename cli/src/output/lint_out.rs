//! Lint output: text, JSON, SARIF 2.1.0 (code scanning) and GitHub workflow commands.

use netfence_lint::{Check, Finding, Report, Severity, CATALOGUE};
use serde_json::{json, Value};

const SARIF_SCHEMA: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

/// `file:line: severity ID Object: message`.
fn line(f: &Finding) -> String {
    let object = if f.object.is_empty() {
        String::new()
    } else {
        format!(" {}", f.object)
    };
    format!(
        "{}: {} {}{object}: {}",
        f.source,
        f.severity(),
        f.id(),
        f.message
    )
}

fn summary(r: &Report) -> String {
    let suppressed = if r.suppressed > 0 {
        format!(", {} suppressed", r.suppressed)
    } else {
        String::new()
    };
    if r.findings.is_empty() {
        return format!("no findings{suppressed}\n");
    }
    format!(
        "{} finding(s): {} error, {} warning, {} info{suppressed}\n",
        r.findings.len(),
        r.count(Severity::Error),
        r.count(Severity::Warning),
        r.count(Severity::Info)
    )
}

pub fn text(r: &Report) -> String {
    let mut out: String = r.findings.iter().map(|f| line(f) + "\n").collect();
    out.push_str(&summary(r));
    out
}

pub fn json(r: &Report) -> anyhow::Result<String> {
    let findings: Vec<Value> = r
        .findings
        .iter()
        .map(|f| {
            json!({
                "id": f.id(),
                "severity": f.severity().as_str(),
                "name": f.check.name,
                "title": f.check.title,
                "object": f.object,
                "file": &*f.source.file,
                "line": f.source.line,
                "message": f.message,
            })
        })
        .collect();
    let doc = json!({
        "findings": findings,
        "summary": {
            "error": r.count(Severity::Error),
            "warning": r.count(Severity::Warning),
            "info": r.count(Severity::Info),
            "suppressed": r.suppressed,
        }
    });
    Ok(serde_json::to_string_pretty(&doc)? + "\n")
}

fn sarif_level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

/// A relative path as a URI reference: unreserved characters and '/' kept, the rest
/// percent-encoded (SARIF `artifactLocation.uri` is a URI).
fn uri(path: &str) -> String {
    let mut out = String::new();
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Sources that are not files of the repository (stdin, the API server, a git revision)
/// have no physical location.
fn is_file(file: &str) -> bool {
    !file.is_empty() && !file.starts_with('<') && file != "cluster" && !file.contains(':')
}

pub fn sarif(r: &Report) -> anyhow::Result<String> {
    let rules: Vec<Value> = CATALOGUE
        .iter()
        .map(|c| {
            json!({
                "id": c.id,
                "name": c.name,
                "shortDescription": { "text": c.title },
                "fullDescription": { "text": c.explanation },
                "help": { "text": c.explanation },
                "defaultConfiguration": {
                    "level": sarif_level(c.severity),
                    "enabled": c.default_enabled,
                },
            })
        })
        .collect();
    let results: Vec<Value> = r
        .findings
        .iter()
        .map(|f| {
            let index = CATALOGUE
                .iter()
                .position(|c| c.id == f.id())
                .expect("catalogue id");
            let text = if f.object.is_empty() {
                f.message.clone()
            } else {
                format!("{}: {}", f.object, f.message)
            };
            let mut result = json!({
                "ruleId": f.id(),
                "ruleIndex": index,
                "level": sarif_level(f.severity()),
                "message": { "text": text },
            });
            if is_file(&f.source.file) {
                let mut physical = json!({
                    "artifactLocation": { "uri": uri(&f.source.file) },
                });
                if f.source.line > 0 {
                    physical["region"] = json!({ "startLine": f.source.line });
                }
                result["locations"] = json!([{ "physicalLocation": physical }]);
            }
            result
        })
        .collect();
    let doc = json!({
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "netfence",
                    "version": env!("CARGO_PKG_VERSION"),
                    "rules": rules,
                }
            },
            "results": results,
        }]
    });
    Ok(serde_json::to_string_pretty(&doc)? + "\n")
}

/// Workflow-command escaping: data loses %, CR and LF; properties also : and ,.
fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// `::error file=F,line=L,title=T::message`, one per finding, then the summary.
pub fn github(r: &Report) -> String {
    let mut out = String::new();
    for f in &r.findings {
        let command = match f.severity() {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "notice",
        };
        let mut props = Vec::new();
        if is_file(&f.source.file) {
            props.push(format!("file={}", escape_property(&f.source.file)));
            if f.source.line > 0 {
                props.push(format!("line={}", f.source.line));
            }
        }
        props.push(format!(
            "title={}",
            escape_property(&format!("{} {}", f.id(), f.check.title))
        ));
        let text = if f.object.is_empty() {
            f.message.clone()
        } else {
            format!("{}: {}", f.object, f.message)
        };
        out.push_str(&format!(
            "::{command} {}::{}\n",
            props.join(","),
            escape_data(&text)
        ));
    }
    out.push_str(&summary(r));
    out
}

pub fn explain(c: &Check) -> String {
    let default = if c.default_enabled {
        ""
    } else {
        " (off by default)"
    };
    format!(
        "{} {} ({}){default}: {}\n\n{}\n",
        c.id, c.name, c.severity, c.title, c.explanation
    )
}

pub fn catalogue(checks: &[Check]) -> String {
    let mut out = String::new();
    for c in checks {
        let default = if c.default_enabled {
            ""
        } else {
            " [off by default]"
        };
        out.push_str(&format!(
            "{}  {:<7}  {}{default}\n",
            c.id,
            c.severity.as_str(),
            c.title
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_workflow_commands_and_uris() {
        assert_eq!(escape_data("50%\nnext"), "50%25%0Anext");
        assert_eq!(escape_property("a: b, c"), "a%3A b%2C c");
        assert_eq!(uri("dir/my file.yaml"), "dir/my%20file.yaml");
        assert!(!is_file("<stdin>"));
        assert!(!is_file("origin/main:k8s/a.yaml"));
        assert!(is_file("k8s/a.yaml"));
    }
}
