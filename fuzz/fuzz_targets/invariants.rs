//! Fuzz target `invariants`: the body is `netfence_fuzzcheck::invariants::check`, which the
//! corpus replay test (fuzzcheck/tests/corpus.rs) runs too.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    netfence_fuzzcheck::invariants::check(data);
});
