//! What one step measured, as reports keep it ([`StepMetrics`]): latency
//! summary and spectrum, streaming, tokens, open-loop pacing, and the
//! distributions they are built from.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::{goodput, ErrorSummary, StreamChecks};

/// A distribution in a few numbers (in the unit its field names).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Quantiles {
    /// How many values.
    pub count: u64,
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

impl Quantiles {
    /// `h`'s figures, each divided by `scale`.
    pub(super) fn of(h: &Histogram<u64>, scale: f64) -> Self {
        if h.is_empty() {
            return Self::default();
        }
        let q = |q: f64| h.value_at_quantile(q) as f64 / scale;
        Quantiles {
            count: h.len(),
            mean: h.mean() / scale,
            p50: q(0.5),
            p90: q(0.9),
            p99: q(0.99),
            max: h.max() as f64 / scale,
        }
    }
}

/// Streamed answers (successful ones only): see docs/measurement.md, "Streaming".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamingSummary {
    /// Successful streamed answers.
    pub streams: u64,
    /// Time to first token: request start to the first event carrying content.
    pub ttft_ms: Quantiles,
    /// Inter-token latency: gaps between successive content events (the
    /// first token excluded), over every stream.
    pub itl_ms: Quantiles,
    /// The streams judged against the fake upstream's pacing: buffered,
    /// stalled; absent when the pacing is unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checks: Option<StreamChecks>,
}

/// Output tokens of successful answers: see docs/measurement.md, "Streaming".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TokenSummary {
    /// Successful answers whose token count was known.
    pub answers: u64,
    /// Their completion tokens, summed.
    pub output_tokens: u64,
    /// `output_tokens` over the busy window (see [`StepMetrics::rps`]): the
    /// step's aggregate rate.
    pub per_s: f64,
    /// `output_tokens` over the whole window (see [`StepMetrics::rps_window`]).
    #[serde(default)]
    pub per_s_window: f64,
    /// Output tokens/s of single requests.
    pub per_request: Quantiles,
}

/// Latency of successful requests, in milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    pub min: f64,
    pub mean: f64,
    pub stddev: f64,
    pub p50: f64,
    pub p90: f64,
    pub p95: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

impl LatencySummary {
    pub(super) fn of(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Self::default();
        }
        let q = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
        LatencySummary {
            min: h.min() as f64 / 1000.0,
            mean: h.mean() / 1000.0,
            stddev: h.stdev() / 1000.0,
            p50: q(0.5),
            p90: q(0.9),
            p95: q(0.95),
            p99: q(0.99),
            p999: q(0.999),
            max: h.max() as f64 / 1000.0,
        }
    }
}

/// Percentiles at which the latency spectrum is sampled for reports.
const SPECTRUM: &[f64] = &[
    0.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.5, 99.9, 99.95, 99.99, 100.0,
];

/// `(percentile, ms)` pairs for an HdrHistogram-style percentile plot.
pub(super) fn spectrum(h: &Histogram<u64>) -> Vec<(f64, f64)> {
    if h.is_empty() {
        return Vec::new();
    }
    SPECTRUM
        .iter()
        .map(|&p| (p, h.value_at_quantile(p / 100.0) as f64 / 1000.0))
        .collect()
}

/// What one step measured.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StepMetrics {
    /// Measured requests that finished (warm-up excluded).
    pub requests: u64,
    pub successes: u64,
    pub errors: ErrorSummary,
    /// Requests sent a second time, on a new connection, because writing
    /// them on a reused one failed: the server closed it first, so it
    /// cannot have acted on them. The server's request count is `requests`
    /// plus these (0 in reports written before it existed).
    #[serde(default)]
    pub retries: u64,
    /// Failed share of `requests`, 0.0–1.0.
    pub error_rate: f64,
    /// The whole measured window, in seconds: from the start of measurement
    /// to the last answer.
    pub duration_s: f64,
    /// The busy window, in seconds: from the start of measurement until the
    /// first worker found no more work; every worker was busy until then
    /// (0 in reports written before it existed).
    #[serde(default)]
    pub busy_s: f64,
    /// Throughput: successful requests per second over the busy window, a
    /// request that straddles its end counted by the share of its time inside
    /// it. Unlike `rps_window`, it does not depend on the drain at the end of
    /// a closed-loop step, when fewer and fewer workers still have work.
    pub rps: f64,
    /// Successful requests per second over the whole window (`successes /
    /// duration_s`; 0 in reports written before it existed).
    #[serde(default)]
    pub rps_window: f64,
    pub latency_ms: LatencySummary,
    /// `(percentile, ms)` pairs of the latency spectrum.
    pub percentiles: Vec<(f64, f64)>,
    /// Time to first token and inter-token latency; absent without streams.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub streaming: Option<StreamingSummary>,
    /// Output tokens; absent when no answer reported any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<TokenSummary>,
    /// The overhead the gateway reported for itself in a response header
    /// (the profile's `overhead_headers`), beside the client's view.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway_overhead_ms: Option<Quantiles>,
    /// An open-loop step's pacing; absent for a closed loop. There,
    /// `latency_ms` (and streaming figures) count from each request's
    /// intended send time: the latency users saw, coordinated omission
    /// corrected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_loop: Option<OpenLoopSummary>,
    /// Requests that met `[report] slo`; absent without an SLO.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goodput: Option<goodput::GoodputSummary>,
}

impl StepMetrics {
    /// The throughput a step carried, as capacity figures count it: for
    /// an open loop the arrival rate it kept (achieved send rate times the
    /// share that succeeded), for a closed loop its successful req/s.
    pub fn carried_rps(&self) -> f64 {
        match &self.open_loop {
            Some(o) if self.requests > 0 => {
                o.achieved_rate * self.successes as f64 / self.requests as f64
            }
            _ => self.rps,
        }
    }
}

/// How an open-loop step kept to its schedule: see docs/measurement.md, "Open-loop clocks".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OpenLoopSummary {
    /// Requests per second the schedule asked for.
    pub target_rate: f64,
    /// Requests per second actually sent over the step.
    pub achieved_rate: f64,
    /// Arrivals the schedule put in the step (`sent` + `dropped`).
    pub scheduled: u64,
    /// Requests sent.
    pub sent: u64,
    /// Due more than 1 ms before a worker was free to send them (all
    /// `max_in_flight` were busy); their latency includes the wait.
    pub late: u64,
    /// Due inside a `duration` step but still unsent when it ended.
    pub dropped: u64,
    /// Service time: from the actual send to the answer (successes).
    pub service_ms: LatencySummary,
    /// Client queue time: from the intended to the actual send (every send).
    pub queue_ms: Quantiles,
}
