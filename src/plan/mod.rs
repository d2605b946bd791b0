//! The interpreter: a checked scenario becomes one immutable [`Plan`] — what
//! starts, in which order, on which ports, then every load step and check.
//!
//! `scenario plan` prints exactly the plan that `scenario run` executes.

mod text;

use std::net::TcpListener;
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use serde::Serialize;

use crate::scenario::model::{duration, Selection, Thresholds};
use crate::scenario::Scenario;

/// Everything a run does, decided before anything starts.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub scenario: String,
    pub description: Option<String>,
    pub file: PathBuf,
    /// Services in start order; torn down in reverse.
    pub services: Vec<Service>,
    pub target: Target,
    pub steps: Vec<Step>,
    pub checks: Vec<Check>,
    /// Report formats written besides `report.json`.
    pub formats: Vec<String>,
}

/// A process this tool starts and supervises.
#[derive(Debug, Clone, Serialize)]
pub struct Service {
    pub name: String,
    /// The command line; the first word is the program.
    pub command: Vec<String>,
    pub port: u16,
    pub ready: Probe,
}

/// How a service shows it is ready: `GET url` answers 2xx within `timeout`.
#[derive(Debug, Clone, Serialize)]
pub struct Probe {
    pub url: String,
    #[serde(with = "duration")]
    pub timeout: Duration,
}

/// Where the load goes and what each request carries.
#[derive(Debug, Clone, Serialize)]
pub struct Target {
    pub url: String,
    pub method: String,
    /// Headers as sent; values of secret-looking headers are redacted when shown.
    #[serde(serialize_with = "redacted_headers")]
    pub headers: Vec<(String, String)>,
    pub template: String,
    /// How many distinct bodies were rendered (one per pool entry).
    pub bodies: usize,
    pub selection: Selection,
    pub seed: u64,
    #[serde(with = "duration")]
    pub timeout: Duration,
    #[serde(skip)]
    pub body_bytes: Vec<Bytes>,
}

/// One measured load step: warm-up requests, then the measured ones.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub index: usize,
    pub concurrency: u32,
    /// 1-based run number of this concurrency level.
    pub run: u32,
    pub runs: u32,
    pub warmup: u64,
    pub stop: Stop,
}

/// When a step's measurement ends.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stop {
    Requests(u64),
    Duration(#[serde(with = "duration")] Duration),
}

/// One pass/fail threshold applied to one concurrency level.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    pub concurrency: u32,
    pub metric: Metric,
    pub limit: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    MinRps,
    MaxP50Ms,
    MaxP95Ms,
    MaxP99Ms,
    MaxErrorRate,
}

impl Metric {
    /// The key as written under `[assert]`.
    pub fn key(self) -> &'static str {
        match self {
            Metric::MinRps => "min_rps",
            Metric::MaxP50Ms => "max_p50_ms",
            Metric::MaxP95Ms => "max_p95_ms",
            Metric::MaxP99Ms => "max_p99_ms",
            Metric::MaxErrorRate => "max_error_rate",
        }
    }

    /// True when the measured value must stay at or below the limit.
    pub fn is_max(self) -> bool {
        !matches!(self, Metric::MinRps)
    }
}

/// Errors that stop a plan from being made (nothing started yet).
#[derive(Debug)]
pub struct PlanError(pub String);

impl std::fmt::Display for PlanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PlanError {}

/// How long the fake upstream may take to answer its health probe.
const UPSTREAM_READY: Duration = Duration::from_secs(10);

/// Expand a checked scenario into the plan `run` executes.
pub fn build(s: &Scenario, exe: &str) -> Result<Plan, PlanError> {
    let m = &s.model;
    let mut ports = PortPicker::new(m.topology.base_port);
    let mut services = Vec::new();
    let url = match &m.topology.target {
        Some(target) => target.clone(),
        None => {
            let port = ports.next()?;
            let config = serde_json::to_string(&m.upstream)
                .map_err(|e| PlanError(format!("cannot encode [upstream]: {e}")))?;
            services.push(Service {
                name: "upstream".into(),
                command: vec![
                    exe.to_string(),
                    "fake-upstream".into(),
                    "--host".into(),
                    "127.0.0.1".into(),
                    "--port".into(),
                    port.to_string(),
                    "--config-json".into(),
                    config,
                ],
                port,
                ready: Probe {
                    url: format!("http://127.0.0.1:{port}/health"),
                    timeout: UPSTREAM_READY,
                },
            });
            format!("http://127.0.0.1:{port}{}", m.request.path)
        }
    };

    let mut headers: Vec<(String, String)> = m
        .request
        .headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
        .collect();
    if !headers.iter().any(|(k, _)| k == "content-type") {
        headers.insert(0, ("content-type".into(), "application/json".into()));
    }

    let stop = match (m.load.duration, m.load.requests) {
        (Some(d), _) => Stop::Duration(d),
        (None, Some(n)) => Stop::Requests(n),
        (None, None) => Stop::Requests(1000),
    };
    let mut steps = Vec::new();
    for &concurrency in &m.load.concurrency {
        for run in 1..=m.load.runs {
            steps.push(Step {
                index: steps.len(),
                concurrency,
                run,
                runs: m.load.runs,
                warmup: m.load.warmup.unwrap_or(u64::from(concurrency)),
                stop,
            });
        }
    }

    Ok(Plan {
        scenario: s.name.clone(),
        description: m.scenario.description.clone(),
        file: s.file.clone(),
        services,
        target: Target {
            url,
            method: m.request.method.clone(),
            headers,
            template: s.template.clone(),
            bodies: s.bodies.len(),
            selection: m.request.pool.selection,
            seed: m.request.pool.seed,
            timeout: m.request.timeout,
            body_bytes: s.bodies.clone(),
        },
        steps,
        checks: checks(&m.assertions, &m.load.concurrency),
        formats: m.report.formats.clone(),
    })
}

/// Thresholds for each level: `[assert]`, overridden by `[assert.concurrency.N]`.
fn checks(t: &Thresholds, levels: &[u32]) -> Vec<Check> {
    let mut out = Vec::new();
    for &concurrency in levels {
        let local = t.concurrency.get(&concurrency.to_string());
        let pick = |f: fn(&Thresholds) -> Option<f64>| local.and_then(f).or_else(|| f(t));
        let limits = [
            (Metric::MinRps, pick(|t| t.min_rps)),
            (Metric::MaxP50Ms, pick(|t| t.max_p50_ms)),
            (Metric::MaxP95Ms, pick(|t| t.max_p95_ms)),
            (Metric::MaxP99Ms, pick(|t| t.max_p99_ms)),
            (Metric::MaxErrorRate, pick(|t| t.max_error_rate)),
        ];
        for (metric, limit) in limits {
            if let Some(limit) = limit {
                out.push(Check {
                    concurrency,
                    metric,
                    limit,
                });
            }
        }
    }
    out
}

/// Ports for services: consecutive from `base_port`, or free ones from the OS.
struct PortPicker {
    next_base: Option<u16>,
    /// Held until the plan is made so the OS does not hand out one port twice.
    held: Vec<TcpListener>,
}

impl PortPicker {
    fn new(base: Option<u16>) -> Self {
        PortPicker {
            next_base: base,
            held: Vec::new(),
        }
    }

    fn next(&mut self) -> Result<u16, PlanError> {
        if let Some(port) = self.next_base {
            self.next_base = port.checked_add(1);
            return Ok(port);
        }
        let listener = TcpListener::bind("127.0.0.1:0")
            .map_err(|e| PlanError(format!("cannot find a free port on 127.0.0.1: {e}")))?;
        let port = listener
            .local_addr()
            .map_err(|e| PlanError(format!("cannot read a free port: {e}")))?
            .port();
        self.held.push(listener);
        Ok(port)
    }
}

fn is_secret(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    [
        "authorization",
        "api-key",
        "x-api-key",
        "cookie",
        "token",
        "secret",
        "password",
    ]
    .iter()
    .any(|s| name.contains(s))
}

/// Shown as `Bearer <redacted>`-style text: the scheme stays, the secret goes.
pub fn redact(name: &str, value: &str) -> String {
    if !is_secret(name) {
        return value.to_string();
    }
    match value.split_once(' ') {
        Some((scheme, _)) => format!("{scheme} <redacted>"),
        None => "<redacted>".into(),
    }
}

fn redacted_headers<S: serde::Serializer>(h: &[(String, String)], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = s.serialize_map(Some(h.len()))?;
    for (k, v) in h {
        map.serialize_entry(k, &redact(k, v))?;
    }
    map.end()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_level_overrides_replace_only_their_keys() {
        let mut t = Thresholds {
            max_p50_ms: Some(60.0),
            max_error_rate: Some(0.01),
            ..Thresholds::default()
        };
        t.concurrency.insert(
            "100".into(),
            Thresholds {
                max_p50_ms: Some(80.0),
                ..Thresholds::default()
            },
        );
        let checks = checks(&t, &[1, 100]);
        let p50 = |c| {
            checks
                .iter()
                .find(|k| k.concurrency == c && k.metric == Metric::MaxP50Ms)
                .unwrap()
                .limit
        };
        assert_eq!(p50(1), 60.0);
        assert_eq!(p50(100), 80.0);
        assert_eq!(checks.len(), 4);
    }

    #[test]
    fn secrets_are_redacted() {
        assert_eq!(redact("Authorization", "Bearer abc"), "Bearer <redacted>");
        assert_eq!(redact("x-api-key", "abc"), "<redacted>");
        assert_eq!(
            redact("content-type", "application/json"),
            "application/json"
        );
    }
}
