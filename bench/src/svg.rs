//! The bar charts (bench/chart.svg, bench/fleet/chart.svg): a titled frame, a legend, and
//! panels of horizontal bars, each panel scaled to its largest bar.

use std::fmt::Write as _;

pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// One bar of a panel.
pub struct Bar<'a> {
    pub label: String,
    pub value: f64,
    pub color: &'a str,
}

/// A chart's geometry and how it writes its numbers.
pub struct Layout {
    pub width: f64,
    /// Where the bars start (their labels are left of it).
    pub left: f64,
    /// The largest bar of a panel.
    pub bar_width: f64,
    pub bar_height: f64,
    /// From one bar's top to the next one's.
    pub bar_step: f64,
    /// Of a bar's label and value.
    pub font_size: f64,
    /// Of a bar's label and value, below the bar's top.
    pub baseline: f64,
    pub number: fn(f64) -> String,
}

impl Layout {
    /// The `<svg>` element `height` high, a white ground and the title.
    pub fn open(&self, height: f64, title: &str) -> String {
        let width = self.width;
        let mut svg = String::new();
        let _ = writeln!(
            svg,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif" font-size="13">"#
        );
        let _ = writeln!(svg, r##"<rect width="100%" height="100%" fill="#ffffff"/>"##);
        let _ = writeln!(
            svg,
            r##"<text x="16" y="26" font-size="17" font-weight="600" fill="#222">{}</text>"##,
            escape(title)
        );
        svg
    }

    /// Small print under the title, a line each.
    pub fn notes(&self, svg: &mut String, lines: &[String]) {
        for (i, line) in lines.iter().enumerate() {
            let _ = writeln!(
                svg,
                r##"<text x="16" y="{}" font-size="11.5" fill="#555">{}</text>"##,
                45.0 + i as f64 * 15.0,
                escape(line)
            );
        }
    }

    /// A colour swatch and its name per entry, `spacing` apart, their text on `y`.
    pub fn legend(&self, svg: &mut String, y: f64, spacing: f64, entries: &[(&str, &str)]) {
        for (i, (name, color)) in entries.iter().enumerate() {
            let x = 16.0 + i as f64 * spacing;
            let _ = writeln!(svg, r#"<rect x="{x}" y="{}" width="12" height="12" fill="{color}"/>"#, y - 10.0);
            let _ =
                writeln!(svg, r##"<text x="{}" y="{y}" font-size="12" fill="#333">{}</text>"##, x + 18.0, escape(name));
        }
    }

    /// A panel from `y` down: a rule, its title (and a note after it), then the bars scaled
    /// to the largest (a missing value, NaN, is drawn as 0).
    pub fn panel(&self, svg: &mut String, y: f64, title: &str, note: Option<&str>, unit: &str, bars: &[Bar]) {
        let values: Vec<f64> = bars.iter().map(|b| if b.value.is_nan() { 0.0 } else { b.value }).collect();
        let max = values.iter().copied().fold(0.0, f64::max).max(1e-9);
        let _ = writeln!(svg, r##"<line x1="16" x2="{}" y1="{y}" y2="{y}" stroke="#e4e4e4"/>"##, self.width - 16.0);
        let _ = match note {
            Some(note) => writeln!(
                svg,
                r##"<text x="16" y="{}" fill="#222" xml:space="preserve"><tspan font-weight="600">{}</tspan><tspan fill="#666"> · {}</tspan></text>"##,
                y + 19.0,
                escape(title),
                escape(note)
            ),
            None => {
                writeln!(
                    svg,
                    r##"<text x="16" y="{}" fill="#222" font-weight="600">{}</text>"##,
                    y + 19.0,
                    escape(title)
                )
            }
        };
        let (left, font, text_y) = (self.left, self.font_size, |bar_y: f64| bar_y + self.baseline);
        for (j, (bar, value)) in bars.iter().zip(&values).enumerate() {
            let bar_y = y + 28.0 + j as f64 * self.bar_step;
            let w = (value / max * self.bar_width).max(1.5);
            let _ = writeln!(
                svg,
                r##"<text x="16" y="{}" font-size="{font}" fill="#444">{}</text>"##,
                text_y(bar_y),
                escape(&bar.label)
            );
            let _ = writeln!(
                svg,
                r#"<rect x="{left}" y="{bar_y}" width="{w:.1}" height="{}" rx="2" fill="{}"/>"#,
                self.bar_height, bar.color
            );
            let _ = writeln!(
                svg,
                r##"<text x="{:.1}" y="{}" font-size="{font}" fill="#222">{} {unit}</text>"##,
                left + w + 6.0,
                text_y(bar_y),
                (self.number)(*value)
            );
        }
    }

    /// The footer on `y`, and the end of the document.
    pub fn close(&self, mut svg: String, y: f64, footer: &str) -> String {
        let _ = writeln!(svg, r##"<text x="16" y="{y}" font-size="11" fill="#777">{}</text>"##, escape(footer));
        svg.push_str("</svg>\n");
        svg
    }
}
