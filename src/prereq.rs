//! What a scenario needs from the machine (binaries, a Python interpreter,
//! a cached venv) and, for each missing piece, the command that installs it.
//! `scenario doctor` prints this list; `plan` refuses to start without it;
//! `scenario provision` installs the venvs ahead of a run.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cli::DoctorArgs;
use crate::plan::command::{exe, gather, make_plan, RUN_DIR};
use crate::plan::Provision;
use crate::report::Outcome;
use crate::scenario::command::load_or_explain;
use crate::scenario::model::Database;
use crate::scenario::Scenario;

/// One thing a scenario needs.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Requirement {
    /// What it is, e.g. `nginx` or `python >= 3.10`.
    pub what: String,
    /// Why the scenario needs it.
    pub why: String,
    /// Where it was found (path, version), or `None` when missing.
    pub found: Option<String>,
    /// The command that installs it.
    pub install: String,
}

impl Requirement {
    pub fn ok(&self) -> bool {
        self.found.is_some()
    }
}

/// Find `name` on PATH, then in `extra` folders (globs of one `*` level).
pub fn find_binary(name: &str, extra: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let candidate = dir.join(name);
        if is_executable(&candidate) {
            return Some(candidate);
        }
    }
    for pattern in extra {
        let (head, tail) = pattern.split_once('*').unwrap_or((pattern, ""));
        let mut dirs: Vec<PathBuf> = match std::fs::read_dir(head) {
            Ok(entries) => entries.flatten().map(|e| e.path()).collect(),
            Err(_) => continue,
        };
        // Highest version first (e.g. /usr/lib/postgresql/16 before 15).
        dirs.sort();
        dirs.reverse();
        for d in dirs {
            let candidate = d.join(tail.trim_start_matches('/')).join(name);
            if is_executable(&candidate) {
                return Some(candidate);
            }
        }
    }
    None
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Where Debian keeps the PostgreSQL server binaries.
pub const POSTGRES_DIRS: &[&str] = &["/usr/lib/postgresql/*/bin"];

/// `(major, minor)` of a Python interpreter, asked once per process: a
/// command over many scenarios (`validate scenarios/*.toml`) would
/// otherwise start every candidate (pyenv shims are slow) per variant.
fn python_version(python: &Path) -> Option<(u32, u32)> {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    type Seen = Mutex<HashMap<PathBuf, Option<(u32, u32)>>>;
    static SEEN: OnceLock<Seen> = OnceLock::new();
    let seen = SEEN.get_or_init(Default::default);
    if let Some(v) = seen.lock().unwrap().get(python) {
        return *v;
    }
    let v = ask_python_version(python);
    seen.lock().unwrap().insert(python.to_path_buf(), v);
    v
}

fn ask_python_version(python: &Path) -> Option<(u32, u32)> {
    let out = Command::new(python)
        .args(["-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let (major, minor) = text.trim().split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

fn parse_version(v: &str) -> (u32, u32) {
    let mut parts = v.trim().split('.').map(|p| p.parse().unwrap_or(0));
    (parts.next().unwrap_or(3), parts.next().unwrap_or(0))
}

/// A Python interpreter of at least `min` ("3.12"): `python3` first, then
/// `python3.N` on PATH, then pyenv's versions. Returns its path and version.
pub fn find_python(min: &str) -> Option<(PathBuf, String)> {
    let min = parse_version(min);
    let mut candidates: Vec<PathBuf> = Vec::new();
    candidates.extend(find_binary("python3", &[]));
    for minor in (8..=20).rev() {
        candidates.extend(find_binary(&format!("python3.{minor}"), &[]));
    }
    if let Some(home) = std::env::var_os("HOME") {
        let versions = Path::new(&home).join(".pyenv/versions");
        if let Ok(entries) = std::fs::read_dir(versions) {
            let mut dirs: Vec<PathBuf> = entries
                .flatten()
                .map(|e| e.path().join("bin/python3"))
                .collect();
            dirs.sort();
            dirs.reverse();
            candidates.extend(dirs);
        }
    }
    candidates.into_iter().find_map(|p| {
        let v = python_version(&p)?;
        (v >= min).then(|| (p, format!("{}.{}", v.0, v.1)))
    })
}

/// Everything `s` needs, found or not.
pub fn needs(s: &Scenario) -> Vec<Requirement> {
    let mut out = Vec::new();
    let t = &s.model.topology;
    let Some((profile, _)) = &s.profile else {
        return out;
    };
    if let Some(py) = &profile.python {
        let found = find_python(&py.min_version);
        out.push(Requirement {
            what: format!("python >= {}", py.min_version),
            why: format!("gateway `{}` runs on Python", profile.name),
            found: found
                .as_ref()
                .map(|(p, v)| format!("{} ({v})", p.display())),
            install: if parse_version(&py.min_version) <= (3, 11) {
                "apt-get install -y python3 python3-venv".into()
            } else {
                format!(
                    "install Python {} or newer (Debian 12 ships 3.11): e.g. `pyenv install {}`",
                    py.min_version, py.min_version
                )
            },
        });
        if let Some((python, _)) = &found {
            let venv_ok = Command::new(python)
                .args(["-c", "import venv, ensurepip"])
                .output()
                .is_ok_and(|o| o.status.success());
            out.push(Requirement {
                what: "python venv module".into(),
                why: "the gateway is installed into a cached virtual environment".into(),
                found: venv_ok.then(|| "yes".into()),
                install: "apt-get install -y python3-venv".into(),
            });
        }
    }
    for b in &profile.requires {
        let dirs: Vec<&str> = b.dirs.iter().map(String::as_str).collect();
        out.push(Requirement {
            what: b.binary.clone(),
            why: format!("gateway `{}` runs it", profile.name),
            found: find_binary(&b.binary, &dirs).map(|p| p.display().to_string()),
            install: b.install.clone(),
        });
    }
    let database = profile.database(t.database.as_ref());
    if database == Some(Database::Postgres) {
        for bin in ["initdb", "postgres", "pg_isready", "psql"] {
            out.push(Requirement {
                what: bin.into(),
                why: "database = \"postgres\" starts a PostgreSQL server".into(),
                found: find_binary(bin, POSTGRES_DIRS).map(|p| p.display().to_string()),
                install: "apt-get install -y postgresql".into(),
            });
        }
        if nix::unistd::geteuid().is_root() {
            out.push(Requirement {
                what: "user `postgres`".into(),
                why: "PostgreSQL refuses to run as root".into(),
                found: nix::unistd::User::from_name("postgres")
                    .ok()
                    .flatten()
                    .map(|u| format!("uid {}", u.uid)),
                install: "apt-get install -y postgresql (it creates the user)".into(),
            });
        }
    }
    if t.nginx.unwrap_or(t.instances > 1) {
        out.push(Requirement {
            what: "nginx".into(),
            why: "nginx load-balances the instances".into(),
            found: find_binary("nginx", &["/usr/sbin"]).map(|p| p.display().to_string()),
            install: "apt-get install -y nginx".into(),
        });
    }
    out
}

/// `scenario doctor`: what each scenario needs from this machine, found or
/// not, with the command that installs what is missing.
pub fn doctor(args: &DoctorArgs) -> Outcome {
    let mut missing = 0;
    for file in &args.files {
        let Some(all) = load_or_explain(file, &args.scenario.set) else {
            return Outcome::Error;
        };
        let mut needs: Vec<Requirement> = Vec::new();
        for r in all.iter().flat_map(self::needs) {
            if !needs.iter().any(|n| n.what == r.what) {
                needs.push(r);
            }
        }
        outln!("{}:", file.display());
        if needs.is_empty() {
            outln!("  needs nothing beyond this binary");
        }
        for r in &needs {
            match &r.found {
                Some(found) => outln!("  ok       {:<22} {found}", r.what),
                None => {
                    missing += 1;
                    outln!(
                        "  MISSING  {:<22} {}\n           install: {}",
                        r.what,
                        r.why,
                        r.install
                    );
                }
            }
        }
        show_venv(&all[0]);
    }
    if missing > 0 {
        errln!("{missing} missing; install them and run `scenario doctor` again");
    }
    Outcome::checked(missing == 0)
}

/// The venv `s`'s gateway profile installs, and whether it is there yet.
fn show_venv(s: &Scenario) {
    let Some((profile, _)) = &s.profile else {
        return;
    };
    let facts = crate::plan::Facts::gather(s, &exe());
    let Ok(Ok(p)) = facts.map(|f| crate::plan::build(s, &f, Path::new(RUN_DIR))) else {
        return;
    };
    if let Some(prov) = &p.provision {
        let state = if crate::topology::provision::is_ready(prov) {
            "ready"
        } else {
            "installed on the first run"
        };
        outln!(
            "  venv     {:<22} {} ({state})",
            profile.name,
            prov.venv.display()
        );
    }
}

/// `scenario provision`: make every venv the scenarios' variants need, once.
pub fn provision(args: &DoctorArgs) -> Outcome {
    let Some(provisions) = provisions(args) else {
        return Outcome::Error;
    };
    if provisions.is_empty() {
        outln!("nothing to provision: these scenarios install nothing");
        return Outcome::Pass;
    }
    let Some(runtime) = crate::run::batch::runtime() else {
        return Outcome::Error;
    };
    for p in &provisions {
        let log = crate::topology::provision::beside(p, "log");
        if crate::topology::provision::is_ready(p) {
            outln!("ready        {}", p.venv.display());
            continue;
        }
        errln!(
            "provisioning {} (log: {}) …",
            p.venv.display(),
            log.display()
        );
        if let Err(e) = runtime.block_on(crate::topology::provision::ensure(p, &log)) {
            errln!("error: {e}");
            return Outcome::Error;
        }
        outln!("provisioned  {}", p.venv.display());
    }
    Outcome::Pass
}

/// Every distinct venv the variants of `args.files` install, or `None`
/// after printing why not.
fn provisions(args: &DoctorArgs) -> Option<Vec<Provision>> {
    let mut provisions: Vec<Provision> = Vec::new();
    for file in &args.files {
        let all = load_or_explain(file, &args.scenario.set)?;
        let facts = gather(&all)?;
        for (s, facts) in all.iter().zip(&facts) {
            if let Some(p) = make_plan(s, facts)?.provision {
                if !provisions.iter().any(|q| q.venv == p.venv) {
                    provisions.push(p);
                }
            }
        }
    }
    Some(provisions)
}
