//! Opening trace and trace-events files.
//!
//! Traces are memory-mapped when they are regular files, so decoding never
//! copies them; pipes, `-` (standard input) and anything that cannot be
//! mapped are read into memory instead.

use core::fmt;
use core::ops::Deref;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use memmap2::Mmap;

use crate::format::{EventsError, TraceEvents};

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
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InputError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            InputError::Events(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for InputError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            InputError::Io { source, .. } => Some(source),
            InputError::Events(e) => Some(e),
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

/// The bytes of a trace: a read-only memory map or an owned buffer.
///
/// Dereferences to `&[u8]`, the input of [`crate::format::TraceReader`].
pub enum TraceData {
    /// A memory-mapped regular file.
    Mapped(Mmap),
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
    /// memory-mapped; anything else (a pipe, a device) is read.
    ///
    /// The map is read-only. As with any memory-mapped reader, a program
    /// that truncates the file while it is being read can make this process
    /// fail with `SIGBUS`; QEMU only ever appends to its trace files.
    pub fn open(path: impl AsRef<Path>) -> Result<TraceData, InputError> {
        let path = path.as_ref();
        if path.as_os_str() == "-" {
            return Self::from_reader(io::stdin().lock()).map_err(io_error(path));
        }
        let file = File::open(path).map_err(io_error(path))?;
        let meta = file.metadata().map_err(io_error(path))?;
        if meta.is_file()
            && meta.len() > 0
            && let Some(map) = map_file(&file)
        {
            return Ok(TraceData::Mapped(map));
        }
        Self::from_reader(file).map_err(io_error(path))
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
                release_pages(map, len);
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

#[allow(unsafe_code)]
fn map_file(file: &File) -> Option<Mmap> {
    // SAFETY: the map is read-only and private to this process, and every
    // byte of it is treated as untrusted input: the decoder checks all
    // lengths against the slice. What the map cannot guard against is
    // another process truncating the file underneath it (SIGBUS), which is
    // documented on `TraceData::open`.
    let map = unsafe { Mmap::map(file) }.ok()?;
    #[cfg(unix)]
    {
        // Records are read front to back; let the kernel read ahead.
        let _ = map.advise(memmap2::Advice::Sequential);
    }
    Some(map)
}
