//! The sweep's charts in `report.html`: throughput against the ideal with
//! the ceiling, latency percentiles by level, the latency spectrum per step.

use super::{level_kind, CEILING, IDEAL, P50, P95, P99};
use crate::plan::LevelKind;
use crate::report::ceiling::Analysis;
use crate::report::svg::{self, level_color, num, Axis, LineChart, Marker, Series};
use crate::report::{Report, StepReport};

/// The level axis (concurrency or target rate): log scale with the sweep's
/// levels as ticks when the sweep spans a factor of 4 or more, linear
/// otherwise.
pub(super) fn level_axis(r: &Report) -> Axis {
    let levels: Vec<u32> = r.levels.iter().map(|l| l.level.value).collect();
    let name = level_kind(r).axis();
    let ticks: Vec<(f64, String)> = levels
        .iter()
        .map(|&c| (f64::from(c), c.to_string()))
        .collect();
    let (lo, hi) = (
        levels.iter().copied().min().unwrap_or(1),
        levels.iter().copied().max().unwrap_or(1),
    );
    if hi >= lo.saturating_mul(4) {
        Axis::log(&format!("{name} (log scale)"), ticks)
    } else {
        Axis {
            ticks: Some(ticks),
            include: None,
            ..Axis::linear(name)
        }
    }
}

/// The measured levels by level (a search probes them out of order).
fn measured_levels(r: &Report) -> impl Iterator<Item = &crate::metrics::LevelSummary> {
    let mut levels: Vec<&crate::metrics::LevelSummary> =
        r.levels.iter().filter(|l| l.runs > 0).collect();
    levels.sort_by_key(|l| l.level);
    levels.into_iter()
}

pub(super) fn throughput_chart(r: &Report, a: &Analysis) -> String {
    let x = level_axis(r);
    let mut measured = Series::new(
        "measured req/s",
        P50,
        measured_levels(r)
            .map(|l| (l.level.x(), l.rps.mean))
            .collect(),
    );
    measured.tips = measured_levels(r)
        .map(|l| {
            let spread = if l.runs > 1 {
                format!(" (±{}, {} runs)", num(l.rps.stddev), l.runs)
            } else {
                String::new()
            };
            format!("{}: {} req/s{spread}", l.level, num(l.rps.mean))
        })
        .collect();
    let mut series = Vec::new();
    if let Some(service) = a.service_ms {
        // At the levels only, joined like the measured line, so the gap
        // between the two lines is the loss at every point of the chart.
        let mut ideal = Series::new(
            &format!("ideal: c / {} ms (Little's law)", num(service)),
            IDEAL,
            a.levels
                .iter()
                .map(|l| (f64::from(l.concurrency), l.ideal_rps))
                .collect(),
        );
        ideal.dashed = true;
        ideal.tips = a
            .levels
            .iter()
            .map(|l| format!("c={} ideal: {} req/s", l.concurrency, num(l.ideal_rps)))
            .collect();
        series.push(ideal);
    }
    series.push(measured);
    let markers = a
        .ceiling
        .iter()
        .map(|c| Marker {
            x: f64::from(c.concurrency),
            label: format!("ceiling c={} · {} req/s", c.concurrency, num(c.rps)),
            color: CEILING.into(),
        })
        .collect();
    LineChart {
        id: "chart-throughput".into(),
        width: svg::WIDTH,
        title: match level_kind(r) {
            LevelKind::Workers => {
                "Throughput by concurrency, with the ideal and the ceiling".into()
            }
            LevelKind::Rate => "Throughput by target rate".into(),
        },
        height: 340.0,
        x,
        y: Axis::linear("successful requests per second"),
        series,
        markers,
    }
    .render()
}

pub(super) fn latency_chart(r: &Report) -> String {
    let line = |name: &str, color: &str, f: fn(&crate::metrics::LevelSummary) -> f64| {
        Series::new(
            name,
            color,
            measured_levels(r).map(|l| (l.level.x(), f(l))).collect(),
        )
    };
    LineChart {
        id: "chart-latency".into(),
        width: svg::WIDTH,
        title: format!("Latency percentiles by {}", level_kind(r).field()),
        height: 320.0,
        x: level_axis(r),
        y: Axis::linear("latency (ms)"),
        series: vec![
            line("p50", P50, |l| l.p50_ms.mean),
            line("p95", P95, |l| l.p95_ms.mean),
            line("p99", P99, |l| l.p99_ms.mean),
        ],
        markers: Vec::new(),
    }
    .render()
}

/// Position of percentile `p` on an HdrHistogram-style axis: log10(1 / (1 - p)).
fn spectrum_x(p: f64) -> f64 {
    1.0 / (1.0 - p / 100.0)
}

/// Color per step, by its level's position in the sweep.
pub(super) fn step_color(r: &Report, s: &StepReport) -> String {
    let i = r
        .levels
        .iter()
        .position(|l| l.level == s.level)
        .unwrap_or(0);
    level_color(i, r.levels.len())
}

pub(super) fn spectrum_chart(r: &Report) -> String {
    let ticks = [
        (0.0, "0%"),
        (90.0, "90%"),
        (99.0, "99%"),
        (99.9, "99.9%"),
        (99.99, "99.99%"),
    ]
    .iter()
    .map(|(p, l)| (spectrum_x(*p), l.to_string()))
    .collect();
    let series = r
        .steps
        .iter()
        .filter(|s| !s.metrics.percentiles.is_empty())
        .map(|s| {
            let pts: Vec<(f64, f64)> = s
                .metrics
                .percentiles
                .iter()
                .filter(|(p, _)| *p < 100.0)
                .map(|&(p, ms)| (spectrum_x(p), ms))
                .collect();
            let name = s.name(r);
            let mut line = Series::new(&name, &step_color(r, s), pts);
            line.tips = s
                .metrics
                .percentiles
                .iter()
                .filter(|(p, _)| *p < 100.0)
                .map(|(p, ms)| format!("{name} p{p}: {} ms", num(*ms)))
                .collect();
            line.dashed = s.run > 1;
            line.legend = true;
            line
        })
        .collect();
    LineChart {
        id: "chart-spectrum".into(),
        width: svg::WIDTH,
        title: "Latency by percentile, one line per step".into(),
        height: 340.0,
        x: Axis::log("percentile (log scale of 1 / (1 − p))", ticks),
        y: Axis::linear("latency (ms)"),
        series,
        markers: Vec::new(),
    }
    .render()
}
