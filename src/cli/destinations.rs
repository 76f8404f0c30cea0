//! Where the analyzers of `run` write: each to standard output, or to a
//! file of its own (`--output KEY=FILE`); and which of them may not share
//! standard output, decided from what each declares it streams
//! ([`Stream`]) before the trace is opened.
//!
//! Standard output carries one format: records for people (`print`,
//! `log`) followed by reports under headings; or one document for other
//! programs (a stream such as `json`'s or `chrome`'s, or with `--json` the
//! reports' JSON object), and then nothing else.

use std::path::{Path, PathBuf};

use super::args::OutputTo;
use crate::analyzers::sink::Stream;
use crate::format::excerpt::Excerpt;
use crate::syntax::did_you_mean;

/// One analyzer of a run, as these rules see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Writer<'a> {
    /// Its report key: its name, or `NAME#2`... for a later one of the
    /// same name.
    pub(super) key: &'a str,
    /// What it streams into the run's output as records go by.
    pub(super) stream: Option<Stream>,
}

impl Writer<'_> {
    /// Whether it writes records into the run's output (rather than only a
    /// report at the end, or records to a destination of its own).
    pub(super) fn streams(&self) -> bool {
        matches!(self.stream, Some(Stream::Text | Stream::Data))
    }

    /// What it puts on standard output, for messages.
    fn what(&self) -> String {
        if self.streams() {
            format!("{}'s records", self.key)
        } else {
            format!("{}'s report", self.key)
        }
    }
}

/// For each analyzer (by key, in the run's order), the file `--output`
/// sends it to, or `None` for standard output (also for `KEY=-`). A key
/// that names no analyzer of the run, or one given twice, is refused with
/// the message to show.
pub(super) fn assign(
    keys: &[String],
    outputs: &[OutputTo],
) -> Result<Vec<Option<PathBuf>>, String> {
    let mut files: Vec<Option<PathBuf>> = vec![None; keys.len()];
    let mut given: Vec<&str> = Vec::new();
    for OutputTo { key, path } in outputs {
        let Some(i) = keys.iter().position(|k| k == key) else {
            let suggestion = did_you_mean(key, keys.iter().map(String::as_str))
                .map_or(String::new(), |k| format!("; did you mean {k}?"));
            return Err(format!(
                "--output: no analyzer of this run has the key {} (its keys: {}; the second \
                 analyzer of a name is NAME#2){suggestion}",
                Excerpt::new(key),
                keys.join(", "),
            ));
        };
        if given.contains(&key.as_str()) {
            return Err(format!(
                "--output {key}=... is given twice: an analyzer's output goes to one place"
            ));
        }
        given.push(key);
        if path != Path::new("-") {
            files[i] = Some(path.clone());
        }
    }
    Ok(files)
}

/// Checks that the analyzers left on standard output can share it
/// (`json`: the reports go there as one JSON document). Refused, with the
/// message to show: with `--json`, any records streamed there (they would
/// be mixed into the document); without, records for other programs
/// ([`Stream::Data`]) together with anything else (another analyzer's
/// records, or its report: a plugin's cannot be known to be empty before
/// the run).
pub(super) fn check_shared(on_stdout: &[Writer<'_>], json: bool) -> Result<(), String> {
    if json {
        let streaming: Vec<&Writer<'_>> = on_stdout.iter().filter(|w| w.streams()).collect();
        let Some(first) = streaming.first() else {
            return Ok(());
        };
        let what = list(streaming.iter().map(|w| w.what()));
        let send = match streaming.as_slice() {
            [_] => format!("send them to a file with --output {}=FILE", first.key),
            _ => format!(
                "send them to files with --output KEY=FILE (e.g. --output {}=FILE)",
                first.key
            ),
        };
        return Err(format!(
            "--json writes the reports to standard output as one JSON document, and {what} \
             would be mixed into it: {send}, or leave out --json"
        ));
    }
    let Some(data) = on_stdout.iter().find(|w| w.stream == Some(Stream::Data)) else {
        return Ok(());
    };
    let others: Vec<&Writer<'_>> = on_stdout.iter().filter(|w| w.key != data.key).collect();
    let Some(other) = others.first() else {
        return Ok(());
    };
    Err(not_shared(
        &data.what(),
        &list(others.iter().map(|w| w.what())),
        &format!(
            "send all but one to files with --output KEY=FILE (e.g. --output {}=FILE)",
            other.key
        ),
    ))
}

/// The message for `what`, a format for other programs, asked onto
/// standard output where `others` go too (`run`'s analyzers, `hist --svg
/// -` with `--json`): one usage error for every command, with `remedy`
/// saying what to send elsewhere.
pub(super) fn not_shared(what: &str, others: &str, remedy: &str) -> String {
    format!(
        "{what}, a format for other programs, must have standard output to itself, but \
         {others} would go there too: {remedy}"
    )
}

/// Refuses binary output to a terminal (it would garble the screen, and
/// is never what was meant): the usage error for `option`, which asked for
/// standard output, when standard output is a terminal. `gzip`, `zstd`
/// and `git` refuse the same way.
pub(super) fn refuse_binary_to_terminal(
    option: &str,
    stdout_is_terminal: bool,
) -> Result<(), String> {
    if !stdout_is_terminal {
        return Ok(());
    }
    Err(format!(
        "{option} writes a binary trace to standard output, which is a terminal: redirect it \
         (> out.trace, | gzip > out.trace.gz), or give a file name"
    ))
}

/// `a`, `a and b`, `a, b and c`.
fn list(items: impl Iterator<Item = String>) -> String {
    let items: Vec<String> = items.collect();
    match items.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(key: &str, stream: Option<Stream>) -> Writer<'_> {
        Writer { key, stream }
    }

    const PRINT: Option<Stream> = Some(Stream::Text);
    const JSON: Option<Stream> = Some(Stream::Data);
    const REPORT: Option<Stream> = None;
    const OWN: Option<Stream> = Some(Stream::Own);

    /// What may share standard output: records for people with reports
    /// (under headings), any number of reports (text or one JSON object),
    /// one stream for other programs alone, and anything that writes
    /// elsewhere.
    #[test]
    fn allowed_on_standard_output() {
        for (writers, json) in [
            (vec![w("print", PRINT)], false),
            (vec![w("print", PRINT), w("log", PRINT)], false),
            (
                vec![w("print", PRINT), w("stats", REPORT), w("./p.so", REPORT)],
                false,
            ),
            (vec![w("stats", REPORT), w("locks", REPORT)], false),
            (vec![w("stats", REPORT), w("locks", REPORT)], true),
            (vec![w("json", JSON)], false),
            (vec![w("chrome", JSON)], false),
            (vec![w("stats", REPORT), w("filter", OWN)], true),
            (vec![w("stats", REPORT)], true),
            (vec![], true),
            (vec![], false),
        ] {
            assert_eq!(
                check_shared(&writers, json),
                Ok(()),
                "{writers:?} json {json}"
            );
        }
    }

    /// What may not: two streams for other programs (json twice too), one
    /// with anything else on standard output, and records with --json;
    /// each message names the analyzers that collide and says what to do.
    #[test]
    fn refused_on_standard_output() {
        for (writers, json, want) in [
            (
                vec![w("json", JSON), w("chrome", JSON)],
                false,
                "json's records, a format for other programs, must have standard output to \
                 itself, but chrome's records would go there too: send all but one to files \
                 with --output KEY=FILE (e.g. --output chrome=FILE)",
            ),
            (
                vec![w("json", JSON), w("json#2", JSON)],
                false,
                "json's records, a format for other programs, must have standard output to \
                 itself, but json#2's records would go there too",
            ),
            (
                vec![w("stats", REPORT), w("chrome", JSON), w("print", PRINT)],
                false,
                "chrome's records, a format for other programs, must have standard output to \
                 itself, but stats's report and print's records would go there too: send all \
                 but one to files with --output KEY=FILE (e.g. --output stats=FILE)",
            ),
            (
                vec![w("json", JSON), w("./libcount.so", REPORT)],
                false,
                "but ./libcount.so's report would go there too",
            ),
            (
                vec![w("json", JSON), w("filter", OWN)],
                false,
                "but filter's report would go there too",
            ),
            (
                vec![w("print", PRINT), w("stats", REPORT)],
                true,
                "--json writes the reports to standard output as one JSON document, and \
                 print's records would be mixed into it: send them to a file with --output \
                 print=FILE, or leave out --json",
            ),
            (
                vec![w("json", JSON)],
                true,
                "json's records would be mixed into it: send them to a file with --output \
                 json=FILE, or leave out --json",
            ),
            (
                vec![w("log", PRINT), w("stats", REPORT), w("chrome", JSON)],
                true,
                "log's records and chrome's records would be mixed into it: send them to files \
                 with --output KEY=FILE (e.g. --output log=FILE), or leave out --json",
            ),
        ] {
            match check_shared(&writers, json) {
                Err(e) => assert!(e.contains(want), "{writers:?} json {json}:\n{e}\n{want}"),
                Ok(()) => panic!("{writers:?} json {json}: allowed"),
            }
        }
    }

    /// A binary trace goes to a pipe or a file, never to a terminal.
    #[test]
    fn binary_output_to_a_terminal() {
        assert_eq!(refuse_binary_to_terminal("-o -", false), Ok(()));
        assert_eq!(
            refuse_binary_to_terminal("-o -", true),
            Err(
                "-o - writes a binary trace to standard output, which is a terminal: redirect \
                 it (> out.trace, | gzip > out.trace.gz), or give a file name"
                    .into()
            )
        );
    }

    #[test]
    fn output_keys() {
        let keys: Vec<String> = ["print", "stats", "stats#2"].map(String::from).to_vec();
        let to = |key: &str, path: &str| OutputTo {
            key: key.into(),
            path: path.into(),
        };
        assert_eq!(
            assign(&keys, &[to("stats#2", "b.txt"), to("print", "-")]),
            Ok(vec![None, None, Some("b.txt".into())])
        );
        assert_eq!(assign(&keys, &[]), Ok(vec![None, None, None]));
        let e = assign(&keys, &[to("stat", "f")]).unwrap_err();
        assert_eq!(
            e,
            "--output: no analyzer of this run has the key 'stat' (its keys: print, stats, \
             stats#2; the second analyzer of a name is NAME#2); did you mean stats?"
        );
        let e = assign(&keys, &[to("chrome", "f")]).unwrap_err();
        assert!(e.ends_with("NAME#2)"), "{e}");
        let e = assign(&keys, &[to("print", "a"), to("print", "b")]).unwrap_err();
        assert_eq!(
            e,
            "--output print=... is given twice: an analyzer's output goes to one place"
        );
    }
}
