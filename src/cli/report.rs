//! Writing the reports of a run: text (under a heading each when there
//! are several, coloured on a terminal) or JSON (an object keyed by
//! analyzer name when there are several).

use std::io::{self, Write};

use super::term;
use crate::analyzers::Report;
use crate::report::render::{self, Style};

/// The keys of the reports (JSON keys, text headings): the analyzers'
/// names, where two analyzers share a name (a plugin called like a
/// built-in, two plugins of one name) the later ones numbered `NAME#2`,
/// `NAME#3`... so that no report hides another. Also says which were
/// renamed.
pub(super) fn report_keys(names: Vec<String>) -> (Vec<String>, Vec<String>) {
    let mut keys: Vec<String> = Vec::with_capacity(names.len());
    let mut renamed = Vec::new();
    for name in names {
        let mut key = name.clone();
        let mut n = 1;
        while keys.contains(&key) {
            n += 1;
            key = format!("{name}#{n}");
        }
        if key != name {
            renamed.push(format!(
                "two analyzers are called '{name}': the report of the one given later is '{key}'"
            ));
        }
        keys.push(key);
    }
    (keys, renamed)
}

/// Writes the reports, each with its key: their texts one after the
/// other, or with `json` = `Some(keyed)` one JSON value (an object keyed by
/// report key when there are several, or always when `keyed`). Empty
/// reports are left out. A text report goes under its `== KEY ==` heading
/// when there are several, or always when `headings` (several analyzers
/// write to `out`, even if only one of them reports). A document is
/// painted by block kind when `color` (see [`render`]); a report that is
/// only text (a plugin's) is written as it is. Reports made when written
/// out go out as they are rendered, through a buffer.
pub(super) fn write_reports(
    out: &mut dyn Write,
    reports: &[(&str, &Report)],
    json: Option<bool>,
    headings: bool,
    color: bool,
) -> io::Result<()> {
    let shown: Vec<(&str, &Report)> = reports
        .iter()
        .copied()
        .filter(|(_, r)| !r.is_empty())
        .collect();
    let mut buffered = io::BufWriter::with_capacity(64 << 10, &mut *out);
    if let Some(keyed) = json {
        match shown.as_slice() {
            [] if !keyed => {}
            [(_, r)] if !keyed => {
                r.write_json(&mut buffered, 0)?;
                writeln!(buffered)?;
            }
            many => {
                write_keyed_json(&mut buffered, many)?;
                writeln!(buffered)?;
            }
        }
    } else {
        let headings = headings || shown.len() > 1;
        let paint = term::painter(color);
        for (i, (name, r)) in shown.iter().enumerate() {
            if headings {
                if i > 0 {
                    buffered.write_all(b"\n")?;
                }
                paint.paint(Style::Heading, &format!("== {name} =="), &mut buffered)?;
                buffered.write_all(b"\n")?;
            }
            match r.as_document() {
                // Painted by block kind.
                Some(doc) => {
                    buffered.write_all(r.text.as_bytes())?;
                    render::write_text(doc, &mut buffered, paint)?;
                }
                // Text that is not data (a plugin's report): as it is,
                // never painted by its words.
                None => r.write_text(&mut buffered)?,
            }
        }
    }
    buffered.flush()?;
    drop(buffered);
    out.flush()
}

/// Writes `{"name": report, ...}` as `serde_json::to_string_pretty`
/// writes the object of the reports' JSON values (keys in
/// `serde_json::Map`'s order, a name given twice keeping its last report):
/// one [`LazyJson`](crate::analyzers::listing::LazyJson) object of the
/// reports' JSON forms, each written as it goes out.
pub(super) fn write_keyed_json(out: &mut dyn Write, shown: &[(&str, &Report)]) -> io::Result<()> {
    let fields = shown
        .iter()
        .map(|(name, r)| ((*name).to_owned(), r.lazy_json()))
        .collect();
    crate::analyzers::listing::LazyJson::Object(fields).write_pretty(out, 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::render::Ansi;

    /// A streamed report of a few rows, for the writers.
    struct Rows(u32);

    impl crate::analyzers::ReportBody for Rows {
        fn write_text(&self, out: &mut dyn Write) -> io::Result<()> {
            writeln!(out, "{} rows", self.0)
        }

        fn json(&self) -> crate::analyzers::listing::LazyJson<'_> {
            use crate::analyzers::listing::LazyJson;
            let rows = (0..self.0).map(|i| LazyJson::Value(serde_json::json!({ "i": i })));
            LazyJson::Object(vec![
                ("rows".into(), LazyJson::Array(Box::new(rows))),
                ("n".into(), LazyJson::Value(serde_json::json!(self.0))),
            ])
        }
    }

    /// Under colour a document is painted by block kind, and a report
    /// that is only text (a plugin's) goes out as it is: its words are
    /// never read for colour (a plugin line that said WARNING, or looked
    /// like a histogram bar, was once painted).
    #[test]
    fn text_reports_are_never_painted_by_their_words() {
        struct Lost;
        impl crate::report::Document for Lost {
            fn blocks(&self) -> crate::report::Blocks<'_> {
                Box::new(std::iter::once(crate::report::Block::Warning(
                    "lost".into(),
                )))
            }
            fn json(&self) -> crate::analyzers::listing::LazyJson<'_> {
                crate::analyzers::listing::LazyJson::Value(serde_json::Value::Null)
            }
        }
        let words = "WARNING: EVENTS WERE LOST\nEvents were lost: 3\n[0]   1 |@@  |\n== x ==\n";
        let reports = [
            Report::new(words, serde_json::Value::Null),
            Report::document(Lost),
        ];
        let keyed = [("plugin", &reports[0]), ("doc", &reports[1])];
        let mut out = Vec::new();
        write_reports(&mut out, &keyed, None, false, true).unwrap();
        let (b, w, r) = (
            Ansi::sgr(Style::Heading),
            Ansi::sgr(Style::Warning),
            Ansi::RESET,
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!("{b}== plugin =={r}\n{words}\n{b}== doc =={r}\n{w}lost{r}\n")
        );
    }

    /// Reports keyed by name are written as serde_json writes the object
    /// of their JSON values: keys in its order, a name given twice
    /// keeping its last report, streamed and in-memory reports alike.
    #[test]
    fn keyed_json_is_serde_jsons_object() {
        let reports = [
            Report::new("", serde_json::json!({"z": [1, {"a": null}], "b": "x"})),
            Report::streamed(Rows(3)),
            Report::new("", serde_json::json!(7)),
            Report::streamed(Rows(0)),
        ];
        let names = ["zeta", "alpha", "zeta", "mid"];
        let shown: Vec<(&str, &Report)> = names.into_iter().zip(&reports).collect();
        let mut out = Vec::new();
        write_keyed_json(&mut out, &shown).unwrap();
        let object: serde_json::Map<String, serde_json::Value> = shown
            .iter()
            .map(|(n, r)| ((*n).to_owned(), (*r).clone().complete().json))
            .collect();
        assert_eq!(object["zeta"], 7);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            serde_json::to_string_pretty(&object).unwrap()
        );
        let mut out = Vec::new();
        write_keyed_json(&mut out, &[]).unwrap();
        assert_eq!(out, b"{}");
    }
}
