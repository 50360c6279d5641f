//! Why a request to the API server failed, in the terms a user acts on: nothing listens,
//! no answer in time, the TLS handshake failed, the credentials were rejected, or RBAC
//! does not allow the request (with the verb and resource a Role must grant).

use std::time::Duration;

/// What a request was: `verb` on `resource` (its plural) of API group `group` ("" for
/// the core group), in `namespace` or cluster-wide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub verb: String,
    pub plural: String,
    pub group: String,
    pub namespace: Option<String>,
}

impl Request {
    /// `networkpolicies.networking.k8s.io`, or `pods` for the core group.
    pub fn resource(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiFailure {
    #[error("connection refused: nothing listens there (is the cluster up, and is this the right context?)")]
    Refused,
    #[error("timed out{}", after.map(|d| format!(" after {} (--request-timeout)", humantime(d))).unwrap_or_default())]
    TimedOut { after: Option<Duration> },
    #[error(
        "TLS: {0} (is the server https, and its certificate-authority in the kubeconfig right?)"
    )]
    Tls(String),
    #[error(
        "401 Unauthorized: the API server rejected the credentials of the kubeconfig user ({0})"
    )]
    Unauthorized(String),
    #[error("forbidden: cannot {verb} {resource} {scope} (needs RBAC verb {verb} on {plural}{rbac_group}{rbac_scope})",
        verb = .0.verb, resource = .0.resource(), plural = .0.plural,
        scope = match &.0.namespace { Some(ns) => format!("in namespace {ns}"), None => "at the cluster scope".into() },
        rbac_group = if .0.group.is_empty() { String::new() } else { format!(" in apiGroup {}", .0.group) },
        rbac_scope = if .0.namespace.is_some() { "" } else { ", from a ClusterRole" })]
    Forbidden(Request),
    #[error("{0}")]
    Other(String),
}

fn humantime(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// The error and its causes, joined as anyhow's `{:#}` does.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cur = s.source();
    }
    parts.join(": ")
}

/// The first I/O error among the causes.
fn io_kind(e: &(dyn std::error::Error + 'static)) -> Option<std::io::ErrorKind> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = cur {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return Some(io.kind());
        }
        cur = s.source();
    }
    None
}

/// rustls' errors name the handshake's failures; kube wraps them in hyper's and its own.
fn is_tls(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    [
        "certificate",
        "tls",
        "handshake",
        "corrupt message",
        "invalidcontenttype",
    ]
    .iter()
    .any(|w| lower.contains(w))
}

impl ApiFailure {
    /// Classifies a failed `request` (`None`: before any request, building the client).
    /// `timeout` is the --request-timeout in force, named when it ran out.
    pub fn of_request(
        e: &kube::Error,
        request: Option<&Request>,
        timeout: Option<Duration>,
    ) -> Self {
        if let kube::Error::Api(status) = e {
            let detail = format!("{}: {}", status.reason, status.message);
            return match (status.code, request) {
                (401, _) => ApiFailure::Unauthorized(detail),
                (403, Some(r)) => ApiFailure::Forbidden(r.clone()),
                _ => ApiFailure::Other(format!("{} {detail}", status.code)),
            };
        }
        let text = chain(e);
        match io_kind(e) {
            Some(std::io::ErrorKind::ConnectionRefused) => ApiFailure::Refused,
            Some(std::io::ErrorKind::TimedOut) => ApiFailure::TimedOut { after: timeout },
            _ if is_tls(&text) => ApiFailure::Tls(text),
            _ => ApiFailure::Other(text),
        }
    }

    /// Classifies a failure outside any one request.
    pub fn of(e: &kube::Error, timeout: Option<Duration>) -> Self {
        Self::of_request(e, None, timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_names_the_verb_and_resource_a_role_must_grant() {
        let r = Request {
            verb: "list".into(),
            plural: "networkpolicies".into(),
            group: "networking.k8s.io".into(),
            namespace: Some("x".into()),
        };
        assert_eq!(
            ApiFailure::Forbidden(r.clone()).to_string(),
            "forbidden: cannot list networkpolicies.networking.k8s.io in namespace x \
             (needs RBAC verb list on networkpolicies in apiGroup networking.k8s.io)"
        );
        let core = Request {
            plural: "pods".into(),
            group: String::new(),
            namespace: None,
            ..r
        };
        assert_eq!(
            ApiFailure::Forbidden(core).to_string(),
            "forbidden: cannot list pods at the cluster scope \
             (needs RBAC verb list on pods, from a ClusterRole)"
        );
    }
}
