//! How kinds are named in URLs: the collection path of a kind. The way back, from a path
//! to its kind, is the table of served resources ([`crate::resources`]), as camel case
//! cannot be told from a plural (`clusternetworkpolicies` is ClusterNetworkPolicy).

/// The collection path of a kind, as the API server serves it cluster-wide.
pub fn collection_path(api_version: &str, kind: &str) -> String {
    let plural = plural_of(kind);
    if api_version.contains('/') {
        format!("/apis/{api_version}/{plural}")
    } else {
        format!("/api/{api_version}/{plural}")
    }
}

/// The plural resource name of a kind: lower case, with the English rules every
/// built-in kind and the network-policy-api kinds follow (`networkpolicies`,
/// `baselineadminnetworkpolicies`).
pub(crate) fn plural_of(kind: &str) -> String {
    let k = kind.to_ascii_lowercase();
    if k.ends_with("ss") || k.ends_with('x') || k.ends_with("ch") || k.ends_with("sh") {
        format!("{k}es")
    } else if k.ends_with('s') {
        k
    } else if let Some(stem) = k
        .strip_suffix('y')
        .filter(|s| !s.ends_with(['a', 'e', 'o', 'u']))
    {
        format!("{stem}ies")
    } else {
        format!("{k}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plurals_of_the_kinds_served() {
        for (kind, plural) in [
            ("NetworkPolicy", "networkpolicies"),
            ("Namespace", "namespaces"),
            ("ClusterNetworkPolicy", "clusternetworkpolicies"),
            ("AdminNetworkPolicy", "adminnetworkpolicies"),
            ("BaselineAdminNetworkPolicy", "baselineadminnetworkpolicies"),
            ("Ingress", "ingresses"),
        ] {
            assert_eq!(plural_of(kind), plural, "{kind}");
        }
        assert_eq!(
            collection_path("policy.networking.k8s.io/v1alpha2", "ClusterNetworkPolicy"),
            "/apis/policy.networking.k8s.io/v1alpha2/clusternetworkpolicies"
        );
        assert_eq!(collection_path("v1", "Node"), "/api/v1/nodes");
    }
}
