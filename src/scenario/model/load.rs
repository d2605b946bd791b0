//! `[load]`: the sweep or ramp, its stages and how arrivals are spaced.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{duration, Search};

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
