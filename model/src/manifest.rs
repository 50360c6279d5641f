//! Manifest text (YAML or JSON, multi-document, `kind: List`) to model objects, with the
//! file and line of every object and of every error.

use crate::error::{ManifestError, Source};
use crate::objects::{self, FieldError, Object, WorkloadKind};
use crate::raw;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::sync::Arc;

/// What one manifest text held.
#[derive(Debug, Default)]
pub struct ParsedManifest {
    pub objects: Vec<Object>,
    pub errors: Vec<ManifestError>,
    /// Objects of kinds the model does not use, counted by kind.
    pub skipped: BTreeMap<String, usize>,
}

/// One YAML document: its text and the line (1-based) of its first line in the file.
struct Document<'a> {
    text: &'a str,
    first_line: usize,
}

/// Splits on `---` document markers, keeping line numbers.
fn documents(text: &str) -> Vec<Document<'_>> {
    let mut docs = Vec::new();
    let mut start_byte = 0;
    let mut start_line = 1;
    let mut offset = 0;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let trimmed = line.trim_end();
        let is_marker = trimmed == "---"
            || trimmed.starts_with("--- ")
            || trimmed.starts_with("---\t")
            || trimmed == "...";
        if is_marker {
            docs.push(Document {
                text: &text[start_byte..offset],
                first_line: start_line,
            });
            // The marker line itself may carry content (`--- {a: b}`); YAML allows it but
            // manifests never use it, so the document starts on the next line.
            start_byte = offset + line.len();
            start_line = i + 2;
        }
        offset += line.len();
    }
    docs.push(Document {
        text: &text[start_byte..],
        first_line: start_line,
    });
    docs.retain(|d| {
        d.text
            .lines()
            .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
    });
    docs
}

/// Finds the first line at or after `from` (0-based within `text`) that contains `needle`
/// as a whole token, so that `80` does not match `8080` nor `in` match `networking`.
fn line_of(text: &str, needle: &str, from: usize) -> Option<usize> {
    text.lines()
        .enumerate()
        .skip(from)
        .find(|(_, l)| contains_token(l, needle))
        .map(|(i, _)| i)
}

fn contains_token(line: &str, needle: &str) -> bool {
    let word = |c: char| c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | '/');
    line.match_indices(needle).any(|(i, _)| {
        !line[..i].chars().next_back().is_some_and(word)
            && !line[i + needle.len()..].chars().next().is_some_and(word)
    })
}

struct Ctx<'a> {
    file: &'a Arc<str>,
    default_ns: &'a str,
}

impl Ctx<'_> {
    fn source(&self, line: usize) -> Source {
        Source {
            file: self.file.clone(),
            line,
        }
    }
}

fn object_name(kind: &str, meta: &raw::Meta, default_ns: &str) -> String {
    let name = meta
        .name
        .clone()
        .or_else(|| meta.generate_name.clone())
        .unwrap_or_else(|| "<unnamed>".into());
    if kind == "Namespace" {
        format!("{kind} {name}")
    } else {
        let ns = meta.namespace.as_deref().unwrap_or(default_ns);
        format!("{kind} {ns}/{name}")
    }
}

/// Parses one manifest text. `file` names it in sources and errors; objects without a
/// namespace go to `default_ns`.
pub fn parse_manifest(file: &str, text: &str, default_ns: &str) -> ParsedManifest {
    let file: Arc<str> = Arc::from(file);
    let ctx = Ctx {
        file: &file,
        default_ns,
    };
    let mut out = ParsedManifest::default();
    for doc in documents(text) {
        let value: serde_yaml::Value = match serde_yaml::from_str(doc.text) {
            Ok(v) => v,
            Err(e) => {
                let line = e
                    .location()
                    .map(|l| doc.first_line + l.line() - 1)
                    .unwrap_or(doc.first_line);
                out.errors.push(ManifestError {
                    location: ctx.source(line),
                    object: None,
                    message: format!("malformed YAML: {}", strip_location(&e.to_string())),
                });
                continue;
            }
        };
        decode_value(&ctx, value, doc.text, doc.first_line, 0, &mut out);
    }
    out
}

/// Decodes one object already parsed (for objects read from the API server, whose
/// source has no lines).
pub fn decode_object(value: serde_yaml::Value, source: Source, default_ns: &str) -> ParsedManifest {
    let ctx = Ctx {
        file: &source.file,
        default_ns,
    };
    let mut out = ParsedManifest::default();
    decode_value(&ctx, value, "", source.line, 0, &mut out);
    out
}

fn strip_location(msg: &str) -> String {
    // serde_yaml appends " at line L column C"; we print our own file:line.
    match msg.find(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

/// Decodes a parsed document (or a List item) whose text starts at `first_line`;
/// `from_line` is the 0-based line within `text` where this object starts.
fn decode_value(
    ctx: &Ctx<'_>,
    value: serde_yaml::Value,
    text: &str,
    first_line: usize,
    from_line: usize,
    out: &mut ParsedManifest,
) {
    if value.is_null() {
        return;
    }
    let line = if first_line == 0 {
        0
    } else {
        first_line + from_line
    };
    if !value.is_mapping() {
        out.errors.push(ManifestError {
            location: ctx.source(line),
            object: None,
            message: "a Kubernetes object must be a mapping with apiVersion and kind".into(),
        });
        return;
    }
    let header: raw::Header = match serde_yaml::from_value(value.clone()) {
        Ok(h) => h,
        Err(e) => {
            out.errors.push(ManifestError {
                location: ctx.source(line),
                object: None,
                message: format!("malformed object: {}", strip_location(&e.to_string())),
            });
            return;
        }
    };
    let Some(kind) = header.kind.clone().filter(|k| !k.is_empty()) else {
        out.errors.push(ManifestError {
            location: ctx.source(line),
            object: None,
            message: "object has no kind".into(),
        });
        return;
    };
    if kind == "List" || (kind.ends_with("List") && value.get("items").is_some()) {
        let list: raw::ListDoc = match serde_yaml::from_value(value) {
            Ok(l) => l,
            Err(e) => {
                out.errors.push(ManifestError {
                    location: ctx.source(line),
                    object: Some(kind),
                    message: format!("malformed list: {}", strip_location(&e.to_string())),
                });
                return;
            }
        };
        let mut cursor = from_line;
        for item in list.items {
            // Point each item at the line that names it (lists carry no positions).
            let item_name = item
                .get("metadata")
                .and_then(|m| m.get("name"))
                .and_then(|n| n.as_str())
                .map(|n| format!("name: {n}"));
            let item_line = item_name
                .and_then(|n| line_of(text, &n, cursor))
                .map(|l| {
                    // Walk back to the item's `- ` start when it is close by.
                    (cursor..=l)
                        .rev()
                        .take(8)
                        .find(|&i| {
                            text.lines()
                                .nth(i)
                                .is_some_and(|t| t.trim_start().starts_with("- "))
                        })
                        .unwrap_or(l)
                })
                .unwrap_or(cursor);
            decode_value(ctx, item, text, first_line, item_line, out);
            cursor = item_line + 1;
        }
        return;
    }
    let object_desc = object_name(&kind, &header.metadata, ctx.default_ns);
    let source = ctx.source(line);
    let result = decode_kind(&kind, value, ctx.default_ns, source.clone());
    match result {
        Ok(Some(obj)) => out.objects.push(obj),
        Ok(None) => *out.skipped.entry(kind).or_default() += 1,
        Err(e) => {
            let err_line = if line == 0 {
                0
            } else {
                e.needle
                    .as_deref()
                    .and_then(|n| line_of(text, n, from_line))
                    .map(|l| first_line + l)
                    .unwrap_or(line)
            };
            let message = if e.path.is_empty() || e.message.starts_with(&e.path) {
                e.message
            } else {
                format!("{}: {}", e.path, e.message)
            };
            out.errors.push(ManifestError {
                location: ctx.source(err_line),
                object: Some(object_desc),
                message,
            });
        }
    }
}

fn typed<T: DeserializeOwned>(value: serde_yaml::Value) -> Result<T, FieldError> {
    serde_yaml::from_value(value).map_err(|e| FieldError {
        path: String::new(),
        message: strip_location(&e.to_string()),
        needle: None,
    })
}

fn decode_kind(
    kind: &str,
    value: serde_yaml::Value,
    default_ns: &str,
    source: Source,
) -> Result<Option<Object>, FieldError> {
    Ok(Some(match kind {
        "Namespace" => {
            let d: raw::NamespaceDoc = typed(value)?;
            Object::Namespace(objects::namespace(d.metadata, source)?)
        }
        "Pod" => Object::Pod(objects::pod(typed(value)?, default_ns, source)?),
        "Service" => Object::Service(objects::service(typed(value)?, default_ns, source)?),
        "NetworkPolicy" => Object::Policy(objects::policy(typed(value)?, default_ns, source)?),
        "CronJob" => {
            let d: raw::CronJobDoc = typed(value)?;
            let spec = d.spec.and_then(|s| s.job_template).and_then(|j| j.spec);
            Object::Workload(objects::workload(
                WorkloadKind::CronJob,
                d.metadata,
                spec,
                "spec.jobTemplate.spec",
                default_ns,
                source,
            )?)
        }
        other => match WorkloadKind::from_kind(other) {
            Some(wk) => {
                let d: raw::WorkloadDoc = typed(value)?;
                Object::Workload(objects::workload(
                    wk, d.metadata, d.spec, "spec", default_ns, source,
                )?)
            }
            None => return Ok(None),
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objects::{Peer, PortSpec};
    use crate::ports::Protocol;

    #[test]
    fn splits_documents_and_keeps_lines() {
        let text = "# comment\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n---\n\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n";
        let m = parse_manifest("f.yaml", text, "default");
        assert!(m.errors.is_empty(), "{:?}", m.errors);
        assert_eq!(m.objects.len(), 2);
        match &m.objects[1] {
            Object::Pod(p) => {
                assert_eq!(p.meta.source.line, 10);
                assert_eq!(p.meta.namespace, "default");
            }
            o => panic!("unexpected {o:?}"),
        }
    }

    #[test]
    fn lists_are_flattened_and_other_kinds_counted() {
        let text = r#"{"apiVersion":"v1","kind":"List","items":[
 {"apiVersion":"v1","kind":"Pod","metadata":{"name":"a","namespace":"x"}},
 {"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"}}]}"#;
        let m = parse_manifest("l.json", text, "default");
        assert!(m.errors.is_empty(), "{:?}", m.errors);
        assert_eq!(m.objects.len(), 1);
        assert_eq!(m.skipped.get("ConfigMap"), Some(&1));
    }

    #[test]
    fn errors_name_file_line_and_object() {
        let text = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: bad\n  namespace: shop\nspec:\n  podSelector: {}\n  ingress:\n  - from:\n    - ipBlock:\n        cidr: 10.0.0.0/33\n";
        let m = parse_manifest("bad.yaml", text, "default");
        assert_eq!(m.errors.len(), 1);
        let e = m.errors[0].to_string();
        assert!(e.starts_with("bad.yaml:11: NetworkPolicy shop/bad:"), "{e}");
        assert!(e.contains("spec.ingress[0].from[0].ipBlock"), "{e}");
        assert!(e.contains("10.0.0.0/33"), "{e}");
    }

    #[test]
    fn malformed_yaml_reports_its_line() {
        let text =
            "apiVersion: v1\nkind: Pod\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: [oops\n";
        let m = parse_manifest("m.yaml", text, "default");
        assert_eq!(m.errors.len(), 2, "{:?}", m.errors);
        assert!(m.errors[0].to_string().contains("metadata.name"));
        assert!(m.errors[1].to_string().starts_with("m.yaml:"));
        assert!(m.errors[1].message.contains("malformed YAML"));
    }

    #[test]
    fn policy_defaults_and_null_rules() {
        let text = "kind: NetworkPolicy\nmetadata: {name: p}\nspec:\n  podSelector: {}\n  ingress:\n  -\n  egress: []\n";
        let m = parse_manifest("p.yaml", text, "ns1");
        let Object::Policy(p) = &m.objects[0] else {
            panic!("{m:?}")
        };
        assert!(p.affects_ingress && !p.affects_egress);
        assert_eq!(p.ingress_rules.len(), 1);
        assert!(p.ingress_rules[0].peers.is_empty() && p.ingress_rules[0].ports.is_empty());
        assert_eq!(p.meta.namespace, "ns1");
    }

    #[test]
    fn ports_default_to_tcp_and_validate_end_port() {
        let ok = "kind: NetworkPolicy\nmetadata: {name: p}\nspec:\n  ingress:\n  - ports:\n    - port: 80\n    - protocol: UDP\n    - port: 1000\n      endPort: 2000\n      protocol: SCTP\n    - port: http\n  - from:\n    - namespaceSelector: {}\n      podSelector: {matchLabels: {a: b}}\n";
        let m = parse_manifest("p.yaml", ok, "d");
        assert!(m.errors.is_empty(), "{:?}", m.errors);
        let Object::Policy(p) = &m.objects[0] else {
            panic!()
        };
        assert_eq!(
            p.ingress_rules[0].ports,
            vec![
                PortSpec::Range {
                    protocol: Protocol::Tcp,
                    start: 80,
                    end: 80
                },
                PortSpec::AllOf(Protocol::Udp),
                PortSpec::Range {
                    protocol: Protocol::Sctp,
                    start: 1000,
                    end: 2000
                },
                PortSpec::Named {
                    protocol: Protocol::Tcp,
                    name: "http".into()
                },
            ]
        );
        assert!(matches!(
            &p.ingress_rules[1].peers[0],
            Peer::Selectors {
                namespace: Some(_),
                pod: Some(_)
            }
        ));
        for (bad, needle) in [
            ("  - ports:\n    - port: http\n      endPort: 90\n", "named port"),
            ("  - ports:\n    - port: 90\n      endPort: 80\n", "greater than or equal"),
            ("  - ports:\n    - port: 70000\n", "out of range"),
            ("  - ports:\n    - port: 80\n      protocol: ICMP\n", "unsupported protocol"),
            (
                "  - from:\n    - podSelector:\n        matchExpressions:\n        - {key: a, operator: Equals, values: [b]}\n",
                "unknown matchExpressions operator",
            ),
        ] {
            let text = format!("kind: NetworkPolicy\nmetadata: {{name: p}}\nspec:\n  ingress:\n{bad}");
            let m = parse_manifest("p.yaml", &text, "d");
            assert_eq!(m.errors.len(), 1, "{bad}");
            assert!(m.errors[0].message.contains(needle), "{}", m.errors[0]);
            assert!(m.errors[0].location.line >= 5, "{}", m.errors[0]);
        }
    }
}
