//! Matrix output: table (comfy-table), JSON (a contract), CSV and Graphviz dot.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{CellAlignment, ContentArrangement, Table};
use netfence_analyzer::Matrix;
use netfence_model::ports::PortRef;
use netfence_model::{EndpointId, Model};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// A row/column of the matrix: one pod, or the pods of a workload.
pub struct Group {
    pub name: String,
    pub namespace: String,
    pub members: Vec<EndpointId>,
}

/// Allowed pairs out of all member pairs, per port column and group pair.
pub struct Grid {
    pub groups: Vec<Group>,
    pub ports: Vec<String>,
    port_refs: Vec<(Value, &'static str)>,
    /// cells[port][from][to] = (allowed pairs, pairs)
    cells: Vec<Vec<Vec<(usize, usize)>>>,
}

impl Grid {
    pub fn new(_model: &Model, m: &Matrix, groups: Vec<Group>) -> Grid {
        let cells = (0..m.ports.len())
            .map(|pi| {
                groups
                    .iter()
                    .map(|from| {
                        groups
                            .iter()
                            .map(|to| {
                                let mut ok = 0;
                                for s in &from.members {
                                    let row = m.row(pi, s.index());
                                    ok += to
                                        .members
                                        .iter()
                                        .filter(|d| row.contains(d.index()))
                                        .count();
                                }
                                (ok, from.members.len() * to.members.len())
                            })
                            .collect()
                    })
                    .collect()
            })
            .collect();
        Grid {
            ports: m.ports.iter().map(ToString::to_string).collect(),
            port_refs: m
                .ports
                .iter()
                .map(|p| {
                    let v = match &p.port {
                        PortRef::Number(n) => json!(n),
                        PortRef::Name(s) => json!(s),
                    };
                    (v, p.protocol.as_str())
                })
                .collect(),
            groups,
            cells,
        }
    }

    fn cell(&self, port: usize, from: usize, to: usize) -> (usize, usize) {
        self.cells[port][from][to]
    }
}

fn mark((ok, total): (usize, usize)) -> &'static str {
    if ok == total {
        "✓"
    } else if ok == 0 {
        "✗"
    } else {
        "~"
    }
}

/// Up to this many rows and columns the table shows every pair; above it, a summary by
/// namespace (a 200-column table helps nobody).
const FULL_TABLE_LIMIT: usize = 50;

pub fn table(g: &Grid) -> String {
    let mut out = String::new();
    let n = g.groups.len();
    for (pi, port) in g.ports.iter().enumerate() {
        let mut t = Table::new();
        t.load_preset(UTF8_FULL_CONDENSED)
            .set_content_arrangement(ContentArrangement::Disabled);
        if n <= FULL_TABLE_LIMIT {
            out.push_str(&format!(
                "port {port}: rows = from, columns = to (✓ allowed, ✗ denied, ~ some pods)\n"
            ));
            let mut header = vec!["from \\ to".to_string()];
            header.extend((1..=n).map(|i| i.to_string()));
            t.set_header(header);
            for (fi, from) in g.groups.iter().enumerate() {
                let mut row = vec![format!("{:>2} {}", fi + 1, from.name)];
                row.extend((0..n).map(|ti| mark(g.cell(pi, fi, ti)).to_string()));
                t.add_row(row);
            }
            for c in t.column_iter_mut().skip(1) {
                c.set_cell_alignment(CellAlignment::Center);
            }
        } else {
            out.push_str(&format!(
                "port {port}: {n} endpoints, summarised by namespace as allowed/total pairs \
                 (use -o csv or -o json for every pair)\n"
            ));
            let mut by_ns: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
            for (i, grp) in g.groups.iter().enumerate() {
                by_ns.entry(grp.namespace.as_str()).or_default().push(i);
            }
            let names: Vec<&str> = by_ns.keys().copied().collect();
            let mut header = vec!["from \\ to".to_string()];
            header.extend(names.iter().map(|s| s.to_string()));
            t.set_header(header);
            for from_ns in &names {
                let mut row = vec![from_ns.to_string()];
                for to_ns in &names {
                    let (mut ok, mut total) = (0, 0);
                    for &f in &by_ns[from_ns] {
                        for &d in &by_ns[to_ns] {
                            let (a, b) = g.cell(pi, f, d);
                            ok += a;
                            total += b;
                        }
                    }
                    row.push(format!("{ok}/{total}"));
                }
                t.add_row(row);
            }
            for c in t.column_iter_mut().skip(1) {
                c.set_cell_alignment(CellAlignment::Right);
            }
        }
        out.push_str(&t.to_string());
        out.push_str("\n\n");
    }
    out
}

pub fn json(g: &Grid, grouped: bool) -> anyhow::Result<String> {
    let mut results = Vec::new();
    for pi in 0..g.ports.len() {
        let (port, protocol) = &g.port_refs[pi];
        for (fi, from) in g.groups.iter().enumerate() {
            for (ti, to) in g.groups.iter().enumerate() {
                let (ok, total) = g.cell(pi, fi, ti);
                let mut r = json!({
                    "from": from.name,
                    "to": to.name,
                    "port": port,
                    "protocol": protocol,
                    "allowed": ok == total,
                });
                if grouped {
                    r["allowed_pairs"] = json!(ok);
                    r["pairs"] = json!(total);
                }
                results.push(r);
            }
        }
    }
    let doc = json!({ "ports": g.ports, "results": results });
    Ok(serde_json::to_string_pretty(&doc)? + "\n")
}

pub fn csv(g: &Grid) -> String {
    let mut out = String::from("from,to,port,protocol,allowed\n");
    for pi in 0..g.ports.len() {
        let (port, protocol) = &g.port_refs[pi];
        let port = match port {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        for (fi, from) in g.groups.iter().enumerate() {
            for (ti, to) in g.groups.iter().enumerate() {
                let (ok, total) = g.cell(pi, fi, ti);
                out.push_str(&format!(
                    "{},{},{port},{protocol},{}\n",
                    from.name,
                    to.name,
                    ok == total
                ));
            }
        }
    }
    out
}

pub fn dot(g: &Grid) -> String {
    let mut out = String::from("digraph netfence {\n  rankdir=LR;\n  node [shape=box];\n");
    let mut by_ns: BTreeMap<&str, Vec<&Group>> = BTreeMap::new();
    for grp in &g.groups {
        by_ns.entry(grp.namespace.as_str()).or_default().push(grp);
    }
    for (i, (ns, groups)) in by_ns.iter().enumerate() {
        out.push_str(&format!("  subgraph cluster_{i} {{\n    label=\"{ns}\";\n"));
        for grp in groups {
            out.push_str(&format!("    \"{}\";\n", grp.name));
        }
        out.push_str("  }\n");
    }
    for (fi, from) in g.groups.iter().enumerate() {
        for (ti, to) in g.groups.iter().enumerate() {
            if fi == ti {
                continue;
            }
            let ports: Vec<&str> = (0..g.ports.len())
                .filter(|&pi| {
                    let (ok, total) = g.cell(pi, fi, ti);
                    ok == total
                })
                .map(|pi| g.ports[pi].as_str())
                .collect();
            if !ports.is_empty() {
                out.push_str(&format!(
                    "  \"{}\" -> \"{}\" [label=\"{}\"];\n",
                    from.name,
                    to.name,
                    ports.join(",")
                ));
            }
        }
    }
    out.push_str("}\n");
    out
}
