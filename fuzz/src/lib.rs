//! Shared code of simpletrace's fuzz targets: the [`harness`] (what each
//! target does with its input, also replayed by the main crate's
//! `tests/fuzz_regressions.rs`) and a global allocator that turns any
//! allocation driven by a hostile length into a crash.

pub mod harness;

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The most heap the code under test may hold at once. libFuzzer's own
/// `-malloc_limit_mb` only works under a sanitizer's allocator; this works
/// with `--sanitizer none` too, and counts only Rust allocations (not
/// libFuzzer's corpus), so the limit can be tight.
pub const HEAP_LIMIT: usize = 64 << 20;

/// Bytes currently allocated through the Rust allocator.
static LIVE: AtomicUsize = AtomicUsize::new(0);

/// [`System`], aborting (a crash libFuzzer saves) when one allocation, or
/// everything live, passes [`HEAP_LIMIT`].
struct Limited;

fn over_limit() -> ! {
    // No formatting: that could allocate.
    let _ = std::io::stderr()
        .write_all(b"\n*** heap limit: an allocation would pass HEAP_LIMIT (64 MiB) ***\n");
    std::process::abort();
}

fn grow(size: usize) {
    let live = LIVE.fetch_add(size, Ordering::Relaxed) + size;
    if size > HEAP_LIMIT || live > HEAP_LIMIT {
        over_limit();
    }
}

// SAFETY: every call forwards to `System` with the caller's own layout and
// pointer; the counting around it touches only an atomic.
unsafe impl GlobalAlloc for Limited {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grow(layout.size());
        // SAFETY: forwarded as is (see the impl).
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        grow(layout.size());
        // SAFETY: forwarded as is.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: forwarded as is.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        grow(new_size);
        // SAFETY: forwarded as is.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if p.is_null() {
            // The old block is still there; undo the new size only.
            LIVE.fetch_sub(new_size, Ordering::Relaxed);
        } else {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Limited = Limited;
