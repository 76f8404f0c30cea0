//! Every input a fuzz target failed on (`tests/fuzz-regressions/<target>/`),
//! and the fuzzers' seeds (`fuzz/seeds/<target>/`), replayed through the
//! targets' own code: `fuzz/src/harness.rs`, compiled into this test
//! binary. An input passes when its target's oracles hold (no panic; for
//! `print`, parallel output equal to sequential output).

#[path = "../fuzz/src/harness.rs"]
mod harness;

use std::path::{Path, PathBuf};

/// The files of `dir` in name order (none when it does not exist).
fn inputs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<_> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

/// Runs `target` over its regression inputs and seeds; a failure names
/// the file.
fn replay(target: &str, run: fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let regressions = inputs(&root.join("tests/fuzz-regressions").join(target));
    let seeds = inputs(&root.join("fuzz/seeds").join(target));
    assert!(!seeds.is_empty(), "no seeds for {target}");
    for path in regressions.iter().chain(&seeds) {
        let data = std::fs::read(path).unwrap();
        if std::panic::catch_unwind(|| run(&data)).is_err() {
            panic!("{target}: {} fails", path.display());
        }
    }
}

#[test]
fn fuzz_trace_events() {
    replay("trace_events", harness::trace_events);
}

#[test]
fn fuzz_decode() {
    replay("decode", harness::decode);
}

#[test]
fn fuzz_cformat() {
    replay("cformat", harness::cformat);
}

#[test]
fn fuzz_print() {
    replay("print", harness::print);
}
