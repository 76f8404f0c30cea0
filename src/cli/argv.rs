//! The command line before clap reads it, for two mistakes clap cannot
//! explain here: options placed before the command (`simpletrace -j1
//! stats ...`), and a mistyped command (`simpletrace stat ...`). Both look
//! to clap like the command-less drop-in form, `simpletrace [OPTIONS]
//! TRACE_EVENTS TRACE_FILE`, whose first file is a word, and its message
//! ("the subcommand '...' cannot be used with") baffles.
//!
//! Nothing here changes a command line clap accepts: options are moved
//! after the command only when the line as typed fails to parse, so the
//! drop-in form reads a trace-events file called `stats` as before.

use std::ffi::OsString;
use std::path::Path;

use crate::syntax::did_you_mean;

/// The options before the first positional argument (each with its
/// value), and that argument's index; `None` when a word before it is not
/// an option of the command-less form (clap then says what is wrong), or
/// after `--`.
fn leading_options(cmd: &clap::Command, args: &[OsString]) -> Option<(Vec<OsString>, usize)> {
    let mut leading = Vec::new();
    let mut i = 1;
    while let Some(arg) = args.get(i) {
        let text = arg.to_str()?;
        let takes_value = if let Some(long) = text.strip_prefix("--") {
            if long.is_empty() {
                return None;
            }
            let (name, value) = match long.split_once('=') {
                Some((name, _)) => (name, true),
                None => (long, false),
            };
            let found = cmd.get_arguments().find(|a| a.get_long() == Some(name))?;
            found.get_action().takes_values() && !value
        } else if let Some(short) = text.strip_prefix('-').filter(|s| !s.is_empty()) {
            let mut chars = short.chars();
            let c = chars.next()?;
            let found = cmd.get_arguments().find(|a| a.get_short() == Some(c))?;
            let takes = found.get_action().takes_values();
            // `-j4` carries its value; a bundle of flags is left to clap.
            if !takes && chars.next().is_some() {
                return None;
            }
            takes && short.len() == c.len_utf8()
        } else {
            return Some((leading, i));
        };
        leading.push(arg.clone());
        i += 1;
        if takes_value {
            leading.push(args.get(i)?.clone());
            i += 1;
        }
    }
    None
}

/// Whether `word` names a command (clap's own `help` too, which it adds
/// only when it parses).
fn is_command(cmd: &clap::Command, word: &str) -> bool {
    word == "help" || cmd.find_subcommand(word).is_some()
}

/// The names of the commands (clap's own `help` too).
fn command_names(cmd: &clap::Command) -> Vec<&str> {
    cmd.get_subcommands()
        .filter(|s| !s.is_hide_set())
        .map(clap::Command::get_name)
        .chain(["help"])
        .collect()
}

/// `args` (the program name first) with the options before the command
/// moved after it, when there are any and a command follows them:
/// `simpletrace -j1 stats ...` becomes `simpletrace stats -j1 ...`. The
/// options every command shares (filters, `-j`, `--color`...) are then
/// where clap takes them.
pub(super) fn options_after_command(
    cmd: &clap::Command,
    args: &[OsString],
) -> Option<Vec<OsString>> {
    let (leading, at) = leading_options(cmd, args)?;
    let word = args.get(at)?.to_str()?;
    if leading.is_empty() || !is_command(cmd, word) {
        return None;
    }
    let mut moved: Vec<OsString> = args.iter().take(1).cloned().collect();
    moved.push(args.get(at)?.clone());
    moved.extend(leading);
    moved.extend(args.iter().skip(at + 1).cloned());
    Some(moved)
}

/// The message for a first word that is not a command and not a file
/// either, when it is close to a command's name: `unknown command 'stat';
/// did you mean 'stats'?`. A word that names an existing file is the
/// drop-in form's trace-events file, and is left alone.
pub(super) fn mistyped_command(cmd: &clap::Command, args: &[OsString]) -> Option<String> {
    let (_, at) = leading_options(cmd, args)?;
    let word = args.get(at)?.to_str()?;
    if is_command(cmd, word) || word == "-" || Path::new(word).exists() {
        return None;
    }
    let names = command_names(cmd);
    let suggestion = did_you_mean(word, names.iter().copied())?;
    Some(format!(
        "unknown command '{word}'; did you mean '{suggestion}'?"
    ))
}

/// The message for a line clap refused whose first word is neither a
/// command nor an existing file: the word is most likely a command the
/// user thinks exists.
pub(super) fn unknown_command(cmd: &clap::Command, args: &[OsString]) -> Option<String> {
    let (_, at) = leading_options(cmd, args)?;
    let word = args.get(at)?.to_str()?;
    if is_command(cmd, word) || word == "-" || Path::new(word).exists() {
        return None;
    }
    Some(format!(
        "unknown command '{word}' (the commands: {}; without a command, simpletrace \
         TRACE_EVENTS TRACE_FILE prints the trace, and '{word}' is no file either)",
        command_names(cmd).join(", ")
    ))
}

/// The message for a line clap refused that reads as the drop-in form
/// (its first word a file) with a third positional argument: clap takes
/// the third word for a command and says it "cannot be used with" the
/// files.
pub(super) fn extra_argument(cmd: &clap::Command, args: &[OsString]) -> Option<String> {
    let (_, at) = leading_options(cmd, args)?;
    let first = args.get(at)?.to_str()?;
    if is_command(cmd, first) || !(first == "-" || Path::new(first).exists()) {
        return None;
    }
    let extra = args.get(at + 2)?.to_string_lossy();
    let command = if is_command(cmd, &extra) {
        format!("; a command comes first: simpletrace {extra} TRACE_EVENTS TRACE_FILE")
    } else {
        String::new()
    };
    Some(format!(
        "unexpected argument '{extra}' after the two files: without a command, simpletrace \
         takes TRACE_EVENTS TRACE_FILE and nothing after them{command}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<OsString> {
        std::iter::once("simpletrace")
            .chain(line.split_whitespace())
            .map(OsString::from)
            .collect()
    }

    fn moved(line: &str) -> Option<String> {
        let cmd = super::super::command(&[]);
        options_after_command(&cmd, &args(line)).map(|a| {
            a.iter()
                .skip(1)
                .map(|s| s.to_str().unwrap())
                .collect::<Vec<_>>()
                .join(" ")
        })
    }

    /// Options before a command go after it, each with its value.
    #[test]
    fn options_move_after_the_command() {
        assert_eq!(moved("-j1 stats te t").as_deref(), Some("stats -j1 te t"));
        assert_eq!(
            moved("-j 2 --pid 8893 --no-header stats --top 3 te t").as_deref(),
            Some("stats -j 2 --pid 8893 --no-header --top 3 te t")
        );
        assert_eq!(
            moved("--color=always --events -qemu_* print te t").as_deref(),
            Some("print --color=always --events -qemu_* te t")
        );
        // Nothing to move, no command, an option the command-less form
        // does not have, `--`: left to clap.
        for line in [
            "stats te t",
            "--no-header te t",
            "--bogus stats te t",
            "-- stats te t",
            "-j",
            "--pid",
        ] {
            assert_eq!(moved(line), None, "{line}");
        }
    }

    /// A word close to a command that is no file gets a suggestion; a file
    /// of that name is the drop-in form's.
    #[test]
    fn mistyped_commands() {
        let cmd = super::super::command(&[]);
        let mistyped = |line: &str| mistyped_command(&cmd, &args(line));
        assert_eq!(
            mistyped("stat te t").as_deref(),
            Some("unknown command 'stat'; did you mean 'stats'?")
        );
        assert_eq!(
            mistyped("-j1 --pid 3 lock te t").as_deref(),
            Some("unknown command 'lock'; did you mean 'locks'?")
        );
        assert_eq!(
            mistyped("filtr -o x te t").as_deref(),
            Some("unknown command 'filtr'; did you mean 'filter'?")
        );
        for line in [
            "stats te t",
            "te t",
            "- t",
            "zzzzzz te t",
            "--bogus stat te t",
        ] {
            assert_eq!(mistyped(line), None, "{line}");
        }
        // An existing file is never a mistyped command.
        let here = env!("CARGO_MANIFEST_DIR");
        let file = format!("{here}/Cargo.toml");
        assert_eq!(mistyped(&format!("{file} t")), None);
        assert!(
            unknown_command(&cmd, &args("zzzzzz te t"))
                .unwrap()
                .starts_with("unknown command 'zzzzzz' (the commands: print, stats, locks,")
        );
        assert_eq!(unknown_command(&cmd, &args(&format!("{file} t x"))), None);
    }
}
