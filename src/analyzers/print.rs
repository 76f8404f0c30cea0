//! The drop-in printer: one line per event record, byte for byte what QEMU's
//! `scripts/simpletrace.py` prints.
//!
//! ```text
//! NAME DELTA_US pid=PID ARG=VALUE ARG=VALUE ...
//! ```
//!
//! ```
//! use simpletrace::analyzers::print::Printer;
//! use simpletrace::format::{ArgValue, TraceEvents, TraceReader, encode};
//!
//! let events = TraceEvents::parse("te", b"open(const char *path, int fd)\n")?;
//! let mut trace = Vec::new();
//! encode::header(&mut trace, 4);
//! encode::mapping(&mut trace, 0, b"open");
//! encode::event(&mut trace, 0, 1_000, 42, &[ArgValue::Str(b"/tmp/x"), ArgValue::Int(3)]);
//! encode::event(&mut trace, 0, 3_500, 42, &[ArgValue::Str(b"it's"), ArgValue::Int(-1i64 as u64)]);
//!
//! let mut out = Vec::new();
//! let mut printer = Printer::new();
//! for record in TraceReader::new(&trace, &events)? {
//!     printer.write_record(&mut out, &record?)?;
//! }
//! assert_eq!(
//!     String::from_utf8(out)?,
//!     "open 0.000 pid=42 path=b'/tmp/x' fd=0x3\n\
//!      open 2.500 pid=42 path=b\"it's\" fd=0xffffffffffffffff\n"
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use core::fmt;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, mpsc};

use crate::format::chunks::{Chunk, Chunks};
use crate::format::{self, ArgValue, EventDecl, Record, TraceReader, pyfmt};

/// Text that is appended often: short pieces are kept in a fixed block so
/// that appending is a fixed-size copy (see `pyfmt::push_padded`).
#[derive(Debug, Clone)]
enum Piece {
    Short([u8; 64], u8),
    Long(Box<[u8]>),
}

impl Piece {
    fn new(parts: &[&[u8]]) -> Piece {
        let bytes: Vec<u8> = parts.concat();
        if bytes.len() <= 64 {
            let mut block = [0u8; 64];
            block[..bytes.len()].copy_from_slice(&bytes);
            Piece::Short(block, bytes.len() as u8)
        } else {
            Piece::Long(bytes.into_boxed_slice())
        }
    }

    #[inline(always)]
    fn push(&self, out: &mut Vec<u8>) {
        match self {
            Piece::Short(block, len) => pyfmt::push_padded(out, block, usize::from(*len)),
            Piece::Long(bytes) => out.extend_from_slice(bytes),
        }
    }
}

/// The constant parts of one event's lines, built once per event.
#[derive(Debug, Clone)]
struct Layout {
    /// Address of the declaration this was built from (identity only).
    decl: usize,
    /// `NAME ` (the delta follows).
    head: Piece,
    /// `ARG=` for the first argument, ` ARG=` for the others.
    args: Vec<Piece>,
}

impl Layout {
    fn new(decl: &EventDecl) -> Layout {
        Layout {
            decl: decl as *const EventDecl as usize,
            head: Piece::new(&[decl.name.as_bytes(), b" "]),
            args: decl
                .args
                .iter()
                .enumerate()
                .map(|(i, a)| {
                    let sep: &[u8] = if i == 0 { b"" } else { b" " };
                    Piece::new(&[sep, a.name.as_bytes(), b"="])
                })
                .collect(),
        }
    }
}

/// Formats records as `simpletrace.py` does, tracking the previous
/// timestamp for the delta column.
#[derive(Debug, Clone, Default)]
pub struct Printer {
    last_timestamp_ns: Option<u64>,
    /// Layouts by declaration position.
    layouts: Vec<Option<Layout>>,
    dropped: Option<Layout>,
}

impl Printer {
    /// A printer whose first record prints a delta of `0.000`.
    pub fn new() -> Self {
        Self::default()
    }

    /// A printer that continues after a record with this timestamp.
    pub fn after(timestamp_ns: Option<u64>) -> Self {
        Printer {
            last_timestamp_ns: timestamp_ns,
            ..Self::default()
        }
    }

    /// The layout of `decl`, built on first use.
    #[inline(always)]
    fn layout(&mut self, decl: &EventDecl) -> &Layout {
        let slot = if decl.is_dropped_pseudo() {
            &mut self.dropped
        } else {
            let i = decl.position;
            if i >= self.layouts.len() {
                self.layouts.resize(i + 1, None);
            }
            &mut self.layouts[i]
        };
        let address = decl as *const EventDecl as usize;
        if slot.as_ref().is_none_or(|l| l.decl != address) {
            *slot = Some(Layout::new(decl));
        }
        slot.get_or_insert_with(|| Layout::new(decl))
    }

    /// Appends one line for `record` to `out`. On an argument fault nothing
    /// is appended and the previous timestamp is kept.
    #[inline]
    pub fn write_record(&mut self, out: &mut Vec<u8>, record: &Record<'_>) -> format::Result<()> {
        let start = out.len();
        let prev = self.last_timestamp_ns.unwrap_or(record.timestamp_ns);
        let layout = self.layout(record.decl);
        layout.head.push(out);
        pyfmt::write_delta_us(out, prev, record.timestamp_ns);
        pyfmt::push_padded(out, b" pid=", 5);
        pyfmt::write_decimal(out, u64::from(record.pid));
        out.push(b' ');
        for (value, piece) in record.args().zip(&layout.args) {
            let value = match value {
                Ok(v) => v,
                Err(e) => {
                    out.truncate(start);
                    return Err(e);
                }
            };
            piece.push(out);
            match value {
                ArgValue::Int(v) => pyfmt::write_hex(out, v),
                ArgValue::Str(s) => pyfmt::write_bytes_repr(out, s),
            }
        }
        out.push(b'\n');
        self.last_timestamp_ns = Some(record.timestamp_ns);
        Ok(())
    }
}

/// Why printing stopped early.
#[derive(Debug)]
pub enum PrintError {
    /// Writing the output failed (a closed pipe, a full disk).
    Io(io::Error),
    /// The trace has a fault; every record before it was printed.
    Trace(format::Error),
}

impl fmt::Display for PrintError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PrintError::Io(e) => write!(f, "writing the output failed: {e}"),
            PrintError::Trace(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for PrintError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PrintError::Io(e) => Some(e),
            PrintError::Trace(e) => Some(e),
        }
    }
}

/// How often output is handed to the writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Buffering {
    /// After every line (for a terminal).
    Line,
    /// In blocks of about 256 KiB (for pipes and files).
    Block,
}

const BLOCK: usize = 256 * 1024;

/// What [`print_trace`] printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PrintSummary {
    /// Event records printed.
    pub records: u64,
}

/// How [`print_trace`] divides the work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parallelism {
    /// Threads that format records (1: format on the calling thread).
    pub threads: usize,
    /// Bytes of trace per chunk handed to a thread.
    pub chunk_bytes: usize,
}

impl Parallelism {
    /// One thread: the plain sequential loop.
    pub const SEQUENTIAL: Parallelism = Parallelism {
        threads: 1,
        chunk_bytes: DEFAULT_CHUNK_BYTES,
    };

    /// `threads` threads with the default chunk size for that many:
    /// [`DEFAULT_CHUNK_BYTES`] up to 4 threads, smaller beyond so that the
    /// chunk texts in flight stay within about 64 MiB.
    pub fn threads(threads: usize) -> Parallelism {
        let threads = threads.max(1);
        Parallelism {
            threads,
            chunk_bytes: (DEFAULT_CHUNK_BYTES * 4 / threads).clamp(256 << 10, DEFAULT_CHUNK_BYTES),
        }
    }
}

/// Chunk size for up to 4 threads. Through a pipe, 4 MiB beat 1 MiB by
/// about 10% (fewer hand-offs and larger writes); to `/dev/null` they tie.
/// Each chunk's text is about 1.5 times its size.
pub const DEFAULT_CHUNK_BYTES: usize = 4 << 20;

/// How often the sequential loop reports progress to `on_written`.
const RELEASE_EVERY: usize = 8 << 20;

/// Prints every event record of `reader` to `out`, on `parallelism.threads`
/// threads. The output is the same bytes whatever the thread count. On a
/// trace fault every line before it has been written when the error
/// returns.
///
/// `on_written(offset)` is called as output is written: the trace bytes
/// before `offset` will not be read again (a memory-mapped input can drop
/// them from memory).
pub fn print_trace(
    reader: TraceReader<'_>,
    out: &mut impl Write,
    buffering: Buffering,
    parallelism: Parallelism,
    on_written: &mut dyn FnMut(usize),
) -> Result<PrintSummary, PrintError> {
    let left = reader
        .data_len()
        .saturating_sub(reader.position().0 as usize);
    if parallelism.threads <= 1 || left < 2 * parallelism.chunk_bytes {
        print_sequential(reader, out, buffering, on_written)
    } else {
        print_parallel(reader, out, parallelism, on_written)
    }
}

fn print_sequential(
    mut reader: TraceReader<'_>,
    out: &mut impl Write,
    buffering: Buffering,
    on_written: &mut dyn FnMut(usize),
) -> Result<PrintSummary, PrintError> {
    let threshold = match buffering {
        Buffering::Line => 0,
        Buffering::Block => BLOCK,
    };
    let mut buf = Vec::with_capacity(BLOCK + 4096);
    let mut printer = Printer::new();
    let mut summary = PrintSummary::default();
    let mut fault = None;
    let mut next_release = RELEASE_EVERY;
    while let Some(record) = reader.next() {
        let written = record.and_then(|r| printer.write_record(&mut buf, &r));
        if let Err(e) = written {
            fault = Some(e);
            break;
        }
        summary.records += 1;
        if buf.len() > threshold {
            out.write_all(&buf).map_err(PrintError::Io)?;
            buf.clear();
            let pos = reader.position().0 as usize;
            if pos >= next_release {
                on_written(pos);
                next_release = pos + RELEASE_EVERY;
            }
        }
    }
    out.write_all(&buf).map_err(PrintError::Io)?;
    out.flush().map_err(PrintError::Io)?;
    match fault {
        Some(e) => Err(PrintError::Trace(e)),
        None => Ok(summary),
    }
}

/// What formatting one chunk produced.
struct ChunkText {
    text: Vec<u8>,
    records: u64,
    fault: Option<format::Error>,
    end: usize,
}

fn format_chunk(chunk: Chunk<'_>, mut text: Vec<u8>) -> ChunkText {
    let mut printer = Printer::after(chunk.prev_timestamp_ns);
    let mut records = 0;
    let mut fault = None;
    for record in chunk.reader {
        if let Err(e) = record.and_then(|r| printer.write_record(&mut text, &r)) {
            fault = Some(e);
            break;
        }
        records += 1;
    }
    ChunkText {
        text,
        records,
        fault,
        end: chunk.range.end,
    }
}

/// The parallel pipeline: a scanner thread cuts chunks, rayon workers
/// format them into their own buffers, and the calling thread writes the
/// buffers in chunk order. A bounded queue of pending chunks keeps memory
/// flat: at most `2 * threads + 3` chunk texts exist at once (being
/// formatted, queued, being written).
fn print_parallel(
    reader: TraceReader<'_>,
    out: &mut impl Write,
    parallelism: Parallelism,
    on_written: &mut dyn FnMut(usize),
) -> Result<PrintSummary, PrintError> {
    let threads = parallelism.threads;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("simpletrace-fmt-{i}"))
        .build()
        .map_err(|e| PrintError::Io(io::Error::other(e)))?;
    let spare: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
    let stop = AtomicBool::new(false);
    let chunk_bytes = parallelism.chunk_bytes;
    pool.in_place_scope(|workers| {
        std::thread::scope(|s| {
            let (order_tx, order_rx) = mpsc::sync_channel::<mpsc::Receiver<ChunkText>>(threads + 2);
            let (spare, stop) = (&spare, &stop);
            s.spawn(move || {
                for chunk in Chunks::new(reader, chunk_bytes) {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let (tx, rx) = mpsc::sync_channel(1);
                    if order_tx.send(rx).is_err() {
                        break;
                    }
                    workers.spawn(move |_| {
                        if stop.load(Ordering::Relaxed) {
                            return;
                        }
                        let buf = spare
                            .lock()
                            .ok()
                            .and_then(|mut v| v.pop())
                            .unwrap_or_else(|| Vec::with_capacity(chunk_bytes * 2));
                        let _ = tx.send(format_chunk(chunk, buf));
                    });
                }
            });
            let result = write_in_order(order_rx, out, spare, on_written);
            if result.is_err() {
                stop.store(true, Ordering::Relaxed);
            }
            result
        })
    })
}

/// The writer's side of the pipeline; returning drops the queue, which
/// stops the scanner.
fn write_in_order(
    order: mpsc::Receiver<mpsc::Receiver<ChunkText>>,
    out: &mut impl Write,
    spare: &Mutex<Vec<Vec<u8>>>,
    on_written: &mut dyn FnMut(usize),
) -> Result<PrintSummary, PrintError> {
    let mut summary = PrintSummary::default();
    for pending in order {
        let Ok(mut chunk) = pending.recv() else {
            return Err(PrintError::Io(io::Error::other(
                "a formatting thread stopped without a result",
            )));
        };
        out.write_all(&chunk.text).map_err(PrintError::Io)?;
        summary.records += chunk.records;
        if let Some(e) = chunk.fault {
            out.flush().map_err(PrintError::Io)?;
            return Err(PrintError::Trace(e));
        }
        on_written(chunk.end);
        chunk.text.clear();
        if let Ok(mut v) = spare.lock() {
            v.push(chunk.text);
        }
    }
    out.flush().map_err(PrintError::Io)?;
    Ok(summary)
}
