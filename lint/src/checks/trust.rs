//! NF501 namespaceSelector on labels anyone who can label a namespace can claim; NF502
//! `namespaceSelector: {}` with a podSelector, which any tenant can satisfy.

use crate::context::{rule_path, Context};
use crate::finding::Finding;
use netfence_model::field_lines::PolicyField;
use netfence_model::objects::{Direction, Peer};
use std::collections::BTreeSet;

const NAME_LABEL: &str = "kubernetes.io/metadata.name";

pub fn run(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for r in ctx.rules().filter(|r| r.direction == Direction::Ingress) {
        for (i, peer) in r.rule.peers.iter().enumerate() {
            let Peer::Selectors {
                namespace: Some(ns),
                pod,
            } = peer
            else {
                continue;
            };
            let path = rule_path(r.direction, r.index, Some(i));
            if ns.is_empty() {
                if let Some(pod) = pod.as_ref().filter(|p| !p.is_empty()) {
                    out.push(ctx.finding_at(
                        "NF502",
                        r.policy,
                        PolicyField::PeerNamespaceSelector(r.direction, r.index, i),
                        format!(
                            "{path}: namespaceSelector {{}} with podSelector {pod} admits pods labelled {pod} in every namespace: anyone who can create a pod anywhere can get in"
                        ),
                    ));
                }
                continue;
            }
            let keys: BTreeSet<&str> = ns
                .match_labels
                .keys()
                .map(String::as_str)
                .chain(ns.match_expressions.iter().map(|r| r.key.as_str()))
                .filter(|k| *k != NAME_LABEL)
                .collect();
            if !keys.is_empty() {
                out.push(ctx.finding_at(
                    "NF501",
                    r.policy,
                    PolicyField::PeerNamespaceSelector(r.direction, r.index, i),
                    format!(
                        "{path}: namespaceSelector {ns} trusts namespace label(s) {}: whoever can label a namespace gets in; {NAME_LABEL} cannot be claimed",
                        keys.into_iter().collect::<Vec<_>>().join(", ")
                    ),
                ));
            }
        }
    }
}
