//! Small hand-written SVG charts for the HTML report: line charts on linear
//! or log axes, vertical markers and stacked bars.
//!
//! Hand-written rather than `plotters`: the charts need a handful of
//! primitives, the page's CSS then styles the text (crisp, same font as the
//! prose), every point can carry a hover `<title>`, and the binary gains no
//! dependency.

use std::fmt::Write;

/// Width of a full-width chart, in SVG units.
pub const WIDTH: f64 = 920.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 34.0;
const BOTTOM: f64 = 46.0;

const INK: &str = "#1f2933";
const MUTED: &str = "#616e7c";
const GRID: &str = "#e4e7eb";

mod bars;

pub use bars::stacked_bars;

/// Escape text for SVG and HTML.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// How an axis maps values to positions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scale {
    Linear,
    Log10,
}

#[derive(Debug, Clone)]
pub struct Axis {
    pub label: String,
    pub scale: Scale,
    /// Fixed ticks `(value, label)`; `None`: round numbers picked from the data.
    pub ticks: Option<Vec<(f64, String)>>,
    /// Force the domain to include this (e.g. 0 for a y axis).
    pub include: Option<f64>,
}

impl Axis {
    pub fn linear(label: &str) -> Axis {
        Axis {
            label: label.into(),
            scale: Scale::Linear,
            ticks: None,
            include: Some(0.0),
        }
    }

    pub fn log(label: &str, ticks: Vec<(f64, String)>) -> Axis {
        Axis {
            label: label.into(),
            scale: Scale::Log10,
            ticks: Some(ticks),
            include: None,
        }
    }

    fn t(&self, v: f64) -> f64 {
        match self.scale {
            Scale::Linear => v,
            Scale::Log10 => v.max(1e-9).log10(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub color: String,
    pub points: Vec<(f64, f64)>,
    pub dashed: bool,
    pub markers: bool,
    /// Shown in the legend (several series may share one entry).
    pub legend: bool,
    /// Hover text per point; empty: `name: y`.
    pub tips: Vec<String>,
    /// A link per point (its marker becomes an `<a href>`); empty: none.
    pub links: Vec<String>,
}

impl Series {
    pub fn new(name: &str, color: &str, points: Vec<(f64, f64)>) -> Series {
        Series {
            name: name.into(),
            color: color.into(),
            points,
            dashed: false,
            markers: true,
            legend: true,
            tips: Vec::new(),
            links: Vec::new(),
        }
    }
}

/// A vertical line with a label at the top.
#[derive(Debug, Clone)]
pub struct Marker {
    pub x: f64,
    pub label: String,
    pub color: String,
}

#[derive(Debug, Clone)]
pub struct LineChart {
    /// The `id` of the `<svg>` element (tests look for it).
    pub id: String,
    /// Width in SVG units; the chart scales to its container.
    pub width: f64,
    /// Accessible title (`<title>`).
    pub title: String,
    pub height: f64,
    pub x: Axis,
    pub y: Axis,
    pub series: Vec<Series>,
    pub markers: Vec<Marker>,
}

impl LineChart {
    /// A half-width chart over seconds (a step's or a ramp's own time
    /// axis, named by `x`), without markers.
    pub fn small(id: String, title: String, x: &str, y: &str, series: Vec<Series>) -> String {
        LineChart {
            id,
            width: WIDTH / 2.0,
            title,
            height: 210.0,
            x: Axis::linear(x),
            y: Axis::linear(y),
            series,
            markers: Vec::new(),
        }
        .render()
    }
}

/// Round tick values covering `lo..=hi`, about `n` of them.
pub fn nice_ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo {
        return vec![lo];
    }
    let raw = (hi - lo) / n as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).floor() * step;
    let mut out = Vec::new();
    let mut v = first;
    while v < hi + step * 0.999 {
        out.push(if v.abs() < step * 1e-9 { 0.0 } else { v });
        v += step;
    }
    out
}

/// A number for an axis or a table: thousands grouped, decimals by size.
pub fn num(v: f64) -> String {
    let a = v.abs();
    let digits = if a >= 100.0 || v.fract() == 0.0 {
        0
    } else if a >= 10.0 {
        1
    } else if a >= 1.0 {
        2
    } else {
        3
    };
    let text = format!("{v:.digits$}");
    if a < 10_000.0 {
        return text;
    }
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    let (sign, int) = int.strip_prefix('-').map_or(("", int), |i| ("-", i));
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    if frac.is_empty() {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped}.{frac}")
    }
}

fn tick_label(v: f64, step: f64) -> String {
    if step >= 1.0 && v.abs() >= 10_000.0 {
        return num(v.round());
    }
    let digits = if step >= 1.0 {
        0
    } else {
        (-step.log10().floor()) as usize
    };
    format!("{v:.digits$}")
}

/// Domain (in transformed units) and ticks `(transformed, label)` for an axis.
fn domain(axis: &Axis, values: &[f64]) -> (f64, f64, Vec<(f64, String)>) {
    if let Some(ticks) = &axis.ticks {
        let ts: Vec<f64> = ticks
            .iter()
            .map(|(v, _)| axis.t(*v))
            .chain(values.iter().map(|v| axis.t(*v)))
            .collect();
        let lo = ts.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = ts.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let (lo, hi) = if hi - lo < 1e-9 {
            (lo - 0.5, hi + 0.5)
        } else {
            let pad = (hi - lo) * 0.04;
            (lo - pad, hi + pad)
        };
        let labelled = ticks.iter().map(|(v, l)| (axis.t(*v), l.clone())).collect();
        return (lo, hi, labelled);
    }
    let mut lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let mut hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if let Some(z) = axis.include {
        lo = lo.min(z);
        hi = hi.max(z);
    }
    if !lo.is_finite() || !hi.is_finite() {
        (lo, hi) = (0.0, 1.0);
    }
    if hi - lo < 1e-9 {
        hi = lo + if lo.abs() > 0.0 { lo.abs() } else { 1.0 };
    }
    let ticks = nice_ticks(lo, hi, 5);
    let step = if ticks.len() > 1 {
        ticks[1] - ticks[0]
    } else {
        1.0
    };
    let lo = ticks.first().copied().unwrap_or(lo).min(lo);
    let hi = ticks.last().copied().unwrap_or(hi).max(hi);
    let labelled = ticks.iter().map(|&v| (v, tick_label(v, step))).collect();
    (lo, hi, labelled)
}

fn svg_open(out: &mut String, id: &str, title: &str, width: f64, height: f64) {
    let _ = write!(
        out,
        r#"<svg id="{id}" class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" aria-labelledby="{id}-title" xmlns="http://www.w3.org/2000/svg" font-family="Inter, system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif" font-size="12"><title id="{id}-title">{}</title>"#,
        esc(title)
    );
}

/// Legend entries laid out left to right above the plot area.
fn legend(out: &mut String, entries: &[(String, String, bool)]) {
    let mut x = LEFT;
    for (name, color, dashed) in entries {
        let dash = if *dashed {
            r#" stroke-dasharray="5 4""#
        } else {
            ""
        };
        let _ = write!(
            out,
            r#"<line x1="{x}" y1="14" x2="{}" y2="14" stroke="{color}" stroke-width="2.5"{dash}/><text x="{}" y="18" fill="{INK}">{}</text>"#,
            x + 20.0,
            x + 26.0,
            esc(name)
        );
        x += 26.0 + 7.0 * name.chars().count() as f64 + 22.0;
    }
}

impl LineChart {
    pub fn render(&self) -> String {
        let (f, xticks, yticks) = Frame::of(self);
        let mut out = String::new();
        svg_open(&mut out, &self.id, &self.title, self.width, self.height);
        // Grid and y ticks.
        y_grid(&mut out, &yticks, f.pw, |t| f.pyt(t));
        f.x_grid(&mut out, &xticks);
        f.axes(&mut out);
        for m in &self.markers {
            f.marker(&mut out, m);
        }
        for s in &self.series {
            if s.points.is_empty() {
                continue;
            }
            f.series(&mut out, s);
        }
        let entries: Vec<(String, String, bool)> = self
            .series
            .iter()
            .filter(|s| s.legend)
            .map(|s| (s.name.clone(), s.color.clone(), s.dashed))
            .collect();
        legend(&mut out, &entries);
        out.push_str("</svg>");
        out
    }
}

/// Where a line chart's values land: its domains and plot area.
struct Frame<'a> {
    chart: &'a LineChart,
    x0: f64,
    x1: f64,
    y0: f64,
    y1: f64,
    pw: f64,
    ph: f64,
}

/// Ticks along an axis: position (transformed) and label.
type Ticks = Vec<(f64, String)>;

impl<'a> Frame<'a> {
    fn of(chart: &'a LineChart) -> (Frame<'a>, Ticks, Ticks) {
        let h = chart.height;
        let (pw, ph) = (chart.width - LEFT - RIGHT, h - TOP - BOTTOM);
        let xs: Vec<f64> = chart
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.0))
            .chain(chart.markers.iter().map(|m| m.x))
            .collect();
        let ys: Vec<f64> = chart
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.1))
            .collect();
        let (x0, x1, xticks) = domain(&chart.x, &xs);
        let (y0, y1, yticks) = domain(&chart.y, &ys);
        let frame = Frame {
            chart,
            x0,
            x1,
            y0,
            y1,
            pw,
            ph,
        };
        (frame, xticks, yticks)
    }

    fn px(&self, v: f64) -> f64 {
        LEFT + (self.chart.x.t(v) - self.x0) / (self.x1 - self.x0) * self.pw
    }

    fn pxt(&self, t: f64) -> f64 {
        LEFT + (t - self.x0) / (self.x1 - self.x0) * self.pw
    }

    fn py(&self, v: f64) -> f64 {
        TOP + self.ph - (self.chart.y.t(v) - self.y0) / (self.y1 - self.y0) * self.ph
    }

    fn pyt(&self, t: f64) -> f64 {
        TOP + self.ph - (t - self.y0) / (self.y1 - self.y0) * self.ph
    }

    fn x_grid(&self, out: &mut String, xticks: &Ticks) {
        let ph = self.ph;
        for (t, label) in xticks {
            let x = self.pxt(*t);
            let _ = write!(
                out,
                r#"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{}" stroke="{GRID}"/><text x="{x:.1}" y="{}" text-anchor="middle" fill="{MUTED}">{}</text>"#,
                TOP + ph,
                TOP + ph + 17.0,
                esc(label)
            );
        }
    }

    /// Axes and their labels.
    fn axes(&self, out: &mut String) {
        let (pw, ph, h) = (self.pw, self.ph, self.chart.height);
        let _ = write!(
            out,
            r#"<line x1="{LEFT}" y1="{}" x2="{}" y2="{}" stroke="{MUTED}"/><text x="{}" y="{}" text-anchor="middle" fill="{INK}" font-weight="600">{}</text><text transform="translate(16 {}) rotate(-90)" text-anchor="middle" fill="{INK}" font-weight="600">{}</text>"#,
            TOP + ph,
            LEFT + pw,
            TOP + ph,
            LEFT + pw / 2.0,
            h - 8.0,
            esc(&self.chart.x.label),
            TOP + ph / 2.0,
            esc(&self.chart.y.label)
        );
    }

    fn marker(&self, out: &mut String, m: &Marker) {
        let (pw, ph) = (self.pw, self.ph);
        let x = self.px(m.x);
        let anchor = if x > LEFT + pw * 0.7 { "end" } else { "start" };
        let dx = if anchor == "end" { -6.0 } else { 6.0 };
        let _ = write!(
            out,
            r#"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{}" stroke="{}" stroke-width="1.5" stroke-dasharray="2 3"/><text x="{:.1}" y="{}" text-anchor="{anchor}" fill="{}" font-weight="600">{}</text>"#,
            TOP + ph,
            m.color,
            x + dx,
            TOP + 14.0,
            m.color,
            esc(&m.label)
        );
    }

    /// A series' line, then its markers (with hover text and links).
    fn series(&self, out: &mut String, s: &Series) {
        let path: Vec<String> = s
            .points
            .iter()
            .map(|&(x, y)| format!("{:.1},{:.1}", self.px(x), self.py(y)))
            .collect();
        let dash = if s.dashed {
            r#" stroke-dasharray="6 5""#
        } else {
            ""
        };
        let _ = write!(
            out,
            r#"<polyline class="series" data-name="{}" points="{}" fill="none" stroke="{}" stroke-width="2.2" stroke-linejoin="round" stroke-linecap="round"{dash}/>"#,
            esc(&s.name),
            path.join(" "),
            s.color
        );
        if !s.markers {
            return;
        }
        for (i, &(x, y)) in s.points.iter().enumerate() {
            let tip = s
                .tips
                .get(i)
                .cloned()
                .unwrap_or_else(|| format!("{}: {}", s.name, num(y)));
            let link = s.links.get(i);
            if let Some(href) = link {
                let _ = write!(out, r#"<a href="{}">"#, esc(href));
            }
            let _ = write!(
                out,
                r#"<circle cx="{:.1}" cy="{:.1}" r="3.6" fill="white" stroke="{}" stroke-width="2"><title>{}</title></circle>"#,
                self.px(x),
                self.py(y),
                s.color,
                esc(&tip)
            );
            if link.is_some() {
                out.push_str("</a>");
            }
        }
    }
}

/// Horizontal grid lines and the y tick labels, `py` placing a tick.
fn y_grid(out: &mut String, yticks: &Ticks, pw: f64, py: impl Fn(f64) -> f64) {
    for (t, label) in yticks {
        let y = py(*t);
        let _ = write!(
            out,
            r#"<line x1="{LEFT}" y1="{y:.1}" x2="{}" y2="{y:.1}" stroke="{GRID}"/><text x="{}" y="{:.1}" text-anchor="end" fill="{MUTED}">{}</text>"#,
            LEFT + pw,
            LEFT - 8.0,
            y + 4.0,
            esc(label)
        );
    }
}

/// A colour per level, from blue (least load) to red (most), readable on white.
pub fn level_color(i: usize, n: usize) -> String {
    const STOPS: [(f64, f64, f64); 4] = [
        (37.0, 99.0, 235.0),
        (13.0, 148.0, 136.0),
        (217.0, 119.0, 6.0),
        (220.0, 38.0, 38.0),
    ];
    let f = if n <= 1 {
        0.0
    } else {
        i as f64 / (n - 1) as f64
    };
    let pos = f * (STOPS.len() - 1) as f64;
    let k = (pos.floor() as usize).min(STOPS.len() - 2);
    let t = pos - k as f64;
    let (a, b) = (STOPS[k], STOPS[k + 1]);
    let mix = |x: f64, y: f64| (x + (y - x) * t).round() as u8;
    format!(
        "#{:02x}{:02x}{:02x}",
        mix(a.0, b.0),
        mix(a.1, b.1),
        mix(a.2, b.2)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        assert_eq!(
            nice_ticks(0.0, 1946.0, 5),
            vec![0.0, 500.0, 1000.0, 1500.0, 2000.0]
        );
        assert_eq!(
            nice_ticks(0.0, 0.9, 5),
            vec![0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]
        );
        assert_eq!(num(1946.04), "1946");
        assert_eq!(num(12345.0), "12,345");
        assert_eq!(num(50.49), "50.5");
        assert_eq!(num(5.123), "5.12");
        assert_eq!(num(9.0), "9", "counts have no decimals");
    }

    #[test]
    fn a_chart_has_its_id_series_and_escaped_text() {
        let chart = LineChart {
            id: "c1".into(),
            width: WIDTH,
            title: "a < b".into(),
            height: 300.0,
            x: Axis::log("concurrency", vec![(1.0, "1".into()), (10.0, "10".into())]),
            y: Axis::linear("req/s"),
            series: vec![Series::new(
                "measured",
                "#000",
                vec![(1.0, 20.0), (10.0, 190.0)],
            )],
            markers: vec![Marker {
                x: 10.0,
                label: "ceiling".into(),
                color: "#c00".into(),
            }],
        };
        let svg = chart.render();
        assert!(svg.starts_with(r#"<svg id="c1""#));
        assert!(svg.contains("a &lt; b"));
        assert_eq!(svg.matches("<circle").count(), 2);
        assert!(svg.contains("ceiling") && svg.ends_with("</svg>"));
    }

    #[test]
    fn level_colours_run_from_blue_to_red() {
        assert_eq!(level_color(0, 4), "#2563eb");
        assert_eq!(level_color(3, 4), "#dc2626");
        assert_eq!(level_color(0, 1), "#2563eb");
    }
}
