//! Executes a plan: start services, run every step, judge, write reports.
//!
//! The report is written before the first step and after each one; Ctrl-C,
//! a dead service or a failed step stops the run, keeps what was measured
//! and always tears the services down.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

use crate::assertions;
use crate::load::{self, upstream_stats, Live};
use crate::merge::{RawStep, ShardResult};
use crate::metrics::{SecondSample, StepMetrics};
use crate::plan::shard::{self, Shard};
use crate::plan::{self, Plan, Stop};
use crate::report::memory::Memory;
use crate::report::{self, frontier, Environment, Report, ScenarioInfo, Status, StepReport};
use crate::scenario::Scenario;
use crate::search::Bisection;
use crate::topology::cpus::{self, Pinning};
use crate::topology::resources::{self, Sampler};
use crate::topology::scrape::{Scraper, Source};
use crate::topology::{http_call, provision, Supervisor};

/// How a run is carried out (from the command line).
#[derive(Debug, Clone)]
pub struct Options {
    /// Reports go to `out/<scenario>/<UTC timestamp>/`.
    pub out: PathBuf,
    /// Draw progress bars.
    pub progress: bool,
    /// Run only this shard's part of the load (`--shard I/N`), judge
    /// nothing and write the lossless `shard.json` for `scenario merge`.
    pub shard: Option<Shard>,
    /// Start measuring step `k` at this moment plus its planned offset
    /// (`--start-at`, see [`shard::offsets`]), so shards line up.
    pub start_at: Option<SystemTime>,
    /// `--step-every`: fixed spacing of the steps' starts.
    pub step_every: Option<Duration>,
}

/// How a run is stopped from outside: `stop` (Ctrl-C, SIGTERM) ends the
/// step and tears the services down with their grace periods; `now` (a
/// second Ctrl-C) skips the grace periods. Either way the report is written.
#[derive(Debug, Clone, Default)]
pub struct Interrupt {
    pub stop: CancellationToken,
    pub now: CancellationToken,
}

/// What a finished run leaves: its report and where it was written.
pub struct Outcome {
    pub report: Report,
    pub dir: PathBuf,
    /// A shard's lossless result (also written as `shard.json` in `dir`).
    pub shard: Option<ShardResult>,
}

fn now() -> String {
    OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_else(|_| "unknown".into())
}

/// A fresh folder `out/<name>/<timestamp>`, made atomically: when another
/// run (in this process or another) took that name in the same second, the
/// next free `-2`, `-3`, … is taken, so no two runs ever share a folder.
pub fn new_run_dir(out: &Path, name: &str) -> std::io::Result<PathBuf> {
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
    let parent = out.join(safe);
    std::fs::create_dir_all(&parent)?;
    for n in 1u32.. {
        let dir = match n {
            1 => parent.join(&stamp),
            _ => parent.join(format!("{stamp}-{n}")),
        };
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    unreachable!("some suffix is free")
}

/// The scenario as JSON with secret header values and secrets redacted.
fn resolved(scenario: &Scenario, secrets: &[String]) -> serde_json::Value {
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
    plan::redact_secrets(&mut value, secrets);
    value
}

/// Plan `scenario` against `facts` (gathered before, like `scenario plan`
/// does) with its files under a fresh run folder and run it to the end (or
/// until `cancel` fires). Errors here are ones that prevent any
/// report (the results folder cannot be written).
pub async fn execute(
    scenario: &Scenario,
    facts: &plan::Facts,
    dir: &Path,
    options: &Options,
    interrupt: &Interrupt,
) -> std::io::Result<Outcome> {
    let cancel = interrupt.stop.clone();
    std::fs::create_dir_all(dir)?;
    let dir = dir.canonicalize().unwrap_or(dir.to_path_buf());
    let planned = plan::build(scenario, facts, &dir).map_err(|e| e.to_string());
    let planned = match (planned, options.shard) {
        (Ok(mut p), Some(s)) => shard::apply(&mut p, s).map(|()| p),
        (planned, _) => planned,
    };
    let secrets = planned
        .as_ref()
        .map(|p| p.secrets.clone())
        .unwrap_or_default();
    let mut report = Report {
        schema_version: report::SCHEMA_VERSION,
        status: Status::Running,
        error: None,
        scenario: ScenarioInfo {
            name: match &scenario.variant {
                Some(v) => format!("{} · {v}", scenario.name),
                None => scenario.name.clone(),
            },
            file: scenario.file.clone(),
            description: scenario.model.scenario.description.clone(),
            resolved: resolved(scenario, &secrets),
        },
        plan: planned.as_ref().map(Plan::to_json).unwrap_or_default(),
        environment: Environment::detect(),
        started_at: now(),
        finished_at: None,
        steps: Vec::new(),
        levels: Vec::new(),
        baseline_levels: Vec::new(),
        overhead: Vec::new(),
        frontier: None,
        slo: scenario.model.report.slo,
        search: None,
        streams: None,
        memory: None,
        verdicts: Vec::new(),
    };
    let formats = planned
        .as_ref()
        .map(|p| p.formats.clone())
        .unwrap_or_default();
    report::write(&dir, &report, &formats)?;
    let plan = match planned {
        Ok(plan) => plan,
        Err(e) => {
            report.status = Status::Failed;
            report.error = Some(e);
            report.finished_at = Some(now());
            report::write(&dir, &report, &formats)?;
            return Ok(Outcome {
                report,
                dir,
                shard: None,
            });
        }
    };

    report.environment.cpus = plan.cpus.clone();
    let mut services = Supervisor::new(&dir.join("logs"), &facts.exe);
    services.pin(plan.cpus.clone());
    // The tool's own threads (this runtime's, the blocking pool's) are the harness's.
    let _pinned = plan
        .cpus
        .as_ref()
        .map(|p| cpus::pin_process(&p.harness))
        .transpose()?;
    let mut raw = Vec::new();
    let result = drive(
        &plan,
        options,
        &cancel,
        &mut services,
        &mut report,
        &mut raw,
        &dir,
    )
    .await;
    services.stop_all(&interrupt.now).await;
    // Files that hold secrets (passwords in config files) do not outlive the run.
    for f in &plan.files {
        if plan
            .secrets
            .iter()
            .any(|s| !s.is_empty() && f.content.contains(s.as_str()))
        {
            let _ = std::fs::remove_file(&f.path);
        }
    }

    match result {
        Ok(()) if cancel.is_cancelled() => report.status = Status::Interrupted,
        Ok(()) if options.shard.is_some() => report.status = Status::Complete,
        Ok(()) => {
            report.status = Status::Complete;
            let swept: Vec<plan::Level> = plan.steps.iter().map(|s| s.level).collect();
            report.verdicts = assertions::judge(&plan.checks, &report.levels, &swept);
            if let Some(limit) = plan.capacity.min_capacity_rps {
                let verdict = assertions::judge_capacity(limit, report.search.as_ref());
                report.verdicts.push(verdict);
            }
        }
        Err(e) => {
            report.status = if cancel.is_cancelled() {
                Status::Interrupted
            } else {
                Status::Failed
            };
            report.error = Some(plan.hide(&e));
        }
    }
    report.finished_at = Some(now());
    if let Err(e) = report::write(&dir, &report, &plan.formats) {
        // Leave no report that claims more than the exit code will say.
        report.status = Status::Failed;
        report.error = Some(format!("cannot write the reports: {e}"));
        let _ = report::write(&dir, &report, &plan.formats);
        return Err(e);
    }
    let shard = options.shard.map(|s| ShardResult {
        format: crate::merge::FORMAT,
        shard: s,
        start_at: options
            .start_at
            .map(|t| OffsetDateTime::from(t).format(&Rfc3339).unwrap_or_default()),
        scenario: report.scenario.clone(),
        plan: report.plan.clone(),
        checks: plan.checks.clone(),
        formats: plan.formats.clone(),
        environment: report.environment.clone(),
        started_at: report.started_at.clone(),
        finished_at: report.finished_at.clone(),
        status: report.status,
        error: report.error.clone(),
        steps: raw,
    });
    if let Some(result) = &shard {
        let json = serde_json::to_string(result).map_err(std::io::Error::other)?;
        std::fs::write(dir.join("shard.json"), json)?;
    }
    Ok(Outcome { report, dir, shard })
}

/// Provision, write files, start the services wave by wave, make the setup
/// calls, then run the steps; any error names what failed.
async fn drive(
    plan: &Plan,
    options: &Options,
    cancel: &CancellationToken,
    services: &mut Supervisor,
    report: &mut Report,
    raw: &mut Vec<RawStep>,
    dir: &Path,
) -> Result<(), String> {
    let offsets = match options.start_at {
        Some(_) => shard::offsets(&plan.steps, options.step_every)?,
        None => Vec::new(),
    };
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).map_err(|e| format!("cannot create {}: {e}", logs.display()))?;
    if let Some(p) = &plan.provision {
        if !provision::is_ready(p) {
            eprintln!(
                "provisioning {} (first run with these requirements; later runs reuse it) …",
                p.venv.display()
            );
        }
        let log = logs.join("provision.log");
        tokio::select! {
            r = provision::ensure(p, &log) => r?,
            _ = cancel.cancelled() => return Ok(()),
        }
    }
    for f in &plan.files {
        write_file(f)?;
    }
    let mut waves: Vec<plan::Wave> = plan.services.iter().map(|s| s.wave).collect();
    waves.dedup();
    for wave in waves {
        let members: Vec<&plan::Service> =
            plan.services.iter().filter(|s| s.wave == wave).collect();
        services.start_wave(&members, cancel).await?;
    }
    // Idle: every service ready, no request made yet.
    let roots = services.roots();
    if !roots.is_empty() {
        let idle = resources::rss_now(&roots);
        let idle: Vec<_> = roots
            .iter()
            .zip(idle)
            .map(|(r, rss)| (r.name.clone(), r.role, rss))
            .collect();
        report.memory = Some(Memory::idle(&idle));
    }
    setup_calls(plan, &logs.join("setup.log")).await?;

    let target = Arc::new(load::prepare(&plan.target)?);
    let baseline = match &plan.baseline {
        Some(b) => Some((Arc::new(load::prepare(b)?), b)),
        None => None,
    };
    let live = Arc::new(Live::default());
    // The fake upstream this run started, if any: its counts go in each step.
    let upstream = plan
        .services
        .iter()
        .find(|s| s.name == "upstream")
        .map(|s| std::net::SocketAddr::from(([127, 0, 0, 1], s.port)));
    let run = Runner {
        plan,
        target,
        baseline,
        upstream,
        options,
        cancel,
        live,
        dir,
        offsets: &offsets,
    };
    for step in &plan.steps {
        run.measure(step, services, report, raw).await?;
    }
    if let Some(search) = &plan.capacity.search {
        let mut bisection = Bisection::new(search.clone());
        report.search = Some(bisection.result());
        while let Some(level) = bisection.next_level() {
            if cancel.is_cancelled() {
                return Ok(());
            }
            let index = report.steps.iter().map(|s| s.index + 1).max().unwrap_or(0);
            let step = search.probe(index, level);
            run.measure(&step, services, report, raw).await?;
            let measured = report.steps_of(report::Side::Target).last();
            if let Some(s) = measured.filter(|s| s.index == index && s.measured()) {
                bisection.record(level, index, &s.metrics);
            } else {
                // Cut short: judged on nothing, the search stops here.
                return Ok(());
            }
            report.search = Some(bisection.result());
        }
        report.search = Some(bisection.result());
        run.write(report)?;
    }
    // The last step can end before a dying service is noticed.
    if let Some(dead) = services.dead() {
        return Err(dead);
    }
    if let (Some(quiet), Some(memory)) = (plan.quiet_period, report.memory.as_mut()) {
        tokio::select! {
            _ = tokio::time::sleep(quiet) => {}
            _ = cancel.cancelled() => return Ok(()),
        }
        let roots = services.roots();
        let now = resources::rss_now(&roots);
        for (root, rss) in roots.iter().zip(now) {
            if let Some(m) = memory.services.iter_mut().find(|m| m.service == root.name) {
                m.recovered_rss_mib = Some(rss);
            }
        }
        memory.quiet_period_s = Some(quiet.as_secs_f64());
        report::write(dir, report, &plan.formats)
            .map_err(|e| format!("cannot write the report in {}: {e}", dir.display()))?;
    }
    match services.dead() {
        Some(dead) => Err(dead),
        None => Ok(()),
    }
}

/// What measuring a step needs, the same for a planned step and a search probe.
struct Runner<'a> {
    plan: &'a Plan,
    target: Arc<load::Prepared>,
    baseline: Option<(Arc<load::Prepared>, &'a plan::Target)>,
    upstream: Option<std::net::SocketAddr>,
    options: &'a Options,
    cancel: &'a CancellationToken,
    live: Arc<Live>,
    dir: &'a Path,
    /// Each step's offset from `--start-at` (shards line up on them).
    offsets: &'a [Duration],
}

impl Runner<'_> {
    /// Run `step` on the target (and the direct baseline), add it to the
    /// report and rewrite the report; a dead service or a failed harness
    /// fails the step, and the run.
    async fn measure(
        &self,
        step: &plan::Step,
        services: &mut Supervisor,
        report: &mut Report,
        raw: &mut Vec<RawStep>,
    ) -> Result<(), String> {
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
            report_step.error = failure.as_ref().map(|e| plan.hide(e));
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
    fn write(&self, report: &mut Report) -> Result<(), String> {
        report.frontier = frontier::compute(report, &self.plan.capacity.frontier);
        report::write(self.dir, report, &self.plan.formats)
            .map_err(|e| format!("cannot write the report in {}: {e}", self.dir.display()))
    }
}

/// A step whose figures describe the harness rather than the target is a
/// failed run, never a verdict: the client's own machine refused requests
/// (file descriptors, local ports), or nothing answered at all.
fn harness_failure(step: &StepReport, url: &str) -> Result<(), String> {
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
        return Err(format!(
            "step {} ({}): the client's own machine refused {} of {} requests \
             (out of file descriptors or local ports; {}): these figures measure the harness, \
             not the target. Raise `ulimit -n` or lower load.concurrency",
            step.index + 1,
            step.level,
            m.errors.client,
            m.requests,
            classes()
        ));
    }
    // A non-2xx status, a broken HTTP answer or one of the wrong shape is
    // still an answer: the target's failure, for the assertions to judge.
    let answered =
        m.successes + m.errors.status.values().sum::<u64>() + m.errors.protocol + m.errors.shape;
    if m.requests > 0 && answered == 0 && !step.cancelled {
        return Err(format!(
            "step {} ({}): nothing answered at {url}: all {} requests failed ({})",
            step.index + 1,
            step.level,
            m.requests,
            classes()
        ));
    }
    Ok(())
}

fn write_file(f: &plan::PlannedFile) -> Result<(), String> {
    if let Some(parent) = f.path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    std::fs::write(&f.path, &f.content)
        .map_err(|e| format!("cannot write {}: {e}", f.path.display()))?;
    if let Some(user) = &f.owner {
        let u = nix::unistd::User::from_name(user)
            .ok()
            .flatten()
            .ok_or_else(|| format!("user `{user}` does not exist"))?;
        if let Some(parent) = f.path.parent() {
            let _ = nix::unistd::chown(parent, Some(u.uid), Some(u.gid));
        }
        nix::unistd::chown(&f.path, Some(u.uid), Some(u.gid))
            .map_err(|e| format!("cannot hand {} to `{user}`: {e}", f.path.display()))?;
    }
    Ok(())
}

/// Make the setup calls in order; values they capture feed later bodies.
async fn setup_calls(plan: &Plan, log: &Path) -> Result<(), String> {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    let mut captured = serde_json::Map::new();
    let mut lines = String::new();
    for call in &plan.setup {
        let mut ctx = plan.context.clone();
        if let Some(map) = ctx.as_object_mut() {
            map.insert(
                "captured".into(),
                serde_json::Value::Object(captured.clone()),
            );
        }
        let body = match &call.body {
            Some(t) => env.render_str(t, &ctx).map_err(|e| {
                format!(
                    "setup call `{}`: its body does not render: {e:#}",
                    call.name
                )
            })?,
            None => String::new(),
        };
        let answer = http_call(
            &call.method,
            &call.url,
            &call.headers,
            body.clone().into(),
            Duration::from_secs(60),
        )
        .await;
        let (status, answer) = answer.map_err(|e| format!("setup call `{}`: {e}", call.name))?;
        let text = String::from_utf8_lossy(&answer);
        lines.push_str(&format!(
            "{} {} -> {status}\n  sent: {body}\n  got: {text}\n",
            call.method, call.url
        ));
        let _ = std::fs::write(log, plan.hide(&lines));
        if !(200..300).contains(&status) {
            return Err(plan.hide(&format!(
                "setup call `{}` ({} {}) answered {status}: {}",
                call.name,
                call.method,
                call.url,
                text.chars().take(500).collect::<String>()
            )));
        }
        if call.capture.is_empty() {
            continue;
        }
        let json: serde_json::Value = serde_json::from_slice(&answer)
            .map_err(|e| format!("setup call `{}` answered non-JSON ({e}): {text}", call.name))?;
        for (name, pointer) in &call.capture {
            let value = json.pointer(pointer).ok_or_else(|| {
                format!(
                    "setup call `{}`: no `{pointer}` in its answer to capture as `{name}`: {text}",
                    call.name
                )
            })?;
            captured.insert(name.clone(), value.clone());
        }
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
) -> Result<(StepReport, Option<String>, Option<RawStep>), String> {
    live.reset();
    let step_cancel = cancel.child_token();
    let bar = progress_bar(options.progress, step, baseline);
    let task = {
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
    };
    tokio::pin!(task);
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    let started = std::time::Instant::now();
    let mut died = None;
    let roots = services.roots();
    let mut sampler = (!roots.is_empty()).then(|| Sampler::new(roots));
    // The gateway's own series, through the target only.
    let mut scraper = Scraper::new(metrics.0.to_vec(), metrics.1.to_vec()).filter(|_| !baseline);
    let mut ticks = 0u32;
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
                ticks += 1;
                if ticks % 5 == 0 {
                    if let Some(s) = sampler.as_mut() {
                        s.sample();
                    }
                    if let Some(s) = scraper.as_mut() {
                        s.scrape().await;
                    }
                }
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
    if let Some(e) = scraper.as_ref().and_then(|s| s.error.as_ref()) {
        eprintln!("warning: step {}: {e}", step.index + 1);
    }
    // A service that died between two ticks, or in the step's last moments,
    // fails the step all the same.
    if died.is_none() {
        died = services.dead();
    }
    let (outcome, upstream_stats) = outcome
        .map_err(|e| format!("step {} crashed: {e}", step.index + 1))?
        .map_err(|e| format!("step {} could not run: {e}", step.index + 1))?;
    if outcome.warmup.client > 0 && died.is_none() {
        died = Some(format!(
            "step {} (c={}): the client's own machine refused {} warm-up requests (out of \
             file descriptors or local ports): raise `ulimit -n` or lower load.concurrency",
            step.index + 1,
            step.level,
            outcome.warmup.client
        ));
    }
    let late = planned.and_then(|at| outcome.started.duration_since(at).ok());
    if let Some(late) = late.filter(|l| *l > Duration::from_millis(100)) {
        eprintln!(
            "warning: step {} ({}) started measuring {:.2} s after its planned moment (this \
             process started after it, the step before ran long, or the warm-up did): shards \
             measured apart; give a later --start-at or a longer --step-every",
            step.index + 1,
            step.level.label(),
            late.as_secs_f64()
        );
    }
    let raw = step.shard.map(|_| RawStep {
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
    });
    Ok((
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
            resources: sampler.map(Sampler::finish).unwrap_or_default(),
            upstream: upstream_stats,
            server_metrics: scraper.map(Scraper::finish).unwrap_or_default(),
        },
        died,
        raw,
    ))
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
