//! Python file objects as Rust readers and writers, for a trace that
//! cannot be memory-mapped (a `BytesIO`, a pipe, a `GzipFile`) and for
//! output that goes to `sys.stdout`.
//!
//! An exception raised by the file object's method cannot cross the
//! `std::io` traits; it waits in a [`Raised`] shared with the caller, which
//! raises it once the run has stopped, with its own traceback.

use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex};

use pyo3::exceptions::PyTypeError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

/// Where an exception raised inside a reader or writer waits for the
/// caller.
#[derive(Debug, Clone, Default)]
pub struct Raised(Arc<Mutex<Option<PyErr>>>);

impl Raised {
    /// Keeps `e` (the first one: later ones are its consequences) and
    /// gives the I/O error that stops the run.
    fn keep(&self, e: PyErr, what: &str) -> io::Error {
        if let Ok(mut slot) = self.0.lock()
            && slot.is_none()
        {
            *slot = Some(e);
        }
        io::Error::other(format!("the file object's {what}() raised an exception"))
    }

    /// The exception kept, if any.
    pub fn take(&self) -> Option<PyErr> {
        self.0.lock().ok().and_then(|mut slot| slot.take())
    }
}

/// A Python binary file object read with its `read(n)`.
#[derive(Debug)]
pub struct PyReader {
    file: Py<PyAny>,
    raised: Raised,
}

impl PyReader {
    /// Reads `file`; exceptions go to `raised`.
    pub fn new(file: Py<PyAny>, raised: Raised) -> Self {
        PyReader { file, raised }
    }
}

impl Read for PyReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Python::attach(|py| {
            let got = self
                .file
                .bind(py)
                .call_method1(intern!(py, "read"), (buf.len(),));
            let got = match got {
                Ok(got) => got,
                Err(e) => return Err(self.raised.keep(e, "read")),
            };
            let Ok(bytes) = got.cast::<PyBytes>() else {
                let e = PyTypeError::new_err(format!(
                    "the trace file object's read() returned {} instead of bytes: open the \
                     trace in binary mode ('rb')",
                    got.get_type()
                        .name()
                        .map_or("?".to_owned(), |n| n.to_string())
                ));
                return Err(self.raised.keep(e, "read"));
            };
            let bytes = bytes.as_bytes();
            match buf.get_mut(..bytes.len()) {
                Some(dest) => {
                    dest.copy_from_slice(bytes);
                    Ok(bytes.len())
                }
                None => {
                    let e = PyTypeError::new_err(format!(
                        "the trace file object's read({}) returned {} bytes",
                        buf.len(),
                        bytes.len()
                    ));
                    Err(self.raised.keep(e, "read"))
                }
            }
        })
    }
}

/// A Python binary file object written with its `write(bytes)` (such as
/// `sys.stdout.buffer`). Each write also lets Python run its signal
/// handlers, so that Ctrl-C stops a long print.
#[derive(Debug)]
pub struct PyWriter {
    file: Py<PyAny>,
    raised: Raised,
}

impl PyWriter {
    /// Writes to `file`; exceptions go to `raised`.
    pub fn new(file: Py<PyAny>, raised: Raised) -> Self {
        PyWriter { file, raised }
    }
}

impl Write for PyWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Python::attach(|py| {
            let wrote = self
                .file
                .bind(py)
                .call_method1(intern!(py, "write"), (PyBytes::new(py, buf),))
                .and_then(|n| {
                    py.check_signals()?;
                    // A raw file may write less than asked, and says so; a
                    // buffered one writes it all (and may say None).
                    Ok(n.extract::<usize>().unwrap_or(buf.len()).min(buf.len()))
                });
            wrote.map_err(|e| self.raised.keep(e, "write"))
        })
    }

    fn flush(&mut self) -> io::Result<()> {
        Python::attach(|py| {
            self.file
                .bind(py)
                .call_method0(intern!(py, "flush"))
                .map(drop)
                .map_err(|e| self.raised.keep(e, "flush"))
        })
    }
}
