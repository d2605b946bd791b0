//! Python environments for gateways: created once per (interpreter,
//! requirements) under the cache folder and reused by later runs.

use std::path::Path;
use std::process::Stdio;

use crate::plan::Provision;

/// Marks a venv whose install finished (a half-made one is made again).
const DONE: &str = ".scenario-complete";

/// True when the venv exists and its install finished.
pub fn is_ready(p: &Provision) -> bool {
    p.venv.join(DONE).exists()
}

/// Create the venv and install the requirements, unless already done.
/// Output goes to `log`.
pub async fn ensure(p: &Provision, log: &Path) -> Result<(), String> {
    if is_ready(p) {
        return Ok(());
    }
    if let Some(parent) = p.venv.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    // Another run may be making the same venv: wait for it, then look again.
    let lock_path = p.venv.with_extension("lock");
    let lock_file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| format!("cannot open {}: {e}", lock_path.display()))?;
    let _lock = tokio::task::spawn_blocking(move || {
        nix::fcntl::Flock::lock(lock_file, nix::fcntl::FlockArg::LockExclusive).map_err(|(_, e)| e)
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| format!("cannot lock {}: {e}", lock_path.display()))?;
    if is_ready(p) {
        return Ok(());
    }
    if p.venv.exists() {
        std::fs::remove_dir_all(&p.venv)
            .map_err(|e| format!("cannot clear {}: {e}", p.venv.display()))?;
    }
    if let Some(parent) = p.venv.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    let venv = p.venv.display().to_string();
    run(log, &p.python.display().to_string(), &["-m", "venv", &venv]).await?;
    let pip = p.venv.join("bin/pip").display().to_string();
    let mut args = vec!["install", "--disable-pip-version-check", "--no-input"];
    args.extend(p.requirements.iter().map(String::as_str));
    let files: Vec<String> = p
        .requirements_files
        .iter()
        .map(|f| f.display().to_string())
        .collect();
    for f in &files {
        args.extend(["-r", f.as_str()]);
    }
    run(log, &pip, &args).await?;
    std::fs::write(p.venv.join(DONE), p.requirements.join("\n"))
        .map_err(|e| format!("cannot mark {} complete: {e}", p.venv.display()))?;
    Ok(())
}

async fn run(log: &Path, program: &str, args: &[&str]) -> Result<(), String> {
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| format!("cannot open {}: {e}", log.display()))?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    let status = tokio::process::Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .kill_on_drop(true)
        .status()
        .await
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "`{program} {}` failed ({status}); from {}:\n{}",
            args.join(" "),
            log.display(),
            super::logs::excerpt(log)
        ))
    }
}
