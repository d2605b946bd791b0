//! Python environments for gateways: created once per (interpreter,
//! requirements) under the cache folder and reused by later runs.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use super::TopologyError;
use crate::plan::Provision;

/// Marks a venv whose install finished (a half-made one is made again).
const DONE: &str = ".scenario-complete";

/// True when the venv exists and its install finished.
pub fn is_ready(p: &Provision) -> bool {
    p.venv.join(DONE).exists()
}

/// The file beside the venv named after it with `.suffix` added
/// (`litellm-py3.11-<key>.log`). Not `with_extension`, which would cut
/// the name at `py3.` and give every venv of one gateway the same file.
pub fn beside(p: &Provision, suffix: &str) -> PathBuf {
    let mut name = p.venv.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{suffix}"));
    p.venv.with_file_name(name)
}

/// Create the venv and install the requirements, unless already done.
/// Output goes to `log`.
pub async fn ensure(p: &Provision, log: &Path) -> Result<(), TopologyError> {
    if is_ready(p) {
        return Ok(());
    }
    if let Some(parent) = p.venv.parent() {
        std::fs::create_dir_all(parent).map_err(|e| file("create", parent, e))?;
    }
    // Another run may be making the same venv: wait for it, then look again.
    let lock_path = beside(p, "lock");
    let lock_file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| file("open", &lock_path, e))?;
    let _lock = tokio::task::spawn_blocking(move || {
        nix::fcntl::Flock::lock(lock_file, nix::fcntl::FlockArg::LockExclusive).map_err(|(_, e)| e)
    })
    .await
    .map_err(|e| file("lock", &lock_path, std::io::Error::other(e)))?
    .map_err(|e| file("lock", &lock_path, e.into()))?;
    if is_ready(p) {
        return Ok(());
    }
    if p.venv.exists() {
        std::fs::remove_dir_all(&p.venv).map_err(|e| file("clear", &p.venv, e))?;
    }
    if let Some(parent) = p.venv.parent() {
        std::fs::create_dir_all(parent).map_err(|e| file("create", parent, e))?;
    }
    let venv = p.venv.display().to_string();
    run(log, &p.python.display().to_string(), &["-m", "venv", &venv]).await?;
    let pip = p.venv.join("bin/pip").display().to_string();
    // pip compiles every installed module one at a time (~50,000 files
    // for the four gateways, about two minutes of one core); compileall
    // below does the same work on every core.
    let mut args = vec![
        "install",
        "--disable-pip-version-check",
        "--no-input",
        "--no-compile",
    ];
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
    compile(log, p).await?;
    let done = p.venv.join(DONE);
    std::fs::write(&done, p.requirements.join("\n")).map_err(|e| file("write", &done, e))?;
    Ok(())
}

/// Byte-compile the venv's modules in parallel, as pip would have, so the
/// gateway's first start is as fast as its later ones. A module that does
/// not compile (some packages ship files for other Python versions) is
/// skipped, as pip skips it; its error goes to the log.
async fn compile(log: &Path, p: &Provision) -> Result<(), TopologyError> {
    let python = p.venv.join("bin/python").display().to_string();
    let lib = p.venv.join("lib").display().to_string();
    let args = ["-m", "compileall", "-q", "-j", "0", &lib];
    match run(log, &python, &args).await {
        Err(TopologyError::SetupFailed { .. }) => Ok(()),
        other => other,
    }
}

async fn run(log: &Path, program: &str, args: &[&str]) -> Result<(), TopologyError> {
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| file("open", log, e))?;
    let err = out.try_clone().map_err(|e| file("open", log, e))?;
    let status = tokio::process::Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .kill_on_drop(true)
        .status()
        .await
        .map_err(|source| TopologyError::Run {
            program: program.to_string(),
            source,
        })?;
    if status.success() {
        Ok(())
    } else {
        Err(TopologyError::SetupFailed {
            command: format!("{program} {}", args.join(" ")),
            status,
            log: log.to_path_buf(),
            excerpt: super::logs::excerpt(log),
        })
    }
}

fn file(action: &'static str, path: &Path, source: std::io::Error) -> TopologyError {
    TopologyError::File {
        action,
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(venv: &str) -> Provision {
        Provision {
            python: PathBuf::from("/usr/bin/python3"),
            venv: PathBuf::from(venv),
            requirements: Vec::new(),
            requirements_files: Vec::new(),
        }
    }

    #[test]
    fn each_venv_has_its_own_lock_and_log() {
        let a = at("/c/venvs/litellm-py3.11-963800e7af46350f");
        let b = at("/c/venvs/litellm-py3.12-0123456789abcdef");
        assert_eq!(
            beside(&a, "lock"),
            Path::new("/c/venvs/litellm-py3.11-963800e7af46350f.lock")
        );
        assert_ne!(beside(&a, "lock"), beside(&b, "lock"));
        assert_ne!(beside(&a, "log"), beside(&b, "log"));
    }
}
