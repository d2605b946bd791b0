//! The capacity figures as text, shared by the terminal and Markdown: where
//! `[load] search` ended and each of its probes, and the frontier table
//! (see [`super::frontier`]).

use super::Report;
use crate::plan::Level;
use crate::search::SearchResult;

/// `search: capacity 194.7 req/s at r=197/s (…); r=199/s failed; converged after 10 probes`.
pub(crate) fn search_line(s: &SearchResult) -> String {
    let unit = if s.open { "rate" } else { "concurrency" };
    let found = match s.capacity {
        Some(c) => format!(
            "capacity {:.1} req/s at {}",
            c.rps,
            Level::fixed(c.level, s.open).label()
        ),
        None => "no capacity found".to_string(),
    };
    let failed = s.failed_at.map_or(String::new(), |f| {
        format!("; {} failed", Level::fixed(f, s.open).label())
    });
    format!(
        "search over {unit} [{}, {}] for p99 ≤ {} ms and error rate ≤ {}%: {found}{failed}; {} after {} probes",
        s.low,
        s.high,
        s.p99_ms,
        s.max_error_rate * 100.0,
        s.outcome.describe(),
        s.probes.len()
    )
}

/// One row per probe, in the order measured.
pub(crate) fn search_table(s: &SearchResult) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let header = vec![
        "probe",
        "step",
        "level",
        "req/s",
        "p99 ms",
        "error rate",
        "result",
    ];
    let rows = s
        .probes
        .iter()
        .enumerate()
        .map(|(i, p)| {
            vec![
                (i + 1).to_string(),
                (p.step + 1).to_string(),
                Level::fixed(p.level, s.open).label(),
                format!("{:.1}", p.rps),
                format!("{:.2}", p.p99_ms),
                format!("{:.3}%", p.error_rate * 100.0),
                if p.passed { "pass" } else { "fail" }.to_string(),
            ]
        })
        .collect();
    (header, rows)
}

/// A level's goodput, `95.1% (190.2/s)`, for the SLO line.
pub(crate) fn slo_line(r: &Report) -> Option<String> {
    let slo = r.slo?;
    Some(format!(
        "goodput: the share (and rate) of requests that succeeded with {} (open loop: from the \
         intended send time; dropped arrivals count as not good)",
        slo.describe()
    ))
}
