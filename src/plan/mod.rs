//! The interpreter: a checked scenario becomes one immutable [`Plan`] — what
//! starts, in which order, on which ports, then every load step and check.
//!
//! `scenario plan` prints exactly the plan that `scenario run` executes.

mod gateway;
mod text;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use indexmap::IndexMap;
use serde::Serialize;

use crate::prereq;
use crate::scenario::model::{duration, Selection, Thresholds, UPSTREAM_PATH};
use crate::scenario::Scenario;

pub use text::shell_word;

/// Everything a run does, decided before anything starts.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub scenario: String,
    pub description: Option<String>,
    pub file: PathBuf,
    /// Where files, data, logs and reports of this run go.
    pub run_dir: PathBuf,
    /// A Python environment to create before anything starts (cached).
    pub provision: Option<Provision>,
    /// Files written into the run folder before the services start.
    pub files: Vec<PlannedFile>,
    /// Services in start order (a wave starts together); torn down in reverse.
    pub services: Vec<Service>,
    /// HTTP calls made once every service is ready.
    pub setup: Vec<SetupStep>,
    pub target: Target,
    /// The same requests straight to the fake upstream, run after each step
    /// (`topology.baseline`), to show what the gateway adds.
    pub baseline: Option<Target>,
    pub steps: Vec<Step>,
    pub checks: Vec<Check>,
    /// Report formats written besides `report.json`.
    pub formats: Vec<String>,
    /// Values never shown: passwords, keys. Replaced by `<redacted>`.
    #[serde(skip)]
    pub secrets: Vec<String>,
    /// What setup templates see (with `captured` added as calls answer).
    #[serde(skip)]
    pub context: serde_json::Value,
}

/// A virtual environment with the gateway's packages.
#[derive(Debug, Clone, Serialize)]
pub struct Provision {
    /// The interpreter that creates it.
    pub python: PathBuf,
    pub venv: PathBuf,
    pub requirements: Vec<String>,
}

/// A file the run writes before starting services.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedFile {
    pub path: PathBuf,
    /// Owned by this user (a service that runs as another user reads it).
    pub owner: Option<String>,
    #[serde(skip)]
    pub content: String,
}

/// A process this tool starts and supervises.
#[derive(Debug, Clone, Serialize)]
pub struct Service {
    pub name: String,
    /// The command line; the first word is the program.
    pub command: Vec<String>,
    pub env: Vec<(String, String)>,
    /// Run as this user (PostgreSQL refuses root).
    pub user: Option<String>,
    pub port: u16,
    pub ready: Probe,
    /// Folders created (owned by `user`) before anything runs.
    pub dirs: Vec<PathBuf>,
    /// Commands run to completion before the service starts (e.g. initdb).
    pub prepare: Vec<Vec<String>>,
    /// Commands run once it is ready (e.g. create the database).
    pub after: Vec<Vec<String>>,
    /// Services of one wave start together; each wave waits for the last.
    pub wave: u32,
    #[serde(with = "duration")]
    pub stop_timeout: Duration,
}

/// How a service shows it is ready.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Probe {
    /// `GET url` answers 2xx.
    Http {
        url: String,
        #[serde(with = "duration")]
        timeout: Duration,
    },
    /// The command exits 0.
    Command {
        argv: Vec<String>,
        #[serde(with = "duration")]
        timeout: Duration,
    },
}

impl Probe {
    pub fn timeout(&self) -> Duration {
        match self {
            Probe::Http { timeout, .. } | Probe::Command { timeout, .. } => *timeout,
        }
    }
}

/// One HTTP call after start; `capture` names values taken from its answer.
#[derive(Debug, Clone, Serialize)]
pub struct SetupStep {
    pub name: String,
    pub method: String,
    pub url: String,
    #[serde(serialize_with = "redacted_headers")]
    pub headers: Vec<(String, String)>,
    /// The body template, rendered when the call is made.
    pub body: Option<String>,
    /// The body as planned, with `@captured.NAME` for values taken from
    /// earlier answers.
    pub preview: Option<String>,
    pub capture: IndexMap<String, String>,
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
    /// Response headers in which the gateway reports its own overhead (ms).
    pub overhead_headers: Vec<String>,
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

/// Expand a checked scenario into the plan `run` executes, with files and
/// data under `run_dir` (`scenario plan` shows `$RUN_DIR`).
pub fn build(s: &Scenario, exe: &str, run_dir: &Path) -> Result<Plan, PlanError> {
    let missing: Vec<String> = prereq::needs(s)
        .into_iter()
        .filter(|r| !r.ok())
        .map(|r| format!("  - {} ({}): install with `{}`", r.what, r.why, r.install))
        .collect();
    if !missing.is_empty() {
        return Err(PlanError(format!(
            "this machine lacks what the scenario needs:\n{}\n(`scenario doctor {}` lists everything)",
            missing.join("\n"),
            s.file.display()
        )));
    }
    let m = &s.model;
    let mut ports = PortPicker::new(m.topology.base_port);
    let mut services = Vec::new();
    let mut headers: Vec<(String, String)> = m
        .request
        .headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
        .collect();
    if !headers.iter().any(|(k, _)| k == "content-type") {
        headers.insert(0, ("content-type".into(), "application/json".into()));
    }
    let upstream_path = m
        .request
        .path
        .clone()
        .unwrap_or_else(|| UPSTREAM_PATH.to_string());
    let target = |url: String, headers: Vec<(String, String)>, overhead: Vec<String>| Target {
        url,
        method: m.request.method.clone(),
        headers,
        template: s.template.clone(),
        bodies: s.bodies.len(),
        selection: m.request.pool.selection,
        seed: m.request.pool.seed,
        timeout: m.request.timeout,
        overhead_headers: overhead,
        body_bytes: s.bodies.clone(),
    };

    let mut gateway = None;
    let main = match &m.topology.target {
        Some(url) => target(url.clone(), headers.clone(), Vec::new()),
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
                env: Vec::new(),
                user: None,
                port,
                ready: Probe::Http {
                    url: format!("http://127.0.0.1:{port}/health"),
                    timeout: UPSTREAM_READY,
                },
                dirs: Vec::new(),
                prepare: Vec::new(),
                after: Vec::new(),
                wave: 0,
                stop_timeout: Duration::from_secs(5),
            });
            let upstream_url = format!("http://127.0.0.1:{port}");
            match &s.profile {
                None => target(
                    format!("{upstream_url}{upstream_path}"),
                    headers.clone(),
                    Vec::new(),
                ),
                Some((profile, path)) => {
                    let g = gateway::expand(s, profile, path, &mut ports, run_dir, &upstream_url)?;
                    let mut gateway_headers = headers.clone();
                    gateway_headers.extend(g.headers.clone());
                    let url = format!(
                        "{}{}",
                        g.base_url,
                        m.request.path.clone().unwrap_or(g.path.clone())
                    );
                    let t = target(url, gateway_headers, g.overhead_headers.clone());
                    services.extend(g.services.clone());
                    let baseline_path =
                        m.topology.baseline_path.as_deref().unwrap_or(UPSTREAM_PATH);
                    gateway = Some((g, format!("{upstream_url}{baseline_path}")));
                    t
                }
            }
        }
    };

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

    let baseline = match &gateway {
        Some((_, url)) if m.topology.baseline => {
            Some(target(url.clone(), headers.clone(), Vec::new()))
        }
        _ => None,
    };
    let (provision, files, setup, secrets, context) = match gateway {
        Some((g, _)) => (g.provision, g.files, g.setup, g.secrets, g.context),
        None => (
            None,
            Vec::new(),
            Vec::new(),
            Vec::new(),
            serde_json::Value::Null,
        ),
    };
    Ok(Plan {
        scenario: s.name.clone(),
        description: m.scenario.description.clone(),
        file: s.file.clone(),
        run_dir: run_dir.to_path_buf(),
        provision,
        files,
        services,
        setup,
        target: main,
        baseline,
        steps,
        checks: checks(&m.assertions, &m.load.concurrency),
        formats: m.report.formats.clone(),
        secrets,
        context,
    })
}

impl Plan {
    /// The plan as JSON with every secret value replaced by `<redacted>`.
    pub fn to_json(&self) -> serde_json::Value {
        let mut value = serde_json::to_value(self).unwrap_or_default();
        redact_secrets(&mut value, &self.secrets);
        value
    }

    /// `text` with every secret value replaced by `<redacted>`.
    pub fn hide(&self, text: &str) -> String {
        hide(text, &self.secrets)
    }
}

/// `text` with each of `secrets` replaced by `<redacted>`.
pub fn hide(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_string();
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        out = out.replace(secret.as_str(), "<redacted>");
    }
    out
}

/// Replace secrets in every string of a JSON value.
pub fn redact_secrets(value: &mut serde_json::Value, secrets: &[String]) {
    match value {
        serde_json::Value::String(s) => *s = hide(s, secrets),
        serde_json::Value::Array(items) => {
            items.iter_mut().for_each(|v| redact_secrets(v, secrets))
        }
        serde_json::Value::Object(map) => map.values_mut().for_each(|v| redact_secrets(v, secrets)),
        _ => {}
    }
}

/// Thresholds for each level: `[assert]`, overridden by `[assert.concurrency.N]`.
/// One check per level and threshold: every swept level with the shared
/// thresholds and its own, then the levels only `[assert.concurrency.N]`
/// names (judged as not measured unless the scenario is strict about it).
fn checks(t: &Thresholds, levels: &[u32]) -> Vec<Check> {
    let mut out = Vec::new();
    let mut all = levels.to_vec();
    for key in t.concurrency.keys() {
        if let Ok(level) = key.parse::<u32>() {
            if !all.contains(&level) {
                all.push(level);
            }
        }
    }
    for &concurrency in &all {
        let swept = levels.contains(&concurrency);
        let local = t.concurrency.get(&concurrency.to_string());
        let pick = |f: fn(&Thresholds) -> Option<f64>| {
            local
                .and_then(f)
                .or_else(|| if swept { f(t) } else { None })
        };
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
pub(crate) struct PortPicker {
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

    pub(crate) fn next(&mut self) -> Result<u16, PlanError> {
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
