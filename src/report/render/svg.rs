//! A [`Plot`] as SVG: one document of stacked bar charts, a panel per
//! histogram, under the report's title, its lost-events warning and its
//! "N more not shown" note in the words of the text report.

use std::io::{self, Write};

use super::{lost_events, more};
use crate::analyzers::histogram::{CloseBounds, bucket_label};
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

/// Writes `plot` as one SVG document: its title, its lost-events warning
/// (the text report's words, in a warning colour), a bar chart per panel
/// (heading, summary, a count axis, the bars with their counts above,
/// bucket labels below), stacked, and the note of the histograms left out
/// under them. The panels are made twice (for the size, then to draw), so
/// none is held.
pub fn write_svg(plot: &Plot<'_>, out: &mut dyn Write) -> io::Result<()> {
    const LEFT: usize = 70;
    const RIGHT: usize = 20;
    const TITLE: usize = 36;
    const HEAD: usize = 44;
    const PLOT: usize = 200;
    const LABELS: usize = 90;
    const PANEL: usize = HEAD + PLOT + LABELS;
    /// A line of a note (the lost events, the histograms left out).
    const NOTE: usize = 16;
    let title = &*plot.title;
    let unit = plot.unit;
    let lost = plot.lost.as_ref().map(lost_events);
    let left_out = plot.more.as_ref().map(more);
    let (mut count, mut most_bars, mut longest) = (0usize, 0usize, 0usize);
    for note in lost.iter().chain(&left_out) {
        longest = longest.max(note.chars().count());
    }
    for panel in plot.panels() {
        count += 1;
        most_bars = most_bars.max(panel.histogram.rows(MAX_FILLED).count());
        longest = longest
            .max(panel.label.chars().count())
            .max(panel.summary.chars().count());
    }
    let most_bars = most_bars.max(1);
    let bar = (720 / most_bars).clamp(4, 40);
    // Wide enough for the bars and the longest line of text (monospace:
    // about 0.62 em per character).
    let text_width = (title.chars().count() * 81 / 10).max(longest * 7) + 20;
    let width = (LEFT + most_bars * bar + RIGHT).max(640).max(text_width);
    // The panels start under the title and the lost-events warning; the
    // note of the histograms left out goes under them.
    let head = TITLE + if lost.is_some() { NOTE } else { 0 };
    let foot = if left_out.is_some() { NOTE + 8 } else { 0 };
    let height = head + PANEL * count.max(1) + foot;
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
        let top = head + p * PANEL;
        let plot_top = top + HEAD;
        let base = plot_top + PLOT;
        let (mut rows, mut most) = (0usize, 0u64);
        for row in h.rows(MAX_FILLED) {
            rows += 1;
            most = most.max(row.map_or(0, |b| b.count));
        }
        let most = most.max(1);
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
        let right = LEFT + rows * bar;
        writeln!(
            out,
            r#"<line x1="{LEFT}" y1="{plot_top}" x2="{LEFT}" y2="{base}" stroke="black"/>"#
        )?;
        writeln!(
            out,
            r#"<line x1="{LEFT}" y1="{base}" x2="{right}" y2="{base}" stroke="black"/>"#
        )?;
        for (frac, value) in [(0.0, 0), (0.5, most / 2), (1.0, most)] {
            let y = base as f64 - frac * PLOT as f64;
            writeln!(
                out,
                r#"<text x="{}" y="{:.1}" text-anchor="end">{value}</text>"#,
                LEFT - 6,
                y + 4.0
            )?;
            if frac > 0.0 {
                writeln!(
                    out,
                    r##"<line x1="{LEFT}" y1="{y:.1}" x2="{right}" y2="{y:.1}" stroke="#ddd"/>"##
                )?;
            }
        }
        writeln!(
            out,
            r#"<text x="14" y="{}" transform="rotate(-90 14 {})" text-anchor="middle">count</text>"#,
            plot_top + PLOT / 2,
            plot_top + PLOT / 2
        )?;
        // Label every bar when they fit, else every k-th.
        let every = rows.div_ceil(48).max(1);
        for (i, row) in h.rows(MAX_FILLED).enumerate() {
            let x = LEFT + i * bar;
            let cx = x as f64 + bar as f64 / 2.0;
            let label_text = match row {
                Some(b) => {
                    let height = (b.count as f64 / most as f64) * PLOT as f64;
                    // Close bounds as exact integers (the bars add digits).
                    let range = bucket_label(h.scale(), &b, unit, CloseBounds::Exact);
                    writeln!(
                        out,
                        r##"<rect x="{}" y="{:.1}" width="{}" height="{height:.1}" fill="#4c78a8"><title>{}: {}</title></rect>"##,
                        x + 1,
                        base as f64 - height,
                        bar.saturating_sub(2).max(1),
                        xml_escape(&range),
                        b.count
                    )?;
                    if b.count > 0 && bar >= 14 {
                        writeln!(
                            out,
                            r#"<text x="{cx:.1}" y="{:.1}" text-anchor="middle" font-size="9">{}</text>"#,
                            base as f64 - height - 3.0,
                            b.count
                        )?;
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
        writeln!(out, "</g>")?;
    }
    if let Some(note) = &left_out {
        writeln!(
            out,
            r#"<text x="10" y="{}">{}</text>"#,
            head + PANEL * count.max(1) + NOTE,
            xml_escape(note)
        )?;
    }
    out.write_all(b"</svg>\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyzers::histogram::{Bucket, Domain, Histogram, Scale, Unit};
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
            .map(|r| {
                bucket_label(
                    Scale::Log2,
                    r.as_ref().unwrap(),
                    Unit::Count,
                    CloseBounds::Exact,
                )
            })
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
            bucket_label(
                Scale::Linear { step: 10 },
                &close,
                Unit::Nanoseconds,
                CloseBounds::Exact
            ),
            "[1000000, 1000010)"
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
        // The fullest bar is the plot's height; the others in proportion.
        let height = |i: usize| bars[i].attribute("height").unwrap().parse::<f64>().unwrap();
        assert_eq!(height(1), 200.0);
        assert_eq!(height(0), 100.0);
        assert_eq!(height(2), 0.0);
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
