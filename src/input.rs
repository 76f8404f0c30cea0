//! Opening trace and trace-events files.
//!
//! [`TraceInput::open`] opens a trace the way the command line does: a
//! regular file (standard input too, when it is one) is memory-mapped, so
//! decoding never copies it; a pipe, a compressed file (gzip, zstd or xz,
//! told by its first bytes) or anything else that cannot be mapped becomes
//! a [`TraceStream`], read and decoded a block at a time in bounded memory.
//! [`TraceData::open`] maps a file or reads the whole input into memory.

use core::fmt;
use core::ops::Deref;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use memmap2::Mmap;

use crate::format::{EventsError, TraceEvents, TraceReader};

mod file_id;
pub(crate) mod follow;
mod mapped;
pub(crate) mod source;
mod stream;

pub use file_id::FileId;
pub use follow::{
    FollowError, FollowNote, FollowOptions, FollowStart, FollowStop, FollowedTrace,
    stop_on_interrupt, trace_writer,
};
pub use mapped::{MappedFile, Shrink};
pub use source::{STREAM_BLOCK, STREAM_RECORD_LIMIT, StreamError};
pub use stream::{CompressedDataEnds, Compression, StreamSetupError, TraceStream};

/// A failure to open or read an input file.
#[derive(Debug)]
pub enum InputError {
    /// The file could not be opened or read.
    Io {
        /// The path as given.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// The trace-events file is not valid.
    Events(EventsError),
    /// A trace read as a stream could not be set up: its first bytes could
    /// not be read or decompressed, or its compression is not built in.
    Stream {
        /// The path as given.
        path: PathBuf,
        /// What went wrong.
        source: StreamSetupError,
    },
    /// A text input (a trace-events file, an events file) is longer than
    /// the bound it is read to ([`MAX_TEXT_LEN`], see [`read_text`]).
    TextTooLong {
        /// The path as given.
        path: PathBuf,
        /// The bound, in bytes.
        limit: usize,
    },
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InputError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            InputError::Events(e) => e.fmt(f),
            InputError::Stream { path, source } => write!(f, "{}: {source}", path.display()),
            InputError::TextTooLong { path, limit } => write!(
                f,
                "{}: the file has more than {limit} bytes ({} MiB), the most read of a text \
                 input such as a trace-events file: is it the right file?",
                path.display(),
                limit >> 20
            ),
        }
    }
}

impl std::error::Error for InputError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            InputError::Io { source, .. } => Some(source),
            InputError::Events(e) => Some(e),
            InputError::Stream { source, .. } => Some(source),
            InputError::TextTooLong { .. } => None,
        }
    }
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> InputError + '_ {
    move |source| InputError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Reads and parses a trace-events file (such as `trace-events-all`),
/// through [`read_text`]. Errors name the path and line.
pub fn read_trace_events(path: impl AsRef<Path>) -> Result<TraceEvents, InputError> {
    let path = path.as_ref();
    let text = read_text(path)?;
    TraceEvents::parse(&path.display().to_string(), &text).map_err(InputError::Events)
}

/// The most bytes a text input (a trace-events file, an events file) may
/// have: 16 MiB. QEMU's `trace-events-all` is a few hundred KiB (527 KB for
/// a QEMU 10 system build for AVR); the bound stops a wrong file (a disk
/// image, `/dev/zero`, a FIFO that never ends) with an error before it
/// fills the memory.
pub const MAX_TEXT_LEN: usize = 16 << 20;

/// Reads a whole text input: a trace-events file or an events file, or
/// anything else read whole as text (a regular file, a FIFO, a device,
/// `/dev/stdin`). At most [`MAX_TEXT_LEN`] bytes: a regular file known to
/// be longer is refused before it is read, and any other input is read to
/// the bound plus one byte, and refused if it has that byte
/// ([`InputError::TextTooLong`]). An input that ends within the bound
/// (a FIFO whose writer closes it) is read whole. `-` is standard input
/// (read to its end: only one input of a run can be it).
pub fn read_text(path: impl AsRef<Path>) -> Result<Vec<u8>, InputError> {
    read_text_within(path.as_ref(), MAX_TEXT_LEN)
}

/// [`read_text`] with the bound `limit`.
fn read_text_within(path: &Path, limit: usize) -> Result<Vec<u8>, InputError> {
    let too_long = || InputError::TextTooLong {
        path: path.to_owned(),
        limit,
    };
    if path.as_os_str() == "-" {
        return match read_within(&mut io::stdin().lock(), limit, 0).map_err(io_error(path))? {
            Some(text) => Ok(text),
            None => Err(too_long()),
        };
    }
    let mut file = File::open(path).map_err(io_error(path))?;
    let known = file
        .metadata()
        .ok()
        .filter(|m| m.is_file())
        .map(|m| m.len());
    if known.is_some_and(|len| len > limit as u64) {
        return Err(too_long());
    }
    let hint = known.map_or(0, |len| len as usize);
    match read_within(&mut file, limit, hint).map_err(io_error(path))? {
        Some(text) => Ok(text),
        None => Err(too_long()),
    }
}

/// Reads `reader` to its end, or `None` if it has more than `limit` bytes,
/// holding at most `limit` bytes and reading at most one byte past them:
/// the buffer starts at `hint` bytes (the size of a regular file) and grows
/// by doubling but never past `limit`, and a full buffer is only grown once
/// a few more bytes (never past `limit + 1` in all) have been read aside, so
/// an input that ends there costs no more room.
fn read_within(reader: &mut impl Read, limit: usize, hint: usize) -> io::Result<Option<Vec<u8>>> {
    /// The most bytes made ready (zeroed) for reading at a time.
    const STEP: usize = 64 << 10;
    let oom = |_| io::Error::from(io::ErrorKind::OutOfMemory);
    let mut text = Vec::new();
    text.try_reserve_exact(hint.min(limit)).map_err(oom)?;
    // `text[..len]` has been read; `text[len..]` is zeroed room for more,
    // each byte zeroed once however little each read returns.
    let mut len = 0;
    let mut probe = [0u8; 32];
    loop {
        if len == text.capacity() {
            // Never more than one byte past the bound.
            let room = (limit - len).saturating_add(1).min(probe.len());
            let n = read_some(reader, &mut probe[..room])?;
            if n == 0 {
                return Ok(Some(text));
            }
            if n > limit - len {
                return Ok(None);
            }
            let grow = text.capacity().max(8 << 10).min(limit - len).max(n);
            text.try_reserve_exact(grow).map_err(oom)?;
            text.extend_from_slice(&probe[..n]);
            len += n;
            continue;
        }
        if len == text.len() {
            text.resize(text.capacity().min(len + STEP), 0);
        }
        let n = read_some(reader, &mut text[len..])?;
        if n == 0 {
            text.truncate(len);
            return Ok(Some(text));
        }
        len += n;
    }
}

/// One `read`, retried when interrupted.
fn read_some(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match reader.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

fn stream_error(path: &Path) -> impl FnOnce(StreamSetupError) -> InputError + '_ {
    move |source| InputError::Stream {
        path: path.to_owned(),
        source,
    }
}

/// A trace opened for reading: all its bytes at hand (a memory map), or a
/// stream read front to back.
#[derive(Debug)]
pub enum TraceInput {
    /// A regular file, memory-mapped.
    Data(TraceData),
    /// A pipe, a compressed file, or a file that could not be mapped.
    Stream(TraceStream),
}

impl TraceInput {
    /// Opens a trace: `-` is standard input. A regular file that is not
    /// compressed is memory-mapped (also as standard input, `- < trace`,
    /// when it is read from its start); a compressed file (by its first
    /// bytes: gzip `1f 8b`, zstd `28 b5 2f fd`, xz `fd 37 7a 58 5a 00`,
    /// whatever its name), a pipe, a device, or an empty or unmappable
    /// file is read as a stream.
    pub fn open(path: impl AsRef<Path>) -> Result<TraceInput, InputError> {
        let path = path.as_ref();
        if path.as_os_str() == "-" {
            return Self::stdin(path);
        }
        let file = File::open(path).map_err(io_error(path))?;
        Self::from_file(file, path)
    }

    /// Whether this is a stream.
    pub fn is_stream(&self) -> bool {
        matches!(self, TraceInput::Stream(_))
    }

    #[cfg(unix)]
    fn stdin(path: &Path) -> Result<TraceInput, InputError> {
        use std::io::Seek;
        use std::os::fd::AsFd;
        // A regular file on standard input is mapped like any other, unless
        // something has already read part of it: the trace is what is left.
        let fd = io::stdin().as_fd().try_clone_to_owned();
        if let Ok(fd) = fd {
            let mut file = File::from(fd);
            let regular = file.metadata().is_ok_and(|m| m.is_file());
            if regular && file.stream_position().is_ok_and(|p| p == 0) {
                return Self::from_file(file, path);
            }
        }
        Self::pipe(io::stdin(), path, None)
    }

    #[cfg(not(unix))]
    fn stdin(path: &Path) -> Result<TraceInput, InputError> {
        Self::pipe(io::stdin(), path, None)
    }

    /// Opens a trace from a file already open, as [`TraceInput::open`]
    /// opens one by path: a regular file that is not compressed is
    /// memory-mapped from its first byte, whatever the file's position; a
    /// compressed one, a pipe or anything that cannot be mapped is read as
    /// a stream from the file's position. `path` names it in errors. (For
    /// bindings handed an open file, such as the Python module.)
    pub fn from_file(file: File, path: &Path) -> Result<TraceInput, InputError> {
        match MappedFile::open(file) {
            Ok(map) if Compression::detect(&map).is_none() => {
                Ok(TraceInput::Data(TraceData::Mapped(map)))
            }
            // A compressed file: streamed from its first byte.
            Ok(map) => {
                let file = map.into_file();
                let len = left_of(&file);
                Self::pipe(file, path, len)
            }
            Err(file) => {
                let len = left_of(&file);
                Self::pipe(file, path, len)
            }
        }
    }

    fn pipe(
        source: impl Read + Send + 'static,
        path: &Path,
        len: Option<u64>,
    ) -> Result<TraceInput, InputError> {
        let stream = TraceStream::new(source).map_err(stream_error(path))?;
        Ok(TraceInput::Stream(match len {
            Some(len) => stream.with_source_len(len),
            None => stream,
        }))
    }
}

/// The bytes of `file` from its position to its end, when it is a regular
/// file (a progress bar's total); `None` for a pipe or a device.
fn left_of(file: &File) -> Option<u64> {
    use std::io::Seek;
    let meta = file.metadata().ok().filter(std::fs::Metadata::is_file)?;
    let at = (&*file).stream_position().ok()?;
    Some(meta.len().saturating_sub(at))
}

/// The bytes of a trace: a read-only memory map or an owned buffer.
///
/// Dereferences to `&[u8]`, the input of [`crate::format::TraceReader`].
pub enum TraceData {
    /// A memory-mapped regular file, guarded against shrinking under the
    /// reader ([`MappedFile`]).
    Mapped(MappedFile),
    /// Bytes read into memory.
    Owned(Vec<u8>),
}

impl fmt::Debug for TraceData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self {
            TraceData::Mapped(_) => "Mapped",
            TraceData::Owned(_) => "Owned",
        };
        write!(f, "TraceData::{kind}({} bytes)", self.len())
    }
}

impl Deref for TraceData {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            TraceData::Mapped(m) => m,
            TraceData::Owned(v) => v,
        }
    }
}

impl AsRef<[u8]> for TraceData {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl TraceData {
    /// Opens a trace: `-` reads standard input; a regular file is
    /// memory-mapped; anything else (a pipe, a device) is read into memory
    /// whole. Compressed data is not decompressed: see [`TraceInput::open`]
    /// for that, and for pipes in bounded memory.
    ///
    /// The map is read-only. A program that truncates the file while it
    /// is being read does not end this process (as it would with a plain
    /// map, by `SIGBUS`): read with [`TraceData::reader`], the records stop
    /// with [`Error::Cut`](crate::format::Error::Cut) where the file was
    /// cut, and [`TraceData::shrink`] says how it changed.
    pub fn open(path: impl AsRef<Path>) -> Result<TraceData, InputError> {
        let path = path.as_ref();
        if path.as_os_str() == "-" {
            return Self::from_reader(io::stdin().lock()).map_err(io_error(path));
        }
        let file = File::open(path).map_err(io_error(path))?;
        match MappedFile::open(file) {
            Ok(map) => Ok(TraceData::Mapped(map)),
            Err(file) => Self::from_reader(file).map_err(io_error(path)),
        }
    }

    /// A reader of these bytes (checking the header), which stops where
    /// a mapped file was found cut short while it was read.
    pub fn reader<'a>(&'a self, events: &'a TraceEvents) -> crate::format::Result<TraceReader<'a>> {
        TraceReader::new(self, events).map(|r| self.guard(r))
    }

    /// `reader`, stopping where a mapped file was found cut short while it
    /// was read ([`TraceReader::with_valid_len`]); unchanged for bytes in
    /// memory.
    pub fn guard<'a>(&'a self, reader: TraceReader<'a>) -> TraceReader<'a> {
        match self {
            TraceData::Mapped(map) => reader.with_valid_len(map.valid_len()),
            TraceData::Owned(_) => reader,
        }
    }

    /// How a mapped file changed while it was read, if it shrank
    /// ([`MappedFile::shrink`]); `None` for bytes in memory.
    pub fn shrink(&self) -> Option<Shrink> {
        match self {
            TraceData::Mapped(map) => map.shrink(),
            TraceData::Owned(_) => None,
        }
    }

    /// Reads a whole trace from `reader` into memory.
    pub fn from_reader(mut reader: impl Read) -> io::Result<TraceData> {
        let mut bytes = Vec::new();
        reader.read_to_end(&mut bytes)?;
        Ok(TraceData::Owned(bytes))
    }

    /// Copies a trace read as a stream (a pipe, a decompressor) into
    /// `into`, a file of the caller's (an unlinked temporary file, as a
    /// rule), and maps that: for readers that need the whole trace in
    /// place (the SQL tables' partitions, the Parquet export) but should
    /// not hold it in memory. Compressed data that ends early is a trace
    /// cut off where its decompressed bytes end, as for every reader: the
    /// bytes before the cut are kept and the cut is returned beside them.
    /// Any other read error, or a write error (a full disk), fails.
    ///
    /// ```
    /// use simpletrace::input::TraceData;
    ///
    /// let pipe: &[u8] = b"bytes of a trace";
    /// let (data, cut) = TraceData::spool(pipe, tempfile_in_target()?)?;
    /// assert_eq!(&*data, b"bytes of a trace");
    /// assert!(cut.is_none() && data.is_mapped());
    /// # fn tempfile_in_target() -> std::io::Result<std::fs::File> {
    /// #     let path = std::env::temp_dir().join(format!("spool-doc-{}", std::process::id()));
    /// #     let file = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&path)?;
    /// #     std::fs::remove_file(&path)?;
    /// #     Ok(file)
    /// # }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn spool(
        mut stream: impl Read,
        into: File,
    ) -> io::Result<(TraceData, Option<CompressedDataEnds>)> {
        use std::io::Write;
        let mut cut = None;
        let mut out = io::BufWriter::with_capacity(1 << 20, into);
        let mut buf = vec![0u8; 1 << 20];
        loop {
            match stream.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => out.write_all(buf.get(..n).unwrap_or(&buf))?,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => match CompressedDataEnds::of(&e) {
                    Some(ends) => {
                        cut = Some(*ends);
                        break;
                    }
                    None => return Err(e),
                },
            }
        }
        let file = out.into_inner().map_err(io::IntoInnerError::into_error)?;
        let data = match MappedFile::open(file) {
            Ok(map) => TraceData::Mapped(map),
            // Nothing to map (an empty stream), or a file system that
            // does not map: read it back.
            Err(mut file) => {
                io::Seek::rewind(&mut file)?;
                Self::from_reader(file)?
            }
        };
        Ok((data, cut))
    }

    /// Whether the data is memory-mapped.
    pub fn is_mapped(&self) -> bool {
        matches!(self, TraceData::Mapped(_))
    }

    /// Tells the kernel that the bytes before `offset` will not be read
    /// again, so a mapped file's pages stop counting towards this process's
    /// memory (they stay in the page cache). Reading them later still works:
    /// the kernel maps them back in from the file. Does nothing for data
    /// read into memory.
    pub fn release_before(&self, offset: usize) {
        #[cfg(unix)]
        if let TraceData::Mapped(map) = self {
            let len = offset.min(map.len()) & !(page_size() - 1);
            if len > 0 {
                release_pages(map.map(), len);
            }
        }
    }
}

#[cfg(unix)]
fn page_size() -> usize {
    // Every Linux architecture QEMU runs on uses 4 KiB or larger pages;
    // rounding down to 64 KiB keeps the range page-aligned on all of them.
    64 * 1024
}

#[cfg(unix)]
#[allow(unsafe_code)]
fn release_pages(map: &Mmap, len: usize) {
    // SAFETY: `map` is a read-only shared mapping of a file. MADV_DONTNEED on
    // such a mapping only drops page-table entries; a later access faults
    // the same bytes back in from the file, so any slice still borrowing
    // the range keeps seeing identical contents. `len` is within the map.
    let _ = unsafe { map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, 0, len) };
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader of `len` bytes handing out at most `step` per read.
    struct Trickle {
        left: usize,
        step: usize,
    }

    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(self.step).min(self.left);
            buf[..n].fill(b'x');
            self.left -= n;
            Ok(n)
        }
    }

    #[test]
    fn text_is_read_to_the_bound_and_no_further() {
        let limit = 100_000;
        for step in [1, 7, 4096, 1 << 20] {
            for (len, hint) in [(0, 0), (99_999, 0), (limit, 0), (limit, limit), (50, 50)] {
                let mut r = Trickle { left: len, step };
                let text = read_within(&mut r, limit, hint).unwrap().unwrap();
                assert_eq!(text.len(), len, "{step} {len}");
                assert!(
                    text.capacity() <= limit,
                    "{step} {len}: {}",
                    text.capacity()
                );
            }
            for len in [limit + 1, 10 * limit] {
                let mut r = Trickle { left: len, step };
                assert!(read_within(&mut r, limit, 0).unwrap().is_none());
                // Read to the bound and one byte further, no more.
                assert_eq!(len - r.left, limit + 1, "{step} {len}");
            }
        }
    }
}
