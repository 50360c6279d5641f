//! Every allowed pair with its whole port set: `-o list` (one line per pair), `-o
//! list-json` (one object per line in a JSON array) and the Graphviz graph (`-o dot`,
//! one edge per pair labelled with the same text). Written row by row; the text of a
//! port set is made once per distinct set.

use super::matrix_out::{json_str, push_json_str, Group};
use netfence_analyzer::matrix::connections::write_ranges;
use netfence_analyzer::{ConnectionText, Connections};
use netfence_model::{Model, PortSet, Protocol};
use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};
use std::rc::Rc;

/// One pair's allowed connections, as text and as the JSON value of "conn".
pub struct Conn {
    pub text: String,
    pub json: String,
}

/// The ports each column group listens on (None: it declares none, so every port).
fn declared(model: &Model, cols: &[Group]) -> Vec<Option<PortSet>> {
    cols.iter()
        .map(|g| {
            let mut set = PortSet::empty();
            for &e in &g.members {
                for p in &model.cluster.endpoint(e).ports {
                    set.add_range(p.protocol, p.port, p.port);
                }
            }
            (!set.is_empty()).then_some(set)
        })
        .collect()
}

/// Calls `f` for every pair of a row group and a column group with some allowed
/// connection, in order. A group pair's connections are those every member pair (a pod
/// with itself aside) has; with `listening_only`, cut to the destination's declared
/// ports.
pub fn for_each_pair(
    pairs: &Pairs<'_>,
    f: impl FnMut(&Group, &Group, &Conn) -> io::Result<()>,
) -> io::Result<()> {
    PairWalk::new(pairs).walk(pairs.rows, f)
}

/// The pairs a list, its JSON form or the graph shows: row groups against column
/// groups, over the connections of a model.
#[derive(Clone, Copy)]
pub struct Pairs<'a> {
    pub model: &'a Model,
    pub conns: &'a Connections,
    pub rows: &'a [Group],
    pub cols: &'a [Group],
    /// Cut each pair to the ports its destination declares.
    pub listening_only: bool,
}

/// Rows per run of [`write_pairs`]: enough to keep a worker busy, few enough that the
/// runs in flight stay small (a run of 2,000 columns is about 2 MB of text).
const RUN_ROWS: usize = 32;

/// Writes `item` for every pair, in the order of [`for_each_pair`]. The rows are cut
/// in runs that the machine's cores render into buffers, written out in order; at most
/// two runs per core wait, so the output streams in bounded memory. Returns whether
/// any pair was written.
fn write_pairs(
    out: &mut impl Write,
    pairs: &Pairs<'_>,
    item: impl Fn(&mut Vec<u8>, &Group, &Group, &Conn) + Sync,
) -> io::Result<bool> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    write_pairs_on(cores, out, pairs, item)
}

/// [`write_pairs`] on at most `threads` workers.
fn write_pairs_on(
    threads: usize,
    out: &mut impl Write,
    pairs: &Pairs<'_>,
    item: impl Fn(&mut Vec<u8>, &Group, &Group, &Conn) + Sync,
) -> io::Result<bool> {
    let rows = pairs.rows;
    let runs = rows.len().div_ceil(RUN_ROWS);
    let threads = threads.min(runs);
    if threads < 2 {
        let mut any = false;
        let mut buf = Vec::new();
        for_each_pair(pairs, |from, to, c| {
            buf.clear();
            item(&mut buf, from, to, c);
            any = true;
            out.write_all(&buf)
        })?;
        return Ok(any);
    }
    let (item, pairs) = (&item, *pairs);
    std::thread::scope(|scope| {
        let inbox: Vec<_> = (0..threads)
            .map(|t| {
                let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(1);
                scope.spawn(move || {
                    let mut walk = PairWalk::new(&pairs);
                    for run in (t..runs).step_by(threads) {
                        let mut buf = Vec::new();
                        let lines = &rows[run * RUN_ROWS..((run + 1) * RUN_ROWS).min(rows.len())];
                        walk.walk(lines, |from, to, c| {
                            item(&mut buf, from, to, c);
                            Ok(())
                        })
                        .expect("writing to a Vec does not fail");
                        // The writer has stopped (its output failed): stop too.
                        if tx.send(buf).is_err() {
                            return;
                        }
                    }
                });
                rx
            })
            .collect();
        let mut any = false;
        for run in 0..runs {
            // A worker gone early has panicked; the scope carries its panic on.
            let Ok(buf) = inbox[run % threads].recv() else {
                break;
            };
            any |= !buf.is_empty();
            out.write_all(&buf)?;
        }
        Ok(any)
    })
}

/// The state of a walk over rows: the connections per cell, and the lines already
/// made for rows that equal others.
struct PairWalk<'a> {
    conns: &'a Connections,
    cols: &'a [Group],
    cells: RowConns<'a>,
    /// Every group is one pod: rows equal on every class (each other aside) share one
    /// line, the cell towards the pod whose line it is computed apart.
    single: bool,
    col_of: HashMap<usize, usize>,
    memo: HashMap<u64, Vec<(usize, Line)>>,
}

impl<'a> PairWalk<'a> {
    fn new(pairs: &Pairs<'a>) -> Self {
        let Pairs {
            model,
            conns,
            rows,
            cols,
            listening_only,
        } = *pairs;
        let single = rows.iter().chain(cols).all(|g| g.members.len() == 1);
        let col_of = if single {
            cols.iter()
                .enumerate()
                .map(|(i, g)| (g.members[0].index(), i))
                .collect()
        } else {
            HashMap::new()
        };
        PairWalk {
            conns,
            cols,
            cells: RowConns::new(model, conns, cols, listening_only),
            single,
            col_of,
            memo: HashMap::new(),
        }
    }

    fn walk(
        &mut self,
        rows: &[Group],
        mut f: impl FnMut(&Group, &Group, &Conn) -> io::Result<()>,
    ) -> io::Result<()> {
        let (conns, cols, single) = (self.conns, self.cols, self.single);
        for from in rows {
            let mut patch = None;
            let line = if single {
                let s = from.members[0].index();
                let h = conns.row_hash(s);
                let seen = self.memo.entry(h).or_default();
                match seen
                    .iter()
                    .find(|(rep, _)| conns.same_rows_but_each_other(*rep, s))
                {
                    Some((rep, line)) => {
                        if let Some(&ci) = self.col_of.get(rep) {
                            patch = Some((ci, self.cells.cell(s, *rep, ci)));
                        }
                        line.clone()
                    }
                    None => {
                        let line = self.cells.line(from, false);
                        seen.push((s, line.clone()));
                        line
                    }
                }
            } else {
                self.cells.line(from, true)
            };
            for (ti, (to, c)) in cols.iter().zip(line.iter()).enumerate() {
                let c = match &patch {
                    Some((pi, pc)) if *pi == ti => pc,
                    _ => c,
                };
                let Some(c) = c else { continue };
                // A pod with itself is no pair (kept out of the shared line).
                if single && to.members[0] == from.members[0] {
                    continue;
                }
                f(from, to, c)?;
            }
        }
        Ok(())
    }
}

/// Per column group, the connections of one row group (None: nothing allowed).
type Line = Rc<[Option<Rc<Conn>>]>;

/// The connections of one row group to every column group, the text of each distinct
/// port set (per declared-port set of the destination) made once.
struct RowConns<'a> {
    conns: &'a Connections,
    cols: &'a [Group],
    /// Declared ports by id (None: every port), and each column's id.
    decl_sets: Vec<Option<PortSet>>,
    decl_of: Vec<u64>,
    /// Key: the class mask, then the declared-set id. Looked up per pair, so hashed
    /// fast: the keys are our own bits, not an attacker's.
    cache: foldhash::HashMap<Box<[u64]>, Option<Rc<Conn>>>,
    /// The key being looked up, reused.
    key: Vec<u64>,
    masks: Vec<u64>,
    acc: Vec<u64>,
    have: Vec<bool>,
}

impl<'a> RowConns<'a> {
    fn new(model: &Model, conns: &'a Connections, cols: &'a [Group], listening_only: bool) -> Self {
        let mut decl_sets: Vec<Option<PortSet>> = Vec::new();
        let decl_of: Vec<u64> = if listening_only {
            let mut ids: HashMap<Option<PortSet>, u64> = HashMap::new();
            declared(model, cols)
                .into_iter()
                .map(|d| {
                    *ids.entry(d.clone()).or_insert_with(|| {
                        decl_sets.push(d);
                        (decl_sets.len() - 1) as u64
                    })
                })
                .collect()
        } else {
            decl_sets.push(None);
            vec![0; cols.len()]
        };
        let w = conns.mask_words();
        RowConns {
            conns,
            cols,
            decl_sets,
            decl_of,
            cache: foldhash::HashMap::default(),
            key: vec![0; w + 1],
            masks: Vec::new(),
            acc: vec![0; cols.len() * w],
            have: vec![false; cols.len()],
        }
    }

    /// Per column, what every member pair of `from` and the column allows (None when
    /// nothing, or no member pair); `skip_self`: a pod with itself is no member pair.
    fn line(&mut self, from: &Group, skip_self: bool) -> Line {
        let w = self.conns.mask_words();
        self.have.iter_mut().for_each(|h| *h = false);
        for &s in &from.members {
            self.conns.row_masks(s.index(), &mut self.masks);
            for (ti, to) in self.cols.iter().enumerate() {
                let a = &mut self.acc[ti * w..(ti + 1) * w];
                for &d in &to.members {
                    if skip_self && d == s {
                        continue;
                    }
                    let m = &self.masks[d.index() * w..(d.index() + 1) * w];
                    if self.have[ti] {
                        a.iter_mut().zip(m).for_each(|(x, y)| *x &= y);
                    } else {
                        a.copy_from_slice(m);
                        self.have[ti] = true;
                    }
                }
            }
        }
        let acc = std::mem::take(&mut self.acc);
        let line = (0..self.cols.len())
            .map(|ti| {
                if !self.have[ti] {
                    return None;
                }
                self.key[..w].copy_from_slice(&acc[ti * w..(ti + 1) * w]);
                self.key[w] = self.decl_of[ti];
                self.conn()
            })
            .collect();
        self.acc = acc;
        line
    }

    /// The cell of pod `src` towards the pod of column `ti`, endpoint index `dst`.
    fn cell(&mut self, src: usize, dst: usize, ti: usize) -> Option<Rc<Conn>> {
        let w = self.conns.mask_words();
        self.conns.mask_of(src, dst, &mut self.key[..w]);
        self.key[w] = self.decl_of[ti];
        self.conn()
    }

    /// The connection of the class mask and declared-set id in `key`, made once.
    fn conn(&mut self) -> Option<Rc<Conn>> {
        let key = &self.key[..];
        if let Some(c) = self.cache.get(key) {
            return c.clone();
        }
        let w = key.len() - 1;
        let mut set = self.conns.ports(&key[..w]);
        if let Some(d) = &self.decl_sets[key[w] as usize] {
            set = set.intersection(d);
        }
        let c = (!set.is_empty()).then(|| Rc::new(conn_of(&set)));
        self.cache.insert(key.into(), c.clone());
        c
    }
}

fn conn_of(set: &PortSet) -> Conn {
    let text = ConnectionText(set).to_string();
    let json = if set.is_all() {
        json_str(&text)
    } else {
        let parts: Vec<String> = Protocol::ALL
            .iter()
            .filter(|p| !set.protocol(**p).is_empty())
            .map(|&p| {
                let ranges = set.protocol(p);
                let mut ports = String::new();
                if ranges.is_full() {
                    ports.push_str("all");
                } else {
                    write_ranges(&mut ports, ranges.ranges()).expect("a String takes writes");
                }
                format!(
                    "{{\"protocol\": \"{}\", \"ports\": \"{ports}\"}}",
                    p.as_str()
                )
            })
            .collect();
        format!("[{}]", parts.join(", "))
    };
    Conn { text, json }
}

pub fn list(out: &mut impl Write, pairs: &Pairs<'_>) -> io::Result<()> {
    write_pairs(out, pairs, list_item)?;
    Ok(())
}

/// `src => dst : TCP 80,443`, in pieces rather than through format!: this runs for
/// every pair.
fn list_item(buf: &mut Vec<u8>, from: &Group, to: &Group, c: &Conn) {
    buf.extend_from_slice(from.name.as_bytes());
    buf.extend_from_slice(b" => ");
    buf.extend_from_slice(to.name.as_bytes());
    buf.extend_from_slice(b" : ");
    buf.extend_from_slice(c.text.as_bytes());
    buf.push(b'\n');
}

/// `[{"src": "ns/a", "dst": "ns/b", "conn": "All Connections" | [{"protocol", "ports"}]}]`,
/// one pair per line.
pub fn list_json(out: &mut impl Write, pairs: &Pairs<'_>) -> io::Result<()> {
    out.write_all(b"[")?;
    // Every pair is written after a comma, and the first comma of all is taken back
    // out: the runs are rendered apart, so none knows whether it is first.
    let mut skip_comma = Skip::new(out, 1);
    let any = write_pairs(&mut skip_comma, pairs, json_item)?;
    out.write_all(if any { b"\n]\n" } else { b"]\n" })
}

/// `,\n  {"src": .., "dst": .., "conn": ..}`.
fn json_item(buf: &mut Vec<u8>, from: &Group, to: &Group, c: &Conn) {
    buf.extend_from_slice(b",\n  {\"src\": ");
    push_json_str(buf, &from.name);
    buf.extend_from_slice(b", \"dst\": ");
    push_json_str(buf, &to.name);
    buf.extend_from_slice(b", \"conn\": ");
    buf.extend_from_slice(c.json.as_bytes());
    buf.push(b'}');
}

/// A writer that drops the first `skip` bytes written through it.
struct Skip<'w, W: Write> {
    inner: &'w mut W,
    skip: usize,
}

impl<'w, W: Write> Skip<'w, W> {
    fn new(inner: &'w mut W, skip: usize) -> Self {
        Skip { inner, skip }
    }
}

impl<W: Write> Write for Skip<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let drop = self.skip.min(buf.len());
        self.skip -= drop;
        if drop == buf.len() {
            return Ok(buf.len());
        }
        Ok(drop + self.inner.write(&buf[drop..])?)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The graph: a cluster of nodes per namespace, an edge per allowed pair.
pub fn dot(out: &mut impl Write, pairs: &Pairs<'_>) -> io::Result<()> {
    // Edge labels as xlabels (forced): dot's ordinary labels are ranked as nodes, and
    // with many edges between clusters it fails on them ("trouble in init_rank"), as it
    // does without newrank.
    out.write_all(
        b"digraph netfence {\n  rankdir=LR;\n  newrank=true;\n  forcelabels=true;\n  node [shape=box];\n",
    )?;
    let mut by_ns: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for g in pairs.rows.iter().chain(pairs.cols) {
        let names = by_ns.entry(g.namespace.as_str()).or_default();
        if !names.contains(&g.name.as_str()) {
            names.push(&g.name);
        }
    }
    for (i, (ns, names)) in by_ns.iter().enumerate() {
        writeln!(
            out,
            "  subgraph cluster_{i} {{\n    label={};",
            json_str(ns)
        )?;
        for name in names {
            writeln!(out, "    {};", json_str(name))?;
        }
        out.write_all(b"  }\n")?;
    }
    write_pairs(out, pairs, dot_item)?;
    out.write_all(b"}\n")
}

/// `  "a" -> "b" [xlabel="TCP 80"];`
fn dot_item(buf: &mut Vec<u8>, from: &Group, to: &Group, c: &Conn) {
    buf.extend_from_slice(b"  ");
    push_json_str(buf, &from.name);
    buf.extend_from_slice(b" -> ");
    push_json_str(buf, &to.name);
    buf.extend_from_slice(b" [xlabel=");
    push_json_str(buf, &c.text);
    buf.extend_from_slice(b"];\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use netfence_model::manifest::parse_manifest;
    use netfence_model::{Cluster, EndpointId};

    /// 80 pods in namespace `shop` (`n` would be YAML 1.1's false): the first 40 (`a00`..`a39`, a whole run and more) may
    /// send nothing, `b` pods take TCP 80 from `c` pods only, the rest is open: 20 b pods
    /// reach 60 others, 20 c pods all 79.
    fn model() -> Model {
        let mut text = String::from(
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: mute, namespace: shop}\n\
             spec: {podSelector: {matchLabels: {role: a}}, policyTypes: [Egress]}\n---\n\
             apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: web, namespace: shop}\n\
             spec: {podSelector: {matchLabels: {role: b}}, ingress: [{from: [{podSelector: {matchLabels: {role: c}}}], ports: [{port: 80}]}]}\n",
        );
        for i in 0..80 {
            let role = match i {
                0..40 => "a",
                40..60 => "b",
                _ => "c",
            };
            text.push_str(&format!(
                "---\napiVersion: v1\nkind: Pod\nmetadata: {{name: {role}{i:02}, namespace: shop, labels: {{role: {role}}}}}\n\
                 spec: {{containers: [{{name: x, ports: [{{containerPort: 80}}]}}]}}\nstatus: {{podIP: 10.0.0.{}}}\n",
                i + 1
            ));
        }
        let parsed = parse_manifest("pods.yaml", &text, "default");
        assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
        Model::compile(Cluster::build(parsed.objects))
    }

    fn groups(model: &Model) -> Vec<Group> {
        (0..model.cluster.endpoints.len())
            .map(|i| {
                let e = EndpointId(i as u32);
                Group {
                    name: model.cluster.endpoint_name(e),
                    namespace: "shop".into(),
                    members: vec![e],
                }
            })
            .collect()
    }

    /// The pairs as `for_each_pair` gives them, one line each, in order.
    fn reference(pairs: &Pairs<'_>) -> String {
        let mut text = String::new();
        for_each_pair(pairs, |from, to, c| {
            text.push_str(&format!("{} => {} : {}\n", from.name, to.name, c.text));
            Ok(())
        })
        .unwrap();
        text
    }

    #[test]
    fn runs_on_any_number_of_workers_keep_the_order() {
        let m = model();
        let conns = Connections::compute(&m);
        let g = groups(&m);
        for listening in [true, false] {
            let pairs = Pairs {
                model: &m,
                conns: &conns,
                rows: &g,
                cols: &g,
                listening_only: listening,
            };
            let want = reference(&pairs);
            // Nothing from the a pods; b takes only TCP 80 from c; c reaches everyone.
            assert!(!want.contains("shop/a00 =>"), "{want}");
            assert!(want.contains("shop/c79 => shop/b40 : TCP 80\n"), "{want}");
            assert!(!want.contains("shop/b41 => shop/b40"), "{want}");
            assert_eq!(want.lines().count(), 20 * 60 + 20 * 79);
            for threads in 1..=4 {
                let mut out = Vec::new();
                let any = write_pairs_on(threads, &mut out, &pairs, list_item).unwrap();
                assert!(any);
                assert_eq!(String::from_utf8(out).unwrap(), want, "{threads} workers");
            }
        }
    }

    #[test]
    fn list_json_is_one_array_even_when_the_first_runs_are_empty() {
        let m = model();
        let conns = Connections::compute(&m);
        let g = groups(&m);
        let mut pairs = Pairs {
            model: &m,
            conns: &conns,
            rows: &g,
            cols: &g,
            listening_only: true,
        };
        let mut out = Vec::new();
        list_json(&mut out, &pairs).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        let items = v.as_array().unwrap();
        assert_eq!(items.len(), 20 * 60 + 20 * 79);
        assert_eq!(items[0]["src"], "shop/b40");
        // No pairs at all: an empty array.
        pairs.rows = &g[..40];
        let mut out = Vec::new();
        list_json(&mut out, &pairs).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "[]\n");
    }

    #[test]
    fn skip_drops_only_the_first_bytes_across_writes() {
        let mut inner = Vec::new();
        let mut w = Skip::new(&mut inner, 3);
        w.write_all(b"ab").unwrap();
        w.write_all(b"").unwrap();
        w.write_all(b"cdef").unwrap();
        w.write_all(b"g").unwrap();
        assert_eq!(inner, b"defg");
    }
}
