//! The one report model every output format is derived from, and writing it.
//!
//! The report is written when the run starts and rewritten after every step,
//! so a failure or Ctrl-C later keeps everything measured so far.

pub mod baseline;
mod capacity;
pub mod ceiling;
pub mod compare;
mod csv;
mod format;
pub mod frontier;
pub mod html;
pub mod html_capacity;
mod json;
mod junit;
mod load;
pub(crate) mod markdown;
pub mod memory;
pub mod outcome;
mod ramp;
mod regression;
pub mod stream;
pub mod summary;
pub mod svg;
mod tables;
pub mod terminal;
mod usage;
pub mod variants;

#[cfg(test)]
pub(crate) mod fixture;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::assertions::Verdict;
use crate::metrics::{LevelSummary, SecondSample, StepMetrics};
use crate::plan::Level;

pub use format::Format;
pub use load::rerender;
pub use outcome::Outcome;
pub use regression::Regression;
pub(crate) use tables::{
    classes_seen, gateway_overhead_line, level_table, open_loop_note, overhead_table,
    unmeasured_line, LevelColumn, DIRECT_TITLE, NOT_MEASURED,
};
pub use usage::{EndpointCounts, FaultCounts, ProcessUsage, ServiceUsage, UpstreamCounts};

/// Bumped whenever a field changes meaning or is removed.
///
/// - 1: the first published shape.
/// - 2: each step says which side of the topology it measured with
///   `side: "target" | "direct"`, replacing `baseline: bool` (`true` is
///   `"direct"`); schema 1 reports still load.
pub const SCHEMA_VERSION: u32 = 2;

/// Everything a run produced.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub schema_version: u32,
    pub status: Status,
    /// Why the run stopped early, when it did.
    pub error: Option<String>,
    pub scenario: ScenarioInfo,
    /// The execution plan, as `scenario plan --json` prints it (see
    /// [`crate::plan::Plan::shown`]); `null` when no plan could be made.
    pub plan: Option<crate::plan::Plan>,
    pub environment: Environment,
    /// UTC, RFC 3339.
    pub started_at: String,
    pub finished_at: Option<String>,
    /// Every step run so far, in plan order.
    pub steps: Vec<StepReport>,
    /// One summary per level over its runs.
    pub levels: Vec<LevelSummary>,
    /// The same, straight against the fake upstream (`topology.direct`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub baseline_levels: Vec<LevelSummary>,
    /// What the gateway adds: level minus baseline, per percentile.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overhead: Vec<Overhead>,
    /// Capacity at each latency bound (see [`frontier`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frontier: Option<frontier::Frontier>,
    /// What a good request is (`[report] slo`), when goodput is measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slo: Option<crate::scenario::model::Slo>,
    /// Where `[load] search` ended, with every probe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search: Option<crate::search::SearchResult>,
    /// What the gateway did to the token streams; absent when nothing streamed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub streams: Option<stream::StreamFigures>,
    /// RSS of each service started: idle, steady, growth, recovered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<memory::Memory>,
    /// `[assert.regression]`, when the scenario sets it: the limits a later
    /// run is compared by (see [`Report::regression_limits`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regression: Option<Regression>,
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

impl Status {
    /// The name in JSON and in reports: `running`, `complete`,
    /// `interrupted`, `failed`.
    pub fn label(self) -> &'static str {
        match self {
            Status::Running => "running",
            Status::Complete => "complete",
            Status::Interrupted => "interrupted",
            Status::Failed => "failed",
        }
    }
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
    /// `topology.cpus`: the CPUs the gateway's side and the harness were pinned to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<crate::topology::cpus::Pinning>,
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
            cpus: None,
        }
    }
}

/// One step's figures.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepReport {
    pub index: usize,
    /// The level (JSON: `concurrency`, and `rate` in req/s for an arrival rate).
    #[serde(flatten)]
    pub level: Level,
    pub run: u32,
    pub metrics: StepMetrics,
    pub timeseries: Vec<SecondSample>,
    /// Failed warm-up requests (not in the metrics).
    pub warmup_errors: u64,
    /// The step was cut short (Ctrl-C or a failure).
    pub cancelled: bool,
    /// Why this step failed the run, when it did: a service that died
    /// during it (with the end of its log), or a failure of the harness.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Through the target, or straight against the fake upstream as the
    /// baseline of the target step with the same `index`.
    #[serde(default, alias = "baseline")]
    pub side: Side,
    /// CPU and memory of each service during the step.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<ServiceUsage>,
    /// What the fake upstream started by this run counted over the measured
    /// requests (reset after the warm-up, read after the step); absent when
    /// the run started no fake upstream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream: Option<UpstreamCounts>,
    /// The series `[report] metrics` selects from the gateway's Prometheus
    /// endpoint, one value per second of the step.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub server_metrics: Vec<crate::topology::scrape::ServerSeries>,
}

/// Which side of the topology a step measured. With `topology.direct`
/// every step runs on both sides, under the same `index`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Side {
    /// Through the system under test (the gateway, or the upstream when the
    /// scenario has no gateway).
    #[default]
    Target,
    /// Straight against the fake upstream, bypassing the gateway.
    Direct,
}

impl Side {
    /// Every side, in report order.
    pub const ALL: [Side; 2] = [Side::Target, Side::Direct];

    /// The name reports use: `target` or `direct`.
    pub fn label(self) -> &'static str {
        match self {
            Side::Target => "target",
            Side::Direct => "direct",
        }
    }
}

/// [`Side::label`].
impl Serialize for Side {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.label())
    }
}

/// [`Side::label`], or schema 1's `baseline: bool` (`true` is direct).
impl<'de> Deserialize<'de> for Side {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Side, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Side;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(r#""target", "direct" (or a schema 1 `baseline` bool)"#)
            }
            fn visit_bool<E: serde::de::Error>(self, direct: bool) -> Result<Side, E> {
                Ok(if direct { Side::Direct } else { Side::Target })
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Side, E> {
                Side::ALL
                    .into_iter()
                    .find(|s| s.label() == v)
                    .ok_or_else(|| E::invalid_value(serde::de::Unexpected::Str(v), &self))
            }
        }
        d.deserialize_any(Visitor)
    }
}

impl StepReport {
    /// Whether the step counts towards its level: it ran to its end and
    /// finished at least one request (a step with none measured nothing).
    pub fn measured(&self) -> bool {
        !self.cancelled && self.metrics.requests > 0
    }

    /// `c=4 run 2`, with ` · direct` for a direct step; `run` only when the
    /// level has several runs on the step's side.
    pub fn name(&self, report: &Report) -> String {
        let runs = report
            .steps_of(self.side)
            .filter(|s| s.level == self.level)
            .count();
        let mut name = self.level.label();
        if runs > 1 {
            name.push_str(&format!(" run {}", self.run));
        }
        if self.side == Side::Direct {
            name.push_str(" · direct");
        }
        name
    }
}

/// Gateway minus baseline at one level (means over runs), in ms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Overhead {
    #[serde(flatten)]
    pub level: Level,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    /// Gateway throughput as a share of the baseline's.
    pub rps_ratio: f64,
}

impl Report {
    /// Recompute the level summaries (and baseline overhead) from the steps.
    pub fn summarise_levels(&mut self) {
        self.levels = summarise(self.steps_of(Side::Target));
        self.summarise_memory();
        self.baseline_levels = summarise(self.steps_of(Side::Direct));
        self.overhead = self
            .levels
            .iter()
            .filter(|g| g.runs > 0)
            .filter_map(|g| {
                let b = self
                    .baseline_levels
                    .iter()
                    .find(|b| b.level == g.level && b.runs > 0)?;
                Some(Overhead {
                    level: g.level,
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
        self.streams = stream::StreamFigures::of(self);
    }

    pub fn passed(&self) -> bool {
        !self.verdicts.iter().any(Verdict::failed)
    }

    /// The steps measured on one side, in plan order.
    pub fn steps_of(&self, side: Side) -> impl Iterator<Item = &StepReport> + Clone {
        self.steps.iter().filter(move |s| s.side == side)
    }

    /// The level summaries of one side: `levels` or `baseline_levels`.
    pub fn levels_of(&self, side: Side) -> &[LevelSummary] {
        match side {
            Side::Target => &self.levels,
            Side::Direct => &self.baseline_levels,
        }
    }
}

/// Level summaries, in the order levels first appear, over measured runs
/// (a level none of whose runs measured anything has `runs: 0`).
fn summarise<'a>(steps: impl Iterator<Item = &'a StepReport> + Clone) -> Vec<LevelSummary> {
    let mut levels: Vec<Level> = Vec::new();
    for s in steps.clone() {
        if !levels.contains(&s.level) {
            levels.push(s.level);
        }
    }
    levels
        .into_iter()
        .map(|level| {
            let runs: Vec<&StepMetrics> = steps
                .clone()
                .filter(|s| s.level == level && s.measured())
                .map(|s| &s.metrics)
                .collect();
            let growth = steps
                .clone()
                .filter(|s| s.level == level && s.measured())
                .flat_map(|s| memory::under_test(&s.resources))
                .filter_map(|u| u.rss_growth_mib_per_min)
                .reduce(f64::max);
            LevelSummary {
                rss_growth_mib_per_min: growth,
                ..LevelSummary::of(level, &runs)
            }
        })
        .collect()
}

/// One output format: a file name and how to render the report into it.
pub trait Exporter {
    fn file_name(&self) -> &'static str;
    fn render(&self, report: &Report) -> String;
}

/// The exporter for a `[report] formats` name, `None` for an unknown one.
pub fn exporter(format: &str) -> Option<Box<dyn Exporter>> {
    Format::parse(format).map(Format::exporter)
}

/// Write `report` in `formats` (JSON always) into `dir`, each file replaced
/// atomically: written beside as `.NAME.tmp`, then renamed over `NAME`. On an
/// error the temporary file is removed, so a full disk leaves no litter.
pub fn write(dir: &Path, report: &Report, formats: &[Format]) -> std::io::Result<()> {
    let mut all = vec![Format::Json];
    all.extend(formats.iter().copied().filter(|f| *f != Format::Json));
    for format in all {
        let exporter = format.exporter();
        let path = dir.join(exporter.file_name());
        let tmp = dir.join(format!(".{}.tmp", exporter.file_name()));
        let written = std::fs::write(&tmp, exporter.render(report))
            .and_then(|()| std::fs::rename(&tmp, &path));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(std::io::Error::new(
                e.kind(),
                format!("cannot write {}: {e}", path.display()),
            ));
        }
    }
    Ok(())
}

/// A one-word outcome: PASS, FAIL, INTERRUPTED, ERROR or RUNNING (see [`Outcome`]).
pub fn outcome_word(report: &Report) -> &'static str {
    report.outcome().word()
}
