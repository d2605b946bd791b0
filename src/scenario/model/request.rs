//! `[request]`: what each request looks like, and `[request.pool]`.

use std::path::PathBuf;
use std::time::Duration;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use super::duration;

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
