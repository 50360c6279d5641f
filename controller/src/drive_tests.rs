//! The decisions carried out end to end (store -> model -> ruleset -> kernel) against a
//! kernel in memory: no root, no tokio, time given as values.

use super::*;
use crate::enforcer::read_kernel;
use crate::health::{readiness, Bounds};
use crate::metrics::KindLabel;
use crate::state::Listing;
use crate::store::{object_key, Decoded, Kind};
use netfence_nft::reading::{RuleReading, TableReading};
use netfence_nft::{ApplyError, Delta, NodeView, RenderOptions, Ruleset, Summary};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A kernel in memory: holds the ruleset it was last brought to (deltas applied to
/// it as nft would), records every call, and refuses what it is told to.
#[derive(Clone, Default)]
struct FakeKernel(Arc<Mutex<Kernel>>);

#[derive(Default)]
struct Kernel {
    table: Option<Ruleset>,
    calls: Vec<&'static str>,
    refuse_deltas: bool,
    /// Refuses every change (deltas and replaces alike).
    broken: bool,
}

fn refused() -> ApplyError {
    ApplyError::Failed {
        args: "-f doc.json".into(),
        status: "exit status: 1".into(),
        stderr: "injected failure".into(),
    }
}

impl Backend for FakeKernel {
    fn apply_delta(&self, d: &Delta) -> Result<(), ApplyError> {
        let mut k = self.0.lock().unwrap();
        k.calls.push("delta");
        if k.broken || k.refuse_deltas {
            return Err(refused());
        }
        let table = k.table.as_mut().ok_or_else(refused)?;
        for (name, gone) in &d.set_del {
            let set = table.sets.get_mut(name).ok_or_else(refused)?;
            let elements = Arc::make_mut(&mut set.elements);
            for e in gone {
                elements.remove(e);
            }
        }
        for (name, def) in &d.sets_new {
            table.sets.insert(name.clone(), def.clone());
        }
        for (name, added) in &d.set_add {
            let set = table.sets.get_mut(name).ok_or_else(refused)?;
            Arc::make_mut(&mut set.elements).extend(added.iter().cloned());
        }
        for name in d.sets_gone.keys() {
            table.sets.remove(name);
        }
        for (name, gone) in &d.map_del {
            let map = table.maps.get_mut(name).ok_or_else(refused)?;
            for a in gone {
                map.elements.remove(a);
            }
        }
        for (name, (_, added)) in &d.map_add {
            let map = table.maps.get_mut(name).ok_or_else(refused)?;
            map.elements.extend(added.iter().cloned());
        }
        table.chains.retain(|c| !d.chains_gone.contains(&c.name));
        for c in d.chains_changed.iter().chain(&d.chains_new) {
            match table.chains.iter_mut().find(|old| old.name == c.name) {
                Some(old) => *old = c.clone(),
                None => table.chains.push(c.clone()),
            }
        }
        Ok(())
    }

    fn replace(&self, rs: &Ruleset) -> Result<(), ApplyError> {
        let mut k = self.0.lock().unwrap();
        k.calls.push("replace");
        if k.broken {
            return Err(refused());
        }
        k.table = Some(rs.clone());
        Ok(())
    }

    fn read_table(&self) -> Result<Option<TableReading>, ApplyError> {
        let k = self.0.lock().unwrap();
        Ok(k.table.as_ref().map(|rs| {
            let s = Summary::of_ruleset(rs);
            TableReading {
                sets: s.sets,
                maps: s.maps,
                chains: s
                    .chains
                    .into_iter()
                    .map(|(name, n)| (name, vec![RuleReading::default(); n]))
                    .collect(),
            }
        }))
    }
}

impl FakeKernel {
    fn calls(&self) -> Vec<&'static str> {
        std::mem::take(&mut self.0.lock().unwrap().calls)
    }
    fn set(&self, f: impl FnOnce(&mut Kernel)) {
        f(&mut self.0.lock().unwrap())
    }
    fn holds(&self) -> Option<Summary> {
        self.0
            .lock()
            .unwrap()
            .table
            .as_ref()
            .map(Summary::of_ruleset)
    }
}

const BASE: &str = "\
apiVersion: v1
kind: Namespace
metadata: {name: a}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: a, labels: {app: web}}
spec: {nodeName: n1}
status: {podIP: 10.0.0.1, phase: Running}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: a, labels: {app: client}}
spec: {nodeName: n2}
status: {podIP: 10.0.0.2, phase: Running}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: a}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress: [{from: [{podSelector: {matchLabels: {app: client}}}]}]
";

fn client(i: usize) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: client-{i}, namespace: a, labels: {{app: client}}}}\nspec: {{nodeName: n2}}\nstatus: {{podIP: 10.0.1.{}, phase: Running}}\n",
        i + 1
    )
}

/// A clock that does not move: the time a reconcile takes here (and a test thread's
/// preemption) never shifts a decision.
fn frozen() -> Instant {
    static AT: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *AT.get_or_init(Instant::now)
}

const WATCHED: [Listing; 3] = [
    Listing::Watch(Kind::Namespace),
    Listing::Watch(Kind::Pod),
    Listing::Watch(Kind::NetworkPolicy),
];

const BOUNDS: Bounds = Bounds {
    stall: Duration::from_secs(60),
    lag: Duration::from_secs(30),
};

struct Harness {
    t0: Instant,
    shared: Arc<Shared>,
    kernel: FakeKernel,
    driver: Driver<FakeKernel>,
}

impl Harness {
    fn new() -> Harness {
        let t0 = Instant::now();
        let shared = Arc::new(Shared::new(&WATCHED));
        let kernel = FakeKernel::default();
        let enforcer = Enforcer::new(
            NodeView {
                name: Some("n1".into()),
                addrs: vec![],
            },
            RenderOptions::default(),
            kernel.clone(),
            None,
        );
        let timing = Timing::new(Duration::from_millis(10), Duration::from_secs(30));
        let driver = Driver::new(t0, timing, enforcer, shared.clone(), false).with_clock(frozen);
        Harness {
            t0,
            shared,
            kernel,
            driver,
        }
    }

    fn at(&self, ms: u64) -> Instant {
        self.t0 + Duration::from_millis(ms)
    }

    fn poll(&mut self, ms: u64) -> Option<ReadRequest> {
        self.driver.poll(self.at(ms))
    }

    /// What a source does with manifests it read: into the store, then a notice.
    fn give(&self, text: &str) {
        let parsed = netfence_model::parse_manifest("t.yaml", text, "default");
        assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
        let mut store = self.shared.feed.store.lock().unwrap();
        for o in parsed.objects {
            store.apply(object_key(&o), Decoded::Object(o));
        }
        drop(store);
        self.shared.feed.note_change();
    }

    fn sync_all(&self) {
        for l in WATCHED {
            self.shared.feed.mark_synced(l);
        }
    }

    /// Synced and enforcing BASE (one replace) at 10 ms.
    fn enforcing() -> Harness {
        let mut h = Harness::new();
        h.give(BASE);
        h.sync_all();
        h.poll(0);
        h.poll(10);
        assert_eq!(h.kernel.calls(), ["replace"]);
        h
    }

    fn counted(
        family: &prometheus_client::metrics::family::Family<
            KindLabel,
            prometheus_client::metrics::counter::Counter,
        >,
        kind: &str,
    ) -> u64 {
        family.get_or_create(&KindLabel { kind: kind.into() }).get()
    }

    fn applies(&self, kind: &str) -> u64 {
        Self::counted(&self.shared.metrics.applies, kind)
    }

    fn errors(&self, kind: &str) -> u64 {
        Self::counted(&self.shared.metrics.errors, kind)
    }

    fn model_updates(&self, kind: &str) -> u64 {
        Self::counted(&self.shared.metrics.model_updates, kind)
    }

    fn ready(&self, ms: u64) -> (bool, String) {
        let v = readiness(
            &self.shared.health.snapshot(),
            self.shared.feed.all_synced(),
            self.at(ms),
            &BOUNDS,
        );
        (v.pass, v.reason)
    }

    /// The kernel holds exactly what the enforcer last applied.
    fn assert_kernel_in_step(&self) {
        let applied = self.driver.enforcer().applied().map(Summary::of_ruleset);
        assert!(applied.is_some());
        assert_eq!(self.kernel.holds(), applied);
    }
}

#[test]
fn nothing_reaches_the_kernel_before_every_initial_list_is_in() {
    let mut h = Harness::new();
    h.give(BASE);
    assert_eq!(h.poll(0), None);
    h.shared.feed.mark_synced(WATCHED[0]);
    h.shared.feed.mark_synced(WATCHED[1]);
    for ms in [10, 100, 5000] {
        h.poll(ms);
    }
    assert_eq!(
        h.kernel.calls(),
        Vec::<&str>::new(),
        "applied before syncing"
    );
    assert_eq!(
        h.ready(5000).1,
        "not ready: waiting for the first sync of every source"
    );
    h.shared.feed.mark_synced(WATCHED[2]);
    h.poll(6000);
    h.poll(6009);
    assert_eq!(
        h.kernel.calls(),
        Vec::<&str>::new(),
        "the window is still open"
    );
    h.poll(6010);
    // No table of ours yet: the first apply replaces it whole.
    assert_eq!(h.kernel.calls(), ["replace"]);
    assert_eq!((h.applies("full"), h.applies("delta")), (1, 0));
    assert_eq!(h.model_updates("compile"), 1);
    h.assert_kernel_in_step();
    assert_eq!(
        h.ready(6011),
        (true, "ready: the kernel holds the desired state".into())
    );
}

#[test]
fn a_burst_of_pod_changes_is_one_delta_patched_into_the_model() {
    let mut h = Harness::enforcing();
    for i in 0..40 {
        h.give(&client(i));
        h.poll(100 + i as u64 / 8);
    }
    h.poll(109);
    assert_eq!(
        h.kernel.calls(),
        Vec::<&str>::new(),
        "applied inside the window"
    );
    h.poll(110);
    assert_eq!(
        h.kernel.calls(),
        ["delta"],
        "40 pod changes, one transaction"
    );
    assert_eq!(h.applies("delta"), 1);
    assert_eq!(h.model_updates("patch"), 1);
    h.assert_kernel_in_step();
    let Some(model) = h.shared.enforced.model() else {
        panic!("no model enforced")
    };
    assert_eq!(model.cluster.endpoints.len(), 42);
    // A policy change is no pod event: the model is compiled again.
    h.give(&BASE.replace("app: client}}}]", "app: other}}}]"));
    h.poll(200);
    h.poll(210);
    assert_eq!(h.kernel.calls(), ["delta"]);
    assert_eq!(h.model_updates("compile"), 2);
    h.assert_kernel_in_step();
}

#[test]
fn a_failed_apply_is_retried_with_backoff_and_the_old_rules_stay() {
    let mut h = Harness::enforcing();
    let before = h.kernel.holds();
    h.kernel.set(|k| k.broken = true);
    h.give(&client(0));
    h.poll(100);
    h.poll(110);
    // The delta is refused, and so is the replace it falls back to.
    assert_eq!(h.kernel.calls(), ["delta", "replace"]);
    assert_eq!(h.errors("apply"), 1);
    assert_eq!(h.kernel.holds(), before, "the old rules stay");
    let (ready, why) = h.ready(111);
    assert!(
        !ready && why.starts_with("not ready: last apply failed"),
        "{why}"
    );
    assert!(why.contains("injected failure"), "{why}");
    // Retried after 100 ms, then 200 ms; changes meanwhile wait for the retry.
    h.give(&client(1));
    h.poll(150);
    h.poll(209);
    assert_eq!(
        h.kernel.calls(),
        Vec::<&str>::new(),
        "retried before the backoff"
    );
    h.poll(210);
    assert_eq!(h.kernel.calls(), ["delta", "replace"]);
    assert_eq!(h.errors("apply"), 2);
    h.poll(409);
    assert_eq!(
        h.kernel.calls(),
        Vec::<&str>::new(),
        "retried before the backoff"
    );
    h.kernel.set(|k| k.broken = false);
    h.poll(410);
    assert_eq!(h.kernel.calls(), ["delta"], "the retry takes both changes");
    assert_eq!(h.applies("delta"), 1);
    h.assert_kernel_in_step();
    assert!(h.ready(411).0);
    assert_eq!(
        h.driver.enforcer().applied().map(|rs| rs.stats().elements),
        h.kernel
            .0
            .lock()
            .unwrap()
            .table
            .as_ref()
            .map(|rs| rs.stats().elements)
    );
}

#[test]
fn a_refused_delta_falls_back_to_a_full_replace() {
    let mut h = Harness::enforcing();
    h.kernel.set(|k| k.refuse_deltas = true);
    h.give(&client(0));
    h.poll(100);
    h.poll(110);
    assert_eq!(h.kernel.calls(), ["delta", "replace"]);
    assert_eq!((h.applies("full"), h.applies("delta")), (2, 0));
    assert_eq!(h.errors("apply"), 0, "a fallback that takes is no error");
    h.assert_kernel_in_step();
    assert!(h.ready(111).0);
}

#[test]
fn drift_is_read_on_the_resync_tick_and_repaired() {
    let mut h = Harness::enforcing();
    h.give(&client(0));
    h.poll(100);
    h.poll(110);
    assert_eq!(h.kernel.calls(), ["delta"]);
    assert_eq!(h.poll(29_999), None);
    // In step: read, nothing repaired.
    let Some(ReadRequest { writes }) = h.poll(30_000) else {
        panic!("no drift check on the resync tick")
    };
    let view = read_kernel(h.driver.backend(), writes);
    h.driver.kernel_read(h.at(30_001), writes, view);
    assert_eq!(h.kernel.calls(), Vec::<&str>::new());
    // Someone deletes our table: the next tick's reading sees it and replaces it.
    h.kernel.set(|k| k.table = None);
    assert_eq!(h.poll(59_999), None);
    let Some(ReadRequest { writes }) = h.poll(60_000) else {
        panic!("no second drift check")
    };
    let view = read_kernel(h.driver.backend(), writes);
    h.driver.kernel_read(h.at(60_001), writes, view);
    assert_eq!(h.kernel.calls(), ["replace"]);
    assert_eq!(h.shared.metrics.drift_repairs.get(), 1);
    h.assert_kernel_in_step();
    // A reading taken before a write and judged after it proves nothing.
    let Some(ReadRequest { writes }) = h.poll(90_000) else {
        panic!("no third drift check")
    };
    h.kernel.set(|k| k.table = None);
    let stale = read_kernel(h.driver.backend(), writes);
    h.give(&client(1));
    h.poll(90_100);
    h.poll(90_110);
    // The delta to the missing table is refused; the replace it falls back to is a
    // write, which voids the reading taken before it.
    assert_eq!(h.kernel.calls(), ["delta", "replace"]);
    h.assert_kernel_in_step();
    h.driver.kernel_read(h.at(90_200), writes, stale);
    assert_eq!(
        h.kernel.calls(),
        Vec::<&str>::new(),
        "repaired on a stale reading"
    );
    assert_eq!(h.shared.metrics.drift_repairs.get(), 1);
}
