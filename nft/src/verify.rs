//! Proof that a full replace took: nft has exited 0 having applied nothing (JSON it
//! could not parse, read from a pipe), so its exit status is not enough.
//!
//! The replace is one transaction that deletes and recreates the table, so when it is
//! committed the table has a handle it did not have before (the kernel numbers tables
//! anew on every creation) and holds the chains, rules and sets that were sent. Both
//! are read from a listing without elements (`nft -t`), which stays small at any number
//! of pods; the elements were in the same atomic transaction.

use crate::ruleset::{Ruleset, TABLE};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// The shape of the table: set and map names, and rules per chain.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Layout {
    pub sets: BTreeSet<String>,
    pub chains: BTreeMap<String, usize>,
}

impl Layout {
    pub fn of(rs: &Ruleset) -> Layout {
        Layout {
            sets: rs.sets.keys().chain(rs.maps.keys()).cloned().collect(),
            chains: rs
                .chains
                .iter()
                .map(|c| (c.name.clone(), c.rules.len()))
                .collect(),
        }
    }

    /// The layout of `nft -j [-t] list table inet netfence`.
    pub fn listed(listing: &Value) -> Layout {
        let mut out = Layout::default();
        for item in listing["nftables"].as_array().into_iter().flatten() {
            if let Some(s) = item.get("set").or_else(|| item.get("map")) {
                out.sets.insert(str_of(&s["name"]));
            } else if let Some(c) = item.get("chain") {
                out.chains.entry(str_of(&c["name"])).or_insert(0);
            } else if let Some(r) = item.get("rule") {
                *out.chains.entry(str_of(&r["chain"])).or_insert(0) += 1;
            }
        }
        out
    }

    /// What differs from `want`, briefly (for the error).
    pub fn difference(&self, want: &Layout) -> String {
        let missing: Vec<&String> = want.sets.difference(&self.sets).collect();
        let extra: Vec<&String> = self.sets.difference(&want.sets).collect();
        let chains: Vec<String> = want
            .chains
            .iter()
            .filter(|(n, r)| self.chains.get(*n) != Some(*r))
            .map(|(n, r)| format!("{n} ({r} rules, kernel {:?})", self.chains.get(n)))
            .take(5)
            .collect();
        format!(
            "{} sets missing {:?}, {} unexpected {:?}, chains differing: {chains:?}",
            missing.len(),
            missing.iter().take(5).collect::<Vec<_>>(),
            extra.len(),
            extra.iter().take(5).collect::<Vec<_>>(),
        )
    }
}

fn str_of(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

/// Whether `listing` (`nft -j -t list table inet netfence`, after the replace) shows
/// the table `rs` describes, created anew (its handle was `before`); why not if not.
pub fn confirm(before: Option<u64>, listing: &Value, rs: &Ruleset) -> Result<(), String> {
    let after = table_handle(listing);
    if after.is_none() || after == before {
        return Err(format!(
            "the table was not recreated (handle {before:?} before, {after:?} after)"
        ));
    }
    let (got, want) = (Layout::listed(listing), Layout::of(rs));
    if got != want {
        return Err(got.difference(&want));
    }
    Ok(())
}

/// The handle of our table in `nft -j list tables`, if it exists.
pub fn table_handle(tables: &Value) -> Option<u64> {
    tables["nftables"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i.get("table"))
        .find(|t| t["family"] == "inet" && t["name"] == TABLE)
        .and_then(|t| t["handle"].as_u64())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ruleset::{ChainDef, MapDef, RuleDef, SetDef, SetKind, Verdict};
    use netfence_model::Family;
    use serde_json::json;

    #[test]
    fn a_listing_reduces_to_its_layout() {
        let listing = json!({"nftables": [
            {"metainfo": {"version": "1.0.6"}},
            {"table": {"family": "inet", "name": "netfence", "handle": 7}},
            {"set": {"name": "pods_v4"}},
            {"map": {"name": "egress_v4"}},
            {"chain": {"name": "egress"}},
            {"chain": {"name": "eg_1"}},
            {"rule": {"chain": "egress"}},
            {"rule": {"chain": "egress"}},
        ]});
        let got = Layout::listed(&listing);
        assert_eq!(got.sets, ["egress_v4", "pods_v4"].map(String::from).into());
        assert_eq!(
            got.chains,
            [("egress".into(), 2), ("eg_1".into(), 0)].into()
        );
        assert_eq!(table_handle(&listing), Some(7));
        assert_eq!(table_handle(&json!({"nftables": []})), None);
        // A replace shows a new handle and what was sent.
        let mut rs = Ruleset::default();
        let kind = SetKind::Addr(Family::V4);
        rs.sets.insert(
            "pods_v4".into(),
            SetDef {
                kind,
                elements: Default::default(),
            },
        );
        let map = MapDef {
            family: Family::V4,
            elements: Default::default(),
        };
        rs.maps.insert("egress_v4".into(), map);
        let rule = || RuleDef::new(Vec::new(), Verdict::Accept);
        rs.chains = vec![
            ChainDef {
                name: "egress".into(),
                base: None,
                rules: vec![rule(), rule()],
            },
            ChainDef {
                name: "eg_1".into(),
                base: None,
                rules: Vec::new(),
            },
        ];
        assert_eq!(confirm(Some(6), &listing, &rs), Ok(()));
        assert_eq!(confirm(None, &listing, &rs), Ok(()));
        assert!(confirm(Some(7), &listing, &rs)
            .unwrap_err()
            .contains("not recreated"));
        rs.chains[1].rules.push(rule());
        assert!(confirm(Some(6), &listing, &rs)
            .unwrap_err()
            .contains("eg_1"));
        let mut want = got.clone();
        want.chains.insert("egress".into(), 3);
        assert!(got
            .difference(&want)
            .contains("egress (3 rules, kernel Some(2))"));
    }
}
