//! The capacity section of `report.html`: the frontier as a chart (most
//! req/s at each latency bound), the search's probes, and for open-loop
//! levels the achieved against the target rate and the corrected (from the
//! intended send time) against the service (from the actual send) latency.

use minijinja::Value;
use serde::Serialize;

use super::capacity::{search_line, search_table, slo_line};
use super::svg::{self, num, Axis, LineChart, Marker, Series};
use super::{Report, Side};
use crate::metrics::LevelSummary;
use crate::plan::Level;

const CAPACITY: &str = "#059669";
const FAILED: &str = "#dc2626";
const TARGET: &str = "#9aa5b1";
const CORRECTED: &str = "#dc2626";
const SERVICE: &str = "#2563eb";

/// What the template's capacity section shows; `None` fields are left out.
#[derive(Serialize, Default)]
pub(super) struct Section {
    slo_line: Option<String>,
    search_line: Option<String>,
    search_header: Vec<&'static str>,
    search_rows: Vec<Vec<String>>,
    frontier_note: Option<String>,
    frontier_header: Vec<&'static str>,
    frontier_rows: Vec<Vec<String>>,
    charts: Vec<Value>,
}

pub(super) fn section(r: &Report) -> Option<Section> {
    let mut s = Section {
        slo_line: slo_line(r),
        ..Section::default()
    };
    let safe = Value::from_safe_string;
    if let Some(search) = &r.search {
        s.search_line = Some(search_line(search));
        (s.search_header, s.search_rows) = search_table(search);
        if !search.probes.is_empty() {
            s.charts.push(safe(search_chart(search)));
        }
    }
    if let Some(f) = &r.frontier {
        s.frontier_note = Some(f.note());
        (s.frontier_header, s.frontier_rows) = f.table();
        s.charts.push(safe(frontier_chart(f)));
    }
    let mut open: Vec<&LevelSummary> = r
        .levels_of(Side::Target)
        .iter()
        .filter(|l| l.runs > 0 && l.level.is_rate() && l.achieved_rate.is_some())
        .collect();
    open.sort_by_key(|l| l.level);
    if !open.is_empty() {
        s.charts.push(safe(achieved_chart(&open)));
        s.charts.push(safe(corrected_chart(&open)));
    }
    let empty = s.slo_line.is_none() && s.search_line.is_none() && s.charts.is_empty();
    (!empty).then_some(s)
}

fn frontier_chart(f: &super::frontier::Frontier) -> String {
    let mut points: Vec<&super::frontier::Point> = f.points.iter().collect();
    points.sort_by(|a, b| a.bound_ms.total_cmp(&b.bound_ms));
    let ticks = points
        .iter()
        .map(|p| (p.bound_ms, format!("{} ms", num(p.bound_ms))))
        .collect();
    let mut line = Series::new(
        "most req/s within the bound",
        CAPACITY,
        points.iter().map(|p| (p.bound_ms, p.rps)).collect(),
    );
    line.tips = points
        .iter()
        .map(|p| match p.level {
            Some(_) => format!(
                "{}: {} req/s at {}",
                f.bound_label(p.bound_ms),
                num(p.rps),
                p.label()
            ),
            None => format!("{}: no level met it", f.bound_label(p.bound_ms)),
        })
        .collect();
    let x = if points.len() >= 2 && points[points.len() - 1].bound_ms >= 4.0 * points[0].bound_ms {
        Axis::log("latency bound on the p99, ms (log scale)", ticks)
    } else {
        Axis {
            ticks: Some(ticks),
            include: None,
            ..Axis::linear("latency bound on the p99, ms")
        }
    };
    LineChart {
        id: "chart-frontier".into(),
        width: svg::WIDTH,
        title: "Capacity at a latency bound: the most throughput with p99 within each bound".into(),
        height: 320.0,
        x,
        y: Axis::linear("successful requests per second"),
        series: vec![line],
        markers: Vec::new(),
    }
    .render()
}

fn search_chart(s: &crate::search::SearchResult) -> String {
    let mut probes: Vec<&crate::search::Probe> = s.probes.iter().collect();
    probes.sort_by_key(|p| p.level);
    let series = |passed: bool, name: &str, color: &str| {
        let chosen: Vec<&&crate::search::Probe> =
            probes.iter().filter(|p| p.passed == passed).collect();
        let mut line = Series::new(
            name,
            color,
            chosen
                .iter()
                .map(|p| (f64::from(p.level), p.p99_ms))
                .collect(),
        );
        line.tips = chosen
            .iter()
            .map(|p| {
                format!(
                    "{}: p99 {} ms, {} req/s, {:.3}% errors",
                    Level::fixed(p.level, s.open).label(),
                    num(p.p99_ms),
                    num(p.rps),
                    p.error_rate * 100.0
                )
            })
            .collect();
        line
    };
    let mut bound = Series::new(
        &format!("bound: p99 ≤ {} ms", num(s.p99_ms)),
        TARGET,
        probes
            .iter()
            .map(|p| (f64::from(p.level), s.p99_ms))
            .collect(),
    );
    bound.dashed = true;
    bound.markers = false;
    LineChart {
        id: "chart-search".into(),
        width: svg::WIDTH,
        title: "Search probes: p99 by level, pass and fail".into(),
        height: 320.0,
        x: Axis {
            include: None,
            ..Axis::linear(if s.open {
                "rate (req/s)"
            } else {
                "concurrency"
            })
        },
        y: Axis::linear("p99 (ms)"),
        series: vec![
            bound,
            series(true, "passed", CAPACITY),
            series(false, "failed", FAILED),
        ],
        markers: s
            .capacity
            .iter()
            .map(|c| Marker {
                x: f64::from(c.level),
                label: format!("capacity {} req/s", num(c.rps)),
                color: CAPACITY.into(),
            })
            .collect(),
    }
    .render()
}

fn rate_axis() -> Axis {
    Axis::linear("target rate (req/s)")
}

fn achieved_chart(open: &[&LevelSummary]) -> String {
    let mut target = Series::new(
        "target",
        TARGET,
        open.iter().map(|l| (l.level.x(), l.level.x())).collect(),
    );
    target.dashed = true;
    let mut achieved = Series::new(
        "achieved send rate",
        SERVICE,
        open.iter()
            .map(|l| (l.level.x(), l.achieved_rate.map_or(0.0, |a| a.mean)))
            .collect(),
    );
    achieved.tips = open
        .iter()
        .map(|l| {
            format!(
                "{}: sent {} req/s, {} late, {} dropped",
                l.label(),
                num(l.achieved_rate.map_or(0.0, |a| a.mean)),
                l.late.unwrap_or(0),
                l.dropped.unwrap_or(0)
            )
        })
        .collect();
    let carried = Series::new(
        "successful req/s",
        CAPACITY,
        open.iter().map(|l| (l.level.x(), l.rps.mean)).collect(),
    );
    LineChart {
        id: "chart-achieved".into(),
        width: svg::WIDTH,
        title: "Open loop: achieved against target rate".into(),
        height: 300.0,
        x: rate_axis(),
        y: Axis::linear("requests per second"),
        series: vec![target, achieved, carried],
        markers: Vec::new(),
    }
    .render()
}

fn corrected_chart(open: &[&LevelSummary]) -> String {
    let line = |name: &str, color: &str, dashed: bool, f: fn(&LevelSummary) -> f64| {
        let mut s = Series::new(
            name,
            color,
            open.iter().map(|l| (l.level.x(), f(l))).collect(),
        );
        s.dashed = dashed;
        s
    };
    LineChart {
        id: "chart-corrected".into(),
        width: svg::WIDTH,
        title: "Open loop: latency from the intended send (corrected) and from the actual send (service)"
            .into(),
        height: 320.0,
        x: rate_axis(),
        y: Axis::linear("latency (ms)"),
        series: vec![
            line("p99 corrected", CORRECTED, false, |l| l.p99_ms.mean),
            line("p99 service", SERVICE, false, |l| {
                l.service_p99_ms.map_or(0.0, |s| s.mean)
            }),
            line("p50 corrected", CORRECTED, true, |l| l.p50_ms.mean),
            line("p50 service", SERVICE, true, |l| {
                l.service_p50_ms.map_or(0.0, |s| s.mean)
            }),
        ],
        markers: Vec::new(),
    }
    .render()
}
