//! The one boundary between netfence and the kernel's nftables: what a backend can do
//! (apply a delta, replace the table, read it back), its two implementations, the
//! decision of which change brings the kernel from one ruleset to the next (with the
//! fall back to a full replace), and the summaries that tell whether the kernel still
//! holds what was applied.
//!
//! The backends: [`Nft`] runs the `nft` binary for every command (`apply`); [`Kept`]
//! sends deltas through a libnftables context kept open (`session`) and runs the binary
//! for the rest. [`Kernel`] is either, as the controller chooses at start; tests drive
//! the same decisions through a backend of their own without root.

use crate::apply::{ApplyError, Nft};
use crate::delta::{diff, Change, Delta};
use crate::json;
use crate::reading::TableReading;
use crate::ruleset::{Element, Ruleset, SetKind};
use crate::session::Session;
use std::collections::BTreeMap;
use std::sync::Arc;

/// What the kernel side must offer.
pub trait Backend {
    /// Applies element and chain changes in one transaction.
    fn apply_delta(&self, delta: &Delta) -> Result<(), ApplyError>;
    /// Replaces the table with `rs` in one transaction, verified.
    fn replace(&self, rs: &Ruleset) -> Result<(), ApplyError>;
    /// Our table read back, or None when it does not exist.
    fn read_table(&self) -> Result<Option<TableReading>, ApplyError>;
}

impl Backend for Nft {
    fn apply_delta(&self, delta: &Delta) -> Result<(), ApplyError> {
        Nft::apply_delta(self, delta)
    }
    fn replace(&self, rs: &Ruleset) -> Result<(), ApplyError> {
        Nft::replace(self, rs)
    }
    fn read_table(&self) -> Result<Option<TableReading>, ApplyError> {
        Nft::read_table(self)
    }
}

/// Deltas through one libnftables context kept open (inside a network namespace when
/// given) instead of an `nft` started for each: a pod event's delta then takes well
/// under a millisecond of nftables time instead of 10-20 ms. Full replaces and listings
/// run the `nft` binary in the same namespace: a context keeps the cache of its last
/// command, which for those holds every element (~100 MB at 10k pods), and they are
/// rare.
#[derive(Clone, Debug)]
pub struct Kept {
    session: Arc<Session>,
    nft: Nft,
}

impl Kept {
    /// Opens the context (loading libnftables) inside `netns` when given.
    pub fn start(netns: Option<&str>) -> Result<Kept, String> {
        Ok(Kept {
            session: Arc::new(Session::start(netns)?),
            nft: Nft {
                netns: netns.map(str::to_string),
                ..Nft::default()
            },
        })
    }

    /// The binary run for replaces and listings (and anything else the context is
    /// not for: deleting the table, scripts).
    pub fn nft(&self) -> &Nft {
        &self.nft
    }

    /// Applies element and chain changes in one transaction of the context.
    pub fn apply_delta(&self, d: &Delta) -> Result<(), ApplyError> {
        if d.is_empty() {
            return Ok(());
        }
        let mut text = Vec::new();
        json::write_document(&mut text, json::delta_commands(d), false).map_err(|e| match e {
            json::WriteError::Unsafe(u) => ApplyError::Unsafe(u),
            json::WriteError::Io(io) => ApplyError::File(io),
        })?;
        let text = String::from_utf8(text).expect("serde_json writes UTF-8");
        self.session
            .run(&text, false)
            .map(|_| ())
            .map_err(|stderr| ApplyError::Failed {
                args: "element delta (libnftables)".into(),
                status: "error".into(),
                stderr,
            })
    }

    /// Replaces the table through the binary (see [`Nft::replace`]).
    pub fn replace(&self, rs: &Ruleset) -> Result<(), ApplyError> {
        self.nft.replace(rs)
    }

    /// Reads the table through the binary (see [`Nft::read_table`]).
    pub fn read_table(&self) -> Result<Option<TableReading>, ApplyError> {
        self.nft.read_table()
    }
}

impl Backend for Kept {
    fn apply_delta(&self, delta: &Delta) -> Result<(), ApplyError> {
        Kept::apply_delta(self, delta)
    }
    fn replace(&self, rs: &Ruleset) -> Result<(), ApplyError> {
        Kept::replace(self, rs)
    }
    fn read_table(&self) -> Result<Option<TableReading>, ApplyError> {
        Kept::read_table(self)
    }
}

/// The backend a controller runs: the kept context, or the binary (when one is named,
/// or libnftables cannot be loaded).
#[derive(Clone, Debug)]
pub enum Kernel {
    Binary(Nft),
    Kept(Kept),
}

impl From<Nft> for Kernel {
    fn from(nft: Nft) -> Self {
        Kernel::Binary(nft)
    }
}

impl From<Kept> for Kernel {
    fn from(kept: Kept) -> Self {
        Kernel::Kept(kept)
    }
}

impl Backend for Kernel {
    fn apply_delta(&self, delta: &Delta) -> Result<(), ApplyError> {
        match self {
            Kernel::Binary(b) => b.apply_delta(delta),
            Kernel::Kept(k) => k.apply_delta(delta),
        }
    }
    fn replace(&self, rs: &Ruleset) -> Result<(), ApplyError> {
        match self {
            Kernel::Binary(b) => b.replace(rs),
            Kernel::Kept(k) => k.replace(rs),
        }
    }
    fn read_table(&self) -> Result<Option<TableReading>, ApplyError> {
        match self {
            Kernel::Binary(b) => b.read_table(),
            Kernel::Kept(k) => k.read_table(),
        }
    }
}

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
/// detected drift) to `next`: nothing, the delta, or a full replace, and a full
/// replace when a delta fails (the kernel is not what we thought: edited by hand?). A
/// full replace counts only once the kernel is seen to hold it: an error leaves
/// `current` as it was, for the caller to report and retry.
pub fn bring(
    backend: &impl Backend,
    current: Option<&Ruleset>,
    next: &Ruleset,
) -> Result<Applied, ApplyError> {
    let change = match current {
        Some(c) => diff(c, next),
        None => Change::Full,
    };
    match change {
        Change::None => Ok(Applied::Nothing),
        Change::Delta(d) => match backend.apply_delta(&d) {
            Ok(()) => Ok(Applied::Delta),
            Err(e) => {
                tracing::warn!(error = %e, "element delta failed; replacing the table");
                backend.replace(next)?;
                Ok(Applied::Full)
            }
        },
        Change::Full => {
            backend.replace(next)?;
            Ok(Applied::Full)
        }
    }
}

/// What a table holds, reduced to what can be compared between our ruleset and the
/// kernel's: set names with their element counts (not for interval sets, which nft may
/// merge), map contents, and rules per chain.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Summary {
    pub sets: BTreeMap<String, Option<usize>>,
    pub maps: BTreeMap<String, BTreeMap<String, String>>,
    pub chains: BTreeMap<String, usize>,
}

impl Summary {
    pub fn of_ruleset(rs: &Ruleset) -> Summary {
        let sets = rs
            .sets
            .iter()
            .map(|(name, set)| {
                let count = match set.kind {
                    SetKind::AddrRange(_) => None,
                    _ => Some(
                        set.elements
                            .iter()
                            .filter(|e| !matches!(e, Element::Range(..)))
                            .count(),
                    ),
                };
                (name.clone(), count)
            })
            .collect();
        let maps = rs
            .maps
            .iter()
            .map(|(name, m)| {
                let elements = m
                    .elements
                    .iter()
                    .map(|(a, c)| (a.to_string(), c.clone()))
                    .collect();
                (name.clone(), elements)
            })
            .collect();
        let chains = rs
            .chains
            .iter()
            .map(|c| (c.name.clone(), c.rules.len()))
            .collect();
        Summary { sets, maps, chains }
    }

    pub fn of_reading(reading: &TableReading) -> Summary {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ruleset::{ChainDef, RuleDef, Verdict};
    use std::cell::RefCell;

    /// A kernel in memory: records what it was asked, fails deltas when told to.
    #[derive(Default)]
    struct Recorder {
        fail_deltas: bool,
        calls: RefCell<Vec<&'static str>>,
    }

    impl Backend for Recorder {
        fn apply_delta(&self, _: &Delta) -> Result<(), ApplyError> {
            self.calls.borrow_mut().push("delta");
            if self.fail_deltas {
                return Err(ApplyError::Output("refused".into()));
            }
            Ok(())
        }
        fn replace(&self, _: &Ruleset) -> Result<(), ApplyError> {
            self.calls.borrow_mut().push("replace");
            Ok(())
        }
        fn read_table(&self) -> Result<Option<TableReading>, ApplyError> {
            Ok(None)
        }
    }

    fn ruleset(rules: usize) -> Ruleset {
        Ruleset {
            chains: vec![ChainDef {
                name: "in_a".into(),
                base: None,
                rules: (0..rules)
                    .map(|_| RuleDef::new(Vec::new(), Verdict::Drop))
                    .collect(),
            }],
            ..Ruleset::default()
        }
    }

    #[test]
    fn the_smallest_change_is_chosen_and_a_failed_delta_falls_back_to_a_replace() {
        let (old, new) = (ruleset(1), ruleset(2));
        let k = Recorder::default();
        assert_eq!(bring(&k, None, &old).unwrap(), Applied::Full);
        assert_eq!(bring(&k, Some(&old), &old).unwrap(), Applied::Nothing);
        assert_eq!(bring(&k, Some(&old), &new).unwrap(), Applied::Delta);
        assert_eq!(*k.calls.borrow(), ["replace", "delta"]);
        let refusing = Recorder {
            fail_deltas: true,
            ..Recorder::default()
        };
        assert_eq!(bring(&refusing, Some(&old), &new).unwrap(), Applied::Full);
        assert_eq!(*refusing.calls.borrow(), ["delta", "replace"]);
        assert_eq!(
            Summary::of_ruleset(&new).chains,
            [("in_a".to_string(), 2)].into()
        );
    }
}
