//! The real Llama Stack from PyPI (the vertical-scaling benchmark's system),
//! end to end: provisioned into the cached venv on first use (~1.5 min, ~800
//! MB; needs Python >= 3.12, which `scenario doctor` looks for), started
//! natively with the YAML config the profile renders, swept small against the
//! fake upstream with the baseline, torn down. Runs under `strace -f` to prove
//! that neither the stack nor anything else the run starts connects anywhere
//! but loopback.

mod common;

use common::{
    env_of, exited, gateway_steps, out_dir, outbound, ports_are_free, report, run_folder,
    scenario_traced,
};

const FILE: &str = "scenarios/llama-stack-scaling.toml";

/// Runs the scenario small under strace; `workers` overrides the file's
/// list of worker counts (one variant per value) with one count.
fn small(
    tag: &str,
    workers: Option<u32>,
    concurrency: &str,
    requests: u64,
    extra: &[&str],
) -> (std::path::PathBuf, Vec<String>) {
    let out = out_dir(tag);
    let trace = out.with_extension("strace");
    let concurrency = format!("load.concurrency={concurrency}");
    let requests = format!("load.requests={requests}");
    let out_arg = out.to_str().unwrap().to_string();
    let mut args = vec![
        "run",
        FILE,
        "--out",
        &out_arg,
        "--set",
        &concurrency,
        "--set",
        &requests,
        "--set",
        "load.warmup=10",
    ];
    let workers = workers.map(|w| format!("topology.workers={w}"));
    if let Some(w) = &workers {
        args.extend(["--set", w.as_str()]);
    }
    args.extend(extra);
    let (run, outbound) = scenario_traced(&args, &trace);
    exited(&run, 0);
    let _ = std::fs::remove_file(&trace);
    (run_folder(&out), outbound)
}

#[test]
fn llama_stack_one_worker_end_to_end_with_baseline_and_no_outbound_connection() {
    let (dir, outbound) = small("llama-stack-1", Some(1), "[1, 4]", 50, &[]);
    let r = report(&dir);
    assert_eq!(r["status"], "complete");
    assert!(
        outbound.is_empty(),
        "connections beyond loopback: {outbound:#?}"
    );
    let steps = gateway_steps(&r);
    assert_eq!(steps.len(), 2);
    for s in &steps {
        assert_eq!(
            s["metrics"]["successes"], 50,
            "every request through the stack answered: {s}"
        );
        let p50 = s["metrics"]["latency_ms"]["p50"].as_f64().unwrap();
        assert!(p50 > 50.0, "includes the 50 ms upstream: {p50}");
    }
    // The baseline ran each level straight against the fake upstream, and
    // the overhead (stack minus baseline) is reported per level.
    let baseline = r["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["side"] == "direct")
        .count();
    assert_eq!(baseline, 2);
    let overhead = r["overhead"].as_array().unwrap();
    assert_eq!(overhead.len(), 2);
    assert!(
        overhead[0]["p50_ms"].as_f64().unwrap() > 0.0,
        "{overhead:?}"
    );

    // The config the profile rendered: the fake upstream, the worker count,
    // loopback only.
    let config = std::fs::read_to_string(dir.join("llama-stack-0.yaml")).unwrap();
    let upstream_port = r["plan"]["services"][0]["port"].as_u64().unwrap();
    assert!(
        config.contains(&format!("base_url: http://127.0.0.1:{upstream_port}/v1")),
        "{config}"
    );
    assert!(config.contains("workers: 1"), "{config}");
    assert!(config.contains("host: 127.0.0.1"), "{config}");
    // Its state went to a fresh folder in the run folder, not ~/.llama.
    let state = dir.join("llama-stack-0/distributions");
    assert!(state.is_dir(), "no state under {}", state.display());

    // Telemetry off in the plan's env: an OTLP endpoint in the caller's
    // environment cannot reach the stack.
    let service = &r["plan"]["services"][1];
    assert_eq!(service["name"], "llama-stack-0");
    let get = |k: &str| env_of(service, k);
    assert_eq!(get("OTEL_EXPORTER_OTLP_ENDPOINT").as_deref(), Some(""));
    assert_eq!(get("LLAMA_STACK_LOG_FORMAT").as_deref(), Some("json"));
    ports_are_free(&r);
    let _ = std::fs::remove_dir_all(dir.parent().unwrap().parent().unwrap());
}

#[test]
fn llama_stack_worker_variants_are_compared_and_two_workers_are_two_processes() {
    // The file's `workers = [1, 2]`: one variant per worker count, each with
    // its baseline, compared side by side.
    let (dir, outbound) = small(
        "llama-stack-variants",
        None,
        "[8]",
        150,
        // issue 13: the stack (parent and workers) on CPU 1, the harness
        // (load threads, fake upstream) on CPU 0.
        &["--set", r#"topology.cpus={ gateway = "1", harness = "0" }"#],
    );
    assert!(
        outbound.is_empty(),
        "connections beyond loopback: {outbound:#?}"
    );
    for workers in [1, 2] {
        let variant = dir.join(format!("workers-{workers}"));
        let r = report(&variant);
        assert_eq!(r["status"], "complete", "workers-{workers}");
        let steps = gateway_steps(&r);
        assert_eq!(steps[0]["metrics"]["successes"], 150, "{}", steps[0]);
        assert_eq!(r["overhead"].as_array().unwrap().len(), 1);
        // server.workers in the rendered YAML reaches uvicorn: with 2, the
        // stack runs as a parent and 2 worker processes, each sampled.
        let config = std::fs::read_to_string(variant.join("llama-stack-0.yaml")).unwrap();
        assert!(config.contains(&format!("workers: {workers}")), "{config}");
        let stack = steps[0]["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["service"] == "llama-stack-0")
            .expect("the stack's resources were sampled");
        let processes = stack["processes"].as_array().unwrap();
        if workers == 2 {
            assert!(
                processes.len() >= 3,
                "parent + 2 workers, each with its own CPU: {processes:#?}"
            );
        }
        // Every process of the stack ran only on the gateway's CPU, the
        // fake upstream only on the harness's; the report records the pinning.
        assert_eq!(r["environment"]["cpus"]["gateway"], "1");
        for u in steps[0]["resources"].as_array().unwrap() {
            let want = if u["service"] == "upstream" { "0" } else { "1" };
            for p in u["processes"].as_array().unwrap() {
                assert_eq!(p["cpus"], want, "{}: {p}", u["service"]);
            }
        }
        ports_are_free(&r);
    }
    let md = std::fs::read_to_string(dir.join("variants.md")).unwrap();
    assert!(md.contains("workers-1") && md.contains("workers-2"), "{md}");
    let _ = std::fs::remove_dir_all(dir.parent().unwrap().parent().unwrap());
}

#[test]
fn the_outbound_check_flags_every_connect_beyond_loopback() {
    // Lines as strace 6.1 writes them (recorded here from a Python client).
    let log = r#"2969  connect(3, {sa_family=AF_INET, sin_port=htons(9), sin_addr=inet_addr("10.9.9.9")}, 16) = -1 EINPROGRESS (Operation now in progress)
2969  connect(4, {sa_family=AF_INET6, sin6_port=htons(9), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "2001:db8::1", &sin6_addr), sin6_scope_id=0}, 28) = -1 EINPROGRESS (Operation now in progress)
2969  connect(3, {sa_family=AF_INET6, sin6_port=htons(9), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "::1", &sin6_addr), sin6_scope_id=0}, 28) = -1 EINPROGRESS (Operation now in progress)
2969  connect(4, {sa_family=AF_INET, sin_port=htons(9), sin_addr=inet_addr("127.0.0.1")}, 16) = -1 EINPROGRESS (Operation now in progress)
2969  connect(3, {sa_family=AF_UNIX, sun_path="/var/run/nscd/socket"}, 110) = -1 ENOENT (No such file or directory)
2969  connect(3, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("10.255.255.53")}, 16) = 0"#;
    let found = outbound(log);
    assert_eq!(found.len(), 3, "{found:#?}");
    assert!(found[0].contains("10.9.9.9"));
    assert!(found[1].contains("2001:db8::1"));
    assert!(found[2].contains("htons(53)"), "a DNS lookup counts too");
}
