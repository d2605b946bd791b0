//! scenario: benchmark LLM gateways from declarative TOML files.
//!
//! Data flows one way: [`scenario`] (load and check a file) -> [`plan`]
//! (an immutable execution plan) -> [`run`] (services, then the load steps)
//! -> [`report`] (one model, one file per output format).

// Problems are built on the cold path of bad input; boxing them buys nothing.
#![allow(clippy::result_large_err)]

// `out!`/`outln!` for every module below.
#[macro_use]
mod out;

pub mod app;
pub mod assertions;
pub mod builtin;
pub mod cli;
pub mod control;
pub mod diag;
pub mod dialect;
pub mod history;
pub mod k8s;
pub mod load;
pub mod merge;
pub mod metrics;
pub mod plan;
pub mod prereq;
pub mod report;
pub mod run;
pub mod scenario;
pub mod schema;
pub mod search;
pub mod topology;
pub mod upstream;
