//! The load engine against the truth (issue 3, client side): `scenario run`
//! starts the real fake upstream, and every figure is checked against what
//! the server was configured to do or says it did (`GET /stats`, stored per
//! step in the report).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

mod common;

const BIN: &str = env!("CARGO_BIN_EXE_scenario");

/// Run a fixture to the end and return its `report.json`.
fn run(fixture: &str, tag: &str) -> Value {
    let out = std::env::temp_dir().join(format!("scenario-load-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let file: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(fixture);
    let output = Command::new(BIN)
        .args(["run", "--quiet", "--out"])
        .arg(&out)
        .arg(&file)
        .output()
        .expect("run scenario");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.code() == Some(0) || output.status.code() == Some(1),
        "scenario run failed: {stderr}"
    );
    let run_dir = common::run_folder(&out);
    let text = std::fs::read_to_string(run_dir.join("report.json")).unwrap();
    let _ = std::fs::remove_dir_all(&out);
    serde_json::from_str(&text).unwrap()
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

#[test]
fn issue_3_injected_500s_are_counted_exactly_over_a_sweep() {
    let report = run("load_faults.toml", "faults");
    let steps = report["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 3);
    let mut injected_total = 0;
    for step in steps {
        let m = &step["metrics"];
        let upstream = &step["upstream"];
        let injected = u(&upstream["faults"]["status_500"]);
        let seen = m["errors"]["status"]["500"].as_u64().unwrap_or(0);
        assert_eq!(
            seen, injected,
            "step {}: client vs server 500s",
            step["index"]
        );
        assert_eq!(u(&m["errors"]["total"]), injected, "no other errors");
        // Warm-up excluded on both sides: the server saw exactly the measured requests.
        assert_eq!(u(&m["requests"]), 1500);
        assert_eq!(u(&upstream["requests"]), 1500);
        assert_eq!(u(&upstream["endpoints"]["chat_completions"]), 1500);
        injected_total += injected;
    }
    // 2% of 4,500: far from zero, so the comparison means something.
    assert!(
        (45..=135).contains(&injected_total),
        "{injected_total} injected"
    );
}

#[test]
fn issue_3_streams_report_ttft_itl_tokens_and_truncation() {
    let report = run("load_streaming.toml", "streaming");
    let step = &report["steps"][0];
    let m = &step["metrics"];
    let upstream = &step["upstream"];
    let truncated = u(&upstream["faults"]["truncated"]);
    assert!(truncated > 0, "5% of 600 streams were cut");
    assert_eq!(u(&m["errors"]["truncated"]), truncated);
    assert_eq!(u(&m["errors"]["total"]), truncated);
    assert_eq!(u(&upstream["streamed"]), 600);

    let streaming = &m["streaming"];
    let ok = 600 - truncated;
    assert_eq!(u(&streaming["streams"]), ok);
    // 30 ms to the first token, then 19 gaps of 5 ms per complete stream.
    assert_eq!(u(&streaming["itl_ms"]["count"]), ok * 19);
    let ttft = f(&streaming["ttft_ms"]["p50"]);
    // Never before the first token; a busy machine may add a few ms, but
    // TTFT measured to the last token (30 + 19 x 5 ms) would be far off.
    assert!((30.0..45.0).contains(&ttft), "TTFT p50 {ttft} ms");
    let itl = f(&streaming["itl_ms"]["p50"]);
    assert!((4.5..7.5).contains(&itl), "ITL p50 {itl} ms");

    // 20 tokens each (from the usage chunk); 19 tokens over 95 ms = 200 tokens/s.
    let tokens = &m["tokens"];
    assert_eq!(u(&tokens["answers"]), ok);
    assert_eq!(u(&tokens["output_tokens"]), ok * 20);
    assert_eq!(u(&upstream["completion_tokens"]), ok * 20);
    let rate = f(&tokens["per_request"]["p50"]);
    // 200 tokens/s as configured; a busy machine stretches the gaps and lowers it.
    assert!((130.0..=220.0).contains(&rate), "{rate} tokens/s");
    assert!(report["levels"][0]["ttft_p50_ms"]["mean"].is_number());
}

#[test]
fn issue_3_lognormal_percentiles_match_the_configured_ones() {
    let report = run("load_lognormal.toml", "lognormal");
    let m = &report["steps"][0]["metrics"];
    assert_eq!(u(&m["requests"]), 20000);
    assert_eq!(u(&m["errors"]["total"]), 0);
    let p50 = f(&m["latency_ms"]["p50"]);
    let p99 = f(&m["latency_ms"]["p99"]);
    assert!((p50 - 50.0).abs() <= 50.0 * 0.05, "p50 {p50} ms");
    assert!((p99 - 400.0).abs() <= 400.0 * 0.10, "p99 {p99} ms");
    // Non-streamed answers report their tokens from `usage`.
    assert_eq!(u(&m["tokens"]["output_tokens"]), 20000 * 16);
}

#[test]
fn one_round_at_full_concurrency_is_measured_as_one_round() {
    let report = run("load_one_round.toml", "one-round");
    let step = &report["steps"][0];
    let m = &step["metrics"];
    assert_eq!(u(&m["successes"]), 30);
    // Warm-up excluded: the server saw exactly the measured requests.
    assert_eq!(u(&step["upstream"]["requests"]), 30);
    // Fair shares: one request per worker, so the whole step is one round
    // of 200 ms; a worker given two would make it ~400 ms.
    let (whole, busy) = (f(&m["duration_s"]), f(&m["busy_s"]));
    assert!((0.2..0.3).contains(&whole), "whole window {whole} s");
    assert!(
        busy > 0.19 && busy <= whole,
        "busy window {busy} s of {whole} s"
    );
    // Ideal 30 / 0.2 s = 150 req/s; two rounds would be at most 75. The
    // floor follows the whole window's 0.3 s bound (a busy machine is slow
    // to open 30 connections at once).
    let rps = f(&m["rps"]);
    assert!((100.0..=151.0).contains(&rps), "{rps} req/s");
    let window = f(&m["rps_window"]);
    assert!((window - 30.0 / whole).abs() < 1e-6, "{window} req/s");
}

#[test]
fn a_warm_up_where_nothing_answers_stops_the_run_with_the_reason() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let out = std::env::temp_dir().join(format!("scenario-load-closed-{}", std::process::id()));
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny.toml");
    let output = Command::new(BIN)
        .args(["run", "--quiet", "--out"])
        .arg(&out)
        .arg(&file)
        .args([
            "--set",
            &format!("topology.target=\"http://127.0.0.1:{port}/v1/chat/completions\""),
            "--set",
            "load.runs=1",
        ])
        .output()
        .expect("run scenario");
    let _ = std::fs::remove_dir_all(&out);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    let expected =
        format!("all 4 warm-up requests failed (4 connect): nothing answered at 127.0.0.1:{port}");
    assert!(stderr.contains(&expected), "{stderr}");
}

/// Issue 11: a request the server received and closed on without answering
/// (a `hang` below the timeout) is a `read` error, never silently resent;
/// every resend is counted, so the server's count reconciles exactly.
#[test]
fn issue_11_hangs_are_read_errors_and_the_server_count_reconciles() {
    let report = run("load_hangs.toml", "hangs");
    let step = &report["steps"][0];
    let m = &step["metrics"];
    let upstream = &step["upstream"];
    let (requests, successes, errors) = (
        u(&m["requests"]),
        u(&m["successes"]),
        u(&m["errors"]["total"]),
    );
    assert_eq!(requests, 5000);
    assert_eq!(successes + errors, requests);
    let hangs = u(&upstream["faults"]["hang"]);
    // 2% of 5,000: far from zero, so the comparison means something.
    assert!((50..=150).contains(&hangs), "{hangs} hangs injected");
    assert_eq!(
        u(&m["errors"]["read"]),
        hangs,
        "every hang is one read error"
    );
    assert_eq!(errors, hangs, "no other errors: {}", m["errors"]);
    // Warm-up excluded (the stats were reset after it): the server saw each
    // measured request once, plus each reported resend.
    let retries = u(&m["retries"]);
    assert_eq!(u(&upstream["requests"]), requests + retries);
    assert_eq!(u(&report["levels"][0]["retries"]), retries);
    // A hang ends after 100 ms, not at the 5 s timeout.
    let max = f(&m["latency_ms"]["max"]);
    assert!(max < 1000.0, "max latency {max} ms");
}
