//! Writes a large, realistic version-4 trace for benchmarks, without QEMU.
//!
//! It replays a model trace (by default the project's sample; for the
//! benchmarks, QEMU's `medium-rand.bin`, whose event and argument mix is a
//! qemu-io random-I/O run) until the output reaches the requested size:
//! same events, same payloads, timestamps advancing by the model's deltas
//! (negative steps included), records spread over several pids, and every
//! 64 MiB a dropped-events record and a mapping record repeated mid-file.
//!
//! ```sh
//! cargo run --release --example gen_trace -- \
//!     --events ../shared/testdata/trace-events-all \
//!     --model ../shared/testdata/medium-rand.bin --size 512M -o /tmp/big.trace
//! ```

use std::io::{BufWriter, Write};
use std::path::PathBuf;

use simpletrace::format::{Item, TraceReader, encode};
use simpletrace::input::{TraceData, read_trace_events};

struct Options {
    events: PathBuf,
    model: PathBuf,
    size: u64,
    pids: u32,
    output: PathBuf,
}

fn parse_size(s: &str) -> Result<u64, String> {
    let (digits, unit) = match s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => s.split_at(i),
        None => (s, ""),
    };
    let n: u64 = digits.parse().map_err(|_| format!("bad size {s:?}"))?;
    let mult = match unit.to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "K" | "KB" | "KIB" => 1 << 10,
        "M" | "MB" | "MIB" => 1 << 20,
        "G" | "GB" | "GIB" => 1 << 30,
        _ => return Err(format!("bad size unit in {s:?}")),
    };
    Ok(n * mult)
}

fn options() -> Result<Options, String> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut o = Options {
        events: root.join("testdata/sample.trace-events"),
        model: root.join("testdata/sample.trace"),
        size: 64 << 20,
        pids: 4,
        output: PathBuf::new(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--events" => o.events = value()?.into(),
            "--model" => o.model = value()?.into(),
            "--size" => o.size = parse_size(&value()?)?,
            "--pids" => o.pids = value()?.parse().map_err(|_| "bad --pids")?,
            "-o" | "--output" => o.output = value()?.into(),
            _ => return Err(format!("unknown argument {a}")),
        }
    }
    if o.output.as_os_str().is_empty() {
        return Err(
            "usage: gen_trace [--events F] [--model TRACE] [--size 512M] [--pids N] -o OUT".into(),
        );
    }
    Ok(o)
}

struct ModelRecord {
    id: u64,
    delta: i64,
    payload: Vec<u8>,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let o = options()?;
    let events = read_trace_events(&o.events)?;
    let model = TraceData::open(&o.model)?;
    let mut reader = TraceReader::new(&model, &events)?;
    let mut mappings: Vec<(u64, Vec<u8>)> = Vec::new();
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
    if records.is_empty() {
        return Err("the model trace has no event records".into());
    }

    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(&o.output)?);
    let mut buf = Vec::with_capacity(1 << 16);
    encode::header(&mut buf, 4);
    for (id, name) in &mappings {
        encode::mapping(&mut buf, *id, name);
    }
    let mut written = 0u64;
    let mut next_extra = 64 << 20;
    let mut ts: u64 = 1_000_000_000_000;
    let mut count = 0u64;
    let base_pid = 20_000u32;
    'outer: loop {
        for r in &records {
            ts = ts.saturating_add_signed(r.delta).max(1);
            // Threads of a few processes take turns in runs of records.
            let pid = base_pid + ((count / 977) % u64::from(o.pids.max(1))) as u32;
            encode::event_with_payload(&mut buf, r.id, ts, pid, &r.payload);
            count += 1;
            if written + buf.len() as u64 >= next_extra {
                encode::dropped(&mut buf, ts + 1, base_pid, 1 + count % 5000);
                if let Some((id, name)) =
                    mappings.get((count % mappings.len().max(1) as u64) as usize)
                {
                    encode::mapping(&mut buf, *id, name);
                }
                next_extra += 64 << 20;
            }
            if buf.len() >= 1 << 16 {
                out.write_all(&buf)?;
                written += buf.len() as u64;
                buf.clear();
                if written >= o.size {
                    break 'outer;
                }
            }
        }
    }
    out.write_all(&buf)?;
    written += buf.len() as u64;
    out.flush()?;
    eprintln!(
        "{}: {written} bytes, {count} event records",
        o.output.display()
    );
    Ok(())
}
