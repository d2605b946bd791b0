//! Ramps (`[load] stages`, issue 12 part 2) against the real fake upstream
//! via `scenario run`: the per-second series shows the target rising and
//! the achieved load following it, in the JSON and the HTML; bad stages
//! are refused before anything starts.

mod common;

use std::sync::Mutex;

use common::{fixture, out_dir, report, run_folder, scenario, text};
use serde_json::Value;

/// One timed run at a time: the machine's two cores are shared.
static SERIAL: Mutex<()> = Mutex::new(());

/// Run `file`, returning its report and the HTML (when written).
fn run(tag: &str, file: &str) -> (Value, Option<String>) {
    let out = out_dir(tag);
    let file = fixture(file);
    let args = [
        "run",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
        file.to_str().unwrap(),
    ];
    let output = scenario(&args);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let dir = run_folder(&out);
    let r = report(&dir);
    let html = std::fs::read_to_string(dir.join("report.html")).ok();
    let _ = std::fs::remove_dir_all(&out);
    (r, html)
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// The samples of the ramp itself (answers still arriving after its end
/// have no target), as `(second, target, sample)`.
fn ramp_seconds(step: &Value) -> Vec<(u64, f64, &Value)> {
    step["timeseries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| !t["target"].is_null())
        .map(|t| (t["second"].as_u64().unwrap(), f(&t["target"]), t))
        .collect()
}

#[test]
fn issue_12_a_worker_ramp_from_1_to_200_over_20_s_shows_the_workers_rising() {
    let _one = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let (r, html) = run("ramp-workers", "ramp.toml");
    let step = &r["steps"][0];
    assert_eq!(r["steps"].as_array().unwrap().len(), 1, "one measured step");
    assert_eq!(step["concurrency"], 200, "the level is the peak");
    assert_eq!(step["ramp"], true);
    let seconds = ramp_seconds(step);
    assert_eq!(seconds.len(), 20, "one sample per second of the ramp");
    for (second, target, t) in &seconds {
        eprintln!(
            "s={second:>2} target {target:6.1} in flight {:6.1} ok {:>5} p50 {} p90 {} p99 {}",
            f(&t["in_flight"]),
            t["ok"],
            t["p50_ms"],
            t["p90_ms"],
            t["p99_ms"]
        );
    }
    // The target rises 10 workers a second: 5, 15, … 195 (mean per second).
    for w in seconds.windows(2) {
        assert!(
            w[1].1 >= w[0].1,
            "target never falls: {} then {}",
            w[0].1,
            w[1].1
        );
    }
    assert!((seconds[0].1 - 5.0).abs() < 0.01, "{}", seconds[0].1);
    assert!((seconds[19].1 - 195.0).abs() < 0.01, "{}", seconds[19].1);
    // Achieved: the mean requests in flight, each worker busy all the
    // time it runs (a worker w runs once the target passes w, so about
    // half a worker more than the mean target).
    for (second, target, t) in &seconds {
        let achieved = f(&t["in_flight"]);
        assert!(
            (achieved - target).abs() <= 0.15 * target + 2.0,
            "second {second}: target {target}, achieved {achieved}"
        );
        assert!(t["ok"].as_u64().unwrap() > 0, "answers in second {second}");
        assert!(f(&t["p90_ms"]) >= f(&t["p50_ms"]) && f(&t["p99_ms"]) >= f(&t["p90_ms"]));
    }
    let first = f(&seconds[0].2["in_flight"]);
    let last = f(&seconds[19].2["in_flight"]);
    assert!(last > 150.0 && first < 15.0, "rose from {first} to {last}");
    // `[assert.concurrency.200]` judges the ramp, whose level is its peak.
    let v = &r["verdicts"][0];
    assert_eq!(
        (v["concurrency"].as_u64(), v["ramp"].as_bool()),
        (Some(200), Some(true)),
        "{v}"
    );
    assert_eq!(v["passed"], true, "{v}");
    let html = html.expect("report.html written");
    for id in ["chart-ramp-load-1", "chart-ramp-latency-1"] {
        assert!(html.contains(&format!("id=\"{id}\"")), "{id} in the HTML");
    }
    assert!(html.contains("target workers") && html.contains("requests in flight"));
    assert!(html.contains("ramp to c=200"));
}

#[test]
fn issue_12_a_rate_ramp_sends_what_its_target_asks_second_by_second() {
    let _one = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let (r, _) = run("ramp-rate", "ramp_rate.toml");
    let step = &r["steps"][0];
    assert_eq!(step["concurrency"], 400);
    assert_eq!(step["rate"], 400.0);
    let o = &step["metrics"]["open_loop"];
    // Arrivals due: the area under the target, 400 + 1200 + 800 (and the
    // one at 0 s).
    let scheduled = o["scheduled"].as_u64().unwrap();
    assert!((2400..=2401).contains(&scheduled), "scheduled {scheduled}");
    assert_eq!(
        o["sent"].as_u64().unwrap() + o["dropped"].as_u64().unwrap(),
        scheduled
    );
    assert!(
        (f(&o["target_rate"]) - 240.0).abs() < 0.5,
        "mean target {}",
        o["target_rate"]
    );
    let seconds = ramp_seconds(step);
    assert_eq!(seconds.len(), 10);
    for (second, target, t) in &seconds {
        let sent = t["sent"].as_u64().unwrap() as f64;
        eprintln!("s={second} target {target:.0}/s sent {sent}");
        assert!(
            (sent - target).abs() <= 0.1 * target + 3.0,
            "second {second}: target {target}/s, sent {sent}"
        );
    }
    assert!(seconds[7].1 > seconds[2].1, "the target rose");
    // Achieved against the ramp's mean target, judged like a fixed rate's.
    let v = &r["verdicts"][0];
    assert_eq!(v["metric"], "min_achieved_rate_ratio");
    assert!(f(&v["measured"]) > 0.95 && f(&v["measured"]) < 1.05, "{v}");
    assert_eq!(v["passed"], true);
}

#[test]
fn issue_12_bad_stages_are_refused_with_line_column_and_what_is_valid() {
    let out = scenario(&["validate", fixture("bad_stages.toml").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    let expect = [
        (
            "bad_stages.toml:5:12",
            "`load.requests` cannot be set beside it",
        ),
        ("bad_stages.toml:8:3", "stage 2 has no `duration`"),
        ("bad_stages.toml:9:3", "stage 3 has no target"),
        ("bad_stages.toml:10:46", "not both"),
        (
            "bad_stages.toml:11:29",
            "an earlier stage sets `concurrency`, this one `rate`",
        ),
    ];
    for (at, what) in expect {
        assert!(err.contains(at), "{at} in:\n{err}");
        assert!(err.contains(what), "{what} in:\n{err}");
    }
    assert!(
        err.contains("{ duration = \"30s\", concurrency = 100 }"),
        "{err}"
    );
    assert!(err.contains("5 problems"), "{err}");
    // A good ramp plans as one step and shows its stages.
    let plan = scenario(&["plan", fixture("ramp.toml").to_str().unwrap()]);
    let shown = text(&plan.stdout);
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan.stderr));
    assert!(shown.contains("ramp to c=200"), "{shown}");
    assert!(
        shown.contains("ramp of workers from 0: 20s to 200"),
        "{shown}"
    );
}
