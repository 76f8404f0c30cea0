//! `simpletrace sql` against `simpletrace locks` and `simpletrace alloc`
//! (the `sql` feature): SQL written from the analyzers' documented rules
//! (docs/analyzers.md) gives the analyzers' figures, per mutex and per pid,
//! on the QEMU corpus's traces and on a crafted trace that has every case
//! the rules name. The queries are those of docs/sql.md's worked examples.
//!
//! The project's own `testdata/` traces have no QEMU mutex or allocator
//! events (their events file declares none), so the crafted trace stands
//! in for them.

#![cfg(feature = "sql")]

#[path = "support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use serde_json::Value;
use simpletrace::format::TraceEvents;
use simpletrace::format::writer::{Arg, TraceWriter, WriterOptions};

/// Per mutex (and pid: each process is an address space), the figures of
/// `locks`, from its rules:
///
/// - holds: `locked` makes the mutex held (replacing a holder whose unlock
///   was not seen), `unlock` ends the hold whoever holds it; so in file
///   order of one mutex's `locked` and `unlock` records, an `unlock` right
///   after a `locked` ends a hold that began there, any other `unlock` has
///   no holder, and a `locked` last is still held at the end;
/// - waits: a `locked` takes the oldest pending `lock` of its mutex from
///   its call site (file and line), if there is one. With `requested` and
///   `acquired` the running counts of one site's `lock`s and `locked`s,
///   the number of `locked`s that found a pending `lock` so far is
///   `acquired + min(0, min over the rows so far of (requested - acquired))`
///   (a queue that `locked` empties and never takes below zero); a
///   `locked` found one when that number grew, and its `lock` is the
///   site's `lock` whose rank is that number (FIFO).
///
/// Timestamps are subtracted as signed numbers, as `locks` does (a pair can
/// step back across threads). Dropped-events records change no pairing in
/// `locks` (it only counts the pairs that span one), so they are not
/// needed here. The median is not compared (`locks` keeps it within a
/// histogram's precision past 65,536 samples).
const LOCKS: &str = "
WITH ev AS (
  SELECT trace, pid, mutex, record, ts_ns, 0 AS kind, file, file_raw, line FROM qemu_mutex_lock
  UNION ALL
  SELECT trace, pid, mutex, record, ts_ns, 1, file, file_raw, line FROM qemu_mutex_locked
  UNION ALL
  SELECT trace, pid, mutex, record, ts_ns, 2, file, file_raw, line FROM qemu_mutex_unlock
), seq AS (
  SELECT trace, pid, mutex, kind,
         LAG(kind) OVER w AS prev,
         LEAD(kind) OVER w AS next,
         CAST(ts_ns AS BIGINT) - CAST(LAG(ts_ns) OVER w AS BIGINT) AS since_prev
  FROM ev WHERE kind <> 0
  WINDOW w AS (PARTITION BY trace, pid, mutex ORDER BY record)
), holds AS (
  SELECT trace, pid, mutex,
         count(*) FILTER (WHERE kind = 1) AS acquisitions,
         count(*) FILTER (WHERE kind = 2) AS unlocks,
         count(*) FILTER (WHERE kind = 2 AND (prev IS DISTINCT FROM 1)) AS unlocks_without_holder,
         count(since_prev) FILTER (WHERE kind = 2 AND prev = 1) AS holds,
         sum(since_prev) FILTER (WHERE kind = 2 AND prev = 1) AS hold_total,
         min(since_prev) FILTER (WHERE kind = 2 AND prev = 1) AS hold_min,
         max(since_prev) FILTER (WHERE kind = 2 AND prev = 1) AS hold_max,
         bool_or(kind = 1 AND next IS NULL) AS held_at_end
  FROM seq GROUP BY trace, pid, mutex
), site AS (
  SELECT trace, pid, mutex, file, file_raw, line, record, ts_ns, kind,
         count(*) FILTER (WHERE kind = 0) OVER w AS requested,
         count(*) FILTER (WHERE kind = 1) OVER w AS acquired
  FROM ev WHERE kind <> 2
  WINDOW w AS (PARTITION BY trace, pid, mutex, file, file_raw, line ORDER BY record
               ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
), matched AS (
  SELECT *, acquired + least(0, min(requested - acquired) OVER w) AS paired
  FROM site
  WINDOW w AS (PARTITION BY trace, pid, mutex, file, file_raw, line ORDER BY record
               ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
), acquired AS (
  SELECT *, paired > coalesce(LAG(paired) OVER w, 0) AS timed
  FROM matched WHERE kind = 1
  WINDOW w AS (PARTITION BY trace, pid, mutex, file, file_raw, line ORDER BY record)
), waits AS (
  SELECT a.trace, a.pid, a.mutex, CAST(a.ts_ns AS BIGINT) - CAST(r.ts_ns AS BIGINT) AS wait_ns
  FROM acquired a JOIN site r
    ON r.kind = 0 AND a.timed AND r.requested = a.paired
   AND r.trace = a.trace AND r.pid = a.pid AND r.mutex = a.mutex AND r.line = a.line
   AND (r.file IS NOT DISTINCT FROM a.file) AND (r.file_raw IS NOT DISTINCT FROM a.file_raw)
), wait_stats AS (
  SELECT trace, pid, mutex, count(*) AS waits, sum(wait_ns) AS wait_total,
         min(wait_ns) AS wait_min, max(wait_ns) AS wait_max
  FROM waits GROUP BY trace, pid, mutex
), untimed AS (
  SELECT trace, pid, mutex, count(*) FILTER (WHERE NOT timed) AS untimed
  FROM acquired GROUP BY trace, pid, mutex
), mutexes AS (
  SELECT trace, pid, mutex, count(*) FILTER (WHERE kind = 0) AS lock_requests
  FROM ev GROUP BY trace, pid, mutex
)
SELECT m.trace, m.pid, to_hex(m.mutex) AS mutex_hex, m.lock_requests,
       coalesce(h.acquisitions, 0) AS acquisitions, coalesce(u.untimed, 0) AS untimed,
       coalesce(h.unlocks, 0) AS unlocks,
       coalesce(h.unlocks_without_holder, 0) AS unlocks_without_holder,
       coalesce(h.held_at_end, false) AS held_at_end,
       coalesce(h.holds, 0) AS holds, h.hold_total, h.hold_min, h.hold_max,
       coalesce(w.waits, 0) AS waits, w.wait_total, w.wait_min, w.wait_max
FROM mutexes m
LEFT JOIN holds h ON h.trace = m.trace AND h.pid = m.pid AND h.mutex = m.mutex
LEFT JOIN untimed u ON u.trace = m.trace AND u.pid = m.pid AND u.mutex = m.mutex
LEFT JOIN wait_stats w ON w.trace = m.trace AND w.pid = m.pid AND w.mutex = m.mutex
ORDER BY m.trace, m.pid, mutex_hex
";

/// Per pid, the figures of `alloc` with its built-in rules for QEMU 10's
/// events (`qemu_memalign`/`qemu_vfree`, `qemu_anon_ram_alloc`/
/// `qemu_anon_ram_free`), from its rules: in file order of one pid's
/// records of one non-NULL pointer, a free right after an allocation ends
/// that block, a free after a free is a double free, a free with nothing
/// before is an unknown free, an allocation after an allocation is
/// "allocated twice", an allocation last is a leak; NULL pointers are
/// counted apart (a 0-byte or a failed allocation, `free(NULL)`).
///
/// Not compared, because SQL would not define them as `alloc` does:
/// realloc chains (QEMU 10 has no realloc event; `g_realloc` of old QEMUs
/// would need a recursive walk), frees with another size or by another
/// allocator's free (only checked, not counted here), and double frees
/// of a pointer older than `alloc`'s free history (`--free-history`; the
/// test checks none was forgotten).
const ALLOC: &str = "
WITH ev AS (
  SELECT trace, pid, record, ptr, size, 1 AS alloc FROM qemu_memalign
  UNION ALL SELECT trace, pid, record, ptr, size, 1 FROM qemu_anon_ram_alloc
  UNION ALL SELECT trace, pid, record, ptr, CAST(NULL AS BIGINT UNSIGNED), 0 FROM qemu_vfree
  UNION ALL SELECT trace, pid, record, ptr, size, 0 FROM qemu_anon_ram_free
), seq AS (
  SELECT *, LAG(alloc) OVER w AS prev, LEAD(alloc) OVER w AS next
  FROM ev WHERE ptr <> 0
  WINDOW w AS (PARTITION BY trace, pid, ptr ORDER BY record)
), nulls AS (
  SELECT trace, pid,
         count(*) FILTER (WHERE alloc = 0) AS null_frees,
         count(*) FILTER (WHERE alloc = 1 AND size <> 0) AS failed_allocations,
         count(*) FILTER (WHERE alloc = 1 AND size = 0) AS zero_size_null_allocations
  FROM ev WHERE ptr = 0 GROUP BY trace, pid
), blocks AS (
  SELECT trace, pid,
         count(*) FILTER (WHERE alloc = 1) AS allocations,
         sum(size) FILTER (WHERE alloc = 1) AS allocated_bytes,
         count(*) FILTER (WHERE alloc = 0) AS frees,
         count(*) FILTER (WHERE alloc = 0 AND prev IS NULL) AS unknown_frees,
         count(*) FILTER (WHERE alloc = 0 AND prev = 0) AS double_frees,
         count(*) FILTER (WHERE alloc = 1 AND prev = 1) AS allocated_twice,
         count(*) FILTER (WHERE alloc = 1 AND next IS NULL) AS leaked_blocks,
         sum(size) FILTER (WHERE alloc = 1 AND next IS NULL) AS leaked_bytes
  FROM seq GROUP BY trace, pid
), pids AS (SELECT DISTINCT trace, pid FROM ev)
SELECT p.trace, p.pid,
       coalesce(b.allocations, 0) AS allocations,
       coalesce(b.allocated_bytes, 0) AS allocated_bytes,
       coalesce(b.frees, 0) AS frees, coalesce(n.null_frees, 0) AS null_frees,
       coalesce(b.unknown_frees, 0) AS unknown_frees,
       coalesce(b.double_frees, 0) AS double_frees,
       coalesce(b.allocated_twice, 0) AS allocated_twice,
       coalesce(n.failed_allocations, 0) AS failed_allocations,
       coalesce(n.zero_size_null_allocations, 0) AS zero_size_null_allocations,
       coalesce(b.leaked_blocks, 0) AS leaked_blocks,
       coalesce(b.leaked_bytes, 0) AS leaked_bytes
FROM pids p
LEFT JOIN blocks b ON b.trace = p.trace AND b.pid = p.pid
LEFT JOIN nulls n ON n.trace = p.trace AND n.pid = p.pid
ORDER BY p.trace, p.pid
";

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

fn parse_lines(out: &[u8]) -> Vec<Value> {
    String::from_utf8(out.to_vec())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// An integer from JSON, as a number or (past 2^53) a string of digits.
fn int(v: &Value) -> Option<i128> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i128)),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// `sql --format jsonl QUERY events trace`'s rows.
fn sql(query: &str, events: &Path, trace: &Path) -> Vec<Value> {
    parse_lines(&support::run_ok(&[
        os("sql"),
        os("--format"),
        os("jsonl"),
        os(query),
        events.as_os_str(),
        trace.as_os_str(),
    ]))
}

/// `simpletrace COMMAND --json events trace`.
fn report(command: &str, events: &Path, trace: &Path) -> Value {
    let out = support::run_ok(&[
        os(command),
        os("--json"),
        events.as_os_str(),
        trace.as_os_str(),
    ]);
    serde_json::from_slice(&out).unwrap()
}

/// Compares the SQL figures of every mutex with `locks --json`'s; returns
/// how many mutexes there were.
fn check_locks(events: &Path, trace: &Path) -> usize {
    let what = trace.display();
    let rows = sql(LOCKS, events, trace);
    let want = report("locks", events, trace);
    let mut by_key: BTreeMap<(i128, String), &Value> = BTreeMap::new();
    for m in want["mutexes"].as_array().unwrap() {
        let key = (int(&m["pid"]).unwrap(), m["mutex"].as_str().unwrap().into());
        by_key.insert(key, m);
    }
    assert_eq!(rows.len(), by_key.len(), "{what}: mutexes");
    for row in &rows {
        let key = (
            int(&row["pid"]).unwrap(),
            format!("0x{}", row["mutex_hex"].as_str().unwrap()),
        );
        let m = by_key
            .get(&key)
            .unwrap_or_else(|| panic!("{what}: {key:?} not in locks"));
        let at = format!("{what}: mutex {} pid {}", key.1, key.0);
        let same = |sql: &str, json: &Value| {
            assert_eq!(int(&row[sql]), int(json), "{at}: {sql}");
        };
        same("lock_requests", &m["lock_requests"]);
        same("acquisitions", &m["acquisitions"]);
        same("untimed", &m["acquisitions_without_wait_record"]);
        same("unlocks", &m["unlocks"]);
        same("unlocks_without_holder", &m["unlocks_without_holder"]);
        assert_eq!(
            row["held_at_end"].as_bool().unwrap(),
            !m["held_at_end"].is_null(),
            "{at}: held_at_end"
        );
        // Every request not acquired is still waited for at the end.
        let waiting = m["waiting_at_end"].as_array().unwrap().len() as i128;
        assert_eq!(
            int(&row["lock_requests"]).unwrap() - int(&row["waits"]).unwrap(),
            waiting,
            "{at}: waiting_at_end"
        );
        for (prefix, summary) in [("hold", &m["hold_ns"]), ("wait", &m["wait_ns"])] {
            let count = int(&row[format!("{prefix}s").as_str()]).unwrap();
            if summary.is_null() {
                assert_eq!(count, 0, "{at}: {prefix}s");
                continue;
            }
            same(&format!("{prefix}s"), &summary["count"]);
            same(&format!("{prefix}_total"), &summary["total"]);
            same(&format!("{prefix}_min"), &summary["min"]);
            same(&format!("{prefix}_max"), &summary["max"]);
        }
    }
    rows.len()
}

/// Compares the SQL figures of every pid with `alloc --json`'s; returns
/// how many pids there were.
fn check_alloc(events: &Path, trace: &Path) -> usize {
    let what = trace.display();
    let rows = sql(ALLOC, events, trace);
    let want = report("alloc", events, trace);
    assert_eq!(
        int(&want["free_history"]["forgotten"]),
        Some(0),
        "{what}: the comparison assumes alloc forgot no freed pointer"
    );
    let mut by_pid: BTreeMap<i128, &Value> = BTreeMap::new();
    for p in want["pids"].as_array().unwrap() {
        by_pid.insert(int(&p["pid"]).unwrap(), p);
    }
    assert_eq!(rows.len(), by_pid.len(), "{what}: pids");
    for row in &rows {
        let pid = int(&row["pid"]).unwrap();
        let p = by_pid
            .get(&pid)
            .unwrap_or_else(|| panic!("{what}: pid {pid} not in alloc"));
        for field in [
            "allocations",
            "allocated_bytes",
            "frees",
            "null_frees",
            "unknown_frees",
            "double_frees",
            "allocated_twice",
            "failed_allocations",
            "zero_size_null_allocations",
            "leaked_blocks",
            "leaked_bytes",
        ] {
            assert_eq!(
                int(&row[field]),
                int(&p[field]),
                "{what}: pid {pid}: {field}"
            );
        }
    }
    rows.len()
}

/// The corpus's traces with mutex and allocator records.
fn corpus_traces() -> Option<(PathBuf, Vec<PathBuf>)> {
    let dir = support::corpus()?;
    let traces = [
        "medium-io",
        "medium-convert",
        "medium-create",
        "medium-rand",
        "dropped",
    ]
    .iter()
    .map(|n| dir.join(format!("{n}.bin")))
    .collect();
    Some((dir.join("trace-events-all"), traces))
}

#[test]
fn locks_figures_on_the_corpus() {
    let Some((events, traces)) = corpus_traces() else {
        return;
    };
    for trace in &traces {
        assert!(check_locks(&events, trace) > 0, "{}", trace.display());
    }
}

#[test]
fn alloc_figures_on_the_corpus() {
    let Some((events, traces)) = corpus_traces() else {
        return;
    };
    for trace in &traces {
        assert!(check_alloc(&events, trace) > 0, "{}", trace.display());
    }
}

/// QEMU 10's declarations of its mutex and allocator events.
const DECLS: &str = "\
qemu_memalign(size_t alignment, size_t size, void *ptr) \"alignment %zu size %zu ptr %p\"
qemu_anon_ram_alloc(size_t size, void *ptr) \"size %zu ptr %p\"
qemu_vfree(void *ptr) \"ptr %p\"
qemu_anon_ram_free(void *ptr, size_t size) \"ptr %p size %zu\"
qemu_mutex_lock(void *mutex, const char *file, const int line) \"waiting on mutex %p (%s:%d)\"
qemu_mutex_locked(void *mutex, const char *file, const int line) \"taken mutex %p (%s:%d)\"
qemu_mutex_unlock(void *mutex, const char *file, const int line) \"released mutex %p (%s:%d)\"
";

/// A trace with every case of the rules: for `locks`, a `locked` with no
/// `lock` (trylock), two pending requests from one site taken in order,
/// requests from two sites interleaved, a `lock` still waiting and a mutex
/// still held at the end, an `unlock` with no holder, a `locked` over a
/// holder whose unlock is missing, one mutex in two pids, a call site whose
/// file name is not UTF-8, time stepping back; for `alloc`, a leak, frees
/// in order, an unknown free, a double free and one after an unknown free,
/// an allocation over a live block, NULL frees, a failed and a 0-byte
/// allocation, and two pids with one address.
fn crafted(dir: &Path) -> (PathBuf, PathBuf) {
    let events_path = dir.join("events");
    std::fs::write(&events_path, DECLS).unwrap();
    let events = TraceEvents::parse("events", DECLS.as_bytes()).unwrap();
    let mut t = Crafted {
        w: TraceWriter::with_events(Vec::new(), WriterOptions::default(), &events).unwrap(),
        ts: 1_000,
    };
    let (a, b, c) = (0x1000u64, 0x2000u64, 0x3000u64);
    let (lock, locked, unlock) = ("qemu_mutex_lock", "qemu_mutex_locked", "qemu_mutex_unlock");
    // Mutex a, pid 1: an unlock with no holder, then a trylock (locked
    // alone), then two requests from x.c:1 taken in order, a request from
    // y.c:2 between them.
    t.mutex(unlock, 1, a, b"x.c", 1);
    t.mutex(locked, 1, a, b"x.c", 1);
    t.mutex(unlock, 1, a, b"x.c", 1);
    t.mutex(lock, 1, a, b"x.c", 1);
    t.mutex(lock, 1, a, b"x.c", 1);
    t.mutex(lock, 1, a, b"y.c", 2);
    t.mutex(locked, 1, a, b"x.c", 1);
    t.mutex(unlock, 1, a, b"z.c", 3);
    t.mutex(locked, 1, a, b"y.c", 2);
    // A locked over a holder whose unlock was lost: the first hold is
    // never ended; then an unlock stamped before its locked (another
    // thread's clock): a negative hold.
    t.mutex(locked, 1, a, b"x.c", 1);
    t.ts -= 25;
    t.mutex(unlock, 1, a, b"x.c", 1);
    t.mutex(unlock, 1, a, b"x.c", 1);
    // A site whose file name is not UTF-8, and one with the same text
    // once decoded (U+FFFD): two sites.
    t.mutex(lock, 1, b, b"bad\xff.c", 7);
    t.mutex(lock, 1, b, "bad\u{fffd}.c".as_bytes(), 7);
    t.mutex(locked, 1, b, "bad\u{fffd}.c".as_bytes(), 7);
    t.mutex(unlock, 1, b, b"q.c", 9);
    t.mutex(locked, 1, b, b"bad\xff.c", 7);
    // Still held at the end (b, pid 1); still waited for (a, pid 2); the
    // same mutex in another pid.
    t.mutex(lock, 2, a, b"x.c", 1);
    t.mutex(lock, 2, a, b"x.c", 1);
    t.mutex(locked, 2, a, b"x.c", 1);
    // Allocations, pid 1: a freed block, a leak, an unknown free, a
    // double free, a free after an unknown free, a block allocated twice,
    // NULLs; anon RAM freed; pid 2 uses address a too.
    t.memalign(1, 100, a);
    t.memalign(1, 200, b);
    t.vfree(1, a);
    t.vfree(1, a);
    t.vfree(1, c);
    t.vfree(1, c);
    t.memalign(1, 300, b);
    t.vfree(1, 0);
    t.memalign(1, 50, 0);
    t.memalign(1, 0, 0);
    t.ev("qemu_anon_ram_alloc", 1, &[Arg::from(4096u64), Arg::Ptr(c)]);
    t.ev("qemu_anon_ram_free", 1, &[Arg::Ptr(c), Arg::from(4096u64)]);
    t.memalign(2, 7, a);
    let trace_path = dir.join("crafted.trace");
    std::fs::write(&trace_path, t.w.finish().unwrap()).unwrap();
    (events_path, trace_path)
}

/// A trace being crafted: records 10 ns apart unless told otherwise.
struct Crafted<'e> {
    w: TraceWriter<'e, Vec<u8>>,
    ts: u64,
}

impl Crafted<'_> {
    fn ev(&mut self, name: &str, pid: u32, args: &[Arg<'_>]) {
        self.ts += 10;
        self.w.event_by_name(name, self.ts, pid, args).unwrap();
    }

    fn mutex(&mut self, kind: &str, pid: u32, mutex: u64, file: &[u8], line: i32) {
        self.ev(
            kind,
            pid,
            &[Arg::Ptr(mutex), Arg::from(file), Arg::from(line)],
        );
    }

    fn memalign(&mut self, pid: u32, size: u64, ptr: u64) {
        let args = [Arg::from(64u64), Arg::from(size), Arg::Ptr(ptr)];
        self.ev("qemu_memalign", pid, &args);
    }

    fn vfree(&mut self, pid: u32, ptr: u64) {
        self.ev("qemu_vfree", pid, &[Arg::Ptr(ptr)]);
    }
}

#[test]
fn locks_figures_on_every_rule() {
    let dir = support::scratch("sql_crosscheck_locks");
    let (events, trace) = crafted(&dir);
    // a and b in pid 1, a in pid 2.
    assert_eq!(check_locks(&events, &trace), 3);
}

#[test]
fn alloc_figures_on_every_rule() {
    let dir = support::scratch("sql_crosscheck_alloc");
    let (events, trace) = crafted(&dir);
    assert_eq!(check_alloc(&events, &trace), 2);
    // The case is what it says: the analyzer found each finding.
    let want = report("alloc", &events, &trace);
    let t = &want["totals"];
    for (field, n) in [
        ("unknown_frees", 1),
        ("double_frees", 2),
        ("allocated_twice", 1),
        ("leaked_blocks", 2),
        ("null_frees", 1),
        ("failed_allocations", 1),
        ("zero_size_null_allocations", 1),
    ] {
        assert_eq!(int(&t[field]), Some(n), "{field}");
    }
}
