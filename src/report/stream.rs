//! What the gateway did to the token streams, derived from the steps:
//! added time to first token and inter-token gap over the direct path (per
//! level, per percentile), the streams it buffered or stalled, and the
//! highest concurrency whose streams all came through clean. Shared by
//! every output format.

use serde::{Deserialize, Serialize};

use super::{LevelColumn, Report, Side, StepReport};
use crate::metrics::stream::{BURST_GAPS, BURST_SHARE};
use crate::metrics::Quantiles;
use crate::plan::{Level, LevelKind};

/// The report's streaming figures; absent when nothing streamed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamFigures {
    /// Gateway minus direct per level (`topology.direct`), in ms.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overhead: Vec<StreamOverhead>,
    /// The target's streams per level, summed over measured runs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub levels: Vec<StreamHealth>,
    /// From a concurrency sweep whose streams were checked against the
    /// upstream's pacing: the highest level with none truncated, stalled or
    /// buffered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sustained: Option<Sustained>,
}

/// Gateway minus direct at one level: means over runs of each side's
/// percentiles, in ms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamOverhead {
    #[serde(flatten)]
    pub level: Level,
    pub ttft_p50_ms: f64,
    pub ttft_p90_ms: f64,
    pub ttft_p99_ms: f64,
    pub itl_p50_ms: f64,
    pub itl_p90_ms: f64,
    pub itl_p99_ms: f64,
}

impl StreamOverhead {
    /// What the gateway added, in the order of the table's columns: TTFT
    /// p50, p90, p99, then ITL p50, p90, p99.
    pub fn added(&self) -> [f64; 6] {
        [
            self.ttft_p50_ms,
            self.ttft_p90_ms,
            self.ttft_p99_ms,
            self.itl_p50_ms,
            self.itl_p90_ms,
            self.itl_p99_ms,
        ]
    }
}

/// The target's streams at one level, summed over its measured runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamHealth {
    #[serde(flatten)]
    pub level: Level,
    /// Successful streams.
    pub streams: u64,
    /// Streams that ended without `data: [DONE]` (failed requests).
    pub truncated: u64,
    /// Streams checked against the upstream's pacing (0 when it is unknown).
    pub checked: u64,
    /// Streams whose frames arrived in bursts (see `metrics::stream`).
    pub buffered: u64,
    /// Streams with a stall, and the stalls over all.
    pub stalled_streams: u64,
    pub stalls: u64,
}

impl StreamHealth {
    /// The streams of the target's measured steps at `level`, summed.
    fn of(report: &Report, level: Level) -> StreamHealth {
        let mut h = StreamHealth {
            level,
            streams: 0,
            truncated: 0,
            checked: 0,
            buffered: 0,
            stalled_streams: 0,
            stalls: 0,
        };
        for s in report
            .steps_of(Side::Target)
            .filter(|s| s.level == level && s.measured())
        {
            h.truncated += s.metrics.errors.truncated;
            let Some(st) = &s.metrics.streaming else {
                continue;
            };
            h.streams += st.streams;
            if let Some(c) = &st.checks {
                h.checked += c.checked;
                h.buffered += c.buffered;
                h.stalled_streams += c.stalled_streams;
                h.stalls += c.stalls;
            }
        }
        h
    }

    /// No stream truncated, stalled or buffered.
    pub fn clean(&self) -> bool {
        self.truncated == 0 && self.buffered == 0 && self.stalls == 0
    }
}

/// The highest concurrency whose streams came through clean.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sustained {
    /// `None` when no level did.
    pub concurrency: Option<u32>,
}

impl Sustained {
    /// From the target's levels; `None` when the sweep is not judged.
    fn of(levels: &[StreamHealth]) -> Option<Sustained> {
        // Only a concurrency sweep whose streams were all checked is judged.
        let sweep: Vec<&StreamHealth> = levels
            .iter()
            .filter(|h| h.level.kind == LevelKind::Workers && !h.level.ramp)
            .collect();
        let judged = sweep.iter().any(|h| h.checked > 0)
            && sweep.iter().all(|h| h.checked > 0 || h.streams == 0);
        judged.then(|| Sustained {
            concurrency: sweep
                .iter()
                .filter(|h| h.checked > 0 && h.clean())
                .map(|h| h.level.value)
                .max(),
        })
    }
}

impl StreamFigures {
    /// The figures of `report`'s steps; `None` when none streamed.
    pub fn of(report: &Report) -> Option<StreamFigures> {
        let streamed = |s: &&StepReport| {
            s.measured() && (s.metrics.streaming.is_some() || s.metrics.errors.truncated > 0)
        };
        if !report.steps.iter().any(|s| streamed(&s)) {
            return None;
        }
        let levels_of = |side: Side| {
            let mut levels: Vec<Level> = Vec::new();
            for s in report.steps_of(side).filter(streamed) {
                if !levels.contains(&s.level) {
                    levels.push(s.level);
                }
            }
            levels
        };
        let mean = |side: Side, level: Level, f: fn(&Quantiles) -> f64, ttft: bool| {
            let v: Vec<f64> = report
                .steps_of(side)
                .filter(|s| s.level == level && s.measured())
                .filter_map(|s| s.metrics.streaming.as_ref())
                .map(|st| f(if ttft { &st.ttft_ms } else { &st.itl_ms }))
                .collect();
            (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
        };
        let direct = levels_of(Side::Direct);
        let overhead = levels_of(Side::Target)
            .into_iter()
            .filter(|l| direct.contains(l))
            .filter_map(|level| {
                let added = |f: fn(&Quantiles) -> f64, ttft: bool| {
                    Some(mean(Side::Target, level, f, ttft)? - mean(Side::Direct, level, f, ttft)?)
                };
                Some(StreamOverhead {
                    level,
                    ttft_p50_ms: added(|q| q.p50, true)?,
                    ttft_p90_ms: added(|q| q.p90, true)?,
                    ttft_p99_ms: added(|q| q.p99, true)?,
                    itl_p50_ms: added(|q| q.p50, false)?,
                    itl_p90_ms: added(|q| q.p90, false)?,
                    itl_p99_ms: added(|q| q.p99, false)?,
                })
            })
            .collect();
        let levels: Vec<StreamHealth> = levels_of(Side::Target)
            .into_iter()
            .map(|level| StreamHealth::of(report, level))
            .collect();
        let sustained = Sustained::of(&levels);
        Some(StreamFigures {
            overhead,
            levels,
            sustained,
        })
    }
}

/// Gateway minus direct per level, for the terminal, Markdown and HTML.
pub(crate) fn overhead_table(f: &StreamFigures) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let column = LevelColumn::of(f.overhead.iter().map(|o| &o.level));
    let header = vec![
        column.header(),
        "TTFT p50",
        "TTFT p90",
        "TTFT p99",
        "ITL p50",
        "ITL p90",
        "ITL p99",
    ];
    let rows = f
        .overhead
        .iter()
        .map(|o| {
            let mut row = vec![column.cell(o.level)];
            for v in o.added() {
                row.push(format!("{v:+.2}"));
            }
            row
        })
        .collect();
    (header, rows)
}

/// The target's streams per level; columns for the checks only when the
/// upstream's pacing was known.
pub(crate) fn health_table(f: &StreamFigures) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let column = LevelColumn::of(f.levels.iter().map(|h| &h.level));
    let checked = f.levels.iter().any(|h| h.checked > 0);
    let mut header = vec![column.header(), "streams", "truncated"];
    if checked {
        header.extend(["buffered", "stalled streams", "stalls", "verdict"]);
    }
    let rows = f
        .levels
        .iter()
        .map(|h| {
            let mut row = vec![
                column.cell(h.level),
                h.streams.to_string(),
                h.truncated.to_string(),
            ];
            if checked {
                row.push(h.buffered.to_string());
                row.push(h.stalled_streams.to_string());
                row.push(h.stalls.to_string());
                row.push(verdict(h).to_string());
            }
            row
        })
        .collect();
    (header, rows)
}

/// One word for a level's streams.
fn verdict(h: &StreamHealth) -> &'static str {
    if h.checked == 0 {
        "not checked"
    } else if h.buffered > 0 {
        "BUFFERED"
    } else if h.stalls > 0 {
        "STALLED"
    } else if h.truncated > 0 {
        "TRUNCATED"
    } else {
        "ok"
    }
}

/// Plain sentences: each step whose streams were buffered or stalled, then
/// the streams sustained.
pub(crate) fn lines(report: &Report) -> Vec<String> {
    let mut out = Vec::new();
    for s in report.steps.iter().filter(|s| s.measured()) {
        let Some(st) = &s.metrics.streaming else {
            continue;
        };
        let Some(c) = &st.checks else {
            continue;
        };
        if c.buffered > 0 {
            out.push(format!(
                "{}: BUFFERED: {} of {} streams arrived in bursts ({:.0}% or more of their \
                 gaps under {} ms, where the upstream sent a token every {} ms): something on \
                 the path holds the stream back and lets it go at once (for nginx, \
                 `proxy_buffering off`)",
                s.name(report),
                c.buffered,
                c.checked,
                BURST_GAPS * 100.0,
                trim(BURST_SHARE * c.expected_itl_ms),
                trim(c.expected_itl_ms)
            ));
        }
        if c.stalls > 0 {
            out.push(format!(
                "{}: STALLED: {} gaps over {} ms (stall_factor × the upstream's ITL) \
                 in {} of {} streams",
                s.name(report),
                c.stalls,
                trim(c.stall_ms),
                c.stalled_streams,
                c.checked
            ));
        }
    }
    if let Some(Sustained { concurrency }) =
        report.streams.as_ref().and_then(|f| f.sustained.as_ref())
    {
        out.push(match concurrency {
            Some(c) => format!(
                "streams sustained: c={c}, the highest concurrency with no stream \
                 truncated, stalled or buffered"
            ),
            None => "streams sustained: none; every concurrency had streams truncated, \
                     stalled or buffered"
                .to_string(),
        });
    }
    out
}

/// `20`, `12.5`: a figure in ms without needless decimals.
fn trim(ms: f64) -> String {
    if ms.fract() == 0.0 {
        format!("{ms:.0}")
    } else {
        format!("{ms:.1}")
    }
}

/// The heading of the overhead table.
pub(crate) const OVERHEAD_TITLE: &str =
    "streaming overhead vs baseline (gateway minus fake upstream direct, ms)";

/// The heading of the health table.
pub(crate) const HEALTH_TITLE: &str = "streams through the target";

/// A target step's TTFT p50/p90/p99 and ITL p50/p90/p99 minus its direct
/// twin's (the step with the same index and run), in ms; `None` for a
/// direct step, or when either side measured no stream.
pub(crate) fn added_over_twin(report: &Report, step: &StepReport) -> Option<[f64; 6]> {
    if step.side != Side::Target || !step.measured() {
        return None;
    }
    let twin = report
        .steps_of(Side::Direct)
        .find(|d| d.index == step.index && d.run == step.run && d.measured())?;
    let (g, d) = (
        step.metrics.streaming.as_ref()?,
        twin.metrics.streaming.as_ref()?,
    );
    Some([
        g.ttft_ms.p50 - d.ttft_ms.p50,
        g.ttft_ms.p90 - d.ttft_ms.p90,
        g.ttft_ms.p99 - d.ttft_ms.p99,
        g.itl_ms.p50 - d.itl_ms.p50,
        g.itl_ms.p90 - d.itl_ms.p90,
        g.itl_ms.p99 - d.itl_ms.p99,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{StreamChecks, StreamingSummary};
    use crate::report::{fixture, Exporter};

    fn q(p50: f64) -> Quantiles {
        Quantiles {
            count: 100,
            mean: p50,
            p50,
            p90: p50 * 1.5,
            p99: p50 * 2.0,
            max: p50 * 3.0,
        }
    }

    /// The fixture with streams on both sides, checked against a 20 ms
    /// pacing: gateway TTFT 20 ms over direct at c=1; at c=4 run 1 every
    /// stream buffered, run 2 three stalls in two streams (and the
    /// fixture's truncated streams at c=4 run 1).
    fn streamed() -> Report {
        let mut r = fixture::report();
        for s in &mut r.steps {
            let target = s.side == Side::Target;
            let n = s.metrics.successes;
            let (buffered, stalled, stalls) = match (target, s.level.value, s.run) {
                (true, 4, 1) => (n, 0, 0),
                (true, 4, 2) => (0, 2, 3),
                _ => (0, 0, 0),
            };
            s.metrics.streaming = Some(StreamingSummary {
                streams: n,
                ttft_ms: q(if target { 30.0 } else { 10.0 }),
                itl_ms: q(if target { 20.5 } else { 20.0 }),
                checks: Some(StreamChecks {
                    expected_itl_ms: 20.0,
                    stall_ms: 200.0,
                    checked: n,
                    buffered,
                    stalled_streams: stalled,
                    stalls,
                }),
            });
        }
        r.summarise_levels();
        r
    }

    #[test]
    fn overhead_is_gateway_minus_direct_per_percentile() {
        let f = streamed().streams.expect("streams");
        let o = &f.overhead[0];
        assert_eq!(o.level, Level::workers(1));
        let got = o.added();
        let want = [20.0, 30.0, 40.0, 0.5, 0.75, 1.0];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-9, "{got:?} != {want:?}");
        }
        assert_eq!(f.overhead.len(), 2, "c=8 measured nothing");
    }

    #[test]
    fn buffered_and_stalled_levels_are_not_sustained() {
        let r = streamed();
        let f = r.streams.as_ref().expect("streams");
        let c4 = &f.levels[1];
        assert_eq!(
            (c4.truncated, c4.buffered, c4.stalled_streams, c4.stalls),
            (fixture::TRUNCATED, 272, 2, 3)
        );
        assert_eq!(verdict(c4), "BUFFERED");
        assert_eq!(verdict(&f.levels[0]), "ok");
        assert_eq!(
            f.sustained,
            Some(Sustained {
                concurrency: Some(1)
            })
        );
        let lines = lines(&r);
        assert!(
            lines[0].starts_with("c=4 run 1: BUFFERED: 272 of 272 streams arrived in bursts"),
            "{lines:#?}"
        );
        assert!(lines[1].starts_with("c=4 run 2: STALLED: 3 gaps over 200 ms"));
        assert!(lines[2].starts_with("streams sustained: c=1,"));
    }

    #[test]
    fn a_clean_sweep_sustains_its_highest_level_and_none_when_every_level_failed() {
        let mut r = streamed();
        for s in &mut r.steps {
            s.metrics.errors = Default::default();
            if let Some(c) = s
                .metrics
                .streaming
                .as_mut()
                .and_then(|st| st.checks.as_mut())
            {
                (c.buffered, c.stalled_streams, c.stalls) = (0, 0, 0);
            }
        }
        r.summarise_levels();
        let sustained = |r: &Report| r.streams.as_ref().unwrap().sustained.clone();
        assert_eq!(
            sustained(&r),
            Some(Sustained {
                concurrency: Some(4)
            })
        );
        for s in &mut r.steps {
            if let Some(c) = s
                .metrics
                .streaming
                .as_mut()
                .and_then(|st| st.checks.as_mut())
            {
                c.stalls = 1;
            }
        }
        r.summarise_levels();
        assert_eq!(sustained(&r), Some(Sustained { concurrency: None }));
        assert!(lines(&r)
            .last()
            .unwrap()
            .starts_with("streams sustained: none"));
        // Without the upstream's pacing nothing is judged.
        for s in &mut r.steps {
            s.metrics.streaming.as_mut().unwrap().checks = None;
        }
        r.summarise_levels();
        assert_eq!(sustained(&r), None);
    }

    #[test]
    fn every_format_shows_the_overhead_and_the_buffering() {
        let r = streamed();
        let terminal = crate::report::terminal::render(&r);
        let md = crate::report::markdown::Markdown.render(&r);
        let html = crate::report::html::Html.render(&r);
        let json = crate::report::exporter("json").unwrap().render(&r);
        for (name, text) in [("terminal", &terminal), ("md", &md), ("html", &html)] {
            assert!(text.contains("TTFT p90"), "{name}: {text}");
            assert!(text.contains("+20.00"), "{name}: {text}");
            assert!(text.contains("BUFFERED: 272 of 272"), "{name}: {text}");
            assert!(text.contains("streams sustained: c=1"), "{name}: {text}");
        }
        assert!(html.contains(r#"id="stream-overhead-table""#));
        let back: Report = serde_json::from_str(&json).unwrap();
        assert_eq!(back.streams, r.streams);
        let csv = crate::report::exporter("csv").unwrap().render(&r);
        let mut lines = csv.lines();
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
        let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
        let (target, direct) = (&rows[0], &rows[1]);
        assert_eq!((target[1], direct[1]), ("target", "direct"));
        assert_eq!(target[col("added_ttft_p50_ms")], "20.000");
        assert_eq!(target[col("added_itl_p99_ms")], "1.000");
        assert_eq!(direct[col("added_ttft_p50_ms")], "");
        let c4 = rows
            .iter()
            .find(|r| r[0] == "3" && r[1] == "target")
            .unwrap();
        assert_eq!(c4[col("buffered_streams")], "272");
        assert_eq!(c4[col("expected_itl_ms")], "20");
    }
}
