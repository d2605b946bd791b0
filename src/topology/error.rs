//! Why a service could not be started or kept running: each error names the
//! service, the problem and, where there is one, the fix.

use std::fmt;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

/// A failure of the topology stage.
#[derive(Debug)]
pub enum TopologyError {
    /// Something else listens on a service's port.
    PortInUse { service: String, port: u16 },
    /// A folder or a log file could not be made or opened.
    File {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    /// A service's data folder could not be handed to its `user`.
    Chown {
        service: String,
        path: PathBuf,
        source: nix::Error,
    },
    /// `user` names no account on this machine.
    NoUser(String),
    /// A service (or one of its prepare/after commands) has no program.
    EmptyCommand { service: String },
    /// The program could not be started at all.
    Spawn {
        service: String,
        program: String,
        source: std::io::Error,
    },
    /// A prepare/after command exited with a failure.
    CommandFailed {
        service: String,
        command: String,
        status: ExitStatus,
        log: PathBuf,
        excerpt: String,
    },
    /// The readiness probe never passed in time.
    NotReady {
        service: String,
        timeout: Duration,
        /// What the probe saw, e.g. `GET … never answered 2xx`.
        probe: String,
        log: PathBuf,
        excerpt: String,
    },
    /// A service exited while it should have been running.
    Exited {
        service: String,
        status: ExitStatus,
        log: PathBuf,
        excerpt: String,
    },
    /// The run's guardian (see [`super::guardian`]) ended while the run
    /// went on: nothing would kill the services should this process die.
    GuardianDied { pid: u32, status: ExitStatus },
    /// Ctrl-C or a signal arrived while services were starting.
    Interrupted,
    /// A provisioning program (python, pip) could not be started.
    Run {
        program: String,
        source: std::io::Error,
    },
    /// A provisioning command (making a venv, installing requirements) failed.
    SetupFailed {
        command: String,
        status: ExitStatus,
        log: PathBuf,
        excerpt: String,
    },
}

impl fmt::Display for TopologyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use TopologyError::*;
        match self {
            PortInUse { service, port } => write!(
                f,
                "port {port} for `{service}` is already in use; stop what holds it or set topology.base_port"
            ),
            File {
                action,
                path,
                source,
            } => write!(f, "cannot {action} {}: {source}", path.display()),
            Chown {
                service,
                path,
                source,
            } => write!(
                f,
                "cannot hand {} to `{service}`: {source}",
                path.display()
            ),
            NoUser(name) => write!(
                f,
                "user `{name}` does not exist; create it or remove the service's `user`"
            ),
            EmptyCommand { service } => write!(f, "service `{service}` has an empty command"),
            Spawn {
                service,
                program,
                source,
            } => write!(f, "cannot start `{service}` ({program}): {source}"),
            CommandFailed {
                service,
                command,
                status,
                log,
                excerpt,
            } => write!(
                f,
                "`{command}` for `{service}` failed ({status}); from {}:\n{excerpt}",
                log.display()
            ),
            NotReady {
                service,
                timeout,
                probe,
                log,
                excerpt,
            } => write!(
                f,
                "`{service}` was not ready within {} ({probe}); from {}:\n{excerpt}",
                humantime::format_duration(*timeout),
                log.display()
            ),
            Exited {
                service,
                status,
                log,
                excerpt,
            } => write!(
                f,
                "service `{service}` exited ({status}); from {}:\n{excerpt}",
                log.display()
            ),
            GuardianDied { pid, status } => write!(
                f,
                "the run's guardian (`scenario guard`, pid {pid}) died ({status}): nothing would \
                 clean up the services should this process die, so the run stops here; find what \
                 killed it (the OOM killer? see `dmesg`) and run again"
            ),
            Interrupted => f.write_str("interrupted while starting services"),
            Run { program, source } => write!(f, "cannot run {program}: {source}"),
            SetupFailed {
                command,
                status,
                log,
                excerpt,
            } => write!(
                f,
                "`{command}` failed ({status}); from {}:\n{excerpt}",
                log.display()
            ),
        }
    }
}

impl std::error::Error for TopologyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TopologyError::File { source, .. }
            | TopologyError::Spawn { source, .. }
            | TopologyError::Run { source, .. } => Some(source),
            TopologyError::Chown { source, .. } => Some(source),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_service_and_the_fix() {
        let e = TopologyError::PortInUse {
            service: "gateway-1".into(),
            port: 4000,
        };
        let text = e.to_string();
        assert!(text.contains("port 4000 for `gateway-1`"), "{text}");
        assert!(text.contains("set topology.base_port"), "{text}");
        let e = TopologyError::NoUser("nobody-here".into());
        assert!(e.to_string().contains("remove the service's `user`"));
        let e = TopologyError::File {
            action: "create",
            path: "/nope/logs".into(),
            source: std::io::Error::from(std::io::ErrorKind::PermissionDenied),
        };
        assert!(e.to_string().starts_with("cannot create /nope/logs: "));
        assert!(std::error::Error::source(&e).is_some());
    }

    #[test]
    fn a_dead_guardian_says_the_run_is_unguarded_and_what_to_look_for() {
        use std::os::unix::process::ExitStatusExt;
        let e = TopologyError::GuardianDied {
            pid: 4242,
            status: ExitStatus::from_raw(9),
        };
        let text = e.to_string();
        assert!(
            text.starts_with("the run's guardian (`scenario guard`, pid 4242) died (signal: 9"),
            "{text}"
        );
        assert!(
            text.contains("nothing would clean up the services"),
            "{text}"
        );
        assert!(text.contains("`dmesg`"), "{text}");
    }
}
