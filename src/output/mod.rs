//! Where results go: standard output (set up for bulk text, and checked
//! to be open at all), and output files ([`OutputFile`]: never over an
//! input, renamed into place only when finished).

mod file;

pub use file::{OutputError, OutputFile};

/// When standard output is a pipe, asks the kernel for a larger pipe
/// buffer (1 MiB, the default limit for unprivileged processes): with the
/// default 64 KiB, a fast producer spends much of its time waiting for the
/// reader to wake up. Failures are ignored; the pipe simply stays as it is.
pub fn enlarge_stdout_pipe() {
    #[cfg(target_os = "linux")]
    {
        let stdout = std::io::stdout();
        let _ = rustix::pipe::fcntl_setpipe_size(&stdout, 1 << 20);
    }
}

/// Which of the standard streams were closed when the process started
/// ([`claim_standard_streams`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClosedStreams {
    /// Standard input (file descriptor 0).
    pub stdin: bool,
    /// Standard output (file descriptor 1).
    pub stdout: bool,
    /// Standard error (file descriptor 2).
    pub stderr: bool,
}

/// Which standard streams were closed when the process started, and
/// makes sure file descriptors 0, 1 and 2 are open now.
///
/// A closed one must not stay free: the next file this process opens (a
/// trace, an output file) would get its number and receive what was meant
/// for the stream. Rust's runtime already opens `/dev/null` on a closed
/// one before `main`, and this does it too where that did not happen; but
/// writing to a standard output the caller closed
/// (`simpletrace stats ... >&-`) then loses the results without a word, so
/// the caller must treat a closed standard output as an error wherever it
/// would write there. To
/// know what the caller closed, the descriptors are looked at before
/// Rust's runtime starts, by a constructor the program loader runs: on
/// ELF platforms (Linux, Android, FreeBSD). Elsewhere a stream the caller
/// closed is found only when the runtime did not reopen it, which Rust's
/// own `main` does on every Unix: there a closed standard output goes
/// unnoticed.
pub fn claim_standard_streams() -> ClosedStreams {
    #[cfg(unix)]
    {
        let before = at_start::closed();
        ClosedStreams {
            stdin: claim(0, libc::O_RDONLY) || before.stdin,
            stdout: claim(1, libc::O_WRONLY) || before.stdout,
            stderr: claim(2, libc::O_WRONLY) || before.stderr,
        }
    }
    #[cfg(not(unix))]
    {
        ClosedStreams::default()
    }
}

/// Whether `fd` is closed.
#[cfg(unix)]
#[allow(unsafe_code)]
fn is_closed(fd: libc::c_int) -> bool {
    // SAFETY: F_GETFD only reads the descriptor's flags; it fails with
    // EBADF when the descriptor is not open, and touches no memory.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    flags == -1 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EBADF)
}

/// Opens `/dev/null` on `fd` if it is closed; returns whether it was.
#[cfg(unix)]
#[allow(unsafe_code)]
fn claim(fd: libc::c_int, flags: libc::c_int) -> bool {
    if !is_closed(fd) {
        return false;
    }
    // SAFETY: a NUL-terminated path and plain flags. open returns the
    // lowest free descriptor; the lower ones were claimed first, so that
    // is `fd` itself, which is then left open for the life of the process
    // (no Rust handle owns it, so nothing closes it).
    let got = unsafe { libc::open(c"/dev/null".as_ptr(), flags) };
    if got != fd && got >= 0 {
        // Not the number expected (something else is odd): close it
        // rather than leak it; the stream stays closed.
        // SAFETY: `got` was just opened here and is owned by nothing else.
        unsafe { libc::close(got) };
    }
    true
}

/// The standard streams as the program loader handed them over, before
/// Rust's runtime opened `/dev/null` on the closed ones.
#[cfg(unix)]
mod at_start {
    use core::sync::atomic::{AtomicU8, Ordering};

    use super::ClosedStreams;

    /// Bit `fd` set: closed at start. Written once, before `main`.
    static CLOSED: AtomicU8 = AtomicU8::new(0);

    pub(super) fn closed() -> ClosedStreams {
        let bits = CLOSED.load(Ordering::Relaxed);
        ClosedStreams {
            stdin: bits & 1 != 0,
            stdout: bits & 2 != 0,
            stderr: bits & 4 != 0,
        }
    }

    /// Run by the program loader with the other constructors, before
    /// `main` and so before Rust's runtime touches the descriptors. It only
    /// asks the kernel about three descriptors and stores a byte.
    #[cfg(all(
        any(target_os = "linux", target_os = "android", target_os = "freebsd"),
        not(miri)
    ))]
    extern "C" fn look() {
        let mut bits = 0;
        for fd in 0..3 {
            if super::is_closed(fd) {
                bits |= 1 << fd;
            }
        }
        CLOSED.store(bits, Ordering::Relaxed);
    }

    // SAFETY: the loader calls each function of `.init_array` once, before
    // `main`, with no Rust state set up; `look` needs none (it makes a
    // system call and stores into an atomic).
    #[cfg(all(
        any(target_os = "linux", target_os = "android", target_os = "freebsd"),
        not(miri)
    ))]
    #[used]
    #[allow(unsafe_code)]
    #[unsafe(link_section = ".init_array")]
    static LOOK: extern "C" fn() = look;
}
