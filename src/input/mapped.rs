//! A memory-mapped trace file that another program may cut short while it
//! is read.
//!
//! A read-only map of a file stays the file: when another program
//! truncates it (`truncate -s`, `cp other trace`, a QEMU restarted with the
//! same `-trace file=`, which opens it with `O_TRUNC`), the kernel takes
//! back the pages past the new end, and the next read of one raises
//! `SIGBUS`, whose default action ends the process without a word.
//!
//! Every map made here is registered with a `SIGBUS` handler, installed
//! once per process (chaining to whatever handler was there before, for
//! faults that are not ours). When a read faults inside a registered map,
//! the handler puts fresh zero-filled pages in place of the vanished ones,
//! from the faulting page to the end of the map, and lowers the map's
//! valid length to where they start; the read is retried and sees zeros.
//! Readers given that valid length ([`MappedFile::valid_len`],
//! `TraceReader::with_valid_len`) stop at the first record that reaches
//! past it, with a fault that names it, and everything before it has been
//! read from the file's own bytes. [`MappedFile::shrink`] then tells how
//! the file changed. The fast path pays next to nothing for this: the
//! handler runs only on a fault, and a reader compares each record's end
//! with the pages it has checked, and checks once per page.

use core::fmt;
use core::ops::Deref;
use core::sync::atomic::AtomicUsize;
use std::fs::File;

use memmap2::Mmap;

/// A read-only memory map of a trace file, guarded against the file
/// shrinking under it (see the [module documentation](self)).
pub struct MappedFile {
    // Declared first, so dropped first: the map leaves the guard's table
    // before it is unmapped and its addresses can be reused.
    guard: Option<guard::Registration>,
    map: Mmap,
    file: File,
    /// Without a guard (its table full, or not Unix): the whole map.
    unguarded_len: AtomicUsize,
}

impl fmt::Debug for MappedFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MappedFile")
            .field("len", &self.map.len())
            .field("guarded", &self.guard.is_some())
            .finish()
    }
}

impl Deref for MappedFile {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.map
    }
}

/// How a mapped file changed while it was read ([`MappedFile::shrink`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shrink {
    /// Its length when it was mapped.
    pub mapped: u64,
    /// Its length now, if it can be known.
    pub now: Option<u64>,
    /// Where the first read of a vanished page was (page-aligned), if one
    /// was caught: bytes from there on read as zeros.
    pub caught_at: Option<u64>,
}

/// How far before the new end of a shrunk trace a faulty record may start
/// and still be the cut's doing (its bytes past the end read as zeros):
/// QEMU's records are a few KiB at most.
const NEAR_THE_CUT: u64 = 64 << 10;

impl Shrink {
    /// Whether a read of a vanished page was caught: what was read past
    /// [`Shrink::caught_at`] was zeros, not the file.
    pub fn caught(&self) -> bool {
        self.caught_at.is_some()
    }

    /// Whether the shrink, rather than the file's own bytes, ended a read
    /// that stopped at `fault` (`None`: that did not stop at a record): a
    /// read of a vanished page was caught, or the reader stopped at the
    /// cut itself ([`Error::Cut`]), or at a record starting within 64 KiB
    /// of the new end (the zeros after it). A fault well inside what is
    /// left of the file is the file's own, shrink or not.
    ///
    /// [`Error::Cut`]: crate::format::Error::Cut
    pub fn explains(&self, fault: Option<&crate::format::Error>) -> bool {
        let reaches = match fault {
            None => false,
            Some(crate::format::Error::Cut { .. }) => true,
            Some(e) => match (e.at(), self.now) {
                (Some(at), Some(now)) => at.offset.0.saturating_add(NEAR_THE_CUT) > now,
                _ => true,
            },
        };
        self.caught() || reaches
    }
}

impl fmt::Display for Shrink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.now {
            Some(now) if now < self.mapped => write!(
                f,
                "the file shrank from {} to {now} bytes while it was read (another program \
                 truncated or rewrote it)",
                self.mapped
            ),
            _ => write!(
                f,
                "a part of the file could not be read while it was read (it was cut short \
                 and written again, or the storage failed; it was {} bytes long when opened)",
                self.mapped
            ),
        }
    }
}

impl MappedFile {
    /// Maps `file` if it is a regular file that is not empty (an empty map
    /// is an error on some systems) and can be mapped.
    #[allow(unsafe_code)]
    pub(crate) fn open(file: File) -> Result<MappedFile, File> {
        if !file.metadata().is_ok_and(|m| m.is_file() && m.len() > 0) {
            return Err(file);
        }
        // SAFETY: the map is read-only and every byte of it is treated as
        // untrusted input (the decoder checks all lengths against the
        // slice). Its bytes can change under it (another program writing
        // the file, which for a trace means appending, or rewriting it
        // after a truncation: then the records read are that program's,
        // and still only bytes to decode), and they can vanish (a
        // truncation): when the guard registered below is in place (Unix,
        // the handler installed, a free slot among 64), that SIGBUS
        // becomes zero pages and a lowered valid length; without it, it
        // ends the process, as a plain map does.
        let map = match unsafe { Mmap::map(&file) } {
            Ok(map) => map,
            Err(_) => return Err(file),
        };
        #[cfg(unix)]
        {
            // Records are read front to back; let the kernel read ahead.
            let _ = map.advise(memmap2::Advice::Sequential);
        }
        let guard = guard::Registration::new(map.as_ptr() as usize, map.len());
        Ok(MappedFile {
            guard,
            unguarded_len: AtomicUsize::new(map.len()),
            map,
            file,
        })
    }

    /// How many bytes from the start are still the file's: the map's
    /// length, lowered by the guard when a read finds that the file has
    /// shrunk. Give it to `TraceReader::with_valid_len`.
    pub fn valid_len(&self) -> &AtomicUsize {
        match &self.guard {
            Some(g) => g.valid_len(),
            None => &self.unguarded_len,
        }
    }

    /// How the file changed while it was read: `Some` when a read of a
    /// vanished page was caught, or when the file is now shorter than it
    /// was when mapped. A file that only grew is not a change (the bytes
    /// past the map are simply not read).
    pub fn shrink(&self) -> Option<Shrink> {
        let mapped = self.map.len() as u64;
        let now = self.file.metadata().ok().map(|m| m.len());
        let caught_at = self.guard.as_ref().and_then(|g| g.caught_at());
        let shorter = now.is_some_and(|n| n < mapped);
        (caught_at.is_some() || shorter).then_some(Shrink {
            mapped,
            now,
            caught_at: caught_at.map(|c| c as u64),
        })
    }

    /// The map, for advice.
    pub(crate) fn map(&self) -> &Mmap {
        &self.map
    }

    /// Unmaps the file and gives it back (its position untouched: still
    /// at its start when it was opened there).
    pub(crate) fn into_file(self) -> File {
        self.file
    }
}

#[cfg(unix)]
#[allow(unsafe_code)]
mod guard {
    //! The process-wide SIGBUS handler and its table of guarded maps.

    use core::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Once, OnceLock};

    /// Maps guarded at once; a map made when all are taken is not
    /// guarded (it reads as before: a vanished page ends the process).
    const SLOTS: usize = 64;

    /// A `start` that no address matches: a slot being filled or emptied.
    const BUSY: usize = usize::MAX;

    struct Slot {
        /// The map's first address; 0 when the slot is free.
        start: AtomicUsize,
        len: AtomicUsize,
        /// Bytes of the map still the file's (lowered on a fault).
        valid: AtomicUsize,
    }

    #[allow(clippy::declare_interior_mutable_const)]
    const FREE: Slot = Slot {
        start: AtomicUsize::new(0),
        len: AtomicUsize::new(0),
        valid: AtomicUsize::new(0),
    };

    static TABLE: [Slot; SLOTS] = [FREE; SLOTS];

    /// The handler that was there before ours, for faults not ours.
    static PREVIOUS: OnceLock<libc::sigaction> = OnceLock::new();
    static INSTALL: Once = Once::new();
    static PAGE: AtomicUsize = AtomicUsize::new(0);

    /// A map's place in the table, freed on drop.
    pub(super) struct Registration {
        slot: &'static Slot,
    }

    impl Registration {
        /// Registers the map at `start`, `len` bytes long; `None` when the
        /// table is full or the handler could not be installed.
        pub(super) fn new(start: usize, len: usize) -> Option<Registration> {
            install();
            if PAGE.load(Ordering::Relaxed) == 0 || start == 0 {
                return None;
            }
            let slot = TABLE.iter().find(|s| {
                s.start
                    .compare_exchange(0, BUSY, Ordering::AcqRel, Ordering::Relaxed)
                    .is_ok()
            })?;
            slot.len.store(len, Ordering::Relaxed);
            slot.valid.store(len, Ordering::Relaxed);
            // Published last: a handler that sees `start` sees the rest.
            slot.start.store(start, Ordering::Release);
            Some(Registration { slot })
        }

        pub(super) fn valid_len(&self) -> &AtomicUsize {
            &self.slot.valid
        }

        /// Where the first caught fault was, if any.
        pub(super) fn caught_at(&self) -> Option<usize> {
            let valid = self.slot.valid.load(Ordering::Acquire);
            (valid < self.slot.len.load(Ordering::Relaxed)).then_some(valid)
        }
    }

    impl core::fmt::Debug for Registration {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            f.debug_struct("Registration").finish_non_exhaustive()
        }
    }

    impl Drop for Registration {
        fn drop(&mut self) {
            self.slot.start.store(BUSY, Ordering::Release);
            self.slot.len.store(0, Ordering::Relaxed);
            self.slot.start.store(0, Ordering::Release);
        }
    }

    fn install() {
        INSTALL.call_once(|| {
            // SAFETY: sysconf has no preconditions.
            let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
            let Ok(page) = usize::try_from(page) else {
                return;
            };
            if !page.is_power_of_two() {
                return;
            }
            // SAFETY: a zeroed sigaction is a valid value of the type
            // (no handler, empty mask, no flags); every field that matters
            // is set below.
            let mut action: libc::sigaction = unsafe { core::mem::zeroed() };
            action.sa_sigaction = on_sigbus as *const () as usize;
            // SIGBUS stays blocked while the handler runs: a fault inside
            // it (or inside a handler it forwards to) ends the process
            // rather than recursing.
            action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
            // SAFETY: a valid mask to empty.
            unsafe { libc::sigemptyset(&mut action.sa_mask) };
            // SAFETY: as above.
            let mut previous: libc::sigaction = unsafe { core::mem::zeroed() };
            // The previous handler is stored before ours can run.
            // SAFETY: both pointers are valid for the call.
            let installed =
                unsafe { libc::sigaction(libc::SIGBUS, core::ptr::null(), &mut previous) } == 0;
            if !installed || PREVIOUS.set(previous).is_err() {
                return;
            }
            // SAFETY: `action` is fully set. `on_sigbus` makes only
            // async-signal-safe calls: atomics, `mmap` (not on POSIX's list,
            // but a plain system call in glibc and musl on Linux, which is
            // all it needs to be here), and for faults not ours `sigaction`,
            // `pthread_sigmask` and the previous handler.
            if unsafe { libc::sigaction(libc::SIGBUS, &action, core::ptr::null_mut()) } == 0 {
                PAGE.store(page, Ordering::Relaxed);
            }
        });
    }

    /// The SIGBUS handler. For a read of a vanished page (`BUS_ADRERR`)
    /// inside a guarded map: lowers the map's valid length to the
    /// faulting page, then replaces the pages from it to the end of the
    /// map with zero pages (the faulting read is then retried and
    /// succeeds). Anything else goes to the previous handler.
    extern "C" fn on_sigbus(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
        // SAFETY: with SA_SIGINFO the kernel passes a valid siginfo.
        let (code, addr) = unsafe { ((*info).si_code, (*info).si_addr() as usize) };
        // A SIGBUS sent by kill() carries no address; nor is any other
        // kind of bus error ours.
        if code != libc::BUS_ADRERR {
            // SAFETY: forwarding the signal's own arguments.
            unsafe { forward(sig, info, ctx) };
            return;
        }
        let page = PAGE.load(Ordering::Relaxed);
        for slot in &TABLE {
            let start = slot.start.load(Ordering::Acquire);
            if start == 0 || start == BUSY || addr < start {
                continue;
            }
            let len = slot.len.load(Ordering::Relaxed);
            if addr - start >= len {
                continue;
            }
            let from = addr & !(page - 1);
            let end = (start + len).div_ceil(page) * page;
            // Lowered first, so that a reader in another thread that sees
            // the zero pages sees the lowered length too (readers fence
            // before they load it).
            slot.valid.fetch_min(from - start, Ordering::SeqCst);
            // SAFETY: [from, end) lies within a live mapping that this
            // process made read-only for a trace and registered here (it
            // is unregistered before it is unmapped); replacing its pages
            // with anonymous ones changes only what reads of it return.
            let replaced = unsafe {
                libc::mmap(
                    from as *mut libc::c_void,
                    end - from,
                    libc::PROT_READ,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                    -1,
                    0,
                )
            };
            if replaced == libc::MAP_FAILED {
                break;
            }
            return;
        }
        // Not ours: as if we were not here.
        // SAFETY: forwarding the signal's own arguments to the handler
        // that was installed before ours, as it expects to be called.
        unsafe { forward(sig, info, ctx) };
    }

    /// Hands a signal to the previous handler; for the default action,
    /// restores it and returns, so that the faulting read faults again and
    /// the process ends as it would have without us.
    unsafe fn forward(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
        let Some(previous) = PREVIOUS.get() else {
            return;
        };
        let handler = previous.sa_sigaction;
        if handler == libc::SIG_DFL
            || handler == libc::SIG_IGN
            || previous.sa_flags & libc::SA_RESETHAND != 0
        {
            // The default action (a read fault cannot be ignored), or a
            // handler meant to run once: put the previous action back, or
            // the default one, and return; the read faults again.
            let mut reset = *previous;
            if previous.sa_flags & libc::SA_RESETHAND != 0 {
                reset.sa_sigaction = libc::SIG_DFL;
            }
            // SAFETY: installing a valid action.
            unsafe { libc::sigaction(sig, &reset, core::ptr::null_mut()) };
            return;
        }
        // The previous handler runs with the mask it was installed with.
        // SAFETY: an all-zero sigset_t is a valid (empty) set.
        let mut old_mask: libc::sigset_t = unsafe { core::mem::zeroed() };
        // SAFETY: valid sets for the call.
        unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &previous.sa_mask, &mut old_mask) };
        if previous.sa_flags & libc::SA_SIGINFO != 0 {
            // SAFETY: the previous handler was installed with SA_SIGINFO,
            // so it has this signature.
            let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                unsafe { core::mem::transmute(handler) };
            f(sig, info, ctx);
        } else {
            // SAFETY: a plain handler takes the signal number.
            let f: extern "C" fn(libc::c_int) = unsafe { core::mem::transmute(handler) };
            f(sig);
        }
        // SAFETY: restoring the mask saved above.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old_mask, core::ptr::null_mut()) };
    }
}

#[cfg(not(unix))]
mod guard {
    //! No guard: a map reads as memmap2 gives it.

    use core::sync::atomic::AtomicUsize;

    /// Never made.
    #[derive(Debug)]
    pub(super) enum Registration {}

    impl Registration {
        pub(super) fn new(_: usize, _: usize) -> Option<Registration> {
            None
        }
        pub(super) fn valid_len(&self) -> &AtomicUsize {
            match *self {}
        }
        pub(super) fn caught_at(&self) -> Option<usize> {
            match *self {}
        }
    }
}
