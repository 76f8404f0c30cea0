//! `simpletrace alloc`: the malloc/free correlator, run as a command on
//! crafted traces whose every figure is worked out by hand in the comments,
//! and on QEMU's corpus against an independent count.

use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::{Value, json};
use simpletrace::format::TraceEvents;
use simpletrace::format::writer::{Arg, TraceWriter, WriterOptions};

use crate::support;

/// QEMU's allocator events as QEMU 10 declares them, GLib's as QEMU 1.x
/// did, an allocator of our own and a filler event. Ten declarations: the
/// trace's first event record is record 10 (after `map_all`).
const DECLS: &str = "\
qemu_memalign(size_t alignment, size_t size, void *ptr) \"alignment %zu size %zu ptr %p\"
qemu_vfree(void *ptr) \"ptr %p\"
qemu_anon_ram_alloc(size_t size, void *ptr) \"size %zu ptr %p\"
qemu_anon_ram_free(void *ptr, size_t size) \"ptr %p size %zu\"
g_malloc(size_t size, void *ptr) \"size %zu ptr %p\"
g_realloc(void *ptr, size_t size, void *newptr) \"ptr %p size %zu newptr %p\"
g_free(void *ptr) \"ptr %p\"
pool_get(const char *name, void *obj, uint32_t len) \"name %s obj %p len %u\"
pool_put(void *obj) \"obj %p\"
other(int x) \"x %d\"
";

/// Writes a trace, counting records so that tests can name them.
struct Trace<'e> {
    w: TraceWriter<'e, Vec<u8>>,
    next: u64,
}

impl<'e> Trace<'e> {
    fn new(events: &'e TraceEvents) -> Self {
        let mut w = TraceWriter::with_events(Vec::new(), WriterOptions::default(), events).unwrap();
        w.map_all().unwrap();
        Trace {
            w,
            next: events.len() as u64,
        }
    }

    /// Writes an event; returns its record index.
    fn ev(&mut self, name: &str, ts: u64, pid: u32, args: &[Arg<'_>]) -> u64 {
        self.w.event_by_name(name, ts, pid, args).unwrap();
        self.next += 1;
        self.next - 1
    }

    fn memalign(&mut self, ts: u64, pid: u32, size: u64, ptr: u64) -> u64 {
        self.ev(
            "qemu_memalign",
            ts,
            pid,
            &[Arg::from(4096u64), Arg::from(size), Arg::Ptr(ptr)],
        )
    }

    fn vfree(&mut self, ts: u64, pid: u32, ptr: u64) -> u64 {
        self.ev("qemu_vfree", ts, pid, &[Arg::Ptr(ptr)])
    }

    fn g_malloc(&mut self, ts: u64, size: u64, ptr: u64) -> u64 {
        self.ev("g_malloc", ts, 9, &[Arg::from(size), Arg::Ptr(ptr)])
    }

    fn g_realloc(&mut self, ts: u64, old: u64, size: u64, new: u64) -> u64 {
        self.ev(
            "g_realloc",
            ts,
            9,
            &[Arg::Ptr(old), Arg::from(size), Arg::Ptr(new)],
        )
    }

    fn g_free(&mut self, ts: u64, ptr: u64) -> u64 {
        self.ev("g_free", ts, 9, &[Arg::Ptr(ptr)])
    }

    /// `n` filler records of 40 bytes each.
    fn pad(&mut self, n: u64, ts: u64) {
        for _ in 0..n {
            self.ev("other", ts, 1, &[Arg::from(0)]);
        }
    }

    fn dropped(&mut self, ts: u64, pid: u32, count: u64) -> u64 {
        self.w.dropped(ts, pid, count).unwrap();
        self.next += 1;
        self.next - 1
    }

    fn finish(self) -> Vec<u8> {
        self.w.finish().unwrap()
    }
}

fn events(decls: &str) -> TraceEvents {
    TraceEvents::parse("te", decls.as_bytes()).unwrap()
}

/// Writes `decls` and `trace` to a scratch directory; returns their paths.
fn files(test: &str, decls: &str, trace: &[u8]) -> (PathBuf, PathBuf) {
    let dir = support::scratch(test);
    let te = dir.join("trace-events-all");
    let tr = dir.join("trace");
    std::fs::write(&te, decls).unwrap();
    std::fs::write(&tr, trace).unwrap();
    (te, tr)
}

/// Runs `simpletrace alloc ARGS TE TRACE`.
fn alloc(args: &[&str], te: &Path, trace: &Path) -> Output {
    let mut all: Vec<&OsStr> = vec![OsStr::new("alloc")];
    all.extend(args.iter().map(OsStr::new));
    all.push(te.as_os_str());
    all.push(trace.as_os_str());
    support::run(all)
}

/// Runs `alloc --json ARGS`, which must succeed, and parses its output.
fn alloc_json(args: &[&str], te: &Path, trace: &Path) -> Value {
    let mut with_json = vec!["--json"];
    with_json.extend(args);
    let out = alloc(&with_json, te, trace);
    assert!(out.status.success(), "{}", support::stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Runs `alloc ARGS` for its text, which must succeed.
fn alloc_text(args: &[&str], te: &Path, trace: &Path) -> String {
    let out = alloc(args, te, trace);
    assert!(out.status.success(), "{}", support::stderr(&out));
    String::from_utf8(out.stdout).unwrap()
}

/// The lines of `text` with runs of blanks squeezed: table rows compare
/// without their alignment.
fn squeezed(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

#[track_caller]
fn assert_row(text: &str, row: &str) {
    assert!(
        squeezed(text).iter().any(|l| l == row),
        "no line '{row}' in:\n{text}"
    );
}

/// Only the fields of `v` that `want` names, for comparing part of an
/// object.
fn pick(v: &Value, want: &Value) -> Value {
    match want {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, w)| (k.clone(), pick(&v[k.as_str()], w)))
                .collect(),
        ),
        _ => v.clone(),
    }
}

/// One process's qemu_memalign/qemu_vfree story, timestamps out of order.
fn story(events: &TraceEvents) -> (Vec<u8>, Vec<u64>) {
    let mut t = Trace::new(events);
    let r = vec![
        t.memalign(1_000, 7, 4096, 0xa000),  // r0: A
        t.memalign(2_000, 7, 100, 0xb000),   // r1: B
        t.vfree(2_500, 7, 0),                // r2: free(NULL)
        t.vfree(1_800, 7, 0xa000),           // r3: A freed; the clock stepped back: lived 800
        t.memalign(3_000, 7, 65536, 0xc000), // r4: C, leaks
        t.vfree(3_100, 7, 0xa000),           // r5: double free of A (first free r3)
        t.vfree(3_200, 7, 0xd000),           // r6: unknown
        t.memalign(3_300, 7, 100, 0xe000),   // r7: E
        t.vfree(2_900, 7, 0xb000),           // r8: B freed; lived 900
        t.memalign(4_000, 7, 4096, 0xa000),  // r9: A again (no longer freed), leaks
        t.vfree(4_100, 7, 0),                // r10: free(NULL)
        t.memalign(4_200, 7, 0, 0),          // r11: NULL for 0 bytes
        t.memalign(4_300, 7, 1 << 20, 0),    // r12: NULL: failed
        t.memalign(4_400, 7, 100, 0xe000),   // r13: E allocated twice (since r7), leaks
        t.vfree(4_500, 7, 0xd000),           // r14: double free of D (first "free" r6)
    ];
    (t.finish(), r)
}

#[test]
fn leaks_double_null_and_unknown_frees_by_hand() {
    let ev = events(DECLS);
    let (trace, r) = story(&ev);
    assert_eq!(r[0], 10, "record numbering");
    let (te, tr) = files("alloc_story", DECLS, &trace);
    let j = alloc_json(&["--top", "all"], &te, &tr);

    // Live at the end: C (65536, r4), A (4096, r9), E (100, r13).
    // Allocations r0 r1 r4 r7 r9 r13: 4096+100+65536+100+4096+100 = 74028.
    // Frees of non-NULL pointers r3 r5 r6 r8 r14; freed: A 4096 + B 100.
    // Live bytes after each change: 4096 4196 100 65636 65736 65636 69732
    // 69732 (r13 swaps E for E): the peak is first reached at r9.
    let totals = json!({
        "allocations": 6, "allocated_bytes": 74028, "reallocs": 0,
        "frees": 5, "freed_bytes": 4196, "null_frees": 2,
        "failed_allocations": 1, "zero_size_null_allocations": 1,
        "leaked_blocks": 3, "leaked_bytes": 69732,
        "unknown_frees": 1, "double_frees": 2, "allocated_twice": 1,
        "size_mismatches": 0, "mismatched_frees": 0,
        "live_bytes_at_end": 69732, "live_blocks_at_end": 3,
        "peak": {"bytes": 69732, "blocks": 3, "ts_ns": 4000, "pid": 7, "record": r[9]},
    });
    assert_eq!(pick(&j["totals"], &totals), totals);
    let pids = j["pids"].as_array().unwrap();
    assert_eq!(pids.len(), 1);
    assert_eq!(pids[0]["pid"], 7);
    assert_eq!(pick(&pids[0], &totals), totals);
    let ends: Vec<u64> = j["totals"]["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["end_bytes"].as_u64().unwrap())
        .collect();
    assert_eq!(ends, [4096, 4196, 100, 65636, 65736, 65636, 69732, 69732]);
    assert_eq!(j["events"], 15);
    assert_eq!(
        (j["first_ts_ns"].clone(), j["last_ts_ns"].clone()),
        (json!(1000), json!(4500))
    );

    // Biggest first; age up to the last timestamp (4500).
    assert_eq!(
        j["leaks"],
        json!({
            "blocks": 3, "bytes": 69732, "near_lost_events": 0, "sizes": 3,
            "by_size": [
                {"size": 65536, "blocks": 1, "bytes": 65536, "events": ["qemu_memalign"], "near_lost_events": 0},
                {"size": 4096, "blocks": 1, "bytes": 4096, "events": ["qemu_memalign"], "near_lost_events": 0},
                {"size": 100, "blocks": 1, "bytes": 100, "events": ["qemu_memalign"], "near_lost_events": 0},
            ],
            "biggest": [
                {"ptr": "0xc000", "pid": 7, "size": 65536, "ts_ns": 3000, "record": r[4], "event": "qemu_memalign",
                 "age_at_end_ns": 1500, "reallocs": 0, "last_realloc": null, "near_lost_events": false},
                {"ptr": "0xa000", "pid": 7, "size": 4096, "ts_ns": 4000, "record": r[9], "event": "qemu_memalign",
                 "age_at_end_ns": 500, "reallocs": 0, "last_realloc": null, "near_lost_events": false},
                {"ptr": "0xe000", "pid": 7, "size": 100, "ts_ns": 4400, "record": r[13], "event": "qemu_memalign",
                 "age_at_end_ns": 100, "reallocs": 0, "last_realloc": null, "near_lost_events": false},
            ],
        })
    );
    let site = |k: usize, ts: u64, event: &str| json!({"ts_ns": ts, "pid": 7, "record": r[k], "event": event});
    let with = |base: Value, extra: Value| {
        let mut m = base.as_object().unwrap().clone();
        m.extend(extra.as_object().unwrap().clone());
        Value::Object(m)
    };
    assert_eq!(
        j["unknown_frees"],
        json!({"count": 1, "near_lost_events": 0, "first": [
            with(site(6, 3200, "qemu_vfree"), json!({"ptr": "0xd000", "near_lost_events": false})),
        ]})
    );
    assert_eq!(
        j["double_frees"],
        json!({"count": 2, "near_lost_events": 0, "first": [
            with(site(5, 3100, "qemu_vfree"), json!({"ptr": "0xa000", "near_lost_events": false,
                "first_free": site(3, 1800, "qemu_vfree")})),
            with(site(14, 4500, "qemu_vfree"), json!({"ptr": "0xd000", "near_lost_events": false,
                "first_free": site(6, 3200, "qemu_vfree")})),
        ]})
    );
    assert_eq!(
        j["allocated_twice"],
        json!({"count": 1, "near_lost_events": 0, "first": [
            with(site(13, 4400, "qemu_memalign"), json!({"ptr": "0xe000", "near_lost_events": false,
                "earlier_allocation": site(7, 3300, "qemu_memalign"), "earlier_size": 100, "size": 100})),
        ]})
    );
    assert_eq!(j["size_mismatches"]["count"], 0);
    assert_eq!(j["mismatched_frees"]["count"], 0);
    assert_eq!(j["lost_events"]["dropped_records"], 0);
    assert_eq!(
        j["free_history"],
        json!({"capacity": 1 << 18, "forgotten": 0})
    );
    // Lifetimes: A 1800-1000, B 2900-2000.
    let life = &j["lifetime_ns"];
    assert_eq!(
        (&life["count"], &life["min"], &life["max"], &life["sum"]),
        (&json!(2), &json!(800), &json!(900), &json!(1700))
    );
    let sizes = &j["size_bytes"];
    assert_eq!(
        (&sizes["count"], &sizes["min"], &sizes["max"], &sizes["sum"]),
        (&json!(6), &json!(100), &json!(65536), &json!(74028))
    );
    let rules: Vec<(&str, &str)> = j["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["event"].as_str().unwrap(), r["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(
        rules,
        [
            ("qemu_memalign", "alloc"),
            ("qemu_vfree", "free"),
            ("qemu_anon_ram_alloc", "alloc"),
            ("qemu_anon_ram_free", "free"),
            ("g_malloc", "alloc"),
            ("g_realloc", "realloc"),
            ("g_free", "free"),
        ]
    );
    assert_eq!(j["warnings"], json!([]));

    let text = alloc_text(&[], &te, &tr);
    // 74028 B = 72.3 KiB; 69732 B = 68.1 KiB; times are seconds.micros.
    assert!(
        text.starts_with(
            "alloc: 6 allocations (72.3KiB), 0 reallocs, 7 frees (2 of NULL), pid 7, 0.000001 to 0.000004\n"
        ),
        "{text}"
    );
    assert_row(
        &text,
        "pid allocs allocated reallocs frees free(NULL) leaks leaked unknown frees double frees peak live peak at",
    );
    assert_row(&text, "7 6 72.3KiB 0 5 2 3 68.1KiB 1 2 68.1KiB 0.000004");
    assert!(
        text.contains("\nLeaks: 3 blocks never freed, 68.1KiB\n"),
        "{text}"
    );
    assert_row(&text, "65536 (64KiB) 1 64KiB qemu_memalign");
    assert_row(&text, "100 1 100B qemu_memalign");
    assert_row(&text, "0xc000 65536 (64KiB) 7 0.000003 qemu_memalign 1.5us");
    assert_row(&text, "0.000003 7 0xd000 qemu_vfree");
    assert_row(&text, "0.000003 7 0xa000 qemu_vfree 0.000001 qemu_vfree");
    assert_row(
        &text,
        "0.000004 7 0xe000 qemu_memalign 0.000003 qemu_memalign 100",
    );
    assert!(
        text.contains("\nAllocations that returned NULL: 1 failed, 1 of 0 bytes"),
        "{text}"
    );
    assert!(
        text.contains(
            "\nLive memory: peak 68.1KiB (69732 bytes in 3 blocks) at 0.000004 (pid 7, record 19); 68.1KiB in 3 blocks at the end.\n"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "count 2, min 800ns, mean 850ns, p50 800ns, p90 900ns, p99 900ns, p99.9 900ns, max 900ns\n"
        ),
        "{text}"
    );
    assert!(!text.contains("WARNING"), "{text}");
}

#[test]
fn realloc_chains_by_hand() {
    let ev = events(DECLS);
    let mut t = Trace::new(&ev);
    let r = [
        t.g_malloc(100, 16, 0x100),          // r0: block X at 0x100
        t.g_realloc(200, 0x100, 32, 0x200),  // r1: X moves to 0x200
        t.g_realloc(300, 0x200, 64, 0x200),  // r2: X grows in place
        t.g_realloc(400, 0, 8, 0x300),       // r3: realloc(NULL, 8): block Y
        t.g_realloc(500, 0x300, 0, 0),       // r4: realloc(Y, 0) -> NULL: Y freed, lived 100
        t.g_realloc(600, 0x200, 128, 0),     // r5: fails: X stays, 64 bytes
        t.g_free(700, 0x100),                // r6: double free: 0x100 was released by r1
        t.g_realloc(800, 0x400, 48, 0x500),  // r7: unknown 0x400; block Z at 0x500
        t.g_malloc(900, 0, 0),               // r8: g_malloc(0) -> NULL
        t.g_realloc(1000, 0, 0, 0),          // r9: realloc(NULL, 0) -> NULL
        t.g_free(1100, 0),                   // r10: free(NULL)
        t.g_realloc(1200, 0x500, 96, 0x600), // r11: Z moves to 0x600
        t.g_free(1300, 0x600),               // r12: Z freed: lived 1300 - 800
    ];
    let (te, tr) = files("alloc_realloc", DECLS, &t.finish());
    let j = alloc_json(&[], &te, &tr);
    // Live bytes: 16 32 64 72 64 112 160 64; the peak at r11.
    let totals = json!({
        "allocations": 2, "allocated_bytes": 24, "reallocs": 4,
        "frees": 3, "freed_bytes": 104, "null_frees": 1,
        "failed_allocations": 1, "zero_size_null_allocations": 2,
        "leaked_blocks": 1, "leaked_bytes": 64,
        "unknown_frees": 1, "double_frees": 1, "allocated_twice": 0,
        "live_bytes_at_end": 64, "live_blocks_at_end": 1,
        "peak": {"bytes": 160, "blocks": 2, "ts_ns": 1200, "pid": 9, "record": r[11]},
    });
    assert_eq!(pick(&j["totals"], &totals), totals);
    let ends: Vec<u64> = j["totals"]["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["end_bytes"].as_u64().unwrap())
        .collect();
    assert_eq!(ends, [16, 32, 64, 72, 64, 112, 160, 64]);
    // X leaks as the block g_malloc made at 100 ns, reallocated twice.
    assert_eq!(
        j["leaks"]["biggest"],
        json!([{
            "ptr": "0x200", "pid": 9, "size": 64, "ts_ns": 100, "record": r[0], "event": "g_malloc",
            "age_at_end_ns": 1200, "reallocs": 2,
            "last_realloc": {"ts_ns": 300, "pid": 9, "record": r[2], "event": "g_realloc"},
            "near_lost_events": false,
        }])
    );
    assert_eq!(j["unknown_frees"]["first"][0]["record"], r[7]);
    assert_eq!(j["unknown_frees"]["first"][0]["event"], "g_realloc");
    assert_eq!(j["double_frees"]["first"][0]["record"], r[6]);
    assert_eq!(j["double_frees"]["first"][0]["first_free"]["record"], r[1]);
    assert_eq!(j["lifetime_ns"]["count"], 2);
    assert_eq!(j["lifetime_ns"]["min"], 100);
    assert_eq!(j["lifetime_ns"]["max"], 500);
    // Requested: 16, 32, 64, 8, 48, 96 (NULL results and the failed call
    // request nothing that lived).
    assert_eq!(j["size_bytes"]["count"], 6);
    assert_eq!(j["size_bytes"]["sum"], 264);
    let text = alloc_text(&[], &te, &tr);
    assert_row(
        &text,
        "0x200 64 9 0.000000 g_malloc 1.2us 2 reallocs to it, the last at 0.000000 by g_realloc",
    );
}

#[test]
fn pids_are_separate_address_spaces() {
    let ev = events(DECLS);
    let mut t = Trace::new(&ev);
    let r = [
        t.memalign(10, 1, 10, 0xa0), // pid 1: leaks
        t.memalign(20, 2, 20, 0xa0), // pid 2, same address: not allocated twice
        t.vfree(30, 2, 0xa0),        // pid 2's block: lived 10
        t.vfree(40, 1, 0xb0),        // unknown in pid 1
        t.vfree(50, 2, 0xa0),        // double free in pid 2
    ];
    let (te, tr) = files("alloc_pids", DECLS, &t.finish());
    let j = alloc_json(&[], &te, &tr);
    let want = json!([
        {"pid": 1, "allocations": 1, "frees": 1, "unknown_frees": 1, "double_frees": 0,
         "leaked_blocks": 1, "leaked_bytes": 10, "live_bytes_at_end": 10,
         "peak": {"bytes": 10, "blocks": 1, "ts_ns": 10, "pid": 1, "record": r[0]}},
        {"pid": 2, "allocations": 1, "frees": 2, "unknown_frees": 0, "double_frees": 1,
         "leaked_blocks": 0, "leaked_bytes": 0, "live_bytes_at_end": 0,
         "peak": {"bytes": 20, "blocks": 1, "ts_ns": 20, "pid": 2, "record": r[1]}},
    ]);
    let pids = j["pids"].as_array().unwrap();
    assert_eq!(pids.len(), 2);
    for (got, want) in pids.iter().zip(want.as_array().unwrap()) {
        assert_eq!(pick(got, want), *want);
    }
    // Together: 10, then 30 at r1, 10, 10.
    assert_eq!(
        j["totals"]["peak"],
        json!({"bytes": 30, "blocks": 2, "ts_ns": 20, "pid": 2, "record": r[1]})
    );
    assert_eq!(j["totals"]["allocated_twice"], 0);
    let text = alloc_text(&[], &te, &tr);
    assert!(text.contains(", pids 1, 2, "), "{text}");
    assert_row(&text, "1 1 10B 0 1 0 1 10B 1 0 10B 0.000000");
    assert_row(&text, "2 1 20B 0 2 0 0 0B 0 1 20B 0.000000");
    assert_row(&text, "all 2 30B 0 3 0 1 10B 1 1 30B 0.000000");

    // The filters apply: one pid, or no frees at all.
    let only2 = alloc_json(&["--pid", "2"], &te, &tr);
    assert_eq!(only2["pids"].as_array().unwrap().len(), 1);
    assert_eq!(only2["totals"]["double_frees"], 1);
    assert_eq!(only2["leaks"]["blocks"], 0);
    let no_frees = alloc_json(&["--events", "-qemu_vfree"], &te, &tr);
    assert_eq!(no_frees["leaks"]["blocks"], 2);
    assert_eq!(no_frees["totals"]["frees"], 0);
    // From 25 ns on, pid 2's allocation is not seen: its free is unknown,
    // and the next one a double free.
    let late = alloc_json(&["--start", "25"], &te, &tr);
    assert_eq!(
        (
            late["totals"]["unknown_frees"].clone(),
            late["totals"]["double_frees"].clone(),
            late["totals"]["allocations"].clone()
        ),
        (json!(2), json!(1), json!(0))
    );
}

#[test]
fn lost_events_are_placed_near_dropped_records() {
    // Filler records are 40 bytes: 14,000 of them are 560,000 bytes, more
    // than the 512 KiB on either side of a dropped-events record where its
    // loss is placed.
    const FAR: u64 = 14_000;
    let ev = events(DECLS);
    let mut t = Trace::new(&ev);
    let l1 = t.memalign(100, 5, 64, 0x10); // leak; a loss comes after: near
    let u1 = t.vfree(200, 5, 0x20); // unknown, far before the first loss: not near
    t.pad(FAR, 300);
    let d1 = t.dropped(400, 5, 7);
    t.pad(FAR, 500);
    t.memalign(600, 5, 64, 0x30); // leak; the second loss comes after: near
    let u2 = t.vfree(700, 5, 0x40); // unknown after a loss: near
    t.memalign(800, 5, 8, 0x50);
    t.pad(100, 850);
    let t1 = t.memalign(900, 5, 8, 0x50); // allocated twice, far from any loss; leaks: near
    t.pad(FAR, 1000);
    t.memalign(1100, 5, 8, 0x70);
    t.vfree(1200, 5, 0x70);
    let d2 = t.dropped(1300, 5, 3);
    let df = t.vfree(1400, 5, 0x70); // double free with a loss in between: near
    t.pad(FAR, 1500);
    let l3 = t.memalign(1600, 5, 32, 0x80); // leak far after the last loss: not near
    let (te, tr) = files("alloc_dropped", DECLS, &t.finish());
    let j = alloc_json(&["--top", "all"], &te, &tr);
    assert_eq!(
        j["lost_events"],
        json!({
            "dropped_records": 2, "events": 10, "last_ts_ns": 1300,
            "first": [
                {"ts_ns": 400, "pid": 5, "record": d1, "events": 7},
                {"ts_ns": 1300, "pid": 5, "record": d2, "events": 3},
            ],
        })
    );
    assert_eq!(j["leaks"]["blocks"], 4);
    assert_eq!(j["leaks"]["bytes"], 64 + 64 + 8 + 32);
    assert_eq!(j["leaks"]["near_lost_events"], 3);
    let near: HashMap<u64, bool> = j["leaks"]["biggest"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["record"].as_u64().unwrap(),
                l["near_lost_events"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!((near[&l1], near[&t1], near[&l3]), (true, true, false));
    let flags = |what: &str| -> Vec<(u64, bool)> {
        j[what]["first"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                (
                    i["record"].as_u64().unwrap(),
                    i["near_lost_events"].as_bool().unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(flags("unknown_frees"), [(u1, false), (u2, true)]);
    assert_eq!(j["unknown_frees"]["near_lost_events"], 1);
    assert_eq!(flags("allocated_twice"), [(t1, false)]);
    assert_eq!(flags("double_frees"), [(df, true)]);

    // The lost events in the one wording of every report (it was
    // "WARNING: EVENTS WERE LOST: 2 dropped-events records report 10 lost
    // events, from ... to ...."), then what they may have made of the
    // findings.
    let text = alloc_text(&[], &te, &tr);
    assert!(
        text.contains(
            "\nEvents were lost: 2 dropped-events records, 10 events dropped; findings near a loss may be its artefacts\n\
             Dropped-events records from 0.000000 to 0.000001. Near a loss: 3 of 4 leaked blocks (a loss after the allocation),\n\
             1 of 2 unknown frees (a loss before the free), 1 of 1 double free and 0 of 1 block allocated\n"
        ),
        "{text}"
    );
    assert_row(&text, &format!("0.000000 5 {d1} 7"));
    assert_row(&text, &format!("0.000001 5 {d2} 3"));
    // The warning comes before the findings.
    assert!(text.find("Events were lost").unwrap() < text.find("Leaks:").unwrap());
    // It does not depend on the lists.
    let text = alloc_text(&["--top", "0"], &te, &tr);
    assert!(
        text.contains("\nEvents were lost: 2 dropped-events records, 10 events dropped; "),
        "{text}"
    );
    assert!(
        text.contains("\n(2 more dropped-events records not shown; --top N to see more)\n"),
        "{text}"
    );
}

const ANON_DECLS: &str = "\
qemu_memalign(size_t alignment, size_t size, void *ptr) \"\"
qemu_vfree(void *ptr) \"\"
qemu_anon_ram_alloc(size_t size, void *ptr) \"\"
qemu_anon_ram_free(void *ptr, size_t size) \"\"
pool_get(const char *name, void *obj, uint32_t len) \"\"
pool_put(void *obj) \"\"
";

fn anon_trace(events: &TraceEvents) -> Vec<u8> {
    let mut t = Trace::new(events);
    let ram = |size: u64, ptr: u64| [Arg::from(size), Arg::Ptr(ptr)];
    let pool = |ptr: u64, len: u32| [Arg::from("p"), Arg::Ptr(ptr), Arg::from(len)];
    t.ev("qemu_anon_ram_alloc", 10, 3, &ram(4096, 0x1000));
    t.ev(
        "qemu_anon_ram_free",
        20,
        3,
        &[Arg::Ptr(0x1000), Arg::from(8192u64)],
    ); // other size
    t.ev("qemu_anon_ram_alloc", 30, 3, &ram(4096, 0x2000));
    t.ev("qemu_vfree", 40, 3, &[Arg::Ptr(0x2000)]); // another family's free
    t.ev("pool_get", 50, 3, &pool(0x3000, 24));
    t.ev("pool_put", 60, 3, &[Arg::Ptr(0x3000)]);
    t.ev("pool_get", 70, 3, &pool(0x4000, 40)); // leaks, with a pool rule
    t.finish()
}

#[test]
fn free_sizes_families_and_user_rules() {
    let ev = events(ANON_DECLS);
    let (te, tr) = files("alloc_anon", ANON_DECLS, &anon_trace(&ev));
    let builtin = alloc_json(&[], &te, &tr);
    let counts = |j: &Value| {
        let t = &j["totals"];
        [
            "allocations",
            "frees",
            "size_mismatches",
            "mismatched_frees",
            "leaked_blocks",
            "leaked_bytes",
        ]
        .map(|k| t[k].as_u64().unwrap())
    };
    assert_eq!(counts(&builtin), [2, 2, 1, 1, 0, 0]);
    let m = &builtin["size_mismatches"]["first"][0];
    assert_eq!(
        (&m["allocated_size"], &m["freed_size"]),
        (&json!(4096), &json!(8192))
    );
    assert_eq!(m["allocation"]["event"], "qemu_anon_ram_alloc");
    let f = &builtin["mismatched_frees"]["first"][0];
    assert_eq!(
        (&f["event"], &f["allocation"]["event"]),
        (&json!("qemu_vfree"), &json!("qemu_anon_ram_alloc"))
    );
    let text = alloc_text(&[], &te, &tr);
    assert_row(
        &text,
        "0.000000 3 0x1000 qemu_anon_ram_free 8192 (8KiB) 4096 (4KiB) 0.000000 qemu_anon_ram_alloc",
    );
    assert_row(
        &text,
        "0.000000 3 0x2000 qemu_vfree 0.000000 qemu_anon_ram_alloc",
    );

    // User rules add the pool; a user rule for qemu_vfree replaces the
    // built-in one (no family: no mismatch), and one for
    // qemu_anon_ram_free without its size checks no size.
    let user = alloc_json(
        &[
            "--alloc",
            "pool_get:ptr=obj,size=len",
            "--free",
            "pool_put:ptr=obj",
            "--free",
            "qemu_vfree:ptr=ptr",
            "--free",
            "qemu_anon_ram_free:ptr=ptr",
        ],
        &te,
        &tr,
    );
    assert_eq!(counts(&user), [4, 3, 0, 0, 1, 40]);
    let rules: Vec<(&str, bool)> = user["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["event"].as_str().unwrap(),
                r["builtin"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rules,
        [
            ("pool_get", false),
            ("pool_put", false),
            ("qemu_vfree", false),
            ("qemu_anon_ram_free", false),
            ("qemu_memalign", true),
            ("qemu_anon_ram_alloc", true),
        ]
    );
    // Only the user's rules.
    let only = alloc_json(
        &[
            "--no-builtin",
            "--alloc",
            "pool_get:ptr=obj,size=len",
            "--free",
            "pool_put:ptr=obj",
        ],
        &te,
        &tr,
    );
    assert_eq!(counts(&only), [2, 1, 0, 0, 1, 40]);
    assert_eq!(only["leaks"]["biggest"][0]["ptr"], "0x4000");
    // An allocation rule without a size: blocks without bytes.
    let no_size = alloc_json(&["--no-builtin", "--alloc", "pool_get:ptr=obj"], &te, &tr);
    assert_eq!(counts(&no_size), [2, 0, 0, 0, 2, 0]);
    assert_eq!(
        no_size["leaks"]["by_size"],
        json!([{"size": null, "blocks": 2, "bytes": 0,
        "events": ["pool_get"], "near_lost_events": 0}])
    );
}

#[test]
fn rule_errors_name_the_problem() {
    let ev = events(ANON_DECLS);
    let (te, tr) = files("alloc_rule_errors", ANON_DECLS, &anon_trace(&ev));
    let cases: [(&[&str], i32, &str); 9] = [
        (
            &["--alloc", "nosuch:ptr=p"],
            1,
            "simpletrace: --alloc nosuch: the trace-events file declares no event 'nosuch'\n",
        ),
        (
            &["--alloc", "pool_gets:ptr=obj"],
            1,
            "simpletrace: --alloc pool_gets: the trace-events file declares no event 'pool_gets' (did you mean 'pool_get'?)\n",
        ),
        (
            &["--free", "pool_put:ptr=p"],
            1,
            "simpletrace: --free pool_put: pool_put has no argument 'p' (it has obj)\n",
        ),
        (
            &["--alloc", "pool_get:ptr=name,size=len"],
            1,
            "simpletrace: --alloc pool_get: argument 'name' of pool_get is a 'const char *'; pointers and sizes must be integer or pointer arguments\n",
        ),
        (
            &["--alloc", "pool_get:ptr=obj", "--free", "pool_get:ptr=obj"],
            2,
            "simpletrace: two rules for pool_get: give one rule per event\n",
        ),
        (
            &["--no-builtin"],
            2,
            "simpletrace: --no-builtin leaves no rule: give --alloc, --free or --realloc rules\n",
        ),
        (&["--alloc", "pool_get:size=len"], 2, "'ptr=ARG' is missing"),
        (&["--realloc", "pool_get"], 2, "no ':' after the event name"),
        (
            &["--top", "lots"],
            2,
            "'lots' is not a number of entries (or 'all')",
        ),
    ];
    for (args, code, message) in cases {
        let out = alloc(args, &te, &tr);
        assert_eq!(out.status.code(), Some(code), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        let err = support::stderr(&out);
        if code == 1 {
            assert_eq!(err, message, "{args:?}");
        } else {
            assert!(err.contains(message), "{args:?}: {err}");
        }
    }
}

#[test]
fn builtin_rules_that_do_not_fit_warn() {
    // qemu_vfree declared with another argument name: the built-in free
    // rule is left out with a warning, so every block leaks.
    let decls =
        "qemu_memalign(size_t alignment, size_t size, void *ptr) \"\"\nqemu_vfree(void *p) \"\"\n";
    let ev = events(decls);
    let mut t = Trace::new(&ev);
    t.memalign(10, 1, 32, 0xa0);
    t.vfree(20, 1, 0xa0);
    let (te, tr) = files("alloc_builtin_warn", decls, &t.finish());
    let out = alloc(&["--json"], &te, &tr);
    assert!(out.status.success());
    let warning = "built-in alloc rule for qemu_vfree not used: the trace-events file's qemu_vfree has \
                   no argument 'ptr' (it has p); give it as --free 'EVENT:ptr=ARG[,size=ARG]' with the \
                   right argument names";
    assert_eq!(
        support::stderr(&out),
        format!("simpletrace: warning: {warning}\n")
    );
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["warnings"], json!([warning]));
    assert_eq!(j["leaks"]["blocks"], 1);
    // Given with the right name, it works.
    let fixed = alloc_json(&["--free", "qemu_vfree:ptr=p"], &te, &tr);
    assert_eq!(fixed["leaks"]["blocks"], 0);
    assert_eq!(fixed["warnings"], json!([]));
}

#[test]
fn no_rule_applies() {
    let decls = "other(int x) \"\"\n";
    let ev = events(decls);
    let mut t = Trace::new(&ev);
    t.pad(3, 10);
    let (te, tr) = files("alloc_no_rules", decls, &t.finish());
    let text = alloc_text(&[], &te, &tr);
    assert_eq!(
        text,
        "alloc: 0 allocations (0B), 0 reallocs, 0 frees (0 of NULL)\n\
         \nNo allocator rule applies: the trace-events file declares none of qemu_memalign, qemu_vmalloc, \
         qemu_vfree, qemu_anon_ram_alloc, qemu_anon_ram_free, g_malloc, g_realloc, g_free.\n\
         Give rules with --alloc EVENT:ptr=ARG,size=ARG, --free EVENT:ptr=ARG, --realloc EVENT:old=ARG,new=ARG,size=ARG.\n"
    );
    let j = alloc_json(&[], &te, &tr);
    assert_eq!(
        (j["rules"].clone(), j["events"].clone()),
        (json!([]), json!(0))
    );
}

#[test]
fn rules_but_no_records() {
    let ev = events(DECLS);
    let mut t = Trace::new(&ev);
    t.pad(3, 10);
    let (te, tr) = files("alloc_no_records", DECLS, &t.finish());
    let text = alloc_text(&[], &te, &tr);
    assert!(
        text.ends_with("\nNo records of these events in the trace (or none passed the filters).\n"),
        "{text}"
    );
    assert!(!text.contains("Leaks"), "{text}");
    let j = alloc_json(&[], &te, &tr);
    assert_eq!(
        (j["events"].clone(), j["pids"].clone()),
        (json!(0), json!([]))
    );
    assert_eq!(j["totals"]["peak"], Value::Null);
}

#[test]
fn top_limits_the_lists_not_the_counts() {
    let ev = events(DECLS);
    let (trace, _) = story(&ev);
    let (te, tr) = files("alloc_top", DECLS, &trace);
    let one = alloc_json(&["--top", "1"], &te, &tr);
    assert_eq!(one["leaks"]["blocks"], 3);
    assert_eq!(one["leaks"]["biggest"].as_array().unwrap().len(), 1);
    assert_eq!(one["leaks"]["by_size"].as_array().unwrap().len(), 1);
    assert_eq!(one["double_frees"]["count"], 2);
    assert_eq!(one["double_frees"]["first"].as_array().unwrap().len(), 1);
    let text = alloc_text(&["--top", "1"], &te, &tr);
    assert!(
        text.contains("\n(2 more leaks not shown; --top N to see more)\n"),
        "{text}"
    );
    assert!(
        text.contains("\n(2 more sizes not shown; --top N to see more)\n"),
        "{text}"
    );
    assert!(
        text.contains("\n(1 more double free not shown; --top N to see more)\n"),
        "{text}"
    );
    let none = alloc_json(&["--top", "0"], &te, &tr);
    assert_eq!(none["leaks"]["biggest"], json!([]));
    assert_eq!(none["leaks"]["bytes"], 69732);
    // No list, no table headers: the counts and what is hidden.
    let text = alloc_text(&["--top", "0"], &te, &tr);
    assert!(
        !text.contains("Biggest leaks:") && !text.contains("By size:"),
        "{text}"
    );
    assert!(
        text.contains(
            "\nDouble frees: 2 (freed again without an allocation in between; the last 262144 \
             freed pointers are remembered).\n(2 more double frees not shown; --top N to see more)\n"
        ),
        "{text}"
    );
}

#[test]
fn free_history_bounds_double_free_detection() {
    let ev = events(DECLS);
    let mut t = Trace::new(&ev);
    for (i, p) in [0xa0u64, 0xb0, 0xc0].into_iter().enumerate() {
        t.memalign(i as u64, 1, 1, p);
    }
    for p in [0xa0u64, 0xb0, 0xc0, 0xa0, 0xc0] {
        t.vfree(10, 1, p);
    }
    let (te, tr) = files("alloc_history", DECLS, &t.finish());
    // Remembering 2 freed pointers: 0xa0 is forgotten when 0xc0 is freed,
    // so its second free is unknown (and remembered in turn, which forgets
    // 0xb0); 0xc0's second free is a double free.
    let j = alloc_json(&["--free-history", "2"], &te, &tr);
    assert_eq!(
        (
            j["totals"]["unknown_frees"].clone(),
            j["totals"]["double_frees"].clone(),
            j["free_history"].clone()
        ),
        (json!(1), json!(1), json!({"capacity": 2, "forgotten": 2}))
    );
    let text = alloc_text(&["--free-history", "2"], &te, &tr);
    assert!(
        text.contains("\nNote: 2 freed pointers were forgotten (--free-history 2)"),
        "{text}"
    );
    let all = alloc_json(&[], &te, &tr);
    assert_eq!(all["totals"]["double_frees"], 2);
}

/// What an independent, plain count of a trace's qemu_memalign and
/// qemu_vfree records says.
#[derive(Debug, Default, PartialEq, Eq)]
struct Expected {
    allocations: u64,
    allocated_bytes: u64,
    frees: u64,
    null_frees: u64,
    unknown_frees: u64,
    double_frees: u64,
    allocated_twice: u64,
    leaks: u64,
    leaked_bytes: u64,
    peak: u64,
    lifetimes: u64,
    lost: u64,
    leaked: Vec<(u32, u64)>,
}

/// Counts from `(name, pid, ts, size, ptr)` tuples, in file order.
fn expected(records: impl Iterator<Item = (String, u32, u64, u64)>) -> Expected {
    let mut e = Expected::default();
    let mut live: HashMap<(u32, u64), u64> = HashMap::new();
    let mut freed: HashSet<(u32, u64)> = HashSet::new();
    let mut bytes = 0u64;
    for (name, pid, size, ptr) in records {
        match name.as_str() {
            "qemu_memalign" => {
                e.allocations += 1;
                e.allocated_bytes += size;
                freed.remove(&(pid, ptr));
                if let Some(old) = live.insert((pid, ptr), size) {
                    e.allocated_twice += 1;
                    bytes -= old;
                }
                bytes += size;
                e.peak = e.peak.max(bytes);
            }
            "qemu_vfree" if ptr == 0 => e.null_frees += 1,
            "qemu_vfree" => {
                e.frees += 1;
                match live.remove(&(pid, ptr)) {
                    Some(size) => {
                        bytes -= size;
                        e.lifetimes += 1;
                    }
                    None if freed.contains(&(pid, ptr)) => e.double_frees += 1,
                    None => e.unknown_frees += 1,
                }
                freed.insert((pid, ptr));
            }
            "Dropped_Event" => e.lost += size,
            _ => {}
        }
    }
    e.leaks = live.len() as u64;
    e.leaked_bytes = live.values().sum();
    e.leaked = live.keys().copied().collect();
    e.leaked.sort_unstable();
    e
}

fn reported(j: &Value) -> Expected {
    let t = &j["totals"];
    let n = |v: &Value| v.as_u64().unwrap();
    let mut leaked: Vec<(u32, u64)> = j["leaks"]["biggest"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let ptr = l["ptr"].as_str().unwrap().trim_start_matches("0x");
            (n(&l["pid"]) as u32, u64::from_str_radix(ptr, 16).unwrap())
        })
        .collect();
    leaked.sort_unstable();
    Expected {
        allocations: n(&t["allocations"]),
        allocated_bytes: n(&t["allocated_bytes"]),
        frees: n(&t["frees"]),
        null_frees: n(&t["null_frees"]),
        unknown_frees: n(&t["unknown_frees"]),
        double_frees: n(&t["double_frees"]),
        allocated_twice: n(&t["allocated_twice"]),
        leaks: n(&t["leaked_blocks"]),
        leaked_bytes: n(&t["leaked_bytes"]),
        peak: t["peak"]["bytes"].as_u64().unwrap_or(0),
        lifetimes: n(&j["lifetime_ns"]["count"]),
        lost: n(&j["lost_events"]["events"]),
        leaked,
    }
}

#[test]
fn corpus_agrees_with_an_independent_count() {
    let Some(corpus) = support::corpus() else {
        return;
    };
    let te = corpus.join("trace-events-all");
    let events = simpletrace::input::read_trace_events(&te).unwrap();
    let mut memaligns = 0;
    for name in [
        "tiny.bin",
        "medium-io.bin",
        "medium-create.bin",
        "medium-convert.bin",
        "medium-rand.bin",
        "dropped.bin",
    ] {
        let path = corpus.join(name);
        let data = std::fs::read(&path).unwrap();
        let records = simpletrace::format::TraceReader::new(&data, &events)
            .unwrap()
            .map(|r| {
                let r = r.unwrap();
                let word = |arg: &str| {
                    r.arg_by_name(arg)
                        .and_then(Result::ok)
                        .and_then(|v| v.as_u64())
                        .unwrap_or(0)
                };
                let size = if r.is_dropped() {
                    word("num_events_dropped")
                } else {
                    word("size")
                };
                (r.name().to_owned(), r.pid, size, word("ptr"))
            });
        let want = expected(records);
        memaligns += want.allocations;
        let j = alloc_json(&["--top", "all", "-j", "1"], &te, &path);
        assert_eq!(reported(&j), want, "{name}");
        // A sequential analyzer sees the records in file order whatever
        // the threads and chunks of the run.
        let parallel = alloc_json(
            &["--top", "all", "-j", "4", "--chunk-size", "4096"],
            &te,
            &path,
        );
        assert_eq!(parallel, j, "{name}");
        let rules: Vec<&str> = j["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["event"].as_str().unwrap())
            .collect();
        assert_eq!(
            rules,
            [
                "qemu_memalign",
                "qemu_vfree",
                "qemu_anon_ram_alloc",
                "qemu_anon_ram_free"
            ]
        );
    }
    assert!(memaligns > 5000, "{memaligns}");
}

/// medium-io, from what QEMU's own simpletrace.py printed: every figure of
/// the report recomputed from the golden text.
#[test]
fn medium_io_against_the_golden_text() {
    let Some(corpus) = support::corpus() else {
        return;
    };
    let golden = String::from_utf8(support::read_golden(
        &corpus.join("medium-io.simpletrace.txt"),
    ))
    .unwrap();
    let arg = |line: &str, name: &str| -> u64 {
        let field = line
            .split(' ')
            .find_map(|f| f.strip_prefix(&format!("{name}=0x")))
            .unwrap();
        u64::from_str_radix(field, 16).unwrap()
    };
    let records = golden.lines().filter_map(|line| {
        let name = line.split(' ').next()?;
        if name != "qemu_memalign" && name != "qemu_vfree" {
            return None;
        }
        let pid: u32 = line.split(' ').nth(2)?.strip_prefix("pid=")?.parse().ok()?;
        let size = if name == "qemu_memalign" {
            arg(line, "size")
        } else {
            0
        };
        Some((name.to_owned(), pid, size, arg(line, "ptr")))
    });
    let want = expected(records);
    // What the trace holds: 6 allocations, all freed; 3 frees of NULL.
    assert_eq!(
        (want.allocations, want.frees, want.null_frees, want.leaks),
        (6, 6, 3, 0)
    );
    let te = corpus.join("trace-events-all");
    let j = alloc_json(&["--top", "all"], &te, &corpus.join("medium-io.bin"));
    assert_eq!(reported(&j), want);
    let text = alloc_text(&[], &te, &corpus.join("medium-io.bin"));
    assert!(
        text.contains("\nLeaks: none: every block allocated in the trace was freed.\n"),
        "{text}"
    );
}

/// Issue 13: `--top all` writes the leak list and the pid table out a row
/// at a time; every leak is there, biggest first, with the columns as wide
/// as the widest row, and `--top N` lists the first N of the same order.
#[test]
fn top_all_lists_every_leak_in_order() {
    let ev = events(DECLS);
    let mut t = Trace::new(&ev);
    // 3,000 leaks over 30 pids, sizes 1..=1000 three times over (equal
    // sizes go by allocation time), and one block freed.
    let mut want: Vec<(u64, u64, u32)> = Vec::new();
    for i in 0..3000u64 {
        let (size, ptr, pid) = (1 + i % 1000, 0x10_0000 + 64 * i, 100 + (i % 30) as u32);
        t.memalign(1000 * (i + 1), pid, size, ptr);
        want.push((size, ptr, pid));
    }
    t.memalign(4_000_000, 7, 5, 0x99);
    t.vfree(4_000_001, 7, 0x99);
    want.sort_by_key(|&(size, ptr, _)| (std::cmp::Reverse(size), ptr));
    let (te, tr) = files("alloc_top_all", DECLS, &t.finish());

    let j = alloc_json(&["--top", "all"], &te, &tr);
    let biggest: Vec<(u64, String, u64)> = j["leaks"]["biggest"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["size"].as_u64().unwrap(),
                l["ptr"].as_str().unwrap().to_owned(),
                l["pid"].as_u64().unwrap(),
            )
        })
        .collect();
    let expect: Vec<(u64, String, u64)> = want
        .iter()
        .map(|&(size, ptr, pid)| (size, format!("0x{ptr:x}"), u64::from(pid)))
        .collect();
    assert_eq!(biggest, expect);
    assert_eq!(j["leaks"]["sizes"], 1000);
    let by_size = j["leaks"]["by_size"].as_array().unwrap();
    assert_eq!(by_size.len(), 1000);
    assert_eq!(
        (&by_size[0]["size"], &by_size[0]["blocks"]),
        (&json!(1000), &json!(3))
    );
    assert_eq!(j["pids"].as_array().unwrap().len(), 31);
    let leaked: u64 = j["pids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["leaked_blocks"].as_u64().unwrap())
        .sum();
    assert_eq!(leaked, 3000);

    let text = alloc_text(&["--top", "all"], &te, &tr);
    let start = text.find("Biggest leaks:\n").unwrap();
    let rows: Vec<&str> = text[start..].lines().skip(2).take(3001).collect();
    // The rows end where the list does; all are as wide as the table.
    assert_eq!(rows[3000], "", "{}", rows[3000]);
    for (row, (size, ptr, pid)) in rows.iter().zip(&want) {
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(
            (cells[0], cells[1], cells[cells.len() - 4]),
            (
                format!("0x{ptr:x}").as_str(),
                size.to_string().as_str(),
                pid.to_string().as_str()
            ),
            "{row}"
        );
    }
    let header = text[start..].lines().nth(1).unwrap();
    assert!(rows[..3000].iter().all(|r| r.len() <= header.len() + 24));
    assert!(!text.contains("more leaks not shown"));
    // --top 10: the first ten rows of the same list.
    let ten = alloc_text(&["--top", "10"], &te, &tr);
    let start = ten.find("Biggest leaks:\n").unwrap();
    let first: Vec<Vec<&str>> = ten[start..]
        .lines()
        .skip(2)
        .take(10)
        .map(|r| r.split_whitespace().take(3).collect())
        .collect();
    let all: Vec<Vec<&str>> = rows[..10]
        .iter()
        .map(|r| r.split_whitespace().take(3).collect())
        .collect();
    assert_eq!(first, all);
    assert!(ten.contains("\n(2990 more leaks not shown; --top N to see more)\n"));
    assert!(ten.contains("\n(990 more sizes not shown; --top N to see more)\n"));
}

/// The rules are checked by the analyzer when a run starts, whoever runs
/// it: a library user's driver refuses a bad rule before any record with
/// the very message the command prints, and gets the built-in rules'
/// warnings the command prints (issue 14, item 6).
#[test]
fn rules_are_checked_at_run_start_for_library_users() {
    use simpletrace::analyzers::Driver;
    use simpletrace::analyzers::alloc::{
        AllocAnalyzer, AllocOptions, RuleError, RuleKind, RuleSpec,
    };
    use simpletrace::format::TraceReader;

    let ev = events(ANON_DECLS);
    let trace = anon_trace(&ev);
    let (te, tr) = files("alloc_rules_library", ANON_DECLS, &trace);
    let run = |rule: &str| {
        let mut driver = Driver::new();
        driver.add(AllocAnalyzer::new(AllocOptions {
            rules: vec![RuleSpec::parse(RuleKind::Alloc, rule).unwrap()],
            ..AllocOptions::default()
        }));
        let mut out = Vec::new();
        let reader = TraceReader::new(&trace, &ev).unwrap();
        let result = driver.run(reader, &mut out, Default::default());
        (result, out)
    };
    for rule in ["pool_gets:ptr=obj", "pool_get:ptr=name,size=len"] {
        let (result, out) = run(rule);
        let e = match result {
            Err(simpletrace::analyzers::RunError::Analyzer(e)) => e,
            other => panic!("{rule}: {other:?}"),
        };
        assert!(e.is_setup() && out.is_empty(), "{rule}");
        assert!(
            std::error::Error::source(&e)
                .and_then(|s| s.downcast_ref::<RuleError>())
                .is_some()
        );
        let cli = alloc(&["--alloc", rule], &te, &tr);
        assert_eq!(cli.status.code(), Some(1));
        assert_eq!(
            support::stderr(&cli),
            format!("simpletrace: {}\n", e.message)
        );
        assert_eq!(e.to_string(), format!("analyzer 'alloc': {}", e.message));
    }
    // qemu_vfree declared with its pointer called 'p': the built-in rule
    // is left out, with the warning the command prints.
    let decls =
        "qemu_memalign(size_t alignment, size_t size, void *ptr) \"\"\nqemu_vfree(void *p) \"\"\n";
    let ev = events(decls);
    let mut t = Trace::new(&ev);
    t.memalign(10, 1, 32, 0xa0);
    t.vfree(20, 1, 0xa0);
    let trace = t.finish();
    let (te, tr) = files("alloc_rules_library_warn", decls, &trace);
    let mut driver = Driver::new();
    driver.add(AllocAnalyzer::default());
    let reader = TraceReader::new(&trace, &ev).unwrap();
    let outcome = driver
        .run(reader, &mut std::io::sink(), Default::default())
        .unwrap();
    assert_eq!(outcome.warnings.len(), 1);
    assert_eq!(outcome.warnings[0].analyzer, "alloc");
    let cli = alloc(&[], &te, &tr);
    assert!(cli.status.success());
    assert_eq!(
        support::stderr(&cli),
        format!("simpletrace: warning: {}\n", outcome.warnings[0])
    );
}
