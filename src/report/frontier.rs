//! Capacity at a latency bound: for each bound of `[report]
//! frontier_p99_ms`, the most throughput a level of the sweep carried with
//! its p99 within the bound (or, with `frontier_basis = "overhead"`, with
//! the p99 it added over the direct path within it) and no error rate
//! above `frontier_max_error_rate`, and which level carried it.
//!
//! Per level, means over its runs (like the assertions); an open-loop
//! level's p99 counts from the intended send times (corrected), and its
//! dropped arrivals count as failed. Only the target side is on the frontier.

use serde::{Deserialize, Serialize};

use super::{Report, Side};
use crate::metrics::LevelSummary;
use crate::plan::capacity::FrontierPlan;
use crate::scenario::model::FrontierBasis;

/// The frontier of one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Frontier {
    pub basis: FrontierBasis,
    pub max_error_rate: f64,
    /// One point per bound, in the order given.
    pub points: Vec<Point>,
}

/// The most throughput carried within one bound.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// The bound, ms (on the p99, or on the p99 over the direct path).
    pub bound_ms: f64,
    /// The level that carried the most within it; `None` when none did.
    pub level: Option<u32>,
    /// The level is an arrival rate.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rate: bool,
    /// The throughput it carried (0 when none): for a rate, the arrival
    /// rate it kept (`LevelSummary::carried_rps`).
    pub rps: f64,
    /// Its p99 (or p99 over the direct path), ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99_ms: Option<f64>,
}

impl Point {
    /// `r=190/s` or `c=10`, or `—` when no level met the bound.
    pub fn label(&self) -> String {
        self.level.map_or(super::NOT_MEASURED.to_string(), |l| {
            crate::plan::Level::fixed(l, self.rate).label()
        })
    }
}

/// A level's failed share, dropped arrivals counted as failed.
pub fn error_rate(l: &LevelSummary) -> f64 {
    let dropped = l.dropped.unwrap_or(0);
    let all = l.requests + dropped;
    if all == 0 {
        1.0
    } else {
        (l.errors + dropped) as f64 / all as f64
    }
}

/// The frontier of `report`'s measured levels; `None` before any level
/// measured something.
pub fn compute(report: &Report, plan: &FrontierPlan) -> Option<Frontier> {
    // (level, rate, rps, p99 on the basis)
    let candidates: Vec<(u32, bool, f64, f64)> = report
        .levels_of(Side::Target)
        .iter()
        .filter(|l| l.runs > 0 && l.requests > l.errors)
        .filter(|l| error_rate(l) <= plan.max_error_rate)
        .filter_map(|l| {
            let p99 = match plan.basis {
                FrontierBasis::Absolute => l.p99_ms.mean,
                FrontierBasis::Overhead => {
                    report.overhead.iter().find(|o| o.level == l.level)?.p99_ms
                }
            };
            Some((l.level.value, l.level.is_rate(), l.carried_rps(), p99))
        })
        .collect();
    if report.levels.iter().all(|l| l.runs == 0) {
        return None;
    }
    let points = plan
        .p99_ms
        .iter()
        .map(|&bound| {
            let best = candidates
                .iter()
                .filter(|c| c.3 <= bound)
                .max_by(|a, b| a.2.total_cmp(&b.2));
            Point {
                bound_ms: bound,
                level: best.map(|c| c.0),
                rate: best.is_some_and(|c| c.1),
                rps: best.map_or(0.0, |c| c.2),
                p99_ms: best.map(|c| c.3),
            }
        })
        .collect();
    Some(Frontier {
        basis: plan.basis,
        max_error_rate: plan.max_error_rate,
        points,
    })
}

impl Frontier {
    /// `p99 ≤ 10 ms` or `p99 over direct ≤ 10 ms`.
    pub fn bound_label(&self, bound_ms: f64) -> String {
        match self.basis {
            FrontierBasis::Absolute => format!("p99 ≤ {bound_ms} ms"),
            FrontierBasis::Overhead => format!("p99 over direct ≤ {bound_ms} ms"),
        }
    }

    /// The table every text format shows: bound, level, req/s, p99.
    pub fn table(&self) -> (Vec<&'static str>, Vec<Vec<String>>) {
        let header = vec!["bound", "level", "req/s", "p99 ms"];
        let rows = self
            .points
            .iter()
            .map(|p| {
                vec![
                    self.bound_label(p.bound_ms),
                    p.label(),
                    if p.level.is_some() {
                        format!("{:.1}", p.rps)
                    } else {
                        super::NOT_MEASURED.to_string()
                    },
                    p.p99_ms
                        .map_or(super::NOT_MEASURED.to_string(), |v| format!("{v:.2}")),
                ]
            })
            .collect();
        (header, rows)
    }

    /// What the table means, one line.
    pub fn note(&self) -> String {
        format!(
            "capacity at a latency bound: the most req/s a level carried with its p99{} within the bound \
             and error rate ≤ {}% (open loop: req/s is the arrival rate kept, achieved × success share; p99 from the intended send time; dropped arrivals count as errors)",
            match self.basis {
                FrontierBasis::Absolute => "",
                FrontierBasis::Overhead => " over the direct path's",
            },
            self.max_error_rate * 100.0
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Spread;

    #[test]
    fn each_bound_gets_the_most_throughput_within_it_and_errors_rule_levels_out() {
        let level = |r: u32, rps: f64, p99: f64, errors: u64| LevelSummary {
            level: crate::plan::Level::rate(r),
            runs: 1,
            rps: Spread::of(&[rps]),
            p99_ms: Spread::of(&[p99]),
            requests: 1000,
            errors,
            dropped: Some(0),
            ..LevelSummary::default()
        };
        let mut report = crate::report::fixture::report();
        report.levels = vec![
            level(100, 99.0, 21.0, 0),
            level(200, 198.0, 40.0, 0),
            level(300, 290.0, 45.0, 5),
            level(400, 300.0, 900.0, 0),
        ];
        let plan = FrontierPlan {
            p99_ms: vec![10.0, 25.0, 50.0, 1000.0],
            basis: FrontierBasis::Absolute,
            max_error_rate: 0.001,
        };
        let f = compute(&report, &plan).unwrap();
        let got: Vec<(Option<u32>, f64)> = f.points.iter().map(|p| (p.level, p.rps)).collect();
        assert_eq!(
            got,
            vec![
                (None, 0.0),
                (Some(100), 99.0),
                (Some(200), 198.0),
                (Some(400), 300.0)
            ]
        );
        assert_eq!(f.points[2].label(), "r=200/s");
    }
}
