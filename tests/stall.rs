//! Stalls, on real parts (issue 13): the fake upstream's `stall` fault
//! really pauses a share of its streams mid-way, and the report counts
//! exactly those streams as stalled (one gap each over `stall_factor` × the
//! ITL); the same load without the fault counts none.

mod common;

use common::{out_dir, report, run_folder, scenario, text};

/// 8 tokens 20 ms apart; a stall threshold of 20 × 20 ms = 400 ms, far over
/// the paced gaps and far under the 1 s pause of a stalled stream.
const SCENARIO: &str = r#"
[scenario]
name = "stall"

[upstream]
ttft_ms = 5
itl_ms = 20
completion_tokens = 8

[request]
vars = { stream = true }

[load]
concurrency = [4]
requests = 24
warmup = 2

[report]
stall_factor = 20

[variants.paused]
upstream.faults = { stall = 0.5, stall_ms = 1000 }

[variants.steady]
upstream.faults = { stall = 0.0 }
"#;

fn count(v: &serde_json::Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("a count: {v}"))
}

#[test]
fn streams_the_upstream_pauses_are_counted_stalled_and_steady_ones_are_not() {
    let out = out_dir("stall");
    std::fs::create_dir_all(&out).unwrap();
    let file = out.join("stall.toml");
    std::fs::write(&file, SCENARIO).unwrap();
    let results = out.join("results");
    let run = scenario(&[
        "run",
        file.to_str().unwrap(),
        "--out",
        results.to_str().unwrap(),
    ]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    let stdout = text(&run.stdout);
    let dir = run_folder(&results);

    let paused = report(&dir.join("paused"));
    let mut injected_total = 0;
    for step in paused["steps"].as_array().unwrap() {
        let checks = &step["metrics"]["streaming"]["checks"];
        let injected = count(&step["upstream"]["faults"]["stall"]);
        injected_total += injected;
        assert_eq!(count(&checks["checked"]), 24, "{checks}");
        // Exactly the streams the upstream paused, one long gap each.
        assert_eq!(count(&checks["stalled_streams"]), injected, "{step}");
        assert_eq!(count(&checks["stalls"]), injected, "{step}");
        assert_eq!(checks["stall_ms"], 400.0, "{checks}");
    }
    // Half of 24 by the seeded draws; some of them, not all.
    assert!(
        (1..24).contains(&injected_total),
        "stalls injected: {injected_total}"
    );
    assert!(stdout.contains("STALLED:"), "{stdout}");
    let level = &paused["streams"]["levels"][0];
    assert_eq!(count(&level["stalled_streams"]), injected_total, "{level}");
    assert_eq!(
        paused["streams"]["sustained"]["concurrency"],
        serde_json::Value::Null
    );

    let steady = report(&dir.join("steady"));
    for step in steady["steps"].as_array().unwrap() {
        let checks = &step["metrics"]["streaming"]["checks"];
        assert_eq!(count(&step["upstream"]["faults"]["stall"]), 0, "{step}");
        assert_eq!(count(&checks["checked"]), 24, "{checks}");
        assert_eq!(
            (count(&checks["stalled_streams"]), count(&checks["stalls"])),
            (0, 0),
            "{checks}"
        );
    }
    assert_eq!(steady["streams"]["sustained"]["concurrency"], 4);
    let _ = std::fs::remove_dir_all(&out);
}
