//! `scenario validate`, and loading scenario files for every command that
//! reads them: each problem printed to stderr before anything starts.

use std::io::IsTerminal;
use std::path::Path;

use super::Scenario;
use crate::cli::ValidateArgs;
use crate::plan::command::{gather, make_plan};
use crate::report::Outcome;

/// Every variant of `file` (one when it has none), or `None` after printing
/// every problem.
pub fn load_or_explain(file: &Path, sets: &[String]) -> Option<Vec<Scenario>> {
    match super::load_variants(file, sets) {
        Ok(s) => Some(s),
        Err(diagnostics) => {
            err!("{}", diagnostics.render(std::io::stderr().is_terminal()));
            let n = diagnostics.problems.len();
            errln!(
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

/// Warn (stderr) about keys read under an old name, and about per-level
/// thresholds for levels the sweep leaves out: they are reported as not
/// measured, never as a PASS.
pub fn warn_unmeasured(file: &Path, all: &[Scenario]) {
    let mut said = Vec::new();
    for w in all.iter().flat_map(|s| &s.warnings) {
        if !said.contains(&w) {
            errln!("{w}");
            said.push(w);
        }
    }
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
        errln!(
            "warning: {}{variant}: [assert.concurrency] names {}, which this sweep does not \
             measure; those checks are reported as not measured ([assert] strict_levels = true \
             makes this an error)",
            file.display(),
            names.join(", ")
        );
    }
}

/// `scenario validate`: load, then plan against this machine's facts as
/// `plan` and `run` do, so every problem shows before anything starts.
/// What the machine lacks is a warning here (`scenario doctor`), not a
/// problem of the file: the plan is checked with stand-ins for it.
pub fn validate(args: &ValidateArgs) -> Outcome {
    let mut ok = true;
    for file in &args.files {
        match validate_one(file, &args.scenario.set) {
            Some(line) => outln!("{line}"),
            None => ok = false,
        }
    }
    Outcome::checked(ok)
}

/// The `ok: …` line of one file, or `None` after printing its problems.
fn validate_one(file: &Path, sets: &[String]) -> Option<String> {
    let all = load_or_explain(file, sets)?;
    warn_unmeasured(file, &all);
    let facts = gather(&all)?;
    let mut planned = true;
    for (s, mut f) in all.iter().zip(facts) {
        for r in std::mem::take(&mut f.missing) {
            errln!(
                "warning: {}: this machine lacks {} ({}); `scenario doctor` says how to install it",
                file.display(),
                r.what,
                r.why
            );
        }
        planned &= make_plan(s, &f.assume_present(s)).is_some();
    }
    if !planned {
        return None;
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
    Some(format!(
        "ok: {} ({sweep}, {} pool entries{variants})",
        file.display(),
        s.bodies.len()
    ))
}
