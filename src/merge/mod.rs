//! Shard results and `scenario merge`: each shard of a sharded run
//! (`run --shard I/N`) writes a [`ShardResult`] — its steps' recorders in
//! lossless form ([`RawRecorder`]) — as `shard.json` in its run folder and,
//! with `--shard-out -`, as marker lines on stdout that survive `kubectl
//! logs`. [`merge`] rebuilds one [`Report`] from all `N` of them as if one
//! client had sent every request: the recorders are merged (histograms
//! added, never percentiles averaged) and summarised by the same code as a
//! local step.
//!
//! Windows: shards are aligned on the wall clock (each step's measurement
//! start, in µs since the epoch). The merged step's whole window runs from
//! the earliest shard's start to the last answer of any shard (the union),
//! so `rps_window` counts every success over it; the busy window is the
//! successes-weighted harmonic mean of the shards' busy windows, so the
//! headline `rps` is the sum of the shards' throughputs, each over its own
//! busy window (a shard's drain does not lower another's rate).

pub mod command;
mod error;

use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::assertions;
use crate::metrics::raw::RawRecorder;
use crate::metrics::{Recorder, StepMetrics, Window};
use crate::plan::shard::Shard;
use crate::plan::Check;
use crate::report::{Environment, Report, ScenarioInfo, Side, Status, StepReport};

pub use error::{LineProblem, MergeError};

/// Bumped when a field of [`ShardResult`] changes meaning.
pub const FORMAT: u32 = 1;

/// What starts every log line of a shard result (see [`to_lines`]).
pub const MARKER: &str = "#scenario-shard";

/// The base64 characters per log line: far below the 16 KiB at which
/// container runtimes split a log line.
const CHUNK: usize = 4000;

/// One shard's run, lossless.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShardResult {
    pub format: u32,
    pub shard: Shard,
    /// The planned start (`--start-at`), RFC 3339; absent when the shard
    /// started each step as soon as it could.
    pub start_at: Option<String>,
    pub scenario: ScenarioInfo,
    /// The shard's plan, as `scenario plan --json` prints it.
    pub plan: Option<crate::plan::Plan>,
    /// The pass/fail thresholds `merge` judges (a shard judges nothing).
    pub checks: Vec<Check>,
    /// Report formats the merged run is written in (besides JSON).
    pub formats: Vec<crate::report::Format>,
    pub environment: Environment,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub status: Status,
    pub error: Option<String>,
    pub steps: Vec<RawStep>,
}

/// One step of one shard.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RawStep {
    pub index: usize,
    pub level: crate::plan::Level,
    /// Open loop: the whole run's target rate (all shards), req/s.
    pub rate: Option<f64>,
    pub run: u32,
    pub side: Side,
    /// When measurement was planned to start and did, µs since the epoch.
    pub planned_start_us: Option<u64>,
    pub started_us: u64,
    /// To the last answer and to the end of the busy window, µs from the start.
    pub whole_us: u64,
    pub busy_us: u64,
    /// Open loop: the scheduled window (duration, or requests over the rate).
    pub scheduled_us: Option<u64>,
    pub warmup_errors: u64,
    pub cancelled: bool,
    pub error: Option<String>,
    pub recorder: RawRecorder,
}

/// `result` as log lines: `#scenario-shard 1 <id> I/N <part>/<parts> <base64>`,
/// the JSON deflate-compressed and cut into lines of at most [`CHUNK`]
/// characters; `<id>` tells the parts of one result from another's.
pub fn to_lines(result: &ShardResult) -> String {
    let json = serde_json::to_vec(result).expect("a shard result serializes");
    let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(&json).expect("compressing into memory");
    let packed = base64::engine::general_purpose::STANDARD
        .encode(z.finish().expect("compressing into memory"));
    let id = format!("{:016x}", fnv(packed.as_bytes()));
    let chunks: Vec<&str> = packed
        .as_bytes()
        .chunks(CHUNK)
        .map(|c| std::str::from_utf8(c).expect("base64 is ASCII"))
        .collect();
    let mut out = String::new();
    for (k, chunk) in chunks.iter().enumerate() {
        out.push_str(&format!(
            "{MARKER} {FORMAT} {id} {} {}/{} {chunk}\n",
            result.shard,
            k + 1,
            chunks.len()
        ));
    }
    out
}

/// FNV-1a: a short id for a result's lines (not a security measure).
fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Every shard result in `text`: a `shard.json` document, or any text
/// (collected `kubectl logs`, with or without `--prefix`) holding the
/// lines [`to_lines`] wrote, in any order and among other lines.
pub fn parse(text: &str, from: &str) -> Result<Vec<ShardResult>, MergeError> {
    if text.trim_start().starts_with('{') {
        let r: ShardResult = serde_json::from_str(text).map_err(|source| MergeError::NotJson {
            from: from.to_string(),
            source,
        })?;
        return Ok(vec![r]);
    }
    // id -> (parts, part texts)
    let mut found: Vec<(String, usize, Vec<Option<String>>)> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let Some(at) = line.find(MARKER) else {
            continue;
        };
        let bad = |problem: LineProblem| MergeError::BrokenLine {
            from: from.to_string(),
            line: n + 1,
            problem,
        };
        let words: Vec<&str> = line[at..].split_whitespace().collect();
        let [_, format, id, _shard, part, chunk] = words[..] else {
            return Err(bad(LineProblem::Words));
        };
        if format != FORMAT.to_string() {
            return Err(bad(LineProblem::Format(format.to_string())));
        }
        let (k, total) = part
            .split_once('/')
            .and_then(|(k, t)| Some((k.parse::<usize>().ok()?, t.parse::<usize>().ok()?)))
            .filter(|(k, t)| *k >= 1 && k <= t)
            .ok_or_else(|| bad(LineProblem::Part))?;
        let i = match found.iter().position(|(i, _, _)| i == id) {
            Some(i) => i,
            None => {
                found.push((id.to_string(), total, vec![None; total]));
                found.len() - 1
            }
        };
        let entry = &mut found[i];
        if entry.1 != total {
            return Err(bad(LineProblem::PartCount));
        }
        entry.2[k - 1] = Some(chunk.to_string());
    }
    found
        .into_iter()
        .map(|(id, total, parts)| unpack(from, id, total, parts))
        .collect()
}

/// The shard result whose log lines held `parts` (base64 of its deflated
/// JSON, in order), every one of the `total` present.
fn unpack(
    from: &str,
    id: String,
    total: usize,
    parts: Vec<Option<String>>,
) -> Result<ShardResult, MergeError> {
    let missing = parts.iter().filter(|p| p.is_none()).count();
    if missing > 0 {
        return Err(MergeError::Truncated {
            from: from.to_string(),
            id,
            missing,
            total,
        });
    }
    let packed: String = parts.into_iter().flatten().collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(packed)
        .map_err(|source| MergeError::NotBase64 {
            from: from.to_string(),
            id: id.clone(),
            source,
        })?;
    let mut json = Vec::new();
    flate2::read::DeflateDecoder::new(bytes.as_slice())
        .read_to_end(&mut json)
        .map_err(|source| MergeError::NotDeflate {
            from: from.to_string(),
            id: id.clone(),
            source,
        })?;
    serde_json::from_slice(&json).map_err(|source| MergeError::NotAShardResult {
        from: from.to_string(),
        id,
        source,
    })
}

/// The shard results at `path`: a `shard.json`, a run folder holding one,
/// a log file, or `-` for stdin.
pub fn read(path: &Path) -> Result<Vec<ShardResult>, MergeError> {
    let from = path.display().to_string();
    let text = if path == Path::new("-") {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(MergeError::Stdin)?;
        s
    } else {
        let file = if path.is_dir() {
            path.join("shard.json")
        } else {
            path.to_path_buf()
        };
        std::fs::read_to_string(&file).map_err(|source| MergeError::Read { path: file, source })?
    };
    let found = parse(&text, &from)?;
    if found.is_empty() {
        return Err(MergeError::NoResult { from });
    }
    Ok(found)
}

/// One report from every shard of one run, as if one client had sent
/// every request; also returns warnings (shards that started a step far
/// apart). Errors when the results are not the `N` shards of one run.
pub fn merge(mut shards: Vec<ShardResult>) -> Result<(Report, Vec<String>), MergeError> {
    let first = shards.first().ok_or(MergeError::Nothing)?.clone();
    shards.sort_by_key(|s| s.shard.index);
    check_shards(&shards, &first)?;

    // What the shards' plan says of goodput and the frontier.
    let capacity = first.plan.as_ref().map(|p| &p.capacity);
    let slo = capacity.and_then(|c| c.slo);
    let frontier = capacity.map(|c| c.frontier.clone());
    let (steps, warnings) = merge_steps(&shards, &first, slo.is_some())?;

    let (status, error) = status_of(&shards);
    let plan = first.plan.clone().map(without_shards);
    let mut report = Report {
        schema_version: crate::report::SCHEMA_VERSION,
        status,
        error,
        scenario: first.scenario.clone(),
        plan,
        environment: first.environment.clone(),
        started_at: shards
            .iter()
            .map(|s| s.started_at.clone())
            .min()
            .unwrap_or_default(),
        finished_at: shards.iter().filter_map(|s| s.finished_at.clone()).max(),
        steps,
        levels: Vec::new(),
        baseline_levels: Vec::new(),
        overhead: Vec::new(),
        frontier: None,
        slo,
        search: None,
        streams: None,
        memory: None,
        regression: None,
        verdicts: Vec::new(),
    };
    report.summarise_levels();
    if let Some(plan) = &frontier {
        report.frontier = crate::report::frontier::compute(&report, plan);
    }
    if report.status == Status::Complete {
        let swept: Vec<crate::plan::Level> = first.steps.iter().map(|s| s.level).collect();
        report.verdicts = assertions::judge(&first.checks, &report.levels, &swept);
    }
    Ok((report, warnings))
}

/// Each step every shard measured, merged, and a warning for each whose
/// shards started far apart; stops at the first step a shard lacks.
fn merge_steps(
    shards: &[ShardResult],
    first: &ShardResult,
    goodput: bool,
) -> Result<(Vec<StepReport>, Vec<String>), MergeError> {
    let mut warnings = Vec::new();
    let mut steps = Vec::new();
    for step in &first.steps {
        let parts: Vec<&RawStep> = shards
            .iter()
            .filter_map(|s| {
                s.steps
                    .iter()
                    .find(|r| r.index == step.index && r.side == step.side)
            })
            .collect();
        if parts.len() < shards.len() {
            // A shard stopped before this step: its figures would be partial.
            break;
        }
        let (report_step, skew) = merge_step(&parts, first.shard.count, goodput)?;
        if skew > Duration::from_secs(1) {
            warnings.push(format!(
                "step {} ({}): the shards started measuring up to {:.2} s apart (planned \
                 together): their windows only partly overlap",
                step.index + 1,
                step.level.label(),
                skew.as_secs_f64()
            ));
        }
        steps.push(report_step);
    }
    Ok((steps, warnings))
}

/// The shards' plan, as one process would have shown it: no step's shard.
fn without_shards(mut plan: crate::plan::Plan) -> crate::plan::Plan {
    for step in &mut plan.steps {
        step.shard = None;
    }
    plan
}

/// Every one of the `N` shards of one run, each once (`shards` sorted by
/// index), in this tool's format; `Err` says which is not.
fn check_shards(shards: &[ShardResult], first: &ShardResult) -> Result<(), MergeError> {
    let n = first.shard.count;
    for s in shards {
        if s.format != FORMAT {
            return Err(MergeError::Format {
                shard: s.shard,
                format: s.format,
            });
        }
        if s.shard.count != n {
            return Err(MergeError::OtherCount {
                shard: s.shard,
                first: first.shard,
            });
        }
        if s.scenario.resolved != first.scenario.resolved || s.start_at != first.start_at {
            return Err(MergeError::OtherRun {
                shard: s.shard,
                first: first.shard,
            });
        }
    }
    let indices: Vec<u32> = shards.iter().map(|s| s.shard.index).collect();
    if let Some(w) = indices.windows(2).find(|w| w[0] == w[1]) {
        return Err(MergeError::Twice {
            index: w[0],
            count: n,
        });
    }
    let missing: Vec<String> = (0..n)
        .filter(|i| !indices.contains(i))
        .map(|i| format!("{i}/{n}"))
        .collect();
    if !missing.is_empty() {
        return Err(MergeError::Missing { missing, count: n });
    }
    Ok(())
}

/// The merged run's status, and why it stopped early: interrupted when a
/// shard was, complete when every shard was, else failed.
fn status_of(shards: &[ShardResult]) -> (Status, Option<String>) {
    let errors: Vec<String> = shards
        .iter()
        .filter_map(|s| s.error.as_ref().map(|e| format!("shard {}: {e}", s.shard)))
        .collect();
    let status = if shards.iter().any(|s| s.status == Status::Interrupted) {
        Status::Interrupted
    } else if shards.iter().all(|s| s.status == Status::Complete) {
        Status::Complete
    } else {
        Status::Failed
    };
    let error = match status {
        Status::Complete => None,
        _ if errors.is_empty() => {
            Some("a shard did not finish (its result says it was still running)".to_string())
        }
        _ => Some(errors.join("; ")),
    };
    (status, error)
}

/// One step of every shard as one step, and how far apart the shards
/// started measuring it.
fn merge_step(
    parts: &[&RawStep],
    n: u32,
    goodput: bool,
) -> Result<(StepReport, Duration), MergeError> {
    let origin = parts.iter().map(|p| p.started_us).min().unwrap_or(0);
    let latest = parts.iter().map(|p| p.started_us).max().unwrap_or(0);
    let mut recorder = Recorder::default();
    let (mut whole, mut busy_end, mut rates, mut weights) =
        (Duration::ZERO, Duration::ZERO, 0.0, 0.0);
    for (k, p) in parts.iter().enumerate() {
        let later = Duration::from_micros(p.started_us - origin);
        let r = p
            .recorder
            .clone()
            .into_recorder(later)
            .map_err(|source| MergeError::Recorder {
                index: k,
                count: n,
                step: p.index + 1,
                source,
            })?;
        recorder.merge(&r);
        let busy = Duration::from_micros(p.busy_us);
        whole = whole.max(later + Duration::from_micros(p.whole_us));
        busy_end = busy_end.max(later + busy);
        if !busy.is_zero() && p.recorder.counts.busy_successes > 0.0 {
            rates += p.recorder.counts.busy_successes / busy.as_secs_f64();
            weights += p.recorder.counts.busy_successes;
        }
    }
    // The harmonic mean that makes `rps` the sum of the shards' own rates.
    let busy = if rates > 0.0 {
        Duration::from_secs_f64(weights / rates).min(whole)
    } else {
        busy_end.min(whole)
    };
    let window = Window { whole, busy };
    let first = parts[0];
    let open_loop = first
        .rate
        .zip(first.scheduled_us)
        .map(|(rate, w)| recorder.open_summary(rate, Duration::from_micros(w)));
    let errors: Vec<String> = parts
        .iter()
        .enumerate()
        .filter_map(|(k, p)| p.error.as_ref().map(|e| format!("shard {k}/{n}: {e}")))
        .collect();
    Ok((
        StepReport {
            index: first.index,
            level: first.level,
            run: first.run,
            metrics: StepMetrics {
                open_loop,
                goodput: goodput.then(|| recorder.goodput_summary(window)),
                ..recorder.summary(window)
            },
            timeseries: recorder.timeseries(),
            warmup_errors: parts.iter().map(|p| p.warmup_errors).sum(),
            cancelled: parts.iter().any(|p| p.cancelled),
            error: (!errors.is_empty()).then(|| errors.join("; ")),
            side: first.side,
            // A shard runs no service: nothing sampled or scraped.
            resources: Vec::new(),
            upstream: None,
            server_metrics: Vec::new(),
        },
        Duration::from_micros(latest - origin),
    ))
}

#[cfg(test)]
mod tests;
