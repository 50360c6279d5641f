//! Label selectors: matchLabels AND matchExpressions, with the API's semantics.

use crate::truth::Truth;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

pub type Labels = BTreeMap<String, String>;

#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum Operator {
    In(BTreeSet<String>),
    NotIn(BTreeSet<String>),
    Exists,
    DoesNotExist,
}

#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Requirement {
    pub key: String,
    pub op: Operator,
}

impl Requirement {
    /// Builds a requirement, validating operator and values as the API server does.
    pub fn parse(key: &str, operator: &str, values: &[String]) -> Result<Requirement, String> {
        if key.is_empty() {
            return Err("matchExpressions key must not be empty".into());
        }
        let set: BTreeSet<String> = values.iter().cloned().collect();
        let op = match operator {
            "In" | "NotIn" if set.is_empty() => {
                return Err(format!(
                    "operator {operator} on key {key:?} requires at least one value"
                ))
            }
            "In" => Operator::In(set),
            "NotIn" => Operator::NotIn(set),
            "Exists" | "DoesNotExist" if !set.is_empty() => {
                return Err(format!(
                    "operator {operator} on key {key:?} must not have values"
                ))
            }
            "Exists" => Operator::Exists,
            "DoesNotExist" => Operator::DoesNotExist,
            other => {
                return Err(format!(
                    "unknown matchExpressions operator {other:?} on key {key:?}: \
                     must be one of In, NotIn, Exists, DoesNotExist"
                ))
            }
        };
        Ok(Requirement {
            key: key.to_string(),
            op,
        })
    }

    /// NotIn and DoesNotExist hold for objects that lack the key; In and Exists do not.
    pub fn matches(&self, labels: &Labels) -> bool {
        let v = labels.get(&self.key);
        match &self.op {
            Operator::In(vals) => v.is_some_and(|v| vals.contains(v)),
            Operator::NotIn(vals) => v.is_none_or(|v| !vals.contains(v)),
            Operator::Exists => v.is_some(),
            Operator::DoesNotExist => v.is_none(),
        }
    }

    /// [`Requirement::matches`] when `labels` may be incomplete: a key they lack could
    /// be set to anything (or not at all), so the requirement's truth is unknown.
    pub fn truth(&self, labels: &Labels, complete: bool) -> Truth {
        if complete || labels.contains_key(&self.key) {
            Truth::from(self.matches(labels))
        } else {
            Truth::Unknown
        }
    }
}

fn join(vals: &BTreeSet<String>) -> String {
    vals.iter().cloned().collect::<Vec<_>>().join(",")
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.op {
            Operator::In(v) => write!(f, "{} in ({})", self.key, join(v)),
            Operator::NotIn(v) => write!(f, "{} notin ({})", self.key, join(v)),
            Operator::Exists => write!(f, "{}", self.key),
            Operator::DoesNotExist => write!(f, "!{}", self.key),
        }
    }
}

/// A label selector. Empty matches everything; "absent" is modelled by the caller as
/// `Option<LabelSelector>`.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct LabelSelector {
    pub match_labels: Labels,
    pub match_expressions: Vec<Requirement>,
}

impl LabelSelector {
    pub fn everything() -> Self {
        Self::default()
    }

    pub fn is_empty(&self) -> bool {
        self.match_labels.is_empty() && self.match_expressions.is_empty()
    }

    pub fn matches(&self, labels: &Labels) -> bool {
        self.match_labels
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
            && self.match_expressions.iter().all(|r| r.matches(labels))
    }

    /// Three-valued matching: with `complete` the labels are known exactly (the answer is
    /// [`LabelSelector::matches`]); without, they are these labels plus unknown others,
    /// and a requirement on a key they lack is unknown (Kleene AND over all of them).
    pub fn truth(&self, labels: &Labels, complete: bool) -> Truth {
        let mut out = Truth::True;
        for (k, v) in &self.match_labels {
            out = out.and(match labels.get(k) {
                Some(actual) => Truth::from(actual == v),
                None if complete => Truth::False,
                None => Truth::Unknown,
            });
            if out == Truth::False {
                return out;
            }
        }
        for r in &self.match_expressions {
            out = out.and(r.truth(labels, complete));
            if out == Truth::False {
                return out;
            }
        }
        out
    }

    /// The keys the selector needs that `labels` lack (what makes its truth unknown on
    /// incomplete labels), in order.
    pub fn missing_keys(&self, labels: &Labels) -> Vec<String> {
        let mut keys: Vec<String> = self
            .match_labels
            .keys()
            .chain(self.match_expressions.iter().map(|r| &r.key))
            .filter(|k| !labels.contains_key(*k))
            .cloned()
            .collect();
        keys.dedup();
        keys
    }

    /// The first requirement that `labels` fail, described for a person.
    pub fn mismatch(&self, labels: &Labels) -> Option<String> {
        for (k, v) in &self.match_labels {
            match labels.get(k) {
                None => return Some(format!("{k}={v} (label {k} is absent)")),
                Some(actual) if actual != v => {
                    return Some(format!("{k}={v} (it has {k}={actual})"))
                }
                _ => {}
            }
        }
        for r in &self.match_expressions {
            if !r.matches(labels) {
                let have = match labels.get(&r.key) {
                    Some(v) => format!("it has {}={v}", r.key),
                    None => format!("label {} is absent", r.key),
                };
                return Some(format!("{r} ({have})"));
            }
        }
        None
    }
}

impl fmt::Display for LabelSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("{}");
        }
        let mut parts: Vec<String> = self
            .match_labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        parts.extend(self.match_expressions.iter().map(ToString::to_string));
        f.write_str(&parts.join(","))
    }
}

/// Formats a label map as `k=v,k2=v2` (or `<none>`).
pub fn format_labels(labels: &Labels) -> String {
    if labels.is_empty() {
        return "<none>".into();
    }
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn req(k: &str, op: &str, vals: &[&str]) -> Requirement {
        let v: Vec<String> = vals.iter().map(|s| s.to_string()).collect();
        Requirement::parse(k, op, &v).unwrap()
    }

    #[test]
    fn empty_selector_matches_everything() {
        assert!(LabelSelector::everything().matches(&labels(&[])));
        assert!(LabelSelector::everything().matches(&labels(&[("a", "b")])));
    }

    #[test]
    fn match_labels_and_expressions_are_anded() {
        let s = LabelSelector {
            match_labels: labels(&[("app", "web")]),
            match_expressions: vec![req("tier", "In", &["front", "edge"])],
        };
        assert!(s.matches(&labels(&[("app", "web"), ("tier", "edge")])));
        assert!(!s.matches(&labels(&[("app", "web"), ("tier", "back")])));
        assert!(!s.matches(&labels(&[("app", "db"), ("tier", "front")])));
        assert!(!s.matches(&labels(&[("app", "web")])));
    }

    #[test]
    fn notin_and_doesnotexist_match_missing_keys() {
        let none = labels(&[]);
        assert!(req("env", "NotIn", &["prod"]).matches(&none));
        assert!(req("env", "DoesNotExist", &[]).matches(&none));
        assert!(!req("env", "In", &["prod"]).matches(&none));
        assert!(!req("env", "Exists", &[]).matches(&none));
        let prod = labels(&[("env", "prod")]);
        assert!(!req("env", "NotIn", &["prod"]).matches(&prod));
        assert!(!req("env", "DoesNotExist", &[]).matches(&prod));
        assert!(req("env", "In", &["prod", "dev"]).matches(&prod));
        assert!(req("env", "Exists", &[]).matches(&prod));
    }

    #[test]
    fn operator_validation() {
        assert!(Requirement::parse("a", "Equals", &[]).is_err());
        assert!(Requirement::parse("a", "in", &["x".into()]).is_err());
        assert!(Requirement::parse("a", "In", &[]).is_err());
        assert!(Requirement::parse("a", "Exists", &["x".into()]).is_err());
    }

    #[test]
    fn truth_on_complete_labels_is_matches() {
        let sels = [
            LabelSelector::everything(),
            LabelSelector {
                match_labels: labels(&[("team", "a")]),
                match_expressions: vec![],
            },
            LabelSelector {
                match_labels: Labels::new(),
                match_expressions: vec![req("team", "DoesNotExist", &[])],
            },
        ];
        for l in [
            labels(&[]),
            labels(&[("team", "a")]),
            labels(&[("team", "b")]),
        ] {
            for s in &sels {
                assert_eq!(
                    s.truth(&l, true),
                    Truth::from(s.matches(&l)),
                    "{s} on {l:?}"
                );
            }
        }
    }

    #[test]
    fn truth_on_incomplete_labels() {
        let name = "kubernetes.io/metadata.name";
        let known = labels(&[(name, "monitoring")]);
        let sel = |ml: &[(&str, &str)], ex: Vec<Requirement>| LabelSelector {
            match_labels: labels(ml),
            match_expressions: ex,
        };
        // Decided by the labels that are known.
        assert_eq!(sel(&[], vec![]).truth(&known, false), Truth::True);
        assert_eq!(
            sel(&[(name, "monitoring")], vec![]).truth(&known, false),
            Truth::True
        );
        assert_eq!(
            sel(&[(name, "shop")], vec![]).truth(&known, false),
            Truth::False
        );
        assert_eq!(
            sel(&[], vec![req(name, "In", &["monitoring", "x"])]).truth(&known, false),
            Truth::True
        );
        // A false known part decides even next to an unknown one.
        assert_eq!(
            sel(&[(name, "shop"), ("team", "ops")], vec![]).truth(&known, false),
            Truth::False
        );
        // Depends on labels that are not known.
        assert_eq!(
            sel(&[("team", "a")], vec![]).truth(&known, false),
            Truth::Unknown
        );
        for op in ["DoesNotExist", "Exists"] {
            assert_eq!(
                sel(&[], vec![req("team", op, &[])]).truth(&known, false),
                Truth::Unknown,
                "{op}"
            );
        }
        for op in ["In", "NotIn"] {
            assert_eq!(
                sel(&[], vec![req("team", op, &["a"])]).truth(&known, false),
                Truth::Unknown,
                "{op}"
            );
        }
        assert_eq!(
            sel(&[(name, "monitoring"), ("team", "a")], vec![]).truth(&known, false),
            Truth::Unknown
        );
        assert_eq!(
            sel(&[(name, "monitoring"), ("team", "a")], vec![]).missing_keys(&known),
            vec!["team".to_string()]
        );
    }

    #[test]
    fn mismatch_names_the_failing_requirement() {
        let s = LabelSelector {
            match_labels: labels(&[("team", "prod")]),
            match_expressions: vec![],
        };
        assert_eq!(
            s.mismatch(&labels(&[("team", "dev")])).unwrap(),
            "team=prod (it has team=dev)"
        );
        assert!(s.mismatch(&labels(&[("team", "prod")])).is_none());
    }
}
