//! Pass/fail verdicts: each planned check against the measured level summaries.

use serde::{Deserialize, Serialize};

use crate::metrics::LevelSummary;
use crate::plan::{Check, Metric};

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub concurrency: u32,
    /// The `[assert]` key, e.g. `max_p50_ms`.
    pub metric: String,
    pub limit: f64,
    /// The measured value (mean over the level's runs); `None` when the level never ran.
    pub measured: Option<f64>,
    pub passed: bool,
}

impl Verdict {
    /// A one-line description, e.g. `c=100 p50 51.2 ms ≤ 60 ms`.
    pub fn describe(&self) -> String {
        let op = if self.metric.starts_with("max") {
            "≤"
        } else {
            "≥"
        };
        let (name, unit, scale) = match self.metric.as_str() {
            "min_rps" => ("throughput", " req/s", 1.0),
            "max_p50_ms" => ("p50", " ms", 1.0),
            "max_p95_ms" => ("p95", " ms", 1.0),
            "max_p99_ms" => ("p99", " ms", 1.0),
            "max_error_rate" => ("error rate", "%", 100.0),
            other => (other, "", 1.0),
        };
        let measured = self.measured.map_or("not measured".to_string(), |m| {
            format!("{:.2}{unit}", m * scale)
        });
        format!(
            "{} c={} {name} {measured} (limit {op} {}{unit})",
            if self.passed { "PASS" } else { "FAIL" },
            self.concurrency,
            self.limit * scale
        )
    }
}

fn measure(metric: Metric, level: &LevelSummary) -> f64 {
    match metric {
        Metric::MinRps => level.rps.mean,
        Metric::MaxP50Ms => level.p50_ms.mean,
        Metric::MaxP95Ms => level.p95_ms.mean,
        Metric::MaxP99Ms => level.p99_ms.mean,
        Metric::MaxErrorRate => level.error_rate.mean,
    }
}

/// Judge every check against the level it names.
pub fn judge(checks: &[Check], levels: &[LevelSummary]) -> Vec<Verdict> {
    checks
        .iter()
        .map(|check| {
            let measured = levels
                .iter()
                .find(|l| l.concurrency == check.concurrency && l.runs > 0)
                .map(|l| measure(check.metric, l));
            let passed = measured.is_some_and(|m| {
                if check.metric.is_max() {
                    m <= check.limit
                } else {
                    m >= check.limit
                }
            });
            Verdict {
                concurrency: check.concurrency,
                metric: check.metric.key().to_string(),
                limit: check.limit,
                measured,
                passed,
            }
        })
        .collect()
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
                concurrency: 10,
                metric: Metric::MinRps,
                limit: 100.0,
            },
            Check {
                concurrency: 10,
                metric: Metric::MaxP50Ms,
                limit: 50.0,
            },
            Check {
                concurrency: 50,
                metric: Metric::MaxP50Ms,
                limit: 50.0,
            },
        ];
        let v = judge(&checks, &[level(10, 150.0, 55.0)]);
        assert!(v[0].passed);
        assert!(!v[1].passed);
        assert_eq!(v[2].measured, None);
        assert!(!v[2].passed);
        assert!(v[1].describe().starts_with("FAIL c=10 p50 55.00 ms"));
    }
}
