//! Why shard results cannot be read or merged: each error names the file
//! (or shard) at fault and what to give instead.

use std::path::PathBuf;

use crate::metrics::raw::RawError;
use crate::plan::shard::Shard;

use super::{FORMAT, MARKER};

/// A failure of `scenario merge` (reading the shard results, or checking
/// that they are the `N` shards of one run).
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// A `shard.json` document that does not parse.
    #[error("{from}: not a shard result: {source}")]
    NotJson {
        from: String,
        source: serde_json::Error,
    },
    /// A `#scenario-shard` line (1-based `line`) that is not one.
    #[error("{from}:{line}: a broken shard line ({problem})")]
    BrokenLine {
        from: String,
        line: usize,
        problem: LineProblem,
    },
    #[error(
        "{from}: shard result {id} lacks {missing} of its {total} lines (a truncated log? \
         collect it with `kubectl logs --tail=-1`)"
    )]
    Truncated {
        from: String,
        id: String,
        missing: usize,
        total: usize,
    },
    #[error("{from}: shard result {id} is not base64: {source}")]
    NotBase64 {
        from: String,
        id: String,
        source: base64::DecodeError,
    },
    #[error("{from}: shard result {id} does not inflate: {source}")]
    NotDeflate {
        from: String,
        id: String,
        source: std::io::Error,
    },
    #[error("{from}: shard result {id} is not a shard result: {source}")]
    NotAShardResult {
        from: String,
        id: String,
        source: serde_json::Error,
    },
    #[error("cannot read stdin: {0}")]
    Stdin(#[source] std::io::Error),
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{from}: no shard result in it (a shard.json, a run folder, or logs with \
         `{MARKER}` lines from `scenario run --shard I/N --shard-out -`)"
    )]
    NoResult { from: String },
    #[error("no shard result to merge")]
    Nothing,
    #[error("shard {shard} is in format {format}; this scenario reads {FORMAT}")]
    Format { shard: Shard, format: u32 },
    #[error(
        "shard {shard} is of a run in {} shards, shard {first} of one in {}: merge the shards of one run",
        shard.count,
        first.count
    )]
    OtherCount { shard: Shard, first: Shard },
    #[error(
        "shard {shard} ran another scenario (or another --start-at) than shard {first}: merge the \
         shards of one run"
    )]
    OtherRun { shard: Shard, first: Shard },
    #[error("shard {index}/{count} is given twice: give each shard's result once")]
    Twice { index: u32, count: u32 },
    /// Shards (`I/N`) none of the results is.
    #[error(
        "shards {} are missing: every one of the {count} is needed for the merged figures \
         (did a pod fail? `kubectl get pods -l job-name=…` shows it)",
        missing.join(", ")
    )]
    Missing { missing: Vec<String>, count: u32 },
    /// Shard `index`'s recorder of step `step` (1-based) does not decode.
    #[error("shard {index}/{count}, step {step}: {source}")]
    Recorder {
        index: usize,
        count: u32,
        step: usize,
        source: RawError,
    },
}

/// What is wrong with a `#scenario-shard` line.
#[derive(Debug, thiserror::Error)]
pub enum LineProblem {
    #[error("expected 6 words")]
    Words,
    #[error(
        "format {0}; this scenario reads format {FORMAT}: merge with the same version that ran the shards"
    )]
    Format(String),
    #[error("its part is not K/N")]
    Part,
    #[error("its part count differs from an earlier line's")]
    PartCount,
}
