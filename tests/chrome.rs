//! `json --format chrome` as Perfetto and `chrome://tracing` read it
//! (issue 16, item 1), and exact integers in every JSON output (item 2).
//!
//! The validator parses the document with serde_json, one element of
//! `traceEvents` at a time (the corpus' outputs reach 90 MB), and checks
//! what the viewers need to draw spans: on every (pid, tid) track, complete
//! events (`X`) nest or are disjoint, never partly overlap; every async
//! begin (`b`) has a matching end (`e`) with the same id, category, pid and
//! name, no earlier than it; metadata events only name tracks; and the
//! counts are in the top-level `metadata`, not in an event of pid 0.

use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::Path;

use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use simpletrace::format::TraceEvents;
use simpletrace::format::writer::{Arg, TraceWriter, WriterOptions};

use crate::support;

/// The span pairs docs/cli.md and docs/performance.md suggest: QEMU's
/// thread pool requests and its mutexes.
const SPANS: [&str; 2] = [
    "thread_pool_submit_aio:req,thread_pool_complete_aio:req",
    "qemu_mutex_lock:mutex,qemu_mutex_unlock:mutex",
];

/// Fails the check with a message unless `cond` holds.
macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+));
        }
    };
}

/// A microsecond timestamp with nanosecond decimals, in nanoseconds.
fn ns(us: &Value) -> Result<u64, String> {
    let us = us
        .as_f64()
        .ok_or_else(|| format!("ts {us} is not a number"))?;
    if us.is_sign_negative() || us.is_nan() {
        return Err(format!("ts {us} is negative"));
    }
    Ok((us * 1000.0).round() as u64)
}

/// What the validator found.
#[derive(Debug, Default)]
struct Checked {
    instants: u64,
    complete: u64,
    /// Async spans: (pid, begin, end) in nanoseconds.
    spans: Vec<(u64, u64, u64)>,
    /// Track names, by (pid, tid).
    thread_names: BTreeMap<(u64, u64), String>,
    /// Everything outside `traceEvents`.
    top: serde_json::Map<String, Value>,
}

/// The validator's state while the events stream by.
#[derive(Default)]
struct State {
    checked: Checked,
    /// Complete events by track: (begin, end) in nanoseconds.
    complete: HashMap<(u64, u64), Vec<(u64, u64)>>,
    /// Open async begins by (pid, cat, id): name and timestamp.
    open: HashMap<(u64, String, String), (String, u64)>,
}

impl State {
    fn event(&mut self, e: Value) -> Result<(), String> {
        let name = e["name"].as_str().ok_or_else(|| format!("no name: {e}"))?;
        ensure!(
            name != "simpletrace",
            "the counts belong in the top-level metadata, not an event: {e}"
        );
        let (Some(pid), Some(tid)) = (e["pid"].as_u64(), e["tid"].as_u64()) else {
            return Err(format!("pid and tid must be integers: {e}"));
        };
        match e["ph"].as_str() {
            Some("i" | "I") => {
                ns(&e["ts"])?;
                ensure!(e["args"].is_object(), "{e}");
                self.checked.instants += 1;
            }
            Some("X") => {
                let (ts, dur) = (ns(&e["ts"])?, ns(&e["dur"])?);
                self.complete
                    .entry((pid, tid))
                    .or_default()
                    .push((ts, ts + dur));
                self.checked.complete += 1;
            }
            Some(ph @ ("b" | "e")) => {
                let cat = e["cat"].as_str().ok_or_else(|| format!("no cat: {e}"))?;
                let id = match &e["id"] {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    _ => return Err(format!("an async event needs an id: {e}")),
                };
                let key = (pid, cat.to_owned(), id);
                let ts = ns(&e["ts"])?;
                if ph == "b" {
                    let old = self.open.insert(key, (name.to_owned(), ts));
                    ensure!(old.is_none(), "a second begin of an open id: {e}");
                } else {
                    let (begin_name, begin) = self
                        .open
                        .remove(&key)
                        .ok_or_else(|| format!("an end without its begin: {e}"))?;
                    ensure!(begin_name == name, "an end named otherwise: {e}");
                    ensure!(ts >= begin, "an end before its begin: {e}");
                    self.checked.spans.push((pid, begin, ts));
                }
            }
            Some("M") => match (name, e["args"]["name"].as_str()) {
                ("thread_name", Some(label)) => {
                    self.checked
                        .thread_names
                        .insert((pid, tid), label.to_owned());
                }
                ("process_name", Some(_)) => {}
                _ => return Err(format!("a metadata event that names nothing: {e}")),
            },
            other => return Err(format!("unexpected phase {other:?}: {e}")),
        }
        Ok(())
    }

    fn finish(mut self) -> Result<Checked, String> {
        ensure!(
            self.open.is_empty(),
            "async begins never ended: {:?}",
            self.open.iter().take(3).collect::<Vec<_>>()
        );
        for (track, spans) in &mut self.complete {
            let bad = partly_overlapping(spans);
            ensure!(
                bad.is_empty(),
                "track {track:?}: complete events partly overlap: {:?}",
                &bad[..bad.len().min(3)]
            );
        }
        Ok(self.checked)
    }
}

/// The pairs of spans (begin, end) that partly overlap: each that starts
/// inside another and ends after it. Spans that touch are disjoint.
fn partly_overlapping(spans: &mut [(u64, u64)]) -> Vec<((u64, u64), (u64, u64))> {
    spans.sort_by_key(|&(b, e)| (b, Reverse(e)));
    let mut stack: Vec<(u64, u64)> = Vec::new();
    let mut bad = Vec::new();
    for &span in spans.iter() {
        while stack.last().is_some_and(|top| top.1 <= span.0) {
            stack.pop();
        }
        if let Some(&top) = stack.last()
            && span.1 > top.1
        {
            bad.push((top, span));
        }
        stack.push(span);
    }
    bad
}

/// The document, its `traceEvents` checked one at a time.
struct Doc<'a>(&'a mut State);

impl<'de> DeserializeSeed<'de> for Doc<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Doc<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a trace-event document (JSON object format)")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut events = false;
        while let Some(key) = map.next_key::<String>()? {
            if key == "traceEvents" {
                map.next_value_seed(Events(&mut *self.0))?;
                events = true;
            } else {
                let v: Value = map.next_value()?;
                self.0.checked.top.insert(key, v);
            }
        }
        if !events {
            return Err(serde::de::Error::missing_field("traceEvents"));
        }
        Ok(())
    }
}

/// The `traceEvents` array.
struct Events<'a>(&'a mut State);

impl<'de> DeserializeSeed<'de> for Events<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Events<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of trace events")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(e) = seq.next_element::<Value>()? {
            self.0.event(e).map_err(serde::de::Error::custom)?;
        }
        Ok(())
    }
}

/// Checks a Chrome document (see the module documentation).
fn validate(json: &[u8]) -> Result<Checked, String> {
    let mut state = State::default();
    let mut de = serde_json::Deserializer::from_slice(json);
    Doc(&mut state)
        .deserialize(&mut de)
        .map_err(|e| e.to_string())?;
    de.end().map_err(|e| format!("after the document: {e}"))?;
    let checked = state.finish()?;
    let meta = &checked.top.get("metadata").unwrap_or(&Value::Null)["simpletrace"];
    ensure!(meta["format_version"] == 2, "format_version: {meta}");
    ensure!(
        meta["spans"].as_u64() == Some(checked.spans.len() as u64),
        "spans counted: {meta}"
    );
    ensure!(
        checked
            .top
            .get("displayTimeUnit")
            .is_some_and(|u| u == "ns"),
        "displayTimeUnit"
    );
    Ok(checked)
}

/// How many spans partly overlap another of their pid: what one track per
/// pid could not draw.
fn overlapping_spans(spans: &[(u64, u64, u64)]) -> usize {
    let mut by_pid: HashMap<u64, Vec<(u64, u64)>> = HashMap::new();
    for &(pid, b, e) in spans {
        by_pid.entry(pid).or_default().push((b, e));
    }
    by_pid
        .values_mut()
        .map(|s| {
            let mut both: Vec<(u64, u64)> = partly_overlapping(s)
                .into_iter()
                .flat_map(|(a, b)| [a, b])
                .collect();
            both.sort_unstable();
            both.dedup();
            both.len()
        })
        .sum()
}

fn chrome(events: &Path, trace: &Path, extra: &[&str]) -> Vec<u8> {
    let mut args: Vec<&std::ffi::OsStr> = vec!["json".as_ref(), "--format".as_ref()];
    args.push("chrome".as_ref());
    args.extend(extra.iter().map(std::ffi::OsStr::new));
    args.push(events.as_os_str());
    args.push(trace.as_os_str());
    let out = support::run(&args);
    assert!(out.status.success(), "{}", support::stderr(&out));
    out.stdout
}

/// The validator itself: it refuses what the output was until issue 16
/// (partly overlapping complete events on one track, the counts as an
/// event of pid 0) and unmatched async events.
#[test]
fn the_validator_refuses_what_viewers_cannot_draw() {
    let doc = |events: &str| {
        format!(
            "{{\"traceEvents\":[{events}],\"displayTimeUnit\":\"ns\",\
             \"metadata\":{{\"simpletrace\":{{\"format_version\":2,\"spans\":0}}}}}}"
        )
    };
    let x = |ts: u32, dur: u32| {
        format!(
            "{{\"name\":\"s\",\"ph\":\"X\",\"ts\":{ts},\"dur\":{dur},\"pid\":1,\"tid\":1,\"args\":{{}}}}"
        )
    };
    let refused = |text: String| validate(text.as_bytes()).is_err();
    // Nested, and touching: fine.
    let ok = validate(doc(&[x(0, 10), x(2, 3), x(10, 5)].join(",")).as_bytes()).unwrap();
    assert_eq!(ok.complete, 3);
    // Partly overlapping on one track.
    assert!(refused(doc(&[x(0, 10), x(5, 10)].join(","))));
    // The old trailing counts, an event of pid 0.
    assert!(refused(doc(
        "{\"name\":\"simpletrace\",\"ph\":\"M\",\"pid\":0,\"tid\":0,\"args\":{\"records\":1}}"
    )));
    // A begin without its end, an end without its begin, ids that differ.
    let a = |ph: &str, id: &str, ts: u32| {
        format!(
            "{{\"name\":\"s\",\"cat\":\"span\",\"ph\":\"{ph}\",\"id\":\"{id}\",\"ts\":{ts},\"pid\":1,\"tid\":1,\"args\":{{}}}}"
        )
    };
    assert!(refused(doc(&a("b", "0x1", 1))));
    assert!(refused(doc(&a("e", "0x1", 1))));
    assert!(refused(
        doc(&[a("b", "0x1", 1), a("e", "0x2", 2)].join(","))
    ));
    assert!(refused(
        doc(&[a("b", "0x1", 3), a("e", "0x1", 2)].join(","))
    ));
}

const EVENTS: &[u8] = b"\
req_submit(void *req, uint64_t offset) \"req %p offset %\" PRIu64
req_done(void *req, int ret) \"req %p ret %d\"
";

/// Spans known to partly overlap, on one pid: each is its own async pair,
/// exact to the nanosecond, and the document passes the validator.
#[test]
fn partly_overlapping_spans_are_drawable() {
    let events = TraceEvents::parse("te", EVENTS).unwrap();
    let mut w = TraceWriter::with_events(Vec::new(), WriterOptions::default(), &events).unwrap();
    // a [1000, 4000] and b [2000, 5000] partly overlap; c [2500, 3000]
    // nests in both; d on another pid overlaps nothing of its own.
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
    ];
    for (ts, pid, req) in submit {
        w.event_by_name("req_submit", ts, pid, &[Arg::Ptr(req), Arg::from(u64::MAX)])
            .unwrap();
    }
    for (ts, pid, req) in done {
        w.event_by_name("req_done", ts, pid, &[Arg::Ptr(req), Arg::from(-5)])
            .unwrap();
    }
    let dir = support::scratch("chrome-overlap");
    std::fs::write(dir.join("te"), EVENTS).unwrap();
    std::fs::write(dir.join("trace"), w.finish().unwrap()).unwrap();
    let out = chrome(
        &dir.join("te"),
        &dir.join("trace"),
        &["--span", "req_submit:req,req_done:req"],
    );
    let checked = validate(&out).unwrap();
    let mut spans = checked.spans.clone();
    spans.sort_unstable();
    assert_eq!(
        spans,
        [
            (1, 1000, 4000),
            (1, 2000, 5000),
            (1, 2500, 3000),
            (2, 2600, 5001)
        ]
    );
    assert_eq!(overlapping_spans(&checked.spans), 2);
    assert_eq!(checked.instants, 0);
    assert_eq!(
        checked.thread_names.keys().copied().collect::<Vec<_>>(),
        [(1, 1), (2, 2)]
    );
    // Both records' arguments, exact: u64::MAX as a string of digits.
    let doc: Value = serde_json::from_slice(&out).unwrap();
    let begin = doc["traceEvents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["ph"] == "b")
        .unwrap();
    assert_eq!(begin["args"]["begin"]["offset"], "18446744073709551615");
    let end = doc["traceEvents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["ph"] == "e")
        .unwrap();
    assert_eq!(end["args"]["end"]["ret"], -5);
    let meta = &doc["metadata"]["simpletrace"];
    assert_eq!(
        (&meta["records"], &meta["unmatched_span_begins"]),
        (&Value::from(8), &Value::from(0))
    );
}

/// Every shared trace, with the thread pool and mutex spans: the document
/// passes the validator, although the spans partly overlap where the issue
/// counted them (they could not share one track).
#[test]
fn spans_of_every_shared_trace_are_drawable() {
    let Some(dir) = support::corpus() else {
        return;
    };
    let events = dir.join("trace-events-all");
    let mut traces: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "bin"))
        .collect();
    traces.sort();
    assert!(traces.len() >= 2, "{traces:?}");
    let mut any_overlap = 0;
    for trace in &traces {
        let out = chrome(&events, trace, &["--span", SPANS[0], "--span", SPANS[1]]);
        let checked = validate(&out).unwrap_or_else(|e| panic!("{}: {e}", trace.display()));
        let overlapping = overlapping_spans(&checked.spans);
        let name = trace.file_name().unwrap().to_string_lossy();
        eprintln!(
            "{name}: {} spans, {overlapping} partly overlapping, {} instants",
            checked.spans.len(),
            checked.instants
        );
        if name == "medium-rand.bin" || name == "dropped.bin" {
            assert!(overlapping > 0, "{name}: the issue's overlaps are gone?");
        }
        any_overlap += overlapping;
        // pid 0 writes records of its own in medium-rand: its track is
        // named like any other, and nothing else claims pid 0.
        assert!(checked.thread_names.values().all(|n| n == "records"));
    }
    assert!(any_overlap > 0);
}

/// The largest integer a double holds exactly, with every one below it.
const MAX_EXACT: u64 = (1 << 53) - 1;

/// Every number in `v`, read as a double (as JavaScript, jq 1.6 and pandas
/// read it), is exact; returns how many strings hold integers past it.
fn exact_everywhere(v: &Value) -> usize {
    match v {
        Value::Number(n) => {
            if let Some(i) = n.as_i64().map(i128::from).or(n.as_u64().map(i128::from)) {
                assert!(i.unsigned_abs() <= u128::from(MAX_EXACT), "{n} is inexact");
                let f = n.as_f64().unwrap();
                assert_eq!(f as i128, i);
            }
            0
        }
        Value::String(s) => usize::from(
            s.parse::<i128>()
                .is_ok_and(|i| i.unsigned_abs() > u128::from(MAX_EXACT)),
        ),
        Value::Array(items) => items.iter().map(exact_everywhere).sum(),
        Value::Object(fields) => fields.values().map(exact_everywhere).sum(),
        _ => 0,
    }
}

/// medium-rand's arguments past 2^53 (qcow2's offsets of -1, ...) and
/// dropped.bin's Dropped_Event ids survive any JSON reader: JSON Lines,
/// Chrome JSON and the reports' JSON.
#[test]
fn integers_past_2_53_survive_json_readers() {
    let Some(dir) = support::corpus() else {
        return;
    };
    let events = dir.join("trace-events-all");
    // 3089 in medium-rand: qcow2's host offsets of -1 in uint64_t
    // arguments (the 9,808 counted more than JSON numbers).
    for (trace, at_least) in [("medium-rand.bin", 3089), ("dropped.bin", 46)] {
        let trace = dir.join(trace);
        let out = support::run(["json".as_ref(), events.as_os_str(), trace.as_os_str()]);
        assert!(out.status.success(), "{}", support::stderr(&out));
        let mut strings = 0;
        let mut host_offset = false;
        for line in out.stdout.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let v: Value = serde_json::from_slice(line).unwrap();
            strings += exact_everywhere(&v);
            if v["event"] == "Dropped_Event" {
                assert_eq!(v["id"], "18446744073709551614", "{v}");
            }
            if v["event"] == "qcow2_handle_copied"
                && v["args"]["host_offset"] == "18446744073709551615"
            {
                host_offset = true;
            }
        }
        let name = trace.display();
        assert!(strings >= at_least, "{name}: {strings} exact strings");
        if name.to_string().ends_with("medium-rand.bin") {
            assert!(host_offset, "qcow2_handle_copied host_offset of -1");
            let doc: Value = serde_json::from_slice(&chrome(&events, &trace, &[])).unwrap();
            assert!(exact_everywhere(&doc) >= at_least);
        }
        for report in [
            &["stats", "--json"][..],
            &["locks", "--json"],
            &["alloc", "--json"],
        ] {
            let mut args: Vec<&std::ffi::OsStr> = report.iter().map(std::ffi::OsStr::new).collect();
            args.extend([events.as_os_str(), trace.as_os_str()]);
            let out = support::run(&args);
            assert!(
                out.status.success(),
                "{report:?}: {}",
                support::stderr(&out)
            );
            let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
            exact_everywhere(&doc);
        }
    }
}
