//! The tiered policies' kinds (ClusterNetworkPolicy, AdminNetworkPolicy,
//! BaselineAdminNetworkPolicy), watched while the API server serves them. Their CRDs
//! (network-policy-api) may be installed at any time, never, or removed, so the API
//! server's discovery documents of their group versions are read every so often: any
//! authenticated client may read them (system:discovery), so this needs no access to
//! CustomResourceDefinitions. A kind that is served starts its watch (objects of the
//! versions the model reads, as DynamicObjects through the one decoding path); a kind
//! that is gone stops it, and its policies leave the store.
//!
//! Readiness: the watches of the kinds served at the first discovery are expected before
//! anything is applied (a restart never enforces less than the tiers in place); a kind
//! that appears later joins when its list is in, without holding readiness back; a
//! cluster without the CRDs waits for nothing more than the first discovery.

use crate::error::Error;
use crate::state::{Listing, Shared};
use crate::store::Kind;
use crate::watch::watch_kind;
use kube::api::DynamicObject;
use kube::{Api, Client};
use netfence_loader::cluster::{tier_resource, TIER_KINDS};
use netfence_model::tier::TierKind;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// The first wait after a failed first discovery; it doubles up to the period.
const FIRST_RETRY: Duration = Duration::from_millis(500);

/// Discoveries in a row a kind must be missing from before its watch stops and its
/// policies leave. Deleting a CRD deletes its objects first, which the watch passes on
/// already; this only keeps one discovery answered by an API server not fully up (its
/// CRDs not read yet) from taking the tiers away.
const ABSENT_ROUNDS: u32 = 2;

/// The watch of one served kind; aborted when dropped (with the task that holds it).
struct Watch {
    task: JoinHandle<()>,
    /// Discoveries in a row that did not find the kind.
    absent: u32,
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The tiered kinds the API server serves now: the resources of each of their group
/// versions are read (a 404 means nothing of that version is served). Any other
/// failure fails the whole discovery, which then changes nothing.
async fn discover(client: &Client) -> Result<BTreeSet<TierKind>, Error> {
    let mut plurals: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut served = BTreeSet::new();
    for kind in TIER_KINDS {
        let ar = tier_resource(kind);
        if !plurals.contains_key(&ar.api_version) {
            let names = match client.list_api_group_resources(&ar.api_version).await {
                Ok(list) => list.resources.into_iter().map(|r| r.name).collect(),
                Err(kube::Error::Api(status)) if status.is_not_found() => Vec::new(),
                Err(source) => {
                    return Err(Error::Discovery {
                        api_version: ar.api_version,
                        source,
                    })
                }
            };
            plurals.insert(ar.api_version.clone(), names);
        }
        if plurals[&ar.api_version].contains(&ar.plural) {
            served.insert(kind);
        }
    }
    Ok(served)
}

/// The watches of the tiered kinds, kept in step with what discovery finds.
struct Watches {
    client: Client,
    shared: Arc<Shared>,
    running: BTreeMap<TierKind, Watch>,
}

impl Watches {
    /// Starts the watches of kinds newly served, and stops those of kinds missing for
    /// [`ABSENT_ROUNDS`]; `first`: this is the first discovery, whose kinds readiness
    /// waits for.
    async fn follow(&mut self, served: &BTreeSet<TierKind>, first: bool) {
        for kind in TIER_KINDS {
            if served.contains(&kind) {
                match self.running.get_mut(&kind) {
                    Some(w) => w.absent = 0,
                    None => self.start(kind, first),
                }
            } else if let Some(w) = self.running.get_mut(&kind) {
                w.absent += 1;
                if w.absent >= ABSENT_ROUNDS {
                    let w = self.running.remove(&kind).expect("running");
                    self.stop(kind, w).await;
                }
            }
        }
    }

    fn start(&mut self, kind: TierKind, first: bool) {
        let store_kind = Kind::TierPolicy(kind);
        if first {
            self.shared.feed.expect(Listing::Watch(store_kind));
        }
        let ar = tier_resource(kind);
        tracing::info!(kind = kind.kind(), api_version = %ar.api_version, "served: watching it");
        let api: Api<DynamicObject> = Api::all_with(self.client.clone(), &ar);
        let task = tokio::spawn(watch_kind(api, ar, self.shared.clone(), store_kind));
        self.running.insert(kind, Watch { task, absent: 0 });
    }

    async fn stop(&mut self, kind: TierKind, mut w: Watch) {
        w.task.abort();
        // Once it has ended, the watch writes to the store no more.
        let _ = (&mut w.task).await;
        let store_kind = Kind::TierPolicy(kind);
        self.shared.feed.forget(Listing::Watch(store_kind));
        let changed = self
            .shared
            .feed
            .store
            .lock()
            .expect("lock")
            .reset(store_kind, Vec::new());
        tracing::info!(
            kind = kind.kind(),
            "no longer served (its CRD is gone): its policies are no longer enforced"
        );
        if changed {
            self.shared.feed.note_change();
        }
    }
}

/// Looks for the tiered kinds every `every` (sooner while the first look fails), until
/// the process ends; the watches it started end with it.
pub async fn run(client: Client, shared: Arc<Shared>, every: Duration) {
    let mut watches = Watches {
        client: client.clone(),
        shared: shared.clone(),
        running: BTreeMap::new(),
    };
    let mut first = true;
    let mut retry = FIRST_RETRY.min(every);
    loop {
        let wait = match discover(&client).await {
            Ok(served) => {
                watches.follow(&served, first).await;
                if first {
                    let kinds: Vec<&str> = served.iter().map(|k| k.kind()).collect();
                    tracing::info!(served = ?kinds, "tiered policy kinds discovered");
                    shared.feed.mark_synced(Listing::Discovery);
                    first = false;
                }
                every
            }
            Err(e) => {
                tracing::warn!(error = %e, "discovery failed; asking again later");
                shared.metrics.count(&e);
                if first {
                    let wait = retry;
                    retry = (retry * 2).min(every);
                    wait
                } else {
                    every
                }
            }
        };
        tokio::time::sleep(wait).await;
    }
}
