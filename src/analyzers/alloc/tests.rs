//! The analyzer end to end: a crafted trace through the driver, its
//! report in every form; the report's formatters.

use super::report::{big, plural, size_text};
use super::*;
use crate::format::events::TraceEvents;
use serde_json::json;

/// A trace with a bit of everything: leaks of several sizes and pids,
/// frees of unknown and freed pointers, a block allocated twice,
/// anonymous RAM freed by the wrong family and with the wrong size,
/// sizes past `u64` in total, and lost events.
fn mixed_trace(events: &TraceEvents) -> Vec<u8> {
    use crate::format::writer::{Arg, TraceWriter, WriterOptions};
    let mut w = TraceWriter::with_events(Vec::new(), WriterOptions::default(), events).unwrap();
    let memalign = |size: u64, ptr: u64| [Arg::from(4096u64), Arg::from(size), Arg::Ptr(ptr)];
    let mut ts = 1_000_000_000;
    for i in 0..300u64 {
        ts += 1000;
        let pid = 1 + (i % 3) as u32;
        let ptr = 0x1000 + 16 * (i % 97);
        match i % 7 {
            0..=2 => w.event_by_name("qemu_memalign", ts, pid, &memalign(i % 5 * 100, ptr)),
            3 | 4 => w.event_by_name("qemu_vfree", ts, pid, &[Arg::Ptr(ptr)]),
            5 => w.event_by_name(
                "qemu_anon_ram_alloc",
                ts,
                pid,
                &[Arg::from(u64::MAX - i), Arg::Ptr(ptr)],
            ),
            _ => w.event_by_name(
                "qemu_anon_ram_free",
                ts,
                pid,
                &[Arg::Ptr(ptr), Arg::from(i)],
            ),
        }
        .unwrap();
        if i % 101 == 0 {
            w.dropped(ts, pid, i).unwrap();
        }
    }
    w.finish().unwrap()
}

/// The report, a document made when written, writes what its
/// completed form holds: the text, and the JSON as
/// `serde_json::to_string_pretty` prints it, alone and nested (as `run
/// --json` nests it), its lists made as they are written.
#[test]
fn document_report_writes_its_completed_form() {
    use crate::analyzers::Driver;
    use crate::format::TraceReader;
    let events = TraceEvents::parse(
        "te",
        b"qemu_memalign(size_t alignment, size_t size, void *ptr)\n\
          qemu_vfree(void *ptr)\n\
          qemu_anon_ram_alloc(size_t size, void *ptr)\n\
          qemu_anon_ram_free(void *ptr, size_t size)\n",
    )
    .unwrap();
    let trace = mixed_trace(&events);
    for top in [0, 3, usize::MAX] {
        let mut driver = Driver::new();
        driver.add(AllocAnalyzer::new(AllocOptions {
            top,
            ..AllocOptions::default()
        }));
        let reader = TraceReader::new(&trace, &events).unwrap();
        let outcome = driver
            .run(reader, &mut std::io::sink(), Default::default())
            .unwrap();
        let streamed = outcome.reports.into_iter().next().unwrap();
        let built = streamed.clone().complete();
        assert!(streamed.is_streamed() && !built.is_streamed());
        assert!(streamed.as_document().is_some());
        let mut text = Vec::new();
        streamed.write_text(&mut text).unwrap();
        assert_eq!(String::from_utf8(text).unwrap(), built.text);
        assert!(built.text.contains("Freed by another allocator's free"));
        for depth in [0, 1] {
            let mut json = Vec::new();
            streamed.write_json(&mut json, depth).unwrap();
            let mut want = Vec::new();
            crate::analyzers::listing::write_pretty_value(&mut want, &built.json, depth).unwrap();
            assert_eq!(
                String::from_utf8(json).unwrap(),
                String::from_utf8(want).unwrap()
            );
        }
        assert_eq!(streamed, built);
        // Past u64: exact, as a string of digits.
        assert!(built.json["totals"]["allocated_bytes"].is_string());
        let listed = built.json["leaks"]["biggest"].as_array().unwrap().len();
        assert_eq!(
            listed,
            top.min(built.json["leaks"]["blocks"].as_u64().unwrap() as usize)
        );
    }
}

#[test]
fn formatting() {
    assert_eq!(seconds(471_478_372_999), "471.478372");
    assert_eq!(seconds(5), "0.000000");
    assert_eq!(size_text(1000), "1000");
    assert_eq!(size_text(1 << 20), "1048576 (1MiB)");
    assert_eq!(big(1 << 53), json!("9007199254740992"));
    assert_eq!(big((1 << 53) - 1), json!(9007199254740991u64));
    assert_eq!(big(u128::from(u64::MAX)), json!("18446744073709551615"));
    assert_eq!(big(u128::from(u64::MAX) + 1), json!("18446744073709551616"));
    assert_eq!(plural(1u64, "block", "blocks"), "1 block");
}
