//! Proof that a full replace took: nft has exited 0 having applied nothing (JSON it
//! could not parse, read from a pipe), so its exit status is not enough.
//!
//! The replace is one transaction that deletes and recreates the table and ends with
//! the seal (`SEAL_SET`): a set holding a mark fresh to this replace. A new table
//! numbers its chains, sets, maps and rules 1, 2, ... in the order they are created
//! (elements take no handle), so the seal's handle is the count of everything sent,
//! and its element shows that it was this replace that committed. The proof reads the
//! seal and the set, map and chain names: never a listing of rules, which the kernel
//! dumps in time quadratic in the rules (each dump buffer walks the table from its
//! start), nor `list tables`, for which nft 1.0.6 fetches the whole table (7 s and
//! 230 MB at 10,000 policies).

use crate::json::Seal;
use crate::ruleset::{Ruleset, SEAL_SET, TABLE};
use serde::Deserialize;
use std::collections::BTreeSet;

/// `nft -j [-t] [-a] list ...` read as the few fields the checks need: a rule's
/// expressions and a set's elements are skipped while parsing, never built as JSON
/// values.
#[derive(Deserialize, Debug, Default)]
pub struct Listing {
    #[serde(default)]
    nftables: Vec<Item>,
}

#[derive(Deserialize, Debug)]
struct Item {
    table: Option<Named>,
    set: Option<Named>,
    map: Option<Named>,
    chain: Option<Named>,
}

#[derive(Deserialize, Debug)]
struct Named {
    family: String,
    /// The table of a set, map or chain (absent on a table).
    table: Option<String>,
    name: String,
    handle: Option<u64>,
    /// A set's elements (plain addresses: the seal's), when listed.
    #[serde(default)]
    elem: Vec<serde_json::Value>,
}

impl Named {
    fn ours(&self) -> bool {
        self.family == "inet" && self.table.as_deref() == Some(TABLE)
    }
}

impl Listing {
    pub fn parse(text: &str) -> Result<Listing, String> {
        serde_json::from_str(text).map_err(|e| format!("reading nft's listing: {e}"))
    }

    /// The handle of our table (`nft -j list tables`), if it exists.
    pub fn table_handle(&self) -> Option<u64> {
        self.nftables
            .iter()
            .filter_map(|i| i.table.as_ref())
            .find(|t| t.family == "inet" && t.name == TABLE)
            .and_then(|t| t.handle)
    }

    /// Names of our table's sets (`list sets inet`), maps (`list maps inet`) or chains
    /// (`list chains inet`).
    fn names(&self, pick: impl Fn(&Item) -> Option<&Named>) -> BTreeSet<String> {
        self.nftables
            .iter()
            .filter_map(pick)
            .filter(|n| n.ours())
            .map(|n| n.name.clone())
            .collect()
    }
}

/// What the kernel showed after a replace.
#[derive(Debug, Default)]
pub struct Readback {
    /// `nft -j list set inet netfence seal`
    pub seal: Listing,
    /// `nft -j -t list sets inet`, `... list maps inet`, `nft -j list chains inet`.
    pub sets: Listing,
    pub maps: Listing,
    pub chains: Listing,
}

/// How many objects taking a handle a replace of `rs` creates before the seal: sets,
/// maps, chains, rules, and the anonymous sets of rules.
fn objects(rs: &Ruleset) -> u64 {
    let rules = rs.chains.iter().flat_map(|c| &c.rules);
    let anonymous: usize = rules
        .clone()
        .flat_map(|r| &r.matches)
        .map(crate::json::anonymous_sets)
        .sum();
    (rs.sets.len() + rs.maps.len() + rs.chains.len() + rules.count() + anonymous) as u64
}

fn difference(what: &str, got: &BTreeSet<String>, want: &BTreeSet<String>) -> Option<String> {
    let missing: Vec<&String> = want.difference(got).take(5).collect();
    let extra: Vec<&String> = got.difference(want).take(5).collect();
    (got != want).then(|| {
        format!(
            "{what}: {} missing {missing:?}, {} unexpected {extra:?}",
            want.difference(got).count(),
            got.difference(want).count()
        )
    })
}

/// Whether the kernel holds the table `rs` describes, created by the replace sealed
/// with `seal`; why not if not.
pub fn confirm(seen: &Readback, rs: &Ruleset, seal: Seal) -> Result<(), String> {
    let found = seen
        .seal
        .nftables
        .iter()
        .filter_map(|i| i.set.as_ref())
        .find(|s| s.ours() && s.name == SEAL_SET);
    let Some(found) = found else {
        return Err("the seal of the replace is not in the kernel".into());
    };
    if found.elem != [serde_json::Value::String(seal.element())] {
        return Err(format!(
            "the table was not replaced: the kernel's seal holds {:?}, this replace's {}",
            found.elem,
            seal.element()
        ));
    }
    let want_sets: BTreeSet<String> = rs
        .sets
        .keys()
        .cloned()
        .chain([SEAL_SET.to_string()])
        .collect();
    let want_maps: BTreeSet<String> = rs.maps.keys().cloned().collect();
    let want_chains: BTreeSet<String> = rs.chains.iter().map(|c| c.name.clone()).collect();
    let problems: Vec<String> = [
        difference("sets", &seen.sets.names(|i| i.set.as_ref()), &want_sets),
        difference("maps", &seen.maps.names(|i| i.map.as_ref()), &want_maps),
        difference(
            "chains",
            &seen.chains.names(|i| i.chain.as_ref()),
            &want_chains,
        ),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !problems.is_empty() {
        return Err(problems.join("; "));
    }
    // Created last, the seal is numbered after everything else the replace created.
    let want = objects(rs) + 1;
    if found.handle != Some(want) {
        return Err(format!(
            "the kernel numbered the seal {:?}: it holds other than the {} objects sent",
            found.handle,
            want - 1
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ruleset::{ChainDef, MapCall, MapDef, RuleDef, SetDef, SetKind, Verdict};
    use netfence_model::Family;
    use serde_json::json;

    fn listing(v: serde_json::Value) -> Listing {
        Listing::parse(&v.to_string()).unwrap()
    }

    fn named(kind: &str, name: &str, handle: u64) -> serde_json::Value {
        json!({kind: {"family": "inet", "table": TABLE, "name": name, "handle": handle}})
    }

    #[test]
    fn a_readback_proves_the_replace_by_names_and_the_seal() {
        let mut rs = Ruleset::default();
        rs.sets.insert(
            "pods_v4".into(),
            SetDef {
                kind: SetKind::Addr(Family::V4),
                elements: Default::default(),
            },
        );
        rs.maps.insert(
            "egress_v4".into(),
            MapDef {
                family: Family::V4,
                call: MapCall::Goto,
                elements: Default::default(),
            },
        );
        let rule = || RuleDef::new(Vec::new(), Verdict::Accept);
        let chain = |name: &str, rules| ChainDef {
            name: name.into(),
            base: None,
            rules,
        };
        rs.chains = vec![
            chain("egress", vec![rule(), rule()]),
            chain("eg_1", Vec::new()),
        ];
        let seal = Seal(0x1234);
        assert_eq!(seal.element(), "fd00::1234");
        // 1 set, 1 map, 2 chains, 2 rules: the seal, created last, is object 7.
        let sealed = |element: &str, handle: u64| {
            listing(
                json!({"nftables": [{"set": {"family": "inet", "table": TABLE,
                "name": SEAL_SET, "handle": handle, "elem": [element]}}]}),
            )
        };
        let good = || Readback {
            seal: sealed("fd00::1234", 7),
            sets: listing(json!({"nftables": [
                {"metainfo": {"version": "1.0.6"}},
                named("set", "pods_v4", 1),
                named("set", SEAL_SET, 7),
                {"set": {"family": "inet", "table": "kube-proxy", "name": "x", "handle": 1}}]})),
            maps: listing(json!({"nftables": [named("map", "egress_v4", 4)]})),
            chains: listing(json!({"nftables": [
                named("chain", "egress", 2),
                named("chain", "eg_1", 3),
            ]})),
        };
        assert_eq!(confirm(&good(), &rs, seal), Ok(()));

        let old_table = Readback {
            seal: sealed("fd00::99", 7),
            ..good()
        };
        assert!(confirm(&old_table, &rs, seal)
            .unwrap_err()
            .contains("not replaced"));
        let unsealed = Readback {
            seal: listing(json!({"nftables": []})),
            ..good()
        };
        assert!(confirm(&unsealed, &rs, seal)
            .unwrap_err()
            .contains("not in the kernel"));
        let no_set = Readback {
            sets: listing(json!({"nftables": [named("set", SEAL_SET, 7)]})),
            ..good()
        };
        assert!(confirm(&no_set, &rs, seal)
            .unwrap_err()
            .contains("sets: 1 missing [\"pods_v4\"]"));
        // One rule more was sent than the kernel numbered.
        rs.chains[0].rules.push(rule());
        let err = confirm(&good(), &rs, seal).unwrap_err();
        assert!(err.contains("numbered the seal Some(7)"), "{err}");
    }
}
