//! Checks `[topology]`: what needs a gateway, auth, sizes, CPU pins, the
//! `target` URL and the ports `base_port` gives the services.

use super::request::control_char;
use crate::diag::Problem;
use crate::scenario::model::{Auth, Database, ScenarioFile, Topology};
use crate::scenario::profile::Profile;

pub(super) fn check_topology(s: &ScenarioFile, out: &mut Vec<Problem>) {
    let t = &s.topology;
    if t.gateway.is_none() {
        check_needs_gateway(s, out);
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
        check_auth(s, auth, out);
    }
    check_sizes(t, out);
    if let Some(target) = &t.target {
        check_target(t, target, out);
    }
}

/// Without a gateway: the keys that only mean something with one.
fn check_needs_gateway(s: &ScenarioFile, out: &mut Vec<Problem>) {
    let t = &s.topology;
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

/// `topology.auth`: the fields its kind takes, and no Authorization header beside it.
fn check_auth(s: &ScenarioFile, auth: &Auth, out: &mut Vec<Problem>) {
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
                Problem::new(&path, format!("`{}` auth has no `{key}`", auth.kind.name())).label(
                    format!("`{}` auth takes {}", auth.kind.name(), needs.join(", ")),
                ),
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

/// Instances, workers, what several instances need, and CPU pins.
fn check_sizes(t: &Topology, out: &mut Vec<Problem>) {
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
    if t.instances > 1 && t.database == Some(Database::Sqlite) {
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
}

/// `topology.target`: an existing http URL, which starts nothing.
fn check_target(t: &Topology, target: &str, out: &mut Vec<Problem>) {
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

/// `topology.base_port`: the services' ports must fit between 1 and 65535.
pub fn check_ports(s: &ScenarioFile, profile: Option<&Profile>) -> Vec<Problem> {
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
