//! `scenario history` as an aligned table for the terminal.

use std::fmt::Write;

use super::{commit_of, View};
use crate::report::terminal::aligned;

/// Header line, then one row per run and level, oldest first.
pub fn render(v: &View) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "history: {} runs in {}", v.runs.len(), v.db.display());
    if v.runs.is_empty() {
        return out;
    }
    let mut header = vec!["started (UTC)", "scenario", "commit", "c"];
    header.extend(v.figures.iter().map(|f| f.label()));
    header.push("run folder");
    let rows: Vec<Vec<String>> = v
        .rows()
        .map(|(r, l)| {
            let mut row = vec![
                r.started_at.chars().take(19).collect(),
                r.name(),
                commit_of(r).to_string(),
                l.concurrency.to_string(),
            ];
            row.extend(
                v.figures
                    .iter()
                    .map(|f| l.get(*f).map_or_else(|| "-".into(), |x| f.show(x))),
            );
            row.push(r.run_dir.display().to_string());
            row
        })
        .collect();
    out.push_str(&aligned(&header, &rows, true));
    out
}
