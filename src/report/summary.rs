//! The machine-readable summary `run --json` and `merge --json` print on
//! stdout: per run, its outcome, where its reports are, its level figures,
//! its verdicts and, with `--baseline`, the comparison's grade.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::compare::Grade;
use super::frontier::Frontier;
use super::{Outcome, Report, Status};
use crate::assertions::Verdict;
use crate::history::trend::Drift;
use crate::metrics::LevelSummary;
use crate::search::SearchResult;

/// What `run --json` prints: one [`Summary`] per run, in the order run
/// (each variant of a file is a run of its own).
#[derive(Debug, Clone, Serialize)]
pub struct RunsSummary {
    /// Every run, in order.
    pub runs: Vec<Summary>,
}

/// One run, as `run --json` lists it and `merge --json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// The `--baseline` comparison; `null` without `--baseline`.
    pub regression: Option<Regression>,
    /// The variant's name; `null` for a file without variants (and a merge).
    pub variant: Option<String>,
    /// `[scenario] name`.
    pub scenario: String,
    /// `merge` only: how many shards were merged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shards: Option<usize>,
    /// PASS, FAIL, INTERRUPTED, ERROR or RUNNING; its exit code is the run's.
    pub outcome: Outcome,
    /// How far the run got: `complete`, `interrupted`, `failed`, `running`.
    pub status: Status,
    /// Why the run stopped early, when it did.
    pub error: Option<String>,
    /// The run folder holding `report.json` and the other formats.
    pub report_dir: PathBuf,
    /// One summary per level, as in `report.json`.
    pub levels: Vec<LevelSummary>,
    /// Capacity at each latency bound, when `[report]` asks for it.
    pub frontier: Option<Frontier>,
    /// Where `[load] search` ended, when the scenario searches.
    pub search: Option<SearchResult>,
    /// Every assertion checked, passed or not.
    pub verdicts: Vec<Verdict>,
}

impl Summary {
    /// The summary of `report`, written in `dir`; no variant, shards or
    /// regression yet.
    pub fn of(report: &Report, dir: &Path) -> Summary {
        Summary {
            regression: None,
            variant: None,
            scenario: report.scenario.name.clone(),
            shards: None,
            outcome: report.outcome(),
            status: report.status,
            error: report.error.clone(),
            report_dir: dir.to_path_buf(),
            levels: report.levels.clone(),
            frontier: report.frontier.clone(),
            search: report.search.clone(),
            verdicts: report.verdicts.clone(),
        }
    }
}

/// The `--baseline` comparison of a run.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Regression {
    /// The comparison was made.
    Judged {
        /// OK, WARN or FAIL (a FAIL exits 1).
        grade: Grade,
        /// The concurrency levels (or rates) graded FAIL.
        failing_levels: Vec<u32>,
        /// With `--baseline history`: what the run was compared with.
        #[serde(flatten)]
        history: Option<HistoryBaseline>,
    },
    /// The comparison could not be made (exit 2).
    Error {
        /// Why not, e.g. an unreadable history database.
        error: String,
    },
}

/// What `--baseline history` compared a run with.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryBaseline {
    /// The history database read.
    pub history: PathBuf,
    /// How many earlier comparable runs the median was taken over.
    pub baseline_runs: usize,
    /// Figures drifting over the recent runs.
    pub drift: Vec<Drift>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;

    /// `run --json` of the fixture report, with and without a baseline.
    #[test]
    fn run_json_summary_snapshot() {
        let report = fixture::report();
        let dir = Path::new("results/fixture/20260101T000000Z");
        let plain = Summary::of(&report, dir);
        let mut judged = Summary::of(&report, &dir.join("fast"));
        judged.variant = Some("fast".into());
        judged.regression = Some(Regression::Judged {
            grade: Grade::Fail,
            failing_levels: vec![4],
            history: Some(HistoryBaseline {
                history: "results/history.sqlite".into(),
                baseline_runs: 5,
                drift: Vec::new(),
            }),
        });
        let doc = RunsSummary {
            runs: vec![plain, judged],
        };
        insta::assert_snapshot!(
            "run --json",
            serde_json::to_string_pretty(&doc).expect("a summary serialises")
        );
    }

    /// `merge --json`: the shard count, no variant.
    #[test]
    fn merge_json_summary_keys() {
        let mut s = Summary::of(&fixture::report(), Path::new("merged"));
        s.shards = Some(2);
        s.regression = Some(Regression::Error {
            error: "no database".into(),
        });
        let v = serde_json::to_value(&s).expect("a summary serialises");
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "regression",
                "variant",
                "scenario",
                "shards",
                "outcome",
                "status",
                "error",
                "report_dir",
                "levels",
                "frontier",
                "search",
                "verdicts"
            ]
        );
        assert_eq!(v["outcome"], "INTERRUPTED");
        assert_eq!(
            v["regression"],
            serde_json::json!({ "error": "no database" })
        );
    }
}
