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
mod mapped;
mod stream;

pub use file_id::FileId;
pub use mapped::{MappedFile, Shrink};
pub use stream::{Compression, StreamSetupError, TraceStream};

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
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InputError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            InputError::Events(e) => e.fmt(f),
            InputError::Stream { path, source } => write!(f, "{}: {source}", path.display()),
        }
    }
}

impl std::error::Error for InputError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            InputError::Io { source, .. } => Some(source),
            InputError::Events(e) => Some(e),
            InputError::Stream { source, .. } => Some(source),
        }
    }
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> InputError + '_ {
    move |source| InputError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Reads and parses a trace-events file (such as `trace-events-all`).
/// Errors name the path and line.
pub fn read_trace_events(path: impl AsRef<Path>) -> Result<TraceEvents, InputError> {
    let path = path.as_ref();
    let text = std::fs::read(path).map_err(io_error(path))?;
    TraceEvents::parse(&path.display().to_string(), &text).map_err(InputError::Events)
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
        Self::pipe(io::stdin(), path)
    }

    #[cfg(not(unix))]
    fn stdin(path: &Path) -> Result<TraceInput, InputError> {
        Self::pipe(io::stdin(), path)
    }

    /// A regular file that is not compressed is mapped; anything else is
    /// a stream, which recognizes a compression by the first bytes.
    fn from_file(file: File, path: &Path) -> Result<TraceInput, InputError> {
        match MappedFile::open(file) {
            Ok(map) if Compression::detect(&map).is_none() => {
                Ok(TraceInput::Data(TraceData::Mapped(map)))
            }
            // A compressed file: streamed from its first byte.
            Ok(map) => Self::pipe(map.into_file(), path),
            Err(file) => Self::pipe(file, path),
        }
    }

    fn pipe(source: impl Read + Send + 'static, path: &Path) -> Result<TraceInput, InputError> {
        TraceStream::new(source)
            .map(TraceInput::Stream)
            .map_err(stream_error(path))
    }
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
