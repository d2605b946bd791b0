//! Regressions against a baseline: two reports compared level by level and
//! metric by metric, each delta graded OK, WARN or FAIL by the
//! `[assert.regression]` limits (by default an LLM inference platform
//! harness's criteria: FAIL on p95 +20% or errors over 1%, WARN on p95
//! +10%), rendered as a terminal table or Markdown for a pull-request comment.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::Regression;
use super::{Report, Status};
use crate::metrics::LevelSummary;
use crate::plan::Level;

mod render;

/// How bad one delta (or a level, or the whole comparison) is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Grade {
    Ok,
    Warn,
    Fail,
}

impl Grade {
    pub fn word(self) -> &'static str {
        match self {
            Grade::Ok => "OK",
            Grade::Warn => "WARN",
            Grade::Fail => "FAIL",
        }
    }
}

/// The metrics compared, in table order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    P50Ms,
    P95Ms,
    P99Ms,
    Rps,
    ErrorRate,
}

impl Metric {
    pub const ALL: [Metric; 5] = [
        Metric::P50Ms,
        Metric::P95Ms,
        Metric::P99Ms,
        Metric::Rps,
        Metric::ErrorRate,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Metric::P50Ms => "p50 ms",
            Metric::P95Ms => "p95 ms",
            Metric::P99Ms => "p99 ms",
            Metric::Rps => "req/s",
            Metric::ErrorRate => "error rate",
        }
    }

    fn of(self, l: &LevelSummary) -> f64 {
        match self {
            Metric::P50Ms => l.p50_ms.mean,
            Metric::P95Ms => l.p95_ms.mean,
            Metric::P99Ms => l.p99_ms.mean,
            Metric::Rps => l.rps.mean,
            Metric::ErrorRate => l.error_rate.mean,
        }
    }

    fn show(self, v: f64) -> String {
        match self {
            Metric::ErrorRate => format!("{:.2}%", v * 100.0),
            Metric::Rps => format!("{v:.1}"),
            _ => format!("{v:.2}"),
        }
    }
}

/// One metric at one level.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Delta {
    pub metric: Metric,
    pub base: f64,
    pub current: f64,
    /// Relative change (`current / base - 1`); for the error rate, the
    /// difference in share. `None` when the base is zero.
    pub change: Option<f64>,
    pub grade: Grade,
    /// Why it is a WARN or FAIL, e.g. `p95 +32% (FAIL above +20%)`.
    pub reason: Option<String>,
}

impl Delta {
    fn change_text(&self) -> String {
        match (self.metric, self.change) {
            (Metric::ErrorRate, Some(c)) => format!("{:+.2} pts", c * 100.0),
            (_, Some(c)) => format!("{:+.1}%", c * 100.0),
            (_, None) => "n/a".into(),
        }
    }
}

/// One level.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LevelComparison {
    #[serde(flatten)]
    pub level: Level,
    /// Empty when the level was measured on one side only.
    pub deltas: Vec<Delta>,
    pub grade: Grade,
    /// E.g. `not measured in the current run`.
    pub note: Option<String>,
}

/// Which run one side of the comparison is (the base or the current run).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComparedRun {
    pub scenario: String,
    pub path: PathBuf,
    pub started_at: String,
    pub git_commit: String,
    pub status: Status,
}

impl ComparedRun {
    fn of(report: &Report, path: &Path) -> ComparedRun {
        ComparedRun {
            scenario: report.scenario.name.clone(),
            path: path.to_path_buf(),
            started_at: report.started_at.clone(),
            git_commit: report.environment.git_commit.clone(),
            status: report.status,
        }
    }
}

/// The whole comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub base: ComparedRun,
    pub current: ComparedRun,
    pub thresholds: Regression,
    pub levels: Vec<LevelComparison>,
    /// Problems with the comparison itself (an incomplete run, another scenario).
    pub notes: Vec<String>,
    pub grade: Grade,
}

/// `[assert.regression]` of the report, or the defaults.
pub fn thresholds_of(report: &Report) -> Regression {
    report.regression_limits()
}

/// Grade one metric's move from `base` to `current`.
pub fn grade(metric: Metric, base: f64, current: f64, t: &Regression) -> Delta {
    let change = match metric {
        Metric::ErrorRate => Some(current - base),
        _ if base > 0.0 => Some(current / base - 1.0),
        _ => None,
    };
    let pct = |x: f64| format!("{:+.0}%", x * 100.0);
    let (grade, reason) = match (metric, change) {
        (Metric::ErrorRate, _) if current > t.fail_error_rate => (
            Grade::Fail,
            Some(format!(
                "error rate {:.2}% (FAIL above {}%)",
                current * 100.0,
                t.fail_error_rate * 100.0
            )),
        ),
        (Metric::P95Ms, Some(c)) if c > t.fail_p95_increase => (
            Grade::Fail,
            Some(format!(
                "p95 {} (FAIL above {})",
                pct(c),
                pct(t.fail_p95_increase)
            )),
        ),
        (Metric::P95Ms, Some(c)) if c > t.warn_p95_increase => (
            Grade::Warn,
            Some(format!(
                "p95 {} (WARN above {})",
                pct(c),
                pct(t.warn_p95_increase)
            )),
        ),
        (Metric::P50Ms, Some(c)) if c.abs() > t.warn_p50_change => (
            Grade::Warn,
            Some(format!(
                "p50 {} (WARN beyond ±{:.0}%)",
                pct(c),
                t.warn_p50_change * 100.0
            )),
        ),
        (Metric::Rps, Some(c)) if c.abs() > t.warn_rps_change => (
            Grade::Warn,
            Some(format!(
                "throughput {} (WARN beyond ±{:.0}%)",
                pct(c),
                t.warn_rps_change * 100.0
            )),
        ),
        _ => (Grade::Ok, None),
    };
    Delta {
        metric,
        base,
        current,
        change,
        grade,
        reason,
    }
}

/// Compare `current` against `base`, level by level.
pub fn compare(
    base: &Report,
    base_path: &Path,
    current: &Report,
    current_path: &Path,
    t: &Regression,
) -> Comparison {
    let measured = |r: &Report, c: Level| -> Option<LevelSummary> {
        r.levels
            .iter()
            .find(|l| l.level == c && l.runs > 0)
            .cloned()
    };
    let mut levels: Vec<Level> = base
        .levels
        .iter()
        .chain(&current.levels)
        .map(|l| l.level)
        .collect();
    levels.sort_unstable();
    levels.dedup();
    let rows: Vec<LevelComparison> = levels
        .into_iter()
        .map(|c| match (measured(base, c), measured(current, c)) {
            (Some(b), Some(n)) => {
                let deltas: Vec<Delta> = Metric::ALL
                    .iter()
                    .map(|&m| grade(m, m.of(&b), m.of(&n), t))
                    .collect();
                let grade = deltas.iter().map(|d| d.grade).max().unwrap_or(Grade::Ok);
                LevelComparison {
                    level: c,
                    deltas,
                    grade,
                    note: None,
                }
            }
            (Some(_), None) => LevelComparison {
                level: c,
                deltas: Vec::new(),
                grade: Grade::Warn,
                note: Some("not measured in the current run".into()),
            },
            (None, _) => LevelComparison {
                level: c,
                deltas: Vec::new(),
                grade: Grade::Ok,
                note: Some("not in the baseline".into()),
            },
        })
        .collect();
    let mut notes = Vec::new();
    if base.scenario.name != current.scenario.name {
        notes.push(format!(
            "comparing different scenarios: `{}` against `{}`",
            current.scenario.name, base.scenario.name
        ));
    }
    for (side, r) in [("baseline", base), ("current run", current)] {
        if r.status != Status::Complete {
            notes.push(format!(
                "the {side} did not complete (status {})",
                r.status.label()
            ));
        }
    }
    let grade = rows.iter().map(|l| l.grade).max().unwrap_or(Grade::Ok);
    Comparison {
        base: ComparedRun::of(base, base_path),
        current: ComparedRun::of(current, current_path),
        thresholds: *t,
        levels: rows,
        notes,
        grade,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Spread;

    fn t() -> Regression {
        Regression::default()
    }

    #[test]
    fn seed_003_defaults() {
        let d = t();
        assert_eq!(
            (
                d.fail_p95_increase,
                d.fail_error_rate,
                d.warn_p95_increase,
                d.warn_p50_change,
                d.warn_rps_change
            ),
            (0.20, 0.01, 0.10, 0.15, 0.15)
        );
    }

    #[test]
    fn p95_fails_above_20_and_warns_above_10_percent() {
        assert_eq!(grade(Metric::P95Ms, 100.0, 125.0, &t()).grade, Grade::Fail);
        assert_eq!(grade(Metric::P95Ms, 100.0, 115.0, &t()).grade, Grade::Warn);
        assert_eq!(grade(Metric::P95Ms, 100.0, 109.0, &t()).grade, Grade::Ok);
        // Faster is never a p95 regression.
        assert_eq!(grade(Metric::P95Ms, 100.0, 50.0, &t()).grade, Grade::Ok);
        let d = grade(Metric::P95Ms, 10.0, 13.0, &t());
        assert!((d.change.unwrap() - 0.3).abs() < 1e-9);
        assert_eq!(d.reason.as_deref(), Some("p95 +30% (FAIL above +20%)"));
    }

    #[test]
    fn error_rate_fails_above_1_percent_absolute() {
        assert_eq!(grade(Metric::ErrorRate, 0.0, 0.02, &t()).grade, Grade::Fail);
        assert_eq!(grade(Metric::ErrorRate, 0.0, 0.005, &t()).grade, Grade::Ok);
        // Already bad in the baseline is still a FAIL.
        assert_eq!(
            grade(Metric::ErrorRate, 0.05, 0.05, &t()).grade,
            Grade::Fail
        );
    }

    #[test]
    fn p50_and_throughput_warn_when_they_move_either_way() {
        assert_eq!(grade(Metric::P50Ms, 100.0, 120.0, &t()).grade, Grade::Warn);
        assert_eq!(grade(Metric::P50Ms, 100.0, 80.0, &t()).grade, Grade::Warn);
        assert_eq!(grade(Metric::P50Ms, 100.0, 110.0, &t()).grade, Grade::Ok);
        assert_eq!(grade(Metric::Rps, 1000.0, 800.0, &t()).grade, Grade::Warn);
        assert_eq!(grade(Metric::Rps, 1000.0, 1200.0, &t()).grade, Grade::Warn);
        assert_eq!(grade(Metric::Rps, 1000.0, 900.0, &t()).grade, Grade::Ok);
        // p99 is shown, never graded.
        assert_eq!(grade(Metric::P99Ms, 10.0, 100.0, &t()).grade, Grade::Ok);
        // No base: no relative change, no verdict.
        assert_eq!(grade(Metric::P50Ms, 0.0, 10.0, &t()).change, None);
    }

    #[test]
    fn configured_limits_are_used() {
        let strict = Regression {
            fail_p95_increase: 0.05,
            ..Regression::default()
        };
        assert_eq!(
            grade(Metric::P95Ms, 100.0, 106.0, &strict).grade,
            Grade::Fail
        );
    }

    fn level(c: u32, p50: f64, p95: f64, rps: f64) -> LevelSummary {
        LevelSummary {
            level: Level::workers(c),
            runs: 1,
            p50_ms: Spread::of(&[p50]),
            p95_ms: Spread::of(&[p95]),
            p99_ms: Spread::of(&[p95]),
            rps: Spread::of(&[rps]),
            error_rate: Spread::of(&[0.0]),
            ..LevelSummary::default()
        }
    }

    fn report(levels: Vec<LevelSummary>) -> Report {
        let text = r#"{"schema_version":1,"status":"complete","error":null,
            "scenario":{"name":"s","file":"s.toml","description":null,"resolved":{}},
            "plan":null,"environment":{"tool_version":"0","git_commit":"abc","os":"","kernel":"","cpu":"","cores":1},
            "started_at":"t","finished_at":null,"steps":[],"levels":[],"verdicts":[]}"#;
        let mut r: Report = serde_json::from_str(text).unwrap();
        r.levels = levels;
        r
    }

    #[test]
    fn levels_are_graded_by_their_worst_metric_and_named() {
        let base = report(vec![
            level(1, 10.0, 11.0, 100.0),
            level(4, 10.0, 11.0, 400.0),
        ]);
        let cur = report(vec![
            level(1, 10.2, 11.1, 99.0),
            level(4, 13.0, 14.3, 300.0),
        ]);
        let c = compare(&base, Path::new("a"), &cur, Path::new("b"), &t());
        assert_eq!(c.grade, Grade::Fail);
        assert_eq!(c.failing_levels(), vec![4]);
        assert_eq!(c.levels[0].grade, Grade::Ok);
        let text = c.render_text();
        assert!(text.contains("FAIL c=4: p95 +30%"), "{text}");
        assert!(text.contains("FAIL: regression at concurrency 4"), "{text}");
        let md = c.render_markdown();
        assert!(md.contains("| concurrency | p50 ms |"), "{md}");
        assert!(md.contains("❌ **FAIL** c=4"), "{md}");

        let same = compare(&base, Path::new("a"), &base, Path::new("a"), &t());
        assert_eq!(same.grade, Grade::Ok);
        assert!(same.render_text().contains("OK: no regression"));
    }

    #[test]
    fn a_level_missing_from_the_current_run_warns() {
        let base = report(vec![
            level(1, 10.0, 11.0, 100.0),
            level(4, 10.0, 11.0, 400.0),
        ]);
        let cur = report(vec![
            level(1, 10.0, 11.0, 100.0),
            level(8, 10.0, 11.0, 800.0),
        ]);
        let c = compare(&base, Path::new("a"), &cur, Path::new("b"), &t());
        assert_eq!(c.grade, Grade::Warn);
        assert_eq!(c.levels.len(), 3);
        assert_eq!(
            c.levels[1].note.as_deref(),
            Some("not measured in the current run")
        );
        assert_eq!(c.levels[2].grade, Grade::Ok);
    }

    #[test]
    fn thresholds_come_from_the_resolved_scenario() {
        let mut r = report(Vec::new());
        assert_eq!(thresholds_of(&r), Regression::default());
        r.scenario.resolved =
            serde_json::json!({"assert": {"regression": {"fail_p95_increase": 0.5}}});
        let got = thresholds_of(&r);
        assert_eq!(got.fail_p95_increase, 0.5);
        assert_eq!(got.warn_p50_change, 0.15);
        // issue 16: a report that stores its limits is graded by them, typed.
        r.regression = Some(Regression {
            fail_p95_increase: 0.3,
            ..Regression::default()
        });
        assert_eq!(thresholds_of(&r).fail_p95_increase, 0.3);
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["regression"]["fail_p95_increase"], 0.3);
        let back: Report = serde_json::from_value(json).unwrap();
        assert_eq!(back.regression, r.regression);
    }
}
