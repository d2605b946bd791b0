//! The processes a run starts and how: services with their start waves and
//! readiness checks, the venv, the files written first, the setup calls, and
//! the fake upstream's own service.

use std::path::PathBuf;
use std::time::Duration;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use super::secret::headers;
use super::{Facts, PlanError};
use crate::scenario::model::duration;
use crate::scenario::Scenario;

/// A virtual environment with the gateway's packages.
#[derive(Debug, Clone, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlannedFile {
    pub path: PathBuf,
    /// Owned by this user (a service that runs as another user reads it).
    pub owner: Option<String>,
    #[serde(skip)]
    pub content: String,
}

/// A process this tool starts and supervises.
#[derive(Debug, Clone, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "u32", try_from = "u32")]
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

impl TryFrom<u32> for Wave {
    type Error = String;

    fn try_from(n: u32) -> Result<Wave, String> {
        use Wave::*;
        [Upstream, Database, FirstInstance, OtherInstances, Proxy]
            .get(n as usize)
            .copied()
            .ok_or_else(|| format!("wave {n} does not exist (waves are 0 to 4)"))
    }
}

impl std::fmt::Display for Wave {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", u32::from(*self))
    }
}

/// How a service shows it is ready.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ReadyCheck {
    /// `GET url` answers 2xx.
    Http {
        url: String,
        /// Headers the check sends (the profile's `ready_headers`).
        #[serde(default, skip_serializing_if = "Vec::is_empty", with = "headers")]
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
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SetupStep {
    pub name: String,
    pub method: String,
    pub url: String,
    #[serde(with = "headers")]
    pub headers: Vec<(String, String)>,
    /// The body template, rendered when the call is made.
    pub body: Option<String>,
    /// The body as planned, with `@captured.NAME` for values taken from
    /// earlier answers.
    pub preview: Option<String>,
    pub capture: IndexMap<String, String>,
}

/// How long the fake upstream may take to answer its readiness check.
const UPSTREAM_READY: Duration = Duration::from_secs(10);

/// The fake upstream on `port`, configured by `[upstream]`.
pub(super) fn upstream(s: &Scenario, facts: &Facts, port: u16) -> Result<Service, PlanError> {
    let config = serde_json::to_string(&s.model.upstream).map_err(PlanError::EncodeUpstream)?;
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

/// Each gateway instance's metrics endpoint, when its profile has one.
pub(super) fn metrics_sources(
    s: &Scenario,
    services: &[Service],
) -> Vec<crate::topology::scrape::Source> {
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
