//! Reports as data: what an analyzer hands back at the end is a
//! [`Document`], a sequence of [`Block`]s (lines, section titles, a
//! warning of a known kind, tables with typed cells, "N more not shown"
//! notes) and the same results as JSON. It says nothing of how they look:
//! [`render`] turns a document into plain text (the bytes every golden
//! holds), text coloured by block kind (the command line supplies the
//! colours, see [`render::Paint`]), or JSON; a report with histograms can
//! also give them as a [`Plot`], which [`render::svg`] draws.
//!
//! A document can stand for millions of rows without holding them: its
//! blocks are an iterator made when it is rendered, and a [`Table`] makes
//! its rows on demand, one at a time (twice for text: once for the column
//! widths, once to write them). The JSON form is a
//! [`LazyJson`], whose arrays are
//! made as they are written.
//!
//! ```
//! use simpletrace::analyzers::listing::{LazyJson, TableStyle};
//! use simpletrace::report::{Align, Block, Blocks, Cell, Column, Document, LostEvents, Table, render};
//!
//! /// Bytes written per file.
//! struct Writes(Vec<(String, u64)>);
//!
//! impl Document for Writes {
//!     fn blocks(&self) -> Blocks<'_> {
//!         let table = Table::new(
//!             TableStyle::Plain,
//!             vec![Column::new("file", Align::Left), Column::new("bytes", Align::Right)],
//!             move || Box::new(self.0.iter().map(|(f, b)| vec![Cell::text(f.as_str()), Cell::Bytes(i128::from(*b))])),
//!         );
//!         let lost = LostEvents { records: 1, events: 7, consequence: None };
//!         Box::new([Block::Text("2 files".into()), Block::Lost(lost), Block::Table(table)].into_iter())
//!     }
//!     fn json(&self) -> LazyJson<'_> {
//!         LazyJson::Value(serde_json::json!({"files": self.0.len()}))
//!     }
//! }
//!
//! let doc = Writes(vec![("a".into(), 4096), ("b".into(), 10)]);
//! let mut out = Vec::new();
//! render::write_text(&doc, &mut out, &render::Plain)?;
//! assert_eq!(
//!     String::from_utf8(out)?,
//!     "2 files\nEvents were lost: 1 dropped-events record, 7 events dropped\n file  bytes\n a      4KiB\n b       10B\n"
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! API structure:
//! - [`Document`]: a report's blocks and JSON; [`Report::document`](crate::analyzers::Report::document)
//!   makes an analyzer's report of one.
//! - [`Block`]: one piece of a report; [`Table`] with [`Column`]s and
//!   typed [`Cell`]s; [`Bars`] of [`BarRow`]s; [`LostEvents`], the lost-events warning every
//!   analyzer words the same way; [`More`], the "N more not shown" note
//!   (with its [`Hint`]).
//! - [`Plot`]: a report's histograms as a chart ([`Document::plot`]),
//!   with its [`Panel`]s.
//! - [`render`]: text (plain or painted through [`render::Paint`]), JSON,
//!   and a plot as SVG ([`render::svg`]).

use core::fmt;
use std::borrow::Cow;

use crate::analyzers::histogram::{Histogram, Unit};
use crate::analyzers::listing::{LazyJson, TableStyle};

pub mod render;

/// A report as data: its blocks, in order, and its JSON form. Both are
/// made when the report is written, from the data the document owns, so a
/// report of millions of rows is never held whole.
pub trait Document: Send + Sync {
    /// The blocks, made as they are rendered.
    fn blocks(&self) -> Blocks<'_>;

    /// The same results as JSON (its field names are an interface: add,
    /// never rename).
    fn json(&self) -> LazyJson<'_>;

    /// Its histograms as a chart, for a picture ([`render::svg`]), when it
    /// has any; none by default.
    fn plot(&self) -> Option<Plot<'_>> {
        None
    }
}

/// A document's blocks, made one at a time.
pub type Blocks<'a> = Box<dyn Iterator<Item = Block<'a>> + 'a>;

/// A table's rows, made one at a time.
pub type Rows<'a> = Box<dyn Iterator<Item = Vec<Cell<'a>>> + 'a>;

/// One piece of a report. Rendered as text, each is one or more whole
/// lines; its kind, never its wording, decides its colour.
#[non_exhaustive]
pub enum Block<'a> {
    /// A line of text.
    Text(Cow<'a, str>),
    /// An empty line, between parts.
    Blank,
    /// The title of a part (`Still held when the trace ends:`): bold in
    /// colour.
    Title(Cow<'a, str>),
    /// The trace lost events: one wording for every analyzer, in yellow.
    Lost(LostEvents),
    /// Any other warning, in yellow.
    Warning(Cow<'a, str>),
    /// A table: its header row bold in colour.
    Table(Table<'a>),
    /// Rows left out: `(3 more mutexes not shown)`.
    More(More<'a>),
    /// Rows drawn as bars (a histogram's buckets, `[4KiB, 8KiB)   12 |@@@  |`):
    /// the bars painted as [`render::Style::Bar`].
    Bars(Bars<'a>),
}

/// Rows drawn as bars, bpftrace style (`[4KiB, 8KiB)     12 |@@@@@   |`):
/// each row's cells in columns, then a bar as long as its value against
/// the largest, `width` characters for that one (rounded up, so that a
/// value above zero always shows). The rows are made on demand, twice (for
/// the column widths, then to write them): a linear histogram can have
/// millions of buckets.
pub struct Bars<'a> {
    /// The columns before the bars: how each lines up, and its least
    /// width.
    pub columns: Vec<(Align, usize)>,
    /// The longest bar, in characters.
    pub width: usize,
    rows: Box<dyn Fn() -> BarRows<'a> + 'a>,
}

/// The rows of [`Bars`], made one at a time.
pub type BarRows<'a> = Box<dyn Iterator<Item = BarRow<'a>> + 'a>;

/// A row of [`Bars`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BarRow<'a> {
    /// Cells (one a column) and the value the bar shows.
    Bar(Vec<Cow<'a, str>>, u128),
    /// Rows left out (the empty buckets between far ones): `...` under the
    /// first column.
    Gap,
}

impl<'a> Bars<'a> {
    /// Bars of `columns` whose rows `rows()` makes (called once per pass;
    /// each call makes the same rows), the longest `width` characters.
    pub fn new(
        columns: Vec<(Align, usize)>,
        width: usize,
        rows: impl Fn() -> BarRows<'a> + 'a,
    ) -> Self {
        Bars {
            columns,
            width,
            rows: Box::new(rows),
        }
    }

    /// Its rows, made anew.
    pub fn rows(&self) -> BarRows<'a> {
        (self.rows)()
    }
}

impl fmt::Debug for Bars<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bars")
            .field("columns", &self.columns)
            .field("width", &self.width)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Block<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Block::Text(t) => f.debug_tuple("Text").field(t).finish(),
            Block::Blank => f.write_str("Blank"),
            Block::Title(t) => f.debug_tuple("Title").field(t).finish(),
            Block::Lost(l) => f.debug_tuple("Lost").field(l).finish(),
            Block::Warning(t) => f.debug_tuple("Warning").field(t).finish(),
            Block::Table(t) => f.debug_tuple("Table").field(t).finish(),
            Block::More(m) => f.debug_tuple("More").field(m).finish(),
            Block::Bars(b) => f.debug_tuple("Bars").field(b).finish(),
        }
    }
}

/// A report's histograms as a chart (one panel a histogram, stacked),
/// with the same lost-events warning and "N more not shown" note as its
/// text: [`render::svg`] draws it. The panels are made on demand (twice:
/// for the picture's size, then to draw), so none is held.
pub struct Plot<'a> {
    /// The chart's title (the report's first line).
    pub title: Cow<'a, str>,
    /// The lost-events warning, when the trace lost events.
    pub lost: Option<LostEvents>,
    /// The histograms left out, when some are.
    pub more: Option<More<'a>>,
    /// What the histograms' samples measure.
    pub unit: Unit,
    /// What the samples are of (`latency`, `interval`, an argument's
    /// name), for the x axis's title; `value` when not said.
    pub quantity: Option<Cow<'a, str>>,
    panels: Box<dyn Fn() -> Panels<'a> + 'a>,
}

/// A plot's panels, made one at a time.
pub type Panels<'a> = Box<dyn Iterator<Item = Panel<'a>> + 'a>;

/// One histogram of a [`Plot`].
#[derive(Debug, Clone)]
pub struct Panel<'a> {
    /// What it is of (`pid=1`), or empty.
    pub label: String,
    /// Its summary line (`count 7, min 0B, ...`).
    pub summary: String,
    /// The histogram.
    pub histogram: &'a Histogram,
}

impl<'a> Plot<'a> {
    /// A plot titled `title` of the histograms `panels()` makes (called
    /// once per pass; each call makes the same panels).
    pub fn new(
        title: impl Into<Cow<'a, str>>,
        unit: Unit,
        panels: impl Fn() -> Panels<'a> + 'a,
    ) -> Self {
        Plot {
            title: title.into(),
            lost: None,
            more: None,
            unit,
            quantity: None,
            panels: Box::new(panels),
        }
    }

    /// Its panels, made anew.
    pub fn panels(&self) -> Panels<'a> {
        (self.panels)()
    }
}

impl fmt::Debug for Plot<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Plot")
            .field("title", &self.title)
            .field("lost", &self.lost)
            .field("more", &self.more)
            .field("unit", &self.unit)
            .field("quantity", &self.quantity)
            .finish_non_exhaustive()
    }
}

/// The warning of a trace that lost events: QEMU's trace buffer was full,
/// and it wrote dropped-events records saying how many events it dropped.
/// Rendered `Events were lost: 2 dropped-events records, 10 events
/// dropped; CONSEQUENCE`, whichever analyzer reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LostEvents {
    /// Dropped-events records read.
    pub records: u64,
    /// The events they say were lost.
    pub events: u64,
    /// What the loss means for this report's figures, if anything.
    pub consequence: Option<String>,
}

/// Rows a report leaves out: `(3 more mutexes not shown)`; with what they
/// hold, `(2 more groups with 10 samples not shown)`; with a way to see
/// them, `(43 more leaks not shown; --top N to see more)` or
/// `(44 more rows; --top shows more)` (see [`Hint`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct More<'a> {
    /// How many.
    pub count: u64,
    /// What they are, one and several (`"mutex"`, `"mutexes"`).
    pub noun: (&'a str, &'a str),
    /// What they hold, if it is said (`"10 samples"`).
    pub holding: Option<String>,
    /// How to see them, if there is a way.
    pub hint: Hint<'a>,
}

/// How a [`More`] note says the way to see what it leaves out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hint<'a> {
    /// No way: `(3 more mutexes not shown)`.
    None,
    /// After "not shown": `(43 more leaks not shown; --top N to see more)`.
    After(&'a str),
    /// Instead of "not shown": `(44 more rows; --top shows more)`.
    Instead(&'a str),
}

/// How a column's cells line up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    /// On the left (names).
    Left,
    /// On the right (figures).
    Right,
}

/// A table's column: its header and alignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// The header.
    pub header: Cow<'static, str>,
    /// How its cells (and header) line up.
    pub align: Align,
}

impl Column {
    /// A column headed `header`.
    pub fn new(header: impl Into<Cow<'static, str>>, align: Align) -> Self {
        Column {
            header: header.into(),
            align,
        }
    }
}

/// A cell of a table, typed: the render layer writes each kind with the
/// one formatter for it ([`crate::analyzers::human`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Cell<'a> {
    /// Text as it is (an event name, a call site).
    Text(Cow<'a, str>),
    /// A whole number, in full: `63238`.
    Int(i128),
    /// An address: `0x55d0c0a0`.
    Hex(u64),
    /// `part` as a share of `whole`: `13.5%` (`-` when `whole` is 0).
    Percent {
        /// The part.
        part: u64,
        /// The whole.
        whole: u64,
    },
    /// A number with one decimal (`15964.6`), or `-` without one.
    Decimal1(Option<f64>),
    /// A time of the trace clock, or a span of it, in seconds:
    /// `3.961128`.
    Seconds(u64),
    /// A duration in nanoseconds: `1.5us`.
    Duration(i128),
    /// A fractional duration in nanoseconds (a mean, a median): `1.5us`.
    DurationF64(f64),
    /// A size in bytes: `4KiB`.
    Bytes(i128),
    /// No value: `-`.
    Missing,
}

impl<'a> Cell<'a> {
    /// A text cell.
    pub fn text(s: impl Into<Cow<'a, str>>) -> Self {
        Cell::Text(s.into())
    }
}

/// A table whose rows are made on demand (see the [module
/// documentation](self)).
pub struct Table<'a> {
    /// How its lines are drawn.
    pub style: TableStyle,
    /// Its columns.
    pub columns: Vec<Column>,
    rows: Box<dyn Fn() -> Rows<'a> + 'a>,
}

impl fmt::Debug for Table<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Table")
            .field("style", &self.style)
            .field("columns", &self.columns)
            .finish_non_exhaustive()
    }
}

impl<'a> Table<'a> {
    /// A table of `columns` whose rows `rows()` makes (called once per
    /// pass over them; each call makes the same rows). A row with fewer
    /// cells than columns is padded with empty cells.
    pub fn new(style: TableStyle, columns: Vec<Column>, rows: impl Fn() -> Rows<'a> + 'a) -> Self {
        Table {
            style,
            columns,
            rows: Box::new(rows),
        }
    }

    /// Its rows, made anew.
    pub fn rows(&self) -> Rows<'a> {
        (self.rows)()
    }
}
