//! Stable names for sets and chains: derived from what they stand for (policies, peers),
//! never from positions, so that the same policy keeps the same chain across renders and
//! a pod change touches only elements.

/// FNV-1a, 64 bit: tiny, stable across Rust versions and processes (unlike the std
/// hasher), which matters because names are compared with what the kernel holds.
pub fn fnv64(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain(std::iter::once(0xff)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// `prefix_` + 12 hex digits of the hash of `parts` (nft names are limited in length).
pub fn name(prefix: &str, parts: &[&str]) -> String {
    format!("{prefix}_{:012x}", fnv64(parts) & 0xffff_ffff_ffff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_stable_and_distinct() {
        assert_eq!(name("in", &["a", "b"]), name("in", &["a", "b"]));
        assert_ne!(name("in", &["a", "b"]), name("in", &["ab"]));
        assert_eq!(fnv64(&[]), 0xcbf2_9ce4_8422_2325);
        assert_eq!(name("x", &["netfence"]).len(), 14);
    }
}
