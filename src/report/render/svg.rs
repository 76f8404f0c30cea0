//! A [`Plot`] as SVG: one document of stacked bar charts, a panel per
//! histogram, under the report's title, its lost-events warning and its
//! "N more not shown" note in the words of the text report.

use std::io::{self, Write};

use super::{lost_events, more};
use crate::analyzers::histogram::{Scale, Unit, bucket_label};
use crate::analyzers::human::human;
use crate::report::Plot;

/// Buckets beyond which plots list only the non-empty ones.
const MAX_FILLED: usize = 200;

/// Escapes text for SVG content and attribute values.
fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 does not allow.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// The advance of a character of the small (9px) monospace text of the
/// counts and bucket labels: about 0.6 em.
const CHAR: f64 = 5.5;
/// The height a line of that text takes.
const LINE: f64 = 9.0;
/// The least height of a bar with samples in it, so that a bucket of one
/// sample among thousands still shows.
const MIN_BAR: f64 = 2.0;
/// The least distance along the x axis between two bucket labels written
/// at 45 degrees: their lines are then `LINE` apart and do not touch.
const LABEL_GAP: f64 = LINE * std::f64::consts::SQRT_2;

/// How the counts above the bars are written, chosen once per plot from
/// the width of a bar and the longest count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CountLabels {
    /// Level, when the longest count fits in a bar's width.
    Level,
    /// Upright (turned 90 degrees), when a bar is at least a line wide.
    Upright,
    /// Upright, but only where a label touches neither another label nor
    /// a neighbouring bar (bars narrower than a line); the others are in
    /// the bars' tooltips.
    Thinned,
}

impl CountLabels {
    fn choose(bar: usize, digits: usize) -> CountLabels {
        if digits as f64 * CHAR + 2.0 <= bar as f64 {
            CountLabels::Level
        } else if bar as f64 >= LINE + 1.0 {
            CountLabels::Upright
        } else {
            CountLabels::Thinned
        }
    }

    /// The room above the tallest bar its label needs.
    fn headroom(self, digits: usize) -> f64 {
        match self {
            CountLabels::Level => LINE + 4.0,
            CountLabels::Upright | CountLabels::Thinned => digits as f64 * CHAR + 6.0,
        }
    }

    /// The box `[x0, x1] x [y0, y1]` the count `text` takes above a bar
    /// centred on `cx` whose top is at `top`.
    fn label_box(self, cx: f64, top: f64, text: &str) -> [f64; 4] {
        let len = text.chars().count() as f64 * CHAR;
        match self {
            CountLabels::Level => [cx - len / 2.0, cx + len / 2.0, top - 3.0 - LINE, top - 3.0],
            CountLabels::Upright | CountLabels::Thinned => {
                [cx - LINE / 2.0, cx + LINE / 2.0, top - 3.0 - len, top - 3.0]
            }
        }
    }
}

/// Whether two boxes `[x0, x1, y0, y1]` overlap.
fn overlap(a: [f64; 4], b: [f64; 4]) -> bool {
    a[0] < b[1] && b[0] < a[1] && a[2] < b[3] && b[2] < a[3]
}

/// The x axis's title: what the samples are, in which unit, in which
/// buckets (`latency: durations in ns, us, ms, s; log2 buckets`).
fn axis_title(quantity: Option<&str>, unit: Unit, scale: Option<Scale>) -> String {
    let what = quantity.unwrap_or("value");
    let unit_words = match unit {
        Unit::Nanoseconds => "durations in ns, us, ms, s",
        Unit::Bytes => "sizes in B, KiB, MiB, GiB",
        Unit::Count => "plain numbers",
    };
    match scale {
        Some(Scale::Log2) => format!("{what}: {unit_words}; log2 buckets"),
        Some(Scale::Linear { step }) => {
            format!(
                "{what}: {unit_words}; buckets {} wide",
                human(i128::from(step), unit)
            )
        }
        None => format!("{what}: {unit_words}"),
    }
}

/// Writes `plot` as one SVG document: its title, its lost-events warning
/// (the text report's words, in a warning colour), a bar chart per panel
/// (heading, summary, a count axis, the bars with their counts above,
/// bucket labels below, the x axis's title naming the quantity and its
/// unit), stacked, and the note of the histograms left out under them.
/// The counts are level, upright or thinned and the bucket labels thinned
/// so that no two touch, and a bar with samples is never thinner than
/// `MIN_BAR`. The panels are made twice (for the size, then to draw), so
/// none is held.
pub fn write_svg(plot: &Plot<'_>, out: &mut dyn Write) -> io::Result<()> {
    const RIGHT: usize = 20;
    const TITLE: usize = 36;
    const HEAD: usize = 44;
    const PLOT: usize = 200;
    /// A line of a note (the lost events, the histograms left out).
    const NOTE: usize = 16;
    let title = &*plot.title;
    let unit = plot.unit;
    let lost = plot.lost.as_ref().map(lost_events);
    let left_out = plot.more.as_ref().map(more);
    let (mut count, mut most_bars, mut longest) = (0usize, 0usize, 0usize);
    let (mut longest_label, mut digits, mut scale) = (3usize, 1usize, None);
    for note in lost.iter().chain(&left_out) {
        longest = longest.max(note.chars().count());
    }
    for panel in plot.panels() {
        count += 1;
        let h = panel.histogram;
        scale = Some(h.scale());
        let mut rows = 0;
        for b in h.rows(MAX_FILLED) {
            rows += 1;
            if let Some(b) = b {
                longest_label =
                    longest_label.max(bucket_label(h.scale(), &b, unit).chars().count());
                digits = digits.max(b.count.to_string().len());
            }
        }
        most_bars = most_bars.max(rows);
        longest = longest
            .max(panel.label.chars().count())
            .max(panel.summary.chars().count());
    }
    let axis = axis_title(plot.quantity.as_deref(), unit, scale);
    let most_bars = most_bars.max(1);
    let bar = (720 / most_bars).clamp(4, 40);
    let counts = CountLabels::choose(bar, digits);
    let headroom = counts.headroom(digits);
    // The bucket labels hang at 45 degrees under the axis: as deep (and
    // as far left of their bar) as they are long over the square root of
    // two.
    let drop = (longest_label as f64 * CHAR / std::f64::consts::SQRT_2).ceil() as usize + 16;
    let left = 70usize.max(drop);
    let labels = drop + 24;
    let panel_height = HEAD + PLOT + labels;
    // Wide enough for the bars and the longest line of text (monospace:
    // about 0.62 em per character).
    let text_width = (title.chars().count() * 81 / 10)
        .max(longest * 7)
        .max(axis.chars().count() * 7)
        + 20;
    let width = (left + most_bars * bar + RIGHT).max(640).max(text_width);
    // The panels start under the title and the lost-events warning; the
    // note of the histograms left out goes under them.
    let head = TITLE + if lost.is_some() { NOTE } else { 0 };
    let foot = if left_out.is_some() { NOTE + 8 } else { 0 };
    let height = head + panel_height * count.max(1) + foot;
    writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="monospace" font-size="11">"#
    )?;
    writeln!(out, "<title>{}</title>", xml_escape(title))?;
    writeln!(
        out,
        r#"<rect x="0" y="0" width="{width}" height="{height}" fill="white"/>"#
    )?;
    writeln!(
        out,
        r#"<text x="10" y="22" font-size="13" font-weight="bold">{}</text>"#,
        xml_escape(title)
    )?;
    if let Some(lost) = &lost {
        writeln!(
            out,
            r##"<text x="10" y="{}" fill="#b35900" font-weight="bold">{}</text>"##,
            TITLE + 4,
            xml_escape(lost)
        )?;
    }
    if count == 0 {
        writeln!(out, r#"<text x="10" y="{}">no samples</text>"#, head + 24)?;
    }
    for (p, panel) in plot.panels().enumerate() {
        let (label, summary, h) = (&panel.label, &panel.summary, panel.histogram);
        let top = head + p * panel_height;
        let plot_top = top + HEAD;
        let base = plot_top + PLOT;
        // The counts, a number per row (0 for a gap), to place each
        // count's label clear of its neighbours.
        let row_counts: Vec<u64> = h
            .rows(MAX_FILLED)
            .map(|r| r.map_or(0, |b| b.count))
            .collect();
        let rows = row_counts.len();
        let most = row_counts.iter().copied().max().unwrap_or(0).max(1);
        // The tallest bar leaves room above it for its count.
        let reach = PLOT as f64 - headroom;
        let bar_height = |n: u64| {
            if n == 0 {
                0.0
            } else {
                (n as f64 / most as f64 * reach).max(MIN_BAR)
            }
        };
        writeln!(out, "<g>")?;
        if !label.is_empty() {
            writeln!(
                out,
                r#"<text x="10" y="{}" font-weight="bold">{}</text>"#,
                top + 14,
                xml_escape(label)
            )?;
        }
        writeln!(
            out,
            r##"<text x="10" y="{}" fill="#444">{}</text>"##,
            top + 30,
            xml_escape(summary)
        )?;
        // Axes, with the count scale at 0, half and the most.
        let right = left + rows * bar;
        writeln!(
            out,
            r#"<line x1="{left}" y1="{plot_top}" x2="{left}" y2="{base}" stroke="black"/>"#
        )?;
        writeln!(
            out,
            r#"<line x1="{left}" y1="{base}" x2="{right}" y2="{base}" stroke="black"/>"#
        )?;
        for (frac, value) in [(0.0, 0), (0.5, most / 2), (1.0, most)] {
            let y = base as f64 - frac * reach;
            writeln!(
                out,
                r#"<text x="{}" y="{:.1}" text-anchor="end">{value}</text>"#,
                left - 6,
                y + 4.0
            )?;
            if frac > 0.0 {
                writeln!(
                    out,
                    r##"<line x1="{left}" y1="{y:.1}" x2="{right}" y2="{y:.1}" stroke="#ddd"/>"##
                )?;
            }
        }
        writeln!(
            out,
            r#"<text x="14" y="{}" transform="rotate(-90 14 {})" text-anchor="middle">count</text>"#,
            plot_top + PLOT / 2,
            plot_top + PLOT / 2
        )?;
        // Bucket labels every `every` bars, far enough apart not to touch.
        let every = (LABEL_GAP / bar as f64).ceil().max(1.0) as usize;
        let mut placed: Option<[f64; 4]> = None;
        for (i, row) in h.rows(MAX_FILLED).enumerate() {
            let x = left + i * bar;
            let cx = x as f64 + bar as f64 / 2.0;
            let label_text = match row {
                Some(b) => {
                    let height = bar_height(b.count);
                    let range = bucket_label(h.scale(), &b, unit);
                    writeln!(
                        out,
                        r##"<rect x="{}" y="{:.1}" width="{}" height="{height:.1}" fill="#4c78a8"><title>{}: {}</title></rect>"##,
                        x + 1,
                        base as f64 - height,
                        bar.saturating_sub(2).max(1),
                        xml_escape(&range),
                        b.count
                    )?;
                    if b.count > 0 {
                        let text = b.count.to_string();
                        let bar_top = base as f64 - height;
                        let bx = counts.label_box(cx, bar_top, &text);
                        if counts != CountLabels::Thinned
                            || clear(
                                bx,
                                placed,
                                i,
                                &row_counts,
                                |n| base as f64 - bar_height(n),
                                left,
                                bar,
                            )
                        {
                            placed = Some(bx);
                            write_count(out, counts, cx, bar_top, &text)?;
                        }
                    }
                    range
                }
                None => "...".to_owned(),
            };
            if i % every == 0 {
                let ly = base + 12;
                writeln!(
                    out,
                    r#"<text x="{cx:.1}" y="{ly}" transform="rotate(-45 {cx:.1} {ly})" text-anchor="end" font-size="9">{}</text>"#,
                    xml_escape(&label_text)
                )?;
            }
        }
        writeln!(
            out,
            r#"<text x="{:.1}" y="{}" text-anchor="middle" class="axis-title">{}</text>"#,
            (left + right.max(left + 1)) as f64 / 2.0,
            base + labels - 8,
            xml_escape(&axis)
        )?;
        writeln!(out, "</g>")?;
    }
    if let Some(note) = &left_out {
        writeln!(
            out,
            r#"<text x="10" y="{}">{}</text>"#,
            head + panel_height * count.max(1) + NOTE,
            xml_escape(note)
        )?;
    }
    out.write_all(b"</svg>\n")
}

/// Whether a thinned count's label box `bx` over row `i` is clear of the
/// last label placed and of the neighbouring bars it reaches over (`top`
/// gives a bar's top from its count).
fn clear(
    bx: [f64; 4],
    placed: Option<[f64; 4]>,
    i: usize,
    row_counts: &[u64],
    top: impl Fn(u64) -> f64,
    left: usize,
    bar: usize,
) -> bool {
    if placed.is_some_and(|p| overlap(p, bx)) {
        return false;
    }
    let reach = (LINE / bar as f64).ceil() as usize;
    let (from, to) = (i.saturating_sub(reach), i + reach);
    (from..=to).filter(|&j| j != i).all(|j| {
        let Some(&n) = row_counts.get(j) else {
            return true;
        };
        let x = (left + j * bar) as f64;
        n == 0 || !overlap(bx, [x + 1.0, x + bar as f64 - 1.0, top(n), f64::MAX])
    })
}

/// Writes the count `text` above a bar centred on `cx` whose top is at
/// `top`, level or upright as `how` says.
fn write_count(
    out: &mut dyn Write,
    how: CountLabels,
    cx: f64,
    top: f64,
    text: &str,
) -> io::Result<()> {
    let y = top - 3.0;
    match how {
        CountLabels::Level => writeln!(
            out,
            r#"<text x="{cx:.1}" y="{y:.1}" text-anchor="middle" font-size="9" class="count">{text}</text>"#
        ),
        CountLabels::Upright | CountLabels::Thinned => {
            // Digits rise about 0.75 em from the baseline and have no
            // descent: the baseline goes half of that right of the
            // centre, so the glyphs sit centred on the bar.
            let x = cx + LINE * 0.375;
            writeln!(
                out,
                r#"<text x="{x:.1}" y="{y:.1}" transform="rotate(-90 {x:.1} {y:.1})" font-size="9" class="count">{text}</text>"#
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyzers::histogram::{Bucket, Domain, Histogram};
    use crate::report::{Hint, LostEvents, More, Panel};

    #[test]
    fn buckets_fill_like_the_bars() {
        let mut h = Histogram::new(Domain::Signed, Scale::Log2);
        for v in [-5i64, 0, 3, 100] {
            h.record_i64(v);
        }
        let rows: Vec<Option<Bucket>> = h.rows(MAX_FILLED).collect();
        let labels: Vec<String> = rows
            .iter()
            .map(|r| bucket_label(Scale::Log2, r.as_ref().unwrap(), Unit::Count))
            .collect();
        assert_eq!(
            labels,
            [
                "(-8, -4]",
                "(-4, -2]",
                "[-1]",
                "[0]",
                "[1]",
                "[2, 4)",
                "[4, 8)",
                "[8, 16)",
                "[16, 32)",
                "[32, 64)",
                "[64, 128)"
            ]
        );
        // The same rows as the ASCII bars.
        let bars: Vec<String> = h
            .render(Unit::Count)
            .lines()
            .map(|l| l.split_whitespace().next().unwrap().to_owned())
            .collect();
        let firsts: Vec<String> = labels
            .iter()
            .map(|l| l.split_whitespace().next().unwrap().to_owned())
            .collect();
        assert_eq!(bars, firsts);
        let mut sparse = Histogram::new(Domain::Unsigned, Scale::Linear { step: 1 });
        sparse.record(1);
        sparse.record(5000);
        let rows: Vec<Option<Bucket>> = sparse.rows(MAX_FILLED).collect();
        assert_eq!(rows.len(), 3);
        assert!(rows[1].is_none());
        let close = Bucket {
            low: 1_000_000,
            high: 1_000_001 + 9,
            count: 1,
        };
        assert_eq!(
            bucket_label(Scale::Linear { step: 10 }, &close, Unit::Nanoseconds),
            "[1ms, 1.00001ms)"
        );
    }

    #[test]
    fn svg_is_well_formed_and_labelled() {
        let mut h = Histogram::new(Domain::Unsigned, Scale::Log2);
        for v in [1u64, 2, 3, 1000] {
            h.record(v);
        }
        let panels = vec![("name=\"a<b>&'c'\"".to_owned(), h.summary(Unit::Bytes), &h)];
        let svg = svg_plot("title <x>", &panels, Unit::Bytes);
        let doc = roxmltree::Document::parse(&svg).unwrap();
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "svg");
        let bars: Vec<_> = root
            .descendants()
            .filter(|n| n.has_tag_name("rect") && n.attribute("fill") == Some("#4c78a8"))
            .collect();
        // [1], [2, 4), [4, 8) ... [512, 1024): 10 bars.
        assert_eq!(bars.len(), 10);
        let tooltips: Vec<&str> = bars
            .iter()
            .filter_map(|b| b.first_element_child()?.text())
            .collect();
        assert_eq!(tooltips[0], "[1B]: 1");
        assert_eq!(tooltips[1], "[2B, 4B): 2");
        assert_eq!(tooltips[9], "[512B, 1KiB): 1");
        let texts: Vec<&str> = root
            .descendants()
            .filter(|n| n.has_tag_name("text"))
            .filter_map(|n| n.text())
            .collect();
        assert!(texts.contains(&"title <x>"));
        assert!(texts.contains(&"name=\"a<b>&'c'\""));
        // The fullest bar is the plot's height less the room for its
        // count; the others in proportion.
        let height = |i: usize| bars[i].attribute("height").unwrap().parse::<f64>().unwrap();
        assert_eq!(height(1), 200.0 - LINE - 4.0);
        assert_eq!(height(0), height(1) / 2.0);
        assert_eq!(height(2), 0.0);
        // The x axis says what it measures, in which unit.
        assert!(
            texts.contains(&"value: sizes in B, KiB, MiB, GiB; log2 buckets"),
            "{texts:?}"
        );
        assert!(roxmltree::Document::parse(&svg_plot("empty", &[], Unit::Count)).is_ok());
        // No notes without lost events or histograms left out.
        assert!(!svg.contains("Events were lost") && !svg.contains(" more "));
    }

    /// The lost-events warning under the title and the note of the
    /// histograms left out under the panels, in the text report's words
    /// (the plot once had neither), the picture taller by their lines.
    #[test]
    fn svg_says_what_the_text_says_of_losses_and_groups_left_out() {
        let mut h = Histogram::new(Domain::Unsigned, Scale::Log2);
        h.record(5);
        let panels = [("pid=1".to_owned(), h.summary(Unit::Count), &h)];
        let lost = LostEvents {
            records: 1,
            events: 3,
            consequence: Some("their values are missing".into()),
        };
        let more = More {
            count: 1,
            noun: ("group", "groups"),
            holding: Some("1 sample".into()),
            hint: Hint::None,
        };
        let plain = svg_plot("t", &panels, Unit::Count);
        let mut plot = plot("t", &panels, Unit::Count);
        plot.lost = Some(lost);
        plot.more = Some(more);
        let mut out = Vec::new();
        write_svg(&plot, &mut out).unwrap();
        let svg = String::from_utf8(out).unwrap();
        let doc = roxmltree::Document::parse(&svg).unwrap();
        let root = doc.root_element();
        let texts: Vec<&str> = root
            .children()
            .filter(|n| n.has_tag_name("text"))
            .filter_map(|n| n.text())
            .collect();
        assert_eq!(
            texts,
            [
                "t",
                "Events were lost: 1 dropped-events record, 3 events dropped; their values are missing",
                "(1 more group with 1 sample not shown)"
            ]
        );
        let height = |svg: &str| {
            let doc = roxmltree::Document::parse(svg).unwrap();
            let h = doc.root_element().attribute("height").unwrap().to_owned();
            h.parse::<usize>().unwrap()
        };
        assert_eq!(height(&svg), height(&plain) + 16 + 24);
    }

    /// The box a `<text>` of the small font takes, from its anchor, its
    /// rotation (0, -45 or -90 degrees) and its length.
    fn text_box(n: roxmltree::Node<'_, '_>) -> [f64; 4] {
        let num = |a: &str| n.attribute(a).unwrap().parse::<f64>().unwrap();
        let (x, y) = (num("x"), num("y"));
        let len = n.text().unwrap().chars().count() as f64 * CHAR;
        let transform = n.attribute("transform").unwrap_or("");
        let anchor = n.attribute("text-anchor").unwrap_or("start");
        if transform.starts_with("rotate(-90") {
            // Upright, read from the bottom: digits rise 0.75 em left
            // of the baseline.
            [x - LINE * 0.75, x, y - len, y]
        } else if transform.starts_with("rotate(-45") {
            // Hanging down-left from (x, y): its extent across the slope
            // is what neighbours share; see `slanted_apart`.
            let d = len / std::f64::consts::SQRT_2;
            [x - d, x, y, y + d]
        } else {
            let x0 = match anchor {
                "middle" => x - len / 2.0,
                "end" => x - len,
                _ => x,
            };
            [x0, x0 + len, y - LINE * 0.75, y]
        }
    }

    /// A histogram with `buckets` linear buckets of 1 holding `count(i)`.
    fn linear(buckets: u64, count: impl Fn(u64) -> u64) -> Histogram {
        let mut h = Histogram::new(Domain::Unsigned, Scale::Linear { step: 1 });
        for i in 0..buckets {
            for _ in 0..count(i) {
                h.record(1000 + i);
            }
        }
        h
    }

    fn svg_doc(h: &Histogram, unit: Unit) -> String {
        let panels = [(String::new(), h.summary(unit), h)];
        svg_plot("t", &panels, unit)
    }

    /// issue 16, item 13: with 40 or more buckets, five-digit counts were
    /// written level over bars narrower than they are ("10059" half hidden
    /// by the next bar). Whatever the number of buckets, no count's label
    /// touches another's or a bar other than its own, and none leaves the
    /// plot.
    #[test]
    fn count_labels_never_touch() {
        for buckets in [10u64, 40, 48, 72, 100, 180] {
            // Big counts side by side, and small ones between tall ones.
            let h = linear(buckets, |i| match i % 4 {
                0 => 10_059,
                1 => 10_000 + i,
                2 => 3,
                _ => 9_000,
            });
            let svg = svg_doc(&h, Unit::Count);
            let doc = roxmltree::Document::parse(&svg).unwrap();
            let root = doc.root_element();
            let counts: Vec<[f64; 4]> = root
                .descendants()
                .filter(|n| n.attribute("class") == Some("count"))
                .map(text_box)
                .collect();
            let bars: Vec<[f64; 4]> = root
                .descendants()
                .filter(|n| n.has_tag_name("rect") && n.attribute("fill") == Some("#4c78a8"))
                .map(|n| {
                    let num = |a: &str| n.attribute(a).unwrap().parse::<f64>().unwrap();
                    let (x, y) = (num("x"), num("y"));
                    [x, x + num("width"), y, y + num("height")]
                })
                .collect();
            assert!(!counts.is_empty(), "{buckets}: no counts");
            for (i, a) in counts.iter().enumerate() {
                for b in &counts[i + 1..] {
                    assert!(!overlap(*a, *b), "{buckets}: {a:?} and {b:?} touch");
                }
                let touching = bars.iter().filter(|b| overlap(*a, **b)).count();
                assert_eq!(touching, 0, "{buckets}: {a:?} touches a bar");
                // Under the summary line (the plot starts 44 below the
                // title's 36).
                assert!(a[2] >= 36.0 + 44.0, "{buckets}: {a:?} above the plot");
            }
            if buckets <= 72 {
                // Bars at least a line wide: every count is written.
                assert_eq!(counts.len(), bars.len(), "{buckets}");
            }
        }
    }

    /// Bucket labels, at 45 degrees, are far enough apart along the axis
    /// that their lines do not touch, and stay inside the picture.
    #[test]
    fn bucket_labels_never_touch() {
        for buckets in [10u64, 40, 100, 180] {
            let h = linear(buckets, |_| 1);
            let svg = svg_doc(&h, Unit::Nanoseconds);
            let doc = roxmltree::Document::parse(&svg).unwrap();
            let root = doc.root_element();
            let labels: Vec<[f64; 4]> = root
                .descendants()
                .filter(|n| {
                    n.has_tag_name("text")
                        && n.attribute("transform")
                            .is_some_and(|t| t.starts_with("rotate(-45"))
                })
                .map(text_box)
                .collect();
            assert!(labels.len() > 1);
            for pair in labels.windows(2) {
                // Parallel slanted lines: their distance across the slope
                // is the step along the axis over the square root of two.
                let across = (pair[1][1] - pair[0][1]) / std::f64::consts::SQRT_2;
                assert!(across >= LINE, "{buckets}: labels {across} apart");
            }
            let height: f64 = root.attribute("height").unwrap().parse().unwrap();
            let title = root
                .descendants()
                .find(|n| n.attribute("class") == Some("axis-title"))
                .unwrap();
            let title_y: f64 = title.attribute("y").unwrap().parse().unwrap();
            for l in &labels {
                assert!(l[0] >= 0.0, "{buckets}: {l:?} leaves the picture");
                assert!(
                    l[3] < title_y - LINE,
                    "{buckets}: {l:?} runs into the axis title"
                );
            }
            assert!(title_y <= height);
        }
    }

    /// A bucket of one sample among thousands is still drawn, at least
    /// `MIN_BAR` high; an empty bucket is not.
    #[test]
    fn single_samples_show() {
        let h = linear(3, |i| [10_000, 1, 0][i as usize]);
        let svg = svg_doc(&h, Unit::Count);
        let doc = roxmltree::Document::parse(&svg).unwrap();
        let heights: Vec<f64> = doc
            .root_element()
            .descendants()
            .filter(|n| n.has_tag_name("rect") && n.attribute("fill") == Some("#4c78a8"))
            .map(|n| n.attribute("height").unwrap().parse().unwrap())
            .collect();
        assert_eq!(heights.len(), 2, "the empty bucket is past the last sample");
        assert!(heights[1] >= MIN_BAR, "{heights:?}");
        let h = linear(3, |i| [10_000, 0, 1][i as usize]);
        let svg = svg_doc(&h, Unit::Count);
        assert!(
            svg.contains(r#"height="0.0""#),
            "an empty bucket has no bar"
        );
    }

    #[test]
    fn axis_titles() {
        assert_eq!(
            axis_title(
                Some("latency"),
                Unit::Nanoseconds,
                Some(Scale::Linear { step: 1 })
            ),
            "latency: durations in ns, us, ms, s; buckets 1ns wide"
        );
        assert_eq!(axis_title(None, Unit::Count, None), "value: plain numbers");
    }

    fn plot<'a>(
        title: &'a str,
        panels: &'a [(String, String, &'a Histogram)],
        unit: Unit,
    ) -> Plot<'a> {
        Plot::new(title, unit, move || {
            Box::new(panels.iter().map(|(label, summary, h)| Panel {
                label: label.clone(),
                summary: summary.clone(),
                histogram: h,
            }))
        })
    }

    fn svg_plot(title: &str, panels: &[(String, String, &Histogram)], unit: Unit) -> String {
        let mut out = Vec::new();
        write_svg(&plot(title, panels, unit), &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }
}
