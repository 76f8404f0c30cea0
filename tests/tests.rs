//! End-to-end tests: the `simpletrace` binary on the project's testdata and
//! on QEMU's conformance corpus.

mod support;

mod alloc;
mod analyzers;
mod cformat;
mod cli;
mod conformance;
mod errors;
mod fuzz_regressions;
mod hist;
mod inputs;
mod manners;
mod manpages;
mod outputs;
mod parallel;
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
mod versions;
