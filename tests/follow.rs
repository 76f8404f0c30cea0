//! `--follow` (issue 18): a thread writes a trace slowly, in bursts that
//! split records, while the binary follows it; what it prints equals a run
//! on the finished file, nothing lost or repeated, through restarts.

use std::ffi::{OsStr, OsString};
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::support::{self, samples};

/// How long a follow waits without growth before it ends, in the tests:
/// far longer than the pauses between bursts.
const IDLE: &str = "400ms";

fn events() -> PathBuf {
    support::testdata("sample.trace-events")
}

/// Appends `bytes` to `path` in bursts of 1 to 700 bytes (cutting records
/// anywhere), a few milliseconds apart.
fn write_slowly(path: &Path, bytes: &[u8], seed: u64) {
    let mut rng = samples::Rng::new(seed);
    let mut file = OpenOptions::new().append(true).open(path).unwrap();
    let mut at = 0;
    while at < bytes.len() {
        let n = (1 + rng.below(700) as usize).min(bytes.len() - at);
        file.write_all(&bytes[at..at + n]).unwrap();
        at += n;
        thread::sleep(Duration::from_millis(1 + rng.below(4)));
    }
}

/// A command line of strings and paths.
fn argv(parts: &[&dyn AsRef<OsStr>]) -> Vec<OsString> {
    parts.iter().map(|p| p.as_ref().to_owned()).collect()
}

/// Starts the binary on `args` (the followed file among them), output
/// piped.
fn spawn(args: &[OsString]) -> Child {
    support::bin()
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running simpletrace")
}

/// Follows an empty file at `live` with `args` (before the trace-events
/// and trace paths) while `write` fills it; the binary's output.
fn follow_while(args: &[&str], live: &Path, write: impl FnOnce() + Send + 'static) -> Output {
    std::fs::write(live, b"").unwrap();
    let mut all = argv(&[]);
    all.extend(args.iter().map(OsString::from));
    all.extend(argv(&[&"-f", &"--idle", &IDLE, &events(), &live]));
    let child = spawn(&all);
    let writer = thread::spawn(write);
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

/// What `args` print for the finished trace `path`.
fn normal_run(args: &[&str], path: &Path) -> Vec<u8> {
    let mut all: Vec<OsString> = args.iter().map(OsString::from).collect();
    all.extend(argv(&[&events(), &path]));
    let out = support::run(&all);
    assert!(out.status.success(), "{all:?}: {}", support::stderr(&out));
    out.stdout
}

/// For each command, the followed output of the sample trace written
/// slowly equals the output of a run on the finished file.
fn check_follow_equals_normal_run(test: &str, commands: &[&[&str]]) {
    let dir = support::scratch(test);
    let trace = samples::sample_trace();
    let done = dir.join("done.trace");
    std::fs::write(&done, &trace).unwrap();
    for (i, args) in commands.iter().enumerate() {
        let live = dir.join(format!("live-{i}"));
        let path = live.clone();
        let bytes = trace.clone();
        let out = follow_while(args, &live, move || {
            write_slowly(&path, &bytes, 7 + i as u64)
        });
        assert!(out.status.success(), "{args:?}: {}", support::stderr(&out));
        let mut all: Vec<OsString> = args.iter().map(OsString::from).collect();
        all.extend(argv(&[&events(), &done]));
        let want = support::run(&all);
        assert!(!want.stdout.is_empty());
        // The same report (filter's) and nothing else.
        assert_eq!(support::stderr(&out), support::stderr(&want), "{args:?}");
        support::assert_same_output(&format!("{args:?} --follow"), &out.stdout, &want.stdout);
    }
}

#[test]
fn followed_print_equals_a_run_on_the_finished_file() {
    check_follow_equals_normal_run(
        "follow_print",
        &[&["print"], &["print", "--format", "log", "--timestamps"]],
    );
}

#[test]
fn followed_json_equals_a_run_on_the_finished_file() {
    check_follow_equals_normal_run("follow_json", &[&["json"], &["json", "--format", "chrome"]]);
}

#[test]
fn followed_filter_writes_the_same_trace() {
    check_follow_equals_normal_run(
        "follow_filter",
        &[&["filter", "-o", "-", "--events", "-qemu_mutex_*"]],
    );
}

/// The lines are written as the records come, not at the end: the first
/// burst's records are on standard output while the follow goes on.
#[test]
fn records_come_out_as_they_are_written() {
    use std::io::Read;
    let dir = support::scratch("follow_live");
    let live = dir.join("live");
    let trace = samples::sample_trace();
    // The header, the mappings and a few records.
    let first = &trace[..2000];
    std::fs::write(&live, first).unwrap();
    let mut child = spawn(&argv(&[&"-f", &"--idle", &"3s", &events(), &live]));
    let mut stdout = child.stdout.take().unwrap();
    let mut line = [0u8; 64];
    let started = Instant::now();
    let n = stdout.read(&mut line).unwrap();
    assert!(n > 0);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the first line came after {:?}",
        started.elapsed()
    );
    support::kill(&child, libc::SIGINT);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", support::stderr(&out));
}

/// A trace truncated and rewritten mid-way (a restarted QEMU), then
/// replaced by a new file (a new inode at the path): each restart is
/// noted, and the output is what the runs on the three traces print, one
/// after the other; a record cut by the truncation is not reported.
#[test]
fn truncation_and_replacement_restart_from_the_new_header() {
    let dir = support::scratch("follow_restart");
    let live = dir.join("live");
    let first = samples::sample_trace();
    let second = samples::strings_trace();
    let third = samples::edge_deltas_trace();
    // Cut inside a record.
    let cut = first.len() / 2 + 3;
    let part = dir.join("part.trace");
    std::fs::write(&part, &first[..cut]).unwrap();
    for (name, bytes) in [("second", &second), ("third", &third)] {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    let path = live.clone();
    let (a, b, c) = (first.clone(), second.clone(), third.clone());
    let out = follow_while(&["print"], &live, move || {
        write_slowly(&path, &a[..cut], 1);
        thread::sleep(Duration::from_millis(150));
        // QEMU opens its trace file with O_TRUNC.
        OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&path)
            .unwrap();
        thread::sleep(Duration::from_millis(150));
        write_slowly(&path, &b, 2);
        thread::sleep(Duration::from_millis(150));
        let new = path.with_extension("new");
        std::fs::write(&new, b"").unwrap();
        std::fs::rename(&new, &path).unwrap();
        write_slowly(&path, &c, 3);
    });
    assert!(out.status.success(), "{}", support::stderr(&out));
    let live_name = live.display();
    assert_eq!(
        support::stderr(&out),
        format!(
            "simpletrace: {live_name}: the file was truncated (a new trace?): following it again \
             from its header\n\
             simpletrace: {live_name}: the file was replaced by a new one: following the new file \
             from its header\n"
        )
    );
    let part_run = support::run(argv(&[&events(), &part]));
    let mut want = part_run.stdout;
    want.extend(normal_run(&[], &dir.join("second")));
    want.extend(normal_run(&[], &dir.join("third")));
    support::assert_same_output("print --follow across restarts", &out.stdout, &want);
}

/// A truncation and a rewrite longer than what had been read, both
/// between two looks: told by the first bytes, which differ.
#[test]
fn a_rewrite_past_the_point_reached_is_a_restart_too() {
    let dir = support::scratch("follow_rewrite");
    let live = dir.join("live");
    let first = samples::strings_trace();
    let second = samples::sample_trace();
    assert!(second.len() > first.len());
    std::fs::write(dir.join("first"), &first).unwrap();
    std::fs::write(dir.join("second"), &second).unwrap();
    let path = live.clone();
    let out = follow_while(&["json"], &live, move || {
        std::fs::write(&path, &first).unwrap();
        thread::sleep(Duration::from_millis(200));
        // Written in one go to a temporary file, then copied over in one
        // write: truncated and longer again at once.
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, &second).unwrap();
        std::fs::copy(&tmp, &path).unwrap();
    });
    assert!(out.status.success(), "{}", support::stderr(&out));
    assert!(
        support::stderr(&out).contains("the file was truncated"),
        "{}",
        support::stderr(&out)
    );
    let mut want = normal_run(&["json"], &dir.join("first"));
    want.extend(normal_run(&["json"], &dir.join("second")));
    support::assert_same_output("json --follow over a rewrite", &out.stdout, &want);
}

/// `--from-end` starts after the records written so far, `-n N` at the
/// last N of them; the records appended after are all read.
#[test]
fn from_end_and_last_n() {
    let dir = support::scratch("follow_from_end");
    let first = samples::sample_trace();
    let second = samples::strings_trace();
    // The second trace's records (its header off) appended to the first.
    let appended = second[24..].to_vec();
    let mut whole = first.clone();
    whole.extend_from_slice(&appended);
    std::fs::write(dir.join("whole"), &whole).unwrap();
    let all_lines = normal_run(&["json"], &dir.join("whole"));
    let all_lines: Vec<&[u8]> = all_lines.split_inclusive(|&b| b == b'\n').collect();
    let first_records = normal_run(&["json"], &{
        let p = dir.join("first");
        std::fs::write(&p, &first).unwrap();
        p
    })
    .split(|&b| b == b'\n')
    .filter(|l| !l.is_empty())
    .count();
    for (args, skip) in [
        (&["json", "--from-end"][..], first_records),
        (&["json", "-n", "5"][..], first_records - 5),
        (&["json", "--last", "100000"][..], 0),
        // Blocks smaller than the trace: what `open` read is not all.
        (&["json", "--chunk-size", "4096"][..], 0),
        (
            &["json", "--chunk-size", "4096", "--from-end"][..],
            first_records,
        ),
        (
            &["json", "--chunk-size", "4096", "-n", "7"][..],
            first_records - 7,
        ),
    ] {
        let live = dir.join("live");
        std::fs::write(&live, &first).unwrap();
        let mut all: Vec<OsString> = args.iter().map(OsString::from).collect();
        all.extend(argv(&[&"-f", &"--idle", &IDLE, &events(), &live]));
        let child = spawn(&all);
        // Give it the time to reach the end before more comes.
        thread::sleep(Duration::from_millis(300));
        write_slowly(&live, &appended, 11);
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", support::stderr(&out));
        let got: Vec<&[u8]> = out.stdout.split_inclusive(|&b| b == b'\n').collect();
        let want = &all_lines[skip..];
        assert_eq!(got.len(), want.len(), "{args:?}");
        // The first line's delta is from itself (no record before it was
        // seen); every other line is the same.
        let no_delta = |l: &[u8]| {
            let s = String::from_utf8_lossy(l).into_owned();
            match (s.find(",\"delta_ns\":"), s.find(",\"pid\":")) {
                (Some(a), Some(b)) => format!("{}{}", &s[..a], &s[b..]),
                _ => s,
            }
        };
        for (n, (g, w)) in got.iter().zip(want).enumerate() {
            if n == 0 {
                assert_eq!(no_delta(g), no_delta(w), "{args:?}");
            } else {
                assert_eq!(g, w, "{args:?}: line {n}");
            }
        }
    }
}

/// `--pid-exit`: the follow ends when the writer has exited, and then the
/// file is read as a finished trace: a record cut at its end is reported,
/// as for any trace.
#[test]
fn pid_exit_ends_the_follow_and_reads_the_rest() {
    let dir = support::scratch("follow_pid_exit");
    let live = dir.join("live");
    let trace = samples::sample_trace();
    let cut = trace.len() - 5;
    std::fs::write(&live, &trace[..cut]).unwrap();
    let mut writer = std::process::Command::new("sleep")
        .arg("0.4")
        .spawn()
        .unwrap();
    let pid = writer.id().to_string();
    let started = Instant::now();
    let child = spawn(&argv(&[&"-f", &"--pid-exit", &pid, &events(), &live]));
    // Reaped, so that it does not linger as a zombie (which still exists).
    writer.wait().unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    let want = support::run(argv(&[&events(), &live]));
    assert_eq!(out.status.code(), want.status.code());
    assert_eq!(support::stderr(&out), support::stderr(&want));
    assert!(support::stderr(&out).contains("the trace ends inside record"));
    support::assert_same_output("print --follow --pid-exit", &out.stdout, &want.stdout);
}

/// Without --pid-exit, a trace named as QEMU names it, `trace-PID`, whose
/// process PID has it open for writing, is followed until that process
/// exits (said on standard error); a process that only has it open for
/// reading, or a name without a pid, does not end it (--idle does).
#[cfg(target_os = "linux")]
#[test]
fn the_writer_named_by_the_file_ends_the_follow() {
    let dir = support::scratch("follow_auto_pid");
    let trace = samples::sample_trace();
    let source = dir.join("whole");
    std::fs::write(&source, &trace).unwrap();
    // A shell that opens dir/trace-$$ for writing (QEMU's name for its
    // trace: $$ is the shell's pid), writes the trace, and exits a little
    // later.
    let mut writer = std::process::Command::new("sh")
        .arg("-c")
        .arg(r#"exec 3>"$0/trace-$$"; cat "$1" >&3; sleep 0.6"#)
        .arg(&dir)
        .arg(&source)
        .spawn()
        .unwrap();
    let live = dir.join(format!("trace-{}", writer.id()));
    let started = Instant::now();
    while std::fs::metadata(&live).map_or(true, |m| m.len() < trace.len() as u64) {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the writer never wrote"
        );
        thread::sleep(Duration::from_millis(10));
    }
    let child = spawn(&argv(&[&"-f", &events(), &live]));
    writer.wait().unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(out.status.success(), "{}", support::stderr(&out));
    let err = support::stderr(&out);
    assert!(
        err.contains(&format!(
            "until process {}, which writes it, exits",
            writer.id()
        )),
        "{err}"
    );
    let want = support::run(argv(&[&events(), &live]));
    support::assert_same_output("print --follow (writer by name)", &out.stdout, &want.stdout);

    // Open only for reading: not a writer.
    let mut reader = std::process::Command::new("sh")
        .arg("-c")
        .arg(r#"while [ ! -s "$0/trace-$$" ]; do sleep 0.01; done; exec 3<"$0/trace-$$"; sleep 5"#)
        .arg(&dir)
        .spawn()
        .unwrap();
    let read_only = dir.join(format!("trace-{}", reader.id()));
    std::fs::write(&read_only, &trace).unwrap();
    let fd3 = format!("/proc/{}/fd/3", reader.id());
    let started = Instant::now();
    while std::fs::read_link(&fd3).ok().as_deref() != Some(read_only.as_path()) {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the reader never opened it"
        );
        thread::sleep(Duration::from_millis(10));
    }
    let out = support::run(argv(&[&"-f", &"--idle", &"300ms", &events(), &read_only]));
    let _ = reader.kill();
    let _ = reader.wait();
    assert!(out.status.success(), "{}", support::stderr(&out));
    assert_eq!(support::stderr(&out), "");
}

/// Ctrl-C ends the follow as the end of a trace would: the Chrome
/// document is closed, the exit status is 0, and a record cut at the end
/// (the writer may be about to finish it) is not reported.
#[test]
fn interrupt_closes_the_output_and_exits_0() {
    let dir = support::scratch("follow_interrupt");
    let live = dir.join("live");
    let trace = samples::sample_trace();
    std::fs::write(&live, &trace[..trace.len() - 5]).unwrap();
    let child = spawn(&argv(&[
        &"json",
        &"--format",
        &"chrome",
        &"-f",
        &events(),
        &live,
    ]));
    thread::sleep(Duration::from_millis(300));
    support::kill(&child, libc::SIGINT);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", support::stderr(&out));
    assert_eq!(support::stderr(&out), "");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a whole document");
    let events = doc.get("traceEvents").and_then(serde_json::Value::as_array);
    assert!(events.is_some_and(|a| a.len() > 100), "{doc}");
}

/// What `--follow` refuses, before anything is read.
#[test]
fn follow_usage() {
    let e = events();
    let t = support::testdata("sample.trace");
    for (args, words) in [
        (argv(&[&"-f", &e, &"-"]), "not -"),
        (argv(&[&"--idle", &"1s", &e, &t]), "--follow"),
        (argv(&[&"-f", &"--idle", &"3", &e, &t]), "is not a duration"),
        (
            argv(&[&"-f", &"--from-end", &"-n", &"3", &e, &t]),
            "cannot be used with",
        ),
        (
            argv(&[&"run", &"--plugin", &"stats", &"-f", &e, &t]),
            "unexpected argument",
        ),
    ] {
        let out = support::run(&args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            support::stderr(&out)
        );
        assert!(
            support::stderr(&out).contains(words),
            "{args:?}: {}",
            support::stderr(&out)
        );
    }
}

/// Memory stays at a block or two however much is followed: 16 MiB of
/// trace through 64 KiB blocks (11 MiB at peak for 32 MiB, measured).
#[test]
fn memory_stays_bounded_over_a_long_follow() {
    let dir = support::scratch("follow_memory");
    let live = dir.join("live");
    let sample = samples::sample_trace();
    // The sample's records (its header and mappings first) again and
    // again: the same ids, timestamps that step back, which is fine.
    let records = &sample[24..];
    std::fs::write(&live, &sample[..24]).unwrap();
    let mut child = support::bin()
        .args(argv(&[
            &"json",
            &"-f",
            &"--chunk-size",
            &"65536",
            &events(),
            &live,
        ]))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut file = OpenOptions::new().append(true).open(&live).unwrap();
    let mut written = 0;
    while written < 16 << 20 {
        file.write_all(records).unwrap();
        written += records.len();
    }
    // Until it has read it all (its CPU time stops growing).
    let cpu = |pid: u32| {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let fields: Vec<String> = stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        let field = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<u64>().ok())
                .unwrap_or(0)
        };
        field(11) + field(12)
    };
    let mut last = u64::MAX;
    for _ in 0..100 {
        thread::sleep(Duration::from_millis(200));
        let now = cpu(child.id());
        if now == last {
            break;
        }
        last = now;
    }
    let peak = support::peak_rss_kib(child.id());
    support::kill(&child, libc::SIGINT);
    let status = child.wait().unwrap();
    assert!(status.success());
    if let Some(kib) = peak {
        assert!(kib < 24 << 10, "peak RSS {kib} KiB for 16 MiB followed");
    }
}

/// The report commands with `--follow`: a report as it stands every
/// `--refresh` while records come (on a pipe: text under a `-- after`
/// line, JSON one document per line), and at the end the report of a run
/// on the finished file.
#[test]
fn live_reports_end_with_the_report_of_the_finished_file() {
    let dir = support::scratch("follow_live_reports");
    let trace = samples::sample_trace();
    let done = dir.join("done.trace");
    std::fs::write(&done, &trace).unwrap();
    let commands: &[&[&str]] = &[
        &["stats"],
        &["locks"],
        &["alloc"],
        &["hist", "--event", "blk_co_pwritev", "--arg", "bytes"],
        &["stats", "--json"],
        &["locks", "--json"],
    ];
    for (i, args) in commands.iter().enumerate() {
        let live = dir.join(format!("live-{i}"));
        let path = live.clone();
        let bytes = trace.clone();
        let mut all = args.to_vec();
        all.extend(["--refresh", "50ms"]);
        let out = follow_while(&all, &live, move || {
            // Slower than usual, so that reports come while it is written.
            let half = bytes.len() / 2;
            write_slowly(&path, &bytes[..half], 21);
            thread::sleep(Duration::from_millis(150));
            write_slowly(&path, &bytes[half..], 22);
        });
        assert!(out.status.success(), "{args:?}: {}", support::stderr(&out));
        let want = normal_run(args, &done);
        let text = String::from_utf8(out.stdout).unwrap();
        if args.contains(&"--json") {
            let docs: Vec<serde_json::Value> = text
                .lines()
                .map(|l| serde_json::from_str(l).expect("one document per line"))
                .collect();
            assert!(docs.len() >= 2, "{args:?}: {} documents", docs.len());
            let want: serde_json::Value = serde_json::from_slice(&want).unwrap();
            assert_eq!(docs.last(), Some(&want), "{args:?}");
        } else {
            assert!(text.starts_with("-- after "), "{args:?}: {text}");
            let (live_part, last) = text.rsplit_once("-- end --\n").expect("the end line");
            assert!(live_part.matches("-- after ").count() >= 1, "{args:?}");
            support::assert_same_output(&format!("{args:?} --follow"), last.as_bytes(), &want);
        }
    }
}

/// A follow whose reader has gone (`| head`) ends, even while the trace
/// is idle and nothing is written to find out.
#[test]
fn a_closed_output_ends_an_idle_follow() {
    use std::io::Read;
    let dir = support::scratch("follow_closed_output");
    let live = dir.join("live");
    std::fs::write(&live, samples::sample_trace()).unwrap();
    let mut child = spawn(&argv(&[
        &"stats",
        &"-f",
        &"--refresh",
        &"50ms",
        &events(),
        &live,
    ]));
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 16];
    stdout.read_exact(&mut first).unwrap();
    drop(stdout);
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "still following"
        );
        thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success());
}
