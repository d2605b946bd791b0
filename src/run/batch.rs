//! `scenario run FILE…`: every file and variant checked and planned before
//! anything starts, then run in turn, each judged, printed, recorded in
//! the history and compared with `--baseline`; Ctrl-C forwarded to the run.

use std::io::IsTerminal;
use std::path::Path;
use std::time::Duration;

use super::{Finished, Interrupt, Options};
use crate::cli::RunArgs;
use crate::history;
use crate::plan::command::{check_sharding, gather, make_plan};
use crate::plan::{self, Plan};
use crate::report::baseline::Baseline;
use crate::report::summary::{RunsSummary, Summary};
use crate::report::variants::VariantRun;
use crate::report::{self, Outcome, Status};
use crate::scenario::command::{load_or_explain, warn_unmeasured};
use crate::scenario::Scenario;

/// One variant, checked and planned: the plan it runs is made from facts
/// gathered (and ports leased) before anything starts.
type Planned = (Scenario, plan::Facts, Plan);

/// The single-threaded runtime commands run on (load threads have their own).
pub fn runtime() -> Option<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| errln!("error: cannot start the async runtime: {e}"))
        .ok()
}

/// `scenario run`: the worst outcome of the runs (its exit code is the
/// command's), or ERROR when something failed before or between them.
pub fn run(args: &RunArgs) -> Outcome {
    let Some(batch) = Batch::prepare(args) else {
        return Outcome::Error;
    };
    let Some(runtime) = runtime() else {
        return Outcome::Error;
    };
    runtime.block_on(batch.run(args))
}

/// Everything checked before the first service starts.
struct Batch {
    /// Each file's variants, in the order given.
    files: Vec<Vec<Planned>>,
    baseline: Option<Baseline>,
    options: Options,
}

impl Batch {
    /// Check the arguments, load and plan every file, raise the open-files
    /// limit and read the baseline; `None` after printing every problem.
    fn prepare(args: &RunArgs) -> Option<Batch> {
        if args.shard.is_some() && (args.files.len() > 1 || args.output.baseline.is_some()) {
            errln!(
                "error: --shard runs one FILE and compares nothing: give one FILE, and \
                 --baseline to `scenario merge`"
            );
            return None;
        }
        let start_at = match args.start_at.as_deref().map(plan::shard::parse_start_at) {
            None => None,
            Some(Ok(t)) => Some(t),
            Some(Err(e)) => {
                errln!("error: --start-at {e}");
                return None;
            }
        };
        let step_every = args.step_every.map(Into::into);
        let files = plan_files(args, start_at.is_some(), step_every)?;
        check_open_files(&files)?;
        if args.output.baseline.is_some() && args.files.len() > 1 {
            errln!("error: --baseline compares one scenario; give one FILE");
            return None;
        }
        let baseline = Baseline::read(args.output.baseline.as_deref()).ok()?;
        let options = Options {
            out: args.out.clone(),
            progress: !args.output.quiet && std::io::stdout().is_terminal(),
            shard: args.shard,
            start_at,
            step_every,
        };
        Some(Batch {
            files,
            baseline,
            options,
        })
    }

    /// Run every file in turn; stop after an interrupted run.
    async fn run(self, args: &RunArgs) -> Outcome {
        let interrupt = Interrupt::default();
        tokio::spawn(forward_signals(interrupt.clone()));
        let mut done = Done::default();
        for file in &self.files {
            match self.run_file(file, args, &interrupt, &mut done).await {
                Ok(true) => {}
                Ok(false) => break,
                Err(()) => return Outcome::Error,
            }
        }
        if args.output.json {
            let doc = RunsSummary { runs: done.runs };
            outln!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
        }
        done.outcome
    }

    /// Run each variant of one file in a run folder of its own under one
    /// folder, then compare the variants; `Ok(false)` when interrupted,
    /// `Err` when reports could not be written at all.
    async fn run_file(
        &self,
        file: &[Planned],
        args: &RunArgs,
        interrupt: &Interrupt,
        done: &mut Done,
    ) -> Result<bool, ()> {
        let Some(name) = file.first().map(|(s, _, _)| s.name.clone()) else {
            return Ok(true);
        };
        let out = &self.options.out;
        let base_dir = super::new_run_dir(out, &name).map_err(|e| {
            errln!(
                "error: cannot create a run folder under {}: {e}",
                out.display()
            )
        })?;
        let mut variants = Vec::new();
        for (scenario, facts, plan) in file {
            let dir = match &scenario.variant {
                Some(v) => base_dir.join(v),
                None => base_dir.clone(),
            };
            if !args.output.quiet {
                let what = scenario
                    .variant
                    .as_ref()
                    .map(|v| format!(" · {v}"))
                    .unwrap_or_default();
                errln!(
                    "running {}{what} ({} steps) …",
                    plan.scenario,
                    plan.steps.len()
                );
            }
            let finished = super::execute(scenario, facts, &dir, &self.options, interrupt)
                .await
                .map_err(|e| errln!("error: cannot write reports under {}: {e}", out.display()))?;
            let summary = self.conclude(scenario, &finished, args, done);
            if let Some(v) = &scenario.variant {
                variants.push(VariantRun::of(v, &finished.report, finished.dir.clone()));
            }
            done.runs.push(summary);
            if finished.report.status == Status::Interrupted {
                write_variants(&name, &base_dir, &variants, &args.output);
                return Ok(false);
            }
        }
        write_variants(&name, &base_dir, &variants, &args.output);
        Ok(true)
    }

    /// After one run: print its table, write the shard's lines, record it
    /// in the history, compare it with the baseline; its summary.
    fn conclude(
        &self,
        scenario: &Scenario,
        finished: &Finished,
        args: &RunArgs,
        done: &mut Done,
    ) -> Summary {
        let (r, dir, o) = (&finished.report, &finished.dir, &args.output);
        if !o.quiet {
            let table = report::terminal::render(r);
            if o.json {
                err!("{table}");
            } else {
                out!("{table}");
            }
            errln!("reports: {}", dir.display());
        }
        // Said once, here (the table leaves it out).
        if let Some(e) = &r.error {
            errln!("error: {e}");
        }
        done.add(r.outcome());
        let out = &self.options.out;
        let db = history::location(
            o.history.as_deref(),
            scenario.model.report.history.as_deref(),
            out,
        );
        if let (Some(result), Some(to)) = (&finished.shard, &args.shard_out) {
            done.add(write_shard_lines(result, to));
        }
        // A shard's figures are a part of the run's: history keeps the merged run.
        if !args.no_history && args.shard.is_none() {
            if let Err(e) = history::record(&db, r, dir) {
                errln!(
                    "warning: the run was not recorded in its history: {e}; \
                     `scenario history import {}` records it later",
                    out.display()
                );
            }
        }
        let mut summary = Summary::of(r, dir);
        summary.variant = scenario.variant.clone();
        if let Some(base) = &self.baseline {
            let (regression, outcome) = base.check(&db, r, dir, o.json);
            done.add(outcome);
            summary.regression = Some(regression);
        }
        summary
    }
}

/// What the runs so far came to.
#[derive(Default)]
struct Done {
    /// The worst outcome so far.
    outcome: Outcome,
    runs: Vec<Summary>,
}

impl Done {
    fn add(&mut self, outcome: Outcome) {
        self.outcome = self.outcome.max(outcome);
    }
}

/// Load, check and plan every file (every problem of every file printed
/// before anything starts); `None` when any has one.
fn plan_files(
    args: &RunArgs,
    start_at: bool,
    step_every: Option<Duration>,
) -> Option<Vec<Vec<Planned>>> {
    let loaded: Vec<Option<Vec<Planned>>> = args
        .files
        .iter()
        .map(|f| {
            let all = load_or_explain(f, &args.scenario.set)?;
            if !args.output.quiet {
                warn_unmeasured(f, &all);
            }
            let facts = gather(&all)?;
            all.into_iter()
                .zip(facts)
                .map(|(s, facts)| {
                    let p = make_plan(&s, &facts)?;
                    check_sharding(&s, &p, args.shard, start_at, step_every)?;
                    Some((s, facts, p))
                })
                .collect()
        })
        .collect();
    loaded.into_iter().collect()
}

/// Every worker holds a connection: the open-files limit must hold the
/// largest level, or the harness's own failures would pass as the target's.
/// Raised first, so the services started later inherit it too.
fn check_open_files(files: &[Vec<Planned>]) -> Option<()> {
    let soft = match crate::load::limits::raise_nofile() {
        Ok((soft, _)) => soft,
        Err(e) => {
            errln!("error: cannot read the open-files limit: {e}");
            return None;
        }
    };
    let widest = files
        .iter()
        .flatten()
        .flat_map(|(_, _, p)| &p.steps)
        .map(plan::Step::workers)
        .max()
        .unwrap_or(0);
    crate::load::limits::check_concurrency(widest, soft)
        .map_err(|e| errln!("error: {e}; nothing was started"))
        .ok()
}

/// `--shard-out`: the shard result as `#scenario-shard` lines, to `to` or
/// to stdout with `-`; ERROR when it cannot be written.
fn write_shard_lines(result: &crate::merge::ShardResult, to: &Path) -> Outcome {
    let lines = crate::merge::to_lines(result);
    if to == Path::new("-") {
        out!("{lines}");
    } else if let Err(e) = std::fs::write(to, lines) {
        errln!("error: cannot write {}: {e}", to.display());
        return Outcome::Error;
    }
    Outcome::Pass
}

/// With variants: the side-by-side comparison, printed and written as
/// `variants.md` and `variants.json` beside the variants' folders.
fn write_variants(name: &str, dir: &Path, runs: &[VariantRun], o: &crate::cli::OutputArgs) {
    if runs.len() < 2 {
        return;
    }
    let md = report::variants::markdown(name, runs);
    let written = std::fs::write(dir.join("variants.md"), md).and_then(|_| {
        std::fs::write(
            dir.join("variants.json"),
            report::variants::json(name, runs),
        )
    });
    if let Err(e) = written {
        errln!(
            "error: cannot write the variant comparison in {}: {e}",
            dir.display()
        );
    }
    if !o.quiet {
        let text = report::variants::text(name, runs);
        if o.json {
            err!("{text}");
        } else {
            out!("{text}");
        }
        errln!("variants compared in {}", dir.join("variants.md").display());
    }
}

/// Ctrl-C or SIGTERM stops the step, writes the report and stops the
/// services; a second one skips the services' grace periods; a third exits
/// at once (services still die with us through their parent-death signal).
async fn forward_signals(interrupt: Interrupt) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return;
    };
    for round in 0.. {
        tokio::select! {
            _ = int.recv() => {},
            _ = term.recv() => {},
        }
        match round {
            // Cancel first, then say so.
            0 => {
                interrupt.stop.cancel();
                errln!("\ninterrupted: stopping the step, writing the report, stopping services …");
            }
            1 => {
                interrupt.now.cancel();
                errln!("interrupted again: killing services now (once more to exit at once)");
            }
            _ => std::process::exit(i32::from(Outcome::Interrupted.exit_code())),
        }
    }
}
