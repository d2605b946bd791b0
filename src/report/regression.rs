//! The limits `scenario compare` and `run --baseline` grade a run by
//! (`[assert.regression]`): the report stores them, the scenario sets them.

use serde::{Deserialize, Serialize};

use super::Report;

/// `[assert.regression]`: limits for `scenario compare` and `run --baseline`,
/// as shares (0.20 = 20%). The defaults are an LLM inference platform
/// harness's criteria: FAIL on p95 +20% or errors over 1%, WARN on p95 +10%.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Regression {
    /// FAIL when p95 rose by more than this share.
    #[serde(default = "default_fail_p95_increase")]
    pub fail_p95_increase: f64,
    /// FAIL when the current error rate is above this share.
    #[serde(default = "default_fail_error_rate")]
    pub fail_error_rate: f64,
    /// WARN when p95 rose by more than this share.
    #[serde(default = "default_warn_p95_increase")]
    pub warn_p95_increase: f64,
    /// WARN when p50 moved (either way) by more than this share.
    #[serde(default = "default_warn_p50_change")]
    pub warn_p50_change: f64,
    /// WARN when throughput moved (either way) by more than this share.
    #[serde(default = "default_warn_rps_change")]
    pub warn_rps_change: f64,
    /// `--baseline history`: the baseline is the median of this many latest
    /// comparable runs in the history (same scenario hash, same machine).
    #[serde(default = "default_history_runs")]
    pub history_runs: usize,
    /// Drift: the least-squares slope of p95 and throughput is fitted over
    /// this many latest comparable runs (the current one included).
    #[serde(default = "default_drift_runs")]
    pub drift_runs: usize,
    /// Drift: WARN when the fitted line crosses the limit within this many
    /// runs after the current one.
    #[serde(default = "default_drift_horizon_runs")]
    pub drift_horizon_runs: usize,
}

impl Default for Regression {
    fn default() -> Self {
        Regression {
            fail_p95_increase: default_fail_p95_increase(),
            fail_error_rate: default_fail_error_rate(),
            warn_p95_increase: default_warn_p95_increase(),
            warn_p50_change: default_warn_p50_change(),
            warn_rps_change: default_warn_rps_change(),
            history_runs: default_history_runs(),
            drift_runs: default_drift_runs(),
            drift_horizon_runs: default_drift_horizon_runs(),
        }
    }
}

fn default_fail_p95_increase() -> f64 {
    0.20
}
fn default_fail_error_rate() -> f64 {
    0.01
}
fn default_warn_p95_increase() -> f64 {
    0.10
}
fn default_warn_p50_change() -> f64 {
    0.15
}
fn default_warn_rps_change() -> f64 {
    0.15
}
fn default_history_runs() -> usize {
    5
}
fn default_drift_runs() -> usize {
    10
}
fn default_drift_horizon_runs() -> usize {
    10
}

impl Report {
    /// The regression limits this run is graded by: those it stored, else
    /// (a report written before it stored them) those of its resolved
    /// scenario, else the defaults.
    pub fn regression_limits(&self) -> Regression {
        self.regression
            .or_else(|| {
                let old = self.scenario.resolved.pointer("/assert/regression")?;
                serde_json::from_value(old.clone()).ok()
            })
            .unwrap_or_default()
    }
}
