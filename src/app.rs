//! Command dispatch: each subcommand as a function from arguments to an exit code.

use std::process::ExitCode;

use crate::cli::{Cli, Command};

pub fn main(cli: Cli) -> ExitCode {
    match cli.command {
        Command::FakeUpstream(args) => fake_upstream(args),
        _ => ExitCode::from(2),
    }
}

fn fake_upstream(args: crate::upstream::Args) -> ExitCode {
    let _ = args;
    ExitCode::from(2)
}
