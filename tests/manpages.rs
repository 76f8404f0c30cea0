//! `simpletrace man --dir`: one page per command (none for `help`), a
//! synopsis in the order the command line takes, and no reference to a
//! page that is not written.

use std::collections::BTreeSet;
use std::path::Path;

use crate::support;

/// The `name(1)` references of a roff page (`simpletrace\-stats(1)`), as
/// page names.
fn references(roff: &str) -> BTreeSet<String> {
    let text = roff.replace("\\-", "-");
    let mut found = BTreeSet::new();
    for (at, _) in text.match_indices("(1)") {
        let name: String = text[..at]
            .chars()
            .rev()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        if !name.is_empty() {
            found.insert(name);
        }
    }
    found
}

/// The lines of a page's SYNOPSIS section, without roff's escapes and
/// fonts.
fn synopsis(roff: &str) -> Vec<String> {
    roff.lines()
        .skip_while(|l| *l != ".SH SYNOPSIS")
        .skip(1)
        .take_while(|l| !l.starts_with(".SH"))
        .filter(|l| !l.starts_with('.'))
        .map(|l| {
            l.replace("\\fB", "")
                .replace("\\fI", "")
                .replace("\\fR", "")
                .replace("\\-", "-")
        })
        .collect()
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(format!("{name}.1"))).unwrap()
}

#[test]
fn one_page_per_command_with_a_true_synopsis_and_no_dangling_reference() {
    let dir = support::scratch("manpages").join("man1");
    let out = support::run(["man".as_ref(), "--dir".as_ref(), dir.as_os_str()]);
    assert!(out.status.success(), "{}", support::stderr(&out));

    // One page per command, none for help, nothing else.
    let cmd = simpletrace::cli::command(&[]);
    let commands: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_owned())
        .filter(|n| n != "help")
        .collect();
    assert!(commands.iter().any(|c| c == "stats"), "{commands:?}");
    let mut want: BTreeSet<String> = commands
        .iter()
        .map(|c| format!("simpletrace-{c}.1"))
        .collect();
    want.insert("simpletrace.1".into());
    let written: BTreeSet<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(written, want);

    // The main page: the drop-in form, then the command form, options
    // after the command (clap_mangen's own put `[subcommands]` after the
    // files).
    let main = read(&dir, "simpletrace");
    assert_eq!(
        synopsis(&main),
        [
            "simpletrace [OPTIONS] TRACE_EVENTS TRACE_FILE",
            "simpletrace COMMAND [OPTIONS] ...",
        ]
    );
    assert!(!main.contains("subcommands"), "{main}");

    // A command's page: the command as typed, its options, then the files.
    for c in &commands {
        let page = read(&dir, &format!("simpletrace-{c}"));
        assert!(
            page.contains(&format!(".TH simpletrace-{c} 1")),
            "{c}: {page}"
        );
        let lines = synopsis(&page);
        assert_eq!(lines.len(), 1, "{c}: {lines:?}");
        let line = &lines[0];
        assert!(line.starts_with(&format!("simpletrace {c} ")), "{line}");
        // One trace (the analyzers), or several (sql and parquet, with
        // the `sql` feature; sql's are optional, for --dataset, and
        // clap_mangen shows no repetition).
        if let Some(at) = line.find("TRACE_EVENTS") {
            let files = line[at..].trim_end();
            assert!(
                files == "TRACE_EVENTS> <TRACE_FILE>"
                    || files == "TRACE_EVENTS> <TRACE>"
                    || files == "TRACE_EVENTS] [TRACE]",
                "{c}: the files come last: {line}"
            );
        }
    }
    let stats = synopsis(&read(&dir, "simpletrace-stats")).join(" ");
    assert!(stats.contains("<TRACE_EVENTS> <TRACE_FILE>"), "{stats}");

    // Every page refers only to pages that are written, and the main page
    // to every command's.
    let mut referred = BTreeSet::new();
    for file in &written {
        let name = file.trim_end_matches(".1");
        let refs = references(&read(&dir, name));
        for r in &refs {
            assert!(
                written.contains(&format!("{r}.1")),
                "{file} refers to {r}(1)"
            );
        }
        if name != "simpletrace" {
            assert!(
                refs.contains("simpletrace"),
                "{file}: no SEE ALSO simpletrace(1)"
            );
        }
        referred.extend(refs);
    }
    assert!(!referred.contains("simpletrace-help"));
    for c in &commands {
        assert!(
            references(&main).contains(&format!("simpletrace-{c}")),
            "the main page does not list simpletrace-{c}(1)"
        );
    }

    // Printed alone, the main page names the commands as typed: it refers
    // to no page but its own.
    let out = support::run(["man"]);
    assert!(out.status.success());
    let alone = String::from_utf8(out.stdout).unwrap();
    let refs = references(&alone);
    assert!(refs.iter().all(|r| r == "simpletrace"), "{refs:?}");
    assert_eq!(synopsis(&alone), synopsis(&main));
    assert!(alone.contains("simpletrace stats"), "{alone}");
}
