//! The scenario file's tables as typed structs: the one place keys and defaults are defined.
//!
//! One submodule per table; every type is re-exported here, so
//! `scenario::model::X` names it wherever it is defined.

mod assert;
pub mod duration;
mod load;
mod report;
pub mod request;
mod topology;

use serde::{Deserialize, Serialize};

pub use super::capacity::{FrontierBasis, Search, Slo};
use crate::upstream::UpstreamConfig;
pub use assert::{Regression, Thresholds};
pub use load::{Arrival, Load, Stage, DEFAULT_CONCURRENCY};
pub use report::ReportOptions;
pub use request::{Request, UPSTREAM_PATH};
pub use topology::{Auth, AuthKind, Database, Topology};

/// A whole scenario file after `extends` and `--set` were applied.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    #[serde(default)]
    pub scenario: Meta,
    #[serde(default)]
    pub topology: Topology,
    #[serde(default)]
    pub upstream: UpstreamConfig,
    #[serde(default)]
    pub request: Request,
    #[serde(default)]
    pub load: Load,
    #[serde(default, rename = "assert")]
    pub assertions: Thresholds,
    #[serde(default)]
    pub report: ReportOptions,
}

/// `[scenario]`: what this benchmark is.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    /// Name used for the results folder; defaults to the file's stem.
    pub name: Option<String>,
    /// One line saying what the scenario measures.
    pub description: Option<String>,
}
