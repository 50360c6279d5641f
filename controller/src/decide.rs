//! The controller's decisions, apart from its I/O: a state machine that takes what
//! happened (changes, syncs, the outcome of what it asked for) and the time as values,
//! and answers with what to do (reconcile now, read the kernel back, repair it) and
//! what to report. It never waits, reads a clock or touches the kernel: the shell
//! (`drive`, under the tokio loop of `run`) does, and feeds the outcomes back in.
//!
//! The rules:
//! - nothing is applied before every source's initial list is in;
//! - a change opens a coalescing window: changes arriving in it go in the same
//!   reconcile, at the window's end (it is not pushed back by later changes, so a steady
//!   stream still reaches the kernel every window);
//! - a failed reconcile is retried after a backoff that doubles (100 ms to 10 s) until
//!   one succeeds; changes meanwhile wait for the retry, which takes them too;
//! - every resync period, once enforcing, the kernel is read back; a reading that
//!   differs from what was applied is repaired, unless the kernel was written while it
//!   was being read (such a reading proves nothing).

use netfence_nft::Applied;
use std::time::{Duration, Instant};

/// The clock rules.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    /// Changes within this window from the first go in one reconcile.
    pub coalesce: Duration,
    /// How often the kernel is read back for drift.
    pub resync: Duration,
    /// The first retry's wait after a failed reconcile; doubled up to `max_backoff`.
    pub backoff: Duration,
    pub max_backoff: Duration,
}

impl Timing {
    pub fn new(coalesce: Duration, resync: Duration) -> Timing {
        Timing {
            coalesce,
            resync,
            backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(10),
        }
    }
}

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// The sources changed the store, which is now at `generation`; the oldest of the
    /// changes happened at `since`.
    Changed { generation: u64, since: Instant },
    /// Every source's initial list is in.
    Synced,
    /// Time passed (a wake-up asked for by [`Core::next_wake`], or any other).
    Tick,
    /// The reconcile asked for ran, from the store at `generation`.
    Reconciled { generation: u64, outcome: Outcome },
    /// The reading asked for by [`Action::ReadKernel`] came back.
    KernelRead { writes: u64, reading: Reading },
    /// The repair asked for by [`Action::RepairDrift`] ran.
    Repaired { ok: bool },
}

/// How a reconcile ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The kernel holds the new ruleset (reached by nothing, a delta or a replace).
    Applied(Applied),
    /// It does not; it still holds what it held.
    Failed,
}

/// What a drift reading found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reading {
    /// The kernel holds what was applied.
    Matches,
    /// It does not (flushed, edited, deleted).
    Differs,
    /// The table could not be read.
    Failed,
}

/// What to do, or report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Bring the kernel to the store's current state now; answer with
    /// [`Event::Reconciled`].
    Reconcile,
    /// Read the kernel's table back (off the reconcile path); answer with
    /// [`Event::KernelRead`] carrying these `writes`.
    ReadKernel { writes: u64 },
    /// Replace the table with what was last applied; answer with [`Event::Repaired`].
    RepairDrift,
    /// The first enforcement of this process: synced and enforcing.
    Enforcing,
    /// The oldest change of a reconcile reached the kernel this long after it happened.
    Latency(Duration),
    /// The kernel holds the desired state: nothing is behind.
    InStep,
    /// The reconcile failed; it is retried after this long.
    RetryIn(Duration),
}

/// The state machine. Every method takes the time as a value.
#[derive(Debug)]
pub struct Core {
    timing: Timing,
    synced: bool,
    /// The store's generation as last reported (0: the empty store of a start).
    wanted: u64,
    /// The generation the kernel holds (None: none of this process yet).
    applied: Option<u64>,
    /// When the next reconcile is due (None: none scheduled).
    due: Option<Instant>,
    /// The wait before the next retry, should the next reconcile fail.
    backoff: Duration,
    /// The oldest change not yet in the kernel nor in a reconcile under way.
    pending_since: Option<Instant>,
    /// A reconcile asked for and not answered yet, with the oldest change it carries.
    in_flight: Option<Option<Instant>>,
    enforcing: bool,
    /// Kernel writes so far (applies that changed something, repairs).
    writes: u64,
    next_drift: Instant,
    reading: bool,
}

impl Core {
    pub fn new(now: Instant, timing: Timing) -> Core {
        Core {
            timing,
            synced: false,
            wanted: 0,
            applied: None,
            due: None,
            backoff: timing.backoff,
            pending_since: None,
            in_flight: None,
            enforcing: false,
            writes: 0,
            next_drift: now + timing.resync,
            reading: false,
        }
    }

    /// Whether the kernel is behind the store (always, before the first apply).
    pub fn behind(&self) -> bool {
        self.applied != Some(self.wanted)
    }

    /// Whether a reconcile of this process ever succeeded.
    pub fn enforcing(&self) -> bool {
        self.enforcing
    }

    /// When the core next needs a [`Event::Tick`], at the latest.
    pub fn next_wake(&self) -> Instant {
        self.due.map_or(self.next_drift, |d| d.min(self.next_drift))
    }

    /// Takes one event at `now`; returns what to do, in order.
    pub fn handle(&mut self, now: Instant, event: Event) -> Vec<Action> {
        let mut out = Vec::new();
        match event {
            Event::Changed { generation, since } => {
                self.wanted = self.wanted.max(generation);
                if self.behind() || self.in_flight.is_some() {
                    self.pending_since = Some(self.pending_since.map_or(since, |p| p.min(since)));
                    self.schedule(now);
                } else {
                    // Its notice came after a reconcile that took the change already.
                    out.push(Action::InStep);
                }
            }
            Event::Synced => {
                self.synced = true;
                self.schedule(now);
            }
            Event::Tick => {}
            Event::Reconciled {
                generation,
                outcome,
            } => {
                let since = self.in_flight.take().flatten();
                match outcome {
                    Outcome::Applied(applied) => {
                        if applied != Applied::Nothing {
                            self.writes += 1;
                        }
                        // It may have read the store past the last notice.
                        self.wanted = self.wanted.max(generation);
                        self.applied = Some(generation);
                        self.backoff = self.timing.backoff;
                        if !self.enforcing {
                            self.enforcing = true;
                            out.push(Action::Enforcing);
                        }
                        if let Some(t) = since {
                            out.push(Action::Latency(now.saturating_duration_since(t)));
                        }
                        if self.behind() {
                            // More arrived meanwhile: let the rest of the burst land too.
                            self.due = Some(now + self.timing.coalesce);
                        } else {
                            out.push(Action::InStep);
                        }
                    }
                    Outcome::Failed => {
                        // Its changes are still to be applied: the oldest counts on.
                        if let Some(t) = since {
                            self.pending_since = Some(self.pending_since.map_or(t, |p| p.min(t)));
                        }
                        self.due = Some(now + self.backoff);
                        out.push(Action::RetryIn(self.backoff));
                        self.backoff = (self.backoff * 2).min(self.timing.max_backoff);
                    }
                }
            }
            Event::KernelRead { writes, reading } => {
                self.reading = false;
                // A write during the reading: it proves nothing; the next one will tell.
                if reading == Reading::Differs && writes == self.writes {
                    out.push(Action::RepairDrift);
                }
            }
            Event::Repaired { ok } => {
                if ok {
                    self.writes += 1;
                }
            }
        }
        self.tick(now, &mut out);
        out
    }

    /// A reconcile is wanted: due at the end of a coalescing window from now, unless
    /// one is due already (an open window, or a retry's backoff) or under way.
    fn schedule(&mut self, now: Instant) {
        if self.synced && self.behind() && self.due.is_none() && self.in_flight.is_none() {
            self.due = Some(now + self.timing.coalesce);
        }
    }

    fn tick(&mut self, now: Instant, out: &mut Vec<Action>) {
        if self.in_flight.is_none() && self.due.is_some_and(|d| d <= now) {
            self.due = None;
            if self.synced && self.behind() {
                self.in_flight = Some(self.pending_since.take());
                out.push(Action::Reconcile);
            }
        }
        // The drift clock runs from the start; its ticks before the first apply pass.
        if now >= self.next_drift {
            self.next_drift = now + self.timing.resync;
            if self.enforcing && !self.reading {
                self.reading = true;
                out.push(Action::ReadKernel {
                    writes: self.writes,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMING: Timing = Timing {
        coalesce: Duration::from_millis(10),
        resync: Duration::from_secs(30),
        backoff: Duration::from_millis(100),
        max_backoff: Duration::from_secs(10),
    };

    fn ms(t0: Instant, ms: u64) -> Instant {
        t0 + Duration::from_millis(ms)
    }

    fn changed(generation: u64, since: Instant) -> Event {
        Event::Changed { generation, since }
    }

    fn reconciled(generation: u64, outcome: Outcome) -> Event {
        Event::Reconciled {
            generation,
            outcome,
        }
    }

    const DELTA: Outcome = Outcome::Applied(Applied::Delta);
    const FULL: Outcome = Outcome::Applied(Applied::Full);

    /// Synced at 0 and first applied (generation `g`) at 10 ms.
    fn enforcing(t0: Instant, g: u64) -> Core {
        let mut c = Core::new(t0, TIMING);
        c.handle(t0, changed(g, t0));
        c.handle(t0, Event::Synced);
        assert_eq!(c.handle(ms(t0, 10), Event::Tick), [Action::Reconcile]);
        let out = c.handle(ms(t0, 10), reconciled(g, FULL));
        assert_eq!(
            out,
            [
                Action::Enforcing,
                Action::Latency(Duration::from_millis(10)),
                Action::InStep
            ]
        );
        c
    }

    #[test]
    fn nothing_is_applied_before_every_initial_list_is_in() {
        let t0 = Instant::now();
        let mut c = Core::new(t0, TIMING);
        for i in 1..=5 {
            assert_eq!(c.handle(ms(t0, i), changed(i, ms(t0, i))), []);
        }
        assert_eq!(
            c.next_wake(),
            ms(t0, 30_000),
            "no reconcile scheduled before the sync: only the drift clock"
        );
        assert_eq!(c.handle(ms(t0, 5000), Event::Tick), []);
        // The last list is in: the window opens from there.
        assert_eq!(c.handle(ms(t0, 6000), Event::Synced), []);
        assert_eq!(c.next_wake(), ms(t0, 6010));
        assert_eq!(c.handle(ms(t0, 6009), Event::Tick), []);
        assert_eq!(c.handle(ms(t0, 6010), Event::Tick), [Action::Reconcile]);
        assert!(!c.enforcing());
    }

    #[test]
    fn an_empty_cluster_is_still_enforced_once_synced() {
        let t0 = Instant::now();
        let mut c = Core::new(t0, TIMING);
        c.handle(t0, Event::Synced);
        assert_eq!(c.handle(ms(t0, 10), Event::Tick), [Action::Reconcile]);
        let out = c.handle(ms(t0, 11), reconciled(0, FULL));
        assert_eq!(out, [Action::Enforcing, Action::InStep]);
        assert!(!c.behind());
    }

    #[test]
    fn a_burst_is_coalesced_into_one_reconcile_and_what_comes_during_it_into_the_next() {
        let t0 = Instant::now();
        let mut c = enforcing(t0, 1);
        // 100 changes within the window that the first opens at 100 ms.
        for i in 0..100u64 {
            let at = t0 + Duration::from_millis(100) + Duration::from_micros(i * 90);
            assert_eq!(c.handle(at, changed(2 + i, at)), []);
        }
        // Later changes do not push the window back.
        assert_eq!(c.next_wake(), ms(t0, 110));
        assert_eq!(c.handle(ms(t0, 109), Event::Tick), []);
        assert_eq!(c.handle(ms(t0, 110), Event::Tick), [Action::Reconcile]);
        // One reconcile at a time: a tick while it runs asks for nothing.
        assert_eq!(c.handle(ms(t0, 111), changed(102, ms(t0, 111))), []);
        assert_eq!(c.handle(ms(t0, 112), Event::Tick), []);
        // It carried generation 101; 102 came meanwhile: another window, not in step.
        let out = c.handle(ms(t0, 115), reconciled(101, DELTA));
        assert_eq!(out, [Action::Latency(Duration::from_millis(15))]);
        assert!(c.behind());
        assert_eq!(c.next_wake(), ms(t0, 125));
        assert_eq!(c.handle(ms(t0, 125), Event::Tick), [Action::Reconcile]);
        // The latency of the second counts from the change it carries (111 ms).
        let out = c.handle(ms(t0, 126), reconciled(102, DELTA));
        assert_eq!(
            out,
            [Action::Latency(Duration::from_millis(15)), Action::InStep]
        );
        assert_eq!(c.next_wake(), ms(t0, 30_000), "only the drift check");
    }

    #[test]
    fn a_late_notice_of_a_change_already_applied_leaves_the_kernel_in_step() {
        let t0 = Instant::now();
        let mut c = enforcing(t0, 1);
        // The reconcile read the store at 3; the notice of the change to 3 came after.
        c.handle(ms(t0, 100), changed(2, ms(t0, 100)));
        assert_eq!(c.handle(ms(t0, 110), Event::Tick), [Action::Reconcile]);
        c.handle(ms(t0, 111), reconciled(3, DELTA));
        let out = c.handle(ms(t0, 112), changed(3, ms(t0, 105)));
        assert_eq!(out, [Action::InStep]);
        assert_eq!(c.next_wake(), ms(t0, 30_000), "nothing to reconcile");
        // Nor is its stamp carried into the latency of the next change.
        c.handle(ms(t0, 500), changed(4, ms(t0, 500)));
        c.handle(ms(t0, 510), Event::Tick);
        let out = c.handle(ms(t0, 511), reconciled(4, DELTA));
        assert_eq!(
            out,
            [Action::Latency(Duration::from_millis(11)), Action::InStep]
        );
    }

    #[test]
    fn a_failed_reconcile_is_retried_with_a_doubling_backoff_that_resets_on_success() {
        let t0 = Instant::now();
        let mut c = enforcing(t0, 1);
        // (No drift check in the way: these retries take longer than a resync.)
        c.timing.resync = Duration::from_secs(3600);
        c.next_drift = t0 + c.timing.resync;
        c.handle(ms(t0, 1000), changed(2, ms(t0, 1000)));
        assert_eq!(c.handle(ms(t0, 1010), Event::Tick), [Action::Reconcile]);
        let mut at = 1010;
        for wait in [100, 200, 400, 800, 1600, 3200, 6400, 10_000, 10_000] {
            let out = c.handle(ms(t0, at), reconciled(2, Outcome::Failed));
            assert_eq!(out, [Action::RetryIn(Duration::from_millis(wait))]);
            // A change during the backoff waits for the retry (which takes it too).
            assert_eq!(c.handle(ms(t0, at + 1), changed(3, ms(t0, at + 1))), []);
            assert_eq!(c.handle(ms(t0, at + wait - 1), Event::Tick), []);
            at += wait;
            assert_eq!(c.handle(ms(t0, at), Event::Tick), [Action::Reconcile]);
        }
        // The retry succeeds with everything: the latency counts from the first change.
        let out = c.handle(ms(t0, at), reconciled(3, DELTA));
        assert_eq!(
            out,
            [
                Action::Latency(Duration::from_millis(at - 1000)),
                Action::InStep
            ]
        );
        // And the next failure waits the first backoff again.
        c.handle(ms(t0, at + 100), changed(4, ms(t0, at + 100)));
        assert_eq!(c.handle(ms(t0, at + 110), Event::Tick), [Action::Reconcile]);
        let out = c.handle(ms(t0, at + 110), reconciled(4, Outcome::Failed));
        assert_eq!(out, [Action::RetryIn(Duration::from_millis(100))]);
    }

    #[test]
    fn a_failed_first_apply_is_retried_and_nothing_is_enforcing_until_it_takes() {
        let t0 = Instant::now();
        let mut c = Core::new(t0, TIMING);
        c.handle(t0, Event::Synced);
        assert_eq!(c.handle(ms(t0, 10), Event::Tick), [Action::Reconcile]);
        let out = c.handle(ms(t0, 10), reconciled(0, Outcome::Failed));
        assert_eq!(out, [Action::RetryIn(Duration::from_millis(100))]);
        assert!(!c.enforcing());
        // No drift check of a table this process never wrote.
        assert_eq!(c.handle(ms(t0, 60_000), Event::Tick), [Action::Reconcile]);
        let out = c.handle(ms(t0, 60_001), reconciled(0, FULL));
        assert_eq!(out, [Action::Enforcing, Action::InStep]);
    }

    #[test]
    fn drift_is_read_every_resync_and_repaired_unless_the_kernel_was_written_meanwhile() {
        let t0 = Instant::now();
        let mut c = enforcing(t0, 1);
        // The first reading one resync after the start.
        assert_eq!(c.handle(ms(t0, 29_999), Event::Tick), []);
        let out = c.handle(ms(t0, 30_010), Event::Tick);
        assert_eq!(out, [Action::ReadKernel { writes: 1 }]);
        // One reading at a time: the next period passes while it is under way.
        assert_eq!(c.handle(ms(t0, 60_010), Event::Tick), []);
        let out = c.handle(
            ms(t0, 60_011),
            Event::KernelRead {
                writes: 1,
                reading: Reading::Differs,
            },
        );
        assert_eq!(out, [Action::RepairDrift]);
        c.handle(ms(t0, 60_012), Event::Repaired { ok: true });
        // The repair was a write: the next reading carries it.
        let out = c.handle(ms(t0, 90_010), Event::Tick);
        assert_eq!(out, [Action::ReadKernel { writes: 2 }]);
        // A reconcile that writes while the reading is under way voids it.
        c.handle(ms(t0, 90_100), changed(2, ms(t0, 90_100)));
        assert_eq!(c.handle(ms(t0, 90_110), Event::Tick), [Action::Reconcile]);
        c.handle(ms(t0, 90_111), reconciled(2, DELTA));
        let out = c.handle(
            ms(t0, 90_200),
            Event::KernelRead {
                writes: 2,
                reading: Reading::Differs,
            },
        );
        assert_eq!(out, [], "a reading across a write proves nothing");
        // A reconcile that wrote nothing does not.
        let out = c.handle(ms(t0, 120_200), Event::Tick);
        assert_eq!(out, [Action::ReadKernel { writes: 3 }]);
        c.handle(ms(t0, 120_300), changed(3, ms(t0, 120_300)));
        c.handle(ms(t0, 120_310), Event::Tick);
        c.handle(
            ms(t0, 120_310),
            reconciled(3, Outcome::Applied(Applied::Nothing)),
        );
        let read = |reading| Event::KernelRead { writes: 3, reading };
        assert_eq!(
            c.handle(ms(t0, 120_400), read(Reading::Differs)),
            [Action::RepairDrift]
        );
        // A failed repair is no write; a failed reading asks for nothing.
        c.handle(ms(t0, 120_401), Event::Repaired { ok: false });
        assert_eq!(
            c.handle(ms(t0, 150_400), Event::Tick),
            [Action::ReadKernel { writes: 3 }]
        );
        assert_eq!(c.handle(ms(t0, 150_500), read(Reading::Failed)), []);
        assert_eq!(c.handle(ms(t0, 150_600), read(Reading::Matches)), []);
    }
}
