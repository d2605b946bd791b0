//! The interpreter: a checked scenario becomes one immutable [`Plan`] — what
//! starts, in which order, on which ports, then every load step and check.
//!
//! `scenario plan` prints exactly the plan that `scenario run` executes.

pub mod capacity;
pub mod command;
mod facts;
mod gateway;
pub mod level;
pub mod ramp;
mod render;
pub mod shard;
mod text;
mod untaken;

use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use indexmap::IndexMap;
use serde::Serialize;

use crate::diag::Diagnostics;
use crate::dialect::Dialect;
use crate::scenario::model::{duration, Arrival, Thresholds, UPSTREAM_PATH};
use crate::scenario::Scenario;

pub use capacity::{Capacity, SearchPlan};
pub use facts::{cache_dir, Facts, PORT_RANGE};
pub use level::{Level, LevelKind};
pub use ramp::{Ramp, RampCursor, RampStage};
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
    /// The capacity frontier, `[load] search` and the goodput SLO.
    pub capacity: Capacity,
    /// Report formats written besides `report.json`.
    pub formats: Vec<crate::report::Format>,
    /// `topology.cpus`: the CPUs of the gateway's side and of the harness.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpus: Option<crate::topology::cpus::Pinning>,
    /// `topology.quiet_period`: the wait, after the last step, before the
    /// services' recovered RSS is sampled.
    #[serde(with = "duration::option", skip_serializing_if = "Option::is_none")]
    pub quiet_period: Option<Duration>,
    /// Prometheus endpoints scraped during steps (the profile's
    /// `metrics_path` on each instance), and the series kept.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<crate::topology::scrape::Source>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub metrics_series: Vec<String>,
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
    /// Requirement files installed with `pip install -r` (their contents
    /// are part of the venv's cache key).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requirements_files: Vec<PathBuf>,
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
    /// Variables of this program's own environment the service must not
    /// see (the profile's `instance.env_remove`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env_remove: Vec<String>,
    /// Run as this user (PostgreSQL refuses root).
    pub user: Option<String>,
    pub port: u16,
    pub ready: ReadyCheck,
    /// Folders created (owned by `user`) before anything runs.
    pub dirs: Vec<PathBuf>,
    /// Commands run to completion before the service starts (e.g. initdb).
    pub prepare: Vec<Vec<String>>,
    /// Commands run once it is ready (e.g. create the database).
    pub after: Vec<Vec<String>>,
    /// Services of one wave start together; each wave waits for the last.
    pub wave: Wave,
    #[serde(with = "duration")]
    pub stop_timeout: Duration,
}

/// When a service starts: services of one wave start together, each wave
/// once the one before is ready; teardown goes in reverse. Shown and written
/// to JSON as its number (0 to 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(into = "u32")]
pub enum Wave {
    /// The fake upstream the gateway forwards to.
    Upstream,
    /// The gateway's database server.
    Database,
    /// Instance 0 (alone when the profile says `first_alone`: it creates
    /// the schema), or every instance.
    FirstInstance,
    /// The other instances, once the first is ready.
    OtherInstances,
    /// nginx in front of the instances.
    Proxy,
}

impl Service {
    /// Which side of the machine it belongs to: the fake upstream is the
    /// harness's, everything else the gateway's.
    pub fn role(&self) -> crate::topology::cpus::Role {
        match self.wave {
            Wave::Upstream => crate::topology::cpus::Role::Harness,
            _ => crate::topology::cpus::Role::Gateway,
        }
    }
}

impl From<Wave> for u32 {
    fn from(w: Wave) -> u32 {
        w as u32
    }
}

impl std::fmt::Display for Wave {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", u32::from(*self))
    }
}

/// How a service shows it is ready.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ReadyCheck {
    /// `GET url` answers 2xx.
    Http {
        url: String,
        /// Headers the check sends (the profile's `ready_headers`).
        #[serde(
            default,
            skip_serializing_if = "Vec::is_empty",
            serialize_with = "redacted_headers"
        )]
        headers: Vec<(String, String)>,
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

impl ReadyCheck {
    pub fn timeout(&self) -> Duration {
        match self {
            ReadyCheck::Http { timeout, .. } | ReadyCheck::Command { timeout, .. } => *timeout,
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
    /// What the requests speak (`[request] dialect`, else implied by the
    /// path): how answers are read and the shape a 2xx answer must have.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dialect: Option<Dialect>,
    /// The pacing streams should show (the fake upstream's ITL), against
    /// which each is checked for buffering and stalls; absent when the load
    /// does not go to this run's fake upstream or it sends tokens back to back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pacing: Option<crate::metrics::Pacing>,
    #[serde(skip)]
    pub body_bytes: Vec<Bytes>,
    /// What a good request is, for goodput (`[report] slo`; shown in `capacity`).
    #[serde(skip)]
    pub slo: Option<crate::scenario::model::Slo>,
}

/// One measured load step: warm-up requests, then the measured ones.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub index: usize,
    /// The workers of a closed-loop step, the target rate of an open-loop
    /// one (`open` is set then).
    #[serde(flatten)]
    pub level: Level,
    /// An open-loop step's pacing; absent for a closed loop.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub open: Option<Open>,
    /// A stages step: how its workers or arrival rate move over time
    /// (`level` holds the peak, `stop` the ramp's length).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ramp: Option<Ramp>,
    /// 1-based run number of this level.
    pub run: u32,
    pub runs: u32,
    pub warmup: u64,
    pub stop: Stop,
    /// Only this shard's part of the step's load (`run --shard`); absent
    /// when one process sends it all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shard: Option<shard::Shard>,
}

/// How an open-loop step paces its requests.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Open {
    /// Target arrival rate, requests per second.
    pub per_s: f64,
    pub arrival: Arrival,
    pub seed: u64,
    /// Most requests open at once: the workers, one connection each.
    pub max_in_flight: u32,
}

impl Step {
    /// Workers (one connection each): the concurrency of a closed loop,
    /// `max_in_flight` of an open one.
    pub fn workers(&self) -> u32 {
        self.open.map_or(self.level.value, |o| o.max_in_flight)
    }

    /// An open loop's scheduled window: its `duration`, or the intended
    /// span of its requests at the target rate. `None` for a closed loop.
    pub fn scheduled_window(&self) -> Option<Duration> {
        let o = self.open?;
        Some(match self.stop {
            Stop::Duration(d) => d,
            Stop::Requests(n) => Duration::from_secs_f64(n as f64 / o.per_s),
        })
    }
}

/// When a step's measurement ends.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stop {
    Requests(u64),
    Duration(#[serde(with = "duration")] Duration),
}

/// Which pool entry a request takes (`[request.pool] selection`).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Selection {
    /// Entries in turn, shared by all workers.
    #[default]
    RoundRobin,
    /// Entries at random, from `seed`.
    Random,
}

/// One pass/fail threshold applied to one level.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Check {
    #[serde(flatten)]
    pub level: Level,
    pub metric: Metric,
    pub limit: f64,
}

/// The `[assert]` metrics are the verdicts' vocabulary, defined once there.
pub use crate::assertions::Metric;

/// Errors that stop a plan from being made (nothing started yet).
#[derive(Debug)]
pub enum PlanError {
    /// Something the machine or the plan lacks.
    Message(String),
    /// A problem in an input file (a gateway profile), located in it.
    Input(Diagnostics),
}

impl std::fmt::Display for PlanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PlanError::Message(m) => f.write_str(m),
            PlanError::Input(d) => f.write_str(d.render(false).trim_end()),
        }
    }
}

impl std::error::Error for PlanError {}

/// How long the fake upstream may take to answer its readiness check.
const UPSTREAM_READY: Duration = Duration::from_secs(10);

/// Expand a checked scenario into the plan `run` executes, with files and
/// data under `run_dir` (`scenario plan` shows `$RUN_DIR`). Pure: all it
/// knows of the machine is in `facts`.
pub fn build(s: &Scenario, facts: &Facts, run_dir: &Path) -> Result<Plan, PlanError> {
    check_missing(s, facts)?;
    check_cpus(s, facts)?;
    let m = &s.model;
    let mut ports = Ports(facts.ports.iter());
    let headers = request_headers(s);
    let mut services = Vec::new();
    let mut gateway = None;
    let mut baseline = None;
    let main = match &m.topology.target {
        Some(url) => target(s, url.clone(), headers.clone(), Vec::new(), true),
        None => {
            let port = ports.take()?;
            services.push(upstream(s, facts, port)?);
            let upstream_url = format!("http://127.0.0.1:{port}");
            match &s.profile {
                None => {
                    let path = m.request.path.as_deref().unwrap_or(UPSTREAM_PATH);
                    target(
                        s,
                        format!("{upstream_url}{path}"),
                        headers.clone(),
                        Vec::new(),
                        true,
                    )
                }
                Some((profile, path)) => {
                    let mut g = gateway::expand(
                        s,
                        profile,
                        path,
                        facts,
                        &mut ports,
                        run_dir,
                        &upstream_url,
                    )?;
                    services.append(&mut g.services);
                    if m.topology.baseline {
                        let path = m.topology.baseline_path.as_deref().unwrap_or(UPSTREAM_PATH);
                        let url = format!("{upstream_url}{path}");
                        baseline = Some(target(s, url, headers.clone(), Vec::new(), false));
                    }
                    let t = gateway_target(s, &g, &headers);
                    gateway = Some(g);
                    t
                }
            }
        }
    };
    let (provision, files, setup, secrets, context) = match gateway {
        Some(g) => (g.provision, g.files, g.setup, g.secrets, g.context),
        None => Default::default(),
    };
    let metrics = metrics_sources(s, &services);
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
        steps: steps(s),
        checks: checks(&m.assertions, &levels(&m.load)),
        capacity: capacity::resolve(s, stop_rule(&m.load)),
        // `check` rejected unknown names.
        formats: m
            .report
            .formats
            .iter()
            .filter_map(|f| crate::report::Format::parse(f))
            .collect(),
        cpus: m.topology.cpus.clone(),
        quiet_period: m.topology.quiet_period,
        metrics,
        metrics_series: m.report.metrics.clone(),
        secrets,
        context,
    })
}

/// Each gateway instance's metrics endpoint, when its profile has one.
fn metrics_sources(s: &Scenario, services: &[Service]) -> Vec<crate::topology::scrape::Source> {
    if s.model.report.metrics.is_empty() {
        return Vec::new();
    }
    let Some(path) = s
        .profile
        .as_ref()
        .and_then(|(p, _)| p.instance.metrics_path.as_ref())
    else {
        return Vec::new();
    };
    services
        .iter()
        .filter(|sv| matches!(sv.wave, Wave::FirstInstance | Wave::OtherInstances))
        .map(|sv| crate::topology::scrape::Source {
            service: sv.name.clone(),
            url: format!("http://127.0.0.1:{}{path}", sv.port),
        })
        .collect()
}

/// Refuse CPUs this machine does not have (or this process may not use).
fn check_cpus(s: &Scenario, facts: &Facts) -> Result<(), PlanError> {
    let Some(pins) = &s.model.topology.cpus else {
        return Ok(());
    };
    if facts.cpus.cpus().is_empty() {
        return Ok(());
    }
    for (side, list) in [("gateway", &pins.gateway), ("harness", &pins.harness)] {
        let missing = list.missing_from(&facts.cpus);
        if !missing.is_empty() {
            let names: Vec<String> = missing.iter().map(usize::to_string).collect();
            return Err(PlanError::Message(format!(
                "topology.cpus.{side} = \"{list}\": CPU {} does not exist on this machine \
                 (or this process may not use it); the CPUs there are {}",
                names.join(", "),
                facts.cpus
            )));
        }
    }
    Ok(())
}

/// Refuse to plan what this machine cannot run.
fn check_missing(s: &Scenario, facts: &Facts) -> Result<(), PlanError> {
    if facts.missing.is_empty() {
        return Ok(());
    }
    let missing: Vec<String> = facts
        .missing
        .iter()
        .map(|r| format!("  - {} ({}): install with `{}`", r.what, r.why, r.install))
        .collect();
    Err(PlanError::Message(format!(
        "this machine lacks what the scenario needs:\n{}\n(`scenario doctor {}` lists everything)",
        missing.join("\n"),
        s.file.display()
    )))
}

/// The scenario's request headers, lower-cased, with a JSON content type
/// unless it sets one.
fn request_headers(s: &Scenario) -> Vec<(String, String)> {
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
fn target(
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
fn gateway_target(s: &Scenario, g: &gateway::Expanded, headers: &[(String, String)]) -> Target {
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

/// The fake upstream on `port`, configured by `[upstream]`.
fn upstream(s: &Scenario, facts: &Facts, port: u16) -> Result<Service, PlanError> {
    let config = serde_json::to_string(&s.model.upstream)
        .map_err(|e| PlanError::Message(format!("cannot encode [upstream]: {e}")))?;
    let words = ["fake-upstream", "--host", "127.0.0.1", "--port"];
    let mut command = vec![facts.exe.clone()];
    command.extend(words.map(String::from));
    command.extend([port.to_string(), "--config-json".into(), config]);
    Ok(Service {
        name: "upstream".into(),
        command,
        env: Vec::new(),
        user: None,
        port,
        ready: ReadyCheck::Http {
            headers: Vec::new(),
            url: format!("http://127.0.0.1:{port}/health"),
            timeout: UPSTREAM_READY,
        },
        dirs: Vec::new(),
        prepare: Vec::new(),
        after: Vec::new(),
        wave: Wave::Upstream,
        stop_timeout: Duration::from_secs(5),
        env_remove: Vec::new(),
    })
}

/// Every measured step: each level, `runs` times; or the ramp of
/// `[load] stages` as one step, `runs` times.
fn steps(s: &Scenario) -> Vec<Step> {
    let load = &s.model.load;
    if let Some(ramp) = ramp(load) {
        let level = Level::ramp(ramp.kind, ramp.peak().ceil() as u32);
        let open = level.is_rate().then(|| Open {
            per_s: ramp.peak(),
            arrival: load.arrival,
            seed: load.seed.unwrap_or(s.model.request.pool.seed),
            max_in_flight: load.max_in_flight(),
        });
        return (1..=load.runs)
            .map(|run| Step {
                index: run as usize - 1,
                level,
                open,
                ramp: Some(ramp.clone()),
                run,
                runs: load.runs,
                // A ramp starts from nothing: it is its own warm-up.
                warmup: load.warmup.unwrap_or(0),
                stop: Stop::Duration(ramp.total()),
                shard: None,
            })
            .collect();
    }
    let stop = stop_rule(load);
    let mut steps = Vec::new();
    for level in levels(load) {
        let open = level.is_rate().then(|| Open {
            per_s: f64::from(level.value),
            arrival: load.arrival,
            seed: load.seed.unwrap_or(s.model.request.pool.seed),
            max_in_flight: load.max_in_flight(),
        });
        for run in 1..=load.runs {
            steps.push(Step {
                index: steps.len(),
                level,
                open,
                ramp: None,
                run,
                runs: load.runs,
                // An open loop warms up on as many requests as it sends in
                // a tenth of a second (at least 1), closed-loop style.
                warmup: load.warmup.unwrap_or(match open {
                    Some(o) => (o.per_s / 10.0).ceil().max(1.0) as u64,
                    None => u64::from(level.value),
                }),
                stop,
                shard: None,
            });
        }
    }
    steps
}

/// `[load] stages` as a ramp (checked: each has a duration and one target).
fn ramp(load: &crate::scenario::model::Load) -> Option<Ramp> {
    if load.stages.is_empty() {
        return None;
    }
    let kind = if load.open() {
        LevelKind::Rate
    } else {
        LevelKind::Workers
    };
    let stages = load
        .stages
        .iter()
        .map(|s| RampStage {
            duration: s.duration.unwrap_or_default(),
            target: f64::from(s.concurrency.or(s.rate).unwrap_or(0)),
        })
        .collect();
    Some(Ramp { kind, stages })
}

/// The measured levels: the scenario's rates or worker counts, or its
/// ramp's peak.
fn levels(load: &crate::scenario::model::Load) -> Vec<Level> {
    if let Some(r) = ramp(load) {
        return vec![Level::ramp(r.kind, r.peak().ceil() as u32)];
    }
    let make = if load.open() {
        Level::rate
    } else {
        Level::workers
    };
    load.levels().into_iter().map(make).collect()
}

/// When each step's measurement ends: `duration`, else `requests` (default 1000).
pub fn stop_rule(load: &crate::scenario::model::Load) -> Stop {
    match (load.duration, load.requests) {
        (Some(d), _) => Stop::Duration(d),
        (None, Some(n)) => Stop::Requests(n),
        (None, None) => Stop::Requests(1000),
    }
}

/// The facts' ports, handed out in start order.
pub struct Ports<'a>(std::slice::Iter<'a, u16>);

impl Ports<'_> {
    pub fn take(&mut self) -> Result<u16, PlanError> {
        self.0.next().copied().ok_or_else(|| {
            PlanError::Message(
                "the gathered facts hold fewer ports than the plan needs (a bug: please report it)"
                    .into(),
            )
        })
    }
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
fn checks(t: &Thresholds, levels: &[Level]) -> Vec<Check> {
    let mut out = Vec::new();
    let mut all = levels.to_vec();
    let kind = LevelKind::of(levels);
    for key in t.concurrency.keys() {
        if let Ok(value) = key.parse::<u32>() {
            // The swept level of that number (a ramp's peak too), else one
            // of the sweep's kind that it leaves out.
            let level = levels
                .iter()
                .copied()
                .find(|l| l.value == value)
                .unwrap_or(Level {
                    kind,
                    value,
                    ramp: false,
                });
            if !all.contains(&level) {
                all.push(level);
            }
        }
    }
    for &level in &all {
        let swept = levels.contains(&level);
        let local = t.concurrency.get(&level.key());
        let pick = |m: Metric| {
            local
                .and_then(|l| l.limit(m))
                .or_else(|| if swept { t.limit(m) } else { None })
        };
        let limits = Metric::ALL
            .into_iter()
            .filter(|m| m.per_level())
            .map(|m| (m, pick(m)));
        for (metric, limit) in limits {
            if let Some(limit) = limit {
                out.push(Check {
                    level,
                    metric,
                    limit,
                });
            }
        }
    }
    out
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
        let checks = checks(&t, &[Level::workers(1), Level::workers(100)]);
        let p50 = |c| {
            checks
                .iter()
                .find(|k| k.level == Level::workers(c) && k.metric == Metric::MaxP50Ms)
                .unwrap()
                .limit
        };
        assert_eq!(p50(1), 60.0);
        assert_eq!(p50(100), 80.0);
        assert_eq!(checks.len(), 4);
    }

    fn scenario(file: &str, sets: &[&str]) -> Scenario {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        crate::scenario::load(&path, &sets).unwrap()
    }

    /// Facts for a machine that has everything, made up: no machine access.
    fn fake_facts(s: &Scenario, ports: Vec<u16>) -> Facts {
        let mut facts = Facts::new("/bin/scenario", ports).assume_present(s);
        let template = "listen {{ port }};{% for u in upstreams %} {{ u }}{% endfor %}";
        facts.nginx_template = Some(("nginx.conf.j2".into(), template.into()));
        facts
    }

    #[test]
    fn build_uses_the_facts_ports_in_start_order() {
        let s = scenario("tests/fixtures/tiny.toml", &[]);
        let plan = build(&s, &fake_facts(&s, vec![41000]), Path::new("/run")).unwrap();
        assert_eq!(plan.services[0].port, 41000);
        assert_eq!(plan.services[0].command[0], "/bin/scenario");
        assert_eq!(
            plan.target.url,
            "http://127.0.0.1:41000/v1/chat/completions"
        );
    }

    #[test]
    fn a_gateway_starts_in_waves_from_the_facts() {
        let s = scenario(
            "scenarios/mlflow-multi.toml",
            &["topology.database=\"postgres\"", "topology.instances=3"],
        );
        let ports = vec![1001, 1002, 1003, 1004, 1005, 1006];
        assert_eq!(
            s.model
                .topology
                .ports_needed(s.profile.as_ref().map(|p| &p.0)),
            6
        );
        let plan = build(&s, &fake_facts(&s, ports.clone()), Path::new("/run")).unwrap();
        let got: Vec<(u16, Wave)> = plan.services.iter().map(|s| (s.port, s.wave)).collect();
        use Wave::*;
        let waves = [
            Upstream,
            Database,
            FirstInstance,
            OtherInstances,
            OtherInstances,
            Proxy,
        ];
        assert_eq!(got, ports.into_iter().zip(waves).collect::<Vec<_>>());
        assert_eq!(plan.services[1].command[0], "postgres", "the facts' path");
        assert_eq!(plan.target.url.split('/').nth(2), Some("127.0.0.1:1006"));
        assert!(plan
            .files
            .iter()
            .any(|f| f.content == "listen 1006; 1003 1004 1005"));
        let json = plan.to_json();
        assert_eq!(json["services"][4]["wave"], 3, "waves stay numbers in JSON");
        assert!(
            !json.to_string().contains("db-password"),
            "secrets redacted"
        );
    }

    #[test]
    fn too_few_ports_in_the_facts_is_an_error_not_a_guess() {
        let s = scenario("scenarios/mlflow-multi.toml", &[]);
        let err = build(&s, &fake_facts(&s, vec![1001]), Path::new("/run")).unwrap_err();
        assert!(err.to_string().contains("fewer ports"), "{err}");
    }

    #[test]
    fn missing_prerequisites_stop_the_plan() {
        let s = scenario("tests/fixtures/tiny.toml", &[]);
        let mut facts = fake_facts(&s, vec![41000]);
        facts.missing.push(crate::prereq::Requirement {
            what: "nginx".into(),
            why: "test".into(),
            found: None,
            install: "apt-get install -y nginx".into(),
        });
        let err = build(&s, &facts, Path::new("/run")).unwrap_err();
        assert!(
            err.to_string().contains("apt-get install -y nginx"),
            "{err}"
        );
    }

    /// Issue 12: a ramp is one step (per run) at its peak level, for as
    /// long as its stages, with no warm-up; a rate ramp paces it open-loop.
    #[test]
    fn stages_plan_one_ramp_step() {
        let s = scenario("scenarios/ramp.toml", &["load.runs=2"]);
        let plan = build(&s, &fake_facts(&s, vec![41000]), Path::new("/run")).unwrap();
        assert_eq!(plan.steps.len(), 2);
        let step = &plan.steps[0];
        assert_eq!(step.level, Level::ramp(LevelKind::Workers, 100));
        assert_eq!(step.stop, Stop::Duration(Duration::from_secs(20)));
        assert_eq!((step.warmup, step.workers(), step.open), (0, 100, None));
        assert_eq!(step.ramp.as_ref().unwrap().stages.len(), 3);
        let json = plan.to_json();
        assert_eq!(json["steps"][0]["ramp"]["kind"], "workers");
        assert_eq!(json["steps"][0]["concurrency"], 100);
        let s = scenario(
            "scenarios/ramp.toml",
            &["load.stages=[{duration=\"4s\",rate=300},{duration=\"1s\",rate=50}]"],
        );
        let plan = build(&s, &fake_facts(&s, vec![41000]), Path::new("/run")).unwrap();
        let step = &plan.steps[0];
        assert_eq!(step.level.label(), "ramp to r=300/s");
        assert_eq!(step.open.map(|o| o.per_s), Some(300.0));
        assert_eq!(step.stop, Stop::Duration(Duration::from_secs(5)));
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
