//! The one report model every output format is derived from, and writing it.
//!
//! The report is written when the run starts and rewritten after every step,
//! so a failure or Ctrl-C later keeps everything measured so far.

pub mod ceiling;
pub mod compare;
mod csv;
pub mod html;
mod json;
mod junit;
pub(crate) mod markdown;
pub mod svg;
pub mod terminal;
pub mod variants;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::assertions::Verdict;
use crate::metrics::{LevelSummary, SecondSample, StepMetrics};

/// Bumped whenever a field changes meaning or is removed.
pub const SCHEMA_VERSION: u32 = 1;

/// Everything a run produced.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub schema_version: u32,
    pub status: Status,
    /// Why the run stopped early, when it did.
    pub error: Option<String>,
    pub scenario: ScenarioInfo,
    /// The execution plan, as `scenario plan --json` prints it.
    pub plan: serde_json::Value,
    pub environment: Environment,
    /// UTC, RFC 3339.
    pub started_at: String,
    pub finished_at: Option<String>,
    /// Every step run so far, in plan order.
    pub steps: Vec<StepReport>,
    /// One summary per concurrency level over its runs.
    pub levels: Vec<LevelSummary>,
    /// The same, straight against the fake upstream (`topology.baseline`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub baseline_levels: Vec<LevelSummary>,
    /// What the gateway adds: level minus baseline, per percentile.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overhead: Vec<Overhead>,
    pub verdicts: Vec<Verdict>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Steps are still running (what a crash leaves behind).
    Running,
    /// Every step ran.
    Complete,
    /// Stopped by Ctrl-C or a signal.
    Interrupted,
    /// Stopped by an error (a service died, a step could not run).
    Failed,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScenarioInfo {
    pub name: String,
    pub file: PathBuf,
    pub description: Option<String>,
    /// The scenario after `extends` and `--set`, secrets redacted.
    pub resolved: serde_json::Value,
}

/// Where the figures were measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Environment {
    pub tool_version: String,
    pub git_commit: String,
    pub os: String,
    pub kernel: String,
    pub cpu: String,
    pub cores: usize,
}

impl Environment {
    pub fn detect() -> Environment {
        let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
        let os = read("/etc/os-release")
            .lines()
            .find_map(|l| l.strip_prefix("PRETTY_NAME="))
            .map(|s| s.trim_matches('"').to_string())
            .unwrap_or_else(|| std::env::consts::OS.to_string());
        let cpu = read("/proc/cpuinfo")
            .lines()
            .find_map(|l| l.strip_prefix("model name").and_then(|r| r.split_once(':')))
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_else(|| std::env::consts::ARCH.to_string());
        Environment {
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            git_commit: env!("SCENARIO_GIT_COMMIT").to_string(),
            os,
            kernel: read("/proc/sys/kernel/osrelease").trim().to_string(),
            cpu,
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

/// One step's figures.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepReport {
    pub index: usize,
    pub concurrency: u32,
    pub run: u32,
    pub metrics: StepMetrics,
    pub timeseries: Vec<SecondSample>,
    /// Failed warm-up requests (not in the metrics).
    pub warmup_errors: u64,
    /// The step was cut short (Ctrl-C or a failure).
    pub cancelled: bool,
    /// Run straight against the fake upstream, as the baseline of the step before.
    #[serde(default)]
    pub baseline: bool,
    /// CPU and memory of each service during the step.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<crate::topology::resources::ServiceUsage>,
}

/// Gateway minus baseline at one concurrency level (means over runs), in ms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Overhead {
    pub concurrency: u32,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    /// Gateway throughput as a share of the baseline's.
    pub rps_ratio: f64,
}

impl Report {
    /// Recompute the level summaries (and baseline overhead) from the steps.
    pub fn summarise_levels(&mut self) {
        self.levels = summarise(self.steps.iter().filter(|s| !s.baseline));
        self.baseline_levels = summarise(self.steps.iter().filter(|s| s.baseline));
        self.overhead = self
            .levels
            .iter()
            .filter_map(|g| {
                let b = self
                    .baseline_levels
                    .iter()
                    .find(|b| b.concurrency == g.concurrency && b.runs > 0)?;
                Some(Overhead {
                    concurrency: g.concurrency,
                    p50_ms: g.p50_ms.mean - b.p50_ms.mean,
                    p95_ms: g.p95_ms.mean - b.p95_ms.mean,
                    p99_ms: g.p99_ms.mean - b.p99_ms.mean,
                    rps_ratio: if b.rps.mean > 0.0 {
                        g.rps.mean / b.rps.mean
                    } else {
                        0.0
                    },
                })
            })
            .collect();
    }

    pub fn passed(&self) -> bool {
        self.verdicts.iter().all(|v| v.passed)
    }
}

/// Level summaries, in the order levels first appear, over finished runs.
fn summarise<'a>(steps: impl Iterator<Item = &'a StepReport> + Clone) -> Vec<LevelSummary> {
    let mut levels: Vec<u32> = Vec::new();
    for s in steps.clone() {
        if !levels.contains(&s.concurrency) {
            levels.push(s.concurrency);
        }
    }
    levels
        .into_iter()
        .map(|c| {
            let runs: Vec<&StepMetrics> = steps
                .clone()
                .filter(|s| s.concurrency == c && !s.cancelled)
                .map(|s| &s.metrics)
                .collect();
            LevelSummary::of(c, &runs)
        })
        .collect()
}

/// One output format: a file name and how to render the report into it.
pub trait Exporter {
    fn file_name(&self) -> &'static str;
    fn render(&self, report: &Report) -> String;
}

/// The exporter for a `[report] formats` name.
pub fn exporter(format: &str) -> Option<Box<dyn Exporter>> {
    match format {
        "json" => Some(Box::new(json::Json)),
        "csv" => Some(Box::new(csv::Csv)),
        "md" => Some(Box::new(markdown::Markdown)),
        "html" => Some(Box::new(html::Html)),
        "junit" => Some(Box::new(junit::Junit)),
        _ => None,
    }
}

/// Write `report` in `formats` (JSON always) into `dir`, each file replaced atomically.
pub fn write(dir: &Path, report: &Report, formats: &[String]) -> std::io::Result<()> {
    let mut names: Vec<&str> = vec!["json"];
    names.extend(formats.iter().map(String::as_str).filter(|f| *f != "json"));
    for name in names {
        if let Some(exporter) = exporter(name) {
            let path = dir.join(exporter.file_name());
            let tmp = dir.join(format!(".{}.tmp", exporter.file_name()));
            std::fs::write(&tmp, exporter.render(report))?;
            std::fs::rename(&tmp, &path)?;
        }
    }
    Ok(())
}

/// The summary table shared by the terminal and Markdown: one row per level.
pub(crate) fn level_table(report: &Report) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let header = vec![
        "concurrency",
        "runs",
        "req/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "max ms",
        "errors",
        "error rate",
    ];
    let rows = report
        .levels
        .iter()
        .map(|l| {
            let max = report
                .steps
                .iter()
                .filter(|s| s.concurrency == l.concurrency)
                .map(|s| s.metrics.latency_ms.max)
                .fold(0.0, f64::max);
            let spread = |s: &crate::metrics::Spread, digits: usize| {
                if l.runs > 1 {
                    format!("{:.digits$} ±{:.digits$}", s.mean, s.stddev)
                } else {
                    format!("{:.digits$}", s.mean)
                }
            };
            vec![
                l.concurrency.to_string(),
                l.runs.to_string(),
                spread(&l.rps, 1),
                spread(&l.p50_ms, 2),
                spread(&l.p95_ms, 2),
                spread(&l.p99_ms, 2),
                format!("{max:.2}"),
                l.errors.to_string(),
                format!("{:.2}%", l.error_rate.mean * 100.0),
            ]
        })
        .collect();
    (header, rows)
}

/// Gateway minus baseline per level, shared by the terminal and Markdown.
pub(crate) fn overhead_table(report: &Report) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let header = vec![
        "concurrency",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "throughput vs baseline",
    ];
    let rows = report
        .overhead
        .iter()
        .map(|o| {
            vec![
                o.concurrency.to_string(),
                format!("{:+.2}", o.p50_ms),
                format!("{:+.2}", o.p95_ms),
                format!("{:+.2}", o.p99_ms),
                format!("{:.0}%", o.rps_ratio * 100.0),
            ]
        })
        .collect();
    (header, rows)
}

/// A one-word outcome: PASS, FAIL, INTERRUPTED, FAILED (error) or RUNNING.
pub fn outcome_word(report: &Report) -> &'static str {
    match report.status {
        Status::Complete if report.passed() => "PASS",
        Status::Complete => "FAIL",
        Status::Interrupted => "INTERRUPTED",
        Status::Failed => "ERROR",
        Status::Running => "RUNNING",
    }
}
