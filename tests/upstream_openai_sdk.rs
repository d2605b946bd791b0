//! The official `openai` Python SDK talks to the fake upstream: chat (plain and
//! streamed), completions, embeddings, models. The test makes its own venv
//! under `target/test-venvs/openai` once and reuses it.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::Server;

/// A venv with `openai` installed, made on first use.
fn venv_python() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let venv = root.join("target/test-venvs/openai");
    let python = venv.join("bin/python");
    let ready = venv.join(".installed");
    if ready.exists() {
        return python;
    }
    let version = Command::new("python3").arg("--version").output();
    if !matches!(&version, Ok(out) if out.status.success()) {
        panic!("python3 is missing; install it with: apt-get install -y python3 python3-venv");
    }
    let out = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python3 -m venv failed (install it with: apt-get install -y python3 python3-venv):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "openai",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pip install openai failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(&ready, "").unwrap();
    python
}

/// The `key=value` fields of the script's output line starting with `name`.
fn line<'a>(output: &'a str, name: &str) -> &'a str {
    output
        .lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("no `{name}` line in:\n{output}"))
}

#[test]
fn openai_python_sdk_chat_stream_completions_embeddings() {
    let python = venv_python();
    let server = Server::start(&["--delay-ms", "0", "--itl", "1"]);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/openai_sdk_check.py");
    let out = Command::new(python)
        .arg(script)
        .arg(format!("http://127.0.0.1:{}/v1", server.port))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "script failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    assert_eq!(
        line(&stdout, "chat"),
        "model=gpt-4o-mini content='Lorem ipsum dolor sit amet' finish=stop prompt_tokens=8 completion_tokens=5"
    );
    assert_eq!(
        line(&stdout, "stream"),
        "chunks=6 text='Lorem ipsum dolor sit amet,' finish=stop completion_tokens=6"
    );
    assert_eq!(
        line(&stdout, "completion"),
        "text='Lorem ipsum dolor' prompt_tokens=2 completion_tokens=3"
    );
    assert_eq!(
        line(&stdout, "embeddings"),
        "count=3 dims=16 first_type=float"
    );
    assert_eq!(line(&stdout, "embeddings_float"), "count=1 dims=8");
    assert!(line(&stdout, "models").contains("mock-chat-model"));
}
