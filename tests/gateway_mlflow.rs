//! The real MLflow AI Gateway from PyPI, end to end: provisioned into the
//! cached venv on first use (~2 min, ~950 MB), started natively, its
//! endpoint created by the profile's setup calls, swept, torn down.
//! Small runs: 1 instance × 1 worker, a few dozen requests a level (at
//! c=1 a request through MLflow costs ~0.2 s on 2 cores); one run proves
//! what several tests would, since each start of MLflow costs more.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{
    alive, descendants_of, env_of, exited, files_under, gateway_steps, is_guardian, out_dir,
    ports_are_free, report, request, run_folder, scenario, signal, strings, BIN,
};
use nix::sys::signal::Signal;

/// One MLflow at a time: three starting together on 2 cores (with a CI
/// build beside them) slow each other's first answers past the timeouts.
static ONE_MLFLOW: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_MLFLOW.lock().unwrap_or_else(|e| e.into_inner())
}

/// Requests per level in [`small`] runs.
const REQUESTS: u64 = 40;

fn small(file: &str, tag: &str, extra: &[&str]) -> (std::process::Output, std::path::PathBuf) {
    let out = out_dir(tag);
    let requests = format!("load.requests={REQUESTS}");
    let mut args = vec![
        "run",
        file,
        "--out",
        out.to_str().unwrap(),
        "--set",
        "topology.workers=1",
        "--set",
        "load.concurrency=[1, 4]",
        "--set",
        &requests,
        "--set",
        "load.warmup=10",
    ];
    args.extend(extra);
    (scenario(&args), out)
}

/// MLflow on SQLite with basic auth, with the baseline: every request and
/// setup call carries the credentials, and the password appears in no
/// report, plan, log or leftover file. (Formerly two runs,
/// `mlflow_single_sqlite_end_to_end` without auth and this one with it,
/// each starting MLflow: every assertion of both is kept here; MLflow
/// without auth still runs in the PostgreSQL test below.)
#[test]
fn mlflow_basic_auth_on_sqlite_end_to_end_with_baseline() {
    let _one = one_at_a_time();
    let password = "bench-Admin-pass-1234";
    let (run, out) = small("scenarios/mlflow-auth.toml", "mlflow-auth", &[]);
    exited(&run, 0);
    let dir = run_folder(&out);
    let r = report(&dir);
    assert_eq!(r["status"], "complete");
    let gateway = gateway_steps(&r);
    assert_eq!(gateway.len(), 2);
    for s in &gateway {
        assert_eq!(
            s["metrics"]["successes"], REQUESTS,
            "every request through MLflow answered: {s}"
        );
        let p50 = s["metrics"]["latency_ms"]["p50"].as_f64().unwrap();
        assert!(p50 > 50.0, "includes the 50 ms upstream: {p50}");
        // The profile names x-mlflow-gateway-overhead-duration-ms: MLflow's own view.
        let own = &s["metrics"]["gateway_overhead_ms"];
        assert_eq!(
            own["count"], REQUESTS,
            "every answer carried the header: {own}"
        );
        assert!(own["p50"].as_f64().unwrap() < p50, "{own}");
        let services = strings(&s["resources"], "service");
        assert_eq!(services, ["upstream", "mlflow-0"]);
    }
    assert_eq!(r["overhead"].as_array().unwrap().len(), 2);
    let setup = std::fs::read_to_string(dir.join("logs/setup.log")).unwrap();
    assert_eq!(
        setup.matches("-> 200").count(),
        3,
        "secret, model definition, endpoint:\n{setup}"
    );
    let key = env_of(&r["plan"]["services"][1], "MLFLOW_FLASK_SERVER_SECRET_KEY");
    assert_eq!(
        key.as_deref(),
        Some("<redacted>"),
        "the secret key is in the plan's env, redacted"
    );
    let leaks: Vec<_> = files_under(&dir, &[])
        .into_iter()
        .filter(|f| std::fs::read_to_string(f).is_ok_and(|c| c.contains(password)))
        .collect();
    assert!(leaks.is_empty(), "the password leaked into {leaks:?}");
    ports_are_free(&r);
    let _ = std::fs::remove_dir_all(&out);
}

/// PostgreSQL started for the run (initdb, as the postgres user when root).
#[test]
fn mlflow_on_postgres_end_to_end() {
    let _one = one_at_a_time();
    let (run, out) = small(
        "scenarios/mlflow-postgres.toml",
        "mlflow-pg",
        &["--set", "topology.direct=false"],
    );
    exited(&run, 0);
    let r = report(&run_folder(&out));
    let services = strings(&r["plan"]["services"], "name");
    assert_eq!(services, ["upstream", "postgres", "mlflow-0"]);
    assert_eq!(r["steps"][1]["metrics"]["successes"], REQUESTS);
    ports_are_free(&r);
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn kill_9_mid_step_on_postgres_with_two_workers_leaves_no_process() {
    let _one = one_at_a_time();
    // issue 11: MLflow's uvicorn workers and PostgreSQL's backends (which
    // leave the postmaster's group) are not the tool's children; they must
    // go all the same when the tool is killed with no chance to tear down.
    let out = out_dir("mlflow-kill9");
    let mut child = Command::new(BIN)
        .args(["run", "scenarios/mlflow-postgres.toml", "--quiet", "--out"])
        .arg(&out)
        .args([
            "--set",
            "topology.workers=2",
            "--set",
            "topology.direct=false",
            "--set",
            "load.concurrency=[4]",
            "--set",
            "load.requests=10000000",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(out.with_extension("stderr")).unwrap())
        .spawn()
        .unwrap();
    let stderr = || std::fs::read_to_string(out.with_extension("stderr")).unwrap_or_default();
    // Mid-step: the fake upstream has served measured requests.
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        let failed = if Instant::now() > deadline {
            Some("the step never got under way")
        } else if child.try_wait().unwrap().is_some() {
            Some("the run ended early")
        } else {
            None
        };
        if let Some(why) = failed {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{why}:\n{}", stderr());
        }
        let port = std::fs::read_dir(out.join("mlflow-postgres"))
            .ok()
            .and_then(|mut d| d.next())
            .and_then(|e| std::fs::read_to_string(e.ok()?.path().join("report.json")).ok())
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|r| r["plan"]["services"][0]["port"].as_u64());
        let served = port
            .and_then(|p| request(p as u16, "GET", "/stats", None).ok())
            .and_then(|r| serde_json::from_slice::<serde_json::Value>(&r.body).ok())
            .and_then(|s| s["requests"].as_u64())
            .unwrap_or(0);
        if served > 50 {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let tree = descendants_of(child.id());
    let guarded = tree.iter().any(|&p| is_guardian(p));
    // Killed before any assertion, so a failing test leaves no run behind.
    signal(child.id(), Signal::SIGKILL);
    let _ = child.wait();
    assert!(guarded, "a guardian runs");
    assert!(
        tree.len() >= 8,
        "upstream, postgres + backends, mlflow + 2 workers: {tree:?}"
    );
    std::thread::sleep(Duration::from_secs(2));
    let left: Vec<u32> = tree.into_iter().filter(|&p| alive(p)).collect();
    assert!(
        left.is_empty(),
        "processes of the run 2 s after kill -9: {left:?}"
    );
    let _ = std::fs::remove_dir_all(&out);
    let _ = std::fs::remove_file(out.with_extension("stderr"));
}
