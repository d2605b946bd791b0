//! Checks run once the gateway profile is loaded: what the profile supports and declares.

use crate::diag::{did_you_mean, Problem};
use crate::scenario::model::{ScenarioFile, Topology};
use crate::scenario::profile::Profile;

/// Checks that need the gateway profile: what it supports and declares.
pub fn check_gateway(s: &ScenarioFile, profile: &Profile) -> Vec<Problem> {
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
    check_database(t, profile, &mut out);
    check_auth(t, profile, &mut out);
    check_requirements(profile, &mut out);
    check_options(t, profile, &mut out);
    out
}

/// `topology.database`: a kind the profile has.
fn check_database(t: &Topology, profile: &Profile, out: &mut Vec<Problem>) {
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
}

/// `topology.auth`: a kind the profile supports.
fn check_auth(t: &Topology, profile: &Profile, out: &mut Vec<Problem>) {
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
}

/// The profile's `[python] requirements`: no pip options among them.
fn check_requirements(profile: &Profile, out: &mut Vec<Problem>) {
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
}

/// `topology.options`: keys the profile declares.
fn check_options(t: &Topology, profile: &Profile, out: &mut Vec<Problem>) {
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
}
