//! The committed sample traces are exactly what the generator produces, and
//! the binary prints their goldens (checked once against QEMU's script).

use crate::support::{self, samples};

#[test]
fn testdata_is_current() {
    let regenerate = std::env::var_os("SIMPLETRACE_REGENERATE").is_some();
    let old_qemu = [
        ("vcpu.trace", samples::vcpu_trace(), false),
        ("tcg.trace", samples::tcg_trace(), false),
        ("tcg-no-header.trace", samples::tcg_no_header_trace(), true),
    ];
    for (name, bytes, _) in samples::all().into_iter().chain(old_qemu) {
        let path = support::testdata(name);
        if regenerate {
            std::fs::write(&path, &bytes).unwrap();
            continue;
        }
        let committed = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            committed == bytes,
            "{name} differs from its generator; run SIMPLETRACE_REGENERATE=1 cargo test testdata"
        );
    }
}

#[test]
fn samples_print_their_goldens() {
    let events = support::testdata("sample.trace-events");
    for (name, _, headerless) in samples::all() {
        let trace = support::testdata(name);
        let golden = support::testdata(&name.replace(".trace", ".simpletrace.txt"));
        let mut args = vec![events.clone().into_os_string(), trace.into_os_string()];
        if headerless {
            args.insert(0, "--no-header".into());
        }
        let out = support::run(&args);
        assert!(out.status.success(), "{name}: {}", support::stderr(&out));
        assert_eq!(support::stderr(&out), "", "{name}");
        support::assert_same_output(name, &out.stdout, &support::read_golden(&golden));
    }
}
