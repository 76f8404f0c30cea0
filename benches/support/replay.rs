//! Builds large traces by replaying a model trace: the benchmark input and
//! the `gen_trace` example share this.
//!
//! The model's mapping records come first, then its event records over and
//! over with the same ids and payloads, timestamps advancing by the model's
//! own deltas (negative steps included), records spread over several pids,
//! and every 64 MiB a dropped-events record and a repeated mapping record.

use simpletrace::format::{Item, TraceEvents, TraceReader, encode};

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

    /// Replays the model until at least `size` bytes have been passed to
    /// `sink` (in pieces of about 64 KiB); returns the event records written.
    pub fn replay(
        &self,
        size: u64,
        pids: u32,
        sink: &mut dyn FnMut(&[u8]) -> std::io::Result<()>,
    ) -> std::io::Result<u64> {
        let mut buf = Vec::with_capacity(1 << 17);
        encode::header(&mut buf, 4);
        for (id, name) in &self.mappings {
            encode::mapping(&mut buf, *id, name);
        }
        let mut written = 0u64;
        let mut next_extra = 64 << 20;
        let mut ts: u64 = 1_000_000_000_000;
        let mut count = 0u64;
        let base_pid = 20_000u32;
        if self.records.is_empty() {
            sink(&buf)?;
            return Ok(0);
        }
        loop {
            for r in &self.records {
                ts = ts.saturating_add_signed(r.delta).max(1);
                // Threads of a few processes take turns in runs of records.
                let pid = base_pid + ((count / 977) % u64::from(pids.max(1))) as u32;
                encode::event_with_payload(&mut buf, r.id, ts, pid, &r.payload);
                count += 1;
                if written + buf.len() as u64 >= next_extra {
                    encode::dropped(&mut buf, ts + 1, base_pid, 1 + count % 5000);
                    let which = (count % self.mappings.len().max(1) as u64) as usize;
                    if let Some((id, name)) = self.mappings.get(which) {
                        encode::mapping(&mut buf, *id, name);
                    }
                    next_extra += 64 << 20;
                }
                if buf.len() >= 1 << 16 {
                    sink(&buf)?;
                    written += buf.len() as u64;
                    buf.clear();
                    if written >= size {
                        return Ok(count);
                    }
                }
            }
        }
    }
}
