//! The C allocator's settings for the command's process.
//!
//! glibc's malloc serves a large block (128 KiB to start with) by mapping
//! fresh pages and gives them back on free, and hands the freed top of a
//! thread's heap back to the system soon after. The Parquet export
//! allocates and frees blocks of that size by the thousand (ZSTD's
//! contexts and output, Arrow buffers, encoded pages), so every block
//! cost a `mmap`, zeroed pages faulted in one by one and a `munmap` that
//! interrupts the other core to flush its TLB: a quarter of the export's
//! time (docs/performance.md, "Third round"). Keeping blocks up to
//! [`MMAP_THRESHOLD`] in the heaps, and up to [`TRIM_THRESHOLD`] of free
//! memory at a heap's top, reuses them instead; the peak memory is the
//! same within a few percent.

/// Blocks at least this large are still mapped on their own (whole row
/// groups, the trace's spool buffers): glibc's own ceiling for its
/// adaptive threshold.
pub(crate) const MMAP_THRESHOLD: usize = 32 << 20;

/// Free memory at the top of a heap kept for reuse.
pub(crate) const TRIM_THRESHOLD: usize = 64 << 20;

/// Applies the settings; called once, first thing in the process.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub(crate) fn tune() {
    // An environment that sets the allocator up itself is left alone.
    if std::env::var_os("GLIBC_TUNABLES").is_some_and(|t| t.to_string_lossy().contains("malloc"))
        || std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_some()
        || std::env::var_os("MALLOC_TRIM_THRESHOLD_").is_some()
    {
        return;
    }
    let as_int = |n: usize| libc::c_int::try_from(n).unwrap_or(libc::c_int::MAX);
    // SAFETY: mallopt only sets the allocator's parameters (under its own
    // lock) and touches no memory of the caller; an unknown value is
    // refused with a return of 0, which leaves the defaults.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, as_int(MMAP_THRESHOLD));
        libc::mallopt(libc::M_TRIM_THRESHOLD, as_int(TRIM_THRESHOLD));
    }
}

/// Other systems' allocators are left as they are.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub(crate) fn tune() {}
