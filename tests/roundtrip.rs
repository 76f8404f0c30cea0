//! Round trips: random declarations and records, written with
//! `TraceWriter` in every version and byte order, read back identical.

use proptest::prelude::*;
use simpletrace::format::writer::{Arg, TraceWriter, WriterOptions};
use simpletrace::format::{ArgKind, ArgValue, ByteOrder, TraceEvents, TraceReader, Version};

/// C types a declaration can use, each with how to make a valid value.
const TYPES: &[&str] = &[
    "int",
    "unsigned",
    "int8_t",
    "uint8_t",
    "int16_t",
    "uint16_t",
    "int32_t",
    "uint32_t",
    "int64_t",
    "uint64_t",
    "long",
    "unsigned long long",
    "bool",
    "size_t",
    "ssize_t",
    "void *",
    "const char *",
];

#[derive(Debug, Clone)]
enum Value {
    Int(i128),
    Str(Option<Vec<u8>>),
}

#[derive(Debug, Clone)]
struct Rec {
    event: usize,
    timestamp: u64,
    pid: u32,
    values: Vec<Value>,
    dropped: Option<u64>,
}

fn value_for(ty: &str) -> BoxedStrategy<Value> {
    match ArgKind::of_type(ty) {
        ArgKind::String => {
            proptest::option::weighted(0.9, proptest::collection::vec(any::<u8>(), 0..40))
                .prop_map(Value::Str)
                .boxed()
        }
        ArgKind::Pointer => any::<u64>().prop_map(|v| Value::Int(i128::from(v))).boxed(),
        ArgKind::Bool => (0..=1i128).prop_map(Value::Int).boxed(),
        ArgKind::Int { signed: true, bits } => {
            let half = 1i128 << (bits - 1);
            (-half..half).prop_map(Value::Int).boxed()
        }
        ArgKind::Int {
            signed: false,
            bits,
        } => (0..(1i128 << bits)).prop_map(Value::Int).boxed(),
    }
}

fn arg_of<'a>(ty: &str, v: &'a Value) -> Arg<'a> {
    match (ArgKind::of_type(ty), v) {
        (_, Value::Str(s)) => Arg::Str(s.as_deref()),
        (ArgKind::Pointer, Value::Int(i)) => Arg::Ptr(*i as u64),
        (ArgKind::Int { signed: true, .. }, Value::Int(i)) => Arg::I64(*i as i64),
        (_, Value::Int(i)) => Arg::U64(*i as u64),
    }
}

/// What the reader must give back for a value.
fn read_back(ty: &str, v: &Value) -> ArgValue<'static> {
    match (ArgKind::of_type(ty), v) {
        (_, Value::Str(s)) => {
            ArgValue::Str(Box::leak(s.clone().unwrap_or_default().into_boxed_slice()))
        }
        (ArgKind::Int { signed: true, .. }, Value::Int(i)) => ArgValue::Int(*i as i64 as u64),
        (_, Value::Int(i)) => ArgValue::Int(*i as u64),
    }
}

fn declarations() -> impl Strategy<Value = Vec<Vec<&'static str>>> {
    proptest::collection::vec(
        proptest::collection::vec(proptest::sample::select(TYPES), 0..=10),
        1..6,
    )
}

fn trace_case() -> impl Strategy<Value = (Vec<Vec<&'static str>>, Vec<Rec>)> {
    declarations().prop_flat_map(|decls| {
        let n = decls.len();
        let decls2 = decls.clone();
        let rec = (
            0..n,
            any::<u64>(),
            any::<u32>(),
            proptest::option::weighted(0.05, any::<u64>()),
        )
            .prop_flat_map(move |(event, timestamp, pid, dropped)| {
                let values: Vec<_> = decls2[event].iter().map(|t| value_for(t)).collect();
                values.prop_map(move |values| Rec {
                    event,
                    timestamp,
                    pid,
                    values,
                    dropped,
                })
            });
        (Just(decls), proptest::collection::vec(rec, 0..40))
    })
}

fn events_text(decls: &[Vec<&str>]) -> String {
    decls
        .iter()
        .enumerate()
        .map(|(i, args)| {
            let list = if args.is_empty() {
                "void".to_owned()
            } else {
                args.iter()
                    .enumerate()
                    .map(|(j, t)| format!("{t} a{j}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            format!("ev{i}({list}) \"\"\n")
        })
        .collect()
}

fn check(version: Version, order: ByteOrder, decls: &[Vec<&str>], recs: &[Rec]) {
    let events = TraceEvents::parse("te", events_text(decls).as_bytes()).unwrap();
    let options = WriterOptions {
        version,
        order,
        max_string_len: None,
    };
    // Version 0 holds at most six integer arguments and no dropped records.
    let fits = |r: &Rec| {
        version != Version::V0
            || (decls[r.event].len() <= 6 && r.values.iter().all(|v| matches!(v, Value::Int(_))))
    };
    let mut writer = TraceWriter::with_events(Vec::new(), options, &events).unwrap();
    let mut expected = Vec::new();
    for r in recs.iter().filter(|r| fits(r)) {
        let args: Vec<Arg> = decls[r.event]
            .iter()
            .zip(&r.values)
            .map(|(t, v)| arg_of(t, v))
            .collect();
        writer
            .event_by_name(&format!("ev{}", r.event), r.timestamp, r.pid, &args)
            .unwrap();
        let values: Vec<_> = decls[r.event]
            .iter()
            .zip(&r.values)
            .map(|(t, v)| read_back(t, v))
            .collect();
        let pid = if version == Version::V4 { r.pid } else { 0 };
        expected.push((format!("ev{}", r.event), r.timestamp, pid, values));
        if let (Some(count), true) = (r.dropped, version != Version::V0) {
            writer.dropped(r.timestamp, r.pid, count).unwrap();
            expected.push((
                "Dropped_Event".into(),
                r.timestamp,
                pid,
                vec![ArgValue::Int(count)],
            ));
        }
    }
    let bytes = writer.finish().unwrap();
    let reader = TraceReader::new(&bytes, &events).unwrap();
    assert_eq!(reader.kind().version, version);
    assert_eq!(reader.kind().order, order);
    let got: Vec<_> = reader
        .map(|r| {
            let r = r.unwrap();
            let args: Vec<_> = r.args().map(|a| a.unwrap()).collect();
            (r.name().to_owned(), r.timestamp_ns, r.pid, args)
        })
        .collect();
    assert_eq!(got, expected, "version {version:?} {order:?}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn every_version_round_trips((decls, recs) in trace_case(), big in any::<bool>()) {
        let order = if big { ByteOrder::Big } else { ByteOrder::Little };
        for version in [Version::V4, Version::V3, Version::V2, Version::V0] {
            check(version, order, &decls, &recs);
        }
    }
}

/// Exact byte lengths: a v4 record is 8 + 24 + payload, strings are 4 +
/// length, and the file is the header plus the records.
#[test]
fn byte_lengths_are_exact() {
    let events = TraceEvents::parse("te", b"e(const char *s, int x)\n").unwrap();
    let mut w = TraceWriter::with_events(Vec::new(), WriterOptions::default(), &events).unwrap();
    w.event_by_name("e", 1, 2, &[Arg::from("hello"), Arg::from(3)])
        .unwrap();
    let bytes = w.finish().unwrap();
    let mapping = 8 + 8 + 4 + 1;
    let event = 8 + 24 + (4 + 5) + 8;
    assert_eq!(bytes.len(), 24 + mapping + event);
    let mut v0 = TraceWriter::new(Vec::new(), WriterOptions::version(Version::V0)).unwrap();
    v0.event(0, 1, 2, &[Arg::U64(1)]).unwrap();
    assert_eq!(v0.finish().unwrap().len(), 64 + 64);
}
