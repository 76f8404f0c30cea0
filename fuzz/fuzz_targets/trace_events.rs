//! `cargo +nightly fuzz run trace_events`: see [`simpletrace_fuzz::harness::trace_events`].

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| simpletrace_fuzz::harness::trace_events(data));
