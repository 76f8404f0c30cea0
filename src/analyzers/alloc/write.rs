//! Tables for a report too long to hold: rows made twice (once to measure
//! the columns, once to write them) and never kept.

use std::io::{self, Write};

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
