//! Parallel printing gives exactly the bytes of sequential printing, for
//! any thread count and chunk size, with mapping records mid-file, id
//! re-mappings, dropped records and negative deltas across chunk
//! boundaries; and stops at the same fault.

use simpletrace::analyzers::print::{Buffering, Parallelism, PrintError, print_trace};
use simpletrace::format::{ArgValue, TraceEvents, TraceReader, encode};

use crate::support::{self, samples};

fn sample_events() -> TraceEvents {
    simpletrace::input::read_trace_events(support::testdata("sample.trace-events")).unwrap()
}

/// The sample trace repeated with shifted timestamps: ~1 MB, with the
/// sample's mid-file mappings and dropped record in every repetition.
fn big_trace() -> Vec<u8> {
    let events = sample_events();
    let one = samples::sample_trace();
    let mut items = Vec::new();
    let mut r = TraceReader::new(&one, &events).unwrap();
    while let Some(item) = r.next_item() {
        items.push(item.unwrap());
    }
    let mut out = Vec::new();
    encode::header(&mut out, 4);
    for rep in 0..60u64 {
        for item in &items {
            match item {
                simpletrace::format::Item::Mapping(m) => encode::mapping(&mut out, m.id.0, m.name),
                simpletrace::format::Item::Event(e) => encode::event_with_payload(
                    &mut out,
                    e.id.0,
                    e.timestamp_ns + rep * 1_000_000_000,
                    e.pid,
                    e.payload,
                ),
            }
        }
    }
    out
}

fn print(
    data: &[u8],
    events: &TraceEvents,
    par: Parallelism,
) -> (Vec<u8>, Result<u64, String>, Vec<usize>) {
    let mut out = Vec::new();
    let mut released = Vec::new();
    let reader = TraceReader::new(data, events).unwrap();
    let result = print_trace(reader, &mut out, Buffering::Block, par, &mut |o| {
        released.push(o)
    });
    let result = result.map(|s| s.records).map_err(|e| match e {
        PrintError::Trace(e) => e.to_string(),
        PrintError::Io(e) => panic!("{e}"),
    });
    (out, result, released)
}

#[test]
fn parallel_equals_sequential() {
    let events = sample_events();
    let data = big_trace();
    let (want, want_result, released) = print(&data, &events, Parallelism::SEQUENTIAL);
    assert!(want_result.is_ok());
    // Sequentially too, progress ends at the end (the paced calls alone
    // fell short of it: a progress bar's last state).
    assert!(released.windows(2).all(|w| w[0] <= w[1]));
    assert_eq!(released.last(), Some(&data.len()));
    assert!(want.len() > 1_000_000);
    for threads in [2, 3, 4] {
        for chunk_bytes in [1, 100, 4096, 65_536, 300_000] {
            let (got, result, released) = print(
                &data,
                &events,
                Parallelism {
                    threads,
                    chunk_bytes,
                },
            );
            assert_eq!(
                result, want_result,
                "{threads} threads, {chunk_bytes}-byte chunks"
            );
            assert!(
                got == want,
                "{threads} threads, {chunk_bytes}-byte chunks: output differs"
            );
            // Progress is reported in order and ends at the end.
            assert!(released.windows(2).all(|w| w[0] <= w[1]));
            assert_eq!(released.last(), Some(&data.len()));
        }
    }
}

#[test]
fn parallel_stops_at_the_same_fault() {
    let events = sample_events();
    let mut data = big_trace();
    let cut = data.len() / 2;
    // An id nobody mapped, in the middle: everything before it prints,
    // nothing after.
    let mut tail = data.split_off(cut);
    let boundary = {
        let mut r = TraceReader::new(&data, &events).unwrap();
        let mut last = 24;
        while let Some(Ok(_)) = r.next_item() {
            last = r.position().0 as usize;
        }
        last
    };
    data.truncate(boundary);
    encode::event(&mut data, 9999, 1, 1, &[ArgValue::Int(0)]);
    data.append(&mut tail);
    let (want, want_result, _) = print(&data, &events, Parallelism::SEQUENTIAL);
    assert!(
        want_result
            .as_ref()
            .unwrap_err()
            .contains("event id 9999 has no mapping")
    );
    for threads in [2, 4] {
        for chunk_bytes in [512, 65_536] {
            let (got, result, _) = print(
                &data,
                &events,
                Parallelism {
                    threads,
                    chunk_bytes,
                },
            );
            assert_eq!(result, want_result);
            assert!(
                got == want,
                "{threads} threads, {chunk_bytes}: output differs"
            );
        }
    }
    // And a cut-off tail is the same truncation either way.
    data.truncate(data.len() - 5);
    let (_, seq, _) = print(&data, &events, Parallelism::SEQUENTIAL);
    let (_, par, _) = print(
        &data,
        &events,
        Parallelism {
            threads: 2,
            chunk_bytes: 1000,
        },
    );
    assert_eq!(seq, par);
}

/// The binary with one and with several threads on the largest corpus
/// trace (several chunks, 46 dropped records, negative deltas).
#[test]
fn cli_thread_counts_agree_on_corpus() {
    let Some(dir) = support::corpus() else { return };
    let events = dir.join("trace-events-all");
    let trace = dir.join("dropped.bin");
    let one = support::run([
        "-j".as_ref(),
        "1".as_ref(),
        events.as_os_str(),
        trace.as_os_str(),
    ]);
    let three = support::run([
        "-j".as_ref(),
        "3".as_ref(),
        events.as_os_str(),
        trace.as_os_str(),
    ]);
    assert!(one.status.success() && three.status.success());
    assert!(one.stdout == three.stdout, "-j1 and -j3 differ");
}
