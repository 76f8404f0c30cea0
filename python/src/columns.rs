//! The columnar loader: the records of chosen events as columns.
//!
//! [`Columns`] is a parallel analyzer of the crate: it registers a handler
//! for the chosen events only (the driver skips every other record without
//! decoding it), and each fork fills plain vectors for the records of its
//! chunk, which merge in chunk order. Memory follows the selected records
//! only. No Python object is made until the run is over: the Python side
//! ([`crate::trace::Trace::columns`]) turns each vector into one `bytes`
//! object that numpy views without copying (strings: one code per record
//! into the distinct strings, each one Python `bytes` object).
//!
//! Values are those `simpletrace json` writes: signed integers
//! sign-extended from their C width, unsigned ones and pointers as the
//! 64-bit word, `bool`s as true/false, strings as their bytes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use simpletrace::analyzers::{
    Analyzer, AnalyzerError, Context, Event, Handlers, ParallelAnalyzer, Report, TraceInfo,
};
use simpletrace::format::events::ArgKind;
use simpletrace::format::{ArgValue, EventDecl, TraceEvents};
use simpletrace::pattern::EventPatterns;

/// How a column stores its values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A signed integer, sign-extended to 64 bits.
    Signed,
    /// An unsigned integer or a pointer: the 64-bit word.
    Unsigned,
    /// A C `bool`: 0 or 1.
    Bool,
    /// A string's bytes.
    Bytes,
}

impl Kind {
    /// The kind of an argument; `words_only` for a trace that stores
    /// strings as their address (version 0).
    fn of(kind: ArgKind, words_only: bool) -> Kind {
        match kind {
            ArgKind::String if words_only => Kind::Unsigned,
            ArgKind::String => Kind::Bytes,
            ArgKind::Pointer => Kind::Unsigned,
            ArgKind::Bool => Kind::Bool,
            ArgKind::Int { signed: true, .. } => Kind::Signed,
            ArgKind::Int { signed: false, .. } => Kind::Unsigned,
        }
    }
}

/// The values of one argument.
#[derive(Debug, Clone)]
pub enum Values {
    /// [`Kind::Signed`].
    Signed(Vec<i64>),
    /// [`Kind::Unsigned`].
    Unsigned(Vec<u64>),
    /// [`Kind::Bool`], one byte (0 or 1) per record.
    Bool(Vec<u8>),
    /// [`Kind::Bytes`], each distinct string once: a trace repeats its
    /// strings (file names, device names), and one Python object per
    /// distinct string is far cheaper than one per record.
    Bytes(Strings),
}

impl Values {
    fn new(kind: Kind) -> Values {
        match kind {
            Kind::Signed => Values::Signed(Vec::new()),
            Kind::Unsigned => Values::Unsigned(Vec::new()),
            Kind::Bool => Values::Bool(Vec::new()),
            Kind::Bytes => Values::Bytes(Strings::default()),
        }
    }

    /// Appends argument `i` of `ev`; a value of another kind than the
    /// column's (a name declared twice with other types) appends 0 or no
    /// bytes, so that every column keeps one value per record.
    #[inline]
    fn push(&mut self, ev: &Event<'_>, i: usize) {
        let value = ev.arg(i);
        let word = match value {
            Some(ArgValue::Int(v)) => v,
            _ => 0,
        };
        match self {
            Values::Signed(v) => v.push(ev.i64_at(i).unwrap_or(0)),
            Values::Unsigned(v) => v.push(word),
            Values::Bool(v) => v.push(u8::from(word != 0)),
            Values::Bytes(strings) => {
                let s = match value {
                    Some(ArgValue::Str(s)) => s,
                    _ => b"",
                };
                let code = strings.code(s);
                strings.codes.push(code);
            }
        }
    }

    /// Appends the values of `other` (of the same kind).
    fn append(&mut self, other: Values) {
        match (self, other) {
            (Values::Signed(a), Values::Signed(b)) => append(a, b),
            (Values::Unsigned(a), Values::Unsigned(b)) => append(a, b),
            (Values::Bool(a), Values::Bool(b)) => append(a, b),
            (Values::Bytes(a), Values::Bytes(b)) => {
                // The part's codes in this table's numbering.
                let renumber: Vec<u32> = b.distinct.iter().map(|s| a.code(s)).collect();
                let codes = b
                    .codes
                    .iter()
                    .map(|&c| renumber.get(c as usize).copied().unwrap_or(0));
                a.codes.extend(codes);
            }
            // Forks are made with the same kinds.
            _ => {}
        }
    }
}

/// String values: a code per record, into the distinct strings.
#[derive(Debug, Clone, Default)]
pub struct Strings {
    /// Each record's string: its position in `distinct`.
    pub codes: Vec<u32>,
    /// The distinct strings, in order of first appearance.
    pub distinct: Vec<Vec<u8>>,
    index: HashMap<Vec<u8>, u32>,
}

impl Strings {
    /// The code of `s`, added if new.
    #[inline]
    fn code(&mut self, s: &[u8]) -> u32 {
        if let Some(&code) = self.index.get(s) {
            return code;
        }
        // 2^32 distinct strings in one column would take over 4 G
        // records of the event (and over 64 GiB of them); past that, the
        // codes saturate rather than wrap.
        let code = u32::try_from(self.distinct.len()).unwrap_or(u32::MAX);
        self.distinct.push(s.to_vec());
        self.index.insert(s.to_vec(), code);
        code
    }
}

/// `b` after `a`, moving `b` when `a` is empty.
fn append<T: Copy>(a: &mut Vec<T>, b: Vec<T>) {
    if a.is_empty() {
        *a = b;
    } else {
        a.extend_from_slice(&b);
    }
}

/// What a column set is: an event's name and its arguments.
#[derive(Debug)]
pub struct Schema {
    /// The event name (`Dropped_Event` for dropped-events records).
    pub name: String,
    /// Each argument's name and kind.
    pub args: Vec<(String, Kind)>,
}

/// The columns of one event.
#[derive(Debug, Clone)]
pub struct Table {
    /// `timestamp_ns` of each record.
    pub timestamps: Vec<u64>,
    /// `pid` of each record.
    pub pids: Vec<u32>,
    /// Each record's position in the trace, counting every record
    /// (mappings included) from 0: the order of records across events.
    pub records: Vec<u64>,
    /// Each argument's values.
    pub args: Vec<Values>,
}

impl Table {
    fn new(schema: &Schema) -> Table {
        Table {
            timestamps: Vec::new(),
            pids: Vec::new(),
            records: Vec::new(),
            args: schema.args.iter().map(|(_, k)| Values::new(*k)).collect(),
        }
    }

    fn append(&mut self, other: Table) {
        append(&mut self.timestamps, other.timestamps);
        append(&mut self.pids, other.pids);
        append(&mut self.records, other.records);
        for (a, b) in self.args.iter_mut().zip(other.args) {
            a.append(b);
        }
    }
}

/// An event selection the declarations cannot satisfy.
#[derive(Debug)]
pub struct SelectionError(pub String);

/// Which tables the records of each slot go to (one slot per declaration
/// position, then the dropped-events one), and the tables' schemas.
#[derive(Debug)]
pub struct Plan {
    /// The table of each slot, if its event is chosen.
    slots: Vec<Option<usize>>,
    /// One per chosen event name, in declaration order (dropped last).
    pub schemas: Vec<Schema>,
}

impl Plan {
    /// The events `patterns` turn on (the command line's `--events`
    /// list: globs, a leading `-` turning matches off, the last match
    /// deciding), one table per name (a name declared twice is its last
    /// declaration, whose arguments the table has). A pattern without
    /// wildcards that names no event is an error, with the declared name
    /// it likely meant.
    pub fn new(
        events: &TraceEvents,
        patterns: &EventPatterns,
        words_only: bool,
    ) -> Result<Plan, SelectionError> {
        let dropped = events.dropped();
        for p in &patterns.patterns {
            let literal = !p.glob.contains(['*', '?']);
            if literal && p.glob != dropped.name && events.by_name(p.glob.as_bytes()).is_none() {
                let hint = events
                    .suggest(&p.glob)
                    .map(|s| format!(" (did you mean '{s}'?)"))
                    .unwrap_or_default();
                return Err(SelectionError(format!("unknown event '{}'{hint}", p.glob)));
            }
        }
        let mut slots = vec![None; events.len() + 1];
        let mut schemas: Vec<Schema> = Vec::new();
        let decls = events.iter().chain(core::iter::once(dropped));
        let dropped_slot = events.len();
        for (slot, decl) in decls.enumerate() {
            if patterns.decide(&decl.name) != Some(true) {
                continue;
            }
            // The declaration the name means (the last of that name).
            let last: &EventDecl = if slot == dropped_slot {
                decl
            } else {
                events.by_name(decl.name.as_bytes()).unwrap_or(decl)
            };
            let table = match schemas.iter().position(|s| s.name == decl.name) {
                Some(t) => t,
                None => {
                    schemas.push(Schema {
                        name: decl.name.clone(),
                        args: last
                            .args
                            .iter()
                            .map(|a| (a.name.clone(), Kind::of(a.kind, words_only)))
                            .collect(),
                    });
                    schemas.len() - 1
                }
            };
            if let Some(s) = slots.get_mut(slot) {
                *s = Some(table);
            }
        }
        if schemas.is_empty() {
            let list: Vec<&str> = patterns.patterns.iter().map(|p| p.glob.as_str()).collect();
            return Err(SelectionError(format!(
                "no declared event matches '{}'",
                list.join(",")
            )));
        }
        Ok(Plan { slots, schemas })
    }
}

/// Where the run's tables go when it ends.
pub type Output = Arc<Mutex<Option<Vec<Table>>>>;

/// The columnar loader (see the module).
#[derive(Debug)]
pub struct Columns {
    plan: Arc<Plan>,
    tables: Vec<Table>,
    /// Where the whole run's tables go; `None` in a fork.
    out: Option<Output>,
}

impl Columns {
    /// A loader by `plan`, whose tables go to `out` at the end.
    pub fn new(plan: Arc<Plan>, out: Output) -> Columns {
        let tables = plan.schemas.iter().map(Table::new).collect();
        Columns {
            plan,
            tables,
            out: Some(out),
        }
    }

    fn on_record(&mut self, ev: &Event<'_>, _: &mut Context<'_>) -> Result<(), AnalyzerError> {
        let slot = if ev.is_dropped() {
            self.plan.slots.len() - 1
        } else {
            ev.decl().position
        };
        let Some(table) = self
            .plan
            .slots
            .get(slot)
            .copied()
            .flatten()
            .and_then(|t| self.tables.get_mut(t))
        else {
            return Ok(());
        };
        table.timestamps.push(ev.timestamp_ns());
        table.pids.push(ev.pid());
        table.records.push(ev.record().at.record.0);
        for (i, values) in table.args.iter_mut().enumerate() {
            values.push(ev, i);
        }
        Ok(())
    }
}

impl Analyzer for Columns {
    fn name(&self) -> &str {
        "columns"
    }

    fn handlers(&self) -> Handlers<Self> {
        let mut h = Handlers::new();
        for schema in &self.plan.schemas {
            h.on(&schema.name, Self::on_record);
        }
        h
    }

    fn end(&mut self, _: &TraceInfo<'_>) -> Result<Report, AnalyzerError> {
        if let Some(out) = &self.out
            && let Ok(mut out) = out.lock()
        {
            *out = Some(core::mem::take(&mut self.tables));
        }
        Ok(Report::none())
    }
}

impl ParallelAnalyzer for Columns {
    fn fork(&self, _: &simpletrace::analyzers::ChunkStart) -> Self {
        Columns {
            plan: Arc::clone(&self.plan),
            tables: self.plan.schemas.iter().map(Table::new).collect(),
            out: None,
        }
    }

    fn merge(&mut self, part: Self) -> Result<(), AnalyzerError> {
        for (a, b) in self.tables.iter_mut().zip(part.tables) {
            a.append(b);
        }
        Ok(())
    }
}
