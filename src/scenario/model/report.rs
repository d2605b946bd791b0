//! `[report]`: what is written besides `report.json`.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{FrontierBasis, Slo};

/// `[report]`: what is written besides `report.json`.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportOptions {
    /// Output formats; `json` is always written.
    #[serde(default = "default_formats")]
    pub formats: Vec<String>,
    /// The run history database (SQLite); default `<--out>/history.sqlite`.
    /// A relative path is taken from the working folder, like `--out`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<PathBuf>,
    /// What a good request is, for goodput.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slo: Option<Slo>,
    /// Latency bounds (ms) of the capacity frontier; default
    /// [`crate::scenario::capacity::DEFAULT_FRONTIER_P99_MS`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frontier_p99_ms: Option<Vec<f64>>,
    /// Whether the bounds limit the p99 (`absolute`) or what the gateway
    /// adds over the direct path (`overhead`); default: `overhead` with
    /// `topology.direct = true`, else `absolute`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frontier_basis: Option<FrontierBasis>,
    /// Largest error rate a level on the frontier may have; default 0.001.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frontier_max_error_rate: Option<f64>,
    /// A gap between stream frames longer than this many times the fake
    /// upstream's ITL is a stall.
    #[serde(default = "default_stall_factor")]
    pub stall_factor: f64,
    /// Server-side series to keep from the gateway's Prometheus endpoint
    /// (its profile's `metrics_path`), by metric name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<String>,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            formats: default_formats(),
            history: None,
            slo: None,
            frontier_p99_ms: None,
            frontier_basis: None,
            frontier_max_error_rate: None,
            stall_factor: default_stall_factor(),
            metrics: Vec::new(),
        }
    }
}

fn default_stall_factor() -> f64 {
    crate::metrics::stream::DEFAULT_STALL_FACTOR
}

fn default_formats() -> Vec<String> {
    crate::report::Format::ALL
        .map(|f| f.name().to_string())
        .to_vec()
}
