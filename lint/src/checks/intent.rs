//! NF205 and NF206: what the name (or annotations) says against what the policy does.

use crate::context::Context;
use crate::finding::{Finding, Subject};
use netfence_model::field_lines::PolicyField;
use netfence_model::objects::{Direction, Policy};
use netfence_model::PolicyId;

/// Lower-case words of the name and of the annotation values (not the
/// last-applied-configuration, which holds the whole object).
fn words(p: &Policy) -> Vec<String> {
    let mut text = p.meta.name.clone();
    for (k, v) in &p.meta.annotations {
        if !k.ends_with("last-applied-configuration") {
            text.push(' ');
            text.push_str(v);
        }
    }
    text.to_ascii_lowercase()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

fn says_deny(w: &[String]) -> bool {
    w.iter().any(|x| {
        matches!(
            x.as_str(),
            "deny" | "denies" | "denyall" | "block" | "blocks" | "isolate" | "lockdown"
        )
    })
}

fn says_allow_all(w: &[String]) -> bool {
    w.iter().any(|x| x == "allowall")
        || w.windows(2)
            .any(|p| p[0] == "allow" && matches!(p[1].as_str(), "all" | "any" | "everything"))
}

/// The directions the words name; none named means every direction.
fn named_directions(w: &[String]) -> Vec<Direction> {
    let named: Vec<Direction> = Direction::BOTH
        .into_iter()
        .filter(|d| w.iter().any(|x| x == d.as_str()))
        .collect();
    named
}

/// Index of a rule `{}`: no peers, no ports.
fn allow_all_rule(p: &Policy, d: Direction) -> Option<usize> {
    p.rules(d)
        .iter()
        .position(|r| r.peers.is_empty() && r.ports.is_empty())
}

pub fn run(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for (pi, p) in ctx.model.cluster.policies.iter().enumerate() {
        let w = words(p);
        let (deny, allow_all) = (says_deny(&w), says_allow_all(&w));
        if deny == allow_all {
            continue;
        }
        let named = named_directions(&w);
        let scope: Vec<(Direction, bool)> = if named.is_empty() {
            Direction::BOTH
                .into_iter()
                .filter(|d| p.affects(*d))
                .map(|d| (d, false))
                .collect()
        } else {
            named.into_iter().map(|d| (d, true)).collect()
        };
        let id = PolicyId(pi as u32);
        for (d, explicit) in scope {
            let message = if explicit && !p.affects(d) {
                Some((Some(PolicyField::PolicyTypes), format!(
                    "its name says {}, but {d} is not in its effective policyTypes: it {} no {d} at all",
                    if deny { "deny" } else { "allow all" },
                    if deny { "denies" } else { "allows" },
                )))
            } else if deny {
                allow_all_rule(p, d).map(|i| {
                    (Some(PolicyField::Rule(d, i)), format!("its name says deny, but its rule {d}[{i}] (no peers, no ports) allows all {d}"))
                })
            } else if allow_all_rule(p, d).is_none() {
                let n = p.rules(d).len();
                // About the policy as a whole: at its own line.
                Some((
                    None,
                    if n == 0 {
                        format!("its name says allow all, but it has no {d} rule: it isolates the selected pods and allows no {d}")
                    } else {
                        format!("its name says allow all, but none of its {n} {d} rule(s) is `{{}}`: it allows only what they list")
                    },
                ))
            } else {
                None
            };
            let check = if deny { "NF205" } else { "NF206" };
            match message {
                Some((Some(field), m)) => out.push(ctx.finding_at(check, id, field, m)),
                Some((None, m)) => out.push(ctx.finding(check, Subject::Policy(id), m)),
                None => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<String> {
        s.split('-').map(str::to_string).collect()
    }

    #[test]
    fn reads_intent_from_words() {
        assert!(says_deny(&w("default-deny-egress")));
        assert!(!says_deny(&w("denylist-sync")));
        assert!(says_allow_all(&w("allow-all-ingress")));
        assert!(!says_allow_all(&w("allow-frontend-all")));
        assert_eq!(
            named_directions(&w("default-deny-egress")),
            vec![Direction::Egress]
        );
        assert!(named_directions(&w("default-deny")).is_empty());
    }
}
