//! The kernel side: apply the smallest correct change, fall back to a full replace when
//! a delta fails, and tell whether the kernel still holds what we applied (drift).

use netfence_nft::reading::TableReading;
use netfence_nft::ruleset::{Element, Ruleset, SetKind};
use netfence_nft::{diff, Change, Nft};
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

/// The same summary of our table read back (`Nft::read_table`).
pub fn summarize_reading(reading: &TableReading) -> Summary {
    Summary {
        sets: reading.sets.clone(),
        maps: reading.maps.clone(),
        chains: reading
            .chains
            .iter()
            .map(|(name, rules)| (name.clone(), rules.len()))
            .collect(),
    }
}

/// Packets counted by the drop rules of each chain, from a reading made with counters
/// on (which policies a chain's drop stands for is `Ruleset::isolation`).
pub fn drop_counters(reading: &TableReading) -> Vec<(String, u64)> {
    reading
        .chains
        .iter()
        .flat_map(|(chain, rules)| {
            rules
                .iter()
                .filter(|r| r.drops)
                .filter_map(move |r| Some((chain.clone(), r.packets?)))
        })
        .collect()
}
