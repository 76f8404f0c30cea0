//! The `simpletrace` command: a drop-in for QEMU's `scripts/simpletrace.py`
//! and more. The command line lives in the library (`simpletrace::cli`), so
//! that crates with analyzers of their own can build the same command with
//! them added.

fn main() -> std::process::ExitCode {
    simpletrace::cli::main()
}
