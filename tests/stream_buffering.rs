//! What a gateway does to a token stream, on real parts (issue 13 item 1):
//! nginx in front of the fake upstream with `proxy_buffering on` holds each
//! stream back and lets it go at once, which the report flags as buffered
//! with an added time to first token of about the stream's length; with
//! `off` frames pass as they come. Needs nginx (`apt-get install -y nginx`).

mod common;

use common::{out_dir, report, run_folder, scenario, text};

const SCENARIO: &str = "scenarios/nginx-stream-buffering.toml";

/// The scenario's pacing: 12 tokens, 20 ms apart, so a stream lasts ~220 ms
/// from its first token to its last.
const ITL_MS: f64 = 20.0;
const TOKENS: f64 = 12.0;

/// A level's figures from `report.json`'s `streams`.
fn level(list: &serde_json::Value, c: u64) -> &serde_json::Value {
    list.as_array()
        .unwrap_or_else(|| panic!("a list: {list}"))
        .iter()
        .find(|l| l["concurrency"] == c)
        .unwrap_or_else(|| panic!("c={c} in {list}"))
}

fn ms(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("a number: {v}"))
}

#[test]
fn issue_13_nginx_proxy_buffering_on_is_flagged_buffered_and_off_is_not() {
    let out = out_dir("stream-buffering");
    let run = scenario(&["run", SCENARIO, "--out", out.to_str().unwrap()]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    let stdout = text(&run.stdout);
    let dir = run_folder(&out);
    let duration = ITL_MS * (TOKENS - 1.0);

    let on = report(&dir.join("buffering-on"));
    let streams = &on["streams"];
    for c in [1, 4] {
        let health = level(&streams["levels"], c);
        assert_eq!(health["streams"], 12, "{health}");
        assert_eq!(health["checked"], 12, "{health}");
        assert_eq!(health["buffered"], 12, "every stream held back: {health}");
        // Held until the end: the first token comes about when the last
        // would have, so nginx adds about the stream's length to TTFT.
        let added = ms(&level(&streams["overhead"], c)["ttft_p50_ms"]);
        assert!(
            added > 0.8 * duration && added < 1.2 * duration + 10.0,
            "c={c}: buffering added {added:.1} ms to TTFT, the stream lasts {duration} ms"
        );
    }
    assert_eq!(streams["sustained"]["concurrency"], serde_json::Value::Null);
    assert!(
        stdout.contains("c=1: BUFFERED: 12 of 12 streams arrived in bursts"),
        "{stdout}"
    );
    let md = std::fs::read_to_string(dir.join("buffering-on/summary.md")).unwrap();
    assert!(md.contains("BUFFERED: 12 of 12"), "{md}");
    let csv = std::fs::read_to_string(dir.join("buffering-on/steps.csv")).unwrap();
    assert!(csv.lines().next().unwrap().contains("buffered_streams"));

    let off = report(&dir.join("buffering-off"));
    let streams = &off["streams"];
    for c in [1, 4] {
        let health = level(&streams["levels"], c);
        assert_eq!(health["checked"], 12, "{health}");
        assert_eq!(
            (&health["buffered"], &health["stalls"]),
            (&serde_json::json!(0), &serde_json::json!(0)),
            "{health}"
        );
        // Under 1 ms on a quiet machine; 5 ms leaves room for a loaded one
        // while staying far below the ~220 ms of buffering.
        let added = ms(&level(&streams["overhead"], c)["ttft_p50_ms"]);
        assert!(added < 5.0, "c={c}: nginx added {added:.2} ms to TTFT");
    }
    assert_eq!(streams["sustained"]["concurrency"], 4);
    // The direct side is checked too, and never buffered.
    for r in [&on, &off] {
        for s in r["steps"].as_array().unwrap() {
            if s["side"] == "direct" {
                assert_eq!(s["metrics"]["streaming"]["checks"]["buffered"], 0, "{s}");
            }
        }
    }
}
