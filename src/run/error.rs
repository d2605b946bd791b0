//! Why a run stopped before its end: a service, the load or the shard
//! plan failed, a file or a setup call did, or a step's figures describe
//! the harness rather than the target. Each error names what failed and,
//! where there is one, the fix; it ends up in the report's `error`.

use std::path::PathBuf;

use crate::load::LoadError;
use crate::plan::shard::ShardError;
use crate::plan::Level;
use crate::topology::TopologyError;

/// A failure of the run stage (after planning, before the report is final).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A service could not be provisioned, started, or kept running, or a
    /// folder or planned file could not be made or written (`File`), or a
    /// planned file's `owner` names no account here (`NoUser`).
    #[error(transparent)]
    Topology(#[from] TopologyError),
    /// The steps cannot be lined up on `--start-at`.
    #[error(transparent)]
    Shard(#[from] ShardError),
    /// The target (or the baseline) cannot be addressed.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// A planned file could not be handed to its owner.
    #[error("cannot hand {} to `{user}`: {source}", path.display())]
    Chown {
        user: String,
        path: PathBuf,
        source: nix::Error,
    },
    /// The report could not be rewritten after a step.
    #[error("cannot write the report in {}: {source}", dir.display())]
    Report {
        dir: PathBuf,
        source: std::io::Error,
    },
    /// A setup call's body template does not render.
    #[error("setup call `{call}`: its body does not render: {source:#}")]
    SetupBody {
        call: String,
        source: minijinja::Error,
    },
    /// A setup call got no answer.
    #[error("setup call `{call}`: {source}")]
    SetupCall {
        call: String,
        source: crate::control::Error,
    },
    /// A setup call was answered with a non-2xx status (`text`: the
    /// answer's first 500 characters).
    #[error("setup call `{call}` ({method} {url}) answered {status}: {text}")]
    SetupStatus {
        call: String,
        method: String,
        url: String,
        status: u16,
        text: String,
    },
    /// A setup call that captures values answered something else than JSON.
    #[error("setup call `{call}` answered non-JSON ({source}): {text}")]
    SetupNotJson {
        call: String,
        source: serde_json::Error,
        text: String,
    },
    /// A setup call's answer lacks what it captures.
    #[error("setup call `{call}`: no `{pointer}` in its answer to capture as `{name}`: {text}")]
    SetupCapture {
        call: String,
        pointer: String,
        name: String,
        text: String,
    },
    /// The step's load task panicked (`step` is 1-based).
    #[error("step {step} crashed: {source}")]
    StepCrashed {
        step: usize,
        source: tokio::task::JoinError,
    },
    /// The step's load could not start its threads.
    #[error("step {step} could not run: {source}")]
    StepFailed { step: usize, source: std::io::Error },
    /// The client's own machine refused requests of a step (`classes`:
    /// the step's error counts by class).
    #[error(
        "step {step} ({level}): the client's own machine refused {refused} of {requests} requests \
         (out of file descriptors or local ports; {classes}): these figures measure the harness, \
         not the target. Raise `ulimit -n` or lower load.concurrency"
    )]
    ClientRefused {
        step: usize,
        level: Level,
        refused: u64,
        requests: u64,
        classes: String,
    },
    /// The client's own machine refused warm-up requests.
    #[error(
        "step {step} ({level}): the client's own machine refused {refused} warm-up requests (out of \
         file descriptors or local ports): raise `ulimit -n` or lower load.concurrency"
    )]
    WarmupRefused {
        step: usize,
        level: Level,
        refused: u64,
    },
    /// Every request of a step failed without any answer.
    #[error("step {step} ({level}): nothing answered at {url}: all {requests} requests failed ({classes})")]
    NothingAnswered {
        step: usize,
        level: Level,
        url: String,
        requests: u64,
        classes: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_what_failed_and_the_fix() {
        let level = Level::workers(4);
        let e = RunError::WarmupRefused {
            step: 2,
            level,
            refused: 7,
        };
        let text = e.to_string();
        assert!(text.starts_with("step 2 (c=4): the client's own machine refused 7 warm-up"));
        assert!(text.contains("raise `ulimit -n`"), "{text}");
    }

    #[test]
    fn stage_errors_pass_through_unchanged() {
        let topology = TopologyError::NoUser("x".into());
        let text = topology.to_string();
        assert_eq!(RunError::from(topology).to_string(), text);
        let shard = ShardError::Before1970("-1".into());
        let text = shard.to_string();
        assert_eq!(RunError::from(shard).to_string(), text);
    }

    /// The report hides secrets in the error as it did in the text.
    #[test]
    fn a_setup_answer_keeps_no_secret_once_reported() {
        let e = RunError::SetupStatus {
            call: "login".into(),
            method: "POST".into(),
            url: "http://127.0.0.1:1/login".into(),
            status: 401,
            text: "bad password hunter2".into(),
        };
        let reported = crate::plan::hide(&e.to_string(), &["hunter2".to_string()]);
        assert!(!reported.contains("hunter2"), "{reported}");
        assert!(
            reported.starts_with("setup call `login` (POST http://127.0.0.1:1/login) answered 401"),
            "{reported}"
        );
    }
}
