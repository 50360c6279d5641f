//! Fuzz target `compile`: the body is `netfence_fuzzcheck::compile::check`, which the
//! corpus replay test (fuzzcheck/tests/corpus.rs) runs too.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = netfence_fuzzcheck::compile::check(data);
});
