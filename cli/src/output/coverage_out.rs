//! Coverage output: a table per namespace, or JSON.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{ContentArrangement, Table};
use netfence_lint::coverage::{Isolation, NamespaceCoverage};
use netfence_lint::exposure::{DirectionExposure, Exposure};
use serde_json::{json, Value};

/// How many outside classes a cell names before it says how many more there are.
const SHOWN_CLASSES: usize = 2;

/// A direction's isolation, with "allows all" when its policies restrict nothing.
fn state(i: Isolation, x: &DirectionExposure) -> String {
    if x.allows_all {
        format!("{}, allows all", i.label())
    } else {
        i.label()
    }
}

/// `no`, `yes (any)`, or the classes with their ports: `203.0.113.0/24: TCP 443`.
fn outside(x: &DirectionExposure) -> String {
    if x.outside.is_empty() {
        return "no".into();
    }
    if x.outside_any {
        return "yes (any)".into();
    }
    let mut parts: Vec<String> = x
        .outside
        .iter()
        .take(SHOWN_CLASSES)
        .map(|(c, p)| format!("{c}: {p}"))
        .collect();
    if x.outside.len() > SHOWN_CLASSES {
        parts.push(format!("+{} more", x.outside.len() - SHOWN_CLASSES));
    }
    format!("yes ({})", parts.join("; "))
}

/// `exposure[n][w]` is the exposure of workload `w` of namespace `n`.
pub fn table(namespaces: &[NamespaceCoverage], exposure: &[Vec<Exposure>]) -> String {
    let mut out = String::new();
    let (mut total, mut both, mut open, mut all) = (0, 0, 0, 0);
    // The guardrails column only where some tiered policy selects anything.
    let tiered = namespaces.iter().any(|ns| !ns.guardrails.is_empty());
    for (ns, exposure) in namespaces.iter().zip(exposure) {
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
        let mut header = vec![
            "workload",
            "pods",
            "ingress",
            "egress",
            "from outside",
            "to outside",
            "policies",
        ];
        if tiered {
            header.push("guardrails");
        }
        t.load_preset(UTF8_FULL_CONDENSED)
            .set_content_arrangement(ContentArrangement::Disabled)
            .set_header(header);
        for (w, x) in ns.workloads.iter().zip(exposure) {
            total += 1;
            if w.ingress == Isolation::Isolated && w.egress == Isolation::Isolated {
                both += 1;
            }
            if x.ingress.allows_all || x.egress.allows_all {
                all += 1;
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
                state(w.ingress, &x.ingress),
                state(w.egress, &x.egress),
                outside(&x.ingress),
                outside(&x.egress),
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
        "{total} workload(s) and standalone pod(s): {both} isolated for ingress and egress, \
         {all} isolated but allowing all in a direction, {open} wide open\n"
    ));
    out
}

fn isolation(i: Isolation, x: &DirectionExposure) -> Value {
    let mut v = match i {
        Isolation::Isolated => json!({"state": "isolated"}),
        Isolation::Partial(k, n) => json!({"state": "partial", "isolated_pods": k, "pods": n}),
        Isolation::Open => json!({"state": "open"}),
        Isolation::HostNetwork => json!({"state": "host-network"}),
    };
    v["allows_all"] = json!(x.allows_all);
    v
}

fn outside_json(x: &DirectionExposure) -> Value {
    json!({
        "any": x.outside_any,
        "addresses": x.outside.iter().map(|(c, p)| json!({
            "cidr": c.cidr.to_string(),
            "except": c.except.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "ports": p.to_string(),
        })).collect::<Vec<_>>(),
    })
}

pub fn json(
    namespaces: &[NamespaceCoverage],
    exposure: &[Vec<Exposure>],
) -> anyhow::Result<String> {
    let doc: Vec<Value> = namespaces
        .iter()
        .zip(exposure)
        .map(|(ns, exposure)| {
            json!({
                "namespace": ns.name,
                "policies": ns.policies,
                "guardrails": ns.guardrails,
                "workloads": ns.workloads.iter().zip(exposure).map(|(w, x)| json!({
                    "name": w.name,
                    "pods": w.pods,
                    "ingress": isolation(w.ingress, &x.ingress),
                    "egress": isolation(w.egress, &x.egress),
                    "reachable_from_outside": outside_json(&x.ingress),
                    "reaches_outside": outside_json(&x.egress),
                    "wide_open": w.wide_open(),
                    "policies": w.policies,
                    "guardrails": w.guardrails,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(serde_json::to_string_pretty(&json!({ "namespaces": doc }))? + "\n")
}
