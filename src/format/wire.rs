//! nom parsers for the wire layout of records, one per byte order.
//!
//! They only split bytes; deciding what a short input means (a truncated
//! file, a corrupt record) is the reader's job, which knows the offsets.

use nom::error::{ErrorKind, ParseError};
use nom::{IResult, Parser};

/// The only way these parsers fail: the input ended too early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Short;

impl<I> ParseError<I> for Short {
    fn from_error_kind(_input: I, _kind: ErrorKind) -> Self {
        Short
    }
    fn append(_input: I, _kind: ErrorKind, other: Self) -> Self {
        other
    }
}

/// A byte order, chosen once per trace so the record loop does not branch on
/// it.
pub(crate) trait Order {
    fn u64(i: &[u8]) -> IResult<&[u8], u64, Short>;
    fn u32(i: &[u8]) -> IResult<&[u8], u32, Short>;
}

/// Little-endian parsers.
pub(crate) struct Little;
/// Big-endian parsers.
pub(crate) struct Big;

/// Splits off `N` bytes: the primitive under every integer parser. nom's
/// own number parsers go byte by byte through its generic input trait; a
/// fixed-size split compiles to one unaligned load.
#[inline(always)]
fn take_array<const N: usize>(i: &[u8]) -> IResult<&[u8], [u8; N], Short> {
    match i.split_first_chunk::<N>() {
        Some((head, rest)) => Ok((rest, *head)),
        None => Err(nom::Err::Error(Short)),
    }
}

impl Order for Little {
    #[inline(always)]
    fn u64(i: &[u8]) -> IResult<&[u8], u64, Short> {
        take_array(i).map(|(rest, b)| (rest, u64::from_le_bytes(b)))
    }
    #[inline(always)]
    fn u32(i: &[u8]) -> IResult<&[u8], u32, Short> {
        take_array(i).map(|(rest, b)| (rest, u32::from_le_bytes(b)))
    }
}

impl Order for Big {
    #[inline(always)]
    fn u64(i: &[u8]) -> IResult<&[u8], u64, Short> {
        take_array(i).map(|(rest, b)| (rest, u64::from_be_bytes(b)))
    }
    #[inline(always)]
    fn u32(i: &[u8]) -> IResult<&[u8], u32, Short> {
        take_array(i).map(|(rest, b)| (rest, u32::from_be_bytes(b)))
    }
}

/// The fixed part of an event record after its type word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EventHeader {
    pub id: u64,
    pub timestamp_ns: u64,
    /// Record length: this 24-byte header plus the payload.
    pub len: u32,
    pub pid: u32,
}

/// Length of [`EventHeader`] on the wire.
pub(crate) const EVENT_HEADER_LEN: usize = 24;

#[inline(always)]
pub(crate) fn event_header<O: Order>(i: &[u8]) -> IResult<&[u8], EventHeader, Short> {
    let (i, (id, timestamp_ns, len, pid)) = (O::u64, O::u64, O::u32, O::u32).parse(i)?;
    Ok((
        i,
        EventHeader {
            id,
            timestamp_ns,
            len,
            pid,
        },
    ))
}

/// The fixed part of a mapping record after its type word: the id and the
/// name length.
#[inline(always)]
pub(crate) fn mapping_header<O: Order>(i: &[u8]) -> IResult<&[u8], (u64, u32), Short> {
    (O::u64, O::u32).parse(i)
}

/// `n` bytes.
#[inline(always)]
pub(crate) fn bytes(i: &[u8], n: usize) -> IResult<&[u8], &[u8], Short> {
    nom::bytes::complete::take(n).parse(i)
}

/// A string argument: u32 length, then the bytes.
#[inline(always)]
pub(crate) fn string_len<O: Order>(i: &[u8]) -> IResult<&[u8], u32, Short> {
    O::u32(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_both_orders() {
        let mut le = Vec::new();
        le.extend(7u64.to_le_bytes());
        le.extend(9u64.to_le_bytes());
        le.extend(32u32.to_le_bytes());
        le.extend(5u32.to_le_bytes());
        le.push(0xaa);
        let (rest, h) = event_header::<Little>(&le).unwrap();
        assert_eq!(rest, [0xaa]);
        assert_eq!(
            h,
            EventHeader {
                id: 7,
                timestamp_ns: 9,
                len: 32,
                pid: 5
            }
        );
        let be: Vec<u8> = [7u64.to_be_bytes(), 9u64.to_be_bytes()]
            .concat()
            .into_iter()
            .chain(32u32.to_be_bytes())
            .chain(5u32.to_be_bytes())
            .collect();
        assert_eq!(event_header::<Big>(&be).unwrap().1, h);
        assert_eq!(
            event_header::<Little>(&le[..23]),
            Err(nom::Err::Error(Short))
        );
    }
}
