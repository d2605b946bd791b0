//! The client's own budget of file descriptors: every worker holds one
//! connection open, so a step at concurrency `c` (or an open loop's
//! `max_in_flight` of `c`) needs `c` descriptors on
//! top of what the runtime, logs and services use. Raised to the hard limit
//! before a run and checked against the plan, so a too-low `ulimit -n` is
//! named up front instead of showing up as the target's connect errors.

use nix::sys::resource::{getrlimit, setrlimit, Resource};

use super::LoadError;

/// Descriptors kept aside for everything but the workers' connections:
/// runtimes (epoll, eventfd), log files, pipes to services, the report.
pub const MARGIN: u64 = 64;

/// Raise the soft open-files limit (`RLIMIT_NOFILE`) to the hard one and
/// return the limits now in force, `(soft, hard)`. Processes started
/// afterwards (services) inherit the raised limit. Best effort: when the
/// system refuses to raise it (some systems cap the soft limit below an
/// unlimited hard one), the unchanged limits are returned and
/// [`check_concurrency`] says what to do; an error only when the limits
/// cannot be read.
pub fn raise_nofile() -> std::io::Result<(u64, u64)> {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).map_err(std::io::Error::from)?;
    if soft >= hard || setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_err() {
        return Ok((soft, hard));
    }
    Ok((hard, hard))
}

/// Whether `max_concurrency` workers (one connection each) plus [`MARGIN`]
/// fit in `soft` open files; if not, the error names the limit, what the
/// concurrency needs, and the two ways out.
pub fn check_concurrency(max_concurrency: u32, soft: u64) -> Result<(), LoadError> {
    let need = u64::from(max_concurrency) + MARGIN;
    if need <= soft {
        return Ok(());
    }
    Err(LoadError::OpenFiles {
        concurrency: max_concurrency,
        soft,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_concurrency_that_fits_passes() {
        assert!(check_concurrency(100, 1024).is_ok());
        assert!(check_concurrency(960, 1024).is_ok());
        assert!(check_concurrency(0, MARGIN).is_ok());
    }

    #[test]
    fn a_concurrency_that_does_not_fit_names_limit_need_and_fix() {
        assert_eq!(
            check_concurrency(5000, 1024).unwrap_err().to_string(),
            "concurrency 5000 needs 5064 open files (one connection per worker and 64 for \
             the runtime, logs and services), but this process may open only 1024 \
             (`ulimit -n`): run `ulimit -n 5064` in the shell before the command (above the \
             hard limit, `ulimit -Hn`, that needs root), or lower `load.concurrency` (an \
             open loop's `load.max_in_flight`) to at most 960"
        );
        // One over: the margin is counted.
        assert!(check_concurrency(961, 1024).is_err());
        // Nothing fits at all: no advice to lower the concurrency to zero.
        let e = check_concurrency(1, 32).unwrap_err().to_string();
        assert!(
            e.contains("`ulimit -n 65`") && !e.contains("at most"),
            "{e}"
        );
    }

    #[test]
    fn raising_keeps_the_soft_limit_within_the_hard_one() {
        let (soft, hard) = raise_nofile().unwrap();
        assert!(soft <= hard);
        let (now, _) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
        assert_eq!(now, soft);
    }
}
