//! Carries out what `decide` decides, synchronously and over any [`Backend`]: takes
//! the sources' notices from the [`Feed`](crate::state::Feed), hands them and the time
//! to the [`Core`], runs the reconciles and repairs it asks for through the
//! [`Enforcer`], and reports (health, metrics, logs). The one thing it does not do
//! itself is read the kernel back for the drift check (slow at scale): it returns the
//! request, and the caller (the tokio loop of `run`, or a test) answers with
//! [`Driver::kernel_read`].

use crate::decide::{Action, Core, Event, Outcome, Reading, Timing};
use crate::enforcer::{Enforcer, Input, KernelView};
use crate::error::Error;
use crate::state::Shared;
use netfence_nft::Backend;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

/// A kernel reading to take (by `enforcer::read_kernel`) and hand back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadRequest {
    pub writes: u64,
}

pub struct Driver<B> {
    core: Core,
    enforcer: Enforcer<B>,
    shared: Arc<Shared>,
    /// The unprogrammed-pod guard follows the node's pod CIDRs (cluster mode).
    guard_from_node: bool,
    started: Instant,
    synced: bool,
    /// The error of the reconcile that just failed, logged with its retry.
    failure: Option<Error>,
    /// Measures the time that carrying out actions takes (it passes for the core too):
    /// `Instant::now`, or a frozen clock in tests, whose decisions then depend on the
    /// instants they give alone.
    clock: fn() -> Instant,
}

impl<B: Backend> Driver<B> {
    pub fn new(
        now: Instant,
        timing: Timing,
        enforcer: Enforcer<B>,
        shared: Arc<Shared>,
        guard_from_node: bool,
    ) -> Driver<B> {
        Driver {
            core: Core::new(now, timing),
            enforcer,
            shared,
            guard_from_node,
            started: now,
            synced: false,
            failure: None,
            clock: Instant::now,
        }
    }

    /// The same, measuring the time actions take with `clock`.
    pub fn with_clock(mut self, clock: fn() -> Instant) -> Driver<B> {
        self.clock = clock;
        self
    }

    pub fn backend(&self) -> &B {
        &self.enforcer.backend
    }

    pub fn enforcer(&self) -> &Enforcer<B> {
        &self.enforcer
    }

    /// When [`Driver::poll`] is next needed, at the latest (notices aside).
    pub fn next_wake(&self) -> Instant {
        self.core.next_wake()
    }

    /// Takes the sources' notices since the last call, lets time pass to `now`, and
    /// carries out what follows. Returns a kernel reading to take, if one is due.
    pub fn poll(&mut self, now: Instant) -> Option<ReadRequest> {
        let mut events = self.notices();
        events.push(Event::Tick);
        self.run(now, events)
    }

    /// The kernel reading asked for came back.
    pub fn kernel_read(
        &mut self,
        now: Instant,
        writes: u64,
        reading: Result<KernelView, Error>,
    ) -> Option<ReadRequest> {
        let reading = match reading {
            Ok(view) => self.enforcer.judge(&self.shared, &view),
            Err(e) => {
                tracing::warn!(error = %e, "drift check failed");
                self.shared.metrics.count(&e);
                Reading::Failed
            }
        };
        self.run(now, vec![Event::KernelRead { writes, reading }])
    }

    /// The events of the notices since the last call.
    fn notices(&mut self) -> Vec<Event> {
        let mut events = Vec::new();
        let feed = &self.shared.feed;
        if !self.synced && feed.all_synced() {
            self.synced = true;
            events.push(Event::Synced);
        }
        if let Some(since) = feed.take_first_change() {
            self.shared.health.behind(since);
            let generation = feed.store.lock().expect("lock").generation();
            events.push(Event::Changed { generation, since });
        }
        events
    }

    fn run(&mut self, now: Instant, events: Vec<Event>) -> Option<ReadRequest> {
        let mut queue: VecDeque<Event> = events.into();
        let mut read = None;
        let base = (self.clock)();
        while let Some(event) = queue.pop_front() {
            // Time spent carrying out earlier actions has passed too.
            let now = now + (self.clock)().saturating_duration_since(base);
            for action in self.core.handle(now, event) {
                match action {
                    Action::Reconcile => {
                        let (generation, outcome) = self.reconcile(now);
                        // Notices that came during the reconcile first: the core must
                        // not take the kernel for in step when it is not.
                        queue.extend(self.notices());
                        queue.push_back(Event::Reconciled {
                            generation,
                            outcome,
                        });
                    }
                    Action::ReadKernel { writes } => read = Some(ReadRequest { writes }),
                    Action::RepairDrift => {
                        let ok = match self.enforcer.repair(&self.shared) {
                            Ok(()) => true,
                            Err(e) => {
                                tracing::warn!(error = %e, "drift check failed");
                                self.shared.metrics.count(&e);
                                false
                            }
                        };
                        queue.push_back(Event::Repaired { ok });
                    }
                    Action::Enforcing => {
                        tracing::info!(
                            elapsed_ms =
                                now.saturating_duration_since(self.started).as_millis() as u64,
                            "synced and enforcing"
                        );
                    }
                    Action::Latency(d) => self
                        .shared
                        .metrics
                        .event_to_kernel_seconds
                        .observe(d.as_secs_f64()),
                    Action::InStep => self.shared.health.in_step(),
                    Action::RetryIn(wait) => {
                        let error = self.failure.take().map(|e| e.to_string());
                        tracing::error!(
                            error,
                            retry_in_ms = wait.as_millis() as u64,
                            "applying the ruleset failed; the previous rules stay"
                        );
                    }
                }
            }
        }
        read
    }

    /// One reconcile of the store as it is now.
    fn reconcile(&mut self, now: Instant) -> (u64, Outcome) {
        let shared = self.shared.clone();
        let (input, generation) = {
            let mut store = shared.feed.store.lock().expect("lock");
            shared.metrics.objects.set(store.len() as i64);
            if self.guard_from_node {
                let cidrs = store.node_pod_cidrs().unwrap_or_default().to_vec();
                shared.metrics.guard_cidrs.set(cidrs.len() as i64);
                self.enforcer.opts.unprogrammed_guard = cidrs;
            }
            let changes = store.take_changes();
            // Before the first model, and for anything but pod events: everything.
            let input = if changes.everything || !self.core.enforcing() {
                Input::Objects(store.objects())
            } else if changes.tiers && changes.pods.is_empty() {
                Input::Tiers(store.tier_policies())
            } else if changes.tiers {
                Input::Objects(store.objects())
            } else {
                Input::Pods(changes.pods)
            };
            (input, store.generation())
        };
        shared.health.behind(now);
        let started = (self.clock)();
        let objects = || shared.feed.store.lock().expect("lock").objects();
        let result = self.enforcer.reconcile(&shared, input, generation, objects);
        let done = now + (self.clock)().saturating_duration_since(started);
        match result {
            Ok(applied) => {
                shared.health.applied(now, done);
                self.enforcer.after_apply(&shared, applied);
                (generation, Outcome::Applied(applied))
            }
            Err(e) => {
                // The kernel keeps the previous rules (transactions are atomic).
                shared.health.apply_failed(&e, done);
                shared.metrics.count(&e);
                self.failure = Some(e);
                (generation, Outcome::Failed)
            }
        }
    }
}

#[cfg(test)]
#[path = "drive_tests.rs"]
mod tests;
