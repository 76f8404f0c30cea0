//! Writers for a report too long to hold: tables whose rows are made twice
//! (once to measure the columns, once to write them) and never kept, and
//! JSON written piece by piece exactly as `serde_json::to_string_pretty`
//! prints the whole value.

use std::io::{self, Write};

use serde_json::Value;

/// Writes a table as comfy-table draws the other analyzers' tables
/// (`NOTHING` preset: no borders, a space of padding on each side of each
/// cell, trailing blanks trimmed), columns `right` aligned right, each
/// line ending in a newline. `rows` is called twice and must give the
/// same rows both times: the first pass measures, the second writes.
/// Returns how many rows there were (none: nothing written, not even the
/// header).
pub(super) fn table<I>(
    out: &mut dyn Write,
    header: &[&str],
    right: &[usize],
    rows: impl Fn() -> I,
) -> io::Result<u64>
where
    I: Iterator<Item = Vec<String>>,
{
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    let mut count = 0u64;
    for row in rows() {
        count += 1;
        for (i, cell) in row.iter().enumerate() {
            let w = cell.chars().count();
            match widths.get_mut(i) {
                Some(have) => *have = (*have).max(w),
                None => widths.push(w),
            }
        }
    }
    if count == 0 {
        return Ok(0);
    }
    let mut line = String::new();
    let mut put = |cells: &mut dyn Iterator<Item = &str>| -> io::Result<()> {
        line.clear();
        let mut cells = cells.fuse();
        for (i, width) in widths.iter().enumerate() {
            let cell = cells.next().unwrap_or("");
            let pad = width.saturating_sub(cell.chars().count());
            line.push(' ');
            if right.contains(&i) {
                line.extend(std::iter::repeat_n(' ', pad));
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.extend(std::iter::repeat_n(' ', pad));
            }
            line.push(' ');
        }
        let trimmed = line.trim_end().len();
        line.truncate(trimmed);
        line.push('\n');
        out.write_all(line.as_bytes())
    };
    put(&mut header.iter().copied())?;
    for row in rows() {
        put(&mut row.iter().map(String::as_str))?;
    }
    Ok(count)
}

/// `v` as `serde_json::to_string_pretty` prints it, with every line after
/// the first indented by `depth` more levels (JSON strings escape their
/// newlines, so every newline is the printer's).
pub(super) fn pretty(v: &Value, depth: usize) -> io::Result<String> {
    let text = serde_json::to_string_pretty(v).map_err(io::Error::other)?;
    if depth == 0 {
        return Ok(text);
    }
    Ok(text.replace('\n', &format!("\n{}", "  ".repeat(depth))))
}

/// JSON written piece by piece, laid out as `serde_json`'s pretty printer
/// lays out the whole value: two spaces per level, `"key": value`, empty
/// arrays and objects as `[]` and `{}`. Keys are written in the order
/// given: give them in the order of `serde_json::Map` (sorted). The same
/// pieces can instead build the value ([`JsonOut::building`]), exactly
/// (reading the text back would round some floats differently).
pub(super) struct JsonOut<'o> {
    sink: Sink<'o>,
}

enum Sink<'o> {
    Text {
        out: &'o mut dyn Write,
        depth: usize,
        /// Per open array or object: whether it has no item yet.
        empty: Vec<bool>,
        /// Whether a key was written, whose value comes next.
        after_key: bool,
    },
    Value {
        /// Open arrays and objects, each with the key it goes under.
        open: Vec<(Value, Option<String>)>,
        key: Option<String>,
        done: Option<Value>,
    },
}

impl<'o> JsonOut<'o> {
    /// A writer whose value starts at nesting level `depth`.
    pub(super) fn new(out: &'o mut dyn Write, depth: usize) -> Self {
        JsonOut {
            sink: Sink::Text {
                out,
                depth,
                empty: Vec::new(),
                after_key: false,
            },
        }
    }

    /// A builder of the value instead; [`JsonOut::built`] gives it.
    pub(super) fn building() -> JsonOut<'static> {
        JsonOut {
            sink: Sink::Value {
                open: Vec::new(),
                key: None,
                done: None,
            },
        }
    }

    /// The value built (`null` if none was, or it is unfinished).
    pub(super) fn built(self) -> Value {
        match self.sink {
            Sink::Value { done, .. } => done.unwrap_or(Value::Null),
            Sink::Text { .. } => Value::Null,
        }
    }

    /// Starts a value: a member's, or the next element of an array.
    fn begin_value(&mut self) -> io::Result<()> {
        let Sink::Text {
            out,
            depth,
            empty,
            after_key,
        } = &mut self.sink
        else {
            return Ok(());
        };
        if std::mem::take(after_key) {
            return Ok(());
        }
        if let Some(empty) = empty.last_mut() {
            let comma = if *empty { "" } else { "," };
            *empty = false;
            write!(out, "{comma}\n{}", "  ".repeat(*depth))?;
        }
        Ok(())
    }

    /// Puts a finished value where the builder is.
    fn place(
        open: &mut [(Value, Option<String>)],
        done: &mut Option<Value>,
        key: Option<String>,
        v: Value,
    ) {
        match open.last_mut() {
            Some((Value::Object(m), _)) => {
                m.insert(key.unwrap_or_default(), v);
            }
            Some((Value::Array(a), _)) => a.push(v),
            Some(_) => {}
            None => *done = Some(v),
        }
    }

    /// Opens an object (`{`) or array (`[`) as the next item.
    pub(super) fn open(&mut self, bracket: &str) -> io::Result<()> {
        self.begin_value()?;
        match &mut self.sink {
            Sink::Text {
                out, depth, empty, ..
            } => {
                out.write_all(bracket.as_bytes())?;
                empty.push(true);
                *depth += 1;
            }
            Sink::Value { open, key, .. } => {
                let container = if bracket == "[" {
                    Value::Array(Vec::new())
                } else {
                    Value::Object(serde_json::Map::new())
                };
                open.push((container, key.take()));
            }
        }
        Ok(())
    }

    /// Closes the innermost object (`}`) or array (`]`).
    pub(super) fn close(&mut self, bracket: &str) -> io::Result<()> {
        match &mut self.sink {
            Sink::Text {
                out, depth, empty, ..
            } => {
                *depth = depth.saturating_sub(1);
                if empty.pop() == Some(false) {
                    write!(out, "\n{}", "  ".repeat(*depth))?;
                }
                out.write_all(bracket.as_bytes())
            }
            Sink::Value { open, done, .. } => {
                if let Some((v, key)) = open.pop() {
                    Self::place(open, done, key, v);
                }
                Ok(())
            }
        }
    }

    /// Starts the member `key` of the current object; its value follows.
    pub(super) fn key(&mut self, name: &str) -> io::Result<()> {
        self.begin_value()?;
        match &mut self.sink {
            Sink::Text { out, after_key, .. } => {
                let name = serde_json::to_string(name).map_err(io::Error::other)?;
                *after_key = true;
                write!(out, "{name}: ")
            }
            Sink::Value { key, .. } => {
                *key = Some(name.to_owned());
                Ok(())
            }
        }
    }

    /// Writes a value: a member's (after [`JsonOut::key`]) or, inside an
    /// array, the next element.
    pub(super) fn value(&mut self, v: Value) -> io::Result<()> {
        self.begin_value()?;
        match &mut self.sink {
            Sink::Text { out, depth, .. } => {
                let text = pretty(&v, *depth)?;
                out.write_all(text.as_bytes())
            }
            Sink::Value { open, key, done } => {
                Self::place(open, done, key.take(), v);
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn comfy(header: &[&str], rows: &[Vec<String>], right: &[usize]) -> String {
        let mut t = comfy_table::Table::new();
        t.load_style(comfy_table::presets::NOTHING);
        t.set_header(header.iter().copied());
        for row in rows {
            t.add_row(row.clone());
        }
        for &i in right {
            if let Some(c) = t.column_mut(i) {
                c.set_cell_alignment(comfy_table::CellAlignment::Right);
            }
        }
        format!("{}\n", t.trim_fmt())
    }

    #[test]
    fn tables_match_comfy_table() {
        let rows: Vec<Vec<String>> = vec![
            vec![
                "0x1000".into(),
                "4096 (4KiB)".into(),
                "".into(),
                "µs".into(),
            ],
            vec!["0xa".into(), "1".into(), "note here".into(), "".into()],
            vec!["".into(), "".into(), "".into(), "".into()],
        ];
        let header = ["ptr", "size", "note", "a much longer header"];
        for right in [&[][..], &[1], &[0, 1, 2, 3], &[3]] {
            let mut out = Vec::new();
            let n = table(&mut out, &header, right, || rows.iter().cloned()).unwrap();
            assert_eq!(n, 3);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                comfy(&header, &rows, right),
                "{right:?}"
            );
        }
        let mut out = Vec::new();
        assert_eq!(table(&mut out, &header, &[], std::iter::empty).unwrap(), 0);
        assert!(out.is_empty());
    }

    #[test]
    fn pieces_make_the_pretty_printed_value() {
        let whole = json!({
            "a": [],
            "b": {"x": [1, 2, {"y": "a\nb"}], "z": {}},
            "c": [{"k": 1}, {"k": 2}],
            "d": 3,
        });
        for depth in [0, 2] {
            let mut out = Vec::new();
            let mut j = JsonOut::new(&mut out, depth);
            j.open("{").unwrap();
            j.key("a").unwrap();
            j.open("[").unwrap();
            j.close("]").unwrap();
            j.key("b").unwrap();
            j.value(whole["b"].clone()).unwrap();
            j.key("c").unwrap();
            j.open("[").unwrap();
            j.value(json!({"k": 1})).unwrap();
            j.value(json!({"k": 2})).unwrap();
            j.close("]").unwrap();
            j.key("d").unwrap();
            j.value(json!(3)).unwrap();
            j.close("}").unwrap();
            assert_eq!(
                String::from_utf8(out).unwrap(),
                pretty(&whole, depth).unwrap()
            );
        }
        let mut out = Vec::new();
        let mut j = JsonOut::new(&mut out, 0);
        j.open("{").unwrap();
        j.close("}").unwrap();
        assert_eq!(out, b"{}");
    }
}
