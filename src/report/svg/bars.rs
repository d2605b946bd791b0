//! Stacked bar charts: counts per category, one stack part per kind.

use std::fmt::Write;

use super::{
    domain, esc, legend, num, svg_open, y_grid, Axis, BOTTOM, INK, LEFT, MUTED, RIGHT, TOP, WIDTH,
};

/// Vertical stacked bars of counts: one bar per category, one stack part per
/// `(name, color, values)`.
pub fn stacked_bars(
    id: &str,
    title: &str,
    y_label: &str,
    categories: &[String],
    parts: &[(String, String, Vec<f64>)],
) -> String {
    let h = 300.0;
    let (pw, ph) = (WIDTH - LEFT - RIGHT, h - TOP - BOTTOM);
    let totals: Vec<f64> = (0..categories.len())
        .map(|i| {
            parts
                .iter()
                .map(|p| p.2.get(i).copied().unwrap_or(0.0))
                .sum()
        })
        .collect();
    let (y0, y1, yticks) = domain(&Axis::linear(y_label), &totals);
    let py = |v: f64| TOP + ph - (v - y0) / (y1 - y0) * ph;
    let mut out = String::new();
    svg_open(&mut out, id, title, WIDTH, h);
    y_grid(&mut out, &yticks, pw, py);
    let slot = pw / categories.len().max(1) as f64;
    let bar = (slot * 0.55).min(90.0);
    for (i, cat) in categories.iter().enumerate() {
        let cx = LEFT + slot * (i as f64 + 0.5);
        let mut base = 0.0;
        for (name, color, values) in parts {
            let v = values.get(i).copied().unwrap_or(0.0);
            if v <= 0.0 {
                continue;
            }
            let (top, bottom) = (py(base + v), py(base));
            let _ = write!(
                out,
                r#"<rect class="bar" x="{:.1}" y="{top:.1}" width="{bar:.1}" height="{:.1}" fill="{color}"><title>{}: {} {}</title></rect>"#,
                cx - bar / 2.0,
                (bottom - top).max(0.5),
                esc(cat),
                num(v.round()),
                esc(name)
            );
            base += v;
        }
        let _ = write!(
            out,
            r#"<text x="{cx:.1}" y="{}" text-anchor="middle" fill="{MUTED}">{}</text>"#,
            TOP + ph + 17.0,
            esc(cat)
        );
        if totals[i] > 0.0 {
            let _ = write!(
                out,
                r#"<text x="{cx:.1}" y="{:.1}" text-anchor="middle" fill="{INK}" font-weight="600">{}</text>"#,
                py(totals[i]) - 6.0,
                num(totals[i].round())
            );
        }
    }
    let _ = write!(
        out,
        r#"<line x1="{LEFT}" y1="{}" x2="{}" y2="{}" stroke="{MUTED}"/><text transform="translate(16 {}) rotate(-90)" text-anchor="middle" fill="{INK}" font-weight="600">{}</text>"#,
        TOP + ph,
        LEFT + pw,
        TOP + ph,
        TOP + ph / 2.0,
        esc(y_label)
    );
    let entries: Vec<(String, String, bool)> = parts
        .iter()
        .map(|(n, c, _)| (n.clone(), c.clone(), false))
        .collect();
    legend(&mut out, &entries);
    out.push_str("</svg>");
    out
}
