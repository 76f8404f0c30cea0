//! `simpletrace hist`: crafted traces whose every figure is computed by
//! hand, and the real QEMU corpus checked against independent
//! computations (the golden text of simpletrace.py, or a plain loop over
//! the records).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use simpletrace::analyzers::Event;
use simpletrace::format::writer::{Arg, TraceWriter, WriterOptions};
use simpletrace::format::{TraceEvents, TraceReader};

use crate::support;

const EVENTS: &[u8] = b"\
submit(void *pool, void *req) \"pool %p req %p\"
complete(void *pool, void *req, int ret) \"pool %p req %p ret %d\"
write(void *bs, int64_t offset, uint64_t bytes, const char *name) \"bs %p offset %ld bytes %lu name %s\"
delta(int d) \"d %d\"
tick(void) \"tick\"
";

/// A crafted trace in a scratch directory: (trace-events, trace).
struct Crafted {
    events: PathBuf,
    trace: PathBuf,
}

fn craft(test: &str, write: impl FnOnce(&mut TraceWriter<'_, Vec<u8>>)) -> Crafted {
    let dir = support::scratch(test);
    let events_path = dir.join("te");
    std::fs::write(&events_path, EVENTS).unwrap();
    let events = TraceEvents::parse("te", EVENTS).unwrap();
    let mut w = TraceWriter::with_events(Vec::new(), WriterOptions::default(), &events).unwrap();
    write(&mut w);
    let trace = dir.join("trace");
    std::fs::write(&trace, w.finish().unwrap()).unwrap();
    Crafted {
        events: events_path,
        trace,
    }
}

/// Runs `simpletrace hist ARGS... EVENTS TRACE`: (status, stdout, stderr).
fn hist(c: &Crafted, args: &[&str]) -> (i32, String, String) {
    let mut all: Vec<&std::ffi::OsStr> = vec!["hist".as_ref()];
    all.extend(args.iter().map(std::ffi::OsStr::new));
    all.push(c.events.as_os_str());
    all.push(c.trace.as_os_str());
    let out = support::run(all);
    let err = support::stderr(&out);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        err,
    )
}

/// The JSON report of a successful run.
fn hist_json(c: &Crafted, args: &[&str]) -> Value {
    let mut args = args.to_vec();
    args.push("--json");
    let (status, out, err) = hist(c, &args);
    assert_eq!(status, 0, "{err}");
    serde_json::from_str(&out).unwrap()
}

/// The text report of a successful run.
fn hist_text(c: &Crafted, args: &[&str]) -> String {
    let (status, out, err) = hist(c, args);
    assert_eq!(status, 0, "{err}");
    out
}

/// `(low, high, count)` of each bucket of a JSON histogram.
fn buckets(h: &Value) -> Vec<(i64, i64, u64)> {
    h["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["low"].as_i64().unwrap(),
                b["high"].as_i64().unwrap(),
                b["count"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// count, min, max, sum, mean and the four percentiles of a JSON
/// histogram.
#[track_caller]
fn assert_figures(h: &Value, count: u64, min: i64, max: i64, sum: i64, ps: [f64; 4]) {
    assert_eq!(h["count"], count, "{h}");
    assert_eq!(h["min"], min, "{h}");
    assert_eq!(h["max"], max, "{h}");
    assert_eq!(h["sum"], sum, "{h}");
    let mean = h["mean"].as_f64().unwrap();
    assert!((mean - sum as f64 / count as f64).abs() < 1e-9, "{h}");
    let p = &h["percentiles"];
    assert_eq!(
        [&p["p50"], &p["p90"], &p["p99"], &p["p99.9"]],
        ps.map(|v| json!(v)).each_ref(),
        "{h}"
    );
    assert_eq!(h["percentiles_exact"], true);
}

/// The bars as (label, count) rows.
fn bars(text: &str) -> Vec<(String, u64)> {
    text.lines()
        .filter(|l| l.ends_with('|'))
        .map(|l| {
            let (head, _) = l.split_once(" |").unwrap();
            let (label, count) = head.trim_end().rsplit_once(' ').unwrap();
            (label.trim().to_owned(), count.parse().unwrap())
        })
        .collect()
}

/// Writes of `bytes` by pid: pid 1 0, 1, 3, 512, 700, 1000, 4096; pid 2
/// 100 twice (names "a" and "b" alternate).
fn writes() -> impl FnOnce(&mut TraceWriter<'_, Vec<u8>>) {
    |w| {
        let mut ts = 0;
        for (pid, bytes) in [
            (1, 0u64),
            (1, 1),
            (2, 100),
            (1, 3),
            (1, 512),
            (1, 700),
            (2, 100),
            (1, 1000),
            (1, 4096),
        ] {
            ts += 10;
            let name = if ts % 20 == 0 { "a" } else { "b" };
            w.event_by_name(
                "write",
                ts,
                pid,
                &[
                    Arg::Ptr(0x10),
                    Arg::from(-1i64),
                    Arg::from(bytes),
                    Arg::from(name),
                ],
            )
            .unwrap();
        }
    }
}

#[test]
fn hist_values_log2_by_hand() {
    let c = craft("hist_values_log2", writes());
    let j = hist_json(&c, &["--event", "write", "--arg", "bytes"]);
    assert_eq!(j["measure"], "value");
    assert_eq!(
        (j["event"].as_str(), j["arg"].as_str()),
        (Some("write"), Some("bytes"))
    );
    // `bytes` is a size.
    assert_eq!(j["unit"], "bytes");
    assert_eq!(
        (j["samples"].as_u64(), j["groups_total"].as_u64()),
        (Some(9), Some(1))
    );
    let h = &j["groups"][0]["histogram"];
    assert_eq!(j["groups"][0]["key"], json!({}));
    // Sorted: 0 1 3 100 100 512 700 1000 4096; sum 6512. Nearest rank:
    // p50 is the 5th (100), p90 the 9th (ceil 8.1), p99 and p99.9 too.
    assert_figures(h, 9, 0, 4096, 6512, [100.0, 4096.0, 4096.0, 4096.0]);
    assert_eq!(
        buckets(h),
        [
            (0, 1, 1),
            (1, 2, 1),
            (2, 4, 1),
            (64, 128, 2),
            (512, 1024, 3),
            (4096, 8192, 1)
        ]
    );

    let text = hist_text(&c, &["--event", "write", "--arg", "bytes"]);
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("Values of write bytes: 9 records"));
    assert_eq!(lines.next(), Some(""));
    assert_eq!(
        lines.next(),
        Some("count 9, min 0B, mean 723.6B, p50 100B, p90 4KiB, p99 4KiB, p99.9 4KiB, max 4KiB")
    );
    // Every bucket from the lowest to the highest, the empty ones too.
    let want: Vec<(String, u64)> = [
        ("[0B]", 1),
        ("[1B]", 1),
        ("[2B, 4B)", 1),
        ("[4B, 8B)", 0),
        ("[8B, 16B)", 0),
        ("[16B, 32B)", 0),
        ("[32B, 64B)", 0),
        ("[64B, 128B)", 2),
        ("[128B, 256B)", 0),
        ("[256B, 512B)", 0),
        ("[512B, 1KiB)", 3),
        ("[1KiB, 2KiB)", 0),
        ("[2KiB, 4KiB)", 0),
        ("[4KiB, 8KiB)", 1),
    ]
    .iter()
    .map(|(l, c)| (l.to_string(), *c))
    .collect();
    assert_eq!(bars(&text), want);
    // The fullest bucket (3) has the whole bar; 1 of 3 rounds up to 18 of 52.
    let row = |label: &str| text.lines().find(|l| l.starts_with(label)).unwrap();
    assert!(row("[512B, 1KiB)").ends_with(&format!("|{}|", "@".repeat(52))));
    assert!(row("[0B]").ends_with(&format!("|{}{}|", "@".repeat(18), " ".repeat(34))));

    // Count instead of bytes.
    let text = hist_text(
        &c,
        &["--event", "write", "--arg", "bytes", "--unit", "count"],
    );
    assert!(text.contains("\n[1K, 2K) "), "{text}");
    assert!(
        text.contains("count 9, min 0, mean 723.56, p50 100, p90 4K,"),
        "{text}"
    );
}

#[test]
fn hist_values_grouped_linear_and_table() {
    let c = craft("hist_values_grouped", writes());
    let j = hist_json(&c, &["--event", "write", "--arg", "bytes", "--by", "pid"]);
    assert_eq!(j["by"], json!(["pid"]));
    assert_eq!(j["groups_total"], 2);
    // Largest group first.
    let g = &j["groups"];
    assert_eq!(g[0]["key"], json!({"pid": 1}));
    assert_figures(
        &g[0]["histogram"],
        7,
        0,
        4096,
        6312,
        [512.0, 4096.0, 4096.0, 4096.0],
    );
    assert_eq!(g[1]["key"], json!({"pid": 2}));
    assert_figures(&g[1]["histogram"], 2, 100, 100, 200, [100.0; 4]);

    // By the pid and a string argument. The records (ts, name, bytes):
    // 10 b 0 | 20 a 1 | 30 b 100 (pid 2) | 40 a 3 | 50 b 512 | 60 a 700 |
    // 70 b 100 (pid 2) | 80 a 1000 | 90 b 4096.
    let j = hist_json(
        &c,
        &["--event", "write", "--arg", "bytes", "--by", "pid,name"],
    );
    let keys: Vec<(Value, u64, i64)> = j["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["key"].clone(),
                g["histogram"]["count"].as_u64().unwrap(),
                g["histogram"]["sum"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        keys,
        [
            (json!({"pid": 1, "name": "a"}), 4, 1 + 3 + 700 + 1000),
            (json!({"pid": 1, "name": "b"}), 3, 512 + 4096),
            (json!({"pid": 2, "name": "b"}), 2, 200),
        ]
    );
    let text = hist_text(
        &c,
        &[
            "--event", "write", "--arg", "bytes", "--by", "pid,name", "--top", "1",
        ],
    );
    assert!(
        text.starts_with("Values of write bytes, by pid and name: 9 records in 3 groups\n"),
        "{text}"
    );
    assert!(
        text.contains("\npid=1, name=\"a\"\ncount 4, min 1B,"),
        "{text}"
    );
    assert!(!text.contains("name=\"b\""), "{text}");
    assert!(
        text.contains("(2 more groups with 5 samples not shown)"),
        "{text}"
    );

    // Linear buckets of 1 KiB: 8 values below 1 KiB, 4096 alone.
    let j = hist_json(
        &c,
        &["--event", "write", "--arg", "bytes", "--linear", "1KiB"],
    );
    let h = &j["groups"][0]["histogram"];
    assert_eq!(h["scale"], json!({"linear": 1024}));
    assert_eq!(buckets(h), [(0, 1024, 8), (4096, 5120, 1)]);
    let text = hist_text(
        &c,
        &["--event", "write", "--arg", "bytes", "--linear", "1024"],
    );
    assert_eq!(
        bars(&text),
        [
            ("[0B, 1KiB)".to_owned(), 8),
            ("[1KiB, 2KiB)".to_owned(), 0),
            ("[2KiB, 3KiB)".to_owned(), 0),
            ("[3KiB, 4KiB)".to_owned(), 0),
            ("[4KiB, 5KiB)".to_owned(), 1),
        ]
    );

    // The non-empty buckets as a table, with percentages of 9.
    let text = hist_text(
        &c,
        &[
            "--event", "write", "--arg", "bytes", "--linear", "1KiB", "--table",
        ],
    );
    let rows: Vec<Vec<&str>> = text
        .lines()
        .filter(|l| l.starts_with("| ["))
        .map(|l| {
            l.split('|')
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .collect()
        })
        .collect();
    assert_eq!(
        rows,
        [
            ["[0B, 1KiB)", "8", "88.89", "88.89"],
            ["[4KiB, 5KiB)", "1", "11.11", "100.00"],
        ]
    );
}

#[test]
fn hist_signed_values_exact_text() {
    let c = craft("hist_signed", |w| {
        for (ts, d) in [(1, -5i64), (2, -1), (3, 0), (4, 3), (5, 3)] {
            w.event_by_name("delta", ts, 7, &[Arg::from(d)]).unwrap();
        }
    });
    // An int: a signed histogram, counted (the name says nothing of a unit).
    let text = hist_text(&c, &["--event", "delta", "--arg", "d"]);
    let row = |label: &str, count: u64, bar: usize| {
        format!(
            "{label:<8} {count:>6} |{}{}|\n",
            "@".repeat(bar),
            " ".repeat(52 - bar)
        )
    };
    let want = [
        "Values of delta d: 5 records\n\n".to_owned(),
        // Sum 0, so the mean is 0; p50 is the 3rd value, p90 the 5th.
        "count 5, min -5, mean 0, p50 0, p90 3, p99 3, p99.9 3, max 3\n".to_owned(),
        row("(-8, -4]", 1, 26),
        row("(-4, -2]", 0, 0),
        row("[-1]", 1, 26),
        row("[0]", 1, 26),
        row("[1]", 0, 0),
        row("[2, 4)", 2, 52),
    ]
    .concat();
    assert_eq!(text, want);
    let j = hist_json(&c, &["--event", "delta", "--arg", "d"]);
    assert_eq!(j["unit"], "count");
    assert_eq!(
        buckets(&j["groups"][0]["histogram"]),
        [(-7, -3, 1), (-1, 0, 1), (0, 1, 1), (2, 4, 2)]
    );
}

/// The latency story, in file order (`t` is the timestamp):
/// 1. pid 1 submit A t1000
/// 2. pid 1 submit B t1100
/// 3. pid 2 submit A t1200
/// 4. pid 2 complete A t1250: 50
/// 5. pid 1 complete A t1500: 500
/// 6. pid 1 submit C t2000
/// 7. pid 1 complete C t1990: -10
/// 8. pid 1 complete B t3000 ret -5: 1900
/// 9. pid 1 complete D t3100: no begin
/// 10. pid 1 submit E t4000: never ends
/// 11. pid 1 submit F t5000
/// 12. pid 1 dropped t5100: 7 events lost
/// 13. pid 1 complete F t5200: 200
fn latency_story() -> impl FnOnce(&mut TraceWriter<'_, Vec<u8>>) {
    |w| {
        const POOL: u64 = 0x99;
        let submit = |w: &mut TraceWriter<'_, Vec<u8>>, pid, req, ts| {
            w.event_by_name("submit", ts, pid, &[Arg::Ptr(POOL), Arg::Ptr(req)])
                .unwrap();
        };
        let complete = |w: &mut TraceWriter<'_, Vec<u8>>, pid, req, ts, ret: i32| {
            w.event_by_name(
                "complete",
                ts,
                pid,
                &[Arg::Ptr(POOL), Arg::Ptr(req), Arg::from(ret)],
            )
            .unwrap();
        };
        let (a, b, cc, d, e, f) = (0xa, 0xb, 0xc, 0xd, 0xe, 0xf);
        submit(w, 1, a, 1000);
        submit(w, 1, b, 1100);
        submit(w, 2, a, 1200);
        complete(w, 2, a, 1250, 0);
        complete(w, 1, a, 1500, 0);
        submit(w, 1, cc, 2000);
        complete(w, 1, cc, 1990, 0);
        complete(w, 1, b, 3000, -5);
        complete(w, 1, d, 3100, 0);
        submit(w, 1, e, 4000);
        submit(w, 1, f, 5000);
        w.dropped(5100, 1, 7).unwrap();
        complete(w, 1, f, 5200, 0);
    }
}

#[test]
fn hist_latency_by_hand() {
    let c = craft("hist_latency", latency_story());
    let j = hist_json(&c, &["--latency", "submit:req,complete:req"]);
    assert_eq!(j["measure"], "latency");
    assert_eq!(j["begin"], json!({"event": "submit", "key": "req"}));
    assert_eq!(j["end"], json!({"event": "complete", "key": "req"}));
    assert_eq!(j["pairing"], "fifo");
    assert_eq!(j["unit"], "ns");
    assert_eq!(
        (j["begins"].as_u64(), j["ends"].as_u64()),
        (Some(6), Some(6))
    );
    assert_eq!(
        j["unmatched"],
        json!({"begins": 1, "open_at_end": 1, "replaced": 0, "ends": 1})
    );
    assert_eq!(j["dropped"], json!({"records": 1, "events": 7}));
    assert_eq!(j["pairs_across_loss"], 1);
    // E is open from 4000 until the last begin or end record, F's end (5200).
    assert_eq!(
        j["oldest_open"],
        json!([{"pid": 1, "key": {"req": "0xe"}, "begin_ns": 4000, "open_ns": 1200}])
    );
    // Pairs: 50, 500, -10, 1900, 200; sorted -10 50 200 500 1900.
    let h = &j["groups"][0]["histogram"];
    assert_figures(h, 5, -10, 1900, 2640, [200.0, 1900.0, 1900.0, 1900.0]);
    assert_eq!(
        buckets(h),
        [
            (-15, -7, 1),
            (32, 64, 1),
            (128, 256, 1),
            (256, 512, 1),
            (1024, 2048, 1)
        ]
    );

    let text = hist_text(&c, &["--latency", "submit:req,complete"]);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[..4],
        [
            "Latency from submit to complete, paired by pid and req (first in, first out): 5 pairs",
            "6 begins, 6 ends; unmatched: 1 begin still open at the end, 1 end without a begin",
            "Events were lost: 1 dropped-events record, 7 events dropped; 1 pair spans a loss, and lost records can leave begins and ends unmatched",
            "",
        ]
    );
    assert_eq!(
        lines[4],
        "count 5, min -10ns, mean 528ns, p50 200ns, p90 1.9us, p99 1.9us, p99.9 1.9us, max 1.9us"
    );
    assert_eq!(bars(&text).first(), Some(&("(-16ns, -8ns]".to_owned(), 1)));
    assert_eq!(
        bars(&text).last(),
        Some(&("[1.02us, 2.05us)".to_owned(), 1))
    );
    assert!(text.ends_with(
        "Still open at the end (oldest first):\n  pid 1 req=0xe: began at 0.000004, open for 1.2us until the last begin or end record\n"
    ), "{text}");
}

#[test]
fn hist_latency_grouped_and_paired_otherwise() {
    let c = craft("hist_latency_grouped", latency_story());
    // By the end record's ret: 0 for 50, 500, -10, 200; -5 for 1900.
    let j = hist_json(&c, &["--latency", "submit:req,complete:req", "--by", "ret"]);
    let g = &j["groups"];
    assert_eq!(g[0]["key"], json!({"ret": 0}));
    assert_figures(
        &g[0]["histogram"],
        4,
        -10,
        500,
        740,
        [50.0, 500.0, 500.0, 500.0],
    );
    assert_eq!(g[1]["key"], json!({"ret": -5}));
    assert_figures(&g[1]["histogram"], 1, 1900, 1900, 1900, [1900.0; 4]);
    // By pid: pid 1 has four pairs, pid 2 the one of 50 ns.
    let j = hist_json(&c, &["--latency", "submit:req,complete:req", "--by", "pid"]);
    assert_eq!(j["groups"][0]["key"], json!({"pid": 1}));
    assert_figures(
        &j["groups"][0]["histogram"],
        4,
        -10,
        1900,
        2590,
        [200.0, 1900.0, 1900.0, 1900.0],
    );
    assert_eq!(j["groups"][1]["key"], json!({"pid": 2}));
    assert_eq!(j["groups"][1]["histogram"]["sum"], 50);
    // The pid filter: only pid 2's pair.
    let j = hist_json(&c, &["--latency", "submit:req,complete:req", "--pid", "2"]);
    assert_figures(&j["groups"][0]["histogram"], 1, 50, 50, 50, [50.0; 4]);
    assert_eq!(j["dropped"]["records"], 0);

    // Without a key, per pid. First in, first out, pid 1: A(1000) ends at
    // 1500 (500); C's end at 1990 takes B (890); B's end at 3000 takes C
    // (1000); D's end finds none; F's end takes E (1200); F stays open.
    let j = hist_json(&c, &["--latency", "submit,complete", "--by", "pid"]);
    assert_figures(
        &j["groups"][0]["histogram"],
        4,
        500,
        1200,
        3590,
        [890.0, 1200.0, 1200.0, 1200.0],
    );
    assert_eq!(
        j["oldest_open"],
        json!([{"pid": 1, "begin_ns": 5000, "open_ns": 200}])
    );
    // Last in, first out: 1500-1100 = 400, 1990-2000 = -10, 3000-1000 =
    // 2000, D none, 5200-5000 = 200; E stays open.
    let j = hist_json(
        &c,
        &[
            "--latency",
            "submit,complete",
            "--by",
            "pid",
            "--pairing",
            "lifo",
        ],
    );
    assert_eq!(j["pairing"], "lifo");
    assert_figures(
        &j["groups"][0]["histogram"],
        4,
        -10,
        2000,
        2590,
        [200.0, 2000.0, 2000.0, 2000.0],
    );
    assert_eq!(j["unmatched"]["ends"], 1);
    assert_eq!(j["oldest_open"][0]["begin_ns"], 4000);
    // Only F's pair has its begin before the loss and its end after.
    assert_eq!(j["pairs_across_loss"], 1);
}

#[test]
fn hist_latency_unique_keys() {
    // A reused key whose first end was lost: X at 0, X again at 100, one
    // end at 150.
    let c = craft("hist_unique", |w| {
        w.event_by_name("submit", 0, 1, &[Arg::Ptr(1), Arg::Ptr(0x58)])
            .unwrap();
        w.event_by_name("submit", 100, 1, &[Arg::Ptr(1), Arg::Ptr(0x58)])
            .unwrap();
        w.event_by_name(
            "complete",
            150,
            1,
            &[Arg::Ptr(1), Arg::Ptr(0x58), Arg::from(0)],
        )
        .unwrap();
    });
    let fifo = hist_json(&c, &["--latency", "submit:req,complete:req"]);
    assert_eq!(fifo["groups"][0]["histogram"]["sum"], 150);
    assert_eq!(
        fifo["unmatched"],
        json!({"begins": 1, "open_at_end": 1, "replaced": 0, "ends": 0})
    );
    let unique = hist_json(
        &c,
        &[
            "--latency",
            "submit:req,complete:req",
            "--pairing",
            "unique",
        ],
    );
    assert_eq!(unique["groups"][0]["histogram"]["sum"], 50);
    assert_eq!(
        unique["unmatched"],
        json!({"begins": 1, "open_at_end": 0, "replaced": 1, "ends": 0})
    );
    let text = hist_text(
        &c,
        &[
            "--latency",
            "submit:req,complete:req",
            "--pairing",
            "unique",
        ],
    );
    assert!(text.contains("\n2 begins, 1 end; "), "{text}");
    assert!(text.contains("unmatched: 0 begins still open at the end, 1 begin replaced by a later begin of its key, 0 ends without a begin"), "{text}");
}

/// Ticks: pid 1 at 100, 250, 200, then a loss, then 1000, 1100; pid 2 at
/// 300 and 700 (interleaved in that file order).
fn ticks() -> impl FnOnce(&mut TraceWriter<'_, Vec<u8>>) {
    |w| {
        for (ts, pid) in [(100, 1), (300, 2), (250, 1), (200, 1), (700, 2)] {
            w.event_by_name("tick", ts, pid, &[]).unwrap();
        }
        w.dropped(800, 1, 3).unwrap();
        for ts in [1000, 1100] {
            w.event_by_name("tick", ts, 1, &[]).unwrap();
        }
    }
}

#[test]
fn hist_intervals_by_hand() {
    let c = craft("hist_intervals", ticks());
    // pid 1: 150, -50, (the loss), 100; pid 2: 400.
    let j = hist_json(&c, &["--interval", "tick"]);
    assert_eq!(j["measure"], "interval");
    assert_eq!(j["unit"], "ns");
    assert_eq!(j["dropped"], json!({"records": 1, "events": 3}));
    assert_figures(
        &j["groups"][0]["histogram"],
        4,
        -50,
        400,
        600,
        [100.0, 400.0, 400.0, 400.0],
    );
    let j = hist_json(&c, &["--interval", "tick", "--by", "pid"]);
    assert_figures(
        &j["groups"][0]["histogram"],
        3,
        -50,
        150,
        200,
        [100.0, 150.0, 150.0, 150.0],
    );
    assert_figures(&j["groups"][1]["histogram"], 1, 400, 400, 400, [400.0; 4]);
    let text = hist_text(&c, &["--interval", "tick"]);
    assert!(text.starts_with(
        "Time between consecutive tick records of one pid: 4 intervals\n\
         Events were lost: 1 dropped-events record, 3 events dropped; no interval is measured across a loss of its pid\n"
    ), "{text}");
    // Linear 100 ns buckets: [-100, 0) 1, [100, 200) 2, [400, 500) 1.
    let j = hist_json(&c, &["--interval", "tick", "--linear", "100ns"]);
    assert_eq!(
        buckets(&j["groups"][0]["histogram"]),
        [(-100, 0, 1), (100, 200, 2), (400, 500, 1)]
    );

    // An --events filter keeps the dropped-events records (they say what
    // is missing) unless it names them.
    let j = hist_json(&c, &["--interval", "tick", "--events", "tick"]);
    assert_eq!(j["dropped"]["records"], 1);
    assert_eq!(j["groups"][0]["histogram"]["sum"], 600);
    // Excluded by name: the loss is not seen, pid 1's 200 -> 1000 counts.
    let j = hist_json(
        &c,
        &["--interval", "tick", "--events", "tick,-Dropped_Event"],
    );
    assert_eq!(j["dropped"]["records"], 0);
    assert_figures(
        &j["groups"][0]["histogram"],
        5,
        -50,
        800,
        1400,
        [150.0, 800.0, 800.0, 800.0],
    );
}

#[test]
fn hist_requests_checked_up_front() {
    let c = craft("hist_errors", ticks());
    let failed = |args: &[&str], want: i32| {
        let (status, out, err) = hist(&c, args);
        assert_eq!(status, want, "{args:?}: {out}{err}");
        assert!(out.is_empty());
        err
    };
    // Wrong whatever the files say: a usage error (status 2); a name the
    // trace-events file does not declare: status 1.
    let usage = |args: &[&str]| failed(args, 2);
    let error = |args: &[&str]| failed(args, 1);
    assert_eq!(
        usage(&["--begin", "write:bs"]),
        "simpletrace: --begin EVENT needs --end EVENT[:ARG], the event that ends each latency\n"
    );
    assert!(
        usage(&["--interval", "write", "--end", "write"])
            .contains("an event name after --end needs --begin EVENT")
    );
    assert_eq!(
        error(&["--event", "writ", "--arg", "bytes"]),
        "simpletrace: the trace-events file declares no event 'writ' (did you mean 'write'?)\n"
    );
    assert_eq!(
        error(&["--event", "write", "--arg", "size"]),
        "simpletrace: event 'write' has no argument 'size' (for the value); its numeric arguments: bs, offset, bytes\n"
    );
    assert_eq!(
        error(&["--event", "write", "--arg", "name"]),
        "simpletrace: argument 'name' of event 'write' is a string, and a value histogram needs a number; its numeric arguments: bs, offset, bytes\n"
    );
    assert!(usage(&["--latency", "tick,tick"]).contains("same event 'tick'"));
    assert!(error(&["--latency", "submit:req,write:name"]).contains("can never be equal"));
    assert_eq!(
        usage(&["--interval", "tick", "--events", "submit"]),
        "simpletrace: the --events filter leaves out tick, which this histogram reads\n"
    );
    assert!(
        error(&["--interval", "tick", "--svg", c.trace.to_str().unwrap()])
            .contains("refusing to write over an input")
    );
    // Usage errors are clap's (status 2).
    for args in [
        &["--event", "write"][..],
        &["--interval", "tick", "--pairing", "lifo"],
        &["--latency", "submit"],
        &["--interval", "tick", "--linear", "0"],
        &[],
    ] {
        let (status, _, err) = hist(&c, args);
        assert_eq!(status, 2, "{args:?}: {err}");
    }
}

#[test]
fn hist_svg_plot() {
    let c = craft("hist_svg", writes());
    let svg = c.trace.with_file_name("plot.svg");
    let text = hist_text(
        &c,
        &[
            "--event",
            "write",
            "--arg",
            "bytes",
            "--by",
            "pid",
            "--svg",
            svg.to_str().unwrap(),
        ],
    );
    assert!(text.starts_with("Values of write bytes, by pid"));
    let plot = std::fs::read_to_string(&svg).unwrap();
    let doc = roxmltree::Document::parse(&plot).unwrap();
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    // One panel per group, with a bar per bucket from the lowest to the
    // highest: pid 1 [0] .. [4KiB, 8KiB) is 14 bars, pid 2 one.
    let panels: Vec<_> = root.children().filter(|n| n.has_tag_name("g")).collect();
    assert_eq!(panels.len(), 2);
    let bars = |g: &roxmltree::Node| -> Vec<String> {
        g.children()
            .filter(|n| n.has_tag_name("rect"))
            .filter_map(|r| r.first_element_child()?.text().map(str::to_owned))
            .collect()
    };
    let first = bars(&panels[0]);
    assert_eq!(first.len(), 14);
    assert_eq!(first[0], "[0B]: 1");
    assert_eq!(first[10], "[512B, 1KiB): 3");
    assert_eq!(bars(&panels[1]), ["[64B, 128B): 2"]);
    let texts: Vec<&str> = panels[0].children().filter_map(|n| n.text()).collect();
    assert!(texts.contains(&"pid=1"), "{texts:?}");
    assert!(
        texts.iter().any(|t| t.starts_with("count 7, min 0B")),
        "{texts:?}"
    );
}

/// The plot says what the text says of lost events and of the groups
/// `--top` leaves out, in the same words (the plot once said neither).
#[test]
fn hist_svg_plot_warns_of_losses_and_groups_left_out() {
    let c = craft("hist_svg_notes", |w| {
        writes()(w);
        w.dropped(200, 1, 4).unwrap();
    });
    let svg = c.trace.with_file_name("plot.svg");
    let args = [
        "--event", "write", "--arg", "bytes", "--by", "pid", "--top", "1",
    ];
    let text = hist_text(&c, &[&args[..], &["--svg", svg.to_str().unwrap()]].concat());
    let lost =
        "Events were lost: 1 dropped-events record, 4 events dropped; their values are missing";
    let more = "(1 more group with 2 samples not shown)";
    assert!(text.contains(&format!("\n{lost}\n")), "{text}");
    assert!(text.contains(&format!("\n{more}\n")), "{text}");
    let plot = std::fs::read_to_string(&svg).unwrap();
    let doc = roxmltree::Document::parse(&plot).unwrap();
    let root = doc.root_element();
    let texts: Vec<&str> = root
        .children()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .collect();
    assert_eq!(
        texts,
        [
            "Values of write bytes, by pid: 9 records in 2 groups",
            lost,
            more
        ]
    );
    assert_eq!(root.children().filter(|n| n.has_tag_name("g")).count(), 1);
    // The text is what it is without --svg.
    assert_eq!(hist_text(&c, &args), text);
}

#[test]
fn hist_parallel_runs_equal_sequential_ones() {
    // Enough records for many 4 KiB chunks: three pids, timestamps that
    // step back now and then, string groups, and losses.
    let c = craft("hist_parallel", |w| {
        let mut ts = 1_000_000u64;
        for i in 0..6000u64 {
            let pid = (i % 3) as u32 + 1;
            ts += (i * 7919) % 1000;
            let stamp = if i % 17 == 0 { ts - 5000 } else { ts };
            if i % 997 == 0 {
                w.dropped(stamp, pid, i).unwrap();
            }
            if i % 2 == 0 {
                w.event_by_name("tick", stamp, pid, &[]).unwrap();
            } else {
                let name = ["x", "y", "zz"][(i % 5 % 3) as usize];
                w.event_by_name(
                    "write",
                    stamp,
                    pid,
                    &[
                        Arg::Ptr(1),
                        Arg::from(0i64),
                        Arg::from(i * 37 % 5000),
                        Arg::from(name),
                    ],
                )
                .unwrap();
            }
        }
    });
    assert!(std::fs::metadata(&c.trace).unwrap().len() > 20 * 4096);
    for args in [
        &["--interval", "tick", "--by", "pid"][..],
        &["--interval", "write", "--by", "name"],
        &["--event", "write", "--arg", "bytes", "--by", "name,pid"],
    ] {
        let with = |extra: &[&str]| {
            let mut all = args.to_vec();
            all.extend_from_slice(extra);
            hist_json(&c, &all)
        };
        let sequential = with(&["-j", "1"]);
        assert!(sequential["samples"].as_u64().unwrap() > 2000);
        assert_eq!(
            with(&["-j", "2", "--chunk-size", "4096"]),
            sequential,
            "{args:?}"
        );
    }
    // And both equal a plain loop over the records.
    let events = TraceEvents::parse("te", EVENTS).unwrap();
    let data = std::fs::read(&c.trace).unwrap();
    let mut last: HashMap<u32, u64> = HashMap::new();
    let mut intervals: Vec<i64> = Vec::new();
    for r in TraceReader::new(&data, &events).unwrap() {
        let r = r.unwrap();
        if r.is_dropped() {
            last.remove(&r.pid);
        } else if r.name() == "tick"
            && let Some(prev) = last.insert(r.pid, r.timestamp_ns)
        {
            intervals.push(r.timestamp_ns.wrapping_sub(prev) as i64);
        }
    }
    let j = hist_json(
        &c,
        &["--interval", "tick", "-j", "2", "--chunk-size", "4096"],
    );
    let h = &j["groups"][0]["histogram"];
    assert_eq!(h["count"], intervals.len());
    assert_eq!(h["sum"], intervals.iter().sum::<i64>());
    assert_eq!(h["min"], *intervals.iter().min().unwrap());
    assert!(
        *intervals.iter().min().unwrap() < 0,
        "some intervals step back"
    );
    assert_eq!(j["dropped"]["records"], 7);
}

/// Pairs begins and ends first in, first out per (pid, key): the
/// latencies, the ends without a begin, and the begins left open.
fn fifo_pairs(
    data: &[u8],
    events: &TraceEvents,
    begin: &str,
    end: &str,
    key: &str,
) -> (Vec<i64>, u64, u64) {
    let mut open: HashMap<(u32, u64), VecDeque<u64>> = HashMap::new();
    let mut latencies = Vec::new();
    let mut unmatched_ends = 0;
    for r in TraceReader::new(data, events).unwrap() {
        let r = r.unwrap();
        let name = r.name();
        if name != begin && name != end {
            continue;
        }
        let ev = Event::decode(r).unwrap();
        let k = (r.pid, ev.u64(key).unwrap());
        if name == begin {
            open.entry(k).or_default().push_back(r.timestamp_ns);
        } else {
            match open.get_mut(&k).and_then(VecDeque::pop_front) {
                Some(ts) => latencies.push(r.timestamp_ns.wrapping_sub(ts) as i64),
                None => unmatched_ends += 1,
            }
        }
    }
    let still_open = open.values().map(|q| q.len() as u64).sum();
    (latencies, unmatched_ends, still_open)
}

/// The nearest-rank percentiles of `values`.
fn nearest_ranks(values: &mut [i64]) -> [f64; 4] {
    values.sort_unstable();
    [0.5, 0.9, 0.99, 0.999].map(|q| {
        let rank = ((q * values.len() as f64).ceil() as usize).max(1);
        values[rank - 1] as f64
    })
}

fn corpus_run(corpus: &Path, trace: &str, args: &[&str]) -> Value {
    let c = Crafted {
        events: corpus.join("trace-events-all"),
        trace: corpus.join(trace),
    };
    hist_json(&c, args)
}

#[test]
fn hist_corpus_latencies_match_an_independent_pairing() {
    let Some(corpus) = support::corpus() else {
        return;
    };
    let events = simpletrace::input::read_trace_events(corpus.join("trace-events-all")).unwrap();
    let data = std::fs::read(corpus.join("medium-rand.bin")).unwrap();
    for (begin, end, key, by) in [
        (
            "thread_pool_submit_aio",
            "thread_pool_complete_aio",
            "req",
            None,
        ),
        (
            "qemu_mutex_lock",
            "qemu_mutex_unlock",
            "mutex",
            Some("mutex"),
        ),
        ("qemu_mutex_locked", "qemu_mutex_unlock", "mutex", None),
    ] {
        let (mut want, unmatched_ends, open) = fifo_pairs(&data, &events, begin, end, key);
        assert!(want.len() > 5000, "{begin}: {}", want.len());
        let spec = format!("{begin}:{key},{end}");
        let mut args = vec!["--latency", spec.as_str()];
        if let Some(by) = by {
            args.extend(["--by", by]);
        }
        let j = corpus_run(&corpus, "medium-rand.bin", &args);
        // The spelling, --begin and --end, is the same request.
        let begin_key = format!("{begin}:{key}");
        let mut spelled = vec!["--begin", begin_key.as_str(), "--end", end];
        if let Some(by) = by {
            spelled.extend(["--by", by]);
        }
        assert_eq!(
            corpus_run(&corpus, "medium-rand.bin", &spelled),
            j,
            "{spec}"
        );
        assert_eq!(j["samples"], want.len(), "{spec}");
        assert_eq!(j["unmatched"]["ends"], unmatched_ends, "{spec}");
        assert_eq!(j["unmatched"]["open_at_end"], open, "{spec}");
        assert_eq!(j["dropped"]["records"], 0);
        let groups = j["groups"].as_array().unwrap();
        if by.is_none() {
            let h = &groups[0]["histogram"];
            let sum: i64 = want.iter().sum();
            let ps = nearest_ranks(&mut want);
            assert_figures(
                h,
                want.len() as u64,
                want[0],
                *want.last().unwrap(),
                sum,
                ps,
            );
        } else {
            // Groups in decreasing size, adding up to every pair.
            let counts: Vec<u64> = groups
                .iter()
                .map(|g| g["histogram"]["count"].as_u64().unwrap())
                .collect();
            assert!(counts.windows(2).all(|w| w[0] >= w[1]), "{counts:?}");
            assert_eq!(counts.iter().sum::<u64>(), want.len() as u64);
            assert!(
                groups[0]["key"]["mutex"]
                    .as_str()
                    .unwrap()
                    .starts_with("0x")
            );
        }
    }
}

/// Parses simpletrace.py's lines: (name, pid, time since the first record
/// in ns, arguments).
fn golden_records(text: &str) -> Vec<(String, u32, i64, BTreeMap<String, String>)> {
    let mut t = 0i64;
    text.lines()
        .map(|line| {
            let mut words = line.split(' ');
            let name = words.next().unwrap().to_owned();
            // Microseconds with three decimals: exact nanoseconds.
            let delta = words.next().unwrap().replace('.', "");
            t += delta.parse::<i64>().unwrap();
            let pid = words
                .next()
                .unwrap()
                .strip_prefix("pid=")
                .unwrap()
                .parse()
                .unwrap();
            let args = words
                .filter_map(|w| w.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
            (name, pid, t, args)
        })
        .collect()
}

#[test]
fn hist_corpus_values_and_intervals_match_the_golden_text() {
    let Some(corpus) = support::corpus() else {
        return;
    };
    let golden = std::fs::read_to_string(corpus.join("medium-io.simpletrace.txt")).unwrap();
    let records = golden_records(&golden);
    // bytes of every bdrv_co_pwritev_part, from the printed hex.
    let mut bytes: Vec<i64> = records
        .iter()
        .filter(|r| r.0 == "bdrv_co_pwritev_part")
        .map(|r| i64::from_str_radix(r.3["bytes"].trim_start_matches("0x"), 16).unwrap())
        .collect();
    assert!(bytes.len() >= 10);
    let j = corpus_run(
        &corpus,
        "medium-io.bin",
        &["--event", "bdrv_co_pwritev_part", "--arg", "bytes"],
    );
    assert_eq!(j["unit"], "bytes");
    let sum = bytes.iter().sum();
    let ps = nearest_ranks(&mut bytes);
    assert_figures(
        &j["groups"][0]["histogram"],
        bytes.len() as u64,
        bytes[0],
        *bytes.last().unwrap(),
        sum,
        ps,
    );
    let mut per_bucket: BTreeMap<i64, u64> = BTreeMap::new();
    for b in &bytes {
        let low = if *b == 0 {
            0
        } else {
            1 << (63 - b.leading_zeros())
        };
        *per_bucket.entry(low).or_default() += 1;
    }
    let got: Vec<(i64, u64)> = buckets(&j["groups"][0]["histogram"])
        .iter()
        .map(|b| (b.0, b.2))
        .collect();
    assert_eq!(got, per_bucket.into_iter().collect::<Vec<_>>());

    // Intervals between mutex unlocks per pid (the trace has pid 0 records
    // as well as the tool's own).
    let mut last: HashMap<u32, i64> = HashMap::new();
    let mut per_pid: BTreeMap<u32, Vec<i64>> = BTreeMap::new();
    for (name, pid, t, _) in &records {
        if name == "qemu_mutex_unlock"
            && let Some(prev) = last.insert(*pid, *t)
        {
            per_pid.entry(*pid).or_default().push(t - prev);
        }
    }
    let j = corpus_run(
        &corpus,
        "medium-io.bin",
        &["--interval", "qemu_mutex_unlock", "--by", "pid"],
    );
    let groups = j["groups"].as_array().unwrap();
    assert_eq!(groups.len(), per_pid.len());
    for g in groups {
        let pid = g["key"]["pid"].as_u64().unwrap() as u32;
        let want = &per_pid[&pid];
        let h = &g["histogram"];
        assert_eq!(h["count"], want.len(), "pid {pid}");
        assert_eq!(h["sum"], want.iter().sum::<i64>(), "pid {pid}");
        assert_eq!(h["min"], *want.iter().min().unwrap(), "pid {pid}");
        assert_eq!(h["max"], *want.iter().max().unwrap(), "pid {pid}");
    }
}

#[test]
fn hist_corpus_losses_are_reported() {
    let Some(corpus) = support::corpus() else {
        return;
    };
    let c = Crafted {
        events: corpus.join("trace-events-all"),
        trace: corpus.join("dropped.bin"),
    };
    let text = hist_text(
        &c,
        &[
            "--latency",
            "thread_pool_submit_aio:req,thread_pool_complete_aio",
            "--pairing",
            "unique",
        ],
    );
    // 46 dropped-events records (README of the corpus).
    assert!(
        text.contains("Events were lost: 46 dropped-events records, "),
        "{text}"
    );
    let j = hist_json(
        &c,
        &[
            "--latency",
            "thread_pool_submit_aio:req,thread_pool_complete_aio",
            "--pairing",
            "unique",
        ],
    );
    let begins = j["begins"].as_u64().unwrap();
    let pairs = j["samples"].as_u64().unwrap();
    let u = &j["unmatched"];
    assert_eq!(
        begins,
        pairs + u["open_at_end"].as_u64().unwrap() + u["replaced"].as_u64().unwrap()
    );
    assert_eq!(
        j["ends"].as_u64().unwrap(),
        pairs + u["ends"].as_u64().unwrap()
    );
    assert!(u["replaced"].as_u64().unwrap() > 0);
}
