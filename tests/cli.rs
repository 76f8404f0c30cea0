//! Command-line behaviour: the drop-in form, `print`, standard input,
//! closed pipes, usage errors.

use crate::support;

fn sample_args() -> [std::path::PathBuf; 2] {
    [
        support::testdata("sample.trace-events"),
        support::testdata("sample.trace"),
    ]
}

#[test]
fn print_subcommand_is_the_drop_in() {
    let [events, trace] = sample_args();
    let bare = support::run([&events, &trace]);
    let print = support::run([std::path::Path::new("print"), &events, &trace]);
    assert!(bare.status.success() && print.status.success());
    assert!(!bare.stdout.is_empty());
    assert_eq!(bare.stdout, print.stdout);
}

#[test]
fn trace_from_stdin() {
    let [events, trace] = sample_args();
    let bytes = std::fs::read(&trace).unwrap();
    let from_file = support::run([&events, &trace]);
    let from_stdin = support::run_with_stdin([events.to_str().unwrap(), "-"], &bytes);
    assert!(
        from_stdin.status.success(),
        "{}",
        support::stderr(&from_stdin)
    );
    assert_eq!(from_stdin.stdout, from_file.stdout);
}

/// `simpletrace ... | head -1`, for the drop-in printer and every command
/// that streams records: the reader goes away, we exit 0 without a word.
#[test]
fn closed_pipe_is_quiet_success() {
    let dir = support::scratch("closed_pipe");
    let (events, trace) = support::samples::long_tick_trace(&dir);
    for cmd in [
        &[][..],
        &["print", "--format", "log"][..],
        &["json"][..],
        &["json", "--format", "chrome"][..],
        &["filter", "-o", "-"][..],
    ] {
        let (first, out) =
            support::first_line_then_closed(support::bin().args(cmd).args([&events, &trace]));
        if cmd.is_empty() {
            assert_eq!(first, b"tick 0.000 pid=1 n=0x0 s=b'some text'\n");
        } else {
            assert!(!first.is_empty(), "{cmd:?}");
        }
        assert_eq!(out.status.code(), Some(0), "{cmd:?}");
        assert_eq!(support::stderr(&out), "", "{cmd:?}");
    }
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &[][..],
        &["only-one"][..],
        &["a", "b", "c"][..],
        &["--frobnicate", "a", "b"][..],
    ] {
        let out = support::run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(support::stderr(&out).contains("Usage:"), "{args:?}");
    }
}

#[test]
fn help_has_examples() {
    for args in [&["--help"][..], &["print", "--help"][..]] {
        let out = support::run(args);
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            text.contains("Examples:") && text.contains("--no-header"),
            "{text}"
        );
    }
}

/// The names in parentheses after `marker` in `text`: a comma-separated
/// list, maybe in backticks and across lines.
fn names_after(text: &str, marker: &str) -> Vec<String> {
    let at = text
        .find(marker)
        .unwrap_or_else(|| panic!("{marker}: {text}"))
        + marker.len();
    let rest = &text[at..];
    let open = rest.find('(').unwrap();
    let close = rest.find(')').unwrap();
    rest[open + 1..close]
        .split(',')
        .map(|n| n.trim().trim_matches('`').to_owned())
        .collect()
}

/// One registry: every analyzer `registry()` lists is named in `run
/// --help` (and in docs/cli.md) and taken by `run --plugin`; the help
/// lists nothing the registry lacks (issue 14, item 6).
#[test]
fn run_help_and_plugin_names_are_the_registry() {
    let registry: Vec<String> = simpletrace::analyzers::registry()
        .into_iter()
        .map(|e| e.name)
        .collect();
    let help = support::run(["run", "--help"]);
    assert!(help.status.success());
    let help = String::from_utf8(help.stdout).unwrap();
    assert_eq!(names_after(&help, "a built-in name"), registry, "{help}");
    let short = String::from_utf8(support::run(["run", "-h"]).stdout).unwrap();
    assert_eq!(names_after(&short, "a built-in name"), registry, "{short}");
    let docs = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/cli.md"),
    )
    .unwrap();
    assert_eq!(names_after(&docs, "built-in ones by name"), registry);
    let [events, trace] = sample_args();
    for name in &registry {
        let out = support::run([
            std::ffi::OsStr::new("run"),
            "--plugin".as_ref(),
            name.as_ref(),
            events.as_os_str(),
            trace.as_os_str(),
        ]);
        assert!(out.status.success(), "{name}: {}", support::stderr(&out));
    }
    // And the refusal lists the same names.
    let out = support::run(["run", "--plugin", "nosuch", "te", "t"]);
    let err = support::stderr(&out);
    assert!(
        err.contains(&format!("(built in: {};", registry.join(", "))),
        "{err}"
    );
}

/// `run` with several analyzers (issue 14, "fixes that fall out of the new
/// shape"): what shares standard output, headings, one JSON document,
/// `--output KEY=FILE`, and the refusals.
mod run_several {
    use std::ffi::{OsStr, OsString};
    use std::path::{Path, PathBuf};
    use std::process::Output;

    use serde_json::Value;

    use crate::support;

    /// The traces to try: the sample, and the corpus's tiny and medium-io
    /// when present.
    fn traces() -> Vec<[PathBuf; 2]> {
        let mut v = vec![super::sample_args()];
        if let Some(corpus) = support::corpus() {
            for name in ["tiny", "medium-io"] {
                v.push([
                    corpus.join("trace-events-all"),
                    corpus.join(format!("{name}.bin")),
                ]);
            }
        }
        v
    }

    /// `args`, then the two files.
    fn run(args: &[&str], [events, trace]: &[PathBuf; 2]) -> Output {
        let mut all: Vec<OsString> = args.iter().map(OsString::from).collect();
        all.push(events.into());
        all.push(trace.into());
        support::run(all)
    }

    /// Standard output of a run that must succeed.
    #[track_caller]
    fn ok(args: &[&str], files: &[PathBuf; 2]) -> Vec<u8> {
        let out = run(args, files);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            support::stderr(&out)
        );
        out.stdout
    }

    fn text(bytes: Vec<u8>) -> String {
        String::from_utf8(bytes).unwrap()
    }

    /// What each built-in analyzer writes alone, as its own command.
    const ALONE: &[(&str, &[&str])] = &[
        ("print", &["print"]),
        ("log", &["print", "--format", "log"]),
        ("json", &["json"]),
        ("chrome", &["json", "--format", "chrome"]),
        ("stats", &["stats"]),
        ("locks", &["locks"]),
        ("alloc", &["alloc"]),
    ];

    /// One analyzer alone writes what its command writes, with no heading
    /// (and `run --plugin print` is still the golden printer).
    #[test]
    fn one_analyzer_writes_what_its_command_writes() {
        for files in traces() {
            for (name, command) in ALONE {
                let run = ok(&["run", "--plugin", name], &files);
                support::assert_same_output(name, &run, &ok(command, &files));
                assert!(!run.windows(3).any(|w| w == b"== "), "{name}");
            }
        }
        let golden = std::fs::read(support::testdata("sample.simpletrace.txt")).unwrap();
        let run = ok(&["run", "--plugin", "print"], &super::sample_args());
        support::assert_same_output("golden", &run, &golden);
    }

    /// Records first, exactly as alone, then each report under its
    /// heading, a blank line between reports; coloured with --color
    /// always, and the same bytes without the escapes.
    #[test]
    fn records_then_reports_under_headings() {
        for files in traces() {
            let print = ok(&["print"], &files);
            let log = ok(&["print", "--format", "log"], &files);
            let stats = text(ok(&["stats"], &files));
            let locks = text(ok(&["locks"], &files));
            let then = |records: &[u8], reports: String| -> Vec<u8> {
                [records, reports.as_bytes()].concat()
            };
            let got = ok(&["run", "--plugin", "print", "--plugin", "stats"], &files);
            support::assert_same_output(
                "print, stats",
                &got,
                &then(&print, format!("== stats ==\n{stats}")),
            );
            let got = ok(
                &[
                    "run", "--plugin", "print", "--plugin", "stats", "--plugin", "locks",
                ],
                &files,
            );
            support::assert_same_output(
                "print, stats, locks",
                &got,
                &then(
                    &print,
                    format!("== stats ==\n{stats}\n== locks ==\n{locks}"),
                ),
            );
            // Two text streams: record by record, as before; no report.
            let both = ok(&["run", "--plugin", "print", "--plugin", "log"], &files);
            let lines = |b: &[u8]| b.iter().filter(|&&c| c == b'\n').count();
            assert_eq!(lines(&both), lines(&print) + lines(&log), "print and log");
            assert!(!both.windows(3).any(|w| w == b"== "));
            let colored = ok(
                &[
                    "run", "--plugin", "print", "--plugin", "stats", "--color", "always",
                ],
                &files,
            );
            let colored = String::from_utf8_lossy(&colored);
            let heading = colored.lines().find(|l| l.contains("== stats ==")).unwrap();
            assert!(
                heading.starts_with('\x1b') && heading != "== stats ==",
                "{heading:?}"
            );
            assert_eq!(
                strip_escapes(&colored),
                format!(
                    "{}== stats ==\n{stats}",
                    strip_escapes(&String::from_utf8_lossy(&print))
                )
            );
        }
    }

    /// Text without ANSI escape sequences (ESC [ ... letter).
    fn strip_escapes(s: &str) -> String {
        let mut out = String::new();
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            if c == '\x1b' {
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

    /// With --json, standard output is one JSON document with a key per
    /// analyzer, whatever analyzers write elsewhere.
    #[test]
    fn json_is_one_document() {
        let dir = support::scratch("run_several_json");
        for files in traces() {
            let parse = |bytes: &[u8]| -> Value {
                serde_json::from_slice(bytes)
                    .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(bytes)))
            };
            let alone = |name: &str| -> Value {
                parse(&ok(&["run", "--plugin", name, "--json"], &files))[name].clone()
            };
            let all = parse(&ok(
                &[
                    "run", "--plugin", "stats", "--plugin", "locks", "--plugin", "alloc", "--json",
                ],
                &files,
            ));
            let keys: Vec<&String> = all.as_object().unwrap().keys().collect();
            assert_eq!(keys.len(), 3, "{keys:?}");
            for name in ["stats", "locks", "alloc"] {
                assert_eq!(all[name], alone(name), "{name}");
            }
            // Records sent to files leave the document alone.
            let records = dir.join("records.txt");
            let trace = dir.join("trace.json");
            let out = ok(
                &[
                    "run",
                    "--plugin",
                    "print",
                    "--plugin",
                    "chrome",
                    "--plugin",
                    "stats",
                    "--json",
                    "--output",
                    &format!("print={}", records.display()),
                    "--output",
                    &format!("chrome={}", trace.display()),
                ],
                &files,
            );
            let doc = parse(&out);
            assert_eq!(doc.as_object().unwrap().len(), 1);
            assert_eq!(doc["stats"], alone("stats"));
            assert_eq!(std::fs::read(&records).unwrap(), ok(&["print"], &files));
            assert_eq!(
                std::fs::read(&trace).unwrap(),
                ok(&["json", "--format", "chrome"], &files)
            );
        }
    }

    /// Two formats on one standard output are a usage error, decided
    /// before the trace is opened (these files do not exist): each
    /// message names the analyzers and says what to do.
    #[test]
    fn formats_that_cannot_share_standard_output_are_refused() {
        let missing = [
            PathBuf::from("no-such-events"),
            PathBuf::from("no-such-trace"),
        ];
        for (args, message) in [
            (
                &["run", "--plugin", "json", "--plugin", "chrome"][..],
                "json's records, a format for other programs, must have standard output to \
                 itself, but chrome's records would go there too: send all but one to files \
                 with --output KEY=FILE (e.g. --output chrome=FILE)",
            ),
            (
                &["run", "--plugin", "chrome", "--plugin", "stats"],
                "chrome's records, a format for other programs, must have standard output to \
                 itself, but stats's report would go there too",
            ),
            (
                &["run", "--plugin", "print", "--plugin", "json"],
                "json's records, a format for other programs, must have standard output to \
                 itself, but print's records would go there too",
            ),
            (
                &["run", "--plugin", "print", "--plugin", "stats", "--json"],
                "--json writes the reports to standard output as one JSON document, and \
                 print's records would be mixed into it: send them to a file with --output \
                 print=FILE, or leave out --json",
            ),
            (
                &["run", "--plugin", "log", "--json"],
                "log's records would be mixed into it",
            ),
            (
                &["run", "--plugin", "json", "--json"],
                "json's records would be mixed into it",
            ),
            (
                // Sent elsewhere, chrome no longer counts; json still does.
                &[
                    "run",
                    "--plugin",
                    "json",
                    "--plugin",
                    "chrome",
                    "--plugin",
                    "stats",
                    "--output",
                    "chrome=c.json",
                ],
                "json's records, a format for other programs, must have standard output to \
                 itself, but stats's report would go there too",
            ),
            (
                &["run", "--plugin", "json", "--plugin", "json"],
                "--plugin json: the same analyzer as --plugin json",
            ),
        ] {
            let out = run(args, &missing);
            let err = support::stderr(&out);
            assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
            assert!(out.stdout.is_empty(), "{args:?}");
            assert!(
                err.starts_with("simpletrace: ") && err.contains(message),
                "{args:?}:\n{err}"
            );
            assert!(!Path::new("c.json").exists());
        }
    }

    /// `--output KEY=FILE` gets what standard output would have had with
    /// that analyzer alone, records (in order, on any number of threads)
    /// and report; standard output keeps the rest as if it ran alone.
    #[test]
    fn output_sends_one_analyzer_to_a_file() {
        let dir = support::scratch("run_several_output");
        let file = dir.join("out");
        let to = |key: &str| format!("{key}={}", file.display());
        for files in traces() {
            for threads in ["1", "2"] {
                let par = ["-j", threads, "--chunk-size", "4096"];
                let with = |args: &[&str]| -> Vec<String> {
                    args.iter().chain(&par).map(|s| s.to_string()).collect()
                };
                let ok_with = |args: &[&str]| -> Vec<u8> {
                    let args = with(args);
                    let args: Vec<&str> = args.iter().map(String::as_str).collect();
                    ok(&args, &files)
                };
                for (name, command) in ALONE {
                    for other in ["stats", "print"] {
                        if other == *name {
                            continue;
                        }
                        let out = ok_with(&[
                            "run",
                            "--plugin",
                            name,
                            "--plugin",
                            other,
                            "--output",
                            &to(name),
                        ]);
                        let what = format!("{name} with {other}, -j{threads}");
                        support::assert_same_output(
                            &what,
                            &std::fs::read(&file).unwrap(),
                            &ok_with(command),
                        );
                        support::assert_same_output(
                            &what,
                            &out,
                            &ok_with(&["run", "--plugin", other]),
                        );
                    }
                }
                // A report in JSON: keyed, as `run --plugin stats --json`.
                let out = ok_with(&[
                    "run",
                    "--plugin",
                    "stats",
                    "--plugin",
                    "locks",
                    "--json",
                    "--output",
                    &to("stats"),
                ]);
                assert_eq!(
                    std::fs::read(&file).unwrap(),
                    ok_with(&["run", "--plugin", "stats", "--json"])
                );
                assert_eq!(out, ok_with(&["run", "--plugin", "locks", "--json"]));
                // Everything elsewhere: nothing on standard output.
                let out = ok_with(&["run", "--plugin", "chrome", "--output", &to("chrome")]);
                assert!(out.is_empty());
                // KEY=- is standard output, as without --output.
                let out = ok_with(&["run", "--plugin", "chrome", "--output", "chrome=-"]);
                assert_eq!(out, ok_with(&["json", "--format", "chrome"]));
            }
        }
        // No temporary file is left behind.
        let left: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, [OsStr::new("out")]);
    }

    /// An `--output` over an input of the run (by any name) is refused,
    /// as `filter -o` refuses it, and the input stays as it was; an
    /// unknown key and one file for two keys are usage errors.
    #[test]
    fn output_refusals() {
        let dir = support::scratch("run_several_output_refusals");
        let [events, trace] = super::sample_args();
        let copy = dir.join("trace");
        std::fs::copy(&trace, &copy).unwrap();
        let link = dir.join("link");
        std::os::unix::fs::symlink(&copy, &link).unwrap();
        let files = [events.clone(), copy.clone()];
        let before = std::fs::read(&copy).unwrap();
        for target in [&copy, &link, &events] {
            let out = run(
                &[
                    "run",
                    "--plugin",
                    "print",
                    "--plugin",
                    "stats",
                    "--output",
                    &format!("stats={}", target.display()),
                ],
                &files,
            );
            let err = support::stderr(&out);
            assert_eq!(out.status.code(), Some(1), "{err}");
            assert!(
                err.contains("refusing to write over an input of this run"),
                "{err}"
            );
            assert!(out.stdout.is_empty());
        }
        assert_eq!(std::fs::read(&copy).unwrap(), before);
        let out = run(
            &[
                "run", "--plugin", "print", "--plugin", "stats", "--output", "stat=x",
            ],
            &files,
        );
        let err = support::stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert_eq!(
            err,
            "simpletrace: --output: no analyzer of this run has the key 'stat' (its keys: \
             print, stats; the second analyzer of a name is NAME#2); did you mean stats?\n"
        );
        let x = dir.join("x");
        let out = run(
            &[
                "run",
                "--plugin",
                "print",
                "--plugin",
                "stats",
                "--output",
                &format!("print={}", x.display()),
                "--output",
                &format!("stats={}/./x", dir.display()),
            ],
            &files,
        );
        let err = support::stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains("name the same file"), "{err}");
        assert!(!x.exists());
        let out = run(
            &[
                "run", "--plugin", "stats", "--output", "stats=a", "--output", "stats=b",
            ],
            &files,
        );
        assert_eq!(out.status.code(), Some(2));
        assert!(support::stderr(&out).contains("is given twice"));
    }
}

/// `run ... --output KEY=FILE | head -1`: standard output closed before
/// the run's end is quiet success, and a file the run did not finish is
/// removed rather than left looking complete (nor its temporary file).
#[test]
fn closed_pipe_leaves_no_unfinished_output_file() {
    let dir = support::scratch("closed_pipe_output_file");
    let (events, trace) = support::samples::long_tick_trace(&dir);
    for (plugins, key) in [(["print", "stats"], "stats"), (["print", "json"], "json")] {
        let file = dir.join(key);
        let (first, out) = support::first_line_then_closed(
            support::bin()
                .args(["run", "--plugin", plugins[0], "--plugin", plugins[1]])
                .arg("--output")
                .arg(format!("{key}={}", file.display()))
                .args([&events, &trace]),
        );
        assert_eq!(first, b"tick 0.000 pid=1 n=0x0 s=b'some text'\n");
        assert_eq!(out.status.code(), Some(0), "{key}");
        assert_eq!(support::stderr(&out), "", "{key}");
        let left: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n != "te" && n != "trace")
            .collect();
        assert!(left.is_empty(), "{key}: {left:?}");
    }
}
