//! Fuzz target `manifest`: the body is `netfence_fuzzcheck::manifest::check`, which the
//! corpus replay test (fuzzcheck/tests/corpus.rs) runs too.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = netfence_fuzzcheck::manifest::check(data);
});
