//! Consumers of records.
//!
//! - [`print`]: the drop-in printer, byte-identical to QEMU's
//!   `simpletrace.py`.

pub mod print;
