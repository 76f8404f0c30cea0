//! An opened trace, and the one place a run over it starts and ends.
//!
//! [`Trace::open`] opens a trace as QEMU's module would read it: a path or
//! an open file whose bytes can be memory-mapped is mapped (a compressed
//! file is decompressed as it is read); any other file object (a `BytesIO`,
//! a pipe, a file not at its start) is read with its `read()`. The header
//! is checked then, before any analyzer begins, as in QEMU's module.
//!
//! [`Trace::drive`] runs analyzers of the crate over it through the crate's
//! one record loop ([`Driver`]) and turns how the run ended into Python:
//! a fault of the trace becomes an exception (see [`crate::errors`]), a
//! trace cut off in the middle of a record a warning once every record
//! before the cut has been handled. `dispatch` (the Python handlers) and
//! `print` (`python -m simpletrace`) are the two runs made so far; a
//! columnar loader is another analyzer handed to `drive`.

use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyTuple};
use simpletrace::analyzers::print::{Buffering, Parallelism, PrintAnalyzer};
use simpletrace::analyzers::{Driver, RunError, RunOptions};
use simpletrace::format::{self, TraceKind, TraceReader};
use simpletrace::input::{TraceData, TraceInput, TraceStream};
use simpletrace::pattern::EventPatterns;

use crate::columns::{Columns, Plan, Table, Values};
use crate::dispatch::{Call, DispatchState, Entry, PyDispatch};
use crate::errors::{self, SimpleException};
use crate::events::Declarations;
use crate::pyio::{PyReader, PyWriter, Raised};

/// How a run over a trace ended, when it did not raise.
#[derive(Debug)]
pub struct Finished {
    /// Event records read (dropped-events records included).
    pub records: u64,
    /// What to warn about: the trace was cut off in the middle of a
    /// record (every record before it was handled), or changed while it
    /// was read.
    pub warning: Option<String>,
}

/// What a run returns to Python.
#[pyclass(frozen, get_all, module = "simpletrace._native")]
#[derive(Debug)]
pub struct RunResult {
    /// Event records read (dropped-events records included).
    records: u64,
    /// Handler calls made (records that crossed into Python).
    calls: u64,
    /// The warning to give, if any.
    warning: Option<String>,
}

/// An opened trace, read once.
#[pyclass(frozen, module = "simpletrace._native")]
#[derive(Debug)]
pub struct Trace {
    decls: Py<Declarations>,
    /// The bytes or the stream; taken by the run.
    input: Mutex<Option<TraceInput>>,
    kind: TraceKind,
    /// What messages call the trace: its path, or the file object's name.
    name: String,
    /// An exception raised by the file object the trace is read from.
    raised: Raised,
}

impl Trace {
    /// Runs the analyzers of `driver` over the trace, writing what they
    /// stream to `out`, on the calling thread (the driver's worker threads,
    /// with `options.parallelism`, run forks of parallel analyzers only,
    /// which must not call Python). An analyzer's failure comes back as a
    /// `SimpleException` with its message: an analyzer that keeps a Python
    /// exception of its own raises that one instead (the caller checks it
    /// first). The interpreter stays attached (`_py`): the analyzers, a
    /// file object read from or written to, may call Python.
    pub fn drive(
        &self,
        _py: Python<'_>,
        driver: Driver<'_>,
        out: &mut dyn Write,
        options: RunOptions,
    ) -> PyResult<Finished> {
        let taken = self.input.lock().ok().and_then(|mut input| input.take());
        let Some(mut input) = taken else {
            return Err(PyRuntimeError::new_err("this trace has been read already"));
        };
        let events = &*self.decls.get().events;
        // Declared after the input it borrows (the release hook), so
        // dropped before it.
        let mut driver = driver;
        let outcome = match &mut input {
            TraceInput::Data(data) => {
                let data: &TraceData = data;
                let reader = data.guard(TraceReader::with_kind(data, events, self.kind));
                // Pages behind the loop leave this process's memory.
                driver.release_with(move |offset| data.release_before(offset));
                driver.run(reader, out, options)
            }
            TraceInput::Stream(stream) => {
                driver.run_stream(stream, self.kind, events, out, options)
            }
        };
        drop(driver);
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(RunError::Io(e)) => {
                return Err(self
                    .raised
                    .take()
                    .unwrap_or_else(|| errors::io_error(Path::new(&self.name), &e)));
            }
            Err(RunError::Analyzer(e)) => return Err(SimpleException::new_err(e.to_string())),
        };
        if let Some(e) = outcome.stream_error {
            return Err(self
                .raised
                .take()
                .unwrap_or_else(|| SimpleException::new_err(format!("{}: {e}", self.name))));
        }
        let shrink = match &input {
            TraceInput::Data(data) => data.shrink(),
            TraceInput::Stream(_) => None,
        };
        let warning = match (outcome.fault, shrink) {
            (None, None) => None,
            // Every page read was the file's: the results stand.
            (None, Some(shrink)) => Some(format!(
                "{}: {shrink}, after every record had been read",
                self.name
            )),
            (Some(e), Some(shrink)) => {
                return Err(SimpleException::new_err(format!(
                    "{}: {e} ({shrink})",
                    self.name
                )));
            }
            (Some(e), None) if e.is_truncation() => Some(format!("{}: {e}", self.name)),
            (Some(e), None) => return Err(errors::trace_fault(&self.name, &e)),
        };
        Ok(Finished {
            records: outcome.records,
            warning,
        })
    }

    /// The table of handlers given by Python, one entry per slot: `None`,
    /// or `(call, callable)`.
    fn entries(&self, py: Python<'_>, table: &Bound<'_, PyList>) -> PyResult<Vec<Option<Entry>>> {
        let decls = self.decls.get();
        if table.len() != decls.slots() {
            return Err(PyValueError::new_err(format!(
                "the handler table has {} entries for {} slots",
                table.len(),
                decls.slots()
            )));
        }
        let mut entries = Vec::with_capacity(table.len());
        for ((item, event), id) in table.iter().zip(&decls.objects).zip(&decls.ids) {
            if item.is_none() {
                entries.push(None);
                continue;
            }
            let (code, func): (u8, Py<PyAny>) = item.extract()?;
            let call = Call::from_code(code)
                .ok_or_else(|| PyValueError::new_err(format!("no calling convention {code}")))?;
            entries.push(Some(Entry {
                call,
                func,
                event: event.clone_ref(py),
                id: id.clone_ref(py),
            }));
        }
        Ok(entries)
    }
}

/// The `bytes` of the native-endian words of `values` (`N` bytes each),
/// made in place.
fn words<'py, T: Copy, const N: usize>(
    py: Python<'py>,
    values: &[T],
    bytes: fn(T) -> [u8; N],
) -> PyResult<Bound<'py, PyBytes>> {
    PyBytes::new_with(py, values.len() * N, |buf| {
        for (chunk, &v) in buf.chunks_exact_mut(N).zip(values) {
            chunk.copy_from_slice(&bytes(v));
        }
        Ok(())
    })
}

/// A table's columns as [`Trace::columns`] returns them; each vector is
/// freed once copied.
fn table_columns<'py>(
    py: Python<'py>,
    schema: &crate::columns::Schema,
    table: Table,
) -> PyResult<Vec<Bound<'py, PyTuple>>> {
    let mut columns = Vec::with_capacity(3 + table.args.len());
    let column = |name: &str, dtype: &str, data: Bound<'py, PyAny>| {
        PyTuple::new(
            py,
            [
                name.into_pyobject(py)?.into_any(),
                dtype.into_pyobject(py)?.into_any(),
                data,
            ],
        )
    };
    let Table {
        timestamps,
        pids,
        records,
        args,
    } = table;
    columns.push(column(
        "timestamp_ns",
        "=u8",
        words(py, &timestamps, u64::to_ne_bytes)?.into_any(),
    )?);
    drop(timestamps);
    columns.push(column(
        "pid",
        "=u4",
        words(py, &pids, u32::to_ne_bytes)?.into_any(),
    )?);
    drop(pids);
    columns.push(column(
        "record",
        "=u8",
        words(py, &records, u64::to_ne_bytes)?.into_any(),
    )?);
    drop(records);
    for ((name, _), values) in schema.args.iter().zip(args) {
        let col = match values {
            Values::Signed(v) => column(name, "=i8", words(py, &v, i64::to_ne_bytes)?.into_any())?,
            Values::Unsigned(v) => {
                column(name, "=u8", words(py, &v, u64::to_ne_bytes)?.into_any())?
            }
            Values::Bool(v) => column(name, "?", PyBytes::new(py, &v).into_any())?,
            Values::Bytes(strings) => {
                let codes = words(py, &strings.codes, u32::to_ne_bytes)?.into_any();
                let distinct = strings.distinct.iter().map(|s| PyBytes::new(py, s));
                let distinct = PyList::new(py, distinct)?.into_any();
                column(
                    name,
                    "bytes",
                    PyTuple::new(py, [codes, distinct])?.into_any(),
                )?
            }
        };
        columns.push(col);
    }
    Ok(columns)
}

/// Whether a path means the file of that name: `-` is standard input to
/// the crate, a file called `-` to QEMU's module.
fn literal(path: PathBuf) -> PathBuf {
    if path.as_os_str() == "-" {
        Path::new(".").join(path)
    } else {
        path
    }
}

/// A file for the descriptor `fd`, which the caller's file object keeps
/// open during this call: a new descriptor of the same open file.
#[cfg(unix)]
fn dup(fd: i32, name: &str) -> PyResult<File> {
    use std::os::fd::BorrowedFd;
    if fd < 0 {
        return Err(PyValueError::new_err(format!("bad file descriptor {fd}")));
    }
    // SAFETY: `fd` is the descriptor of the Python file object the caller
    // passed it from (`fileno()`), which it holds, so the descriptor stays
    // open for this borrow, which ends within this function; it is only
    // duplicated.
    let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
    let owned = borrowed
        .try_clone_to_owned()
        .map_err(|e| errors::io_error(Path::new(name), &e))?;
    Ok(File::from(owned))
}

#[cfg(not(unix))]
fn dup(_fd: i32, _name: &str) -> PyResult<File> {
    Err(PyTypeError::new_err(
        "file descriptors are read on Unix only; pass a path or a file object",
    ))
}

#[pymethods]
impl Trace {
    /// Opens a trace given by `path`, by the descriptor `fd` of a file
    /// object at its start, or as a file object `reader` read with
    /// `read()`, and checks its header unless `read_header` is false (the
    /// trace starts with its records, whose ids are positions in the
    /// declarations). `name` names it in messages.
    #[staticmethod]
    #[pyo3(signature = (decls, *, path=None, fd=None, reader=None, name=None, read_header=true))]
    fn open(
        decls: Py<Declarations>,
        path: Option<PathBuf>,
        fd: Option<i32>,
        reader: Option<Py<PyAny>>,
        name: Option<String>,
        read_header: bool,
    ) -> PyResult<Trace> {
        let raised = Raised::default();
        let name = name
            .or_else(|| path.as_ref().map(|p| p.display().to_string()))
            .unwrap_or_else(|| "<trace>".to_owned());
        let input = match (path, fd, reader) {
            (Some(path), None, None) => {
                TraceInput::open(literal(path)).map_err(|e| errors::input_error(&e))?
            }
            (None, Some(fd), None) => {
                let mut file = dup(fd, &name)?;
                // The caller's file is at its start, but its descriptor
                // may not be (Python reads ahead); a stream (a compressed
                // file) is read from the descriptor's position.
                let _ = file.seek(SeekFrom::Start(0));
                TraceInput::from_file(file, Path::new(&name))
                    .map_err(|e| errors::input_error(&e))?
            }
            (None, None, Some(reader)) => {
                let stream = TraceStream::new(PyReader::new(reader, raised.clone()));
                TraceInput::Stream(stream.map_err(|e| {
                    raised
                        .take()
                        .unwrap_or_else(|| SimpleException::new_err(format!("{name}: {e}")))
                })?)
            }
            _ => {
                return Err(PyTypeError::new_err(
                    "give one of path, fd and reader to open a trace",
                ));
            }
        };
        let kind = if read_header {
            let head: &[u8] = match &input {
                TraceInput::Data(data) => data,
                TraceInput::Stream(stream) => stream.head(),
            };
            TraceKind::detect(head).map_err(|e| errors::trace_fault(&name, &e))?
        } else {
            TraceKind::headerless()
        };
        Ok(Trace {
            decls,
            input: Mutex::new(Some(input)),
            kind,
            name,
            raised,
        })
    }

    /// Calls the Python handlers of `table` (one entry per slot: `None`,
    /// or `(call, callable)`) for the records of their events; the others
    /// are skipped unread.
    fn dispatch(&self, py: Python<'_>, table: &Bound<'_, PyList>) -> PyResult<RunResult> {
        let entries = self.entries(py, table)?;
        let mut state = DispatchState::default();
        let mut driver = Driver::new();
        driver.add(PyDispatch::new(
            &self.decls.get().events,
            entries,
            &mut state,
        ));
        let finished = self.drive(py, driver, &mut io::sink(), RunOptions::default());
        // A handler's exception is what stopped the run.
        if let Some(e) = state.raised.take() {
            return Err(e);
        }
        let finished = finished?;
        Ok(RunResult {
            records: finished.records,
            calls: state.calls,
            warning: finished.warning,
        })
    }

    /// Prints every record to the binary file object `out` (its
    /// `write()`), exactly as QEMU's `simpletrace.py` prints them, on
    /// `threads` threads.
    fn print(&self, py: Python<'_>, out: Py<PyAny>, threads: usize) -> PyResult<RunResult> {
        let raised = Raised::default();
        let mut writer = PyWriter::new(out, raised.clone());
        let mut driver = Driver::new();
        driver.add_parallel(PrintAnalyzer::new());
        let options = RunOptions {
            parallelism: Parallelism::threads(threads),
            buffering: Buffering::Block,
        };
        let finished = self.drive(py, driver, &mut writer, options);
        if let Some(e) = raised.take() {
            return Err(e);
        }
        let finished = finished?;
        Ok(RunResult {
            records: finished.records,
            calls: 0,
            warning: finished.warning,
        })
    }

    /// Loads the records of the events `patterns` turns on (a
    /// comma-separated list of event names and globs, as the command
    /// line's `--events`) as columns, on `threads` threads. Returns
    /// `(tables, records, warning)`: one `(event name, columns)` per event,
    /// each column a `(name, dtype, bytes)` (numpy's dtype code) or, for
    /// strings, `(name, "bytes", (codes, distinct))`: a native uint32 per
    /// record, its string's position in the list `distinct` of `bytes`.
    fn columns<'py>(
        &self,
        py: Python<'py>,
        patterns: &str,
        threads: usize,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let patterns = EventPatterns::parse_list(patterns)
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        let words_only = self.kind.version == format::Version::V0;
        let plan = Plan::new(&self.decls.get().events, &patterns, words_only)
            .map_err(|e| PyValueError::new_err(e.0))?;
        let plan = Arc::new(plan);
        let out = Arc::default();
        let mut driver = Driver::new();
        driver.add_parallel(Columns::new(Arc::clone(&plan), Arc::clone(&out)));
        let options = RunOptions {
            parallelism: Parallelism::threads(threads),
            buffering: Buffering::Block,
        };
        let finished = self.drive(py, driver, &mut io::sink(), options)?;
        let tables = out
            .lock()
            .ok()
            .and_then(|mut t| t.take())
            .ok_or_else(|| PyRuntimeError::new_err("the columnar run left no tables"))?;
        let mut list = Vec::with_capacity(tables.len());
        for (schema, table) in plan.schemas.iter().zip(tables) {
            list.push((schema.name.as_str(), table_columns(py, schema, table)?));
        }
        PyTuple::new(
            py,
            [
                list.into_pyobject(py)?.into_any(),
                finished.records.into_pyobject(py)?.into_any(),
                finished.warning.into_pyobject(py)?.into_any(),
            ],
        )
    }

    /// The trace's format version.
    #[getter]
    fn version(&self) -> u64 {
        match self.kind.version {
            format::Version::V0 => 0,
            format::Version::V2 => 2,
            format::Version::V3 => 3,
            format::Version::V4 => 4,
        }
    }
}
