//! `scenario history --format md`: a Markdown table, e.g. for a job summary.

use std::fmt::Write;

use super::{commit_of, View};

pub fn render(v: &View) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## Run history ({} runs)\n\nFrom `{}`, oldest first.\n",
        v.runs.len(),
        v.db.display()
    );
    let mut header = vec!["started (UTC)", "scenario", "commit", "concurrency"];
    header.extend(v.figures.iter().map(|f| f.label()));
    header.push("run folder");
    let _ = writeln!(out, "| {} |", header.join(" | "));
    let _ = writeln!(out, "|{}", "---|".repeat(header.len()));
    for (r, l) in v.rows() {
        let mut row = vec![
            r.started_at.chars().take(19).collect::<String>(),
            r.name().replace('|', "\\|"),
            format!("`{}`", commit_of(r)),
            l.concurrency.to_string(),
        ];
        row.extend(
            v.figures
                .iter()
                .map(|f| l.get(*f).map_or_else(|| "-".into(), |x| f.show(x))),
        );
        row.push(format!("`{}`", r.run_dir.display()));
        let _ = writeln!(out, "| {} |", row.join(" | "));
    }
    out
}
