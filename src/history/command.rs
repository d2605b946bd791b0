//! `scenario history` and `scenario history import`, and where a run's
//! history database is looked for.

use std::path::{Path, PathBuf};

use super::{store, Figure, Query, Store, StoreError, View, FILE_NAME};
use crate::cli::{HistoryArgs, ImportArgs};
use crate::report::Outcome;

/// The history database for a run read from `report`: the first
/// `history.sqlite` in its parent folders, else `results/history.sqlite`.
pub fn near(report: &Path) -> PathBuf {
    report
        .ancestors()
        .skip(1)
        .map(|d| d.join(FILE_NAME))
        .find(|p| p.is_file())
        .unwrap_or_else(|| Path::new("results").join(FILE_NAME))
}

/// `scenario history`: the recorded runs, oldest first, in one format. A
/// database not made yet holds no run: an empty view and a note.
pub fn list(args: &HistoryArgs) -> Outcome {
    let query = Query {
        scenario: args.scenario.clone(),
        since: args.since.map(|d| super::cutoff(d.into())),
    };
    let runs = match Store::open_existing(&args.history).and_then(|s| s.runs(&query)) {
        Ok(runs) => runs,
        Err(e @ StoreError::Missing { .. }) => {
            errln!("note: {e}");
            Vec::new()
        }
        Err(e) => {
            errln!("error: {e}");
            return Outcome::Error;
        }
    };
    let view = View {
        db: &args.history,
        figures: Figure::shown(args.metric, &runs),
        runs: &runs,
        level: args.level,
    };
    crate::out::emit(&view.render(args.format), args.out.as_deref()).into()
}

/// `scenario history import DIR`: record every completed run under DIR.
pub fn import(args: &ImportArgs) -> Outcome {
    if !args.dir.is_dir() {
        errln!(
            "error: {} is not a folder: give the --out folder of earlier runs, e.g. results",
            args.dir.display()
        );
        return Outcome::Error;
    }
    let db = args
        .history
        .clone()
        .unwrap_or_else(|| args.dir.join(FILE_NAME));
    let done = Store::open(&db).and_then(|mut store| store::import(&mut store, &args.dir));
    match done {
        Ok(done) => {
            for why in &done.unreadable {
                errln!("warning: skipped {why}");
            }
            outln!(
                "imported {} runs into {} ({} recorded already, {} incomplete skipped)",
                done.added,
                db.display(),
                done.known,
                done.incomplete
            );
            Outcome::Pass
        }
        Err(e) => {
            errln!("error: {e}");
            Outcome::Error
        }
    }
}
