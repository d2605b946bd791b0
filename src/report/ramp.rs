//! The charts of a ramp step (`[load] stages`) in `report.html`, second by
//! second: the target load against the load achieved (mean requests in
//! flight for a worker ramp, requests sent per second for a rate ramp), and
//! the p50/p90/p99 latency of the answers that ended in each second; and
//! the one-line summary of each ramp the terminal and `summary.md` print.

use super::svg::{num, LineChart, Series};
use super::{Report, Side, StepReport};
use crate::plan::LevelKind;

/// The x axis of a ramp's charts.
const TIME_AXIS: &str = "seconds into the ramp";

const TARGET: &str = "#9aa5b1";
const ACHIEVED: &str = "#2563eb";
const P50: &str = "#2563eb";
const P90: &str = "#d97706";
const P99: &str = "#dc2626";

/// The element id of a ramp step's load chart (`-direct` added for the
/// direct twin), and of its latency chart.
pub fn load_chart_id(step: usize, suffix: &str) -> String {
    format!("chart-ramp-load-{step}{suffix}")
}

pub fn latency_chart_id(step: usize, suffix: &str) -> String {
    format!("chart-ramp-latency-{step}{suffix}")
}

/// The two charts of `s`, `None` unless it is a ramp step with a series.
/// Seconds after the ramp's end (answers still arriving) are left out.
pub fn charts(s: &StepReport, name: &str, suffix: &str) -> Option<(String, String)> {
    if !s.level.ramp || !s.timeseries.iter().any(|t| t.target.is_some()) {
        return None;
    }
    let kind = s.level.kind;
    let few = s.timeseries.len() <= 30;
    let (mut target, mut achieved) = (Vec::new(), Vec::new());
    let (mut p50, mut p90, mut p99) = (Vec::new(), Vec::new(), Vec::new());
    for t in s.timeseries.iter().filter(|t| t.target.is_some()) {
        let x = f64::from(t.second) + f64::from(t.width.max(1)) / 2.0;
        target.push((x, t.target.unwrap_or_default()));
        achieved.push((x, t.achieved(kind)));
        if t.ok > 0 {
            p50.push((x, t.p50_ms));
            p90.push((x, t.p90_ms));
            p99.push((x, t.p99_ms));
        }
    }
    let (unit, what) = match kind {
        LevelKind::Workers => ("workers", "in flight"),
        LevelKind::Rate => ("req/s", "sent/s"),
    };
    let mut goal = Series::new("target", TARGET, target);
    goal.dashed = true;
    let mut got = Series::new(&format!("achieved ({what})"), ACHIEVED, achieved);
    got.markers = few;
    got.tips = got
        .points
        .iter()
        .zip(&goal.points)
        .map(|((x, y), (_, want))| {
            format!(
                "{name} at {x:.1} s: {} achieved, target {}",
                num(*y),
                num(*want)
            )
        })
        .collect();
    let line = |label: &str, color: &str, points: Vec<(f64, f64)>| {
        let mut s = Series::new(label, color, points);
        s.markers = few;
        s
    };
    Some((
        LineChart::small(
            load_chart_id(s.index + 1, suffix),
            match kind {
                LevelKind::Workers => {
                    format!("{name}: target workers and mean requests in flight, per second")
                }
                LevelKind::Rate => format!("{name}: target rate and requests sent, per second"),
            },
            TIME_AXIS,
            unit,
            // The target drawn last, dashed over the achieved line it
            // mostly hides.
            vec![got, goal],
        ),
        LineChart::small(
            latency_chart_id(s.index + 1, suffix),
            format!("{name}: p50, p90 and p99 latency per second"),
            TIME_AXIS,
            "latency (ms)",
            vec![
                line("p99", P99, p99),
                line("p90", P90, p90),
                line("p50", P50, p50),
            ],
        ),
    ))
}

/// One line per ramp step through the target: the range, over the ramp's
/// seconds, of the target, the achieved load and p99, e.g. `ramp to c=200
/// (step 1), second by second: target 5–195 workers, achieved 5.5–195.5
/// (mean in flight), p99 53.2–106.5 ms`.
pub fn lines(r: &Report) -> Vec<String> {
    r.steps_of(Side::Target)
        .filter(|s| s.level.ramp)
        .filter_map(|s| {
            let seconds: Vec<_> = s.timeseries.iter().filter(|t| t.target.is_some()).collect();
            if seconds.is_empty() {
                return None;
            }
            let kind = s.level.kind;
            let range = |f: &dyn Fn(&crate::metrics::SecondSample) -> f64| {
                let values = seconds.iter().map(|t| f(t));
                let lo = values.clone().fold(f64::INFINITY, f64::min);
                let hi = values.fold(f64::NEG_INFINITY, f64::max);
                format!("{}–{}", num(lo), num(hi))
            };
            let answered: Vec<f64> = seconds
                .iter()
                .filter(|t| t.ok > 0)
                .map(|t| t.p99_ms)
                .collect();
            let p99 = if answered.is_empty() {
                "no answers".to_string()
            } else {
                format!(
                    "p99 {}–{} ms",
                    num(answered.iter().copied().fold(f64::INFINITY, f64::min)),
                    num(answered.iter().copied().fold(0.0, f64::max))
                )
            };
            let what = match kind {
                LevelKind::Workers => "mean in flight",
                LevelKind::Rate => "sent/s",
            };
            Some(format!(
                "{} (step {}), second by second: target {} {}, achieved {} ({what}), {p99}",
                s.level,
                s.index + 1,
                range(&|t| t.target.unwrap_or_default()),
                kind.unit(),
                range(&|t| t.achieved(kind)),
            ))
        })
        .collect()
}
