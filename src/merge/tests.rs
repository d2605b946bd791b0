//! Merging shard results: exact histograms, checks on the set of shards.

use super::*;
use crate::metrics::Failure;

fn result(index: u32, count: u32, steps: Vec<RawStep>) -> ShardResult {
    ShardResult {
        format: FORMAT,
        shard: Shard { index, count },
        start_at: None,
        scenario: ScenarioInfo {
            name: "t".into(),
            file: "t.toml".into(),
            description: None,
            resolved: serde_json::json!({ "load": { "concurrency": [4] } }),
        },
        plan: Some(sharded_plan(Shard { index, count })),
        checks: Vec::new(),
        formats: Vec::new(),
        environment: Environment::detect(),
        started_at: format!("2026-01-01T00:00:0{index}Z"),
        finished_at: Some("2026-01-01T00:01:00Z".into()),
        status: Status::Complete,
        error: None,
        steps,
    }
}

/// A real plan (tests/fixtures/tiny.toml's) with every step marked as `shard`'s.
fn sharded_plan(shard: Shard) -> crate::plan::Plan {
    let mut plan = crate::plan::testing::plan("tests/fixtures/tiny.toml", &[]);
    for step in &mut plan.steps {
        step.shard = Some(shard);
    }
    plan
}

/// A step of `n` successes of `ms` each, one every 10 ms, busy to the end.
fn step(started_us: u64, n: u64, ms: u64) -> RawStep {
    let mut r = Recorder::keeping_samples();
    for i in 1..=n {
        let end = Duration::from_millis(10 * i);
        r.record(end, Duration::from_millis(ms), None, 1.0);
    }
    r.record(
        Duration::from_millis(5),
        Duration::ZERO,
        Some(Failure::Status(503)),
        1.0,
    );
    RawStep {
        index: 0,
        level: crate::plan::Level::workers(4),
        rate: None,
        run: 1,
        side: Side::Target,
        planned_start_us: None,
        started_us,
        whole_us: n * 10_000,
        busy_us: n * 10_000,
        scheduled_us: None,
        warmup_errors: 1,
        cancelled: false,
        error: None,
        recorder: r.to_raw(),
    }
}

#[test]
fn log_lines_survive_prefixes_interleaving_and_other_output() {
    let mut big = result(1, 2, vec![step(0, 3000, 7)]);
    // Samples that do not compress away, so the result spans lines.
    let mut x = 1u64;
    let noise = (0..3000)
        .map(|_| {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            x >> 40
        })
        .collect();
    big.steps[0].recorder.samples_us = Some(noise);
    let lines = to_lines(&big);
    assert!(lines.lines().count() > 2, "a big result spans lines");
    assert!(lines.lines().all(|l| l.len() < CHUNK + 100));
    let small = result(0, 2, vec![step(0, 3, 2)]);
    let mut mixed: Vec<String> = to_lines(&small)
        .lines()
        .chain(lines.lines())
        .rev()
        .map(|l| format!("2026-01-01T00:00:00Z [pod/x-{}] {l}", l.len() % 3))
        .collect();
    mixed.insert(1, "an unrelated line".into());
    let found = parse(&mixed.join("\n"), "logs").unwrap();
    let mut shards: Vec<u32> = found.iter().map(|r| r.shard.index).collect();
    shards.sort();
    assert_eq!(shards, vec![0, 1]);
    let cut: String = lines.lines().skip(1).map(|l| format!("{l}\n")).collect();
    let e = parse(&cut, "logs").unwrap_err().to_string();
    assert!(e.contains("lacks 1 of its"), "{e}");
}

/// Counts add, histograms add, the whole window is the union and the
/// headline rate the sum of the shards' own rates.
#[test]
fn merged_steps_add_counts_and_histograms_over_the_union_window() {
    let a = result(0, 2, vec![step(1_000_000, 100, 4)]);
    let b = result(1, 2, vec![step(1_500_000, 300, 9)]);
    let (report, warnings) = merge(vec![b, a]).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(report.status, Status::Complete);
    let plan = report.plan.as_ref().expect("the shards' plan");
    assert!(plan.steps.iter().all(|s| s.shard.is_none()));
    let json = serde_json::to_value(&report).unwrap();
    assert!(json["plan"]["steps"][0].get("shard").is_none());
    assert_eq!(report.started_at, "2026-01-01T00:00:00Z");
    let s = &report.steps[0];
    let m = &s.metrics;
    assert_eq!((m.requests, m.successes, m.errors.total), (402, 400, 2));
    assert_eq!(m.errors.status.get("503"), Some(&2));
    assert_eq!(s.warmup_errors, 2);
    // b ran 3 s from 0.5 s after a's start: the union is 3.5 s.
    assert!((m.duration_s - 3.5).abs() < 1e-9, "{}", m.duration_s);
    // a: 100 in 1 s, b: 300 in 3 s.
    assert!((m.rps - 200.0).abs() < 1e-6, "{}", m.rps);
    assert!((m.rps_window - 400.0 / 3.5).abs() < 1e-6);
    // 100 at 4 ms and 300 at 9 ms: p25 is 4 ms, p50 is 9 ms.
    assert!((m.latency_ms.p50 - 9.0).abs() < 0.01);
    assert!((m.percentiles[2].1 - 4.0).abs() < 0.01);
    let ts = &s.timeseries;
    assert_eq!(ts.iter().map(|t| t.ok).sum::<u64>(), 400);
}

#[test]
fn merge_refuses_what_is_not_one_run() {
    let one = || result(0, 2, vec![step(0, 2, 1)]);
    let e = merge(vec![one()]).unwrap_err().to_string();
    assert!(e.contains("shards 1/2 are missing"), "{e}");
    let e = merge(vec![one(), one()]).unwrap_err().to_string();
    assert!(e.contains("0/2 is given twice"), "{e}");
    let mut other = result(1, 2, vec![step(0, 2, 1)]);
    other.scenario.resolved = serde_json::json!({ "load": { "concurrency": [8] } });
    let e = merge(vec![one(), other]).unwrap_err().to_string();
    assert!(e.contains("another scenario"), "{e}");
    let e = merge(vec![one(), result(1, 3, vec![])])
        .unwrap_err()
        .to_string();
    assert!(e.contains("in 3 shards"), "{e}");
}
