//! The concurrent tracer: what it writes decodes, nothing is lost under
//! back-pressure, drops are counted exactly, patterns switch events.

use std::collections::HashMap;

use simpletrace::format::{ArgValue, Item, TraceEvents, TraceReader};
use simpletrace::trace;
use simpletrace::tracer::{Overflow, TraceError, Tracer, monotonic_ns};

use crate::support;

const EVENTS: &[u8] = b"\
work_item(uint32_t thread, uint64_t seq, const char *what) \"thread %u seq %\" PRIu64 \" %s\"\n\
tick(int64_t delta) \"delta %\" PRId64 \"\"\n\
disable compiled_out(int x) \"x %d\"\n\
flag(bool on, void *ptr) \"on %d ptr %p\"\n";

fn events() -> TraceEvents {
    TraceEvents::parse("test-events", EVENTS).unwrap()
}

fn read(path: &std::path::Path) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

#[test]
fn records_decode_with_mappings_first_and_real_pid_and_time() {
    let dir = support::scratch("tracer_basic");
    let path = dir.join("trace");
    let before = monotonic_ns();
    let tracer = Tracer::builder(events())
        .overflow(Overflow::Block)
        .create(&path)
        .unwrap();
    let work = tracer.event("work_item").unwrap();
    let tick = tracer.event("tick").unwrap();
    let flag = tracer.event("flag").unwrap();
    trace!(tracer, work, 7u32, 1u64, "first").unwrap();
    trace!(tracer, tick, -5i64).unwrap();
    trace!(tracer, flag, true, 0x1000 as *const u8).unwrap();
    trace!(tracer, work, 7u32, 2u64, Option::<&str>::None).unwrap();
    let stats = tracer.close().unwrap();
    let after = monotonic_ns();
    assert_eq!((stats.written, stats.dropped, stats.after_close), (4, 0, 0));

    let ev = events();
    let data = read(&path);
    let mut r = TraceReader::new(&data, &ev).unwrap();
    let mut mappings = Vec::new();
    let mut records = Vec::new();
    while let Some(item) = r.next_item() {
        match item.unwrap() {
            Item::Mapping(m) => {
                assert!(records.is_empty(), "mappings come first");
                mappings.push(String::from_utf8(m.name.to_vec()).unwrap());
            }
            Item::Event(e) => {
                assert_eq!(e.pid, std::process::id());
                assert!(before <= e.timestamp_ns && e.timestamp_ns <= after + 1_000_000);
                let args: Vec<_> = e.args().map(|a| a.unwrap()).collect();
                records.push((e.name().to_owned(), args));
            }
        }
    }
    assert_eq!(mappings, ["work_item", "tick", "compiled_out", "flag"]);
    assert_eq!(
        records,
        [
            (
                "work_item".to_owned(),
                vec![ArgValue::Int(7), ArgValue::Int(1), ArgValue::Str(b"first")]
            ),
            ("tick".to_owned(), vec![ArgValue::Int(-5i64 as u64)]),
            (
                "flag".to_owned(),
                vec![ArgValue::Int(1), ArgValue::Int(0x1000)]
            ),
            (
                "work_item".to_owned(),
                vec![ArgValue::Int(7), ArgValue::Int(2), ArgValue::Str(b"")]
            ),
        ]
    );
    // And our printer reads it like any QEMU trace.
    let events_file = dir.join("events");
    std::fs::write(&events_file, EVENTS).unwrap();
    let out = support::run([&events_file, &path]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("work_item 0.000 pid="), "{text}");
    assert!(text.contains("tick ") && text.contains("delta=0xfffffffffffffffb"));
}

#[test]
fn patterns_and_refusals() {
    let dir = support::scratch("tracer_patterns");
    let path = dir.join("trace");
    let tracer = Tracer::builder(events())
        .events_enabled("-work_*")
        .unwrap()
        .create(&path)
        .unwrap();
    let work = tracer.event("work_item").unwrap();
    let tick = tracer.event("tick").unwrap();
    let out = tracer.event("compiled_out").unwrap();
    assert!(!tracer.is_enabled(work) && tracer.is_enabled(tick) && !tracer.is_enabled(out));
    trace!(tracer, work, 1u32, 1u64, "off").unwrap();
    trace!(tracer, out, 1).unwrap();
    // Later patterns win; `disable` events stay off.
    assert_eq!(tracer.set_events("*,-tick").unwrap(), 2);
    assert!(tracer.is_enabled(work) && !tracer.is_enabled(tick) && !tracer.is_enabled(out));
    assert_eq!(
        tracer
            .set_events_from_file_text("# comment\ntick\n-work_item\n")
            .unwrap(),
        2
    );
    trace!(tracer, tick, 3i64).unwrap();
    assert!(tracer.set_events("not a pattern").is_err());
    // Wrong arguments are refused, not written.
    match trace!(tracer, tick, "three") {
        Err(TraceError::Args(e)) => assert!(e.to_string().contains("'delta'"), "{e}"),
        otherwise => panic!("{otherwise:?}"),
    }
    assert!(matches!(trace!(tracer, tick), Err(TraceError::Args(_))));
    // A handle from another tracer is refused.
    let other = Tracer::builder(events())
        .to_writer(std::io::sink())
        .unwrap();
    let foreign = other.event("tick").unwrap();
    assert!(matches!(
        trace!(tracer, foreign, 1i64),
        Err(TraceError::ForeignHandle)
    ));
    assert_eq!(tracer.close().unwrap().written, 1);
    let ev = events();
    let data = read(&path);
    let names: Vec<_> = TraceReader::new(&data, &ev)
        .unwrap()
        .map(|r| r.unwrap().name().to_owned())
        .collect();
    assert_eq!(names, ["tick"]);
}

#[test]
fn flush_makes_records_visible_while_tracing_goes_on() {
    let dir = support::scratch("tracer_flush");
    let path = dir.join("trace");
    let tracer = Tracer::builder(events()).create(&path).unwrap();
    let tick = tracer.event("tick").unwrap();
    for i in 0..10 {
        trace!(tracer, tick, i as i64).unwrap();
    }
    tracer.flush().unwrap();
    let ev = events();
    let data = read(&path);
    assert_eq!(TraceReader::new(&data, &ev).unwrap().count(), 10);
    trace!(tracer, tick, 99i64).unwrap();
    drop(tracer);
    let data = read(&path);
    assert_eq!(TraceReader::new(&data, &ev).unwrap().count(), 11);
}

/// Per thread: the sequence numbers found in the file, in file order.
fn per_thread_seqs(data: &[u8], events: &TraceEvents) -> (HashMap<u64, Vec<u64>>, u64) {
    let mut seqs: HashMap<u64, Vec<u64>> = HashMap::new();
    let mut dropped = 0;
    for record in TraceReader::new(data, events).unwrap() {
        let record = record.unwrap();
        if record.is_dropped() {
            dropped += record.arg(0).unwrap().unwrap().as_u64().unwrap();
            continue;
        }
        let thread = record.arg(0).unwrap().unwrap().as_u64().unwrap();
        let seq = record.arg(1).unwrap().unwrap().as_u64().unwrap();
        seqs.entry(thread).or_default().push(seq);
    }
    (seqs, dropped)
}

/// Back-pressure: threads × events, small buffers, nothing lost, each
/// thread's records in its own order, every record decodes.
#[test]
fn back_pressure_loses_nothing() {
    const THREADS: u32 = 4;
    const EACH: u64 = 20_000;
    let dir = support::scratch("tracer_block");
    let path = dir.join("trace");
    let tracer = Tracer::builder(events())
        .overflow(Overflow::Block)
        .buffer_bytes(4096)
        .create(&path)
        .unwrap();
    let work = tracer.event("work_item").unwrap();
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let tracer = &tracer;
            s.spawn(move || {
                for seq in 0..EACH {
                    let what = if seq % 3 == 0 {
                        "a longer string argument"
                    } else {
                        ""
                    };
                    trace!(tracer, work, t, seq, what).unwrap();
                }
            });
        }
    });
    let stats = tracer.close().unwrap();
    assert_eq!(stats.written, u64::from(THREADS) * EACH);
    assert_eq!(stats.dropped, 0);
    let ev = events();
    let (seqs, dropped) = per_thread_seqs(&read(&path), &ev);
    assert_eq!(dropped, 0);
    assert_eq!(seqs.len(), THREADS as usize);
    for (t, s) in seqs {
        assert_eq!(s, (0..EACH).collect::<Vec<_>>(), "thread {t}");
    }
}

/// Drop mode with a tiny buffer: what is written plus what the dropped
/// records count is exactly what was traced.
#[test]
fn drop_mode_accounts_exactly() {
    const THREADS: u32 = 3;
    const EACH: u64 = 30_000;
    let dir = support::scratch("tracer_drop");
    let path = dir.join("trace");
    let tracer = Tracer::builder(events())
        .overflow(Overflow::Drop)
        .buffer_bytes(1024)
        .create(&path)
        .unwrap();
    let work = tracer.event("work_item").unwrap();
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let tracer = &tracer;
            s.spawn(move || {
                for seq in 0..EACH {
                    trace!(tracer, work, t, seq, "x").unwrap();
                }
            });
        }
    });
    let stats = tracer.close().unwrap();
    let ev = events();
    let (seqs, dropped_in_file) = per_thread_seqs(&read(&path), &ev);
    let written: u64 = seqs.values().map(|s| s.len() as u64).sum();
    assert_eq!(written, stats.written);
    assert_eq!(dropped_in_file, stats.dropped);
    assert_eq!(written + dropped_in_file, u64::from(THREADS) * EACH);
    // The buffer is small enough that the test exercises dropping.
    assert!(
        dropped_in_file > 0 && written > 0,
        "written {written}, dropped {dropped_in_file}"
    );
    // Whatever was kept is in order.
    for s in seqs.values() {
        assert!(s.windows(2).all(|w| w[0] < w[1]));
    }
}

#[test]
fn records_after_close_are_counted() {
    let tracer = Tracer::builder(events())
        .to_writer(std::io::sink())
        .unwrap();
    let tick = tracer.event("tick").unwrap();
    trace!(tracer, tick, 1i64).unwrap();
    tracer.close().unwrap();
    trace!(tracer, tick, 2i64).unwrap();
    let stats = tracer.stats();
    assert_eq!((stats.written, stats.after_close), (1, 1));
}

#[test]
fn write_errors_surface() {
    struct Broken;
    impl std::io::Write for Broken {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("disk on fire"))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let err = Tracer::builder(events()).to_writer(Broken).unwrap_err();
    assert!(err.to_string().contains("disk on fire"));
}

/// The file fails mid-trace: tracing stops (even blocked threads return),
/// and the error comes back from flush and close.
#[test]
fn a_failing_output_stops_tracing_without_hanging() {
    struct FailsAfter(usize);
    impl std::io::Write for FailsAfter {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            if self.0 < b.len() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::StorageFull,
                    "no space left",
                ));
            }
            self.0 -= b.len();
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let tracer = Tracer::builder(events())
        .overflow(Overflow::Block)
        .buffer_bytes(2048)
        .to_writer(FailsAfter(100_000))
        .unwrap();
    let work = tracer.event("work_item").unwrap();
    std::thread::scope(|s| {
        for t in 0..2u32 {
            let tracer = &tracer;
            s.spawn(move || {
                for seq in 0..200_000u64 {
                    trace!(tracer, work, t, seq, "payload").unwrap();
                }
            });
        }
    });
    let err = tracer.flush().unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::StorageFull);
    let err = tracer.close().unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::StorageFull);
    assert!(tracer.stats().after_close > 0);
}
