//! `simpletrace alloc`: the malloc/free correlator's arguments and run.

use clap::Args;

use super::error::Failure;
use super::{Config, OutputArgs, Reports, TraceArgs, analyze};
use crate::analyzers::Driver;
use crate::analyzers::alloc::{
    AllocAnalyzer, AllocOptions, DEFAULT_FREE_HISTORY, RuleKind, RuleSpec,
};
use crate::format::excerpt::Excerpt;

/// `alloc --help`'s text after the options: the built-in rules, listed
/// from [`RuleSpec::builtins`] (the one table, `BUILTIN_RULES`), then
/// [`ALLOC_EXAMPLES`].
pub(super) fn after_help() -> String {
    let builtins = RuleSpec::builtins();
    let mut text = String::from(
        "Built-in rules (used when the trace-events file declares the event with these arguments):\n",
    );
    for kind in [RuleKind::Alloc, RuleKind::Realloc, RuleKind::Free] {
        let label = kind.name();
        for (i, rule) in builtins.iter().filter(|r| r.kind == kind).enumerate() {
            let label = if i == 0 { label } else { "" };
            text.push_str(&format!("  {label:<8}{rule}\n"));
        }
    }
    text.push('\n');
    text.push_str(ALLOC_EXAMPLES);
    text
}

/// The examples of `alloc --help`.
const ALLOC_EXAMPLES: &str = "\
Examples:
  simpletrace alloc trace-events-all trace-12345
      Leaks, unknown and double frees, live bytes and lifetimes of QEMU's
      allocator events.
  simpletrace alloc --top 30 --pid 4242 trace-events-all trace-12345
      Thirty entries per list, one process only.
  simpletrace alloc --alloc my_pool_get:ptr=obj,size=len --free my_pool_put:ptr=obj \\
      trace-events-all trace-12345
      The events of an allocator of your own, besides the built-in ones.
  simpletrace alloc --no-builtin --realloc buf_grow:old=p,new=q,size=n --free buf_free:ptr=p \\
      trace-events-all trace-12345
      Only your rules.
  simpletrace alloc --json trace-events-all trace-12345 | jq '.leaks.biggest[0]'
      The same figures as JSON.";

/// What `alloc` takes.
#[derive(Debug, Clone, Args)]
pub(super) struct AllocArgs {
    /// An allocation event: which of its arguments is the pointer returned
    /// and which the size (optional). Repeatable. User rules add to the
    /// built-in ones and replace the built-in rule of the same event.
    #[arg(long = "alloc", value_name = "EVENT:ptr=ARG[,size=ARG]", value_parser = parse_alloc)]
    allocs: Vec<RuleSpec>,
    /// A free event: which argument is the pointer freed, and optionally
    /// a size to check against the allocation's. Repeatable.
    #[arg(long = "free", value_name = "EVENT:ptr=ARG[,size=ARG]", value_parser = parse_free)]
    frees: Vec<RuleSpec>,
    /// A realloc event: the pointer given, the pointer returned and the new
    /// size. realloc(NULL, n) allocates; realloc(p, 0) returning NULL frees
    /// p. Repeatable.
    #[arg(long = "realloc", value_name = "EVENT:old=ARG,new=ARG,size=ARG", value_parser = parse_realloc)]
    reallocs: Vec<RuleSpec>,
    /// Use only the rules given with --alloc, --free and --realloc.
    #[arg(long)]
    no_builtin: bool,
    /// Entries in each list: leak sizes, biggest leaks, unknown frees,
    /// double frees... (a number, or 'all'). Counts are always complete.
    #[arg(long, value_name = "N", default_value = "10", value_parser = parse_top)]
    top: usize,
    /// Freed pointers remembered to tell a double free from a free of a
    /// pointer never seen; the oldest are forgotten first.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_FREE_HISTORY)]
    free_history: usize,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    live: super::args::LiveArgs,
    #[command(flatten)]
    pub(super) trace: TraceArgs,
}

fn parse_alloc(s: &str) -> Result<RuleSpec, String> {
    RuleSpec::parse(RuleKind::Alloc, s).map_err(|e| e.to_string())
}

fn parse_free(s: &str) -> Result<RuleSpec, String> {
    RuleSpec::parse(RuleKind::Free, s).map_err(|e| e.to_string())
}

fn parse_realloc(s: &str) -> Result<RuleSpec, String> {
    RuleSpec::parse(RuleKind::Realloc, s).map_err(|e| e.to_string())
}

fn parse_top(s: &str) -> Result<usize, String> {
    if s == "all" {
        return Ok(usize::MAX);
    }
    s.parse()
        .map_err(|_| format!("{} is not a number of entries (or 'all')", Excerpt::new(s)))
}

/// Runs `alloc`. The analyzer checks its rules against the trace-events
/// file when the run starts, before any record is read; built-in rules
/// that do not fit their declarations come back as warnings.
pub(super) fn run(args: &AllocArgs) -> Result<Vec<String>, Failure> {
    let rules: Vec<RuleSpec> = args
        .allocs
        .iter()
        .chain(&args.frees)
        .chain(&args.reallocs)
        .cloned()
        .collect();
    if args.no_builtin && rules.is_empty() {
        return Err(Failure::invalid(
            "--no-builtin leaves no rule: give --alloc, --free or --realloc rules".into(),
        ));
    }
    let config = Config::from_args_live(&args.trace, &args.live)?;
    let mut driver = Driver::new();
    driver.add(AllocAnalyzer::new(AllocOptions {
        rules,
        builtins: !args.no_builtin,
        top: args.top,
        free_history: args.free_history,
    }));
    analyze(&config, Reports::json(args.output.json), driver)
}

#[cfg(test)]
mod tests {
    use super::super::{Cli, Command};
    use clap::Parser;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(
            ["simpletrace", "alloc"]
                .into_iter()
                .chain(args.iter().copied()),
        )
    }

    fn alloc_args(args: &[&str]) -> super::AllocArgs {
        match parse(args).map(|c| c.command) {
            Ok(Some(Command::Alloc(a))) => a,
            other => panic!("{other:?}"),
        }
    }

    /// `alloc --help` lists the built-in rules from the one table: each
    /// once, under its kind, and nothing else (issue 14, item 6).
    #[test]
    fn help_lists_the_builtin_rules_of_the_table() {
        let mut cmd = super::super::command(&[]);
        let help = cmd
            .find_subcommand_mut("alloc")
            .unwrap()
            .render_long_help()
            .to_string();
        let start = help.find("Built-in rules").unwrap();
        let end = start + help[start..].find("\n\n").unwrap();
        let mut listed = Vec::new();
        let mut kind = "";
        for line in help[start..end].lines().skip(1) {
            let words: Vec<&str> = line.split_whitespace().collect();
            let rules = match words.as_slice() {
                [k, rules @ ..] if !k.contains(':') => {
                    kind = k;
                    rules
                }
                rules => rules,
            };
            listed.extend(rules.iter().map(|r| (kind.to_owned(), (*r).to_owned())));
        }
        let mut table: Vec<(String, String)> = crate::analyzers::alloc::BUILTIN_RULES
            .iter()
            .zip(super::RuleSpec::builtins())
            .map(|(b, spec)| (b.kind.name().to_owned(), spec.to_string()))
            .collect();
        table.sort();
        listed.sort();
        assert_eq!(listed, table, "{help}");
    }

    #[test]
    fn defaults() {
        let a = alloc_args(&["te", "t"]);
        assert!(a.allocs.is_empty() && a.frees.is_empty() && a.reallocs.is_empty());
        assert!(!a.no_builtin && !a.output.json);
        assert_eq!(a.top, 10);
        assert_eq!(a.free_history, super::DEFAULT_FREE_HISTORY);
        assert_eq!(a.trace.trace_file, Some("t".into()));
    }

    #[test]
    fn rules_and_options() {
        let a = alloc_args(&[
            "--alloc",
            "a:ptr=p,size=n",
            "--alloc",
            "b:ptr=q",
            "--free",
            "f:ptr=p",
            "--realloc",
            "r:old=o,new=n,size=s",
            "--no-builtin",
            "--top",
            "all",
            "--free-history",
            "5",
            "--json",
            "--pid",
            "7",
            "te",
            "t",
        ]);
        let events: Vec<&str> = a.allocs.iter().map(|r| r.event.as_str()).collect();
        assert_eq!(events, ["a", "b"]);
        assert_eq!(a.allocs[0].arg("size"), Some("n"));
        assert_eq!(a.frees[0].arg("ptr"), Some("p"));
        assert_eq!(a.reallocs[0].arg("new"), Some("n"));
        assert!(a.no_builtin && a.output.json);
        assert_eq!((a.top, a.free_history), (usize::MAX, 5));
        assert_eq!(a.trace.filters.pid, [7]);
    }

    #[test]
    fn malformed_rules_are_usage_errors() {
        for bad in [
            &["--alloc", "noargs", "te", "t"][..],
            &["--alloc", "a:size=n", "te", "t"][..],
            &["--free", "f:ptr", "te", "t"][..],
            &["--realloc", "r:old=o,new=n", "te", "t"][..],
            &["--free", "f:ptr=p,old=q", "te", "t"][..],
            &["--top", "many", "te", "t"][..],
        ] {
            let e = parse(bad).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{bad:?}");
        }
        let e = parse(&["--realloc", "r:old=o,new=n", "te", "t"]).unwrap_err();
        assert!(
            e.to_string()
                .contains("--realloc 'r:old=o,new=n': 'size=ARG' is missing"),
            "{e}"
        );
    }
}
