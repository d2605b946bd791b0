//! scenario: benchmark LLM gateways from declarative TOML files.
//!
//! Data flows one way: [`scenario`] (load and check a file) -> [`plan`]
//! (an immutable execution plan) -> [`run`] (services, then the load steps)
//! -> [`report`] (one model, one file per output format).

// The documentation is for contributors (`cargo doc --document-private-items`,
// as scripts/test builds it): the crate publishes no library API, so its
// public pages may point at private stages.
#![allow(rustdoc::private_intra_doc_links)]
// Problems are built on the cold path of bad input; boxing them buys nothing.
#![allow(clippy::result_large_err)]

// `out!`/`outln!` for every module below.
#[macro_use]
mod out;

pub mod app;
mod assertions;
mod builtin;
pub mod cli;
mod control;
mod diag;
mod dialect;
mod history;
mod k8s;
mod load;
mod merge;
mod metrics;
mod plan;
mod prereq;
mod report;
mod run;
mod scenario;
mod schema;
mod search;
mod topology;
mod upstream;

/// What the integration tests reach into.
pub mod testing {
    pub use crate::plan::cache_dir;
    pub use crate::report::html::element_ids;
}
