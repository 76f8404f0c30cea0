//! Standard output, set up for bulk text.

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
