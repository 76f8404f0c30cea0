//! `filter -o OUT`: writes the records a run keeps (the command's filters)
//! to a new trace, so that a big trace can be cut down before sharing it or
//! loading it into other tools.
//!
//! The new trace has the input's format version and byte order. Event
//! records are copied byte for byte (id, timestamp, pid, payload); in
//! version 4 each id gets a mapping record before its first use, naming the
//! event it has at that point of the input, so the new trace carries the
//! mappings its records need and no others. A headerless input becomes a
//! version-4 trace with a header and those mappings. Printed with the
//! drop-in printer, the new trace gives the lines `simpletrace` prints for
//! the input with the same filters.

use std::collections::HashMap;
use std::io::Write;

use serde_json::json;

use super::human::plural;
use super::listing::LazyJson;
use super::sink::{Sink, Stream};
use super::{AnalyzerError, Event, Report, TraceInfo};
use crate::format::writer::{Arg, TraceWriter, WriteError, WriterOptions};
use crate::format::{EventId, Version};
use crate::report::{Block, Blocks, Document};

/// The `filter` analyzer: copies kept records into a new trace.
pub struct SubsetWriter {
    out: Option<Box<dyn Write + Send>>,
    writer: Option<TraceWriter<'static, Box<dyn Write + Send>>>,
    destination: String,
    version: Version,
    /// Version 4: the name each id currently has in the output.
    mapped: HashMap<u64, String>,
    /// The record last given, copied, not yet written: it goes out when
    /// the next one comes (the record loop has then confirmed that its
    /// bytes were the file's, see `Records::confirm_last`), or at the end
    /// if it was read before the run stopped. A record read from a page
    /// that vanished while it was copied is taken back by the loop and
    /// never written.
    held: Held,
    records: u64,
    mappings: u64,
}

/// A copy of one record ([`SubsetWriter::held`]); its buffers are reused.
#[derive(Debug, Default)]
struct Held {
    /// The record's number, when one is held.
    record: Option<u64>,
    id: u64,
    timestamp_ns: u64,
    pid: u32,
    name: String,
    /// Version 0: the argument words; later versions: the payload bytes.
    words: Vec<u64>,
    payload: Vec<u8>,
}

impl core::fmt::Debug for SubsetWriter {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SubsetWriter")
            .field("destination", &self.destination)
            .field("records", &self.records)
            .finish()
    }
}

impl SubsetWriter {
    /// Writes the kept records to `out`; `destination` names it in
    /// messages.
    pub fn new(out: Box<dyn Write + Send>, destination: impl Into<String>) -> Self {
        SubsetWriter {
            out: Some(out),
            writer: None,
            destination: destination.into(),
            version: Version::V4,
            mapped: HashMap::new(),
            held: Held::default(),
            records: 0,
            mappings: 0,
        }
    }

    /// A failure to write, with the write error as its cause: a closed
    /// pipe (`filter -o - | head -c 100`) is the caller's to recognise.
    fn error(&self, e: WriteError) -> AnalyzerError {
        AnalyzerError::caused_by("filter", &self.destination, e)
    }

    /// Copies `ev` into [`SubsetWriter::held`].
    fn hold(&mut self, ev: &Event<'_>) {
        let record = ev.record();
        let held = &mut self.held;
        held.record = Some(record.at.record.0);
        held.id = record.id.0;
        held.timestamp_ns = record.timestamp_ns;
        held.pid = record.pid;
        held.name.clear();
        held.name.push_str(record.name());
        held.words.clear();
        held.payload.clear();
        if self.version == Version::V0 {
            held.words.extend((0..ev.arg_count()).map(|i| ev.word(i)));
        } else {
            held.payload.extend_from_slice(record.payload);
        }
    }

    /// Writes the held record, if any.
    fn release(&mut self) -> Result<(), AnalyzerError> {
        let Some(w) = self.writer.as_mut() else {
            return Ok(());
        };
        if self.held.record.take().is_none() {
            return Ok(());
        }
        let held = &self.held;
        let id = held.id;
        let result = (|| {
            if self.version == Version::V4 && id != EventId::DROPPED.0 {
                let name = held.name.as_str();
                if self.mapped.get(&id).is_none_or(|n| n != name) {
                    w.mapping(id, name.as_bytes())?;
                    self.mapped.insert(id, name.to_owned());
                    self.mappings += 1;
                }
            }
            if self.version == Version::V0 {
                let words: Vec<Arg<'_>> = held.words.iter().map(|&w| Arg::U64(w)).collect();
                w.event(id, held.timestamp_ns, held.pid, &words)
            } else {
                w.event_payload(id, held.timestamp_ns, held.pid, &held.payload)
            }
        })();
        result.map_err(|e| self.error(e))?;
        self.records += 1;
        Ok(())
    }
}

impl Sink for SubsetWriter {
    const NAME: &'static str = "filter";
    const STREAM: Stream = Stream::Own;

    fn open(&mut self, info: &TraceInfo<'_>) -> Result<(), AnalyzerError> {
        self.version = info.kind.version;
        let options = WriterOptions {
            version: info.kind.version,
            order: info.kind.order,
            max_string_len: None,
        };
        let out = self
            .out
            .take()
            .ok_or_else(|| AnalyzerError::new("filter", "the output was already used"))?;
        let writer = TraceWriter::new(out, options).map_err(|e| self.error(e))?;
        self.writer = Some(writer);
        Ok(())
    }

    fn write(&mut self, ev: &Event<'_>, _: &mut Vec<u8>) -> Result<(), AnalyzerError> {
        // The one before has been confirmed (this one came): out it goes,
        // and this one waits for its turn.
        self.release()?;
        self.hold(ev);
        Ok(())
    }

    /// The record held was confirmed (the loop confirms each record as it
    /// is handed over): out it goes, and the output is flushed.
    fn caught_up(&mut self) -> Result<(), AnalyzerError> {
        self.release()?;
        if let Some(w) = self.writer.as_mut() {
            w.flush()
                .map_err(|e| AnalyzerError::caused_by("filter", &self.destination, e))?;
        }
        Ok(())
    }

    fn retract(&mut self, ev: &Event<'_>) {
        if self.held.record == Some(ev.record().at.record.0) {
            self.held.record = None;
        }
    }

    fn close(&mut self) -> Result<Report, AnalyzerError> {
        self.release()?;
        if let Some(w) = self.writer.take() {
            w.finish().map_err(|e| self.error(e))?;
        }
        Ok(Report::document(Written {
            records: self.records,
            mappings: self.mappings,
            destination: self.destination.clone(),
        }))
    }
}

/// What `filter` wrote: its report.
#[derive(Debug)]
struct Written {
    records: u64,
    mappings: u64,
    destination: String,
}

impl Document for Written {
    fn blocks(&self) -> Blocks<'_> {
        let line = format!(
            "{} and {} written to {}",
            plural(self.records, "record", "records"),
            plural(self.mappings, "mapping record", "mapping records"),
            self.destination
        );
        Box::new(std::iter::once(Block::Text(line.into())))
    }

    fn json(&self) -> LazyJson<'_> {
        LazyJson::Value(json!({
            "records": self.records,
            "mappings": self.mappings,
            "output": self.destination,
        }))
    }
}
