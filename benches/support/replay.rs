//! Builds large traces by replaying a model trace with `TraceWriter`: the
//! benchmark input and the `gen_trace` example share this.
//!
//! The model's mapping records come first, then its event records over and
//! over with the same ids and payloads, timestamps advancing by the model's
//! own deltas (negative steps included), records spread over several pids,
//! and every 64 MiB a dropped-events record and a repeated mapping record.

use std::io::Write;

use simpletrace::format::writer::{TraceWriter, WriteError, WriterOptions};
use simpletrace::format::{ByteOrder, Item, TraceEvents, TraceReader};

struct ModelRecord {
    id: u64,
    delta: i64,
    payload: Vec<u8>,
}

/// A model trace, reduced to what replaying needs.
pub struct Model {
    mappings: Vec<(u64, Vec<u8>)>,
    records: Vec<ModelRecord>,
}

impl Model {
    /// Reads `trace` (decoded against `events`).
    pub fn read(trace: &[u8], events: &TraceEvents) -> Result<Model, simpletrace::format::Error> {
        let mut reader = TraceReader::new(trace, events)?;
        let mut mappings = Vec::new();
        let mut records = Vec::new();
        let mut prev = None;
        while let Some(item) = reader.next_item() {
            match item? {
                Item::Mapping(m) => mappings.push((m.id.0, m.name.to_vec())),
                Item::Event(r) if r.is_dropped() => {}
                Item::Event(r) => {
                    let delta = prev.map_or(0, |p: u64| r.timestamp_ns.wrapping_sub(p) as i64);
                    prev = Some(r.timestamp_ns);
                    records.push(ModelRecord {
                        id: r.id.0,
                        delta,
                        payload: r.payload.to_vec(),
                    });
                }
            }
        }
        Ok(Model { mappings, records })
    }

    /// Whether the model has event records to replay.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Replays the model into `out` (with [`TraceWriter`], in
    /// little-endian whatever the host) until at least `size` bytes are
    /// written; returns the event records written.
    pub fn replay(&self, size: u64, pids: u32, out: impl Write) -> Result<u64, WriteError> {
        let options = WriterOptions {
            order: ByteOrder::Little,
            max_string_len: None,
            ..WriterOptions::default()
        };
        let mut w = TraceWriter::new(out, options)?;
        for (id, name) in &self.mappings {
            w.mapping(*id, name)?;
        }
        let mut next_extra = 64 << 20;
        let mut ts: u64 = 1_000_000_000_000;
        let mut count = 0u64;
        let base_pid = 20_000u32;
        while !self.records.is_empty() && w.bytes_written() < size {
            for r in &self.records {
                ts = ts.saturating_add_signed(r.delta).max(1);
                // Threads of a few processes take turns in runs of records.
                let pid = base_pid + ((count / 977) % u64::from(pids.max(1))) as u32;
                w.event_payload(r.id, ts, pid, &r.payload)?;
                count += 1;
                if w.bytes_written() >= next_extra {
                    w.dropped(ts + 1, base_pid, 1 + count % 5000)?;
                    let which = (count % self.mappings.len().max(1) as u64) as usize;
                    if let Some((id, name)) = self.mappings.get(which) {
                        w.mapping(*id, name)?;
                    }
                    next_extra += 64 << 20;
                }
                if w.bytes_written() >= size {
                    break;
                }
            }
        }
        w.finish()?;
        Ok(count)
    }
}
