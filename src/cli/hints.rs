//! Explanations for inputs given the wrong way round: the two file
//! arguments swapped, or a text file where the binary trace goes. The
//! parsers' own messages ("bad magic", "line 1: not an event
//! declaration") are right but do not say what the user did.

use std::io::Read;
use std::path::Path;

use crate::format::header::{HEADER_EVENT_ID, HEADER_MAGIC};

/// The first `n` bytes of `path` (fewer if it is shorter; none if it
/// cannot be read or is not a regular file). Only regular files are
/// opened again: a pipe or FIFO (`-`, `<(...)`, `mkfifo`) has already been
/// read, and opening it a second time would wait for a writer that is gone.
fn head(path: &Path, n: usize) -> Vec<u8> {
    let mut buf = Vec::new();
    if std::fs::metadata(path).is_ok_and(|m| m.is_file())
        && let Ok(file) = std::fs::File::open(path)
    {
        let _ = file.take(n as u64).read_to_end(&mut buf);
    }
    buf
}

/// Whether `path` starts with a simple-trace file header (either byte
/// order).
pub(super) fn looks_like_trace(path: &Path) -> bool {
    let bytes = head(path, 16);
    let word = |i: usize, le: bool| -> Option<u64> {
        let b: [u8; 8] = bytes.get(i..i + 8)?.try_into().ok()?;
        Some(if le {
            u64::from_le_bytes(b)
        } else {
            u64::from_be_bytes(b)
        })
    };
    [true, false]
        .iter()
        .any(|&le| word(0, le) == Some(HEADER_EVENT_ID) && word(8, le) == Some(HEADER_MAGIC))
}

/// Whether `path` starts like a text file: no NUL byte and valid UTF-8 in
/// its first 4 KiB (a character cut at the end is fine).
pub(super) fn looks_like_text(path: &Path) -> bool {
    let bytes = head(path, 4096);
    !bytes.is_empty()
        && !bytes.contains(&0)
        && match core::str::from_utf8(&bytes) {
            Ok(_) => true,
            Err(e) => e.error_len().is_none(),
        }
}

/// Why the trace-events file failed, when the arguments say more than the
/// parser could.
pub(super) fn events_file_hint(events: &Path, trace: &Path) -> Option<String> {
    if !looks_like_trace(events) {
        return None;
    }
    let (e, t) = (events.display(), trace.display());
    Some(if looks_like_text(trace) {
        format!(
            "the two files seem swapped: {e} is a binary trace and {t} is text (a trace-events \
             file?); the trace-events file comes first: simpletrace [COMMAND] {t} {e}"
        )
    } else {
        format!(
            "{e} is a binary trace, not a trace-events file: give TRACE_EVENTS (the \
             trace-events-all file of the QEMU build) first, then TRACE_FILE"
        )
    })
}

/// Why the trace has no valid header, when it is a text file.
pub(super) fn trace_file_hint(trace: &Path) -> Option<String> {
    looks_like_text(trace).then(|| {
        format!(
            "{} is a text file (a trace-events file?), not a binary trace: TRACE_FILE is the \
             trace-PID file QEMU's simple backend wrote",
            trace.display()
        )
    })
}

/// Why a trace read with a header check has no header, when it starts as
/// a trace written without one does: with a record type word (0, a
/// mapping; 1, an event) in either byte order.
pub(super) fn missing_header_hint(e: &crate::format::Error) -> Option<&'static str> {
    let crate::format::Error::BadHeaderId { found } = *e else {
        return None;
    };
    [0, 1, 1u64.swap_bytes()].contains(&found).then_some(
        "it starts with a record, as a trace written without a header does: read it with \
         --no-header",
    )
}

/// Why a trace read with `--no-header` has a bad first record, when that
/// record is a file header.
pub(super) fn needless_no_header_hint(e: &crate::format::Error) -> Option<&'static str> {
    match *e {
        crate::format::Error::UnknownRecordType { at, found }
            if at.offset.0 == 0 && found == HEADER_EVENT_ID =>
        {
            Some("it starts with a file header: read it without --no-header")
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_traces_and_text() {
        let dir = std::env::temp_dir().join(format!("simpletrace-hints-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let trace = dir.join("trace");
        let text = dir.join("te");
        let mut t = Vec::new();
        crate::format::encode::header(&mut t, 4);
        std::fs::write(&trace, &t).unwrap();
        std::fs::write(&text, "a(int x) \"x %d\"\n").unwrap();
        assert!(looks_like_trace(&trace) && !looks_like_text(&trace));
        assert!(looks_like_text(&text) && !looks_like_trace(&text));
        assert!(
            events_file_hint(&trace, &text)
                .unwrap()
                .contains("seem swapped")
        );
        assert!(
            events_file_hint(&trace, &trace)
                .unwrap()
                .contains("is a binary trace, not")
        );
        assert_eq!(events_file_hint(&text, &trace), None);
        assert!(trace_file_hint(&text).unwrap().contains("is a text file"));
        assert_eq!(trace_file_hint(&trace), None);
        assert!(!looks_like_text(Path::new("-")) && !looks_like_trace(&dir.join("missing")));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn header_or_no_header() {
        use crate::format::{At, Error, FileOffset, RecordIndex};
        for found in [0, 1, 1u64.swap_bytes()] {
            assert!(missing_header_hint(&Error::BadHeaderId { found }).is_some());
        }
        assert_eq!(missing_header_hint(&Error::BadHeaderId { found: 2 }), None);
        assert_eq!(missing_header_hint(&Error::BadMagic { found: 1 }), None);
        let at = |offset| At {
            record: RecordIndex(0),
            offset: FileOffset(offset),
        };
        let first = Error::UnknownRecordType {
            at: at(0),
            found: u64::MAX,
        };
        assert!(needless_no_header_hint(&first).is_some());
        let later = Error::UnknownRecordType {
            at: at(24),
            found: u64::MAX,
        };
        assert_eq!(needless_no_header_hint(&later), None);
        let other = Error::UnknownRecordType {
            at: at(0),
            found: 7,
        };
        assert_eq!(needless_no_header_hint(&other), None);
    }
}
