//! Reading a report back: [`Report::load`] from a `report.json`, a run
//! folder, or a scenario's results folder (its latest run), for `compare`,
//! `report`, `merge --baseline` and `history import`.

use std::path::{Path, PathBuf};

use super::{Report, SCHEMA_VERSION};

/// Why a report cannot be read back: each names the file (or folder).
#[derive(Debug, thiserror::Error)]
pub enum ReportLoadError {
    #[error("{} holds no report.json (nor a run folder with one)", .0.display())]
    NoReport(PathBuf),
    #[error("cannot read {}: {source}", file.display())]
    Read {
        file: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is not a scenario report: {source}", file.display())]
    NotAReport {
        file: PathBuf,
        source: serde_json::Error,
    },
    #[error("{} has report schema {schema}, newer than this tool's {SCHEMA_VERSION}", file.display())]
    Newer { file: PathBuf, schema: u32 },
}

impl Report {
    /// The report at `path` (a `report.json`, a run folder holding one, or a
    /// scenario's results folder: its latest run) and the file it was read
    /// from; `Err` says which file and why.
    pub fn load(path: &Path) -> Result<(Report, PathBuf), ReportLoadError> {
        let file = if path.is_dir() {
            let direct = path.join("report.json");
            if direct.is_file() {
                direct
            } else {
                latest_run(path).ok_or_else(|| ReportLoadError::NoReport(path.to_path_buf()))?
            }
        } else {
            path.to_path_buf()
        };
        let text = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(source) => return Err(ReportLoadError::Read { file, source }),
        };
        let report: Report = match serde_json::from_str(&text) {
            Ok(report) => report,
            Err(source) => return Err(ReportLoadError::NotAReport { file, source }),
        };
        if report.schema_version > SCHEMA_VERSION {
            return Err(ReportLoadError::Newer {
                file,
                schema: report.schema_version,
            });
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
            errln!("error: {e}");
            return super::Outcome::Error;
        }
    };
    let exporter = super::exporter(args.format.name()).expect("every ReportFormat has an exporter");
    crate::out::emit(&exporter.render(&report), args.out.as_deref()).into()
}
