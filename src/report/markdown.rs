//! `summary.md`: a table and the verdicts, ready to paste into a pull request.

use std::fmt::Write;

use super::{level_table, outcome_word, unmeasured_line, Exporter, Report, Side, DIRECT_TITLE};

pub struct Markdown;

impl Exporter for Markdown {
    fn file_name(&self) -> &'static str {
        "summary.md"
    }

    fn render(&self, r: &Report) -> String {
        let mut out = String::new();
        title(&mut out, r);
        levels(&mut out, r);
        overhead(&mut out, r);
        analysis(&mut out, r);
        verdicts(&mut out, r);
        footer(&mut out, r);
        out
    }
}

/// The heading, the description and why the run stopped early.
fn title(out: &mut String, r: &Report) {
    let _ = writeln!(out, "## `{}`: {}\n", r.scenario.name, outcome_word(r));
    if let Some(d) = &r.scenario.description {
        let _ = writeln!(out, "{d}\n");
    }
    if let Some(e) = &r.error {
        let _ = writeln!(out, "> **Stopped early:** {e}\n");
    }
}

/// The level tables, target then direct, with their notes.
fn levels(out: &mut String, r: &Report) {
    let (header, rows) = level_table(r, Side::Target);
    out.push_str(&pipe_table(&header, &rows));
    if let Some(note) = super::open_loop_note(r, Side::Target) {
        let _ = writeln!(out, "\n{}", capitalise(note));
    }
    if let Some(line) = unmeasured_line(r, Side::Target) {
        let _ = writeln!(out, "\n{}", capitalise(&line));
    }
    for line in super::ramp::lines(r) {
        let _ = writeln!(out, "\n{}", capitalise(&line));
    }
    if !r.baseline_levels.is_empty() {
        let _ = writeln!(out, "\n**{}**\n", capitalise(DIRECT_TITLE));
        let (header, rows) = level_table(r, Side::Direct);
        out.push_str(&pipe_table(&header, &rows));
    }
}

/// Overhead against the baseline and the streams' figures.
fn overhead(out: &mut String, r: &Report) {
    if !r.overhead.is_empty() {
        let _ = writeln!(
            out,
            "\n**Overhead vs baseline** (gateway minus fake upstream direct)\n"
        );
        let (header, rows) = super::overhead_table(r);
        out.push_str(&pipe_table(&header, &rows));
    }
    if let Some(line) = super::gateway_overhead_line(r) {
        let _ = writeln!(out, "\n{}", capitalise(&line));
    }
    if let Some(f) = &r.streams {
        use super::stream;
        if !f.overhead.is_empty() {
            let _ = writeln!(out, "\n**{}**\n", capitalise(stream::OVERHEAD_TITLE));
            let (header, rows) = stream::overhead_table(f);
            out.push_str(&pipe_table(&header, &rows));
        }
        if f.levels.iter().any(|h| h.checked > 0) {
            let _ = writeln!(out, "\n**{}**\n", capitalise(stream::HEALTH_TITLE));
            let (header, rows) = stream::health_table(f);
            out.push_str(&pipe_table(&header, &rows));
        }
    }
    let stream_lines = super::stream::lines(r);
    if !stream_lines.is_empty() {
        let _ = writeln!(out);
        for text in stream_lines {
            let _ = writeln!(out, "- {text}");
        }
    }
}

/// Memory, ceiling and efficiency, SLO, search and frontier.
fn analysis(out: &mut String, r: &Report) {
    if let Some(m) = &r.memory {
        let _ = writeln!(out, "\n**Memory (RSS per service)**\n");
        let (header, rows) = super::memory::memory_table(m);
        let header: Vec<&str> = header.iter().map(String::as_str).collect();
        out.push_str(&pipe_table(&header, &rows));
    }
    let analysis = super::ceiling::Analysis::of(r);
    let lines: Vec<String> = [analysis.ceiling_line(), analysis.efficiency_line()]
        .into_iter()
        .flatten()
        .collect();
    if !lines.is_empty() {
        let _ = writeln!(out);
        for text in lines {
            let _ = writeln!(out, "- {}", capitalise(&text));
        }
    }
    if let Some(line) = super::capacity::slo_line(r) {
        let _ = writeln!(out, "\n{}", capitalise(&line));
    }
    if let Some(s) = &r.search {
        let _ = writeln!(out, "\n**Search**: {}\n", super::capacity::search_line(s));
        let (header, rows) = super::capacity::search_table(s);
        out.push_str(&pipe_table(&header, &rows));
    }
    if let Some(f) = &r.frontier {
        let _ = writeln!(out, "\n**Frontier**: {}\n", f.note());
        let (header, rows) = f.table();
        out.push_str(&pipe_table(&header, &rows));
    }
}

/// The assertions' verdicts.
fn verdicts(out: &mut String, r: &Report) {
    if !r.verdicts.is_empty() {
        let _ = writeln!(out, "\n**Assertions**\n");
        for v in &r.verdicts {
            let mark = match v.word() {
                "PASS" => "✅",
                "FAIL" => "❌",
                _ => "➖",
            };
            let _ = writeln!(out, "- {mark} {}", v.describe());
        }
    }
}

/// Where and with what the run ran.
fn footer(out: &mut String, r: &Report) {
    let e = &r.environment;
    let pinning = e
        .cpus
        .as_ref()
        .map(|p| format!(" · {p}"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "\n<sub>scenario {} ({}) · {} · {} cores{pinning} · {} · started {}</sub>",
        e.tool_version, e.git_commit, e.cpu, e.cores, e.os, r.started_at
    );
}

/// A Markdown table, numbers right-aligned.
pub(crate) fn pipe_table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = format!(
        "| {} |\n|{}\n",
        header.join(" | "),
        "---:|".repeat(header.len())
    );
    for row in rows {
        let _ = writeln!(out, "| {} |", row.join(" | "));
    }
    out
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
