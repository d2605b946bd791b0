//! The tables and lines shared by the terminal, Markdown and HTML reports:
//! per-level summary, overhead against the baseline, notes under them.

use super::{Report, Side, StepReport};
use crate::metrics::{ErrorClass, LevelSummary, Spread};
use crate::plan::{Level, LevelKind};

/// What a table shows in place of a figure nothing measured.
pub(crate) const NOT_MEASURED: &str = "—";

/// The summary table shared by the terminal, Markdown and HTML: one row per
/// level of `side` (`levels` or `baseline_levels`). Time to first token,
/// inter-token latency and tokens/s columns appear only when some level
/// measured them. A level with no measured run shows `—` in place of its
/// figures, and latency shows `—` when no request succeeded.
pub(crate) fn level_table(report: &Report, side: Side) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let levels = report.levels_of(side);
    let cols = LevelColumns {
        column: LevelColumn::of(levels.iter().map(|l| &l.level)),
        open: levels.iter().any(|l| l.level.is_rate()),
        streaming: levels.iter().any(|l| l.ttft_p50_ms.is_some()),
        tokens: levels.iter().any(|l| l.tokens_per_s_p50.is_some()),
        goodput: levels.iter().any(|l| l.goodput.is_some()),
    };
    let header = cols.header();
    let rows = levels
        .iter()
        .map(|l| cols.row(report, side, l, header.len()))
        .collect();
    (header, rows)
}

/// Which optional column groups the level table has: each is present when
/// some level measured its figures.
struct LevelColumns {
    column: LevelColumn,
    open: bool,
    streaming: bool,
    tokens: bool,
    goodput: bool,
}

impl LevelColumns {
    fn header(&self) -> Vec<&'static str> {
        let mut header = vec![
            self.column.header(),
            "runs",
            "req/s",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "max ms",
            "errors",
            "error rate",
            "retries",
        ];
        if self.streaming {
            header.extend(["TTFT p50", "TTFT p99", "ITL p50", "ITL p99"]);
        }
        if self.tokens {
            header.push("tok/s p50");
        }
        if self.goodput {
            header.extend(["goodput", "good/s"]);
        }
        if self.open {
            header.extend([
                "achieved/s",
                "late",
                "dropped",
                "service p50",
                "service p99",
            ]);
        }
        header
    }

    /// One level's row, `width` cells.
    fn row(&self, report: &Report, side: Side, l: &LevelSummary, width: usize) -> Vec<String> {
        let measured = l.runs > 0 && l.requests > 0;
        let succeeded = measured && l.requests > l.errors;
        let max = report
            .steps_of(side)
            .filter(|s| s.level == l.level && s.measured())
            .map(|s| s.metrics.latency_ms.max)
            .fold(0.0, f64::max);
        let spread = |s: &Spread, digits: usize| spread(l, s, digits);
        let latency = |s: &Spread| {
            if succeeded {
                spread(s, 2)
            } else {
                NOT_MEASURED.to_string()
            }
        };
        let maybe = |s: &Option<Spread>, digits: usize| maybe(l, s, digits);
        if !measured {
            let mut row = vec![self.column.cell(l.level), l.runs.to_string()];
            row.resize(width, NOT_MEASURED.to_string());
            return row;
        }
        let mut row = vec![
            self.column.cell(l.level),
            l.runs.to_string(),
            spread(&l.rps, 1),
            latency(&l.p50_ms),
            latency(&l.p95_ms),
            latency(&l.p99_ms),
            if succeeded {
                format!("{max:.2}")
            } else {
                NOT_MEASURED.to_string()
            },
            l.errors.to_string(),
            format!("{:.2}%", l.error_rate.mean * 100.0),
            l.retries.to_string(),
        ];
        if self.streaming {
            row.push(maybe(&l.ttft_p50_ms, 2));
            row.push(maybe(&l.ttft_p99_ms, 2));
            row.push(maybe(&l.itl_p50_ms, 2));
            row.push(maybe(&l.itl_p99_ms, 2));
        }
        if self.tokens {
            row.push(maybe(&l.tokens_per_s_p50, 1));
        }
        if self.goodput {
            row.push(
                l.goodput
                    .map_or_else(|| "-".to_string(), |g| format!("{:.1}%", g.mean * 100.0)),
            );
            row.push(maybe(&l.goodput_per_s, 1));
        }
        if self.open {
            let count = |n: Option<u64>| n.map_or_else(|| "-".to_string(), |n| n.to_string());
            row.push(maybe(&l.achieved_rate, 1));
            row.push(count(l.late));
            row.push(count(l.dropped));
            row.push(maybe(&l.service_p50_ms, 2));
            row.push(maybe(&l.service_p99_ms, 2));
        }
        row
    }
}

/// A figure over a level's runs: the mean, `± stddev` when it ran more than once.
fn spread(l: &LevelSummary, s: &Spread, digits: usize) -> String {
    if l.runs > 1 {
        format!("{:.digits$} ±{:.digits$}", s.mean, s.stddev)
    } else {
        format!("{:.digits$}", s.mean)
    }
}

/// An optional figure: `-` when the level did not measure it.
fn maybe(l: &LevelSummary, s: &Option<Spread>, digits: usize) -> String {
    s.as_ref()
        .map_or_else(|| "-".to_string(), |s| spread(l, s, digits))
}

/// A table's level column: named after the levels' kind (`concurrency`,
/// `rate/s`), each cell the number; `level` with labels when kinds mix.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LevelColumn(Option<LevelKind>);

impl LevelColumn {
    pub(crate) fn of<'a>(levels: impl IntoIterator<Item = &'a Level>) -> LevelColumn {
        let mut kinds = levels.into_iter().map(|l| l.kind);
        let first = kinds.next();
        LevelColumn(match first {
            Some(k) if kinds.all(|o| o == k) => Some(k),
            Some(_) => None,
            None => Some(LevelKind::Workers),
        })
    }

    /// The one kind of the levels, `None` when they mix.
    pub(crate) fn kind(self) -> Option<LevelKind> {
        self.0
    }

    pub(crate) fn header(self) -> &'static str {
        self.0.map_or("level", LevelKind::column)
    }

    /// The number, or the label for a ramp or when kinds mix.
    pub(crate) fn cell(self, level: Level) -> String {
        if level.ramp || self.0.is_none() {
            level.label()
        } else {
            level.key()
        }
    }
}

/// What the latency columns mean when some level is an arrival rate.
pub(crate) fn open_loop_note(report: &Report, side: Side) -> Option<&'static str> {
    report
        .levels_of(side)
        .iter()
        .any(|l| l.level.is_rate())
        .then_some(
            "open loop: p50–max count from each request's intended send time (what users saw); \
         service = from the actual send; late = no worker took it within 1 ms; dropped = never sent",
        )
}

/// `not measured: c=8 (no request finished)` for the levels of `side` with
/// no measured run; `None` when every level measured something.
pub(crate) fn unmeasured_line(report: &Report, side: Side) -> Option<String> {
    let levels: Vec<String> = report
        .levels_of(side)
        .iter()
        .filter(|l| l.runs == 0 || l.requests == 0)
        .map(LevelSummary::label)
        .collect();
    (!levels.is_empty()).then(|| {
        format!(
            "not measured: {} (no run finished a request)",
            levels.join(", ")
        )
    })
}

/// The heading of the direct table, shared by the terminal and Markdown.
pub(crate) const DIRECT_TITLE: &str =
    "direct: the same steps straight to the fake upstream, bypassing the gateway (the baseline)";

/// Gateway minus baseline per level, shared by the terminal and Markdown.
pub(crate) fn overhead_table(report: &Report) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let column = LevelColumn::of(report.overhead.iter().map(|o| &o.level));
    let header = vec![
        column.header(),
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "throughput vs baseline",
    ];
    let rows = report
        .overhead
        .iter()
        .map(|o| {
            vec![
                column.cell(o.level),
                format!("{:+.2}", o.p50_ms),
                format!("{:+.2}", o.p95_ms),
                format!("{:+.2}", o.p99_ms),
                format!("{:.0}%", o.rps_ratio * 100.0),
            ]
        })
        .collect();
    (header, rows)
}

/// The overhead the gateway reported for itself (a response header), per
/// level: `None` when it reported none.
pub(crate) fn gateway_overhead_line(report: &Report) -> Option<String> {
    let parts: Vec<String> = report
        .levels
        .iter()
        .filter_map(|l| {
            let p50: Vec<f64> = report
                .steps_of(Side::Target)
                .filter(|s| s.level == l.level)
                .filter_map(|s| s.metrics.gateway_overhead_ms.as_ref().map(|q| q.p50))
                .collect();
            (!p50.is_empty()).then(|| {
                format!(
                    "{} p50 {:.2} ms",
                    l.level,
                    p50.iter().sum::<f64>() / p50.len() as f64
                )
            })
        })
        .collect();
    (!parts.is_empty()).then(|| {
        format!(
            "the gateway's own overhead (response header): {}",
            parts.join(", ")
        )
    })
}

/// Every error class some of `steps` saw, in [`ErrorClass`] order.
pub(crate) fn classes_seen<'a>(steps: impl Iterator<Item = &'a StepReport>) -> Vec<ErrorClass> {
    let mut classes: Vec<ErrorClass> = steps
        .flat_map(|s| s.metrics.errors.classes())
        .map(|(class, _)| class)
        .collect();
    classes.sort();
    classes.dedup();
    classes
}
