//! Command dispatch: each subcommand as a function from arguments to an exit code.
//!
//! Exit codes: 0 all assertions passed, 1 an assertion failed, 2 bad input
//! or a run error, 130 interrupted.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;

use crate::cli::{
    Cli, Command, CompareArgs, CompareFormat, DoctorArgs, HistoryArgs, HistoryCommand, ImportArgs,
    K8sArgs, MergeArgs, PlanArgs, ReportArgs, RunArgs, ValidateArgs,
};
use crate::history::{self, check::HistoryCheck};
use crate::plan::{self, Plan};
use crate::report::compare::{self, Comparison, Grade};
use crate::report::{self, Report, Status};
use crate::run;
use crate::scenario::{self, Scenario};

/// `print!` that never panics: when stdout is gone (`scenario plan | head`),
/// the rest of the output is dropped quietly and the command carries on.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// `println!` that never panics; see [`out!`].
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

const FAILED: u8 = 1;
const ERROR: u8 = 2;
const INTERRUPTED: u8 = 130;

pub fn main(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Run(args) => run_command(args),
        Command::Validate(args) => validate(args),
        Command::Plan(args) => plan_command(args),
        Command::Doctor(args) => doctor(args),
        Command::Provision(args) => provision_command(args),
        Command::FakeUpstream(args) => crate::upstream::process::main(args),
        Command::Compare(args) => compare_command(args),
        Command::Merge(args) => merge_command(args),
        Command::K8s(args) => k8s_command(args),
        Command::Report(args) => report_command(args),
        Command::History(args) => match args.command {
            Some(HistoryCommand::Import(import)) => history_import(import),
            None => history_command(args),
        },
        Command::Guard { parent } => {
            crate::topology::guardian::main(parent);
            ExitCode::SUCCESS
        }
    }
}

/// Load and check `file`, printing every problem to stderr.
/// Every variant of `file` (one when it has none), or `None` after printing
/// every problem.
fn load(file: &Path, sets: &[String]) -> Option<Vec<Scenario>> {
    match scenario::load_variants(file, sets) {
        Ok(s) => Some(s),
        Err(diagnostics) => {
            eprint!("{}", diagnostics.render(std::io::stderr().is_terminal()));
            let n = diagnostics.problems.len();
            eprintln!(
                "error: {} in {}; nothing was started",
                if n == 1 {
                    "1 problem".to_string()
                } else {
                    format!("{n} problems")
                },
                file.display()
            );
            None
        }
    }
}

/// Warn (stderr) about per-level thresholds for levels the sweep leaves
/// out: they are reported as not measured, never as a PASS.
fn warn_unmeasured(file: &Path, all: &[Scenario]) {
    for s in all {
        let levels = s.unmeasured_levels();
        if levels.is_empty() {
            continue;
        }
        let variant = s
            .variant
            .as_ref()
            .map(|v| format!(" (variant `{v}`)"))
            .unwrap_or_default();
        let names: Vec<String> = levels.iter().map(|l| format!("c={l}")).collect();
        eprintln!(
            "warning: {}{variant}: [assert.concurrency] names {}, which this sweep does not \
             measure; those checks are reported as not measured ([assert] strict_levels = true \
             makes this an error)",
            file.display(),
            names.join(", ")
        );
    }
}

/// The single-threaded runtime commands run on (load threads have their own).
fn runtime() -> Option<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| eprintln!("error: cannot start the async runtime: {e}"))
        .ok()
}

fn exe() -> String {
    std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "scenario".into())
}

/// Where `scenario plan` shows a run's files: the real folder is made at run time.
const RUN_DIR: &str = "$RUN_DIR";

/// The machine's facts for each of `all`, gathered in order (each variant
/// leases its own ports), exactly as `run` gathers them; `None` after
/// printing why not.
fn gather(all: &[Scenario]) -> Option<Vec<plan::Facts>> {
    let exe = exe();
    all.iter()
        .map(|s| {
            plan::Facts::gather(s, &exe)
                .map_err(|e| eprintln!("error: cannot plan {}: {e}", s.file.display()))
                .ok()
        })
        .collect()
}

fn make_plan(s: &Scenario, facts: &plan::Facts) -> Option<Plan> {
    match plan::build(s, facts, Path::new(RUN_DIR)) {
        Ok(p) => Some(p),
        Err(plan::PlanError::Input(d)) => {
            eprint!("{}", d.render(std::io::stderr().is_terminal()));
            eprintln!(
                "error: cannot plan {}; nothing was started",
                s.file.display()
            );
            None
        }
        Err(e) => {
            eprintln!("error: cannot plan {}: {e}", s.file.display());
            None
        }
    }
}

/// `scenario validate`: load, then plan against this machine's facts as
/// `plan` and `run` do, so every problem shows before anything starts.
/// What the machine lacks is a warning here (`scenario doctor`), not a
/// problem of the file: the plan is checked with stand-ins for it.
fn validate(args: ValidateArgs) -> ExitCode {
    let mut ok = true;
    for file in &args.files {
        let Some(all) = load(file, &args.scenario.set) else {
            ok = false;
            continue;
        };
        warn_unmeasured(file, &all);
        let Some(facts) = gather(&all) else {
            ok = false;
            continue;
        };
        let mut planned = true;
        for (s, mut f) in all.iter().zip(facts) {
            for r in std::mem::take(&mut f.missing) {
                eprintln!(
                    "warning: {}: this machine lacks {} ({}); `scenario doctor` says how to install it",
                    file.display(),
                    r.what,
                    r.why
                );
            }
            planned &= make_plan(s, &f.assume_present(s)).is_some();
        }
        if !planned {
            ok = false;
            continue;
        }
        let s = &all[0];
        let variants = if all.len() > 1 {
            format!(", {} variants", all.len())
        } else {
            String::new()
        };
        let sweep = match &s.model.load.search {
            Some(search) => {
                let [low, high] = search.bounds();
                let what = if search.open() { "rate" } else { "concurrency" };
                format!("search over {what} [{low}, {high}]")
            }
            None => format!(
                "{} levels × {} runs",
                s.model.load.levels().len(),
                s.model.load.runs
            ),
        };
        outln!(
            "ok: {} ({sweep}, {} pool entries{variants})",
            file.display(),
            s.bodies.len()
        )
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(ERROR)
    }
}

fn plan_command(args: PlanArgs) -> ExitCode {
    let Some(all) = load(&args.file, &args.scenario.set) else {
        return ExitCode::from(ERROR);
    };
    let Some(facts) = gather(&all) else {
        return ExitCode::from(ERROR);
    };
    let mut plans = Vec::new();
    for (s, facts) in all.iter().zip(&facts) {
        let Some(mut plan) = make_plan(s, facts) else {
            return ExitCode::from(ERROR);
        };
        if let Some(shard) = args.shard {
            if sharding(s, &plan, Some(shard), false, None).is_none() {
                return ExitCode::from(ERROR);
            }
            let _ = plan::shard::apply(&mut plan, shard);
        }
        plans.push((s.variant.clone(), plan));
    }
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
    ExitCode::SUCCESS
}

/// `scenario doctor`: what each scenario needs from this machine, found or
/// not, with the command that installs what is missing.
fn doctor(args: DoctorArgs) -> ExitCode {
    let mut missing = 0;
    for file in &args.files {
        let Some(all) = load(file, &args.scenario.set) else {
            return ExitCode::from(ERROR);
        };
        let mut needs: Vec<crate::prereq::Requirement> = Vec::new();
        for r in all.iter().flat_map(crate::prereq::needs) {
            if !needs.iter().any(|n| n.what == r.what) {
                needs.push(r);
            }
        }
        let s = &all[0];
        outln!("{}:", file.display());
        if needs.is_empty() {
            outln!("  needs nothing beyond this binary");
        }
        for r in &needs {
            match &r.found {
                Some(found) => outln!("  ok       {:<22} {found}", r.what),
                None => {
                    missing += 1;
                    outln!(
                        "  MISSING  {:<22} {}\n           install: {}",
                        r.what,
                        r.why,
                        r.install
                    );
                }
            }
        }
        if let Some((profile, _)) = &s.profile {
            let facts = plan::Facts::gather(s, &exe());
            if let Ok(Ok(p)) = facts.map(|f| plan::build(s, &f, Path::new(RUN_DIR))) {
                if let Some(prov) = &p.provision {
                    let state = if crate::topology::provision::is_ready(prov) {
                        "ready".to_string()
                    } else {
                        "installed on the first run".to_string()
                    };
                    outln!(
                        "  venv     {:<22} {} ({state})",
                        profile.name,
                        prov.venv.display()
                    );
                }
            }
        }
    }
    if missing == 0 {
        ExitCode::SUCCESS
    } else {
        eprintln!("{missing} missing; install them and run `scenario doctor` again");
        ExitCode::from(ERROR)
    }
}

/// `scenario provision`: make every venv the scenarios' variants need, once.
fn provision_command(args: DoctorArgs) -> ExitCode {
    let mut provisions = Vec::new();
    for file in &args.files {
        let Some(all) = load(file, &args.scenario.set) else {
            return ExitCode::from(ERROR);
        };
        let Some(facts) = gather(&all) else {
            return ExitCode::from(ERROR);
        };
        for (s, facts) in all.iter().zip(&facts) {
            let Some(plan) = make_plan(s, facts) else {
                return ExitCode::from(ERROR);
            };
            if let Some(p) = plan.provision {
                if !provisions
                    .iter()
                    .any(|q: &plan::Provision| q.venv == p.venv)
                {
                    provisions.push(p);
                }
            }
        }
    }
    if provisions.is_empty() {
        outln!("nothing to provision: these scenarios install nothing");
        return ExitCode::SUCCESS;
    }
    let Some(runtime) = runtime() else {
        return ExitCode::from(ERROR);
    };
    for p in &provisions {
        let log = p.venv.with_extension("log");
        if crate::topology::provision::is_ready(p) {
            outln!("ready        {}", p.venv.display());
            continue;
        }
        eprintln!(
            "provisioning {} (log: {}) …",
            p.venv.display(),
            log.display()
        );
        if let Err(e) = runtime.block_on(crate::topology::provision::ensure(p, &log)) {
            eprintln!("error: {e}");
            return ExitCode::from(ERROR);
        }
        outln!("provisioned  {}", p.venv.display());
    }
    ExitCode::SUCCESS
}

fn run_command(args: RunArgs) -> ExitCode {
    if args.shard.is_some() && (args.files.len() > 1 || args.baseline.is_some()) {
        eprintln!(
            "error: --shard runs one FILE and compares nothing: give one FILE, and --baseline \
             to `scenario merge`"
        );
        return ExitCode::from(ERROR);
    }
    let start_at = match args.start_at.as_deref().map(plan::shard::parse_start_at) {
        None => None,
        Some(Ok(t)) => Some(t),
        Some(Err(e)) => {
            eprintln!("error: --start-at {e}");
            return ExitCode::from(ERROR);
        }
    };
    let step_every = args.step_every.map(Into::into);
    // Check every file before anything starts; each run executes the plan
    // made here from facts gathered (and ports leased) here.
    let loaded: Vec<Option<Vec<(Scenario, plan::Facts, Plan)>>> = args
        .files
        .iter()
        .map(|f| {
            let all = load(f, &args.scenario.set)?;
            if !args.quiet {
                warn_unmeasured(f, &all);
            }
            let facts = gather(&all)?;
            all.into_iter()
                .zip(facts)
                .map(|(s, facts)| {
                    let p = make_plan(&s, &facts)?;
                    sharding(&s, &p, args.shard, start_at.is_some(), step_every)?;
                    Some((s, facts, p))
                })
                .collect()
        })
        .collect();
    if loaded.iter().any(Option::is_none) {
        return ExitCode::from(ERROR);
    }
    // Every worker holds a connection: the open-files limit must hold the
    // largest level, or the harness's own failures would pass as the target's.
    // Raised first, so the services started later inherit it too.
    let soft = match crate::load::limits::raise_nofile() {
        Ok((soft, _)) => soft,
        Err(e) => {
            eprintln!("error: cannot read the open-files limit: {e}");
            return ExitCode::from(ERROR);
        }
    };
    let widest = loaded
        .iter()
        .flatten()
        .flatten()
        .flat_map(|(_, _, p)| &p.steps)
        .map(plan::Step::workers)
        .max()
        .unwrap_or(0);
    if let Err(e) = crate::load::limits::check_concurrency(widest, soft) {
        eprintln!("error: {e}; nothing was started");
        return ExitCode::from(ERROR);
    }
    // Read the baseline before anything starts, so a bad path costs no run.
    let baseline = match &args.baseline {
        None => None,
        Some(_) if args.files.len() > 1 => {
            eprintln!("error: --baseline compares one scenario; give one FILE");
            return ExitCode::from(ERROR);
        }
        Some(path) if path == Path::new(HISTORY) => Some(Baseline::History),
        Some(path) => match compare::load(path) {
            Ok((b, p)) => Some(Baseline::Run(Box::new(b), p)),
            Err(e) => {
                eprintln!("error: baseline: {e}");
                return ExitCode::from(ERROR);
            }
        },
    };
    let Some(runtime) = runtime() else {
        return ExitCode::from(ERROR);
    };
    let options = run::Options {
        out: args.out.clone(),
        progress: !args.quiet && std::io::stdout().is_terminal(),
        shard: args.shard,
        start_at,
        step_every,
    };
    runtime.block_on(async {
        let interrupt = run::Interrupt::default();
        tokio::spawn(forward_signals(interrupt.clone()));
        let mut code = 0u8;
        let mut summaries = Vec::new();
        'files: for group in loaded.into_iter().flatten() {
            let Some(name) = group.first().map(|(s, _, _)| s.name.clone()) else {
                continue;
            };
            let base_dir = match run::new_run_dir(&options.out, &name) {
                Ok(d) => d,
                Err(e) => {
                    eprintln!(
                        "error: cannot create a run folder under {}: {e}",
                        options.out.display()
                    );
                    return ExitCode::from(ERROR);
                }
            };
            let mut variant_runs = Vec::new();
            for (scenario, facts, plan) in group {
                let dir = match &scenario.variant {
                    Some(v) => base_dir.join(v),
                    None => base_dir.clone(),
                };
                if !args.quiet {
                    let what = scenario
                        .variant
                        .as_ref()
                        .map(|v| format!(" · {v}"))
                        .unwrap_or_default();
                    eprintln!(
                        "running {}{what} ({} steps) …",
                        plan.scenario,
                        plan.steps.len()
                    );
                }
                let outcome =
                    match run::execute(&scenario, &facts, &dir, &options, &interrupt).await {
                        Ok(o) => o,
                        Err(e) => {
                            eprintln!(
                                "error: cannot write reports under {}: {e}",
                                options.out.display()
                            );
                            return ExitCode::from(ERROR);
                        }
                    };
                let r = &outcome.report;
                if !args.quiet {
                    let table = report::terminal::render(r);
                    if args.json {
                        eprint!("{table}");
                    } else {
                        out!("{table}");
                    }
                    eprintln!("reports: {}", outcome.dir.display());
                }
                // Said once, here (the table leaves it out).
                if let Some(e) = &r.error {
                    eprintln!("error: {e}");
                }
                let this = match r.status {
                    Status::Complete if r.passed() => 0,
                    Status::Complete => FAILED,
                    Status::Interrupted => INTERRUPTED,
                    Status::Failed | Status::Running => ERROR,
                };
                code = code.max(this);
                let db = history::location(
                    args.history.as_deref(),
                    scenario.model.report.history.as_deref(),
                    &options.out,
                );
                if let (Some(result), Some(to)) = (&outcome.shard, &args.shard_out) {
                    let lines = crate::merge::to_lines(result);
                    if to == Path::new("-") {
                        out!("{lines}");
                    } else if let Err(e) = std::fs::write(to, lines) {
                        eprintln!("error: cannot write {}: {e}", to.display());
                        code = code.max(ERROR);
                    }
                }
                // A shard's figures are a part of the run's: history keeps the merged run.
                if !args.no_history && args.shard.is_none() {
                    if let Err(e) = history::record(&db, r, &outcome.dir) {
                        eprintln!(
                            "warning: the run was not recorded in its history: {e}; \
                             `scenario history import {}` records it later",
                            options.out.display()
                        );
                    }
                }
                let regression = baseline.as_ref().map(|base| {
                    let (summary, this) = regression_check(base, &db, &outcome, args.json);
                    code = code.max(this);
                    summary
                });
                if let Some(v) = &scenario.variant {
                    variant_runs.push(report::variants::VariantRun::of(v, r, outcome.dir.clone()));
                }
                summaries.push(serde_json::json!({
                    "regression": regression,
                    "variant": scenario.variant,
                    "scenario": r.scenario.name,
                    "outcome": report::outcome_word(r),
                    "status": r.status,
                    "error": r.error,
                    "report_dir": outcome.dir,
                    "levels": r.levels,
                    "frontier": r.frontier,
                    "search": r.search,
                    "verdicts": r.verdicts,
                }));
                if r.status == Status::Interrupted {
                    write_variants(&name, &base_dir, &variant_runs, args.quiet, args.json);
                    break 'files;
                }
            }
            write_variants(&name, &base_dir, &variant_runs, args.quiet, args.json);
        }
        if args.json {
            let doc = serde_json::json!({ "runs": summaries });
            outln!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
        }
        ExitCode::from(code)
    })
}

/// With `--shard`: refuse (printing why) what cannot be sharded — services
/// to start, several variants, steps whose starts cannot be planned.
fn sharding(
    s: &Scenario,
    p: &Plan,
    shard: Option<plan::shard::Shard>,
    start_at: bool,
    every: Option<std::time::Duration>,
) -> Option<()> {
    let fail = |e: String| {
        eprintln!("error: {}: {e}; nothing was started", s.file.display());
    };
    if let Some(shard) = shard {
        if s.variant.is_some() {
            fail(format!(
                "--shard {shard} runs one scenario, and this file has variants: pick one with \
                 `--set` or shard each variant as its own run"
            ));
            return None;
        }
        if let Err(e) = plan::shard::apply(&mut p.clone(), shard) {
            fail(e);
            return None;
        }
        for step in p.steps.iter().filter(|st| shard.load_of(st).workers == 0) {
            eprintln!(
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
        if let Err(e) = plan::shard::offsets(&p.steps, every) {
            fail(e);
            return None;
        }
    }
    Some(())
}

/// `scenario merge SHARD_RESULT… --out DIR`: one run folder from every
/// shard of a sharded run; exit codes as `run`.
fn merge_command(args: MergeArgs) -> ExitCode {
    let mut shards = Vec::new();
    for path in &args.results {
        match crate::merge::read(path) {
            Ok(found) => shards.extend(found),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(ERROR);
            }
        }
    }
    let (report, warnings) = match crate::merge::merge(shards.clone()) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(ERROR);
        }
    };
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    if args.out.join("report.json").exists() {
        eprintln!(
            "error: {} holds a report already: give a new folder to --out",
            args.out.display()
        );
        return ExitCode::from(ERROR);
    }
    let baseline = match &args.baseline {
        None => None,
        Some(path) if path == Path::new(HISTORY) => Some(Baseline::History),
        Some(path) => match compare::load(path) {
            Ok((b, p)) => Some(Baseline::Run(Box::new(b), p)),
            Err(e) => {
                eprintln!("error: baseline: {e}");
                return ExitCode::from(ERROR);
            }
        },
    };
    let formats = &shards[0].formats;
    let written = std::fs::create_dir_all(&args.out)
        .and_then(|()| report::write(&args.out, &report, formats));
    if let Err(e) = written {
        eprintln!(
            "error: cannot write the merged run in {}: {e}",
            args.out.display()
        );
        return ExitCode::from(ERROR);
    }
    let dir = args.out.canonicalize().unwrap_or(args.out.clone());
    let outcome = run::Outcome {
        report,
        dir,
        shard: None,
    };
    let r = &outcome.report;
    if !args.quiet {
        let table = report::terminal::render(r);
        if args.json {
            eprint!("{table}");
        } else {
            out!("{table}");
        }
        eprintln!("merged {} shards: {}", shards.len(), outcome.dir.display());
    }
    if let Some(e) = &r.error {
        eprintln!("error: {e}");
    }
    let mut code = match r.status {
        Status::Complete if r.passed() => 0,
        Status::Complete => FAILED,
        Status::Interrupted => INTERRUPTED,
        Status::Failed | Status::Running => ERROR,
    };
    if let Some(db) = &args.history {
        if let Err(e) = history::record(db, r, &outcome.dir) {
            eprintln!(
                "warning: the merged run was not recorded in {}: {e}",
                db.display()
            );
        }
    }
    let db = args
        .history
        .clone()
        .unwrap_or_else(|| history_near(&outcome.dir.join("report.json")));
    let regression = baseline.as_ref().map(|base| {
        let (summary, this) = regression_check(base, &db, &outcome, args.json);
        code = code.max(this);
        summary
    });
    if args.json {
        let doc = serde_json::json!({
            "regression": regression,
            "scenario": r.scenario.name,
            "shards": shards.len(),
            "outcome": report::outcome_word(r),
            "status": r.status,
            "error": r.error,
            "report_dir": outcome.dir,
            "levels": r.levels,
            "verdicts": r.verdicts,
        });
        outln!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    }
    ExitCode::from(code)
}

/// `scenario k8s FILE --shards N --image IMAGE`: the manifest on stdout,
/// how to collect and merge on stderr.
fn k8s_command(args: K8sArgs) -> ExitCode {
    let Some(all) = load(&args.file, &args.scenario.set) else {
        return ExitCode::from(ERROR);
    };
    let start_at = match args.start_at.as_deref().map(plan::shard::parse_start_at) {
        Some(Err(e)) => {
            eprintln!("error: --start-at {e}");
            return ExitCode::from(ERROR);
        }
        Some(Ok(t)) => t,
        None => crate::k8s::default_start(),
    };
    let Some(facts) = gather(&all) else {
        return ExitCode::from(ERROR);
    };
    let Some(plan) = make_plan(&all[0], &facts[0]) else {
        return ExitCode::from(ERROR);
    };
    if args.shards == 0 {
        eprintln!("error: --shards must be at least 1");
        return ExitCode::from(ERROR);
    }
    let every = args.step_every.map(Into::into);
    // Every pod's plan is refused for the same reasons as shard 0's.
    let shard = plan::shard::Shard {
        index: 0,
        count: args.shards,
    };
    if sharding(&all[0], &plan, Some(shard), true, every).is_none() {
        return ExitCode::from(ERROR);
    }
    let files = match crate::k8s::files_of(&args.file, &args.scenario.set) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(ERROR);
        }
    };
    let job = crate::k8s::Job {
        name: args
            .name
            .clone()
            .unwrap_or_else(|| crate::k8s::name_for(&all[0].name)),
        namespace: args.namespace.clone(),
        image: args.image.clone(),
        shards: args.shards,
        start_at,
        step_every: every,
        sets: args.scenario.set.clone(),
        files,
    };
    let manifest = match job.manifest() {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(ERROR);
        }
    };
    out!("{manifest}");
    eprint!("{}", job.instructions());
    ExitCode::SUCCESS
}

/// `scenario compare BASE CURRENT`: exit 1 on a FAIL, 0 on OK or WARN, 2 on bad input.
fn compare_command(args: CompareArgs) -> ExitCode {
    let (current, current_path) = match compare::load(&args.current) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: current: {e}");
            return ExitCode::from(ERROR);
        }
    };
    let mut t = compare::thresholds_of(&current);
    let overrides = [
        (
            &mut t.fail_p95_increase,
            args.fail_p95_increase,
            "--fail-p95-increase",
        ),
        (
            &mut t.fail_error_rate,
            args.fail_error_rate,
            "--fail-error-rate",
        ),
        (
            &mut t.warn_p95_increase,
            args.warn_p95_increase,
            "--warn-p95-increase",
        ),
        (
            &mut t.warn_p50_change,
            args.warn_p50_change,
            "--warn-p50-change",
        ),
        (
            &mut t.warn_rps_change,
            args.warn_rps_change,
            "--warn-rps-change",
        ),
    ];
    for (slot, value, flag) in overrides {
        if let Some(v) = value {
            if !(v >= 0.0 && v.is_finite()) {
                eprintln!("error: {flag} must be a share ≥ 0, e.g. 0.2 for 20%");
                return ExitCode::from(ERROR);
            }
            *slot = v;
        }
    }
    let format = if args.markdown {
        CompareFormat::Md
    } else {
        args.format
    };
    let (text, grade) = if args.base == Path::new(HISTORY) {
        let db = args
            .history
            .clone()
            .unwrap_or_else(|| history_near(&current_path));
        let h: HistoryCheck =
            match history::check::against_history(&db, &current, &current_path, &t) {
                Ok(h) => h,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(ERROR);
                }
            };
        let text = match format {
            CompareFormat::Text => h.render_text(),
            CompareFormat::Md => h.render_markdown(),
            CompareFormat::Json => pretty_json(&h),
        };
        (text, h.grade)
    } else {
        let (base, base_path) = match compare::load(&args.base) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("error: base: {e}");
                return ExitCode::from(ERROR);
            }
        };
        let c: Comparison = compare::compare(&base, &base_path, &current, &current_path, &t);
        let text = match format {
            CompareFormat::Text => c.render_text(),
            CompareFormat::Md => c.render_markdown(),
            CompareFormat::Json => pretty_json(&c),
        };
        (text, c.grade)
    };
    out!("{text}");
    if let Some(out) = &args.out {
        if let Err(e) = std::fs::write(out, &text) {
            eprintln!("error: cannot write {}: {e}", out.display());
            return ExitCode::from(ERROR);
        }
    }
    if grade == Grade::Fail {
        ExitCode::from(FAILED)
    } else {
        ExitCode::SUCCESS
    }
}

/// `scenario report RUN_DIR --format F`: re-render one format from report.json.
fn report_command(args: ReportArgs) -> ExitCode {
    let report: Report = match compare::load(&args.run) {
        Ok((r, _)) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(ERROR);
        }
    };
    let exporter = args.format.exporter();
    let text = exporter.render(&report);
    emit(&text, args.out.as_deref())
}

/// Write `text` to `out`, or print it when there is none.
fn emit(text: &str, out: Option<&Path>) -> ExitCode {
    match out {
        Some(path) => {
            if let Err(e) = std::fs::write(path, text) {
                eprintln!("error: cannot write {}: {e}", path.display());
                return ExitCode::from(ERROR);
            }
        }
        None => out!("{text}"),
    }
    ExitCode::SUCCESS
}

/// Pretty JSON with a final newline.
fn pretty_json(v: &impl serde::Serialize) -> String {
    let mut j = serde_json::to_string_pretty(v).unwrap_or_default();
    j.push('\n');
    j
}

/// What `run --baseline` compares with.
enum Baseline {
    /// One earlier run: its report and where it was read.
    Run(Box<Report>, std::path::PathBuf),
    /// The median of the last comparable runs in the history database.
    History,
}

/// `--baseline history` and `compare history CURRENT`.
const HISTORY: &str = "history";

/// `run --baseline`: compare the run with the baseline (a report, or the
/// history in `db`), print it, write `compare.md`; returns the JSON summary
/// and the exit code it adds.
fn regression_check(
    base: &Baseline,
    db: &Path,
    outcome: &run::Outcome,
    json: bool,
) -> (serde_json::Value, u8) {
    let r = &outcome.report;
    let current_path = outcome.dir.join("report.json");
    let t = compare::thresholds_of(r);
    let (text, md, grade, summary) = match base {
        Baseline::Run(base, base_path) => {
            let c = compare::compare(base, base_path, r, &current_path, &t);
            let summary =
                serde_json::json!({ "grade": c.grade, "failing_levels": c.failing_levels() });
            (c.render_text(), c.render_markdown(), c.grade, summary)
        }
        Baseline::History => match history::check::against_history(db, r, &current_path, &t) {
            Ok(h) => {
                let summary = serde_json::json!({
                    "grade": h.grade,
                    "failing_levels": h.failing_levels(),
                    "history": db,
                    "baseline_runs": h.baseline_runs,
                    "drift": h.drift,
                });
                (h.render_text(), h.render_markdown(), h.grade, summary)
            }
            Err(e) => {
                eprintln!("error: --baseline history: {e}");
                return (serde_json::json!({ "error": e.to_string() }), ERROR);
            }
        },
    };
    if json {
        eprint!("\n{text}");
    } else {
        out!("\n{text}");
    }
    let mut code = 0;
    let md_path = outcome.dir.join("compare.md");
    if let Err(e) = std::fs::write(&md_path, md) {
        eprintln!("error: cannot write {}: {e}", md_path.display());
        code = ERROR;
    }
    if grade == Grade::Fail {
        code = code.max(FAILED);
    }
    (summary, code)
}

/// The history database for a run read from `report`: the first
/// `history.sqlite` in its parent folders, else `results/history.sqlite`.
fn history_near(report: &Path) -> std::path::PathBuf {
    report
        .ancestors()
        .skip(1)
        .map(|d| d.join(history::FILE_NAME))
        .find(|p| p.is_file())
        .unwrap_or_else(|| Path::new("results").join(history::FILE_NAME))
}

/// `scenario history`: the recorded runs, oldest first, in one format. A
/// database not made yet holds no run: an empty view and a note.
fn history_command(args: HistoryArgs) -> ExitCode {
    let query = history::Query {
        scenario: args.scenario.clone(),
        since: args.since.map(|d| history::cutoff(d.into())),
    };
    let runs = match history::Store::open_existing(&args.history).and_then(|s| s.runs(&query)) {
        Ok(runs) => runs,
        Err(e @ history::StoreError::Missing { .. }) => {
            eprintln!("note: {e}");
            Vec::new()
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(ERROR);
        }
    };
    let view = history::View {
        db: &args.history,
        figures: history::Figure::shown(args.metric, &runs),
        runs: &runs,
        level: args.level,
    };
    let text = view.render(args.format);
    emit(&text, args.out.as_deref())
}

/// `scenario history import DIR`: record every completed run under DIR.
fn history_import(args: ImportArgs) -> ExitCode {
    if !args.dir.is_dir() {
        eprintln!(
            "error: {} is not a folder: give the --out folder of earlier runs, e.g. results",
            args.dir.display()
        );
        return ExitCode::from(ERROR);
    }
    let db = args
        .history
        .unwrap_or_else(|| args.dir.join(history::FILE_NAME));
    let done = history::Store::open(&db)
        .and_then(|mut store| history::store::import(&mut store, &args.dir));
    match done {
        Ok(done) => {
            for why in &done.unreadable {
                eprintln!("warning: skipped {why}");
            }
            outln!(
                "imported {} runs into {} ({} recorded already, {} incomplete skipped)",
                done.added,
                db.display(),
                done.known,
                done.incomplete
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(ERROR)
        }
    }
}

/// With variants: the side-by-side comparison, printed and written as
/// `variants.md` and `variants.json` beside the variants' folders.
fn write_variants(
    name: &str,
    dir: &Path,
    runs: &[report::variants::VariantRun],
    quiet: bool,
    json: bool,
) {
    if runs.len() < 2 {
        return;
    }
    let md = report::variants::markdown(name, runs);
    let doc = serde_json::json!({ "scenario": name, "variants": runs });
    let written = std::fs::write(dir.join("variants.md"), md).and_then(|_| {
        std::fs::write(
            dir.join("variants.json"),
            serde_json::to_string_pretty(&doc).unwrap_or_default(),
        )
    });
    if let Err(e) = written {
        eprintln!(
            "error: cannot write the variant comparison in {}: {e}",
            dir.display()
        );
    }
    if !quiet {
        let text = report::variants::text(name, runs);
        if json {
            eprint!("{text}");
        } else {
            out!("{text}");
        }
        eprintln!("variants compared in {}", dir.join("variants.md").display());
    }
}

/// Ctrl-C or SIGTERM stops the step, writes the report and stops the
/// services; a second one skips the services' grace periods; a third exits
/// at once (services still die with us through their parent-death signal).
async fn forward_signals(interrupt: run::Interrupt) {
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
            0 => {
                eprintln!(
                    "\ninterrupted: stopping the step, writing the report, stopping services …"
                );
                interrupt.stop.cancel();
            }
            1 => {
                eprintln!("interrupted again: killing services now (once more to exit at once)");
                interrupt.now.cancel();
            }
            _ => std::process::exit(i32::from(INTERRUPTED)),
        }
    }
}
