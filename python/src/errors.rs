//! The Python exceptions the crate's errors become.
//!
//! QEMU's module raises `ValueError` for a trace whose header has the wrong
//! id, magic or version, `SimpleException` for one too short for a header
//! or naming an event the trace-events file does not declare, and whatever
//! Python raised for the rest (`KeyError`, `struct.error`). Here every
//! fault of a trace past its header is a `SimpleException` carrying the
//! crate's message (the record and byte offset); the header faults keep
//! the exception types of the original.

use std::path::Path;

use pyo3::exceptions::{PyException, PyOSError, PyValueError};
use pyo3::prelude::*;
use simpletrace::format;
use simpletrace::input::InputError;

pyo3::create_exception!(
    simpletrace,
    SimpleException,
    PyException,
    "A trace that cannot be read, or a usage error of run()."
);

/// The exception of a fault of the trace called `name`.
pub fn trace_fault(name: &str, e: &format::Error) -> PyErr {
    let message = format!("{name}: {e}");
    match e {
        format::Error::BadHeaderId { .. }
        | format::Error::BadMagic { .. }
        | format::Error::UnknownVersion { .. } => PyValueError::new_err(message),
        _ => SimpleException::new_err(message),
    }
}

/// The exception of a file that could not be opened or read: an `OSError`
/// of the subclass its `errno` picks (`FileNotFoundError`, ...), naming
/// the file, as Python's `open()` raises it.
pub fn io_error(path: &Path, e: &std::io::Error) -> PyErr {
    let name = path.display().to_string();
    match e.raw_os_error() {
        Some(code) => {
            // The words Python's own errors use (without Rust's
            // "(os error N)").
            let text = e.to_string();
            let words = text
                .rsplit_once(" (os error")
                .map_or(text.as_str(), |(w, _)| w);
            PyOSError::new_err((code, words.to_owned(), name))
        }
        None => PyOSError::new_err(format!("{name}: {e}")),
    }
}

/// The exception of a trace or trace-events file that could not be opened
/// or parsed.
pub fn input_error(e: &InputError) -> PyErr {
    match e {
        InputError::Io { path, source } => io_error(path, source),
        // tracetool raises ValueError for a bad trace-events file.
        InputError::Events(_) | InputError::TextTooLong { .. } => {
            PyValueError::new_err(e.to_string())
        }
        InputError::Stream { .. } => SimpleException::new_err(e.to_string()),
    }
}
