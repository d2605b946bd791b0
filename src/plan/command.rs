//! `scenario plan`, and planning for every command that runs or shows a
//! plan: the machine's facts gathered, the plan built, what cannot be
//! sharded refused, each problem printed to stderr before anything starts.

use std::io::IsTerminal;
use std::path::Path;
use std::time::Duration;

use super::shard::Shard;
use super::{Facts, Plan, PlanError};
use crate::cli::PlanArgs;
use crate::report::Outcome;
use crate::scenario::command::load_or_explain;
use crate::scenario::Scenario;

/// Where `scenario plan` shows a run's files: the real folder is made at run time.
pub const RUN_DIR: &str = "$RUN_DIR";

/// This binary, as the services it starts (the fake upstream, the guard) run it.
pub fn exe() -> String {
    std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "scenario".into())
}

/// The machine's facts for each of `all`, gathered in order (each variant
/// leases its own ports), exactly as `run` gathers them; `None` after
/// printing why not.
pub fn gather(all: &[Scenario]) -> Option<Vec<Facts>> {
    let exe = exe();
    all.iter()
        .map(|s| {
            Facts::gather(s, &exe)
                .map_err(|e| errln!("error: cannot plan {}: {e}", s.file.display()))
                .ok()
        })
        .collect()
}

/// The plan of `s` (its files shown under [`RUN_DIR`]), or `None` after
/// printing why not.
pub fn make_plan(s: &Scenario, facts: &Facts) -> Option<Plan> {
    match super::build(s, facts, Path::new(RUN_DIR)) {
        Ok(p) => Some(p),
        Err(PlanError::Input(d)) => {
            err!("{}", d.render(std::io::stderr().is_terminal()));
            errln!(
                "error: cannot plan {}; nothing was started",
                s.file.display()
            );
            None
        }
        Err(e) => {
            errln!("error: cannot plan {}: {e}", s.file.display());
            None
        }
    }
}

/// With `--shard`: refuse (printing why) what cannot be sharded — services
/// to start, several variants, steps whose starts cannot be planned.
pub fn check_sharding(
    s: &Scenario,
    p: &Plan,
    shard: Option<Shard>,
    start_at: bool,
    every: Option<Duration>,
) -> Option<()> {
    let fail = |e: String| {
        errln!("error: {}: {e}; nothing was started", s.file.display());
    };
    if let Some(shard) = shard {
        if s.variant.is_some() {
            fail(format!(
                "--shard {shard} runs one scenario, and this file has variants: pick one with \
                 `--set` or shard each variant as its own run"
            ));
            return None;
        }
        if let Err(e) = super::shard::apply(&mut p.clone(), shard) {
            fail(e.to_string());
            return None;
        }
        for step in p.steps.iter().filter(|st| shard.load_of(st).workers == 0) {
            errln!(
                "warning: {}: step {} ({}) has {} workers for {} shards: shard {shard} sends \
                 nothing in it",
                s.file.display(),
                step.index + 1,
                step.level.label(),
                step.workers(),
                shard.count
            );
        }
    }
    if start_at {
        if let Err(e) = super::shard::offsets(&p.steps, every) {
            fail(e.to_string());
            return None;
        }
    }
    Some(())
}

/// `scenario plan`: the plan of each variant, as text or JSON.
pub fn plan(args: &PlanArgs) -> Outcome {
    let Some(plans) = plans(args) else {
        return Outcome::Error;
    };
    if args.json {
        // One plan as an object; variants as an object of plans by name.
        let doc = match plans.as_slice() {
            [(None, plan)] => plan.to_json(),
            _ => serde_json::Value::Object(
                plans
                    .iter()
                    .map(|(v, p)| (v.clone().unwrap_or_default(), p.to_json()))
                    .collect(),
            ),
        };
        outln!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    } else {
        for (variant, plan) in &plans {
            if let Some(v) = variant {
                outln!("=== variant `{v}` ===");
            }
            out!("{plan}");
            if variant.is_some() {
                outln!();
            }
        }
    }
    Outcome::Pass
}

/// Each variant's name and plan (the shard's part with `--shard`), or
/// `None` after printing why not.
fn plans(args: &PlanArgs) -> Option<Vec<(Option<String>, Plan)>> {
    let all = load_or_explain(&args.file, &args.scenario.set)?;
    let facts = gather(&all)?;
    let mut plans = Vec::new();
    for (s, facts) in all.iter().zip(&facts) {
        let mut plan = make_plan(s, facts)?;
        if let Some(shard) = args.shard {
            check_sharding(s, &plan, Some(shard), false, None)?;
            let _ = super::shard::apply(&mut plan, shard);
        }
        plans.push((s.variant.clone(), plan));
    }
    Some(plans)
}
