//! `simpletrace completions SHELL` and `simpletrace man`: shell completion
//! scripts and manual pages, generated from the same clap definition the
//! command line is parsed with, so they never fall out of date.

use std::io::{self, Write};
use std::path::Path;

use clap_complete::Shell;

use super::error::{Error, Failure};
use crate::output::{OutputError, OutputFile};

/// Writes the completion script for `shell` to `out`.
pub(super) fn completions(
    shell: Shell,
    mut cmd: clap::Command,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, "simpletrace", &mut buf);
    out.write_all(&buf).map_err(Failure::output)?;
    out.flush().map_err(Failure::output)
}

/// The commands that get a page of their own: every subcommand but the
/// generated `help`.
fn subcommands(cmd: &clap::Command) -> impl Iterator<Item = &clap::Command> {
    cmd.get_subcommands().filter(|s| s.get_name() != "help")
}

/// The main page's synopsis: the drop-in form, then the command form
/// (options go after the command: before it they are the drop-in's).
/// clap_mangen's own puts `[subcommands]` after the two files.
const SYNOPSIS: &str = "simpletrace [OPTIONS] TRACE_EVENTS TRACE_FILE\n\
                        simpletrace COMMAND [OPTIONS] ...";

/// The manual's section.
const SECTION: &str = "1";

/// Writes one page file, whole or not at all.
fn write_page(path: &Path, bytes: &[u8]) -> Result<(), OutputError> {
    let file = OutputFile::create(path, &[])?;
    file.writer()?
        .write_all(bytes)
        .map_err(|source| OutputError::Io {
            path: path.to_owned(),
            doing: "writing",
            source,
        })?;
    file.commit()
}

/// One page to write.
struct Page {
    /// The page's name (`simpletrace-stats`), its file's name without
    /// `.1`.
    name: String,
    /// The command as clap_mangen renders it: named as typed
    /// (`simpletrace stats`) in the synopsis, as the page in the title.
    cmd: clap::Command,
}

/// The pages of `cmd` (built, named `simpletrace`): the main page, then
/// one per command.
fn pages(cmd: &clap::Command) -> (Page, Vec<Page>) {
    let main = cmd
        .clone()
        .disable_help_subcommand(true)
        .override_usage(SYNOPSIS);
    let subs = subcommands(cmd)
        .map(|sub| {
            let name = format!("simpletrace-{}", sub.get_name());
            let typed = format!("simpletrace {}", sub.get_name());
            Page {
                cmd: sub.clone().bin_name(typed).display_name(name.clone()),
                name,
            }
        })
        .collect();
    let main = Page {
        name: "simpletrace".into(),
        cmd: main,
    };
    (main, subs)
}

/// How the main page lists the commands.
#[derive(Clone, Copy)]
enum Listing {
    /// By their pages, `simpletrace-stats(1)`: those are written too.
    Pages,
    /// As typed, `simpletrace stats`: the main page alone is written.
    Names,
}

/// Renders `page`; the main page lists `commands` (`Some`), a command's
/// page refers to the main page. Every page another refers to is written
/// (there is none for `help`: `--help` is every command's own).
fn render(page: &Page, version: &str, commands: Option<(&[Page], Listing)>) -> io::Result<Vec<u8>> {
    use roff::{Roff, bold, roman};
    let man = clap_mangen::Man::new(page.cmd.clone())
        .title(page.name.clone())
        .section(SECTION)
        .source(format!("simpletrace {version}"));
    let mut buf = Vec::new();
    man.render_title(&mut buf)?;
    man.render_name_section(&mut buf)?;
    man.render_synopsis_section(&mut buf)?;
    man.render_description_section(&mut buf)?;
    man.render_options_section(&mut buf)?;
    let mut roff = Roff::new();
    if let Some((subs, listing)) = commands {
        roff.control("SH", ["COMMANDS"]);
        for sub in subs {
            roff.control("TP", []);
            match listing {
                Listing::Pages => roff.text([roman(format!("{}({SECTION})", sub.name))]),
                Listing::Names => roff.text([bold(sub.cmd.get_bin_name().unwrap_or_default())]),
            };
            if let Some(about) = sub.cmd.get_about() {
                roff.text([roman(about.to_string())]);
            }
        }
        if let Listing::Names = listing {
            roff.control("PP", []);
            roff.text([roman(
                "simpletrace COMMAND --help describes a command; \
                 simpletrace man --dir DIR writes a page for each.",
            )]);
        }
    }
    roff.to_writer(&mut buf)?;
    if page.cmd.get_after_help().is_some() || page.cmd.get_after_long_help().is_some() {
        man.render_extra_section(&mut buf)?;
    }
    let mut roff = Roff::new();
    if commands.is_none() {
        roff.control("SH", ["SEE ALSO"]);
        roff.text([roman(format!("simpletrace({SECTION})"))]);
    }
    roff.control("SH", ["VERSION"]);
    roff.text([roman(format!("v{version}"))]);
    roff.to_writer(&mut buf)?;
    Ok(buf)
}

/// Writes the manual page of `simpletrace` to `out`, or with `dir` one page
/// per command into that directory (`simpletrace.1`,
/// `simpletrace-stats.1`, ...), naming each file on `out`.
pub(super) fn man(
    cmd: clap::Command,
    dir: Option<&Path>,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    let mut cmd = cmd.bin_name("simpletrace");
    cmd.build();
    let version = cmd.get_version().unwrap_or_default().to_owned();
    let (main, subs) = pages(&cmd);
    let Some(dir) = dir else {
        let buf =
            render(&main, &version, Some((&subs, Listing::Names))).map_err(Failure::output)?;
        out.write_all(&buf).map_err(Failure::output)?;
        return out.flush().map_err(Failure::output);
    };
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::Io(e).context(format!("{}: ", dir.display()), ""))?;
    let mut written = vec![(
        main.name.clone(),
        render(&main, &version, Some((&subs, Listing::Pages))).map_err(Failure::output)?,
    )];
    for sub in &subs {
        let bytes = render(sub, &version, None).map_err(Failure::output)?;
        written.push((sub.name.clone(), bytes));
    }
    for (name, bytes) in written {
        let path = dir.join(format!("{name}.{SECTION}"));
        write_page(&path, &bytes)?;
        writeln!(out, "{}", path.display()).map_err(Failure::output)?;
    }
    out.flush().map_err(Failure::output)
}
