//! `[upstream]` keys and the `scenario fake-upstream` flags, one config for both.

use serde::{Deserialize, Serialize};

/// The fake upstream's behaviour, as written under `[upstream]` in a scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamConfig {
    /// Fixed delay before answering, in milliseconds.
    #[serde(default = "default_delay_ms")]
    pub delay_ms: u64,
}

fn default_delay_ms() -> u64 {
    50
}

impl Default for UpstreamConfig {
    fn default() -> Self {
        Self {
            delay_ms: default_delay_ms(),
        }
    }
}

/// Flags of `scenario fake-upstream`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port to bind (0 picks a free one and prints it).
    #[arg(long, default_value_t = 9137)]
    pub port: u16,
    /// Fixed delay before answering, in milliseconds.
    #[arg(long)]
    pub delay_ms: Option<u64>,
    /// The whole `[upstream]` table as JSON (what `scenario run` passes to its child).
    #[arg(long, hide = true)]
    pub config_json: Option<String>,
}
