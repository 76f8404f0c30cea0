//! `stats`: every figure on a crafted trace against values worked out by
//! hand, the same figures sequentially and in parallel, and on the real
//! QEMU traces against counts taken from simpletrace.py's own output.

use std::collections::HashMap;
use std::path::Path;

use serde_json::{Value, json};
use simpletrace::format::{ArgValue, encode};

use crate::support::{self, samples::Rng};

const EVENTS: &str = "a(int x) \"x %d\"\nb(void)\nc(uint64_t n) \"n %\" PRIu64\n";

/// The crafted trace, and the byte offset of its record 8 (the largest
/// step back).
///
/// Records (index: what):
/// 0-2: mappings 0 = a, 1 = b, 2 = c
/// 3: a   ts 1000  pid 10
/// 4: b   ts 2000  pid 10
/// 5: a   ts 1500  pid 11   steps back 500
/// 6: dropped ts 3000 pid 10, 7 events lost
/// 7: c   ts 5000  pid 10
/// 8: a   ts 4000  pid 10   steps back 1000 (the largest)
/// 9: mapping 3 = c
/// 10: c (id 3) ts 11000 pid 11
fn crafted() -> (Vec<u8>, usize) {
    let mut t = Vec::new();
    encode::header(&mut t, 4);
    encode::mapping(&mut t, 0, b"a");
    encode::mapping(&mut t, 1, b"b");
    encode::mapping(&mut t, 2, b"c");
    encode::event(&mut t, 0, 1000, 10, &[ArgValue::Int(1)]);
    encode::event(&mut t, 1, 2000, 10, &[]);
    encode::event(&mut t, 0, 1500, 11, &[ArgValue::Int(2)]);
    encode::dropped(&mut t, 3000, 10, 7);
    encode::event(&mut t, 2, 5000, 10, &[ArgValue::Int(3)]);
    let largest_at = t.len();
    encode::event(&mut t, 0, 4000, 10, &[ArgValue::Int(4)]);
    encode::mapping(&mut t, 3, b"c");
    encode::event(&mut t, 3, 11000, 11, &[ArgValue::Int(5)]);
    (t, largest_at)
}

struct Files {
    _dir: std::path::PathBuf,
    events: std::path::PathBuf,
    trace: std::path::PathBuf,
}

fn write(test: &str, events: &str, trace: &[u8]) -> Files {
    let dir = support::scratch(test);
    let e = dir.join("trace-events");
    let t = dir.join("trace");
    std::fs::write(&e, events).unwrap();
    std::fs::write(&t, trace).unwrap();
    Files {
        _dir: dir,
        events: e,
        trace: t,
    }
}

fn stats(files: &Files, extra: &[&str]) -> (String, i32) {
    let mut args: Vec<&std::ffi::OsStr> = vec!["stats".as_ref()];
    args.extend(extra.iter().map(std::ffi::OsStr::new));
    args.push(files.events.as_os_str());
    args.push(files.trace.as_os_str());
    let out = support::run(&args);
    let err = support::stderr(&out);
    (
        String::from_utf8(out.stdout).unwrap() + &err,
        out.status.code().unwrap_or(-1),
    )
}

fn stats_json(files: &Files, extra: &[&str]) -> Value {
    let mut args = vec!["--json"];
    args.extend_from_slice(extra);
    let (out, code) = stats(files, &args);
    assert_eq!(code, 0, "{out}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

fn event<'v>(j: &'v Value, name: &str) -> &'v Value {
    j["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event"] == name)
        .unwrap_or_else(|| panic!("no {name} in {j}"))
}

#[test]
fn every_figure_by_hand() {
    let (trace, largest_at) = crafted();
    let files = write("stats_by_hand", EVENTS, &trace);
    let j = stats_json(&files, &[]);
    assert_eq!(j["records"], 7);
    assert_eq!(j["event_records_read"], 7);
    assert_eq!(j["mapping_records"], 4);
    assert_eq!(j["records_read"], 11);
    assert_eq!(j["dropped_records"], 1);
    assert_eq!(j["events_lost"], 7);
    assert_eq!(j["first_ns"], 1000);
    assert_eq!(j["last_ns"], 11000);
    assert_eq!(j["duration_ns"], 10000);
    assert_eq!(j["steps_back"], 2);
    assert_eq!(
        j["largest_step_back"],
        json!({"ns": 1000, "record": 8, "offset": largest_at, "event": "a"})
    );
    // Most records first; ties by name (byte order: upper case first).
    let order: Vec<&str> = j["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(order, ["a", "c", "Dropped_Event", "b"]);
    let a = event(&j, "a");
    assert_eq!(a["count"], 3);
    assert_eq!(a["share"], 3.0 / 7.0);
    assert_eq!(a["rate_per_s"], 300_000.0); // 3 in 10 us
    assert_eq!(
        (a["first_ns"].clone(), a["last_ns"].clone()),
        (json!(1000), json!(4000))
    );
    assert_eq!(
        a["pids"],
        json!([{"pid": 10, "count": 2}, {"pid": 11, "count": 1}])
    );
    let c = event(&j, "c");
    assert_eq!(
        (
            c["count"].clone(),
            c["first_ns"].clone(),
            c["last_ns"].clone()
        ),
        (json!(2), json!(5000), json!(11000))
    );
    assert_eq!(
        c["pids"],
        json!([{"pid": 10, "count": 1}, {"pid": 11, "count": 1}])
    );
    let d = event(&j, "Dropped_Event");
    assert_eq!(
        (d["count"].clone(), d["first_ns"].clone()),
        (json!(1), json!(3000))
    );
    assert_eq!(event(&j, "b")["pids"], json!([{"pid": 10, "count": 1}]));
    assert_eq!(
        j["pids"],
        json!([
            {"pid": 10, "count": 5, "share": 5.0 / 7.0, "events": 4, "first_ns": 1000, "last_ns": 5000},
            {"pid": 11, "count": 2, "share": 2.0 / 7.0, "events": 2, "first_ns": 1500, "last_ns": 11000},
        ])
    );

    // The same as text.
    let (text, code) = stats(&files, &[]);
    assert_eq!(code, 0);
    let lines: Vec<&str> = text.lines().collect();
    // The lost events in the one wording of every report's warning (it
    // was "..., 7 events LOST in 1 dropped-events record" on the first line).
    assert_eq!(
        lines[..4],
        [
            "7 records of 4 events, 4 mapping records",
            "Events were lost: 1 dropped-events record, 7 events dropped; every other figure undercounts",
            "0.000010 s, from 0.000001 s to 0.000011 s of the trace clock",
            &format!(
                "timestamps step back 2 times, at most 1us (record 8 at byte {largest_at}, a)"
            ),
        ]
    );
    let row = |name: &str| -> Vec<String> {
        lines
            .iter()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no row {name}: {text}"))
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(
        row("event"),
        [
            "event", "count", "share", "rate/s", "first", "s", "last", "s", "pids"
        ]
    );
    assert_eq!(
        row("a"),
        ["a", "3", "42.9%", "300000.0", "0.000000", "0.000003", "2"]
    );
    assert_eq!(
        row("c"),
        ["c", "2", "28.6%", "200000.0", "0.000004", "0.000010", "2"]
    );
    assert_eq!(
        row("b"),
        ["b", "1", "14.3%", "100000.0", "0.000001", "0.000001", "1"]
    );
    assert_eq!(
        row("pid"),
        ["pid", "count", "share", "events", "first", "s", "last", "s"]
    );
    assert_eq!(row("10"), ["10", "5", "71.4%", "4", "0.000000", "0.000004"]);
    assert_eq!(row("11"), ["11", "2", "28.6%", "2", "0.000000", "0.000010"]);
}

#[test]
fn sorting_top_by_pid_and_filters() {
    let (trace, _) = crafted();
    let files = write("stats_options", EVENTS, &trace);
    let names = |j: &Value| -> Vec<String> {
        j["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| match e.get("pid") {
                Some(pid) => format!("{}/{pid}", e["event"].as_str().unwrap()),
                None => e["event"].as_str().unwrap().to_owned(),
            })
            .collect()
    };
    let sorted = |how: &str| names(&stats_json(&files, &["--sort", how]));
    assert_eq!(sorted("name"), ["Dropped_Event", "a", "b", "c"]);
    assert_eq!(sorted("declared"), ["a", "b", "c", "Dropped_Event"]);
    assert_eq!(sorted("first"), ["a", "b", "Dropped_Event", "c"]);
    assert_eq!(sorted("last"), ["c", "a", "Dropped_Event", "b"]);
    assert_eq!(names(&stats_json(&files, &["--top", "2"])), ["a", "c"]);
    let (text, _) = stats(&files, &["--top", "2"]);
    assert!(text.contains("(2 more rows; --top shows more)"), "{text}");

    let by_pid = stats_json(&files, &["--by-pid", "--sort", "name"]);
    assert_eq!(
        names(&by_pid),
        ["Dropped_Event/10", "a/10", "a/11", "b/10", "c/10", "c/11"]
    );
    let a10 = &by_pid["events"][1];
    assert_eq!(
        (
            a10["count"].clone(),
            a10["first_ns"].clone(),
            a10["last_ns"].clone()
        ),
        (json!(2), json!(1000), json!(4000))
    );

    // Only pid 10: 1000, 2000, 3000, 5000, 4000: one step back.
    let j = stats_json(&files, &["--pid", "10"]);
    assert_eq!(j["records"], 5);
    assert_eq!(j["event_records_read"], 7);
    assert_eq!(j["mapping_records"], 4);
    assert_eq!(j["steps_back"], 1);
    assert_eq!(j["largest_step_back"]["ns"], 1000);
    assert_eq!(j["duration_ns"], 4000);
    assert_eq!(event(&j, "a")["share"], 2.0 / 5.0);
    let (text, _) = stats(&files, &["--pid", "10"]);
    assert!(
        text.contains("(the filters kept 5 of 7 event records)"),
        "{text}"
    );
    // Without dropped-events records nothing is lost.
    let j = stats_json(&files, &["--events", "-Dropped_Event"]);
    assert_eq!(
        (j["dropped_records"].clone(), j["events_lost"].clone()),
        (json!(0), json!(0))
    );
    let (text, _) = stats(&files, &["--events", "a"]);
    assert!(
        text.starts_with("3 records of 1 event, 4 mapping records, no events lost\n"),
        "{text}"
    );
}

/// A few thousand records over several pids with timestamps that jitter
/// back: the figures computed here, and the same from 1 and 3 threads
/// with small chunks.
#[test]
fn parallel_equals_sequential_equals_recount() {
    let mut rng = Rng::new(77);
    let mut t = Vec::new();
    encode::header(&mut t, 4);
    for (id, name) in [b"a".as_slice(), b"b", b"c"].iter().enumerate() {
        encode::mapping(&mut t, id as u64, name);
    }
    let mut counts: HashMap<(u64, u32), u64> = HashMap::new();
    let (mut steps, mut largest, mut prev, mut ts) = (0u64, 0u64, None::<u64>, 1_000_000u64);
    let mut lost = 0;
    for i in 0..6000u64 {
        ts += rng.below(5000);
        // Another thread's timestamp, taken a little earlier.
        let stamp = ts - rng.below(3000);
        let pid = 100 + rng.below(3) as u32;
        if i % 997 == 0 {
            let n = 1 + rng.below(50);
            encode::dropped(&mut t, stamp, pid, n);
            lost += n;
            *counts.entry((99, pid)).or_default() += 1;
        } else {
            let id = rng.below(3);
            let args = if id == 1 {
                vec![]
            } else {
                vec![ArgValue::Int(i)]
            };
            encode::event(&mut t, id, stamp, pid, &args);
            *counts.entry((id, pid)).or_default() += 1;
        }
        if let Some(p) = prev
            && stamp < p
        {
            steps += 1;
            largest = largest.max(p - stamp);
        }
        prev = Some(stamp);
    }
    let files = write("stats_parallel", EVENTS, &t);
    let one = stats_json(&files, &["-j", "1"]);
    let three = stats_json(&files, &["-j", "3", "--chunk-size", "4096"]);
    assert_eq!(one, three);
    assert_eq!(one["records"], 6000);
    assert_eq!(one["steps_back"], steps);
    assert!(steps > 100, "{steps}");
    assert_eq!(one["largest_step_back"]["ns"], largest);
    assert_eq!(one["events_lost"], lost);
    for (id, name) in [(0, "a"), (1, "b"), (2, "c"), (99, "Dropped_Event")] {
        let e = event(&one, name);
        let mut want: Vec<(u32, u64)> = counts
            .iter()
            .filter(|((i, _), _)| *i == id)
            .map(|((_, pid), &n)| (*pid, n))
            .collect();
        want.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let got: Vec<(u32, u64)> = e["pids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["pid"].as_u64().unwrap() as u32,
                    p["count"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(got, want, "{name}");
    }
    // The text too.
    let (a, _) = stats(&files, &["-j", "1", "--by-pid"]);
    let (b, _) = stats(&files, &["-j", "2", "--chunk-size", "4096", "--by-pid"]);
    assert_eq!(a, b);
}

/// The real traces: counts per event and pid, dropped-events records and
/// lost events, and the steps back, all taken from the lines QEMU's
/// simpletrace.py printed (its delta column is negative where a timestamp
/// steps back, and exact to the nanosecond).
#[test]
fn corpus_counts_match_simpletrace_py_output() {
    let Some(dir) = support::corpus() else { return };
    for name in [
        "tiny",
        "medium-io",
        "medium-create",
        "medium-convert",
        "strings",
        "dropped",
    ] {
        let golden_path = ["simpletrace.txt", "simpletrace.txt.gz"]
            .iter()
            .map(|ext| dir.join(format!("{name}.{ext}")))
            .find(|p| p.is_file())
            .unwrap();
        let golden = String::from_utf8(support::read_golden(&golden_path)).unwrap();
        let mut counts: HashMap<(String, u64), u64> = HashMap::new();
        let (mut steps, mut largest_ns, mut lost, mut records) = (0u64, 0u64, 0u64, 0u64);
        for line in golden.lines() {
            let mut fields = line.split(' ');
            let event = fields.next().unwrap().to_owned();
            let delta = fields.next().unwrap();
            let pid: u64 = fields
                .next()
                .unwrap()
                .strip_prefix("pid=")
                .unwrap()
                .parse()
                .unwrap();
            records += 1;
            if let Some(back) = delta.strip_prefix('-') {
                steps += 1;
                let ns: u64 = back.replace('.', "").parse().unwrap();
                largest_ns = largest_ns.max(ns);
            }
            if event == "Dropped_Event" {
                let hex = line.rsplit("num_events_dropped=0x").next().unwrap();
                lost += u64::from_str_radix(hex, 16).unwrap();
            }
            *counts.entry((event, pid)).or_default() += 1;
        }
        let files = Files {
            _dir: dir.clone(),
            events: dir.join("trace-events-all"),
            trace: dir.join(format!("{name}.bin")),
        };
        let j = stats_json(&files, &["--by-pid"]);
        assert_eq!(j["records"], records, "{name}");
        assert_eq!(j["steps_back"], steps, "{name}");
        if steps > 0 {
            assert_eq!(j["largest_step_back"]["ns"], largest_ns, "{name}");
        }
        assert_eq!(j["events_lost"], lost, "{name}");
        let got: HashMap<(String, u64), u64> = j["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    (
                        e["event"].as_str().unwrap().to_owned(),
                        e["pid"].as_u64().unwrap(),
                    ),
                    e["count"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(got, counts, "{name}");
        assert!(Path::new(&files.trace).is_file());
    }
}

#[test]
fn stats_run_as_a_plugin_name_too() {
    let (trace, _) = crafted();
    let files = write("stats_run", EVENTS, &trace);
    let out = support::run([
        "run".as_ref(),
        "--plugin".as_ref(),
        "stats".as_ref(),
        "--json".as_ref(),
        files.events.as_os_str(),
        files.trace.as_os_str(),
    ]);
    assert!(out.status.success(), "{}", support::stderr(&out));
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["stats"]["records"], 7);
    assert_eq!(j["stats"]["events_lost"], 7);
    // One analyzer or several: always keyed by name.
    assert_eq!(j.as_object().unwrap().len(), 1);
}

/// `run` writes several streamed reports as one JSON object keyed by
/// analyzer name (in serde_json's order of keys), or their texts under
/// headings: the same as each command alone.
#[test]
fn run_writes_streamed_reports_together() {
    let (trace, _) = crafted();
    let f = write("run_writes_streamed_reports_together", EVENTS, &trace);
    let command = |args: &[&str]| -> String {
        let mut all: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
        all.push(f.events.as_os_str());
        all.push(f.trace.as_os_str());
        let out = support::run(&all);
        assert_eq!(out.status.code(), Some(0), "{}", support::stderr(&out));
        String::from_utf8(out.stdout).unwrap()
    };
    let parse =
        |s: &str| -> Value { serde_json::from_str(s).unwrap_or_else(|e| panic!("{e}: {s}")) };
    let both = command(&["run", "--plugin", "stats", "--plugin", "locks", "--json"]);
    let whole = parse(&both);
    assert_eq!(
        whole,
        json!({
            "stats": parse(&command(&["stats", "--json"])),
            "locks": parse(&command(&["locks", "--json"])),
        })
    );
    assert_eq!(both, serde_json::to_string_pretty(&whole).unwrap() + "\n");
    let alone = command(&["run", "--plugin", "stats", "--json"]);
    assert_eq!(parse(&alone), json!({ "stats": whole["stats"] }));
    let text = command(&["run", "--plugin", "stats", "--plugin", "locks"]);
    assert_eq!(
        text,
        format!(
            "== stats ==\n{}\n== locks ==\n{}",
            command(&["stats"]),
            command(&["locks"])
        )
    );
}
