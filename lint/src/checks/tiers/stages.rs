//! The tiers against NetworkPolicy: NF803 a Baseline Deny that NetworkPolicy always
//! decides before, NF805 an Admin Accept deciding what NetworkPolicy alone would deny.

use super::walk::Point;
use super::{connection, ports_sample, rule_of, RuleKey};
use crate::context::Context;
use crate::finding::{Finding, Subject};
use netfence_model::objects::Direction;
use netfence_model::tier::{Tier, TierAction};
use netfence_model::tiers::{TierPolicyId, TierStack};
use netfence_model::{EndpointId, EndpointSet, Isolation, Model, Party, SubjectIsolation};
use std::collections::{BTreeMap, BTreeSet};

/// The NetworkPolicies (`ns/name`) isolating `e` in direction `d`, if it is isolated.
fn isolating(model: &Model, e: EndpointId, d: Direction) -> Option<Vec<String>> {
    match model.subject_isolation(e, d) {
        SubjectIsolation::Isolated(u) => Some(model.policy_keys(u)),
        SubjectIsolation::Open | SubjectIsolation::HostNetwork => None,
    }
}

fn list(names: &BTreeSet<String>) -> String {
    let shown: Vec<&str> = names.iter().take(3).map(String::as_str).collect();
    if names.len() > 3 {
        format!("{} (+{} more)", shown.join(", "), names.len() - 3)
    } else {
        shown.join(", ")
    }
}

/// NF803: a Baseline Deny every subject pod of which NetworkPolicy isolates in that
/// direction. NetworkPolicy decides every connection that reaches it for an isolated
/// pod, so the Baseline tier is never consulted for them.
pub(super) fn baseline_overridden(
    ctx: &Context<'_>,
    subjects: &[EndpointSet],
    out: &mut Vec<Finding>,
) {
    let model = ctx.model;
    for (pi, p) in model.cluster.tier_policies.iter().enumerate() {
        if p.tier != Tier::Baseline || subjects[pi].is_empty() {
            continue;
        }
        for d in Direction::BOTH {
            let denies: Vec<usize> = (0..p.rules(d).len())
                .filter(|&r| p.rules(d)[r].action == TierAction::Deny)
                .collect();
            if denies.is_empty() {
                continue;
            }
            let mut nps = BTreeSet::new();
            let all_isolated = subjects[pi].iter().all(|e| {
                isolating(model, EndpointId(e as u32), d).is_some_and(|keys| {
                    nps.extend(keys);
                    true
                })
            });
            if !all_isolated {
                continue;
            }
            for rule in denies {
                let k = RuleKey {
                    policy: TierPolicyId(pi as u32),
                    direction: d,
                    rule,
                };
                out.push(ctx.finding(
                    "NF803",
                    Subject::TierPolicy(pi),
                    format!(
                        "{} never applies: all {} subject pod(s) ({}) are isolated for {d} by NetworkPolicy {}, which decides every connection that reaches it, so the Baseline tier is never consulted for them (exact over the input's pods)",
                        rule_of(&model.cluster, k),
                        subjects[pi].count(),
                        ctx.sample(&subjects[pi], 3),
                        list(&nps)
                    ),
                ));
            }
        }
    }
}

/// One connection an Admin Accept decides that NetworkPolicy alone would deny.
struct Example {
    subject: EndpointId,
    other: Party,
    ports: netfence_model::PortSet,
    policies: Vec<String>,
}

/// NF805, gathered over the walk.
#[derive(Default)]
pub(super) struct Accepts {
    found: BTreeMap<RuleKey, Example>,
}

impl Accepts {
    pub fn visit(&mut self, model: &Model, stack: &TierStack, pt: &Point<'_>) {
        if stack.tier != Tier::Admin {
            return;
        }
        for (i, c) in pt.stage.checks.iter().enumerate() {
            let el = &stack.elements[i];
            if el.action != TierAction::Accept || c.decided.is_empty() {
                continue;
            }
            let k = RuleKey {
                policy: el.policy,
                direction: el.direction,
                rule: el.rule,
            };
            if self.found.contains_key(&k) {
                continue;
            }
            // The own-node exception and the open directions let everything through in
            // the NetworkPolicy stage.
            let Isolation::Isolated(u) =
                model.isolation(Party::Endpoint(pt.subject), stack.direction, pt.other)
            else {
                continue;
            };
            let np = model.union_allowed(u, pt.other, pt.family, pt.dst);
            let denied = c.decided.difference(&np);
            if denied.is_empty() {
                continue;
            }
            self.found.insert(
                k,
                Example {
                    subject: pt.subject,
                    other: pt.other,
                    ports: denied,
                    policies: model.policy_keys(u),
                },
            );
        }
    }

    pub fn finish(self, ctx: &Context<'_>, out: &mut Vec<Finding>) {
        let cluster = &ctx.model.cluster;
        for (k, ex) in self.found {
            let d = k.direction;
            out.push(ctx.finding(
                "NF805",
                Subject::TierPolicy(k.policy.index()),
                format!(
                    "{} accepts {} {}, which NetworkPolicy alone would deny ({} is isolated for {d} by NetworkPolicy {}): an Admin Accept is final, so the namespace's NetworkPolicies cannot narrow it (one example of the input)",
                    rule_of(cluster, k),
                    ports_sample(&ex.ports),
                    connection(cluster, d, Party::Endpoint(ex.subject), ex.other),
                    cluster.endpoint_name(ex.subject),
                    ex.policies.join(", "),
                ),
            ));
        }
    }
}
