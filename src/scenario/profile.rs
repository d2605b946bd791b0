//! Gateway profiles: how to provision, start, await and set up one gateway,
//! written as data (`templates/gateways/NAME.toml`), so adding a gateway is a
//! config-only change. Rust knows services, templates, readiness checks and HTTP
//! calls; nothing here knows any particular gateway.

use std::path::{Path, PathBuf};
use std::time::Duration;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use super::model::duration;
use super::{de, resolve_path, tree};
use crate::diag::{Problem, Sources};

/// A gateway profile file.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// The gateway's name: its instances are the services `NAME-0`, `NAME-1`, …
    /// and its cached venv is named after it.
    pub name: String,
    /// One line saying what runs.
    pub description: Option<String>,
    /// A Python virtual environment to create (once, cached) for the gateway.
    pub python: Option<PythonEnv>,
    /// Option defaults; a scenario's `[topology.options]` overrides them.
    #[serde(default)]
    pub options: IndexMap<String, serde_json::Value>,
    /// Supported databases: kind (`sqlite`, `postgres`) -> URI template.
    /// A scenario's `database = { url = … }` is passed as it is.
    #[serde(default)]
    pub databases: IndexMap<String, String>,
    /// Auth kinds the gateway supports (`["basic"]`, `["bearer"]`).
    #[serde(default)]
    pub auth: Vec<super::model::AuthKind>,
    /// Programs the gateway needs; templates see each as `{{ bin.NAME }}`.
    #[serde(default)]
    pub requires: Vec<Binary>,
    /// `[instance]`: how one gateway instance starts and shows it is ready.
    pub instance: Instance,
    /// Files rendered into the run folder before the instances start.
    #[serde(default)]
    pub files: Vec<FileTemplate>,
    /// HTTP calls made once every instance is ready (create endpoints, …).
    #[serde(default)]
    pub setup: Vec<SetupCall>,
    /// `[request]`: where load goes on the gateway and what it measures of it.
    #[serde(default)]
    pub request: ProfileRequest,
}

/// `[python]`: the interpreter and packages the gateway runs on.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PythonEnv {
    /// Lowest interpreter version, e.g. "3.10".
    #[serde(default = "default_python")]
    pub min_version: String,
    /// pip requirement lines (templates: `{{ options.x }}` works).
    #[serde(default)]
    pub requirements: Vec<String>,
    /// Requirement files (`pip install -r`), relative to the profile's
    /// folder; their contents are part of the venv's cache key.
    #[serde(default)]
    pub requirements_files: Vec<PathBuf>,
}

impl PythonEnv {
    /// The requirement files, as paths from the profile's folder.
    pub fn files_in(&self, profile_dir: &Path) -> Vec<PathBuf> {
        self.requirements_files
            .iter()
            .map(|f| profile_dir.join(f))
            .collect()
    }
}

fn default_python() -> String {
    "3.9".into()
}

/// A program a profile needs, and how to install it when it is missing.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Binary {
    /// The program's name, looked up on PATH (then in `dirs`).
    pub binary: String,
    /// The command that installs it, shown by `scenario doctor` when it is missing.
    pub install: String,
    /// Folders searched after PATH (one `*` allowed, e.g. "/usr/lib/x/*/bin").
    #[serde(default)]
    pub dirs: Vec<String>,
}

/// `[instance]`: how one gateway instance starts and shows it is ready.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Instance {
    /// The command line, a minijinja template; split into words like a shell
    /// would (quotes group words; no other shell features).
    pub command: String,
    /// Environment variables (values are templates).
    #[serde(default)]
    pub env: IndexMap<String, String>,
    /// Variables of the caller's environment the gateway must not see
    /// (removed before `env` is applied): e.g. an exported `DATABASE_URL`.
    #[serde(default)]
    pub env_remove: Vec<String>,
    /// Readiness: `GET path` answers 2xx.
    #[serde(default = "default_ready_path")]
    pub ready_path: String,
    /// Headers the readiness check sends (values are templates, e.g.
    /// `Authorization = "Bearer {{ auth.token }}"`).
    #[serde(default)]
    pub ready_headers: IndexMap<String, String>,
    #[serde(default = "default_ready_timeout", with = "duration")]
    #[schemars(schema_with = "crate::schema::duration")]
    pub ready_timeout: Duration,
    /// Start instance 0 alone first (it creates the schema), then the rest.
    #[serde(default = "yes")]
    pub first_alone: bool,
    /// How long an instance may take to exit after SIGTERM.
    #[serde(default = "default_stop_timeout", with = "duration")]
    #[schemars(schema_with = "crate::schema::duration")]
    pub stop_timeout: Duration,
    /// Its Prometheus endpoint (e.g. `/metrics`): scraped each second during
    /// steps for the series `[report] metrics` selects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics_path: Option<String>,
}

fn default_ready_path() -> String {
    "/health".into()
}
fn default_ready_timeout() -> Duration {
    Duration::from_secs(120)
}
fn default_stop_timeout() -> Duration {
    Duration::from_secs(30)
}
fn yes() -> bool {
    true
}

/// A file written into the run folder before start: `{{ files.NAME }}` is its path.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileTemplate {
    /// The name templates use: `{{ files.NAME }}` is the file's path.
    pub name: String,
    /// Path inside the run folder.
    pub path: String,
    /// The content, a minijinja template.
    pub template: String,
    /// Only write it when this template expression is true, e.g. "auth".
    pub when: Option<String>,
    /// One file per instance (its path should then use `{{ instance }}`);
    /// the template sees the instance's `port` and `instance`.
    #[serde(default)]
    pub per_instance: bool,
}

/// An HTTP call made after start. Values named in `capture` (JSON pointers
/// into the answer) are available to later calls as `{{ captured.NAME }}`.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetupCall {
    /// What the call does, as progress and errors show it.
    pub name: String,
    /// HTTP method (default POST).
    #[serde(default = "default_method")]
    pub method: String,
    /// Path on instance 0, a template.
    pub path: String,
    /// JSON body, a minijinja template.
    pub body: Option<String>,
    /// `{ NAME = "/json/pointer" }`: values of the answer later calls see as `{{ captured.NAME }}`.
    #[serde(default)]
    pub capture: IndexMap<String, String>,
    /// Only make the call when this template expression is true.
    pub when: Option<String>,
}

fn default_method() -> String {
    "POST".into()
}

/// `[request]`: where load goes on the gateway and what it measures of it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileRequest {
    /// Path benchmarked on the gateway; a scenario's `request.path`, when
    /// set, replaces it.
    pub path: Option<String>,
    /// Extra request headers (values are templates).
    #[serde(default)]
    pub headers: IndexMap<String, String>,
    /// Response headers the gateway reports its own overhead in (ms).
    #[serde(default)]
    pub overhead_headers: Vec<String>,
}

impl Profile {
    /// The database a run uses: the scenario's, else the first the profile lists.
    pub fn database(
        &self,
        chosen: Option<&super::model::Database>,
    ) -> Option<super::model::Database> {
        use super::model::Database;
        chosen.cloned().or_else(|| {
            self.databases.keys().next().map(|k| match k.as_str() {
                "postgres" => Database::Postgres,
                _ => Database::Sqlite,
            })
        })
    }
}

/// Find a profile by name (`templates/gateways/NAME.toml`) or path, and read
/// it: the profile, its path and its text (template errors point into it).
pub fn load(
    name: &str,
    dir: &Path,
    sources: &mut Sources,
) -> Result<(Profile, PathBuf, String), Vec<Problem>> {
    let candidates = [
        PathBuf::from(name),
        Path::new("templates/gateways").join(format!("{name}.toml")),
    ];
    let found = candidates
        .iter()
        .filter(|c| c.extension().is_some_and(|e| e == "toml") || c.components().count() > 1)
        .find_map(|c| resolve_path(dir, c).filter(|p| p.is_file()));
    let Some(path) = found else {
        let known = known_profiles(dir);
        return Err(vec![Problem::new(
            "topology.gateway",
            format!("no gateway profile `{name}`"),
        )
        .label("not found")
        .note(format!(
            "profiles are templates/gateways/NAME.toml (or a path to a .toml); known: {}",
            if known.is_empty() {
                "none found".into()
            } else {
                known.join(", ")
            }
        ))]);
    };
    let (text, id) = super::read_source("topology.gateway", &path, sources)?;
    let node = tree::parse(sources, id).map_err(|p| vec![p])?;
    let (profile, problems) = de::from_tree::<Profile>(&node);
    match profile {
        Some(p) if problems.is_empty() => Ok((p, path, text)),
        _ => Err(problems),
    }
}

/// Names of the profiles under the nearest `templates/gateways/` and the
/// built-in ones.
pub fn known_profiles(dir: &Path) -> Vec<String> {
    let local = resolve_path(dir, Path::new("templates/gateways"))
        .map(|folder| {
            std::fs::read_dir(folder)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let builtin = crate::builtin::names_under("templates/gateways")
        .into_iter()
        .map(PathBuf::from);
    let mut names: Vec<String> = local
        .into_iter()
        .chain(builtin)
        .filter_map(|p| {
            let stem = p.file_stem()?.to_string_lossy().into_owned();
            (p.extension()? == "toml").then_some(stem)
        })
        .collect();
    names.sort();
    names.dedup();
    names
}
