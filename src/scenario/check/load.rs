//! Checks `[load]`: the sweep's levels, each step's budget and the `stages` ramp.

use crate::diag::Problem;
use crate::scenario::model::{Load, ScenarioFile, Stage};

/// An example stage, shown with each stage problem.
const EXAMPLE: &str =
    "e.g. { duration = \"30s\", concurrency = 100 } or { duration = \"30s\", rate = 500 }";

pub(super) fn check_load(s: &ScenarioFile, out: &mut Vec<Problem>) {
    let load = &s.load;
    check_open_loop(load, out);
    check_concurrency(load, out);
    check_step(load, out);
    check_stages(load, out);
}

/// `rate` (and not `concurrency` beside it) and `max_in_flight`, which caps it.
fn check_open_loop(load: &Load, out: &mut Vec<Problem>) {
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
}

/// `concurrency`: each level at least 1 and listed once.
fn check_concurrency(load: &Load, out: &mut Vec<Problem>) {
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
}

/// What one step lasts: `requests` or `duration`, and how many `runs`.
fn check_step(load: &Load, out: &mut Vec<Problem>) {
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
}

/// `[load] stages`: each a duration and exactly one target, all of one
/// kind, and the ramp instead of a sweep (so no `concurrency`/`rate` list,
/// no `requests` or `duration`).
fn check_stages(load: &Load, out: &mut Vec<Problem>) {
    if load.stages.is_empty() {
        return;
    }
    check_stage_conflicts(load, out);
    let first_kind = load
        .stages
        .iter()
        .find_map(|s| match (s.concurrency, s.rate) {
            (Some(_), None) => Some("concurrency"),
            (None, Some(_)) => Some("rate"),
            _ => None,
        });
    for (i, stage) in load.stages.iter().enumerate() {
        check_stage(i, stage, first_kind, out);
    }
    check_stage_totals(load, first_kind, out);
}

/// The sweep keys that cannot stand beside `stages`.
fn check_stage_conflicts(load: &Load, out: &mut Vec<Problem>) {
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
}

/// One stage: a duration, one target, of the same kind as the first stage's.
fn check_stage(i: usize, stage: &Stage, first_kind: Option<&str>, out: &mut Vec<Problem>) {
    let at = format!("load.stages[{i}]");
    if stage.duration.is_none() {
        out.push(
            Problem::new(at.clone(), format!("stage {} has no `duration`", i + 1)).label(EXAMPLE),
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
            return;
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
                .label(EXAMPLE),
            );
            return;
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

/// The ramp as a whole: some target above 0 and some time to run.
fn check_stage_totals(load: &Load, first_kind: Option<&str>, out: &mut Vec<Problem>) {
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
