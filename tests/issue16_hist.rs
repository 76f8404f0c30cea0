//! Issue 16, items 9, 10 and 13, on the shared QEMU corpus: `hist`'s
//! bucket labels and open begins, `locks`' lost events and `--top`, and
//! the `hist --svg` plot.

use std::collections::HashSet;
use std::path::PathBuf;

use serde_json::Value;

use crate::support;

/// Runs `simpletrace ARGS... trace-events-all TRACE` in the corpus, or
/// `None` when the corpus is missing (said once on standard error).
fn run(args: &[&str], trace: &str) -> Option<String> {
    let dir = support::corpus()?;
    let mut all: Vec<PathBuf> = args.iter().map(PathBuf::from).collect();
    all.extend([dir.join("trace-events-all"), dir.join(trace)]);
    let out = support::run(&all);
    assert!(out.status.success(), "{args:?}: {}", support::stderr(&out));
    Some(String::from_utf8(out.stdout).unwrap())
}

const POOL: &str = "thread_pool_submit_aio:req,thread_pool_complete_aio:req";

/// `--linear 1ns` wrote 14501ns and 14502ns both as `[14.5us]`: every
/// bucket's label, in the bars and in `--table`, is now its own.
#[test]
fn linear_1ns_labels_are_distinct() {
    for extra in [&[][..], &["--table"][..]] {
        let mut args = vec!["hist", "--latency", POOL, "--linear", "1ns"];
        args.extend(extra);
        let Some(text) = run(&args, "medium-rand.bin") else {
            return;
        };
        let labels: Vec<&str> = text
            .lines()
            .map(|l| l.trim_start_matches("| "))
            .filter(|l| l.starts_with('['))
            .map(|l| l.split([' ', '|']).next().unwrap())
            .collect();
        // 5914 pairs in many distinct nanoseconds.
        assert!(labels.len() > 4000, "{extra:?}: {} labels", labels.len());
        let mut seen = HashSet::new();
        for l in &labels {
            assert!(seen.insert(*l), "{extra:?}: {l} twice");
        }
        assert!(seen.contains("[14.501us]") || labels.iter().any(|l| l.contains(".5")));
    }
}

/// Open begins say when they began as every report writes a time
/// (SECONDS.MICROS), not in bare nanoseconds.
#[test]
fn open_begins_in_seconds() {
    let Some(text) = run(&["hist", "--latency", POOL], "dropped.bin") else {
        return;
    };
    let open: Vec<&str> = text.lines().filter(|l| l.contains("began at")).collect();
    assert_eq!(
        open.first().copied(),
        Some(
            "  pid 10098 req=0x560757521f90: began at 743.528834, open for 3.8s until the last begin or end record"
        ),
        "{text}"
    );
    assert!(open.iter().all(|l| !l.contains(" ns,")), "{open:?}");
}

/// `locks` on a trace that lost events says so, and what it means for
/// its figures: how many waits and holds were timed across a loss.
#[test]
fn locks_lost_events_on_dropped_bin() {
    let Some(text) = run(&["locks"], "dropped.bin") else {
        return;
    };
    assert_eq!(
        text.lines().nth(1),
        Some(
            "Events were lost: 46 dropped-events records, 3432595 events dropped; 1525 waits and 1 hold span a loss and may pair the wrong events; lost records can also leave requests waiting and mutexes held at the end"
        ),
        "{text}"
    );
    let json = run(&["locks", "--json"], "dropped.bin").unwrap();
    let v: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["dropped_records"], 46);
    assert_eq!(v["waits_across_loss"], 1525);
    assert_eq!(v["holds_across_loss"], 1);
    // A trace that lost nothing has none across a loss, and no warning.
    let clean = run(&["locks", "--json"], "medium-rand.bin").unwrap();
    let v: Value = serde_json::from_str(&clean).unwrap();
    assert_eq!(
        (
            v["waits_across_loss"].as_u64(),
            v["holds_across_loss"].as_u64()
        ),
        (Some(0), Some(0))
    );
}

/// `--top 3` lists 3 requests still waited for (it listed all 64) and
/// says how many more, as it does for the table's mutexes.
#[test]
fn locks_top_limits_the_still_waited_list() {
    let Some(text) = run(&["locks", "--top", "3"], "dropped.bin") else {
        return;
    };
    let part: Vec<&str> = text
        .lines()
        .skip_while(|l| *l != "Still waited for when the trace ends:")
        .skip(1)
        .collect();
    assert_eq!(part.len(), 4, "{text}");
    assert!(
        part[..3].iter().all(|l| l.contains(", waiting for ")),
        "{part:?}"
    );
    assert_eq!(part[3], "(61 more requests not shown)");
    let all = run(&["locks"], "dropped.bin").unwrap();
    let waiting = all.lines().filter(|l| l.contains(", waiting for ")).count();
    assert_eq!(waiting, 64);
    assert!(!all.contains("more requests not shown"));
}

/// The plot of a real trace: an x-axis title naming the quantity and its
/// unit, counts that never touch one another, and every bar with samples
/// visible.
#[test]
fn svg_of_a_real_trace() {
    let dir = support::scratch("issue16_svg");
    let svg = dir.join("plot.svg");
    let svg_arg = svg.to_str().unwrap();
    let args = [
        "hist",
        "--latency",
        POOL,
        "--linear",
        "20us",
        "--svg",
        svg_arg,
    ];
    if run(&args, "medium-rand.bin").is_none() {
        return;
    }
    let text = std::fs::read_to_string(&svg).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap();
    let root = doc.root_element();
    let texts: Vec<&str> = root
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .collect();
    assert!(
        texts.contains(&"latency: durations in ns, us, ms, s; buckets 20us wide"),
        "{texts:?}"
    );
    let heights: Vec<f64> = root
        .descendants()
        .filter(|n| n.has_tag_name("rect") && n.attribute("fill") == Some("#4c78a8"))
        .filter(|n| {
            !n.first_element_child()
                .unwrap()
                .text()
                .unwrap()
                .ends_with(": 0")
        })
        .map(|n| n.attribute("height").unwrap().parse().unwrap())
        .collect();
    assert!(heights.len() > 100);
    assert!(heights.iter().all(|&h| h >= 2.0), "{heights:?}");
    // Upright counts a line wide at least 9px apart along the axis.
    let xs: Vec<f64> = root
        .descendants()
        .filter(|n| n.attribute("class") == Some("count"))
        .map(|n| n.attribute("x").unwrap().parse().unwrap())
        .collect();
    assert!(xs.len() > 10);
    assert!(xs.windows(2).all(|w| w[1] - w[0] >= 9.0), "{xs:?}");
}
