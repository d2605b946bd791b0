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

/// The `[assert]` metrics are the verdicts' vocabulary, defined once there.
pub use crate::assertions::Metric;

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
        let pick = |m: Metric| {
            local
                .and_then(|l| l.limit(m))
                .or_else(|| if swept { t.limit(m) } else { None })
        };
        let limits = Metric::ALL
            .into_iter()
            .filter(|m| m.per_level())
            .map(|m| (m, pick(m)));
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
