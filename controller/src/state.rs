//! State shared by the controller's tasks: the object store, change notification,
//! readiness, the model last enforced (for drop reports) and recent drops.

use crate::health::Health;
use crate::metrics::Metrics;
use crate::store::ObjectStore;
use netfence_model::Model;
use std::collections::{BTreeSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;
use tokio::sync::Notify;

pub use netfence_analyzer::drops::DropReport;
use netfence_analyzer::drops::{DropsDocument, PolicyDrops};

const RECENT_DROPS: usize = 200;

pub struct Shared {
    pub metrics: Metrics,
    pub store: Mutex<ObjectStore>,
    pub changed: Notify,
    /// When the oldest change not yet in the kernel happened.
    pub pending_since: Mutex<Option<Instant>>,
    /// Kinds whose initial list is complete.
    synced: Mutex<BTreeSet<&'static str>>,
    expected: BTreeSet<&'static str>,
    ready: AtomicBool,
    pub model: RwLock<Option<Arc<Model>>>,
    drops: Mutex<VecDeque<DropReport>>,
    /// Packets dropped per policy and direction (from the kernel's counters), for
    /// `/drops`.
    pub drop_counters: Mutex<Vec<PolicyDrops>>,
    /// What the reconcile loop reports, for `/healthz` and `/readyz`.
    pub health: Health,
}

impl Shared {
    /// `expected`: the kinds that must be synced before anything is applied.
    pub fn new(expected: &[&'static str]) -> Shared {
        Shared {
            metrics: Metrics::new(),
            store: Mutex::new(ObjectStore::default()),
            changed: Notify::new(),
            pending_since: Mutex::new(None),
            synced: Mutex::new(BTreeSet::new()),
            expected: expected.iter().copied().collect(),
            ready: AtomicBool::new(false),
            model: RwLock::new(None),
            drops: Mutex::new(VecDeque::new()),
            drop_counters: Mutex::new(Vec::new()),
            health: Health::new(Instant::now()),
        }
    }

    /// Something changed: wake the reconciler.
    pub fn note_change(&self) {
        self.health.behind(Instant::now());
        let mut p = self.pending_since.lock().expect("lock");
        if p.is_none() {
            *p = Some(Instant::now());
        }
        drop(p);
        self.changed.notify_one();
    }

    pub fn mark_synced(&self, kind: &'static str) {
        self.synced.lock().expect("lock").insert(kind);
        self.changed.notify_one();
    }

    pub fn all_synced(&self) -> bool {
        self.expected.is_subset(&self.synced.lock().expect("lock"))
    }

    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::SeqCst);
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }

    pub fn record_drop(&self, d: DropReport) {
        let mut q = self.drops.lock().expect("lock");
        if q.len() == RECENT_DROPS {
            q.pop_front();
        }
        q.push_back(d);
    }

    pub fn drops_json(&self) -> String {
        let doc = DropsDocument {
            recent: self.drops.lock().expect("lock").iter().cloned().collect(),
            policy_drops: self.drop_counters.lock().expect("lock").clone(),
        };
        serde_json::to_string_pretty(&doc).expect("serialisable")
    }
}
