//! The matrix as tables, one per port column: every pair up to FULL_TABLE_LIMIT rows
//! and columns, split into chunks of destinations that fit the terminal's width; above
//! it a summary by namespace.

use super::matrix_out::{Cell, Grid};
use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{CellAlignment, ContentArrangement, Table};
use std::collections::{BTreeMap, HashSet};
use std::io::{self, Write};

/// Up to this many rows and columns the table shows every pair; above it, a summary by
/// namespace (a 200-column table helps nobody).
const FULL_TABLE_LIMIT: usize = 50;

/// The width a table must fit: `$COLUMNS`, else 120.
pub fn width() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .filter(|&w: &usize| w >= 40)
        .unwrap_or(120)
}

/// Row names longer than this keep their start and end around `…`.
const NAME_LIMIT: usize = 40;

fn mark((ok, total): Cell, listens: bool) -> &'static str {
    if !listens {
        "·"
    } else if ok == total {
        "✓"
    } else if ok == 0 {
        "✗"
    } else {
        "~"
    }
}

pub fn table(out: &mut impl Write, g: &Grid, width: usize) -> io::Result<()> {
    let legend_dot = if g.marks_unlistened() {
        ", · the destination does not listen on this port: --all-ports shows the verdict"
    } else {
        ""
    };
    let full = g.rows.len() <= FULL_TABLE_LIMIT && g.cols.len() <= FULL_TABLE_LIMIT;
    let same =
        g.rows.len() == g.cols.len() && g.rows.iter().zip(&g.cols).all(|(r, c)| r.name == c.name);
    if full && !same {
        writeln!(out, "columns (to):")?;
        for (i, c) in g.cols.iter().enumerate() {
            writeln!(out, "{:>4} {}", i + 1, c.name)?;
        }
        writeln!(out)?;
    }
    let labels = row_labels(g, same);
    for (pi, port) in g.ports.iter().enumerate() {
        if full {
            writeln!(
                out,
                "port {port}: rows = from, columns = to (✓ allowed, ✗ denied, ~ some pods{legend_dot})"
            )?;
            full_table(out, g, pi, &labels, width)?;
        } else {
            summary(out, g, pi)?;
        }
    }
    Ok(())
}

/// `NN name` when rows and columns are the same groups, else the name; long names cut
/// in the middle, unless that makes two of them equal.
fn row_labels(g: &Grid, numbered: bool) -> Vec<String> {
    let cut: Vec<String> = g.rows.iter().map(|r| shorten(&r.name)).collect();
    let mut seen = HashSet::new();
    let dup: HashSet<&String> = cut.iter().filter(|c| !seen.insert(*c)).collect();
    cut.iter()
        .zip(&g.rows)
        .enumerate()
        .map(|(i, (c, r))| {
            let name = if dup.contains(c) { &r.name } else { c };
            if numbered {
                format!("{:>2} {name}", i + 1)
            } else {
                name.clone()
            }
        })
        .collect()
}

fn shorten(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    if chars.len() <= NAME_LIMIT {
        return name.to_string();
    }
    let head = NAME_LIMIT / 2 - 1;
    let tail = NAME_LIMIT - head - 1;
    let mut s: String = chars[..head].iter().collect();
    s.push('…');
    s.extend(&chars[chars.len() - tail..]);
    s
}

/// The table of one port, in chunks of columns that fit `width`, each repeating the
/// row names.
fn full_table(
    out: &mut impl Write,
    g: &Grid,
    pi: usize,
    labels: &[String],
    width: usize,
) -> io::Result<()> {
    const CORNER: &str = "from \\ to";
    let head = labels
        .iter()
        .map(|l| l.chars().count())
        .chain([CORNER.len()])
        .max()
        .unwrap_or(0);
    // A column is its content, one space each side and a border.
    let col_width = |i: usize| (i + 1).to_string().len() + 3;
    let mut chunks: Vec<(usize, usize)> = Vec::new();
    let mut start = 0;
    let mut used = 1 + head + 3;
    for i in 0..g.cols.len() {
        if i > start && used + col_width(i) > width {
            chunks.push((start, i));
            start = i;
            used = 1 + head + 3;
        }
        used += col_width(i);
    }
    chunks.push((start, g.cols.len()));
    let rows: Vec<Vec<Cell>> = (0..g.rows.len())
        .map(|fi| {
            let mut cells = Vec::new();
            g.row_cells(pi, fi, &mut cells);
            cells
        })
        .collect();
    for &(a, b) in &chunks {
        if chunks.len() > 1 {
            writeln!(
                out,
                "columns {}-{} of {} (to {} … {}):",
                a + 1,
                b,
                g.cols.len(),
                g.cols[a].name,
                g.cols[b - 1].name
            )?;
        }
        let mut t = Table::new();
        t.load_preset(UTF8_FULL_CONDENSED)
            .set_content_arrangement(ContentArrangement::Disabled);
        let mut header = vec![CORNER.to_string()];
        header.extend((a + 1..=b).map(|i| i.to_string()));
        t.set_header(header);
        for (label, cells) in labels.iter().zip(&rows) {
            let mut row = vec![label.clone()];
            row.extend((a..b).map(|ti| mark(cells[ti], g.listens(pi, ti)).to_string()));
            t.add_row(row);
        }
        for c in t.column_iter_mut().skip(1) {
            c.set_cell_alignment(CellAlignment::Center);
        }
        writeln!(out, "{t}\n")?;
    }
    Ok(())
}

fn summary(out: &mut impl Write, g: &Grid, pi: usize) -> io::Result<()> {
    let port = &g.ports[pi];
    let n = g.rows.len().max(g.cols.len());
    writeln!(
        out,
        "port {port}: {n} endpoints, summarised by namespace as allowed/total pairs \
         (use -o csv or -o json for every pair)"
    )?;
    let index = |groups: &[super::matrix_out::Group]| {
        let mut by_ns: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, grp) in groups.iter().enumerate() {
            by_ns.entry(grp.namespace.clone()).or_default().push(i);
        }
        by_ns
    };
    let (from_ns, to_ns) = (index(&g.rows), index(&g.cols));
    // Totals per (row namespace, column namespace), one row of cells at a time.
    let mut totals: BTreeMap<(&str, &str), (usize, usize)> = BTreeMap::new();
    let mut cells = Vec::new();
    let col_ns: Vec<&str> = g.cols.iter().map(|c| c.namespace.as_str()).collect();
    for (fi, from) in g.rows.iter().enumerate() {
        g.row_cells(pi, fi, &mut cells);
        for (ti, &(ok, total)) in cells.iter().enumerate() {
            let t = totals
                .entry((from.namespace.as_str(), col_ns[ti]))
                .or_default();
            t.0 += ok;
            t.1 += total;
        }
    }
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled);
    let mut header = vec!["from \\ to".to_string()];
    header.extend(to_ns.keys().cloned());
    t.set_header(header);
    for f in from_ns.keys() {
        let mut row = vec![f.clone()];
        for d in to_ns.keys() {
            let (ok, total) = totals
                .get(&(f.as_str(), d.as_str()))
                .copied()
                .unwrap_or((0, 0));
            row.push(format!("{ok}/{total}"));
        }
        t.add_row(row);
    }
    for c in t.column_iter_mut().skip(1) {
        c.set_cell_alignment(CellAlignment::Right);
    }
    writeln!(out, "{t}\n")
}
