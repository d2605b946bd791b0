//! Executes a plan: start services, run every step, judge, write reports.
//!
//! The report is written before the first step and after each one; Ctrl-C,
//! a dead service or a failed step stops the run, keeps what was measured
//! and always tears the services down.

pub mod batch;
mod error;
mod setup;
mod step;

pub use error::RunError;

use step::Runner;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

use crate::assertions;
use crate::load::{self, Live};
use crate::merge::{RawStep, ShardResult};
use crate::plan::shard::{self, Shard};
use crate::plan::{self, Plan};
use crate::report::memory::Memory;
use crate::report::{self, Environment, Report, ScenarioInfo, Status};
use crate::scenario::Scenario;
use crate::search::Bisection;
use crate::topology::resources;
use crate::topology::{provision, Supervisor, TopologyError};

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
pub struct Finished {
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

/// The report of a run starting now: its scenario (secrets redacted) and
/// plan, no step yet.
fn new_report(scenario: &Scenario, planned: Option<&Plan>) -> Report {
    let secrets = planned.map(|p| p.secrets.clone()).unwrap_or_default();
    Report {
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
        plan: planned.and_then(|p| {
            p.shown()
                .map_err(|e| errln!("warning: {e}; report.json keeps no plan"))
                .ok()
        }),
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
        regression: scenario.model.assertions.regression,
        verdicts: Vec::new(),
    }
}

/// A shard's lossless result: its report's facts and every step's recorder.
fn shard_result(
    shard: Shard,
    options: &Options,
    report: &Report,
    plan: &Plan,
    steps: Vec<RawStep>,
) -> ShardResult {
    ShardResult {
        format: crate::merge::FORMAT,
        shard,
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
        steps,
    }
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
) -> std::io::Result<Finished> {
    let cancel = interrupt.stop.clone();
    std::fs::create_dir_all(dir)?;
    let dir = dir.canonicalize().unwrap_or(dir.to_path_buf());
    let planned = plan::build(scenario, facts, &dir).map_err(|e| e.to_string());
    let planned = match (planned, options.shard) {
        (Ok(mut p), Some(s)) => shard::apply(&mut p, s)
            .map(|()| p)
            .map_err(|e| e.to_string()),
        (planned, _) => planned,
    };
    let mut report = new_report(scenario, planned.as_ref().ok());
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
            return Ok(Finished {
                report,
                dir,
                shard: None,
            });
        }
    };

    report.environment.cpus = plan.cpus.clone();
    let mut services = supervisor(&plan, &dir, &facts.exe);
    // The tool's own threads (this runtime's, the blocking pool's) are the harness's.
    let _pinned = plan
        .cpus
        .as_ref()
        .map(|p| crate::topology::cpus::pin_process(&p.harness))
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
    remove_secret_files(&plan);
    judge(&mut report, result, &plan, options.shard.is_some(), &cancel);
    report.finished_at = Some(now());
    if let Err(e) = report::write(&dir, &report, &plan.formats) {
        // Leave no report that claims more than the exit code will say.
        report.status = Status::Failed;
        report.error = Some(format!("cannot write the reports: {e}"));
        let _ = report::write(&dir, &report, &plan.formats);
        return Err(e);
    }
    let shard = options
        .shard
        .map(|s| shard_result(s, options, &report, &plan, raw));
    if let Some(result) = &shard {
        let json = serde_json::to_string(result).map_err(std::io::Error::other)?;
        std::fs::write(dir.join("shard.json"), json)?;
    }
    Ok(Finished { report, dir, shard })
}

/// The run's supervisor, its services pinned to the plan's CPUs; with a
/// guardian only when the plan starts processes (see [`Supervisor::new`]).
fn supervisor(plan: &Plan, dir: &Path, exe: &str) -> Supervisor {
    let guard_with = (!plan.services.is_empty()).then_some(exe);
    let mut services = Supervisor::new(&dir.join("logs"), guard_with);
    services.pin(plan.cpus.clone());
    services
}

/// Files that hold secrets (passwords in config files) do not outlive the run.
fn remove_secret_files(plan: &Plan) {
    for f in &plan.files {
        if plan
            .secrets
            .iter()
            .any(|s| !s.is_empty() && f.content.contains(s.as_str()))
        {
            let _ = std::fs::remove_file(&f.path);
        }
    }
}

/// The run's status once `drive` returned `result`: complete and judged
/// (a shard judges nothing), interrupted, or failed with the error.
fn judge(
    report: &mut Report,
    result: Result<(), RunError>,
    plan: &Plan,
    sharded: bool,
    cancel: &CancellationToken,
) {
    match result {
        Ok(()) if cancel.is_cancelled() => report.status = Status::Interrupted,
        Ok(()) if sharded => report.status = Status::Complete,
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
            report.error = Some(plan.hide(&e.to_string()));
        }
    }
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
) -> Result<(), RunError> {
    let offsets = match options.start_at {
        Some(_) => shard::offsets(&plan.steps, options.step_every)?,
        None => Vec::new(),
    };
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).map_err(|source| TopologyError::File {
        action: "create",
        path: logs.clone(),
        source,
    })?;
    if !start_services(plan, cancel, services, &logs).await? {
        return Ok(());
    }
    // Idle: every service ready, no request made yet.
    report.memory = idle_memory(services);
    setup::run(plan, &logs.join("setup.log")).await?;

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
        if !bisect(&run, search, services, report, raw).await? {
            return Ok(());
        }
    }
    // The last step can end before a dying service is noticed.
    if let Some(dead) = services.exited() {
        return Err(dead.into());
    }
    if !recovered_memory(plan, services, report, dir, cancel).await? {
        return Ok(());
    }
    match services.exited() {
        Some(dead) => Err(dead.into()),
        None => Ok(()),
    }
}

/// Provision, write the files, then start the services wave by wave;
/// `false` when cancelled while provisioning.
async fn start_services(
    plan: &Plan,
    cancel: &CancellationToken,
    services: &mut Supervisor,
    logs: &Path,
) -> Result<bool, RunError> {
    if let Some(p) = &plan.provision {
        if !provision::is_ready(p) {
            errln!(
                "provisioning {} (first run with these requirements; later runs reuse it) …",
                p.venv.display()
            );
        }
        let log = logs.join("provision.log");
        tokio::select! {
            r = provision::ensure(p, &log) => r?,
            _ = cancel.cancelled() => return Ok(false),
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
    Ok(true)
}

/// Each started service's RSS before any request, or `None` without services.
fn idle_memory(services: &Supervisor) -> Option<Memory> {
    let roots = services.roots();
    if roots.is_empty() {
        return None;
    }
    let idle = resources::rss_now(&roots);
    let idle: Vec<_> = roots
        .iter()
        .zip(idle)
        .map(|(r, rss)| (r.name.clone(), r.role, rss))
        .collect();
    Some(Memory::idle(&idle))
}

/// `[load] search`: probe levels until the bisection ends; `Ok(false)`
/// when cancelled or cut short (the run ends there).
async fn bisect(
    run: &Runner<'_>,
    search: &crate::plan::capacity::SearchPlan,
    services: &mut Supervisor,
    report: &mut Report,
    raw: &mut Vec<RawStep>,
) -> Result<bool, RunError> {
    let mut bisection = Bisection::new(search.clone());
    report.search = Some(bisection.result());
    while let Some(level) = bisection.next_level() {
        if run.cancel.is_cancelled() {
            return Ok(false);
        }
        let index = report.steps.iter().map(|s| s.index + 1).max().unwrap_or(0);
        let step = search.probe(index, level);
        run.measure(&step, services, report, raw).await?;
        let measured = report.steps_of(report::Side::Target).last();
        if let Some(s) = measured.filter(|s| s.index == index && s.measured()) {
            bisection.record(level, index, &s.metrics);
        } else {
            // Cut short: judged on nothing, the search stops here.
            return Ok(false);
        }
        report.search = Some(bisection.result());
    }
    report.search = Some(bisection.result());
    run.write(report)?;
    Ok(true)
}

/// `[report] quiet_period`: after the last step, each service's RSS once
/// the load has been gone that long; `Ok(false)` when cancelled meanwhile.
async fn recovered_memory(
    plan: &Plan,
    services: &Supervisor,
    report: &mut Report,
    dir: &Path,
    cancel: &CancellationToken,
) -> Result<bool, RunError> {
    let (Some(quiet), Some(memory)) = (plan.quiet_period, report.memory.as_mut()) else {
        return Ok(true);
    };
    tokio::select! {
        _ = tokio::time::sleep(quiet) => {}
        _ = cancel.cancelled() => return Ok(false),
    }
    let roots = services.roots();
    let now = resources::rss_now(&roots);
    for (root, rss) in roots.iter().zip(now) {
        if let Some(m) = memory.services.iter_mut().find(|m| m.service == root.name) {
            m.recovered_rss_mib = Some(rss);
        }
    }
    memory.quiet_period_s = Some(quiet.as_secs_f64());
    report::write(dir, report, &plan.formats).map_err(|source| RunError::Report {
        dir: dir.to_path_buf(),
        source,
    })?;
    Ok(true)
}

fn write_file(f: &plan::PlannedFile) -> Result<(), RunError> {
    let file_error = |action, path: &Path| {
        let path = path.to_path_buf();
        move |source| TopologyError::File {
            action,
            path,
            source,
        }
    };
    if let Some(parent) = f.path.parent() {
        std::fs::create_dir_all(parent).map_err(file_error("create", parent))?;
    }
    std::fs::write(&f.path, &f.content).map_err(file_error("write", &f.path))?;
    if let Some(user) = &f.owner {
        let u = nix::unistd::User::from_name(user)
            .ok()
            .flatten()
            .ok_or_else(|| TopologyError::NoUser(user.clone()))?;
        if let Some(parent) = f.path.parent() {
            let _ = nix::unistd::chown(parent, Some(u.uid), Some(u.gid));
        }
        nix::unistd::chown(&f.path, Some(u.uid), Some(u.gid)).map_err(|source| {
            RunError::Chown {
                user: user.clone(),
                path: f.path.clone(),
                source,
            }
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("scenario-run-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn planned(path: PathBuf, owner: Option<&str>) -> plan::PlannedFile {
        plan::PlannedFile {
            path,
            owner: owner.map(str::to_string),
            content: "x".into(),
        }
    }

    /// A planned file that cannot be written names the folder, what failed
    /// and why, as a topology error the report shows unchanged.
    #[test]
    fn a_planned_file_that_cannot_be_written_names_the_folder() {
        let dir = scratch("unwritable");
        let blocker = dir.join("blocker");
        std::fs::write(&blocker, "a file, not a folder").unwrap();
        let e = write_file(&planned(blocker.join("conf/app.yaml"), None)).unwrap_err();
        assert!(
            matches!(
                e,
                RunError::Topology(TopologyError::File {
                    action: "create",
                    ..
                })
            ),
            "{e:?}"
        );
        let text = e.to_string();
        let wanted = format!("cannot create {}: ", blocker.join("conf").display());
        assert!(text.starts_with(&wanted), "{text}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_planned_file_for_an_unknown_owner_says_to_create_it_or_drop_user() {
        let dir = scratch("no-owner");
        let file = planned(dir.join("app.yaml"), Some("no-such-user-scn"));
        let e = write_file(&file).unwrap_err();
        assert!(
            matches!(e, RunError::Topology(TopologyError::NoUser(_))),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            "user `no-such-user-scn` does not exist; create it or remove the service's `user`"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
