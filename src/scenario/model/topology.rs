//! `[topology]`: what runs under test, its database and auth.

use std::time::Duration;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use super::duration;
use crate::scenario::profile::Profile;

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
    pub fn ports_needed(&self, profile: Option<&Profile>) -> usize {
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
/// checked in `scenario::check`.
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
