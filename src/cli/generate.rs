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

/// Renders the page of `cmd` (called `name`, as `man` shows it).
fn page(cmd: clap::Command, name: String) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd.name(name)).render(&mut buf)?;
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
    let cmd = cmd.bin_name("simpletrace");
    let Some(dir) = dir else {
        let buf = page(cmd, "simpletrace".into()).map_err(Failure::output)?;
        out.write_all(&buf).map_err(Failure::output)?;
        return out.flush().map_err(Failure::output);
    };
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::Io(e).context(format!("{}: ", dir.display()), ""))?;
    let mut pages = vec![("simpletrace".to_owned(), cmd.clone())];
    for sub in subcommands(&cmd) {
        pages.push((format!("simpletrace-{}", sub.get_name()), sub.clone()));
    }
    for (name, page_cmd) in pages {
        let bytes = page(page_cmd, name.clone()).map_err(Failure::output)?;
        let path = dir.join(format!("{name}.1"));
        write_page(&path, &bytes)?;
        writeln!(out, "{}", path.display()).map_err(Failure::output)?;
    }
    out.flush().map_err(Failure::output)
}
