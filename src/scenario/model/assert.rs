//! `[assert]`: the pass/fail thresholds and the regression limits.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `[assert]` thresholds; `[assert.concurrency.N]` overrides them for one level.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// Smallest throughput, successful requests per second.
    pub min_rps: Option<f64>,
    /// Largest median latency, ms.
    pub max_p50_ms: Option<f64>,
    /// Largest 95th percentile latency, ms.
    pub max_p95_ms: Option<f64>,
    /// Largest 99th percentile latency, ms.
    pub max_p99_ms: Option<f64>,
    /// Largest share of failed requests, 0.0–1.0.
    pub max_error_rate: Option<f64>,
    /// Open loop: smallest achieved rate as a share of the target, 0.0–1.0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_achieved_rate_ratio: Option<f64>,
    /// Open loop: most arrivals a step may leave unsent (mean over runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_dropped: Option<f64>,
    /// Smallest share of requests meeting `[report] slo`, 0.0–1.0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_goodput: Option<f64>,
    /// Smallest capacity `[load] search` may find, req/s (whole sweep only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_capacity_rps: Option<f64>,
    /// Most RSS growth, MiB per minute, of the gateway's services (of the
    /// fake upstream without a gateway), fitted over each step's later half.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_rss_growth_mib_per_min: Option<f64>,
    /// Per level: `[assert.concurrency.N]`, or `[assert.rate.N]` for a rate sweep.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty", alias = "rate")]
    pub concurrency: BTreeMap<String, Thresholds>,
    /// A per-level threshold for a level the sweep does not measure is an
    /// error (true) instead of a check reported as not measured (default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict_levels: Option<bool>,
    /// `[assert.regression]`: how much worse than a baseline is a WARN or a FAIL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regression: Option<Regression>,
}

impl Thresholds {
    /// The limit set for `metric` at this level of the table, if any.
    pub fn limit(&self, metric: crate::assertions::Metric) -> Option<f64> {
        use crate::assertions::Metric;
        match metric {
            Metric::MinRps => self.min_rps,
            Metric::MaxP50Ms => self.max_p50_ms,
            Metric::MaxP95Ms => self.max_p95_ms,
            Metric::MaxP99Ms => self.max_p99_ms,
            Metric::MaxErrorRate => self.max_error_rate,
            Metric::MinAchievedRateRatio => self.min_achieved_rate_ratio,
            Metric::MaxDropped => self.max_dropped,
            Metric::MinGoodput => self.min_goodput,
            Metric::MinCapacityRps => self.min_capacity_rps,
            Metric::MaxRssGrowthMibPerMin => self.max_rss_growth_mib_per_min,
        }
    }
}

/// `[assert.regression]`: the report keeps these limits, so it defines them.
pub use crate::report::Regression;
