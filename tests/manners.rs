//! Command-line manners: help with examples everywhere, completions and
//! manual pages, colour only when asked or on a terminal, no progress bar
//! off a terminal, and the two file arguments given the wrong way round.
//! (Quiet success on a closed pipe, for every command that streams, is in
//! `cli.rs`.)

use std::process::Stdio;

use crate::support;

fn sample() -> [std::path::PathBuf; 2] {
    [
        support::testdata("sample.trace-events"),
        support::testdata("sample.trace"),
    ]
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            // CSI: ESC [ parameters final-byte.
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn every_command_has_help_with_examples() {
    let cmd = simpletrace::cli::command(&[]);
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_owned())
        .collect();
    assert!(names.len() >= 10, "{names:?}");
    for name in &names {
        let out = support::run([name.as_str(), "--help"]);
        assert!(out.status.success(), "{name}");
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains("Examples:"), "{name} --help:\n{text}");
        assert!(text.contains(&format!("simpletrace {name}")), "{name}");
    }
    let out = support::run(["--help"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("Exit status:") && text.contains("2  a usage error"));
    assert!(text.contains("3  --resync skipped corrupt data"));
}

#[test]
fn completions_for_every_shell() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = support::run(["completions", shell]);
        assert!(out.status.success(), "{shell}");
        let text = String::from_utf8(out.stdout).unwrap();
        for word in ["simpletrace", "stats", "hist", "alloc", "events"] {
            assert!(text.contains(word), "{shell}: no {word}");
        }
    }
    let out = support::run(["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn man_pages() {
    let out = support::run(["man"]);
    assert!(out.status.success());
    let page = String::from_utf8(out.stdout).unwrap();
    assert!(page.contains(".TH simpletrace 1"), "{page}");
    assert!(page.contains("Exit status"));
    let dir = support::scratch("man_pages").join("man1");
    let out = support::run(["man".as_ref(), "--dir".as_ref(), dir.as_os_str()]);
    assert!(out.status.success(), "{}", support::stderr(&out));
    let listed = String::from_utf8(out.stdout).unwrap();
    for name in [
        "simpletrace",
        "simpletrace-print",
        "simpletrace-stats",
        "simpletrace-hist",
    ] {
        let path = dir.join(format!("{name}.1"));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(&format!(".TH {name} 1")), "{name}");
        assert!(listed.contains(&path.display().to_string()));
    }
    assert!(!dir.join("simpletrace-help.1").exists());
}

#[test]
fn colour_only_when_asked_or_on_a_terminal() {
    let [events, trace] = sample();
    let run = |extra: &[&str]| -> (String, String) {
        let mut args: Vec<&std::ffi::OsStr> = extra.iter().map(std::ffi::OsStr::new).collect();
        args.extend([events.as_os_str(), trace.as_os_str()]);
        let out = support::run(&args);
        let err = support::stderr(&out);
        (String::from_utf8_lossy(&out.stdout).into_owned(), err)
    };
    // Standard output is a pipe here: plain, whatever NO_COLOR says.
    let (plain, _) = run(&[]);
    assert!(!plain.contains('\x1b'));
    assert_eq!(run(&["--color", "never"]).0, plain);
    let (coloured, _) = run(&["--color", "always"]);
    assert!(coloured.starts_with("\x1b[1;36m"), "{coloured}");
    assert_eq!(strip_ansi(&coloured), plain);
    assert_eq!(coloured.lines().count(), plain.lines().count());
    for cmd in [
        &["print", "--format", "log"][..],
        &["stats"][..],
        &["hist", "--interval", "mem_free"][..],
    ] {
        let mut with = cmd.to_vec();
        with.extend(["--color", "always"]);
        let (c, _) = run(&with);
        let (p, _) = run(cmd);
        assert!(c.contains('\x1b'), "{cmd:?}");
        assert_eq!(strip_ansi(&c), p, "{cmd:?}");
    }
    // Reports rendered from data are painted by block kind: their table
    // headers bold, the lost-events warning yellow (`stats` once painted
    // only its first line, and only because it said " LOST ").
    let bold = |text: &str, first_word: &str| {
        text.lines().any(|l| {
            l.strip_prefix("\x1b[1m")
                .and_then(|l| l.strip_suffix("\x1b[0m"))
                .is_some_and(|l| l.split_whitespace().next() == Some(first_word))
        })
    };
    let (c, _) = run(&["stats", "--by-pid", "--color", "always"]);
    assert!(bold(&c, "event"), "{c}");
    assert!(bold(&c, "pid"), "{c}");
    assert!(
        c.contains("\x1b[1;33mEvents were lost: 1 dropped-events record, "),
        "{c}"
    );
    assert_eq!(strip_ansi(&c), run(&["stats", "--by-pid"]).0);
    // hist: its `--table` header and its group titles bold (it once had
    // no colour in a table at all), its bars green, its lost events yellow.
    let table = ["hist", "--interval", "mem_free", "--by", "pid", "--table"];
    let (c, _) = run(&[&table[..], &["--color", "always"]].concat());
    assert!(c.contains("\n\x1b[1m| bucket "), "{c}");
    assert!(c.contains("\n\x1b[1mpid="), "{c}");
    assert!(c.contains("\x1b[1;33mEvents were lost: "), "{c}");
    assert_eq!(strip_ansi(&c), run(&table).0);
    let bars = ["hist", "--interval", "mem_free", "--by", "pid"];
    let (c, _) = run(&[&bars[..], &["--color", "always"]].concat());
    assert!(c.contains(" |\x1b[32m@"), "{c}");
    assert!(c.contains("\n\x1b[1mpid="), "{c}");
    assert_eq!(strip_ansi(&c), run(&bars).0);
    // alloc: its table headers and part titles bold, its lost events
    // yellow in the one wording, its live-bytes chart and histograms green
    // (painted by block kind; it was painted by its words before).
    let alloc = [
        "alloc",
        "--alloc",
        "mem_alloc:ptr=ptr,size=size",
        "--free",
        "mem_free:ptr=ptr",
    ];
    let (c, _) = run(&[&alloc[..], &["--color", "always"]].concat());
    assert!(bold(&c, "pid"), "{c}");
    assert!(bold(&c, "lost"), "{c}");
    assert!(c.contains("\n\x1b[1mLeaks: 19 blocks never freed"), "{c}");
    assert!(c.contains("\n\x1b[1mBy size:\x1b[0m\n"), "{c}");
    assert!(
        c.contains(
            "\n\x1b[1;33mEvents were lost: 1 dropped-events record, 275211 events dropped; "
        ),
        "{c}"
    );
    assert!(c.contains(" |\x1b[32m@"), "{c}");
    assert_eq!(strip_ansi(&c), run(&alloc).0);
    // Errors: the prefix in colour, the text the same as without colour
    // (scripts parse "simpletrace: "; on a terminal it once read
    // "simpletrace: error:").
    let out = support::run(["--color", "always", "no-such-file", "t"]);
    let coloured = support::stderr(&out);
    assert!(
        coloured.starts_with("\x1b[1;31msimpletrace:\x1b[0m no-such-file"),
        "{coloured}"
    );
    let out = support::run(["no-such-file", "t"]);
    let plain = support::stderr(&out);
    assert!(plain.starts_with("simpletrace: no-such-file"));
    assert_eq!(strip_ansi(&coloured), plain);
}

#[test]
fn no_progress_bar_off_a_terminal() {
    let [events, trace] = sample();
    for when in ["auto", "always"] {
        let out = support::run([
            "stats".as_ref(),
            "--progress".as_ref(),
            when.as_ref(),
            events.as_os_str(),
            trace.as_os_str(),
        ]);
        assert!(out.status.success());
        assert_eq!(support::stderr(&out), "", "--progress {when}");
    }
}

#[test]
fn files_given_the_wrong_way_round() {
    let [events, trace] = sample();
    let run = |a: &std::path::Path, b: &std::path::Path| {
        let out = support::run([a.as_os_str(), b.as_os_str()]);
        assert_eq!(out.status.code(), Some(1));
        support::stderr(&out)
    };
    let err = run(&trace, &events);
    assert!(err.contains("the two files seem swapped"), "{err}");
    assert!(
        err.contains(&format!(
            "simpletrace [COMMAND] {} {}",
            events.display(),
            trace.display()
        )),
        "{err}"
    );
    let err = run(&trace, &trace);
    assert!(
        err.contains("is a binary trace, not a trace-events file"),
        "{err}"
    );
    let err = run(&events, &events);
    assert!(
        err.contains("is a text file (a trace-events file?), not a binary trace"),
        "{err}"
    );
}

/// The hints look at regular files only: a FIFO given as the trace has
/// been read once, and opening it again for a hint would wait forever for
/// a writer that is gone.
#[cfg(unix)]
#[test]
fn hints_do_not_reopen_a_fifo() {
    let [events, _] = sample();
    let dir = support::scratch("hint_fifo");
    let fifo = dir.join("trace");
    let _ = std::fs::remove_file(&fifo);
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    assert!(made.is_ok_and(|s| s.success()), "mkfifo {}", fifo.display());
    // Text where the trace goes: a header error, after which the trace
    // hint would read the file again.
    let text = std::fs::read(&events).unwrap();
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::write(fifo, text))
    };
    let mut child = support::bin()
        .args([events.as_os_str(), fifo.as_os_str()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > std::time::Duration::from_secs(20) {
            let _ = child.kill();
            panic!("simpletrace still running after 20 s: it waits on the FIFO");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    writer.join().unwrap().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(err.contains("not a simple trace"), "{err}");
}
