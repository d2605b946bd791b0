//! `report.html`: one self-contained page (no script, no network) with inline
//! SVG charts: throughput against the Little's-law ideal with the ceiling,
//! latency percentiles by concurrency, the latency spectrum, the per-second
//! time series, errors, verdicts, the resolved scenario and the environment.
//! Direct steps (the baseline) are kept apart: their own table, their own
//! labels (`c=1 · direct`) and element ids (`chart-timeseries-rps-1-direct`),
//! and none of the target's totals.
//!
//! The markup lives in `templates/report.html.j2`, embedded at build time so
//! the binary needs no file beside it.

use minijinja::{context, Environment, Value};
use serde::Serialize;

use super::ceiling::{self, Analysis};
use super::svg::{self, level_color, num, Axis, LineChart, Marker, Series};
use super::{
    level_table, outcome_word, unmeasured_line, Exporter, LevelColumn, Report, Side, Status,
    StepReport, NOT_MEASURED,
};
use crate::metrics::ErrorClass;
use crate::plan::LevelKind;

const TEMPLATE: &str = include_str!("../../templates/report.html.j2");

/// Chart element ids (the tests look for them); a direct step's time series
/// add `-direct` to theirs.
pub const CHART_IDS: &[&str] = &[
    "chart-throughput",
    "chart-latency",
    "chart-spectrum",
    "chart-timeseries-rps-1",
    "chart-timeseries-latency-1",
];

const P50: &str = "#2563eb";
const P95: &str = "#d97706";
const P99: &str = "#dc2626";
const IDEAL: &str = "#9aa5b1";
const CEILING: &str = "#7c3aed";

pub struct Html;

impl Exporter for Html {
    fn file_name(&self) -> &'static str {
        "report.html"
    }

    fn render(&self, report: &Report) -> String {
        let mut env = Environment::new();
        env.add_template("report.html.j2", TEMPLATE)
            .expect("the embedded report template parses");
        let tmpl = env
            .get_template("report.html.j2")
            .expect("the template was just added");
        tmpl.render(page(report))
            .expect("the report template renders from the report model")
    }
}

#[derive(Serialize)]
struct Card {
    label: String,
    value: String,
    note: String,
}

#[derive(Serialize)]
struct VerdictRow {
    passed: bool,
    /// `PASS`, `FAIL` or `NOT MEASURED`.
    word: &'static str,
    level: String,
    metric: &'static str,
    text: String,
}

fn page(r: &Report) -> Value {
    let analysis = Analysis::of(r);
    let (header, rows) = level_table(r, Side::Target);
    let (direct_header, direct_rows) = level_table(r, Side::Direct);
    let outcome = outcome_word(r);
    let verdicts: Vec<VerdictRow> = r
        .verdicts
        .iter()
        .map(|v| VerdictRow {
            passed: v.passed,
            word: v.word(),
            level: LevelColumn::of(r.verdicts.iter().map(|v| &v.level)).cell(v.level),
            metric: v.metric.key(),
            // The result and level have their own columns.
            text: v.figure(),
        })
        .collect();
    let efficiency: Vec<Vec<String>> = analysis
        .levels
        .iter()
        .map(|l| {
            vec![
                l.concurrency.to_string(),
                num(l.rps),
                num(l.ideal_rps),
                format!("{:.0}%", l.efficiency * 100.0),
                l.growth_per_doubling
                    .map_or("–".into(), ceiling::signed_percent),
            ]
        })
        .collect();
    let safe = |s: String| Value::from_safe_string(s);
    let streams = r.streams.clone().unwrap_or_default();
    let (stream_overhead_header, stream_overhead_rows) = super::stream::overhead_table(&streams);
    let (stream_health_header, mut stream_health_rows) = super::stream::health_table(&streams);
    if !streams.levels.iter().any(|h| h.checked > 0) {
        stream_health_rows.clear();
    }
    let stream_title = |t: &str| {
        let mut c = t.chars();
        c.next()
            .map(|f| f.to_uppercase().chain(c).collect::<String>())
            .unwrap_or_default()
    };
    context! {
        name => r.scenario.name,
        description => r.scenario.description,
        file => r.scenario.file.display().to_string(),
        outcome,
        outcome_class => outcome.to_lowercase(),
        status => r.status.label(),
        error => r.error,
        started_at => short_time(&r.started_at),
        finished_at => r.finished_at.as_deref().map(short_time),
        cards => cards(r, &analysis),
        ceiling_line => analysis.ceiling_line(),
        efficiency_line => analysis.efficiency_line(),
        efficiency,
        header,
        rows,
        level_field => level_kind(r).field(),
        level_column => level_column(r).header(),
        level_short => match level_kind(r) {
            LevelKind::Workers => "c",
            LevelKind::Rate => "r/s",
        },
        unmeasured_line => unmeasured_line(r, Side::Target),
        direct_title => super::DIRECT_TITLE,
        direct_header,
        direct_rows,
        stream_overhead_title => stream_title(super::stream::OVERHEAD_TITLE),
        stream_overhead_header,
        stream_overhead_rows,
        stream_health_title => stream_title(super::stream::HEALTH_TITLE),
        stream_health_header,
        stream_health_rows,
        stream_lines => super::stream::lines(r),
        verdicts,
        verdicts_failed => r.verdicts.iter().filter(|v| v.failed()).count(),
        verdicts_passed => r.verdicts.iter().filter(|v| v.passed).count(),
        capacity => super::html_capacity::section(r),
        throughput_svg => safe(throughput_chart(r, &analysis)),
        latency_svg => safe(latency_chart(r)),
        spectrum_svg => safe(spectrum_chart(r)),
        timeseries => timeseries_panels(r),
        errors_svg => errors_chart(r).map(safe),
        error_rows => error_rows(r),
        error_legend => error_legend(r),
        steps => step_rows(r),
        scenario_toml => scenario_text(&r.scenario.resolved),
        environment => environment_rows(r),
        server_metrics => server_metric_rows(r),
        memory => r.memory.as_ref().map(|m| {
            let (header, rows) = super::memory::memory_table(m);
            context! { header, rows }
        }),
    }
}

fn environment_rows(r: &Report) -> Vec<(&'static str, String)> {
    let e = &r.environment;
    let mut rows = vec![
        ("tool", format!("scenario {}", e.tool_version)),
        ("git commit", e.git_commit.clone()),
        ("OS", e.os.clone()),
        ("kernel", e.kernel.clone()),
        ("CPU", e.cpu.clone()),
        ("cores", e.cores.to_string()),
    ];
    if let Some(p) = &e.cpus {
        rows.push(("pinning", p.to_string()));
    }
    rows.push(("schema version", r.schema_version.to_string()));
    rows
}

fn cards(r: &Report, a: &Analysis) -> Vec<Card> {
    let mut out = Vec::new();
    if let Some((c, rps)) = a.peak {
        out.push(Card {
            label: "Peak throughput".into(),
            value: format!("{} req/s", num(rps)),
            note: format!("at concurrency {c}"),
        });
    }
    out.push(Card {
        label: "Throughput ceiling".into(),
        value: match (&a.ceiling, a.levels.len()) {
            (Some(c), _) => format!("c = {}", c.concurrency),
            (None, n) if n >= 2 => "not reached".into(),
            _ => "–".into(),
        },
        note: match &a.ceiling {
            Some(c) => format!(
                "{} per doubling to c={}",
                ceiling::signed_percent(c.growth_per_doubling),
                c.next_concurrency
            ),
            None if a.levels.len() >= 2 => format!(
                "still ≥ +{:.0}% per doubling",
                ceiling::GROWTH_THRESHOLD * 100.0
            ),
            None => "needs two levels".into(),
        },
    });
    if let Some(s) = a.service_ms {
        out.push(Card {
            label: "Unloaded latency".into(),
            value: format!("{} ms", num(s)),
            note: "smallest p50 of any level".into(),
        });
    }
    let requests: u64 = r.levels.iter().map(|l| l.requests).sum();
    let errors: u64 = r.levels.iter().map(|l| l.errors).sum();
    out.push(Card {
        label: "Requests".into(),
        value: num(requests as f64),
        note: if errors == 0 {
            "no errors".into()
        } else {
            format!(
                "{} errors ({:.2}%)",
                num(errors as f64),
                errors as f64 * 100.0 / requests.max(1) as f64
            )
        },
    });
    let failed = r.verdicts.iter().filter(|v| v.failed()).count();
    let passed = r.verdicts.iter().filter(|v| v.passed).count();
    let unmeasured = r.verdicts.len() - passed - failed;
    let unmeasured_note = match unmeasured {
        0 => String::new(),
        n => format!(", {n} not measured"),
    };
    out.push(Card {
        label: "Assertions".into(),
        value: format!("{passed}/{}", r.verdicts.len()),
        note: if r.verdicts.is_empty() {
            if r.status == Status::Complete {
                "none declared".into()
            } else {
                "not judged (run incomplete)".into()
            }
        } else if failed == 0 && unmeasured == 0 {
            "all passed".into()
        } else {
            format!("{failed} failed{unmeasured_note}")
        },
    });
    out
}

/// The levels' kind (workers or rate), for axis names and titles.
fn level_kind(r: &Report) -> LevelKind {
    LevelKind::of(r.levels.iter().map(|l| &l.level))
}

/// The level column of the report's tables.
fn level_column(r: &Report) -> LevelColumn {
    LevelColumn::of(r.levels.iter().map(|l| &l.level))
}

/// The level axis (concurrency or target rate): log scale with the sweep's
/// levels as ticks when the sweep spans a factor of 4 or more, linear
/// otherwise.
fn level_axis(r: &Report) -> Axis {
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

fn throughput_chart(r: &Report, a: &Analysis) -> String {
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

fn latency_chart(r: &Report) -> String {
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
fn step_color(r: &Report, s: &StepReport) -> String {
    let i = r
        .levels
        .iter()
        .position(|l| l.level == s.level)
        .unwrap_or(0);
    level_color(i, r.levels.len())
}

fn spectrum_chart(r: &Report) -> String {
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

#[derive(Serialize)]
struct StepPanel {
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
fn timeseries_panels(r: &Report) -> Vec<StepPanel> {
    r.steps
        .iter()
        .map(|s| {
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
            let chart = |id: String, title: String, y: &str, series: Vec<Series>| {
                LineChart {
                    id,
                    width: svg::WIDTH / 2.0,
                    title,
                    height: 210.0,
                    x: Axis::linear("seconds into the step"),
                    y: Axis::linear(y),
                    series,
                    markers: Vec::new(),
                }
                .render()
            };
            let suffix = match s.side {
                Side::Target => "",
                Side::Direct => "-direct",
            };
            let m = &s.metrics;
            let ramp_svg = super::ramp::charts(s, &name, suffix)
                .map(|(load, latency)| Value::from_safe_string(load + &latency));
            StepPanel {
                ramp_svg,
                title: if m.requests == 0 {
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
                },
                note: if m.requests == 0 {
                    Some("no request finished".to_string())
                } else {
                    (s.timeseries.len() < 3)
                        .then(|| "shorter than 3 s: too few seconds for a trend".to_string())
                },
                rps_svg: Value::from_safe_string(chart(
                    format!("chart-timeseries-rps-{}{suffix}", s.index + 1),
                    format!("{name}: successful requests per second"),
                    "successes / s",
                    vec![rps],
                )),
                latency_svg: Value::from_safe_string(chart(
                    format!("chart-timeseries-latency-{}{suffix}", s.index + 1),
                    format!("{name}: p50 and p99 latency per second"),
                    "latency (ms)",
                    vec![hi, mid],
                )),
            }
        })
        .collect()
}

/// Per class the steps of `side` saw (from
/// [`ErrorSummary::classes`](crate::metrics::ErrorSummary::classes), in its
/// order), the count at each level of that side.
fn class_counts(r: &Report, side: Side) -> Vec<(ErrorClass, Vec<u64>)> {
    let levels = r.levels_of(side);
    super::classes_seen(r.steps_of(side))
        .into_iter()
        .map(|class| {
            let counts = levels
                .iter()
                .map(|l| {
                    r.steps_of(side)
                        .filter(|s| s.level == l.level)
                        .map(|s| s.metrics.errors.count(class))
                        .sum()
                })
                .collect();
            (class, counts)
        })
        .collect()
}

fn errors_chart(r: &Report) -> Option<String> {
    let classes = class_counts(r, Side::Target);
    if classes.is_empty() {
        return None;
    }
    const COLORS: [&str; 6] = [
        "#dc2626", "#d97706", "#7c3aed", "#0d9488", "#2563eb", "#be185d",
    ];
    let categories: Vec<String> = r.levels.iter().map(|l| l.level.label()).collect();
    let parts: Vec<(String, String, Vec<f64>)> = classes
        .into_iter()
        .enumerate()
        .map(|(i, (class, counts))| {
            (
                class.label(),
                COLORS[i % COLORS.len()].to_string(),
                counts.into_iter().map(|n| n as f64).collect(),
            )
        })
        .collect();
    Some(svg::stacked_bars(
        "chart-errors",
        &format!(
            "Failed requests by class and {} (through the target)",
            level_kind(r).field()
        ),
        "failed requests",
        &categories,
        &parts,
    ))
}

/// One row per level with failed or resent requests: the target's levels,
/// then the direct ones (their level cell says `direct`); resends
/// follow the classes as `resent: n`. Empty when no step of either side
/// failed or resent a request.
fn error_rows(r: &Report) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let column = LevelColumn::of(r.levels.iter().map(|l| &l.level));
    for side in Side::ALL {
        let classes = class_counts(r, side);
        for (i, l) in r.levels_of(side).iter().enumerate() {
            let errors: u64 = classes.iter().map(|(_, v)| v[i]).sum();
            if errors == 0 && l.retries == 0 {
                continue;
            }
            let requests: u64 = r
                .steps_of(side)
                .filter(|s| s.level == l.level)
                .map(|s| s.metrics.requests)
                .sum();
            let detail: Vec<String> = classes
                .iter()
                .filter(|(_, v)| v[i] > 0)
                .map(|(class, v)| format!("{}: {}", class.label(), v[i]))
                .chain((l.retries > 0).then(|| format!("resent: {}", l.retries)))
                .collect();
            out.push(vec![
                match side {
                    Side::Target => column.cell(l.level),
                    Side::Direct => format!("{} · direct", column.cell(l.level)),
                },
                requests.to_string(),
                errors.to_string(),
                format!("{:.2}%", errors as f64 * 100.0 / requests.max(1) as f64),
                detail.join(", "),
            ]);
        }
    }
    out
}

/// `(class, meaning)` for every class some step saw, for the legend.
fn error_legend(r: &Report) -> Vec<(String, &'static str)> {
    super::classes_seen(r.steps.iter())
        .into_iter()
        .map(|c| (c.label(), c.meaning()))
        .collect()
}

/// Per step and scraped series: the step, service, series, first, last,
/// min and max value over the step, and how many scrapes had it.
fn server_metric_rows(r: &Report) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for s in &r.steps {
        for m in &s.server_metrics {
            let values: Vec<f64> = m.values.iter().flatten().copied().collect();
            let (Some(first), Some(last)) = (values.first(), values.last()) else {
                continue;
            };
            let min = values.iter().copied().fold(f64::INFINITY, f64::min);
            let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            rows.push(vec![
                s.name(r),
                m.service.clone(),
                m.series.clone(),
                num(*first),
                num(*last),
                num(min),
                num(max),
                format!("{}/{}", values.len(), m.values.len()),
            ]);
        }
    }
    rows
}

fn step_rows(r: &Report) -> Vec<Vec<String>> {
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

/// `2026-11-22T21:51:31.2615Z` as `2026-11-22 21:51:31 UTC`.
fn short_time(rfc3339: &str) -> String {
    match (rfc3339.get(..10), rfc3339.get(11..19)) {
        (Some(day), Some(time)) if rfc3339.ends_with('Z') => format!("{day} {time} UTC"),
        _ => rfc3339.to_string(),
    }
}

/// The resolved scenario as TOML (JSON if it has no TOML form).
pub fn scenario_text(resolved: &serde_json::Value) -> String {
    fn strip_nulls(v: &serde_json::Value) -> serde_json::Value {
        match v {
            serde_json::Value::Object(map) => map
                .iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), strip_nulls(v)))
                .collect::<serde_json::Map<_, _>>()
                .into(),
            serde_json::Value::Array(items) => items.iter().map(strip_nulls).collect(),
            other => other.clone(),
        }
    }
    toml::to_string(&strip_nulls(resolved))
        .unwrap_or_else(|_| serde_json::to_string_pretty(resolved).unwrap_or_default())
}

/// Every `id="…"` attribute of a rendered page, in order (ids must be
/// unique: the tests check it on synthetic and real reports).
#[doc(hidden)]
pub fn element_ids(html: &str) -> Vec<&str> {
    html.match_indices(" id=\"")
        .filter_map(|(at, m)| {
            let rest = &html[at + m.len()..];
            rest.find('"').map(|end| &rest[..end])
        })
        .collect()
}
