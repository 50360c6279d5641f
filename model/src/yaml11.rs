//! One YAML document to the JSON-shaped value kubectl sends to the API server.
//!
//! kubectl converts YAML to JSON with go-yaml v2 (sigs.k8s.io/yaml), so this builds the
//! value from parser events with go-yaml v2's rules rather than serde_yaml's YAML 1.2
//! ones: YAML 1.1 plain scalars ([`crate::resolve`]), merge keys `<<` (a mapping or a
//! list of mappings; entries apply in document order, the last write winning, and earlier
//! mappings of a list winning over later ones, as go-yaml v2 does), non-string keys turned
//! into strings, integral floats sent as integers, NaN/infinity rejected (JSON cannot
//! carry them), only the first document of a text read. Input costs linear time: nesting
//! is capped at [`MAX_DEPTH`] before it is built and alias expansion has a budget
//! proportional to the text.

use crate::resolve::{self, Scalar};
use serde_yaml::{Mapping, Number, Value};
use std::collections::HashMap;
use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::TScalarStyle;

/// Deeper nesting is refused (serde_yaml's own limit, which no Kubernetes object nears).
pub const MAX_DEPTH: usize = 128;

/// A parsed document: its value, the line of its root and, when the root is a mapping
/// with an `items` sequence (a `List`), the line of every item.
#[derive(Debug)]
pub struct Doc {
    pub value: Value,
    pub line: usize,
    pub item_lines: Vec<usize>,
    /// The lines of the fields a policy finding points at, by path as [`node_lines`]
    /// writes it (`spec.ingress[0].from[1].podSelector`, `items[2].spec.policyTypes`):
    /// recorded while parsing, so that they cost no second reading of the text. A
    /// mapping's value is at its key's line; fields under a merge key are not recorded.
    pub field_lines: HashMap<String, usize>,
}

/// Fields whose lines [`Doc::field_lines`] records (with the items of those that are
/// lists): the selectors, peers, ports, CIDRs and rules of a NetworkPolicy.
fn is_policy_field(key: &str) -> bool {
    matches!(
        key,
        "podSelector"
            | "namespaceSelector"
            | "policyTypes"
            | "cidr"
            | "except"
            | "ingress"
            | "egress"
            | "from"
            | "to"
            | "ports"
    )
}

/// A document that kubectl could not send, at a 1-based line of the stream.
#[derive(Debug, PartialEq)]
pub struct YamlError {
    pub line: usize,
    pub message: String,
}

enum Kind {
    /// A scalar, with the JSON key it makes (or why it cannot be a key).
    Scalar(Result<String, String>),
    /// A plain `<<` (or `!!merge`).
    MergeKey,
    Collection,
}

struct Node {
    value: Value,
    line: usize,
    kind: Kind,
    from_alias: bool,
    /// Nodes it stands for, aliases expanded (for the aliasing budget).
    size: usize,
}

enum Frame {
    Seq {
        items: Vec<Value>,
        lines: Vec<usize>,
        anchor: usize,
        line: usize,
        size: usize,
    },
    Map {
        map: Mapping,
        key: Option<Node>,
        anchor: usize,
        line: usize,
        size: usize,
    },
}

struct Anchored {
    value: Value,
    key: Option<Result<String, String>>,
    merge_key: bool,
    size: usize,
}

struct Builder {
    first_line: usize,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Anchored>,
    item_lines: Vec<usize>,
    field_lines: HashMap<String, usize>,
    work: usize,
    budget: usize,
}

const CORE: &str = "tag:yaml.org,2002:";

impl Builder {
    fn err(&self, line: usize, message: impl Into<String>) -> YamlError {
        YamlError {
            line,
            message: message.into(),
        }
    }

    fn scalar(
        &self,
        text: String,
        style: TScalarStyle,
        tag: Option<Tag>,
        line: usize,
    ) -> Result<Node, YamlError> {
        let core = tag
            .as_ref()
            .filter(|t| t.handle == CORE)
            .map(|t| t.suffix.as_str());
        let plain = style == TScalarStyle::Plain;
        let resolved = match (&tag, core) {
            (None, _) if plain && text == "<<" => {
                return Ok(node(Value::String(text), line, Kind::MergeKey));
            }
            (Some(_), Some("merge")) if text == "<<" => {
                return Ok(node(Value::String(text), line, Kind::MergeKey));
            }
            (None, _) if plain => resolve::plain(&text),
            (None, _) => Scalar::Str,
            (Some(_), Some("binary")) => {
                return Err(self.err(line, "!!binary scalars are not supported"));
            }
            (Some(_), Some(t @ ("null" | "bool" | "int" | "float"))) => {
                let r = resolve::plain(&text);
                match (t, r) {
                    ("null", Scalar::Null) => Scalar::Null,
                    ("bool", r @ Scalar::Bool(_)) => r,
                    ("int", r @ (Scalar::Int(_) | Scalar::UInt(_))) => r,
                    ("float", r @ Scalar::Float(_)) => r,
                    ("float", Scalar::Int(i)) => Scalar::Float(i as f64),
                    ("float", Scalar::UInt(u)) => Scalar::Float(u as f64),
                    (t, _) => {
                        return Err(self.err(line, format!("cannot decode `{text}` as a !!{t}")));
                    }
                }
            }
            // `!!str`, `!!timestamp`, local tags: go-yaml leaves the text as it is.
            (Some(_), _) => Scalar::Str,
        };
        let key = resolve::key_string(&text, &resolved).ok_or_else(|| {
            format!("unsupported map key `{text}` (a {resolved:?} cannot be a JSON key)")
        });
        let value = match resolved {
            Scalar::Null => Value::Null,
            Scalar::Bool(b) => Value::Bool(b),
            Scalar::Int(i) => Value::Number(i.into()),
            Scalar::UInt(u) => Value::Number(u.into()),
            Scalar::Float(f) => Value::Number(json_number(f).map_err(|m| self.err(line, m))?),
            Scalar::Str => Value::String(text),
        };
        Ok(node(value, line, Kind::Scalar(key)))
    }

    /// Adds a finished node to the collection being built; `Some` when it is the root.
    fn add(&mut self, n: Node) -> Result<Option<Node>, YamlError> {
        let Some(top) = self.stack.last_mut() else {
            return Ok(Some(n));
        };
        match top {
            Frame::Seq {
                items, lines, size, ..
            } => {
                *size += n.size;
                lines.push(n.line);
                items.push(n.value);
            }
            Frame::Map { map, key, size, .. } => {
                *size += n.size;
                let Some(k) = key.take() else {
                    *key = Some(n);
                    return Ok(None);
                };
                match k.kind {
                    Kind::MergeKey => merge(map, n).map_err(|m| YamlError {
                        line: k.line,
                        message: m,
                    })?,
                    Kind::Scalar(Ok(name)) => {
                        map.insert(Value::String(name), n.value);
                    }
                    Kind::Scalar(Err(m)) => return Err(self.err(k.line, m)),
                    Kind::Collection => {
                        return Err(self.err(k.line, "invalid map key: a mapping or sequence"));
                    }
                }
            }
        }
        Ok(None)
    }

    /// Is the next node a value (of a map's key, or a list's item), not a key?
    fn expects_value(&self) -> bool {
        match self.stack.last() {
            Some(Frame::Map { key, .. }) => key.is_some(),
            Some(Frame::Seq { .. }) => true,
            None => false,
        }
    }

    fn remember(&mut self, anchor: usize, n: &Node) {
        if anchor == 0 {
            return;
        }
        let (key, merge_key) = match &n.kind {
            Kind::Scalar(k) => (Some(k.clone()), false),
            Kind::MergeKey => (None, true),
            Kind::Collection => (None, false),
        };
        self.anchors.insert(
            anchor,
            Anchored {
                value: n.value.clone(),
                key,
                merge_key,
                size: n.size,
            },
        );
    }

    /// The key a map frame waits to give a value to, when it is a plain JSON key.
    fn key_of(frame: &Frame) -> Option<&str> {
        match frame {
            Frame::Map {
                key:
                    Some(Node {
                        kind: Kind::Scalar(Ok(k)),
                        ..
                    }),
                ..
            } => Some(k),
            _ => None,
        }
    }

    /// A value starts on `line`: when it is one of the policy fields (or an item of
    /// one that is a list), its path and line are recorded. The path is built only
    /// then, from the keys and indexes of the open collections.
    fn value_starts(&mut self, line: usize) {
        let n = self.stack.len();
        let (record_line, ok) = match self.stack.last() {
            Some(top @ Frame::Map { key: Some(k), .. }) => {
                let wanted = Self::key_of(top).is_some_and(|name| {
                    // `ports` of a container is not a rule's.
                    is_policy_field(name) && (name != "ports" || self.in_rule(n - 1))
                });
                (k.line, wanted)
            }
            Some(Frame::Seq { .. }) if n >= 2 => {
                let parent = &self.stack[n - 2];
                let wanted = Self::key_of(parent).is_some_and(|name| {
                    matches!(name, "ingress" | "egress" | "from" | "to" | "except")
                        || (name == "ports" && self.in_rule(n - 2))
                });
                (line, wanted)
            }
            _ => (line, false),
        };
        if !ok {
            return;
        }
        let mut path = String::new();
        for frame in &self.stack {
            match frame {
                Frame::Map { .. } => {
                    let Some(k) = Self::key_of(frame) else {
                        return;
                    };
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(k);
                }
                Frame::Seq { items, .. } => {
                    use std::fmt::Write;
                    let _ = write!(path, "[{}]", items.len());
                }
            }
        }
        self.field_lines.entry(path).or_insert(record_line);
    }

    /// Is the map frame at `i` a rule (an item of an `ingress` or `egress` list)?
    fn in_rule(&self, i: usize) -> bool {
        i >= 2
            && matches!(self.stack[i - 1], Frame::Seq { .. })
            && Self::key_of(&self.stack[i - 2]).is_some_and(|k| k == "ingress" || k == "egress")
    }

    fn push(&mut self, frame: Frame, line: usize) -> Result<(), YamlError> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(self.err(line, format!("nesting deeper than {MAX_DEPTH} levels")));
        }
        self.stack.push(frame);
        Ok(())
    }

    fn pop(&mut self) -> Node {
        let frame = self
            .stack
            .pop()
            .expect("an end event closes an open collection");
        let parent_wants_items = self.stack.len() == 1
            && matches!(self.stack.last(), Some(Frame::Map { key: Some(Node { kind: Kind::Scalar(Ok(k)), .. }), .. }) if k == "items");
        let (value, anchor, line, size) = match frame {
            Frame::Seq {
                items,
                lines,
                anchor,
                line,
                size,
            } => {
                if parent_wants_items {
                    self.item_lines = lines;
                }
                (Value::Sequence(items), anchor, line, size)
            }
            Frame::Map {
                map,
                anchor,
                line,
                size,
                ..
            } => (Value::Mapping(map), anchor, line, size),
        };
        let n = Node {
            value,
            line,
            kind: Kind::Collection,
            from_alias: false,
            size: size + 1,
        };
        self.remember(anchor, &n);
        n
    }
}

fn node(value: Value, line: usize, kind: Kind) -> Node {
    Node {
        value,
        line,
        kind,
        from_alias: false,
        size: 1,
    }
}

/// A float as Go's encoding/json writes it and the API server reads it back: integral
/// values below 1e21 are plain integers (`port: 80.0` is port 80).
fn json_number(f: f64) -> Result<Number, String> {
    if !f.is_finite() {
        let shown = if f.is_nan() {
            "NaN"
        } else if f > 0.0 {
            "+Inf"
        } else {
            "-Inf"
        };
        return Err(format!(
            "unsupported value {shown}: JSON cannot carry it (kubectl fails the same way)"
        ));
    }
    if f.fract() == 0.0 && f.abs() < 1e21 {
        if f >= i64::MIN as f64 && f < i64::MAX as f64 {
            return Ok((f as i64).into());
        }
        if f >= 0.0 && f < u64::MAX as f64 {
            return Ok((f as u64).into());
        }
    }
    Ok(f.into())
}

/// go-yaml v2's merge: a mapping (inline or an alias of one) or an inline sequence of
/// mappings, applied from the last to the first so that earlier ones win.
fn merge(map: &mut Mapping, n: Node) -> Result<(), String> {
    const WANT: &str = "map merge requires map or sequence of maps as the value";
    match n.value {
        Value::Mapping(m) => {
            for (k, v) in m {
                map.insert(k, v);
            }
        }
        Value::Sequence(s) if !n.from_alias => {
            if !s.iter().all(Value::is_mapping) {
                return Err(WANT.into());
            }
            for m in s.into_iter().rev() {
                if let Value::Mapping(m) = m {
                    for (k, v) in m {
                        map.insert(k, v);
                    }
                }
            }
        }
        _ => return Err(WANT.into()),
    }
    Ok(())
}

/// Parses the first document of `text`, whose first line is line `first_line` of the
/// stream (go-yaml reads one document per chunk and ignores what follows a `...`).
pub fn parse_document(text: &str, first_line: usize) -> Result<Doc, YamlError> {
    let mut b = Builder {
        first_line,
        stack: Vec::new(),
        anchors: HashMap::new(),
        item_lines: Vec::new(),
        field_lines: HashMap::new(),
        work: 0,
        budget: 10_000 + 10 * text.len(),
    };
    let mut parser = Parser::new_from_str(text);
    // The parser places an error at the end of input one line past the text's last line
    // when the text has no final newline; a location must name a line that exists.
    let last_line = text.lines().count().max(1);
    loop {
        let (event, mark) = parser.next_token().map_err(|e| YamlError {
            line: b.first_line + e.marker().line().clamp(1, last_line) - 1,
            message: e.info().to_string(),
        })?;
        let line = b.first_line + mark.line().saturating_sub(1);
        b.work += 1;
        let done = match event {
            Event::StreamStart | Event::DocumentStart | Event::Nothing => None,
            Event::StreamEnd | Event::DocumentEnd => {
                Some(node(Value::Null, first_line, Kind::Collection))
            }
            Event::Alias(id) => {
                if b.expects_value() {
                    b.value_starts(line);
                }
                let Some(a) = b.anchors.get(&id) else {
                    return Err(b.err(line, "unknown anchor"));
                };
                b.work += a.size;
                if b.work > b.budget {
                    return Err(b.err(line, "document contains excessive aliasing"));
                }
                let kind = if a.merge_key {
                    Kind::MergeKey
                } else {
                    match &a.key {
                        Some(k) => Kind::Scalar(k.clone()),
                        None => Kind::Collection,
                    }
                };
                let n = Node {
                    value: a.value.clone(),
                    line,
                    kind,
                    from_alias: true,
                    size: a.size,
                };
                b.add(n)?
            }
            Event::Scalar(text, style, anchor, tag) => {
                if b.expects_value() {
                    b.value_starts(line);
                }
                let n = b.scalar(text, style, tag, line)?;
                b.remember(anchor, &n);
                b.add(n)?
            }
            Event::SequenceStart(anchor, _) => {
                if b.expects_value() {
                    b.value_starts(line);
                }
                let frame = Frame::Seq {
                    items: Vec::new(),
                    lines: Vec::new(),
                    anchor,
                    line,
                    size: 0,
                };
                b.push(frame, line)?;
                None
            }
            Event::MappingStart(anchor, _) => {
                if b.expects_value() {
                    b.value_starts(line);
                }
                let frame = Frame::Map {
                    map: Mapping::new(),
                    key: None,
                    anchor,
                    line,
                    size: 0,
                };
                b.push(frame, line)?;
                None
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let n = b.pop();
                b.add(n)?
            }
        };
        if let Some(root) = done {
            return Ok(Doc {
                value: root.value,
                line: root.line,
                item_lines: std::mem::take(&mut b.item_lines),
                field_lines: std::mem::take(&mut b.field_lines),
            });
        }
    }
}

/// Where the nodes of the first document of `text` are, to place errors: each node's path
/// as the decoders name fields (`spec.ingress[0].from[1]`, `items[2].metadata`; the root
/// is `""`) to its first and last line, 0-based in `text`. A mapping's value starts on its
/// key's line. Keys are the JSON keys kubectl sends (`yes:` is `true`); fields brought in
/// by a merge key or an alias are not listed (they are found by their mapping). Built only
/// when an error needs a line: linear in the text, like [`parse_document`].
pub fn node_lines(text: &str) -> HashMap<String, (usize, usize)> {
    /// A key that no path the decoders write can reach (merge keys, non-scalar keys).
    const UNREACHABLE: &str = "\u{0}";
    enum Open {
        Map {
            path: String,
            start: usize,
            last: usize,
            /// The key read, waiting for its value, and its line.
            key: Option<(String, usize)>,
        },
        Seq {
            path: String,
            start: usize,
            last: usize,
            next: usize,
        },
        /// A mapping or sequence used as a key.
        Key { depth: usize },
    }
    let mut out = HashMap::new();
    let mut stack: Vec<Open> = Vec::new();
    let mut parser = Parser::new_from_str(text);
    // The path and first line of a node starting on `line`, or None when it is a key.
    fn place(stack: &mut [Open], line: usize) -> Option<(String, usize)> {
        match stack.last_mut() {
            None => Some((String::new(), line)),
            Some(Open::Map { key: None, .. }) | Some(Open::Key { .. }) => None,
            Some(Open::Map { path, key, .. }) => {
                let (k, key_line) = key.take().expect("a key waits for its value");
                let p = if path.is_empty() {
                    k
                } else {
                    format!("{path}.{k}")
                };
                Some((p, key_line))
            }
            Some(Open::Seq { path, next, .. }) => {
                *next += 1;
                Some((format!("{path}[{}]", *next - 1), line))
            }
        }
    }
    // A node ended on `line`: its collection's last line moves on.
    fn ended(stack: &mut [Open], line: usize) {
        match stack.last_mut() {
            Some(Open::Map { last, .. }) | Some(Open::Seq { last, .. }) => {
                *last = (*last).max(line);
            }
            _ => {}
        }
    }
    while let Ok((event, mark)) = parser.next_token() {
        let line = mark.line().saturating_sub(1);
        match event {
            Event::Scalar(..) | Event::Alias(_) => {
                if let Some(Open::Key { .. }) = stack.last() {
                    continue;
                }
                if let Some(Open::Map { key: k @ None, .. }) = stack.last_mut() {
                    let name = match &event {
                        Event::Scalar(s, TScalarStyle::Plain, _, None) if s == "<<" => None,
                        Event::Scalar(s, TScalarStyle::Plain, _, None) => {
                            resolve::key_string(s, &resolve::plain(s))
                        }
                        Event::Scalar(s, ..) => Some(s.clone()),
                        _ => None,
                    };
                    *k = Some((name.unwrap_or_else(|| UNREACHABLE.into()), line));
                    ended(&mut stack, line);
                    continue;
                }
                if let Some((path, start)) = place(&mut stack, line) {
                    out.insert(path, (start, line.max(start)));
                }
                ended(&mut stack, line);
            }
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                let open = match stack.last() {
                    Some(Open::Key { depth }) => Open::Key { depth: depth + 1 },
                    Some(Open::Map { key: None, .. }) => Open::Key { depth: 0 },
                    _ => {
                        let (path, start) = place(&mut stack, line).expect("a value's place");
                        if matches!(event, Event::MappingStart(..)) {
                            Open::Map {
                                path,
                                start,
                                last: start,
                                key: None,
                            }
                        } else {
                            Open::Seq {
                                path,
                                start,
                                last: start,
                                next: 0,
                            }
                        }
                    }
                };
                stack.push(open);
            }
            Event::MappingEnd | Event::SequenceEnd => match stack.pop() {
                Some(Open::Key { depth: 0 }) => {
                    if let Some(Open::Map { key, .. }) = stack.last_mut() {
                        *key = Some((UNREACHABLE.into(), line));
                    }
                }
                Some(Open::Key { .. }) | None => {}
                Some(Open::Map {
                    path, start, last, ..
                })
                | Some(Open::Seq {
                    path, start, last, ..
                }) => {
                    out.insert(path, (start, last));
                    ended(&mut stack, last);
                }
            },
            Event::DocumentEnd | Event::StreamEnd => break,
            Event::StreamStart | Event::DocumentStart | Event::Nothing => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_lines_follow_paths() {
        let text = "kind: X\nspec:\n  ingress:\n  - name: a\n    from:\n    - {}\n    - pods:\n        podSelector: {}\n  - {name: b, from: [{}, {x: 1}]}\nstatus: {yes: 1}\n";
        let lines = node_lines(text);
        let at = |p: &str| lines.get(p).copied();
        assert_eq!(at(""), Some((0, 9)));
        assert_eq!(at("kind"), Some((0, 0)));
        assert_eq!(at("spec"), Some((1, 8)));
        assert_eq!(at("spec.ingress"), Some((2, 8)));
        assert_eq!(at("spec.ingress[0]"), Some((3, 7)));
        assert_eq!(at("spec.ingress[0].from"), Some((4, 7)));
        assert_eq!(at("spec.ingress[0].from[0]"), Some((5, 5)));
        assert_eq!(at("spec.ingress[0].from[1]"), Some((6, 7)));
        assert_eq!(at("spec.ingress[0].from[1].pods.podSelector"), Some((7, 7)));
        assert_eq!(at("spec.ingress[1].from[1].x"), Some((8, 8)));
        // YAML 1.1 keys as kubectl sends them.
        assert_eq!(at("status.true"), Some((9, 9)));
        assert_eq!(at("spec.ingress[2]"), None);
    }

    #[test]
    fn node_lines_skip_merges_and_complex_keys() {
        let text = "base: &b {port: 80}\nmerged:\n  <<: *b\n  name: m\n? [a]\n: 1\nafter: 2\n";
        let lines = node_lines(text);
        assert_eq!(lines.get("merged.name"), Some(&(3, 3)));
        assert_eq!(lines.get("merged.port"), None);
        assert_eq!(lines.get("base.port"), Some(&(0, 0)));
        assert_eq!(lines.get("after"), Some(&(6, 6)));
    }
}
