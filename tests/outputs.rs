//! Outputs and filters: JSON Lines and Chrome trace JSON (parsed with
//! serde_json and jq, every argument round-tripped), spans, the shared
//! filters, and `filter -o` (a subset trace prints like the filtered
//! original).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;
use simpletrace::analyzers::Event;
use simpletrace::format::writer::{Arg, TraceWriter, WriterOptions};
use simpletrace::format::{ArgKind, ArgValue, TraceEvents, TraceReader, Version};

use crate::support;

fn sample() -> [PathBuf; 2] {
    [
        support::testdata("sample.trace-events"),
        support::testdata("sample.trace"),
    ]
}

fn run_ok<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Vec<u8> {
    let out = support::run(args);
    assert!(
        out.status.success(),
        "{:?}: {}",
        args.iter()
            .map(|a| a.as_ref().to_string_lossy().into_owned())
            .collect::<Vec<_>>(),
        support::stderr(&out)
    );
    out.stdout
}

fn os(p: &Path) -> &std::ffi::OsStr {
    p.as_os_str()
}

/// Whether `jq` is there; says so loudly when it is not.
fn jq() -> bool {
    let ok = Command::new("jq")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "\n*** jq NOT FOUND: the jq half of the JSON checks was NOT run ***\n"
        );
    }
    ok
}

fn jq_accepts(json: &[u8], filter: &str) -> Vec<u8> {
    let mut child = Command::new("jq")
        .args(["-c", filter])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let data = json.to_vec();
    let t = std::thread::spawn(move || {
        use std::io::Write;
        let _ = stdin.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    t.join().unwrap();
    assert!(
        out.status.success(),
        "jq: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Checks every JSON line against the records the library decodes.
/// An integer as the exact-integer rule writes it: a number within
/// ±(2^53 - 1), a string of its digits beyond (and only beyond).
fn exact_int(v: &Value) -> Option<i128> {
    const MAX_EXACT: i128 = (1 << 53) - 1;
    match v {
        Value::Number(n) => {
            let i = n.as_i64().map(i128::from).or(n.as_u64().map(i128::from))?;
            assert!(i.abs() <= MAX_EXACT, "{v} is past 2^53 but not a string");
            Some(i)
        }
        Value::String(s) => {
            let i: i128 = s.parse().ok()?;
            assert!(i.abs() > MAX_EXACT, "{v} is a string but exact as a number");
            Some(i)
        }
        _ => None,
    }
}

fn check_json_lines(events_path: &Path, trace_path: &Path, lines: &[u8]) -> usize {
    let events = simpletrace::input::read_trace_events(events_path).unwrap();
    let data = std::fs::read(trace_path).unwrap();
    let mut prev_ts: Option<u64> = None;
    let mut n = 0;
    let mut lines_iter = lines.split(|&b| b == b'\n').filter(|l| !l.is_empty());
    for record in TraceReader::new(&data, &events).unwrap() {
        let record = record.unwrap();
        let ev = Event::decode(record).unwrap();
        let line = lines_iter.next().expect("a line per record");
        let v: Value = serde_json::from_slice(line).unwrap();
        assert_eq!(v["event"], ev.name());
        assert_eq!(exact_int(&v["id"]), Some(i128::from(ev.id().0)));
        assert_eq!(
            exact_int(&v["timestamp_ns"]),
            Some(i128::from(ev.timestamp_ns()))
        );
        assert_eq!(v["pid"].as_u64(), Some(u64::from(ev.pid())));
        let delta =
            i128::from(ev.timestamp_ns()) - i128::from(prev_ts.unwrap_or(ev.timestamp_ns()));
        assert_eq!(
            exact_int(&v["delta_ns"]),
            Some(delta),
            "{}",
            String::from_utf8_lossy(line)
        );
        prev_ts = Some(ev.timestamp_ns());
        let args = v["args"].as_object().unwrap();
        assert_eq!(args.len(), ev.arg_count());
        for (i, decl) in ev.decl().args.iter().enumerate() {
            let got = &args[&decl.name];
            match (ev.arg(i).unwrap(), decl.kind) {
                (ArgValue::Str(s), _) => {
                    let raw = v
                        .get("raw")
                        .and_then(|r| r.get(&decl.name))
                        .and_then(Value::as_str);
                    match raw {
                        Some(hex) => {
                            assert_eq!(unhex(hex), s);
                            assert!(std::str::from_utf8(s).is_err());
                            assert_eq!(got.as_str().unwrap(), String::from_utf8_lossy(s));
                        }
                        None => assert_eq!(got.as_str().unwrap().as_bytes(), s),
                    }
                }
                (ArgValue::Int(p), ArgKind::Pointer) => {
                    let t = got.as_str().unwrap();
                    assert_eq!(
                        u64::from_str_radix(t.trim_start_matches("0x"), 16).unwrap(),
                        p
                    );
                }
                (ArgValue::Int(b), ArgKind::Bool) => assert_eq!(got.as_bool(), Some(b != 0)),
                (ArgValue::Int(_), ArgKind::Int { signed: true, .. }) => {
                    assert_eq!(
                        exact_int(got),
                        ev.i64_at(i).map(i128::from),
                        "{}",
                        decl.name
                    )
                }
                (ArgValue::Int(u), _) => {
                    assert_eq!(exact_int(got), Some(i128::from(u)), "{}", decl.name)
                }
            }
        }
        n += 1;
    }
    assert!(lines_iter.next().is_none(), "more lines than records");
    n
}

#[test]
fn json_lines_round_trip_every_argument() {
    let [events, trace] = sample();
    let mut cases = vec![
        (events.clone(), trace),
        (events.clone(), support::testdata("strings.trace")),
    ];
    if let Some(dir) = support::corpus() {
        for t in ["strings", "medium-rand"] {
            cases.push((dir.join("trace-events-all"), dir.join(format!("{t}.bin"))));
        }
    }
    let with_jq = jq();
    for (events, trace) in cases {
        for threads in ["1", "3"] {
            let out = run_ok(&[
                os("json".as_ref()),
                os("-j".as_ref()),
                os(threads.as_ref()),
                os(&events),
                os(&trace),
            ]);
            let n = check_json_lines(&events, &trace, &out);
            assert!(n > 10);
            if with_jq && threads == "1" {
                let names = jq_accepts(&out, ".event");
                assert_eq!(
                    names
                        .split(|&b| b == b'\n')
                        .filter(|l| !l.is_empty())
                        .count(),
                    n
                );
            }
        }
    }
}

/// The trace-event format's required fields, on every event.
fn check_chrome(doc: &Value) -> (usize, usize) {
    let events = doc["traceEvents"].as_array().expect("a traceEvents array");
    let (mut instants, mut spans) = (0, 0);
    for e in events {
        assert!(e["name"].is_string(), "{e}");
        assert!(e["pid"].is_u64() && e["tid"].is_u64(), "{e}");
        match e["ph"].as_str() {
            Some("i") => {
                assert!(e["ts"].as_f64().is_some_and(|t| t >= 0.0), "{e}");
                assert!(matches!(e["s"].as_str(), Some("t" | "p" | "g")), "{e}");
                assert!(e["args"].is_object(), "{e}");
                instants += 1;
            }
            Some("b") => {
                assert!(e["ts"].as_f64().is_some_and(|t| t >= 0.0), "{e}");
                assert!(e["id"].is_string() && e["cat"] == "span", "{e}");
                spans += 1;
            }
            Some("e") => assert!(e["id"].is_string() && e["cat"] == "span", "{e}"),
            Some("M") => assert!(e["args"].is_object()),
            other => panic!("unexpected phase {other:?} in {e}"),
        }
    }
    (instants, spans)
}

#[test]
fn chrome_output_is_valid_trace_event_json() {
    let [events, trace] = sample();
    let mut cases = vec![(events, trace)];
    if let Some(dir) = support::corpus() {
        cases.push((dir.join("trace-events-all"), dir.join("dropped.bin")));
    }
    for (events, trace) in cases {
        let out = run_ok(&[
            os("json".as_ref()),
            os("--format".as_ref()),
            os("chrome".as_ref()),
            os(&events),
            os(&trace),
        ]);
        let doc: Value = serde_json::from_slice(&out).unwrap();
        let (instants, spans) = check_chrome(&doc);
        let ev = simpletrace::input::read_trace_events(&events).unwrap();
        let data = std::fs::read(&trace).unwrap();
        let records = TraceReader::new(&data, &ev).unwrap().count();
        assert_eq!((instants, spans), (records, 0));
        assert_eq!(doc["metadata"]["simpletrace"]["records"], records);
        if jq() {
            jq_accepts(&out, ".traceEvents | length");
        }
    }
}

const SPAN_EVENTS: &[u8] = b"\
req_submit(void *req, const char *what) \"req %p %s\"
req_done(void *req, int ret) \"req %p ret %d\"
tick(void) \"tick\"
";

#[test]
fn spans_have_the_right_durations() {
    let events = TraceEvents::parse("te", SPAN_EVENTS).unwrap();
    let mut w = TraceWriter::with_events(Vec::new(), WriterOptions::default(), &events).unwrap();
    let mut submit = |ts: u64, pid: u32, req: u64, what: &str| {
        w.event_by_name("req_submit", ts, pid, &[Arg::Ptr(req), Arg::from(what)])
            .unwrap();
    };
    submit(1_000, 1, 0xa, "first");
    submit(1_500, 1, 0xb, "second");
    submit(1_600, 2, 0xa, "other process");
    submit(1_700, 1, 0xa, "a again");
    let done = |w: &mut TraceWriter<'_, Vec<u8>>, ts: u64, pid: u32, req: u64| {
        w.event_by_name("req_done", ts, pid, &[Arg::Ptr(req), Arg::from(0)])
            .unwrap();
    };
    done(&mut w, 4_000, 1, 0xb); // second: 2.5 us
    done(&mut w, 5_000, 1, 0xa); // first (FIFO per key): 4 us
    done(&mut w, 5_250, 2, 0xa); // other process: 3.65 us
    done(&mut w, 6_000, 1, 0xc); // never submitted
    w.event_by_name("tick", 7_000, 1, &[]).unwrap();
    let trace = w.finish().unwrap();
    let dir = support::scratch("spans");
    std::fs::write(dir.join("te"), SPAN_EVENTS).unwrap();
    std::fs::write(dir.join("trace"), &trace).unwrap();
    let out = run_ok(&[
        os("json".as_ref()),
        os("--format".as_ref()),
        os("chrome".as_ref()),
        os("--span".as_ref()),
        os("req_submit:req,req_done:req".as_ref()),
        os(&dir.join("te")),
        os(&dir.join("trace")),
    ]);
    let doc: Value = serde_json::from_slice(&out).unwrap();
    let (instants, spans) = check_chrome(&doc);
    assert_eq!(
        (instants, spans),
        (3, 3),
        "unmatched end, tick, unmatched begin; three spans"
    );
    // Each span: a begin and an end of its own id, in file order here.
    let events = doc["traceEvents"].as_array().unwrap();
    let by_what: HashMap<String, (f64, f64, u64)> = events
        .iter()
        .filter(|e| e["ph"] == "b")
        .map(|b| {
            let end = events
                .iter()
                .find(|e| e["ph"] == "e" && e["id"] == b["id"])
                .unwrap();
            assert_eq!((&end["name"], &end["pid"]), (&b["name"], &b["pid"]));
            assert_eq!(end["args"]["end"]["ret"], 0);
            let ts = b["ts"].as_f64().unwrap();
            (
                b["args"]["begin"]["what"].as_str().unwrap().to_owned(),
                (
                    ts,
                    // Microseconds with three decimals: round off the
                    // subtraction's binary noise.
                    ((end["ts"].as_f64().unwrap() - ts) * 1000.0).round() / 1000.0,
                    b["pid"].as_u64().unwrap(),
                ),
            )
        })
        .collect();
    assert_eq!(by_what["second"], (1.5, 2.5, 1));
    assert_eq!(by_what["first"], (1.0, 4.0, 1));
    assert_eq!(by_what["other process"], (1.6, 3.65, 2));
    let cats: Vec<&str> = doc["traceEvents"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["cat"].as_str())
        .collect();
    assert!(cats.contains(&"unmatched-span-end") && cats.contains(&"unmatched-span-begin"));
    let meta = &doc["metadata"]["simpletrace"];
    assert_eq!(meta["spans"], 3);
    assert_eq!(meta["unmatched_span_begins"], 1);
    // Misused spans are clear errors.
    for (spec, needle) in [
        (
            "req_submit:nope,req_done:req",
            "event 'req_submit' has no argument 'nope'",
        ),
        ("nope,req_done", "no event called 'nope' is declared"),
        ("bad spec", "is not a span"),
    ] {
        let o = support::run([
            os("json".as_ref()),
            os("--format".as_ref()),
            os("chrome".as_ref()),
            os("--span".as_ref()),
            os(spec.as_ref()),
            os(&dir.join("te")),
            os(&dir.join("trace")),
        ]);
        assert_ne!(o.status.code(), Some(0));
        assert!(
            support::stderr(&o).contains(needle),
            "{spec}: {}",
            support::stderr(&o)
        );
    }
}

/// What the printer shows for the sample with a filter, computed from the
/// unfiltered output's records.
fn printed_names(out: &[u8]) -> Vec<(String, u32)> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|l| {
            let mut f = l.split(' ');
            let name = f.next().unwrap().to_owned();
            let pid = f
                .nth(1)
                .unwrap()
                .trim_start_matches("pid=")
                .parse()
                .unwrap();
            (name, pid)
        })
        .collect()
}

#[test]
fn filters_select_and_deltas_follow_the_shown_records() {
    let [events, trace] = sample();
    let ev = simpletrace::input::read_trace_events(&events).unwrap();
    let data = std::fs::read(&trace).unwrap();
    let all: Vec<(String, u32, u64)> = TraceReader::new(&data, &ev)
        .unwrap()
        .map(|r| {
            let r = r.unwrap();
            (r.name().to_owned(), r.pid, r.timestamp_ns)
        })
        .collect();
    let first = all[0].2;
    let dir = support::scratch("filters");
    std::fs::write(
        dir.join("events"),
        "# only memory\nmem_*\n-mem_free\nblk_io_done\n",
    )
    .unwrap();
    type Pred = Box<dyn Fn(&(String, u32, u64)) -> bool>;
    let cases: Vec<(Vec<String>, Pred)> = vec![
        (
            vec!["--events".into(), "mem_*".into()],
            Box::new(|r| r.0.starts_with("mem_")),
        ),
        (
            vec!["--events".into(), "-mem_*,-lock_*".into()],
            Box::new(|r| !r.0.starts_with("mem_") && !r.0.starts_with("lock_")),
        ),
        (
            vec![
                "--events-file".into(),
                dir.join("events").display().to_string(),
            ],
            Box::new(|r| r.0 == "mem_alloc" || r.0 == "blk_io_done"),
        ),
        (
            vec!["--pid".into(), "0".into(), "--pid".into(), "4243".into()],
            Box::new(|r| r.1 == 0 || r.1 == 4243),
        ),
        (
            vec![
                "--start".into(),
                "+1ms".into(),
                "--end".into(),
                "3ms".into(),
            ],
            Box::new(move |r| r.2 >= first + 1_000_000 && r.2 <= first + 3_000_000),
        ),
        (
            vec![
                "--start".into(),
                (first + 500_000).to_string(),
                "--events".into(),
                "Dropped_Event,clock_step".into(),
            ],
            Box::new(move |r| {
                r.2 >= first + 500_000 && (r.0 == "Dropped_Event" || r.0 == "clock_step")
            }),
        ),
    ];
    for (args, keep) in cases {
        let want: Vec<(String, u32)> = all
            .iter()
            .filter(|r| keep(r))
            .map(|r| (r.0.clone(), r.1))
            .collect();
        assert!(!want.is_empty() && want.len() < all.len(), "{args:?}");
        let mut seq_args: Vec<String> = args.clone();
        seq_args.extend([
            "-j".into(),
            "1".into(),
            events.display().to_string(),
            trace.display().to_string(),
        ]);
        let seq = run_ok(&seq_args);
        assert_eq!(printed_names(&seq), want, "{args:?}");
        // Deltas are between the printed records.
        let mut prev = None;
        for line in String::from_utf8_lossy(&seq).lines() {
            let delta: f64 = line.split(' ').nth(1).unwrap().parse().unwrap();
            if prev.is_none() {
                assert_eq!(delta, 0.0);
            }
            prev = Some(delta);
        }
        let mut par_args = args.clone();
        par_args.extend([
            "-j".into(),
            "3".into(),
            "--chunk-size".into(),
            "4096".into(),
            events.display().to_string(),
            trace.display().to_string(),
        ]);
        assert!(
            run_ok(&par_args) == seq,
            "{args:?}: parallel output differs"
        );
    }
    for (args, needle) in [
        (vec!["--events", "a b"], "is not an event pattern"),
        (vec!["--start", "5 parsecs"], "is not a time"),
        // Exact: a fraction of a nanosecond is refused, not cut.
        (vec!["--start", "1.5ns"], "'1.5ns' is not a time"),
        (vec!["--end", "1.0000000005s"], "is not a time"),
        (
            vec!["--events-file", "/nonexistent/events"],
            "/nonexistent/events",
        ),
    ] {
        let mut a: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        a.extend([events.display().to_string(), trace.display().to_string()]);
        let o = support::run(&a);
        assert_ne!(o.status.code(), Some(0), "{args:?}");
        assert!(
            support::stderr(&o).contains(needle),
            "{args:?}: {}",
            support::stderr(&o)
        );
    }
}

/// Writes the sample's records again in `version` (for filter's
/// same-version output).
fn sample_in(version: Version) -> Vec<u8> {
    let events = support::samples::sample_events();
    let one = support::samples::sample_trace();
    let mut w =
        TraceWriter::with_events(Vec::new(), WriterOptions::version(version), &events).unwrap();
    for r in TraceReader::new(&one, &events).unwrap() {
        let r = r.unwrap();
        let ev = Event::decode(r).unwrap();
        if version == Version::V0
            && (ev.is_dropped() || ev.decl().args.iter().any(|a| a.kind == ArgKind::String))
        {
            continue;
        }
        if ev.is_dropped() {
            w.dropped(r.timestamp_ns, 0, ev.arg(0).unwrap().as_u64().unwrap())
                .unwrap();
            continue;
        }
        let args: Vec<Arg> = ev
            .args()
            .zip(&ev.decl().args)
            .map(|(v, d)| match (v, d.kind) {
                (ArgValue::Int(x), ArgKind::Int { signed: true, .. }) => Arg::I64(x as i64),
                (v, _) => Arg::from(v),
            })
            .collect();
        w.event_by_name(&ev.decl().name, r.timestamp_ns, 0, &args)
            .unwrap();
    }
    w.finish().unwrap()
}

#[test]
fn filter_writes_a_trace_that_prints_like_the_filtered_original() {
    let [events, trace] = sample();
    let dir = support::scratch("filter_cmd");
    let mut inputs: Vec<(PathBuf, PathBuf, bool)> = vec![
        (events.clone(), trace.clone(), false),
        (events.clone(), support::testdata("no-header.trace"), true),
    ];
    for (name, version) in [
        ("v3", Version::V3),
        ("v2", Version::V2),
        ("v0", Version::V0),
    ] {
        let p = dir.join(name);
        std::fs::write(&p, sample_in(version)).unwrap();
        inputs.push((events.clone(), p, false));
    }
    if let Some(c) = support::corpus() {
        inputs.push((c.join("trace-events-all"), c.join("medium-rand.bin"), false));
    }
    let filters: [&[&str]; 4] = [
        &[],
        &[
            "--events",
            "mem_*,lock_*,qemu_mutex_lock*,Dropped_Event,blk_co_preadv",
        ],
        &[
            "--pid", "4243", "--pid", "13050", "--pid", "0", "--pid", "7",
        ],
        &["--start", "+2ms", "--events", "-clock_step,-qemu_co_*"],
    ];
    for (events, trace, headerless) in &inputs {
        for (i, f) in filters.iter().enumerate() {
            let out = dir.join(format!("out-{i}"));
            let mut args: Vec<&std::ffi::OsStr> =
                vec![os("filter".as_ref()), os("-o".as_ref()), os(&out)];
            if *headerless {
                args.push(os("--no-header".as_ref()));
            }
            args.extend(f.iter().map(|a| os(a.as_ref())));
            args.extend([os(events), os(trace)]);
            let o = support::run(&args);
            assert!(o.status.success(), "{}", support::stderr(&o));
            assert!(
                support::stderr(&o).contains("records and"),
                "{}",
                support::stderr(&o)
            );
            let printed_subset = run_ok(&[os(events), os(&out)]);
            let mut orig_args: Vec<&std::ffi::OsStr> = Vec::new();
            if *headerless {
                orig_args.push(os("--no-header".as_ref()));
            }
            orig_args.extend(f.iter().map(|a| os(a.as_ref())));
            orig_args.extend([os(events), os(trace)]);
            let printed_filtered = run_ok(&orig_args);
            assert!(
                printed_subset == printed_filtered,
                "{} {f:?}: the subset prints differently",
                trace.display()
            );
            // Same format version (a headerless input gains a header).
            let input = std::fs::read(trace).unwrap();
            let output = std::fs::read(&out).unwrap();
            if !headerless {
                assert_eq!(input[16..24], output[16..24], "version word");
            }
            if f.is_empty() && !headerless {
                assert!(output.len() <= input.len());
            }
        }
    }
    // `-o -` writes the same bytes to standard output.
    let to_file = dir.join("whole");
    run_ok(&[
        os("filter".as_ref()),
        os("-o".as_ref()),
        os(&to_file),
        os(&events),
        os(&trace),
    ]);
    let to_stdout = run_ok(&[
        os("filter".as_ref()),
        os("-o".as_ref()),
        os("-".as_ref()),
        os(&events),
        os(&trace),
    ]);
    assert_eq!(std::fs::read(&to_file).unwrap(), to_stdout);
    // The input is never overwritten.
    let copy = dir.join("input");
    std::fs::copy(&trace, &copy).unwrap();
    let o = support::run([
        os("filter".as_ref()),
        os("-o".as_ref()),
        os(&copy),
        os(&events),
        os(&copy),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(support::stderr(&o).contains("refusing to write over an input of this run"));
    assert_eq!(
        std::fs::read(&copy).unwrap(),
        std::fs::read(&trace).unwrap()
    );
}

/// `filter`'s report counts its nouns right: `1 record and 1 mapping
/// record` (it said `1 records and 1 mapping records`).
#[test]
fn filter_report_counts_one_record_as_one() {
    let [events, trace] = sample();
    let dir = support::scratch("filter_report_counts");
    let out = dir.join("one.trace");
    let o = support::run([
        os("filter".as_ref()),
        os("-o".as_ref()),
        os(&out),
        os("--events".as_ref()),
        os("vm_stop".as_ref()),
        os(&events),
        os(&trace),
    ]);
    assert!(o.status.success(), "{}", support::stderr(&o));
    assert_eq!(
        support::stderr(&o),
        format!(
            "1 record and 1 mapping record written to {}\n",
            out.display()
        )
    );
}

/// `--format log` on the bundled sample: the bare form and `print` agree,
/// filters apply, a version-0 trace (strings recorded as addresses) prints
/// too, and `--timestamps` alone is a usage error.
#[test]
fn log_format_from_the_command_line() {
    let [events, trace] = sample();
    let bare = run_ok(&[
        os("--format".as_ref()),
        os("log".as_ref()),
        os(&events),
        os(&trace),
    ]);
    let print = run_ok(&[
        os("print".as_ref()),
        os("--format".as_ref()),
        os("log".as_ref()),
        os(&events),
        os(&trace),
    ]);
    assert_eq!(bare, print);
    let python = run_ok(&[os(&events), os(&trace)]);
    assert_eq!(
        bare.split(|&b| b == b'\n').count(),
        python.split(|&b| b == b'\n').count()
    );
    // The same event names, in the same order, as the drop-in printer.
    let names = |out: &[u8]| -> Vec<String> {
        String::from_utf8_lossy(out)
            .lines()
            .map(|l| l.split(' ').next().unwrap_or("").to_owned())
            .collect()
    };
    assert_eq!(names(&bare), names(&python));

    let stamped = run_ok(&[
        os("print".as_ref()),
        os("--format".as_ref()),
        os("log".as_ref()),
        os("--timestamps".as_ref()),
        os("--events".as_ref()),
        os("mem_free".as_ref()),
        os(&events),
        os(&trace),
    ]);
    let text = String::from_utf8(stamped).unwrap();
    assert!(!text.is_empty());
    for line in text.lines() {
        let (prefix, rest) = line.split_once(':').unwrap();
        let (pid, time) = prefix.split_once('@').unwrap();
        assert!(pid.parse::<i32>().is_ok(), "{line}");
        let (secs, micros) = time.split_once('.').unwrap();
        assert!(secs.parse::<u64>().is_ok() && micros.len() == 6, "{line}");
        // glibc prints a null `%p` as `(nil)`.
        assert!(
            rest.starts_with("mem_free ptr 0x") || rest == "mem_free ptr (nil)",
            "{line}"
        );
    }

    // Version 0: strings are addresses; %s of one is not a string.
    let v0 = support::scratch("log_v0").join("v0.trace");
    std::fs::write(&v0, sample_in(Version::V0)).unwrap();
    let out = run_ok(&[
        os("--format".as_ref()),
        os("log".as_ref()),
        os(&events),
        os(&v0),
    ]);
    assert_eq!(names(&out), names(&run_ok(&[os(&events), os(&v0)])));
    assert!(!out.is_empty());

    let out = support::run([os("--timestamps".as_ref()), os(&events), os(&trace)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(support::stderr(&out).contains("--timestamps needs --format log"));
}
