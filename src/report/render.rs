//! The one render layer: a [`Document`] as plain text, as text painted by
//! block kind, or as JSON; a document's [`Plot`](super::Plot) as SVG
//! ([`svg`]).
//!
//! Text is painted through a [`Paint`]: [`Plain`] writes the bytes as
//! they are (what pipes, files and every golden get); the command line
//! supplies one that wraps each [`Style`] in terminal escapes. What is
//! painted is decided by the block's kind (a table's header row and a
//! part's title are [`Style::Heading`], a warning is [`Style::Warning`]),
//! never by reading its words; without the escapes the bytes are those of
//! [`Plain`]. The escapes of every style are [`Ansi`]'s, here and nowhere
//! else: the record printers, which lay out a record's head once per
//! event for speed, take theirs from [`Ansi::sgr`] too.

use std::borrow::Cow;
use std::io::{self, Write};

pub mod svg;

use super::{Align, BarRow, Bars, Block, Cell, Document, Hint, LostEvents, More, Table};
use crate::analyzers::histogram::Unit;
use crate::analyzers::human::{human, human_f64, plural, seconds};
use crate::analyzers::listing::TextTable;

/// What a piece of text is, for painting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Style {
    /// A heading: a report's `== name ==`, a part's title, a table's
    /// header row.
    Heading,
    /// A warning (lost events and others).
    Warning,
    /// The bar of a histogram row.
    Bar,
    /// An event's name at the start of a printed record (`print`, `log`).
    EventName,
}

/// How text of a [`Style`] is written: plain, or painted for a terminal.
pub trait Paint {
    /// Writes `text` (one line, without its newline) in `style`.
    fn paint(&self, style: Style, text: &str, out: &mut dyn Write) -> io::Result<()>;
}

/// No paint: the text as it is.
#[derive(Debug, Clone, Copy, Default)]
pub struct Plain;

impl Paint for Plain {
    fn paint(&self, _: Style, text: &str, out: &mut dyn Write) -> io::Result<()> {
        out.write_all(text.as_bytes())
    }
}

/// Text painted for a terminal with ANSI escapes (SGR sequences): headings
/// bold, warnings bold yellow, histogram bars green, event names bold
/// cyan. The one palette of the tool.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ansi;

impl Ansi {
    /// Back to plain text after a styled piece.
    pub const RESET: &'static str = "\x1b[0m";

    /// The escape that starts text of `style`.
    pub const fn sgr(style: Style) -> &'static str {
        match style {
            Style::Heading => "\x1b[1m",
            Style::Warning => "\x1b[1;33m",
            Style::Bar => "\x1b[32m",
            Style::EventName => "\x1b[1;36m",
        }
    }
}

impl Paint for Ansi {
    fn paint(&self, style: Style, text: &str, out: &mut dyn Write) -> io::Result<()> {
        write!(out, "{}{text}{}", Ansi::sgr(style), Ansi::RESET)
    }
}

/// Writes the document's text form, each block painted by `paint`.
pub fn write_text(doc: &dyn Document, out: &mut dyn Write, paint: &dyn Paint) -> io::Result<()> {
    for block in doc.blocks() {
        write_block(&block, out, paint)?;
    }
    Ok(())
}

/// Writes the document's JSON form as `serde_json::to_string_pretty`
/// writes it, nested `depth` levels deep, with no newline after it (see
/// [`LazyJson::write_pretty`](crate::analyzers::listing::LazyJson::write_pretty)).
pub fn write_json(doc: &dyn Document, out: &mut dyn Write, depth: usize) -> io::Result<()> {
    doc.json().write_pretty(out, depth)
}

/// Writes one block, whole lines.
pub fn write_block(block: &Block<'_>, out: &mut dyn Write, paint: &dyn Paint) -> io::Result<()> {
    match block {
        Block::Text(t) => line(out, t),
        Block::Blank => out.write_all(b"\n"),
        Block::Title(t) => painted(out, paint, Style::Heading, t),
        Block::Lost(l) => painted(out, paint, Style::Warning, &lost_events(l)),
        Block::Warning(t) => painted(out, paint, Style::Warning, t),
        Block::Table(t) => write_table(t, out, paint).map(drop),
        Block::More(m) => line(out, &more(m)),
        Block::Bars(b) => write_bars(b, out, paint),
    }
}

fn line(out: &mut dyn Write, text: &str) -> io::Result<()> {
    out.write_all(text.as_bytes())?;
    out.write_all(b"\n")
}

/// Each line of `text` painted, newlines not.
fn painted(out: &mut dyn Write, paint: &dyn Paint, style: Style, text: &str) -> io::Result<()> {
    for l in text.split('\n') {
        paint.paint(style, l, out)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// Writes bars: each row's cells in columns (separated by a space), then
/// ` |`, the bar painted as [`Style::Bar`], spaces to `width`, `|`. Its
/// rows are made twice, one at a time: for the column widths and the
/// largest value, then for the lines.
pub fn write_bars(bars: &Bars<'_>, out: &mut dyn Write, paint: &dyn Paint) -> io::Result<()> {
    let mut widths: Vec<usize> = bars.columns.iter().map(|&(_, least)| least).collect();
    let mut most = 0u128;
    for row in bars.rows() {
        if let BarRow::Bar(cells, value) = row {
            most = most.max(value);
            for (w, c) in widths.iter_mut().zip(&cells) {
                *w = (*w).max(c.chars().count());
            }
        }
    }
    let full = "@".repeat(bars.width);
    let mut line = String::new();
    for row in bars.rows() {
        line.clear();
        let (cells, value) = match row {
            BarRow::Bar(cells, value) => (cells, value),
            BarRow::Gap => {
                let w = widths.first().copied().unwrap_or(0);
                writeln!(out, "{:>w$}", "...")?;
                continue;
            }
        };
        for (i, cell) in cells.iter().enumerate() {
            let w = widths.get(i).copied().unwrap_or(0);
            if i > 0 {
                line.push(' ');
            }
            let pad = " ".repeat(w.saturating_sub(cell.chars().count()));
            match bars.columns.get(i).map_or(Align::Left, |c| c.0) {
                Align::Left => {
                    line.push_str(cell);
                    line.push_str(&pad);
                }
                Align::Right => {
                    line.push_str(&pad);
                    line.push_str(cell);
                }
            }
        }
        line.push_str(" |");
        out.write_all(line.as_bytes())?;
        // Rounded up, so that every value above zero shows.
        let width = if most == 0 {
            0
        } else {
            (value.saturating_mul(bars.width as u128).div_ceil(most) as usize).min(bars.width)
        };
        if let Some(bar) = full.get(..width).filter(|b| !b.is_empty()) {
            paint.paint(Style::Bar, bar, out)?;
        }
        writeln!(out, "{}|", " ".repeat(bars.width - width))?;
    }
    Ok(())
}

/// The lost-events warning, the one wording of every report:
/// `Events were lost: 1 dropped-events record, 7 events dropped; WHAT IT MEANS`.
pub fn lost_events(l: &LostEvents) -> String {
    let mut s = format!(
        "Events were lost: {}, {} dropped",
        plural(l.records, "dropped-events record", "dropped-events records"),
        plural(l.events, "event", "events"),
    );
    if let Some(c) = &l.consequence {
        s.push_str("; ");
        s.push_str(c);
    }
    s
}

/// The note of rows left out: `(3 more mutexes not shown)`,
/// `(2 more groups with 10 samples not shown)`, `(43 more leaks not
/// shown; --top N to see more)`, `(44 more rows; --top shows more)`.
pub fn more(m: &More<'_>) -> String {
    let noun = if m.count == 1 { m.noun.0 } else { m.noun.1 };
    let holding = m
        .holding
        .as_ref()
        .map_or(String::new(), |h| format!(" with {h}"));
    let count = m.count;
    match m.hint {
        Hint::None => format!("({count} more {noun}{holding} not shown)"),
        Hint::After(hint) => format!("({count} more {noun}{holding} not shown; {hint})"),
        Hint::Instead(hint) => format!("({count} more {noun}{holding}; {hint})"),
    }
}

/// A cell as text, with the one formatter for its kind.
pub fn cell_text<'c>(cell: &'c Cell<'_>) -> Cow<'c, str> {
    match cell {
        Cell::Text(t) => Cow::Borrowed(t),
        Cell::Int(n) => n.to_string().into(),
        Cell::Hex(n) => format!("0x{n:x}").into(),
        Cell::Percent { whole: 0, .. } | Cell::Decimal1(None) | Cell::Missing => "-".into(),
        Cell::Percent { part, whole } => {
            format!("{:.1}%", *part as f64 * 100.0 / *whole as f64).into()
        }
        Cell::Decimal1(Some(v)) => format!("{v:.1}").into(),
        Cell::Seconds(ns) => seconds(*ns).into(),
        Cell::Duration(ns) => human(*ns, Unit::Nanoseconds).into(),
        Cell::DurationF64(ns) => human_f64(*ns, Unit::Nanoseconds).into(),
        Cell::Bytes(n) => human(*n, Unit::Bytes).into(),
    }
}

/// Writes a table (header row painted as a heading) and returns how many
/// rows it wrote. Its rows are made twice, one at a time: for the column
/// widths, then for the lines.
pub fn write_table(table: &Table<'_>, out: &mut dyn Write, paint: &dyn Paint) -> io::Result<usize> {
    let mut text = TextTable::new(table.style, table.columns.iter().map(|c| c.header.clone()));
    for (i, c) in table.columns.iter().enumerate() {
        if c.align == Align::Right {
            text.align_right(i);
        }
    }
    let rows = || {
        table
            .rows()
            .map(|row| row.iter().map(|c| cell_text(c).into_owned()).collect())
    };
    text.write_with_header(out, rows, &|out, header| {
        paint.paint(Style::Heading, header, out)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyzers::listing::{LazyJson, TableStyle};
    use crate::report::{Blocks, Column};

    /// Paints with visible marks instead of escapes.
    struct Marks;

    impl Paint for Marks {
        fn paint(&self, style: Style, text: &str, out: &mut dyn Write) -> io::Result<()> {
            write!(out, "<{style:?}>{text}</>")
        }
    }

    struct Sample;

    impl Document for Sample {
        fn blocks(&self) -> Blocks<'_> {
            let table = Table::new(
                TableStyle::Plain,
                vec![
                    Column::new("what", Align::Left),
                    Column::new("n", Align::Right),
                    Column::new("share", Align::Right),
                ],
                || {
                    Box::new((1..=2).map(|i| {
                        vec![
                            Cell::text(format!("row{i}")),
                            Cell::Int(i * 1024),
                            Cell::Percent {
                                part: i as u64,
                                whole: 3,
                            },
                        ]
                    }))
                },
            );
            Box::new(
                [
                    Block::Text("Events were lost: words do not paint".into()),
                    Block::Lost(LostEvents {
                        records: 2,
                        events: 1,
                        consequence: Some("figures undercount".into()),
                    }),
                    Block::Blank,
                    Block::Table(table),
                    Block::More(More {
                        count: 1,
                        noun: ("row", "rows"),
                        hint: Hint::Instead("--top shows more"),
                        holding: None,
                    }),
                    Block::Title("Still held:".into()),
                    Block::Warning("WARNING two\nlines".into()),
                ]
                .into_iter(),
            )
        }

        fn json(&self) -> LazyJson<'_> {
            LazyJson::Value(serde_json::json!({"n": 2}))
        }
    }

    fn text(paint: &dyn Paint) -> String {
        let mut out = Vec::new();
        write_text(&Sample, &mut out, paint).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn plain_and_painted_by_kind() {
        let plain = "Events were lost: words do not paint\n\
                     Events were lost: 2 dropped-events records, 1 event dropped; figures undercount\n\
                     \n \
                     what     n  share\n \
                     row1  1024  33.3%\n \
                     row2  2048  66.7%\n\
                     (1 more row; --top shows more)\n\
                     Still held:\n\
                     WARNING two\n\
                     lines\n";
        assert_eq!(text(&Plain), plain);
        let marked = text(&Marks);
        assert_eq!(
            marked,
            "Events were lost: words do not paint\n\
             <Warning>Events were lost: 2 dropped-events records, 1 event dropped; figures undercount</>\n\
             \n\
             <Heading> what     n  share</>\n \
             row1  1024  33.3%\n \
             row2  2048  66.7%\n\
             (1 more row; --top shows more)\n\
             <Heading>Still held:</>\n\
             <Warning>WARNING two</>\n\
             <Warning>lines</>\n"
        );
        let mut json = Vec::new();
        write_json(&Sample, &mut json, 0).unwrap();
        assert_eq!(json, b"{\n  \"n\": 2\n}");
    }

    /// Bars: cells in columns (a least width kept), a gap row under the
    /// first column, bars rounded up against the largest value and painted
    /// as bars, their padding not.
    #[test]
    fn bars_laid_out_and_painted() {
        let bars = Bars::new(vec![(Align::Left, 0), (Align::Right, 4)], 8, || {
            Box::new(
                [
                    BarRow::Bar(vec!["[0]".into(), "1".into()], 1),
                    BarRow::Gap,
                    BarRow::Bar(vec!["[64, 128)".into(), "16".into()], 16),
                    BarRow::Bar(vec!["[128]".into(), "0".into()], 0),
                ]
                .into_iter(),
            )
        });
        let block = Block::Bars(bars);
        let write = |paint: &dyn Paint| {
            let mut out = Vec::new();
            write_block(&block, &mut out, paint).unwrap();
            String::from_utf8(out).unwrap()
        };
        assert_eq!(
            write(&Plain),
            "[0]          1 |@       |\n      ...\n[64, 128)   16 |@@@@@@@@|\n[128]        0 |        |\n"
        );
        assert_eq!(
            write(&Marks),
            "[0]          1 |<Bar>@</>       |\n      ...\n[64, 128)   16 |<Bar>@@@@@@@@</>|\n[128]        0 |        |\n"
        );
    }

    #[test]
    fn cells_and_notes() {
        let cases = [
            (Cell::Int(1024), "1024"),
            (Cell::Hex(255), "0xff"),
            (Cell::Percent { part: 1, whole: 0 }, "-"),
            (Cell::Percent { part: 1, whole: 8 }, "12.5%"),
            (Cell::Decimal1(Some(2.26)), "2.3"),
            (Cell::Decimal1(None), "-"),
            (Cell::Seconds(1_500_000_000), "1.500000"),
            (Cell::Duration(1_500), "1.5us"),
            (Cell::DurationF64(12.25), "12.2ns"),
            (Cell::Bytes(4096), "4KiB"),
            (Cell::Missing, "-"),
        ];
        for (cell, want) in cases {
            assert_eq!(cell_text(&cell), want, "{cell:?}");
        }
        let m = |count| More {
            count,
            noun: ("mutex", "mutexes"),
            hint: Hint::None,
            holding: None,
        };
        assert_eq!(more(&m(1)), "(1 more mutex not shown)");
        let held = More {
            holding: Some("10 samples".into()),
            ..m(2)
        };
        assert_eq!(more(&held), "(2 more mutexes with 10 samples not shown)");
        let after = More {
            hint: Hint::After("--top N to see more"),
            ..m(1)
        };
        assert_eq!(
            more(&after),
            "(1 more mutex not shown; --top N to see more)"
        );
        assert_eq!(more(&m(3)), "(3 more mutexes not shown)");
        let l = LostEvents {
            records: 1,
            events: 0,
            consequence: None,
        };
        assert_eq!(
            lost_events(&l),
            "Events were lost: 1 dropped-events record, 0 events dropped"
        );
    }
}
