//! CPU isolation: which CPUs the gateway's side of the topology and the
//! harness (load threads, fake upstream) may run on (`[topology] cpus`),
//! written as taskset's CPU lists (`0-1,3`) and applied with
//! `sched_setaffinity`.

use std::fmt;

use nix::sched::{sched_getaffinity, sched_setaffinity, CpuSet};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

/// Why a text is not a CPU list.
#[derive(Debug, thiserror::Error)]
#[error("`{text}` is not a CPU list ({problem}): write CPUs and ranges like \"0-1,3\"")]
pub struct CpuListError {
    pub text: String,
    pub problem: CpuListProblem,
}

/// What is wrong with a CPU list.
#[derive(Debug, thiserror::Error)]
pub enum CpuListProblem {
    #[error("`{0}` is not a CPU number")]
    NotANumber(String),
    #[error("range `{0}` runs backwards")]
    Backwards(String),
    #[error("an empty entry")]
    Empty,
    #[error("CPU {cpu} is beyond the {count} this system can name")]
    Beyond { cpu: usize, count: usize },
}

/// A set of CPUs, in increasing order (at least one when parsed; the
/// default, empty, means "not known").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CpuList(Vec<usize>);

impl CpuList {
    /// Parse a list like `0-1,3` (taskset's `--cpu-list` form).
    pub fn parse(text: &str) -> Result<CpuList, CpuListError> {
        let bad = |problem| CpuListError {
            text: text.to_string(),
            problem,
        };
        let mut cpus = Vec::new();
        for part in text.split(',').map(str::trim) {
            let number = |s: &str| {
                s.trim()
                    .parse::<usize>()
                    .map_err(|_| bad(CpuListProblem::NotANumber(s.to_string())))
            };
            match part.split_once('-') {
                Some((a, b)) => {
                    let (a, b) = (number(a)?, number(b)?);
                    if a > b {
                        return Err(bad(CpuListProblem::Backwards(part.to_string())));
                    }
                    cpus.extend(a..=b);
                }
                None if part.is_empty() => return Err(bad(CpuListProblem::Empty)),
                None => cpus.push(number(part)?),
            }
        }
        if let Some(&cpu) = cpus.iter().find(|&&c| c >= CpuSet::count()) {
            return Err(bad(CpuListProblem::Beyond {
                cpu,
                count: CpuSet::count(),
            }));
        }
        cpus.sort_unstable();
        cpus.dedup();
        Ok(CpuList(cpus))
    }

    pub fn cpus(&self) -> &[usize] {
        &self.0
    }

    /// The CPUs of this list not in `available`.
    pub fn missing_from(&self, available: &CpuList) -> Vec<usize> {
        self.0
            .iter()
            .copied()
            .filter(|c| !available.0.contains(c))
            .collect()
    }

    /// The CPUs this process may run on now (its affinity mask).
    pub fn allowed() -> CpuList {
        let set = sched_getaffinity(Pid::from_raw(0)).unwrap_or_else(|_| CpuSet::new());
        let cpus: Vec<usize> = (0..CpuSet::count())
            .filter(|&c| set.is_set(c).unwrap_or(false))
            .collect();
        if cpus.is_empty() {
            // Cannot read it: every CPU the system has online.
            let n = std::thread::available_parallelism().map_or(1, |n| n.get());
            return CpuList((0..n).collect());
        }
        CpuList(cpus)
    }

    fn set(&self) -> CpuSet {
        let mut set = CpuSet::new();
        for &c in &self.0 {
            // parse() keeps every CPU below CpuSet::count().
            let _ = set.set(c);
        }
        set
    }

    /// Pin the calling thread (and every thread or process it starts
    /// afterwards) to these CPUs. Async-signal-safe: usable in `pre_exec`.
    pub fn pin_current(&self) -> std::io::Result<()> {
        sched_setaffinity(Pid::from_raw(0), &self.set()).map_err(std::io::Error::from)
    }
}

/// Run `f` on this thread pinned to `cpus` (when given): threads it starts
/// inherit the pinning, and `available_parallelism` counts these CPUs. The
/// thread's own affinity is restored afterwards.
pub fn pinned<T>(cpus: Option<&CpuList>, f: impl FnOnce() -> T) -> std::io::Result<T> {
    let Some(cpus) = cpus else {
        return Ok(f());
    };
    let before = sched_getaffinity(Pid::from_raw(0)).map_err(std::io::Error::from)?;
    cpus.pin_current()
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot pin to CPUs {cpus}: {e}")))?;
    let out = f();
    let _ = sched_setaffinity(Pid::from_raw(0), &before);
    Ok(out)
}

/// Every thread of this process (the main runtime's, tokio's blocking
/// pool, and so every thread they start later) pinned to `cpus` until the
/// guard drops, which gives each thread back the process's affinity from
/// before. With `[topology] cpus` the tool's own threads are the harness's.
pub fn pin_process(cpus: &CpuList) -> std::io::Result<ProcessPin> {
    let before = sched_getaffinity(Pid::from_raw(0)).map_err(std::io::Error::from)?;
    set_every_thread(&cpus.set())
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot pin to CPUs {cpus}: {e}")))?;
    Ok(ProcessPin { before })
}

/// Pins the whole process while it lives (see [`pin_process`]).
#[must_use = "the process is unpinned when the guard drops"]
pub struct ProcessPin {
    before: CpuSet,
}

impl Drop for ProcessPin {
    fn drop(&mut self) {
        let _ = set_every_thread(&self.before);
    }
}

/// `sched_setaffinity` on each thread of this process; a thread that ended
/// meanwhile is skipped.
fn set_every_thread(set: &CpuSet) -> std::io::Result<()> {
    sched_setaffinity(Pid::from_raw(0), set).map_err(std::io::Error::from)?;
    for task in std::fs::read_dir("/proc/self/task")?.flatten() {
        let Some(tid) = task.file_name().to_str().and_then(|t| t.parse().ok()) else {
            continue;
        };
        match sched_setaffinity(Pid::from_raw(tid), set) {
            Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

impl fmt::Display for CpuList {
    /// Runs of consecutive CPUs as ranges: `0-2,5`.
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let mut i = 0;
        let mut first = true;
        while i < self.0.len() {
            let start = self.0[i];
            let mut end = start;
            while i + 1 < self.0.len() && self.0[i + 1] == end + 1 {
                i += 1;
                end = self.0[i];
            }
            if !first {
                f.write_str(",")?;
            }
            first = false;
            if end == start {
                write!(f, "{start}")?;
            } else {
                write!(f, "{start}-{end}")?;
            }
            i += 1;
        }
        Ok(())
    }
}

impl Serialize for CpuList {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for CpuList {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<CpuList, D::Error> {
        let text = String::deserialize(d)?;
        CpuList::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Which side of the machine a process belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The system under test: gateway instances and what they need
    /// (database, nginx).
    #[default]
    Gateway,
    /// What measures it: the load threads and the fake upstream.
    Harness,
}

/// `[topology] cpus`: the CPUs of each side, as planned and as recorded in
/// the report's environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Pinning {
    pub gateway: CpuList,
    pub harness: CpuList,
}

impl Pinning {
    pub fn of(&self, role: Role) -> &CpuList {
        match role {
            Role::Gateway => &self.gateway,
            Role::Harness => &self.harness,
        }
    }
}

impl fmt::Display for Pinning {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "gateway on CPUs {}, harness on CPUs {}",
            self.gateway, self.harness
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_taskset_lists() {
        let l = CpuList::parse("3, 0-1,1").unwrap();
        assert_eq!(l.cpus(), [0, 1, 3]);
        assert_eq!(l.to_string(), "0-1,3");
        assert_eq!(CpuList::parse("0-2,5,6").unwrap().to_string(), "0-2,5-6");
        for bad in ["", "a", "2-1", "0,,1", "-1", "99999"] {
            let e = CpuList::parse(bad).unwrap_err().to_string();
            assert!(e.contains("not a CPU list"), "{bad}: {e}");
        }
    }

    #[test]
    fn missing_cpus_are_named() {
        let want = CpuList::parse("0,2-3").unwrap();
        let have = CpuList::parse("0-1").unwrap();
        assert_eq!(want.missing_from(&have), [2, 3]);
    }

    #[test]
    fn pinning_a_thread_narrows_what_it_may_use() {
        let first = CpuList::allowed().cpus()[0];
        let seen = std::thread::spawn(move || {
            CpuList(vec![first]).pin_current().unwrap();
            (
                CpuList::allowed(),
                crate::load::threads_for(64),
                std::thread::spawn(CpuList::allowed).join().unwrap(),
            )
        })
        .join()
        .unwrap();
        assert_eq!(seen.0.cpus(), [first]);
        if std::env::var("SCENARIO_LOAD_THREADS").is_err() {
            assert_eq!(seen.1, 1, "load threads are sized to the pinned CPUs");
        }
        assert_eq!(seen.2.cpus(), [first], "threads started later inherit it");
    }

    /// Set in the child process the test below starts: pinning the whole
    /// process would disturb the other tests running beside it.
    const PIN_CHILD: &str = "SCENARIO_TEST_PIN_PROCESS_CHILD";

    #[test]
    fn pinning_the_process_reaches_threads_already_running_and_is_undone() {
        if std::env::var_os(PIN_CHILD).is_none() {
            let out = std::process::Command::new(std::env::current_exe().unwrap())
                .args([
                    "--exact",
                    "topology::cpus::tests::pinning_the_process_reaches_threads_already_running_and_is_undone",
                    "--test-threads=1",
                    "--nocapture",
                ])
                .env(PIN_CHILD, "1")
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success() && stdout.contains("1 passed"),
                "child failed: {stdout}{}",
                String::from_utf8_lossy(&out.stderr)
            );
            return;
        }
        let first = CpuList::allowed().cpus()[0];
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let (back, seen) = std::sync::mpsc::channel();
        // A thread started before the pinning, asked what it may use after.
        let older = std::thread::spawn(move || {
            while rx.recv().is_ok() {
                back.send(CpuList::allowed()).unwrap();
            }
        });
        let before = CpuList::allowed();
        let pin = pin_process(&CpuList(vec![first])).unwrap();
        tx.send(()).unwrap();
        assert_eq!(seen.recv().unwrap().cpus(), [first]);
        assert_eq!(CpuList::allowed().cpus(), [first]);
        drop(pin);
        tx.send(()).unwrap();
        assert_eq!(seen.recv().unwrap(), before);
        assert_eq!(CpuList::allowed(), before);
        drop(tx);
        older.join().unwrap();
    }
}
