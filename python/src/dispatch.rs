//! The analyzer that calls Python handlers.
//!
//! The Python side resolves, once per event and before the first record,
//! which callable handles it and how it is called ([`Call`]); the table
//! comes here as one entry per slot (a declaration, or the dropped-events
//! pseudo event). [`PyDispatch`] is an ordinary analyzer of the crate: it
//! registers a handler for the events that have an entry only, so the
//! driver's record loop skips every other record without decoding it, and
//! no Python object is made for it.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};
use pyo3::{IntoPyObjectExt, intern};
use simpletrace::analyzers::{
    Analyzer, AnalyzerError, Context, Event, Handlers, Report, TraceInfo,
};
use simpletrace::format::{ArgValue, TraceEvents};

/// How a handler is called for a record.
#[repr(u8)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    /// `fn(*args)`: an old-style `Analyzer` method taking the arguments.
    Args = 1,
    /// `fn(timestamp_ns, *args)`.
    TimestampArgs = 2,
    /// `fn(timestamp_ns, pid, *args)`.
    TimestampPidArgs = 3,
    /// `fn(event, (event_id, timestamp_ns, pid, *args))`: an old-style
    /// `catchall`.
    EventRecord = 4,
    /// `fn(*args, event=, event_id=, timestamp_ns=, pid=)`: an `Analyzer2`
    /// method or `catchall`.
    Keywords = 5,
    /// `fn([*args], event=, event_id=, timestamp_ns=, pid=)`: an
    /// analyzer's own `_process_event`, called for every record.
    ProcessEvent = 6,
    /// Raise the exception given in place of a callable: finding the
    /// handler failed, which QEMU's module finds at the event's first
    /// record.
    Raise = 7,
}

impl Call {
    /// The calling convention numbered `n`.
    pub fn from_code(n: u8) -> Option<Call> {
        Some(match n {
            1 => Call::Args,
            2 => Call::TimestampArgs,
            3 => Call::TimestampPidArgs,
            4 => Call::EventRecord,
            5 => Call::Keywords,
            6 => Call::ProcessEvent,
            7 => Call::Raise,
            _ => return None,
        })
    }
}

/// One slot's handler.
#[derive(Debug)]
pub struct Entry {
    /// How it is called.
    pub call: Call,
    /// The callable (the exception, for [`Call::Raise`]).
    pub func: Py<PyAny>,
    /// The event object handed to it.
    pub event: Py<PyAny>,
    /// The `event_id` handed to it: the name, or `"dropped"`.
    pub id: Py<PyString>,
}

/// An argument value as QEMU's module gives it: an `int` (the raw u64), or
/// the string's `bytes`.
#[inline]
fn value<'py>(py: Python<'py>, arg: ArgValue<'_>) -> PyResult<Bound<'py, PyAny>> {
    match arg {
        ArgValue::Int(v) => v.into_bound_py_any(py),
        ArgValue::Str(s) => Ok(PyBytes::new(py, s).into_any()),
    }
}

impl Entry {
    /// Calls the handler for `ev`.
    fn call(&self, py: Python<'_>, ev: &Event<'_>) -> PyResult<()> {
        let func = self.func.bind(py);
        // The values before the arguments, then the arguments.
        let prefix = match self.call {
            Call::Args | Call::Keywords | Call::ProcessEvent => 0,
            Call::TimestampArgs => 1,
            Call::TimestampPidArgs => 2,
            Call::EventRecord => 3,
            Call::Raise => return Err(PyErr::from_value(func.clone())),
        };
        let mut values = Vec::with_capacity(prefix + ev.arg_count());
        if self.call == Call::EventRecord {
            values.push(self.id.bind(py).clone().into_any());
        }
        if prefix > 0 {
            values.push(ev.timestamp_ns().into_bound_py_any(py)?);
        }
        if prefix > 1 {
            values.push(ev.pid().into_bound_py_any(py)?);
        }
        for arg in ev.args() {
            values.push(value(py, arg)?);
        }
        match self.call {
            Call::Args | Call::TimestampArgs | Call::TimestampPidArgs => {
                func.call1(PyTuple::new(py, values)?)?;
            }
            Call::EventRecord => {
                let record = PyTuple::new(py, values)?;
                func.call1((self.event.bind(py), record))?;
            }
            Call::Keywords => {
                func.call(PyTuple::new(py, values)?, Some(&self.keywords(py, ev)?))?;
            }
            Call::ProcessEvent => {
                let args = PyList::new(py, values)?;
                func.call((args,), Some(&self.keywords(py, ev)?))?;
            }
            Call::Raise => {}
        }
        Ok(())
    }

    /// `event=, event_id=, timestamp_ns=, pid=`.
    fn keywords<'py>(&self, py: Python<'py>, ev: &Event<'_>) -> PyResult<Bound<'py, PyDict>> {
        let kwargs = PyDict::new(py);
        kwargs.set_item(intern!(py, "event"), self.event.bind(py))?;
        kwargs.set_item(intern!(py, "event_id"), self.id.bind(py))?;
        kwargs.set_item(intern!(py, "timestamp_ns"), ev.timestamp_ns())?;
        kwargs.set_item(intern!(py, "pid"), ev.pid())?;
        Ok(kwargs)
    }
}

/// What a run of Python handlers leaves: the exception that stopped it,
/// and how many calls were made.
#[derive(Debug, Default)]
pub struct DispatchState {
    /// The exception a handler raised, which stopped the run.
    pub raised: Option<PyErr>,
    /// Handler calls made.
    pub calls: u64,
}

/// Calls the Python handlers of a table, one entry per slot.
#[derive(Debug)]
pub struct PyDispatch<'s> {
    /// One entry per declaration position, then the dropped-events slot.
    slots: Vec<Option<Entry>>,
    /// The names of the events with an entry, in slot order.
    names: Vec<String>,
    /// Whether every slot has one.
    all: bool,
    state: &'s mut DispatchState,
}

impl<'s> PyDispatch<'s> {
    /// Dispatch by `slots` (as many as `events` has declarations, plus
    /// one) over `events`; the outcome goes to `state`.
    pub fn new(
        events: &TraceEvents,
        slots: Vec<Option<Entry>>,
        state: &'s mut DispatchState,
    ) -> Self {
        let decls = events.iter().chain(core::iter::once(events.dropped()));
        let mut names: Vec<String> = decls
            .zip(&slots)
            .filter(|(_, e)| e.is_some())
            .map(|(d, _)| d.name.clone())
            .collect();
        // One registration per name (a name declared twice resolves to
        // its last declaration anyway).
        names.sort_unstable();
        names.dedup();
        let all = slots.iter().all(Option::is_some);
        PyDispatch {
            slots,
            names,
            all,
            state,
        }
    }

    /// The handler every wanted event gets.
    fn on_record(&mut self, ev: &Event<'_>, _: &mut Context<'_>) -> Result<(), AnalyzerError> {
        let slot = if ev.is_dropped() {
            self.slots.len() - 1
        } else {
            ev.decl().position
        };
        let Some(entry) = self.slots.get(slot).and_then(Option::as_ref) else {
            return Ok(());
        };
        self.state.calls += 1;
        match Python::attach(|py| entry.call(py, ev)) {
            Ok(()) => Ok(()),
            Err(e) => {
                self.state.raised = Some(e);
                Err(AnalyzerError::new(
                    "python",
                    "a handler raised an exception",
                ))
            }
        }
    }
}

impl Analyzer for PyDispatch<'_> {
    fn name(&self) -> &str {
        "python"
    }

    fn handlers(&self) -> Handlers<Self> {
        let mut h = Handlers::new();
        if self.all {
            h.catchall(Self::on_record);
        } else {
            for name in &self.names {
                h.on(name, Self::on_record);
            }
        }
        h
    }

    fn end(&mut self, _: &TraceInfo<'_>) -> Result<Report, AnalyzerError> {
        Ok(Report::none())
    }
}
