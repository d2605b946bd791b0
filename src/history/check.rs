//! Regression against history (`run --baseline history`, `compare history
//! CURRENT`): the current run against the median of the last `history_runs`
//! comparable runs, graded by `compare` exactly as against one baseline run,
//! plus the drift check of [`super::trend`].
//!
//! Comparable means the same scenario hash and the same machine (CPU model
//! and cores); other runs are never looked at.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::trend::{self, Drift};
use super::{Figure, RunRecord, Store, StoreError};
use crate::metrics::{LevelSummary, Spread};
use crate::report::compare::{self, Comparison, Grade};
use crate::report::{Report, Status};
use crate::scenario::model::Regression;

/// The verdict against history.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryCheck {
    /// The database read.
    pub database: PathBuf,
    /// The current run's scenario hash.
    pub scenario_hash: String,
    /// Earlier comparable runs the baseline is the median of.
    pub baseline_runs: usize,
    /// `None` when the history holds no earlier comparable run.
    pub comparison: Option<Comparison>,
    pub drift: Vec<Drift>,
    pub grade: Grade,
}

/// Judge `current` (read from `current_path`) against the comparable runs
/// in the database at `db`. A database that does not exist yet holds no
/// run: the check then says there is nothing to compare.
pub fn against_history(
    db: &Path,
    current: &Report,
    current_path: &Path,
    t: &Regression,
) -> Result<HistoryCheck, StoreError> {
    let dir = current_path
        .parent()
        .filter(|_| current_path.is_file())
        .unwrap_or(current_path);
    let this = RunRecord::of(
        &Report {
            status: Status::Complete,
            ..current.clone()
        },
        dir,
    )
    .expect("a complete report makes a record");
    let earlier = match Store::open_existing(db) {
        Ok(store) => store.comparable(
            &this.scenario_hash,
            &this.machine,
            &this.run_dir,
            t.history_runs.max(t.drift_runs.saturating_sub(1)),
        )?,
        Err(StoreError::Missing { .. }) => Vec::new(),
        Err(e) => return Err(e),
    };
    let recent = &earlier[earlier.len().saturating_sub(t.history_runs)..];
    let comparison = (!recent.is_empty()).then(|| {
        let base = baseline(current, recent);
        compare::compare(&base, db, current, current_path, t)
    });
    let series_runs = &earlier[earlier.len().saturating_sub(t.drift_runs.saturating_sub(1))..];
    let drift: Vec<Drift> = this
        .levels
        .iter()
        .flat_map(|l| trend::CHECKED.map(|f| (l, f)))
        .filter_map(|(l, f)| {
            let reference = trend::median(&values(recent, l.concurrency, f))?;
            let mut series = values(series_runs, l.concurrency, f);
            series.push(l.get(f)?);
            trend::drift(f, l.concurrency, &series, reference, t)
        })
        .collect();
    let grade = comparison
        .iter()
        .map(|c| c.grade)
        .chain(drift.iter().map(|d| d.grade))
        .max()
        .unwrap_or(Grade::Ok);
    Ok(HistoryCheck {
        database: db.to_path_buf(),
        scenario_hash: this.scenario_hash,
        baseline_runs: recent.len(),
        comparison,
        drift,
        grade,
    })
}

/// `f` at level `c` in each of `runs` that measured it.
fn values(runs: &[RunRecord], c: u32, f: Figure) -> Vec<f64> {
    runs.iter()
        .filter_map(|r| r.level(c).and_then(|l| l.get(f)))
        .collect()
}

/// A report standing for the history: `current` with each level's figures
/// replaced by their medians over `runs` (oldest first), so `compare` grades
/// it like any baseline run.
fn baseline(current: &Report, runs: &[RunRecord]) -> Report {
    let mut levels: Vec<u32> = runs
        .iter()
        .flat_map(|r| r.levels.iter().map(|l| l.concurrency))
        .collect();
    levels.sort_unstable();
    levels.dedup();
    let median =
        |c: u32, f: Figure| Spread::of(&[trend::median(&values(runs, c, f)).unwrap_or(0.0)]);
    let first = runs.first().map_or("", |r| r.started_at.as_str());
    let last = runs.last().map_or("", |r| r.started_at.as_str());
    let mut base = current.clone();
    base.status = Status::Complete;
    base.started_at = format!("median of {} runs, {first} … {last}", runs.len());
    base.environment.git_commit = format!("median of {} runs", runs.len());
    base.steps.clear();
    base.baseline_levels.clear();
    base.overhead.clear();
    base.levels = levels
        .into_iter()
        .map(|c| LevelSummary {
            // History keeps each level by its number only.
            level: crate::plan::Level::workers(c),
            runs: values(runs, c, Figure::Rps).len() as u32,
            rps: median(c, Figure::Rps),
            p50_ms: median(c, Figure::P50Ms),
            p95_ms: median(c, Figure::P95Ms),
            p99_ms: median(c, Figure::P99Ms),
            error_rate: median(c, Figure::ErrorRate),
            ..LevelSummary::default()
        })
        .collect();
    base
}

impl HistoryCheck {
    /// The drift findings that are WARNs.
    fn drift_findings(&self) -> impl Iterator<Item = (u32, &str)> {
        self.drift
            .iter()
            .filter_map(|d| d.reason.as_deref().map(|r| (d.concurrency, r)))
    }

    fn nothing(&self) -> String {
        format!(
            "compare history ({}) → current: no earlier comparable run (scenario hash {}, same \
             machine); nothing to compare yet. Runs record there by default; `scenario history \
             import DIR` backfills older ones.\n",
            self.database.display(),
            self.scenario_hash
        )
    }

    /// Aligned text for the terminal.
    pub fn render_text(&self) -> String {
        let Some(c) = &self.comparison else {
            return self.nothing();
        };
        let mut out = c.render_text();
        for (level, reason) in self.drift_findings() {
            let _ = writeln!(out, "WARN c={level}: {reason}");
        }
        let _ = writeln!(
            out,
            "against the median of {} comparable runs; drift: {}",
            self.baseline_runs,
            self.drift_word()
        );
        out
    }

    /// Markdown for a pull-request comment.
    pub fn render_markdown(&self) -> String {
        let Some(c) = &self.comparison else {
            return self.nothing();
        };
        let mut out = c.render_markdown();
        let _ = writeln!(
            out,
            "\nBaseline: the median of the last {} comparable runs (scenario hash `{}`).",
            self.baseline_runs, self.scenario_hash
        );
        for (level, reason) in self.drift_findings() {
            let _ = writeln!(out, "- ⚠️ **WARN** c={level}: {reason}");
        }
        out
    }

    fn drift_word(&self) -> &'static str {
        if self.drift.is_empty() {
            "too few runs to fit a trend"
        } else if self.drift.iter().any(|d| d.grade > Grade::Ok) {
            "WARN"
        } else {
            "OK"
        }
    }

    /// The levels with a FAIL.
    pub fn failing_levels(&self) -> Vec<u32> {
        self.comparison
            .as_ref()
            .map(Comparison::failing_levels)
            .unwrap_or_default()
    }
}
