//! Faults injected from the test thread: failed answers, latency, and the server down.
//! Dropped and expired watches are ends of open watches, kept in [`crate::watch`].

use std::time::Duration;

#[derive(Default)]
pub(crate) struct Faults {
    /// Failures to answer before serving normally: (target prefix, status code).
    failures: Vec<(String, u16)>,
    /// Delay before every answer.
    pub(crate) latency: Duration,
    /// Connections are closed unanswered.
    pub(crate) down: bool,
}

impl Faults {
    pub(crate) fn fail_next(&mut self, prefix: &str, status: u16) {
        self.failures.push((prefix.to_string(), status));
    }

    /// The status of the first injected failure `target` matches, now used up.
    pub(crate) fn take_failure(&mut self, target: &str) -> Option<u16> {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        // kube-client sends `path?&watch=true&...`: match as if the `&` were not there.
        let normalized = format!("{path}?{}", query.trim_start_matches('&'));
        let i = self.failures.iter().position(|(p, _)| {
            target.starts_with(p.as_str()) || normalized.starts_with(p.as_str())
        })?;
        Some(self.failures.remove(i).1)
    }
}
