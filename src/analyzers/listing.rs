//! Long report listings, written as they go out instead of built whole in
//! memory: a report whose rows can number millions (a mutex, a pid, a
//! histogram group or a linear bucket each) hands the writer a
//! [`Document`](crate::report::Document) (or a
//! [`ReportBody`](super::ReportBody)), whose rows are made one at a time
//! from the analyzer's data.
//!
//! Two helpers make the bytes the same as the in-memory forms:
//! - [`LazyJson`]: a JSON value whose arrays are iterators. Written with
//!   [`LazyJson::write_pretty`] it gives exactly what
//!   `serde_json::to_string_pretty` gives for [`LazyJson::into_value`]
//!   (object keys in `serde_json::Map`'s order), one array item at a time,
//!   but for integers past ±2^53, which both write as strings of their
//!   digits (the exact-integer rule, [`super::json::is_exact_in_json`]).
//! - [`TextTable`]: a table laid out like `comfy_table`'s `NOTHING` and
//!   `ASCII_MARKDOWN` presets with `trim_fmt`, from rows made twice (once
//!   for the column widths, once to write them), so no row is kept.
//!
//! ```
//! use serde_json::json;
//! use simpletrace::analyzers::listing::LazyJson;
//!
//! let rows = LazyJson::Array(Box::new((0..3).map(|i| LazyJson::Value(json!({"n": i})))));
//! let doc = LazyJson::Object(vec![("total".into(), LazyJson::Value(json!(3))), ("rows".into(), rows)]);
//! let mut out = Vec::new();
//! doc.write_pretty(&mut out, 0)?;
//! let same = json!({"total": 3, "rows": [{"n": 0}, {"n": 1}, {"n": 2}]});
//! assert_eq!(String::from_utf8(out)?, serde_json::to_string_pretty(&same)?);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use core::fmt;
use std::io::{self, Write};

use serde_json::Value;

/// A JSON value whose arrays are produced as they are written.
pub enum LazyJson<'a> {
    /// A value held in memory.
    Value(Value),
    /// A value held elsewhere (a report's in-memory JSON), written where
    /// it is.
    Ref(&'a Value),
    /// An object: its fields, in any order (written in `serde_json::Map`'s
    /// order, as `serde_json` writes an object; a repeated key keeps its
    /// last value).
    Object(Vec<(String, LazyJson<'a>)>),
    /// An array, one item at a time.
    Array(Box<dyn Iterator<Item = LazyJson<'a>> + 'a>),
}

impl fmt::Debug for LazyJson<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LazyJson::Value(v) => f.debug_tuple("Value").field(v).finish(),
            LazyJson::Ref(v) => f.debug_tuple("Ref").field(v).finish(),
            LazyJson::Object(fields) => f
                .debug_list()
                .entries(fields.iter().map(|(k, _)| k))
                .finish(),
            LazyJson::Array(_) => f.write_str("Array(..)"),
        }
    }
}

impl From<Value> for LazyJson<'_> {
    fn from(v: Value) -> Self {
        LazyJson::Value(v)
    }
}

/// The fields of an object in the order `serde_json::Map` keeps them,
/// each key once (its last value).
fn in_map_order<T>(fields: Vec<(String, T)>) -> Vec<(String, T)> {
    let order: serde_json::Map<String, Value> = fields
        .iter()
        .map(|(k, _)| (k.clone(), Value::Null))
        .collect();
    let mut slots: Vec<Option<(String, T)>> = fields.into_iter().map(Some).collect();
    let mut out = Vec::with_capacity(order.len());
    for key in order.keys() {
        if let Some(slot) = slots
            .iter_mut()
            .rev()
            .find(|s| s.as_ref().is_some_and(|(k, _)| k == key))
            && let Some(field) = slot.take()
        {
            out.push(field);
        }
    }
    out
}

/// Two spaces per level, as `serde_json`'s pretty printer indents.
fn indent(out: &mut dyn Write, depth: usize) -> io::Result<()> {
    for _ in 0..depth {
        out.write_all(b"  ")?;
    }
    Ok(())
}

/// Writes `v` as `serde_json::to_string_pretty` does, nested `depth`
/// levels deep: every line after the first indented by `depth` levels
/// more. (JSON text has no raw newline inside a string, so every newline
/// is the printer's.) Integers past ±2^53 are written as strings of
/// their digits, by the exact-integer rule of
/// [`is_exact_in_json`](super::json::is_exact_in_json), so that readers
/// that parse numbers into doubles keep them exact.
pub fn write_pretty_value(out: &mut dyn Write, v: &Value, depth: usize) -> io::Result<()> {
    let v = super::json::exact_numbers(v);
    let text = serde_json::to_string_pretty(&*v).map_err(io::Error::other)?;
    let mut lines = text.split('\n');
    if let Some(first) = lines.next() {
        out.write_all(first.as_bytes())?;
    }
    for line in lines {
        out.write_all(b"\n")?;
        indent(out, depth)?;
        out.write_all(line.as_bytes())?;
    }
    Ok(())
}

impl LazyJson<'_> {
    /// The whole value in memory.
    pub fn into_value(self) -> Value {
        match self {
            LazyJson::Value(v) => v,
            LazyJson::Ref(v) => v.clone(),
            LazyJson::Object(fields) => Value::Object(
                fields
                    .into_iter()
                    .map(|(k, v)| (k, v.into_value()))
                    .collect(),
            ),
            LazyJson::Array(items) => Value::Array(items.map(LazyJson::into_value).collect()),
        }
    }

    /// Writes it as `serde_json::to_string_pretty` writes
    /// [`LazyJson::into_value`], nested `depth` levels deep (see
    /// [`write_pretty_value`]), holding one array item at a time.
    pub fn write_pretty(self, out: &mut dyn Write, depth: usize) -> io::Result<()> {
        match self {
            LazyJson::Value(v) => write_pretty_value(out, &v, depth),
            LazyJson::Ref(v) => write_pretty_value(out, v, depth),
            LazyJson::Object(fields) => {
                let fields = in_map_order(fields);
                if fields.is_empty() {
                    return out.write_all(b"{}");
                }
                out.write_all(b"{")?;
                for (i, (key, value)) in fields.into_iter().enumerate() {
                    out.write_all(if i == 0 { b"\n" } else { b",\n" })?;
                    indent(out, depth + 1)?;
                    let key = serde_json::to_string(&key).map_err(io::Error::other)?;
                    out.write_all(key.as_bytes())?;
                    out.write_all(b": ")?;
                    value.write_pretty(out, depth + 1)?;
                }
                out.write_all(b"\n")?;
                indent(out, depth)?;
                out.write_all(b"}")
            }
            LazyJson::Array(items) => {
                let mut any = false;
                for item in items {
                    out.write_all(if any { b",\n" } else { b"[\n" })?;
                    any = true;
                    indent(out, depth + 1)?;
                    item.write_pretty(out, depth + 1)?;
                }
                if !any {
                    return out.write_all(b"[]");
                }
                out.write_all(b"\n")?;
                indent(out, depth)?;
                out.write_all(b"]")
            }
        }
    }
}

/// How a [`TextTable`] draws its lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableStyle {
    /// No lines: columns one space apart on each side (`comfy_table`'s
    /// `NOTHING`).
    Plain,
    /// `| a | b |` with a `|---|---|` line under the header
    /// (`comfy_table`'s `ASCII_MARKDOWN`).
    Markdown,
}

/// A table written row by row: see the [module documentation](self).
/// Cells are one line each; widths count characters (the cells analyzers
/// write are ASCII).
#[derive(Debug, Clone)]
pub struct TextTable {
    style: TableStyle,
    /// Each column's header and whether its cells are right-aligned.
    columns: Vec<(String, bool)>,
}

impl TextTable {
    /// A table with these column headers, all left-aligned.
    pub fn new<S: Into<String>>(style: TableStyle, headers: impl IntoIterator<Item = S>) -> Self {
        TextTable {
            style,
            columns: headers.into_iter().map(|h| (h.into(), false)).collect(),
        }
    }

    /// Right-aligns column `i` (header included), if there is one.
    pub fn align_right(&mut self, i: usize) -> &mut Self {
        if let Some(c) = self.columns.get_mut(i) {
            c.1 = true;
        }
        self
    }

    /// Writes the header and the rows `rows()` makes, each line ended by a
    /// newline (the lines of `comfy_table`'s `trim_fmt`), and returns how
    /// many rows it wrote. `rows` is called twice: for the widths, then
    /// for the lines. A row with fewer cells than columns is padded with
    /// empty cells; extra cells are ignored.
    pub fn write<I, R>(&self, out: &mut dyn Write, rows: R) -> io::Result<usize>
    where
        I: Iterator<Item = Vec<String>>,
        R: Fn() -> I,
    {
        self.write_with_header(out, rows, &|out, header| out.write_all(header.as_bytes()))
    }

    /// [`TextTable::write`], the header line (without its newline) written
    /// by `header` (which may paint it; the render layer's tables do).
    pub fn write_with_header<I, R>(
        &self,
        out: &mut dyn Write,
        rows: R,
        header: &dyn Fn(&mut dyn Write, &str) -> io::Result<()>,
    ) -> io::Result<usize>
    where
        I: Iterator<Item = Vec<String>>,
        R: Fn() -> I,
    {
        let mut widths: Vec<usize> = self
            .columns
            .iter()
            .map(|(h, _)| h.chars().count().max(1))
            .collect();
        for row in rows() {
            for (w, cell) in widths.iter_mut().zip(&row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let mut line = String::new();
        let names: Vec<&str> = self.columns.iter().map(|(h, _)| h.as_str()).collect();
        self.compose_line(&mut line, &widths, &names);
        header(out, &line)?;
        out.write_all(b"\n")?;
        if self.style == TableStyle::Markdown {
            line.clear();
            line.push('|');
            for (i, w) in widths.iter().enumerate() {
                if i > 0 {
                    line.push('|');
                }
                line.extend(std::iter::repeat_n('-', w + 2));
            }
            line.push_str("|\n");
            out.write_all(line.as_bytes())?;
        }
        let mut written = 0;
        for row in rows() {
            let cells: Vec<&str> = row.iter().map(String::as_str).collect();
            self.compose_line(&mut line, &widths, &cells);
            line.push('\n');
            out.write_all(line.as_bytes())?;
            written += 1;
        }
        Ok(written)
    }

    /// One line of the table into `line`, trimmed, without its newline.
    fn compose_line(&self, line: &mut String, widths: &[usize], cells: &[&str]) {
        line.clear();
        let bar = self.style == TableStyle::Markdown;
        if bar {
            line.push('|');
        }
        for (i, ((w, (_, right)), cell)) in widths
            .iter()
            .zip(&self.columns)
            .zip(cells.iter().copied().chain(std::iter::repeat("")))
            .enumerate()
        {
            if bar && i > 0 {
                line.push('|');
            }
            let pad = w.saturating_sub(cell.chars().count());
            line.push(' ');
            if *right {
                line.extend(std::iter::repeat_n(' ', pad));
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.extend(std::iter::repeat_n(' ', pad));
            }
            line.push(' ');
        }
        if bar {
            line.push('|');
        }
        let trimmed = line.trim_end().len();
        line.truncate(trimmed);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pretty(doc: LazyJson<'_>, depth: usize) -> String {
        let mut out = Vec::new();
        doc.write_pretty(&mut out, depth).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn integers_past_2_53_are_written_as_strings() {
        let doc = LazyJson::Object(vec![
            ("max".into(), LazyJson::Value(json!(u64::MAX))),
            (
                "ok".into(),
                LazyJson::Value(json!([9007199254740991u64, -3])),
            ),
            (
                "rows".into(),
                LazyJson::Array(Box::new(std::iter::once(LazyJson::Value(
                    json!({"id": 18446744073709551614u64, "neg": i64::MIN}),
                )))),
            ),
        ]);
        let text = pretty(doc, 0);
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            back,
            json!({
                "max": "18446744073709551615",
                "ok": [9007199254740991u64, -3],
                "rows": [{"id": "18446744073709551614", "neg": "-9223372036854775808"}]
            })
        );
    }

    #[test]
    fn lazy_json_writes_what_serde_json_writes() {
        let make = || {
            LazyJson::Object(vec![
                ("zeta".into(), LazyJson::Value(json!(1.5))),
                (
                    "alpha".into(),
                    LazyJson::Array(Box::new((0..3).map(|i| {
                        LazyJson::Object(vec![
                            ("n".into(), LazyJson::Value(json!(i))),
                            (
                                "inner".into(),
                                LazyJson::Array(Box::new(
                                    (0..i).map(|j| LazyJson::Value(json!({"j": j, "s": "a\nb"}))),
                                )),
                            ),
                            ("e".into(), LazyJson::Object(Vec::new())),
                        ])
                    }))),
                ),
                (
                    "empty".into(),
                    LazyJson::Array(Box::new(std::iter::empty())),
                ),
                (
                    "mid".into(),
                    LazyJson::Value(json!({"x": [1, 2], "y": null})),
                ),
                ("mid".into(), LazyJson::Value(json!("last wins"))),
            ])
        };
        let value = make().into_value();
        assert_eq!(value["mid"], "last wins");
        assert_eq!(
            pretty(make(), 0),
            serde_json::to_string_pretty(&value).unwrap()
        );
        // Nested one level down, as `run --json` nests each report.
        let outer = json!({ "a": value.clone() });
        let mut want = serde_json::to_string_pretty(&outer).unwrap();
        want = want
            .strip_prefix("{\n  \"a\": ")
            .unwrap()
            .strip_suffix("\n}")
            .unwrap()
            .to_owned();
        assert_eq!(pretty(make(), 1), want);
        // A borrowed value writes as the same value held.
        assert_eq!(pretty(LazyJson::Ref(&value), 1), want);
        assert_eq!(pretty(LazyJson::Value(json!([])), 3), "[]");
    }

    /// Rows of every shape: wide, narrow, empty cells, short rows.
    fn sample_rows() -> Vec<Vec<String>> {
        vec![
            vec!["qemu_mutex_lock".into(), "12".into(), "".into()],
            vec!["a".into(), "123456".into(), "7.5%".into()],
            vec!["".into(), "".into(), "".into()],
            vec!["b".into()],
        ]
    }

    /// Cells of more than one byte a character, under a header wider
    /// than any of them (`alloc`'s tables have such).
    fn wide_header_rows() -> Vec<Vec<String>> {
        vec![
            vec!["0x1000".into(), "4096 (4KiB)".into(), "µs".into()],
            vec!["0xa".into(), "1".into(), "".into()],
        ]
    }

    #[test]
    fn tables_match_comfy_table() {
        let cases = [
            (["event", "n", "share"], sample_rows()),
            (["event", "n", "share"], Vec::new()),
            (["ptr", "size", "a much longer header"], wide_header_rows()),
        ];
        for (style, preset) in [
            (TableStyle::Plain, comfy_table::presets::NOTHING),
            (TableStyle::Markdown, comfy_table::presets::ASCII_MARKDOWN),
        ] {
            for (header, rows) in &cases {
                for right in [&[1, 2][..], &[], &[0], &[0, 1, 2], &[2]] {
                    let mut comfy = comfy_table::Table::new();
                    comfy.load_style(preset);
                    comfy.set_header(header.iter().copied());
                    for r in rows {
                        comfy.add_row(r.clone());
                    }
                    let mut ours = TextTable::new(style, header.iter().copied());
                    for &i in right {
                        if let Some(c) = comfy.column_mut(i) {
                            c.set_cell_alignment(comfy_table::CellAlignment::Right);
                        }
                        ours.align_right(i);
                    }
                    let mut out = Vec::new();
                    let written = ours.write(&mut out, || rows.iter().cloned()).unwrap();
                    assert_eq!(written, rows.len());
                    assert_eq!(
                        String::from_utf8(out).unwrap(),
                        format!("{}\n", comfy.trim_fmt()),
                        "{style:?}, {header:?}, right-aligned {right:?}"
                    );
                }
            }
        }
    }
}
