//! Byte-for-byte conformance with QEMU's `simpletrace.py` on real traces
//! written by QEMU 10.0.2 (the shared corpus; see `support::corpus`).

use crate::support;

fn check(name: &str) {
    let Some(dir) = support::corpus() else { return };
    let trace = dir.join(format!("{name}.bin"));
    let plain = dir.join(format!("{name}.simpletrace.txt"));
    let golden = if plain.is_file() {
        plain
    } else {
        dir.join(format!("{name}.simpletrace.txt.gz"))
    };
    let out = support::run([dir.join("trace-events-all"), trace]);
    assert!(out.status.success(), "{name}: {}", support::stderr(&out));
    assert_eq!(support::stderr(&out), "", "{name}");
    support::assert_same_output(name, &out.stdout, &support::read_golden(&golden));
}

#[test]
fn tiny() {
    check("tiny");
}

#[test]
fn medium_create() {
    check("medium-create");
}

#[test]
fn medium_io() {
    check("medium-io");
}

#[test]
fn medium_convert() {
    check("medium-convert");
}

#[test]
fn strings() {
    check("strings");
}

#[test]
fn medium_rand() {
    check("medium-rand");
}

#[test]
fn dropped() {
    check("dropped");
}

/// Every `*.bin` in the corpus has a golden and is covered above, so a
/// trace added to the corpus is not silently skipped.
#[test]
fn every_corpus_trace_is_checked() {
    let Some(dir) = support::corpus() else { return };
    let covered = [
        "tiny",
        "medium-create",
        "medium-io",
        "medium-convert",
        "strings",
        "medium-rand",
        "dropped",
    ];
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "bin") {
            let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
            assert!(
                covered.contains(&stem.as_str()),
                "corpus trace {stem}.bin has no conformance test"
            );
        }
    }
}

#[test]
fn system_events_file_parses_completely() {
    let Some(dir) = support::corpus() else { return };
    let path = dir.join("trace-events-all.system-avr");
    let events = simpletrace::input::read_trace_events(&path).unwrap();
    assert_eq!(events.len(), 5843);
    // Spot checks that the parse is faithful, not merely successful.
    let disabled = events.iter().filter(|d| d.is_disabled()).count();
    assert_eq!(disabled, 15);
    let d = events.by_name(b"breakpoint_insert").unwrap();
    assert_eq!(d.args.len(), 3);
    assert_eq!(
        d.format.as_ref().unwrap().raw,
        "\"cpu=%d pc=0x%\" PRIx64 \" flags=0x%x\""
    );
}

#[test]
fn tools_events_file_parses_completely() {
    let Some(dir) = support::corpus() else { return };
    let events = simpletrace::input::read_trace_events(dir.join("trace-events-all")).unwrap();
    assert_eq!(events.len(), 952);
    assert!(events.iter().all(|d| d.args.len() <= 10));
}
