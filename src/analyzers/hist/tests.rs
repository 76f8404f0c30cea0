//! Unit tests of `hist`.

use super::*;
use crate::analyzers::Report;
use crate::format::TraceReader;
use crate::format::writer::{Arg, TraceWriter, WriterOptions};

const EVENTS: &[u8] = b"\
submit(void *pool, void *req) \"pool %p req %p\"
complete(void *pool, void *req, int ret) \"pool %p req %p ret %d\"
write(void *bs, int64_t offset, uint64_t bytes, const char *name) \"w\"
tick(int delta_ns) \"t\"
";

fn events() -> TraceEvents {
    TraceEvents::parse("te", EVENTS).unwrap()
}

fn value(event: &str, arg: &str) -> Measure {
    Measure::Value {
        event: event.into(),
        arg: arg.into(),
    }
}

fn latency(b: &str, e: &str) -> Measure {
    let pair: LatencyPair = format!("{b},{e}").parse().unwrap();
    Measure::Latency {
        begin: pair.begin,
        end: pair.end,
        pairing: Pairing::Fifo,
    }
}

fn err(spec: HistSpec) -> HistError {
    match Hist::new(spec, &events()) {
        Err(e) => e,
        Ok(h) => panic!("accepted: {h:?}"),
    }
}

#[test]
fn parses_pairs_and_groups() {
    let p: LatencyPair = "a:req,b".parse().unwrap();
    assert_eq!(p.begin, Endpoint::keyed("a", "req"));
    assert_eq!(p.end, Endpoint::event("b"));
    for bad in ["a", "a,", ",b", "a:,b", "a b,c", "a:x:y,b"] {
        assert!(bad.parse::<LatencyPair>().is_err(), "{bad}");
    }
    assert_eq!("pid".parse::<GroupBy>().unwrap(), GroupBy::Pid);
    assert_eq!(
        "args.pid".parse::<GroupBy>().unwrap(),
        GroupBy::Arg("pid".into())
    );
    assert_eq!(GroupBy::Arg("pid".into()).to_string(), "args.pid");
    assert!("a-b".parse::<GroupBy>().is_err());
}

#[test]
fn requests_are_checked_against_the_declarations() {
    assert_eq!(
        err(HistSpec::new(value("writ", "bytes"))),
        HistError::UnknownEvent {
            event: "writ".into(),
            suggestion: Some("write".into())
        }
    );
    assert_eq!(
        err(HistSpec::new(value("nothing_like_it", "x"))).to_string(),
        "the trace-events file declares no event 'nothing_like_it'"
    );
    let e = err(HistSpec::new(value("write", "size")));
    assert_eq!(
        e.to_string(),
        "event 'write' has no argument 'size' (for the value); its numeric arguments: bs, offset, bytes"
    );
    let e = err(HistSpec::new(value("write", "name")));
    assert!(matches!(e, HistError::NotNumeric { .. }));
    assert_eq!(
        e.to_string(),
        "argument 'name' of event 'write' is a string, and a value histogram needs a number; its numeric arguments: bs, offset, bytes"
    );
    assert_eq!(
        err(HistSpec::new(latency("submit", "submit"))),
        HistError::SameEvent("submit".into())
    );
    assert_eq!(
        err(HistSpec::new(latency("submit:req", "write:name"))),
        HistError::KeyKindsDiffer {
            begin: "submit:req".into(),
            end: "write:name".into()
        }
    );
    // One key names both sides: 'tick' has no 'req'.
    assert!(matches!(
        err(HistSpec::new(latency("submit:req", "tick"))),
        HistError::UnknownArgument { role: "key", .. }
    ));
    let mut spec = HistSpec::new(latency("submit:req", "complete"));
    spec.by = vec![GroupBy::Arg("nope".into())];
    assert_eq!(
        err(spec).to_string(),
        "--by nope: neither 'submit' (arguments: pool, req) nor 'complete' (arguments: pool, req, ret) has an argument 'nope'"
    );
    let mut spec = HistSpec::new(value("write", "bytes"));
    spec.by = vec![GroupBy::Pid; 4];
    assert_eq!(err(spec), HistError::TooManyGroupParts(4));
    // A group argument of the end event is fine.
    let mut spec = HistSpec::new(latency("submit:req", "complete"));
    spec.by = vec![GroupBy::Arg("ret".into())];
    assert!(Hist::new(spec, &events()).is_ok());
}

#[test]
fn default_units() {
    let unit = |arg: &str| HistSpec::default_unit(&value("e", arg));
    assert_eq!(unit("bytes"), Unit::Bytes);
    assert_eq!(unit("buf_size"), Unit::Bytes);
    assert_eq!(unit("len"), Unit::Bytes);
    assert_eq!(unit("max_ns"), Unit::Nanoseconds);
    assert_eq!(unit("offset"), Unit::Count);
    assert_eq!(unit("sizes_seen"), Unit::Count);
    assert_eq!(
        HistSpec::default_unit(&latency("a", "b")),
        Unit::Nanoseconds
    );
    let h = Hist::new(HistSpec::new(value("tick", "delta_ns")), &events()).unwrap();
    assert_eq!(h.unit(), Unit::Nanoseconds);
    assert_eq!(h.events(), ["tick"]);
}

fn run(spec: HistSpec, trace: &[u8]) -> Report {
    let events = events();
    let mut driver = Driver::new();
    Hist::new(spec, &events).unwrap().add_to(&mut driver);
    let outcome = driver
        .run(
            TraceReader::new(trace, &events).unwrap(),
            &mut std::io::sink(),
            Default::default(),
        )
        .unwrap();
    outcome.reports.into_iter().next().unwrap().complete()
}

#[test]
fn fifo_and_lifo_pairing() {
    let events = events();
    let mut w = TraceWriter::with_events(Vec::new(), WriterOptions::default(), &events).unwrap();
    // Two begins of one key, then two ends.
    for (name, ts) in [
        ("submit", 100),
        ("submit", 150),
        ("complete", 400),
        ("complete", 1000),
    ] {
        let args = if name == "submit" {
            vec![Arg::Ptr(1), Arg::Ptr(7)]
        } else {
            vec![Arg::Ptr(1), Arg::Ptr(7), Arg::from(0)]
        };
        w.event_by_name(name, ts, 9, &args).unwrap();
    }
    let trace = w.finish().unwrap();
    let mut spec = HistSpec::new(latency("submit:req", "complete:req"));
    let fifo = run(spec.clone(), &trace);
    // 400-100, 1000-150
    assert_eq!(fifo.json["groups"][0]["histogram"]["min"], 300);
    assert_eq!(fifo.json["groups"][0]["histogram"]["max"], 850);
    spec.measure = Measure::Latency {
        begin: Endpoint::keyed("submit", "req"),
        end: Endpoint::keyed("complete", "req"),
        pairing: Pairing::Lifo,
    };
    let lifo = run(spec, &trace);
    // 400-150, 1000-100
    assert_eq!(lifo.json["groups"][0]["histogram"]["min"], 250);
    assert_eq!(lifo.json["groups"][0]["histogram"]["max"], 900);
    assert_eq!(lifo.json["pairing"], "lifo");
}
