//! Traces of format versions 0, 2 and 3 (which QEMU 10's script refuses)
//! print exactly like the same records in version 4, with pid 0 (the field
//! was reserved before version 4).

use simpletrace::format::writer::{Arg, TraceWriter, WriterOptions};
use simpletrace::format::{ByteOrder, Version};

use crate::support::{self, samples};

/// The sample trace in `version` ([`samples::sample_in_version`]).
fn rewrite(version: Version, v0_only: bool, order: ByteOrder) -> Vec<u8> {
    samples::sample_in_version(version, v0_only, order)
}

fn print(test: &str, trace: &[u8]) -> Vec<u8> {
    let dir = support::scratch(test);
    let path = dir.join("trace");
    std::fs::write(&path, trace).unwrap();
    let out = support::run([support::testdata("sample.trace-events"), path]);
    assert!(out.status.success(), "{test}: {}", support::stderr(&out));
    out.stdout
}

fn zero_pids(text: &[u8]) -> Vec<u8> {
    let text = String::from_utf8(text.to_vec()).unwrap();
    let mut out = String::new();
    for line in text.lines() {
        let mut fields: Vec<&str> = line.split(' ').collect();
        fields[2] = "pid=0";
        out.push_str(&fields.join(" "));
        out.push('\n');
    }
    out.into_bytes()
}

#[test]
fn versions_2_and_3_print_like_qemu_with_pid_0() {
    let golden = zero_pids(&std::fs::read(support::testdata("sample.simpletrace.txt")).unwrap());
    for version in [Version::V2, Version::V3] {
        for order in [ByteOrder::Little, ByteOrder::Big] {
            let got = print("v23", &rewrite(version, false, order));
            support::assert_same_output(&format!("{version:?} {order:?}"), &got, &golden);
        }
    }
}

#[test]
fn version_0_prints_like_version_4() {
    let v4 = print("v0_as_v4", &rewrite(Version::V4, true, ByteOrder::Little));
    assert!(v4.len() > 1000);
    for order in [ByteOrder::Little, ByteOrder::Big] {
        let got = print("v0", &rewrite(Version::V0, true, order));
        support::assert_same_output(&format!("V0 {order:?}"), &got, &v4);
    }
}

/// A version-0 record has six argument words whatever the declaration: a
/// string argument was stored as its pointer and prints as one.
#[test]
fn version_0_strings_are_pointers() {
    let mut w = TraceWriter::new(Vec::new(), WriterOptions::version(Version::V0)).unwrap();
    // Position 11 in sample.trace-events is guest_message(const char *text).
    w.event(11, 5, 0, &[Arg::Ptr(0x7f00_1234)]).unwrap();
    let out = print("v0_str", &w.finish().unwrap());
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "guest_message 0.000 pid=0 text=0x7f001234\n"
    );
}

/// Runs the binary on the `vcpu` sample with `args` before the files:
/// standard output, after checking that it succeeded without a word on
/// standard error.
fn run_vcpu(args: &[&str]) -> Vec<u8> {
    let mut all: Vec<std::ffi::OsString> = args.iter().map(Into::into).collect();
    all.push(support::testdata("vcpu.trace-events").into());
    all.push(support::testdata("vcpu.trace").into());
    let out = support::run(&all);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{args:?}: {}",
        support::stderr(&out)
    );
    assert_eq!(support::stderr(&out), "", "{args:?}");
    out.stdout
}

/// QEMU 2.8 to 8.0 gave every `vcpu` event an implicit first argument, the
/// vCPU: `vcpu.trace` (made by `samples::vcpu_trace` with the checked
/// writer) prints as QEMU 7.2's `simpletrace.py` printed it
/// (`vcpu.simpletrace.txt`, made by that script: `__cpu=0x...` first), on
/// one thread and two, and `--resync` finds nothing to skip (before the
/// implicit argument was known, every record of such an event had 8 bytes
/// "left over" and was skipped as corrupt).
#[test]
fn vcpu_events_print_like_qemu_7_2() {
    let golden = std::fs::read(support::testdata("vcpu.simpletrace.txt")).unwrap();
    for args in [
        &[][..],
        &["-j", "1"],
        &["-j", "2"],
        &["--resync"],
        &["--resync", "-j", "2"],
    ] {
        support::assert_same_output(&format!("{args:?}"), &run_vcpu(args), &golden);
    }
}

/// `print --format log` prints a `vcpu` event as QEMU 7.2's `log` backend
/// did: its format was `"cpu=%p "` joined to the declared one, with the
/// vCPU pointer first (`vcpu.log.txt`: each record through glibc's
/// `printf` with the format and argument types tracetool 7.2 gave it,
/// `(nil)` for a null vCPU).
#[test]
fn vcpu_events_log_like_qemu_7_2() {
    let golden = std::fs::read(support::testdata("vcpu.log.txt")).unwrap();
    for args in [
        &["print", "--format", "log"][..],
        &["print", "--format", "log", "-j", "2"],
    ] {
        support::assert_same_output(&format!("{args:?}"), &run_vcpu(args), &golden);
    }
}

/// JSON shows the implicit argument as the declared ones: first, by name.
#[test]
fn vcpu_events_in_json() {
    let out = String::from_utf8(run_vcpu(&["json"])).unwrap();
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 26);
    let args = |i: usize| lines[i]["args"].as_object().unwrap().clone();
    assert_eq!(lines[0]["event"], "vcpu_plug");
    assert_eq!(
        serde_json::Value::Object(args(0)),
        serde_json::json!({"__cpu": "0x55d0c8a4e010"})
    );
    // In declaration order, the implicit one first.
    let note = out.lines().nth(2).unwrap();
    assert!(
        note.ends_with(r#""args":{"__cpu":"0x55d0c8a4e010","what":"online","level":0}}"#),
        "{note}"
    );
    let regs = args(24);
    assert_eq!(regs.len(), 11);
    assert_eq!(regs["r9"], 0x999a);
    // The event without the property has no such argument.
    assert_eq!(lines[7]["event"], "io_submit");
    assert!(!args(7).contains_key("__cpu"));
}

/// Runs the binary on a `tcg` sample (`tcg.trace`, or the headerless
/// `tcg-no-header.trace` with `--no-header`) with `args` before the files:
/// standard output, after checking that it succeeded without a word on
/// standard error.
fn run_tcg(args: &[&str], headerless: bool) -> Vec<u8> {
    let mut all: Vec<std::ffi::OsString> = args.iter().map(Into::into).collect();
    if headerless {
        all.push("--no-header".into());
    }
    all.push(support::testdata("tcg.trace-events").into());
    let trace = if headerless {
        "tcg-no-header.trace"
    } else {
        "tcg.trace"
    };
    all.push(support::testdata(trace).into());
    let out = support::run(&all);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{args:?} {trace}: {}",
        support::stderr(&out)
    );
    assert_eq!(support::stderr(&out), "", "{args:?} {trace}");
    out.stdout
}

/// QEMU's tracetool before 7.0 replaced a `tcg` declaration by two events,
/// `NAME_trans` then `NAME_exec`, each with its own position: `tcg.trace`
/// (ids mapped by name) and `tcg-no-header.trace` (ids are positions, so
/// every event after a `tcg` declaration is one further on) print as QEMU
/// 5.2's `simpletrace.py` printed them (`tcg.simpletrace.txt`, made by
/// `scripts/old-qemu-goldens.sh tcg`: the translation event with the vCPU
/// and the arguments of no TCG type, the execution event with all of them),
/// on one thread and two, and `--resync` finds nothing to skip.
#[test]
fn tcg_events_print_like_qemu_5_2() {
    let golden = std::fs::read(support::testdata("tcg.simpletrace.txt")).unwrap();
    for headerless in [false, true] {
        for args in [
            &[][..],
            &["-j", "1"],
            &["-j", "2"],
            &["--resync"],
            &["--resync", "-j", "2"],
        ] {
            let what = format!("{args:?} headerless {headerless}");
            support::assert_same_output(&what, &run_tcg(args, headerless), &golden);
        }
    }
}

/// `print --format log` renders each of the two events with its own format,
/// as QEMU 5.2's `log` backend did (`tcg.log.txt`: each record through
/// glibc's `printf` with the format and argument types tracetool 5.2 gave
/// it).
#[test]
fn tcg_events_log_like_qemu_5_2() {
    let golden = std::fs::read(support::testdata("tcg.log.txt")).unwrap();
    for headerless in [false, true] {
        for args in [
            &["print", "--format", "log"][..],
            &["print", "--format", "log", "-j", "2"],
        ] {
            let what = format!("{args:?} headerless {headerless}");
            support::assert_same_output(&what, &run_tcg(args, headerless), &golden);
        }
    }
}

/// In versions 2 and 3 an id is a position too: the same records, their ids
/// the positions QEMU 5.2's tracetool gave the events (written out in
/// `samples::TCG_POSITIONS`, not taken from the parser), print as the golden
/// with pid 0.
#[test]
fn tcg_events_in_versions_2_and_3_take_two_positions() {
    let golden = zero_pids(&std::fs::read(support::testdata("tcg.simpletrace.txt")).unwrap());
    for version in [Version::V2, Version::V3] {
        let mut w = TraceWriter::new(Vec::new(), WriterOptions::version(version)).unwrap();
        for (pos, t, args) in samples::tcg_records() {
            let args: Vec<Arg> = args.into_iter().map(Arg::from).collect();
            w.event(pos, t, 0, &args).unwrap();
        }
        let dir = support::scratch("tcg_v23");
        let path = dir.join("trace");
        std::fs::write(&path, w.finish().unwrap()).unwrap();
        let out = support::run([support::testdata("tcg.trace-events"), path]);
        assert!(
            out.status.success(),
            "{version:?}: {}",
            support::stderr(&out)
        );
        support::assert_same_output(&format!("{version:?}"), &out.stdout, &golden);
    }
}

/// JSON Lines shows each of the two events with its own arguments: the
/// translation event without the TCG value, the execution event with it
/// (a `TCGv`, recorded as a 64-bit integer).
#[test]
fn tcg_events_in_json() {
    let out = String::from_utf8(run_tcg(&["json"], false)).unwrap();
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let find = |name: &str| {
        lines
            .iter()
            .find(|l| l["event"] == name)
            .unwrap_or_else(|| panic!("no {name}"))["args"]
            .clone()
    };
    assert_eq!(
        find("guest_mem_before_trans"),
        serde_json::json!({"__cpu": "0x55d0c8a4e010", "info": 35})
    );
    assert_eq!(
        find("guest_mem_before_exec"),
        serde_json::json!({"__cpu": "0x55d0c8a4e010", "vaddr": 0x7ffc_8000_1000u64, "info": 35})
    );
    assert_eq!(
        find("tb_enter_trans"),
        serde_json::json!({"pc_start": 0x4000_1000, "flags": -1})
    );
    assert_eq!(
        find("guest_note"),
        serde_json::json!({"what": "tcg done", "level": 1})
    );
}
