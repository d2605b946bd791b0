//! Pass/fail thresholds per level: the metrics `[assert]` can bound and the
//! checks each level gets from `[assert]` and `[assert.concurrency.N]`.

use serde::Serialize;

use super::{Level, LevelKind};
use crate::scenario::model::Thresholds;

/// One pass/fail threshold applied to one level.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Check {
    #[serde(flatten)]
    pub level: Level,
    pub metric: Metric,
    pub limit: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    MinRps,
    MaxP50Ms,
    MaxP95Ms,
    MaxP99Ms,
    MaxErrorRate,
    /// Open loop: achieved rate over the target.
    MinAchievedRateRatio,
    /// Open loop: arrivals left unsent, per run.
    MaxDropped,
    /// Share of requests that met `[report] slo`.
    MinGoodput,
    /// The fastest RSS growth of the services under test, MiB per minute.
    MaxRssGrowthMibPerMin,
}

impl Metric {
    /// `[assert] min_capacity_rps`: one figure for the whole search, judged
    /// by `assertions::judge_capacity`, not per level.
    pub const MIN_CAPACITY_RPS: &'static str = "min_capacity_rps";

    /// The key as written under `[assert]`.
    pub fn key(self) -> &'static str {
        match self {
            Metric::MinRps => "min_rps",
            Metric::MaxP50Ms => "max_p50_ms",
            Metric::MaxP95Ms => "max_p95_ms",
            Metric::MaxP99Ms => "max_p99_ms",
            Metric::MaxErrorRate => "max_error_rate",
            Metric::MinAchievedRateRatio => "min_achieved_rate_ratio",
            Metric::MaxDropped => "max_dropped",
            Metric::MinGoodput => "min_goodput",
            Metric::MaxRssGrowthMibPerMin => "max_rss_growth_mib_per_min",
        }
    }

    /// True when the measured value must stay at or below the limit.
    pub fn is_max(self) -> bool {
        !matches!(
            self,
            Metric::MinRps | Metric::MinAchievedRateRatio | Metric::MinGoodput
        )
    }
}

/// Thresholds for each level: `[assert]`, overridden by `[assert.concurrency.N]`.
/// One check per level and threshold: every swept level with the shared
/// thresholds and its own, then the levels only `[assert.concurrency.N]`
/// names (judged as not measured unless the scenario is strict about it).
pub(super) fn checks(t: &Thresholds, levels: &[Level]) -> Vec<Check> {
    let mut out = Vec::new();
    let mut all = levels.to_vec();
    let kind = LevelKind::of(levels);
    for key in t.concurrency.keys() {
        if let Ok(value) = key.parse::<u32>() {
            // The swept level of that number (a ramp's peak too), else one
            // of the sweep's kind that it leaves out.
            let level = levels
                .iter()
                .copied()
                .find(|l| l.value == value)
                .unwrap_or(Level {
                    kind,
                    value,
                    ramp: false,
                });
            if !all.contains(&level) {
                all.push(level);
            }
        }
    }
    for &level in &all {
        let swept = levels.contains(&level);
        let local = t.concurrency.get(&level.key());
        let pick = |f: fn(&Thresholds) -> Option<f64>| {
            local
                .and_then(f)
                .or_else(|| if swept { f(t) } else { None })
        };
        let limits = [
            (Metric::MinRps, pick(|t| t.min_rps)),
            (Metric::MaxP50Ms, pick(|t| t.max_p50_ms)),
            (Metric::MaxP95Ms, pick(|t| t.max_p95_ms)),
            (Metric::MaxP99Ms, pick(|t| t.max_p99_ms)),
            (Metric::MaxErrorRate, pick(|t| t.max_error_rate)),
            (
                Metric::MinAchievedRateRatio,
                pick(|t| t.min_achieved_rate_ratio),
            ),
            (Metric::MaxDropped, pick(|t| t.max_dropped)),
            (Metric::MinGoodput, pick(|t| t.min_goodput)),
            (
                Metric::MaxRssGrowthMibPerMin,
                pick(|t| t.max_rss_growth_mib_per_min),
            ),
        ];
        for (metric, limit) in limits {
            if let Some(limit) = limit {
                out.push(Check {
                    level,
                    metric,
                    limit,
                });
            }
        }
    }
    out
}
