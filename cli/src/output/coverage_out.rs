//! Coverage output: a table per namespace, or JSON.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{ContentArrangement, Table};
use netfence_lint::coverage::{Isolation, NamespaceCoverage};
use serde_json::{json, Value};

pub fn table(namespaces: &[NamespaceCoverage]) -> String {
    let mut out = String::new();
    let (mut total, mut both, mut open) = (0, 0, 0);
    // The guardrails column only where some tiered policy selects anything.
    let tiered = namespaces.iter().any(|ns| !ns.guardrails.is_empty());
    for ns in namespaces {
        let guardrails = if tiered {
            format!(
                ", {} guardrail{}",
                ns.guardrails.len(),
                if ns.guardrails.len() == 1 { "" } else { "s" }
            )
        } else {
            String::new()
        };
        out.push_str(&format!(
            "namespace {} ({} polic{}{guardrails})\n",
            ns.name,
            ns.policies,
            if ns.policies == 1 { "y" } else { "ies" }
        ));
        let mut t = Table::new();
        let mut header = vec!["workload", "pods", "ingress", "egress", "policies"];
        if tiered {
            header.push("guardrails");
        }
        t.load_preset(UTF8_FULL_CONDENSED)
            .set_content_arrangement(ContentArrangement::Disabled)
            .set_header(header);
        for w in &ns.workloads {
            total += 1;
            if w.ingress == Isolation::Isolated && w.egress == Isolation::Isolated {
                both += 1;
            }
            if w.wide_open() {
                open += 1;
            }
            let policies = if w.policies.is_empty() {
                "-".to_string()
            } else {
                w.policies.join(", ")
            };
            let mut row = vec![
                w.name.clone(),
                w.pods.to_string(),
                w.ingress.label(),
                w.egress.label(),
                policies,
            ];
            if tiered {
                row.push(if w.guardrails.is_empty() {
                    "-".to_string()
                } else {
                    w.guardrails.join(", ")
                });
            }
            t.add_row(row);
        }
        out.push_str(&t.to_string());
        out.push_str("\n\n");
    }
    out.push_str(&format!(
        "{total} workload(s) and standalone pod(s): {both} isolated for ingress and egress, {open} wide open\n"
    ));
    out
}

fn isolation(i: Isolation) -> Value {
    match i {
        Isolation::Isolated => json!({"state": "isolated"}),
        Isolation::Partial(k, n) => json!({"state": "partial", "isolated_pods": k, "pods": n}),
        Isolation::Open => json!({"state": "open"}),
        Isolation::HostNetwork => json!({"state": "host-network"}),
    }
}

pub fn json(namespaces: &[NamespaceCoverage]) -> anyhow::Result<String> {
    let doc: Vec<Value> = namespaces
        .iter()
        .map(|ns| {
            json!({
                "namespace": ns.name,
                "policies": ns.policies,
                "guardrails": ns.guardrails,
                "workloads": ns.workloads.iter().map(|w| json!({
                    "name": w.name,
                    "pods": w.pods,
                    "ingress": isolation(w.ingress),
                    "egress": isolation(w.egress),
                    "wide_open": w.wide_open(),
                    "policies": w.policies,
                    "guardrails": w.guardrails,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(serde_json::to_string_pretty(&json!({ "namespaces": doc }))? + "\n")
}
