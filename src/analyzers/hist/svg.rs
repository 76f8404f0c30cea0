//! `--svg`: the histograms as one SVG document of stacked bar charts.

use core::fmt;
use std::io::Write;
use std::sync::Mutex;

use crate::analyzers::histogram::{CloseBounds, Histogram, Unit, bucket_label};

/// Where `--svg` goes: written once, when the report is made.
pub(super) struct PlotSink(pub(super) Mutex<Option<(Box<dyn Write + Send>, String)>>);

impl PlotSink {
    pub(super) fn none() -> Self {
        PlotSink(Mutex::new(None))
    }

    pub(super) fn take(&self) -> Option<(Box<dyn Write + Send>, String)> {
        self.0.lock().ok().and_then(|mut s| s.take())
    }
}

impl fmt::Debug for PlotSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set = self.0.lock().map(|s| s.is_some()).unwrap_or(false);
        f.debug_struct("PlotSink").field("set", &set).finish()
    }
}

/// Buckets beyond which plots list only the non-empty ones.
const MAX_FILLED: usize = 200;

/// Escapes text for SVG content and attribute values.
pub(super) fn xml_escape(s: &str) -> String {
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

/// A bar chart per panel (label, summary, histogram), stacked, in one SVG
/// document: a title, each panel's heading and summary, a count axis, the
/// bars with their counts above, bucket labels below. `panels` is called
/// twice (for the size, then to draw), so no panel is held.
pub(super) fn write_svg<'h, I>(
    out: &mut dyn Write,
    title: &str,
    panels: impl Fn() -> I,
    unit: Unit,
) -> std::io::Result<()>
where
    I: Iterator<Item = (String, String, &'h Histogram)>,
{
    const LEFT: usize = 70;
    const RIGHT: usize = 20;
    const TITLE: usize = 36;
    const HEAD: usize = 44;
    const PLOT: usize = 200;
    const LABELS: usize = 90;
    const PANEL: usize = HEAD + PLOT + LABELS;
    let (mut count, mut most_bars, mut longest) = (0usize, 0usize, 0usize);
    for (label, summary, h) in panels() {
        count += 1;
        most_bars = most_bars.max(h.rows(MAX_FILLED).count());
        longest = longest
            .max(label.chars().count())
            .max(summary.chars().count());
    }
    let most_bars = most_bars.max(1);
    let bar = (720 / most_bars).clamp(4, 40);
    // Wide enough for the bars and the longest line of text (monospace:
    // about 0.62 em per character).
    let text_width = (title.chars().count() * 81 / 10).max(longest * 7) + 20;
    let width = (LEFT + most_bars * bar + RIGHT).max(640).max(text_width);
    let height = TITLE + PANEL * count.max(1);
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
    if count == 0 {
        writeln!(out, r#"<text x="10" y="60">no samples</text>"#)?;
    }
    for (p, (label, summary, h)) in panels().enumerate() {
        let top = TITLE + p * PANEL;
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
                xml_escape(&label)
            )?;
        }
        writeln!(
            out,
            r##"<text x="10" y="{}" fill="#444">{}</text>"##,
            top + 30,
            xml_escape(&summary)
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
    out.write_all(b"</svg>\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyzers::histogram::{Bucket, Domain, Scale};

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
    }

    fn svg_plot(title: &str, panels: &[(String, String, &Histogram)], unit: Unit) -> String {
        let mut out = Vec::new();
        write_svg(&mut out, title, || panels.iter().cloned(), unit).unwrap();
        String::from_utf8(out).unwrap()
    }
}
