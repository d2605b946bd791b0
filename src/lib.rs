//! scenario: benchmark LLM gateways from declarative TOML files.
//!
//! Data flows one way: [`scenario`] (load and check a file) -> [`plan`]
//! (an immutable execution plan) -> [`run`] (services, then the load steps)
//! -> [`report`] (one model, one file per output format).

pub mod app;
pub mod assertions;
pub mod cli;
pub mod diag;
pub mod load;
pub mod metrics;
pub mod plan;
pub mod report;
pub mod run;
pub mod scenario;
pub mod topology;
pub mod upstream;
