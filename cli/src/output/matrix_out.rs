//! Matrix output by port column: the grid of group pairs, streamed as JSON (a contract)
//! and CSV row by row; the table is in `matrix_table`, the per-pair lists in
//! `matrix_list`. Cells are computed per row when written, never all at once.

use netfence_analyzer::Matrix;
use netfence_model::ports::PortRef;
use netfence_model::{EndpointId, Model};
use std::io::{self, Write};

/// A row/column of the matrix: one pod, or the pods of a workload.
pub struct Group {
    pub name: String,
    pub namespace: String,
    pub members: Vec<EndpointId>,
}

/// Allowed pairs out of all member pairs, per port column and group pair.
pub struct Grid<'a> {
    matrix: &'a Matrix,
    pub rows: Vec<Group>,
    pub cols: Vec<Group>,
    pub ports: Vec<String>,
    /// The port as a JSON value (a number, or a name in quotes), and its protocol.
    port_refs: Vec<(String, &'static str)>,
    /// `listens[port][col]`: some pod of the column declares the port (numbers by
    /// number and protocol, names by name); None with --all-ports.
    listens: Option<Vec<Vec<bool>>>,
}

/// (allowed member pairs, member pairs) of one cell.
pub type Cell = (usize, usize);

impl<'a> Grid<'a> {
    pub fn new(
        model: &Model,
        m: &'a Matrix,
        rows: Vec<Group>,
        cols: Vec<Group>,
        all_ports: bool,
    ) -> Grid<'a> {
        let listens = (!all_ports).then(|| {
            m.ports
                .iter()
                .map(|p| {
                    cols.iter()
                        .map(|g| {
                            g.members.iter().any(|&e| {
                                let e = model.cluster.endpoint(e);
                                match &p.port {
                                    PortRef::Number(n) => e
                                        .ports
                                        .iter()
                                        .any(|c| c.port == *n && c.protocol == p.protocol),
                                    PortRef::Name(s) => e.named_port(s, p.protocol).is_some(),
                                }
                            })
                        })
                        .collect()
                })
                .collect()
        });
        Grid {
            ports: m.ports.iter().map(ToString::to_string).collect(),
            port_refs: m
                .ports
                .iter()
                .map(|p| {
                    let v = match &p.port {
                        PortRef::Number(n) => n.to_string(),
                        PortRef::Name(s) => json_str(s),
                    };
                    (v, p.protocol.as_str())
                })
                .collect(),
            matrix: m,
            rows,
            cols,
            listens,
        }
    }

    /// The cells of row `from` on column `port`, one per destination group.
    pub fn row_cells(&self, port: usize, from: usize, out: &mut Vec<Cell>) {
        out.clear();
        let from = &self.rows[from];
        for to in &self.cols {
            let mut ok = 0;
            for s in &from.members {
                let row = self.matrix.row(port, s.index());
                ok += to
                    .members
                    .iter()
                    .filter(|d| row.contains(d.index()))
                    .count();
            }
            out.push((ok, from.members.len() * to.members.len()));
        }
    }

    /// Does destination `to` listen on column `port` (always, with --all-ports)?
    pub fn listens(&self, port: usize, to: usize) -> bool {
        self.listens.as_ref().is_none_or(|l| l[port][to])
    }

    /// Is any column marked as not listening (so the table needs the legend)?
    pub fn marks_unlistened(&self) -> bool {
        self.listens
            .as_ref()
            .is_some_and(|l| l.iter().flatten().any(|x| !x))
    }
}

/// A JSON string literal.
pub fn json_str(s: &str) -> String {
    serde_json::to_string(s).expect("a string always serializes")
}

/// [`json_str`] appended to `buf`, for output written per pair.
pub fn push_json_str(buf: &mut Vec<u8>, s: &str) {
    serde_json::to_writer(buf, s).expect("a string always serializes");
}

/// `{"ports": [...], "results": [...]}` pretty-printed as serde_json would (sorted keys,
/// two-space indent), written one result at a time.
pub fn json(out: &mut impl Write, g: &Grid, grouped: bool) -> io::Result<()> {
    out.write_all(b"{\n  \"ports\": [")?;
    for (i, p) in g.ports.iter().enumerate() {
        let sep = if i == 0 { "\n" } else { ",\n" };
        write!(out, "{sep}    {}", json_str(p))?;
    }
    out.write_all(b"\n  ],\n  \"results\": [")?;
    let rows: Vec<String> = g.rows.iter().map(|r| json_str(&r.name)).collect();
    let cols: Vec<String> = g.cols.iter().map(|c| json_str(&c.name)).collect();
    let mut cells = Vec::new();
    let mut first = true;
    for pi in 0..g.ports.len() {
        let (port, protocol) = &g.port_refs[pi];
        for (fi, from) in rows.iter().enumerate() {
            g.row_cells(pi, fi, &mut cells);
            for (to, &(ok, total)) in cols.iter().zip(&cells) {
                out.write_all(if first { b"\n" } else { b",\n" })?;
                first = false;
                write!(out, "    {{\n      \"allowed\": {},\n", ok == total)?;
                if grouped {
                    writeln!(out, "      \"allowed_pairs\": {ok},")?;
                }
                writeln!(out, "      \"from\": {from},")?;
                if grouped {
                    writeln!(out, "      \"pairs\": {total},")?;
                }
                write!(
                    out,
                    "      \"port\": {port},\n      \"protocol\": \"{protocol}\",\n      \
                     \"to\": {to}\n    }}"
                )?;
            }
        }
    }
    out.write_all(if first { b"]\n}\n" } else { b"\n  ]\n}\n" })
}

pub fn csv(out: &mut impl Write, g: &Grid) -> io::Result<()> {
    out.write_all(b"from,to,port,protocol,allowed\n")?;
    let mut cells = Vec::new();
    for pi in 0..g.ports.len() {
        let (port, protocol) = &g.port_refs[pi];
        let port = port.trim_matches('"');
        for (fi, from) in g.rows.iter().enumerate() {
            g.row_cells(pi, fi, &mut cells);
            for (to, &(ok, total)) in g.cols.iter().zip(&cells) {
                writeln!(
                    out,
                    "{},{},{port},{protocol},{}",
                    from.name,
                    to.name,
                    ok == total
                )?;
            }
        }
    }
    Ok(())
}
