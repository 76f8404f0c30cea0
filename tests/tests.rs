//! End-to-end tests: the `simpletrace` binary on the project's testdata and
//! on QEMU's conformance corpus.

mod support;

mod alloc;
mod analyzers;
mod cformat;
mod chrome;
mod cli;
mod conformance;
mod errors;
mod follow;
mod fuzz_regressions;
mod hist;
mod inputs;
mod issue16_hist;
mod manners;
mod manpages;
mod messages;
mod outputs;
mod parallel;
mod perfetto;
mod plugins;
mod progress;
mod robustness;
mod roundtrip;
mod safety;
mod shrinking;
mod soak;
mod stats;
mod testdata;
mod tracer;
mod usage;
mod versions;
