//! Read, write and analyse QEMU "simple" trace files.
//!
//! QEMU's `simple` trace backend writes binary `trace-<pid>` files; this
//! crate decodes them (zero-copy, from a memory map) against the
//! `trace-events-all` file of the QEMU build that wrote them, and prints them
//! exactly as QEMU's `scripts/simpletrace.py` does.
//!
//! ```no_run
//! use simpletrace::{format::TraceReader, input};
//!
//! let events = input::read_trace_events("trace-events-all")?;
//! let trace = input::TraceData::open("trace-12345")?;
//! for record in TraceReader::new(&trace, &events)? {
//!     let record = record?;
//!     println!("{} pid={} t={}ns", record.name(), record.pid, record.timestamp_ns);
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! API structure:
//! - [`format`](mod@format): pure decoding over byte slices ([`format::TraceReader`],
//!   [`format::Record`], [`format::TraceEvents`]).
//! - [`input`]: opening files (memory map, or a read fallback).
//! - [`analyzers`]: what consumes records: the drop-in printer.
//! - [`tracer`]: a concurrent tracer that writes simple traces from Rust
//!   programs; [`format::writer`] writes them record by record.
//! - [`pattern`]: QEMU-style event-name patterns.
//! - [`report`]: reports as data (blocks, typed tables, the lost-events
//!   warning) and the one layer that renders them as text or JSON.
//! - `cli` (with the default-on `cli` feature): the `simpletrace` command
//!   line, extensible with more analyzers. Without it (`default-features =
//!   false`) the library builds without clap or indicatif: the decoder, the
//!   writer, the tracer and the analyzer API.
//! - `sql` (with the `sql` feature, off by default): the traces as tables
//!   that Apache DataFusion queries with SQL (docs/sql.md).

#![deny(missing_docs)]
#![deny(missing_debug_implementations)]
#![deny(unsafe_code)]
#![deny(rustdoc::broken_intra_doc_links)]

pub mod analyzers;
#[cfg(feature = "cli")]
pub mod cli;
pub mod format;
pub mod input;
#[cfg(feature = "cli")]
mod output;
pub mod pattern;
pub mod report;
#[cfg(feature = "sql")]
pub mod sql;
pub(crate) mod syntax;
pub mod tracer;

/// The README's examples compile.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// The writer guide's examples compile.
#[cfg(doctest)]
#[doc = include_str!("../docs/writer.md")]
struct WriterDocDoctests;

/// The plugin guide's examples compile.
#[cfg(doctest)]
#[doc = include_str!("../docs/plugins.md")]
struct PluginsDocDoctests;
