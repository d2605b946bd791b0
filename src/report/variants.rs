//! Variants side by side: per level, each variant's throughput
//! and latency, and how it compares with the first (`variants.md`,
//! `variants.json` and the terminal).

use std::fmt::Write;
use std::path::PathBuf;

use serde::Serialize;

use super::{outcome_word, LevelColumn, Report};
use crate::plan::Level;

/// One variant's run, as the comparison sees it.
#[derive(Debug, Clone, Serialize)]
pub struct VariantRun {
    pub variant: String,
    pub outcome: String,
    pub report_dir: PathBuf,
    pub levels: Vec<crate::metrics::LevelSummary>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub overhead: Vec<super::Overhead>,
}

impl VariantRun {
    pub fn of(variant: &str, report: &Report, dir: PathBuf) -> VariantRun {
        VariantRun {
            variant: variant.to_string(),
            outcome: outcome_word(report).to_string(),
            report_dir: dir,
            levels: report.levels.clone(),
            overhead: report.overhead.clone(),
        }
    }
}

/// `variants.json`: the scenario and each variant's run, first to last.
#[derive(Debug, Serialize)]
pub struct Comparison<'a> {
    /// The scenario's name.
    pub scenario: &'a str,
    /// Each variant's run, in the order the scenario names them.
    pub variants: &'a [VariantRun],
}

/// The comparison as pretty JSON (`variants.json`).
pub fn json(scenario: &str, runs: &[VariantRun]) -> String {
    let doc = Comparison {
        scenario,
        variants: runs,
    };
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

fn change(value: f64, first: f64) -> String {
    if first == 0.0 {
        String::new()
    } else {
        format!(" ({:+.0}%)", (value / first - 1.0) * 100.0)
    }
}

/// Rows: one per level and variant, with the change against the first
/// variant; `—` for a level the variant did not measure.
fn rows(runs: &[VariantRun]) -> Vec<[String; 7]> {
    let mut levels: Vec<Level> = Vec::new();
    for run in runs {
        for l in &run.levels {
            if !levels.contains(&l.level) {
                levels.push(l.level);
            }
        }
    }
    let column = LevelColumn::of(&levels);
    let mut out = Vec::new();
    for c in levels {
        let first = runs
            .first()
            .and_then(|r| r.levels.iter().find(|l| l.level == c));
        for run in runs {
            let Some(l) = run.levels.iter().find(|l| l.level == c) else {
                continue;
            };
            let vs = |v: f64, f: fn(&crate::metrics::LevelSummary) -> f64| match first {
                Some(first) if !std::ptr::eq(first, l) => change(v, f(first)),
                _ => String::new(),
            };
            let overhead = run
                .overhead
                .iter()
                .find(|o| o.level == c)
                .map_or("".to_string(), |o| format!("{:+.2}", o.p50_ms));
            if l.runs == 0 || l.requests == 0 {
                let none = super::NOT_MEASURED.to_string();
                out.push([
                    column.cell(c),
                    run.variant.clone(),
                    none.clone(),
                    none.clone(),
                    none.clone(),
                    none,
                    overhead,
                ]);
                continue;
            }
            out.push([
                column.cell(c),
                run.variant.clone(),
                format!("{:.1}{}", l.rps.mean, vs(l.rps.mean, |l| l.rps.mean)),
                format!(
                    "{:.2}{}",
                    l.p50_ms.mean,
                    vs(l.p50_ms.mean, |l| l.p50_ms.mean)
                ),
                format!(
                    "{:.2}{}",
                    l.p99_ms.mean,
                    vs(l.p99_ms.mean, |l| l.p99_ms.mean)
                ),
                format!("{:.2}%", l.error_rate.mean * 100.0),
                overhead,
            ]);
        }
    }
    out
}

/// After the level column.
const HEADER: [&str; 6] = [
    "variant",
    "req/s",
    "p50 ms",
    "p99 ms",
    "error rate",
    "p50 overhead ms",
];

fn header(runs: &[VariantRun]) -> Vec<&'static str> {
    let levels = runs.iter().flat_map(|r| r.levels.iter().map(|l| &l.level));
    let mut h = vec![LevelColumn::of(levels).header()];
    h.extend(HEADER);
    h
}

/// The comparison as Markdown, for a pull request.
pub fn markdown(scenario: &str, runs: &[VariantRun]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "## `{scenario}`: variants side by side\n");
    let _ = writeln!(
        out,
        "Changes in brackets are against the first variant, `{}`.\n",
        runs.first().map_or("", |r| r.variant.as_str())
    );
    let rows: Vec<Vec<String>> = rows(runs).into_iter().map(Vec::from).collect();
    out.push_str(&super::markdown::pipe_table(&header(runs), &rows));
    let _ = writeln!(out);
    for run in runs {
        let _ = writeln!(
            out,
            "- `{}`: {} ({})",
            run.variant,
            run.outcome,
            run.report_dir.display()
        );
    }
    out
}

/// The comparison as aligned text for the terminal.
pub fn text(scenario: &str, runs: &[VariantRun]) -> String {
    let rows: Vec<Vec<String>> = rows(runs).into_iter().map(Vec::from).collect();
    let mut out = format!("\n{scenario}: variants side by side (changes against the first)\n");
    out.push_str(&super::terminal::aligned(&header(runs), &rows, false));
    out
}
