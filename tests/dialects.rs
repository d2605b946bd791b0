//! The three request dialects end to end: `scenario run` of each one's
//! streamed load against the fake upstream gives TTFT, ITL and output tokens
//! read from that dialect's events; an answer of another dialect's shape is
//! a `shape` error that fails the run, never a success.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{fixture, out_dir, report, run_folder, scenario, text};

/// `scenario run --quiet FILE --set S …` into a fresh `out_dir(tag)`:
/// the output and that folder.
fn quiet_run(tag: &str, file: &Path, set: &[&str]) -> (Output, PathBuf) {
    let out = out_dir(tag);
    let mut args = vec![
        "run",
        file.to_str().unwrap(),
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ];
    for s in set {
        args.extend(["--set", s]);
    }
    (scenario(&args), out)
}

/// The scenario file showing the three dialects.
fn dialects() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/dialects.toml")
}

#[test]
fn each_dialect_streams_ttft_itl_and_tokens_counted_like_the_upstream() {
    let (run, out) = quiet_run(
        "dialects",
        &dialects(),
        &["load.concurrency=[2]", "load.requests=12", "load.warmup=2"],
    );
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    let folder = run_folder(&out);
    for variant in ["openai-chat", "anthropic-messages", "openai-responses"] {
        let r = report(&folder.join(variant));
        assert_eq!(r["status"], "complete", "{variant}");
        assert_eq!(r["plan"]["target"]["dialect"], variant);
        let step = &r["steps"][0];
        let m = &step["metrics"];
        assert_eq!(m["successes"], 12, "{variant}: {}", m["errors"]);
        let streaming = &m["streaming"];
        assert_eq!(streaming["streams"], 12, "{variant}");
        // `ttft_ms = 40` on the upstream: never earlier, and not seconds late.
        let ttft = streaming["ttft_ms"]["p50"].as_f64().unwrap();
        assert!((40.0..2000.0).contains(&ttft), "{variant}: TTFT p50 {ttft}");
        // One gap per token after the first, `itl_ms = 5` apart.
        let itl = &streaming["itl_ms"];
        assert!(itl["count"].as_u64().unwrap() > 12, "{variant}: {itl}");
        let itl_p50 = itl["p50"].as_f64().unwrap();
        assert!(
            (4.0..500.0).contains(&itl_p50),
            "{variant}: ITL p50 {itl_p50}"
        );
        // Tokens from the dialect's own usage, exactly what the upstream sent.
        let tokens = m["tokens"]["output_tokens"].as_u64().unwrap();
        let served = step["upstream"]["completion_tokens"].as_u64().unwrap();
        assert_eq!(tokens, served, "{variant}");
        assert!(tokens >= 12 * 16, "{variant}: {tokens} tokens");
        let endpoints = &step["upstream"]["endpoints"];
        let endpoint = match variant {
            "openai-chat" => "chat_completions",
            "anthropic-messages" => "messages",
            _ => "responses",
        };
        assert_eq!(endpoints[endpoint], 12, "{variant}: {endpoints}");
    }
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn answers_in_another_dialects_shape_are_shape_errors_and_fail_the_run() {
    let (run, out) = quiet_run("dialect-mismatch", &fixture("dialect-mismatch.toml"), &[]);
    // The assertions judge the answers: a failed check, not a harness error.
    assert_eq!(run.status.code(), Some(1), "{}", text(&run.stderr));
    let folder = run_folder(&out);
    for variant in ["streamed-to-chat", "plain-untranslated"] {
        let dir = folder.join(variant);
        let r = report(&dir);
        assert_eq!(r["status"], "complete", "{variant}");
        let m = &r["steps"][0]["metrics"];
        assert_eq!(m["successes"], 0, "{variant}");
        assert_eq!(m["errors"]["shape"], 20, "{variant}: {}", m["errors"]);
        assert_eq!(m["errors"]["total"], 20, "{variant}");
        assert_eq!(r["verdicts"][0]["passed"], false, "{variant}");
        // No success, so no streaming or token figures from the wrong shape.
        assert!(
            m["streaming"].is_null() && m["tokens"].is_null(),
            "{variant}"
        );
        let csv = std::fs::read_to_string(dir.join("steps.csv")).unwrap();
        assert!(
            csv.lines().next().unwrap().contains(",shape_errors,"),
            "{csv}"
        );
    }
    // The upstream did answer every request, with 200s.
    let streamed = report(&folder.join("streamed-to-chat"));
    let upstream = &streamed["steps"][0]["upstream"];
    assert_eq!(upstream["endpoints"]["chat_completions"], 20, "{upstream}");
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn a_warm_up_answered_in_the_wrong_shape_says_so() {
    let (run, out) = quiet_run(
        "dialect-mismatch-warmup",
        &fixture("dialect-mismatch.toml"),
        &["load.warmup=2"],
    );
    let err = text(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{err}");
    assert!(
        err.contains("all 2 warm-up requests failed (2 shape)")
            && err.contains("not in the shape of the request's dialect"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn an_unknown_dialect_is_named_with_its_place_and_the_valid_ones() {
    let dir = out_dir("dialect-bad");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bad.toml");
    std::fs::write(
        &file,
        "[scenario]\nname = \"bad\"\n\n[request]\ndialect = \"anthropic\"\n",
    )
    .unwrap();
    let out = scenario(&["validate", file.to_str().unwrap()]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("bad.toml:5:11"), "{err}");
    assert!(err.contains("unknown value `anthropic`"), "{err}");
    assert!(
        err.contains("openai-chat")
            && err.contains("anthropic-messages")
            && err.contains("openai-responses"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn truncated_streams_of_every_dialect_are_truncated_not_shape_errors() {
    let (run, out) = quiet_run(
        "dialects-truncated",
        &dialects(),
        &[
            "load.concurrency=[4]",
            "load.requests=24",
            "load.warmup=0",
            "upstream.faults.truncated=0.5",
            "upstream.itl_ms=0",
        ],
    );
    // Failed requests fail `max_error_rate = 0`.
    assert_eq!(run.status.code(), Some(1), "{}", text(&run.stderr));
    let folder = run_folder(&out);
    for variant in ["openai-chat", "anthropic-messages", "openai-responses"] {
        let step = &report(&folder.join(variant))["steps"][0];
        let errors = &step["metrics"]["errors"];
        let injected = step["upstream"]["faults"]["truncated"].as_u64().unwrap();
        assert!(injected > 0, "{variant}: the seed injects some");
        assert_eq!(errors["truncated"], injected, "{variant}: {errors}");
        assert_eq!(errors["total"], injected, "{variant}: {errors}");
        assert_eq!(
            step["metrics"]["successes"].as_u64().unwrap() + injected,
            24,
            "{variant}"
        );
    }
    let _ = std::fs::remove_dir_all(&out);
}
