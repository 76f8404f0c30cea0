//! io-sizes: a simpletrace analyzer plugin in Rust, built as a `cdylib`
//! against the C ABI of `include/simpletrace_plugin.h`, with no dependency
//! on simpletrace itself (exactly what a plugin in any language sees).
//!
//! For every event with an integer argument called `bytes` (QEMU's block
//! layer has dozens: `bdrv_co_pwritev_part`, `blk_co_preadv`, ...) it
//! reports a log2 histogram of the sizes, per event.
//!
//! ```sh
//! cargo build --release --manifest-path plugins/rust-io-sizes/Cargo.toml
//! simpletrace run --plugin plugins/rust-io-sizes/target/release/libsimpletrace_io_sizes.so \
//!     trace-events-all trace-12345
//! ```

use std::collections::BTreeMap;
use std::ffi::{c_char, c_void};
use std::fmt::Write as _;

// The ABI, mirrored from include/simpletrace_plugin.h.

const ABI_MAJOR: u32 = 1;
const ABI_MINOR: u32 = 0;
const ST_OK: i32 = 0;
const ST_ERROR: i32 = -1;
const ST_ARG_STRING: u32 = 4;

#[repr(C)]
pub struct StArg {
    name: *const u8,
    name_len: u32,
    kind: u32,
    value: u64,
    bytes: *const u8,
    len: u64,
}

#[repr(C)]
pub struct StRecord {
    name: *const u8,
    name_len: u32,
    nargs: u32,
    args: *const StArg,
    id: u64,
    timestamp_ns: u64,
    offset: u64,
    pid: u32,
    flags: u32,
}

#[repr(C)]
pub struct StTraceInfo {
    abi_major: u32,
    abi_minor: u32,
    format_version: u32,
    nevents: u32,
    file_size: u64,
}

#[repr(C)]
pub struct StOutput {
    text: *const c_char,
    text_len: usize,
    json: *const c_char,
    json_len: usize,
}

#[repr(C)]
pub struct StPlugin {
    abi_major: u32,
    abi_minor: u32,
    name: *const c_char,
    description: *const c_char,
    interest: *const c_char,
    create: unsafe extern "C" fn(*const StTraceInfo) -> *mut c_void,
    records: unsafe extern "C" fn(*mut c_void, *const StRecord, usize) -> i32,
    finish: unsafe extern "C" fn(*mut c_void, *mut StOutput) -> i32,
    last_error: unsafe extern "C" fn(*mut c_void) -> *const c_char,
    destroy: unsafe extern "C" fn(*mut c_void),
}

// SAFETY: the descriptor is immutable and its pointers are to statics.
unsafe impl Sync for StPlugin {}

/// Counts per power of two: bucket `k` holds sizes in [2^(k-1), 2^k)
/// (bucket 0 holds 0).
struct Histogram {
    buckets: [u64; 65],
    count: u64,
    sum: u128,
    min: u64,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            buckets: [0; 65],
            count: 0,
            sum: 0,
            min: 0,
            max: 0,
        }
    }
}

impl Histogram {
    fn add(&mut self, v: u64) {
        let k = 64 - v.leading_zeros() as usize;
        self.buckets[k] += 1;
        if self.count == 0 || v < self.min {
            self.min = v;
        }
        self.max = self.max.max(v);
        self.count += 1;
        self.sum += u128::from(v);
    }
}

#[derive(Default)]
struct State {
    events: BTreeMap<String, Histogram>,
    text: String,
    json: String,
}

fn human(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 && b % (1 << 30) == 0 => format!("{}G", b >> 30),
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{}M", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{}K", b >> 10),
        b => b.to_string(),
    }
}

unsafe extern "C" fn create(_info: *const StTraceInfo) -> *mut c_void {
    Box::into_raw(Box::new(State::default())).cast()
}

/// # Safety
/// Called by simpletrace with its own state and `n` valid records.
unsafe extern "C" fn records(state: *mut c_void, recs: *const StRecord, n: usize) -> i32 {
    if state.is_null() || (recs.is_null() && n > 0) {
        return ST_ERROR;
    }
    // SAFETY: `state` came from create; the records are valid for the call.
    let state = unsafe { &mut *state.cast::<State>() };
    let recs = if n == 0 { &[][..] } else { unsafe { std::slice::from_raw_parts(recs, n) } };
    for r in recs {
        let args = if r.nargs == 0 {
            &[][..]
        } else {
            // SAFETY: `nargs` arguments at `args`, per the ABI.
            unsafe { std::slice::from_raw_parts(r.args, r.nargs as usize) }
        };
        for a in args {
            // SAFETY: names are `name_len` bytes, per the ABI.
            let name = unsafe { std::slice::from_raw_parts(a.name, a.name_len as usize) };
            if name == b"bytes" && a.kind != ST_ARG_STRING {
                let event = unsafe { std::slice::from_raw_parts(r.name, r.name_len as usize) };
                let event = String::from_utf8_lossy(event).into_owned();
                state.events.entry(event).or_default().add(a.value);
            }
        }
    }
    ST_OK
}

unsafe extern "C" fn finish(state: *mut c_void, out: *mut StOutput) -> i32 {
    if state.is_null() || out.is_null() {
        return ST_ERROR;
    }
    // SAFETY: `state` came from create; `out` is valid for the call.
    let state = unsafe { &mut *state.cast::<State>() };
    let mut text = String::new();
    let mut json = String::from("{");
    if state.events.is_empty() {
        text.push_str("no event with an integer argument called 'bytes'\n");
    }
    for (i, (event, h)) in state.events.iter().enumerate() {
        let mean = h.sum as f64 / h.count as f64;
        let _ = writeln!(
            text,
            "{event}: {} records, {} bytes in all, min {} mean {mean:.0} max {}",
            h.count,
            h.sum,
            human(h.min),
            human(h.max)
        );
        let peak = h.buckets.iter().copied().max().unwrap_or(1).max(1);
        let mut buckets = Vec::new();
        for (k, &c) in h.buckets.iter().enumerate() {
            if c == 0 {
                continue;
            }
            let (lo, hi) = if k == 0 { (0, 1) } else { (1u128 << (k - 1), 1u128 << k) };
            let bar = "@".repeat(((c * 40).div_ceil(peak)) as usize);
            let _ = writeln!(text, "  [{:>6}, {:>6}) {c:>8} |{bar:<40}|", human(lo as u64), human(hi.min(u64::MAX as u128) as u64));
            buckets.push(format!("{{\"from\": {lo}, \"to\": {hi}, \"count\": {c}}}"));
        }
        let _ = write!(
            json,
            "{}\"{event}\": {{\"count\": {}, \"sum\": {}, \"min\": {}, \"max\": {}, \"buckets\": [{}]}}",
            if i > 0 { ", " } else { "" },
            h.count,
            h.sum,
            h.min,
            h.max,
            buckets.join(", ")
        );
    }
    json.push('}');
    state.text = text;
    state.json = json;
    // SAFETY: `out` is valid; the strings live in the state until destroy.
    unsafe {
        (*out).text = state.text.as_ptr().cast();
        (*out).text_len = state.text.len();
        (*out).json = state.json.as_ptr().cast();
        (*out).json_len = state.json.len();
    }
    ST_OK
}

unsafe extern "C" fn last_error(_state: *mut c_void) -> *const c_char {
    std::ptr::null()
}

unsafe extern "C" fn destroy(state: *mut c_void) {
    if !state.is_null() {
        // SAFETY: `state` came from create and is destroyed once.
        drop(unsafe { Box::from_raw(state.cast::<State>()) });
    }
}

static DESCRIPTOR: StPlugin = StPlugin {
    abi_major: ABI_MAJOR,
    abi_minor: ABI_MINOR,
    name: c"io-sizes".as_ptr(),
    description: c"log2 histogram of the 'bytes' argument, per event".as_ptr(),
    // Every event: which ones have a `bytes` argument is only known from
    // the declarations.
    interest: std::ptr::null(),
    create,
    records,
    finish,
    last_error,
    destroy,
};

/// The plugin's entry point.
#[unsafe(no_mangle)]
pub extern "C" fn simpletrace_plugin_v1() -> *const StPlugin {
    &DESCRIPTOR
}
