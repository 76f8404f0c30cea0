//! Writes the seed corpora in `fuzz/seeds/<target>/` from the project's own
//! files and encoder (never from QEMU's corpus): `cargo run --example
//! make_seeds` in `fuzz/`. The seeds are committed; rerun after changing
//! an input layout in `src/harness.rs`.

use std::path::{Path, PathBuf};

use simpletrace::format::events::{ArgKind, FormatPiece};
use simpletrace::format::writer::{Arg, TraceWriter, WriterOptions};
use simpletrace::format::{ByteOrder, TraceEvents, Version};
use simpletrace_fuzz::harness::{FUZZ_EVENTS, TYPES, fuzz_events, sample_events};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = root().join("seeds").join(target);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
}

fn project_file(name: &str) -> Vec<u8> {
    std::fs::read(root().join("../testdata").join(name)).unwrap()
}

/// An argument value of each kind the declarations use.
fn arg_for(kind: ArgKind, n: u64) -> Arg<'static> {
    match kind {
        ArgKind::String => Arg::Str(Some(if n.is_multiple_of(2) {
            b"it's"
        } else {
            b"img/a\n.qcow2"
        })),
        ArgKind::Pointer => Arg::Ptr(0x5555_0000 + n),
        ArgKind::Bool => Arg::U64(n & 1),
        ArgKind::Int { signed: true, .. } => Arg::I64(-(n as i64) - 1),
        ArgKind::Int { .. } => Arg::U64(n + 7),
    }
}

/// A small trace of every declaration of `events`: (file, header length).
fn trace(events: &TraceEvents, version: Version, order: ByteOrder) -> (Vec<u8>, usize) {
    let options = WriterOptions {
        version,
        order,
        ..WriterOptions::default()
    };
    let mut w = TraceWriter::with_events(Vec::new(), options, events).unwrap();
    let header = w.bytes_written() as usize;
    let mut ts = 1_000_000;
    for round in 0..2u64 {
        for decl in events.iter() {
            if decl.name == "dropped" || events.by_name(decl.name.as_bytes()) != Some(decl) {
                continue;
            }
            // Version 0 stored strings as pointers, which the writer
            // refuses to make up, and had room for six arguments.
            let strings = decl.args.iter().any(|a| a.kind == ArgKind::String);
            if version == Version::V0 && (strings || decl.args.len() > 6) {
                continue;
            }
            let args: Vec<_> = decl
                .args
                .iter()
                .enumerate()
                .map(|(i, a)| arg_for(a.kind, round + i as u64))
                .collect();
            // Timestamps step back now and then, as in real traces.
            ts = if round == 1 && decl.position % 3 == 0 {
                ts - 500
            } else {
                ts + 1_250
            };
            w.event_by_name(&decl.name, ts, 4242 + (decl.position as u32 % 3), &args)
                .unwrap();
        }
        if version == Version::V4 {
            w.dropped(ts + 10, 4242, 17).unwrap();
        }
    }
    (w.finish().unwrap(), header)
}

fn main() {
    let sample = sample_events();
    let fuzz = fuzz_events();

    // trace_events: the project's declarations and a few odd lines.
    write(
        "trace_events",
        "sample",
        &project_file("sample.trace-events"),
    );
    write("trace_events", "fuzz", FUZZ_EVENTS.as_bytes());
    write(
        "trace_events",
        "odd",
        b"# comment\r\n\r\ntcg disable vcpu a(const char*s, char **pp, unsigned long long x) \"%s\\x41\\101\\\"\", \"%s %p %\" PRIu64 \"\"\r\nb(void)\n",
    );

    // decode: every version and byte order, whole, behind a header the
    // harness adds, and headerless; plus the project's sample traces.
    let versions = [Version::V4, Version::V3, Version::V2, Version::V0];
    for (e, events) in [(0u8, sample), (1, fuzz)] {
        for (v, &version) in versions.iter().enumerate() {
            for (b, order) in [(0u8, ByteOrder::Little), (1, ByteOrder::Big)] {
                let (bytes, header) = trace(events, version, order);
                let mode = e | (v as u8) << 3 | b << 5;
                let name = format!("e{e}-v{}-{}", version.number(), ["le", "be"][b as usize]);
                write(
                    "decode",
                    &format!("{name}-whole"),
                    &[&[mode], &bytes[..]].concat(),
                );
                let records = &bytes[header..];
                write(
                    "decode",
                    &format!("{name}-header"),
                    &[&[mode | 4], records].concat(),
                );
                write(
                    "decode",
                    &format!("{name}-headerless"),
                    &[&[mode | 2], records].concat(),
                );
            }
        }
    }
    write(
        "decode",
        "strings",
        &[&[0u8], &project_file("strings.trace")[..]].concat(),
    );
    write(
        "decode",
        "no-header",
        &[&[2u8], &project_file("no-header.trace")[..]].concat(),
    );
    write(
        "decode",
        "edge-deltas",
        &[&[0u8], &project_file("edge-deltas.trace")[..]].concat(),
    );

    // cformat: every declaration's format with matching types and values.
    let mut n = 0;
    for events in [sample, fuzz] {
        for decl in events.iter() {
            let Some(format) = &decl.format else { continue };
            let mut seed = vec![decl.args.len() as u8, decl.args.len() as u8];
            for a in &decl.args {
                let t = TYPES.iter().position(|t| *t == a.ty.trim()).unwrap_or(0);
                seed.push(t as u8);
            }
            for (i, a) in decl.args.iter().enumerate() {
                if a.kind == ArgKind::String {
                    let s: &[u8] = if i % 2 == 0 { b"qcow2" } else { b"" };
                    seed.push((s.len() as u8) << 1 | 1);
                    seed.extend_from_slice(s);
                } else {
                    seed.push(0);
                    seed.extend_from_slice(
                        &(0xfff0_0000_0000_0000u64 | (i as u64 * 77)).to_le_bytes(),
                    );
                }
            }
            // Both ways: expanded text, and pieces for CFormat::parse.
            let mut text = Vec::new();
            let mut pieces = Vec::new();
            let mut literal_next = true;
            for piece in &format.pieces {
                match piece {
                    FormatPiece::Literal(l) => {
                        text.extend_from_slice(l.as_bytes());
                        if !literal_next {
                            pieces.push(b"".to_vec());
                        }
                        pieces.push(l.as_bytes().to_vec());
                        literal_next = false;
                    }
                    FormatPiece::Macro(m) => {
                        text.extend_from_slice(match m.as_str() {
                            "PRIx64" => b"lx",
                            "PRIu64" => b"lu",
                            "PRId64" => b"ld",
                            _ => m.as_bytes(),
                        });
                        if literal_next {
                            pieces.push(b"".to_vec());
                        }
                        pieces.push(m.as_bytes().to_vec());
                        literal_next = true;
                    }
                }
            }
            write(
                "cformat",
                &format!("f{n}-text"),
                &[&seed[..], &text].concat(),
            );
            seed[0] |= 0x80;
            write(
                "cformat",
                &format!("f{n}-pieces"),
                &[&seed[..], &pieces.join(&1u8)].concat(),
            );
            n += 1;
        }
    }

    // print: each set of analyzers, both fixed events files, a selection,
    // and declarations from the input.
    let (sample_trace, _) = trace(sample, Version::V4, ByteOrder::Little);
    let (fuzz_trace, _) = trace(fuzz, Version::V4, ByteOrder::Little);
    for analyzers in 0..4u8 {
        for (e, t) in [(0u8, &sample_trace), (1, &fuzz_trace)] {
            let mode = e | analyzers << 5;
            write(
                "print",
                &format!("a{analyzers}-e{e}"),
                &[&[mode, 31], &t[..]].concat(),
            );
        }
        let mode = 2 | analyzers << 5;
        let text = FUZZ_EVENTS.as_bytes();
        let mut seed = vec![mode, 15];
        seed.extend_from_slice(&(text.len() as u16).to_le_bytes());
        seed.extend_from_slice(text);
        seed.extend_from_slice(&fuzz_trace);
        write("print", &format!("a{analyzers}-custom"), &seed);
    }
    let mut sel = vec![1 | 0x10 | 3 << 5, 7, 0x0f];
    sel.extend_from_slice(&4242u32.to_le_bytes());
    sel.extend_from_slice(&1_003_000u64.to_le_bytes());
    sel.extend_from_slice(&fuzz_trace);
    write("print", "selection", &sel);
    write(
        "print",
        "no-header",
        &[&[4u8, 40], &project_file("no-header.trace")[..]].concat(),
    );
}
