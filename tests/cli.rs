//! The binary end to end: validation errors, plans, real sweeps against the
//! built-in fake upstream, assertions, Ctrl-C and a service that dies.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{
    alive, fixture, out_dir, report, run_folder, scenario, signal, start_slow_run, text, BIN,
};
use nix::sys::signal::Signal;
use serde_json::Value;

#[test]
fn validate_reports_every_problem_with_line_and_column() {
    let out = scenario(&["validate", fixture("bad.toml").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr).replace(env!("CARGO_MANIFEST_DIR"), "<repo>");
    assert!(err.contains("bad.toml:6:1"), "unknown key at 6:1:\n{err}");
    assert!(err.contains("did you mean `concurrency`?"), "{err}");
    assert!(err.contains("bad.toml:7:12"), "wrong type at 7:12:\n{err}");
    assert!(
        err.contains("bad.toml:3:12"),
        "missing template at 3:12:\n{err}"
    );
    assert!(err.contains("3 problems"), "{err}");
    insta::assert_snapshot!("validate_bad_toml", err);
}

#[test]
fn validate_accepts_the_shipped_scenarios() {
    let mut files: Vec<String> =
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios"))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .map(|p| p.display().to_string())
            .collect();
    files.sort();
    assert!(!files.is_empty());
    let mut args = vec!["validate"];
    args.extend(files.iter().map(String::as_str));
    let out = scenario(&args);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn a_bad_set_is_reported_against_the_argument() {
    let out = scenario(&[
        "validate",
        fixture("tiny.toml").to_str().unwrap(),
        "--set",
        "load.concurrency=[1, 0]",
        "--set",
        "load.runz=2",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("concurrency must be at least 1"), "{err}");
    assert!(err.contains("--set:1:"), "{err}");
    assert!(err.contains("did you mean `runs`?"), "{err}");
}

#[test]
fn plan_shows_services_steps_and_checks() {
    let out = scenario(&[
        "plan",
        fixture("tiny.toml").to_str().unwrap(),
        "--set",
        "topology.base_port=39100",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let plan = text(&out.stdout).replace(env!("CARGO_MANIFEST_DIR"), "<repo>");
    insta::assert_snapshot!("plan_tiny", plan);

    let json = scenario(&["plan", fixture("tiny.toml").to_str().unwrap(), "--json"]);
    let plan: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(
        plan["steps"].as_array().unwrap().len(),
        4,
        "2 levels × 2 runs"
    );
    assert_eq!(plan["services"][0]["name"], "upstream");
    assert_eq!(plan["target"]["bodies"], 2);
}

#[test]
fn run_sweeps_the_fake_upstream_and_writes_every_report() {
    let out_dir = out_dir("run");
    let out = scenario(&[
        "run",
        fixture("tiny.toml").to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let summary: Value = serde_json::from_slice(&out.stdout).expect("--json prints JSON only");
    assert_eq!(summary["runs"][0]["outcome"], "PASS");

    let dir = run_folder(&out_dir);
    let r = report(&dir);
    assert_eq!(r["schema_version"], 2);
    assert_eq!(r["status"], "complete");
    assert!(r["environment"]["cores"].as_u64().unwrap() >= 1);
    let steps = r["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 4);
    for step in steps {
        let m = &step["metrics"];
        assert_eq!(
            m["requests"], 40,
            "exactly the measured requests, warm-up excluded"
        );
        assert_eq!(m["successes"], 40);
        let p50 = m["latency_ms"]["p50"].as_f64().unwrap();
        assert!(
            (5.0..100.0).contains(&p50),
            "p50 {p50} must include the 5 ms delay"
        );
        assert!(m["rps"].as_f64().unwrap() > 0.0);
        assert!(!step["timeseries"].as_array().unwrap().is_empty());
    }
    let levels = r["levels"].as_array().unwrap();
    assert_eq!(levels.len(), 2);
    assert_eq!(levels[1]["runs"], 2);
    assert!(r["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .all(|v| v["passed"] == true));

    let csv = std::fs::read_to_string(dir.join("steps.csv")).unwrap();
    assert_eq!(csv.lines().count(), 5, "header + 4 steps:\n{csv}");
    let md = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    assert!(
        md.contains("| concurrency |") && md.contains("PASS"),
        "{md}"
    );
    assert!(dir.join("logs/upstream.log").exists());
    let _ = std::fs::remove_dir_all(&out_dir);
}

#[test]
fn failed_assertions_exit_1_and_list_the_verdicts() {
    let out_dir = out_dir("fail");
    let out = scenario(&[
        "run",
        fixture("failing.toml").to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
        "--set",
        "load.runs=1",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("FAIL c=1 p50"), "{stdout}");
    assert!(stdout.contains("FAIL c=4 throughput"), "{stdout}");
    let r = report(&run_folder(&out_dir));
    let failed = r["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["passed"] == false)
        .count();
    assert_eq!(failed, 3, "p50 at both levels and throughput at c=4");
    let _ = std::fs::remove_dir_all(&out_dir);
}

#[test]
fn an_existing_target_is_benchmarked_without_starting_anything() {
    // 50 ms a request: the run lasts long enough to look at its children.
    let server = common::Server::start(&["--delay-ms", "50"]);
    let out_dir = out_dir("target");
    let target = format!(
        "topology.target=\"http://127.0.0.1:{}/v1/chat/completions\"",
        server.port
    );
    let mut child = Command::new(BIN)
        .args([
            "run",
            fixture("tiny.toml").to_str().unwrap(),
            "--out",
            out_dir.to_str().unwrap(),
            "--set",
            &target,
            "--set",
            "load.runs=1",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // No process at all, not even a guardian: it would only read /proc on
    // the client's CPU.
    let mut looks = 0;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        let kids = common::children_and_guardian(child.id());
        assert!(kids.is_empty(), "the run started processes: {kids:?}");
        looks += 1;
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = child.wait_with_output().unwrap();
    assert_eq!(status.code(), Some(0), "{}", text(&out.stderr));
    assert!(looks > 10, "the run ended before it could be looked at");
    let dir = run_folder(&out_dir);
    let r = report(&dir);
    assert_eq!(r["plan"]["services"].as_array().unwrap().len(), 0);
    assert_eq!(r["steps"][0]["metrics"]["successes"], 40);
    assert!(!dir.join("logs/upstream.log").exists());
    server.stop();
    let _ = std::fs::remove_dir_all(&out_dir);
}

#[test]
fn ctrl_c_keeps_a_partial_report_and_leaves_no_process() {
    let out_dir = out_dir("sigint");
    let (mut child, services) = start_slow_run(&out_dir, &[]);
    // Whoever started the run has gone: its stderr is a closed pipe. The
    // interrupt still stops the run (it used to be lost in a panic on
    // the first line written about it).
    drop(child.stderr.take());
    signal(child.id(), Signal::SIGINT);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    for s in services {
        assert!(!alive(s), "service {s} outlived the run");
    }
    let r = report(&run_folder(&out_dir));
    assert_eq!(r["status"], "interrupted");
    let step = &r["steps"][0];
    assert_eq!(step["cancelled"], true);
    assert!(
        step["metrics"]["successes"].as_u64().unwrap() > 10,
        "what was measured is kept"
    );
    let _ = std::fs::remove_dir_all(&out_dir);
}

#[test]
fn a_service_that_dies_is_named_and_what_was_measured_is_kept() {
    let out_dir = out_dir("dies");
    let (child, services) = start_slow_run(&out_dir, &[]);
    signal(services[0], Signal::SIGKILL);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("service `upstream` exited"), "{err}");
    let r = report(&run_folder(&out_dir));
    assert_eq!(r["status"], "failed");
    assert!(r["error"].as_str().unwrap().contains("upstream"));
    assert!(r["steps"][0]["metrics"]["successes"].as_u64().unwrap() > 10);
    let _ = std::fs::remove_dir_all(&out_dir);
}

#[test]
fn help_shows_examples() {
    let out = scenario(&["run", "--help"]);
    let help = text(&out.stdout);
    assert!(
        help.contains("Examples:") && help.contains("--set"),
        "{help}"
    );
}

/// Issue 11: `scenario plan` without `base_port` prints the same plan twice
/// (ports come from the gathered facts, not from whatever the OS hands out).
#[test]
fn plan_without_base_port_is_the_same_twice_issue_11() {
    let name = format!("scenario.name=\"plan-twice-{}\"", std::process::id());
    let plan = || {
        let out = scenario(&[
            "plan",
            fixture("tiny.toml").to_str().unwrap(),
            "--set",
            &name,
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    let first = plan();
    assert!(first.contains("upstream on 127.0.0.1:"), "{first}");
    assert_eq!(first, plan());
}

/// Issue 11: the run executes the plan `scenario plan` printed: same ports.
#[test]
fn run_uses_the_ports_plan_printed_issue_11() {
    let name = format!("scenario.name=\"plan-run-{}\"", std::process::id());
    let file = fixture("tiny.toml");
    let args = [
        "--set",
        &name,
        "--set",
        "load.concurrency=[1]",
        "--set",
        "load.runs=1",
    ];
    let mut plan_args = vec!["plan", file.to_str().unwrap(), "--json"];
    plan_args.extend(args);
    let planned = scenario(&plan_args);
    assert!(planned.status.success(), "{}", text(&planned.stderr));
    let planned: Value = serde_json::from_slice(&planned.stdout).unwrap();

    let out_dir = out_dir("plan-run");
    let out = out_dir.to_str().unwrap();
    let mut run_args = vec!["run", file.to_str().unwrap(), "--out", out, "--quiet"];
    run_args.extend(args);
    let ran = scenario(&run_args);
    assert!(ran.status.success(), "{}", text(&ran.stderr));
    let r = report(&run_folder(&out_dir));
    let ports = |plan: &Value| -> Vec<Value> {
        let services = plan["services"].as_array().unwrap();
        services.iter().map(|s| s["port"].clone()).collect()
    };
    assert_eq!(ports(&r["plan"]), ports(&planned));
    assert_eq!(r["plan"]["target"]["url"], planned["target"]["url"]);
    let _ = std::fs::remove_dir_all(&out_dir);
}

fn validate_with(sets: &[&str]) -> String {
    let mut args = vec!["validate", "scenarios/mlflow-multi.toml"];
    for set in sets {
        args.extend(["--set", set]);
    }
    let out = scenario(&args);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    text(&out.stderr)
}

/// Issue 11: a header value with CR/LF is caught by `validate`, located.
#[test]
fn validate_rejects_control_characters_in_headers_issue_11() {
    let err = validate_with(&["request.headers.X-Tag=\"a\\r\\nInjected: 1\""]);
    assert!(err.contains("carriage return"), "{err}");
    assert!(err.contains("--set:1:"), "{err}");
    let err = validate_with(&["request.headers.Bad:Name=\"x\""]);
    assert!(
        err.contains("`Bad:Name` is not a valid header name"),
        "{err}"
    );
    let err = validate_with(&[
        "topology.auth={ kind = \"basic\", username = \"u\", password = \"pw\\n\" }",
    ]);
    assert!(err.contains("line feed"), "{err}");
}

/// Issue 11: `base_port` 0, or too high for the services, is caught by `validate`.
#[test]
fn validate_rejects_base_ports_that_do_not_fit_issue_11() {
    let err = validate_with(&["topology.base_port=0"]);
    assert!(err.contains("base_port must be at least 1"), "{err}");
    assert!(err.contains("--set:1:"), "{err}");
    // mlflow-multi: upstream, 2 instances, nginx (+ PostgreSQL).
    let err = validate_with(&["topology.base_port=65534"]);
    assert!(err.contains("ports from 65534, up to"), "{err}");
    assert!(err.contains("past 65535"), "{err}");
}

/// Issue 11: `validate` renders the profile's templates; an undefined
/// variable names the profile file, line, column, the variable and those
/// that exist.
#[test]
fn validate_locates_an_undefined_variable_in_a_profile_issue_11() {
    let dir = out_dir("bad-profile");
    std::fs::create_dir_all(&dir).unwrap();
    let profile = dir.join("bad-gateway.toml");
    std::fs::write(
        &profile,
        "name = \"bad\"\n[instance]\ncommand = \"serve --port {{ prot }}\"\n",
    )
    .unwrap();
    let file = dir.join("s.toml");
    std::fs::write(
        &file,
        format!(
            "[topology]\ngateway = \"{}\"\n[request.pool]\nprompts = [\"hi\"]\n",
            profile.display()
        ),
    )
    .unwrap();
    let out = scenario(&["validate", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("bad-gateway.toml:3:28"), "{err}");
    assert!(
        err.contains("`prot` is undefined in `instance.command`"),
        "{err}"
    );
    assert!(
        err.contains("variables it can use:") && err.contains("port"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn per_level_assertions_for_levels_left_out_are_not_measured_never_passed() {
    // issue 18: the --help example, shrinking the sweep from the command line.
    let out = out_dir("unmeasured");
    let run = scenario(&[
        "run",
        "scenarios/quickstart.toml",
        "--out",
        out.to_str().unwrap(),
        "--set",
        "load.requests=200",
        "--set",
        "load.concurrency=[1,10]",
        "--set",
        "upstream.delay_ms=5",
        "--set",
        "assert.max_p50_ms=1000",
        "--set",
        "assert.concurrency.1.min_rps=1",
    ]);
    let err = text(&run.stderr);
    assert_eq!(run.status.code(), Some(0), "{err}");
    assert!(
        err.contains("names c=100, which this sweep does not measure"),
        "{err}"
    );
    let r = report(&run_folder(&out));
    let c100: Vec<&serde_json::Value> = r["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["concurrency"] == 100)
        .collect();
    assert_eq!(c100.len(), 1, "{}", r["verdicts"]);
    assert_eq!(c100[0]["not_measured"], true);
    assert_eq!(c100[0]["passed"], false);
    let md = std::fs::read_to_string(run_folder(&out).join("summary.md")).unwrap();
    assert!(md.contains("NOT MEASURED c=100"), "{md}");
    let _ = std::fs::remove_dir_all(&out);

    // Strict: the same is bad input before anything starts.
    let run = scenario(&[
        "validate",
        "scenarios/quickstart.toml",
        "--set",
        "load.concurrency=[1,10]",
        "--set",
        "assert.strict_levels=true",
    ]);
    assert_eq!(run.status.code(), Some(2));
    assert!(
        text(&run.stderr).contains("`100` is not a concurrency level of this sweep"),
        "{}",
        text(&run.stderr)
    );
}
