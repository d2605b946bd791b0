//! A verdict is only as good as the run behind it: when the harness itself
//! failed (a service died, even in a step's last moments) the run says so
//! and exits 2, never PASS; so does a run whose guardian died; runs
//! started together never share a folder.

mod common;

use std::process::{Command, Stdio};

use common::{
    alive, children_and_guardian, descendants_of, fixture, is_guardian, out_dir, report,
    run_folder, signal, start_slow_run, text, BIN,
};
use nix::sys::signal::Signal;

#[test]
fn a_service_killed_in_the_last_moments_of_the_last_step_fails_the_run() {
    // 2,000 requests at c=2 on a 5 ms upstream take ~5 s; killed after
    // ~1.5 s, the rest fail with `connect` within milliseconds, so the step
    // ends long before the supervisor's next periodic look. It must look
    // again when the step ends.
    let out = out_dir("killed-last-step");
    let (child, services) = start_slow_run(&out, &["load.requests=2000"]);
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
fn a_run_whose_guardian_is_killed_stops_as_a_harness_failure_and_leaves_nothing() {
    // Unguarded, a `kill -9` of the tool would leave the services running:
    // the run must not go on (and pass) that way. 4,000 requests at c=2 on
    // a 5 ms upstream take ~10 s: killed after ~1.5 s, the step is stopped
    // within a look (200 ms); a run that did not notice would end in PASS.
    let out = out_dir("guardian-killed");
    let (child, services) = start_slow_run(&out, &["load.requests=4000"]);
    let guardian = children_and_guardian(child.id())
        .into_iter()
        .find(|&p| is_guardian(p))
        .expect("a run that starts services has a guardian");
    let tree = descendants_of(child.id());
    assert!(tree.contains(&services[0]), "{tree:?}");
    signal(guardian, Signal::SIGKILL);
    let run = child.wait_with_output().unwrap();
    let err = text(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{err}");
    let said = format!("the run's guardian (`scenario guard`, pid {guardian}) died (signal: 9");
    assert!(err.contains(&said), "{err}");
    for pid in tree {
        assert!(!alive(pid), "process {pid} of the run outlived it");
    }
    let r = report(&run_folder(&out));
    assert_eq!(r["status"], "failed");
    assert!(
        r["error"].as_str().unwrap().contains("guardian"),
        "{}",
        r["error"]
    );
    assert_eq!(r["verdicts"].as_array().unwrap().len(), 0, "no verdict");
    let step = &r["steps"][0];
    assert!(
        step["error"].as_str().unwrap().contains("guardian"),
        "the step is marked failed: {step}"
    );
    assert_eq!(step["cancelled"], true, "the step stopped early: {step}");
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
