//! The 24-byte file header: detecting the format version and byte order.

use nom::Parser;

use super::error::{Error, Result};
use super::wire::{Little, Order};

/// First header word of every simple trace.
pub const HEADER_EVENT_ID: u64 = 0xffff_ffff_ffff_ffff;
/// Second header word of every simple trace.
pub const HEADER_MAGIC: u64 = 0xf2b1_77cb_0aa4_29b4;
/// Length of the file header in bytes (versions 2 to 4).
pub const HEADER_LEN: usize = 24;
/// Length of the file header of version 0, which has the size of its
/// records.
pub const V0_HEADER_LEN: usize = 64;

/// The byte order integers are stored in (that of the machine that wrote
/// the trace).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteOrder {
    /// Least significant byte first (x86, most ARM and RISC-V hosts).
    Little,
    /// Most significant byte first (s390x, some PowerPC hosts).
    Big,
}

impl ByteOrder {
    /// The byte order of the machine running this code.
    pub const NATIVE: ByteOrder = if cfg!(target_endian = "big") {
        ByteOrder::Big
    } else {
        ByteOrder::Little
    };
}

/// A simple-trace format version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// The first format: fixed 64-byte records, six u64 arguments.
    V0,
    /// Variable-length records without mapping records.
    V2,
    /// As version 2 (a later revision of the same record layout).
    V3,
    /// Mapping records, event records with a pid; QEMU since 2.8.
    V4,
}

impl Version {
    /// The version number as written in the header.
    pub fn number(self) -> u64 {
        match self {
            Version::V0 => 0,
            Version::V2 => 2,
            Version::V3 => 3,
            Version::V4 => 4,
        }
    }
}

/// What kind of trace a buffer holds, read from its header alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceKind {
    /// The format version.
    pub version: Version,
    /// The byte order of every integer in the file.
    pub order: ByteOrder,
    /// Where the first record starts (0 for headerless traces).
    pub records_start: usize,
}

impl TraceKind {
    /// Whether event ids are positions in the trace-events file: in
    /// headerless traces and before version 4, which have no mapping
    /// records.
    pub(crate) fn ids_are_positions(&self) -> bool {
        self.records_start == 0 || self.version != Version::V4
    }

    /// Reads the header at the start of `data` and checks it.
    ///
    /// ```
    /// use simpletrace::format::header::{ByteOrder, TraceKind, Version};
    ///
    /// let mut file = vec![0xff; 8];
    /// file.extend(0xf2b177cb0aa429b4u64.to_le_bytes());
    /// file.extend(4u64.to_le_bytes());
    /// let kind = TraceKind::detect(&file)?;
    /// assert_eq!((kind.version, kind.order, kind.records_start), (Version::V4, ByteOrder::Little, 24));
    /// # Ok::<(), simpletrace::format::Error>(())
    /// ```
    pub fn detect(data: &[u8]) -> Result<TraceKind> {
        let Ok((_, (id, magic_le, version_le))) =
            (Little::u64, Little::u64, Little::u64).parse(data)
        else {
            return Err(Error::TruncatedHeader {
                len: data.len() as u64,
                needed: HEADER_LEN as u64,
            });
        };
        if id != HEADER_EVENT_ID {
            return Err(Error::BadHeaderId { found: id });
        }
        let (order, version) = if magic_le == HEADER_MAGIC {
            (ByteOrder::Little, version_le)
        } else if magic_le.swap_bytes() == HEADER_MAGIC {
            (ByteOrder::Big, version_le.swap_bytes())
        } else {
            return Err(Error::BadMagic { found: magic_le });
        };
        let (version, records_start) = match version {
            4 => (Version::V4, HEADER_LEN),
            3 => (Version::V3, HEADER_LEN),
            2 => (Version::V2, HEADER_LEN),
            // Version 0 wrote its header as one of its fixed 64-byte
            // records: the three words, then five zero words.
            0 if data.len() >= V0_HEADER_LEN => (Version::V0, V0_HEADER_LEN),
            0 => {
                return Err(Error::TruncatedHeader {
                    len: data.len() as u64,
                    needed: V0_HEADER_LEN as u64,
                });
            }
            _ => return Err(Error::UnknownVersion { version }),
        };
        Ok(TraceKind {
            version,
            order,
            records_start,
        })
    }

    /// The kind of a headerless trace (QEMU's `--no-header` reading): version
    /// 4 records from the first byte, in this machine's byte order.
    pub fn headerless() -> TraceKind {
        TraceKind {
            version: Version::V4,
            order: ByteOrder::NATIVE,
            records_start: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(words: [u64; 3], big: bool) -> Vec<u8> {
        words
            .iter()
            .flat_map(|w| {
                if big {
                    w.to_be_bytes()
                } else {
                    w.to_le_bytes()
                }
            })
            .collect()
    }

    #[test]
    fn little_and_big_endian() {
        let le = TraceKind::detect(&header([HEADER_EVENT_ID, HEADER_MAGIC, 4], false)).unwrap();
        assert_eq!(le.order, ByteOrder::Little);
        let be = TraceKind::detect(&header([HEADER_EVENT_ID, HEADER_MAGIC, 4], true)).unwrap();
        assert_eq!(be.order, ByteOrder::Big);
        assert_eq!(be.version, Version::V4);
    }

    #[test]
    fn every_version() {
        for (v, version, start) in [
            (2, Version::V2, 24),
            (3, Version::V3, 24),
            (4, Version::V4, 24),
        ] {
            let kind =
                TraceKind::detect(&header([HEADER_EVENT_ID, HEADER_MAGIC, v], false)).unwrap();
            assert_eq!((kind.version, kind.records_start), (version, start));
        }
        let mut v0 = header([HEADER_EVENT_ID, HEADER_MAGIC, 0], true);
        v0.resize(64, 0);
        let kind = TraceKind::detect(&v0).unwrap();
        assert_eq!(
            (kind.version, kind.order, kind.records_start),
            (Version::V0, ByteOrder::Big, 64)
        );
    }

    #[test]
    fn faults() {
        match TraceKind::detect(&[0xff; 23]) {
            Err(Error::TruncatedHeader {
                len: 23,
                needed: 24,
            }) => {}
            otherwise => panic!("{otherwise:?}"),
        }
        match TraceKind::detect(&[]) {
            Err(Error::TruncatedHeader { len: 0, needed: 24 }) => {}
            otherwise => panic!("{otherwise:?}"),
        }
        match TraceKind::detect(&header([1, HEADER_MAGIC, 4], false)) {
            Err(Error::BadHeaderId { found: 1 }) => {}
            otherwise => panic!("{otherwise:?}"),
        }
        match TraceKind::detect(&header([HEADER_EVENT_ID, 7, 4], false)) {
            Err(Error::BadMagic { found: 7 }) => {}
            otherwise => panic!("{otherwise:?}"),
        }
        match TraceKind::detect(&header([HEADER_EVENT_ID, HEADER_MAGIC, 5], false)) {
            Err(Error::UnknownVersion { version: 5 }) => {}
            otherwise => panic!("{otherwise:?}"),
        }
        match TraceKind::detect(&header([HEADER_EVENT_ID, HEADER_MAGIC, 0], false)) {
            Err(Error::TruncatedHeader {
                len: 24,
                needed: 64,
            }) => {}
            otherwise => panic!("{otherwise:?}"),
        }
    }
}
