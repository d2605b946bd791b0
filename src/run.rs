//! Executes a plan: start services, run every step, judge, write reports.
//!
//! The report is written before the first step and after each one; Ctrl-C,
//! a dead service or a failed step stops the run, keeps what was measured
//! and always tears the services down.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

use crate::assertions;
use crate::load::{self, upstream_stats, Live};
use crate::plan::{self, Plan, Stop};
use crate::report::{self, Environment, Report, ScenarioInfo, Status, StepReport};
use crate::scenario::Scenario;
use crate::topology::Supervisor;

/// How a run is carried out (from the command line).
#[derive(Debug, Clone)]
pub struct Options {
    /// Reports go to `out/<scenario>/<UTC timestamp>/`.
    pub out: PathBuf,
    /// Draw progress bars.
    pub progress: bool,
}

/// What a finished run leaves: its report and where it was written.
pub struct Outcome {
    pub report: Report,
    pub dir: PathBuf,
}

fn now() -> String {
    OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_else(|_| "unknown".into())
}

/// A fresh folder `out/<name>/<timestamp>` (suffixed if it exists).
fn run_dir(out: &Path, name: &str) -> std::io::Result<PathBuf> {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let t = OffsetDateTime::now_utc();
    let stamp = format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    let base = out.join(safe).join(&stamp);
    let mut dir = base.clone();
    let mut n = 1;
    while dir.exists() {
        n += 1;
        dir = PathBuf::from(format!("{}-{n}", base.display()));
    }
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// The scenario as JSON with secret header values redacted.
fn resolved(scenario: &Scenario) -> serde_json::Value {
    let mut value = serde_json::to_value(&scenario.model).unwrap_or_default();
    if let Some(headers) = value
        .pointer_mut("/request/headers")
        .and_then(|h| h.as_object_mut())
    {
        for (k, v) in headers.iter_mut() {
            if let Some(text) = v.as_str() {
                *v = plan::redact(k, text).into();
            }
        }
    }
    value
}

/// Run `plan` to the end (or until `cancel` fires). Errors here are ones
/// that prevent any report (the results folder cannot be written).
pub async fn execute(
    scenario: &Scenario,
    plan: &Plan,
    options: &Options,
    cancel: CancellationToken,
) -> std::io::Result<Outcome> {
    let dir = run_dir(&options.out, &plan.scenario)?;
    let mut report = Report {
        schema_version: report::SCHEMA_VERSION,
        status: Status::Running,
        error: None,
        scenario: ScenarioInfo {
            name: plan.scenario.clone(),
            file: plan.file.clone(),
            description: plan.description.clone(),
            resolved: resolved(scenario),
        },
        plan: serde_json::to_value(plan).unwrap_or_default(),
        environment: Environment::detect(),
        started_at: now(),
        finished_at: None,
        steps: Vec::new(),
        levels: Vec::new(),
        verdicts: Vec::new(),
    };
    report::write(&dir, &report, &plan.formats)?;

    let mut services = Supervisor::new(&dir.join("logs"));
    let result = drive(plan, options, &cancel, &mut services, &mut report, &dir).await;
    services.stop_all().await;

    match result {
        Ok(()) if cancel.is_cancelled() => report.status = Status::Interrupted,
        Ok(()) => {
            report.status = Status::Complete;
            report.verdicts = assertions::judge(&plan.checks, &report.levels);
        }
        Err(e) => {
            report.status = if cancel.is_cancelled() {
                Status::Interrupted
            } else {
                Status::Failed
            };
            report.error = Some(e);
        }
    }
    report.finished_at = Some(now());
    report::write(&dir, &report, &plan.formats)?;
    Ok(Outcome { report, dir })
}

/// Start the services, then run the steps; any error names what failed.
async fn drive(
    plan: &Plan,
    options: &Options,
    cancel: &CancellationToken,
    services: &mut Supervisor,
    report: &mut Report,
    dir: &Path,
) -> Result<(), String> {
    for service in &plan.services {
        services.start(service, cancel).await?;
    }
    let target = Arc::new(load::prepare(&plan.target)?);
    let live = Arc::new(Live::default());
    // The fake upstream this run started, if any: its counts go in each step.
    let upstream = plan
        .services
        .iter()
        .find(|s| s.name == "upstream")
        .map(|s| std::net::SocketAddr::from(([127, 0, 0, 1], s.port)));
    for step in &plan.steps {
        if cancel.is_cancelled() {
            return Ok(());
        }
        live.reset();
        let step_cancel = cancel.child_token();
        let bar = progress_bar(options.progress, step);
        let task = {
            let (target, plan_target, step, token, live) = (
                target.clone(),
                plan.target.clone(),
                step.clone(),
                step_cancel.clone(),
                live.clone(),
            );
            tokio::task::spawn_blocking(move || {
                // Zeroed after the warm-up, so the counts cover the measured requests only.
                let mut reset_ok = false;
                let outcome = load::run_step(target, &plan_target, &step, token, live, || {
                    reset_ok = upstream.is_some_and(|a| upstream_stats::fetch(a, true).is_ok());
                });
                let stats = upstream
                    .filter(|_| reset_ok)
                    .and_then(|a| upstream_stats::fetch(a, false).ok());
                outcome.map(|o| (o, stats))
            })
        };
        tokio::pin!(task);
        let mut tick = tokio::time::interval(Duration::from_millis(200));
        let started = std::time::Instant::now();
        let mut died = None;
        let outcome = loop {
            tokio::select! {
                done = &mut task => break done,
                _ = tick.tick() => {
                    let done = live.done.load(Ordering::Relaxed);
                    let errors = live.errors.load(Ordering::Relaxed);
                    let secs = started.elapsed().as_secs_f64().max(1e-3);
                    match step.stop {
                        Stop::Requests(_) => bar.set_position(done),
                        Stop::Duration(_) => bar.set_position(started.elapsed().as_millis() as u64),
                    }
                    bar.set_message(format!("{:.0} req/s, {errors} errors", done as f64 / secs));
                    if died.is_none() {
                        if let Some(dead) = services.dead() {
                            died = Some(dead);
                            step_cancel.cancel();
                        }
                    }
                }
            }
        };
        bar.finish_and_clear();
        let (outcome, upstream_stats) = outcome
            .map_err(|e| format!("step {} crashed: {e}", step.index + 1))?
            .map_err(|e| format!("step {} could not run: {e}", step.index + 1))?;
        report.steps.push(StepReport {
            index: step.index,
            concurrency: step.concurrency,
            run: step.run,
            metrics: outcome.recorder.summary(outcome.window),
            timeseries: outcome.recorder.timeseries(),
            warmup_errors: outcome.warmup_errors,
            cancelled: outcome.cancelled,
            upstream: upstream_stats,
        });
        report.summarise_levels();
        report::write(dir, report, &plan.formats)
            .map_err(|e| format!("cannot write the report in {}: {e}", dir.display()))?;
        if let Some(dead) = died {
            return Err(dead);
        }
    }
    Ok(())
}

fn progress_bar(enabled: bool, step: &plan::Step) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    let (len, unit) = match step.stop {
        Stop::Requests(n) => (n, "{pos}/{len}"),
        Stop::Duration(d) => (d.as_millis() as u64, "{elapsed}"),
    };
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    let template = format!("{{prefix:>18}} [{{bar:30.cyan/blue}}] {unit} {{msg}}");
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix(format!(
        "c={} run {}/{}",
        step.concurrency, step.run, step.runs
    ));
    bar
}
