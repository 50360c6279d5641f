//! Manifest text (YAML or JSON, multi-document, `kind: List`) to model objects, with the
//! file and line of every object and of every error.

use crate::decode;
use crate::decode_tier;
use crate::docsplit;
use crate::error::{ManifestError, Source};
use crate::field_lines::PolicyLines;
use crate::lines::LineIndex;
use crate::objects::{FieldError, Object, WorkloadKind};
use crate::raw;
use crate::raw::LocatedDoc;
use crate::stand_in::CustomResource;
use crate::tier::TierKind;
use crate::yaml11;
use std::cell::OnceCell;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// What one manifest text held.
#[derive(Debug, Default)]
pub struct ParsedManifest {
    pub objects: Vec<Object>,
    pub errors: Vec<ManifestError>,
    /// Objects of kinds the model does not use, counted by kind.
    pub skipped: BTreeMap<String, usize>,
    /// Of those, the custom resources (whose pods an operator may create; see
    /// [`crate::stand_in`]).
    pub custom: Vec<CustomResource>,
    /// The namespaced objects that had no namespace and were placed in the default one.
    pub defaulted: Vec<DefaultedObject>,
}

/// A namespaced object written without a namespace, placed in the default namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DefaultedObject {
    pub kind: String,
    pub name: String,
    pub source: Source,
}

/// The namespace objects without one are placed in, and whether the user chose it (`-n`):
/// then an object written in another namespace is invalid, as `kubectl apply -n` refuses
/// it, so that a manifest is never analysed in a namespace it would not be applied to.
#[derive(Clone, Copy, Debug)]
pub struct TargetNamespace<'a> {
    pub name: &'a str,
    pub required: bool,
}

impl<'a> TargetNamespace<'a> {
    /// A default namespace only: objects written in other namespaces keep theirs.
    pub fn default_to(name: &'a str) -> Self {
        TargetNamespace {
            name,
            required: false,
        }
    }
}

struct Ctx<'a> {
    file: &'a Arc<str>,
    default_ns: &'a str,
    required: bool,
}

impl Ctx<'_> {
    fn source(&self, line: usize) -> Source {
        Source {
            file: self.file.clone(),
            line,
        }
    }
}

fn obj_name(meta: &raw::Meta) -> String {
    meta.name
        .clone()
        .or_else(|| meta.generate_name.clone())
        .unwrap_or_else(|| "<unnamed>".into())
}

/// kubectl's refusal (cli-runtime's RequireNamespace) of an object written in namespace
/// `written` when `--namespace=chosen` was passed.
pub fn namespace_mismatch(written: &str, chosen: &str) -> String {
    format!(
        "the namespace from the provided object {written:?} does not match the namespace \
         {chosen:?}. You must pass '--namespace={written}' to perform this operation."
    )
}

fn object_name(kind: &str, meta: &raw::Meta, default_ns: &str) -> String {
    let name = obj_name(meta);
    if is_cluster_scoped(kind) {
        format!("{kind} {name}")
    } else {
        let ns = meta.namespace.as_deref().unwrap_or(default_ns);
        format!("{kind} {ns}/{name}")
    }
}

/// Parses one manifest text. `file` names it in sources and errors; objects without a
/// namespace go to `default_ns`. The text is read as kubectl reads it (documents split as
/// [`docsplit`] does, YAML resolved as [`yaml11`] does), so the objects are those the API
/// server would receive; reading stops at the first document kubectl could not read.
pub fn parse_manifest(file: &str, text: &str, default_ns: &str) -> ParsedManifest {
    parse_manifest_on(file, text, default_ns, 1)
}

/// [`parse_manifest`] with the documents shared out over `threads` threads (they are
/// independent); the result is the same, in the same order, as on one thread. Reading
/// stops at the first document that cannot be split or parsed, as on one thread.
pub fn parse_manifest_on(
    file: &str,
    text: &str,
    default_ns: &str,
    threads: usize,
) -> ParsedManifest {
    parse_manifest_in(file, text, TargetNamespace::default_to(default_ns), threads)
}

/// [`parse_manifest_on`] with the namespace chosen as [`TargetNamespace`] says: when it is
/// required, a namespaced object written in another namespace is an error (kubectl's
/// wording), at the line of its `metadata.namespace`.
pub fn parse_manifest_in(
    file: &str,
    text: &str,
    namespace: TargetNamespace<'_>,
    threads: usize,
) -> ParsedManifest {
    let file: Arc<str> = Arc::from(file);
    let ctx = Ctx {
        file: &file,
        default_ns: namespace.name,
        required: namespace.required,
    };
    let mut chunks = Vec::new();
    let mut split_error = None;
    for chunk in docsplit::split(text) {
        match chunk {
            Ok(c) => chunks.push(c),
            Err(e) => {
                split_error = Some(ManifestError {
                    location: ctx.source(e.line),
                    object: None,
                    message: e.message,
                });
                break;
            }
        }
    }
    let threads = threads.clamp(1, chunks.len().max(1));
    let per_thread = chunks.len().div_ceil(threads).max(1);
    let parts: Vec<Vec<(ParsedManifest, bool)>> = if threads == 1 {
        vec![chunks.iter().map(|c| parse_chunk(&ctx, c)).collect()]
    } else {
        std::thread::scope(|s| {
            let handles: Vec<_> = chunks
                .chunks(per_thread)
                .map(|part| {
                    let ctx = &ctx;
                    s.spawn(move || part.iter().map(|c| parse_chunk(ctx, c)).collect())
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("a manifest parser thread"))
                .collect()
        })
    };
    let mut out = ParsedManifest::default();
    for (parsed, malformed) in parts.into_iter().flatten() {
        out.absorb(parsed);
        if malformed {
            return out;
        }
    }
    out.errors.extend(split_error);
    out
}

impl ParsedManifest {
    /// Appends what another text (or document) held.
    pub fn absorb(&mut self, other: ParsedManifest) {
        self.objects.extend(other.objects);
        self.errors.extend(other.errors);
        for (kind, n) in other.skipped {
            *self.skipped.entry(kind).or_default() += n;
        }
        self.defaulted.extend(other.defaulted);
        self.custom.extend(other.custom);
    }
}

/// One document's objects and errors; true when its YAML is malformed (the reading
/// stops there).
fn parse_chunk(ctx: &Ctx<'_>, chunk: &docsplit::Chunk<'_>) -> (ParsedManifest, bool) {
    let mut out = ParsedManifest::default();
    let doc = match yaml11::parse_document(chunk.text, chunk.first_line) {
        Ok(d) => d,
        Err(e) => {
            out.errors.push(ManifestError {
                location: ctx.source(e.line),
                object: None,
                message: format!("malformed YAML: {}", e.message),
            });
            return (out, true);
        }
    };
    let lines = LineIndex::new(chunk.text);
    let nodes = OnceCell::new();
    let fields = doc.field_lines;
    let span = Span {
        lines: &lines,
        first_line: chunk.first_line,
        // An object's line is where its mapping starts (its first key), not the first
        // line of its document: comments and blank lines above it are not the object.
        // The parser may mark a root scalar ending the text on the line after it: the
        // object's line stays inside its chunk.
        from: doc
            .line
            .saturating_sub(chunk.first_line)
            .min(lines.len().saturating_sub(1)),
        to: lines.len(),
        path: "",
        nodes: &nodes,
        fields: &fields,
    };
    decode_value(ctx, doc.value, &doc.item_lines, &span, &mut out);
    (out, false)
}

/// Decodes one object already parsed (for objects read from the API server, whose
/// source has no lines).
pub fn decode_object(value: serde_yaml::Value, source: Source, default_ns: &str) -> ParsedManifest {
    let ctx = Ctx {
        file: &source.file,
        default_ns,
        required: false,
    };
    let mut out = ParsedManifest::default();
    let lines = LineIndex::new("");
    let nodes = OnceCell::new();
    let fields = HashMap::new();
    let span = Span {
        lines: &lines,
        first_line: 0,
        from: 0,
        to: 0,
        path: "",
        nodes: &nodes,
        fields: &fields,
    };
    decode_value(&ctx, value, &[], &span, &mut out);
    out
}

fn strip_location(msg: &str) -> String {
    // serde_yaml appends " at line L column C"; we print our own file:line.
    match msg.find(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

/// Where an object's text is: lines `from..to` (0-based) of its document, whose first line
/// is line `first_line` of the file (0: no text, as for the API server).
#[derive(Clone, Copy)]
struct Span<'a> {
    lines: &'a LineIndex<'a>,
    first_line: usize,
    from: usize,
    to: usize,
    /// The object's path in its document: empty for the document itself, `items[2]` for
    /// an item of a List.
    path: &'a str,
    /// The lines of the document's nodes by path, built at the first error that needs a
    /// line (once per document, so that placing errors stays linear).
    nodes: &'a OnceCell<HashMap<String, (usize, usize)>>,
    /// The lines (of the file) of the fields lint points at, recorded by the parser
    /// ([`yaml11::Doc::field_lines`]).
    fields: &'a HashMap<String, usize>,
}

/// `path` and its ancestors, longest first, ending with `root`: for `a.b[0].c` and the
/// empty root, `a.b[0].c`, `a.b[0]`, `a.b`, `a`, then the empty path.
fn ancestors<'p>(path: &'p str, root: &'p str) -> impl Iterator<Item = &'p str> {
    let mut next = Some(path);
    std::iter::from_fn(move || {
        let p = next?;
        next = if p.len() <= root.len() {
            None
        } else {
            Some(&p[..p.rfind(['.', '[']).unwrap_or(0).max(root.len())])
        };
        Some(p)
    })
}

impl Span<'_> {
    /// The line of the field at `path` from the object's root, 0 when the text does
    /// not show it (see [`PolicyLines`]).
    fn field_line(&self, path: &str) -> u32 {
        if self.first_line == 0 {
            return 0;
        }
        let found = if self.path.is_empty() {
            self.fields.get(path)
        } else {
            self.fields.get(&format!("{}.{path}", self.path))
        };
        found.map_or(0, |&line| line as u32)
    }

    fn line(&self) -> usize {
        if self.first_line == 0 {
            0
        } else {
            self.first_line + self.from
        }
    }

    /// The line of the field at `path` (an error's path, from the object's root): the line
    /// inside that field's text that names `needle`, else the field's first line. A field
    /// that is absent (`is required`) is placed at its nearest ancestor that is present. A
    /// path the text does not show (a field brought in by a merge key) falls back to the
    /// first line of the object naming `needle`, else the object's own line.
    fn line_of(&self, path: &str, needle: Option<&str>) -> usize {
        if self.first_line == 0 {
            return 0;
        }
        let full = match (self.path, path) {
            ("", p) => p.to_string(),
            (root, "") => root.to_string(),
            (root, p) => format!("{root}.{p}"),
        };
        let nodes = self
            .nodes
            .get_or_init(|| yaml11::node_lines(self.lines.text()));
        let field = ancestors(&full, self.path)
            .take_while(|p| p.len() > self.path.len())
            .find_map(|p| nodes.get(p));
        let (from, to, found) = match field {
            Some(&(start, end)) => (start, end + 1, true),
            None => (self.from, self.to, false),
        };
        if let Some(l) = needle.and_then(|n| self.lines.find_token(n, from, to)) {
            return self.first_line + l;
        }
        if found {
            self.first_line + from
        } else {
            self.line()
        }
    }
}

/// Kinds whose objects have no namespace: one written on them is ignored, as the API
/// server clears it, and the default namespace does not apply.
fn is_cluster_scoped(kind: &str) -> bool {
    matches!(kind, "Namespace" | "Node") || tier_kind(kind).is_some()
}

fn tier_kind(kind: &str) -> Option<TierKind> {
    Some(match kind {
        "ClusterNetworkPolicy" => TierKind::ClusterNetworkPolicy,
        "AdminNetworkPolicy" => TierKind::AdminNetworkPolicy,
        "BaselineAdminNetworkPolicy" => TierKind::BaselineAdminNetworkPolicy,
        _ => return None,
    })
}

/// The apiVersion a kind the model reads has; another one (`projectcalico.org/v3`'s
/// NetworkPolicy, a removed beta) is another resource, which the model does not read.
fn api_version_of(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "Namespace" | "Pod" | "Service" | "ReplicationController" | "Node" => "v1",
        "NetworkPolicy" => "networking.k8s.io/v1",
        // network-policy-api v0.2.0 serves ClusterNetworkPolicy only at v1alpha2, and
        // v0.1.x the two kinds it replaces only at v1alpha1.
        "ClusterNetworkPolicy" => "policy.networking.k8s.io/v1alpha2",
        "AdminNetworkPolicy" | "BaselineAdminNetworkPolicy" => "policy.networking.k8s.io/v1alpha1",
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" => "apps/v1",
        "Job" | "CronJob" => "batch/v1",
        _ => return None,
    })
}

/// Items of a typed list read from a list endpoint (`PodList`) carry neither kind nor
/// apiVersion; apimachinery fills both in from the list, and so does this.
fn fill_in_kind(item: &mut serde_yaml::Value, list_kind: &str, list_api_version: &str) {
    let Some(m) = item.as_mapping_mut() else {
        return;
    };
    let empty = |k: &str| m.get(k).and_then(|v| v.as_str()).is_none_or(str::is_empty);
    if empty("kind") && empty("apiVersion") {
        let item_kind = list_kind.strip_suffix("List").unwrap_or(list_kind);
        m.insert("kind".into(), item_kind.into());
        m.insert("apiVersion".into(), list_api_version.into());
    }
}

/// Decodes a parsed document (or a List item) whose text is `span`; `item_lines` are the
/// lines (of the file) of its `items`, when it is a list.
fn decode_value(
    ctx: &Ctx<'_>,
    value: serde_yaml::Value,
    item_lines: &[usize],
    span: &Span<'_>,
    out: &mut ParsedManifest,
) {
    if value.is_null() {
        return;
    }
    let line = span.line();
    if !value.is_mapping() {
        out.errors.push(ManifestError {
            location: ctx.source(line),
            object: None,
            message: "a Kubernetes object must be a mapping with apiVersion and kind".into(),
        });
        return;
    }
    // A type error in the header is reported by the object's own decoding.
    let header = raw::Header::from_value(&value);
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
        let api_version = header.api_version.as_deref().unwrap_or("");
        // Item lines come from the parser; without them (a list built by a merge key, or
        // read from the API server) every item points at the list.
        let located = span.first_line != 0 && item_lines.len() == list.items.len();
        let n = list.items.len();
        for (i, mut item) in list.items.into_iter().enumerate() {
            fill_in_kind(&mut item, &kind, api_version);
            let item_path = match span.path {
                "" => format!("items[{i}]"),
                p => format!("{p}.items[{i}]"),
            };
            let item_span = if located {
                let rel = |l: usize| l.saturating_sub(span.first_line);
                Span {
                    lines: span.lines,
                    first_line: span.first_line,
                    from: rel(item_lines[i]),
                    to: if i + 1 < n {
                        rel(item_lines[i + 1])
                    } else {
                        span.to
                    },
                    path: &item_path,
                    nodes: span.nodes,
                    fields: span.fields,
                }
            } else {
                Span {
                    path: &item_path,
                    ..*span
                }
            };
            decode_value(ctx, item, &[], &item_span, out);
        }
        return;
    }
    if let (Some(want), Some(got)) = (api_version_of(&kind), header.api_version.as_deref()) {
        if got != want {
            *out.skipped.entry(format!("{kind} ({got})")).or_default() += 1;
            return;
        }
    }
    let object_desc = object_name(&kind, &header.metadata, ctx.default_ns);
    // Only the namespaced kinds the model reads: which other kinds are namespaced is
    // not known here, and their objects are not analysed anyway.
    let namespaced = api_version_of(&kind).is_some() && !is_cluster_scoped(&kind);
    let written_ns = header
        .metadata
        .namespace
        .as_deref()
        .filter(|n| !n.is_empty());
    if let (true, Some(ns)) = (namespaced && ctx.required, written_ns) {
        if ns != ctx.default_ns {
            out.errors.push(ManifestError {
                location: ctx.source(span.line_of("metadata.namespace", Some(ns))),
                object: Some(object_desc),
                message: namespace_mismatch(ns, ctx.default_ns),
            });
            return;
        }
    }
    let source = ctx.source(line);
    let result = decode_kind(&kind, value, ctx.default_ns, source.clone());
    match result {
        Ok(Some(mut obj)) => {
            if let Object::Policy(p) = &mut obj {
                if span.first_line != 0 {
                    p.lines = PolicyLines::read(p, |path| span.field_line(path));
                }
            }
            if namespaced && written_ns.is_none() {
                out.defaulted.push(DefaultedObject {
                    kind: kind.clone(),
                    name: obj_name(&header.metadata),
                    source,
                });
            }
            out.objects.push(obj)
        }
        Ok(None) => {
            let group = header
                .api_version
                .as_deref()
                .and_then(CustomResource::group_of);
            if let (Some(group), Some(name)) = (group, header.metadata.name.clone()) {
                out.custom.push(CustomResource {
                    group: group.to_string(),
                    kind: kind.clone(),
                    namespace: header
                        .metadata
                        .namespace
                        .clone()
                        .unwrap_or_else(|| ctx.default_ns.to_string()),
                    name,
                    source: source.clone(),
                });
            }
            *out.skipped.entry(kind).or_default() += 1
        }
        Err(e) => {
            let err_line = span.line_of(&e.path, e.needle.as_deref());
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

/// The typed document of `value`; a type error is carried in its metadata.
fn typed<T: LocatedDoc>(value: &serde_yaml::Value) -> T {
    T::from_value(value)
}

fn decode_kind(
    kind: &str,
    value: serde_yaml::Value,
    default_ns: &str,
    source: Source,
) -> Result<Option<Object>, FieldError> {
    Ok(Some(match kind {
        "Namespace" => {
            let d: raw::NamespaceDoc = typed(&value);
            Object::Namespace(decode::namespace(d.metadata, source)?)
        }
        "Pod" => Object::Pod(decode::pod(typed(&value), default_ns, source)?),
        "Service" => Object::Service(decode::service(typed(&value), default_ns, source)?),
        "NetworkPolicy" => Object::Policy(decode::policy(typed(&value), default_ns, source)?),
        "Node" => Object::Node(decode_tier::node(typed(&value), source)?),
        "ClusterNetworkPolicy" | "AdminNetworkPolicy" | "BaselineAdminNetworkPolicy" => {
            let kind = tier_kind(kind).expect("a tier kind");
            Object::TierPolicy(decode_tier::tier_policy(kind, typed(&value), source)?)
        }
        "CronJob" => {
            let d: raw::CronJobDoc = typed(&value);
            let spec = d.spec.and_then(|s| s.job_template).and_then(|j| j.spec);
            Object::Workload(decode::workload(
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
                let d: raw::WorkloadDoc = typed(&value);
                Object::Workload(decode::workload(
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

    const TWO_NAMESPACES: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: b\n  namespace: other\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: argocd}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: other}\n";

    #[test]
    fn objects_without_a_namespace_are_recorded_as_defaulted() {
        let m = parse_manifest("d.yaml", TWO_NAMESPACES, "argocd");
        assert!(m.errors.is_empty(), "{:?}", m.errors);
        assert_eq!(
            m.defaulted,
            vec![DefaultedObject {
                kind: "Pod".into(),
                name: "a".into(),
                source: Source::new("d.yaml", 1),
            }]
        );
        let ns: Vec<&str> = m
            .objects
            .iter()
            .filter_map(|o| match o {
                Object::Pod(p) => Some(p.meta.namespace.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(ns, ["argocd", "other"]);
    }

    #[test]
    fn a_required_namespace_refuses_objects_written_in_another() {
        let ns = TargetNamespace {
            name: "argocd",
            required: true,
        };
        let m = parse_manifest_in("d.yaml", TWO_NAMESPACES, ns, 1);
        // The Namespace is cluster-scoped and the ConfigMap is not read: only pod b.
        assert_eq!(m.errors.len(), 1, "{:?}", m.errors);
        assert_eq!(
            m.errors[0].to_string(),
            "d.yaml:9: Pod other/b: the namespace from the provided object \"other\" does not \
             match the namespace \"argocd\". You must pass '--namespace=other' to perform this \
             operation."
        );
        assert_eq!(m.objects.len(), 2, "pod a and the Namespace remain");
        assert_eq!(m.defaulted.len(), 1);
        let same = TargetNamespace {
            name: "other",
            required: true,
        };
        assert!(parse_manifest_in("d.yaml", TWO_NAMESPACES, same, 1)
            .errors
            .is_empty());
    }
}
