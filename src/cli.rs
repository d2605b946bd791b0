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
  scenario fake-upstream --port 9137 --delay-ms 50

Exit codes: 0 all assertions passed, 1 an assertion failed, 2 bad input or a run error, 130 interrupted.";

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run scenarios: start what they declare, sweep the load, write reports.
    #[command(after_help = "Examples:
  scenario run scenarios/quickstart.toml
  scenario run scenarios/quickstart.toml --out /tmp/results --quiet
  scenario run scenarios/quickstart.toml --set upstream.delay_ms=10 --set load.runs=3
  scenario run scenarios/quickstart.toml --json > summary.json")]
    Run(RunArgs),
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
    /// Serve the built-in fake OpenAI-compatible upstream.
    #[command(after_help = "Examples:
  scenario fake-upstream --port 9137 --delay-ms 50
  scenario fake-upstream --port 0   # picks a free port and prints it")]
    FakeUpstream(crate::upstream::Args),
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
    /// No progress bars and no summary table.
    #[arg(long, short)]
    pub quiet: bool,
    /// Print a machine-readable summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
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
