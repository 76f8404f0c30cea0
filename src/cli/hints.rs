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
}
