//! `[load] search`: the highest rate (or concurrency) whose p99 stays within
//! a bound with no error rate above a limit, found by bisection, one
//! measured step per probe. [`Bisection`] only decides; `run` measures each
//! probe it asks for as an ordinary step (recorded in the report like any
//! other) and hands back the step's figures.
//!
//! Order: the lower bound first (if it fails, the capacity is below the
//! search range), then the upper (if it passes, the capacity is at least
//! that), then the geometric midpoint of the highest pass and the lowest
//! fail until they are within `tolerance` of each other (or one apart), or
//! `max_probes` were spent. The capacity is the throughput the highest
//! passing probe carried.

use serde::{Deserialize, Serialize};

use crate::metrics::StepMetrics;
use crate::plan::SearchPlan;

/// One probe: a level, measured once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Probe {
    pub level: u32,
    /// The step that measured it (its `index` in the report).
    pub step: usize,
    /// The throughput it carried ([`StepMetrics::carried_rps`]: for a
    /// rate, the arrival rate it kept).
    pub rps: f64,
    /// Its p99, ms (from the intended send time, for a rate).
    pub p99_ms: f64,
    /// Failed requests, and for a rate dropped arrivals, over all of them.
    pub error_rate: f64,
    pub passed: bool,
}

/// Where the search ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchResult {
    /// Over arrival rates (req/s), else over worker counts.
    pub open: bool,
    pub p99_ms: f64,
    pub max_error_rate: f64,
    pub low: u32,
    pub high: u32,
    /// Every probe, in the order measured.
    pub probes: Vec<Probe>,
    /// The highest passing level and what it carried; `None` when even the
    /// lower bound failed (or nothing was measured yet).
    pub capacity: Option<Capacity>,
    /// The lowest failing level above it, when one was measured.
    pub failed_at: Option<u32>,
    pub outcome: Outcome,
}

/// The highest level that met the bound.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Capacity {
    pub level: u32,
    pub rps: f64,
}

/// Why the search stopped (or that it has not).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Still probing (what an interrupted run leaves).
    Running,
    /// Pass and fail within the tolerance: the capacity is found.
    Converged,
    /// The lower bound failed: the capacity is below the range.
    BelowRange,
    /// The upper bound passed: the capacity is at least that.
    AboveRange,
    /// `max_probes` ran out before converging.
    OutOfProbes,
}

impl Outcome {
    /// A few words for reports.
    pub fn describe(self) -> &'static str {
        match self {
            Outcome::Running => "still searching",
            Outcome::Converged => "converged",
            Outcome::BelowRange => "the lower bound already failed: capacity is below the range",
            Outcome::AboveRange => "the upper bound passed: capacity is at least that; raise it",
            Outcome::OutOfProbes => "max_probes ran out before converging",
        }
    }
}

/// The bisection's state.
#[derive(Debug, Clone)]
pub struct Bisection {
    plan: SearchPlan,
    probes: Vec<Probe>,
    outcome: Outcome,
}

impl Bisection {
    pub fn new(plan: SearchPlan) -> Bisection {
        Bisection {
            plan,
            probes: Vec::new(),
            outcome: Outcome::Running,
        }
    }

    fn pass(&self) -> Option<&Probe> {
        self.probes
            .iter()
            .filter(|p| p.passed)
            .max_by_key(|p| p.level)
    }

    fn fail(&self) -> Option<u32> {
        let pass = self.pass().map_or(0, |p| p.level);
        self.probes
            .iter()
            .filter(|p| !p.passed && p.level > pass)
            .map(|p| p.level)
            .min()
    }

    /// The next level to probe; `None` when the search is over.
    pub fn next_level(&mut self) -> Option<u32> {
        if self.outcome != Outcome::Running {
            return None;
        }
        let (low, high) = (self.plan.low, self.plan.high);
        let next = match (self.pass().map(|p| p.level), self.fail()) {
            (None, None) => Ok(low),
            (None, Some(_)) => Err(Outcome::BelowRange),
            (Some(p), None) if p >= high => Err(Outcome::AboveRange),
            (Some(_), None) => Ok(high),
            (Some(p), Some(f)) => {
                let close = f64::from(f - p) <= self.plan.tolerance * f64::from(p);
                if close || f - p <= 1 {
                    Err(Outcome::Converged)
                } else {
                    let mid = (f64::from(p) * f64::from(f)).sqrt().round() as u32;
                    Ok(mid.clamp(p + 1, f - 1))
                }
            }
        };
        match next {
            Ok(_) if self.probes.len() >= self.plan.max_probes as usize => {
                self.outcome = Outcome::OutOfProbes;
                None
            }
            Ok(level) => Some(level),
            Err(outcome) => {
                self.outcome = outcome;
                None
            }
        }
    }

    /// Judge the step that measured `level` (index `step`): it passes when
    /// some request succeeded, its p99 is within the bound and its error
    /// rate (dropped arrivals counted as failed) within the limit.
    pub fn record(&mut self, level: u32, step: usize, m: &StepMetrics) {
        let dropped = m.open_loop.as_ref().map_or(0, |o| o.dropped);
        let all = m.requests + dropped;
        let error_rate = if all == 0 {
            1.0
        } else {
            (m.errors.total + dropped) as f64 / all as f64
        };
        let p99_ms = m.latency_ms.p99;
        self.probes.push(Probe {
            level,
            step,
            rps: m.carried_rps(),
            p99_ms,
            error_rate,
            passed: m.successes > 0
                && p99_ms <= self.plan.p99_ms
                && error_rate <= self.plan.max_error_rate,
        });
    }

    /// The search so far.
    pub fn result(&self) -> SearchResult {
        let pass = self.pass();
        SearchResult {
            open: self.plan.open,
            p99_ms: self.plan.p99_ms,
            max_error_rate: self.plan.max_error_rate,
            low: self.plan.low,
            high: self.plan.high,
            probes: self.probes.clone(),
            capacity: pass.map(|p| Capacity {
                level: p.level,
                rps: p.rps,
            }),
            failed_at: self.fail(),
            outcome: self.outcome,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Stop;

    fn plan(low: u32, high: u32, tolerance: f64, max_probes: u32) -> SearchPlan {
        SearchPlan {
            p99_ms: 100.0,
            max_error_rate: 0.001,
            open: true,
            low,
            high,
            tolerance,
            max_probes,
            stop: Stop::Requests(10),
            warmup: None,
            pacing: None,
        }
    }

    /// A target that keeps p99 within the bound up to `capacity` req/s.
    fn metrics(level: u32, capacity: u32) -> StepMetrics {
        let mut m = StepMetrics {
            requests: 100,
            successes: 100,
            rps: f64::from(level.min(capacity)),
            ..StepMetrics::default()
        };
        m.latency_ms.p99 = if level <= capacity { 50.0 } else { 500.0 };
        m
    }

    fn search(b: &mut Bisection, capacity: u32) -> Vec<u32> {
        let mut seen = Vec::new();
        while let Some(level) = b.next_level() {
            b.record(level, seen.len(), &metrics(level, capacity));
            seen.push(level);
        }
        seen
    }

    #[test]
    fn bisection_finds_the_capacity_within_the_tolerance() {
        let mut b = Bisection::new(plan(10, 10_000, 0.02, 20));
        let levels = search(&mut b, 737);
        let r = b.result();
        assert_eq!(r.outcome, Outcome::Converged);
        let found = r.capacity.unwrap().level;
        assert!(found <= 737 && f64::from(found) >= 737.0 * 0.98, "{found}");
        assert_eq!(&levels[..2], &[10, 10_000]);
        assert!(levels.len() <= 14, "{levels:?}");
        assert!(r.failed_at.unwrap() > 737);
    }

    #[test]
    fn out_of_range_and_out_of_probes_say_so() {
        let mut b = Bisection::new(plan(100, 1000, 0.02, 12));
        assert_eq!(search(&mut b, 50), vec![100]);
        assert_eq!(b.result().outcome, Outcome::BelowRange);
        assert_eq!(b.result().capacity, None);
        let mut b = Bisection::new(plan(100, 1000, 0.02, 12));
        assert_eq!(search(&mut b, 5000), vec![100, 1000]);
        assert_eq!(b.result().outcome, Outcome::AboveRange);
        assert_eq!(b.result().capacity.unwrap().level, 1000);
        let mut b = Bisection::new(plan(100, 1000, 0.001, 4));
        assert_eq!(search(&mut b, 500).len(), 4);
        assert_eq!(b.result().outcome, Outcome::OutOfProbes);
    }

    #[test]
    fn errors_and_dropped_arrivals_fail_a_probe() {
        let mut b = Bisection::new(plan(10, 100, 0.02, 12));
        let mut m = metrics(10, 1000);
        m.errors.total = 1;
        b.record(10, 0, &m);
        assert!(!b.result().probes[0].passed, "1% errors > 0.1%");
        let mut m = metrics(10, 1000);
        m.open_loop = Some(crate::metrics::OpenLoopSummary {
            dropped: 5,
            ..Default::default()
        });
        b.record(10, 1, &m);
        assert!(
            !b.result().probes[1].passed,
            "dropped arrivals count as failed"
        );
    }
}
