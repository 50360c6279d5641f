//! NF001 and NF403: objects the model rejected, reported as findings so that one run
//! shows them with everything else (and at their line, in SARIF and annotations).

use crate::catalogue;
use crate::finding::{Finding, Subject};
use netfence_model::ManifestError;

/// The model's message for an except entry that is not inside its cidr (or not of its
/// family): `...ipBlock: except "x" must be a strict subset of cidr "y"`.
fn is_except_error(message: &str) -> bool {
    message.contains(".ipBlock: except ")
}

pub fn findings(errors: &[ManifestError]) -> Vec<Finding> {
    errors
        .iter()
        .map(|e| {
            let id = if is_except_error(&e.message) {
                "NF403"
            } else {
                "NF001"
            };
            let object = e.object.clone().unwrap_or_default();
            // `Kind ns/name` -> `ns/name`, the key the config's ignore list matches.
            let key = object
                .split_once(' ')
                .map(|(_, k)| k.to_string())
                .unwrap_or_default();
            Finding {
                check: catalogue::check(id).expect("catalogue id"),
                subject: Subject::Manifest,
                object,
                key,
                source: e.location.clone(),
                message: e.message.clone(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn except_errors_get_their_own_id() {
        let text = "kind: NetworkPolicy\nmetadata: {name: p, namespace: a}\nspec:\n  ingress:\n  - from:\n    - ipBlock: {cidr: 10.0.0.0/16, except: [10.1.0.0/24]}\n  - ports: [{port: 80, protocol: ICMP}]\n";
        let parsed = netfence_model::parse_manifest("p.yaml", text, "d");
        let f = findings(&parsed.errors);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].id(), "NF403");
        assert_eq!(f[0].key, "a/p");
        assert_eq!(f[0].source.line, 6);
        let text = "kind: NetworkPolicy\nmetadata: {name: p, namespace: a}\nspec:\n  ingress:\n  - ports: [{port: 80, protocol: ICMP}]\n";
        let parsed = netfence_model::parse_manifest("p.yaml", text, "d");
        assert_eq!(findings(&parsed.errors)[0].id(), "NF001");
    }
}
