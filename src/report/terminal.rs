//! The table printed at the end of a run.

use std::fmt::Write;

use super::{level_table, outcome_word, Report};

/// Render the summary table and verdicts as aligned plain text.
pub fn render(r: &Report) -> String {
    let (header, rows) = level_table(r);
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:>w$}"))
            .collect::<Vec<_>>()
            .join("  ")
    };
    let mut out = String::new();
    let _ = writeln!(out, "\n{}: {}", r.scenario.name, outcome_word(r));
    if let Some(e) = &r.error {
        let _ = writeln!(out, "stopped early: {e}");
    }
    let _ = writeln!(
        out,
        "{}",
        line(header.iter().map(|h| h.to_string()).collect())
    );
    for row in rows {
        let _ = writeln!(out, "{}", line(row));
    }
    let analysis = super::ceiling::Analysis::of(r);
    for text in [analysis.ceiling_line(), analysis.efficiency_line()]
        .into_iter()
        .flatten()
    {
        let _ = writeln!(out, "{text}");
    }
    for v in &r.verdicts {
        let _ = writeln!(out, "{}", v.describe());
    }
    out
}
