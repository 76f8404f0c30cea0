//! `cargo +nightly fuzz run cformat`: see [`simpletrace_fuzz::harness::cformat`].

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| simpletrace_fuzz::harness::cformat(data));
