//! The real LiteLLM proxy from PyPI (`litellm[proxy]==1.108.7`), end to end:
//! provisioned into the cached venv on first use (~95 s, ~760 MB), started
//! natively with the config.yaml its profile renders, swept small against
//! the fake upstream with the baseline, torn down. Runs under `strace -f`
//! to prove that nothing the run starts connects beyond loopback. The
//! profile needs no workaround: no `env -u`, no hand-written auth header.
//! Starting the proxy costs 15-40 s on 2 cores, more than the small load:
//! one run proves what several tests would (5 proxy runs in all).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{
    exited, files_under, gateway_steps, out_dir, ports_are_free, provision_for, provision_for_in,
    report, request, run_folder, scenario_traced, strings, text, BIN,
};

/// One LiteLLM run at a time: several starting together on 2 cores slow
/// each other's start-up past the timeouts.
static ONE: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE.lock().unwrap_or_else(|e| e.into_inner())
}

const PROFILE: &str = "templates/gateways/litellm.toml";

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// No process anywhere still runs with the run folder on its command line
/// (every LiteLLM names its config there).
fn nothing_left_of(run_dir: &Path) {
    let needle = run_dir.display().to_string();
    let left: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            cmd.contains(&needle).then(|| format!("{pid}: {cmd}"))
        })
        .collect();
    assert!(left.is_empty(), "processes left behind: {left:#?}");
}

/// issue 14: the first LiteLLM profile needed `env -u DATABASE_URL` and a
/// hand-written `Authorization` header. This one runs with an exported
/// DATABASE_URL (which makes LiteLLM exit when it gets through), under
/// strace, with the baseline, and leaves nothing behind. The workers sweep
/// in the same run: one variant per worker count, each a complete run.
/// (Formerly two tests, `litellm_single_…` and `litellm_workers_variants_run`,
/// each starting the proxy: every assertion of both is kept, and the
/// single-worker variant is the one-instance, one-worker run the first
/// test made.)
#[test]
fn litellm_end_to_end_per_worker_count_with_baseline_and_no_outbound_connection() {
    let _one = one_at_a_time();
    let profile = std::fs::read_to_string(repo(PROFILE)).unwrap();
    for workaround in ["env -u", "[request.headers]", "Authorization", "bin.env"] {
        assert!(
            !profile.contains(workaround),
            "the profile uses `{workaround}`"
        );
    }
    // Inherited by strace, the run and every service it starts, unless a
    // profile removes it.
    std::env::set_var("DATABASE_URL", "postgresql://leaked@nowhere/db");

    let out = out_dir("litellm-workers");
    let trace = out.with_extension("strace");
    let out_arg = out.display().to_string();
    let args = [
        "run",
        "scenarios/litellm-workers.toml",
        "--out",
        &out_arg,
        "--set",
        "load.concurrency=[1, 10]",
        "--set",
        "load.requests=50",
        "--set",
        "load.warmup=10",
    ];
    let (run, outbound) = scenario_traced(&args, &trace);
    exited(&run, 0);
    let _ = std::fs::remove_file(&trace);
    assert!(
        outbound.is_empty(),
        "connections beyond loopback: {outbound:#?}"
    );
    let dir = run_folder(&out);
    for workers in [1, 2] {
        let dir = dir.join(format!("workers-{workers}"));
        let r = report(&dir);
        assert_eq!(r["status"], "complete");
        let steps = gateway_steps(&r);
        assert_eq!(steps.len(), 2);
        for s in &steps {
            assert_eq!(s["metrics"]["successes"], 50, "{s}");
            let p50 = s["metrics"]["latency_ms"]["p50"].as_f64().unwrap();
            assert!(p50 > 50.0, "includes the 50 ms upstream: {p50}");
            assert_eq!(
                strings(&s["resources"], "service"),
                ["upstream", "litellm-0"]
            );
        }
        let overhead = r["overhead"].as_array().unwrap();
        assert_eq!(overhead.len(), 2, "the baseline ran each level");
        assert!(
            overhead[0]["p50_ms"].as_f64().unwrap() > 0.0,
            "{overhead:?}"
        );
        // The config the profile rendered points at the fake upstream.
        let config = std::fs::read_to_string(dir.join("litellm.yaml")).unwrap();
        let upstream = r["plan"]["services"][0]["port"].as_u64().unwrap();
        assert!(
            config.contains(&format!("api_base: http://127.0.0.1:{upstream}/v1")),
            "{config}"
        );
        let service = &r["plan"]["services"][1];
        let removed = &service["env_remove"];
        assert!(
            removed
                .as_array()
                .unwrap()
                .iter()
                .any(|v| v == "DATABASE_URL"),
            "{removed}"
        );
        let command = service["command"].as_array().unwrap();
        let at = command.iter().position(|w| w == "--num_workers").unwrap();
        assert_eq!(command[at + 1], workers.to_string());
        ports_are_free(&r);
    }
    nothing_left_of(&dir);
    let _ = std::fs::remove_dir_all(&out);
}

/// `n` free consecutive ports for `topology.base_port`.
fn free_base_port(n: u16) -> u16 {
    // A start that differs between test processes, with room for `n`.
    let start = 29000 + (std::process::id() % (800 / n as u32)) as u16 * n;
    (start..29990)
        .step_by(n as usize)
        .find(|&p| (p..p + n).all(|p| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok()))
        .expect("free ports")
}

/// A LiteLLM scenario with a master key as `auth = { kind = "bearer" }`,
/// copied with the file it extends to an empty folder, run with 2
/// instances behind nginx: the profile, nginx's config and the prompt pool
/// are built in; the run's requests get through (both instances serve), a
/// request with another key is refused while the proxy runs, and the key
/// is in no file of the run. (Formerly two tests,
/// `litellm_master_key_is_bearer_auth_enforced_and_redacted` and
/// `litellm_two_instances_behind_nginx_from_an_empty_folder`, each starting
/// proxies: every assertion of both is kept.)
#[test]
fn litellm_master_key_enforced_and_redacted_on_two_instances_behind_nginx_from_an_empty_folder() {
    let _one = one_at_a_time();
    let token = "sk-bench-master-key-1234";
    let dir = std::env::temp_dir().join(format!("scenario-litellm-copied-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for file in ["litellm-auth.toml", "litellm-single.toml"] {
        std::fs::copy(repo(&format!("scenarios/{file}")), dir.join(file)).unwrap();
    }
    // Upstream, two proxies, nginx.
    let base = free_base_port(4);
    let base_arg = format!("topology.base_port={base}");
    let args = [
        "run",
        "litellm-auth.toml",
        "--out",
        "out",
        "--set",
        &base_arg,
        "--set",
        "topology.instances=2",
        "--set",
        "load.concurrency=[10]",
        "--set",
        "load.requests=120",
        "--set",
        "load.warmup=10",
    ];
    provision_for_in(&dir, &args);
    let child = Command::new(BIN)
        .args(args)
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Proxy 0 is the port after the fake upstream's.
    let port = base + 1;
    let deadline = Instant::now() + Duration::from_secs(180);
    let refused = loop {
        let body = r#"{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}"#;
        // `request` sends `Authorization: Bearer fake`, not the master key.
        if let Ok(r) = request(port, "POST", "/v1/chat/completions", Some(body)) {
            break r;
        }
        assert!(Instant::now() < deadline, "the proxy never answered");
        std::thread::sleep(Duration::from_millis(250));
    };
    // LiteLLM 1.108 answers a key that is not the master key with 400 or
    // 401 (it looks other keys up in a database it does not have here):
    // either way an error, never a completion from the upstream.
    let answer = text(&refused.body);
    assert!(
        [400, 401, 403].contains(&refused.status)
            && answer.contains("\"error\"")
            && !answer.contains("choices"),
        "a request with another key is refused: {} {answer}",
        refused.status
    );
    let run: Output = child.wait_with_output().unwrap();
    exited(&run, 0);
    let run_dir = run_folder(&dir.join("out"));
    let r = report(&run_dir);
    assert_eq!(
        strings(&r["plan"]["services"], "name"),
        ["upstream", "litellm-0", "litellm-1", "nginx"]
    );
    let step = gateway_steps(&r)[0];
    assert_eq!(step["metrics"]["successes"], 120, "{step}");
    // Both instances served: each used CPU during the step.
    for name in ["litellm-0", "litellm-1"] {
        let u = step["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["service"] == name)
            .unwrap_or_else(|| panic!("{name} not sampled: {step}"));
        assert!(u["cpu_pct_mean"].as_f64().unwrap_or(0.0) > 0.0, "{u}");
    }
    for entry in files_under(&run_dir, &[]) {
        let content = std::fs::read(&entry).unwrap();
        assert!(
            !String::from_utf8_lossy(&content).contains(token),
            "{} shows the key",
            entry.display()
        );
    }
    assert!(!text(&run.stdout).contains(token) && !text(&run.stderr).contains(token));
    ports_are_free(&r);
    nothing_left_of(&run_dir);
    let _ = std::fs::remove_dir_all(&dir);
}

/// issue 14: Anthropic Messages in, through LiteLLM's translation, to the
/// fake upstream's OpenAI chat endpoint. Every answer is checked to be in
/// Anthropic's shape (an untranslated pass-through would count `shape`
/// errors), plain and streamed, and the report prices the translation
/// against the direct OpenAI path, per level.
#[test]
fn litellm_translates_anthropic_messages_and_the_report_prices_it() {
    let _one = one_at_a_time();
    let out = out_dir("litellm-translation");
    let out_arg = out.display().to_string();
    let args = [
        "run",
        "scenarios/litellm-translation.toml",
        "--out",
        &out_arg,
        "--set",
        "load.concurrency=[1, 4]",
        "--set",
        "load.requests=20",
        "--set",
        "load.warmup=4",
    ];
    provision_for(&args);
    let run = common::scenario(&args);
    exited(&run, 0);
    let dir = run_folder(&out);
    for variant in ["plain", "streamed"] {
        let r = report(&dir.join(variant));
        assert_eq!(r["status"], "complete", "{variant}");
        for step in gateway_steps(&r) {
            let m = &step["metrics"];
            assert_eq!(m["successes"], 20, "{variant}: {m}");
            assert_eq!(m["errors"]["shape"].as_u64().unwrap_or(0), 0, "{variant}");
            if variant == "streamed" {
                assert!(m["streaming"]["ttft_ms"]["p50"].as_f64().unwrap() >= 50.0);
                assert!(
                    m["tokens"]["output_tokens"].as_u64().unwrap_or(0) > 0,
                    "{m}"
                );
            }
        }
        // The direct steps went to the OpenAI chat path, the gateway's to
        // /v1/messages; the overhead is there for every level.
        let overhead = r["overhead"].as_array().unwrap();
        assert_eq!(overhead.len(), 2, "{variant}: {overhead:?}");
        for level in overhead {
            assert!(level["p50_ms"].as_f64().unwrap() > 1.0, "{level}");
        }
        // Translated to chat completions (the profile's option), not
        // passed through to the upstream's own /v1/messages.
        for step in gateway_steps(&r) {
            let hits = &step["upstream"]["endpoints"];
            assert_eq!(hits["chat_completions"], 20, "{variant}: {hits}");
            assert_eq!(hits["messages"], 0, "{variant}: {hits}");
        }
    }
    assert!(dir.join("variants.md").is_file());
    nothing_left_of(&dir);
    let _ = std::fs::remove_dir_all(&out);
}

/// A typo in a (local copy of the) LiteLLM profile is bad input for
/// `validate`: the profile file and line, the variable, what it has.
#[test]
fn a_litellm_profile_typo_is_reported_by_validate_with_file_and_line() {
    let dir = std::env::temp_dir().join(format!("scenario-litellm-typo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("templates/gateways")).unwrap();
    std::fs::copy(repo("scenarios/litellm-single.toml"), dir.join("s.toml")).unwrap();
    let profile = std::fs::read_to_string(repo(PROFILE)).unwrap();
    let typo = profile.replace(
        "api_base: {{ upstream.url }}",
        "api_base: {{ upstream.uri }}",
    );
    assert_ne!(typo, profile);
    std::fs::write(dir.join("templates/gateways/litellm.toml"), &typo).unwrap();
    let line = typo
        .lines()
        .position(|l| l.contains("upstream.uri"))
        .unwrap()
        + 1;
    let out = Command::new(BIN)
        .args(["validate", "s.toml"])
        .current_dir(&dir)
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("templates/gateways/litellm.toml:{line}:")),
        "{err}"
    );
    assert!(err.contains("`upstream.uri` is undefined"), "{err}");
    assert!(err.contains("`upstream` has: url"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
