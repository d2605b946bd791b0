//! Open-loop arrival rates (issue 12, part 1) against the real fake
//! upstream via `scenario run`: the achieved rate keeps to the target, and a
//! 1 s stall of the upstream shows in the corrected latency of an open loop
//! but hides in a closed loop's (coordinated omission).

mod common;

use std::sync::Mutex;
use std::time::Duration;

use common::{
    fixture, out_dir, quiet_run_args, report, run_fixture, run_folder, signal, start_run,
};
use nix::sys::signal::Signal;
use serde_json::Value;

/// One timed run at a time: the machine's two cores are shared.
static SERIAL: Mutex<()> = Mutex::new(());

fn step(tag: &str, file: &str, set: &[&str]) -> Value {
    let (_, dir) = run_fixture(tag, file, set);
    let r = report(&dir);
    out_dir(tag); // empties the run's output folder again
    r["steps"][0].clone()
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

#[test]
fn issue_12_achieved_rate_is_within_1_percent_of_1000_per_s_constant_and_poisson() {
    let _one = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    for arrival in ["constant", "poisson"] {
        let s = step(
            &format!("rate-{arrival}"),
            "open_loop.toml",
            &[
                &format!("load.arrival=\"{arrival}\""),
                "load.max_in_flight=200",
            ],
        );
        let o = &s["metrics"]["open_loop"];
        let achieved = f(&o["achieved_rate"]);
        eprintln!(
            "{arrival}: target {} achieved {achieved:.1} req/s, sent {}, late {}, dropped {}, \
             corrected p99 {} ms, service p99 {} ms",
            o["target_rate"],
            o["sent"],
            o["late"],
            o["dropped"],
            s["metrics"]["latency_ms"]["p99"],
            o["service_ms"]["p99"]
        );
        assert_eq!(f(&o["target_rate"]), 1000.0);
        // Every arrival the schedule put inside the 10 s was sent: the
        // achieved rate is the schedule's own to within 1%. A seeded
        // Poisson schedule's count is itself random (±1% at one sigma over
        // 10,000 arrivals), so against the target it gets 3 sigma.
        let scheduled = f(&o["scheduled"]) / 10.0;
        assert!(
            (achieved - scheduled).abs() <= scheduled * 0.01,
            "{arrival}: achieved {achieved} req/s vs {scheduled} scheduled"
        );
        let slack = if arrival == "constant" { 0.01 } else { 0.03 };
        assert!(
            (achieved - 1000.0).abs() <= 1000.0 * slack,
            "{arrival}: achieved {achieved} req/s vs 1000"
        );
        // Arrivals still unsent when the step ends are dropped and counted:
        // none but a few on a machine that stalls the sender in the step's
        // last milliseconds (CI saw 9 of 10,000 after a 30 ms hiccup).
        assert!(
            u(&o["dropped"]) * 1000 <= u(&o["sent"]),
            "{arrival}: dropped {}",
            o["dropped"]
        );
        // With workers to spare, few arrivals wait for one (a busy machine
        // makes some late: the timer wakes the worker after its moment).
        assert!(
            u(&o["late"]) * 10 < u(&o["sent"]),
            "{arrival}: late {}",
            o["late"]
        );
        assert_eq!(s["metrics"]["errors"]["total"], 0, "{arrival}");
    }
}

/// Run `file` for 6 s, pausing the fake upstream (SIGSTOP, SIGCONT) for
/// one second three seconds in; returns the step. (6 s, not the file's
/// 10 s: the open loop's arrivals held up 0.5 s or more by the stall are
/// still over 5% of its requests, five times what its p99 needs.)
fn paused(tag: &str, file: &str) -> Value {
    let out = out_dir(tag);
    let file = fixture(file);
    let mut set = vec!["load.duration=\"6s\""];
    if tag.contains("open") {
        set.push("load.rate=[200]");
    }
    let args = quiet_run_args(&out, &file, &set);
    let (mut child, kids) = start_run(&args, 1);
    std::thread::sleep(Duration::from_secs(3));
    signal(kids[0], Signal::SIGSTOP);
    std::thread::sleep(Duration::from_secs(1));
    signal(kids[0], Signal::SIGCONT);
    let status = child.wait().unwrap();
    assert!(matches!(status.code(), Some(0 | 1)), "{status}");
    let r = report(&run_folder(&out));
    let _ = std::fs::remove_dir_all(&out);
    r["steps"][0].clone()
}

#[test]
fn issue_12_a_stall_shows_in_open_loop_corrected_latency_not_in_a_closed_loop() {
    let _one = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    // The same ten connections either way: an open loop at 200 req/s with
    // at most ten in flight, and a closed loop of ten workers.
    let open = paused("pause-open", "open_loop.toml");
    let corrected = f(&open["metrics"]["latency_ms"]["p99"]);
    let o = &open["metrics"]["open_loop"];
    let service = f(&o["service_ms"]["p99"]);
    let closed = paused("pause-closed", "closed_loop_pause.toml");
    let closed_p99 = f(&closed["metrics"]["latency_ms"]["p99"]);
    eprintln!(
        "open 200/s: corrected p99 {corrected} ms, service p99 {service} ms, achieved {} req/s, \
         late {}, dropped {}; closed c=10: p99 {closed_p99} ms over {} requests",
        o["achieved_rate"], o["late"], o["dropped"], closed["metrics"]["requests"]
    );
    assert!(corrected >= 500.0, "corrected p99 {corrected} ms");
    assert!(service * 5.0 < corrected, "service p99 {service} ms");
    assert!(u(&o["late"]) >= 100, "late {}", o["late"]);
    assert!(
        closed_p99 * 5.0 < corrected,
        "closed-loop p99 {closed_p99} ms"
    );
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}
