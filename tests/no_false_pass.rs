//! A verdict is only as good as the run behind it: when the harness itself
//! failed (a service died, even in a step's last moments) the run says so
//! and exits 2, never PASS; runs started together never share a folder.

mod common;

use std::process::{Command, Stdio};

use common::{fixture, out_dir, report, run_folder, signal, start_run, text, BIN};
use nix::sys::signal::Signal;

#[test]
fn a_service_killed_in_the_last_moments_of_the_last_step_fails_the_run() {
    // 2,000 requests at c=2 on a 5 ms upstream take ~5 s; killed after
    // ~1.5 s, the rest fail with `connect` within milliseconds, so the step
    // ends long before the supervisor's next periodic look. It must look
    // again when the step ends.
    let out = out_dir("killed-last-step");
    let slow = fixture("slow.toml");
    let (child, services) = start_run(
        &[
            "run",
            slow.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--set",
            "load.requests=2000",
        ],
        1,
    );
    signal(services[0], Signal::SIGKILL);
    let run = child.wait_with_output().unwrap();
    let err = text(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{err}");
    assert!(err.contains("service `upstream` exited"), "{err}");
    let r = report(&run_folder(&out));
    assert_eq!(r["status"], "failed");
    assert!(
        r["error"].as_str().unwrap().contains("`upstream`"),
        "{}",
        r["error"]
    );
    assert_eq!(r["verdicts"].as_array().unwrap().len(), 0, "no verdict");
    let step = &r["steps"][0];
    assert!(
        step["error"].as_str().unwrap().contains("`upstream`"),
        "the step is marked failed: {step}"
    );
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn six_runs_started_in_the_same_second_write_six_folders() {
    let out = out_dir("same-second");
    let tiny = fixture("tiny.toml");
    let children: Vec<_> = (0..6)
        .map(|_| {
            Command::new(BIN)
                .args(["run", tiny.to_str().unwrap(), "--quiet", "--out"])
                .arg(&out)
                .args(["--set", "load.concurrency=[1]", "--set", "load.runs=1"])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let run = child.wait_with_output().unwrap();
        assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    }
    let runs: Vec<_> = std::fs::read_dir(out.join("tiny"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(runs.len(), 6, "{runs:#?}");
    for dir in &runs {
        let r = report(dir);
        assert_eq!(r["status"], "complete", "{}", dir.display());
        assert_eq!(r["steps"][0]["metrics"]["requests"], 40);
    }
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn a_concurrency_the_open_files_limit_cannot_hold_is_refused_before_anything_starts() {
    // With 256 open files (soft and hard), 5,000 connections cannot be
    // opened: that is bad input, not 5,000 connect errors of the target.
    let out = out_dir("nofile");
    let tiny = fixture("tiny.toml");
    let run = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -n 256 && exec {BIN} run {} --out {} --set 'load.concurrency=[5000]'",
            tiny.display(),
            out.display()
        ))
        .output()
        .unwrap();
    let err = text(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{err}");
    assert!(err.contains("may open only 256"), "{err}");
    assert!(err.contains("ulimit -n 5064"), "{err}");
    assert!(!out.exists(), "nothing was started, no run folder");
}
