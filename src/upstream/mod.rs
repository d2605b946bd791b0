//! The built-in fake OpenAI-compatible (and Anthropic Messages) upstream: the provider every gateway
//! under test talks to. Realistic latency (delay models), streaming, injected
//! faults, mock routes, and exact counts of what it served (`GET /stats`).
//!
//! `config` and `args` say what to serve; `server` accepts connections, `conn`
//! speaks HTTP/1.1 on each,
//! `handlers` routes and answers, `body` streams, `delay` and `faults` draw,
//! `openai` reads requests and writes OpenAI-shaped bodies, `anthropic` and
//! `responses` write the Anthropic Messages and OpenAI Responses shapes,
//! `stats` counts.

mod anthropic;
pub mod args;
mod body;
pub mod config;
mod conn;
mod delay;
mod faults;
mod handlers;
mod openai;
mod parse;
pub mod process;
mod request;
mod responses;
pub mod server;
pub mod stats;
pub mod timer;

pub use args::Args;
pub use config::UpstreamConfig;
pub use server::serve_per_core;
