//! `json --format perfetto` (issue 19), decoded with the crate's own prost
//! messages: the sequence's state (cleared first, names interned once and
//! resolved), tracks declared before use, records equal to `json`'s,
//! spans as slices that never overlap on a track, counters. The Python
//! suite (python/tests/test_perfetto.py) decodes the same output with
//! Perfetto's official schema.

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsStr;
use std::path::Path;

use prost::Message;
use serde_json::Value;
use simpletrace::analyzers::perfetto::proto::{self, Trace, TracePacket};
use simpletrace::analyzers::perfetto::{
    SEQ_INCREMENTAL_STATE_CLEARED, SEQ_NEEDS_INCREMENTAL_STATE, SEQUENCE_ID,
};
use simpletrace::format::TraceEvents;
use simpletrace::format::writer::{Arg, TraceWriter, WriterOptions};

use crate::support;

/// One decoded track event: type, name, pid of its track, track, time,
/// arguments (pointers as `0x…` strings), categories.
#[derive(Debug, Clone)]
struct Ev {
    kind: i32,
    name: Option<String>,
    pid: i32,
    track: u64,
    ts: u64,
    args: Vec<(String, Value)>,
    categories: Vec<String>,
    counter: Option<i64>,
}

/// Decodes and checks the sequence; the events in file order, and the
/// name of every track by uuid.
fn decode(bytes: &[u8]) -> (Vec<Ev>, HashMap<u64, Option<String>>) {
    let trace = Trace::decode(bytes).expect("a Trace");
    assert_eq!(trace.encode_to_vec(), bytes, "re-encodes to its bytes");
    let mut names = HashMap::new();
    let mut arg_names = HashMap::new();
    let mut strings = HashMap::new();
    let mut tracks: HashMap<u64, i32> = HashMap::new();
    let mut track_names = HashMap::new();
    let mut out = Vec::new();
    for (n, p) in trace.packet.iter().enumerate() {
        let TracePacket {
            trusted_packet_sequence_id,
            sequence_flags,
            ..
        } = p;
        assert_eq!(*trusted_packet_sequence_id, Some(SEQUENCE_ID));
        let flags = sequence_flags.unwrap_or(0);
        assert_eq!(
            n == 0,
            flags & SEQ_INCREMENTAL_STATE_CLEARED != 0,
            "only the first packet clears the state"
        );
        if let Some(i) = &p.interned_data {
            for e in &i.event_names {
                assert!(
                    names
                        .insert(e.iid.unwrap(), e.name.clone().unwrap())
                        .is_none()
                );
            }
            for e in &i.debug_annotation_names {
                assert!(
                    arg_names
                        .insert(e.iid.unwrap(), e.name.clone().unwrap())
                        .is_none()
                );
            }
            for e in &i.debug_annotation_string_values {
                let text = String::from_utf8(e.str.clone().unwrap()).unwrap();
                assert!(strings.insert(e.iid.unwrap(), text).is_none());
            }
        }
        if let Some(d) = &p.track_descriptor {
            let uuid = d.uuid.unwrap();
            let pid = match (&d.process, d.parent_uuid) {
                (Some(proc_), None) => proc_.pid.unwrap(),
                (None, Some(parent)) => *tracks.get(&parent).expect("parent declared first"),
                other => panic!("track {uuid}: {other:?}"),
            };
            assert!(
                tracks.insert(uuid, pid).is_none(),
                "track {uuid} declared twice"
            );
            let name = d
                .name
                .clone()
                .or_else(|| d.process.as_ref().and_then(|p| p.process_name.clone()));
            track_names.insert(uuid, name);
        }
        if let Some(e) = &p.track_event {
            assert!(flags & SEQ_NEEDS_INCREMENTAL_STATE != 0);
            let track = e.track_uuid.unwrap();
            let pid = *tracks.get(&track).expect("track declared before use");
            let args = e
                .debug_annotations
                .iter()
                .map(|a| {
                    let name = arg_names[&a.name_iid.unwrap()].clone();
                    let v = if let Some(v) = a.pointer_value {
                        Value::from(format!("{v:#x}"))
                    } else if let Some(v) = a.uint_value {
                        Value::from(v)
                    } else if let Some(v) = a.int_value {
                        Value::from(v)
                    } else if let Some(v) = a.bool_value {
                        Value::from(v)
                    } else if let Some(iid) = a.string_value_iid {
                        Value::from(strings.get(&iid).expect("interned string").clone())
                    } else {
                        Value::from(a.string_value.clone().unwrap())
                    };
                    (name, v)
                })
                .collect();
            out.push(Ev {
                kind: e.r#type.unwrap(),
                name: e.name_iid.map(|i| names[&i].clone()),
                pid,
                track,
                ts: p.timestamp.unwrap(),
                args,
                categories: e.categories.clone(),
                counter: e.counter_value,
            });
        }
    }
    (out, track_names)
}

/// The slices per track, as (begin, end) sorted, each checked to close a
/// begin on its track and never to overlap another there.
fn slices(events: &[Ev]) -> BTreeMap<u64, Vec<(u64, u64)>> {
    let mut marks: BTreeMap<u64, Vec<(u64, usize, i32)>> = BTreeMap::new();
    for (n, e) in events.iter().enumerate() {
        if e.kind == proto::TYPE_SLICE_BEGIN || e.kind == proto::TYPE_SLICE_END {
            marks.entry(e.track).or_default().push((e.ts, n, e.kind));
        }
    }
    let mut out = BTreeMap::new();
    for (track, mut m) in marks {
        m.sort_unstable();
        let mut open = None;
        let mut spans = Vec::new();
        for (ts, _, kind) in m {
            if kind == proto::TYPE_SLICE_BEGIN {
                assert!(open.is_none(), "track {track}: slices overlap at {ts}");
                open = Some(ts);
            } else {
                let begin = open.take().expect("an end closes a begin");
                spans.push((begin, ts));
            }
        }
        assert!(open.is_none(), "track {track}: a slice never ends");
        out.insert(track, spans);
    }
    out
}

fn perfetto(events: &Path, trace: &Path, extra: &[&str]) -> Vec<u8> {
    let mut args: Vec<&OsStr> = vec!["json".as_ref(), "--format".as_ref(), "perfetto".as_ref()];
    args.extend(extra.iter().map(OsStr::new));
    args.push(events.as_os_str());
    args.push(trace.as_os_str());
    support::run_ok(&args)
}

/// Every record of the project's traces is an instant equal to `json`'s
/// line: name, pid, timestamp, arguments (integers past 2^53, which json
/// writes as strings, compared as numbers).
#[test]
fn records_equal_json() {
    for (events, trace) in [
        ("sample.trace-events", "sample.trace"),
        ("sample.trace-events", "strings.trace"),
        ("vcpu.trace-events", "vcpu.trace"),
        ("tcg.trace-events", "tcg.trace"),
    ] {
        let (events, trace) = (support::testdata(events), support::testdata(trace));
        let (got, tracks) = decode(&perfetto(&events, &trace, &[]));
        let json = support::run_ok(&["json".as_ref(), events.as_os_str(), trace.as_os_str()]);
        let lines: Vec<Value> = json
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect();
        assert_eq!(got.len(), lines.len(), "{}", trace.display());
        for (e, want) in got.iter().zip(&lines) {
            assert_eq!(e.kind, proto::TYPE_INSTANT);
            assert_eq!(e.name.as_deref(), want["event"].as_str());
            assert_eq!(Value::from(e.pid), want["pid"]);
            assert_eq!(Value::from(e.ts), want["timestamp_ns"]);
            let args: serde_json::Map<String, Value> = want["args"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| {
                    let s = v.as_str().unwrap_or("x");
                    let v = match (s.parse::<u64>(), s.parse::<i64>()) {
                        (Ok(n), _) => Value::from(n),
                        (_, Ok(n)) => Value::from(n),
                        _ => v.clone(),
                    };
                    (k.clone(), v)
                })
                .collect();
            let got: serde_json::Map<String, Value> = e.args.iter().cloned().collect();
            assert_eq!(got, args, "{}", trace.display());
        }
        // A process track per pid, named after the trace file.
        let name = trace.file_name().unwrap().to_str().unwrap();
        assert!(tracks.values().all(|n| n.as_deref() == Some(name)));
    }
}

const EVENTS: &[u8] = b"\
req_submit(void *req, uint64_t offset) \"req %p offset %\" PRIu64
req_done(void *req, int ret) \"req %p ret %d\"
";

/// tests/chrome.rs's partly overlapping spans: as slices, the
/// overlapping ones on tracks of their own (three on pid 1, where they
/// overlap three deep), the nested and disjoint ones sharing; both
/// records' arguments; a counter of a signed argument.
#[test]
fn overlapping_spans_take_tracks_of_their_own() {
    let events = TraceEvents::parse("te", EVENTS).unwrap();
    let mut w = TraceWriter::with_events(Vec::new(), WriterOptions::default(), &events).unwrap();
    let submit = [
        (1000, 1, 0xa),
        (2000, 1, 0xb),
        (2500, 1, 0xc),
        (2600, 2, 0xd),
    ];
    let done = [
        (3000, 1, 0xc),
        (4000, 1, 0xa),
        (5000, 1, 0xb),
        (5001, 2, 0xd),
        (6000, 1, 0xe),
    ];
    for (ts, pid, req) in submit {
        w.event_by_name("req_submit", ts, pid, &[Arg::Ptr(req), Arg::from(u64::MAX)])
            .unwrap();
    }
    for (ts, pid, req) in done {
        w.event_by_name("req_done", ts, pid, &[Arg::Ptr(req), Arg::from(-5)])
            .unwrap();
    }
    // Disjoint from every span of pid 1 so far: shares the first track.
    w.event_by_name("req_submit", 7000, 1, &[Arg::Ptr(0xf), Arg::from(1u64)])
        .unwrap();
    w.event_by_name("req_done", 8000, 1, &[Arg::Ptr(0xf), Arg::from(0)])
        .unwrap();
    let dir = support::scratch("perfetto-overlap");
    std::fs::write(dir.join("te"), EVENTS).unwrap();
    std::fs::write(dir.join("trace"), w.finish().unwrap()).unwrap();
    let out = perfetto(
        &dir.join("te"),
        &dir.join("trace"),
        &[
            "--span",
            "req_submit:req,req_done:req",
            "--counter",
            "req_done:ret",
        ],
    );
    let (got, names) = decode(&out);
    let per_track = slices(&got);
    let mut all: Vec<(u64, u64)> = per_track.values().flatten().copied().collect();
    all.sort_unstable();
    assert_eq!(
        all,
        [
            (1000, 4000),
            (2000, 5000),
            (2500, 3000),
            (2600, 5001),
            (7000, 8000)
        ]
    );
    assert_eq!(per_track.len(), 4, "{per_track:?}");
    assert!(
        per_track
            .keys()
            .all(|t| names[t].as_deref() == Some("req_submit"))
    );
    let begin = got
        .iter()
        .find(|e| e.kind == proto::TYPE_SLICE_BEGIN)
        .unwrap();
    assert_eq!(begin.name.as_deref(), Some("req_submit"));
    assert!(
        begin
            .args
            .contains(&("offset".into(), Value::from(u64::MAX)))
    );
    let end = got
        .iter()
        .find(|e| e.kind == proto::TYPE_SLICE_END)
        .unwrap();
    assert!(end.args.contains(&("ret".into(), Value::from(-5))));
    // The end without a begin is a marked instant.
    let unmatched: Vec<&Ev> = got
        .iter()
        .filter(|e| e.kind == proto::TYPE_INSTANT)
        .collect();
    assert_eq!(unmatched.len(), 1);
    assert_eq!(unmatched[0].categories, ["unmatched-span-end"]);
    assert_eq!(unmatched[0].ts, 6000);
    // One counter track per pid, the signed values as they are.
    let counters: Vec<(i32, u64, i64)> = got
        .iter()
        .filter(|e| e.kind == proto::TYPE_COUNTER)
        .map(|e| (e.pid, e.ts, e.counter.unwrap()))
        .collect();
    assert_eq!(counters.len(), 6);
    assert!(counters.iter().all(|c| c.2 == -5 || c.2 == 0));
    let counter_tracks: std::collections::BTreeSet<u64> = got
        .iter()
        .filter(|e| e.kind == proto::TYPE_COUNTER)
        .map(|e| e.track)
        .collect();
    assert_eq!(counter_tracks.len(), 2);
    assert!(
        counter_tracks
            .iter()
            .all(|t| names[t].as_deref() == Some("req_done.ret"))
    );
}

/// `-o FILE` writes what standard output gets; the filters apply; misused
/// options are usage errors or clear failures.
#[test]
fn output_file_filters_and_errors() {
    let (events, trace) = (
        support::testdata("sample.trace-events"),
        support::testdata("sample.trace"),
    );
    let dir = support::scratch("perfetto-out");
    let file = dir.join("out.pftrace");
    let stdout = perfetto(&events, &trace, &[]);
    let o = perfetto(&events, &trace, &["-o", file.to_str().unwrap()]);
    assert!(o.is_empty());
    assert_eq!(std::fs::read(&file).unwrap(), stdout);
    let (got, _) = decode(&perfetto(&events, &trace, &["--pid", "4242"]));
    assert!(!got.is_empty() && got.iter().all(|e| e.pid == 4242));
    let run = |args: &[&str]| {
        let mut all = vec!["json"];
        all.extend_from_slice(args);
        all.extend([events.to_str().unwrap(), trace.to_str().unwrap()]);
        support::run(all)
    };
    let o = run(&["--counter", "mem_alloc:size"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(support::stderr(&o).contains("--counter needs --format perfetto"));
    let o = run(&["--format", "perfetto", "--counter", "mem_alloc:nope"]);
    assert_eq!(o.status.code(), Some(1), "{}", support::stderr(&o));
    assert!(support::stderr(&o).contains("event 'mem_alloc' has no argument 'nope'"));
    let o = run(&["--format", "perfetto", "--counter", "blk_open:filename"]);
    assert!(support::stderr(&o).contains("is a string, not a number"));
}

/// The shared corpus with the thread-pool and mutex spans: slices never
/// overlap on a track, and the file is a fraction of the Chrome JSON's
/// size.
#[test]
fn corpus_spans_and_size() {
    let Some(dir) = support::corpus() else {
        return;
    };
    let events = dir.join("trace-events-all");
    let spans = [
        "--span",
        "thread_pool_submit_aio:req,thread_pool_complete_aio:req",
        "--span",
        "qemu_mutex_lock:mutex,qemu_mutex_unlock:mutex",
    ];
    for name in ["medium-io.bin", "medium-create.bin", "medium-convert.bin"] {
        let trace = dir.join(name);
        let out = perfetto(&events, &trace, &spans);
        let (got, _) = decode(&out);
        let per_track = slices(&got);
        assert!(!per_track.is_empty(), "{name}");
        let chrome = support::run_ok(&[
            "json".as_ref(),
            "--format".as_ref(),
            "chrome".as_ref(),
            events.as_os_str(),
            trace.as_os_str(),
        ]);
        let plain = perfetto(&events, &trace, &[]);
        assert!(
            plain.len() * 3 <= chrome.len(),
            "{name}: {} bytes against Chrome's {}",
            plain.len(),
            chrome.len()
        );
    }
}

/// `--alloc-counter`: a counter track per pid, `alloc live bytes`, set at
/// each allocator record; its last value for a pid is the live bytes
/// `alloc --json` gives that pid at the end, and its peak is `alloc`'s
/// peak.
#[test]
fn alloc_counter_follows_alloc() {
    let Some(dir) = support::corpus() else {
        return;
    };
    let events = dir.join("trace-events-all");
    for name in ["dropped.bin", "medium-io.bin"] {
        let trace = dir.join(name);
        let (got, track_names) = decode(&perfetto(&events, &trace, &["--alloc-counter"]));
        let mut last: HashMap<i64, i64> = HashMap::new();
        let mut peak: HashMap<i64, i64> = HashMap::new();
        for e in got.iter().filter(|e| {
            e.kind == proto::TYPE_COUNTER
                && track_names.get(&e.track).cloned().flatten().as_deref()
                    == Some("alloc live bytes")
        }) {
            let v = e.counter.unwrap();
            last.insert(i64::from(e.pid), v);
            let p = peak.entry(i64::from(e.pid)).or_insert(v);
            *p = (*p).max(v);
        }
        assert!(!last.is_empty(), "{name}: no alloc counter");
        let alloc: Value = serde_json::from_slice(&support::run_ok(&[
            "alloc".as_ref(),
            "--json".as_ref(),
            events.as_os_str(),
            trace.as_os_str(),
        ]))
        .unwrap();
        let mut want = HashMap::new();
        let mut want_peak = HashMap::new();
        for p in alloc["pids"].as_array().unwrap() {
            let pid = p["pid"].as_i64().unwrap();
            if p["allocations"].as_u64().unwrap() + p["frees"].as_u64().unwrap() == 0 {
                continue;
            }
            want.insert(pid, p["live_bytes_at_end"].as_i64().unwrap());
            want_peak.insert(pid, p["peak"]["bytes"].as_i64().unwrap());
        }
        assert_eq!(last, want, "{name}");
        assert_eq!(peak, want_peak, "{name}");
    }
    // Only with --format perfetto.
    let out = support::run(
        ["json", "--alloc-counter"]
            .map(OsStr::new)
            .into_iter()
            .chain([events.as_os_str(), dir.join("medium-io.bin").as_os_str()]),
    );
    assert_eq!(out.status.code(), Some(2));
}
