//! Diff output: text, JSON (a contract: fields are added, never renamed), and Markdown
//! for a pull-request comment.

use netfence_analyzer::diff::{Diff, FlowChange, FlowChangeKind, PolicyChange};
use netfence_model::ports::PortRef;
use serde_json::{json, Value};

/// Rows shown in Markdown before the rest is summarised (comments have a size limit).
const MARKDOWN_ROWS: usize = 200;

/// Changes that differ only by port, merged into one row.
struct Row<'d> {
    first: &'d FlowChange,
    ports: Vec<String>,
}

fn rows(d: &Diff) -> Vec<Row<'_>> {
    let mut out: Vec<Row<'_>> = Vec::new();
    for c in &d.changes {
        let same = |r: &Row<'_>| {
            let f = r.first;
            f.from == c.from
                && f.to == c.to
                && f.kind() == c.kind()
                && f.causes == c.causes
                && f.allowed_by == c.allowed_by
                && f.denied_by == c.denied_by
                && (f.before, f.after, f.pairs) == (c.before, c.after, c.pairs)
        };
        match out.last_mut() {
            Some(r) if same(r) => r.ports.push(c.port.to_string()),
            _ => out.push(Row {
                first: c,
                ports: vec![c.port.to_string()],
            }),
        }
    }
    out
}

fn sign(k: FlowChangeKind) -> &'static str {
    match k {
        FlowChangeKind::NowAllowed => "+",
        FlowChangeKind::NowDenied => "-",
        FlowChangeKind::Mixed => "~",
    }
}

fn policy_line(p: &PolicyChange) -> String {
    format!("{} ({}, {})", p.key, p.kind.as_str(), p.source)
}

fn cause_text(c: &FlowChange, d: &Diff) -> String {
    if c.causes.is_empty() {
        return "no policy of either end changed: labels, ports or namespaces did".to_string();
    }
    c.causes
        .iter()
        .map(|k| {
            let kind = d
                .policy_changes
                .iter()
                .find(|p| &p.key == k)
                .map_or("changed", |p| p.kind.as_str());
            format!("{k} ({kind})")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn counts(c: &FlowChange) -> String {
    format!("{}/{} -> {}/{} pairs", c.before, c.pairs, c.after, c.pairs)
}

fn summary(d: &Diff) -> String {
    format!(
        "{} flow(s) newly allowed, {} newly denied (workload pairs x ports, {} port(s) compared)",
        d.newly_allowed(),
        d.newly_denied(),
        d.ports.len()
    )
}

pub fn text(d: &Diff) -> String {
    let mut out = String::new();
    if d.policy_changes.is_empty() {
        out.push_str("policies: no change\n");
    } else {
        out.push_str(&format!("policies: {} changed\n", d.policy_changes.len()));
        for p in &d.policy_changes {
            out.push_str(&format!("  {}\n", policy_line(p)));
        }
    }
    out.push_str(&summary(d));
    out.push('\n');
    for r in rows(d) {
        let c = r.first;
        let allowed_label = if c.kind() == FlowChangeKind::NowDenied {
            "was allowed by"
        } else {
            "allowed by"
        };
        let denied_label = if c.kind() == FlowChangeKind::NowDenied {
            "denied by"
        } else {
            "was denied by"
        };
        out.push_str(&format!(
            "{} {} -> {}  {}  ({})\n",
            sign(c.kind()),
            c.from,
            c.to,
            r.ports.join(", "),
            counts(c)
        ));
        out.push_str(&format!("    cause: {}\n", cause_text(c, d)));
        if !c.allowed_by.is_empty() {
            out.push_str(&format!(
                "    {allowed_label}: {}\n",
                c.allowed_by.join("; ")
            ));
        }
        if !c.denied_by.is_empty() {
            out.push_str(&format!("    {denied_label}: {}\n", c.denied_by.join("; ")));
        }
    }
    if !d.added.is_empty() {
        out.push_str(&format!(
            "only in head (not compared): {}\n",
            d.added.join(", ")
        ));
    }
    if !d.removed.is_empty() {
        out.push_str(&format!(
            "only in base (not compared): {}\n",
            d.removed.join(", ")
        ));
    }
    out
}

fn port_json(c: &FlowChange) -> Value {
    match &c.port.port {
        PortRef::Number(n) => json!(n),
        PortRef::Name(s) => json!(s),
    }
}

pub fn json(d: &Diff) -> anyhow::Result<String> {
    let doc = json!({
        "ports": d.ports.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "policy_changes": d.policy_changes.iter().map(|p| json!({
            "policy": p.key,
            "change": p.kind.as_str(),
            "file": &*p.source.file,
            "line": p.source.line,
        })).collect::<Vec<_>>(),
        "changes": d.changes.iter().map(|c| json!({
            "from": &*c.from,
            "to": &*c.to,
            "port": port_json(c),
            "protocol": c.port.protocol.as_str(),
            "change": c.kind().as_str(),
            "pairs": c.pairs,
            "before": c.before,
            "after": c.after,
            "gained": c.gained,
            "lost": c.lost,
            "causes": &*c.causes,
            "allowed_by": c.allowed_by,
            "denied_by": c.denied_by,
        })).collect::<Vec<_>>(),
        "added": d.added,
        "removed": d.removed,
        "summary": {
            "newly_allowed": d.newly_allowed(),
            "newly_denied": d.newly_denied(),
        },
    });
    Ok(serde_json::to_string_pretty(&doc)? + "\n")
}

/// Table cells may not contain '|' or line breaks.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn code_list(items: &[String]) -> String {
    items
        .iter()
        .map(|s| format!("`{}`", cell(s)))
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn markdown(d: &Diff) -> String {
    let mut out = String::from("### NetworkPolicy connectivity diff\n\n");
    if d.changes.is_empty() {
        out.push_str("No connectivity change");
        if !d.policy_changes.is_empty() {
            out.push_str(&format!(
                " ({} polic{} changed)",
                d.policy_changes.len(),
                if d.policy_changes.len() == 1 {
                    "y"
                } else {
                    "ies"
                }
            ));
        }
        out.push_str(".\n");
    } else {
        out.push_str(&format!("**{}**\n", summary(d)));
    }
    if !d.policy_changes.is_empty() {
        out.push_str("\nPolicies changed:\n\n");
        for p in &d.policy_changes {
            out.push_str(&format!(
                "- `{}` {} (`{}`)\n",
                cell(&p.key),
                p.kind.as_str(),
                cell(&p.source.to_string())
            ));
        }
    }
    let rows = rows(d);
    if !rows.is_empty() {
        out.push_str("\n| change | from | to | ports | pod pairs allowed | cause | rules |\n");
        out.push_str("|---|---|---|---|---|---|---|\n");
        for r in rows.iter().take(MARKDOWN_ROWS) {
            let c = r.first;
            let change = match c.kind() {
                FlowChangeKind::NowAllowed => "**allowed**",
                FlowChangeKind::NowDenied => "**denied**",
                FlowChangeKind::Mixed => "**mixed**",
            };
            let mut rules = Vec::new();
            if !c.allowed_by.is_empty() {
                let label = if c.kind() == FlowChangeKind::NowDenied {
                    "was allowed by"
                } else {
                    "allowed by"
                };
                rules.push(format!("{label} {}", code_list(&c.allowed_by)));
            }
            if !c.denied_by.is_empty() {
                let label = if c.kind() == FlowChangeKind::NowDenied {
                    "denied by"
                } else {
                    "was denied by"
                };
                rules.push(format!("{label} {}", code_list(&c.denied_by)));
            }
            out.push_str(&format!(
                "| {change} | `{}` | `{}` | {} | {} → {} of {} | {} | {} |\n",
                cell(&c.from),
                cell(&c.to),
                cell(&r.ports.join(", ")),
                c.before,
                c.after,
                c.pairs,
                cell(&cause_text(c, d)),
                rules.join("<br>")
            ));
        }
        if rows.len() > MARKDOWN_ROWS {
            out.push_str(&format!(
                "\n… and {} more row(s); run `kubectl-netfence diff -o json` for all of them.\n",
                rows.len() - MARKDOWN_ROWS
            ));
        }
    }
    if !d.added.is_empty() {
        out.push_str(&format!(
            "\nOnly in head (not compared): {}\n",
            code_list(&d.added)
        ));
    }
    if !d.removed.is_empty() {
        out.push_str(&format!(
            "\nOnly in base (not compared): {}\n",
            code_list(&d.removed)
        ));
    }
    out
}
