//! `cargo +nightly fuzz run decode`: see [`simpletrace_fuzz::harness::decode`].

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| simpletrace_fuzz::harness::decode(data));
