//! What the report stores of the services a step ran against: CPU and
//! memory of each service (filled by `topology::resources`) and what the
//! fake upstream counted (filled from its `GET /stats` by `load`). The
//! report defines these shapes; the stages that measure them fill them in.

use serde::{Deserialize, Serialize};

use crate::topology::cpus::Role;

/// What one service used during a step.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceUsage {
    pub service: String,
    /// The gateway's side (gateway, database, nginx) or the harness's (the
    /// fake upstream).
    #[serde(default)]
    pub role: Role,
    /// CPU in percent of one core (200 = two cores busy), per second.
    pub cpu_pct: Vec<f64>,
    /// Resident memory of the whole tree, MiB, per second.
    pub rss_mib: Vec<f64>,
    pub cpu_pct_mean: f64,
    pub cpu_pct_max: f64,
    pub rss_mib_max: f64,
    /// Mean RSS over the later half of the step (MiB), when it had at least
    /// [`FIT_MIN_SAMPLES`](crate::topology::resources::FIT_MIN_SAMPLES)
    /// samples there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steady_rss_mib: Option<f64>,
    /// How fast RSS grew over the later half of the step: the least-squares
    /// slope, MiB per minute (a leak shows here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rss_growth_mib_per_min: Option<f64>,
    /// The busiest processes of the tree (mean CPU% over the step).
    pub processes: Vec<ProcessUsage>,
}

/// One process of a service's tree.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProcessUsage {
    pub pid: i32,
    pub name: String,
    pub cpu_pct_mean: f64,
    /// The CPUs it was allowed to run on at the end of the step
    /// (`Cpus_allowed_list`), when it was still running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<String>,
}

/// What the fake upstream counted over a step's measured requests, as its
/// `GET /stats` answers (fields it answers that are not here are ignored).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpstreamCounts {
    /// Requests received, every path except `/health` and `/stats`.
    pub requests: u64,
    /// Requests per endpoint (a fault still counts its endpoint).
    pub endpoints: EndpointCounts,
    /// Generation requests (chat, completions, messages, responses) that asked for a stream.
    pub streamed: u64,
    /// Prompt tokens of the requests answered in full (as reported in `usage`).
    pub prompt_tokens: u64,
    /// Completion tokens sent in full answers (as reported in `usage`).
    pub completion_tokens: u64,
    /// Faults injected, by kind.
    pub faults: FaultCounts,
}

/// Requests per endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointCounts {
    /// `POST /v1/chat/completions`.
    pub chat_completions: u64,
    /// `POST /v1/completions`.
    pub completions: u64,
    /// `POST /v1/embeddings`.
    pub embeddings: u64,
    /// `POST /v1/messages` (Anthropic Messages).
    #[serde(default)]
    pub messages: u64,
    /// `POST /v1/responses` (OpenAI Responses).
    #[serde(default)]
    pub responses: u64,
    /// `GET /v1/models`.
    pub models: u64,
    /// Configured mock routes (all of them together).
    pub routes: u64,
    /// Paths nothing answers (404) or wrong methods (405).
    pub not_found: u64,
    /// `GET /health` (not part of `requests`).
    pub health: u64,
}

/// Faults injected, by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultCounts {
    pub status_429: u64,
    pub status_500: u64,
    pub status_503: u64,
    pub hang: u64,
    pub reset: u64,
    pub truncated: u64,
    /// Answers paused part-way (`faults.stall`); absent from older reports.
    #[serde(default)]
    pub stall: u64,
}
