//! A concurrent tracer for instrumenting Rust programs: what QEMU's
//! `trace/simple.c` does, writing the same files.
//!
//! ```no_run
//! use simpletrace::format::TraceEvents;
//! use simpletrace::trace;
//! use simpletrace::tracer::{Overflow, Tracer};
//!
//! let events = TraceEvents::parse(
//!     "my-events",
//!     b"request_start(uint64_t id, const char *path) \"id %\" PRIu64 \" path %s\"\n\
//!       request_done(uint64_t id, int status) \"id %\" PRIu64 \" status %d\"\n",
//! )?;
//! let tracer = Tracer::builder(events)
//!     .overflow(Overflow::Block)
//!     .create("trace-myprog")?;
//! let start = tracer.event("request_start").unwrap();
//! let done = tracer.event("request_done").unwrap();
//!
//! std::thread::scope(|s| {
//!     for worker in 0..4u64 {
//!         let tracer = &tracer;
//!         s.spawn(move || {
//!             trace!(tracer, start, worker, "/index.html")?;
//!             trace!(tracer, done, worker, 200)
//!         });
//!     }
//! });
//! let stats = tracer.close()?;
//! assert_eq!(stats.dropped, 0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! How it works:
//! - Each thread that traces gets its own ring buffer (256 KiB by default),
//!   so tracing takes no lock and shares no cache line with other threads:
//!   read the clock's raw counter, encode the arguments, copy them into the
//!   ring, publish.
//! - A background writer thread drains the rings, merging the records of
//!   all threads in timestamp order as far as they are available,
//!   converts timestamps to nanoseconds of the monotonic clock, and writes
//!   a version-4 trace with a mapping record for every event first, as
//!   QEMU does.
//! - When a ring is full, [`Overflow::Drop`] loses the record and counts it
//!   exactly (the writer reports the counts as dropped-events records, as
//!   QEMU does); [`Overflow::Block`] waits for room, losing nothing.
//! - Events are switched on and off at run time with QEMU's patterns
//!   ([`Tracer::set_events`]); `disable` events never record.
//! - [`Tracer::flush`] waits until everything traced so far is in the
//!   file; [`Tracer::close`] (or dropping the last handle) drains, writes
//!   out and stops the writer. Records traced after that are counted in
//!   [`TracerStats::after_close`] and not written.

mod clock;
mod ring;

use core::fmt;
use std::cell::RefCell;
use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError, mpsc};
use std::thread::{self, JoinHandle, Thread};
use std::time::Duration;

pub use clock::monotonic_ns;
use clock::{Converter, RawClock};
use ring::{Header, Ring};

use crate::format::events::{ArgKind, TraceEvents};
use crate::format::writer::{self, Arg, TraceWriter, WriteError, WriterOptions};
use crate::format::{ByteOrder, Version};
use crate::pattern::{EventPatterns, PatternError};

/// What tracing does when a thread's buffer is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    /// Lose the record and count it; the trace gets a dropped-events record
    /// with the exact count (QEMU's behaviour). Tracing never waits.
    Drop,
    /// Wait until the writer has made room. Nothing is lost; a thread that
    /// traces faster than the file can take is slowed down.
    Block,
}

/// A handle to one registered event, from [`Tracer::event`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EventHandle {
    position: u32,
    tracer: u64,
}

impl EventHandle {
    /// The event's id in the trace (its position in the trace-events
    /// declarations).
    pub fn id(self) -> u64 {
        u64::from(self.position)
    }
}

/// Why a record was refused.
#[non_exhaustive]
#[derive(Debug)]
pub enum TraceError {
    /// The arguments do not match the declaration (boxed: the error is
    /// rare and the hot path returns this type).
    Args(Box<WriteError>),
    /// The handle belongs to another tracer.
    ForeignHandle,
    /// The record is larger than a whole thread buffer.
    TooLarge {
        /// Payload bytes.
        len: usize,
    },
}

impl fmt::Display for TraceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TraceError::Args(e) => e.fmt(f),
            TraceError::ForeignHandle => f.write_str("the event handle belongs to another tracer"),
            TraceError::TooLarge { len } => write!(
                f,
                "a record with {len} bytes of arguments does not fit in a thread buffer"
            ),
        }
    }
}

impl std::error::Error for TraceError {}

/// Counters of a tracer's life so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TracerStats {
    /// Event records written to the file.
    pub written: u64,
    /// Records lost to full buffers ([`Overflow::Drop`]); every one of them
    /// is counted in a dropped-events record in the file.
    pub dropped: u64,
    /// Records traced after [`Tracer::close`], not written.
    pub after_close: u64,
}

/// Sets up a [`Tracer`].
#[derive(Debug)]
pub struct TracerBuilder {
    events: TraceEvents,
    overflow: Overflow,
    buffer_bytes: usize,
    max_string_len: Option<usize>,
    patterns: EventPatterns,
}

impl TracerBuilder {
    /// What to do when a thread's buffer is full (default:
    /// [`Overflow::Drop`], as QEMU).
    pub fn overflow(mut self, overflow: Overflow) -> Self {
        self.overflow = overflow;
        self
    }

    /// The size of each thread's buffer (default 256 KiB, the size of
    /// QEMU's single shared buffer).
    pub fn buffer_bytes(mut self, bytes: usize) -> Self {
        self.buffer_bytes = bytes;
        self
    }

    /// Strings longer than this are cut (default 512, as QEMU); `None`
    /// keeps them whole.
    pub fn max_string_len(mut self, max: Option<usize>) -> Self {
        self.max_string_len = max;
        self
    }

    /// Patterns applied at start (see [`Tracer::set_events`]); without
    /// any, every event not declared `disable` is on.
    pub fn events_enabled(mut self, patterns: &str) -> Result<Self, PatternError> {
        self.patterns.extend(EventPatterns::parse_list(patterns)?);
        Ok(self)
    }

    /// Starts tracing into a new file at `path`.
    pub fn create(self, path: impl AsRef<Path>) -> io::Result<Tracer> {
        let file = std::fs::File::create(path)?;
        self.to_writer(file)
    }

    /// Starts tracing into `out`.
    pub fn to_writer(self, out: impl Write + Send + 'static) -> io::Result<Tracer> {
        Tracer::start(self, Box::new(out))
    }
}

/// A running tracer. Cheap to clone; all clones trace into the same file.
#[derive(Clone)]
pub struct Tracer {
    inner: Arc<Inner>,
}

impl fmt::Debug for Tracer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tracer")
            .field("events", &self.inner.shared.events.len())
            .field("overflow", &self.inner.shared.overflow)
            .field("stats", &self.stats())
            .finish()
    }
}

/// Owns the writer thread; dropping the last [`Tracer`] stops it.
struct Inner {
    shared: Arc<Shared>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        let _ = self.shared.stop_and_join(&self.writer);
    }
}

/// Flush requests and their completion.
#[derive(Debug, Default)]
struct FlushState {
    requested: u64,
    done: u64,
    /// Set when the writer has exited.
    finished: bool,
}

struct Shared {
    id: u64,
    events: TraceEvents,
    /// Per declaration position.
    info: Box<[EventInfo]>,
    overflow: Overflow,
    ring_words: usize,
    max_string_len: Option<usize>,
    clock: RawClock,
    pid: u32,
    rings: Mutex<Vec<Arc<Ring>>>,
    rings_changed: AtomicBool,
    stopping: AtomicBool,
    writer_thread: OnceLock<Thread>,
    flush: Mutex<FlushState>,
    flushed: Condvar,
    error: Mutex<Option<io::Error>>,
    written: AtomicU64,
    dropped: AtomicU64,
    after_close: AtomicU64,
}

/// What the hot path needs to know about one event.
struct EventInfo {
    enabled: AtomicBool,
    kinds: Box<[ArgKind]>,
    /// No string arguments: the payload is whole words.
    words_only: bool,
}

static NEXT_TRACER_ID: AtomicU64 = AtomicU64::new(1);

/// A ring as its producing thread holds it; dropping it (thread exit)
/// tells the writer the ring will get no more records.
struct RingHandle {
    tracer: u64,
    ring: Arc<Ring>,
}

impl Drop for RingHandle {
    fn drop(&mut self) {
        self.ring.closed.store(true, Ordering::Release);
    }
}

thread_local! {
    static RINGS: RefCell<Vec<RingHandle>> = const { RefCell::new(Vec::new()) };
}

/// The most arguments an event has.
const MAX_ARGS: usize = crate::format::events::MAX_EVENT_ARGS;

/// Payloads up to this size are encoded on the stack.
const STACK_PAYLOAD: usize = 256;

impl Tracer {
    /// Starts setting up a tracer for the events declared in `events`.
    pub fn builder(events: TraceEvents) -> TracerBuilder {
        TracerBuilder {
            events,
            overflow: Overflow::Drop,
            buffer_bytes: 256 * 1024,
            max_string_len: Some(writer::QEMU_MAX_STRING_LEN),
            patterns: EventPatterns::default(),
        }
    }

    fn start(b: TracerBuilder, out: Box<dyn Write + Send>) -> io::Result<Tracer> {
        let info = b
            .events
            .iter()
            .map(|d| EventInfo {
                enabled: AtomicBool::new(
                    !d.is_disabled() && b.patterns.decide(&d.name).unwrap_or(true),
                ),
                kinds: d.args.iter().map(|a| a.kind).collect(),
                words_only: d.args.iter().all(|a| a.kind != ArgKind::String),
            })
            .collect();
        // Room for at least two of the largest records the declared events
        // can make (strings at their longest).
        let max_string = b.max_string_len.unwrap_or(64 * 1024);
        let largest = b
            .events
            .iter()
            .map(|d| {
                let bytes: usize = d
                    .args
                    .iter()
                    .map(|a| {
                        if a.kind == ArgKind::String {
                            4 + max_string
                        } else {
                            8
                        }
                    })
                    .sum();
                2 + bytes.div_ceil(8)
            })
            .max()
            .unwrap_or(2);
        let ring_words = (b.buffer_bytes / 8).max(2 * largest);
        let shared = Arc::new(Shared {
            id: NEXT_TRACER_ID.fetch_add(1, Ordering::Relaxed),
            events: b.events,
            info,
            overflow: b.overflow,
            ring_words,
            max_string_len: b.max_string_len,
            clock: RawClock::new(),
            pid: std::process::id(),
            rings: Mutex::new(Vec::new()),
            rings_changed: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
            writer_thread: OnceLock::new(),
            flush: Mutex::new(FlushState::default()),
            flushed: Condvar::new(),
            error: Mutex::new(None),
            written: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            after_close: AtomicU64::new(0),
        });
        let mut writer = TraceWriter::new(
            out,
            WriterOptions {
                version: Version::V4,
                order: ByteOrder::NATIVE,
                max_string_len: None,
            },
        )
        .map_err(into_io)?;
        for decl in shared.events.iter() {
            writer
                .mapping(decl.position as u64, decl.name.as_bytes())
                .map_err(into_io)?;
        }
        let out = writer.finish().map_err(into_io)?;
        let thread_shared = Arc::clone(&shared);
        let handle = thread::Builder::new()
            .name("simpletrace-writer".into())
            .spawn(move || writer_main(&thread_shared, out))?;
        let _ = shared.writer_thread.set(handle.thread().clone());
        Ok(Tracer {
            inner: Arc::new(Inner {
                shared,
                writer: Mutex::new(Some(handle)),
            }),
        })
    }

    /// The handle of the event called `name`, if it is declared.
    pub fn event(&self, name: &str) -> Option<EventHandle> {
        let s = &self.inner.shared;
        let decl = s.events.by_name(name.as_bytes())?;
        if decl.is_dropped_pseudo() {
            return None;
        }
        Some(EventHandle {
            position: u32::try_from(decl.position).ok()?,
            tracer: s.id,
        })
    }

    /// Whether `event` currently records (so callers can skip computing
    /// expensive arguments).
    #[inline]
    pub fn is_enabled(&self, event: EventHandle) -> bool {
        self.inner
            .shared
            .info
            .get(event.position as usize)
            .is_some_and(|e| e.enabled.load(Ordering::Relaxed))
    }

    /// Applies QEMU-style patterns (`bdrv_*,-bdrv_co_*`; later ones win) to
    /// the events they match; events no pattern matches keep their state.
    /// Returns how many events changed state.
    pub fn set_events(&self, patterns: &str) -> Result<usize, PatternError> {
        let patterns = EventPatterns::parse_list(patterns)?;
        Ok(self.apply(&patterns))
    }

    /// Applies patterns in QEMU's events-file format (one per line, `#`
    /// comments, `-` to disable).
    pub fn set_events_from_file_text(&self, text: &str) -> Result<usize, PatternError> {
        let patterns = EventPatterns::parse_file(text)?;
        Ok(self.apply(&patterns))
    }

    fn apply(&self, patterns: &EventPatterns) -> usize {
        let s = &self.inner.shared;
        let mut changed = 0;
        for (decl, info) in s.events.iter().zip(s.info.iter()) {
            if let Some(on) = patterns.decide(&decl.name) {
                let on = on && !decl.is_disabled();
                if info.enabled.swap(on, Ordering::Relaxed) != on {
                    changed += 1;
                }
            }
        }
        changed
    }

    /// Records `event` with `args`, stamped now. A disabled event records
    /// nothing; arguments that do not match the declaration are refused.
    #[inline]
    pub fn trace(&self, event: EventHandle, args: &[Arg<'_>]) -> Result<(), TraceError> {
        let s = &*self.inner.shared;
        if event.tracer != s.id {
            return Err(TraceError::ForeignHandle);
        }
        let position = event.position;
        let Some(info) = s.info.get(position as usize) else {
            return Err(TraceError::ForeignHandle);
        };
        if !info.enabled.load(Ordering::Relaxed) {
            return Ok(());
        }
        let raw_time = s.clock.raw();
        // Fast path: integer and pointer arguments of the declared kinds
        // go straight into ring words.
        if info.words_only && args.len() == info.kinds.len() && args.len() <= MAX_ARGS {
            let mut words = [0u64; MAX_ARGS];
            let fits =
                info.kinds.iter().zip(args).zip(words.iter_mut()).all(
                    |((k, a), w)| match exact_word(*k, *a) {
                        Some(v) => {
                            *w = ring::payload_word(v);
                            true
                        }
                        None => false,
                    },
                );
            if fits {
                let words = &words[..args.len()];
                return s.push(words.len() * 8, |ring| {
                    ring.push_words(raw_time, position, words)
                });
            }
        }
        let decl = s
            .events
            .get(position as usize)
            .ok_or(TraceError::ForeignHandle)?;
        writer::check_args(decl, args).map_err(|e| TraceError::Args(Box::new(e)))?;
        let len = payload_len(args, s.max_string_len);
        if len <= STACK_PAYLOAD {
            let mut buf = [0u8; STACK_PAYLOAD];
            encode_payload(args, s.max_string_len, &mut buf[..len]);
            s.push(len, |ring| ring.push(raw_time, position, &buf[..len]))
        } else {
            let mut buf = vec![0u8; len];
            encode_payload(args, s.max_string_len, &mut buf);
            s.push(len, |ring| ring.push(raw_time, position, &buf))
        }
    }

    /// Waits until every record traced before the call is written to the
    /// output and the output is flushed.
    pub fn flush(&self) -> io::Result<()> {
        let s = &self.inner.shared;
        let lock = s.flush.lock().unwrap_or_else(PoisonError::into_inner);
        let mut state = lock;
        if state.finished {
            return s.take_error();
        }
        state.requested += 1;
        let wanted = state.requested;
        s.wake_writer();
        while state.done < wanted && !state.finished {
            state = s
                .flushed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        drop(state);
        s.take_error()
    }

    /// Counters so far.
    pub fn stats(&self) -> TracerStats {
        let s = &self.inner.shared;
        TracerStats {
            written: s.written.load(Ordering::Relaxed),
            dropped: s.dropped.load(Ordering::Relaxed),
            after_close: s.after_close.load(Ordering::Relaxed),
        }
    }

    /// Writes out everything traced so far and stops the writer; later
    /// records are not written (see [`TracerStats::after_close`]). Returns
    /// the final counters, or the first error writing the file hit.
    pub fn close(&self) -> io::Result<TracerStats> {
        self.inner.shared.stop_and_join(&self.inner.writer)?;
        Ok(self.stats())
    }
}

impl Shared {
    fn wake_writer(&self) {
        if let Some(t) = self.writer_thread.get() {
            t.unpark();
        }
    }

    fn take_error(&self) -> io::Result<()> {
        let mut e = self.error.lock().unwrap_or_else(PoisonError::into_inner);
        match e.take() {
            Some(err) => {
                // Keep reporting it, with its kind, to later callers.
                let again = io::Error::new(err.kind(), err.to_string());
                *e = Some(again);
                Err(err)
            }
            None => Ok(()),
        }
    }

    fn stop_and_join(&self, writer: &Mutex<Option<JoinHandle<()>>>) -> io::Result<()> {
        self.stopping.store(true, Ordering::SeqCst);
        self.wake_writer();
        let handle = writer.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(h) = handle {
            if h.join().is_err() {
                return Err(io::Error::other("the trace writer thread panicked"));
            }
            // Records published too late for the last pass (their threads
            // raced with close) are counted, not silently lost.
            let rings = self.rings.lock().unwrap_or_else(PoisonError::into_inner);
            for ring in rings.iter() {
                let (mut tail, head) = ring.published();
                while tail < head {
                    tail += ring.header_at(tail).words();
                    self.after_close.fetch_add(1, Ordering::Relaxed);
                }
                ring.release(tail);
                let lost = ring.dropped.swap(0, Ordering::AcqRel);
                self.after_close.fetch_add(lost, Ordering::Relaxed);
            }
        }
        self.take_error()
    }

    fn register_ring(&self) -> Arc<Ring> {
        let ring = Arc::new(Ring::new(self.ring_words));
        self.rings
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Arc::clone(&ring));
        self.rings_changed.store(true, Ordering::Release);
        ring
    }

    /// Puts one record into the calling thread's ring with `try_push`
    /// (which fails when the ring is full); `len` is its payload length.
    #[inline]
    fn push(&self, len: usize, try_push: impl Fn(&Ring) -> bool) -> Result<(), TraceError> {
        let pushed = RINGS.try_with(|rings| {
            if let Some(h) = rings.borrow().iter().find(|h| h.tracer == self.id) {
                return self.push_into(&h.ring, len, &try_push);
            }
            let ring = self.register_ring();
            rings.borrow_mut().push(RingHandle {
                tracer: self.id,
                ring: Arc::clone(&ring),
            });
            self.push_into(&ring, len, &try_push)
        });
        // A thread being torn down has no ring any more: count the loss.
        pushed.unwrap_or_else(|_| {
            self.count_lost();
            Ok(())
        })
    }

    fn count_lost(&self) {
        if self.stopping.load(Ordering::Relaxed) {
            self.after_close.fetch_add(1, Ordering::Relaxed);
        } else {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[inline]
    fn push_into(
        &self,
        ring: &Ring,
        len: usize,
        try_push: &impl Fn(&Ring) -> bool,
    ) -> Result<(), TraceError> {
        if self.stopping.load(Ordering::Relaxed) {
            self.after_close.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        if !ring.can_hold(len) {
            return Err(TraceError::TooLarge { len });
        }
        let mut spins = 0u32;
        loop {
            if try_push(ring) {
                // Wake the writer once when the ring passes half full (the
                // plain load keeps the locked swap off the common path).
                if ring.half_full()
                    && !ring.kicked.load(Ordering::Relaxed)
                    && !ring.kicked.swap(true, Ordering::AcqRel)
                {
                    self.wake_writer();
                }
                return Ok(());
            }
            match self.overflow {
                Overflow::Drop => {
                    ring.dropped.fetch_add(1, Ordering::Relaxed);
                    if !ring.kicked.load(Ordering::Relaxed)
                        && !ring.kicked.swap(true, Ordering::AcqRel)
                    {
                        self.wake_writer();
                    }
                    return Ok(());
                }
                Overflow::Block => {
                    if self.stopping.load(Ordering::Relaxed) {
                        self.after_close.fetch_add(1, Ordering::Relaxed);
                        return Ok(());
                    }
                    if !ring.kicked.swap(true, Ordering::AcqRel) {
                        self.wake_writer();
                    }
                    spins += 1;
                    if spins < 64 {
                        std::hint::spin_loop();
                    } else if spins < 256 {
                        thread::yield_now();
                    } else {
                        thread::sleep(Duration::from_micros(20));
                    }
                }
            }
        }
    }
}

/// The payload word of `arg` when it has exactly the declared kind (an
/// unsigned value for an unsigned type, a signed one for a signed type, in
/// range); `None` sends the record down the checked path.
#[inline(always)]
fn exact_word(kind: ArgKind, arg: Arg<'_>) -> Option<u64> {
    match (kind, arg) {
        (ArgKind::Pointer, Arg::Ptr(v) | Arg::U64(v)) => Some(v),
        (ArgKind::Bool, Arg::U64(v)) if v <= 1 => Some(v),
        (
            ArgKind::Int {
                signed: false,
                bits,
            },
            Arg::U64(v),
        ) if bits >= 64 || v >> bits == 0 => Some(v),
        (ArgKind::Int { signed: true, bits }, Arg::I64(v))
            if bits >= 64 || matches!(v >> (bits - 1), 0 | -1) =>
        {
            Some(v as u64)
        }
        _ => None,
    }
}

fn cut_len(s: Option<&[u8]>, max: Option<usize>) -> usize {
    let len = s.map_or(0, <[u8]>::len);
    max.map_or(len, |m| len.min(m))
}

#[inline]
fn payload_len(args: &[Arg<'_>], max: Option<usize>) -> usize {
    args.iter()
        .map(|a| match a {
            Arg::Str(s) => 4 + cut_len(*s, max),
            _ => 8,
        })
        .sum()
}

/// Encodes `args` as a record payload in this machine's byte order into
/// `out`, which is exactly `payload_len` bytes.
#[inline]
fn encode_payload(args: &[Arg<'_>], max: Option<usize>, out: &mut [u8]) {
    let mut at = 0;
    for arg in args {
        match *arg {
            Arg::U64(v) | Arg::Ptr(v) => {
                out[at..at + 8].copy_from_slice(&v.to_ne_bytes());
                at += 8;
            }
            Arg::I64(v) => {
                out[at..at + 8].copy_from_slice(&v.to_ne_bytes());
                at += 8;
            }
            Arg::Str(s) => {
                let n = cut_len(s, max);
                out[at..at + 4].copy_from_slice(&(n as u32).to_ne_bytes());
                out[at + 4..at + 4 + n].copy_from_slice(&s.unwrap_or_default()[..n]);
                at += 4 + n;
            }
        }
    }
}

fn into_io(e: WriteError) -> io::Error {
    match e {
        WriteError::Io(e) => e,
        other => io::Error::other(other),
    }
}

/// Where the merge stands in one ring during a pass.
struct Cursor {
    ring: Arc<Ring>,
    tail: u64,
    head: u64,
    next: Option<Header>,
}

/// How long the writer sleeps when there is nothing to write.
const IDLE_PARK: Duration = Duration::from_millis(5);

/// The drain thread hands the I/O thread this much at a time.
const OUT_BLOCK: usize = 1 << 20;

/// Blocks queued for the I/O thread before the drain thread waits.
const OUT_QUEUE: usize = 4;

/// What the drain thread sends the I/O thread.
enum IoMsg {
    Data(Vec<u8>),
    /// Write out everything before this, flush, and answer if asked.
    Flush(Option<mpsc::SyncSender<io::Result<()>>>),
}

/// The drain thread's output: records encoded in this machine's byte
/// order (what the file header, written by `TraceWriter`, declares),
/// handed in blocks to an I/O thread, so that a slow `write` never keeps
/// the drain thread from emptying the rings.
struct Output {
    buf: Vec<u8>,
    to_io: Option<mpsc::SyncSender<IoMsg>>,
    free: mpsc::Receiver<Vec<u8>>,
    io: Option<JoinHandle<io::Result<()>>>,
}

impl Output {
    fn start(mut out: Box<dyn Write + Send>) -> io::Result<Output> {
        let (to_io, from_drain) = mpsc::sync_channel::<IoMsg>(OUT_QUEUE);
        let (give_back, free) = mpsc::channel::<Vec<u8>>();
        let io = thread::Builder::new().name("simpletrace-io".into()).spawn(
            move || -> io::Result<()> {
                for msg in from_drain {
                    match msg {
                        IoMsg::Data(mut block) => {
                            out.write_all(&block)?;
                            block.clear();
                            let _ = give_back.send(block);
                        }
                        IoMsg::Flush(answer) => {
                            let flushed = out.flush();
                            match answer {
                                Some(answer) => {
                                    let _ = answer.send(flushed);
                                }
                                None => flushed?,
                            }
                        }
                    }
                }
                out.flush()
            },
        )?;
        Ok(Output {
            buf: Vec::with_capacity(OUT_BLOCK + 64 * 1024),
            to_io: Some(to_io),
            free,
            io: Some(io),
        })
    }

    fn event_header(&mut self, id: u64, timestamp_ns: u64, payload_len: u32, pid: u32) {
        let mut h = [0u8; 32];
        h[..8].copy_from_slice(&crate::format::RECORD_TYPE_EVENT.to_ne_bytes());
        h[8..16].copy_from_slice(&id.to_ne_bytes());
        h[16..24].copy_from_slice(&timestamp_ns.to_ne_bytes());
        h[24..28].copy_from_slice(&(24 + payload_len).to_ne_bytes());
        h[28..32].copy_from_slice(&pid.to_ne_bytes());
        self.buf.extend_from_slice(&h);
    }

    fn dropped(&mut self, timestamp_ns: u64, pid: u32, count: u64) {
        self.event_header(crate::format::EventId::DROPPED.0, timestamp_ns, 8, pid);
        self.buf.extend_from_slice(&count.to_ne_bytes());
    }

    /// The I/O thread's error, once it has stopped.
    fn io_failure(&mut self) -> io::Error {
        match self.io.take().map(JoinHandle::join) {
            Some(Ok(Err(e))) => e,
            Some(Err(_)) => io::Error::other("the trace I/O thread panicked"),
            _ => io::Error::other("the trace I/O thread stopped"),
        }
    }

    fn send(&mut self, msg: IoMsg) -> io::Result<()> {
        let sent = self.to_io.as_ref().map(|tx| tx.send(msg));
        match sent {
            Some(Ok(())) => Ok(()),
            _ => Err(self.io_failure()),
        }
    }

    fn hand_over(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let next = self
            .free
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(OUT_BLOCK + 64 * 1024));
        let full = std::mem::replace(&mut self.buf, next);
        self.send(IoMsg::Data(full))
    }

    fn write_if_full(&mut self) -> io::Result<()> {
        if self.buf.len() >= OUT_BLOCK {
            self.hand_over()?;
        }
        Ok(())
    }

    /// Hands everything so far to the I/O thread to write and flush,
    /// without waiting for it (so that readers see the records soon).
    fn flush_soon(&mut self) -> io::Result<()> {
        self.hand_over()?;
        self.send(IoMsg::Flush(None))
    }

    /// Waits until everything so far is written and flushed.
    fn flush(&mut self) -> io::Result<()> {
        self.hand_over()?;
        let (answer, result) = mpsc::sync_channel(1);
        self.send(IoMsg::Flush(Some(answer)))?;
        match result.recv() {
            Ok(r) => r,
            Err(_) => Err(self.io_failure()),
        }
    }

    /// Writes out the rest and stops the I/O thread.
    fn finish(mut self) -> io::Result<()> {
        self.hand_over()?;
        self.to_io = None;
        match self.io.take().map(JoinHandle::join) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(io::Error::other("the trace I/O thread panicked")),
            None => Ok(()),
        }
    }
}

fn writer_main(shared: &Shared, out: Box<dyn Write + Send>) {
    let mut converter = Converter::new(shared.clock.clone());
    let mut rings: Vec<Arc<Ring>> = Vec::new();
    let result = (|| -> io::Result<()> {
        let mut output = Output::start(out)?;
        let mut last_out = std::time::Instant::now();
        loop {
            let stopping = shared.stopping.load(Ordering::SeqCst);
            let flush_wanted = shared
                .flush
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .requested;
            if shared.rings_changed.swap(false, Ordering::AcqRel) {
                rings = shared
                    .rings
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone();
            }
            converter.refresh();
            let written = drain_pass(shared, &rings, &converter, &mut output)?;
            report_dropped(shared, &rings, &converter, &mut output);
            forget_finished(shared, &mut rings);
            let flush_done = shared
                .flush
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .done;
            if flush_wanted > flush_done {
                output.flush()?;
                let mut state = shared.flush.lock().unwrap_or_else(PoisonError::into_inner);
                state.done = state.done.max(flush_wanted);
                shared.flushed.notify_all();
            } else if written == 0 && !output.buf.is_empty() && last_out.elapsed() >= IDLE_PARK {
                // Nothing new for a while: let readers of the file see
                // what is buffered.
                output.flush_soon()?;
                last_out = std::time::Instant::now();
            }
            if written > 0 {
                last_out = std::time::Instant::now();
            }
            if stopping && written == 0 {
                return output.finish();
            }
            if written == 0 {
                thread::park_timeout(IDLE_PARK);
            }
        }
    })();
    if let Err(e) = result {
        // Stop tracing: nothing more can be written, and producers must
        // not wait for a writer that is gone.
        shared.stopping.store(true, Ordering::SeqCst);
        *shared.error.lock().unwrap_or_else(PoisonError::into_inner) = Some(e);
    }
    let mut state = shared.flush.lock().unwrap_or_else(PoisonError::into_inner);
    state.finished = true;
    shared.flushed.notify_all();
}

/// Writes every record published in the rings when the pass starts, in
/// timestamp order across rings. Returns how many.
fn drain_pass(
    shared: &Shared,
    rings: &[Arc<Ring>],
    converter: &Converter,
    output: &mut Output,
) -> io::Result<u64> {
    let mut cursors: Vec<Cursor> = rings
        .iter()
        .filter_map(|r| {
            let (tail, head) = r.published();
            (tail < head).then(|| Cursor {
                ring: Arc::clone(r),
                tail,
                head,
                next: Some(r.header_at(tail)),
            })
        })
        .collect();
    let mut written = 0u64;
    while !cursors.is_empty() {
        // With one ring busy (the usual case) there is nothing to merge.
        let pick = if cursors.len() == 1 {
            0
        } else {
            let mut best = 0;
            for (i, c) in cursors.iter().enumerate() {
                if c.next.map(|h| h.raw_time) < cursors[best].next.map(|h| h.raw_time) {
                    best = i;
                }
            }
            best
        };
        let c = &mut cursors[pick];
        let Some(h) = c.next else { break };
        output.event_header(
            u64::from(h.position),
            converter.to_ns(h.raw_time),
            h.payload_len,
            shared.pid,
        );
        c.ring.copy_payload(c.tail, h, &mut output.buf);
        c.tail += h.words();
        written += 1;
        if c.tail < c.head {
            c.next = Some(c.ring.header_at(c.tail));
        } else {
            c.ring.release(c.tail);
            cursors.swap_remove(pick);
            continue;
        }
        if written.is_multiple_of(512) {
            // Give producers their room back as the pass goes.
            c.ring.release(c.tail);
            output.write_if_full()?;
        }
    }
    for r in rings {
        r.kicked.store(false, Ordering::Release);
    }
    output.write_if_full()?;
    shared.written.fetch_add(written, Ordering::Relaxed);
    Ok(written)
}

/// Writes one dropped-events record for all losses counted since the last.
fn report_dropped(
    shared: &Shared,
    rings: &[Arc<Ring>],
    converter: &Converter,
    output: &mut Output,
) {
    let lost: u64 = rings
        .iter()
        .map(|r| r.dropped.swap(0, Ordering::AcqRel))
        .sum();
    if lost > 0 {
        shared.dropped.fetch_add(lost, Ordering::Relaxed);
        let now = converter.to_ns(shared.clock.raw());
        output.dropped(now, shared.pid, lost);
    }
}

/// Drops rings whose threads have exited and whose records are all out.
fn forget_finished(shared: &Shared, rings: &mut Vec<Arc<Ring>>) {
    let finished = |r: &Arc<Ring>| {
        let (tail, head) = r.published();
        r.closed.load(Ordering::Acquire) && tail == head && r.dropped.load(Ordering::Acquire) == 0
    };
    if rings.iter().any(finished) {
        let mut all = shared.rings.lock().unwrap_or_else(PoisonError::into_inner);
        all.retain(|r| !finished(r));
        *rings = all.clone();
    }
}

/// Records an event: `trace!(tracer, handle, arg, arg, ...)` is
/// `tracer.trace(handle, &[Arg::from(arg), ...])`.
#[macro_export]
macro_rules! trace {
    ($tracer:expr, $event:expr $(, $arg:expr)* $(,)?) => {
        $tracer.trace($event, &[$($crate::format::writer::Arg::from($arg)),*])
    };
}
