//! The guardian: a small process that outlives the tool and kills every
//! process of the run when the tool dies without tearing down, `kill -9`
//! included.
//!
//! Why this mechanism: the parent-death signal reaches only the tool's
//! direct children, and the processes they fork (nginx and gunicorn
//! workers, PostgreSQL backends) survive their parent. A cgroup per run
//! would hold them all, but it needs a writable cgroup hierarchy, which
//! containers and CI machines often lack. The guardian needs nothing: the
//! tool starts it (`scenario guard`, in its own process group so a signal
//! to the tool's group spares it) with a pipe on its stdin. While the tool
//! lives, the guardian looks at `/proc` every [`LOOK`] and remembers every
//! descendant of the tool by (pid, start time), with its process group and
//! session. When the pipe ends (the tool exited, however it exited), it
//! kills every remembered process that still runs, every remembered group
//! and every session those processes led (a PostgreSQL backend that called
//! setsid), then looks again, until nothing is left. After a clean
//! teardown there is nothing left to kill and it just exits.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;

use super::resources::{read_procs, tree_of, Proc};

/// How often the guardian refreshes what it knows of the run's processes:
/// a look reads every `/proc/PID/stat` (~0.2% of a core at this pace in a
/// release build). A process forked since the last look is still found by
/// its group, or by its parent among those found.
const LOOK: Duration = Duration::from_millis(250);

/// The tool's handle on its guardian: dropping it (or the tool dying)
/// closes the pipe, which is the guardian's signal to clean up.
pub struct Guardian {
    child: Child,
    pipe: Option<ChildStdin>,
}

impl Guardian {
    /// Start `exe guard --parent <our pid>`.
    pub fn start(exe: &str) -> std::io::Result<Guardian> {
        use std::os::unix::process::CommandExt;
        let mut child = Command::new(exe)
            .args(["guard", "--parent", &std::process::id().to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .process_group(0)
            .spawn()?;
        let pipe = child.stdin.take();
        Ok(Guardian { child, pipe })
    }

    /// The guardian's pid and how it ended, once it has: it only ends by
    /// itself when the pipe does, so while the tool holds the pipe an end
    /// means it was killed (`kill -9`, the OOM killer) and the run is no
    /// longer guarded.
    pub fn died(&mut self) -> Option<(u32, ExitStatus)> {
        let status = self.child.try_wait().ok()??;
        Some((self.child.id(), status))
    }
}

impl Drop for Guardian {
    fn drop(&mut self) {
        self.pipe.take();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A process the guardian has seen, as it was then (group and session 0
/// when they are the tool's own, which are never swept whole).
#[derive(Clone, Copy)]
struct Seen {
    start: u64,
    pgrp: i32,
    session: i32,
}

/// `scenario guard --parent PID`: watch `parent`'s descendants until stdin
/// ends, then kill what is left of them. Returns the number of processes
/// it had to kill.
pub fn main(parent: i32) -> usize {
    let me = std::process::id() as i32;
    // The tool's own group and session are never swept whole: they hold
    // whatever started the tool (a shell, a test runner).
    let own = read_procs()
        .into_iter()
        .find(|p| p.pid == parent)
        .map(|p| (p.pgrp, p.session));
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        let mut sink = [0u8; 64];
        let mut stdin = std::io::stdin();
        while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
        let _ = tx.send(());
    });
    let mut seen: HashMap<i32, Seen> = HashMap::new();
    loop {
        remember(&read_procs(), parent, me, &mut seen);
        match rx.recv_timeout(LOOK) {
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => continue,
            _ => break,
        }
    }
    if let Some((pgrp, session)) = own {
        for s in seen.values_mut() {
            if s.pgrp == pgrp {
                s.pgrp = 0;
            }
            if s.session == session {
                s.session = 0;
            }
        }
    }
    sweep(&seen, me)
}

/// Add every descendant of `parent` (but the guardian) to `seen`.
fn remember(procs: &[Proc], parent: i32, me: i32, seen: &mut HashMap<i32, Seen>) {
    for pid in tree_of(parent, procs).into_iter().skip(1) {
        if pid == me {
            continue;
        }
        if let Some(p) = procs.iter().find(|p| p.pid == pid) {
            seen.insert(
                pid,
                Seen {
                    start: p.start,
                    pgrp: p.pgrp,
                    session: p.session,
                },
            );
        }
    }
}

/// Kill every remembered process still running, and every process in a
/// remembered group or session, or below one of those; repeat until a look
/// finds none (a dying parent may fork once more). At most 2 s.
fn sweep(seen: &HashMap<i32, Seen>, me: i32) -> usize {
    let groups: HashSet<i32> = seen.values().map(|s| s.pgrp).filter(|&g| g > 1).collect();
    // Sessions led by a process of the run (setsid), never the tool's own.
    let sessions: HashSet<i32> = seen
        .iter()
        .filter(|(pid, s)| s.session > 1 && s.session == **pid)
        .map(|(pid, _)| *pid)
        .collect();
    let mut killed = HashSet::new();
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let procs = read_procs();
        let mut targets: Vec<i32> = procs
            .iter()
            .filter(|p| p.pid != me)
            .filter(|p| {
                seen.get(&p.pid).is_some_and(|s| s.start == p.start)
                    || groups.contains(&p.pgrp)
                    || sessions.contains(&p.session)
            })
            .map(|p| p.pid)
            .collect();
        // And whatever those forked since the last look.
        let roots = targets.clone();
        for root in roots {
            targets.extend(tree_of(root, &procs).into_iter().skip(1));
        }
        targets.retain(|&pid| pid != me && is_running(&procs, pid));
        if targets.is_empty() || Instant::now() > deadline {
            return killed.len();
        }
        for &g in &groups {
            let _ = killpg(Pid::from_raw(g), Signal::SIGKILL);
        }
        for pid in targets {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            killed.insert(pid);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Not a zombie (a zombie is dead; only its parent can reap it).
fn is_running(procs: &[Proc], pid: i32) -> bool {
    procs.iter().any(|p| p.pid == pid)
        && std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| s.rfind(')').is_some_and(|i| !s[i + 2..].starts_with('Z')))
            .unwrap_or(false)
}
