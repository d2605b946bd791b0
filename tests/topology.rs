//! Topology as code with a gateway no one here wrote: nginx as a pass-through
//! proxy (templates/gateways/nginx-passthrough.toml, data only). Needs nginx
//! (`apt-get install -y nginx`; `.ci/run` installs it).

mod common;

use common::{
    alive, children_of, descendants_of, is_guardian, out_dir, report, run_folder, scenario, signal,
    start_run, strings, text,
};
use nix::sys::signal::Signal;

const PASSTHROUGH: &str = "scenarios/nginx-passthrough.toml";

fn quick() -> Vec<&'static str> {
    vec![
        "--set",
        "load.requests=60",
        "--set",
        "load.concurrency=[1, 4]",
        "--set",
        "upstream.delay_ms=5",
    ]
}

#[test]
fn a_config_only_gateway_runs_with_baseline_overhead_and_resources() {
    let out = out_dir("passthrough");
    let mut args = vec!["run", PASSTHROUGH, "--out", out.to_str().unwrap()];
    args.extend(quick());
    let run = scenario(&args);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    let stdout = text(&run.stdout);
    assert!(stdout.contains("overhead vs baseline"), "{stdout}");

    let dir = run_folder(&out);
    let r = report(&dir);
    assert_eq!(r["status"], "complete");
    let services = strings(&r["plan"]["services"], "name");
    assert_eq!(services, ["upstream", "nginx-passthrough-0"]);
    let steps = r["steps"].as_array().unwrap();
    assert_eq!(
        steps.len(),
        4,
        "each level measured through the gateway and straight"
    );
    assert_eq!(steps.iter().filter(|s| s["side"] == "direct").count(), 2);
    for s in steps {
        assert_eq!(s["metrics"]["successes"], 60, "{s}");
        let names = strings(&s["resources"], "service");
        assert_eq!(names, ["upstream", "nginx-passthrough-0"]);
    }
    let overhead = r["overhead"].as_array().unwrap();
    assert_eq!(overhead.len(), 2);
    for o in overhead {
        assert!(o["rps_ratio"].as_f64().unwrap() > 0.0, "{o}");
        assert!(o["p50_ms"].as_f64().is_some(), "{o}");
    }
    assert!(dir.join("logs/nginx-passthrough-0.log").exists());
    assert!(
        dir.join("passthrough-0.conf").exists(),
        "config rendered into the run folder"
    );
    let _ = std::fs::remove_dir_all(&out);
}

/// Regression: with `topology.direct`, `steps.csv` could not tell a
/// direct step from its target twin, and `report.html` gave both the same
/// element ids (`chart-timeseries-rps-1` twice) and the same labels.
#[test]
fn baseline_steps_are_told_apart_in_steps_csv_and_report_html() {
    let out = out_dir("passthrough-sides");
    let mut args = vec!["run", PASSTHROUGH, "--out", out.to_str().unwrap()];
    args.extend(quick());
    args.extend(["--set", "load.requests=20", "--set", "load.runs=2"]);
    let run = scenario(&args);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    let dir = run_folder(&out);

    let csv = std::fs::read_to_string(dir.join("steps.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let side = header
        .iter()
        .position(|h| *h == "side")
        .unwrap_or_else(|| panic!("no side column: {header:?}"));
    let sides: Vec<&str> = lines.map(|l| l.split(',').nth(side).unwrap()).collect();
    assert_eq!(sides.len(), 8, "2 levels x 2 runs x 2 sides:\n{csv}");
    assert_eq!(sides.iter().filter(|s| **s == "target").count(), 4, "{csv}");
    assert_eq!(sides.iter().filter(|s| **s == "direct").count(), 4, "{csv}");

    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    let ids = scenario::testing::element_ids(&html);
    let mut seen = std::collections::BTreeSet::new();
    let twice: Vec<&&str> = ids.iter().filter(|id| !seen.insert(**id)).collect();
    assert!(
        twice.is_empty(),
        "duplicate element ids in report.html: {twice:?}"
    );
    assert!(
        seen.contains("chart-timeseries-rps-1") && seen.contains("chart-timeseries-rps-1-direct")
    );
    assert!(html.contains("c=1 run 1 · direct"), "no direct label");
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn doctor_lists_what_a_scenario_needs() {
    let out = scenario(&["doctor", PASSTHROUGH]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("ok") && stdout.contains("nginx"),
        "{stdout}"
    );

    let mlflow = scenario(&["doctor", "scenarios/mlflow-multi.toml"]);
    let stdout = text(&mlflow.stdout);
    for need in [
        "python >= 3.10",
        "initdb",
        "postgres",
        "psql",
        "nginx",
        "venv",
    ] {
        assert!(stdout.contains(need), "doctor names `{need}`:\n{stdout}");
    }
}

#[test]
fn an_unknown_gateway_or_option_is_bad_input() {
    let out = scenario(&["validate", PASSTHROUGH, "--set", "topology.gateway=nosuch"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("no gateway profile `nosuch`"), "{err}");
    assert!(
        err.contains("mlflow") && err.contains("nginx-passthrough"),
        "lists known profiles: {err}"
    );

    let out = scenario(&[
        "validate",
        "scenarios/mlflow-single.toml",
        "--set",
        "topology.options.usage_trackin=true",
    ]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("did you mean `usage_tracking`?"), "{err}");
}

#[test]
fn secrets_never_appear_in_plans() {
    let password = "bench-Admin-pass-1234";
    let out = scenario(&["plan", "scenarios/mlflow-auth.toml", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let json = text(&out.stdout);
    assert!(!json.contains(password), "password in plan --json");
    assert!(json.contains("<redacted>"));
    let shown = text(&scenario(&["plan", "scenarios/mlflow-auth.toml"]).stdout);
    assert!(!shown.contains(password), "password in plan");
    assert!(shown.contains("--app-name basic-auth"), "{shown}");
}

/// Start the pass-through scenario with a step that never ends by itself;
/// returns once its two services (upstream, nginx) run.
fn start_endless(out: &std::path::Path) -> (std::process::Child, Vec<u32>) {
    start_run(
        &[
            "run",
            PASSTHROUGH,
            "--out",
            out.to_str().unwrap(),
            "--set",
            "load.requests=10000000",
            "--set",
            "topology.direct=false",
        ],
        2,
    )
}

#[test]
fn ctrl_c_tears_down_every_service_group() {
    let out = out_dir("passthrough-int");
    let (mut child, services) = start_endless(&out);
    // nginx forks workers: the whole tree must go, not just the leader.
    let workers: Vec<u32> = services.iter().flat_map(|&s| children_of(s)).collect();
    signal(child.id(), Signal::SIGINT);
    assert_eq!(child.wait().unwrap().code(), Some(130));
    for pid in services.iter().chain(&workers) {
        assert!(!alive(*pid), "process {pid} outlived the run");
    }
    assert!(!workers.is_empty(), "nginx had worker processes");
    assert_eq!(report(&run_folder(&out))["status"], "interrupted");
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn kill_9_of_the_tool_leaves_no_process_of_the_run_behind() {
    // issue 11: the parent-death signal reaches only the tool's direct
    // children; nginx's workers would survive it, still listening.
    let out = out_dir("passthrough-kill9");
    let (mut child, services) = start_endless(&out);
    let tree = descendants_of(child.id());
    let workers: Vec<u32> = services.iter().flat_map(|&s| children_of(s)).collect();
    let guarded = tree.iter().any(|&p| is_guardian(p));
    // Killed before any assertion, so a failing test leaves no run behind.
    signal(child.id(), Signal::SIGKILL);
    let _ = child.wait();
    assert!(!workers.is_empty(), "nginx had worker processes: {tree:?}");
    assert!(guarded, "a guardian runs");
    std::thread::sleep(std::time::Duration::from_secs(2));
    let left: Vec<u32> = tree.into_iter().filter(|&p| alive(p)).collect();
    assert!(
        left.is_empty(),
        "processes of the run 2 s after kill -9: {left:?}"
    );
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn a_list_of_workers_runs_one_variant_each_and_compares_them() {
    let out = out_dir("passthrough-variants");
    let mut args = vec![
        "run",
        PASSTHROUGH,
        "--out",
        out.to_str().unwrap(),
        "--set",
        "topology.workers=[1, 2]",
    ];
    args.extend(quick());
    let run = scenario(&args);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    let base = std::fs::read_dir(out.join("nginx-passthrough"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    for variant in ["workers-1", "workers-2"] {
        let r = report(&base.join(variant));
        assert_eq!(r["status"], "complete", "{variant}");
        assert_eq!(
            r["scenario"]["resolved"]["topology"]["workers"],
            variant[8..].parse::<u64>().unwrap()
        );
    }
    let md = std::fs::read_to_string(base.join("variants.md")).unwrap();
    assert!(md.contains("| 4 | workers-2 |"), "{md}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(base.join("variants.json")).unwrap())
            .unwrap();
    assert_eq!(json["variants"].as_array().unwrap().len(), 2);
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn plan_shows_every_variant() {
    let out = scenario(&["plan", "scenarios/mlflow-tracking.toml"]);
    let shown = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        shown.contains("=== variant `tracking-off` ===")
            && shown.contains("=== variant `tracking-on` ===")
    );
    assert!(
        shown.contains("\"usage_tracking\": false") && shown.contains("\"usage_tracking\": true"),
        "{shown}"
    );
}
