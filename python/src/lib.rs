//! `simpletrace._native`: the Rust half of the `simpletrace` Python
//! package, which offers the API of QEMU's `scripts/simpletrace.py` on the
//! `simpletrace` crate's decoder.
//!
//! The Python half (`simpletrace/__init__.py`) decides, once per event,
//! which Python callable handles it and how it is called; this half opens
//! the files, runs the crate's one record loop ([`simpletrace::analyzers::Driver`])
//! and calls those callables, so that records nobody handles never become
//! Python objects.
//!
//! API structure:
//! - [`events`]: `Event` and `Arguments`, the event objects handlers get,
//!   and `Declarations`, a parsed trace-events file (or list of events).
//! - [`trace`]: `Trace`, an opened trace (a memory map, or a stream read
//!   from a file object), and [`trace::Trace::drive`], which runs any
//!   analyzers of the crate over it and turns its faults into Python
//!   exceptions and warnings.
//! - [`columns`]: the analyzer that loads chosen events as columns.
//! - [`dispatch`]: the analyzer that calls the Python handlers.
//! - [`pyio`]: Python file objects as Rust readers and writers.
//! - [`errors`]: the exceptions each fault becomes.

#![deny(missing_docs)]
#![deny(missing_debug_implementations)]

pub mod columns;
pub mod dispatch;
pub mod errors;
pub mod events;
pub mod pyio;
pub mod trace;

use pyo3::prelude::*;

/// The native half of the `simpletrace` package (see the package).
#[pymodule]
mod _native {
    #[pymodule_export]
    use crate::errors::SimpleException;
    #[pymodule_export]
    use crate::events::{Arguments, Declarations, Event};
    #[pymodule_export]
    use crate::trace::{RunResult, Trace};

    /// How a handler is called: `fn(*args)`.
    #[pymodule_export]
    const CALL_ARGS: u8 = crate::dispatch::Call::Args as u8;
    /// `fn(timestamp_ns, *args)`.
    #[pymodule_export]
    const CALL_TIMESTAMP_ARGS: u8 = crate::dispatch::Call::TimestampArgs as u8;
    /// `fn(timestamp_ns, pid, *args)`.
    #[pymodule_export]
    const CALL_TIMESTAMP_PID_ARGS: u8 = crate::dispatch::Call::TimestampPidArgs as u8;
    /// `fn(event, (event_id, timestamp_ns, pid, *args))`: the old-style
    /// catch-all.
    #[pymodule_export]
    const CALL_EVENT_RECORD: u8 = crate::dispatch::Call::EventRecord as u8;
    /// `fn(*args, event=, event_id=, timestamp_ns=, pid=)`: `Analyzer2`.
    #[pymodule_export]
    const CALL_KEYWORDS: u8 = crate::dispatch::Call::Keywords as u8;
    /// `fn([args], event=, event_id=, timestamp_ns=, pid=)`: an analyzer's
    /// own `_process_event`.
    #[pymodule_export]
    const CALL_PROCESS_EVENT: u8 = crate::dispatch::Call::ProcessEvent as u8;
    /// Raise the exception given instead of a callable (finding the
    /// handler failed), at the event's first record.
    #[pymodule_export]
    const CALL_RAISE: u8 = crate::dispatch::Call::Raise as u8;
}
