//! deploy/krew/netfence.yaml has what krew requires of a plugin manifest, and agrees with
//! the crate (version, binary name). Its uri/sha256 are placeholders until there are
//! release artifacts: checked to be of the right form and marked as placeholders.

use serde_yaml::Value;
use std::path::Path;

fn manifest_text() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/krew/netfence.yaml");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    let mut cur = v;
    for key in path {
        cur = cur
            .get(*key)
            .unwrap_or_else(|| panic!("missing {}", path.join(".")));
    }
    cur.as_str()
        .unwrap_or_else(|| panic!("{} is not a string", path.join(".")))
}

#[test]
fn the_krew_manifest_has_every_required_field() {
    let text = manifest_text();
    let doc: Value = serde_yaml::from_str(&text).expect("valid YAML");
    assert_eq!(
        str_at(&doc, &["apiVersion"]),
        "krew.googlecontainertools.github.com/v1alpha2"
    );
    assert_eq!(str_at(&doc, &["kind"]), "Plugin");
    // krew installs `kubectl-NAME`: the name is the binary's without the prefix.
    assert_eq!(str_at(&doc, &["metadata", "name"]), "netfence");
    assert_eq!(
        str_at(&doc, &["spec", "version"]),
        format!("v{}", env!("CARGO_PKG_VERSION"))
    );
    let short = str_at(&doc, &["spec", "shortDescription"]);
    assert!(!short.is_empty() && short.len() <= 50, "{short}");
    assert!(!str_at(&doc, &["spec", "description"]).is_empty());

    let platforms = doc["spec"]["platforms"].as_sequence().expect("platforms");
    assert!(!platforms.is_empty());
    let mut selectors = Vec::new();
    for p in platforms {
        let os = str_at(p, &["selector", "matchLabels", "os"]);
        let arch = str_at(p, &["selector", "matchLabels", "arch"]);
        selectors.push(format!("{os}/{arch}"));
        assert_eq!(str_at(p, &["bin"]), "kubectl-netfence");
        let uri = str_at(p, &["uri"]);
        assert!(uri.starts_with("https://"), "{uri}");
        let sha = str_at(p, &["sha256"]);
        assert!(
            sha.len() == 64 && sha.chars().all(|c| c.is_ascii_hexdigit()),
            "{sha}"
        );
        let files: Vec<&str> = p["files"]
            .as_sequence()
            .expect("files")
            .iter()
            .map(|f| str_at(f, &["from"]))
            .collect();
        assert!(files.contains(&"kubectl-netfence"), "{files:?}");
        assert!(files.contains(&"kubectl_complete-netfence"), "{files:?}");
        // Placeholders until a release: an unresolvable host and no real digest.
        if uri.contains(".invalid/") || sha.chars().all(|c| c == '0') {
            assert!(
                uri.contains(".invalid/") && sha.chars().all(|c| c == '0'),
                "{uri} {sha}: half a placeholder"
            );
            assert!(
                text.contains("no release artifacts yet"),
                "placeholder not explained"
            );
        }
    }
    let mut unique = selectors.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), selectors.len(), "{selectors:?}");
}
