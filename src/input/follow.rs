//! Following a trace that is still being written (`--follow`): a record
//! source that reads a file as it grows, as `tail -F` does.
//!
//! QEMU's simple backend appends to `trace-PID` in bursts, so at any moment
//! the file may end inside a record. [`FollowedTrace`] reads what is there,
//! hands the driver's one record loop the whole records (a record cut at
//! the current end is read again once the rest has come, never reported),
//! and then sleeps until the file changes: woken by inotify on Linux (a
//! watch on the file's directory, which also sees the file replaced), by a
//! short timer elsewhere. It stops when told to ([`stop_on_interrupt`]:
//! Ctrl-C), when the file has not grown for [`FollowOptions::idle`], or
//! when the process [`FollowOptions::pid_exit`] names has exited (on Linux
//! a pidfd wakes it; elsewhere it looks once a second).
//!
//! A file truncated (QEMU restarted with the same file) or replaced by
//! another one at the same path is followed again from the new trace's
//! header, after a [`FollowNote`]. A file truncated and rewritten past the
//! point reached between two looks is told by its first bytes, which
//! differ (its first records' timestamps do).
//!
//! The bytes are read into one buffer, as a stream's are
//! ([`super::source`]): memory stays at a block or two however long the
//! follow lasts.

use core::fmt;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::FileId;
use super::source::{
    Blocks, Piece, PieceEnd, RecordSource, STREAM_BLOCK, STREAM_RECORD_LIMIT, SourceEnd,
    StreamError,
};
use crate::format::events::TraceEvents;
use crate::format::{self, At, FileOffset, ReaderState, RecordIndex, TraceKind, TraceReader};

/// The process writing the trace at `path`, when the file is named as
/// QEMU's simple backend names it by default, `trace-PID`, and process PID
/// has that very file (same device and inode) open for writing: then a
/// follow can stop when that QEMU exits without being told its pid
/// (`--pid-exit`). Linux only (it reads `/proc/PID/fd` and `fdinfo`);
/// `None` anywhere else, for any other name, for a process that is gone,
/// is another user's, or has the file open only for reading.
pub fn trace_writer(path: &Path) -> Option<u32> {
    let name = path.file_name()?.to_str()?;
    let pid: u32 = name.strip_prefix("trace-")?.parse().ok()?;
    if pid == std::process::id() {
        return None;
    }
    let trace = FileId::of_path(path).ok()?;
    writes_file(pid, trace).then_some(pid)
}

/// Whether process `pid` has the file `id` open for writing.
#[cfg(target_os = "linux")]
fn writes_file(pid: u32, id: FileId) -> bool {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.filter_map(Result::ok).any(|fd| {
        // The link's target, opened through /proc: the same file?
        if FileId::of_path(fd.path()).ok() != Some(id) {
            return false;
        }
        // O_WRONLY (1) or O_RDWR (2) in the open flags, which fdinfo
        // gives in octal.
        let info = std::fs::read_to_string(format!(
            "/proc/{pid}/fdinfo/{}",
            fd.file_name().to_string_lossy()
        ))
        .unwrap_or_default();
        info.lines()
            .find_map(|l| l.strip_prefix("flags:"))
            .and_then(|f| u32::from_str_radix(f.trim(), 8).ok())
            .is_some_and(|flags| flags & 0o3 != 0)
    })
}

#[cfg(not(target_os = "linux"))]
fn writes_file(_pid: u32, _id: FileId) -> bool {
    false
}

/// Where following starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FollowStart {
    /// At the first record (the whole trace so far, then what comes).
    #[default]
    Beginning,
    /// After the last whole record written so far (`--from-end`).
    End,
    /// At the last `n` event records written so far (`-n N`).
    Last(u64),
}

/// How a trace is followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FollowOptions {
    /// Stop after this long without the file growing.
    pub idle: Option<Duration>,
    /// Stop when this process has exited (the QEMU writing the trace).
    pub pid_exit: Option<u32>,
    /// Where to start.
    pub start: FollowStart,
    /// The trace has no header (`--no-header`).
    pub no_header: bool,
    /// Bytes read (and decoded) at a time at most; 0 for
    /// [`STREAM_BLOCK`].
    pub block: usize,
}

/// Something a follower saw that the user should know of, handed to the
/// callback of [`FollowedTrace::on_note`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FollowNote {
    /// The file became shorter than what had been read of it, or its
    /// first bytes changed: it was rewritten from its start.
    Truncated {
        /// The path followed.
        path: PathBuf,
    },
    /// Another file is now at the path (a new inode).
    Replaced {
        /// The path followed.
        path: PathBuf,
    },
}

impl fmt::Display for FollowNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FollowNote::Truncated { path } => write!(
                f,
                "{}: the file was truncated (a new trace?): following it again from its header",
                path.display()
            ),
            FollowNote::Replaced { path } => write!(
                f,
                "{}: the file was replaced by a new one: following the new file from its header",
                path.display()
            ),
        }
    }
}

/// Why following ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FollowStop {
    /// Interrupted ([`stop_on_interrupt`]).
    Interrupted,
    /// The file did not grow for [`FollowOptions::idle`].
    Idle,
    /// The process [`FollowOptions::pid_exit`] exited.
    WriterExited,
    /// The output was closed ([`FollowedTrace::stop_when_closed`]).
    OutputClosed,
}

/// A failure to start following a trace.
#[derive(Debug)]
#[non_exhaustive]
pub enum FollowError {
    /// The file could not be opened or read.
    Io(io::Error),
    /// Its header is not a trace header.
    Header(format::Error),
}

impl fmt::Display for FollowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FollowError::Io(e) => e.fmt(f),
            FollowError::Header(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for FollowError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FollowError::Io(e) => Some(e),
            FollowError::Header(e) => Some(e),
        }
    }
}

/// How many of the trace's first bytes are kept to tell a file rewritten
/// from its start between two looks.
const PREFIX: usize = 4096;

/// What is called with each [`FollowNote`].
type NoteFn = Box<dyn FnMut(&FollowNote)>;

/// A trace file followed as it grows; the driver reads it with
/// [`Driver::run_follow`](crate::analyzers::Driver::run_follow).
pub struct FollowedTrace {
    path: PathBuf,
    file: File,
    id: Option<FileId>,
    kind: TraceKind,
    options: FollowOptions,
    /// Only `..filled` holds trace bytes; `buf[0]` is at trace offset
    /// `base`, and the file has been read to `base + filled`.
    buf: Vec<u8>,
    filled: usize,
    base: u64,
    /// Where the next piece starts (`None`: at the trace's first record).
    state: Option<ReaderState>,
    /// The trace's first bytes as read (up to [`PREFIX`]).
    prefix: Vec<u8>,
    /// The new trace's header has not been read yet (after a restart).
    need_header: bool,
    last_growth: Instant,
    watch: Watch,
    notes: Option<NoteFn>,
    stop: Option<FollowStop>,
    tick: Option<Duration>,
}

impl fmt::Debug for FollowedTrace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FollowedTrace")
            .field("path", &self.path)
            .field("kind", &self.kind)
            .field("read", &(self.base + self.filled as u64))
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl FollowedTrace {
    /// Opens `path` to follow it: waits for its header (a trace just
    /// created may be empty), then moves to where `options.start` says,
    /// reading the records before that point without analysing them
    /// (`events` resolves them). If following stops before the header
    /// has come, the run that follows reads nothing.
    pub fn open(
        path: impl AsRef<Path>,
        events: &TraceEvents,
        options: FollowOptions,
    ) -> Result<FollowedTrace, FollowError> {
        let path = path.as_ref().to_owned();
        let file = File::open(&path).map_err(FollowError::Io)?;
        let id = FileId::of_file(&file).ok();
        let watch = Watch::new(&path, options.pid_exit);
        let block = match options.block {
            0 => STREAM_BLOCK,
            n => n,
        };
        let mut trace = FollowedTrace {
            path,
            file,
            id,
            kind: TraceKind::headerless(),
            options,
            buf: vec![0; block.clamp(64, STREAM_RECORD_LIMIT)],
            filled: 0,
            base: 0,
            state: None,
            prefix: Vec::new(),
            need_header: !options.no_header,
            last_growth: Instant::now(),
            watch,
            notes: None,
            stop: None,
            tick: None,
        };
        while trace.need_header && trace.stop.is_none() {
            trace.read_available().map_err(FollowError::Io)?;
            match trace.header() {
                Ok(Some(kind)) => trace.kind = kind,
                Ok(None) => trace.wait(),
                Err(e) => return Err(FollowError::Header(e)),
            }
        }
        if trace.stop.is_none() {
            match options.start {
                FollowStart::Beginning => {}
                FollowStart::End => {
                    trace.skip(events, None).map_err(FollowError::Io)?;
                }
                FollowStart::Last(n) => {
                    let total = trace.skip(events, None).map_err(FollowError::Io)?;
                    trace.rewind().map_err(FollowError::Io)?;
                    trace
                        .skip(events, Some(total.saturating_sub(n)))
                        .map_err(FollowError::Io)?;
                }
            }
        }
        Ok(trace)
    }

    /// Calls `note` for what the user should know of as the trace is
    /// followed (a restart).
    pub fn on_note(&mut self, note: impl FnMut(&FollowNote) + 'static) {
        self.notes = Some(Box::new(note));
    }

    /// Stops following when `output` is closed at its other end (a pipe
    /// whose reader has gone: `simpletrace -f ... | head`), even while
    /// the trace is idle and nothing is written to find out (Linux).
    #[cfg(unix)]
    pub fn stop_when_closed(&mut self, output: std::os::fd::OwnedFd) {
        self.watch.output = Some(output);
    }

    /// Wakes at least every `tick` (live reports, `stats --follow`: the
    /// record loop is then run, with whatever came, so that a report can
    /// be redrawn); `None`, the default, wakes only on a change.
    pub fn set_tick(&mut self, tick: Option<Duration>) {
        self.tick = tick;
    }

    /// The trace's kind (from its header).
    pub fn kind(&self) -> TraceKind {
        self.kind
    }

    /// Why following ended, once it has.
    pub fn stopped(&self) -> Option<FollowStop> {
        self.stop
    }

    /// The path followed.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The header of a trace read from its start, once enough of it is
    /// there: `Ok(None)` while it is shorter than a header. Marks the
    /// header read.
    fn header(&mut self) -> format::Result<Option<TraceKind>> {
        let bytes = self.buf.get(..self.filled).unwrap_or_default();
        match TraceKind::detect(bytes) {
            Ok(kind) => {
                self.need_header = false;
                Ok(Some(kind))
            }
            Err(format::Error::TruncatedHeader { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Reads what the file has now, until the buffer is full or the file
    /// ends; the bytes read.
    fn read_available(&mut self) -> io::Result<usize> {
        let mut got = 0;
        while let Some(room) = self.buf.get_mut(self.filled..).filter(|r| !r.is_empty()) {
            match self.file.read(room) {
                Ok(0) => break,
                Ok(n) => {
                    let n = n.min(room.len());
                    if self.base == 0 && self.prefix.len() < PREFIX {
                        let end = (self.filled + n).min(PREFIX);
                        if let Some(new) = self.buf.get(self.prefix.len()..end) {
                            self.prefix.extend_from_slice(new);
                        }
                    }
                    self.filled += n;
                    got += n;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if got > 0 {
            self.last_growth = Instant::now();
        }
        Ok(got)
    }

    /// A reader of the buffer from where the last piece stopped.
    fn reader<'b>(&'b self, events: &'b TraceEvents, resync: bool) -> TraceReader<'b> {
        let bytes = self.buf.get(..self.filled).unwrap_or_default();
        match &self.state {
            None => TraceReader::with_kind(bytes, events, self.kind).with_resync(resync),
            Some(s) => TraceReader::resume(bytes, events, s),
        }
    }

    /// Drops the bytes before `next` (where the next piece starts); when
    /// the rest fills the buffer (a record longer than it), the buffer
    /// doubles, up to [`STREAM_RECORD_LIMIT`]: false when it would have
    /// to grow past that.
    fn consume(&mut self, next: ReaderState) -> bool {
        let consumed = usize::try_from(next.offset().saturating_sub(self.base))
            .unwrap_or(usize::MAX)
            .min(self.filled);
        self.buf.copy_within(consumed..self.filled, 0);
        self.filled -= consumed;
        self.base += consumed as u64;
        self.state = Some(next);
        if self.filled == self.buf.len() {
            if self.buf.len() >= STREAM_RECORD_LIMIT {
                return false;
            }
            let len = self.buf.len().saturating_mul(2).min(STREAM_RECORD_LIMIT);
            self.buf.resize(len, 0);
        }
        true
    }

    /// Reads the records from where it stands without analysing them:
    /// `limit` event records, or all there are for `None`; stops at the
    /// current end of the file (before a record cut there) or at a fault
    /// (which the run then meets). The records passed.
    fn skip(&mut self, events: &TraceEvents, limit: Option<u64>) -> io::Result<u64> {
        let mut passed = 0u64;
        loop {
            self.read_available()?;
            // A full buffer may have more of the file behind it.
            let more = self.filled == self.buf.len();
            let mut reader = self.reader(events, false).with_more_to_come(true);
            let mut fault = false;
            while limit.is_none_or(|l| passed < l) {
                match reader.next() {
                    Some(Ok(_)) => passed += 1,
                    Some(Err(e)) => {
                        fault = !e.is_truncation();
                        break;
                    }
                    None => break,
                }
            }
            let next = reader.suspend();
            let room = self.consume(next);
            if fault || !room || !more || limit.is_some_and(|l| passed >= l) {
                return Ok(passed);
            }
        }
    }

    /// Goes back to the start of the file.
    fn rewind(&mut self) -> io::Result<()> {
        self.file.seek(SeekFrom::Start(0))?;
        self.filled = 0;
        self.base = 0;
        self.state = None;
        self.prefix.clear();
        Ok(())
    }

    /// Whether the file now holds another trace than the one read: shorter
    /// than what was read, or with other first bytes.
    fn rewritten(&mut self) -> bool {
        let read = self.base + self.filled as u64;
        let Ok(meta) = self.file.metadata() else {
            return false;
        };
        if meta.len() < read {
            return true;
        }
        if self.prefix.is_empty() {
            return false;
        }
        let mut head = vec![0; self.prefix.len()];
        read_at(&self.file, &mut head).is_ok_and(|n| head.get(..n) != self.prefix.get(..n))
    }

    /// Whether another file is at the path now.
    fn replaced(&self) -> bool {
        match (FileId::of_path(&self.path), self.id) {
            (Ok(now), Some(was)) => now != was,
            _ => false,
        }
    }

    /// Starts again from the start of the file at the path (a new one if
    /// `reopen`), after telling the user.
    fn restart(&mut self, note: FollowNote, reopen: bool) -> io::Result<()> {
        if let Some(notes) = self.notes.as_mut() {
            notes(&note);
        }
        if reopen {
            self.file = File::open(&self.path)?;
            self.id = FileId::of_file(&self.file).ok();
        }
        self.need_header = !self.options.no_header;
        self.rewind()
    }

    /// Sleeps until the file may have changed or following must stop
    /// (then [`FollowedTrace::stop`] says why).
    fn wait(&mut self) {
        let idle_left = self
            .options
            .idle
            .map(|idle| idle.saturating_sub(self.last_growth.elapsed()));
        if idle_left.is_some_and(|left| left.is_zero()) {
            self.stop = Some(FollowStop::Idle);
            return;
        }
        let limit = match (idle_left, self.tick) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.stop = self.watch.wait(limit);
    }
}

/// Reads the file's first bytes into `buf` (without moving its position).
#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8]) -> io::Result<usize> {
    use std::os::unix::fs::FileExt;
    let mut got = 0;
    while let Some(room) = buf.get_mut(got..).filter(|r| !r.is_empty()) {
        match file.read_at(room, got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

#[cfg(not(unix))]
fn read_at(_: &File, _: &mut [u8]) -> io::Result<usize> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

/// The record source over a followed trace.
pub(crate) struct Follow<'f, 'e> {
    trace: &'f mut FollowedTrace,
    events: &'e TraceEvents,
    resync: bool,
}

impl<'f, 'e> Follow<'f, 'e> {
    pub(crate) fn new(trace: &'f mut FollowedTrace, events: &'e TraceEvents, resync: bool) -> Self {
        Follow {
            trace,
            events,
            resync,
        }
    }

    /// What makes reading stop for good: a read failure, a record too
    /// long, a new trace with a bad header.
    fn fail(&self, e: StreamError) -> SourceEnd {
        SourceEnd {
            stream_error: Some(e),
            ..SourceEnd::default()
        }
    }
}

impl<'e> RecordSource<'e> for Follow<'_, 'e> {
    fn kind(&self) -> TraceKind {
        self.trace.kind
    }

    fn events(&self) -> &'e TraceEvents {
        self.events
    }

    fn len(&self) -> u64 {
        self.trace.base + self.trace.filled as u64
    }

    /// The first event record of the file as it is now, read apart (with
    /// `--from-end` too: times stay relative to the trace's start).
    fn first_timestamp(&mut self) -> Option<u64> {
        let mut file = File::open(&self.trace.path).ok()?;
        let mut blocks = Blocks::new(
            &mut file,
            self.events,
            self.trace.kind,
            STREAM_BLOCK,
            self.resync,
        );
        blocks.first_timestamp()
    }

    fn pieces<E>(
        &mut self,
        mut run: impl FnMut(&mut TraceReader<'_>, Piece) -> Result<PieceEnd, E>,
    ) -> Result<SourceEnd, E> {
        let received = |t: &FollowedTrace| t.base + t.filled as u64;
        // The first piece is read even when nothing new comes: `open`
        // may have read bytes already.
        let mut fresh = true;
        let mut restarted = false;
        while self.trace.stop.is_none() {
            // A trace that never stops growing never waits: an interrupt
            // is looked for here too.
            if interrupted() {
                self.trace.stop = Some(FollowStop::Interrupted);
                break;
            }
            if !fresh && self.trace.rewritten() {
                let note = FollowNote::Truncated {
                    path: self.trace.path.clone(),
                };
                if let Err(source) = self.trace.restart(note, false) {
                    let received = received(self.trace);
                    return Ok(self.fail(StreamError::Read { received, source }));
                }
                restarted = true;
            }
            let got = match self.trace.read_available() {
                Ok(got) => got,
                Err(source) => {
                    let received = received(self.trace);
                    return Ok(self.fail(StreamError::Read { received, source }));
                }
            };
            if self.trace.need_header {
                match self.trace.header() {
                    Ok(Some(kind)) if kind == self.trace.kind => {}
                    Ok(Some(_)) => return Ok(self.fail(StreamError::RestartedOtherKind)),
                    Ok(None) => {
                        self.trace.wait();
                        continue;
                    }
                    Err(e) => return Ok(self.fail(StreamError::RestartedBadHeader(e))),
                }
            }
            // A full buffer may have more of the file behind it: caught
            // up only when the file had no more.
            let caught_up = self.trace.filled < self.trace.buf.len();
            // With a tick, the loop runs at each wake, records or not, so
            // that a live report can be redrawn.
            if got > 0 || fresh || self.trace.tick.is_some() {
                fresh = false;
                let mut reader = self
                    .trace
                    .reader(self.events, self.resync)
                    .with_more_to_come(true);
                let piece = run(
                    &mut reader,
                    Piece {
                        restarted: core::mem::take(&mut restarted),
                        caught_up,
                    },
                )?;
                let cut = piece
                    .fault
                    .as_ref()
                    .is_some_and(format::Error::is_truncation);
                if piece.stopped || (piece.fault.is_some() && !cut) {
                    return Ok(SourceEnd {
                        fault: piece.fault,
                        stopped: piece.stopped,
                        stream_error: None,
                    });
                }
                let next = reader.suspend();
                let put_off = reader.resync_put_off();
                let at = At {
                    record: RecordIndex(next.records_read()),
                    offset: FileOffset(next.offset()),
                };
                if !self.trace.consume(next) {
                    let limit = STREAM_RECORD_LIMIT as u64;
                    return Ok(self.fail(if put_off {
                        StreamError::RegionTooLong { at, limit }
                    } else {
                        StreamError::RecordTooLong { at, limit }
                    }));
                }
                if !caught_up {
                    continue;
                }
            }
            if self.trace.replaced() {
                let note = FollowNote::Replaced {
                    path: self.trace.path.clone(),
                };
                if let Err(source) = self.trace.restart(note, true) {
                    let received = received(self.trace);
                    return Ok(self.fail(StreamError::Read { received, source }));
                }
                fresh = true;
                restarted = true;
                continue;
            }
            self.trace.wait();
        }
        if self.trace.stop != Some(FollowStop::WriterExited) {
            // Interrupted or idle: the trace may go on; a record cut at
            // its end is not a fault of it.
            return Ok(SourceEnd::default());
        }
        // The writer is gone: what the file holds is the whole trace, read
        // as any other (a record cut at its end is reported).
        if let Err(source) = self.trace.read_available() {
            let received = received(self.trace);
            return Ok(self.fail(StreamError::Read { received, source }));
        }
        if self.trace.need_header {
            return Ok(SourceEnd::default());
        }
        let mut reader = self
            .trace
            .reader(self.events, self.resync)
            .with_more_to_come(false);
        let piece = run(
            &mut reader,
            Piece {
                restarted,
                caught_up: true,
            },
        )?;
        Ok(SourceEnd {
            fault: piece.fault,
            stopped: piece.stopped,
            stream_error: None,
        })
    }
}

/// What wakes a follower: inotify on the file's directory (Linux), the
/// interrupt pipe, a pidfd of the writer; timers where those are missing.
struct Watch {
    #[cfg(target_os = "linux")]
    inotify: Option<std::os::fd::OwnedFd>,
    #[cfg(target_os = "linux")]
    pidfd: Option<std::os::fd::OwnedFd>,
    pid: Option<u32>,
    #[cfg(unix)]
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    output: Option<std::os::fd::OwnedFd>,
}

/// How often the file is looked at without inotify: a record flushed is
/// seen within this long.
const POLL_EVERY: Duration = Duration::from_millis(50);

/// How often the writer is looked for without a pidfd.
const PID_EVERY: Duration = Duration::from_secs(1);

impl Watch {
    fn new(path: &Path, pid: Option<u32>) -> Watch {
        Watch {
            #[cfg(target_os = "linux")]
            inotify: linux::watch_dir(path),
            #[cfg(target_os = "linux")]
            pidfd: pid.and_then(linux::pidfd),
            pid,
            #[cfg(unix)]
            output: None,
        }
    }

    /// Whether the process is gone.
    fn pid_gone(&self) -> bool {
        self.pid.is_some_and(|pid| !process_exists(pid))
    }

    /// Sleeps until something may have changed, at most `limit`; why to
    /// stop, if following must.
    fn wait(&mut self, limit: Option<Duration>) -> Option<FollowStop> {
        if interrupted() {
            return Some(FollowStop::Interrupted);
        }
        if self.pid_gone() {
            return Some(FollowStop::WriterExited);
        }
        #[cfg(target_os = "linux")]
        {
            let mut timeout = limit;
            if self.inotify.is_none() {
                timeout = Some(timeout.map_or(POLL_EVERY, |t| t.min(POLL_EVERY)));
            }
            if self.pid.is_some() && self.pidfd.is_none() {
                timeout = Some(timeout.map_or(PID_EVERY, |t| t.min(PID_EVERY)));
            }
            let woke = linux::poll(
                self.inotify.as_ref(),
                self.pidfd.as_ref(),
                signals::read_end(),
                self.output.as_ref(),
                timeout,
            );
            if woke.interrupt || interrupted() {
                return Some(FollowStop::Interrupted);
            }
            if woke.output_closed {
                return Some(FollowStop::OutputClosed);
            }
            if woke.pid || self.pid_gone() {
                return Some(FollowStop::WriterExited);
            }
            None
        }
        #[cfg(not(target_os = "linux"))]
        {
            let mut step = limit.map_or(POLL_EVERY, |t| t.min(POLL_EVERY));
            if self.pid.is_some() {
                step = step.min(PID_EVERY);
            }
            std::thread::sleep(step);
            if interrupted() {
                return Some(FollowStop::Interrupted);
            }
            if self.pid_gone() {
                return Some(FollowStop::WriterExited);
            }
            None
        }
    }
}

/// Whether process `pid` exists (a zombie still does).
#[cfg(unix)]
fn process_exists(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    #[allow(unsafe_code)]
    // SAFETY: signal 0 only checks that the process exists and may be
    // signalled; nothing is sent.
    let alive = unsafe { libc::kill(pid, 0) } == 0;
    alive || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(not(unix))]
fn process_exists(_: u32) -> bool {
    true
}

#[cfg(target_os = "linux")]
mod linux {
    use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
    use std::path::Path;
    use std::time::Duration;

    use rustix::event::{PollFd, PollFlags, Timespec};
    use rustix::fs::inotify;

    /// An inotify descriptor watching the directory of `path` for any
    /// change to the files in it (growth, truncation, a file created or
    /// renamed in: all a follower looks at), or `None` if inotify is not
    /// to be had (then the follower polls).
    pub(super) fn watch_dir(path: &Path) -> Option<OwnedFd> {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let fd =
            inotify::init(inotify::CreateFlags::CLOEXEC | inotify::CreateFlags::NONBLOCK).ok()?;
        let mask = inotify::WatchFlags::MODIFY
            | inotify::WatchFlags::CLOSE_WRITE
            | inotify::WatchFlags::ATTRIB
            | inotify::WatchFlags::CREATE
            | inotify::WatchFlags::MOVED_TO
            | inotify::WatchFlags::MOVED_FROM
            | inotify::WatchFlags::DELETE;
        inotify::add_watch(&fd, dir, mask).ok()?;
        Some(fd)
    }

    /// A pidfd of `pid` (Linux 5.3 and later): readable once it exits.
    pub(super) fn pidfd(pid: u32) -> Option<OwnedFd> {
        let pid = rustix::process::Pid::from_raw(i32::try_from(pid).ok()?)?;
        rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()).ok()
    }

    /// What woke a poll.
    #[derive(Default)]
    pub(super) struct Woke {
        pub(super) interrupt: bool,
        pub(super) pid: bool,
        pub(super) output_closed: bool,
    }

    /// Waits for any of the descriptors, at most `timeout`; drains the
    /// inotify events (their content does not matter: the follower looks
    /// at the file whatever changed).
    pub(super) fn poll(
        inotify: Option<&OwnedFd>,
        pidfd: Option<&OwnedFd>,
        interrupt: Option<BorrowedFd<'static>>,
        output: Option<&OwnedFd>,
        timeout: Option<Duration>,
    ) -> Woke {
        let mut fds = Vec::with_capacity(4);
        let mut slots = [None; 4];
        for (slot, fd) in [
            inotify.map(AsFd::as_fd),
            pidfd.map(AsFd::as_fd),
            interrupt,
            output.map(AsFd::as_fd),
        ]
        .into_iter()
        .enumerate()
        {
            if let Some(fd) = fd {
                slots[slot] = Some(fds.len());
                // The output is asked for nothing: poll still reports an
                // error or a hang-up on it (a pipe's reader gone).
                let wanted = if slot == 3 {
                    PollFlags::empty()
                } else {
                    PollFlags::IN
                };
                fds.push(PollFd::from_borrowed_fd(fd, wanted));
            }
        }
        let timeout = timeout.map(|t| Timespec {
            tv_sec: i64::try_from(t.as_secs()).unwrap_or(i64::MAX),
            tv_nsec: i64::from(t.subsec_nanos()),
        });
        let mut woke = Woke::default();
        if rustix::event::poll(&mut fds, timeout.as_ref()).is_err() {
            // Interrupted by a signal, most likely: the caller looks again.
            return woke;
        }
        let ready = |slot: Option<usize>| {
            slot.and_then(|i| fds.get(i))
                .is_some_and(|fd| !fd.revents().is_empty())
        };
        let (inotify_ready, pid_ready, interrupt_ready) =
            (ready(slots[0]), ready(slots[1]), ready(slots[2]));
        if inotify_ready && let Some(fd) = inotify {
            let mut buf = [0u8; 4096];
            // Non-blocking: read until it would block.
            while rustix::io::read(fd, &mut buf).is_ok_and(|n| n > 0) {}
        }
        woke.pid = pid_ready;
        woke.interrupt = interrupt_ready;
        woke.output_closed = slots[3]
            .and_then(|i| fds.get(i))
            .is_some_and(|fd| fd.revents().intersects(PollFlags::ERR | PollFlags::HUP));
        woke
    }
}

/// Whether an interrupt ([`stop_on_interrupt`]) has come.
fn interrupted() -> bool {
    signals::INTERRUPTED.load(std::sync::atomic::Ordering::Relaxed)
}

/// Makes Ctrl-C (SIGINT) and SIGTERM stop following instead of ending the
/// process: the run then ends as at the end of a trace (what was decoded
/// is written, reports too) and a second signal ends the process as
/// usual. For the command line, which calls it before following.
pub fn stop_on_interrupt() -> io::Result<()> {
    signals::install()
}

#[cfg(unix)]
#[allow(unsafe_code)]
mod signals {
    use std::io;
    use std::os::fd::{BorrowedFd, IntoRawFd};
    use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

    pub(super) static INTERRUPTED: AtomicBool = AtomicBool::new(false);
    /// The pipe the handler writes a byte into, which wakes a poll.
    static READ_END: AtomicI32 = AtomicI32::new(-1);
    static WRITE_END: AtomicI32 = AtomicI32::new(-1);

    /// The read end of the interrupt pipe, once installed.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    pub(super) fn read_end() -> Option<BorrowedFd<'static>> {
        let fd = READ_END.load(Ordering::Relaxed);
        // SAFETY: the pipe is made once and never closed (its descriptors
        // are leaked on purpose), so the descriptor stays valid for the
        // life of the process.
        (fd >= 0).then(|| unsafe { BorrowedFd::borrow_raw(fd) })
    }

    extern "C" fn on_signal(_: libc::c_int) {
        INTERRUPTED.store(true, Ordering::Relaxed);
        let fd = WRITE_END.load(Ordering::Relaxed);
        if fd >= 0 {
            // SAFETY: `write` is async-signal-safe, the descriptor is
            // open for the life of the process (never closed), and the
            // buffer is a valid byte. errno is saved and restored around it,
            // for the code the signal interrupted.
            #[cfg(target_os = "linux")]
            unsafe {
                let errno = *libc::__errno_location();
                let _ = libc::write(fd, [1u8].as_ptr().cast(), 1);
                *libc::__errno_location() = errno;
            }
            #[cfg(not(target_os = "linux"))]
            unsafe {
                let _ = libc::write(fd, [1u8].as_ptr().cast(), 1);
            }
        }
    }

    pub(super) fn install() -> io::Result<()> {
        if READ_END.load(Ordering::Relaxed) < 0 {
            let (read, write) = rustix::pipe::pipe_with(
                rustix::pipe::PipeFlags::CLOEXEC | rustix::pipe::PipeFlags::NONBLOCK,
            )?;
            READ_END.store(read.into_raw_fd(), Ordering::Relaxed);
            WRITE_END.store(write.into_raw_fd(), Ordering::Relaxed);
        }
        // SAFETY: a zeroed sigaction is a valid value of the type (no
        // handler, no flags, an empty mask), filled in below.
        let mut action: libc::sigaction = unsafe { core::mem::zeroed() };
        action.sa_sigaction = on_signal as *const () as usize;
        // A second signal ends the process as if none had been handled;
        // system calls other than the follower's poll go on.
        action.sa_flags = libc::SA_RESETHAND | libc::SA_RESTART;
        // SAFETY: `sa_mask` is a valid sigset_t to initialise.
        unsafe { libc::sigemptyset(&mut action.sa_mask) };
        for signal in [libc::SIGINT, libc::SIGTERM] {
            // SAFETY: the handler only touches atomics and calls `write`,
            // both async-signal-safe; `action` is fully initialised.
            if unsafe { libc::sigaction(signal, &action, core::ptr::null_mut()) } != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(())
    }
}

#[cfg(not(unix))]
mod signals {
    use std::sync::atomic::AtomicBool;

    pub(super) static INTERRUPTED: AtomicBool = AtomicBool::new(false);

    pub(super) fn install() -> std::io::Result<()> {
        Ok(())
    }
}
