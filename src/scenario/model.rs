//! The scenario file's tables as typed structs: the one place keys and defaults are defined.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

pub use super::capacity::{FrontierBasis, Search, Slo};
use crate::upstream::UpstreamConfig;

/// A whole scenario file after `extends` and `--set` were applied.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    #[serde(default)]
    pub scenario: Meta,
    #[serde(default)]
    pub topology: Topology,
    #[serde(default)]
    pub upstream: UpstreamConfig,
    #[serde(default)]
    pub request: Request,
    #[serde(default)]
    pub load: Load,
    #[serde(default, rename = "assert")]
    pub assertions: Thresholds,
    #[serde(default)]
    pub report: ReportOptions,
}

/// `[scenario]`: what this benchmark is.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    /// Name used for the results folder; defaults to the file's stem.
    pub name: Option<String>,
    /// One line saying what the scenario measures.
    pub description: Option<String>,
}

/// `[topology]`: what runs under test: a gateway profile's instances, its
/// database, nginx in front, auth — or an existing URL, or (by default) the
/// built-in fake upstream hit directly.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Topology {
    /// Benchmark this URL as is and start nothing (like the MLflow gateway
    /// benchmark's `--url`, which skips all setup).
    pub target: Option<String>,
    /// A gateway profile: a name under `templates/gateways/` or a path to one.
    pub gateway: Option<String>,
    /// Gateway instances (default 1).
    #[serde(default = "one")]
    #[schemars(schema_with = "crate::schema::count_or_sweep")]
    pub instances: u32,
    /// Workers per instance (default 1).
    #[serde(default = "one")]
    #[schemars(schema_with = "crate::schema::count_or_sweep")]
    pub workers: u32,
    /// The gateway's database; the profile says which kinds it supports.
    pub database: Option<Database>,
    /// nginx in front of the instances; default: on when instances > 1.
    pub nginx: Option<bool>,
    /// Authentication the gateway enforces and requests carry.
    pub auth: Option<Auth>,
    /// Gateway options, over the profile's defaults (e.g. `usage_tracking`).
    #[serde(default)]
    pub options: IndexMap<String, serde_json::Value>,
    /// Also run every step straight against the fake upstream (the direct
    /// path), to report what the gateway adds. Formerly `baseline`, still
    /// read with a warning.
    #[serde(default)]
    pub direct: bool,
    /// Path on the fake upstream the direct steps go to; default
    /// `/v1/chat/completions` (a mock route's path for non-LLM APIs).
    /// Formerly `baseline_path`.
    pub direct_path: Option<String>,
    /// First port for the services this tool starts (then +1, +2, …);
    /// unset: free ports are picked and shown in the plan.
    pub base_port: Option<u16>,
    /// CPU isolation: `{ gateway = "1", harness = "0" }` pins the gateway's
    /// processes (and its database and nginx) and the harness (load threads,
    /// fake upstream) to these CPU lists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<crate::topology::cpus::Pinning>,
    /// After the last step, wait this long with no load and sample each
    /// service's RSS again (`recovered` RSS); unset: not measured.
    #[serde(
        default,
        with = "duration::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(schema_with = "crate::schema::duration")]
    pub quiet_period: Option<Duration>,
}

impl Topology {
    /// Whether nginx runs in front of the instances (default: with several).
    pub fn uses_nginx(&self) -> bool {
        self.gateway.is_some() && self.nginx.unwrap_or(self.instances > 1)
    }

    /// How many ports the services this tool starts take: the fake upstream,
    /// a PostgreSQL server, each instance and nginx (none for a `target`).
    pub fn ports_needed(&self, profile: Option<&super::profile::Profile>) -> usize {
        if self.target.is_some() {
            return 0;
        }
        let Some(profile) = profile else {
            return 1;
        };
        let postgres = profile.database(self.database.as_ref()) == Some(Database::Postgres);
        1 + usize::from(postgres) + self.instances as usize + usize::from(self.uses_nginx())
    }
}

fn one() -> u32 {
    1
}

impl Default for Topology {
    fn default() -> Self {
        Topology {
            target: None,
            gateway: None,
            instances: 1,
            workers: 1,
            database: None,
            nginx: None,
            auth: None,
            options: IndexMap::new(),
            direct: false,
            direct_path: None,
            base_port: None,
            cpus: None,
            quiet_period: None,
        }
    }
}

/// `database = "sqlite" | "postgres" | { url = "…" }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Database {
    /// A file in the run folder.
    Sqlite,
    /// A PostgreSQL server started for the run (initdb in the run folder).
    Postgres,
    /// An existing database, used as it is.
    Url(String),
}

impl Database {
    pub fn kind(&self) -> &'static str {
        match self {
            Database::Sqlite => "sqlite",
            Database::Postgres => "postgres",
            Database::Url(_) => "url",
        }
    }
}

/// `auth = { kind = "basic", username = "…", password = "…" }` or
/// `auth = { kind = "bearer", token = "…" }`: which keys a kind needs is
/// checked in `check.rs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Auth {
    /// `"basic"` (needs `username` and `password`) or `"bearer"` (needs `token`).
    pub kind: AuthKind,
    /// Basic auth: the user the gateway is set up with and requests send.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Basic auth: its password (redacted wherever a plan, report or log shows it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// Bearer auth: the API key sent as `Authorization: Bearer …` (redacted like a password).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AuthKind {
    /// HTTP Basic: `Authorization: Basic base64(user:password)`.
    Basic,
    /// A bearer token (an API key): `Authorization: Bearer TOKEN`.
    Bearer,
}

impl AuthKind {
    /// The kind as written in files.
    pub fn name(self) -> &'static str {
        match self {
            AuthKind::Basic => "basic",
            AuthKind::Bearer => "bearer",
        }
    }

    /// The keys of `auth` this kind needs (every other secret key is refused).
    pub fn keys(self) -> &'static [&'static str] {
        match self {
            AuthKind::Basic => &["username", "password"],
            AuthKind::Bearer => &["token"],
        }
    }
}

impl Auth {
    /// `username`, `password`, `token`, each with its value when set.
    pub fn fields(&self) -> [(&'static str, Option<&str>); 3] {
        [
            ("username", self.username.as_deref()),
            ("password", self.password.as_deref()),
            ("token", self.token.as_deref()),
        ]
    }
}

/// `[request]`: what each request looks like.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// HTTP method of every request.
    #[serde(default = "default_method")]
    pub method: String,
    /// Path on the fake upstream; default `/v1/chat/completions`. With a
    /// gateway, the profile's `request.path` is used unless this is set.
    pub path: Option<String>,
    /// minijinja template file for the body; unset: the built-in OpenAI chat body.
    pub template: Option<PathBuf>,
    /// What the requests speak, so how answers are read (tokens, stream
    /// events) and what shape a 2xx answer must have. Unset: implied by the
    /// path (`…/chat/completions`, `…/messages`, `…/responses`; other
    /// paths are read like chat and their shape is not checked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dialect: Option<crate::dialect::Dialect>,
    /// Extra headers, e.g. `{ Authorization = "Bearer x" }`.
    #[serde(default)]
    pub headers: IndexMap<String, String>,
    /// Variables every template sees (a pool entry's fields override them).
    #[serde(default)]
    pub vars: IndexMap<String, serde_json::Value>,
    /// How long one request may take before it counts as a timeout.
    #[serde(default = "default_timeout", with = "duration")]
    #[schemars(schema_with = "crate::schema::duration")]
    pub timeout: Duration,
    /// `[request.pool]`: the entries templates are filled from.
    #[serde(default)]
    pub pool: Pool,
}

impl Default for Request {
    fn default() -> Self {
        Request {
            method: default_method(),
            path: None,
            template: None,
            dialect: None,
            headers: IndexMap::new(),
            vars: IndexMap::new(),
            timeout: default_timeout(),
            pool: Pool::default(),
        }
    }
}

fn default_method() -> String {
    "POST".into()
}
/// Where chat completions are served on the fake upstream.
pub const UPSTREAM_PATH: &str = "/v1/chat/completions";
fn default_timeout() -> Duration {
    Duration::from_secs(30)
}

/// `[request.pool]`: the entries templates are filled from.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Pool {
    /// Inline entries: strings (taken as `prompt`) or tables of variables.
    pub prompts: Option<Vec<serde_json::Value>>,
    /// A JSONL file, one object per line, e.g. `{"prompt": "…", "max_tokens": 64}`.
    pub file: Option<PathBuf>,
    /// How entries are picked: `"round-robin"` (in order) or `"random"` (seeded by `seed`).
    #[serde(default)]
    pub selection: Selection,
    /// Seed for `selection = "random"`.
    #[serde(default)]
    pub seed: u64,
}

/// `selection`: the plan defines it, for the load stage that obeys it.
pub use crate::plan::Selection;

/// `[load]`: the sweep, over concurrency levels (closed loop) or arrival
/// rates (open loop).
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Load {
    /// Closed-loop worker counts; empty means unset (see [`Load::levels`]).
    #[serde(default)]
    pub concurrency: Vec<u32>,
    /// Open-loop arrival rates, whole requests per second; exclusive with
    /// `concurrency`. (The open-loop keys are left out of the resolved
    /// scenario when unset, so a closed-loop scenario resolves as before.)
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rate: Vec<u32>,
    /// How open-loop arrivals are spaced.
    #[serde(default, skip_serializing_if = "Arrival::is_default")]
    pub arrival: Arrival,
    /// Seed of the arrival schedule (default: the request pool's seed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Open loop: most requests in flight at once (one connection each).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_in_flight: Option<u32>,
    /// A ramp: one measured step whose workers or arrival rate follow these
    /// stages, linearly from the previous stage's target (0 before the
    /// first); exclusive with `concurrency`, `rate` and `requests`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<Stage>,
    /// Measured requests per step (default 1000 unless `duration` is set).
    pub requests: Option<u64>,
    /// Measure for this long per step instead of a request count.
    #[serde(default, with = "duration::option")]
    #[schemars(schema_with = "crate::schema::duration")]
    pub duration: Option<Duration>,
    /// Requests per step before measuring (not recorded); default: the concurrency level.
    pub warmup: Option<u64>,
    /// How many times each concurrency level is measured.
    #[serde(default = "default_runs")]
    pub runs: u32,
    /// Bisect for the highest level meeting a p99 bound instead of sweeping.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search: Option<Search>,
}

impl Default for Load {
    fn default() -> Self {
        Load {
            concurrency: Vec::new(),
            rate: Vec::new(),
            arrival: Arrival::default(),
            seed: None,
            max_in_flight: None,
            stages: Vec::new(),
            requests: None,
            duration: None,
            warmup: None,
            runs: default_runs(),
            search: None,
        }
    }
}

/// The concurrency sweep when neither `concurrency` nor `rate` is given.
pub const DEFAULT_CONCURRENCY: &[u32] = &[1, 10, 50, 100];

/// `max_in_flight` when not given.
pub const DEFAULT_MAX_IN_FLIGHT: u32 = 1000;

impl Load {
    /// The swept levels: a ramp's peak, the rates of an open-loop sweep,
    /// else the concurrency levels (by default [`DEFAULT_CONCURRENCY`]).
    pub fn levels(&self) -> Vec<u32> {
        if !self.stages.is_empty() {
            let peak = self.stages.iter().filter_map(|s| s.concurrency.or(s.rate));
            vec![peak.max().unwrap_or(0)]
        } else if self.search.is_some() {
            // A search picks its levels as it goes.
            self.rate.iter().chain(&self.concurrency).copied().collect()
        } else if !self.rate.is_empty() {
            self.rate.clone()
        } else if !self.concurrency.is_empty() {
            self.concurrency.clone()
        } else {
            DEFAULT_CONCURRENCY.to_vec()
        }
    }

    /// Whether the sweep (or the ramp) is over arrival rates.
    pub fn open(&self) -> bool {
        !self.rate.is_empty() || self.stages.iter().any(|s| s.rate.is_some())
    }

    pub fn max_in_flight(&self) -> u32 {
        self.max_in_flight.unwrap_or(DEFAULT_MAX_IN_FLIGHT)
    }
}

/// One stage of `[load] stages`: over `duration`, the workers
/// (`concurrency`) or the arrival rate (`rate`, req/s) move linearly to
/// this target. Checked in `check.rs`: a duration and exactly one target.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    #[serde(
        default,
        with = "duration::option",
        skip_serializing_if = "Option::is_none"
    )]
    /// How long this stage takes, e.g. "30s".
    #[schemars(schema_with = "crate::schema::duration")]
    pub duration: Option<Duration>,
    /// Workers at the end of the stage (closed loop).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<u32>,
    /// Arrival rate at the end of the stage, req/s (open loop).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<u32>,
}

/// `[load] arrival`: how open-loop arrivals are spaced, each seeded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawArrival", into = "RawArrival")]
pub enum Arrival {
    /// Exactly `1/rate` apart.
    Constant,
    /// Exponential gaps (a Poisson process), mean `1/rate`: independent users.
    #[default]
    Poisson,
    /// Gamma gaps with mean `1/rate` and coefficient of variation `cv`
    /// (1 is Poisson; above 1 burstier).
    Gamma { cv: f64 },
}

/// `arrival` as written: `"constant"`, `"poisson"`, or `{ kind = "gamma", cv = 2.0 }`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
enum RawArrival {
    Name(String),
    Table { kind: String, cv: Option<f64> },
}

impl Arrival {
    fn is_default(&self) -> bool {
        *self == Arrival::default()
    }
}

impl TryFrom<RawArrival> for Arrival {
    type Error = String;
    fn try_from(raw: RawArrival) -> Result<Self, String> {
        let (kind, cv) = match raw {
            RawArrival::Name(k) => (k, None),
            RawArrival::Table { kind, cv } => (kind, cv),
        };
        match (kind.as_str(), cv) {
            ("constant", None) => Ok(Arrival::Constant),
            ("poisson", None) => Ok(Arrival::Poisson),
            ("gamma", Some(cv)) if cv > 0.0 && cv.is_finite() => Ok(Arrival::Gamma { cv }),
            ("gamma", _) => Err(
                "a gamma arrival needs a positive `cv`: write `{ kind = \"gamma\", cv = 2.0 }`"
                    .into(),
            ),
            ("constant" | "poisson", Some(_)) => Err(format!("`cv` applies to gamma arrivals only, not `{kind}`")),
            _ => Err(format!(
                "unknown arrival `{kind}`: use \"constant\", \"poisson\" or {{ kind = \"gamma\", cv = 2.0 }}"
            )),
        }
    }
}

impl From<Arrival> for RawArrival {
    fn from(a: Arrival) -> RawArrival {
        match a {
            Arrival::Constant => RawArrival::Name("constant".into()),
            Arrival::Poisson => RawArrival::Name("poisson".into()),
            Arrival::Gamma { cv } => RawArrival::Table {
                kind: "gamma".into(),
                cv: Some(cv),
            },
        }
    }
}
fn default_runs() -> u32 {
    1
}

/// `[assert]` thresholds; `[assert.concurrency.N]` overrides them for one level.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// Smallest throughput, successful requests per second.
    pub min_rps: Option<f64>,
    /// Largest median latency, ms.
    pub max_p50_ms: Option<f64>,
    /// Largest 95th percentile latency, ms.
    pub max_p95_ms: Option<f64>,
    /// Largest 99th percentile latency, ms.
    pub max_p99_ms: Option<f64>,
    /// Largest share of failed requests, 0.0–1.0.
    pub max_error_rate: Option<f64>,
    /// Open loop: smallest achieved rate as a share of the target, 0.0–1.0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_achieved_rate_ratio: Option<f64>,
    /// Open loop: most arrivals a step may leave unsent (mean over runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_dropped: Option<f64>,
    /// Smallest share of requests meeting `[report] slo`, 0.0–1.0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_goodput: Option<f64>,
    /// Smallest capacity `[load] search` may find, req/s (whole sweep only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_capacity_rps: Option<f64>,
    /// Most RSS growth, MiB per minute, of the gateway's services (of the
    /// fake upstream without a gateway), fitted over each step's later half.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_rss_growth_mib_per_min: Option<f64>,
    /// Per level: `[assert.concurrency.N]`, or `[assert.rate.N]` for a rate sweep.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty", alias = "rate")]
    pub concurrency: BTreeMap<String, Thresholds>,
    /// A per-level threshold for a level the sweep does not measure is an
    /// error (true) instead of a check reported as not measured (default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict_levels: Option<bool>,
    /// `[assert.regression]`: how much worse than a baseline is a WARN or a FAIL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regression: Option<Regression>,
}

impl Thresholds {
    /// The limit set for `metric` at this level of the table, if any.
    pub fn limit(&self, metric: crate::assertions::Metric) -> Option<f64> {
        use crate::assertions::Metric;
        match metric {
            Metric::MinRps => self.min_rps,
            Metric::MaxP50Ms => self.max_p50_ms,
            Metric::MaxP95Ms => self.max_p95_ms,
            Metric::MaxP99Ms => self.max_p99_ms,
            Metric::MaxErrorRate => self.max_error_rate,
            Metric::MinAchievedRateRatio => self.min_achieved_rate_ratio,
            Metric::MaxDropped => self.max_dropped,
            Metric::MinGoodput => self.min_goodput,
            Metric::MinCapacityRps => self.min_capacity_rps,
            Metric::MaxRssGrowthMibPerMin => self.max_rss_growth_mib_per_min,
        }
    }
}

/// `[assert.regression]`: the report keeps these limits, so it defines them.
pub use crate::report::Regression;

/// `[report]`: what is written besides `report.json`.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportOptions {
    /// Output formats; `json` is always written.
    #[serde(default = "default_formats")]
    pub formats: Vec<String>,
    /// The run history database (SQLite); default `<--out>/history.sqlite`.
    /// A relative path is taken from the working folder, like `--out`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<PathBuf>,
    /// What a good request is, for goodput.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slo: Option<Slo>,
    /// Latency bounds (ms) of the capacity frontier; default
    /// [`super::capacity::DEFAULT_FRONTIER_P99_MS`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frontier_p99_ms: Option<Vec<f64>>,
    /// Whether the bounds limit the p99 (`absolute`) or what the gateway
    /// adds over the direct path (`overhead`); default: `overhead` with
    /// `topology.direct = true`, else `absolute`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frontier_basis: Option<FrontierBasis>,
    /// Largest error rate a level on the frontier may have; default 0.001.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frontier_max_error_rate: Option<f64>,
    /// A gap between stream frames longer than this many times the fake
    /// upstream's ITL is a stall.
    #[serde(default = "default_stall_factor")]
    pub stall_factor: f64,
    /// Server-side series to keep from the gateway's Prometheus endpoint
    /// (its profile's `metrics_path`), by metric name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<String>,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            formats: default_formats(),
            history: None,
            slo: None,
            frontier_p99_ms: None,
            frontier_basis: None,
            frontier_max_error_rate: None,
            stall_factor: default_stall_factor(),
            metrics: Vec::new(),
        }
    }
}

fn default_stall_factor() -> f64 {
    crate::metrics::stream::DEFAULT_STALL_FACTOR
}

fn default_formats() -> Vec<String> {
    crate::report::Format::ALL
        .map(|f| f.name().to_string())
        .to_vec()
}

/// Durations written as text: "30s", "500ms", "2m".
pub mod duration {
    use std::time::Duration;

    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        parse(&text).map_err(D::Error::custom)
    }

    pub fn parse(text: &str) -> Result<Duration, String> {
        humantime::parse_duration(text).map_err(|_| {
            format!("`{text}` is not a duration: write it like \"30s\", \"500ms\" or \"2m\"")
        })
    }

    pub mod option {
        use super::*;

        pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
            match d {
                Some(d) => super::serialize(d, s),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
            super::deserialize(d).map(Some)
        }
    }
}
