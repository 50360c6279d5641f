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
    /// The bearer token every request must carry, else 401.
    pub(crate) token: Option<String>,
    /// Collection paths (`/api/v1/pods`, cluster-wide) answered 403, as RBAC would.
    pub(crate) forbidden: Vec<String>,
}

/// Why a request is refused before it is served: (status code, reason, message).
pub(crate) type Refusal = (u16, &'static str, String);

impl Faults {
    /// 401 without the required bearer token; 403, worded as kube-apiserver's RBAC
    /// authorizer does, for a forbidden collection (listed or watched cluster-wide).
    pub(crate) fn refusal(&self, authorization: Option<&str>, path: &str) -> Option<Refusal> {
        if let Some(token) = &self.token {
            if authorization != Some(format!("Bearer {token}").as_str()) {
                return Some((401, "Unauthorized", "Unauthorized".into()));
            }
        }
        let collection = self.forbidden.iter().find(|c| c.as_str() == path)?;
        let segs: Vec<&str> = collection.trim_matches('/').split('/').collect();
        let (group, plural) = match segs.as_slice() {
            ["api", _, plural] => ("", *plural),
            ["apis", group, _, plural] => (*group, *plural),
            _ => return None,
        };
        let user = if self.token.is_some() {
            "fake"
        } else {
            "system:anonymous"
        };
        let message = format!(
            "{plural} is forbidden: User \"{user}\" cannot list resource \"{plural}\" in API group \"{group}\" at the cluster scope"
        );
        Some((403, "Forbidden", message))
    }

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
