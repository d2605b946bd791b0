//! A concurrency level over all its runs: the mean and spread of each
//! figure ([`Spread`], [`LevelSummary`]).

use serde::{Deserialize, Serialize};

use super::{OpenLoopSummary, StepMetrics};
use crate::plan::Level;

/// Mean and spread of one figure over the runs of a concurrency level.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    pub mean: f64,
    pub stddev: f64,
    pub min: f64,
    pub max: f64,
}

impl Spread {
    pub fn of(values: &[f64]) -> Spread {
        if values.is_empty() {
            return Spread::default();
        }
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        Spread {
            mean,
            stddev: var.sqrt(),
            min: values.iter().copied().fold(f64::INFINITY, f64::min),
            max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        }
    }
}

/// A level over all its runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LevelSummary {
    /// The level (JSON: `concurrency`, and `rate` in req/s for an arrival rate).
    #[serde(flatten)]
    pub level: Level,
    pub runs: u32,
    pub rps: Spread,
    pub p50_ms: Spread,
    pub p95_ms: Spread,
    pub p99_ms: Spread,
    pub error_rate: Spread,
    pub requests: u64,
    pub errors: u64,
    /// Requests sent a second time, over all runs (see [`StepMetrics::retries`]).
    #[serde(default)]
    pub retries: u64,
    /// Time to first token and inter-token latency (ms), when the level streamed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttft_p50_ms: Option<Spread>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttft_p99_ms: Option<Spread>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub itl_p50_ms: Option<Spread>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub itl_p99_ms: Option<Spread>,
    /// Median per-request output tokens/s, when answers reported tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_per_s_p50: Option<Spread>,
    /// Open loop: the achieved send rate (req/s), late and dropped
    /// requests over all runs, and the service-time p99 (ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub achieved_rate: Option<Spread>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub late: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dropped: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_p50_ms: Option<Spread>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_p99_ms: Option<Spread>,
    /// A rate ramp: its mean target rate, req/s (what `achieved_rate` is
    /// judged against).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ramp_target_rate: Option<f64>,
    /// Share (0–1) and rate (req/s) of requests that met `[report] slo`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goodput: Option<Spread>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goodput_per_s: Option<Spread>,
    /// The fastest RSS growth (MiB/min) of the services under test over the
    /// level's runs (see `report::memory::under_test`); set by the report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rss_growth_mib_per_min: Option<f64>,
}

impl LevelSummary {
    /// [`StepMetrics::carried_rps`] of a level: means over its runs.
    pub fn carried_rps(&self) -> f64 {
        match self.achieved_rate {
            Some(a) => a.mean * (1.0 - self.error_rate.mean),
            None => self.rps.mean,
        }
    }

    /// A one-run level with only throughput and p50 set (for tests).
    #[cfg(test)]
    pub(crate) fn sample(concurrency: u32, rps: f64, p50_ms: f64) -> LevelSummary {
        LevelSummary {
            level: Level::workers(concurrency),
            runs: 1,
            rps: Spread::of(&[rps]),
            p50_ms: Spread::of(&[p50_ms]),
            ..LevelSummary::default()
        }
    }

    /// `c=10` or `r=500/s`.
    pub fn label(&self) -> String {
        self.level.label()
    }

    /// The target rate (req/s) of an arrival-rate level (a ramp's mean);
    /// `None` for workers.
    pub fn target_rate(&self) -> Option<f64> {
        match (self.level.is_rate(), self.level.ramp) {
            (true, false) => Some(self.level.x()),
            (true, true) => self.ramp_target_rate,
            (false, _) => None,
        }
    }

    pub fn of(level: Level, runs: &[&StepMetrics]) -> LevelSummary {
        let spread =
            |f: fn(&StepMetrics) -> f64| Spread::of(&runs.iter().map(|m| f(m)).collect::<Vec<_>>());
        LevelSummary {
            level,
            runs: runs.len() as u32,
            rps: spread(|m| m.rps),
            p50_ms: spread(|m| m.latency_ms.p50),
            p95_ms: spread(|m| m.latency_ms.p95),
            p99_ms: spread(|m| m.latency_ms.p99),
            error_rate: spread(|m| m.error_rate),
            requests: runs.iter().map(|m| m.requests).sum(),
            errors: runs.iter().map(|m| m.errors.total).sum(),
            retries: runs.iter().map(|m| m.retries).sum(),
            ttft_p50_ms: optional(runs, |m| m.streaming.as_ref().map(|s| s.ttft_ms.p50)),
            ttft_p99_ms: optional(runs, |m| m.streaming.as_ref().map(|s| s.ttft_ms.p99)),
            itl_p50_ms: optional(runs, |m| m.streaming.as_ref().map(|s| s.itl_ms.p50)),
            itl_p99_ms: optional(runs, |m| m.streaming.as_ref().map(|s| s.itl_ms.p99)),
            tokens_per_s_p50: optional(runs, |m| {
                m.tokens
                    .as_ref()
                    .filter(|t| t.per_request.count > 0)
                    .map(|t| t.per_request.p50)
            }),
            achieved_rate: optional(runs, |m| m.open_loop.as_ref().map(|o| o.achieved_rate)),
            late: open_total(runs, |o| o.late),
            dropped: open_total(runs, |o| o.dropped),
            service_p50_ms: optional(runs, |m| m.open_loop.as_ref().map(|o| o.service_ms.p50)),
            service_p99_ms: optional(runs, |m| m.open_loop.as_ref().map(|o| o.service_ms.p99)),
            ramp_target_rate: level
                .ramp
                .then(|| optional(runs, |m| m.open_loop.as_ref().map(|o| o.target_rate)))
                .flatten()
                .map(|s| s.mean),
            goodput: optional(runs, |m| m.goodput.map(|g| g.share)),
            goodput_per_s: optional(runs, |m| m.goodput.map(|g| g.per_s)),
            rss_growth_mib_per_min: None,
        }
    }
}

/// An open-loop count summed over the runs; `None` for a closed loop.
fn open_total(runs: &[&StepMetrics], f: impl Fn(&OpenLoopSummary) -> u64) -> Option<u64> {
    let open: Vec<&OpenLoopSummary> = runs.iter().filter_map(|m| m.open_loop.as_ref()).collect();
    (!open.is_empty()).then(|| open.into_iter().map(f).sum())
}

/// The spread of a figure only some runs have; `None` when none has it.
fn optional(runs: &[&StepMetrics], f: impl Fn(&StepMetrics) -> Option<f64>) -> Option<Spread> {
    let values: Vec<f64> = runs.iter().filter_map(|m| f(m)).collect();
    (!values.is_empty()).then(|| Spread::of(&values))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_of_runs() {
        let s = Spread::of(&[1.0, 2.0, 3.0]);
        assert_eq!(s.mean, 2.0);
        assert_eq!((s.min, s.max), (1.0, 3.0));
        assert!((s.stddev - (2.0f64 / 3.0).sqrt()).abs() < 1e-12);
    }
}
