//! Checks a typed scenario for values serde accepts but a run cannot use.
//!
//! Each problem names its key path; the caller turns that into a file,
//! line and column.

use std::path::Path;

use super::model::{ScenarioFile, Thresholds};
use crate::assertions::Metric;
use crate::diag::{did_you_mean, Problem};
use crate::report::Format;

const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

pub fn check(s: &ScenarioFile, dir: &Path) -> Vec<Problem> {
    let mut out = Vec::new();
    check_load(s, &mut out);
    check_request(s, dir, &mut out);
    check_topology(s, &mut out);
    check_thresholds(&s.assertions, "assert", &s.load.levels(), true, &mut out);
    super::capacity::check(s, &mut out);
    for (key, message) in s.upstream.validate() {
        out.push(Problem::new(format!("upstream.{key}"), message));
    }
    if s.report.stall_factor.is_nan() || s.report.stall_factor <= 1.0 {
        out.push(
            Problem::new(
                "report.stall_factor",
                "`stall_factor` must be a number above 1 (a stall is a gap that many times the upstream's ITL)",
            )
            .label(format!(
                "the default is {}",
                crate::metrics::stream::DEFAULT_STALL_FACTOR
            )),
        );
    }
    for (i, format) in s.report.formats.iter().enumerate() {
        if Format::parse(format).is_none() {
            let names = Format::names();
            let p = Problem::new(
                format!("report.formats[{i}]"),
                format!("unknown report format `{format}`"),
            )
            .note(format!("valid formats: {}", names.join(", ")));
            out.push(match did_you_mean(format, &names) {
                Some(s) => p.label(format!("did you mean `{s}`?")),
                None => p,
            });
        }
    }
    out
}

fn check_load(s: &ScenarioFile, out: &mut Vec<Problem>) {
    let load = &s.load;
    if !load.concurrency.is_empty() && !load.rate.is_empty() {
        out.push(
            Problem::new(
                "load.rate",
                "set either `concurrency` (closed loop) or `rate` (open loop), not both",
            )
            .label("remove one of them"),
        );
    }
    for (i, &r) in load.rate.iter().enumerate() {
        if r == 0 {
            out.push(
                Problem::new(
                    format!("load.rate[{i}]"),
                    "a rate must be at least 1 request/s",
                )
                .label("use 1 or more"),
            );
        } else if load.rate[..i].contains(&r) {
            out.push(
                Problem::new(
                    format!("load.rate[{i}]"),
                    format!("rate {r} is listed twice"),
                )
                .label("each level once; use `runs` to repeat it"),
            );
        }
    }
    if load.max_in_flight == Some(0) {
        out.push(
            Problem::new("load.max_in_flight", "max_in_flight must be at least 1")
                .label("use 1 or more"),
        );
    }
    // (A search checks its own: see `capacity::check`.)
    if !load.open() && load.max_in_flight.is_some() && load.search.is_none() {
        out.push(
            Problem::new(
                "load.max_in_flight",
                "max_in_flight caps an open-loop (`rate`) sweep; a closed loop has `concurrency` workers",
            )
            .label("remove it, or sweep `rate` instead"),
        );
    }
    for (i, &c) in load.concurrency.iter().enumerate() {
        if c == 0 {
            out.push(
                Problem::new(
                    format!("load.concurrency[{i}]"),
                    "concurrency must be at least 1",
                )
                .label("use 1 or more"),
            );
        } else if load.concurrency[..i].contains(&c) {
            out.push(
                Problem::new(
                    format!("load.concurrency[{i}]"),
                    format!("concurrency {c} is listed twice"),
                )
                .label("each level once; use `runs` to repeat it"),
            );
        }
    }
    if load.requests == Some(0) {
        out.push(
            Problem::new("load.requests", "requests must be at least 1").label("use 1 or more"),
        );
    }
    if load.requests.is_some() && load.duration.is_some() {
        out.push(
            Problem::new(
                "load.duration",
                "set either `requests` or `duration` per step, not both",
            )
            .label("remove one of them"),
        );
    }
    if load.duration == Some(std::time::Duration::ZERO) {
        out.push(Problem::new(
            "load.duration",
            "duration must be longer than zero",
        ));
    }
    if load.runs == 0 {
        out.push(Problem::new("load.runs", "runs must be at least 1").label("use 1 or more"));
    }
    check_stages(load, out);
}

/// `[load] stages`: each a duration and exactly one target, all of one
/// kind, and the ramp instead of a sweep (so no `concurrency`/`rate` list,
/// no `requests` or `duration`).
fn check_stages(load: &crate::scenario::model::Load, out: &mut Vec<Problem>) {
    if load.stages.is_empty() {
        return;
    }
    let conflicts = [
        ("concurrency", !load.concurrency.is_empty()),
        ("rate", !load.rate.is_empty()),
        ("requests", load.requests.is_some()),
        ("duration", load.duration.is_some()),
    ];
    for (key, set) in conflicts {
        if set {
            out.push(
                Problem::new(
                    format!("load.{key}"),
                    format!(
                        "`stages` is a ramp: one measured step for as long as its stages last, \
                         so `load.{key}` cannot be set beside it"
                    ),
                )
                .label("remove it, or remove `stages` to sweep fixed levels"),
            );
        }
    }
    let example =
        "e.g. { duration = \"30s\", concurrency = 100 } or { duration = \"30s\", rate = 500 }";
    let first_kind = load
        .stages
        .iter()
        .find_map(|s| match (s.concurrency, s.rate) {
            (Some(_), None) => Some("concurrency"),
            (None, Some(_)) => Some("rate"),
            _ => None,
        });
    for (i, stage) in load.stages.iter().enumerate() {
        let at = format!("load.stages[{i}]");
        if stage.duration.is_none() {
            out.push(
                Problem::new(at.clone(), format!("stage {} has no `duration`", i + 1))
                    .label(example),
            );
        }
        let kind = match (stage.concurrency, stage.rate) {
            (Some(_), Some(_)) => {
                out.push(
                    Problem::new(
                        format!("{at}.rate"),
                        "a stage ramps either workers (`concurrency`) or the arrival rate \
                         (`rate`), not both",
                    )
                    .label("keep one of them"),
                );
                continue;
            }
            (None, None) => {
                out.push(
                    Problem::new(
                        at,
                        format!(
                            "stage {} has no target: set `concurrency` (workers) or `rate` (req/s)",
                            i + 1
                        ),
                    )
                    .label(example),
                );
                continue;
            }
            (Some(_), None) => "concurrency",
            (None, Some(_)) => "rate",
        };
        if Some(kind) != first_kind {
            out.push(
                Problem::new(
                    format!("{at}.{kind}"),
                    format!(
                        "all stages ramp the same thing: an earlier stage sets `{}`, this one `{kind}`",
                        first_kind.unwrap_or("")
                    ),
                )
                .label(format!("use `{}` here too", first_kind.unwrap_or(""))),
            );
        }
    }
    let peak = load
        .stages
        .iter()
        .filter_map(|s| s.concurrency.or(s.rate))
        .max()
        .unwrap_or(0);
    let total: std::time::Duration = load.stages.iter().filter_map(|s| s.duration).sum();
    if peak == 0 && first_kind.is_some() {
        out.push(
            Problem::new(
                "load.stages",
                "every stage's target is 0: the ramp sends nothing",
            )
            .label("give a stage a target of 1 or more"),
        );
    }
    if total.is_zero() && load.stages.iter().all(|s| s.duration.is_some()) {
        out.push(
            Problem::new("load.stages", "the stages last zero seconds in total")
                .label("give a stage a duration such as \"30s\""),
        );
    }
}

fn check_request(s: &ScenarioFile, dir: &Path, out: &mut Vec<Problem>) {
    let r = &s.request;
    if !METHODS.contains(&r.method.as_str()) {
        out.push(
            Problem::new(
                "request.method",
                format!("unknown HTTP method `{}`", r.method),
            )
            .note(format!("valid methods: {}", METHODS.join(", "))),
        );
    }
    if let Some(path) = r.path.as_ref().filter(|p| !p.starts_with('/')) {
        out.push(
            Problem::new("request.path", format!("path `{path}` must start with `/`"))
                .label(format!("write \"/{path}\"")),
        );
    }
    if r.timeout.is_zero() {
        out.push(Problem::new(
            "request.timeout",
            "timeout must be longer than zero",
        ));
    }
    for (name, value) in &r.headers {
        out.extend(header_problem(
            &format!("request.headers.{name}"),
            name,
            value,
        ));
    }
    if let Some(template) = &r.template {
        if super::resolve_path(dir, template).is_none() {
            out.push(
                Problem::new(
                    "request.template",
                    format!("template `{}` not found", template.display()),
                )
                .label("no such file")
                .note(format!(
                    "looked in {} and the folders above it; request templates live under templates/requests/",
                    dir.display()
                )),
            );
        }
    }
    if r.pool.prompts.is_some() && r.pool.file.is_some() {
        out.push(
            Problem::new(
                "request.pool.file",
                "set either `prompts` or `file` in [request.pool], not both",
            )
            .label("remove one of them"),
        );
    }
    if let Some(file) = &r.pool.file {
        if super::resolve_path(dir, file).is_none() {
            out.push(
                Problem::new(
                    "request.pool.file",
                    format!("prompt pool `{}` not found", file.display()),
                )
                .label("no such file")
                .note(format!(
                    "looked in {} and the folders above it",
                    dir.display()
                )),
            );
        }
    }
    if let Some(prompts) = &r.pool.prompts {
        if prompts.is_empty() {
            out.push(Problem::new(
                "request.pool.prompts",
                "the prompt pool is empty",
            ));
        }
        for (i, p) in prompts.iter().enumerate() {
            if !(p.is_string() || p.is_object()) {
                out.push(
                    Problem::new(
                        format!("request.pool.prompts[{i}]"),
                        "a pool entry must be a string or a table",
                    )
                    .label("e.g. \"Say hi\" or { prompt = \"Say hi\", max_tokens = 16 }"),
                );
            }
        }
    }
}

fn check_topology(s: &ScenarioFile, out: &mut Vec<Problem>) {
    let t = &s.topology;
    if t.gateway.is_none() {
        let needs_gateway = [
            ("instances", t.instances != 1),
            ("workers", t.workers != 1),
            ("database", t.database.is_some()),
            ("nginx", t.nginx.is_some()),
            ("auth", t.auth.is_some()),
            ("options", !t.options.is_empty()),
            ("direct", t.direct),
            ("direct_path", t.direct_path.is_some()),
            ("cpus", t.cpus.is_some()),
        ];
        if !s.report.metrics.is_empty() {
            out.push(
                Problem::new("report.metrics", "`metrics` are scraped from a gateway")
                    .label("set topology.gateway to a profile with [instance] metrics_path"),
            );
        }
        for (key, set) in needs_gateway {
            if set {
                out.push(
                    Problem::new(
                        format!("topology.{key}"),
                        format!("`{key}` needs a gateway"),
                    )
                    .label("set topology.gateway to a profile, e.g. \"mlflow\""),
                );
            }
        }
    }
    if let Some(path) = t.direct_path.as_ref().filter(|p| !p.starts_with('/')) {
        out.push(
            Problem::new(
                "topology.direct_path",
                format!("path `{path}` must start with `/`"),
            )
            .label(format!("write \"/{path}\"")),
        );
    }
    if let Some(auth) = &t.auth {
        let needs = auth.kind.keys();
        for (key, value) in auth.fields() {
            let path = format!("topology.auth.{key}");
            match (needs.contains(&key), value) {
                (true, None) => out.push(
                    Problem::new(
                        "topology.auth",
                        format!("`{}` auth needs `{key}`", auth.kind.name()),
                    )
                    .label(format!("add {key} = \"…\"")),
                ),
                (false, Some(_)) => out.push(
                    Problem::new(&path, format!("`{}` auth has no `{key}`", auth.kind.name()))
                        .label(format!(
                            "`{}` auth takes {}",
                            auth.kind.name(),
                            needs.join(", ")
                        )),
                ),
                (true, Some(v)) => out.extend(control_char(&path, key, v)),
                (false, None) => {}
            }
        }
        if auth.username.as_deref().is_some_and(|u| u.contains(':')) {
            out.push(
                Problem::new(
                    "topology.auth.username",
                    "a Basic auth username cannot contain `:`",
                )
                .label("`:` separates the username from the password"),
            );
        }
        if let Some(name) = s
            .request
            .headers
            .keys()
            .find(|k| k.eq_ignore_ascii_case("authorization"))
        {
            out.push(
                Problem::new(
                    format!("request.headers.{name}"),
                    "an Authorization header and `topology.auth` both say how to authenticate",
                )
                .label("remove it: every request carries the header topology.auth makes"),
            );
        }
        match auth.token.as_deref() {
            Some("") => out.push(
                Problem::new("topology.auth.token", "the token is empty")
                    .label("give the key the gateway expects"),
            ),
            Some(t) if t.contains(' ') => out.push(
                Problem::new(
                    "topology.auth.token",
                    "a bearer token cannot contain spaces",
                )
                .label("write the token alone; `Bearer ` is added"),
            ),
            _ => {}
        }
    }
    if t.instances == 0 {
        out.push(Problem::new(
            "topology.instances",
            "instances must be at least 1",
        ));
    }
    if t.workers == 0 {
        out.push(Problem::new(
            "topology.workers",
            "workers must be at least 1",
        ));
    }
    if t.instances > 1 && t.nginx == Some(false) {
        out.push(
            Problem::new(
                "topology.nginx",
                "several instances need nginx in front of them",
            )
            .label("remove `nginx = false`, or set instances = 1"),
        );
    }
    if t.instances > 1 && t.database == Some(super::model::Database::Sqlite) {
        out.push(
            Problem::new(
                "topology.database",
                "SQLite cannot be shared by several instances",
            )
            .label("use database = \"postgres\", or instances = 1"),
        );
    }
    if let Some(pins) = &t.cpus {
        if pins
            .gateway
            .cpus()
            .iter()
            .any(|c| pins.harness.cpus().contains(c))
        {
            out.push(
                Problem::new(
                    "topology.cpus",
                    format!(
                        "the gateway's CPUs ({}) and the harness's ({}) overlap",
                        pins.gateway, pins.harness
                    ),
                )
                .label("give each side its own CPUs, e.g. { gateway = \"1\", harness = \"0\" }"),
            );
        }
    }
    let Some(target) = &t.target else {
        return;
    };
    if t.quiet_period.is_some() {
        out.push(
            Problem::new(
                "topology.quiet_period",
                "`quiet_period` samples the services this tool starts; a `target` starts none",
            )
            .label("remove quiet_period, or run a gateway profile instead of a target"),
        );
    }
    if t.gateway.is_some() {
        out.push(
            Problem::new(
                "topology.target",
                "set either `target` or `gateway`, not both",
            )
            .label("`target` benchmarks an existing URL and starts nothing"),
        );
    }
    match target.parse::<hyper::Uri>() {
        Ok(uri) if uri.scheme_str() == Some("http") && uri.host().is_some() => {}
        Ok(uri) if uri.scheme_str() == Some("https") => out.push(
            Problem::new("topology.target", "https targets are not supported yet")
                .label("use an http:// address (e.g. a local TLS-terminating proxy's plain port)"),
        ),
        _ => out.push(
            Problem::new("topology.target", format!("`{target}` is not an http URL"))
                .label("write e.g. \"http://127.0.0.1:8080/v1/chat/completions\""),
        ),
    }
}

/// The problem with a request header, if any: a name that is not an HTTP
/// token, or a value with CR, LF or another control character (which would
/// end the header early or smuggle another one).
pub fn header_problem(key: &str, name: &str, value: &str) -> Option<Problem> {
    if hyper::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
        return Some(
            Problem::new(key, format!("`{name}` is not a valid header name"))
                .label("a header name is letters, digits and !#$%&'*+-.^_`|~, no spaces or colons"),
        );
    }
    control_char(key, "header value", value)
}

/// A problem when `value` holds a control character other than tab.
fn control_char(key: &str, what: &str, value: &str) -> Option<Problem> {
    let (at, c) = value
        .char_indices()
        .find(|&(_, c)| c.is_control() && c != '\t')?;
    let name = match c {
        '\r' => "a carriage return (CR, \\r)".to_string(),
        '\n' => "a line feed (LF, \\n)".to_string(),
        c => format!("the control character U+{:04X}", u32::from(c)),
    };
    Some(
        Problem::new(
            key,
            format!(
                "the {what} contains {name} at character {}",
                value[..at].chars().count() + 1
            ),
        )
        .label("remove it: control characters would split or corrupt the HTTP header"),
    )
}

/// `topology.base_port`: the services' ports must fit between 1 and 65535.
pub fn check_ports(s: &ScenarioFile, profile: Option<&super::profile::Profile>) -> Vec<Problem> {
    let t = &s.topology;
    let Some(base) = t.base_port else {
        return Vec::new();
    };
    let needed = t.ports_needed(profile);
    if needed == 0 {
        return Vec::new();
    }
    let services = if needed == 1 {
        "1 port".to_string()
    } else {
        format!("{needed} ports")
    };
    if base == 0 {
        return vec![
            Problem::new("topology.base_port", "base_port must be at least 1")
                .label(format!(
                    "the services need {services} from here; e.g. 18000"
                ))
                .note("remove base_port to have free ports picked"),
        ];
    }
    let last = usize::from(base) + needed - 1;
    if last > usize::from(u16::MAX) {
        return vec![Problem::new(
            "topology.base_port",
            format!("the services need {services} from {base}, up to {last}, past 65535"),
        )
        .label(format!(
            "use at most {}",
            usize::from(u16::MAX) + 1 - needed
        ))
        .note("remove base_port to have free ports picked")];
    }
    Vec::new()
}

fn check_thresholds(t: &Thresholds, at: &str, levels: &[u32], top: bool, out: &mut Vec<Problem>) {
    // Shares (0–1) are checked below, each with its own example.
    let limits = Metric::ALL
        .into_iter()
        .filter(|m| !m.is_share())
        .map(|m| (m.key(), t.limit(m)));
    for (key, value) in limits {
        if value.is_some_and(|v| !(v >= 0.0 && v.is_finite())) {
            out.push(Problem::new(
                format!("{at}.{key}"),
                format!("`{key}` must be a number ≥ 0"),
            ));
        }
    }
    if t.min_achieved_rate_ratio
        .is_some_and(|v| !(0.0..=1.0).contains(&v))
    {
        out.push(
            Problem::new(
                format!("{at}.min_achieved_rate_ratio"),
                "`min_achieved_rate_ratio` is a share between 0 and 1",
            )
            .label("e.g. 0.99: at least 99% of the target rate sent"),
        );
    }
    if t.min_goodput.is_some_and(|v| !(0.0..=1.0).contains(&v)) {
        out.push(
            Problem::new(
                format!("{at}.min_goodput"),
                "`min_goodput` is a share between 0 and 1",
            )
            .label("e.g. 0.95: at least 95% of requests met the SLO"),
        );
    }
    if !top && t.min_capacity_rps.is_some() {
        out.push(
            Problem::new(
                format!("{at}.min_capacity_rps"),
                "the capacity a search finds is one figure for the whole sweep",
            )
            .label("move it to [assert]"),
        );
    }
    if t.max_error_rate.is_some_and(|v| !(0.0..=1.0).contains(&v)) {
        out.push(
            Problem::new(
                format!("{at}.max_error_rate"),
                "`max_error_rate` is a share between 0 and 1",
            )
            .label("e.g. 0.01 for 1%"),
        );
    }
    if !top && t.regression.is_some() {
        out.push(
            Problem::new(
                format!("{at}.regression"),
                "regression limits apply to the whole sweep",
            )
            .label("move this table to [assert.regression]"),
        );
    }
    if let Some(reg) = &t.regression {
        let limits = [
            ("fail_p95_increase", reg.fail_p95_increase),
            ("fail_error_rate", reg.fail_error_rate),
            ("warn_p95_increase", reg.warn_p95_increase),
            ("warn_p50_change", reg.warn_p50_change),
            ("warn_rps_change", reg.warn_rps_change),
        ];
        for (key, value) in limits {
            if !(value >= 0.0 && value.is_finite()) {
                out.push(
                    Problem::new(
                        format!("{at}.regression.{key}"),
                        format!("`{key}` must be a share ≥ 0"),
                    )
                    .label("e.g. 0.20 for 20%"),
                );
            }
        }
        // (key, value, least, default)
        let counts = [
            ("history_runs", reg.history_runs, 1, 5),
            ("drift_runs", reg.drift_runs, 3, 10),
            ("drift_horizon_runs", reg.drift_horizon_runs, 1, 10),
        ];
        for (key, value, least, default) in counts {
            if value < least {
                out.push(
                    Problem::new(
                        format!("{at}.regression.{key}"),
                        format!("`{key}` must be at least {least}"),
                    )
                    .label(format!("the default is {default}")),
                );
            }
        }
    }
    if !top && !t.concurrency.is_empty() {
        out.push(Problem::new(
            format!("{at}.concurrency"),
            "per-concurrency thresholds cannot nest",
        ));
    }
    for (level, inner) in &t.concurrency {
        let key = format!("{at}.concurrency.{level}");
        match level.parse::<u32>() {
            Ok(n) if levels.contains(&n) => check_thresholds(inner, &key, levels, false, out),
            // Reported as not measured; `strict_levels` makes it an error.
            Ok(_) if t.strict_levels != Some(true) => {
                check_thresholds(inner, &key, levels, false, out)
            }
            _ => out.push(
                Problem::new(
                    key,
                    format!("`{level}` is not a concurrency level of this sweep"),
                )
                .note(format!(
                    "levels in load.concurrency: {}{}",
                    levels
                        .iter()
                        .map(u32::to_string)
                        .collect::<Vec<_>>()
                        .join(", "),
                    if t.strict_levels == Some(true) {
                        " ([assert] strict_levels = true makes this an error)"
                    } else {
                        ""
                    }
                )),
            ),
        }
    }
    if !top && t.strict_levels.is_some() {
        out.push(
            Problem::new(format!("{at}.strict_levels"), "applies to the whole sweep")
                .label("move it to [assert]"),
        );
    }
}

/// Checks that need the gateway profile: what it supports and declares.
pub fn check_gateway(s: &ScenarioFile, profile: &super::profile::Profile) -> Vec<Problem> {
    let mut out = Vec::new();
    let t = &s.topology;
    if !s.report.metrics.is_empty() && profile.instance.metrics_path.is_none() {
        out.push(
            Problem::new(
                "report.metrics",
                format!(
                    "gateway `{}` has no metrics endpoint to scrape",
                    profile.name
                ),
            )
            .label("set [instance] metrics_path in its profile, or remove report.metrics"),
        );
    }
    if let Some(db) = &t.database {
        let kind = db.kind();
        if kind != "url" && !profile.databases.contains_key(kind) {
            let valid: Vec<&str> = profile.databases.keys().map(String::as_str).collect();
            out.push(
                Problem::new(
                    "topology.database",
                    format!("gateway `{}` has no `{kind}` database", profile.name),
                )
                .note(format!(
                    "it supports: {}",
                    if valid.is_empty() {
                        "none".to_string()
                    } else {
                        valid.join(", ")
                    }
                )),
            );
        }
    } else if !profile.databases.is_empty() {
        // The first database the profile lists is the default; nothing to check.
    }
    if let Some(auth) = &t.auth {
        let kind = auth.kind.name();
        if !profile.auth.contains(&auth.kind) {
            out.push(
                Problem::new(
                    "topology.auth",
                    format!("gateway `{}` does not support `{kind}` auth", profile.name),
                )
                .note(format!(
                    "it supports: {}",
                    if profile.auth.is_empty() {
                        "none".into()
                    } else {
                        profile
                            .auth
                            .iter()
                            .map(|k| k.name())
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                )),
            );
        }
    }
    for line in profile.python.iter().flat_map(|py| &py.requirements) {
        if line.trim_start().starts_with('-') {
            out.push(
                Problem::new(
                    "topology.gateway",
                    format!(
                        "gateway `{}`: requirement `{line}` is a pip option, not a requirement",
                        profile.name
                    ),
                )
                .label("in the profile's [python] requirements")
                .note(
                    "each requirement is one pip argument; list requirement files in \
                     `requirements_files = [\"requirements.txt\"]` (relative to the profile's \
                     folder, hashed into the venv's cache key)",
                ),
            );
        }
    }
    let known: Vec<&str> = profile.options.keys().map(String::as_str).collect();
    for key in t.options.keys() {
        if !profile.options.contains_key(key) {
            let p = Problem::new(
                format!("topology.options.{key}"),
                format!("gateway `{}` has no option `{key}`", profile.name),
            )
            .note(format!(
                "its options: {}",
                if known.is_empty() {
                    "none".into()
                } else {
                    known.join(", ")
                }
            ));
            out.push(match did_you_mean(key, &known) {
                Some(k) => p.label(format!("did you mean `{k}`?")),
                None => p,
            });
        }
    }
    out
}
