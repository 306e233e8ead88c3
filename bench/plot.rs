//! A line chart as a hand-written SVG: the soak's memory curve, without a plotting crate.

use std::fmt::Write as _;

/// One line of a chart: its name in the legend, its colour, its points (x, y).
pub(crate) struct Series<'a> {
    pub(crate) name: &'a str,
    pub(crate) color: &'a str,
    pub(crate) points: &'a [(f64, f64)],
}

/// A chart: lines over a shared x axis, the y axis from 0 (so that growth is not
/// magnified), and shaded spans of x with a label and a fill (e.g. the parts of a run
/// compared).
pub(crate) struct Chart<'a> {
    pub(crate) title: &'a str,
    pub(crate) x_label: &'a str,
    pub(crate) y_label: &'a str,
    pub(crate) series: Vec<Series<'a>>,
    pub(crate) spans: Vec<(f64, f64, &'a str, &'a str)>,
}

const WIDTH: f64 = 860.0;
const HEIGHT: f64 = 420.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 66.0;
const BOTTOM: f64 = 60.0;

/// Round steps for an axis up to `max`: 1, 2 or 5 times a power of ten, about 6 of them.
fn ticks(max: f64) -> Vec<f64> {
    if max <= 0.0 || !max.is_finite() {
        return vec![0.0, 1.0];
    }
    let raw = max / 6.0;
    let power = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * power);
    let n = (max / step).ceil() as usize;
    (0..=n).map(|i| i as f64 * step).collect()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A tick's value without float noise (0.30000000000000004).
fn label(v: f64) -> String {
    format!("{}", (v * 1000.0).round() / 1000.0)
}

impl Chart<'_> {
    pub(crate) fn svg(&self) -> String {
        let points = || self.series.iter().flat_map(|s| s.points.iter());
        let x_ticks = ticks(points().map(|p| p.0).fold(0.0, f64::max));
        let y_ticks = ticks(points().map(|p| p.1).fold(0.0, f64::max) * 1.05);
        let (x_max, y_max) = (*x_ticks.last().unwrap(), *y_ticks.last().unwrap());
        let (w, h) = (WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM);
        let x = |v: f64| LEFT + v / x_max * w;
        let y = |v: f64| TOP + h - v / y_max * h;
        let mut out = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{HEIGHT}\" \
             viewBox=\"0 0 {WIDTH} {HEIGHT}\" font-family=\"sans-serif\" font-size=\"12\">\n\
             <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
             <text x=\"{}\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">{}</text>\n",
            WIDTH / 2.0,
            escape(self.title)
        );
        for (from, to, name, fill) in &self.spans {
            writeln!(
                out,
                "<rect x=\"{:.1}\" y=\"{TOP}\" width=\"{:.1}\" height=\"{h}\" fill=\"{fill}\"/>\
                 <text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\" fill=\"#556\" font-size=\"11\">{}</text>",
                x(*from),
                x(*to) - x(*from),
                (x(*from) + x(*to)) / 2.0,
                TOP + 14.0,
                escape(name)
            )
            .unwrap();
        }
        for v in &y_ticks {
            writeln!(
                out,
                "<line x1=\"{LEFT}\" x2=\"{}\" y1=\"{at:.1}\" y2=\"{at:.1}\" stroke=\"#ddd\"/>\
                 <text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
                LEFT + w,
                LEFT - 6.0,
                y(*v) + 4.0,
                label(*v),
                at = y(*v)
            )
            .unwrap();
        }
        for v in &x_ticks {
            writeln!(
                out,
                "<line x1=\"{at:.1}\" x2=\"{at:.1}\" y1=\"{}\" y2=\"{}\" stroke=\"#999\"/>\
                 <text x=\"{at:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                TOP + h,
                TOP + h + 5.0,
                TOP + h + 19.0,
                label(*v),
                at = x(*v)
            )
            .unwrap();
        }
        writeln!(
            out,
            "<rect x=\"{LEFT}\" y=\"{TOP}\" width=\"{w}\" height=\"{h}\" fill=\"none\" stroke=\"#333\"/>\n\
             <text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n\
             <text transform=\"translate(18 {}) rotate(-90)\" text-anchor=\"middle\">{}</text>",
            LEFT + w / 2.0,
            HEIGHT - 18.0,
            escape(self.x_label),
            TOP + h / 2.0,
            escape(self.y_label)
        )
        .unwrap();
        for (i, s) in self.series.iter().enumerate() {
            let line: Vec<String> = s
                .points
                .iter()
                .map(|(px, py)| format!("{:.1},{:.1}", x(*px), y(*py)))
                .collect();
            writeln!(
                out,
                "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"1.5\" points=\"{}\"/>",
                s.color,
                line.join(" ")
            )
            .unwrap();
            // The legend, in a row under the title.
            let (lx, ly) = (LEFT + i as f64 * 190.0, 46.0);
            writeln!(
                out,
                "<line x1=\"{lx}\" x2=\"{}\" y1=\"{ly}\" y2=\"{ly}\" stroke=\"{}\" stroke-width=\"3\"/>\
                 <text x=\"{}\" y=\"{}\">{}</text>",
                lx + 24.0,
                s.color,
                lx + 30.0,
                ly + 4.0,
                escape(s.name)
            )
            .unwrap();
        }
        out.push_str("</svg>\n");
        out
    }
}
