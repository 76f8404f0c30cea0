//! Plugins, both kinds: the C and Rust example libraries loaded at run time
//! through the C ABI (built here with `cc` and `cargo`), broken plugins
//! refused with clear errors, and the compiled-in example
//! (`examples/custom_analyzer.rs`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;
use simpletrace::format::TraceReader;

use crate::support;
use crate::support::compress::compressors;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn plugin_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("plugins");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Compiles a C source into a shared library with `cc`.
fn build_c(source: &Path, name: &str, defines: &[&str]) -> PathBuf {
    let out = plugin_dir().join(format!("lib{name}.so"));
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let status = Command::new(&cc)
        .args(["-shared", "-fPIC", "-O2", "-Wall", "-Werror", "-I"])
        .arg(root().join("include"))
        .args(defines)
        .arg("-o")
        .arg(&out)
        .arg(source)
        .status()
        .unwrap_or_else(|e| {
            panic!("running {cc} (a C compiler is needed to build the C plugin): {e}")
        });
    assert!(status.success(), "{cc} failed on {}", source.display());
    out
}

fn c_plugin() -> &'static Path {
    static LIB: OnceLock<PathBuf> = OnceLock::new();
    LIB.get_or_init(|| {
        build_c(
            &root().join("plugins/c-event-counts/event_counts.c"),
            "event_counts",
            &[],
        )
    })
}

/// Builds the Rust example plugin (a separate package) with cargo.
fn rust_plugin() -> &'static Path {
    static LIB: OnceLock<PathBuf> = OnceLock::new();
    LIB.get_or_init(|| {
        let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("plugin-target");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "--quiet", "--offline", "--manifest-path"])
            .arg(root().join("plugins/rust-io-sizes/Cargo.toml"))
            .arg("--target-dir")
            .arg(&target)
            .status()
            .expect("running cargo");
        assert!(status.success(), "building plugins/rust-io-sizes failed");
        target.join("debug/libsimpletrace_io_sizes.so")
    })
}

fn sample() -> [PathBuf; 2] {
    [
        support::testdata("sample.trace-events"),
        support::testdata("sample.trace"),
    ]
}

fn run_ok(args: &[&std::ffi::OsStr]) -> String {
    let out = support::run(args);
    assert!(out.status.success(), "{args:?}: {}", support::stderr(&out));
    String::from_utf8(out.stdout).unwrap()
}

/// Records per event name, counted with the library.
fn counts(events: &Path, trace: &Path) -> BTreeMap<String, u64> {
    let ev = simpletrace::input::read_trace_events(events).unwrap();
    let data = std::fs::read(trace).unwrap();
    let mut c = BTreeMap::new();
    for r in TraceReader::new(&data, &ev).unwrap() {
        *c.entry(r.unwrap().name().to_owned()).or_insert(0) += 1;
    }
    c
}

#[test]
fn c_plugin_counts_events() {
    let [events, trace] = sample();
    let lib = c_plugin();
    let text = run_ok(&[
        "run".as_ref(),
        "--plugin".as_ref(),
        lib.as_os_str(),
        events.as_os_str(),
        trace.as_os_str(),
    ]);
    let want = counts(&events, &trace);
    let total: u64 = want.values().sum();
    assert!(
        text.starts_with(&format!("{} events, {total} records\n", want.len())),
        "{text}"
    );
    for (event, n) in &want {
        assert!(
            text.lines().any(|l| l.ends_with(&format!(" {event}"))
                && l.trim_start().starts_with(&format!("{n} "))),
            "{event} {n} not in:\n{text}"
        );
    }
    let json = run_ok(&[
        "run".as_ref(),
        "--plugin".as_ref(),
        lib.as_os_str(),
        "--json".as_ref(),
        events.as_os_str(),
        trace.as_os_str(),
    ]);
    let v: Value = serde_json::from_str(&json).unwrap();
    // `run --json` keys the reports by analyzer name, even a single one.
    let v = &v["event-counts"];
    assert_eq!(v["records"], total);
    let got: BTreeMap<String, u64> = v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["event"].as_str().unwrap().to_owned(),
                e["records"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, want);
}

#[test]
fn rust_plugin_histograms_bytes() {
    let [events, trace] = sample();
    let lib = rust_plugin();
    let json = run_ok(&[
        "run".as_ref(),
        "--plugin".as_ref(),
        lib.as_os_str(),
        "--json".as_ref(),
        events.as_os_str(),
        trace.as_os_str(),
    ]);
    let v: Value = serde_json::from_str(&json).unwrap();
    let v = &v["io-sizes"];
    // Expected from the library: every integer `bytes` argument per event.
    let ev = simpletrace::input::read_trace_events(&events).unwrap();
    let data = std::fs::read(&trace).unwrap();
    let mut want: BTreeMap<String, (u64, u128)> = BTreeMap::new();
    for r in TraceReader::new(&data, &ev).unwrap() {
        let r = r.unwrap();
        if let Some(Ok(simpletrace::format::ArgValue::Int(b))) = r.arg_by_name("bytes") {
            let e = want.entry(r.name().to_owned()).or_default();
            e.0 += 1;
            e.1 += u128::from(b);
        }
    }
    assert!(!want.is_empty());
    for (event, (n, sum)) in &want {
        assert_eq!(v[event]["count"], *n, "{event}");
        assert_eq!(
            v[event]["sum"].as_u64().map(u128::from),
            Some(*sum),
            "{event}"
        );
        let buckets: u64 = v[event]["buckets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["count"].as_u64().unwrap())
            .sum();
        assert_eq!(buckets, *n);
    }
    assert_eq!(v.as_object().unwrap().len(), want.len());
}

/// Two analyzers in one pass give what each gives alone, on one thread and
/// on several, on the project's sample and on the QEMU corpus.
#[test]
fn one_pass_equals_separate_runs() {
    let mut inputs = vec![sample()];
    if let Some(dir) = support::corpus() {
        inputs.push([dir.join("trace-events-all"), dir.join("medium-rand.bin")]);
    }
    let c = c_plugin();
    let rust = rust_plugin();
    for [events, trace] in inputs {
        let alone = |plugin: &Path, threads: &str| -> Value {
            let json = run_ok(&[
                "run".as_ref(),
                "--plugin".as_ref(),
                plugin.as_os_str(),
                "--json".as_ref(),
                "-j".as_ref(),
                threads.as_ref(),
                events.as_os_str(),
                trace.as_os_str(),
            ]);
            serde_json::from_str(&json).unwrap()
        };
        let locks_alone: Value = serde_json::from_str(&run_ok(&[
            "locks".as_ref(),
            "--json".as_ref(),
            events.as_os_str(),
            trace.as_os_str(),
        ]))
        .unwrap();
        for threads in ["1", "2", "3"] {
            let together: Value = serde_json::from_str(&run_ok(&[
                "run".as_ref(),
                "--plugin".as_ref(),
                c.as_os_str(),
                "--plugin".as_ref(),
                "locks".as_ref(),
                "--plugin".as_ref(),
                rust.as_os_str(),
                "--json".as_ref(),
                "-j".as_ref(),
                threads.as_ref(),
                "--chunk-size".as_ref(),
                "65536".as_ref(),
                events.as_os_str(),
                trace.as_os_str(),
            ]))
            .unwrap();
            assert_eq!(
                together["event-counts"],
                alone(c, threads)["event-counts"],
                "{threads} threads"
            );
            assert_eq!(
                together["io-sizes"],
                alone(rust, threads)["io-sizes"],
                "{threads} threads"
            );
            assert_eq!(together["locks"], locks_alone, "{threads} threads");
        }
    }
}

#[test]
fn broken_plugins_are_refused_clearly() {
    let [events, trace] = sample();
    let fixtures = root().join("tests/fixtures");
    let cases: Vec<(PathBuf, &str)> = vec![
        (
            build_c(&fixtures.join("plugin_no_symbol.c"), "no_symbol", &[]),
            "not a simpletrace plugin: it exports no simpletrace_plugin_v1 function",
        ),
        (
            build_c(&fixtures.join("plugin_bad_abi.c"), "bad_abi", &[]),
            "built for plugin ABI 2.7, this simpletrace speaks 1.0",
        ),
        (
            build_c(
                &fixtures.join("plugin_null_callback.c"),
                "null_callback",
                &[],
            ),
            "invalid plugin: the records callback is NULL",
        ),
        (
            plugin_dir().join("libdoes_not_exist.so"),
            "cannot load the plugin: cannot open shared object file: No such file or directory",
        ),
        // The dynamic loader's own words, for each way a library fails.
        (
            build_c(
                &fixtures.join("plugin_undefined_symbol.c"),
                "undefined_symbol",
                &[],
            ),
            "cannot load the plugin: undefined symbol: simpletrace_test_no_such_function",
        ),
        (
            fixtures.join("plugin_no_symbol.c"),
            "cannot load the plugin: invalid ELF header",
        ),
        (
            fixtures.clone(),
            "cannot load the plugin: cannot read file data: Is a directory",
        ),
    ];
    for (lib, needle) in cases {
        let out = support::run([
            "run".as_ref(),
            "--plugin".as_ref(),
            lib.as_os_str(),
            events.as_os_str(),
            trace.as_os_str(),
        ]);
        let err = support::stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{}: {err}", lib.display());
        assert!(
            err.contains(&lib.display().to_string()) && err.contains(needle),
            "{err}"
        );
        assert!(out.stdout.is_empty());
    }
    let out = support::run(["run", "--plugin", "nonesuch", "te", "t"]);
    assert_eq!(out.status.code(), Some(2));
    let err = support::stderr(&out);
    let names: Vec<String> = simpletrace::analyzers::registry()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert!(
        err.contains(&format!(
            "no analyzer called 'nonesuch' (built in: {};",
            names.join(", ")
        )),
        "{err}"
    );
    assert!(
        names.iter().any(|n| n == "locks")
            && names.iter().any(|n| n == "stats")
            && names.iter().any(|n| n == "alloc")
    );
}

#[test]
fn plugin_errors_and_early_stops() {
    let [events, trace] = sample();
    let fixtures = root().join("tests/fixtures");
    let failing = build_c(&fixtures.join("plugin_failing.c"), "failing", &[]);
    let out = support::run([
        "run".as_ref(),
        "--plugin".as_ref(),
        failing.as_os_str(),
        events.as_os_str(),
        trace.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        support::stderr(&out)
            .contains("analyzer 'failing': records failed: the 100th record was one too many"),
        "{}",
        support::stderr(&out)
    );
    // A plugin that stops early ends the run for everyone, cleanly.
    let stopping = build_c(
        &fixtures.join("plugin_failing.c"),
        "stopping",
        &["-DSTOP_AFTER=1"],
    );
    let text = run_ok(&[
        "run".as_ref(),
        "--plugin".as_ref(),
        stopping.as_os_str(),
        "--plugin".as_ref(),
        "print".as_ref(),
        events.as_os_str(),
        trace.as_os_str(),
    ]);
    let printed = text.lines().filter(|l| l.contains(" pid=")).count();
    let total: u64 = counts(&events, &trace).values().sum();
    assert!(
        printed > 0 && (printed as u64) < total,
        "printed {printed} of {total}"
    );
    // Only the plugin has a report; print streams.
    assert!(text.ends_with("\nseen 256\n"), "{text}");
}

/// The compiled-in example: `cargo test` builds examples next to the
/// binary under test.
#[test]
fn custom_analyzer_example() {
    let bin = Path::new(env!("CARGO_BIN_EXE_simpletrace"))
        .parent()
        .unwrap()
        .join("examples/custom_analyzer");
    assert!(
        bin.exists(),
        "{} is missing: run the whole test suite with `cargo test`, which builds the examples",
        bin.display()
    );
    let [events, trace] = sample();
    let out = Command::new(&bin)
        .args(["rate", "--json"])
        .arg(&events)
        .arg(&trace)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let ev = simpletrace::input::read_trace_events(&events).unwrap();
    let data = std::fs::read(&trace).unwrap();
    let mut per_pid: BTreeMap<u64, u64> = BTreeMap::new();
    for r in TraceReader::new(&data, &ev).unwrap() {
        *per_pid.entry(u64::from(r.unwrap().pid)).or_default() += 1;
    }
    let got: BTreeMap<u64, u64> = v["pids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["pid"].as_u64().unwrap(), p["records"].as_u64().unwrap()))
        .collect();
    assert_eq!(got, per_pid);
    // Parallel and sequential give the same, and the built-ins are still
    // there alongside.
    let par = Command::new(&bin)
        .args(["rate", "--json", "-j", "3", "--chunk-size", "4096"])
        .arg(&events)
        .arg(&trace)
        .output()
        .unwrap();
    assert_eq!(serde_json::from_slice::<Value>(&par.stdout).unwrap(), v);
    let help = Command::new(&bin).arg("--help").output().unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    assert!(
        help.contains("rate") && help.contains("locks") && help.contains("print"),
        "{help}"
    );
}

/// The string-digest test plugin, under its own name or another.
fn digest_plugin(name: &str) -> PathBuf {
    let define = format!("-DPLUGIN_NAME=\"{name}\"");
    build_c(
        &root().join("tests/fixtures/plugin_string_digest.c"),
        &format!("digest_{name}").replace('-', "_"),
        &[&define],
    )
}

/// What the string-digest plugin reports for `trace`, computed here with
/// the library from the same bytes.
fn string_digest(events: &simpletrace::format::TraceEvents, trace: &[u8]) -> String {
    fn mix(h: &mut u64, bytes: &[u8]) {
        for &b in bytes {
            *h = (*h ^ u64::from(b)).wrapping_mul(1_099_511_628_211);
        }
    }
    let mut digest = 1_469_598_103_934_665_603u64;
    let (mut records, mut strings, mut bytes) = (0u64, 0u64, 0u64);
    for r in TraceReader::new(trace, events).unwrap() {
        let r = r.unwrap();
        mix(&mut digest, r.name().as_bytes());
        mix(&mut digest, &r.at.offset.0.to_le_bytes());
        for (value, decl) in r.args().zip(&r.decl.args) {
            if let simpletrace::format::ArgValue::Str(s) = value.unwrap() {
                mix(&mut digest, decl.name.as_bytes());
                mix(&mut digest, &(s.len() as u64).to_le_bytes());
                mix(&mut digest, s);
                strings += 1;
                bytes += s.len() as u64;
            }
        }
        records += 1;
    }
    format!("records {records} strings {strings} bytes {bytes} digest {digest:016x}\n")
}

/// A trace of string records of every length, some far longer than a
/// stream block (the block grows for them) and longer than a batch's
/// string budget.
fn stringy_trace() -> (String, Vec<u8>) {
    use simpletrace::format::{ArgValue, encode};
    let events = "tick(uint64_t n) \"n %lu\"\n\
                  say(const char *who, int n, const char *what) \"%s %d %s\"\n";
    let mut t = Vec::new();
    encode::header(&mut t, 4);
    encode::mapping(&mut t, 7, b"tick");
    encode::mapping(&mut t, 3, b"say");
    let text = |seed: u64, len: usize| -> Vec<u8> {
        (0..len)
            .map(|i| (seed.wrapping_mul(31).wrapping_add(i as u64 * 7) % 251) as u8)
            .collect()
    };
    for i in 0..3000u64 {
        if i % 3 == 0 {
            encode::event(&mut t, 7, i * 100, 1, &[ArgValue::Int(i)]);
            continue;
        }
        let len = match i {
            500 => 20_000,
            1500 => 300_000,
            2000..=2010 => 200_000,
            _ => (i as usize * 37) % 700,
        };
        let who = text(i, len);
        let what = text(i + 1, (i as usize * 11) % 90);
        let args = [ArgValue::Str(&who), ArgValue::Int(i), ArgValue::Str(&what)];
        encode::event(&mut t, 3, i * 100, (i % 5) as u32, &args);
    }
    (events.to_owned(), t)
}

/// Issue 13: a plugin reading string arguments gets the same bytes from a
/// mapped file, standard input (mapped and piped), and every compressed
/// form, on one thread and two, with and without --resync, with stream
/// blocks far smaller than some records. Before, the pointers of a batch
/// pointed into a stream buffer that had since been shifted or grown.
#[test]
fn plugins_see_the_same_bytes_from_every_input() {
    let dir = support::scratch("plugin_string_bytes");
    let (events_text, trace) = stringy_trace();
    let events = dir.join("events");
    std::fs::write(&events, &events_text).unwrap();
    let parsed = simpletrace::format::TraceEvents::parse("events", events_text.as_bytes()).unwrap();
    let want = string_digest(&parsed, &trace);
    let path = dir.join("trace");
    std::fs::write(&path, &trace).unwrap();
    let mut inputs = vec![("file".to_owned(), path.clone())];
    for (name, ext, compress) in compressors() {
        let p = dir.join(format!("trace.{ext}"));
        std::fs::write(&p, compress(&trace)).unwrap();
        inputs.push((name.to_owned(), p));
    }
    let lib = digest_plugin("string-digest");
    for threads in ["1", "2"] {
        for resync in [false, true] {
            let args = |trace: &Path| -> Vec<std::ffi::OsString> {
                let mut a: Vec<std::ffi::OsString> = vec![
                    "run".into(),
                    "--plugin".into(),
                    lib.clone().into(),
                    "-j".into(),
                    threads.into(),
                    "--chunk-size".into(),
                    "4096".into(),
                ];
                if resync {
                    a.push("--resync".into());
                }
                a.push(events.clone().into());
                a.push(trace.into());
                a
            };
            let what = format!("-j{threads}, resync {resync}");
            for (name, input) in &inputs {
                let out = support::run(args(input));
                assert!(
                    out.status.success(),
                    "{name}, {what}: {}",
                    support::stderr(&out)
                );
                assert_eq!(String::from_utf8_lossy(&out.stdout), want, "{name}, {what}");
            }
            let piped = support::run_with_stdin(args(Path::new("-")), &trace);
            assert!(piped.status.success(), "{}", support::stderr(&piped));
            assert_eq!(String::from_utf8_lossy(&piped.stdout), want, "pipe, {what}");
            let redirected = support::bin()
                .args(args(Path::new("-")))
                .stdin(std::fs::File::open(&path).unwrap())
                .output()
                .unwrap();
            assert_eq!(
                String::from_utf8_lossy(&redirected.stdout),
                want,
                "redirected, {what}"
            );
        }
    }
}

/// Issue 13: two analyzers of one name both report (the later one under
/// `NAME#2`, with a warning); the same analyzer twice is a usage error.
#[test]
fn analyzers_of_one_name_never_hide_a_report() {
    let [events, trace] = sample();
    let namesake = digest_plugin("stats");
    let out = support::run([
        "run".as_ref(),
        "--plugin".as_ref(),
        "stats".as_ref(),
        "--plugin".as_ref(),
        namesake.as_os_str(),
        "--json".as_ref(),
        events.as_os_str(),
        trace.as_os_str(),
    ]);
    assert!(out.status.success(), "{}", support::stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["stats"]["event_records_read"].is_u64(), "{v}");
    assert!(v["stats#2"]["digest"].is_string(), "{v}");
    assert!(
        support::stderr(&out).contains(
            "warning: two analyzers are called 'stats': the report of the one given later is 'stats#2'"
        ),
        "{}",
        support::stderr(&out)
    );
    // The same analyzer twice: by name, by path, through a hard link.
    let link = plugin_dir().join("libdigest_link.so");
    let _ = std::fs::remove_file(&link);
    std::fs::hard_link(&namesake, &link).unwrap();
    let dotted = namesake
        .parent()
        .unwrap()
        .join(".")
        .join(namesake.file_name().unwrap());
    for (first, second) in [
        ("stats".into(), "stats".into()),
        (namesake.clone(), dotted),
        (namesake.clone(), link),
    ] {
        let first: PathBuf = first;
        let second: PathBuf = second;
        let out = support::run([
            "run".as_ref(),
            "--plugin".as_ref(),
            first.as_os_str(),
            "--plugin".as_ref(),
            second.as_os_str(),
            events.as_os_str(),
            trace.as_os_str(),
        ]);
        assert_eq!(out.status.code(), Some(2), "{}", support::stderr(&out));
        assert!(
            support::stderr(&out).contains(&format!(
                "--plugin {}: the same analyzer as --plugin {}; each analyzer runs once in a pass",
                second.display(),
                first.display()
            )),
            "{}",
            support::stderr(&out)
        );
        assert!(out.stdout.is_empty());
    }
}

/// A C plugin that lists every record's arguments by name, as it receives
/// them (`name=0x...`, strings as their bytes).
const ARGS_PLUGIN: &str = r#"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "simpletrace_plugin.h"

struct text { char *buf; size_t len, cap; };

static void put(struct text *t, const void *p, size_t n) {
    if (t->len + n + 1 > t->cap) {
        t->cap = (t->len + n + 1) * 2;
        t->buf = realloc(t->buf, t->cap);
    }
    memcpy(t->buf + t->len, p, n);
    t->len += n;
    t->buf[t->len] = 0;
}

static void *create(const st_trace_info *info) { (void)info; return calloc(1, sizeof(struct text)); }

static st_status records(void *state, const st_record *recs, size_t count) {
    struct text *t = state;
    char num[32];
    for (size_t i = 0; i < count; i++) {
        put(t, recs[i].name, recs[i].name_len);
        for (uint32_t a = 0; a < recs[i].nargs; a++) {
            const st_arg *arg = &recs[i].args[a];
            put(t, " ", 1);
            put(t, arg->name, arg->name_len);
            if (arg->kind == ST_ARG_STRING) {
                put(t, "=", 1);
                put(t, arg->bytes, arg->len);
            } else {
                int n = snprintf(num, sizeof num, "=0x%llx", (unsigned long long)arg->value);
                put(t, num, (size_t)n);
            }
        }
        put(t, "\n", 1);
    }
    return ST_OK;
}

static st_status finish(void *state, st_output *out) {
    struct text *t = state;
    out->text = t->buf;
    out->text_len = t->len;
    return ST_OK;
}

static const char *last_error(void *state) { (void)state; return NULL; }
static void destroy(void *state) { struct text *t = state; free(t->buf); free(t); }

static const st_plugin plugin = {
    SIMPLETRACE_PLUGIN_ABI_MAJOR, SIMPLETRACE_PLUGIN_ABI_MINOR, "args",
    "every record's arguments by name", NULL, create, records, finish, last_error, destroy,
};

const st_plugin *simpletrace_plugin_v1(void) { return &plugin; }
"#;

/// A plugin sees a `vcpu` event's implicit first argument (QEMU 2.8 to 8.0)
/// like any declared one: `__cpu` first, then the declared arguments, the
/// same names and values `print` shows.
#[test]
fn plugins_see_the_implicit_vcpu_argument() {
    let source = plugin_dir().join("args.c");
    std::fs::write(&source, ARGS_PLUGIN).unwrap();
    let lib = build_c(&source, "args", &[]);
    let events = support::testdata("vcpu.trace-events");
    let trace = support::testdata("vcpu.trace");
    let text = run_ok(&[
        "run".as_ref(),
        "--plugin".as_ref(),
        lib.as_os_str(),
        events.as_os_str(),
        trace.as_os_str(),
    ]);
    let printed = run_ok(&[events.as_os_str(), trace.as_os_str()]);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), printed.lines().count(), "{text}");
    assert_eq!(lines[0], "vcpu_plug __cpu=0x55d0c8a4e010");
    assert_eq!(
        lines[2],
        "vcpu_note __cpu=0x55d0c8a4e010 what=online level=0x0"
    );
    assert_eq!(lines[7], "io_submit req=0x7f3a1000 fd=0x3 len=0x0");
    // Every argument `print` shows, by the same name and value (strings
    // aside, which `print` shows as Python bytes literals).
    for (got, want) in lines.iter().zip(printed.lines()) {
        let want: Vec<&str> = want.split(' ').filter(|f| f.contains("=0x")).collect();
        let got: Vec<&str> = got.split(' ').filter(|f| f.contains("=0x")).collect();
        assert_eq!(got, want);
    }
}
