//! Command-line interface: clap definitions only, no logic.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Benchmark LLM gateways from declarative TOML scenario files.
#[derive(Debug, Parser)]
#[command(name = "scenario", version, about, long_about = None, after_help = EXAMPLES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

const EXAMPLES: &str = "\
Examples:
  scenario run scenarios/quickstart.toml
  scenario run scenarios/quickstart.toml --set load.requests=200 --set 'load.concurrency=[1,10]'
  scenario validate scenarios/*.toml
  scenario plan scenarios/quickstart.toml --json
  scenario doctor scenarios/mlflow-multi.toml
  scenario provision scenarios/mlflow-multi.toml
  scenario fake-upstream --port 9137 --delay-ms 50
  scenario compare results/quickstart/20260101T000000Z results/quickstart/20260102T000000Z --markdown
  scenario report results/quickstart/20260101T000000Z --format html --out report.html
  scenario history quickstart --level 1 --metric p95_ms
  scenario run scenarios/sharded.toml --shard 0/2 --shard-out shard-0.log
  scenario merge shard-0.log shard-1.log --out results/sharded/merged
  scenario k8s scenarios/sharded.toml --shards 20 --image registry.example/scenario:1

Exit codes: 0 all assertions passed, 1 an assertion failed, 2 bad input or a run error, 130 interrupted.";

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run scenarios: start what they declare, sweep the load, write reports.
    #[command(after_help = "Examples:
  scenario run scenarios/quickstart.toml
  scenario run scenarios/quickstart.toml --out /tmp/results --quiet
  scenario run scenarios/quickstart.toml --set upstream.delay_ms=10 --set load.runs=3
  scenario run scenarios/quickstart.toml --json > summary.json
  scenario run scenarios/quickstart.toml --baseline results/baseline/report.json
  scenario run scenarios/quickstart.toml --baseline history
  scenario run scenarios/quickstart.toml --no-history
  scenario run scenarios/sharded.toml --shard 1/4 --start-at 2026-01-01T12:00:00Z --shard-out -")]
    Run(RunArgs),
    /// Merge the results of a sharded run (`run --shard I/N`) into one
    /// ordinary run folder, as if one client had sent every request:
    /// histograms added, never percentiles averaged.
    #[command(
        after_help = "SHARD_RESULT is a shard's shard.json, its run folder, a file of collected
logs holding its `#scenario-shard` lines (`kubectl logs`, with or without
--prefix; one file may hold every shard), or `-` for stdin. Every one of the
N shards must be given once. Assertions are judged on the merged figures;
the exit code is that of `run` (0 pass, 1 an assertion or --baseline FAIL,
2 bad input or a shard that failed).

Examples:
  scenario merge shard-0.log shard-1.log --out results/sharded/merged
  scenario merge results/shards/sharded/* --out /tmp/merged --json
  kubectl logs -l job-name=scenario-sharded --tail=-1 > sharded.log
  scenario merge sharded.log --out /tmp/merged-logs"
    )]
    Merge(MergeArgs),
    /// Print a Kubernetes manifest that runs a scenario sharded over N pods:
    /// a ConfigMap with the scenario and its files, and an Indexed Job whose
    /// pod I runs `scenario run --shard I/N` and logs its shard result.
    #[command(
        after_help = "The scenario must send its load to `[topology] target` (a gateway deployed
elsewhere): shards start no services. Every pod starts measuring at the same
moment (--start-at, default: 2 minutes after the manifest is printed, room
for pulling the image and scheduling). The commands that collect the logs
and merge them are printed on stderr and as comments in the manifest.

Examples:
  scenario k8s scenarios/sharded.toml --shards 8 --image registry.example/scenario:1 | kubectl apply -f -
  scenario k8s scenarios/sharded.toml --shards 8 --image scenario:dev --namespace bench --start-at 2026-01-01T12:00:00Z"
    )]
    K8s(K8sArgs),
    /// Check scenario files and report every problem; starts nothing.
    #[command(after_help = "Examples:
  scenario validate scenarios/quickstart.toml
  scenario validate scenarios/*.toml")]
    Validate(ValidateArgs),
    /// Print the execution plan `run` would carry out.
    #[command(after_help = "Examples:
  scenario plan scenarios/quickstart.toml
  scenario plan scenarios/quickstart.toml --json | jq '.steps | length'")]
    Plan(PlanArgs),
    /// List what scenarios need from this machine and how to install what is missing.
    #[command(after_help = "Examples:
  scenario doctor scenarios/mlflow-multi.toml")]
    Doctor(DoctorArgs),
    /// Install what scenarios run (gateway venvs from PyPI) without running
    /// them, so a later `run` starts at once and makes no install traffic.
    #[command(after_help = "Examples:
  scenario provision scenarios/mlflow-multi.toml
  SCENARIO_CACHE_DIR=/tmp/venvs scenario provision scenarios/*.toml")]
    Provision(DoctorArgs),
    /// Serve the built-in fake OpenAI-compatible upstream (chat, completions,
    /// embeddings, Responses) that also speaks Anthropic Messages.
    #[command(after_help = "Examples:
  scenario fake-upstream --port 9137 --delay-ms 50
  scenario fake-upstream --port 0   # picks a free port and prints it")]
    FakeUpstream(crate::upstream::Args),
    /// Compare a run against a baseline: per level and metric, the delta and
    /// a verdict (exit 1 on a FAIL, 0 on OK or WARN, 2 on bad input).
    #[command(
        after_help = "BASE and CURRENT are report.json files, run folders holding one, or a
scenario's results folder (its latest run). BASE `history` is the median of
the last comparable runs in the history database (same scenario hash, same
machine; `[assert.regression] history_runs`, default 5), with a drift check. Limits come from the current
run's [assert.regression] (defaults: FAIL p95 up > 20% or error rate > 1%;
WARN p95 up > 10%, p50 or throughput moved > 15%); flags override them.

Examples:
  scenario compare results/quickstart/20260101T000000Z results/quickstart/20260102T000000Z
  scenario compare base/report.json new/report.json --markdown > comment.md
  scenario compare base new --fail-p95-increase 0.3 --format json
  scenario compare history results/quickstart/20260102T000000Z"
    )]
    Compare(CompareArgs),
    /// Results over time: the recorded runs of a scenario as a table, or a
    /// page of trend charts; `import` backfills the database from reports.
    #[command(
        args_conflicts_with_subcommands = true,
        after_help = "Every completed run is recorded in <--out>/history.sqlite (default
results/history.sqlite); `--history PATH` reads another.

Examples:
  scenario history
  scenario history quickstart --level 1 --metric p95_ms --since 30d
  scenario history quickstart --format html --out /tmp/history.html
  scenario history import results"
    )]
    History(HistoryArgs),
    /// Print the JSON Schema of scenario files or gateway profiles, for
    /// editors: completion, hover docs and errors as you type (docs/editors.md).
    #[command(after_help = "Examples:
  scenario schema scenario > scenario.schema.json
  scenario schema profile")]
    Schema {
        #[arg(value_enum, default_value = "scenario")]
        kind: crate::schema::Kind,
    },
    /// Internal: started by `run` to kill the run's processes should the
    /// tool die without tearing down.
    #[command(hide = true)]
    Guard {
        /// The `scenario run` process to watch.
        #[arg(long)]
        parent: i32,
    },
    /// Re-render one report format from a run's report.json.
    #[command(after_help = "Examples:
  scenario report results/quickstart/20260101T000000Z --format html --out /tmp/report.html
  scenario report results/quickstart/20260101T000000Z --format md")]
    Report(ReportArgs),
}

/// Options shared by every command that reads scenario files.
#[derive(Debug, clap::Args)]
pub struct ScenarioArgs {
    /// Override a scenario key, e.g. `load.requests=200` or `load.concurrency=[1,10]`.
    /// The value is TOML; a bare word is taken as a string. Repeatable.
    #[arg(long = "set", value_name = "KEY.PATH=VALUE")]
    pub set: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Scenario files to run, one after the other.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub scenario: ScenarioArgs,
    /// Folder the reports are written under.
    #[arg(long, default_value = "results", value_name = "DIR")]
    pub out: PathBuf,
    #[command(flatten)]
    pub output: OutputArgs,
    /// Do not record the run in the history database.
    #[arg(long, conflicts_with = "history")]
    pub no_history: bool,
    /// Run shard I of N (0-based, like Kubernetes' JOB_COMPLETION_INDEX):
    /// only the workers and arrivals I, I+N, I+2N, … of every step, against
    /// `[topology] target` (a shard starts no services). The shard judges
    /// nothing and records no history; it writes shard.json for `scenario merge`.
    #[arg(long, value_name = "I/N", value_parser = parse_shard)]
    pub shard: Option<crate::plan::shard::Shard>,
    /// Also write the shard result as `#scenario-shard` log lines to this
    /// file, or to stdout with `-` (read back by `scenario merge` from
    /// collected logs).
    #[arg(long, value_name = "PATH|-", requires = "shard")]
    pub shard_out: Option<PathBuf>,
    /// Start measuring the first step at this moment (RFC 3339 or unix
    /// seconds) and each later step at its planned offset: the previous
    /// step's `duration` plus 5 s, or `--step-every` apart. Every shard
    /// given the same time measures each step over the same seconds.
    #[arg(long, value_name = "TIME")]
    pub start_at: Option<String>,
    /// With --start-at: start step k at k × this (e.g. `90s`); needed when
    /// steps stop on a request count, whose length cannot be planned.
    #[arg(long, value_name = "DURATION", requires = "start_at")]
    pub step_every: Option<humantime::Duration>,
}

fn parse_shard(s: &str) -> Result<crate::plan::shard::Shard, String> {
    s.parse()
}

#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// Shard results: shard.json files, run folders, log files, or `-`.
    #[arg(required = true, value_name = "SHARD_RESULT")]
    pub results: Vec<PathBuf>,
    /// The run folder to write (created; must not hold a report yet).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// What `run` and `merge` print, compare and record once the run is judged.
#[derive(Debug, clap::Args)]
pub struct OutputArgs {
    /// No progress bars and no summary table.
    #[arg(long, short)]
    pub quiet: bool,
    /// Print a machine-readable summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Compare the run against this baseline (a report.json or a run folder):
    /// the comparison is printed, written as compare.md, and a FAIL exits 1.
    /// `history` compares with the median of the last comparable runs in
    /// the history database, and checks for drift.
    #[arg(long, value_name = "PATH")]
    pub baseline: Option<PathBuf>,
    /// The history database the run is recorded in (`run`: default
    /// `[report] history`, else <--out>/history.sqlite; `merge`: default none).
    #[arg(long, value_name = "PATH")]
    pub history: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct K8sArgs {
    /// The scenario to run; its load goes to `[topology] target`.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    #[command(flatten)]
    pub scenario: ScenarioArgs,
    /// Pods (shards): the Job's completions and parallelism.
    #[arg(long, value_name = "N")]
    pub shards: u32,
    /// The image holding the `scenario` binary (see the Containerfile).
    #[arg(long, value_name = "IMAGE")]
    pub image: String,
    #[arg(long, value_name = "NS")]
    pub namespace: Option<String>,
    /// The Job's and ConfigMap's name (default: `scenario-<scenario name>`).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// When every pod starts measuring (RFC 3339 or unix seconds; default
    /// 2 minutes from now).
    #[arg(long, value_name = "TIME")]
    pub start_at: Option<String>,
    /// Passed to each pod's `run --step-every`.
    #[arg(long, value_name = "DURATION")]
    pub step_every: Option<humantime::Duration>,
}

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// Scenario files to check.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub scenario: ScenarioArgs,
}

#[derive(Debug, clap::Args)]
pub struct DoctorArgs {
    /// Scenario files to check.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub scenario: ScenarioArgs,
}

#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// Scenario file to expand.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    #[command(flatten)]
    pub scenario: ScenarioArgs,
    /// Print the plan as JSON.
    #[arg(long)]
    pub json: bool,
    /// Plan shard I of N (0-based): each step shows the shard's part.
    #[arg(long, value_name = "I/N", value_parser = parse_shard)]
    pub shard: Option<crate::plan::shard::Shard>,
}

/// Output of `compare`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CompareFormat {
    /// An aligned table for the terminal.
    Text,
    /// Markdown for a pull-request comment.
    Md,
    /// The comparison as JSON.
    Json,
}

#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// The baseline: a report.json, a run folder, or a scenario's results folder.
    #[arg(value_name = "BASE")]
    pub base: PathBuf,
    /// The run to judge, in the same forms.
    #[arg(value_name = "CURRENT")]
    pub current: PathBuf,
    #[arg(long, value_enum, default_value = "text")]
    pub format: CompareFormat,
    /// Same as `--format md`.
    #[arg(long, conflicts_with = "format")]
    pub markdown: bool,
    /// FAIL when p95 rose by more than this share (default 0.20).
    #[arg(long, value_name = "SHARE")]
    pub fail_p95_increase: Option<f64>,
    /// FAIL when the current error rate is above this share (default 0.01).
    #[arg(long, value_name = "SHARE")]
    pub fail_error_rate: Option<f64>,
    /// WARN when p95 rose by more than this share (default 0.10).
    #[arg(long, value_name = "SHARE")]
    pub warn_p95_increase: Option<f64>,
    /// WARN when p50 moved by more than this share (default 0.15).
    #[arg(long, value_name = "SHARE")]
    pub warn_p50_change: Option<f64>,
    /// WARN when throughput moved by more than this share (default 0.15).
    #[arg(long, value_name = "SHARE")]
    pub warn_rps_change: Option<f64>,
    /// Also write the output to this file.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// With BASE `history`: the database (default: the first history.sqlite
    /// in CURRENT's parent folders, else results/history.sqlite).
    #[arg(long, value_name = "PATH")]
    pub history: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct HistoryArgs {
    #[command(subcommand)]
    pub command: Option<HistoryCommand>,
    /// Only this scenario: its `[scenario] name`, or `name · variant`.
    #[arg(value_name = "SCENARIO")]
    pub scenario: Option<String>,
    /// Only this concurrency level.
    #[arg(long, value_name = "C")]
    pub level: Option<u32>,
    /// Only this figure (default: throughput, p50/p95/p99, error rate, and
    /// TTFT, ITL and overhead when recorded).
    #[arg(long, value_enum, value_name = "METRIC")]
    pub metric: Option<crate::history::Figure>,
    /// Only runs started within this long, e.g. `30d`, `12h`.
    #[arg(long, value_name = "AGE")]
    pub since: Option<humantime::Duration>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: crate::history::Format,
    /// The history database.
    #[arg(long, value_name = "PATH", default_value = "results/history.sqlite")]
    pub history: PathBuf,
    /// Write to this file instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum HistoryCommand {
    /// Record the completed runs under DIR (every report.json, at any depth)
    /// in the history database; runs recorded already are skipped.
    #[command(after_help = "Examples:
  scenario history import results")]
    Import(ImportArgs),
}

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// A results folder (`--out` of earlier runs).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// The database (default DIR/history.sqlite).
    #[arg(long, value_name = "PATH")]
    pub history: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// A run folder (or its report.json).
    #[arg(value_name = "RUN_DIR")]
    pub run: PathBuf,
    #[arg(long, value_enum)]
    pub format: crate::report::Format,
    /// Write to this file instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
