//! Liveness and readiness computed from what the reconcile loop did, not from the fact
//! that the process answers: live while the loop keeps completing cycles, ready while
//! the kernel holds (or is about to hold) the desired state. The decisions are pure
//! functions of a [`HealthState`] and an instant, so they are tested with explicit
//! instants.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long each condition may last before the probe fails.
#[derive(Clone, Copy, Debug)]
pub struct Bounds {
    /// Liveness fails when the loop has not completed a cycle for longer than this.
    pub stall: Duration,
    /// Readiness fails when the kernel has been behind the desired state for longer.
    pub lag: Duration,
}

/// The outcome of the last kernel apply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApplyResult {
    Applied { at: Instant },
    Failed { at: Instant, error: String },
}

/// What the loop reported so far.
#[derive(Clone, Debug)]
pub struct HealthState {
    pub started: Instant,
    /// The last time the loop went round (an idle wake-up counts: the loop is alive).
    pub last_cycle: Instant,
    pub last_apply: Option<ApplyResult>,
    /// Whether any apply ever succeeded (the kernel holds a ruleset of this process).
    pub ever_applied: bool,
    /// Since when the kernel has been behind the desired state (None: in step).
    pub behind_since: Option<Instant>,
}

/// A probe's answer: pass or fail, and why (the response body).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub pass: bool,
    pub reason: String,
}

impl Verdict {
    fn pass(reason: String) -> Verdict {
        Verdict { pass: true, reason }
    }
    fn fail(reason: String) -> Verdict {
        Verdict {
            pass: false,
            reason,
        }
    }
}

fn secs(d: Duration) -> String {
    format!("{:.0}s", d.as_secs_f64())
}

/// Liveness: the loop completed a cycle within `bounds.stall`.
pub fn liveness(s: &HealthState, now: Instant, bounds: &Bounds) -> Verdict {
    let idle = now.saturating_duration_since(s.last_cycle);
    if idle > bounds.stall {
        Verdict::fail(format!(
            "not live: the reconcile loop has not completed a cycle for {} (bound {})",
            secs(idle),
            secs(bounds.stall)
        ))
    } else {
        Verdict::pass(format!("ok: last reconcile cycle {} ago", secs(idle)))
    }
}

/// Readiness: synced, the last apply succeeded, the kernel is not behind for longer
/// than `bounds.lag`, and the loop is live. `synced`: every source's initial list is in.
pub fn readiness(s: &HealthState, synced: bool, now: Instant, bounds: &Bounds) -> Verdict {
    let live = liveness(s, now, bounds);
    if !live.pass {
        return Verdict::fail(live.reason.replacen("not live", "not ready", 1));
    }
    if let Some(ApplyResult::Failed { at, error }) = &s.last_apply {
        return Verdict::fail(format!(
            "not ready: last apply failed {} ago: {error}",
            secs(now.saturating_duration_since(*at))
        ));
    }
    if !synced {
        return Verdict::fail("not ready: waiting for the first sync of every source".into());
    }
    if !s.ever_applied {
        return Verdict::fail("not ready: waiting for the first apply".into());
    }
    if let Some(since) = s.behind_since {
        let lag = now.saturating_duration_since(since);
        if lag > bounds.lag {
            return Verdict::fail(format!(
                "not ready: the kernel has been behind the desired state for {} (bound {})",
                secs(lag),
                secs(bounds.lag)
            ));
        }
    }
    Verdict::pass("ready: the kernel holds the desired state".into())
}

/// The loop's reports, shared with the HTTP server.
pub struct Health {
    state: Mutex<HealthState>,
}

impl Health {
    pub fn new(now: Instant) -> Health {
        Health {
            state: Mutex::new(HealthState {
                started: now,
                last_cycle: now,
                last_apply: None,
                ever_applied: false,
                behind_since: None,
            }),
        }
    }

    pub fn snapshot(&self) -> HealthState {
        self.state.lock().expect("lock").clone()
    }

    /// The loop went round.
    pub fn cycle(&self, now: Instant) {
        self.state.lock().expect("lock").last_cycle = now;
    }

    /// A change arrived (or a reconcile starts from one): the kernel is behind from now
    /// on, unless it already was.
    pub fn behind(&self, now: Instant) {
        let mut s = self.state.lock().expect("lock");
        s.behind_since.get_or_insert(now);
    }

    /// The desired state is in the kernel.
    pub fn in_step(&self) {
        self.state.lock().expect("lock").behind_since = None;
    }

    /// An apply of the state read at `snapshot` succeeded at `now`. Whatever is still
    /// behind arrived after `snapshot`, so the lag counts from there (cleared by
    /// [`Health::in_step`] when nothing is).
    pub fn applied(&self, snapshot: Instant, now: Instant) {
        let mut s = self.state.lock().expect("lock");
        s.last_cycle = now;
        s.last_apply = Some(ApplyResult::Applied { at: now });
        s.ever_applied = true;
        if s.behind_since.is_some() {
            s.behind_since = Some(snapshot);
        }
    }

    /// An apply failed at `now` with `error` (shown with its causes: `{:#}`).
    pub fn apply_failed(&self, error: &impl std::fmt::Display, now: Instant) {
        let mut s = self.state.lock().expect("lock");
        s.last_cycle = now;
        // The whole chain of causes, on one line: a probe body is one line.
        let error = format!("{error:#}").replace('\n', " ");
        s.last_apply = Some(ApplyResult::Failed { at: now, error });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUNDS: Bounds = Bounds {
        stall: Duration::from_secs(60),
        lag: Duration::from_secs(30),
    };

    fn at(t0: Instant, s: u64) -> Instant {
        t0 + Duration::from_secs(s)
    }

    fn applied_at(t0: Instant, s: u64) -> HealthState {
        HealthState {
            started: t0,
            last_cycle: at(t0, s),
            last_apply: Some(ApplyResult::Applied { at: at(t0, s) }),
            ever_applied: true,
            behind_since: None,
        }
    }

    #[test]
    fn liveness_fails_only_after_the_stall_bound() {
        let t0 = Instant::now();
        let s = applied_at(t0, 0);
        assert!(liveness(&s, at(t0, 60), &BOUNDS).pass);
        let v = liveness(&s, at(t0, 61), &BOUNDS);
        assert!(!v.pass);
        assert_eq!(
            v.reason,
            "not live: the reconcile loop has not completed a cycle for 61s (bound 60s)"
        );
        // A stalled loop is not ready either.
        let r = readiness(&s, true, at(t0, 61), &BOUNDS);
        assert!(!r.pass);
        assert!(
            r.reason.starts_with("not ready: the reconcile loop"),
            "{}",
            r.reason
        );
    }

    #[test]
    fn a_failed_apply_makes_it_unready_with_the_error_until_one_succeeds() {
        let t0 = Instant::now();
        let h = Health::new(t0);
        h.applied(at(t0, 1), at(t0, 1));
        assert!(readiness(&h.snapshot(), true, at(t0, 2), &BOUNDS).pass);
        h.apply_failed(
            &anyhow::anyhow!("exit status 1").context("nft -f"),
            at(t0, 3),
        );
        let v = readiness(&h.snapshot(), true, at(t0, 15), &BOUNDS);
        assert_eq!(
            v,
            Verdict {
                pass: false,
                reason: "not ready: last apply failed 12s ago: nft -f: exit status 1".into()
            }
        );
        // Failing applies are still cycles: the loop is alive.
        assert!(liveness(&h.snapshot(), at(t0, 15), &BOUNDS).pass);
        h.applied(at(t0, 16), at(t0, 16));
        assert!(readiness(&h.snapshot(), true, at(t0, 17), &BOUNDS).pass);
    }

    #[test]
    fn not_ready_before_the_first_sync_and_apply() {
        let t0 = Instant::now();
        let h = Health::new(t0);
        let v = readiness(&h.snapshot(), false, at(t0, 1), &BOUNDS);
        assert_eq!(
            v.reason,
            "not ready: waiting for the first sync of every source"
        );
        let v = readiness(&h.snapshot(), true, at(t0, 1), &BOUNDS);
        assert_eq!(v.reason, "not ready: waiting for the first apply");
        assert!(liveness(&h.snapshot(), at(t0, 1), &BOUNDS).pass);
    }

    #[test]
    fn lagging_behind_fails_readiness_after_the_lag_bound() {
        let t0 = Instant::now();
        let h = Health::new(t0);
        h.applied(at(t0, 0), at(t0, 0));
        h.behind(at(t0, 10));
        // A second change does not restart the clock.
        h.behind(at(t0, 20));
        h.cycle(at(t0, 40));
        assert!(readiness(&h.snapshot(), true, at(t0, 40), &BOUNDS).pass);
        let v = readiness(&h.snapshot(), true, at(t0, 41), &BOUNDS);
        assert_eq!(
            v.reason,
            "not ready: the kernel has been behind the desired state for 31s (bound 30s)"
        );
        // An apply of a snapshot taken at 35 leaves only newer changes behind.
        h.applied(at(t0, 35), at(t0, 42));
        assert!(readiness(&h.snapshot(), true, at(t0, 60), &BOUNDS).pass);
        assert!(!readiness(&h.snapshot(), true, at(t0, 66), &BOUNDS).pass);
        h.in_step();
        assert!(readiness(&h.snapshot(), true, at(t0, 90), &BOUNDS).pass);
    }
}
