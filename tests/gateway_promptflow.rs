//! The real PromptFlow from PyPI (the PromptFlow serving study's system), end
//! to end, both flavours: our flows under templates/promptflow/ served by
//! gunicorn (sync: Flask engine, workers x threads; async: FastAPI engine,
//! uvicorn workers), their last node calling the fake upstream's mock route.
//! Provisioned into the cached venv on first use (~45 s, ~410 MB). Runs under
//! `strace -f` to prove no process of the run connects anywhere but loopback.

mod common;

use std::path::Path;

use common::{env_of, exited, out_dir, ports_are_free, report, run_folder, scenario_traced};

const FILE: &str = "scenarios/promptflow-sync-vs-async.toml";

/// Requests a level: enough for a p50 (the flows' cost is the c=1 level,
/// ~0.15 s a request through each flavour and its baseline).
const REQUESTS: u64 = 40;

/// Checks one flavour's run folder (a variant of the scenario).
fn check_flavour(dir: &Path, flavour: &str) {
    let r = report(dir);
    assert_eq!(r["status"], "complete", "{flavour}");

    // A failing node answers 400, so every success went through the three
    // guardrails and a 200 from the mock API.
    for s in r["steps"].as_array().unwrap() {
        assert_eq!(s["metrics"]["successes"], REQUESTS, "{flavour}: {s}");
        if s["side"] == "target" {
            let p50 = s["metrics"]["latency_ms"]["p50"].as_f64().unwrap();
            assert!(
                p50 > 100.0,
                "{flavour}: the guardrails sleep 0.1 s in parallel: {p50}"
            );
            assert!(
                p50 < 300.0,
                "{flavour}: the guardrails run in parallel, not one after the other: {p50}"
            );
        }
    }
    assert_eq!(r["overhead"].as_array().unwrap().len(), 2);
    let log = std::fs::read_to_string(dir.join("logs/promptflow-0.log")).unwrap();
    assert!(log.contains("Node chat completes"), "{flavour}:\n{log}");

    // The start command follows the flavour.
    let service = &r["plan"]["services"][1];
    assert_eq!(service["name"], "promptflow-0");
    let command: Vec<&str> = service["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect();
    let (engine, uvicorn) = match flavour {
        "async" => ("engine='fastapi'", true),
        _ => ("engine='flask'", false),
    };
    assert!(
        command.iter().any(|w| w.contains(engine)),
        "{flavour}: {command:?}"
    );
    assert_eq!(
        command.contains(&"uvicorn.workers.UvicornWorker"),
        uvicorn,
        "{flavour}: {command:?}"
    );

    // Telemetry off, PromptFlow's home in the run folder.
    let get = |k: &str| env_of(service, k);
    assert_eq!(
        get("APPLICATIONINSIGHTS_CONTROLPLANE_DISABLED").as_deref(),
        Some("true")
    );
    let home = get("PF_HOME_DIRECTORY").expect("PF_HOME_DIRECTORY is set");
    let pf_yaml = std::fs::read_to_string(Path::new(&home).join("pf.yaml")).unwrap();
    // As the profile wrote it: no PromptFlow worker rewrote it (racing
    // workers once dropped `telemetry` from it).
    assert_eq!(
        pf_yaml.trim(),
        "telemetry:\n  enabled: false\ncli:\n  installation_id: 00000000-0000-0000-0000-000000000000",
        "{pf_yaml}"
    );
    assert!(Path::new(&home).starts_with(dir), "{home} outside {dir:?}");

    ports_are_free(&r);
}

#[test]
fn promptflow_sync_and_async_variants_end_to_end_with_no_outbound_connection() {
    // The file as it is: both flavours as variants, one after the other, 2
    // workers each (8 take 10-28 s to start on 2 cores).
    let out = out_dir("promptflow");
    let trace = out.with_extension("strace");
    let (run, outbound) = scenario_traced(
        &[
            "run",
            FILE,
            "--out",
            out.to_str().unwrap(),
            "--set",
            "topology.workers=2",
            "--set",
            "load.concurrency=[1, 8]",
            "--set",
            &format!("load.requests={REQUESTS}"),
            "--set",
            "load.warmup=10",
        ],
        &trace,
    );
    exited(&run, 0);
    assert!(
        outbound.is_empty(),
        "connections beyond loopback: {outbound:#?}"
    );
    let _ = std::fs::remove_file(&trace);
    let dir = run_folder(&out);
    check_flavour(&dir.join("sync"), "sync");
    check_flavour(&dir.join("async"), "async");
    let md = std::fs::read_to_string(dir.join("variants.md")).unwrap();
    assert!(md.contains("sync") && md.contains("async"), "{md}");
    let _ = std::fs::remove_dir_all(&out);

    // Serving wrote nothing into the flow folders of the repository.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/promptflow");
    for flavour in ["sync", "async"] {
        let mut names: Vec<String> = std::fs::read_dir(root.join(flavour))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["chat.py", "flow.dag.yaml", "guardrail.py"]);
    }
}
