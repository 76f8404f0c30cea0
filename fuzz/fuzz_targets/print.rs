//! `cargo +nightly fuzz run print`: see [`simpletrace_fuzz::harness::print`].

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| simpletrace_fuzz::harness::print(data));
