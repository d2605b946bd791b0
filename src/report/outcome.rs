//! A run's outcome and the exit code it means: the one exit-code policy
//! `run`, `merge`, `compare`, `report` and every other command share.
//!
//! Exit codes: 0 all assertions passed, 1 an assertion (or a `--baseline`
//! comparison) failed, 2 bad input or a run error, 130 interrupted.

use serde::Serialize;

use super::{Report, Status};

/// What a run (or a command) came to, from best to worst: the worst of
/// several is their [`Ord`] maximum, and so is its exit code.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Outcome {
    /// Complete, every assertion passed (exit 0).
    #[default]
    Pass,
    /// Complete, an assertion or a comparison failed (exit 1).
    Fail,
    /// Steps still running: what a crash leaves behind (exit 2).
    Running,
    /// Stopped by an error, or bad input (exit 2).
    Error,
    /// Stopped by Ctrl-C or a signal (exit 130).
    Interrupted,
}

impl Outcome {
    /// The outcome of `report`.
    pub fn of(report: &Report) -> Outcome {
        match report.status {
            Status::Complete if report.passed() => Outcome::Pass,
            Status::Complete => Outcome::Fail,
            Status::Interrupted => Outcome::Interrupted,
            Status::Failed => Outcome::Error,
            Status::Running => Outcome::Running,
        }
    }

    /// One word: PASS, FAIL, INTERRUPTED, ERROR or RUNNING.
    pub fn word(self) -> &'static str {
        match self {
            Outcome::Pass => "PASS",
            Outcome::Fail => "FAIL",
            Outcome::Interrupted => "INTERRUPTED",
            Outcome::Error => "ERROR",
            Outcome::Running => "RUNNING",
        }
    }

    /// The process exit code.
    pub fn exit_code(self) -> u8 {
        match self {
            Outcome::Pass => 0,
            Outcome::Fail => 1,
            Outcome::Running | Outcome::Error => 2,
            Outcome::Interrupted => 130,
        }
    }

    /// [`Outcome::Pass`] when `ok`, else [`Outcome::Error`] (bad input).
    pub fn checked(ok: bool) -> Outcome {
        if ok {
            Outcome::Pass
        } else {
            Outcome::Error
        }
    }
}

/// A problem printed to stderr already: the command ends with
/// [`Outcome::Error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reported;

impl From<Result<(), Reported>> for Outcome {
    fn from(r: Result<(), Reported>) -> Outcome {
        Outcome::checked(r.is_ok())
    }
}

impl Report {
    /// See [`Outcome::of`].
    pub fn outcome(&self) -> Outcome {
        Outcome::of(self)
    }

    /// The exit code of the run this report describes.
    pub fn exit_code(&self) -> u8 {
        self.outcome().exit_code()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_readme_table() {
        let mut r = crate::report::fixture::report();
        assert_eq!((r.outcome(), r.exit_code()), (Outcome::Interrupted, 130));
        r.status = Status::Complete;
        assert!(!r.passed(), "the fixture holds a failed verdict");
        assert_eq!((r.outcome(), r.exit_code()), (Outcome::Fail, 1));
        r.verdicts.retain(|v| !v.failed());
        assert_eq!((r.outcome(), r.exit_code()), (Outcome::Pass, 0));
        r.status = Status::Failed;
        assert_eq!((r.outcome(), r.exit_code()), (Outcome::Error, 2));
        r.status = Status::Running;
        assert_eq!(r.exit_code(), 2);
    }

    #[test]
    fn the_worst_outcome_has_the_highest_exit_code() {
        use Outcome::*;
        let all = [Pass, Fail, Running, Error, Interrupted];
        for a in all {
            for b in all {
                assert_eq!(a.max(b).exit_code(), a.exit_code().max(b.exit_code()));
            }
        }
    }
}
