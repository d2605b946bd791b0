//! Measuring one step: the load run against the target (and straight
//! against the fake upstream for the baseline) while the services are
//! watched, sampled and scraped; the step's report and, for a shard, its
//! lossless recorder.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio_util::sync::CancellationToken;

use super::{Options, RunError};
use crate::load::{self, upstream_stats, Live};
use crate::merge::RawStep;
use crate::metrics::{SecondSample, StepMetrics};
use crate::plan::shard;
use crate::plan::{self, Plan, Stop};
use crate::report::{self, frontier, Report, StepReport, UpstreamCounts};
use crate::topology::cpus::{self, Pinning};
use crate::topology::resources::Sampler;
use crate::topology::scrape::{Scraper, Source};
use crate::topology::Supervisor;

/// What measuring a step needs, the same for a planned step and a search probe.
pub(super) struct Runner<'a> {
    pub(super) plan: &'a Plan,
    pub(super) target: Arc<load::Prepared>,
    pub(super) baseline: Option<(Arc<load::Prepared>, &'a plan::Target)>,
    pub(super) upstream: Option<std::net::SocketAddr>,
    pub(super) options: &'a Options,
    pub(super) cancel: &'a CancellationToken,
    pub(super) live: Arc<Live>,
    pub(super) dir: &'a Path,
    /// Each step's offset from `--start-at` (shards line up on them).
    pub(super) offsets: &'a [Duration],
}

impl Runner<'_> {
    /// Run `step` on the target (and the direct baseline), add it to the
    /// report and rewrite the report; a dead service or a failed harness
    /// fails the step, and the run.
    pub(super) async fn measure(
        &self,
        step: &plan::Step,
        services: &mut Supervisor,
        report: &mut Report,
        raw: &mut Vec<RawStep>,
    ) -> Result<(), RunError> {
        let plan = self.plan;
        let mut runs = vec![(self.target.clone(), &plan.target, false)];
        if let Some((prepared, b)) = &self.baseline {
            runs.push((prepared.clone(), *b, true));
        }
        let planned = self
            .options
            .start_at
            .zip(self.offsets.get(step.index))
            .map(|(at, offset)| at + *offset);
        if let Some(at) = planned {
            // Warm up shortly before the planned start, not long before.
            let lead = at
                .checked_sub(WARM_UP_LEAD)
                .and_then(|t| t.duration_since(SystemTime::now()).ok());
            if let Some(wait) = lead {
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = self.cancel.cancelled() => return Ok(()),
                }
            }
        }
        for (prepared, target_plan, is_baseline) in runs {
            if self.cancel.is_cancelled() {
                return Ok(());
            }
            let (mut report_step, died, raw_step) = run_one(
                prepared,
                target_plan,
                step,
                is_baseline,
                self.upstream,
                self.options,
                self.cancel,
                services,
                &self.live,
                planned,
                plan.cpus.as_ref(),
                (&plan.metrics, &plan.metrics_series),
            )
            .await?;
            let failure = died.or_else(|| harness_failure(&report_step, &target_plan.url).err());
            report_step.error = failure.as_ref().map(|e| plan.hide(&e.to_string()));
            if let Some(mut r) = raw_step {
                r.error = report_step.error.clone();
                raw.push(r);
            }
            report.steps.push(report_step);
            report.summarise_levels();
            self.write(report)?;
            if let Some(failure) = failure {
                return Err(failure);
            }
        }
        Ok(())
    }

    /// Recompute the frontier and rewrite the report.
    pub(super) fn write(&self, report: &mut Report) -> Result<(), RunError> {
        report.frontier = frontier::compute(report, &self.plan.capacity.frontier);
        report::write(self.dir, report, &self.plan.formats).map_err(|source| RunError::Report {
            dir: self.dir.to_path_buf(),
            source,
        })
    }
}

/// A step whose figures describe the harness rather than the target is a
/// failed run, never a verdict: the client's own machine refused requests
/// (file descriptors, local ports), or nothing answered at all.
fn harness_failure(step: &StepReport, url: &str) -> Result<(), RunError> {
    let m = &step.metrics;
    let classes = || {
        m.errors
            .classes()
            .iter()
            .map(|(c, n)| format!("{n} {}", c.label()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if m.errors.client > 0 {
        return Err(RunError::ClientRefused {
            step: step.index + 1,
            level: step.level,
            refused: m.errors.client,
            requests: m.requests,
            classes: classes(),
        });
    }
    // A non-2xx status, a broken HTTP answer or one of the wrong shape is
    // still an answer: the target's failure, for the assertions to judge.
    let answered =
        m.successes + m.errors.status.values().sum::<u64>() + m.errors.protocol + m.errors.shape;
    if m.requests > 0 && answered == 0 && !step.cancelled {
        return Err(RunError::NothingAnswered {
            step: step.index + 1,
            level: step.level,
            url: url.to_string(),
            requests: m.requests,
            classes: classes(),
        });
    }
    Ok(())
}

/// Run one step against one target, watching the services meanwhile.
#[allow(clippy::too_many_arguments)]
async fn run_one(
    prepared: Arc<load::Prepared>,
    target: &plan::Target,
    step: &plan::Step,
    baseline: bool,
    upstream: Option<std::net::SocketAddr>,
    options: &Options,
    cancel: &CancellationToken,
    services: &mut Supervisor,
    live: &Arc<Live>,
    planned: Option<SystemTime>,
    cpus: Option<&Pinning>,
    metrics: (&[Source], &[String]),
) -> Result<(StepReport, Option<RunError>, Option<RawStep>), RunError> {
    live.reset();
    let step_cancel = cancel.child_token();
    let bar = progress_bar(options.progress, step, baseline);
    let task = spawn_load(
        prepared,
        target,
        step,
        &step_cancel,
        live,
        planned,
        upstream,
        cpus,
    );
    tokio::pin!(task);
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    let started = std::time::Instant::now();
    let mut died = None;
    let mut watchers = Watchers::new(services, metrics, baseline);
    let mut ticks = 0u32;
    let outcome = loop {
        tokio::select! {
            done = &mut task => break done,
            _ = tick.tick() => {
                show_progress(&bar, step, live, started);
                ticks += 1;
                if ticks % 5 == 0 {
                    watchers.look().await;
                }
                if died.is_none() {
                    if let Some(dead) = services.exited() {
                        died = Some(dead.into());
                        step_cancel.cancel();
                    }
                }
            }
        }
    };
    bar.finish_and_clear();
    // A service that died between two ticks, or in the step's last moments,
    // fails the step all the same.
    if died.is_none() {
        died = services.exited().map(RunError::from);
    }
    let (outcome, upstream_stats) = outcome
        .map_err(|source| RunError::StepCrashed {
            step: step.index + 1,
            source,
        })?
        .map_err(|source| RunError::StepFailed {
            step: step.index + 1,
            source,
        })?;
    check_start(step, &outcome, planned, &mut died);
    let raw = raw_step(step, baseline, planned, &outcome);
    let watched = watchers.finish(step, upstream_stats);
    Ok((step_report(step, baseline, outcome, watched), died, raw))
}

/// What is watched beside the load while a step runs, once a second: each
/// service's CPU and memory, and the gateway's own metrics series.
struct Watchers {
    sampler: Option<Sampler>,
    scraper: Option<Scraper>,
}

impl Watchers {
    fn new(services: &Supervisor, metrics: (&[Source], &[String]), baseline: bool) -> Watchers {
        let roots = services.roots();
        Watchers {
            sampler: (!roots.is_empty()).then(|| Sampler::new(roots)),
            // The gateway's own series, through the target only.
            scraper: Scraper::new(metrics.0.to_vec(), metrics.1.to_vec()).filter(|_| !baseline),
        }
    }

    async fn look(&mut self) {
        if let Some(s) = self.sampler.as_mut() {
            s.sample();
        }
        if let Some(s) = self.scraper.as_mut() {
            s.scrape().await;
        }
    }

    fn finish(self, step: &plan::Step, upstream: Option<UpstreamCounts>) -> Watched {
        if let Some(e) = self.scraper.as_ref().and_then(|s| s.error.as_ref()) {
            errln!("warning: step {}: {e}", step.index + 1);
        }
        Watched {
            resources: self.sampler.map(Sampler::finish).unwrap_or_default(),
            upstream,
            server_metrics: self.scraper.map(Scraper::finish).unwrap_or_default(),
        }
    }
}

/// The bar's position (requests or time, as the step stops) and the rate
/// and errors so far.
fn show_progress(bar: &ProgressBar, step: &plan::Step, live: &Live, started: std::time::Instant) {
    let done = live.done.load(Ordering::Relaxed);
    let errors = live.errors.load(Ordering::Relaxed);
    let secs = started.elapsed().as_secs_f64().max(1e-3);
    match step.stop {
        Stop::Requests(_) => bar.set_position(done),
        Stop::Duration(_) => bar.set_position(started.elapsed().as_millis() as u64),
    }
    bar.set_message(format!("{:.0} req/s, {errors} errors", done as f64 / secs));
}

/// What was watched beside the load during a step.
struct Watched {
    resources: Vec<crate::report::ServiceUsage>,
    upstream: Option<UpstreamCounts>,
    server_metrics: Vec<crate::topology::scrape::ServerSeries>,
}

/// The step's report: the recorder summarised over the step's window.
fn step_report(
    step: &plan::Step,
    baseline: bool,
    outcome: load::StepOutcome,
    watched: Watched,
) -> StepReport {
    StepReport {
        index: step.index,
        level: step.level,
        run: step.run,
        metrics: StepMetrics {
            open_loop: outcome.open_loop,
            goodput: outcome.goodput,
            ..outcome.recorder.summary(outcome.window)
        },
        timeseries: ramp_targets(outcome.recorder.timeseries(), step.ramp.as_ref()),
        warmup_errors: outcome.warmup_errors,
        cancelled: outcome.cancelled,
        error: None,
        side: if baseline {
            report::Side::Direct
        } else {
            report::Side::Target
        },
        resources: watched.resources,
        upstream: watched.upstream,
        server_metrics: watched.server_metrics,
    }
}

/// What a step's blocking load task returns: the step, and the fake
/// upstream's counts over the measured requests.
type LoadResult = std::io::Result<(load::StepOutcome, Option<crate::report::UpstreamCounts>)>;

/// Start the step's load on a blocking thread, pinned to the harness's CPUs.
#[allow(clippy::too_many_arguments)]
fn spawn_load(
    prepared: Arc<load::Prepared>,
    target: &plan::Target,
    step: &plan::Step,
    step_cancel: &CancellationToken,
    live: &Arc<Live>,
    planned: Option<SystemTime>,
    upstream: Option<std::net::SocketAddr>,
    cpus: Option<&Pinning>,
) -> tokio::task::JoinHandle<LoadResult> {
    let (target, step, token, live) = (
        target.clone(),
        step.clone(),
        step_cancel.clone(),
        live.clone(),
    );
    let harness = cpus.map(|p| p.harness.clone());
    tokio::task::spawn_blocking(move || {
        // Zeroed after the warm-up, so the counts cover the measured requests only.
        let mut reset_ok = false;
        let wait = token.clone();
        // The load threads inherit the harness's CPUs and are as many as those.
        let outcome = cpus::pinned(harness.as_ref(), || {
            load::run_step(prepared, &target, &step, token, live, || {
                reset_ok = upstream.is_some_and(|a| upstream_stats::fetch(a, true).is_ok());
                if let Some(at) = planned {
                    wait_until(at, &wait);
                }
            })
        })
        .and_then(|o| o);
        let stats = upstream
            .filter(|_| reset_ok)
            .and_then(|a| upstream_stats::fetch(a, false).ok());
        outcome.map(|o| (o, stats))
    })
}

/// A warm-up the client's own machine refused fails the step (`died`); a
/// step that started measuring late is warned about.
fn check_start(
    step: &plan::Step,
    outcome: &load::StepOutcome,
    planned: Option<SystemTime>,
    died: &mut Option<RunError>,
) {
    if outcome.warmup.client > 0 && died.is_none() {
        *died = Some(RunError::WarmupRefused {
            step: step.index + 1,
            level: step.level,
            refused: outcome.warmup.client,
        });
    }
    let late = planned.and_then(|at| outcome.started.duration_since(at).ok());
    if let Some(late) = late.filter(|l| *l > Duration::from_millis(100)) {
        errln!(
            "warning: step {} ({}) started measuring {:.2} s after its planned moment (this \
             process started after it, the step before ran long, or the warm-up did): shards \
             measured apart; give a later --start-at or a longer --step-every",
            step.index + 1,
            step.level.label(),
            late.as_secs_f64()
        );
    }
}

/// A shard's step in lossless form, for `scenario merge`; `None` unsharded.
fn raw_step(
    step: &plan::Step,
    baseline: bool,
    planned: Option<SystemTime>,
    outcome: &load::StepOutcome,
) -> Option<RawStep> {
    step.shard.map(|_| RawStep {
        index: step.index,
        level: step.level,
        rate: step.open.map(|o| o.per_s),
        run: step.run,
        side: if baseline {
            report::Side::Direct
        } else {
            report::Side::Target
        },
        planned_start_us: planned.map(shard::unix_us),
        started_us: shard::unix_us(outcome.started),
        whole_us: outcome.window.whole.as_micros() as u64,
        busy_us: outcome.window.busy.as_micros() as u64,
        scheduled_us: step.scheduled_window().map(|w| w.as_micros() as u64),
        warmup_errors: outcome.warmup_errors,
        cancelled: outcome.cancelled,
        error: None,
        recorder: outcome.recorder.to_raw(),
    })
}

/// A ramp step's series with the target of each sample (its mean over
/// the sample) beside what was achieved.
fn ramp_targets(mut series: Vec<SecondSample>, ramp: Option<&plan::Ramp>) -> Vec<SecondSample> {
    if let Some(r) = ramp {
        let end = r.total().as_secs_f64();
        // Not for answers that ended after the ramp did.
        for t in series.iter_mut().filter(|t| f64::from(t.second) < end) {
            let from = f64::from(t.second);
            t.target = Some(r.mean(from, from + f64::from(t.width)));
        }
    }
    series
}

/// How long before a planned start a step begins its warm-up.
const WARM_UP_LEAD: Duration = Duration::from_secs(2);

/// Block until the wall clock reaches `at` (or `cancel` fires), checking
/// every 50 ms at most; the last stretch is one precise sleep.
fn wait_until(at: SystemTime, cancel: &CancellationToken) {
    while let Ok(left) = at.duration_since(SystemTime::now()) {
        if cancel.is_cancelled() {
            return;
        }
        std::thread::sleep(left.min(Duration::from_millis(50)));
    }
}

fn progress_bar(enabled: bool, step: &plan::Step, baseline: bool) -> ProgressBar {
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
    let what = if baseline { " baseline" } else { "" };
    bar.set_prefix(format!(
        "{} run {}/{}{what}",
        step.level, step.run, step.runs
    ));
    bar
}
