//! The kernel side: apply the smallest correct change, fall back to a full replace when
//! a delta fails, and tell whether the kernel still holds what we applied (drift).

use netfence_nft::ruleset::{Element, Ruleset, SetKind};
use netfence_nft::{diff, Change, Nft};
use serde_json::Value;
use std::collections::BTreeMap;

/// How a ruleset reached the kernel.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Applied {
    Nothing,
    Delta,
    Full,
}

impl Applied {
    pub fn as_str(self) -> &'static str {
        match self {
            Applied::Nothing => "none",
            Applied::Delta => "delta",
            Applied::Full => "full",
        }
    }
}

/// Brings the kernel from `current` (what we last applied, None after a start or a
/// detected drift) to `next`. A full replace counts only once the kernel is seen to hold
/// it (`Nft::replace` reads the table back): an error here leaves `current` as it was,
/// and the caller reports it and retries.
pub fn apply(nft: &Nft, current: Option<&Ruleset>, next: &Ruleset) -> anyhow::Result<Applied> {
    let change = match current {
        Some(c) => diff(c, next),
        None => Change::Full,
    };
    match change {
        Change::None => Ok(Applied::Nothing),
        Change::Delta(d) => match nft.apply_delta(&d) {
            Ok(()) => Ok(Applied::Delta),
            Err(e) => {
                // The kernel is not what we thought (edited by hand?): replace it whole.
                tracing::warn!(error = %e, "element delta failed; replacing the table");
                nft.replace(next)?;
                Ok(Applied::Full)
            }
        },
        Change::Full => {
            nft.replace(next)?;
            Ok(Applied::Full)
        }
    }
}

/// What a table holds, reduced to what can be compared between our ruleset and nft's
/// listing: set names with their element counts (not for interval sets, which nft may
/// merge), map contents, and rules per chain.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Summary {
    pub sets: BTreeMap<String, Option<usize>>,
    pub maps: BTreeMap<String, BTreeMap<String, String>>,
    pub chains: BTreeMap<String, usize>,
}

pub fn summarize_ruleset(rs: &Ruleset) -> Summary {
    let mut s = Summary::default();
    for (name, set) in &rs.sets {
        let count = match set.kind {
            SetKind::AddrRange(_) => None,
            _ => Some(
                set.elements
                    .iter()
                    .filter(|e| !matches!(e, Element::Range(..)))
                    .count(),
            ),
        };
        s.sets.insert(name.clone(), count);
    }
    for (name, m) in &rs.maps {
        s.maps.insert(
            name.clone(),
            m.elements
                .iter()
                .map(|(a, c)| (a.to_string(), c.clone()))
                .collect(),
        );
    }
    for c in &rs.chains {
        s.chains.insert(c.name.clone(), c.rules.len());
    }
    s
}

/// The same summary of `nft -j list table inet netfence`.
pub fn summarize_listing(listing: &Value) -> Summary {
    let mut s = Summary::default();
    let items = listing["nftables"].as_array().cloned().unwrap_or_default();
    let mut interval: BTreeMap<String, bool> = BTreeMap::new();
    for item in &items {
        if let Some(set) = item.get("set") {
            let name = set["name"].as_str().unwrap_or_default().to_string();
            if name == netfence_nft::ruleset::SEAL_SET {
                // A replace's mark, in no ruleset (see `SEAL_SET`).
                continue;
            }
            let is_interval = set["flags"]
                .as_array()
                .is_some_and(|f| f.iter().any(|x| x == "interval"))
                || set["flags"] == "interval";
            interval.insert(name.clone(), is_interval);
            let count = set["elem"].as_array().map_or(0, Vec::len);
            s.sets
                .insert(name, if is_interval { None } else { Some(count) });
        } else if let Some(map) = item.get("map") {
            let name = map["name"].as_str().unwrap_or_default().to_string();
            let mut elements = BTreeMap::new();
            for e in map["elem"].as_array().into_iter().flatten() {
                let (Some(k), Some(target)) = (e[0].as_str(), e[1]["goto"]["target"].as_str())
                else {
                    continue;
                };
                elements.insert(k.to_string(), target.to_string());
            }
            s.maps.insert(name, elements);
        } else if let Some(chain) = item.get("chain") {
            s.chains
                .entry(chain["name"].as_str().unwrap_or_default().to_string())
                .or_insert(0);
        } else if let Some(rule) = item.get("rule") {
            *s.chains
                .entry(rule["chain"].as_str().unwrap_or_default().to_string())
                .or_insert(0) += 1;
        }
    }
    s
}

/// Drop counters per policy chain, from a listing made with counters on: the comment of
/// a chain's final drop rule names the policies isolating its pods.
pub fn drop_counters(listing: &Value) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    for item in listing["nftables"].as_array().into_iter().flatten() {
        let Some(rule) = item.get("rule") else {
            continue;
        };
        let Some(comment) = rule["comment"].as_str() else {
            continue;
        };
        if !comment.contains(" isolated by ") {
            continue;
        }
        let exprs = rule["expr"].as_array().cloned().unwrap_or_default();
        let is_drop = exprs.iter().any(|e| e.get("drop").is_some());
        let packets = exprs.iter().find_map(|e| e["counter"]["packets"].as_u64());
        if let (true, Some(p)) = (is_drop, packets) {
            out.push((comment.to_string(), p));
        }
    }
    out
}
