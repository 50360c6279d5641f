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
    let w = conns.mask_words();
    // Columns with equal declared ports share an id, the last word of a cache key.
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
    let mut cache: HashMap<Vec<u64>, Option<Rc<Conn>>> = HashMap::new();
    let mut masks = Vec::new();
    let mut acc = vec![0u64; cols.len() * w];
    let mut have = vec![false; cols.len()];
    let mut key = vec![0u64; w + 1];
    for from in rows {
        have.iter_mut().for_each(|h| *h = false);
        for &s in &from.members {
            conns.row_masks(s.index(), &mut masks);
            for (ti, to) in cols.iter().enumerate() {
                let a = &mut acc[ti * w..(ti + 1) * w];
                for &d in &to.members {
                    if d == s {
                        continue;
                    }
                    let m = &masks[d.index() * w..(d.index() + 1) * w];
                    if have[ti] {
                        a.iter_mut().zip(m).for_each(|(x, y)| *x &= y);
                    } else {
                        a.copy_from_slice(m);
                        have[ti] = true;
                    }
                }
            }
        }
        for (ti, to) in cols.iter().enumerate() {
            if !have[ti] {
                continue;
            }
            key[..w].copy_from_slice(&acc[ti * w..(ti + 1) * w]);
            key[w] = decl_of[ti];
            let conn = match cache.get(&key[..]) {
                Some(c) => c.clone(),
                None => {
                    let mut set = conns.ports(&key[..w]);
                    if let Some(d) = &decl_sets[key[w] as usize] {
                        set = set.intersection(d);
                    }
                    let c = (!set.is_empty()).then(|| Rc::new(conn_of(&set)));
                    cache.insert(key.clone(), c.clone());
                    c
                }
            };
            if let Some(c) = conn {
                f(from, to, &c)?;
            }
        }
    }
    Ok(())
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
        writeln!(out, "{} => {} : {}", from.name, to.name, c.text)
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
        writeln!(out, "  subgraph cluster_{i} {{\n    label={};", json_str(ns))?;
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
