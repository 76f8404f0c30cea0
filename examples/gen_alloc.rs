//! Writes allocator traces with millions of keys, for measuring what
//! `simpletrace alloc` keeps per key (docs/performance.md, "Memory per
//! key"): live allocations, leaks, distinct pids.
//!
//! ```sh
//! cargo run --release --example gen_alloc -- --shape live --keys 1000000 -o /tmp/live.trace
//! simpletrace alloc /tmp/live.trace.events /tmp/live.trace
//! ```
//!
//! Shapes (each writes `OUT` and its trace-events file `OUT.events`):
//! - `live`: `--keys` blocks allocated (`qemu_memalign`, pid 1), then all
//!   freed (`qemu_vfree`): the peak holds every block live, nothing leaks;
//! - `leaks`: `--keys` blocks allocated and never freed;
//! - `pids`: `--keys` distinct pids, each allocating one block and freeing
//!   it, and allocating a second one that leaks;
//! - `reallocs`: `--keys` blocks allocated with `g_malloc`, each moved once
//!   by `g_realloc`, then all freed with `g_free`.
//!
//! `--sizes N` draws sizes from N distinct values (default 64); `--sizes 0`
//! gives every block a size of its own.

use std::io::Write;
use std::path::PathBuf;

use simpletrace::format::{ArgValue, encode};

const EVENTS: &str = "\
qemu_memalign(size_t alignment, size_t size, void *ptr) \"alignment %zu size %zu ptr %p\"
qemu_vfree(void *ptr) \"ptr %p\"
g_malloc(size_t size, void *ptr) \"size %zu ptr %p\"
g_realloc(void *ptr, size_t size, void *newptr) \"ptr %p size %zu newptr %p\"
g_free(void *ptr) \"ptr %p\"
";
const MEMALIGN: u64 = 0;
const VFREE: u64 = 1;
const G_MALLOC: u64 = 2;
const G_REALLOC: u64 = 3;
const G_FREE: u64 = 4;

struct Gen<W: Write> {
    out: W,
    buf: Vec<u8>,
    ts: u64,
    sizes: u64,
}

impl<W: Write> Gen<W> {
    fn event(&mut self, id: u64, pid: u32, args: &[u64]) -> std::io::Result<()> {
        let args: Vec<ArgValue<'_>> = args.iter().map(|&a| ArgValue::Int(a)).collect();
        self.ts += 1_000;
        encode::event(&mut self.buf, id, self.ts, pid, &args);
        if self.buf.len() > 1 << 20 {
            self.out.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    /// The size of block `i`: one of `sizes` values, or its own.
    fn size(&self, i: u64) -> u64 {
        if self.sizes == 0 {
            16 + i
        } else {
            16 << (i % self.sizes % 20) | (i % self.sizes) << 4
        }
    }
}

/// The address of block `i`: 64-byte aligned, in a heap-like range.
fn ptr(i: u64) -> u64 {
    0x5555_0000_0000 + i * 64
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut shape = String::from("live");
    let mut keys: u64 = 1_000_000;
    let mut sizes: u64 = 64;
    let mut output = PathBuf::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--shape" => shape = value()?,
            "--keys" => keys = value()?.parse()?,
            "--sizes" => sizes = value()?.parse()?,
            "-o" | "--output" => output = value()?.into(),
            _ => return Err(format!("unknown argument {a}").into()),
        }
    }
    if output.as_os_str().is_empty() {
        return Err(
            "usage: gen_alloc [--shape live|leaks|pids|reallocs] [--keys N] [--sizes N] -o OUT"
                .into(),
        );
    }
    let mut events_path = output.clone().into_os_string();
    events_path.push(".events");
    std::fs::write(&events_path, EVENTS)?;
    let mut g = Gen {
        out: std::io::BufWriter::new(std::fs::File::create(&output)?),
        buf: Vec::new(),
        ts: 0,
        sizes,
    };
    encode::header(&mut g.buf, 4);
    for (id, name) in [
        "qemu_memalign",
        "qemu_vfree",
        "g_malloc",
        "g_realloc",
        "g_free",
    ]
    .iter()
    .enumerate()
    {
        encode::mapping(&mut g.buf, id as u64, name.as_bytes());
    }
    match shape.as_str() {
        "live" | "leaks" => {
            for i in 0..keys {
                g.event(MEMALIGN, 1, &[4096, g.size(i), ptr(i)])?;
            }
            if shape == "live" {
                for i in 0..keys {
                    g.event(VFREE, 1, &[ptr(i)])?;
                }
            }
        }
        "pids" => {
            for i in 0..keys {
                let pid = 1000 + i as u32;
                g.event(MEMALIGN, pid, &[4096, g.size(i), ptr(0)])?;
                g.event(VFREE, pid, &[ptr(0)])?;
                g.event(MEMALIGN, pid, &[4096, g.size(i), ptr(1)])?;
            }
        }
        "reallocs" => {
            for i in 0..keys {
                g.event(G_MALLOC, 1, &[g.size(i), ptr(2 * i)])?;
            }
            for i in 0..keys {
                g.event(G_REALLOC, 1, &[ptr(2 * i), 2 * g.size(i), ptr(2 * i + 1)])?;
            }
            for i in 0..keys {
                g.event(G_FREE, 1, &[ptr(2 * i + 1)])?;
            }
        }
        other => return Err(format!("unknown shape {other}").into()),
    }
    let Gen { mut out, buf, .. } = g;
    out.write_all(&buf)?;
    out.flush()?;
    eprintln!("{}: {shape}, {keys} keys", output.display());
    Ok(())
}
