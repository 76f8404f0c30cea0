//! Usage errors and where things go (issue 16, items 3, 4 and 6): every
//! usage error exits with status 2 and says what to do, data errors stay
//! 1; `-` is standard output for every output option, and a binary trace
//! is never written to a terminal; options given before the command are
//! taken, and a mistyped command gets the closest name.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{Output, Stdio};

use crate::support;

fn files() -> [PathBuf; 2] {
    [
        support::testdata("sample.trace-events"),
        support::testdata("sample.trace"),
    ]
}

/// Runs `args` followed by the sample's two files (unless `with_files`
/// is false).
fn run(args: &[&str], with_files: bool) -> Output {
    let mut all: Vec<OsString> = args.iter().map(OsString::from).collect();
    if with_files {
        all.extend(files().map(PathBuf::into_os_string));
    }
    support::run(all)
}

/// Each mistake on the command line, with its exit status and (part of)
/// its message: usage errors 2, whatever stage finds them (clap, the
/// checks after clap, the histogram's request); a request that does not
/// fit the trace-events file, and bad files, 1.
#[test]
fn exit_status_and_message_of_each_mistake() {
    let latency = "blk_co_preadv:blk,blk_io_done:blk";
    let cases: &[(&[&str], bool, i32, &str)] = &[
        // Option combinations.
        (
            &["print", "--timestamps"],
            true,
            2,
            "simpletrace: --timestamps needs --format log\n",
        ),
        (
            &["--timestamps"],
            true,
            2,
            "simpletrace: --timestamps needs --format log\n",
        ),
        (
            &["json", "--span", latency],
            true,
            2,
            "simpletrace: --span needs --format chrome or perfetto\n",
        ),
        (
            &["hist", "--latency", latency, "--linear", "4KiB"],
            true,
            2,
            "simpletrace: latencies and intervals are times: give --linear in ns, us, ms or s\n",
        ),
        (
            &["hist", "--latency", latency, "--unit", "bytes"],
            true,
            2,
            "simpletrace: latencies and intervals are times: --unit bytes does not fit them",
        ),
        (
            &["hist", "--interval", "mem_free", "--unit", "bytes"],
            true,
            2,
            "--unit bytes does not fit them",
        ),
        (
            &["hist", "--latency", latency, "--by", "pid,blk,offset,ret"],
            true,
            2,
            "simpletrace: --by has 4 parts; at most 3 are supported\n",
        ),
        (
            &["hist", "--latency", "blk_io_done,blk_io_done"],
            true,
            2,
            "same event 'blk_io_done'",
        ),
        (
            &["hist", "--begin", "blk_co_preadv"],
            true,
            2,
            "--begin EVENT needs --end EVENT[:ARG]",
        ),
        (
            &["hist", "--interval", "mem_free", "--svg", "-", "--json"],
            true,
            2,
            "simpletrace: the --svg - plot, a format for other programs, must have standard \
             output to itself, but the --json report would go there too: write the plot to a \
             file (--svg FILE), or leave out --json\n",
        ),
        (
            &["run", "--plugin", "json", "--plugin", "stats"],
            true,
            2,
            "must have standard output to itself",
        ),
        (
            &["--end", "1s", "--end", "2s"],
            true,
            2,
            "simpletrace: --end TIME is given twice\n",
        ),
        (&["alloc", "--no-builtin"], true, 2, "leaves no rule"),
        (
            &[
                "alloc",
                "--alloc",
                "mem_alloc:ptr=ptr",
                "--free",
                "mem_alloc:ptr=ptr",
            ],
            true,
            2,
            "simpletrace: two rules for mem_alloc: give one rule per event\n",
        ),
        (
            &["hist", "--interval", "mem_free", "--events", "blk_*"],
            true,
            2,
            "simpletrace: the --events filter leaves out mem_free, which this histogram reads\n",
        ),
        (
            &["man", "--dir", "-"],
            false,
            2,
            "man --dir takes a directory",
        ),
        // Malformed option values.
        (&["--events", "a b"], true, 2, "is not an event pattern"),
        (
            &["run", "--plugin", "nonesuch"],
            true,
            2,
            "no analyzer called 'nonesuch'",
        ),
        (
            &["locks", "--sort", "nope"],
            true,
            2,
            "invalid value 'nope'",
        ),
        (
            &["hist", "--interval", "mem_free", "--linear", "1.5"],
            true,
            2,
            "not a bucket width",
        ),
        (
            &["-j", "0"],
            true,
            2,
            "invalid value '0' for '--threads <N>'",
        ),
        // Commands.
        (
            &["stat"],
            true,
            2,
            "simpletrace: unknown command 'stat'; did you mean 'stats'?\n",
        ),
        (
            &["--pid", "4242", "lock"],
            true,
            2,
            "simpletrace: unknown command 'lock'; did you mean 'locks'?\n",
        ),
        (
            &["nonesuch"],
            true,
            2,
            "simpletrace: unknown command 'nonesuch' (the commands: print, stats,",
        ),
        (
            &["nonesuch"],
            true,
            2,
            "\n\nUsage: simpletrace [OPTIONS] <TRACE_EVENTS> <TRACE_FILE>\n",
        ),
        // Requests that do not fit the trace-events file, and bad files.
        (
            &["hist", "--event", "mem_fre", "--arg", "ptr"],
            true,
            1,
            "declares no event 'mem_fre' (did you mean 'mem_free'?)",
        ),
        (
            &["alloc", "--alloc", "mem_allc:ptr=ptr"],
            true,
            1,
            "declares no event 'mem_allc' (did you mean 'mem_alloc'?)",
        ),
        (
            &["/nonexistent/trace-events", "t"],
            false,
            1,
            "/nonexistent/trace-events",
        ),
    ];
    for &(args, with_files, status, message) in cases {
        let out = run(args, with_files);
        let err = support::stderr(&out);
        assert_eq!(out.status.code(), Some(status), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}");
        assert!(err.contains(message), "{args:?}:\n{err}\nwanted: {message}");
    }
    // A bad trace (the trace-events file given as the trace) is a data
    // error.
    let [events, _] = files();
    let out = support::run([&events, &events]);
    assert_eq!(out.status.code(), Some(1), "{}", support::stderr(&out));
}

/// Options every command shares may come before the command: the same
/// output as after it, byte for byte.
#[test]
fn options_before_the_command() {
    for (before, after) in [
        (&["-j1", "stats"][..], &["stats", "-j1"][..]),
        (
            &["--pid", "4242", "--events", "blk_*", "stats", "--top", "3"],
            &["stats", "--top", "3", "--pid", "4242", "--events", "blk_*"],
        ),
        (
            &["--color", "always", "print"],
            &["print", "--color", "always"],
        ),
        (
            &["--start", "+1ms", "--no-header", "json"],
            &["json", "--start", "+1ms", "--no-header"],
        ),
    ] {
        let a = run(before, true);
        let b = run(after, true);
        assert_eq!(a.status.code(), b.status.code(), "{before:?}");
        assert_eq!(a.stdout, b.stdout, "{before:?}");
        assert_eq!(a.stderr, b.stderr, "{before:?}");
    }
    let out = run(&["--pid", "4242", "stats"], true);
    assert!(out.status.success(), "{}", support::stderr(&out));
    // Clap's `help` command is a command too.
    let out = support::run(["help", "stats"]);
    assert!(out.status.success(), "{}", support::stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Usage: simpletrace stats"));
    // An option the command does not take is clap's error, about that
    // command.
    let out = run(&["--format", "log", "stats"], true);
    assert_eq!(out.status.code(), Some(2));
    assert!(support::stderr(&out).contains("unexpected argument '--format'"));
}

/// The drop-in form is read first: a trace-events file called `stats`
/// after an option is still a file, not the command.
#[test]
fn drop_in_with_a_file_named_like_a_command() {
    let dir = support::scratch("usage_drop_in_stats");
    let [events, trace] = files();
    std::fs::copy(&events, dir.join("stats")).unwrap();
    let out = support::bin()
        .current_dir(&dir)
        .args(["-j1".as_ref(), "stats".as_ref(), trace.as_os_str()])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", support::stderr(&out));
    assert_eq!(out.stdout, support::run([&events, &trace]).stdout);
    // And a word close to a command, when it is a file, is the file.
    std::fs::copy(&events, dir.join("stat")).unwrap();
    let out = support::bin()
        .current_dir(&dir)
        .args(["stat".as_ref(), trace.as_os_str()])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", support::stderr(&out));
}

/// `hist --svg -` writes the plot to standard output and the text report
/// to standard error, and creates no file called `-`.
#[test]
fn svg_dash_is_standard_output() {
    let dir = support::scratch("usage_svg_dash");
    let [events, trace] = files();
    let out = support::bin()
        .current_dir(&dir)
        .args(["hist", "--interval", "mem_free", "--svg", "-"])
        .args([&events, &trace])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", support::stderr(&out));
    let svg = String::from_utf8(out.stdout).unwrap();
    assert!(
        svg.starts_with("<svg ") && svg.trim_end().ends_with("</svg>"),
        "{svg}"
    );
    let text = run(&["hist", "--interval", "mem_free"], true);
    assert_eq!(out.stderr, text.stdout);
    assert!(!dir.join("-").exists());
}

/// A pseudo-terminal: (controller, terminal). `None` where none can be
/// opened.
#[allow(unsafe_code)]
fn pty() -> Option<(std::fs::File, std::fs::File)> {
    use std::os::fd::FromRawFd;
    // SAFETY: plain libc calls on a descriptor this function owns; the
    // name buffer is large enough and NUL-terminated by ptsname_r.
    unsafe {
        let controller = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY);
        if controller < 0 {
            return None;
        }
        let controller_file = std::fs::File::from_raw_fd(controller);
        if libc::grantpt(controller) != 0 || libc::unlockpt(controller) != 0 {
            return None;
        }
        let mut name = [0 as libc::c_char; 128];
        if libc::ptsname_r(controller, name.as_mut_ptr(), name.len()) != 0 {
            return None;
        }
        let name = std::ffi::CStr::from_ptr(name.as_ptr())
            .to_str()
            .ok()?
            .to_owned();
        let terminal = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(name)
            .ok()?;
        Some((controller_file, terminal))
    }
}

/// `filter -o -` refuses to write a binary trace to a terminal (status 2,
/// before any file is read), and writes it to a pipe.
#[test]
fn binary_trace_never_to_a_terminal() {
    let [events, trace] = files();
    let Some((_controller, terminal)) = pty() else {
        eprintln!("no pseudo-terminal here: filter -o - to a terminal NOT tested");
        return;
    };
    let out = support::bin()
        .args([
            "filter".as_ref(),
            "-o".as_ref(),
            "-".as_ref(),
            events.as_os_str(),
        ])
        .arg("/nonexistent/trace")
        .stdin(Stdio::null())
        .stdout(Stdio::from(terminal))
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        support::stderr(&out),
        "simpletrace: -o - writes a binary trace to standard output, which is a terminal: \
         redirect it (> out.trace, | gzip > out.trace.gz), or give a file name\n"
    );
    let out = run(&["filter", "-o", "-"], true);
    assert!(out.status.success(), "{}", support::stderr(&out));
    assert!(!out.stdout.is_empty());
    let copy = support::run_with_stdin([events.as_os_str(), "-".as_ref()], &out.stdout);
    assert_eq!(copy.stdout, support::run([&events, &trace]).stdout);
}

/// A third word after the drop-in form's two files is said to be one (a
/// command among them is said to go first), not clap's "the subcommand
/// cannot be used with"; exit status 2.
#[test]
fn a_word_after_the_two_files() {
    for (extra, says) in [
        ("extra", "unexpected argument 'extra' after the two files"),
        (
            "stats",
            "a command comes first: simpletrace stats TRACE_EVENTS TRACE_FILE",
        ),
    ] {
        let mut all: Vec<OsString> = files().map(PathBuf::into_os_string).into();
        all.push(extra.into());
        let out = support::run(all);
        let err = support::stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(
            err.starts_with("simpletrace: ") && err.contains(says),
            "{err}"
        );
        assert!(!err.contains("cannot be used with"), "{err}");
    }
}
