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
use super::svg::{self, num};
use super::{
    level_table, outcome_word, unmeasured_line, Exporter, LevelColumn, Report, Side, Status,
};
use crate::metrics::ErrorClass;
use crate::plan::LevelKind;

mod charts;
mod server;
mod steps;

use charts::{latency_chart, spectrum_chart, throughput_chart};
use server::{server_metric_charts, server_metric_rows};
use steps::{step_rows, timeseries_panels};

const TEMPLATE: &str = include_str!("../../templates/report.html.j2");

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
    let verdicts = verdict_rows(r);
    let efficiency = efficiency_rows(&analysis);
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
        server_charts => server_metric_charts(r),
        memory => r.memory.as_ref().map(|m| {
            let (header, rows) = super::memory::memory_table(m);
            context! { header, rows }
        }),
    }
}

fn verdict_rows(r: &Report) -> Vec<VerdictRow> {
    r.verdicts
        .iter()
        .map(|v| VerdictRow {
            passed: v.passed,
            word: v.word(),
            level: LevelColumn::of(r.verdicts.iter().map(|v| &v.level)).cell(v.level),
            metric: v.metric.key(),
            // The result and level have their own columns.
            text: v.figure(),
        })
        .collect()
}

/// Per level: concurrency, measured and ideal req/s, efficiency, growth.
fn efficiency_rows(analysis: &Analysis) -> Vec<Vec<String>> {
    analysis
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
        .collect()
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
