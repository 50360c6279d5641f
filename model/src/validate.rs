//! Name and label syntax exactly as the API server checks it
//! (k8s.io/apimachinery/pkg/util/validation/validation.go), so that an object a cluster
//! would refuse (a NUL byte in a name, an upper-case namespace) never reaches analysis or
//! the renderer, and one it accepts is never refused. Messages follow apimachinery's.

use std::collections::BTreeMap;

const DNS1123_LABEL_MAX: usize = 63;
const DNS1123_SUBDOMAIN_MAX: usize = 253;
const LABEL_VALUE_MAX: usize = 63;
const QUALIFIED_NAME_MAX: usize = 63;

fn alnum_lower(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`
fn is_label_shape(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && alnum_lower(b[0])
        && alnum_lower(b[b.len() - 1])
        && b.iter().all(|&c| alnum_lower(c) || c == b'-')
}

fn too_long(s: &str, max: usize) -> Option<String> {
    (s.len() > max).then(|| format!("must be no more than {max} characters"))
}

/// A lowercase RFC 1123 label (namespace names, Service port names).
pub fn dns1123_label(s: &str) -> Result<(), String> {
    if let Some(e) = too_long(s, DNS1123_LABEL_MAX) {
        return Err(format!("{s:?}: {e}"));
    }
    if !is_label_shape(s) {
        return Err(format!(
            "{s:?}: a lowercase RFC 1123 label must consist of lower case alphanumeric \
             characters or '-', and must start and end with an alphanumeric character"
        ));
    }
    Ok(())
}

/// A lowercase RFC 1123 subdomain (most object names, label key prefixes).
pub fn dns1123_subdomain(s: &str) -> Result<(), String> {
    if let Some(e) = too_long(s, DNS1123_SUBDOMAIN_MAX) {
        return Err(format!("{s:?}: {e}"));
    }
    if !s.split('.').all(is_label_shape) {
        return Err(format!(
            "{s:?}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric \
             characters, '-' or '.', and must start and end with an alphanumeric character"
        ));
    }
    Ok(())
}

/// An RFC 1035 label: an RFC 1123 label that starts with a letter (Service names).
pub fn dns1035_label(s: &str) -> Result<(), String> {
    if let Some(e) = too_long(s, DNS1123_LABEL_MAX) {
        return Err(format!("{s:?}: {e}"));
    }
    if !is_label_shape(s) || !s.as_bytes()[0].is_ascii_lowercase() {
        return Err(format!(
            "{s:?}: a DNS-1035 label must consist of lower case alphanumeric characters or \
             '-', start with an alphabetic character, and end with an alphanumeric character"
        ));
    }
    Ok(())
}

/// `(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?` (empty allowed).
fn is_qualified_shape(s: &str) -> bool {
    let b = s.as_bytes();
    b.is_empty()
        || (b[0].is_ascii_alphanumeric()
            && b[b.len() - 1].is_ascii_alphanumeric()
            && b.iter()
                .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.')))
}

/// A label key (and a matchExpressions key): `[prefix/]name`, the prefix a DNS subdomain,
/// the name at most 63 of `[-A-Za-z0-9_.]` starting and ending alphanumeric.
pub fn qualified_name(key: &str) -> Result<(), String> {
    let shape = "name part must consist of alphanumeric characters, '-', '_' or '.', and \
                 must start and end with an alphanumeric character";
    let (prefix, name) = match key.split('/').collect::<Vec<_>>()[..] {
        [name] => (None, name),
        [prefix, name] => (Some(prefix), name),
        _ => {
            return Err(format!(
                "{key:?}: a qualified name must consist of an optional DNS subdomain prefix \
                 and '/' followed by a name; {shape}"
            ))
        }
    };
    if let Some(p) = prefix {
        if p.is_empty() {
            return Err(format!("{key:?}: prefix part must be non-empty"));
        }
        dns1123_subdomain(p).map_err(|e| format!("{key:?}: prefix part {e}"))?;
    }
    if name.is_empty() {
        return Err(format!("{key:?}: name part must be non-empty"));
    }
    if name.len() > QUALIFIED_NAME_MAX {
        return Err(format!(
            "{key:?}: name part must be no more than {QUALIFIED_NAME_MAX} characters"
        ));
    }
    if !is_qualified_shape(name) {
        return Err(format!("{key:?}: {shape}"));
    }
    Ok(())
}

/// A label value: at most 63 of `[-A-Za-z0-9_.]`, starting and ending alphanumeric, or
/// empty.
pub fn label_value(v: &str) -> Result<(), String> {
    if let Some(e) = too_long(v, LABEL_VALUE_MAX) {
        return Err(format!("{v:?}: {e}"));
    }
    if !is_qualified_shape(v) {
        return Err(format!(
            "{v:?}: a valid label must be an empty string or consist of alphanumeric \
             characters, '-', '_' or '.', and must start and end with an alphanumeric character"
        ));
    }
    Ok(())
}

/// A label map (metadata.labels, matchLabels, a Service selector): the key path of the
/// first bad entry and the problem.
pub fn labels(map: &BTreeMap<String, String>) -> Result<(), (String, String)> {
    for (k, v) in map {
        qualified_name(k).map_err(|e| (k.clone(), format!("invalid label key {e}")))?;
        label_value(v).map_err(|e| (k.clone(), format!("label {k:?}: invalid value {e}")))?;
    }
    Ok(())
}

/// Annotation keys are qualified names once lower-cased, as the API server checks them.
pub fn annotation_keys(map: &BTreeMap<String, String>) -> Result<(), (String, String)> {
    for k in map.keys() {
        qualified_name(&k.to_lowercase())
            .map_err(|e| (k.clone(), format!("invalid annotation key {e}")))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apimachinery_examples() {
        for ok in ["a", "my-name", "123-abc", "a.b.c"] {
            assert!(dns1123_subdomain(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "A",
            "-a",
            "a-",
            "a..b",
            ".a",
            "a\0b",
            "a_b",
            &"a".repeat(254),
        ] {
            assert!(dns1123_subdomain(bad).is_err(), "{bad}");
        }
        assert!(dns1123_label("a.b").is_err());
        assert!(dns1123_label(&"a".repeat(63)).is_ok());
        assert!(dns1123_label(&"a".repeat(64)).is_err());
        assert!(dns1035_label("1a").is_err());
        assert!(dns1035_label("a1").is_ok());
        for ok in ["app", "app.kubernetes.io/name", "A_b.C-9", "k8s.io/X"] {
            assert!(qualified_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "/a",
            "a/",
            "a/b/c",
            "-a",
            "a-",
            "Bad.IO/x",
            "a b",
            &"a".repeat(64),
        ] {
            assert!(qualified_name(bad).is_err(), "{bad}");
        }
        for ok in ["", "v1", "A_b.C-9", &"x".repeat(63)] {
            assert!(label_value(ok).is_ok(), "{ok}");
        }
        for bad in ["-a", "a-", "a/b", "a\0", &"x".repeat(64)] {
            assert!(label_value(bad).is_err(), "{bad}");
        }
    }
}
