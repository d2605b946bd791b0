//! The table printed at the end of a run.

use std::fmt::Write;

use super::{level_table, outcome_word, unmeasured_line, Report, Side, DIRECT_TITLE};

/// A table as plain text, each column right-aligned to its widest cell
/// (with `last_left`, the last column is left as it is: free text).
pub fn aligned(header: &[&str], rows: &[Vec<String>], last_left: bool) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let n = cells.len();
        cells
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (c, w))| {
                if last_left && i + 1 == n {
                    c.to_string()
                } else {
                    format!("{c:>w$}")
                }
            })
            .collect::<Vec<_>>()
            .join("  ")
    };
    let mut out = line(header.to_vec());
    out.push('\n');
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
        out.push('\n');
    }
    out
}

/// Render the summary table and verdicts as aligned plain text.
pub fn render(r: &Report) -> String {
    let mut out = String::new();
    levels(&mut out, r);
    cpu(&mut out, r);
    memory(&mut out, r);
    baseline(&mut out, r);
    analysis(&mut out, r);
    out
}

/// The target's level table and its notes.
fn levels(out: &mut String, r: &Report) {
    let (header, rows) = level_table(r, Side::Target);
    let _ = writeln!(out, "\n{}: {}", r.scenario.name, outcome_word(r));
    // Why the run stopped early is printed once, by the caller (`error: …`).
    out.push_str(&aligned(&header, &rows, false));
    if let Some(note) = super::open_loop_note(r, Side::Target) {
        let _ = writeln!(out, "{note}");
    }
    if let Some(line) = unmeasured_line(r, Side::Target) {
        let _ = writeln!(out, "{line}");
    }
    for line in super::ramp::lines(r) {
        let _ = writeln!(out, "{line}");
    }
}

/// The busiest services by CPU, per level.
fn cpu(out: &mut String, r: &Report) {
    let busiest: Vec<String> = r
        .levels
        .iter()
        .filter_map(|l| {
            let step = r
                .steps_of(Side::Target)
                .filter(|s| s.level == l.level)
                .last()?;
            let mut usage: Vec<_> = step.resources.iter().collect();
            usage.sort_by(|a, b| b.cpu_pct_mean.total_cmp(&a.cpu_pct_mean));
            let top: Vec<String> = usage
                .iter()
                .take(3)
                .map(|u| format!("{} {:.0}%", u.service, u.cpu_pct_mean))
                .collect();
            (!top.is_empty()).then(|| format!("  {:<7} {}", l.label(), top.join(", ")))
        })
        .collect();
    if !busiest.is_empty() {
        let cores = r.environment.cores * 100;
        let _ = writeln!(
            out,
            "CPU by service (mean % of one core; the machine has {cores}%):"
        );
        for line in busiest {
            let _ = writeln!(out, "{line}");
        }
    }
}

/// Memory per service and the CPU pinning.
fn memory(out: &mut String, r: &Report) {
    if let Some(m) = &r.memory {
        let _ = writeln!(out, "memory (RSS per service):");
        let (header, rows) = super::memory::memory_table(m);
        let header: Vec<&str> = header.iter().map(String::as_str).collect();
        out.push_str(&aligned(&header, &rows, false));
    }
    if let Some(p) = &r.environment.cpus {
        let _ = writeln!(out, "pinned: {p}");
    }
}

/// The direct table, overhead against it and the streams' figures.
fn baseline(out: &mut String, r: &Report) {
    if !r.baseline_levels.is_empty() {
        let _ = writeln!(out, "{DIRECT_TITLE}:");
        let (header, rows) = level_table(r, Side::Direct);
        out.push_str(&aligned(&header, &rows, false));
    }
    if !r.overhead.is_empty() {
        let _ = writeln!(
            out,
            "overhead vs baseline (gateway minus fake upstream direct):"
        );
        let (header, rows) = super::overhead_table(r);
        out.push_str(&aligned(&header, &rows, false));
    }
    if let Some(line) = super::gateway_overhead_line(r) {
        let _ = writeln!(out, "{line}");
    }
    if let Some(f) = &r.streams {
        use super::stream;
        if !f.overhead.is_empty() {
            let _ = writeln!(out, "{}:", stream::OVERHEAD_TITLE);
            let (header, rows) = stream::overhead_table(f);
            out.push_str(&aligned(&header, &rows, false));
        }
        if f.levels.iter().any(|h| h.checked > 0) {
            let _ = writeln!(out, "{}:", stream::HEALTH_TITLE);
            let (header, rows) = stream::health_table(f);
            out.push_str(&aligned(&header, &rows, false));
        }
    }
    for line in super::stream::lines(r) {
        let _ = writeln!(out, "{line}");
    }
}

/// Ceiling and efficiency, SLO, search, frontier and the verdicts.
fn analysis(out: &mut String, r: &Report) {
    let analysis = super::ceiling::Analysis::of(r);
    for text in [analysis.ceiling_line(), analysis.efficiency_line()]
        .into_iter()
        .flatten()
    {
        let _ = writeln!(out, "{text}");
    }
    if let Some(line) = super::capacity::slo_line(r) {
        let _ = writeln!(out, "{line}");
    }
    if let Some(s) = &r.search {
        let _ = writeln!(out, "{}", super::capacity::search_line(s));
        let (header, rows) = super::capacity::search_table(s);
        out.push_str(&aligned(&header, &rows, false));
    }
    if let Some(f) = &r.frontier {
        let _ = writeln!(out, "{}:", f.note());
        let (header, rows) = f.table();
        out.push_str(&aligned(&header, &rows, false));
    }
    for v in &r.verdicts {
        let _ = writeln!(out, "{}", v.describe());
    }
}
