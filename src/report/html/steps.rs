//! The per-step parts of `report.html`: each step's time-series panels,
//! and the step table.

use minijinja::Value;
use serde::Serialize;

use super::charts::step_color;
use super::{P50, P99};
use crate::report::svg::{num, LineChart, Series};
use crate::report::{LevelColumn, Report, Side, StepReport, NOT_MEASURED};

/// The x axis of a step's charts.
const TIME_AXIS: &str = "seconds into the step";

#[derive(Serialize)]
pub(super) struct StepPanel {
    title: String,
    note: Option<String>,
    rps_svg: Value,
    latency_svg: Value,
    /// A ramp step: target vs achieved load, and p50/p90/p99, per second.
    ramp_svg: Option<Value>,
}

/// Per step, small multiples on the step's own time axis: successes per
/// second (the last, partial sample scaled to a full one; a long step's
/// samples cover several seconds each) and p50/p99.
pub(super) fn timeseries_panels(r: &Report) -> Vec<StepPanel> {
    r.steps
        .iter()
        .map(|s| {
            let (ok, p50, p99) = per_second(s);
            let name = s.name(r);
            let few = s.timeseries.len() <= 30;
            let mut rps = Series::new("successes/s", &step_color(r, s), ok);
            rps.markers = few;
            rps.tips = rps
                .points
                .iter()
                .map(|(x, y)| format!("{name} at {x:.1} s: {} req/s", num(*y)))
                .collect();
            let mut hi = Series::new("p99", P99, p99);
            hi.markers = few;
            let mut mid = Series::new("p50", P50, p50);
            mid.markers = few;
            mid.dashed = true;
            let suffix = match s.side {
                Side::Target => "",
                Side::Direct => "-direct",
            };
            let m = &s.metrics;
            let ramp_svg = crate::report::ramp::charts(s, &name, suffix)
                .map(|(load, latency)| Value::from_safe_string(load + &latency));
            StepPanel {
                ramp_svg,
                title: panel_title(s, &name),
                note: if m.requests == 0 {
                    Some("no request finished".to_string())
                } else {
                    (s.timeseries.len() < 3)
                        .then(|| "shorter than 3 s: too few seconds for a trend".to_string())
                },
                rps_svg: Value::from_safe_string(LineChart::small(
                    format!("chart-timeseries-rps-{}{suffix}", s.index + 1),
                    format!("{name}: successful requests per second"),
                    TIME_AXIS,
                    "successes / s",
                    vec![rps],
                )),
                latency_svg: Value::from_safe_string(LineChart::small(
                    format!("chart-timeseries-latency-{}{suffix}", s.index + 1),
                    format!("{name}: p50 and p99 latency per second"),
                    TIME_AXIS,
                    "latency (ms)",
                    vec![hi, mid],
                )),
            }
        })
        .collect()
}

/// Chart points: `(seconds into the step, value)`.
type Points = Vec<(f64, f64)>;

/// A step's samples as points at their middle: successes per second
/// (the last, partial sample scaled to a full one), p50 and p99.
fn per_second(s: &StepReport) -> (Points, Points, Points) {
    let d = if s.metrics.duration_s > 0.0 {
        s.metrics.duration_s
    } else {
        (s.timeseries.len() as f64).max(0.05)
    };
    let (mut ok, mut p50, mut p99) = (Vec::new(), Vec::new(), Vec::new());
    for (i, t) in s.timeseries.iter().enumerate() {
        // A sample covers `width` seconds (more than one in a long step).
        let start = f64::from(t.second);
        let full = f64::from(t.width.max(1));
        let width = (d - start).clamp(0.05, full);
        // A sliver of a last sample scaled to a whole one is noise.
        if width < 0.25 * full && i > 0 {
            continue;
        }
        let x = start + width / 2.0;
        ok.push((x, t.ok as f64 / width));
        if t.ok > 0 {
            p50.push((x, t.p50_ms));
            p99.push((x, t.p99_ms));
        }
    }
    (ok, p50, p99)
}

/// `Step 2 · c=4 · 5.0 s · … req/s · p99 … ms`, or `… · not measured`.
fn panel_title(s: &StepReport, name: &str) -> String {
    let m = &s.metrics;
    if m.requests == 0 {
        format!("Step {} · {name} · not measured", s.index + 1)
    } else {
        format!(
            "Step {} · {name} · {:.1} s · {} req/s · p99 {} ms",
            s.index + 1,
            m.duration_s,
            num(m.rps),
            if m.successes > 0 {
                num(m.latency_ms.p99)
            } else {
                NOT_MEASURED.to_string()
            }
        )
    }
}

pub(super) fn step_rows(r: &Report) -> Vec<Vec<String>> {
    r.steps
        .iter()
        .map(|s| {
            let m = &s.metrics;
            let l = &m.latency_ms;
            let mut row = vec![
                (s.index + 1).to_string(),
                s.side.label().to_string(),
                LevelColumn::of(r.steps.iter().map(|s| &s.level)).cell(s.level),
                s.run.to_string(),
                m.requests.to_string(),
                m.errors.total.to_string(),
            ];
            if m.requests > 0 {
                row.push(format!("{:.2}", m.duration_s));
                row.push(num(m.rps));
            } else {
                row.extend([NOT_MEASURED.to_string(), NOT_MEASURED.to_string()]);
            }
            for v in [l.min, l.p50, l.p90, l.p99, l.p999, l.max] {
                row.push(if m.successes > 0 {
                    num(v)
                } else {
                    NOT_MEASURED.to_string()
                });
            }
            row.push(
                match (s.cancelled, m.requests) {
                    (true, 0) => "cut short, not measured",
                    (true, _) => "cut short",
                    (false, 0) => "not measured",
                    (false, _) => "",
                }
                .to_string(),
            );
            row
        })
        .collect()
}
