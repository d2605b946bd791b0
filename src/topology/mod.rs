//! Service processes: start each in its own process group with its output in
//! `RUN_DIR/logs/`, wait until it is ready, watch it, and tear everything
//! down in reverse order — on success, failure, Ctrl-C and panic alike.

pub mod cpus;
mod error;
pub mod guardian;
pub mod logs;
pub mod provision;
pub mod resources;
pub mod scrape;

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio_util::sync::CancellationToken;

pub use error::TopologyError;

use crate::plan::{ReadyCheck, Service};

struct Running {
    name: String,
    role: cpus::Role,
    child: Child,
    log: PathBuf,
    stop_timeout: Duration,
}

/// Owns every started service; dropping it kills what is still running.
pub struct Supervisor {
    log_dir: PathBuf,
    running: Vec<Running>,
    /// `topology.cpus`: each service is started pinned to its side's CPUs.
    cpus: Option<cpus::Pinning>,
    /// Kills what is left should this process die without tearing down
    /// (dropped last, after the services).
    guardian: Option<guardian::Guardian>,
}

impl Supervisor {
    /// Also makes this process a child subreaper: a service's grandchildren
    /// that outlive their parent come back to us, not to init, so teardown
    /// can still find them.
    ///
    /// `guard_with` (this binary) is started as the run's [`guardian`],
    /// which kills every process of the run should this one die without
    /// tearing down; `None` for a plan that starts no process (a run
    /// against an existing target), where a guardian would only spend CPU
    /// reading `/proc` beside the measurement.
    pub fn new(log_dir: &Path, guard_with: Option<&str>) -> Supervisor {
        let _ = nix::sys::prctl::set_child_subreaper(true);
        let guardian = guard_with.and_then(|exe| {
            guardian::Guardian::start(exe)
                .map_err(|e| {
                    errln!(
                        "warning: cannot start the guardian ({exe} guard: {e}); \
                     services may outlive this process if it is killed"
                    )
                })
                .ok()
        });
        Supervisor {
            log_dir: log_dir.to_path_buf(),
            running: Vec::new(),
            cpus: None,
            guardian,
        }
    }

    /// Start every service from now on pinned to its side's CPUs (its
    /// children inherit the affinity).
    pub fn pin(&mut self, cpus: Option<cpus::Pinning>) {
        self.cpus = cpus;
    }

    /// Start a wave of services together, then wait until each is ready
    /// and has run its `after` commands.
    ///
    /// Must be called from the thread that outlives the services (the main
    /// thread): children are told to die with it (PR_SET_PDEATHSIG).
    pub async fn start_wave(
        &mut self,
        wave: &[&Service],
        cancel: &CancellationToken,
    ) -> Result<(), TopologyError> {
        for service in wave {
            self.spawn(service).await?;
        }
        for service in wave {
            self.wait_ready(service, cancel).await?;
            for argv in &service.after {
                run_to_end(service, argv, &self.log_of(&service.name)).await?;
            }
        }
        Ok(())
    }

    fn log_of(&self, name: &str) -> PathBuf {
        self.log_dir.join(format!("{name}.log"))
    }

    async fn spawn(&mut self, service: &Service) -> Result<(), TopologyError> {
        if std::net::TcpListener::bind(("127.0.0.1", service.port)).is_err() {
            return Err(TopologyError::PortInUse {
                service: service.name.clone(),
                port: service.port,
            });
        }
        std::fs::create_dir_all(&self.log_dir).map_err(|e| file("create", &self.log_dir, e))?;
        let owner = user_ids(service.user.as_deref())?;
        for dir in &service.dirs {
            std::fs::create_dir_all(dir).map_err(|e| file("create", dir, e))?;
            if let Some((uid, gid)) = owner {
                nix::unistd::chown(dir, Some(uid), Some(gid)).map_err(|source| {
                    TopologyError::Chown {
                        service: service.name.clone(),
                        path: dir.clone(),
                        source,
                    }
                })?;
            }
        }
        let log = self.log_of(&service.name);
        File::create(&log).map_err(|e| file("create", &log, e))?;
        for argv in &service.prepare {
            run_to_end(service, argv, &log).await?;
        }
        let mut command = command(service, &service.command, &log)?;
        let pin = self.cpus.as_ref().map(|p| p.of(service.role()).clone());
        // SAFETY: only async-signal-safe work (a prctl and a sched_setaffinity
        // call on memory allocated before the fork) between fork and exec.
        unsafe {
            command.pre_exec(move || {
                nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(std::io::Error::from)?;
                match &pin {
                    Some(cpus) => cpus.pin_current(),
                    None => Ok(()),
                }
            });
        }
        let child = command.spawn().map_err(|source| TopologyError::Spawn {
            service: service.name.clone(),
            program: service.command[0].clone(),
            source,
        })?;
        self.running.push(Running {
            name: service.name.clone(),
            role: service.role(),
            child,
            log,
            stop_timeout: service.stop_timeout,
        });
        Ok(())
    }

    async fn wait_ready(
        &mut self,
        service: &Service,
        cancel: &CancellationToken,
    ) -> Result<(), TopologyError> {
        let timeout = service.ready.timeout();
        let deadline = Instant::now() + timeout;
        let log = self.log_of(&service.name);
        // The check's last answer, for the error should it never be 2xx.
        let mut last: Option<u16> = None;
        loop {
            if let Some(dead) = self.exited() {
                return Err(dead);
            }
            if cancel.is_cancelled() {
                return Err(TopologyError::Interrupted);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                let what = match &service.ready {
                    ReadyCheck::Http { url, .. } => match last {
                        Some(status) => format!(
                            "GET {url} never answered 2xx; last answer {status}{}",
                            match status {
                                401 | 403 => ": does the probe need `ready_headers`?",
                                _ => "",
                            }
                        ),
                        None => format!("GET {url} never answered 2xx"),
                    },
                    ReadyCheck::Command { argv, .. } => {
                        format!("`{}` never succeeded", argv.join(" "))
                    }
                };
                return Err(TopologyError::NotReady {
                    service: service.name.clone(),
                    timeout,
                    probe: what,
                    excerpt: logs::excerpt(&log),
                    log,
                });
            }
            let ready = match &service.ready {
                ReadyCheck::Http { url, headers, .. } => {
                    let answer = crate::control::call(
                        "GET",
                        url,
                        headers,
                        bytes::Bytes::new(),
                        left.min(Duration::from_secs(2)),
                    )
                    .await;
                    if let Ok(a) = &answer {
                        last = Some(a.status);
                    }
                    answer.is_ok_and(|a| a.is_success())
                }
                ReadyCheck::Command { argv, .. } => {
                    // Bounded like an HTTP check, and killed when abandoned.
                    let mut check = tokio::process::Command::new(&argv[0]);
                    check
                        .args(&argv[1..])
                        .stdin(Stdio::null())
                        .stdout(Stdio::null())
                        .stderr(Stdio::null())
                        .kill_on_drop(true);
                    tokio::select! {
                        s = tokio::time::timeout(left.min(Duration::from_secs(10)), check.status()) => {
                            matches!(s, Ok(Ok(s)) if s.success())
                        }
                        _ = cancel.cancelled() => false,
                    }
                }
            };
            if ready {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Each running service's name and pid, the root of its process tree (for sampling).
    pub fn roots(&self) -> Vec<resources::Root> {
        self.running
            .iter()
            .map(|r| resources::Root {
                name: r.name.clone(),
                role: r.role,
                pid: r.child.id() as i32,
            })
            .collect()
    }

    /// The first service that has exited, with the end of its log, or
    /// else the guardian if it died: a run that would no longer be cleaned
    /// up after should this process die stops like one that lost a service.
    pub fn exited(&mut self) -> Option<TopologyError> {
        let service = self.running.iter_mut().find_map(|r| {
            let status = r.child.try_wait().ok()??;
            Some(TopologyError::Exited {
                service: r.name.clone(),
                status,
                log: r.log.clone(),
                excerpt: logs::excerpt(&r.log),
            })
        });
        service.or_else(|| {
            let (pid, status) = self.guardian.as_mut()?.died()?;
            Some(TopologyError::GuardianDied { pid, status })
        })
    }

    /// Stop every service in reverse start order: SIGTERM to its process
    /// group, then SIGKILL after a grace period (at once when `now` fires).
    pub async fn stop_all(&mut self, now: &CancellationToken) {
        while let Some(mut r) = self.running.pop() {
            let tracked: Vec<i32> = self
                .running
                .iter()
                .map(|o| o.child.id() as i32)
                .chain([r.child.id() as i32])
                .collect();
            let root = r.child.id() as i32;
            let group = Pid::from_raw(root);
            // Processes that left the group (setsid) are found by parentage.
            let tree = resources::tree_of(root, &resources::read_procs());
            let _ = killpg(group, Signal::SIGTERM);
            let deadline = Instant::now() + r.stop_timeout;
            while Instant::now() < deadline && !now.is_cancelled() {
                let leader_gone = matches!(r.child.try_wait(), Ok(Some(_)));
                if leader_gone && !group_alive(group) && !tree.iter().any(|&p| alive(p)) {
                    break;
                }
                reap_orphans(&tracked);
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(50)) => {}
                    _ = now.cancelled() => {}
                }
            }
            let _ = killpg(group, Signal::SIGKILL);
            for &pid in &tree {
                let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
            let _ = r.child.wait();
        }
        reap_orphans(&[]);
    }
}

/// Is `pid` running (not a zombie)?
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| s.rfind(')').is_some_and(|i| !s[i + 2..].starts_with('Z')))
        .unwrap_or(false)
}

/// Collect the exit status of orphans re-parented to us (we are a
/// subreaper), leaving alone the children we track ourselves.
fn reap_orphans(tracked: &[i32]) {
    use nix::sys::wait::{waitpid, WaitPidFlag};
    let me = std::process::id() as i32;
    for p in resources::read_procs()
        .iter()
        .filter(|p| p.ppid == me && !tracked.contains(&p.pid))
    {
        if !alive(p.pid) {
            let _ = waitpid(Pid::from_raw(p.pid), Some(WaitPidFlag::WNOHANG));
        }
    }
}

fn group_alive(group: Pid) -> bool {
    killpg(group, None).is_ok()
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        for r in &mut self.running {
            let _ = killpg(Pid::from_raw(r.child.id() as i32), Signal::SIGKILL);
            let _ = r.child.wait();
        }
    }
}

/// The uid and gid of `user`, if one is named.
fn user_ids(
    user: Option<&str>,
) -> Result<Option<(nix::unistd::Uid, nix::unistd::Gid)>, TopologyError> {
    let Some(name) = user else {
        return Ok(None);
    };
    match nix::unistd::User::from_name(name) {
        Ok(Some(u)) => Ok(Some((u.uid, u.gid))),
        _ => Err(TopologyError::NoUser(name.to_string())),
    }
}

/// A service's command (or one of its prepare/after commands): its env,
/// its user, its own process group, output appended to its log.
fn command(service: &Service, argv: &[String], log: &Path) -> Result<Command, TopologyError> {
    let (program, args) = argv
        .split_first()
        .ok_or_else(|| TopologyError::EmptyCommand {
            service: service.name.clone(),
        })?;
    let out = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(log)
        .map_err(|e| file("open", log, e))?;
    let err = out.try_clone().map_err(|e| file("open", log, e))?;
    let mut command = Command::new(program);
    for name in &service.env_remove {
        command.env_remove(name);
    }
    command
        .args(args)
        .envs(service.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0);
    if let Some((uid, gid)) = user_ids(service.user.as_deref())? {
        command.uid(uid.as_raw()).gid(gid.as_raw());
    }
    Ok(command)
}

/// Run a prepare/after command to the end; a failure shows its log.
async fn run_to_end(service: &Service, argv: &[String], log: &Path) -> Result<(), TopologyError> {
    let command = command(service, argv, log)?;
    let status = tokio::process::Command::from(command)
        .status()
        .await
        .map_err(|source| TopologyError::Spawn {
            service: service.name.clone(),
            program: argv[0].clone(),
            source,
        })?;
    if status.success() {
        Ok(())
    } else {
        Err(TopologyError::CommandFailed {
            service: service.name.clone(),
            command: argv.join(" "),
            status,
            log: log.to_path_buf(),
            excerpt: logs::excerpt(log),
        })
    }
}

/// A folder or file that could not be made or opened.
fn file(action: &'static str, path: &Path, source: std::io::Error) -> TopologyError {
    TopologyError::File {
        action,
        path: path.to_path_buf(),
        source,
    }
}
