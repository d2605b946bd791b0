//! `scenario`: parse the command line, hand it to the library, exit with its code.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = scenario::cli::Cli::parse();
    scenario::app::main(cli)
}
