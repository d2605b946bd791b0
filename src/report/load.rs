//! Reading a report back: [`Report::load`] from a `report.json`, a run
//! folder, or a scenario's results folder (its latest run), for `compare`,
//! `report`, `merge --baseline` and `history import`.

use std::path::{Path, PathBuf};

use super::{Report, SCHEMA_VERSION};

impl Report {
    /// The report at `path` (a `report.json`, a run folder holding one, or a
    /// scenario's results folder: its latest run) and the file it was read
    /// from; `Err` says which file and why.
    pub fn load(path: &Path) -> Result<(Report, PathBuf), String> {
        let file = if path.is_dir() {
            let direct = path.join("report.json");
            if direct.is_file() {
                direct
            } else {
                latest_run(path).ok_or_else(|| {
                    format!(
                        "{} holds no report.json (nor a run folder with one)",
                        path.display()
                    )
                })?
            }
        } else {
            path.to_path_buf()
        };
        let text = std::fs::read_to_string(&file)
            .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        let report: Report = serde_json::from_str(&text)
            .map_err(|e| format!("{} is not a scenario report: {e}", file.display()))?;
        if report.schema_version > SCHEMA_VERSION {
            return Err(format!(
                "{} has report schema {}, newer than this tool's {}",
                file.display(),
                report.schema_version,
                SCHEMA_VERSION
            ));
        }
        Ok((report, file))
    }
}

/// The latest `<timestamp>/report.json` under a scenario's results folder.
fn latest_run(dir: &Path) -> Option<PathBuf> {
    let mut runs: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path().join("report.json"))
        .filter(|p| p.is_file())
        .collect();
    runs.sort();
    runs.pop()
}

/// `scenario report RUN_DIR --format F`: re-render one format from report.json.
pub fn rerender(args: &crate::cli::ReportArgs) -> super::Outcome {
    let report = match Report::load(&args.run) {
        Ok((r, _)) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return super::Outcome::Error;
        }
    };
    let exporter = super::exporter(args.format.name()).expect("every ReportFormat has an exporter");
    crate::out::emit(&exporter.render(&report), args.out.as_deref()).into()
}
