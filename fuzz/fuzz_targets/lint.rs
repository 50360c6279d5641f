//! Fuzz target `lint`: the body is `netfence_fuzzcheck::lint::check`, which the
//! corpus replay test (fuzzcheck/tests/corpus.rs) runs too.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    netfence_fuzzcheck::lint::check(data);
});
