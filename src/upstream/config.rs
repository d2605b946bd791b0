//! `[upstream]` keys: the fake upstream's behaviour, one serde model shared by
//! scenario files, `--config FILE.toml` and the hidden `--config-json` flag.
//!
//! Every key has a default, so an empty `[upstream]` table is valid. Serde
//! checks shapes; [`UpstreamConfig::validate`] checks meaning (p99 > p50,
//! shares in [0, 1], ...) and reports every problem with its key path.

use serde::{Deserialize, Serialize};

/// The fake upstream's behaviour, as written under `[upstream]` in a scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct UpstreamConfig {
    /// Fixed delay before answering, in milliseconds (the simple form of `delay`).
    pub delay_ms: u64,
    /// Delay model; when set it replaces `delay_ms`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay: Option<DelayModel>,
    /// Whether `delay` is drawn once per request or once per completion token.
    pub delay_per: DelayPer,
    /// Streamed answers: fixed time to first token in ms (default: the request delay).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttft_ms: Option<u64>,
    /// Streamed answers: time-to-first-token model (replaces `ttft_ms`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttft: Option<DelayModel>,
    /// Streamed answers: fixed delay between tokens in ms (default 0, or the
    /// request delay when `delay_per = "token"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub itl_ms: Option<u64>,
    /// Streamed answers: inter-token delay model (replaces `itl_ms`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub itl: Option<DelayModel>,
    /// Completion length in tokens when the request sets neither `max_tokens`
    /// nor `max_completion_tokens`.
    pub completion_tokens: u32,
    /// Length of each embedding vector when the request does not set `dimensions`.
    pub embedding_dims: u32,
    /// Model ids listed by `GET /v1/models` (any model name is accepted anyway).
    pub models: Vec<String>,
    /// Seed of every random draw (delays, faults), so runs repeat.
    pub seed: u64,
    /// Worker threads of the server's runtime (default: number of cores).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workers: Option<usize>,
    /// Model requests served at once, like a provider at its limit: more
    /// wait in a queue (first come, first served) and their delay starts
    /// when a slot frees, so the throughput ceiling is `max_concurrent /
    /// delay`. Default: no limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_concurrent: Option<u32>,
    /// Shares of requests answered with an injected fault.
    pub faults: Faults,
    /// Extra mock routes answering fixed JSON (checked before the built-in paths).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<Route>,
}

impl Default for UpstreamConfig {
    fn default() -> Self {
        Self {
            delay_ms: 50,
            delay: None,
            delay_per: DelayPer::Request,
            ttft_ms: None,
            ttft: None,
            itl_ms: None,
            itl: None,
            completion_tokens: 16,
            embedding_dims: 16,
            models: vec![
                "mock-chat-model".to_owned(),
                "gpt-4o-mini".to_owned(),
                "mock-embedding-model".to_owned(),
            ],
            seed: 42,
            workers: None,
            max_concurrent: None,
            faults: Faults::default(),
            routes: Vec::new(),
        }
    }
}

/// A latency distribution, e.g. `{ kind = "lognormal", p50_ms = 50, p99_ms = 400 }`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum DelayModel {
    /// Always `ms`.
    Fixed { ms: u64 },
    /// Uniform between `min_ms` and `max_ms`.
    Uniform { min_ms: u64, max_ms: u64 },
    /// Normal with mean `mean_ms` and standard deviation `sd_ms`; negative draws become 0.
    Normal { mean_ms: u64, sd_ms: u64 },
    /// Lognormal with median `p50_ms` and 99th percentile `p99_ms`.
    Lognormal { p50_ms: u64, p99_ms: u64 },
}

/// What one draw of `delay` covers.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum DelayPer {
    /// One draw per request.
    #[default]
    Request,
    /// One draw per completion token (non-streamed answers wait the sum).
    Token,
}

/// Shares in [0, 1] of model requests (chat, completions, embeddings, messages,
/// responses) that get a fault instead of a normal answer. Their sum must not
/// exceed 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Faults {
    /// 429 Too Many Requests with a `Retry-After` header.
    pub status_429: f64,
    /// 500 Internal Server Error.
    pub status_500: f64,
    /// 503 Service Unavailable.
    pub status_503: f64,
    /// No answer at all until the client gives up or `hang_ms` passes.
    pub hang: f64,
    /// The connection is reset (TCP RST) instead of answered.
    pub reset: f64,
    /// The answer stops half-way: streams end without `data: [DONE]`,
    /// plain answers close the connection after half the body.
    pub truncated: f64,
    /// The answer pauses `stall_ms` part-way: a stream before its middle
    /// token, a plain answer before it is sent; then it completes normally.
    pub stall: f64,
    /// Value of the `Retry-After` header on injected 429s, in seconds.
    pub retry_after_s: u64,
    /// How long a hung request is held before its connection is closed, in ms.
    pub hang_ms: u64,
    /// How long a stalled answer pauses, in ms.
    pub stall_ms: u64,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            status_429: 0.0,
            status_500: 0.0,
            status_503: 0.0,
            hang: 0.0,
            reset: 0.0,
            truncated: 0.0,
            stall: 0.0,
            retry_after_s: 1,
            hang_ms: 300_000,
            stall_ms: 1000,
        }
    }
}

impl Faults {
    /// `(key, share)` for every fault kind, in the order draws are matched.
    pub fn shares(&self) -> [(&'static str, f64); 7] {
        [
            ("status_429", self.status_429),
            ("status_500", self.status_500),
            ("status_503", self.status_503),
            ("hang", self.hang),
            ("reset", self.reset),
            ("truncated", self.truncated),
            ("stall", self.stall),
        ]
    }
}

/// A mock route: `[[upstream.routes]]` with `path`, optional `method`,
/// `status`, `body` (any table, sent as JSON) and `delay_ms`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// Exact request path, e.g. `/api/answer` (the query string is ignored).
    pub path: String,
    /// HTTP method to match (default: any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Status code of the answer.
    #[serde(default = "default_status")]
    pub status: u16,
    /// JSON body of the answer (default `{}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<serde_json::Value>,
    /// Delay before answering, in ms (default 0: routes ignore `delay`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
}

fn default_status() -> u16 {
    200
}

impl UpstreamConfig {
    /// The request delay model: `delay`, or `delay_ms` as a fixed delay.
    pub fn request_delay(&self) -> DelayModel {
        self.delay
            .unwrap_or(DelayModel::Fixed { ms: self.delay_ms })
    }

    /// Time to first token of streamed answers.
    pub fn ttft_delay(&self) -> DelayModel {
        match (self.ttft, self.ttft_ms) {
            (Some(model), _) => model,
            (None, Some(ms)) => DelayModel::Fixed { ms },
            (None, None) => self.request_delay(),
        }
    }

    /// Delay between tokens of streamed answers.
    pub fn itl_delay(&self) -> DelayModel {
        match (self.itl, self.itl_ms, self.delay_per) {
            (Some(model), _, _) => model,
            (None, Some(ms), _) => DelayModel::Fixed { ms },
            (None, None, DelayPer::Token) => self.request_delay(),
            (None, None, DelayPer::Request) => DelayModel::Fixed { ms: 0 },
        }
    }

    /// Semantic checks serde cannot do: `(key path, what is valid)` for every problem.
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        for (key, model) in [
            ("delay", self.delay),
            ("ttft", self.ttft),
            ("itl", self.itl),
        ] {
            if let Some(model) = model {
                model.validate(key, &mut problems);
            }
        }
        if self.ttft.is_some() && self.ttft_ms.is_some() {
            problems.push((
                "ttft_ms".into(),
                "set either `ttft_ms` or `ttft`, not both".into(),
            ));
        }
        if self.itl.is_some() && self.itl_ms.is_some() {
            problems.push((
                "itl_ms".into(),
                "set either `itl_ms` or `itl`, not both".into(),
            ));
        }
        if self.embedding_dims == 0 || self.embedding_dims > 65_536 {
            problems.push((
                "embedding_dims".into(),
                "must be between 1 and 65536".into(),
            ));
        }
        if self.completion_tokens > 1_000_000 {
            problems.push(("completion_tokens".into(), "must be at most 1000000".into()));
        }
        if self.workers == Some(0) {
            problems.push(("workers".into(), "must be at least 1".into()));
        }
        if self.max_concurrent == Some(0) {
            problems.push((
                "max_concurrent".into(),
                "must be at least 1 (leave it out for no limit)".into(),
            ));
        }
        self.validate_faults(&mut problems);
        self.validate_routes(&mut problems);
        problems
    }

    /// `faults.*`: each a share between 0 and 1, all together at most 1.
    fn validate_faults(&self, problems: &mut Vec<(String, String)>) {
        let mut sum = 0.0;
        for (key, share) in self.faults.shares() {
            if !(0.0..=1.0).contains(&share) {
                problems.push((
                    format!("faults.{key}"),
                    format!("must be a share between 0 and 1, got {share}"),
                ));
            } else {
                sum += share;
            }
        }
        if sum > 1.0 + 1e-9 {
            problems.push((
                "faults".into(),
                format!("the fault shares add up to {sum}; their sum must be at most 1"),
            ));
        }
    }

    /// `routes[i]`: a path from `/`, an HTTP status and a method name.
    fn validate_routes(&self, problems: &mut Vec<(String, String)>) {
        for (i, route) in self.routes.iter().enumerate() {
            if !route.path.starts_with('/') {
                problems.push((
                    format!("routes[{i}].path"),
                    format!("must start with `/`, got {:?}", route.path),
                ));
            }
            if !(100..=599).contains(&route.status) {
                problems.push((
                    format!("routes[{i}].status"),
                    format!(
                        "must be an HTTP status between 100 and 599, got {}",
                        route.status
                    ),
                ));
            }
            if let Some(method) = &route.method {
                if method.is_empty() || !method.bytes().all(|b| b.is_ascii_alphabetic()) {
                    problems.push((
                        format!("routes[{i}].method"),
                        format!("must be an HTTP method such as GET or POST, got {method:?}"),
                    ));
                }
            }
        }
    }
}

impl DelayModel {
    fn validate(&self, key: &str, problems: &mut Vec<(String, String)>) {
        match *self {
            DelayModel::Fixed { .. } | DelayModel::Normal { .. } => {}
            DelayModel::Uniform { min_ms, max_ms } => {
                if max_ms < min_ms {
                    problems.push((
                        format!("{key}.max_ms"),
                        format!("must be at least min_ms ({min_ms}), got {max_ms}"),
                    ));
                }
            }
            DelayModel::Lognormal { p50_ms, p99_ms } => {
                if p50_ms == 0 {
                    problems.push((format!("{key}.p50_ms"), "must be greater than 0".into()));
                }
                if p99_ms <= p50_ms {
                    problems.push((
                        format!("{key}.p99_ms"),
                        format!("must be greater than p50_ms ({p50_ms}), got {p99_ms}"),
                    ));
                }
            }
        }
    }
}

impl std::str::FromStr for DelayModel {
    type Err = String;

    /// `50`, `fixed:50`, `uniform:10:90`, `normal:50:10` or `lognormal:50:400` (all ms).
    fn from_str(spec: &str) -> Result<Self, String> {
        let parts: Vec<&str> = spec.split(':').collect();
        let num = |s: &str| -> Result<u64, String> {
            s.trim()
                .parse::<u64>()
                .map_err(|_| format!("`{s}` in `{spec}` is not a whole number of milliseconds"))
        };
        let usage = "expected MS, fixed:MS, uniform:MIN:MAX, normal:MEAN:SD or lognormal:P50:P99 (milliseconds)";
        match parts.as_slice() {
            [ms] => Ok(DelayModel::Fixed {
                ms: num(ms).map_err(|e| format!("{e}; {usage}"))?,
            }),
            ["fixed", ms] => Ok(DelayModel::Fixed { ms: num(ms)? }),
            ["uniform", a, b] => Ok(DelayModel::Uniform {
                min_ms: num(a)?,
                max_ms: num(b)?,
            }),
            ["normal", a, b] => Ok(DelayModel::Normal {
                mean_ms: num(a)?,
                sd_ms: num(b)?,
            }),
            ["lognormal", a, b] => Ok(DelayModel::Lognormal {
                p50_ms: num(a)?,
                p99_ms: num(b)?,
            }),
            _ => Err(format!("bad delay `{spec}`: {usage}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml_text: &str) -> Result<UpstreamConfig, toml::de::Error> {
        toml::from_str(toml_text)
    }

    #[test]
    fn empty_table_is_the_default() {
        assert_eq!(parse("").unwrap(), UpstreamConfig::default());
        assert!(UpstreamConfig::default().validate().is_empty());
    }

    #[test]
    fn full_table_parses() {
        let c = parse(
            r#"
            delay = { kind = "lognormal", p50_ms = 50, p99_ms = 400 }
            delay_per = "token"
            itl_ms = 5
            ttft = { kind = "uniform", min_ms = 10, max_ms = 90 }
            completion_tokens = 32
            seed = 7
            workers = 2
            faults = { status_500 = 0.02, hang = 0.01, retry_after_s = 3 }
            [[routes]]
            path = "/api/answer"
            method = "GET"
            body = { answer = "yes", n = [1, 2] }
            delay_ms = 5
            "#,
        )
        .unwrap();
        assert_eq!(
            c.request_delay(),
            DelayModel::Lognormal {
                p50_ms: 50,
                p99_ms: 400
            }
        );
        assert_eq!(
            c.ttft_delay(),
            DelayModel::Uniform {
                min_ms: 10,
                max_ms: 90
            }
        );
        assert_eq!(c.itl_delay(), DelayModel::Fixed { ms: 5 });
        assert_eq!(c.faults.status_500, 0.02);
        assert_eq!(c.faults.hang_ms, 300_000);
        assert_eq!(c.routes[0].status, 200);
        assert_eq!(c.routes[0].body.as_ref().unwrap()["n"][1], 2);
        assert!(c.validate().is_empty(), "{:?}", c.validate());
    }

    #[test]
    fn unknown_keys_are_rejected() {
        assert!(parse("dealy_ms = 5")
            .unwrap_err()
            .to_string()
            .contains("dealy_ms"));
        assert!(parse("delay = { kind = \"fixed\", ms = 1, extra = 2 }").is_err());
        assert!(parse("delay = { kind = \"gamma\", ms = 1 }")
            .unwrap_err()
            .to_string()
            .contains("gamma"));
        assert!(parse("faults = { status_501 = 0.1 }").is_err());
    }

    #[test]
    fn json_round_trip() {
        let c = parse(
            "delay = { kind = \"normal\", mean_ms = 50, sd_ms = 5 }\nfaults = { reset = 0.5 }",
        )
        .unwrap();
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<UpstreamConfig>(&json).unwrap(), c);
        let back = toml::to_string(&c).unwrap();
        assert_eq!(parse(&back).unwrap(), c);
    }

    #[test]
    fn itl_defaults_follow_delay_per() {
        let c = parse("delay_ms = 20").unwrap();
        assert_eq!(c.ttft_delay(), DelayModel::Fixed { ms: 20 });
        assert_eq!(c.itl_delay(), DelayModel::Fixed { ms: 0 });
        let c = parse("delay_ms = 20\ndelay_per = \"token\"").unwrap();
        assert_eq!(c.itl_delay(), DelayModel::Fixed { ms: 20 });
    }

    #[test]
    fn validation_names_every_problem() {
        let c = parse(
            r#"
            delay = { kind = "lognormal", p50_ms = 50, p99_ms = 40 }
            itl = { kind = "uniform", min_ms = 9, max_ms = 1 }
            itl_ms = 3
            workers = 0
            faults = { status_429 = 1.5, status_500 = 0.6, status_503 = 0.6 }
            [[routes]]
            path = "api"
            status = 99
            method = "G T"
            "#,
        )
        .unwrap();
        let keys: Vec<String> = c.validate().into_iter().map(|(k, _)| k).collect();
        assert_eq!(
            keys,
            [
                "delay.p99_ms",
                "itl.max_ms",
                "itl_ms",
                "workers",
                "faults.status_429",
                "faults",
                "routes[0].path",
                "routes[0].status",
                "routes[0].method"
            ]
        );
    }

    #[test]
    fn delay_specs_parse() {
        assert_eq!(
            "50".parse::<DelayModel>().unwrap(),
            DelayModel::Fixed { ms: 50 }
        );
        assert_eq!(
            "fixed:7".parse::<DelayModel>().unwrap(),
            DelayModel::Fixed { ms: 7 }
        );
        assert_eq!(
            "lognormal:50:400".parse::<DelayModel>().unwrap(),
            DelayModel::Lognormal {
                p50_ms: 50,
                p99_ms: 400
            }
        );
        assert_eq!(
            "uniform:1:2".parse::<DelayModel>().unwrap(),
            DelayModel::Uniform {
                min_ms: 1,
                max_ms: 2
            }
        );
        assert_eq!(
            "normal:5:1".parse::<DelayModel>().unwrap(),
            DelayModel::Normal {
                mean_ms: 5,
                sd_ms: 1
            }
        );
        assert!("lognormal:50".parse::<DelayModel>().is_err());
        assert!("x"
            .parse::<DelayModel>()
            .unwrap_err()
            .contains("lognormal:P50:P99"));
    }
}
