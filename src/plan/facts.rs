//! What a plan needs to know about the machine, gathered once.
//!
//! [`Facts::gather`] is the only part of planning that touches the machine:
//! it picks ports, finds binaries and Python, reads the nginx template and
//! makes the run's secrets. [`super::build`] is then a pure function of the
//! scenario and these facts, so `scenario plan` prints what `scenario run`
//! does, and tests hand `build` made-up facts.
//!
//! Ports without `base_port` are picked deterministically: a block of
//! consecutive free ports starting at a stable hash of the scenario's name
//! (and variant) in [`PORT_RANGE`], moving up past busy ones. The range lies
//! below Linux's ephemeral ports, so outgoing connections never take them.
//! A run leases its block (a lock file per port) until it ends, so two runs
//! started at once never pick the same ports; `plan` sees leased ports as busy
//! too. The same machine state gives the same ports.

use std::collections::BTreeMap;
use std::fs::File;
use std::net::TcpListener;
use std::ops::Range;
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use rand::Rng;

use crate::prereq::{self, find_binary, Requirement, POSTGRES_DIRS};
use crate::scenario::model::Database;
use crate::scenario::{resolve_path, Scenario};

/// Where ports are picked when `base_port` is unset (below the ephemeral range).
pub const PORT_RANGE: Range<u16> = Range {
    start: 20000,
    end: 30000,
};

/// Why the machine's facts cannot be gathered.
#[derive(Debug, thiserror::Error)]
pub enum FactsError {
    /// No block of `count` consecutive ports in [`PORT_RANGE`] is free.
    #[error(
        "no {count} consecutive free ports between {} and {} on 127.0.0.1; set topology.base_port",
        PORT_RANGE.start,
        PORT_RANGE.end
    )]
    NoFreePorts { count: usize },
}

/// The PostgreSQL programs a `database = "postgres"` run calls.
pub const POSTGRES_BINARIES: [&str; 4] = ["initdb", "postgres", "pg_isready", "psql"];

/// The machine as a plan sees it.
#[derive(Debug, Default)]
pub struct Facts {
    /// This program (services such as the fake upstream run it).
    pub exe: String,
    /// Ports for the services, in start order: the fake upstream, PostgreSQL,
    /// each instance, nginx (as many as the scenario needs).
    pub ports: Vec<u16>,
    /// Programs found, by name: the profile's `requires`, PostgreSQL's, nginx.
    pub binaries: BTreeMap<String, PathBuf>,
    /// The Python interpreter the profile's `[python]` asks for, and its version.
    pub python: Option<(PathBuf, String)>,
    /// Running as root (PostgreSQL then runs as the user `postgres`).
    pub root: bool,
    /// Where venvs are cached between runs.
    pub cache_dir: PathBuf,
    /// The profile's folder, absolute (templates see it as `profile_dir`).
    pub profile_dir: PathBuf,
    /// The profile's `[python] requirements_files`: each path and the hash
    /// of its content (`None` when it cannot be read).
    pub requirements_files: Vec<(PathBuf, Option<u64>)>,
    /// `templates/nginx.conf.j2`, its path and text, when nginx runs.
    pub nginx_template: Option<(PathBuf, String)>,
    /// A secret key for the gateway (e.g. to sign sessions).
    pub secret_key: String,
    /// The password of the PostgreSQL superuser.
    pub db_password: String,
    /// The CPUs this process may run on (what `topology.cpus` may name);
    /// empty when not looked at (then any CPU is taken as present).
    pub cpus: crate::topology::cpus::CpuList,
    /// What the scenario needs and this machine lacks (`scenario doctor`).
    pub missing: Vec<Requirement>,
    /// Lock files of the ports picked, held (never read) while these facts live.
    _lease: Lease,
}

/// Ports leased from other `scenario` processes: one locked file per port.
#[derive(Default)]
struct Lease(Vec<Flock<File>>);

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Lease({} ports)", self.0.len())
    }
}

impl Facts {
    /// Facts for a plan made without looking at the machine (tests, or a
    /// plan for another machine): `ports` as given, nothing found.
    #[cfg(test)]
    pub fn new(exe: &str, ports: Vec<u16>) -> Facts {
        Facts {
            exe: exe.to_string(),
            ports,
            cache_dir: PathBuf::from("$CACHE"),
            profile_dir: PathBuf::from("."),
            secret_key: "secret-key".into(),
            db_password: "db-password".into(),
            ..Facts::default()
        }
    }

    /// Look at the machine for what `s` needs. Ports leased by facts still
    /// alive (this process's other variants, other runs) are skipped.
    pub fn gather(s: &Scenario, exe: &str) -> Result<Facts, FactsError> {
        let t = &s.model.topology;
        let profile = s.profile.as_ref().map(|(p, _)| p);
        let needed = t.ports_needed(profile);
        let (ports, lease) = match t.base_port {
            Some(base) => (
                (0..needed).map(|i| base.saturating_add(i as u16)).collect(),
                Lease::default(),
            ),
            None => lease_ports(&port_key(s), needed)?,
        };
        let mut facts = Facts {
            exe: exe.to_string(),
            ports,
            root: nix::unistd::geteuid().is_root(),
            cpus: crate::topology::cpus::CpuList::allowed(),
            cache_dir: cache_dir(),
            secret_key: random_secret(),
            db_password: random_secret(),
            missing: prereq::needs(s).into_iter().filter(|r| !r.ok()).collect(),
            _lease: lease,
            ..Facts::default()
        };
        let Some((profile, path)) = &s.profile else {
            return Ok(facts);
        };
        facts.profile_dir = path
            .parent()
            .and_then(|d| d.canonicalize().ok())
            .unwrap_or_else(|| PathBuf::from("."));
        for b in &profile.requires {
            let dirs: Vec<&str> = b.dirs.iter().map(String::as_str).collect();
            facts.found(&b.binary, find_binary(&b.binary, &dirs));
        }
        if profile.database(t.database.as_ref()) == Some(Database::Postgres) {
            for name in POSTGRES_BINARIES {
                facts.found(name, find_binary(name, POSTGRES_DIRS));
            }
        }
        if t.uses_nginx() {
            facts.found("nginx", find_binary("nginx", &["/usr/sbin"]));
            let dir = s.file.parent().unwrap_or(Path::new("."));
            facts.nginx_template = resolve_path(dir, Path::new("templates/nginx.conf.j2"))
                .and_then(|p| Some((p.clone(), std::fs::read_to_string(&p).ok()?)));
        }
        if let Some(py) = &profile.python {
            facts.python = prereq::find_python(&py.min_version);
            facts.requirements_files = py
                .files_in(&facts.profile_dir)
                .into_iter()
                .map(|f| {
                    let hash = std::fs::read(&f)
                        .ok()
                        .map(|b| fnv(&String::from_utf8_lossy(&b)));
                    (f, hash)
                })
                .collect();
        }
        Ok(facts)
    }

    fn found(&mut self, name: &str, path: Option<PathBuf>) {
        if let Some(path) = path {
            self.binaries.insert(name.to_string(), path);
        }
    }

    /// These facts with every missing program and interpreter stood in for
    /// by its bare name, so a plan can be checked on a machine that lacks
    /// them (`scenario validate`); the lacks stay listed in `missing`.
    pub fn assume_present(mut self, s: &Scenario) -> Facts {
        let Some((profile, _)) = &s.profile else {
            return self;
        };
        let mut names: Vec<&str> = profile.requires.iter().map(|b| b.binary.as_str()).collect();
        if profile.database(s.model.topology.database.as_ref()) == Some(Database::Postgres) {
            names.extend(POSTGRES_BINARIES);
        }
        if s.model.topology.uses_nginx() {
            names.push("nginx");
        }
        for name in names {
            self.binaries
                .entry(name.to_string())
                .or_insert_with(|| PathBuf::from(name));
        }
        if let Some(py) = &profile.python {
            self.python
                .get_or_insert_with(|| (PathBuf::from("python3"), py.min_version.clone()));
        }
        self
    }
}

/// Where downloaded and built things are kept between runs.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SCENARIO_CACHE_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(dir).join("scenario");
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/tmp".into());
    PathBuf::from(home).join(".cache/scenario")
}

fn random_secret() -> String {
    let mut rng = rand::thread_rng();
    (0..24)
        .map(|_| format!("{:02x}", rng.gen::<u8>()))
        .collect()
}

/// FNV-1a: a stable hash (std's hasher may change between releases).
pub fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// What a scenario's ports are keyed by: its name and variant.
fn port_key(s: &Scenario) -> String {
    format!("{}\n{}", s.name, s.variant.as_deref().unwrap_or(""))
}

/// Where a key's search for free ports starts in [`PORT_RANGE`].
pub fn first_port(key: &str) -> u16 {
    let span = u64::from(PORT_RANGE.end - PORT_RANGE.start);
    PORT_RANGE.start + (fnv(key) % span) as u16
}

/// The first block of `n` consecutive free ports at or after the key's
/// first port (wrapping around the range), leased until the lease drops.
fn lease_ports(key: &str, n: usize) -> Result<(Vec<u16>, Lease), FactsError> {
    if n == 0 {
        return Ok((Vec::new(), Lease::default()));
    }
    let dir = std::env::temp_dir().join("scenario-ports");
    let _ = std::fs::create_dir_all(&dir);
    // One gatherer at a time, so two runs started together see each other's lease.
    let _gathering = lock(&dir.join("gather.lock"), FlockArg::LockExclusive);
    let span = PORT_RANGE.end - PORT_RANGE.start;
    let start = first_port(key) - PORT_RANGE.start;
    for step in 0..span {
        let first = PORT_RANGE.start + (start + step) % span;
        if usize::from(first) + n > usize::from(PORT_RANGE.end) {
            continue;
        }
        let mut lease = Lease::default();
        // Lease first, then test the port: a test bind of a port another
        // run has leased could collide with that run binding it for real.
        let all_free = (first..first + n as u16).all(|port| {
            let leased = match lock(
                &dir.join(format!("{port}.lock")),
                FlockArg::LockExclusiveNonblock,
            ) {
                Some(Ok(l)) => {
                    lease.0.push(l);
                    true
                }
                Some(Err(())) => false,
                // No lock files (read-only /tmp): the bind test alone decides.
                None => true,
            };
            leased && TcpListener::bind(("127.0.0.1", port)).is_ok()
        });
        if all_free {
            return Ok(((first..first + n as u16).collect(), lease));
        }
    }
    Err(FactsError::NoFreePorts { count: n })
}

/// Lock `path`: `None` when the file cannot be opened, `Some(Err)` when
/// another process holds it.
fn lock(path: &Path, how: FlockArg) -> Option<Result<Flock<File>, ()>> {
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .or_else(|_| File::open(path))
        .ok()?;
    Some(Flock::lock(file, how).map_err(|_| ()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_port_is_stable_and_in_range() {
        let p = first_port("tiny\n");
        assert_eq!(p, first_port("tiny\n"));
        assert!(PORT_RANGE.contains(&p));
        assert_ne!(first_port("tiny\n"), first_port("tiny\nb"));
    }

    #[test]
    fn a_lease_makes_the_next_gatherer_skip_the_ports() {
        let key = format!("lease-test-{}", std::process::id());
        let (first, _held) = lease_ports(&key, 3).unwrap();
        let (second, _) = lease_ports(&key, 3).unwrap();
        assert_eq!(first.len(), 3);
        assert!(
            first.iter().all(|p| !second.contains(p)),
            "{first:?} {second:?}"
        );
        drop(_held);
    }
}
