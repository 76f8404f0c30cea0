//! Hostile lengths never allocate beyond what the file holds: a record
//! length of 0 or 2^32-1, a string length of 4 GiB, a mapping name length
//! of 2^32-1, each in a file of a few hundred bytes, decoded and printed
//! every way (reader, drop-in printer sequential and parallel, `log` and
//! JSON Lines) under a counting global allocator whose peak must stay
//! within a small constant plus a multiple of the file size.
//!
//! And the `alloc` analyzer on traces with many keys (issue 13): at most
//! about 100 bytes per live allocation, and per leak with `--top 10` and
//! with `--top all` (the listing written out, not built), and about a
//! kilobyte per pid.
//!
//! Its own test binary (`[[test]] name = "memory"`), because a global
//! allocator counts the whole process; its tests take one lock, so no
//! other test allocates while one measures.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use simpletrace::analyzers::alloc::{AllocAnalyzer, AllocOptions};
use simpletrace::analyzers::histogram::EXACT_SAMPLES;
use simpletrace::analyzers::json::JsonLines;
use simpletrace::analyzers::log::LogPrinter;
use simpletrace::analyzers::print::{Buffering, Parallelism, print_trace};
use simpletrace::analyzers::{Driver, Event, RunOptions};
use simpletrace::format::{ArgValue, TraceEvents, TraceKind, TraceReader, encode};

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

/// [`System`], counting the bytes live and their peak.
struct Counting;

fn grew(size: usize) {
    let live = LIVE.fetch_add(size, Ordering::Relaxed) + size;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

// SAFETY: every call forwards to `System` with the caller's layout and
// pointer; the counting touches only atomics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        // SAFETY: forwarded as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        // SAFETY: forwarded as is.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: forwarded as is.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        grew(new_size);
        // SAFETY: forwarded as is.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        let freed = if p.is_null() { new_size } else { layout.size() };
        LIVE.fetch_sub(freed, Ordering::Relaxed);
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The most a run over a small file may hold at its peak, on top of what
/// was live before it: the driver's 260 KiB output block and a thread
/// pool's bookkeeping (measured: 268 KB sequential, 25 KB on two threads
/// with 64-byte chunks); then some bytes per byte of the file. A reader
/// alone holds no constant part (measured: at most 629 bytes).
const CONSTANT: usize = 512 << 10;
const PER_FILE_BYTE: usize = 16;
const READER_CONSTANT: usize = 4 << 10;

/// Held by each test while it runs: the counts are the whole process's.
fn measuring() -> MutexGuard<'static, ()> {
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// The peak of live bytes while `f` runs, above what was live before.
fn peak_of(f: impl FnOnce()) -> usize {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    f();
    PEAK.load(Ordering::Relaxed).saturating_sub(base)
}

const EVENTS: &[u8] = b"s(const char *text, int n) \"%s %d\"\nw(uint64_t x) \"x=%lu\"\n";

/// A good start: header, both mappings, one good record of each.
fn prefix() -> Vec<u8> {
    let mut t = Vec::new();
    encode::header(&mut t, 4);
    encode::mapping(&mut t, 0, b"s");
    encode::mapping(&mut t, 1, b"w");
    encode::event(&mut t, 0, 10, 1, &[ArgValue::Str(b"ok"), ArgValue::Int(1)]);
    encode::event(&mut t, 1, 20, 1, &[ArgValue::Int(2)]);
    t
}

/// Some bytes after a hostile field, so a reader that trusts it has
/// something to start on.
fn filler(t: &mut Vec<u8>) {
    t.extend(std::iter::repeat_n(0x41, 200));
}

/// Each hostile trace, named, with whether it is headerless.
fn hostile() -> Vec<(&'static str, Vec<u8>, bool)> {
    let mut cases = Vec::new();
    for (name, len) in [
        ("record length 0", 0u32),
        ("record length 2^32-1", u32::MAX),
    ] {
        let mut t = prefix();
        encode::event_header(&mut t, 1, 30, len, 1);
        filler(&mut t);
        cases.push((name, t, false));
    }
    // A string of 4 GiB: in a record whose length the file holds, and in
    // one whose length claims the 4 GiB too.
    for (name, record_len) in [
        ("string length 4 GiB", 24 + 4 + 200),
        ("string and record length 4 GiB", u32::MAX),
    ] {
        let mut t = prefix();
        encode::event_header(&mut t, 0, 30, record_len, 1);
        t.extend(u32::MAX.to_le_bytes());
        filler(&mut t);
        cases.push((name, t, false));
    }
    let mut t = prefix();
    t.extend(0u64.to_le_bytes());
    t.extend(7u64.to_le_bytes());
    t.extend(u32::MAX.to_le_bytes());
    filler(&mut t);
    cases.push(("mapping name length 2^32-1", t, false));
    // The largest ids: the top of the id vector, and a map entry.
    for (name, id) in [
        ("mapping id 65535", 65_535u64),
        ("mapping id 2^64-1", u64::MAX),
    ] {
        let mut t = prefix();
        encode::mapping(&mut t, id, b"w");
        encode::event(&mut t, id, 40, 1, &[ArgValue::Int(3)]);
        cases.push((name, t, false));
    }
    // Headerless, where ids without mappings are positions.
    let mut t = Vec::new();
    encode::event(&mut t, 1, 5, 1, &[ArgValue::Int(9)]);
    encode::event_header(&mut t, 0, 6, u32::MAX, 1);
    filler(&mut t);
    cases.push(("headerless, record length 2^32-1", t, true));
    cases
}

fn reader<'a>(trace: &'a [u8], events: &'a TraceEvents, headerless: bool) -> TraceReader<'a> {
    if headerless {
        TraceReader::with_kind(trace, events, TraceKind::headerless())
    } else {
        TraceReader::new(trace, events).unwrap()
    }
}

#[test]
fn hostile_lengths_allocate_in_proportion_to_the_file() {
    let _alone = measuring();
    let events = TraceEvents::parse("te", EVENTS).unwrap();
    let mut report = Vec::new();
    for (name, trace, headerless) in hostile() {
        let mut faults = Vec::new();
        let mut check = |how: &str, peak: usize| {
            let constant = if how == "reader" {
                READER_CONSTANT
            } else {
                CONSTANT
            };
            let bound = constant + PER_FILE_BYTE * trace.len();
            report.push(format!("{name}, {how}: peak {peak} bytes"));
            assert!(
                peak <= bound,
                "{name}, {how}: {peak} bytes at the peak for a {}-byte file",
                trace.len()
            );
        };
        let peak = peak_of(|| {
            for record in reader(&trace, &events, headerless) {
                match record {
                    Ok(r) => {
                        let _ = r.args().count();
                        if let Err(e) = Event::decode(r) {
                            faults.push(e.to_string());
                        }
                    }
                    Err(e) => faults.push(e.to_string()),
                }
            }
        });
        check("reader", peak);
        for threads in [1, 2] {
            let peak = peak_of(|| {
                let par = Parallelism {
                    threads,
                    chunk_bytes: 64,
                };
                let mut out = Vec::new();
                let r = reader(&trace, &events, headerless);
                if let Err(e) = print_trace(r, &mut out, Buffering::Block, par, &mut |_| {}) {
                    faults.push(e.to_string());
                }
            });
            check(&format!("print, {threads} threads"), peak);
            let peak = peak_of(|| {
                let mut driver = Driver::new();
                driver.add_parallel(LogPrinter::new(true));
                driver.add_parallel(JsonLines::new());
                let options = RunOptions {
                    parallelism: Parallelism {
                        threads,
                        chunk_bytes: 64,
                    },
                    ..RunOptions::default()
                };
                let mut out = Vec::new();
                match driver.run(reader(&trace, &events, headerless), &mut out, options) {
                    Ok(outcome) => faults.extend(outcome.fault.map(|e| e.to_string())),
                    Err(e) => faults.push(e.to_string()),
                }
            });
            check(&format!("log and json, {threads} threads"), peak);
        }
        // Every case but the large ids is a fault, reported, not a panic.
        let large_id = name.starts_with("mapping id");
        assert_eq!(faults.is_empty(), large_id, "{name}: {faults:?}");
    }
    // Shown with --nocapture.
    println!("{}", report.join("\n"));
}

const ALLOC_EVENTS: &[u8] =
    b"qemu_memalign(size_t alignment, size_t size, void *ptr) \"\"\nqemu_vfree(void *ptr) \"\"\n";

/// Writes allocator traces record by record.
struct AllocTrace {
    t: Vec<u8>,
    ts: u64,
}

impl AllocTrace {
    fn new() -> Self {
        let mut t = Vec::new();
        encode::header(&mut t, 4);
        encode::mapping(&mut t, 0, b"qemu_memalign");
        encode::mapping(&mut t, 1, b"qemu_vfree");
        AllocTrace { t, ts: 0 }
    }

    fn memalign(&mut self, pid: u32, size: u64, ptr: u64) {
        self.ts += 1000;
        let args = [ArgValue::Int(4096), ArgValue::Int(size), ArgValue::Int(ptr)];
        encode::event(&mut self.t, 0, self.ts, pid, &args);
    }

    fn vfree(&mut self, pid: u32, ptr: u64) {
        self.ts += 1000;
        encode::event(&mut self.t, 1, self.ts, pid, &[ArgValue::Int(ptr)]);
    }
}

/// Block `i`'s address and size (sizes of their own: one group each).
fn block(i: u64) -> (u64, u64) {
    (0x5555_0000_0000 + 64 * i, 16 + i)
}

/// The peak while `alloc` runs over `trace` and its report is written out
/// as text and as JSON.
fn alloc_peak(trace: &[u8], events: &TraceEvents, options: AllocOptions) -> usize {
    peak_of(|| {
        let mut driver = Driver::new();
        driver.add(AllocAnalyzer::new(options));
        let reader = TraceReader::new(trace, events).unwrap();
        let options = RunOptions {
            parallelism: Parallelism {
                threads: 1,
                chunk_bytes: 1 << 20,
            },
            ..RunOptions::default()
        };
        let outcome = driver.run(reader, &mut std::io::sink(), options).unwrap();
        for report in &outcome.reports {
            report.write_text(&mut std::io::sink()).unwrap();
            report.write_json(&mut std::io::sink(), 0).unwrap();
        }
    })
}

#[test]
fn alloc_memory_per_key_is_bounded() {
    let _alone = measuring();
    let events = TraceEvents::parse("te", ALLOC_EVENTS).unwrap();
    const KEYS: u64 = 50_000;
    const PIDS: u32 = 5_000;
    // What any run holds: the driver's output block (260 KiB), a slab
    // chunk (224 KiB), a chunk of the pid table (about 100 KiB); 592 KiB
    // measured for one block. And the histograms' exact samples: up to
    // `EXACT_SAMPLES` each, theirs to bound, 8 bytes each in a vector
    // that may be doubling (old and new counted).
    const CONSTANT: usize = 768 << 10;
    let samples = |n: u64| 24 * (n as usize).min(EXACT_SAMPLES);
    let streamed = |top: usize| AllocOptions {
        top,
        streamed: true,
        ..AllocOptions::default()
    };
    let mut report = Vec::new();
    let mut check = |name: &str, peak: usize, keys: u64, per_key: usize, allowance: usize| {
        let per = peak.saturating_sub(CONSTANT + allowance) as f64 / keys as f64;
        report.push(format!("{name}: peak {peak} bytes, {per:.1} bytes per key"));
        assert!(
            peak <= CONSTANT + allowance + per_key * keys as usize,
            "{name}: {peak} bytes at the peak for {keys} keys: {per:.1} bytes per key, more than {per_key}"
        );
    };

    // Every block live at once, then freed: 100 bytes per live block,
    // the free history included.
    let mut live = AllocTrace::new();
    for i in 0..KEYS {
        let (ptr, size) = block(i);
        live.memalign(1, size, ptr);
    }
    for i in 0..KEYS {
        live.vfree(1, block(i).0);
    }
    let peak = alloc_peak(&live.t, &events, streamed(10));
    check("live blocks", peak, KEYS, 100, 2 * samples(KEYS));

    // Every block leaks: the leaks listed with --top 10 and --top all.
    let mut leaks = AllocTrace::new();
    for i in 0..KEYS {
        let (ptr, size) = block(i);
        leaks.memalign(1, size, ptr);
    }
    for (name, top) in [("leaks, --top 10", 10), ("leaks, --top all", usize::MAX)] {
        let peak = alloc_peak(&leaks.t, &events, streamed(top));
        check(name, peak, KEYS, 100, samples(KEYS));
    }

    // Many pids, each with a block allocated and freed nine times over
    // (its timeline fills) and one that leaks: about a kilobyte a pid,
    // its two table entries included.
    let mut pids = AllocTrace::new();
    for pid in 0..PIDS {
        for _ in 0..9 {
            pids.memalign(pid, 64, 0x1000);
            pids.vfree(pid, 0x1000);
        }
        pids.memalign(pid, 64, 0x2000);
    }
    let changes = 19 * u64::from(PIDS);
    let peak = alloc_peak(&pids.t, &events, streamed(10));
    check("pids", peak, u64::from(PIDS), 1024, 2 * samples(changes));
    // Shown with --nocapture.
    println!("{}", report.join("\n"));
}
