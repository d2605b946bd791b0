//! Service processes: start each in its own process group with its output in
//! `RUN_DIR/logs/`, wait until it is ready, watch it, and tear everything
//! down in reverse order — on success, failure, Ctrl-C and panic alike.

mod probe;

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio_util::sync::CancellationToken;

use crate::plan::Service;
pub use probe::http_get;

/// How long a service gets to exit after SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(25);

struct Running {
    name: String,
    child: Child,
    log: PathBuf,
}

/// Owns every started service; dropping it kills what is still running.
pub struct Supervisor {
    log_dir: PathBuf,
    running: Vec<Running>,
}

impl Supervisor {
    pub fn new(log_dir: &Path) -> Supervisor {
        Supervisor {
            log_dir: log_dir.to_path_buf(),
            running: Vec::new(),
        }
    }

    /// Start `service` and wait until its probe answers 2xx.
    ///
    /// Must be called from the thread that outlives the services (the main
    /// thread): children are told to die with it (PR_SET_PDEATHSIG).
    pub async fn start(
        &mut self,
        service: &Service,
        cancel: &CancellationToken,
    ) -> Result<(), String> {
        if std::net::TcpListener::bind(("127.0.0.1", service.port)).is_err() {
            return Err(format!(
                "port {} for `{}` is already in use; stop what holds it or set topology.base_port",
                service.port, service.name
            ));
        }
        std::fs::create_dir_all(&self.log_dir)
            .map_err(|e| format!("cannot create {}: {e}", self.log_dir.display()))?;
        let log = self.log_dir.join(format!("{}.log", service.name));
        let out =
            File::create(&log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        let (program, args) = service
            .command
            .split_first()
            .ok_or_else(|| format!("service `{}` has an empty command", service.name))?;
        let mut command = Command::new(program);
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0);
        // SAFETY: only async-signal-safe work (one prctl call) between fork and exec.
        unsafe {
            command.pre_exec(|| {
                nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(std::io::Error::from)
            });
        }
        let child = command
            .spawn()
            .map_err(|e| format!("cannot start `{}` ({program}): {e}", service.name))?;
        self.running.push(Running {
            name: service.name.clone(),
            child,
            log: log.clone(),
        });
        let deadline = Instant::now() + service.ready.timeout;
        loop {
            if let Some(dead) = self.dead() {
                return Err(dead);
            }
            if cancel.is_cancelled() {
                return Err("interrupted while starting services".into());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(format!(
                    "`{}` was not ready within {} (GET {} never answered 2xx)\n{}",
                    service.name,
                    humantime::format_duration(service.ready.timeout),
                    service.ready.url,
                    tail(&log, 20)
                ));
            }
            match http_get(&service.ready.url, left.min(Duration::from_secs(2))).await {
                Ok(status) if (200..300).contains(&status) => return Ok(()),
                _ => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    /// The first service that has exited, described with the end of its log.
    pub fn dead(&mut self) -> Option<String> {
        for r in &mut self.running {
            if let Ok(Some(status)) = r.child.try_wait() {
                return Some(format!(
                    "service `{}` exited ({status}); last lines of {}:\n{}",
                    r.name,
                    r.log.display(),
                    tail(&r.log, 20)
                ));
            }
        }
        None
    }

    /// Stop every service in reverse start order: SIGTERM to its process
    /// group, then SIGKILL after a grace period.
    pub async fn stop_all(&mut self) {
        while let Some(mut r) = self.running.pop() {
            let group = Pid::from_raw(r.child.id() as i32);
            let _ = killpg(group, Signal::SIGTERM);
            let deadline = Instant::now() + STOP_GRACE;
            while Instant::now() < deadline {
                if matches!(r.child.try_wait(), Ok(Some(_))) && !group_alive(group) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let _ = killpg(group, Signal::SIGKILL);
            let _ = r.child.wait();
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

/// The last `n` lines of a log file, indented, for error messages.
pub fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(n);
    if lines.is_empty() {
        return "    (the log is empty)".into();
    }
    lines[start..]
        .iter()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
