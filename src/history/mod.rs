//! Results over time: every completed run's per-level figures, recorded in an
//! embedded SQLite database ([`store`]), listed and charted per scenario
//! (one renderer per format), and judged against the median of earlier
//! comparable runs with a drift check ([`check`], [`trend`]).
//!
//! Only like is compared with like: a run is identified by a stable hash of
//! its resolved scenario ([`identity`]) and by the machine it ran on.

pub mod check;
pub mod command;
mod csv;
mod html;
mod json;
mod markdown;
pub mod store;
mod text;
pub mod trend;

use std::path::{Path, PathBuf};

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

use crate::metrics::{LevelSummary, Spread};
use crate::report::{Report, Status};

pub use store::{Query, Store, StoreError};

/// The database's file name under a run's `--out` folder.
pub const FILE_NAME: &str = "history.sqlite";

/// One figure recorded per run and level: a column of the `levels` table,
/// a key of the JSON output, a chart of the HTML page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, clap::ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum Figure {
    Rps,
    P50Ms,
    P95Ms,
    P99Ms,
    ErrorRate,
    TtftP50Ms,
    TtftP99Ms,
    ItlP50Ms,
    ItlP99Ms,
    OverheadP50Ms,
}

impl Figure {
    /// Every figure, in table order.
    pub const ALL: [Figure; 10] = [
        Figure::Rps,
        Figure::P50Ms,
        Figure::P95Ms,
        Figure::P99Ms,
        Figure::ErrorRate,
        Figure::TtftP50Ms,
        Figure::TtftP99Ms,
        Figure::ItlP50Ms,
        Figure::ItlP99Ms,
        Figure::OverheadP50Ms,
    ];

    /// Shown even when no run measured them (the others appear when some did).
    const ALWAYS: [Figure; 5] = [
        Figure::Rps,
        Figure::P50Ms,
        Figure::P95Ms,
        Figure::P99Ms,
        Figure::ErrorRate,
    ];

    /// The column, JSON key and `--metric` name: `p99_ms`.
    pub fn column(self) -> &'static str {
        match self {
            Figure::Rps => "rps",
            Figure::P50Ms => "p50_ms",
            Figure::P95Ms => "p95_ms",
            Figure::P99Ms => "p99_ms",
            Figure::ErrorRate => "error_rate",
            Figure::TtftP50Ms => "ttft_p50_ms",
            Figure::TtftP99Ms => "ttft_p99_ms",
            Figure::ItlP50Ms => "itl_p50_ms",
            Figure::ItlP99Ms => "itl_p99_ms",
            Figure::OverheadP50Ms => "overhead_p50_ms",
        }
    }

    /// A table heading: `p99 ms`.
    pub fn label(self) -> &'static str {
        match self {
            Figure::Rps => "req/s",
            Figure::P50Ms => "p50 ms",
            Figure::P95Ms => "p95 ms",
            Figure::P99Ms => "p99 ms",
            Figure::ErrorRate => "error rate",
            Figure::TtftP50Ms => "TTFT p50 ms",
            Figure::TtftP99Ms => "TTFT p99 ms",
            Figure::ItlP50Ms => "ITL p50 ms",
            Figure::ItlP99Ms => "ITL p99 ms",
            Figure::OverheadP50Ms => "overhead p50 ms",
        }
    }

    /// A value as tables show it.
    pub fn show(self, v: f64) -> String {
        match self {
            Figure::ErrorRate => format!("{:.2}%", v * 100.0),
            Figure::Rps => format!("{v:.1}"),
            _ => format!("{v:.2}"),
        }
    }

    /// This figure of a level (means over its runs); the overhead is the
    /// report's gateway-minus-direct figure for the level.
    fn of(self, report: &Report, l: &LevelSummary) -> Option<f64> {
        let opt = |s: &Option<Spread>| s.map(|s| s.mean);
        match self {
            Figure::Rps => Some(l.rps.mean),
            Figure::P50Ms => Some(l.p50_ms.mean),
            Figure::P95Ms => Some(l.p95_ms.mean),
            Figure::P99Ms => Some(l.p99_ms.mean),
            Figure::ErrorRate => Some(l.error_rate.mean),
            Figure::TtftP50Ms => opt(&l.ttft_p50_ms),
            Figure::TtftP99Ms => opt(&l.ttft_p99_ms),
            Figure::ItlP50Ms => opt(&l.itl_p50_ms),
            Figure::ItlP99Ms => opt(&l.itl_p99_ms),
            Figure::OverheadP50Ms => report
                .overhead
                .iter()
                .find(|o| o.level == l.level)
                .map(|o| o.p50_ms),
        }
    }

    /// The figures to show for `runs`: `--metric`'s, or the five main ones
    /// and every other some run measured.
    pub fn shown(metric: Option<Figure>, runs: &[RunRecord]) -> Vec<Figure> {
        if let Some(m) = metric {
            return vec![m];
        }
        Figure::ALL
            .into_iter()
            .filter(|f| {
                Figure::ALWAYS.contains(f)
                    || runs
                        .iter()
                        .flat_map(|r| &r.levels)
                        .any(|l| l.get(*f).is_some())
            })
            .collect()
    }
}

/// The machine a run measured on; only runs on the same one are compared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Machine {
    pub cpu: String,
    pub cores: u32,
}

/// One level's recorded figures.
#[derive(Debug, Clone, PartialEq)]
pub struct LevelRecord {
    pub concurrency: u32,
    /// Indexed like [`Figure::ALL`]; `None` when the run did not measure it.
    pub figures: [Option<f64>; Figure::ALL.len()],
}

impl LevelRecord {
    pub fn get(&self, f: Figure) -> Option<f64> {
        self.figures[f as usize]
    }
}

/// `{"concurrency": 1, "rps": …, "p50_ms": …}`, measured figures only.
impl Serialize for LevelRecord {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("concurrency", &self.concurrency)?;
        for f in Figure::ALL {
            if let Some(v) = self.get(f) {
                map.serialize_entry(f.column(), &v)?;
            }
        }
        map.end()
    }
}

/// One recorded run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunRecord {
    /// Row id in the database (0 before it is stored).
    pub id: i64,
    /// `[scenario] name`, without the variant.
    pub scenario: String,
    /// The variant, e.g. `workers=2`, when the scenario has variants.
    pub variant: Option<String>,
    /// [`identity`] of the resolved scenario.
    pub scenario_hash: String,
    /// The commit the tool was built from (`None` when unknown).
    pub git_commit: Option<String>,
    /// The branch (CI's branch variable at record time); `None` when unknown.
    pub git_branch: Option<String>,
    pub tool_version: String,
    pub machine: Machine,
    /// UTC, RFC 3339, as in the report.
    pub started_at: String,
    /// The run folder (absolute), holding report.json and report.html.
    pub run_dir: PathBuf,
    pub levels: Vec<LevelRecord>,
}

impl RunRecord {
    /// The record of a completed run written in `dir`; `None` for a run that
    /// did not complete (interrupted, failed): its figures are partial.
    pub fn of(report: &Report, dir: &Path) -> Option<RunRecord> {
        if report.status != Status::Complete {
            return None;
        }
        let (scenario, variant) = names(report);
        let commit = &report.environment.git_commit;
        Some(RunRecord {
            id: 0,
            scenario,
            variant,
            scenario_hash: identity(&report.scenario.resolved),
            git_commit: (!commit.is_empty() && commit != "unknown").then(|| commit.clone()),
            git_branch: branch(),
            tool_version: report.environment.tool_version.clone(),
            machine: Machine {
                cpu: report.environment.cpu.clone(),
                cores: u32::try_from(report.environment.cores).unwrap_or(u32::MAX),
            },
            started_at: report.started_at.clone(),
            run_dir: dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf()),
            levels: report
                .levels
                .iter()
                .filter(|l| l.runs > 0 && l.requests > 0)
                .map(|l| LevelRecord {
                    concurrency: l.level.value,
                    figures: Figure::ALL.map(|f| f.of(report, l)),
                })
                .collect(),
        })
    }

    /// `tiny`, or `tiny · workers=2` for a variant.
    pub fn name(&self) -> String {
        match &self.variant {
            Some(v) => format!("{} · {v}", self.scenario),
            None => self.scenario.clone(),
        }
    }

    pub fn level(&self, concurrency: u32) -> Option<&LevelRecord> {
        self.levels.iter().find(|l| l.concurrency == concurrency)
    }
}

/// The scenario's name and variant: the report names a variant's run
/// `name · variant`, and its resolved scenario holds the bare name.
fn names(report: &Report) -> (String, Option<String>) {
    let full = &report.scenario.name;
    let base = report
        .scenario
        .resolved
        .pointer("/scenario/name")
        .and_then(|v| v.as_str());
    let split = match base {
        Some(b) if full == b => None,
        Some(b) => full
            .strip_prefix(b)
            .and_then(|r| r.strip_prefix(" · "))
            .map(|v| (b, v)),
        None => full.split_once(" · "),
    };
    match split {
        Some((b, v)) => (b.to_string(), Some(v.to_string())),
        None => (full.clone(), None),
    }
}

/// The branch being measured, from the CI's environment (GitHub Actions,
/// GitLab CI, Jenkins, or `SCENARIO_GIT_BRANCH`); `None` when none is set.
fn branch() -> Option<String> {
    [
        "SCENARIO_GIT_BRANCH",
        "GITHUB_HEAD_REF",
        "GITHUB_REF_NAME",
        "CI_COMMIT_REF_NAME",
        "BRANCH_NAME",
    ]
    .iter()
    .filter_map(|k| std::env::var(k).ok())
    .find(|v| !v.is_empty())
}

/// Keys of the resolved scenario that do not make it another benchmark:
/// limits (`assert`), outputs (`report`) and the description. Everything
/// else, the fake upstream's delays included, is part of what was measured:
/// a run with another resolved scenario is never compared with the others.
const NOT_IDENTITY: &[&str] = &["/assert", "/report", "/scenario/description"];

/// A stable hash of the resolved scenario: FNV-1a (64 bits, hex) of its
/// canonical JSON (object keys sorted, no spaces), without [`NOT_IDENTITY`].
/// Stable across builds and platforms, unlike std's hasher.
pub fn identity(resolved: &serde_json::Value) -> String {
    let mut v = resolved.clone();
    for pointer in NOT_IDENTITY {
        let (parent, key) = pointer.rsplit_once('/').expect("pointers start with /");
        if let Some(obj) = v.pointer_mut(parent).and_then(|p| p.as_object_mut()) {
            obj.remove(key);
        }
    }
    let mut text = String::new();
    canonical(&v, &mut text);
    format!("{:016x}", fnv1a(text.as_bytes()))
}

fn canonical(v: &serde_json::Value, out: &mut String) {
    match v {
        serde_json::Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::Value::from(k.as_str()).to_string());
                out.push(':');
                canonical(&map[k], out);
            }
            out.push('}');
        }
        serde_json::Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes
        .iter()
        .fold(OFFSET, |h, &b| (h ^ u64::from(b)).wrapping_mul(PRIME))
}

/// Where a run's history goes: `--history`, else `[report] history`, else
/// `<out>/history.sqlite`.
pub fn location(flag: Option<&Path>, setting: Option<&Path>, out: &Path) -> PathBuf {
    flag.or(setting)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| out.join(FILE_NAME))
}

/// Record a finished run in the database at `db`: `Ok(false)` when the run
/// did not complete (not recorded) or was recorded already.
pub fn record(db: &Path, report: &Report, dir: &Path) -> Result<bool, StoreError> {
    let Some(record) = RunRecord::of(report, dir) else {
        return Ok(false);
    };
    Store::open(db)?.record(&record)
}

/// `--since AGE` as the RFC 3339 UTC time runs must start at or after
/// (the form reports record `started_at` in, so it compares as text).
pub fn cutoff(age: std::time::Duration) -> String {
    use time::format_description::well_known::Rfc3339;
    (time::OffsetDateTime::now_utc() - age)
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// Output formats of `scenario history`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// An aligned table for the terminal.
    Text,
    /// A Markdown table.
    Md,
    /// The runs as JSON.
    Json,
    /// One row per run and level.
    Csv,
    /// A self-contained page: one trend chart per figure and level.
    Html,
}

/// What `scenario history` shows.
#[derive(Debug, Clone)]
pub struct View<'a> {
    /// The database the runs came from.
    pub db: &'a Path,
    /// Oldest first.
    pub runs: &'a [RunRecord],
    /// Only this level, when set.
    pub level: Option<u32>,
    /// The figures shown.
    pub figures: Vec<Figure>,
}

impl View<'_> {
    /// `(run, level)` rows, oldest run first, levels in run order.
    pub fn rows(&self) -> impl Iterator<Item = (&RunRecord, &LevelRecord)> {
        self.runs.iter().flat_map(move |r| {
            r.levels
                .iter()
                .filter(move |l| self.level.is_none_or(|c| l.concurrency == c))
                .map(move |l| (r, l))
        })
    }

    /// The view in `format`.
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Text => text::render(self),
            Format::Md => markdown::render(self),
            Format::Json => json::render(self),
            Format::Csv => csv::render(self),
            Format::Html => html::render(self),
        }
    }
}

/// The short commit or `-`.
fn commit_of(r: &RunRecord) -> &str {
    r.git_commit.as_deref().unwrap_or("-")
}

#[cfg(test)]
mod tests;
