//! Writes a large, realistic version-4 trace for benchmarks, without QEMU.
//!
//! It replays a model trace (by default the project's sample; for the
//! benchmarks, QEMU's `medium-rand.bin`, whose event and argument mix is a
//! qemu-io random-I/O run) until the output reaches the requested size; see
//! `benches/support/replay.rs` for what a replay keeps and varies.
//!
//! ```sh
//! cargo run --release --example gen_trace -- \
//!     --events ../shared/testdata/trace-events-all \
//!     --model ../shared/testdata/medium-rand.bin --size 512M -o /tmp/big.trace
//! ```

use std::path::PathBuf;

use simpletrace::input::{TraceData, read_trace_events};

#[path = "../benches/support/replay.rs"]
mod replay;

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

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let o = options()?;
    let events = read_trace_events(&o.events)?;
    let model = replay::Model::read(&TraceData::open(&o.model)?, &events)?;
    if model.is_empty() {
        return Err("the model trace has no event records".into());
    }
    let file = std::fs::File::create(&o.output)?;
    let count = model.replay(o.size, o.pids, &file)?;
    let written = file.metadata()?.len();
    eprintln!(
        "{}: {written} bytes, {count} event records",
        o.output.display()
    );
    Ok(())
}
