//! Decoded records: zero-copy views into the trace bytes.

use core::fmt;

use super::error::{At, Error, EventId, Result};
use super::events::{ArgKind, EventDecl, MAX_EVENT_ARGS};
use super::header::ByteOrder;
use super::wire::{self, Big, Little, Order};

/// One argument value as stored in a record.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum ArgValue<'a> {
    /// An integer or pointer: the raw u64 (signed values sign-extended).
    Int(u64),
    /// A string's bytes, borrowed from the trace (QEMU stores a NULL
    /// pointer as the empty string).
    Str(&'a [u8]),
}

impl<'a> ArgValue<'a> {
    /// The integer, if this is one.
    pub fn as_u64(self) -> Option<u64> {
        match self {
            ArgValue::Int(v) => Some(v),
            ArgValue::Str(_) => None,
        }
    }

    /// The string bytes, if this is a string.
    pub fn as_bytes(self) -> Option<&'a [u8]> {
        match self {
            ArgValue::Str(s) => Some(s),
            ArgValue::Int(_) => None,
        }
    }
}

impl fmt::Debug for ArgValue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArgValue::Int(v) => write!(f, "Int(0x{v:x})"),
            ArgValue::Str(s) => f.debug_tuple("Str").field(&DebugBytes(s)).finish(),
        }
    }
}

/// Shows the first bytes of a slice and its length, never a whole payload.
pub(crate) struct DebugBytes<'a>(pub &'a [u8]);

impl fmt::Debug for DebugBytes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let head = self.0.get(..8).unwrap_or(self.0);
        write!(f, "{head:02x?}")?;
        if self.0.len() > 8 {
            f.write_str("...")?;
        }
        write!(f, " ({} bytes)", self.0.len())
    }
}

/// An event record (or a dropped-events record), borrowing its payload from
/// the trace.
#[derive(Clone, Copy)]
pub struct Record<'a> {
    /// Which record this is and where it starts.
    pub at: At,
    /// The event id as written.
    pub id: EventId,
    /// The declaration the id resolves to ([`TraceEvents::dropped`] for
    /// dropped-events records).
    ///
    /// [`TraceEvents::dropped`]: super::events::TraceEvents::dropped
    pub decl: &'a EventDecl,
    /// Host monotonic clock, in nanoseconds.
    pub timestamp_ns: u64,
    /// The writer's pid (0 for versions before 4 and for some QEMU tools).
    pub pid: u32,
    /// The argument bytes (record length minus the 24-byte header).
    pub payload: &'a [u8],
    pub(crate) order: ByteOrder,
    /// Version 0: every argument is one u64 word, strings included (they
    /// were stored as pointers).
    pub(crate) words_only: bool,
}

impl<'a> Record<'a> {
    /// Copies `other` into `self` field by field. The same as `*self =
    /// *other`, but a whole-struct copy reads the freshly built record with
    /// wide loads that span several narrower stores, which the CPU cannot
    /// forward from its store buffer: measured at 7% of printing time.
    #[inline(always)]
    pub(crate) fn assign(&mut self, other: &Record<'a>) {
        self.at = other.at;
        self.id = other.id;
        self.decl = other.decl;
        self.timestamp_ns = other.timestamp_ns;
        self.pid = other.pid;
        self.payload = other.payload;
        self.order = other.order;
        self.words_only = other.words_only;
    }

    /// An empty record of `decl`, to be filled by
    /// [`TraceReader::next_into`](super::TraceReader::next_into).
    pub fn placeholder(decl: &'a EventDecl) -> Self {
        Record {
            at: At {
                record: super::RecordIndex(0),
                offset: super::FileOffset(0),
            },
            id: EventId(0),
            decl,
            timestamp_ns: 0,
            pid: 0,
            payload: &[],
            order: ByteOrder::NATIVE,
            words_only: false,
        }
    }

    /// The event name.
    pub fn name(&self) -> &'a str {
        &self.decl.name
    }

    /// Whether this is a dropped-events record.
    pub fn is_dropped(&self) -> bool {
        self.decl.is_dropped_pseudo()
    }

    /// The arguments in declaration order. Each item is checked against the
    /// payload; a record too short for its declaration yields an error.
    pub fn args(&self) -> Args<'a> {
        Args {
            record_at: self.at,
            decl: self.decl,
            rest: self.payload,
            index: 0,
            order: self.order,
            record_len: (self.payload.len() + wire::EVENT_HEADER_LEN) as u32,
            words_only: self.words_only,
        }
    }

    /// Decodes every argument into `out` as one word each and returns how
    /// many; `None` if the record is malformed, in which case
    /// [`Record::args`] tells exactly why. An integer is its value; a string
    /// is its offset in the payload (high 32 bits) and length (low 32): see
    /// [`Record::word_value`]. This is the fast path: one store per
    /// argument, no error value built per argument.
    #[inline(always)]
    pub fn decode_words(&self, out: &mut [u64]) -> Option<usize> {
        match self.order {
            ByteOrder::Little => self.decode_words_in::<Little>(out),
            ByteOrder::Big => self.decode_words_in::<Big>(out),
        }
    }

    /// [`Record::decode_words`], and how many payload bytes are left
    /// after the last declared argument (0 in version 0, which pads every
    /// record): more than 0 when the record is longer than its declaration
    /// says, as with a trace-events file that lost arguments.
    #[inline(always)]
    pub(crate) fn decode_words_left(&self, out: &mut [u64]) -> Option<(usize, usize)> {
        let (n, left) = match self.order {
            ByteOrder::Little => self.decode_in::<Little>(out),
            ByteOrder::Big => self.decode_in::<Big>(out),
        }?;
        Some((n, if self.words_only { 0 } else { left }))
    }

    #[inline(always)]
    fn decode_words_in<O: Order>(&self, out: &mut [u64]) -> Option<usize> {
        self.decode_in::<O>(out).map(|(n, _)| n)
    }

    /// Decodes the arguments into `out`: how many, and how many payload
    /// bytes are left after the last one.
    #[inline(always)]
    fn decode_in<O: Order>(&self, out: &mut [u64]) -> Option<(usize, usize)> {
        let payload = self.payload;
        let mut rest = payload;
        let args = &self.decl.args;
        let n = args.len();
        for (slot, arg) in out.iter_mut().zip(args) {
            if arg.kind == ArgKind::String && !self.words_only {
                let (r, len) = wire::string_len::<O>(rest).ok()?;
                let offset = payload.len() - r.len();
                let (r, _) = wire::bytes(r, len as usize).ok()?;
                *slot = ((offset as u64) << 32) | u64::from(len);
                rest = r;
            } else {
                let (r, v) = O::u64(rest).ok()?;
                *slot = v;
                rest = r;
            }
        }
        (n <= out.len()).then_some((n, rest.len()))
    }

    /// Whether the payload holds exactly the declared arguments, no byte
    /// more (in version 0, which pads every record to six words: at most
    /// six). Reading does not need it (bytes after the last argument are
    /// ignored, as `simpletrace.py` ignores them), but QEMU writes every
    /// record exactly as long as its arguments, so resyncing takes a record
    /// with bytes left over for one with a corrupt length. Allocates
    /// nothing.
    pub(crate) fn fills_payload(&self) -> bool {
        let mut words = [0u64; MAX_EVENT_ARGS];
        let decoded = match self.order {
            ByteOrder::Little => self.decode_in::<Little>(&mut words),
            ByteOrder::Big => self.decode_in::<Big>(&mut words),
        };
        match decoded {
            Some((_, left)) => left == 0 || self.words_only,
            None => false,
        }
    }

    /// Checks that the payload holds exactly the declared arguments, no
    /// byte more (in version 0, which pads every record to six words: at
    /// most six): `Ok`, or the exact fault: an argument or string running
    /// past the record ([`Error::ArgumentPastRecord`],
    /// [`Error::StringPastRecord`]) or bytes left over after the last
    /// argument ([`Error::TrailingBytes`]). Reading needs only the first
    /// two; a resyncing reader ([`TraceReader::with_resync`]) asks all
    /// three of every record.
    ///
    /// [`TraceReader::with_resync`]: super::TraceReader::with_resync
    pub fn check_args(&self) -> Result<()> {
        if self.fills_payload() {
            Ok(())
        } else {
            Err(self.args_fault())
        }
    }

    /// Why the arguments do not fill this record exactly: the first
    /// argument fault, else the bytes left over (the slow path).
    #[cold]
    pub(crate) fn args_fault(&self) -> Error {
        let mut args = self.args();
        for arg in &mut args {
            if let Err(e) = arg {
                return e;
            }
        }
        let len = (self.payload.len() + wire::EVENT_HEADER_LEN) as u32;
        if self.decl.args.len() > MAX_EVENT_ARGS {
            return Error::ArgumentPastRecord {
                at: self.at,
                event: self.decl.name.as_str().into(),
                arg: MAX_EVENT_ARGS as u8,
                len,
            };
        }
        Error::TrailingBytes {
            at: self.at,
            event: self.decl.name.as_str().into(),
            len,
            used: (self.payload.len() - args.rest.len() + wire::EVENT_HEADER_LEN) as u64,
        }
    }

    /// Whether argument `position` is stored as a string in this record.
    #[inline]
    pub fn is_string_arg(&self, position: usize) -> bool {
        !self.words_only
            && self
                .decl
                .args
                .get(position)
                .is_some_and(|a| a.kind == ArgKind::String)
    }

    /// The value of argument `position` from its word as
    /// [`Record::decode_words`] made it.
    #[inline]
    pub fn word_value(&self, position: usize, word: u64) -> ArgValue<'a> {
        if self.is_string_arg(position) {
            let offset = (word >> 32) as usize;
            let len = (word & 0xffff_ffff) as usize;
            let payload: &'a [u8] = self.payload;
            ArgValue::Str(payload.get(offset..offset + len).unwrap_or_default())
        } else {
            ArgValue::Int(word)
        }
    }

    /// The argument at `position`, decoding the ones before it.
    pub fn arg(&self, position: usize) -> Option<Result<ArgValue<'a>>> {
        self.args().nth(position)
    }

    /// The argument called `name`.
    pub fn arg_by_name(&self, name: &str) -> Option<Result<ArgValue<'a>>> {
        self.arg(self.decl.arg_position(name)?)
    }
}

impl fmt::Debug for Record<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Record")
            .field("at", &self.at)
            .field("id", &self.id)
            .field("name", &self.decl.name)
            .field("timestamp_ns", &self.timestamp_ns)
            .field("pid", &self.pid)
            .field("payload", &DebugBytes(self.payload))
            .finish()
    }
}

/// Iterator over a record's arguments; see [`Record::args`].
#[derive(Debug, Clone)]
pub struct Args<'a> {
    record_at: At,
    decl: &'a EventDecl,
    rest: &'a [u8],
    index: usize,
    order: ByteOrder,
    record_len: u32,
    words_only: bool,
}

impl<'a> Args<'a> {
    #[inline(always)]
    fn next_in<O: Order>(&mut self, kind: ArgKind) -> Result<ArgValue<'a>> {
        let past = |this: &Self| Error::ArgumentPastRecord {
            at: this.record_at,
            event: this.decl.name.as_str().into(),
            arg: this.index as u8,
            len: this.record_len,
        };
        match kind {
            ArgKind::String => {
                let (rest, len) = wire::string_len::<O>(self.rest).map_err(|_| past(self))?;
                let (rest, s) =
                    wire::bytes(rest, len as usize).map_err(|_| Error::StringPastRecord {
                        at: self.record_at,
                        event: self.decl.name.as_str().into(),
                        arg: self.index as u8,
                        str_len: len,
                        available: rest.len() as u64,
                    })?;
                self.rest = rest;
                Ok(ArgValue::Str(s))
            }
            ArgKind::Pointer | ArgKind::Bool | ArgKind::Int { .. } => {
                let (rest, v) = O::u64(self.rest).map_err(|_| past(self))?;
                self.rest = rest;
                Ok(ArgValue::Int(v))
            }
        }
    }
}

impl<'a> Iterator for Args<'a> {
    type Item = Result<ArgValue<'a>>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let mut kind = self.decl.args.get(self.index)?.kind;
        if self.words_only {
            kind = ArgKind::Pointer;
        }
        let item = match self.order {
            ByteOrder::Little => self.next_in::<Little>(kind),
            ByteOrder::Big => self.next_in::<Big>(kind),
        };
        if item.is_err() {
            // Nothing after a fault can be trusted.
            self.index = self.decl.args.len();
        } else {
            self.index += 1;
        }
        Some(item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.decl.args.len().saturating_sub(self.index);
        (0, Some(n))
    }
}
