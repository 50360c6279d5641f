//! State shared by the controller's tasks, by concern: the [`Feed`] the sources fill
//! (the object store, change and sync notices), what is [`Enforced`] (the model last
//! enforced and the drops seen under it), the loop's [`Health`] reports and the
//! [`Metrics`].

use crate::health::Health;
use crate::metrics::Metrics;
use crate::store::{Kind, ObjectStore};
use netfence_model::Model;
use std::collections::{BTreeSet, VecDeque};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;
use tokio::sync::Notify;

pub use netfence_analyzer::drops::DropReport;
use netfence_analyzer::drops::{DropsDocument, PolicyDrops};

const RECENT_DROPS: usize = 200;

pub struct Shared {
    pub metrics: Metrics,
    /// What the reconcile loop reports, for `/healthz` and `/readyz`.
    pub health: Health,
    pub feed: Feed,
    pub enforced: Enforced,
}

impl Shared {
    /// `expected`: the sources whose initial lists must be in before anything is applied.
    pub fn new(expected: &[Listing]) -> Shared {
        Shared {
            metrics: Metrics::new(),
            health: Health::new(Instant::now()),
            feed: Feed::new(expected),
            enforced: Enforced::default(),
        }
    }
}

/// A source whose initial list must be in before anything is applied.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Listing {
    /// The watch of a kind.
    Watch(Kind),
    /// The watch of this node's Node object: nothing is applied before the node was
    /// read, so that a restart never replaces a guarded table with an unguarded one.
    Node,
    /// The first look at which optional kinds (the tiered policies' CRDs) the API server
    /// serves: the watches of those it serves then are expected too, before anything is
    /// applied, so that a restart never enforces less than the tiers in place.
    Discovery,
    /// Standalone mode's manifest directory.
    Manifests,
}

/// What the sources found: the store they keep, and the notices that wake the loop.
pub struct Feed {
    pub store: Mutex<ObjectStore>,
    changed: Notify,
    /// When the oldest change the loop has not taken yet happened.
    first_change: Mutex<Option<Instant>>,
    syncing: Mutex<Syncing>,
}

/// The sources whose initial lists are expected, and those that are in.
struct Syncing {
    expected: BTreeSet<Listing>,
    synced: BTreeSet<Listing>,
}

impl Feed {
    pub fn new(expected: &[Listing]) -> Feed {
        Feed {
            store: Mutex::new(ObjectStore::default()),
            changed: Notify::new(),
            first_change: Mutex::new(None),
            syncing: Mutex::new(Syncing {
                expected: expected.iter().copied().collect(),
                synced: BTreeSet::new(),
            }),
        }
    }

    /// The store changed: wake the loop.
    pub fn note_change(&self) {
        self.first_change
            .lock()
            .expect("lock")
            .get_or_insert_with(Instant::now);
        self.changed.notify_one();
    }

    /// `listing`'s initial list is in.
    pub fn mark_synced(&self, listing: Listing) {
        self.syncing.lock().expect("lock").synced.insert(listing);
        self.changed.notify_one();
    }

    /// `listing`'s initial list is expected too (a source found at start). Added before
    /// the listing that found it is marked synced, it holds readiness back until in.
    pub fn expect(&self, listing: Listing) {
        self.syncing.lock().expect("lock").expected.insert(listing);
    }

    /// `listing` is gone (a kind no longer served): neither expected nor synced.
    pub fn forget(&self, listing: Listing) {
        let mut s = self.syncing.lock().expect("lock");
        s.expected.remove(&listing);
        s.synced.remove(&listing);
        drop(s);
        self.changed.notify_one();
    }

    pub fn all_synced(&self) -> bool {
        let s = self.syncing.lock().expect("lock");
        s.expected.is_subset(&s.synced)
    }

    /// When the oldest change since the last call happened (None: no change).
    pub fn take_first_change(&self) -> Option<Instant> {
        self.first_change.lock().expect("lock").take()
    }

    /// Resolves at the next notice (or at once, for one given since the last wait).
    pub async fn notified(&self) {
        self.changed.notified().await
    }
}

/// What is in force: the model last enforced (for drop reports) and the drops seen.
#[derive(Default)]
pub struct Enforced {
    pub model: RwLock<Option<Arc<Model>>>,
    drops: Mutex<VecDeque<DropReport>>,
    /// Packets dropped per policy and direction (from the kernel's counters), for
    /// `/drops`.
    drop_counters: Mutex<Vec<PolicyDrops>>,
}

impl Enforced {
    pub fn model(&self) -> Option<Arc<Model>> {
        self.model.read().expect("lock").clone()
    }

    pub fn record_drop(&self, d: DropReport) {
        let mut q = self.drops.lock().expect("lock");
        if q.len() == RECENT_DROPS {
            q.pop_front();
        }
        q.push_back(d);
    }

    pub fn set_drop_counters(&self, counters: Vec<PolicyDrops>) {
        *self.drop_counters.lock().expect("lock") = counters;
    }

    pub fn drops_json(&self) -> String {
        let doc = DropsDocument {
            recent: self.drops.lock().expect("lock").iter().cloned().collect(),
            policy_drops: self.drop_counters.lock().expect("lock").clone(),
        };
        serde_json::to_string_pretty(&doc).expect("serialisable")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listing_found_at_start_holds_readiness_back_until_in_or_gone() {
        let cnp = Listing::Watch(Kind::TierPolicy(
            netfence_model::tier::TierKind::ClusterNetworkPolicy,
        ));
        let feed = Feed::new(&[Listing::Watch(Kind::Pod), Listing::Discovery]);
        feed.mark_synced(Listing::Watch(Kind::Pod));
        // Discovery found the kind: expected before discovery counts as done.
        feed.expect(cnp);
        feed.mark_synced(Listing::Discovery);
        assert!(!feed.all_synced());
        feed.mark_synced(cnp);
        assert!(feed.all_synced());
        // Gone before its list came in: nothing waits for it.
        let anp = Listing::Watch(Kind::TierPolicy(
            netfence_model::tier::TierKind::AdminNetworkPolicy,
        ));
        feed.expect(anp);
        assert!(!feed.all_synced());
        feed.forget(anp);
        assert!(feed.all_synced());
    }
}
