//! The project's own sample traces, written deterministically with
//! `TraceWriter` (every record checked against
//! `testdata/sample.trace-events`). The committed files in `testdata/` must
//! equal what these functions produce (see `testdata_is_current`); run
//! `SIMPLETRACE_REGENERATE=1 cargo test testdata` to rewrite them, then
//! `scripts/update-goldens.sh` to refresh the goldens from QEMU's script.

use simpletrace::format::writer::{Arg, TraceWriter, WriterOptions};
use simpletrace::format::{
    ArgKind, ArgValue, ByteOrder, Item, TraceEvents, TraceReader, Version, encode,
};

/// A small deterministic PRNG (xorshift64*), so samples never change.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Event names of `sample.trace-events` in the order of a QEMU run's
/// mapping records (ids are assigned at run time, not by position).
const MAPPED: &[(u64, &str)] = &[
    (0, "vm_stop"),
    (1, "blk_open"),
    (2, "blk_co_preadv"),
    (3, "blk_co_pwritev"),
    (4, "blk_io_done"),
    (5, "mem_alloc"),
    (6, "mem_free"),
    (7, "lock_acquire"),
    (8, "lock_release"),
    (9, "cpu_state"),
    (10, "clock_step"),
    (11, "small_ints"),
];

const PIDS: [u32; 3] = [4242, 4243, 0];

fn int(v: u64) -> Arg<'static> {
    Arg::U64(v)
}

fn signed(v: i64) -> Arg<'static> {
    Arg::I64(v)
}

/// The declarations every sample is checked against.
pub fn sample_events() -> TraceEvents {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/sample.trace-events");
    TraceEvents::parse(path, &std::fs::read(path).expect("sample.trace-events")).expect("valid")
}

/// A checked version-4 writer, little-endian whatever the host, so the
/// committed bytes do not depend on the machine.
fn writer(events: &TraceEvents) -> TraceWriter<'_, Vec<u8>> {
    let options = WriterOptions {
        order: ByteOrder::Little,
        ..WriterOptions::default()
    };
    TraceWriter::with_events(Vec::new(), options, events).expect("header")
}

/// `sample.trace`: a block-layer session of a few hundred records with
/// every argument kind, three pids, a dropped-events record, a mapping
/// record in the middle (a module loading) and an id mapped a second time.
pub fn sample_trace() -> Vec<u8> {
    let mut rng = Rng::new(0x5eed);
    let mut t: u64 = 1_731_000_000_000;
    let events = sample_events();
    let mut w = writer(&events);
    for &(id, name) in MAPPED {
        w.mapping(id, name.as_bytes()).unwrap();
    }
    let blk = 0x5643_596b_66b0u64;
    let mutex = 0x5643_5968_1a40u64;
    let mut live: Vec<u64> = Vec::new();
    w.event(
        1,
        t,
        PIDS[0],
        &[
            int(blk),
            Arg::Str(Some(b"img/disk.qcow2")),
            int(0x8002),
            Arg::Str(Some(b"qcow2")),
        ],
    )
    .unwrap();
    for i in 0..300u64 {
        t += 200 + rng.below(40_000);
        // Threads take their timestamps before reserving buffer space, so
        // a record can carry an earlier time than the one before it.
        let ts = if rng.below(25) == 0 {
            t - rng.below(5_000)
        } else {
            t
        };
        let pid = PIDS[(rng.below(10) / 4) as usize];
        match rng.below(9) {
            0 | 1 => {
                let id = 2 + rng.below(2);
                let offset = rng.below(1 << 30) & !0xfff;
                let bytes = 512 << rng.below(8);
                w.event(id, ts, pid, &[int(blk), int(offset), int(bytes), int(0)])
                    .unwrap();
            }
            2 => {
                let ret: i64 = if rng.below(6) == 0 { -5 } else { 0 };
                let offset: i64 = if rng.below(20) == 0 {
                    -1
                } else {
                    (rng.below(1 << 20) * 512) as i64
                };
                w.event(4, ts, pid, &[int(blk), signed(offset), signed(ret)])
                    .unwrap();
            }
            3 => {
                let ptr = 0x7f21_6000_0000 + rng.below(1 << 24) * 16;
                live.push(ptr);
                w.event(5, ts, pid, &[int(64 << rng.below(12)), int(ptr)])
                    .unwrap();
            }
            4 => {
                let ptr = if live.is_empty() || rng.below(8) == 0 {
                    0
                } else {
                    let i = rng.below(live.len() as u64) as usize;
                    live.swap_remove(i)
                };
                w.event(6, ts, pid, &[int(ptr)]).unwrap();
            }
            5 | 6 => {
                let files: [&[u8]; 3] = [
                    b"../util/async.c",
                    b"../block/io.c",
                    b"../util/thread-pool.c",
                ];
                let file = files[rng.below(3) as usize];
                let line = 100 + rng.below(600);
                let id = 7 + rng.below(2);
                w.event(
                    id,
                    ts,
                    pid,
                    &[
                        int(mutex + 64 * rng.below(3)),
                        Arg::Str(Some(file)),
                        int(line),
                    ],
                )
                .unwrap();
            }
            7 => {
                let old = rng.below(10) as i64 - 5;
                w.event(
                    9,
                    ts,
                    pid,
                    &[signed(old), int(rng.below(256)), int(rng.below(2))],
                )
                .unwrap();
            }
            _ => {
                let step = rng.below(2_000_000) as i64 - 1_000_000;
                w.event(10, ts, pid, &[signed(step), int(t)]).unwrap();
            }
        }
        if i == 120 {
            t += 1_000;
            w.dropped(t, PIDS[0], 0x4330b).unwrap();
        }
        if i == 150 {
            // A module loads: a new id, and an old id pointed elsewhere.
            w.mapping(12, b"guest_message").unwrap();
            w.mapping(0, b"small_ints").unwrap();
            w.mapping(40, b"vm_stop").unwrap();
        }
        if i > 150 && i % 37 == 0 {
            let msgs: [&[u8]; 4] = [
                b"boot complete",
                b"",
                b"disk 'root' ready",
                b"caf\xc3\xa9 \xff",
            ];
            w.event(12, t, pid, &[Arg::Str(Some(msgs[(i / 37 % 4) as usize]))])
                .unwrap();
            w.event(
                0,
                t + 1,
                pid,
                &[
                    signed(-2),
                    int(65535),
                    int(255),
                    signed(i64::MIN),
                    signed(-1),
                ],
            )
            .unwrap();
        }
    }
    w.event(40, t + 10, PIDS[0], &[]).unwrap();
    w.finish().unwrap()
}

/// `edge-deltas.trace`: timestamps that jump across the whole u64 range,
/// so deltas need more than 53 bits, go negative, and hit both extremes.
pub fn edge_deltas_trace() -> Vec<u8> {
    let mut rng = Rng::new(0xde17a);
    let events = sample_events();
    let mut w = writer(&events);
    w.mapping(0, b"vm_stop").unwrap();
    let mut stamps = vec![
        0,
        u64::MAX,
        0,
        1 << 53,
        (1 << 53) + 1,
        1 << 63,
        1,
        u64::MAX - 1,
        u64::MAX,
    ];
    for shift in [0, 8, 16, 32, 40, 48, 52, 53, 54, 56, 60, 63] {
        for _ in 0..12 {
            stamps.push(rng.next() >> shift);
        }
    }
    for _ in 0..100 {
        stamps.push(rng.next());
    }
    for ts in stamps {
        w.event(0, ts, 1, &[]).unwrap();
    }
    w.finish().unwrap()
}

/// `strings.trace`: string arguments that exercise every escape rule of
/// Python's bytes repr, and the 512-byte cut QEMU applies.
pub fn strings_trace() -> Vec<u8> {
    let events = sample_events();
    let mut w = writer(&events);
    w.mapping(7, b"guest_message").unwrap();
    let all_bytes: Vec<u8> = (0..=255u8).collect();
    let long: Vec<u8> = b"abcdefghij".iter().copied().cycle().take(512).collect();
    let cases: Vec<&[u8]> = vec![
        b"",
        b"plain",
        b"it's",
        b"say \"hi\"",
        b"it's \"both\"",
        b"back\\slash",
        b"tab\there\nnewline\rreturn",
        b"\x00\x01\x1f\x7f\x80\xff",
        "caf\u{e9} \u{20ac}".as_bytes(),
        b"\xc3\x28 invalid utf-8",
        b"'",
        b"\"",
        b"''\"",
        &all_bytes,
        &long,
    ];
    for (i, s) in cases.iter().enumerate() {
        w.event(7, 1_000 * i as u64, 99, &[Arg::Str(Some(s))])
            .unwrap();
    }
    w.finish().unwrap()
}

/// `no-header.trace`: records from byte 0; ids are positions in
/// `sample.trace-events` (0 = blk_open), plus one mapping record.
pub fn no_header_trace() -> Vec<u8> {
    let mut out = Vec::new();
    let mut t = 5_000_000;
    encode::event(
        &mut out,
        0,
        t,
        7,
        &[
            ArgValue::Int(0x1000),
            ArgValue::Str(b"a.img"),
            ArgValue::Int(2),
            ArgValue::Str(b"raw"),
        ],
    );
    for pos in [1u64, 2] {
        t += 1_500;
        encode::event(
            &mut out,
            pos,
            t,
            7,
            &[
                ArgValue::Int(0x1000),
                ArgValue::Int(4096 * pos),
                ArgValue::Int(512),
                ArgValue::Int(0),
            ],
        );
    }
    t += 10;
    encode::event(&mut out, 12, t, 7, &[]);
    encode::mapping(&mut out, 100, b"mem_free");
    t += 10;
    encode::event(&mut out, 100, t, 7, &[ArgValue::Int(0xdead_beef)]);
    t += 10;
    encode::dropped(&mut out, t, 7, 3);
    out
}

/// The declarations of `vcpu.trace`: `vcpu` events as QEMU 2.8 to 8.0
/// declared them.
pub fn vcpu_events() -> TraceEvents {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/vcpu.trace-events");
    TraceEvents::parse(path, &std::fs::read(path).expect("vcpu.trace-events")).expect("valid")
}

/// `vcpu.trace`: records of `vcpu` events as QEMU 2.8 to 8.0 wrote them,
/// the vCPU pointer first (two vCPUs, and a null one), then the declared
/// arguments; ten arguments and eleven; a string after the vCPU; an event
/// without the property between them. Checked by the writer against
/// `vcpu.trace-events`, so every record has the implicit argument.
pub fn vcpu_trace() -> Vec<u8> {
    let events = vcpu_events();
    let mut w = writer(&events);
    for (id, name) in [
        (0u64, "vcpu_plug"),
        (1, "vcpu_reset"),
        (2, "vcpu_syscall"),
        (3, "vcpu_syscall_ret"),
        (4, "vcpu_regs"),
        (5, "vcpu_note"),
        (6, "io_submit"),
    ] {
        w.mapping(id, name.as_bytes()).unwrap();
    }
    let cpus = [0x55d0_c8a4_e010u64, 0x55d0_c8a5_f2a0];
    let pid = 31337;
    let mut t = 8_000_000_000u64;
    let mut rng = Rng::new(0x0c_0ffe);
    for (n, &cpu) in cpus.iter().enumerate() {
        t += 1_250;
        w.event(0, t, pid, &[int(cpu)]).unwrap();
        t += 40;
        w.event(1, t, pid, &[int(cpu)]).unwrap();
        t += 3_000 + 7 * n as u64;
        let note: &[u8] = if n == 0 { b"online" } else { b"it's up" };
        w.event(
            5,
            t,
            pid,
            &[int(cpu), Arg::Str(Some(note)), signed(-(n as i64))],
        )
        .unwrap();
    }
    for i in 0..6u64 {
        let cpu = cpus[(i % 2) as usize];
        let num = [64, 63, 0, 1, 231, 9][i as usize];
        let mut call = vec![int(cpu), int(num)];
        call.extend((0..8).map(|_| int(rng.below(1 << 40))));
        t += 900 + rng.below(400);
        w.event(2, t, pid, &call).unwrap();
        t += 25_000 + rng.below(1_000);
        w.event(
            6,
            t,
            pid,
            &[int(0x7f3a_1000 + 64 * i), signed(3), int(4096 * i)],
        )
        .unwrap();
        let ret = if i == 2 { -11 } else { 4096 * i as i64 };
        t += 300;
        w.event(3, t, pid, &[int(cpu), int(num), signed(ret)])
            .unwrap();
    }
    let mut regs = vec![int(cpus[1])];
    regs.extend((0..10u64).map(|r| int(r * 0x1111 + 1)));
    t += 500;
    w.event(4, t, pid, &regs).unwrap();
    // A vCPU pointer of 0 (`%p` prints `(nil)` in the log backend's line).
    t += 500;
    w.event(1, t, pid, &[int(0)]).unwrap();
    w.finish().unwrap()
}

/// The declarations of the `tcg` samples: `tcg` declarations as QEMU's
/// tracetool read them before QEMU 7.0, two events each.
pub fn tcg_events() -> TraceEvents {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/tcg.trace-events");
    TraceEvents::parse(path, &std::fs::read(path).expect("tcg.trace-events")).expect("valid")
}

/// The events of `tcg.trace-events` as QEMU 5.2's tracetool listed them
/// (checked with its `read_events`), by position: what ids mean in a trace
/// without mapping records. Written out here, not taken from the parser
/// under test.
pub const TCG_POSITIONS: &[(u64, &str)] = &[
    (0, "guest_cpu_enter"),
    (1, "guest_mem_before_trans"),
    (2, "guest_mem_before_exec"),
    (3, "tb_enter_trans"),
    (4, "tb_enter_exec"),
    (5, "never_trans"),
    (6, "never_exec"),
    (7, "io_submit"),
    (8, "guest_note"),
];

/// The records of the `tcg` samples: event position (see
/// [`TCG_POSITIONS`]), timestamp, arguments as recorded (the vCPU first,
/// then a `tcg` event's arguments as its half has them).
pub fn tcg_records() -> Vec<(u64, u64, Vec<ArgValue<'static>>)> {
    let cpus = [0x55d0_c8a4_e010u64, 0x55d0_c8a5_f2a0];
    let mut t = 9_000_000_000u64;
    let mut out = Vec::new();
    let mut push = |t: u64, pos: u64, args: Vec<ArgValue<'static>>| out.push((pos, t, args));
    let i = ArgValue::Int;
    for &cpu in &cpus {
        t += 1_500;
        push(t, 0, vec![i(cpu)]);
    }
    // Translation: the vCPU and `info`; `pc_start` and `flags`.
    t += 2_000;
    push(t, 1, vec![i(cpus[0]), i(0x23)]);
    t += 300;
    push(t, 3, vec![i(0x4000_1000), i(-1i64 as u64)]);
    // Execution: every argument, `TCGv` as 64 bits.
    for n in 0..4u64 {
        let cpu = cpus[(n % 2) as usize];
        t += 700 + 13 * n;
        push(t, 2, vec![i(cpu), i(0x7ffc_8000_1000 + 8 * n), i(0x23 + n)]);
        t += 90;
        push(
            t,
            4,
            vec![i(0x4000_1000), i(0x4000_1040 + 4 * n), i(n.wrapping_sub(1))],
        );
    }
    // A null vCPU (`%p` prints `(nil)` in the log backend's line).
    t += 500;
    push(t, 2, vec![i(0), i(0xffff_ffff_ffff_fff8), i(0xb3)]);
    t += 4_000;
    push(t, 7, vec![i(0x7f3a_1000), i(-2i64 as u64), i(4096)]);
    t += 250;
    push(t, 8, vec![ArgValue::Str(b"tcg done"), i(1)]);
    out
}

/// `tcg.trace`: the [`tcg_records`] in version 4, the ids mapped to names
/// at run time (not the positions), checked by the writer against
/// `tcg.trace-events`.
pub fn tcg_trace() -> Vec<u8> {
    let events = tcg_events();
    let mut w = writer(&events);
    let id = |pos: u64| 40 - pos;
    for &(pos, name) in TCG_POSITIONS {
        w.mapping(id(pos), name.as_bytes()).unwrap();
    }
    for (pos, t, args) in tcg_records() {
        let args: Vec<Arg> = args.into_iter().map(Arg::from).collect();
        w.event(id(pos), t, 5150, &args).unwrap();
    }
    w.finish().unwrap()
}

/// `tcg-no-header.trace`: the [`tcg_records`] as headerless version-4
/// records without mappings, so every id is a position (the order of
/// [`TCG_POSITIONS`]), written unchecked.
pub fn tcg_no_header_trace() -> Vec<u8> {
    let mut out = Vec::new();
    for (pos, t, args) in tcg_records() {
        encode::event(&mut out, pos, t, 5150, &args);
    }
    out
}

/// Every committed sample: file name, bytes, and whether it is headerless.
pub fn all() -> Vec<(&'static str, Vec<u8>, bool)> {
    vec![
        ("sample.trace", sample_trace(), false),
        ("edge-deltas.trace", edge_deltas_trace(), false),
        ("strings.trace", strings_trace(), false),
        ("no-header.trace", no_header_trace(), true),
    ]
}

/// The sample trace's records rewritten in `version` and byte `order`,
/// every pid 0 (the field was reserved before version 4); with
/// `v0_only`, only the records version 0 can hold (integers only, at
/// most six, no dropped-events records).
pub fn sample_in_version(version: Version, v0_only: bool, order: ByteOrder) -> Vec<u8> {
    let events = sample_events();
    let sample = sample_trace();
    let options = WriterOptions {
        version,
        order,
        ..WriterOptions::default()
    };
    let mut w = TraceWriter::with_events(Vec::new(), options, &events).unwrap();
    let mut r = TraceReader::new(&sample, &events).unwrap();
    while let Some(item) = r.next_item() {
        let Item::Event(e) = item.unwrap() else {
            continue;
        };
        let ints_only =
            e.decl.args.len() <= 6 && e.decl.args.iter().all(|a| a.kind != ArgKind::String);
        if v0_only && (e.is_dropped() || !ints_only) {
            continue;
        }
        if e.is_dropped() {
            let n = e.arg(0).unwrap().unwrap().as_u64().unwrap();
            w.dropped(e.timestamp_ns, 0, n).unwrap();
            continue;
        }
        let args: Vec<Arg> = e
            .args()
            .zip(&e.decl.args)
            .map(|(v, d)| match (v.unwrap(), d.kind) {
                (v, ArgKind::Int { signed: true, .. }) => Arg::I64(v.as_u64().unwrap() as i64),
                (v, _) => Arg::from(v),
            })
            .collect();
        w.event_by_name(&e.decl.name, e.timestamp_ns, 0, &args)
            .unwrap();
    }
    w.finish().unwrap()
}

/// The sample trace in every format version the decoder reads (0, 2, 3,
/// 4), both byte orders, written into `dir` (version 0 holds only the
/// integer records, no dropped-events records), and a version-0 trace
/// with a string argument, which version 0 stores as its pointer word.
pub fn version_traces(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut paths = Vec::new();
    for (version, v) in [
        (Version::V0, "v0"),
        (Version::V2, "v2"),
        (Version::V3, "v3"),
        (Version::V4, "v4"),
    ] {
        for (order, o) in [(ByteOrder::Little, "le"), (ByteOrder::Big, "be")] {
            let bytes = sample_in_version(version, version == Version::V0, order);
            let path = dir.join(format!("{v}-{o}.trace"));
            std::fs::write(&path, bytes).unwrap();
            paths.push(path);
        }
    }
    // Position 11 in sample.trace-events is guest_message(const char *text).
    let mut w = TraceWriter::new(Vec::new(), WriterOptions::version(Version::V0)).unwrap();
    w.event(11, 5, 0, &[Arg::Ptr(0x7f00_1234)]).unwrap();
    w.event(11, 9, 0, &[Arg::Ptr(u64::MAX)]).unwrap();
    let path = dir.join("v0-strings.trace");
    std::fs::write(&path, w.finish().unwrap()).unwrap();
    paths.push(path);
    paths
}

/// A trace of 200,000 records (about 8 MiB of output: more than a pipe
/// holds) and its events file, in `dir`: for the closed-pipe tests.
pub fn long_tick_trace(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let events = dir.join("te");
    std::fs::write(&events, "tick(uint64_t n, const char *s) \"n %lu s %s\"\n").unwrap();
    let mut t = Vec::new();
    encode::header(&mut t, 4);
    encode::mapping(&mut t, 0, b"tick");
    for i in 0..200_000u64 {
        encode::event(
            &mut t,
            0,
            i * 10,
            1,
            &[ArgValue::Int(i), ArgValue::Str(b"some text")],
        );
    }
    let trace = dir.join("trace");
    std::fs::write(&trace, t).unwrap();
    (events, trace)
}
