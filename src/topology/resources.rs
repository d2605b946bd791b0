//! CPU and memory of every service's process tree, sampled once a second
//! from /proc while a step runs: which service saturates first, and
//! whether one worker of a gateway does all the work.

use std::collections::HashMap;
use std::time::Instant;

use super::cpus::Role;
use crate::report::{ProcessUsage, ServiceUsage};

/// One process as read from `/proc/PID/stat`.
pub(crate) struct Proc {
    pub(crate) pid: i32,
    pub(crate) ppid: i32,
    /// Process group and session.
    pub(crate) pgrp: i32,
    pub(crate) session: i32,
    /// When it started, in clock ticks since boot: with the pid, an
    /// identity that survives pid reuse.
    pub(crate) start: u64,
    name: String,
    /// utime + stime, in clock ticks.
    ticks: u64,
    rss_pages: u64,
}

pub(crate) fn read_procs() -> Vec<Proc> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in entries.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        if let Some(p) = parse_stat(pid, &stat) {
            out.push(p);
        }
    }
    out
}

/// Fields of `/proc/PID/stat` after the `(name)`: state is field 3, ppid 4,
/// pgrp 5, session 6, utime 14, stime 15, starttime 22, rss 24 (1-based, as
/// `man proc` numbers them).
fn parse_stat(pid: i32, stat: &str) -> Option<Proc> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let name = stat[open + 1..close].to_string();
    let rest: Vec<&str> = stat[close + 2..].split(' ').collect();
    let field = |n: usize| rest.get(n - 3).and_then(|v| v.parse::<u64>().ok());
    Some(Proc {
        pid,
        ppid: field(4)? as i32,
        pgrp: field(5)? as i32,
        session: field(6)? as i32,
        start: field(22)?,
        name,
        ticks: field(14)? + field(15)?,
        rss_pages: field(24)?,
    })
}

/// The fewest samples the later half of a step needs for a steady RSS and a
/// growth rate (about 6 s of step at one sample a second).
pub const FIT_MIN_SAMPLES: usize = 3;

/// The CPUs process `pid` may run on, as `/proc/PID/status` lists them.
pub fn cpus_allowed(pid: i32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .map(|v| v.trim().to_string())
}

/// The least-squares slope and the mean of `ys` over `xs`.
pub fn fit(xs: &[f64], ys: &[f64]) -> Option<(f64, f64)> {
    let n = xs.len().min(ys.len());
    if n < 2 {
        return None;
    }
    let mx = xs[..n].iter().sum::<f64>() / n as f64;
    let my = ys[..n].iter().sum::<f64>() / n as f64;
    let sxy: f64 = (0..n).map(|i| (xs[i] - mx) * (ys[i] - my)).sum();
    let sxx: f64 = (0..n).map(|i| (xs[i] - mx).powi(2)).sum();
    (sxx > 0.0).then(|| (sxy / sxx, my))
}

/// The resident memory (MiB) of each service's whole process tree now.
pub fn rss_now(roots: &[Root]) -> Vec<f64> {
    let procs = read_procs();
    let page_mib = page_mib();
    roots
        .iter()
        .map(|r| {
            let tree = tree_of(r.pid, &procs);
            let pages: u64 = procs
                .iter()
                .filter(|p| tree.contains(&p.pid))
                .map(|p| p.rss_pages)
                .sum();
            pages as f64 * page_mib
        })
        .collect()
}

fn page_mib() -> f64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .unwrap_or(4096) as f64
        / (1024.0 * 1024.0)
}

/// A running service: its name, its side and the root of its process tree.
#[derive(Debug, Clone)]
pub struct Root {
    pub name: String,
    pub role: Role,
    pub pid: i32,
}

/// `root` and every process below it (PostgreSQL's backends leave the
/// postmaster's process group with setsid, so groups are not enough).
pub(crate) fn tree_of(root: i32, procs: &[Proc]) -> Vec<i32> {
    let mut tree = vec![root];
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        tree.extend(procs.iter().filter(|p| p.ppid == parent).map(|p| p.pid));
        i += 1;
    }
    tree
}

/// Samples the process trees of the running services.
pub struct Sampler {
    roots: Vec<Root>,
    tick_hz: f64,
    page_mib: f64,
    start: Instant,
    /// When each pushed sample was taken, seconds since `start`.
    times: Vec<f64>,
    last: Option<(Instant, HashMap<i32, u64>)>,
    /// Per process: CPU ticks when first seen, name, and its service's root pid.
    first_ticks: HashMap<i32, (u64, String, i32)>,
    usage: Vec<ServiceUsage>,
}

impl Sampler {
    /// `roots`: the running services and the roots of their trees.
    pub fn new(roots: Vec<Root>) -> Sampler {
        let tick_hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
            .ok()
            .flatten()
            .unwrap_or(100) as f64;
        let usage = roots
            .iter()
            .map(|r| ServiceUsage {
                service: r.name.clone(),
                role: r.role,
                ..ServiceUsage::default()
            })
            .collect();
        let mut sampler = Sampler {
            roots,
            tick_hz,
            page_mib: page_mib(),
            start: Instant::now(),
            times: Vec::new(),
            last: None,
            first_ticks: HashMap::new(),
            usage,
        };
        sampler.sample();
        sampler
    }

    /// Take one sample (call about once a second).
    pub fn sample(&mut self) {
        let now = Instant::now();
        let procs = read_procs();
        let mut owner: HashMap<i32, usize> = HashMap::new();
        for (i, root) in self.roots.iter().enumerate() {
            for pid in tree_of(root.pid, &procs) {
                owner.insert(pid, i);
            }
        }
        let mut ticks = HashMap::new();
        let mut per_service = vec![(0u64, 0u64); self.roots.len()];
        for p in &procs {
            let Some(&i) = owner.get(&p.pid) else {
                continue;
            };
            ticks.insert(p.pid, p.ticks);
            self.first_ticks
                .entry(p.pid)
                .or_insert((p.ticks, p.name.clone(), self.roots[i].pid));
            let before = self
                .last
                .as_ref()
                .and_then(|(_, last)| last.get(&p.pid).copied())
                .unwrap_or(p.ticks);
            per_service[i].0 += p.ticks.saturating_sub(before);
            per_service[i].1 += p.rss_pages;
        }
        if let Some((then, _)) = &self.last {
            let secs = now.duration_since(*then).as_secs_f64().max(1e-3);
            self.times
                .push(now.duration_since(self.start).as_secs_f64());
            for (u, (dticks, rss)) in self.usage.iter_mut().zip(per_service) {
                u.cpu_pct.push(dticks as f64 / self.tick_hz / secs * 100.0);
                u.rss_mib.push(rss as f64 * self.page_mib);
            }
        }
        self.last = Some((now, ticks));
    }

    /// The usage of every service over the step.
    pub fn finish(mut self) -> Vec<ServiceUsage> {
        self.sample();
        let secs = self.start.elapsed().as_secs_f64().max(1e-3);
        let last = self.last.take().map(|(_, t)| t).unwrap_or_default();
        for (i, u) in self.usage.iter_mut().enumerate() {
            let n = u.cpu_pct.len().max(1) as f64;
            u.cpu_pct_mean = u.cpu_pct.iter().sum::<f64>() / n;
            u.cpu_pct_max = u.cpu_pct.iter().copied().fold(0.0, f64::max);
            u.rss_mib_max = u.rss_mib.iter().copied().fold(0.0, f64::max);
            // The later half: past the warm-up and the first allocations.
            let later = u.rss_mib.len() / 2;
            if u.rss_mib.len() - later >= FIT_MIN_SAMPLES {
                if let Some((slope, mean)) = fit(&self.times[later..], &u.rss_mib[later..]) {
                    u.steady_rss_mib = Some(mean);
                    u.rss_growth_mib_per_min = Some(slope * 60.0);
                }
            }
            let group = self.roots[i].pid;
            let mut procs: Vec<ProcessUsage> = self
                .first_ticks
                .iter()
                .filter(|(_, (_, _, g))| *g == group)
                .map(|(pid, (first, name, _))| {
                    let end = last.get(pid).copied().unwrap_or(*first);
                    ProcessUsage {
                        pid: *pid,
                        name: name.clone(),
                        cpu_pct_mean: end.saturating_sub(*first) as f64 / self.tick_hz / secs
                            * 100.0,
                        cpus: cpus_allowed(*pid),
                    }
                })
                .collect();
            procs.sort_by(|a, b| b.cpu_pct_mean.total_cmp(&a.cpu_pct_mean));
            procs.truncate(16);
            u.processes = procs;
        }
        self.usage
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_spaces_in_the_name() {
        let stat = "4242 (gunicorn: worker [app]) S 1 4000 4000 0 -1 4194304 100 0 0 0 250 50 0 0 20 0 3 0 100 123456789 2048 18446744073709551615";
        let p = parse_stat(4242, stat).unwrap();
        assert_eq!(p.name, "gunicorn: worker [app]");
        assert_eq!(p.ppid, 1);
        assert_eq!(p.ticks, 300);
        assert_eq!(p.rss_pages, 2048);
    }

    #[test]
    fn fits_a_line() {
        let xs = [0.0, 1.0, 2.0, 3.0];
        let ys = [10.0, 12.0, 14.0, 16.0];
        let (slope, mean) = fit(&xs, &ys).unwrap();
        assert!((slope - 2.0).abs() < 1e-9 && (mean - 13.0).abs() < 1e-9);
        assert_eq!(fit(&[1.0, 1.0], &[3.0, 4.0]), None, "no spread in time");
        assert_eq!(fit(&[1.0], &[3.0]), None);
    }

    #[test]
    fn samples_a_busy_process_group() {
        let mut child = std::process::Command::new("sh")
            .args(["-c", "while :; do :; done"])
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        let mut sampler = Sampler::new(vec![Root {
            name: "spin".into(),
            role: Role::Gateway,
            pid,
        }]);
        std::thread::sleep(std::time::Duration::from_millis(300));
        sampler.sample();
        std::thread::sleep(std::time::Duration::from_millis(300));
        let usage = sampler.finish();
        let _ = child.kill();
        let _ = child.wait();
        let spin = &usage[0];
        // An idle process shows 0%; a spinning one shows its share of a
        // core, which on a loaded 2-core machine can be under 10%.
        assert!(
            spin.cpu_pct_max > 2.0,
            "a spinning shell shows CPU: {spin:?}"
        );
        assert!(spin.rss_mib_max > 0.0);
        assert!(spin.processes.iter().any(|p| p.pid == pid));
    }
}
