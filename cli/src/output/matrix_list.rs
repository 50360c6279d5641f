//! Every allowed pair with its whole port set: `-o list` (one line per pair), `-o
//! list-json` (one object per line in a JSON array) and the Graphviz graph (`-o dot`,
//! one edge per pair labelled with the same text). Written row by row; the text of a
//! port set is made once per distinct set.

use super::matrix_out::{json_str, Group};
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
/// connection. A group pair's connections are those every member pair (a pod with
/// itself aside) has; with `listening_only`, cut to the destination's declared ports.
pub fn for_each_pair(
    model: &Model,
    conns: &Connections,
    rows: &[Group],
    cols: &[Group],
    listening_only: bool,
    mut f: impl FnMut(&Group, &Group, &Conn) -> io::Result<()>,
) -> io::Result<()> {
    let mut cells = RowConns::new(model, conns, cols, listening_only);
    // Pods whose rows are equal on every class (each other aside) share one computed
    // line of cells; the cell towards the pod whose line it is is computed apart.
    let single = rows.iter().chain(cols).all(|g| g.members.len() == 1);
    let col_of: HashMap<usize, usize> = if single {
        cols.iter()
            .enumerate()
            .map(|(i, g)| (g.members[0].index(), i))
            .collect()
    } else {
        HashMap::new()
    };
    let mut memo: HashMap<u64, Vec<(usize, Line)>> = HashMap::new();
    for from in rows {
        let mut patch = None;
        let line = if single {
            let s = from.members[0].index();
            let h = conns.row_hash(s);
            let seen = memo.entry(h).or_default();
            match seen
                .iter()
                .find(|(rep, _)| conns.same_rows_but_each_other(*rep, s))
            {
                Some((rep, line)) => {
                    if let Some(&ci) = col_of.get(rep) {
                        patch = Some((ci, cells.cell(s, *rep, ci)));
                    }
                    line.clone()
                }
                None => {
                    let line = cells.line(from, false);
                    seen.push((s, line.clone()));
                    line
                }
            }
        } else {
            cells.line(from, true)
        };
        for (ti, (to, c)) in cols.iter().zip(line.iter()).enumerate() {
            let c = match &patch {
                Some((pi, pc)) if *pi == ti => pc,
                _ => c,
            };
            let Some(c) = c else { continue };
            // A pod with itself is no pair (kept out of the shared line).
            if single && to.members == from.members {
                continue;
            }
            f(from, to, c)?;
        }
    }
    Ok(())
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
    /// Key: the class mask, then the declared-set id.
    cache: HashMap<Vec<u64>, Option<Rc<Conn>>>,
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
            cache: HashMap::new(),
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
        let mut key = vec![0u64; w + 1];
        let acc = std::mem::take(&mut self.acc);
        let line = (0..self.cols.len())
            .map(|ti| {
                if !self.have[ti] {
                    return None;
                }
                key[..w].copy_from_slice(&acc[ti * w..(ti + 1) * w]);
                key[w] = self.decl_of[ti];
                self.conn(&key)
            })
            .collect();
        self.acc = acc;
        line
    }

    /// The cell of pod `src` towards the pod of column `ti`, endpoint index `dst`.
    fn cell(&mut self, src: usize, dst: usize, ti: usize) -> Option<Rc<Conn>> {
        let w = self.conns.mask_words();
        let mut key = vec![0u64; w + 1];
        self.conns.mask_of(src, dst, &mut key[..w]);
        key[w] = self.decl_of[ti];
        self.conn(&key)
    }

    /// The connection of a class mask and declared-set id, made once.
    fn conn(&mut self, key: &[u64]) -> Option<Rc<Conn>> {
        if let Some(c) = self.cache.get(key) {
            return c.clone();
        }
        let w = key.len() - 1;
        let mut set = self.conns.ports(&key[..w]);
        if let Some(d) = &self.decl_sets[key[w] as usize] {
            set = set.intersection(d);
        }
        let c = (!set.is_empty()).then(|| Rc::new(conn_of(&set)));
        self.cache.insert(key.to_vec(), c.clone());
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

pub fn list(
    out: &mut impl Write,
    model: &Model,
    conns: &Connections,
    rows: &[Group],
    cols: &[Group],
    listening_only: bool,
) -> io::Result<()> {
    for_each_pair(model, conns, rows, cols, listening_only, |from, to, c| {
        // Pieces, not format!: this runs for every pair.
        out.write_all(from.name.as_bytes())?;
        out.write_all(b" => ")?;
        out.write_all(to.name.as_bytes())?;
        out.write_all(b" : ")?;
        out.write_all(c.text.as_bytes())?;
        out.write_all(b"\n")
    })
}

/// `[{"src": "ns/a", "dst": "ns/b", "conn": "All Connections" | [{"protocol", "ports"}]}]`,
/// one pair per line.
pub fn list_json(
    out: &mut impl Write,
    model: &Model,
    conns: &Connections,
    rows: &[Group],
    cols: &[Group],
    listening_only: bool,
) -> io::Result<()> {
    let mut first = true;
    out.write_all(b"[")?;
    for_each_pair(model, conns, rows, cols, listening_only, |from, to, c| {
        out.write_all(if first { b"\n  " } else { b",\n  " })?;
        first = false;
        write!(
            out,
            "{{\"src\": {}, \"dst\": {}, \"conn\": {}}}",
            json_str(&from.name),
            json_str(&to.name),
            c.json
        )
    })?;
    out.write_all(if first { b"]\n" } else { b"\n]\n" })
}

/// The graph: a cluster of nodes per namespace, an edge per allowed pair.
pub fn dot(
    out: &mut impl Write,
    model: &Model,
    conns: &Connections,
    rows: &[Group],
    cols: &[Group],
    listening_only: bool,
) -> io::Result<()> {
    // Edge labels as xlabels (forced): dot's ordinary labels are ranked as nodes, and
    // with many edges between clusters it fails on them ("trouble in init_rank"), as it
    // does without newrank.
    out.write_all(
        b"digraph netfence {\n  rankdir=LR;\n  newrank=true;\n  forcelabels=true;\n  node [shape=box];\n",
    )?;
    let mut by_ns: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for g in rows.iter().chain(cols) {
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
    for_each_pair(model, conns, rows, cols, listening_only, |from, to, c| {
        writeln!(
            out,
            "  {} -> {} [xlabel={}];",
            json_str(&from.name),
            json_str(&to.name),
            json_str(&c.text)
        )
    })?;
    out.write_all(b"}\n")
}
