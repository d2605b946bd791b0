//! One hand-made [`Report`] every exporter test renders (no process
//! started, nothing read from the machine): two levels of two runs each,
//! every step also run direct (the baseline), truncated streams and HTTP 500s,
//! a third level interrupted before it finished a request, verdicts that pass
//! and fail. Its figures are chosen so that mixing the sides shows: the
//! direct c=1 steps have the largest max latency of the report, and the
//! direct c=4 run has HTTP 500s of its own.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::{Environment, Report, ScenarioInfo, Side, Status, StepReport, SCHEMA_VERSION};
use crate::assertions::{Metric, Verdict};
use crate::metrics::{
    ErrorSummary, LatencySummary, OpenLoopSummary, Quantiles, SecondSample, StepMetrics,
    StreamingSummary,
};
use crate::plan::Level;

/// Truncated streams at c=4 run 1, through the target.
pub(crate) const TRUNCATED: u64 = 28;
/// Answers that broke HTTP/1.1 framing at c=4 run 2, through the target.
pub(crate) const PROTOCOL: u64 = 2;
/// Requests resent at c=4 run 2, through the target.
pub(crate) const RETRIES: u64 = 3;

/// The report: status `interrupted` (Ctrl-C during the c=8 step).
pub(crate) fn report() -> Report {
    let mut steps = Vec::new();
    for (index, concurrency, run) in [(0, 1, 1), (1, 1, 2), (2, 4, 1), (3, 4, 2)] {
        steps.push(target(index, concurrency, run));
        steps.push(direct(index, concurrency, run));
    }
    steps.push(StepReport {
        index: 4,
        level: Level::workers(8),
        run: 1,
        metrics: StepMetrics::default(),
        timeseries: Vec::new(),
        warmup_errors: 0,
        cancelled: true,
        error: None,
        side: Side::Target,
        resources: Vec::new(),
        upstream: None,
        server_metrics: Vec::new(),
    });
    let mut report = Report {
        schema_version: SCHEMA_VERSION,
        status: Status::Interrupted,
        error: Some("interrupted by Ctrl-C during step 5".into()),
        scenario: ScenarioInfo {
            name: "fixture".into(),
            file: PathBuf::from("scenarios/fixture.toml"),
            description: Some("A gateway in front of the fake upstream, with its baseline.".into()),
            resolved: serde_json::json!({
                "scenario": {"name": "fixture"},
                "load": {"concurrency": [1, 4, 8], "runs": 2, "requests": 300},
                "topology": {"baseline": true},
            }),
        },
        plan: None,
        environment: Environment {
            tool_version: "0.0.0-test".into(),
            git_commit: "0123abc".into(),
            os: "Test Linux 1".into(),
            kernel: "6.0.0-test".into(),
            cpu: "Test CPU @ 3.00GHz".into(),
            cores: 4,
            cpus: None,
        },
        started_at: "2026-01-02T03:04:05.678Z".into(),
        finished_at: Some("2026-01-02T03:05:06.789Z".into()),
        steps,
        levels: Vec::new(),
        baseline_levels: Vec::new(),
        overhead: Vec::new(),
        frontier: None,
        slo: None,
        search: None,
        streams: None,
        memory: None,
        regression: None,
        verdicts: vec![
            verdict(1, Metric::MaxP50Ms, 25.0, Some(20.5), true),
            verdict(4, Metric::MaxErrorRate, 0.01, Some(0.0633), false),
            verdict(8, Metric::MinRps, 10.0, None, false),
            // A per-level threshold for a level the sweep left out.
            Verdict {
                not_measured: true,
                ..verdict(100, Metric::MinRps, 1800.0, None, false)
            },
        ],
    };
    report.summarise_levels();
    report
}

fn verdict(
    concurrency: u32,
    metric: Metric,
    limit: f64,
    measured: Option<f64>,
    passed: bool,
) -> Verdict {
    Verdict {
        level: Level::workers(concurrency),
        metric,
        limit,
        measured,
        passed,
        not_measured: false,
    }
}

/// Through the gateway: c=1 clean at ~20 ms; c=4 streams, run 1 with
/// truncated streams, run 2 with HTTP 500s, protocol errors and resends.
fn target(index: usize, concurrency: u32, run: u32) -> StepReport {
    let slower = f64::from(run - 1);
    let (requests, p50, errors) = match concurrency {
        1 => (100, 20.0 + slower, ErrorSummary::default()),
        _ if run == 1 => (
            300,
            30.0,
            ErrorSummary {
                total: TRUNCATED,
                truncated: TRUNCATED,
                ..ErrorSummary::default()
            },
        ),
        _ => (
            300,
            32.0,
            ErrorSummary {
                total: 10 + PROTOCOL,
                protocol: PROTOCOL,
                ..status_errors(500, 10)
            },
        ),
    };
    let mut step = step(
        index,
        concurrency,
        run,
        Side::Target,
        requests,
        p50,
        p50 * 2.0,
        errors,
    );
    if concurrency == 4 && run == 2 {
        step.metrics.retries = RETRIES;
    }
    if concurrency == 4 {
        step.metrics.streaming = Some(StreamingSummary {
            streams: step.metrics.successes,
            ttft_ms: quantiles(step.metrics.successes, 12.0 + slower),
            itl_ms: quantiles(step.metrics.successes * 20, 1.5),
            checks: None,
        });
    }
    step
}

/// Straight to the fake upstream: ~5 ms, a 250 ms spike at c=1 (the
/// report's largest max), three HTTP 500s at c=4 run 2.
fn direct(index: usize, concurrency: u32, run: u32) -> StepReport {
    let requests = if concurrency == 1 { 100 } else { 300 };
    let errors = if concurrency == 4 && run == 2 {
        status_errors(500, 3)
    } else {
        ErrorSummary::default()
    };
    let max = if concurrency == 1 { 250.0 } else { 9.0 };
    step(
        index,
        concurrency,
        run,
        Side::Direct,
        requests,
        5.0,
        max,
        errors,
    )
}

fn status_errors(code: u16, n: u64) -> ErrorSummary {
    ErrorSummary {
        total: n,
        status: BTreeMap::from([(code.to_string(), n)]),
        ..ErrorSummary::default()
    }
}

fn quantiles(count: u64, p50: f64) -> Quantiles {
    Quantiles {
        count,
        mean: p50 * 1.1,
        p50,
        p90: p50 * 1.5,
        p99: p50 * 2.0,
        max: p50 * 3.0,
    }
}

/// A step of `requests` over 2.5 s with latencies around `p50`.
#[allow(clippy::too_many_arguments)]
fn step(
    index: usize,
    concurrency: u32,
    run: u32,
    side: Side,
    requests: u64,
    p50: f64,
    max: f64,
    errors: ErrorSummary,
) -> StepReport {
    let successes = requests - errors.total;
    let duration_s = 2.5;
    let latency = LatencySummary {
        min: p50 * 0.5,
        mean: p50 * 1.05,
        stddev: p50 * 0.2,
        p50,
        p90: p50 * 1.3,
        p95: p50 * 1.4,
        p99: p50 * 1.6,
        p999: p50 * 1.8,
        max,
    };
    let percentiles = vec![
        (0.0, latency.min),
        (50.0, p50),
        (90.0, latency.p90),
        (99.0, latency.p99),
        (99.9, latency.p999),
        (100.0, max),
    ];
    let per_second = |share: f64| (successes as f64 * share).round() as u64;
    let failed = |share: f64| (errors.total as f64 * share).round() as u64;
    let timeseries = [(0, 0.4), (1, 0.4), (2, 0.2)]
        .into_iter()
        .map(|(second, share)| SecondSample {
            second,
            width: 1,
            ok: per_second(share),
            errors: failed(share),
            sent: per_second(share) + failed(share),
            in_flight: f64::from(concurrency),
            target: None,
            p50_ms: p50,
            p90_ms: latency.p90,
            p99_ms: latency.p99,
        })
        .collect();
    StepReport {
        index,
        level: Level::workers(concurrency),
        run,
        metrics: StepMetrics {
            requests,
            successes,
            error_rate: errors.total as f64 / requests as f64,
            errors,
            retries: 0,
            duration_s,
            busy_s: duration_s * 0.95,
            rps: successes as f64 / (duration_s * 0.95),
            rps_window: successes as f64 / duration_s,
            latency_ms: latency,
            percentiles,
            streaming: None,
            tokens: None,
            gateway_overhead_ms: None,
            open_loop: None,
            goodput: None,
        },
        timeseries,
        warmup_errors: 0,
        cancelled: false,
        error: None,
        side,
        resources: Vec::new(),
        upstream: None,
        server_metrics: Vec::new(),
    }
}

/// An open-loop sweep: r=100/s kept its schedule (corrected latency a
/// little above the service time); r=500/s fell behind a stalling target,
/// with late and dropped arrivals and a corrected p99 far above the
/// service time's, and a failed achieved-rate check.
pub(crate) fn open_report() -> Report {
    let mut report = report();
    report.status = Status::Complete;
    report.error = None;
    report.scenario.resolved = serde_json::json!({
        "scenario": {"name": "fixture"},
        "load": {"rate": [100, 500], "arrival": "poisson", "duration": "10s"},
    });
    report.steps = [
        (0, 100, 99.8, 0, 0, 26.0, 20.5, 24.0),
        (1, 500, 430.0, 700, 55, 900.0, 22.0, 60.0),
    ]
    .into_iter()
    .map(
        |(index, rate, achieved, late, dropped, p99, service_p50, service_p99)| {
            let mut step = target(index, 1, 1);
            step.level = Level::rate(rate);
            let m = &mut step.metrics;
            let sent = (achieved * 10.0) as u64;
            m.errors = ErrorSummary::default();
            m.error_rate = 0.0;
            (m.requests, m.successes) = (sent, sent);
            (m.duration_s, m.busy_s) = (10.0, 10.0);
            (m.rps, m.rps_window) = (achieved, achieved);
            m.latency_ms.p95 = p99 * 0.9;
            m.latency_ms.p99 = p99;
            m.latency_ms.p999 = p99 * 1.1;
            m.latency_ms.max = p99 * 1.2;
            m.open_loop = Some(OpenLoopSummary {
                target_rate: f64::from(rate),
                achieved_rate: achieved,
                scheduled: sent + dropped,
                sent,
                late,
                dropped,
                service_ms: LatencySummary {
                    p50: service_p50,
                    p99: service_p99,
                    ..m.latency_ms.clone()
                },
                queue_ms: Quantiles {
                    count: sent,
                    mean: (p99 - service_p99) / 10.0,
                    p50: 0.4,
                    p90: (p99 - service_p99) / 4.0,
                    p99: p99 - service_p99,
                    max: p99,
                },
            });
            step
        },
    )
    .collect();
    report.verdicts = vec![
        Verdict {
            level: Level::rate(100),
            ..verdict(100, Metric::MinAchievedRateRatio, 0.99, Some(0.998), true)
        },
        Verdict {
            level: Level::rate(500),
            ..verdict(500, Metric::MinAchievedRateRatio, 0.99, Some(0.86), false)
        },
        Verdict {
            level: Level::rate(500),
            ..verdict(500, Metric::MaxDropped, 0.0, Some(55.0), false)
        },
    ];
    report.summarise_levels();
    report
}

/// A worker ramp (issue 12): one step rising to 10 workers over 4 s, its
/// series with the target, the requests in flight and p50/p90/p99.
pub(crate) fn ramp_report() -> Report {
    let mut report = report();
    report.status = Status::Complete;
    report.error = None;
    report.scenario.resolved = serde_json::json!({
        "scenario": {"name": "fixture"},
        "load": {"stages": [{"duration": "4s", "concurrency": 10}]},
    });
    let mut step = target(0, 1, 1);
    step.level = Level::ramp(crate::plan::LevelKind::Workers, 10);
    step.timeseries = [1.25f64, 3.75, 6.25, 8.75]
        .into_iter()
        .enumerate()
        .map(|(second, target)| SecondSample {
            second: second as u32,
            width: 1,
            ok: (target * 50.0) as u64,
            errors: 0,
            sent: (target * 50.0) as u64,
            in_flight: target.ceil(),
            target: Some(target),
            p50_ms: 20.0,
            p90_ms: 22.0 + second as f64,
            p99_ms: 25.0 + 2.0 * second as f64,
        })
        .collect();
    report.steps = vec![step];
    report.verdicts = vec![Verdict {
        level: Level::ramp(crate::plan::LevelKind::Workers, 10),
        ..verdict(10, Metric::MaxErrorRate, 0.0, Some(0.0), true)
    }];
    report.summarise_levels();
    report
}
