//! Pass/fail verdicts: each planned check against the measured level summaries.

mod metric;

pub use metric::Metric;

use serde::{Deserialize, Serialize};

use crate::metrics::LevelSummary;
use crate::plan::{Check, Level};
use crate::search::{Outcome, SearchResult};

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// The level judged (`rate: true` in JSON for an arrival rate).
    #[serde(flatten, with = "crate::plan::level::flag")]
    pub level: Level,
    /// The `[assert]` key, e.g. `max_p50_ms`.
    pub metric: Metric,
    pub limit: f64,
    /// The measured value (mean over the level's runs); `None` when the level never ran.
    pub measured: Option<f64>,
    pub passed: bool,
    /// The check names a level this run does not measure (a per-level
    /// threshold for a level the sweep, after `--set` or a variant, leaves
    /// out): neither a PASS nor a FAIL, shown as `NOT MEASURED`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub not_measured: bool,
}

impl Verdict {
    /// A one-line description, e.g. `PASS c=100 p50 51.20 ms (limit ≤ 60 ms)`.
    pub fn describe(&self) -> String {
        format!("{} {} {}", self.word(), self.level.label(), self.figure())
    }

    /// The metric, the measured value and the limit, without the outcome
    /// and level: `p50 51.20 ms (limit ≤ 60 ms)`.
    pub fn figure(&self) -> String {
        let m = self.metric;
        let measured = match self.measured {
            Some(v) => m.value_text(v),
            None if self.not_measured => "(this run's sweep has no such level)".to_string(),
            None => "not measured".to_string(),
        };
        format!(
            "{} {measured} (limit {} {})",
            m.label(),
            m.direction().op(),
            m.limit_text(self.limit)
        )
    }
}

impl Verdict {
    /// `PASS`, `FAIL` or `NOT MEASURED`.
    pub fn word(&self) -> &'static str {
        match (self.passed, self.not_measured) {
            (true, _) => "PASS",
            (false, true) => "NOT MEASURED",
            (false, false) => "FAIL",
        }
    }

    /// A FAIL: a level that ran and missed its limit, or a level of the
    /// sweep that never finished.
    pub fn failed(&self) -> bool {
        !self.passed && !self.not_measured
    }
}

fn measure(metric: Metric, level: &LevelSummary) -> Option<f64> {
    Some(match metric {
        Metric::MinRps => level.rps.mean,
        Metric::MaxP50Ms => level.p50_ms.mean,
        Metric::MaxP95Ms => level.p95_ms.mean,
        Metric::MaxP99Ms => level.p99_ms.mean,
        Metric::MaxErrorRate => level.error_rate.mean,
        // A closed-loop level has no schedule to keep: it fails these.
        Metric::MinAchievedRateRatio => match (level.achieved_rate, level.target_rate()) {
            (Some(a), Some(r)) if r > 0.0 => a.mean / r,
            _ => 0.0,
        },
        Metric::MaxDropped => level
            .dropped
            .map_or(f64::INFINITY, |d| d as f64 / f64::from(level.runs.max(1))),
        Metric::MinGoodput => level.goodput.map_or(0.0, |g| g.mean),
        // No fit (no service sampled, or steps too short): not measured, no PASS.
        Metric::MaxRssGrowthMibPerMin => return level.rss_growth_mib_per_min,
        // Judged on the search, by `judge_capacity`.
        Metric::MinCapacityRps => return None,
    })
}

/// Judge every check against the level it names. `swept` are the levels
/// the plan measures; a check for any other level is `not_measured`.
pub fn judge(checks: &[Check], levels: &[LevelSummary], swept: &[Level]) -> Vec<Verdict> {
    checks
        .iter()
        .map(|check| {
            let level = levels.iter().find(|l| l.level == check.level);
            let measured = level
                .filter(|l| l.runs > 0)
                .and_then(|l| measure(check.metric, l));
            let passed = measured.is_some_and(|m| check.metric.direction().holds(m, check.limit));
            Verdict {
                level: check.level,
                metric: check.metric,
                limit: check.limit,
                measured,
                passed,
                not_measured: !swept.contains(&check.level),
            }
        })
        .collect()
}

/// Judge `[assert] min_capacity_rps` against where the search ended. The
/// verdict names the level that carried the capacity (or the search's lower
/// bound when none passed); a search that did not end is not a pass.
pub fn judge_capacity(limit: f64, search: Option<&SearchResult>) -> Verdict {
    let capacity = search.and_then(|s| s.capacity);
    let ended = search.is_some_and(|s| s.outcome != Outcome::Running);
    let measured = search
        .filter(|s| !s.probes.is_empty())
        .map(|_| capacity.map_or(0.0, |c| c.rps));
    Verdict {
        level: Level::fixed(
            capacity.map_or(search.map_or(0, |s| s.low), |c| c.level),
            search.is_some_and(|s| s.open),
        ),
        metric: Metric::MinCapacityRps,
        limit,
        measured,
        passed: ended
            && measured.is_some_and(|m| Metric::MinCapacityRps.direction().holds(m, limit)),
        not_measured: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level(c: u32, rps: f64, p50: f64) -> LevelSummary {
        LevelSummary::sample(c, rps, p50)
    }

    #[test]
    fn min_and_max_checks_and_missing_levels() {
        let checks = vec![
            Check {
                level: Level::workers(10),
                metric: Metric::MinRps,
                limit: 100.0,
            },
            Check {
                level: Level::workers(10),
                metric: Metric::MaxP50Ms,
                limit: 50.0,
            },
            Check {
                level: Level::workers(50),
                metric: Metric::MaxP50Ms,
                limit: 50.0,
            },
        ];
        let v = judge(
            &checks,
            &[level(10, 150.0, 55.0)],
            &[Level::workers(10), Level::workers(50)],
        );
        assert!(v[0].passed);
        assert!(!v[1].passed);
        assert_eq!(v[2].measured, None);
        assert!(!v[2].passed);
        assert!(v[2].failed(), "a level of the sweep that never ran fails");
        assert!(v[1].describe().starts_with("FAIL c=10 p50 55.00 ms"));
        // issue 18: a level the sweep leaves out is not measured, not failed.
        let v = judge(&checks, &[level(10, 150.0, 55.0)], &[Level::workers(10)]);
        assert!(!v[2].passed && v[2].not_measured && !v[2].failed());
        assert!(
            v[2].describe().starts_with("NOT MEASURED c=50"),
            "{}",
            v[2].describe()
        );
    }

    /// issue 12: the open-loop checks, per rate level; a closed-loop level
    /// has no schedule to keep, so it cannot pass them.
    #[test]
    fn achieved_rate_ratio_and_dropped_per_rate_level() {
        let rate = |r: u32, achieved: f64, dropped: u64| LevelSummary {
            level: Level::rate(r),
            runs: 2,
            achieved_rate: Some(crate::metrics::Spread::of(&[achieved, achieved])),
            dropped: Some(dropped),
            ..level(r, achieved, 20.0)
        };
        let check = |level: Level, metric: Metric, limit: f64| Check {
            level,
            metric,
            limit,
        };
        let checks = vec![
            check(Level::rate(100), Metric::MinAchievedRateRatio, 0.99),
            check(Level::rate(500), Metric::MinAchievedRateRatio, 0.99),
            check(Level::rate(500), Metric::MaxDropped, 10.0),
            check(Level::rate(100), Metric::MaxDropped, 10.0),
            check(Level::workers(7), Metric::MaxDropped, 10.0),
        ];
        let levels = [
            rate(100, 99.5, 0),
            rate(500, 450.0, 30),
            level(7, 100.0, 20.0),
        ];
        let v = judge(
            &checks,
            &levels,
            &[Level::rate(100), Level::rate(500), Level::workers(7)],
        );
        assert!(v[0].passed && v[0].level.is_rate());
        assert!(!v[1].passed && v[1].measured == Some(0.9));
        // 30 dropped over 2 runs: 15 per run.
        assert!(!v[2].passed && v[2].measured == Some(15.0));
        assert!(v[3].passed);
        assert!(!v[4].passed && !v[4].level.is_rate());
        assert_eq!(
            v[1].describe(),
            "FAIL r=500/s achieved rate 90.00% of target (limit ≥ 99% of target)"
        );
    }

    /// issue 12: goodput per level, and the capacity a search found.
    #[test]
    fn min_goodput_per_level_and_min_capacity_rps_on_the_search() {
        let good = |c: u32, share: f64| LevelSummary {
            goodput: Some(crate::metrics::Spread::of(&[share])),
            ..level(c, 100.0, 20.0)
        };
        let checks = vec![
            Check {
                level: Level::workers(5),
                metric: Metric::MinGoodput,
                limit: 0.75,
            },
            Check {
                level: Level::workers(10),
                metric: Metric::MinGoodput,
                limit: 0.9,
            },
        ];
        let swept = [Level::workers(5), Level::workers(10)];
        let v = judge(&checks, &[good(5, 0.84), good(10, 0.83)], &swept);
        assert!(v[0].passed && !v[1].passed);
        assert_eq!(
            v[1].describe(),
            "FAIL c=10 goodput 83.00% of requests (limit ≥ 90% of requests)"
        );
        let probe = |level: u32, rps: f64, passed: bool| crate::search::Probe {
            level,
            step: 0,
            rps,
            p99_ms: 50.0,
            error_rate: 0.0,
            passed,
        };
        let mut search = SearchResult {
            open: true,
            p99_ms: 100.0,
            max_error_rate: 0.001,
            low: 100,
            high: 400,
            probes: vec![probe(100, 100.0, true), probe(400, 210.0, false)],
            capacity: Some(crate::search::Capacity {
                level: 197,
                rps: 196.5,
            }),
            failed_at: Some(201),
            outcome: Outcome::Converged,
        };
        let v = judge_capacity(180.0, Some(&search));
        assert!(v.passed && v.level == Level::rate(197));
        assert_eq!(
            v.describe(),
            "PASS r=197/s capacity (search) 196.50 req/s (limit ≥ 180 req/s)"
        );
        assert!(!judge_capacity(200.0, Some(&search)).passed);
        // Interrupted mid-search: not a pass, whatever was found so far.
        search.outcome = Outcome::Running;
        assert!(!judge_capacity(180.0, Some(&search)).passed);
        // Nothing passed: measured 0 at the lower bound.
        search.outcome = Outcome::BelowRange;
        search.capacity = None;
        let v = judge_capacity(1.0, Some(&search));
        assert!(!v.passed && v.measured == Some(0.0) && v.level == Level::rate(100));
        assert!(!judge_capacity(1.0, None).passed);
    }
}
