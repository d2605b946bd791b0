//! `scenario merge SHARD_RESULT… --out DIR`: one run folder from every
//! shard of a sharded run, judged, compared and summarised as `run` does.

use std::path::Path;

use super::ShardResult;
use crate::cli::MergeArgs;
use crate::history;
use crate::report::baseline::Baseline;
use crate::report::summary::Summary;
use crate::report::{self, Outcome, Report};

/// Merge, write, print, record and compare; the outcome's exit code is
/// that of `run`.
pub fn merge(args: &MergeArgs) -> Outcome {
    let Some((shards, report)) = read_and_merge(&args.results) else {
        return Outcome::Error;
    };
    if args.out.join("report.json").exists() {
        errln!(
            "error: {} holds a report already: give a new folder to --out",
            args.out.display()
        );
        return Outcome::Error;
    }
    let o = &args.output;
    let Ok(baseline) = Baseline::read(o.baseline.as_deref()) else {
        return Outcome::Error;
    };
    let written = std::fs::create_dir_all(&args.out)
        .and_then(|()| report::write(&args.out, &report, &shards[0].formats));
    if let Err(e) = written {
        errln!(
            "error: cannot write the merged run in {}: {e}",
            args.out.display()
        );
        return Outcome::Error;
    }
    let dir = args.out.canonicalize().unwrap_or(args.out.clone());
    if !o.quiet {
        let table = report::terminal::render(&report);
        if o.json {
            err!("{table}");
        } else {
            out!("{table}");
        }
        errln!("merged {} shards: {}", shards.len(), dir.display());
    }
    if let Some(e) = &report.error {
        errln!("error: {e}");
    }
    let mut outcome = report.outcome();
    if let Some(db) = &o.history {
        if let Err(e) = history::record(db, &report, &dir) {
            errln!(
                "warning: the merged run was not recorded in {}: {e}",
                db.display()
            );
        }
    }
    let mut summary = Summary::of(&report, &dir);
    summary.shards = Some(shards.len());
    if let Some(base) = &baseline {
        let db = o
            .history
            .clone()
            .unwrap_or_else(|| history::command::near(&dir.join("report.json")));
        let (regression, this) = base.check(&db, &report, &dir, o.json);
        outcome = outcome.max(this);
        summary.regression = Some(regression);
    }
    if o.json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&summary).unwrap_or_default()
        );
    }
    outcome
}

/// Every shard result read from `paths`, and their merged report; `None`
/// after printing why not.
fn read_and_merge(paths: &[std::path::PathBuf]) -> Option<(Vec<ShardResult>, Report)> {
    let mut shards = Vec::new();
    for path in paths {
        match super::read(Path::new(path)) {
            Ok(found) => shards.extend(found),
            Err(e) => {
                errln!("error: {e}");
                return None;
            }
        }
    }
    let (report, warnings) = match super::merge(shards.clone()) {
        Ok(m) => m,
        Err(e) => {
            errln!("error: {e}");
            return None;
        }
    };
    for w in &warnings {
        errln!("warning: {w}");
    }
    Some((shards, report))
}
