//! Command dispatch: each subcommand handed to the one function of the
//! stage that owns it, its [`Outcome`] turned into the exit code.
//!
//! Exit codes ([`Outcome::exit_code`]): 0 all assertions passed, 1 an
//! assertion failed, 2 bad input or a run error, 130 interrupted.

use std::process::ExitCode;

use crate::cli::{Cli, Command, HistoryCommand};
use crate::report::{self, Outcome};
use crate::{history, k8s, merge, plan, prereq, run, scenario};

pub fn main(cli: Cli) -> ExitCode {
    let outcome = match cli.command {
        Command::Run(args) => run::batch::run(&args),
        Command::Validate(args) => scenario::command::validate(&args),
        Command::Plan(args) => plan::command::plan(&args),
        Command::Doctor(args) => prereq::doctor(&args),
        Command::Provision(args) => prereq::provision(&args),
        Command::FakeUpstream(args) => return crate::upstream::process::main(args),
        Command::Compare(args) => report::baseline::compare_command(&args),
        Command::Merge(args) => merge::command::merge(&args),
        Command::K8s(args) => k8s::command(&args),
        Command::Report(args) => report::rerender(&args),
        Command::Schema { kind } => return crate::schema::main(kind),
        Command::History(args) => match &args.command {
            Some(HistoryCommand::Import(import)) => history::command::import(import),
            None => history::command::list(&args),
        },
        Command::Guard { parent } => {
            crate::topology::guardian::main(parent);
            Outcome::Pass
        }
    };
    ExitCode::from(outcome.exit_code())
}
