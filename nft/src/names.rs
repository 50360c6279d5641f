//! Stable names for sets and chains: derived from what they stand for (policies, peers),
//! never from positions, so that the same policy keeps the same chain across renders and
//! a pod change touches only elements.
//!
//! Tenants choose the strings names are derived from (policy names), so a name must not
//! be forgeable: it is SHA-256 over an unambiguous encoding, and a name that would stand
//! for two different contents is a [`NameCollision`], never a silent reuse. A dispatch
//! map pointing a pod at a chain that some other tenant defined is exactly the bypass
//! this guards against.

use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// How a name is derived from its prefix and parts (a parameter of [`Names`], so that
/// tests can force collisions).
pub type NameFn = fn(&str, &[&str]) -> String;

/// `prefix_` + the first 160 bits of SHA-256 over the length-prefixed parts, in 32
/// base32 letters and digits (valid in nft's own syntax too). Short on purpose: the
/// kernel finds a set a rule refers to by comparing names one set after another, so a
/// table's load time grows with rules x sets x name length, and the 64 hex digits of
/// the full digest doubled it at 10,000 policies. 160 bits keep a chosen name out of
/// reach (2^160 to hit a given name, 2^80 for any pair), and a collision is an error
/// anyway (see `check`).
pub fn name(prefix: &str, parts: &[&str]) -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut h = Sha256::new();
    for p in parts {
        // Length-prefixed: ["ab"] and ["a", "b"] never hash alike.
        h.update((p.len() as u64).to_be_bytes());
        h.update(p.as_bytes());
    }
    let digest = h.finalize();
    let mut out = String::with_capacity(prefix.len() + 1 + 32);
    out.push_str(prefix);
    out.push('_');
    // 20 bytes = four groups of 40 bits = 32 letters of 5 bits.
    for group in digest[..20].chunks(5) {
        let bits = group.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        for i in (0..8).rev() {
            out.push(char::from(ALPHABET[((bits >> (i * 5)) & 31) as usize]));
        }
    }
    out
}

/// What a name stands for: the prefix and parts it was derived from, unambiguously
/// (Debug quotes and escapes each part).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Content(String);

impl Content {
    pub fn new(prefix: &str, parts: &[&str]) -> Content {
        Content(format!("{prefix}{parts:?}"))
    }
}

/// A name taken for two different contents.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the nftables name {name} would stand for both {first} and {second}; refusing to render rather than let one reuse the other's rules")]
pub struct NameCollision {
    pub name: String,
    pub first: String,
    pub second: String,
}

/// The one collision check: `name` was taken for `had`, and is wanted for `wants`.
pub fn check(name: &str, had: &Content, wants: &Content) -> Result<(), NameCollision> {
    if had == wants {
        Ok(())
    } else {
        Err(NameCollision {
            name: name.to_string(),
            first: had.0.clone(),
            second: wants.0.clone(),
        })
    }
}

/// The names one render has handed out, with what each stands for.
pub struct Names {
    derive: NameFn,
    taken: HashMap<String, Content>,
}

impl Default for Names {
    fn default() -> Self {
        Names::with_fn(name)
    }
}

impl Names {
    /// A registry deriving names with `derive` instead of [`name`] (tests).
    pub fn with_fn(derive: NameFn) -> Names {
        Names {
            derive,
            taken: HashMap::new(),
        }
    }

    /// The name for `parts`, with its content; an error if the name already stands for
    /// something else in this render.
    pub fn claim(
        &mut self,
        prefix: &str,
        parts: &[&str],
    ) -> Result<(String, Content), NameCollision> {
        let n = (self.derive)(prefix, parts);
        let content = Content::new(prefix, parts);
        match self.taken.get(&n) {
            Some(had) => check(&n, had, &content)?,
            None => {
                self.taken.insert(n.clone(), content.clone());
            }
        }
        Ok((n, content))
    }

    /// Takes a fixed name (the per-node sets: `pods_v4`, `all_v6`, ...) so that no
    /// derived name can land on it.
    pub fn claim_fixed(&mut self, fixed: &str) -> Result<Content, NameCollision> {
        let content = Content(format!("fixed {fixed}"));
        match self.taken.get(fixed) {
            Some(had) => check(fixed, had, &content)?,
            None => {
                self.taken.insert(fixed.to_string(), content.clone());
            }
        }
        Ok(content)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The FNV-1a, 48-bit names this module used to derive, kept here only to show
    /// that the known colliding pair no longer collides.
    fn fnv48(prefix: &str, parts: &[&str]) -> String {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for p in parts {
            for b in p.bytes().chain(std::iter::once(0xff)) {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
        }
        format!("{prefix}_{:012x}", h & 0xffff_ffff_ffff)
    }

    #[test]
    fn names_are_stable_distinct_and_fit_the_kernel() {
        assert_eq!(name("in", &["a", "b"]), name("in", &["a", "b"]));
        assert_ne!(name("in", &["a", "b"]), name("in", &["ab"]));
        assert_ne!(name("in", &["a", ""]), name("in", &["a"]));
        // RFC 4648 base32 (lowercase) of SHA-256("")[..20], as Python's base64 gives it.
        assert_eq!(name("x", &[]), "x_4oymiquy7qobjgx36tejs35zeqt24qpe");
        assert_eq!(name("pv4", &["a"]).len(), 36);
        assert!(name("xv6", &["netfence"]).len() < 256);
    }

    #[test]
    fn the_known_fnv_collision_is_gone() {
        let (victim, attacker) = (["prod/db"], ["aaa/x7254jad4ckm0"]);
        assert_eq!(fnv48("in", &victim), fnv48("in", &attacker));
        assert_ne!(name("in", &victim), name("in", &attacker));
    }

    #[test]
    fn a_name_for_two_contents_is_an_error() {
        let mut names = Names::with_fn(|prefix, _| format!("{prefix}_same"));
        let (n, _) = names.claim("in", &["prod/db"]).unwrap();
        assert_eq!(names.claim("in", &["prod/db"]).unwrap().0, n);
        let err = names.claim("in", &["aaa/evil"]).unwrap_err();
        assert_eq!(err.name, "in_same");
        assert!(err.first.contains("prod/db") && err.second.contains("aaa/evil"));
        let mut fixed = Names::with_fn(|_, _| "pods_v4".into());
        fixed.claim_fixed("pods_v4").unwrap();
        assert!(fixed.claim("p", &["x"]).is_err());
    }
}
