//! The analyzer API and the built-in analyzers: `locks` against values
//! computed by hand, on the real corpus, and the driver giving the same
//! results sequentially and in parallel.

use serde_json::{Value, json};
use simpletrace::analyzers::locks::{LocksAnalyzer, SortBy};
use simpletrace::analyzers::print::{Buffering, Parallelism};
use simpletrace::analyzers::{
    Analyzer, AnalyzerError, ChunkStart, Context, Driver, Event, Handlers, Interest,
    ParallelAnalyzer, Report, RunOptions, TraceInfo,
};
use simpletrace::format::writer::{Arg, TraceWriter, WriterOptions};
use simpletrace::format::{TraceEvents, TraceReader};

use crate::support;

const LOCK_EVENTS: &[u8] = b"\
qemu_mutex_lock(void *mutex, const char *file, const int line) \"waiting on mutex %p (%s:%d)\"
qemu_mutex_locked(void *mutex, const char *file, const int line) \"taken mutex %p (%s:%d)\"
qemu_mutex_unlock(void *mutex, const char *file, const int line) \"released mutex %p (%s:%d)\"
other(int x) \"x %d\"
";

/// The crafted trace of `locks_by_hand` (see there for the story).
fn crafted_locks_trace(events: &TraceEvents) -> Vec<u8> {
    let mut w = TraceWriter::with_events(Vec::new(), WriterOptions::default(), events).unwrap();
    let mut ev = |name: &str, ts: u64, pid: u32, mutex: u64, file: &str, line: i32| {
        w.event_by_name(
            name,
            ts,
            pid,
            &[Arg::Ptr(mutex), Arg::from(file), Arg::from(line)],
        )
        .unwrap();
    };
    const A: u64 = 0x1000;
    const B: u64 = 0x2000;
    ev("qemu_mutex_lock", 100, 1, A, "f.c", 10);
    ev("qemu_mutex_locked", 150, 1, A, "f.c", 10); // waited 50
    ev("qemu_mutex_lock", 160, 1, A, "g.c", 20); // contended
    ev("qemu_mutex_unlock", 400, 1, A, "f.c", 11); // held 250
    ev("qemu_mutex_locked", 430, 1, A, "g.c", 20); // waited 270
    ev("qemu_mutex_unlock", 500, 1, A, "g.c", 21); // held 70
    ev("qemu_mutex_locked", 600, 1, A, "f.c", 30); // a trylock: no wait record
    ev("qemu_mutex_unlock", 650, 1, A, "f.c", 31); // held 50
    ev("qemu_mutex_lock", 700, 1, B, "h.c", 5);
    ev("qemu_mutex_locked", 710, 1, B, "h.c", 5); // waited 10, never released
    ev("qemu_mutex_lock", 800, 1, B, "i.c", 7); // still waiting at the end
    ev("qemu_mutex_unlock", 850, 2, A, "f.c", 11); // another process: no holder seen
    w.event_by_name("other", 900, 1, &[Arg::from(1)]).unwrap();
    w.finish().unwrap()
}

#[test]
fn locks_by_hand() {
    let events = TraceEvents::parse("te", LOCK_EVENTS).unwrap();
    let trace = crafted_locks_trace(&events);
    let mut driver = Driver::new();
    driver.add(LocksAnalyzer::new(SortBy::Wait, None));
    let outcome = driver
        .run(
            TraceReader::new(&trace, &events).unwrap(),
            &mut std::io::sink(),
            RunOptions::default(),
        )
        .unwrap();
    assert!(outcome.fault.is_none());
    let report = &outcome.reports[0].clone().complete();
    let j = &report.json;
    assert_eq!(
        (
            j["lock_requests"].clone(),
            j["acquisitions"].clone(),
            j["unlocks"].clone()
        ),
        (json!(4), json!(4), json!(4))
    );
    let mutexes = j["mutexes"].as_array().unwrap();
    assert_eq!(mutexes.len(), 3);
    // Sorted by total wait: A (320 ns), then B (10 ns), then A of pid 2.
    let a = &mutexes[0];
    assert_eq!(
        (a["mutex"].as_str(), a["pid"].as_u64()),
        (Some("0x1000"), Some(1))
    );
    assert_eq!(a["lock_requests"], 2);
    assert_eq!(a["acquisitions"], 3);
    assert_eq!(a["acquisitions_without_wait_record"], 1);
    assert_eq!(a["unlocks"], 3);
    assert_eq!(
        a["wait_ns"],
        json!({"count": 2, "min": 50, "median": 160.0, "mean": 160.0, "max": 270, "total": 320.0})
    );
    assert_eq!(a["hold_ns"]["min"], 50);
    assert_eq!(a["hold_ns"]["median"], 70.0);
    assert_eq!(a["hold_ns"]["max"], 250);
    assert_eq!(a["hold_ns"]["total"], 370.0);
    assert!((a["hold_ns"]["mean"].as_f64().unwrap() - 370.0 / 3.0).abs() < 1e-9);
    assert_eq!(a["held_at_end"], Value::Null);
    let b = &mutexes[1];
    assert_eq!(b["mutex"], "0x2000");
    assert_eq!(b["wait_ns"]["max"], 10);
    assert_eq!(b["hold_ns"], Value::Null);
    // The end is the last mutex event (850 ns).
    assert_eq!(
        b["held_at_end"],
        json!({"site": "h.c:5", "since_ns": 710, "held_ns": 140})
    );
    assert_eq!(
        b["waiting_at_end"],
        json!([{"site": "i.c:7", "since_ns": 800, "waiting_ns": 50}])
    );
    let other = &mutexes[2];
    assert_eq!(
        (
            other["pid"].as_u64(),
            other["unlocks_without_holder"].as_u64()
        ),
        (Some(2), Some(1))
    );

    let text = &report.text;
    assert!(
        text.starts_with("3 mutexes: 4 lock requests, 4 acquisitions, 4 unlocks\n"),
        "{text}"
    );
    let rows: Vec<String> = text
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert!(
        rows.contains(
            &"mutex pid acquired untimed wait min median mean max hold min median mean max"
                .to_string()
        ),
        "{text}"
    );
    assert!(
        rows.contains(&"0x1000 1 3 1 50ns 160ns 160ns 270ns 50ns 70ns 123.3ns 250ns".to_string()),
        "{text}"
    );
    assert!(
        rows.contains(&"0x2000 1 1 0 10ns 10ns 10ns 10ns - - - -".to_string()),
        "{text}"
    );
    assert!(text.contains("Still held when the trace ends:\n  0x2000 (pid 1) taken at h.c:5, held for 140ns until the end"), "{text}");
    assert!(text.contains("Still waited for when the trace ends:\n  0x2000 (pid 1) requested at i.c:7, waiting for 50ns at the end"), "{text}");
}

#[test]
fn locks_command_on_crafted_and_real_traces() {
    let dir = support::scratch("locks_command");
    let events_path = dir.join("te");
    std::fs::write(&events_path, LOCK_EVENTS).unwrap();
    let events = TraceEvents::parse("te", LOCK_EVENTS).unwrap();
    let trace_path = dir.join("trace");
    std::fs::write(&trace_path, crafted_locks_trace(&events)).unwrap();
    let out = support::run([
        "locks".as_ref(),
        "--top".as_ref(),
        "1".as_ref(),
        events_path.as_os_str(),
        trace_path.as_os_str(),
    ]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("0x1000")
            && !text.contains("0x2000        1")
            && text.contains("(2 more mutexes not shown)"),
        "{text}"
    );

    let Some(corpus) = support::corpus() else {
        return;
    };
    let events = corpus.join("trace-events-all");
    let trace = corpus.join("medium-rand.bin");
    let out = support::run([
        "locks".as_ref(),
        "--json".as_ref(),
        events.as_os_str(),
        trace.as_os_str(),
    ]);
    assert!(out.status.success(), "{}", support::stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    // Totals agree with a plain count of the records.
    let ev = simpletrace::input::read_trace_events(&events).unwrap();
    let data = std::fs::read(&trace).unwrap();
    let mut n = [0u64; 3];
    for r in TraceReader::new(&data, &ev).unwrap() {
        match r.unwrap().name() {
            "qemu_mutex_lock" => n[0] += 1,
            "qemu_mutex_locked" => n[1] += 1,
            "qemu_mutex_unlock" => n[2] += 1,
            _ => {}
        }
    }
    assert_eq!(
        [
            v["lock_requests"].as_u64().unwrap(),
            v["acquisitions"].as_u64().unwrap(),
            v["unlocks"].as_u64().unwrap()
        ],
        n
    );
    let per_mutex: u64 = v["mutexes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["acquisitions"].as_u64().unwrap())
        .sum();
    assert_eq!(per_mutex, n[1]);
    for m in v["mutexes"].as_array().unwrap() {
        if let Some(w) = m["wait_ns"].as_object() {
            assert!(w["min"].as_i64() <= w["max"].as_i64());
        }
    }
}

/// `locks` warns of lost events as every report does (it said nothing of
/// them before), has their counts in its JSON, and paints by block kind:
/// its table header and titles bold, the warning yellow.
#[test]
fn locks_warn_of_lost_events_in_the_one_wording() {
    let dir = support::scratch("locks_lost");
    let events_path = dir.join("te");
    std::fs::write(&events_path, LOCK_EVENTS).unwrap();
    let events = TraceEvents::parse("te", LOCK_EVENTS).unwrap();
    let mut w = TraceWriter::with_events(Vec::new(), WriterOptions::default(), &events).unwrap();
    let site = |mutex: u64| [Arg::Ptr(mutex), Arg::from("f.c"), Arg::from(1)];
    w.event_by_name("qemu_mutex_lock", 10, 1, &site(0x10))
        .unwrap();
    w.dropped(20, 1, 5).unwrap();
    w.event_by_name("qemu_mutex_locked", 30, 1, &site(0x10))
        .unwrap();
    w.dropped(40, 1, 2).unwrap();
    let trace_path = dir.join("trace");
    std::fs::write(&trace_path, w.finish().unwrap()).unwrap();
    let run = |extra: &[&str]| {
        let mut args: Vec<&std::ffi::OsStr> = vec!["locks".as_ref()];
        args.extend(extra.iter().map(std::ffi::OsStr::new));
        args.extend([events_path.as_os_str(), trace_path.as_os_str()]);
        let out = support::run(&args);
        assert!(out.status.success(), "{}", support::stderr(&out));
        String::from_utf8(out.stdout).unwrap()
    };
    let text = run(&[]);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[..2],
        [
            "1 mutex: 1 lock request, 1 acquisition, 0 unlocks",
            "Events were lost: 2 dropped-events records, 7 events dropped; 1 wait and 0 holds span a loss and may pair the wrong events; lost records can also leave requests waiting and mutexes held at the end",
        ],
        "{text}"
    );
    let v: Value = serde_json::from_str(&run(&["--json"])).unwrap();
    assert_eq!(
        (v["dropped_records"].clone(), v["events_lost"].clone()),
        (json!(2), json!(7))
    );
    let painted = run(&["--color", "always"]);
    assert!(
        painted
            .contains("\n\x1b[1;33mEvents were lost: 2 dropped-events records, 7 events dropped; "),
        "{painted}"
    );
    assert!(painted.contains("\n\x1b[1m mutex "), "{painted}");
    assert!(
        painted.contains("\n\x1b[1mStill held when the trace ends:\x1b[0m\n"),
        "{painted}"
    );
    let plain: String = painted
        .replace("\x1b[1;33m", "")
        .replace("\x1b[1m", "")
        .replace("\x1b[0m", "");
    assert_eq!(plain, text);
}

/// Counts records per event name and sums an argument: mergeable.
#[derive(Debug, Default, Clone, PartialEq)]
struct Tally {
    counts: std::collections::BTreeMap<String, u64>,
    first_prev: Option<Option<u64>>,
    order: Vec<u64>,
}

impl Tally {
    fn on(&mut self, ev: &Event<'_>, _: &mut Context<'_>) -> Result<(), AnalyzerError> {
        *self.counts.entry(ev.name().to_owned()).or_default() += 1;
        self.order.push(ev.record().at.offset.0);
        Ok(())
    }
}

impl Analyzer for Tally {
    fn name(&self) -> &str {
        "tally"
    }
    fn interest(&self) -> Interest {
        Interest::parse("blk_*,mem_*,Dropped_Event").unwrap()
    }
    fn handlers(&self) -> Handlers<Self> {
        let mut h = Handlers::new();
        h.catchall(Self::on);
        h
    }
    fn end(&mut self, _: &TraceInfo<'_>) -> Result<Report, AnalyzerError> {
        Ok(Report::new(
            String::new(),
            json!({"counts": self.counts, "order": self.order}),
        ))
    }
}

impl ParallelAnalyzer for Tally {
    fn fork(&self, chunk: &ChunkStart) -> Self {
        Tally {
            first_prev: Some(chunk.prev_timestamp_ns),
            ..Tally::default()
        }
    }
    fn merge(&mut self, part: Self) -> Result<(), AnalyzerError> {
        for (k, v) in part.counts {
            *self.counts.entry(k).or_default() += v;
        }
        self.order.extend(part.order);
        Ok(())
    }
}

/// A sequential analyzer that records the order it sees records in.
#[derive(Debug, Default)]
struct Order(Vec<u64>);

impl Order {
    fn on(&mut self, ev: &Event<'_>, _: &mut Context<'_>) -> Result<(), AnalyzerError> {
        self.0.push(ev.timestamp_ns() ^ ev.record().at.offset.0);
        Ok(())
    }
}

impl Analyzer for Order {
    fn name(&self) -> &str {
        "order"
    }
    fn interest(&self) -> Interest {
        Interest::parse("lock_*,clock_step").unwrap()
    }
    fn handlers(&self) -> Handlers<Self> {
        let mut h = Handlers::new();
        h.on("lock_*", Self::on).on("clock_step", Self::on);
        h
    }
    fn end(&mut self, _: &TraceInfo<'_>) -> Result<Report, AnalyzerError> {
        Ok(Report::new(String::new(), json!(self.0)))
    }
}

fn big_sample() -> (TraceEvents, Vec<u8>) {
    let events = support::samples::sample_events();
    let one = support::samples::sample_trace();
    // The sample four times over: several chunks at small chunk sizes.
    let mut w = TraceWriter::new(Vec::new(), WriterOptions::default()).unwrap();
    for rep in 0..4u64 {
        let mut r = TraceReader::new(&one, &events).unwrap();
        while let Some(item) = r.next_item() {
            match item.unwrap() {
                simpletrace::format::Item::Mapping(m) => w.mapping(m.id.0, m.name).unwrap(),
                simpletrace::format::Item::Event(e) => w
                    .event_payload(e.id.0, e.timestamp_ns + rep, e.pid, e.payload)
                    .unwrap(),
            }
        }
    }
    (events, w.finish().unwrap())
}

#[test]
fn parallel_and_sequential_analyzers_agree_in_one_pass() {
    let (events, data) = big_sample();
    let run = |threads: usize, chunk_bytes: usize| {
        let mut driver = Driver::new();
        driver.add_parallel(Tally::default());
        driver.add(Order::default());
        driver.add(LocksAnalyzer::default());
        let options = RunOptions {
            parallelism: Parallelism {
                threads,
                chunk_bytes,
            },
            buffering: Buffering::Block,
        };
        let outcome = driver
            .run(
                TraceReader::new(&data, &events).unwrap(),
                &mut std::io::sink(),
                options,
            )
            .unwrap();
        assert!(outcome.fault.is_none());
        outcome
            .reports
            .into_iter()
            .map(|r| r.json)
            .collect::<Vec<_>>()
    };
    let want = run(1, 1 << 20);
    assert!(want[0]["counts"].as_object().unwrap().len() > 3);
    assert!(want[1].as_array().unwrap().len() > 100);
    for threads in [2, 3] {
        for chunk in [512, 4096, 20_000] {
            assert_eq!(
                run(threads, chunk),
                want,
                "{threads} threads, {chunk}-byte chunks"
            );
        }
    }
    // Each alone gives the same as together.
    let mut alone = Driver::new();
    alone.add(Order::default());
    let o = alone
        .run(
            TraceReader::new(&data, &events).unwrap(),
            &mut std::io::sink(),
            RunOptions::default(),
        )
        .unwrap();
    assert_eq!(o.reports[0].json, want[1]);
}

#[test]
fn a_fault_still_yields_reports_for_what_came_before() {
    let (events, mut data) = big_sample();
    data.truncate(data.len() - 7);
    for threads in [1, 2] {
        let mut driver = Driver::new();
        driver.add_parallel(Tally::default());
        let options = RunOptions {
            parallelism: Parallelism {
                threads,
                chunk_bytes: 4096,
            },
            buffering: Buffering::Block,
        };
        let outcome = driver
            .run(
                TraceReader::new(&data, &events).unwrap(),
                &mut std::io::sink(),
                options,
            )
            .unwrap();
        assert!(outcome.fault.as_ref().is_some_and(|f| f.is_truncation()));
        let counted: u64 = outcome.reports[0].json["counts"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum();
        assert!(counted > 100);
    }
}

/// The rows of the table whose header line starts with `header` (after
/// its blanks), each split into cells at blanks, up to a blank line.
fn table_rows(text: &str, header: &str) -> Vec<Vec<String>> {
    text.lines()
        .skip_while(|l| !l.trim_start().starts_with(header))
        .skip(1)
        .take_while(|l| !l.trim().is_empty() && !l.starts_with('('))
        .map(|l| l.split_whitespace().map(str::to_owned).collect())
        .collect()
}

/// A number of a JSON value, as the text writes it.
fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Checks that a report's text says what its JSON says (the two are
/// written by separate code from the same data): the headline figures,
/// and each row shown, in order.
fn text_agrees_with_json(name: &str, text: &str, j: &Value) {
    match name {
        "stats" => {
            assert!(text.starts_with(&format!("{} records of ", j["records"])));
            let rows = table_rows(text, "event ");
            let events = j["events"].as_array().unwrap();
            assert!(!rows.is_empty() && rows.len() == events.len(), "{text}");
            for (row, e) in rows.iter().zip(events) {
                let mut want = vec![shown(&e["event"])];
                if let Some(pid) = e.get("pid") {
                    want.push(shown(pid));
                }
                want.push(shown(&e["count"]));
                assert_eq!(row[..want.len()], want[..], "{text}");
            }
        }
        "locks" => {
            let mutexes = j["mutexes"].as_array().unwrap();
            assert!(text.contains(&format!(
                "{} mutexes: {} lock requests, {} acquisitions, {} unlocks\n",
                mutexes.len(),
                j["lock_requests"],
                j["acquisitions"],
                j["unlocks"]
            )));
            let rows = table_rows(text, "mutex ");
            assert!(!rows.is_empty() && rows.len() <= mutexes.len());
            for (row, m) in rows.iter().zip(mutexes) {
                let want = [&m["mutex"], &m["pid"], &m["acquisitions"]].map(shown);
                assert_eq!(row[..3], want[..], "{text}");
            }
        }
        "hist" => {
            let counts: Vec<String> = text
                .lines()
                .filter_map(|l| l.strip_prefix("count "))
                .map(|l| l.split(',').next().unwrap().to_owned())
                .collect();
            let groups = j["groups"].as_array().unwrap();
            let want: Vec<String> = groups
                .iter()
                .map(|g| shown(&g["histogram"]["count"]))
                .collect();
            assert!(!counts.is_empty() && counts == want, "{text}");
        }
        "alloc" => {
            let allocations = &j["totals"]["allocations"];
            assert!(text.starts_with(&format!("alloc: {allocations} allocation")));
            // The biggest leaks listed, in order.
            let mut from = 0;
            for leak in j["leaks"]["biggest"].as_array().unwrap() {
                let ptr = format!(" {} ", shown(&leak["ptr"]));
                let at = text[from..]
                    .find(&ptr)
                    .unwrap_or_else(|| panic!("{ptr}: {text}"));
                from += at + ptr.len();
            }
        }
        other => panic!("{other}"),
    }
}

/// A streamed report (`stats`, `locks`, `hist`, `alloc`) writes, row by
/// row, its JSON as `serde_json::to_string_pretty` prints its in-memory
/// form, alone or nested in an object as `run --json` nests it; it is
/// equal to its completed form (the same text and JSON written, which
/// `Report::complete` renders through the same writers, so that much
/// holds by construction); and its text says what its JSON says (written
/// by separate code: see [`text_agrees_with_json`]).
#[test]
fn streamed_reports_write_what_they_hold_when_completed() {
    use simpletrace::analyzers::alloc::{AllocAnalyzer, AllocOptions, RuleKind, RuleSpec};
    use simpletrace::analyzers::hist::{GroupBy, Hist, HistSpec, Measure, Style};
    use simpletrace::analyzers::histogram::Scale;
    use simpletrace::analyzers::stats::{StatsAnalyzer, StatsSort};

    let (events, data) = big_sample();
    let lock_events = TraceEvents::parse("te", LOCK_EVENTS).unwrap();
    let locks_trace = crafted_locks_trace(&lock_events);
    let hist = |by: &[&str], scale, top, style| {
        let mut spec = HistSpec::new(Measure::Value {
            event: "mem_alloc".into(),
            arg: "size".into(),
        });
        spec.by = by.iter().map(|b| b.parse::<GroupBy>().unwrap()).collect();
        spec.scale = scale;
        spec.top = top;
        spec.style = style;
        Hist::new(spec, &events).unwrap()
    };
    let mut cases: Vec<(&str, Driver<'_>, bool)> = Vec::new();
    for (sort, top, by_pid) in [
        (StatsSort::Count, None, false),
        (StatsSort::Name, Some(3), true),
        (StatsSort::Last, None, true),
    ] {
        let mut d = Driver::new();
        d.add_parallel(StatsAnalyzer::new(sort, top, by_pid));
        cases.push(("stats", d, false));
    }
    for (by, scale, top, style) in [
        (&["ptr"][..], Scale::Log2, Some(4), Style::Bars),
        (
            &["pid"][..],
            Scale::Linear { step: 100 },
            None,
            Style::Table,
        ),
        (&[][..], Scale::Linear { step: 1 }, None, Style::Bars),
    ] {
        let mut d = Driver::new();
        hist(by, scale, top, style).add_to(&mut d);
        cases.push(("hist", d, false));
    }
    for top in [None, Some(1)] {
        let mut d = Driver::new();
        d.add(LocksAnalyzer::new(SortBy::Hold, top));
        cases.push(("locks", d, true));
    }
    // The sample's own allocator events, by user rules.
    let rules = vec![
        RuleSpec::parse(RuleKind::Alloc, "mem_alloc:ptr=ptr,size=size").unwrap(),
        RuleSpec::parse(RuleKind::Free, "mem_free:ptr=ptr").unwrap(),
    ];
    for top in [0, 2, usize::MAX] {
        let mut d = Driver::new();
        d.add(AllocAnalyzer::new(AllocOptions {
            rules: rules.clone(),
            top,
            ..AllocOptions::default()
        }));
        cases.push(("alloc", d, false));
    }
    for (name, mut driver, locks) in cases {
        let (trace, events) = if locks {
            (&locks_trace, &lock_events)
        } else {
            (&data, &events)
        };
        let outcome = driver
            .run(
                TraceReader::new(trace, events).unwrap(),
                &mut std::io::sink(),
                RunOptions::default(),
            )
            .unwrap();
        let report = outcome.reports.into_iter().next().unwrap();
        assert!(report.is_streamed(), "{name}");
        let (mut text, mut json, mut nested) = (Vec::new(), Vec::new(), Vec::new());
        report.write_text(&mut text).unwrap();
        report.write_json(&mut json, 0).unwrap();
        report.write_json(&mut nested, 1).unwrap();
        let whole = report.clone().complete();
        assert!(!whole.is_streamed() && !whole.text.is_empty(), "{name}");
        // Equal as reports: a streamed one is compared by what it writes.
        assert_eq!(report, whole, "{name}");
        assert_ne!(report, Report::none(), "{name}");
        let text = String::from_utf8(text).unwrap();
        assert_eq!(text, whole.text, "{name}");
        text_agrees_with_json(name, &text, &whole.json);
        let pretty = serde_json::to_string_pretty(&whole.json).unwrap();
        assert_eq!(String::from_utf8(json).unwrap(), pretty, "{name}");
        let outer = serde_json::to_string_pretty(&json!({ "a": whole.json })).unwrap();
        let inner = outer
            .strip_prefix("{\n  \"a\": ")
            .and_then(|s| s.strip_suffix("\n}"))
            .unwrap();
        assert_eq!(String::from_utf8(nested).unwrap(), inner, "{name}");
    }
}

/// An analyzer that logs when the driver calls it, warns at configure, and
/// refuses its request when told to.
struct Probe {
    name: &'static str,
    refuse: bool,
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Probe {
    fn note(&self, what: &str) {
        self.log
            .lock()
            .unwrap()
            .push(format!("{what} {}", self.name));
    }
}

impl Analyzer for Probe {
    fn name(&self) -> &str {
        self.name
    }
    fn handlers(&self) -> Handlers<Self> {
        Handlers::new()
    }
    fn configure(
        &mut self,
        setup: &mut simpletrace::analyzers::Setup<'_>,
    ) -> Result<Vec<simpletrace::analyzers::SetupWarning>, AnalyzerError> {
        self.note("configure");
        assert!(setup.events().by_name(b"other").is_some());
        if self.refuse {
            return Err(AnalyzerError::setup(
                self.name,
                std::io::Error::other("no such option"),
            ));
        }
        Ok(vec![simpletrace::analyzers::SetupWarning::new(
            self.name,
            "half of it applies",
        )])
    }
    fn begin(&mut self, _: &TraceInfo<'_>) -> Result<(), AnalyzerError> {
        self.note("begin");
        Ok(())
    }
    fn preamble(&mut self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"preamble\n");
    }
    fn end(&mut self, _: &TraceInfo<'_>) -> Result<Report, AnalyzerError> {
        self.note("end");
        Ok(Report::none())
    }
}

/// The driver configures every analyzer at the start of a run, before any
/// `begin`, output or record; a refusal ends the run there, and the
/// warnings come back in the outcome (issue 14, item 6).
#[test]
fn analyzers_are_configured_before_anything_else() {
    let events = TraceEvents::parse("te", LOCK_EVENTS).unwrap();
    let trace = crafted_locks_trace(&events);
    let run = |refuse: bool| {
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut driver = Driver::new();
        for (name, refuse) in [("a", false), ("b", refuse)] {
            driver.add(Probe {
                name,
                refuse,
                log: log.clone(),
            });
        }
        let mut out = Vec::new();
        let reader = TraceReader::new(&trace, &events).unwrap();
        let result = driver.run(reader, &mut out, RunOptions::default());
        let log = log.lock().unwrap().clone();
        (result, out, log)
    };
    let (result, out, log) = run(true);
    match result {
        Err(simpletrace::analyzers::RunError::Analyzer(e)) => {
            assert!(e.is_setup());
            assert_eq!(e.message, "no such option");
            assert_eq!(e.to_string(), "analyzer 'b': no such option");
        }
        other => panic!("{other:?}"),
    }
    assert!(out.is_empty());
    assert_eq!(log, ["configure a", "configure b"]);
    let (result, out, log) = run(false);
    let outcome = result.unwrap();
    assert_eq!(out, b"preamble\npreamble\n");
    assert_eq!(
        log,
        [
            "configure a",
            "configure b",
            "begin a",
            "begin b",
            "end a",
            "end b"
        ]
    );
    let warnings: Vec<(&str, String)> = outcome
        .warnings
        .iter()
        .map(|w| (w.analyzer.as_str(), w.to_string()))
        .collect();
    assert_eq!(
        warnings,
        [
            ("a", "half of it applies".to_owned()),
            ("b", "half of it applies".to_owned())
        ]
    );
}
