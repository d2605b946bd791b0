//! The built-in fake OpenAI-compatible upstream: the provider every gateway under test talks to.

pub mod config;
pub mod server;

pub use config::{Args, UpstreamConfig};
pub use server::serve;
