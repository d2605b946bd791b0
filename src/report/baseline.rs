//! Comparing a run with a baseline — an earlier run, or the history of
//! comparable runs: `scenario compare`, and `--baseline` of `run` and `merge`.

use std::path::{Path, PathBuf};

use super::compare::{self, Comparison, Grade};
use super::outcome::Reported;
use super::summary::{HistoryBaseline, Regression};
use super::{Outcome, Report};
use crate::cli::{CompareArgs, CompareFormat};
use crate::history::{self, check::HistoryCheck};
use crate::out::pretty_json;

/// `--baseline history` and `compare history CURRENT`.
pub const HISTORY: &str = "history";

/// What `--baseline` compares with.
pub enum Baseline {
    /// One earlier run: its report and where it was read.
    Run(Box<Report>, PathBuf),
    /// The median of the last comparable runs in the history database.
    History,
}

impl Baseline {
    /// The baseline `--baseline PATH` names, read before anything starts so
    /// that a bad path costs no run; `Err` after printing why.
    pub fn read(path: Option<&Path>) -> Result<Option<Baseline>, Reported> {
        match path {
            None => Ok(None),
            Some(path) if path == Path::new(HISTORY) => Ok(Some(Baseline::History)),
            Some(path) => match Report::load(path) {
                Ok((b, p)) => Ok(Some(Baseline::Run(Box::new(b), p))),
                Err(e) => {
                    errln!("error: baseline: {e}");
                    Err(Reported)
                }
            },
        }
    }

    /// Compare `report`, written in `dir`, with this baseline (the history
    /// in `db`), print the comparison (on stderr when `json`, stdout keeping
    /// the JSON summary), write `compare.md`; the summary and the outcome
    /// (FAIL on a FAIL grade, ERROR when nothing could be compared).
    pub fn check(
        &self,
        db: &Path,
        report: &Report,
        dir: &Path,
        json: bool,
    ) -> (Regression, Outcome) {
        let current_path = dir.join("report.json");
        let t = compare::thresholds_of(report);
        let (text, md, grade, summary) = match self {
            Baseline::Run(base, base_path) => {
                let c = compare::compare(base, base_path, report, &current_path, &t);
                let summary = Regression::Judged {
                    grade: c.grade,
                    failing_levels: c.failing_levels(),
                    history: None,
                };
                (c.render_text(), c.render_markdown(), c.grade, summary)
            }
            Baseline::History => {
                match history::check::against_history(db, report, &current_path, &t) {
                    Ok(h) => {
                        let summary = Regression::Judged {
                            grade: h.grade,
                            failing_levels: h.failing_levels(),
                            history: Some(HistoryBaseline {
                                history: db.to_path_buf(),
                                baseline_runs: h.baseline_runs,
                                drift: h.drift.clone(),
                            }),
                        };
                        (h.render_text(), h.render_markdown(), h.grade, summary)
                    }
                    Err(e) => {
                        errln!("error: --baseline history: {e}");
                        let error = e.to_string();
                        return (Regression::Error { error }, Outcome::Error);
                    }
                }
            }
        };
        if json {
            err!("\n{text}");
        } else {
            out!("\n{text}");
        }
        let mut outcome = grade_outcome(grade);
        let md_path = dir.join("compare.md");
        if let Err(e) = std::fs::write(&md_path, md) {
            errln!("error: cannot write {}: {e}", md_path.display());
            outcome = outcome.max(Outcome::Error);
        }
        (summary, outcome)
    }
}

/// A comparison's grade as an outcome: FAIL fails, OK and WARN pass.
pub fn grade_outcome(grade: Grade) -> Outcome {
    if grade == Grade::Fail {
        Outcome::Fail
    } else {
        Outcome::Pass
    }
}

/// `scenario compare BASE CURRENT`: FAIL on a FAIL grade, PASS on OK or
/// WARN, ERROR on bad input.
pub fn compare_command(args: &CompareArgs) -> Outcome {
    let (current, current_path) = match Report::load(&args.current) {
        Ok(r) => r,
        Err(e) => {
            errln!("error: current: {e}");
            return Outcome::Error;
        }
    };
    let Some(t) = thresholds(args, &current) else {
        return Outcome::Error;
    };
    let format = if args.markdown {
        CompareFormat::Md
    } else {
        args.format
    };
    let (text, grade) = if args.base == Path::new(HISTORY) {
        let db = args
            .history
            .clone()
            .unwrap_or_else(|| history::command::near(&current_path));
        let h: HistoryCheck =
            match history::check::against_history(&db, &current, &current_path, &t) {
                Ok(h) => h,
                Err(e) => {
                    errln!("error: {e}");
                    return Outcome::Error;
                }
            };
        let text = match format {
            CompareFormat::Text => h.render_text(),
            CompareFormat::Md => h.render_markdown(),
            CompareFormat::Json => pretty_json(&h),
        };
        (text, h.grade)
    } else {
        let (base, base_path) = match Report::load(&args.base) {
            Ok(r) => r,
            Err(e) => {
                errln!("error: base: {e}");
                return Outcome::Error;
            }
        };
        let c: Comparison = compare::compare(&base, &base_path, &current, &current_path, &t);
        let text = match format {
            CompareFormat::Text => c.render_text(),
            CompareFormat::Md => c.render_markdown(),
            CompareFormat::Json => pretty_json(&c),
        };
        (text, c.grade)
    };
    out!("{text}");
    if let Some(out) = &args.out {
        if let Err(e) = std::fs::write(out, &text) {
            errln!("error: cannot write {}: {e}", out.display());
            return Outcome::Error;
        }
    }
    grade_outcome(grade)
}

/// The current run's `[assert.regression]` with the flags' overrides, or
/// `None` after printing which flag is out of range.
fn thresholds(args: &CompareArgs, current: &Report) -> Option<crate::scenario::model::Regression> {
    let mut t = compare::thresholds_of(current);
    let overrides = [
        (
            &mut t.fail_p95_increase,
            args.fail_p95_increase,
            "--fail-p95-increase",
        ),
        (
            &mut t.fail_error_rate,
            args.fail_error_rate,
            "--fail-error-rate",
        ),
        (
            &mut t.warn_p95_increase,
            args.warn_p95_increase,
            "--warn-p95-increase",
        ),
        (
            &mut t.warn_p50_change,
            args.warn_p50_change,
            "--warn-p50-change",
        ),
        (
            &mut t.warn_rps_change,
            args.warn_rps_change,
            "--warn-rps-change",
        ),
    ];
    for (slot, value, flag) in overrides {
        if let Some(v) = value {
            if !(v >= 0.0 && v.is_finite()) {
                errln!("error: {flag} must be a share ≥ 0, e.g. 0.2 for 20%");
                return None;
            }
            *slot = v;
        }
    }
    Some(t)
}
