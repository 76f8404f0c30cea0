//! The project's own sample traces, built deterministically from
//! `testdata/sample.trace-events`. The committed files in `testdata/` must
//! equal what these functions produce (see `testdata_is_current`); run
//! `SIMPLETRACE_REGENERATE=1 cargo test testdata` to rewrite them, then
//! `scripts/update-goldens.sh` to refresh the goldens from QEMU's script.

use simpletrace::format::{ArgValue, encode};

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

fn int(v: u64) -> ArgValue<'static> {
    ArgValue::Int(v)
}

fn signed(v: i64) -> ArgValue<'static> {
    ArgValue::Int(v as u64)
}

/// `sample.trace`: a block-layer session of a few hundred records with
/// every argument kind, three pids, a dropped-events record, a mapping
/// record in the middle (a module loading) and an id mapped a second time.
pub fn sample_trace() -> Vec<u8> {
    let mut rng = Rng::new(0x5eed);
    let mut t: u64 = 1_731_000_000_000;
    let mut out = Vec::new();
    encode::header(&mut out, 4);
    for &(id, name) in MAPPED {
        encode::mapping(&mut out, id, name.as_bytes());
    }
    let blk = 0x5643_596b_66b0u64;
    let mutex = 0x5643_5968_1a40u64;
    let mut live: Vec<u64> = Vec::new();
    encode::event(
        &mut out,
        1,
        t,
        PIDS[0],
        &[
            int(blk),
            ArgValue::Str(b"img/disk.qcow2"),
            int(0x8002),
            ArgValue::Str(b"qcow2"),
        ],
    );
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
                encode::event(
                    &mut out,
                    id,
                    ts,
                    pid,
                    &[int(blk), int(offset), int(bytes), int(0)],
                );
            }
            2 => {
                let ret: i64 = if rng.below(6) == 0 { -5 } else { 0 };
                let offset: i64 = if rng.below(20) == 0 {
                    -1
                } else {
                    (rng.below(1 << 20) * 512) as i64
                };
                encode::event(
                    &mut out,
                    4,
                    ts,
                    pid,
                    &[int(blk), signed(offset), signed(ret)],
                );
            }
            3 => {
                let ptr = 0x7f21_6000_0000 + rng.below(1 << 24) * 16;
                live.push(ptr);
                encode::event(&mut out, 5, ts, pid, &[int(64 << rng.below(12)), int(ptr)]);
            }
            4 => {
                let ptr = if live.is_empty() || rng.below(8) == 0 {
                    0
                } else {
                    let i = rng.below(live.len() as u64) as usize;
                    live.swap_remove(i)
                };
                encode::event(&mut out, 6, ts, pid, &[int(ptr)]);
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
                encode::event(
                    &mut out,
                    id,
                    ts,
                    pid,
                    &[
                        int(mutex + 64 * rng.below(3)),
                        ArgValue::Str(file),
                        int(line),
                    ],
                );
            }
            7 => {
                let old = rng.below(10) as i64 - 5;
                encode::event(
                    &mut out,
                    9,
                    ts,
                    pid,
                    &[signed(old), int(rng.below(256)), int(rng.below(2))],
                );
            }
            _ => {
                let step = rng.below(2_000_000) as i64 - 1_000_000;
                encode::event(&mut out, 10, ts, pid, &[signed(step), int(t)]);
            }
        }
        if i == 120 {
            t += 1_000;
            encode::dropped(&mut out, t, PIDS[0], 0x4330b);
        }
        if i == 150 {
            // A module loads: a new id, and an old id pointed elsewhere.
            encode::mapping(&mut out, 12, b"guest_message");
            encode::mapping(&mut out, 0, b"small_ints");
            encode::mapping(&mut out, 40, b"vm_stop");
        }
        if i > 150 && i % 37 == 0 {
            let msgs: [&[u8]; 4] = [
                b"boot complete",
                b"",
                b"disk 'root' ready",
                b"caf\xc3\xa9 \xff",
            ];
            encode::event(
                &mut out,
                12,
                t,
                pid,
                &[ArgValue::Str(msgs[(i / 37 % 4) as usize])],
            );
            encode::event(
                &mut out,
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
            );
        }
    }
    encode::event(&mut out, 40, t + 10, PIDS[0], &[]);
    out
}

/// `edge-deltas.trace`: timestamps that jump across the whole u64 range,
/// so deltas need more than 53 bits, go negative, and hit both extremes.
pub fn edge_deltas_trace() -> Vec<u8> {
    let mut rng = Rng::new(0xde17a);
    let mut out = Vec::new();
    encode::header(&mut out, 4);
    encode::mapping(&mut out, 0, b"vm_stop");
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
        encode::event(&mut out, 0, ts, 1, &[]);
    }
    out
}

/// `strings.trace`: string arguments that exercise every escape rule of
/// Python's bytes repr, and the 512-byte cut QEMU applies.
pub fn strings_trace() -> Vec<u8> {
    let mut out = Vec::new();
    encode::header(&mut out, 4);
    encode::mapping(&mut out, 7, b"guest_message");
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
        encode::event(&mut out, 7, 1_000 * i as u64, 99, &[ArgValue::Str(s)]);
    }
    out
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
            int(0x1000),
            ArgValue::Str(b"a.img"),
            int(2),
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
            &[int(0x1000), int(4096 * pos), int(512), int(0)],
        );
    }
    t += 10;
    encode::event(&mut out, 12, t, 7, &[]);
    encode::mapping(&mut out, 100, b"mem_free");
    t += 10;
    encode::event(&mut out, 100, t, 7, &[int(0xdead_beef)]);
    t += 10;
    encode::dropped(&mut out, t, 7, 3);
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
