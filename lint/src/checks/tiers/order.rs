//! How the order of a tier decides: NF801 two policies of equal priority whose rules
//! match one connection, NF802 a rule every connection of which an earlier rule of the
//! tier already decided, NF804 a Pass that decides nothing differently from no match.

use super::walk::Point;
use super::{connection, policy, policy_desc, ports_sample, rule_desc, rule_of, RuleKey};
use crate::context::Context;
use crate::finding::{Finding, Subject};
use netfence_model::objects::Direction;
use netfence_model::tier::{Tier, TierAction};
use netfence_model::tiers::{TierPolicyId, TierStack};
use netfence_model::{Cluster, EndpointSet, Party};
use std::collections::{BTreeMap, BTreeSet};

/// The first overlap seen of two equal-priority policies in one direction.
struct Overlap {
    first: usize,
    second: usize,
    example: String,
    /// Do the two rules of the example have different actions?
    differ: bool,
    /// Every pair of (first's rule, second's rule) seen to overlap.
    pairs: BTreeSet<(usize, usize)>,
}

/// Would a rule with this action after a Pass decide the passed traffic otherwise than
/// the Pass does? In the Admin tier a Pass goes on to NetworkPolicy, as no match does,
/// so a later Accept or Deny would differ; in the Baseline tier a Pass ends in the
/// default allow, so only a later Deny would.
fn differs_from_pass(tier: Tier, action: TierAction) -> bool {
    match tier {
        Tier::Admin => action != TierAction::Pass,
        Tier::Baseline => action == TierAction::Deny,
    }
}

#[derive(Default)]
pub(super) struct Order {
    /// Element pairs (earlier, later) of the current stack from different policies of
    /// equal priority.
    pairs: Vec<(usize, usize)>,
    overlaps: BTreeMap<(TierPolicyId, TierPolicyId, Direction), Overlap>,
    /// Rules that match some connection on some port.
    matched: BTreeSet<RuleKey>,
    /// Rules that decide some port of some connection.
    decided: BTreeSet<RuleKey>,
    /// The earlier rules that decided what a rule matched.
    shadowers: BTreeMap<RuleKey, BTreeSet<RuleKey>>,
    /// Pass rules that pass something, and those of them that some later rule would
    /// have decided otherwise.
    passed: BTreeSet<RuleKey>,
    pass_matters: BTreeSet<RuleKey>,
}

fn key(stack: &TierStack, i: usize) -> RuleKey {
    let el = &stack.elements[i];
    RuleKey {
        policy: el.policy,
        direction: el.direction,
        rule: el.rule,
    }
}

impl Order {
    /// Before the points of a stack.
    pub fn start(&mut self, cluster: &Cluster, stack: &TierStack) {
        self.pairs.clear();
        let els = &stack.elements;
        for i in 0..els.len() {
            for j in i + 1..els.len() {
                let (a, b) = (
                    policy(cluster, els[i].policy),
                    policy(cluster, els[j].policy),
                );
                if els[i].policy != els[j].policy && a.priority == b.priority {
                    self.pairs.push((i, j));
                }
            }
        }
    }

    pub fn visit(&mut self, cluster: &Cluster, stack: &TierStack, pt: &Point<'_>) {
        let checks = &pt.stage.checks;
        for (i, c) in checks.iter().enumerate() {
            let k = key(stack, i);
            if !c.peer_matched || c.ports.is_empty() {
                continue;
            }
            self.matched.insert(k);
            if !c.decided.is_empty() {
                self.decided.insert(k);
                self.shadowers.remove(&k);
            } else if !self.decided.contains(&k) {
                let by = self.shadowers.entry(k).or_default();
                for (j, earlier) in checks[..i].iter().enumerate() {
                    if !earlier.decided.intersection(&c.ports).is_empty() {
                        by.insert(key(stack, j));
                    }
                }
            }
            if stack.elements[i].action == TierAction::Pass && !c.decided.is_empty() {
                self.passed.insert(k);
                if !self.pass_matters.contains(&k) {
                    let mut left = c.decided.clone();
                    for (j, later) in checks.iter().enumerate().skip(i + 1) {
                        if !later.peer_matched {
                            continue;
                        }
                        let m = later.ports.intersection(&left);
                        if m.is_empty() {
                            continue;
                        }
                        if differs_from_pass(stack.tier, stack.elements[j].action) {
                            self.pass_matters.insert(k);
                            break;
                        }
                        left = left.difference(&m);
                        if left.is_empty() {
                            break;
                        }
                    }
                }
            }
        }
        for &(i, j) in &self.pairs {
            let (ci, cj) = (&checks[i], &checks[j]);
            if !ci.peer_matched || !cj.peer_matched {
                continue;
            }
            let common = ci.ports.intersection(&cj.ports);
            if common.is_empty() {
                continue;
            }
            let (ei, ej) = (&stack.elements[i], &stack.elements[j]);
            let differ = ei.action != ej.action;
            let entry = self.overlaps.entry((ei.policy, ej.policy, stack.direction));
            let example = || {
                format!(
                    "{} of {} and {} of {} both match {} {}",
                    rule_desc(policy(cluster, ei.policy), ei.direction, ei.rule),
                    policy(cluster, ei.policy).key(),
                    rule_desc(policy(cluster, ej.policy), ej.direction, ej.rule),
                    policy(cluster, ej.policy).key(),
                    ports_sample(&common),
                    connection(
                        cluster,
                        stack.direction,
                        Party::Endpoint(pt.subject),
                        pt.other
                    )
                )
            };
            let o = entry.or_insert_with(|| Overlap {
                first: ei.rule,
                second: ej.rule,
                example: example(),
                differ,
                pairs: BTreeSet::new(),
            });
            if differ && !o.differ {
                o.first = ei.rule;
                o.second = ej.rule;
                o.example = example();
                o.differ = true;
            }
            o.pairs.insert((ei.rule, ej.rule));
        }
    }

    pub fn finish(self, ctx: &Context<'_>, subjects: &[EndpointSet], out: &mut Vec<Finding>) {
        let cluster = &ctx.model.cluster;
        for ((a, b, d), o) in &self.overlaps {
            let (pa, pb) = (policy(cluster, *a), policy(cluster, *b));
            let why = if pa.name != pb.name {
                "equal priorities go by name"
            } else {
                "equal priorities go by name, then kind"
            };
            let first_action = pa.rules(*d)[o.first].action;
            let second_action = pb.rules(*d)[o.second].action;
            let verdict = if o.differ {
                format!(
                    "so its {first_action} wins over the {second_action}, and other implementations may decide otherwise"
                )
            } else {
                format!(
                    "both are {first_action}, so the verdict is the same here, but other implementations may take either rule first"
                )
            };
            let more = match o.pairs.len() {
                1 => String::new(),
                n => format!(" ({n} overlapping {d} rule pairs in all)"),
            };
            out.push(ctx.finding(
                "NF801",
                Subject::TierPolicy(b.index()),
                format!(
                    "{} has the same priority as {} and their {d} rules can match the same connection: {}; the order of equal priorities is undefined upstream: netfence evaluates {} first ({why}), {verdict}{more}",
                    policy_desc(pb),
                    pa.key(),
                    o.example,
                    pa.key()
                ),
            ));
        }
        for k in self.matched.difference(&self.decided) {
            let by: Vec<String> = self
                .shadowers
                .get(k)
                .into_iter()
                .flatten()
                .map(|s| rule_of(cluster, *s))
                .collect();
            if by.is_empty() {
                continue;
            }
            let shown = by.iter().take(3).cloned().collect::<Vec<_>>().join("; ");
            let more = if by.len() > 3 {
                format!(" (+{} more)", by.len() - 3)
            } else {
                String::new()
            };
            out.push(ctx.finding(
                "NF802",
                Subject::TierPolicy(k.policy.index()),
                format!(
                    "{} never decides anything: for each of its {} subject pod(s), every peer and port it matches is decided earlier in the {} tier by {shown}{more} (exact over the input's pods and addresses)",
                    rule_of(cluster, *k),
                    subjects[k.policy.index()].count(),
                    policy(cluster, k.policy).tier
                ),
            ));
        }
        for k in self.passed.difference(&self.pass_matters) {
            let p = policy(cluster, k.policy);
            let why = match p.tier {
                Tier::Admin => "no later Admin rule would Accept or Deny any of the traffic it passes, so it behaves as no match: NetworkPolicy, then the Baseline tier, decide that traffic either way",
                Tier::Baseline => "a Baseline Pass ends in the default allow, like no match, and no later Baseline rule would Deny any of the traffic it passes, so dropping it allows the same",
            };
            out.push(ctx.finding(
                "NF804",
                Subject::TierPolicy(k.policy.index()),
                format!(
                    "{} changes nothing for its {} subject pod(s): {why} (exact over the input's pods and addresses)",
                    rule_of(cluster, *k),
                    subjects[k.policy.index()].count()
                ),
            ));
        }
    }
}
