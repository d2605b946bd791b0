//! A comparison as text: the findings, a one-line summary, and the table
//! for the terminal or a pull-request comment in Markdown.

use std::fmt::Write;

use super::{Comparison, Grade, LevelComparison, Metric};
use crate::plan::Level;
use crate::report::terminal::aligned;
use crate::report::LevelColumn;

impl Comparison {
    /// The levels with a FAIL, by number, e.g. `[10, 100]`.
    pub fn failing_levels(&self) -> Vec<u32> {
        self.failing().map(|l| l.value).collect()
    }

    fn failing(&self) -> impl Iterator<Item = Level> + '_ {
        self.levels
            .iter()
            .filter(|l| l.grade == Grade::Fail)
            .map(|l| l.level)
    }

    /// Every WARN and FAIL reason, e.g. `FAIL c=10: p95 +32% (FAIL above +20%)`.
    pub fn findings(&self) -> Vec<(Grade, String)> {
        let mut out = Vec::new();
        for l in &self.levels {
            if let Some(note) = &l.note {
                if l.grade > Grade::Ok {
                    out.push((l.grade, format!("{}: {note}", l.level)));
                }
            }
            for d in &l.deltas {
                if let Some(reason) = &d.reason {
                    out.push((d.grade, format!("{}: {reason}", l.level)));
                }
            }
        }
        out.sort_by_key(|f| std::cmp::Reverse(f.0));
        out
    }

    fn summary(&self) -> String {
        match self.grade {
            Grade::Fail => {
                // `concurrency 4, 8`, `rate 100, 500`; labels when mixed.
                let failing: Vec<Level> = self.failing().collect();
                let column = LevelColumn::of(&failing);
                let cells: Vec<String> = failing.iter().map(|&l| column.cell(l)).collect();
                match column.kind() {
                    Some(kind) if !failing.iter().any(|l| l.ramp) => {
                        format!("FAIL: regression at {} {}", kind.field(), cells.join(", "))
                    }
                    _ => format!("FAIL: regression at {}", cells.join(", ")),
                }
            }
            Grade::Warn => "WARN: changes worth a look, no regression".into(),
            Grade::Ok => "OK: no regression".into(),
        }
    }

    fn cells(&self, l: &LevelComparison, flag: impl Fn(Grade) -> &'static str) -> Vec<String> {
        let mut row = vec![self.column().cell(l.level)];
        if l.deltas.is_empty() {
            row.extend(Metric::ALL.iter().map(|_| "–".to_string()));
        }
        for d in &l.deltas {
            row.push(format!(
                "{}{} → {} ({})",
                flag(d.grade),
                d.metric.show(d.base),
                d.metric.show(d.current),
                d.change_text()
            ));
        }
        row.push(match &l.note {
            Some(n) => format!("{} ({n})", l.grade.word()),
            None => l.grade.word().to_string(),
        });
        row
    }

    fn column(&self) -> LevelColumn {
        LevelColumn::of(self.levels.iter().map(|l| &l.level))
    }

    fn header(&self) -> Vec<&'static str> {
        let mut h = vec![self.column().header()];
        h.extend(Metric::ALL.iter().map(|m| m.label()));
        h.push("result");
        h
    }

    /// Aligned plain text for the terminal.
    pub fn render_text(&self) -> String {
        let rows: Vec<Vec<String>> = self.levels.iter().map(|l| self.cells(l, |_| "")).collect();
        let mut out = String::new();
        let _ = writeln!(
            out,
            "compare {} ({}) → {} ({})",
            self.base.path.display(),
            self.base.started_at,
            self.current.path.display(),
            self.current.started_at
        );
        for n in &self.notes {
            let _ = writeln!(out, "note: {n}");
        }
        out.push_str(&aligned(&self.header(), &rows, true));
        for (g, text) in self.findings() {
            let _ = writeln!(out, "{} {text}", g.word());
        }
        let _ = writeln!(out, "{}", self.summary());
        out
    }

    /// Markdown for a pull-request comment.
    pub fn render_markdown(&self) -> String {
        let icon = |g: Grade| match g {
            Grade::Ok => "✅",
            Grade::Warn => "⚠️",
            Grade::Fail => "❌",
        };
        let mut out = String::new();
        let _ = writeln!(
            out,
            "## {} Performance vs baseline: `{}`\n",
            icon(self.grade),
            self.current.scenario
        );
        let _ = writeln!(out, "**{}**\n", self.summary());
        let _ = writeln!(
            out,
            "Baseline `{}` ({}, commit `{}`) → current `{}` ({}, commit `{}`).\n",
            self.base.path.display(),
            self.base.started_at,
            self.base.git_commit,
            self.current.path.display(),
            self.current.started_at,
            self.current.git_commit
        );
        for n in &self.notes {
            let _ = writeln!(out, "> **Note:** {n}\n");
        }
        let header = self.header();
        let _ = writeln!(out, "| {} |", header.join(" | "));
        let _ = writeln!(out, "|{}", "---:|".repeat(header.len()));
        for l in &self.levels {
            let cells = self.cells(l, |g| match g {
                Grade::Ok => "",
                Grade::Warn => "⚠️ ",
                Grade::Fail => "❌ ",
            });
            let mut cells = cells;
            if let Some(last) = cells.last_mut() {
                *last = format!("{} {last}", icon(l.grade));
            }
            let _ = writeln!(out, "| {} |", cells.join(" | "));
        }
        let findings = self.findings();
        if !findings.is_empty() {
            let _ = writeln!(out);
            for (g, text) in findings {
                let _ = writeln!(out, "- {} **{}** {text}", icon(g), g.word());
            }
        }
        let t = &self.thresholds;
        let _ = writeln!(
            out,
            "\n<sub>FAIL: p95 up > {:.0}% or error rate > {}%. WARN: p95 up > {:.0}%, p50 moved > {:.0}%, throughput moved > {:.0}%. Means over each level's runs; set under <code>[assert.regression]</code>.</sub>",
            t.fail_p95_increase * 100.0,
            t.fail_error_rate * 100.0,
            t.warn_p95_increase * 100.0,
            t.warn_p50_change * 100.0,
            t.warn_rps_change * 100.0
        );
        out
    }
}
