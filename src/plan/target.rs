//! Where the load goes and what each request carries: the URL, headers,
//! bodies, dialect and pacing of the gateway's (or the upstream's) target.

use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::gateway;
use super::secret::headers;
use crate::dialect::Dialect;
use crate::scenario::model::duration;
use crate::scenario::Scenario;

/// Where the load goes and what each request carries.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Target {
    pub url: String,
    pub method: String,
    /// Headers as sent; values of secret-looking headers are redacted when shown.
    #[serde(with = "headers")]
    pub headers: Vec<(String, String)>,
    pub template: String,
    /// How many distinct bodies were rendered (one per pool entry).
    pub bodies: usize,
    pub selection: Selection,
    pub seed: u64,
    #[serde(with = "duration")]
    pub timeout: Duration,
    /// Response headers in which the gateway reports its own overhead (ms).
    pub overhead_headers: Vec<String>,
    /// What the requests speak (`[request] dialect`, else implied by the
    /// path): how answers are read and the shape a 2xx answer must have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dialect: Option<Dialect>,
    /// The pacing streams should show (the fake upstream's ITL), against
    /// which each is checked for buffering and stalls; absent when the load
    /// does not go to this run's fake upstream or it sends tokens back to back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pacing: Option<crate::metrics::Pacing>,
    #[serde(skip)]
    pub body_bytes: Vec<Bytes>,
    /// What a good request is, for goodput (`[report] slo`; shown in `capacity`).
    #[serde(skip)]
    pub slo: Option<crate::scenario::model::Slo>,
}

/// Which pool entry a request takes (`[request.pool] selection`).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Selection {
    /// Entries in turn, shared by all workers.
    #[default]
    RoundRobin,
    /// Entries at random, from `seed`.
    Random,
}

/// The scenario's request headers, lower-cased, with a JSON content type
/// unless it sets one.
pub(super) fn request_headers(s: &Scenario) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> = s
        .model
        .request
        .headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
        .collect();
    if !headers.iter().any(|(k, _)| k == "content-type") {
        headers.insert(0, ("content-type".into(), "application/json".into()));
    }
    headers
}

/// Where the load goes, with the scenario's bodies and request settings.
pub(super) fn target(
    s: &Scenario,
    url: String,
    headers: Vec<(String, String)>,
    overhead: Vec<String>,
    requested: bool,
) -> Target {
    let r = &s.model.request;
    // The baseline goes to its own path, so its answers are judged by it.
    let explicit = r.dialect.filter(|_| requested);
    let dialect = explicit.or_else(|| {
        let path = url.split_once("://").map_or(url.as_str(), |(_, rest)| rest);
        Dialect::from_path(path.find('/').map_or("/", |i| &path[i..]))
    });
    Target {
        url,
        method: r.method.clone(),
        headers,
        template: s.template.clone(),
        bodies: s.bodies.len(),
        selection: r.pool.selection,
        seed: r.pool.seed,
        timeout: r.timeout,
        overhead_headers: overhead,
        dialect,
        pacing: s
            .model
            .topology
            .target
            .is_none()
            .then(|| {
                crate::metrics::Pacing::of(
                    s.model.upstream.itl_delay(),
                    s.model.report.stall_factor,
                )
            })
            .flatten(),
        body_bytes: s.bodies.clone(),
        slo: s.model.report.slo,
    }
}

/// The gateway's URL and path, with its headers after the scenario's.
pub(super) fn gateway_target(
    s: &Scenario,
    g: &gateway::Expanded,
    headers: &[(String, String)],
) -> Target {
    let mut all = headers.to_vec();
    all.extend(g.headers.iter().cloned());
    let path = s.model.request.path.as_deref().unwrap_or(&g.path);
    target(
        s,
        format!("{}{path}", g.base_url),
        all,
        g.overhead_headers.clone(),
        true,
    )
}
