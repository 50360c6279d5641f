//! NF201 and NF202: rules of a direction that the explicit policyTypes leaves out.

use crate::context::Context;
use crate::finding::Finding;
use netfence_model::field_lines::PolicyField;
use netfence_model::objects::Direction;
use netfence_model::PolicyId;

pub fn run(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for (pi, p) in ctx.model.cluster.policies.iter().enumerate() {
        let Some(declared) = &p.declared_types else {
            continue;
        };
        let types: Vec<&str> = declared
            .iter()
            .map(|d| match d {
                Direction::Ingress => "Ingress",
                Direction::Egress => "Egress",
            })
            .collect();
        for (d, rules, id) in [
            (Direction::Egress, &p.egress_rules, "NF201"),
            (Direction::Ingress, &p.ingress_rules, "NF202"),
        ] {
            if !rules.is_empty() && !p.affects(d) {
                out.push(ctx.finding_at(
                    id,
                    PolicyId(pi as u32),
                    PolicyField::PolicyTypes,
                    format!(
                        "has {} {d} rule(s) but policyTypes is [{}]: they are ignored, and {d} is not isolated by this policy",
                        rules.len(),
                        types.join(", ")
                    ),
                ));
            }
        }
    }
}
