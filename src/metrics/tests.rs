//! Tests of the whole path: recorders merged into a step's figures, their
//! time series, error classes and level spreads, and old reports loading.

use std::time::Duration;

use super::series::{Sample, MAX_SAMPLES};
use super::*;
use crate::plan::Level;

/// A window with no drain: busy to the end.
fn whole(secs: u64) -> Window {
    let d = Duration::from_secs(secs);
    Window { whole: d, busy: d }
}

#[test]
fn throughput_is_taken_over_the_busy_window_and_the_whole_one_is_kept() {
    // 30 workers, one 200 ms round each, the first done at 200 ms and the
    // last 1 ms later; then one worker with an extra request (a tail).
    let ms = Duration::from_millis;
    let drained = Some(ms(200));
    let mut r = Recorder::default();
    for w in 0..30u64 {
        let end = ms(200) + Duration::from_micros(w * 30);
        r.record(end, end, None, busy_share(ms(0), end, drained));
        r.record_tokens(
            Tokens {
                count: 10,
                per_s: None,
            },
            busy_share(ms(0), end, drained),
        );
    }
    r.record(
        ms(401),
        ms(200),
        None,
        busy_share(ms(201), ms(401), drained),
    );
    let m = r.summary(Window {
        whole: ms(401),
        busy: ms(200),
    });
    assert_eq!((m.successes, m.busy_s, m.duration_s), (31, 0.2, 0.401));
    // 30 rounds in 0.2 s, less the few µs the last 29 spent past its end.
    assert!((m.rps - 149.67).abs() < 0.01, "{}", m.rps);
    assert!((m.rps_window - 31.0 / 0.401).abs() < 1e-9);
    let t = m.tokens.unwrap();
    assert!((t.per_s - 1496.7).abs() < 0.1, "{}", t.per_s);
    assert!((t.per_s_window - 300.0 / 0.401).abs() < 1e-9);
}

#[test]
fn reports_without_the_busy_window_still_load() {
    let mut json = serde_json::to_value(Recorder::default().summary(whole(1))).unwrap();
    let m = json.as_object_mut().unwrap();
    m.remove("busy_s");
    m.remove("rps_window");
    let old: StepMetrics = serde_json::from_value(json).unwrap();
    assert_eq!((old.busy_s, old.rps_window), (0.0, 0.0));
    let tokens = r#"{"answers":1,"output_tokens":2,"per_s":3.0,
        "per_request":{"count":0,"mean":0,"p50":0,"p90":0,"p99":0,"max":0}}"#;
    let t: TokenSummary = serde_json::from_str(tokens).unwrap();
    assert_eq!(t.per_s_window, 0.0);
}

#[test]
fn recorders_merge_counts_histograms_and_seconds() {
    let mut a = Recorder::default();
    let mut b = Recorder::default();
    for i in 1..=100u64 {
        a.record(
            Duration::from_millis(10 * i),
            Duration::from_millis(i),
            None,
            1.0,
        );
    }
    b.record(
        Duration::from_millis(2500),
        Duration::from_millis(7),
        Some(Failure::Status(500)),
        1.0,
    );
    b.record(
        Duration::from_millis(2600),
        Duration::from_millis(7),
        Some(Failure::Timeout),
        1.0,
    );
    a.merge(&b);
    let m = a.summary(whole(2));
    assert_eq!(m.requests, 102);
    assert_eq!(m.successes, 100);
    assert_eq!(m.errors.total, 2);
    assert_eq!(m.errors.status.get("500"), Some(&1));
    assert_eq!(m.errors.timeout, 1);
    assert!((m.error_rate - 2.0 / 102.0).abs() < 1e-12);
    assert!((m.rps - 50.0).abs() < 1e-9);
    // 1..=100 ms uniformly: p50 is 50 ms, p99 is 99 ms (within HDR precision).
    assert!(
        (m.latency_ms.p50 - 50.0).abs() < 0.1,
        "{}",
        m.latency_ms.p50
    );
    assert!(
        (m.latency_ms.p99 - 99.0).abs() < 0.1,
        "{}",
        m.latency_ms.p99
    );
    assert!((m.latency_ms.min - 1.0).abs() < 0.01);
    let ts = a.timeseries();
    assert_eq!(ts.len(), 3);
    assert_eq!(ts[0].ok + ts[1].ok, 100);
    assert_eq!(ts[2].errors, 2);
    assert_eq!(a.last_end(), Duration::from_millis(2600));
}

#[test]
fn streaming_histograms_and_tokens_merge() {
    let mut a = Recorder::default();
    let mut b = Recorder::default();
    a.record(
        Duration::from_millis(5),
        Duration::from_millis(40),
        None,
        1.0,
    );
    a.record_stream(Duration::from_millis(30), &[5_000, 5_000, 6_000]);
    a.record_tokens(
        Tokens {
            count: 4,
            per_s: Some(187.5),
        },
        1.0,
    );
    b.record(
        Duration::from_millis(6),
        Duration::from_millis(40),
        None,
        1.0,
    );
    b.record_stream(Duration::from_millis(32), &[5_000]);
    b.record_tokens(
        Tokens {
            count: 2,
            per_s: None,
        },
        1.0,
    );
    b.record(
        Duration::from_millis(7),
        Duration::from_millis(20),
        Some(Failure::Truncated),
        1.0,
    );
    a.merge(&b);
    let m = a.summary(whole(1));
    assert_eq!((m.requests, m.successes), (3, 2));
    assert_eq!((m.errors.truncated, m.errors.total), (1, 1));
    let s = m.streaming.expect("streams were recorded");
    assert_eq!(s.streams, 2);
    assert_eq!(s.ttft_ms.count, 2);
    assert_eq!(s.itl_ms.count, 4);
    assert!((s.ttft_ms.max - 32.0).abs() < 0.05);
    assert!((s.itl_ms.p50 - 5.0).abs() < 0.01);
    let t = m.tokens.expect("tokens were recorded");
    assert_eq!((t.answers, t.output_tokens, t.per_request.count), (2, 6, 1));
    assert!((t.per_s - 6.0).abs() < 1e-9);
    assert!((t.per_request.p50 - 187.5).abs() < 0.2);
}

#[test]
fn no_streams_no_streaming_summary() {
    let mut a = Recorder::default();
    a.record(
        Duration::from_millis(5),
        Duration::from_millis(40),
        None,
        1.0,
    );
    let m = a.summary(whole(1));
    assert!(m.streaming.is_none() && m.tokens.is_none());
    let json = serde_json::to_value(&m).unwrap();
    assert!(json.get("streaming").is_none());
}

/// Issue 12: each second counts the requests sent in it and the time
/// requests spent in flight inside it, a request that spans seconds
/// split between them; merged threads add up, also once coarsened.
#[test]
fn issue_12_sends_and_time_in_flight_per_second() {
    let ms = Duration::from_millis;
    let mut a = Recorder::default();
    // Two requests in flight all of second 0; one from 0.5 s to 2.5 s.
    a.record_flight(ms(0), ms(1000));
    a.record_flight(ms(0), ms(1000));
    a.record_flight(ms(500), ms(2500));
    let mut b = Recorder::default();
    b.record_flight(ms(1200), ms(1700));
    a.merge(&b);
    let ts = a.timeseries();
    let sent: Vec<u64> = ts.iter().map(|t| t.sent).collect();
    let flight: Vec<f64> = ts.iter().map(|t| t.in_flight).collect();
    assert_eq!(sent, [3, 1, 0]);
    assert_eq!(flight, [2.5, 1.5, 0.5]);
    assert_eq!(ts[0].achieved(crate::plan::LevelKind::Rate), 3.0);
    assert_eq!(ts[1].achieved(crate::plan::LevelKind::Workers), 1.5);
    // A long request in a coarsened series: still all its time.
    let mut long = Recorder::default();
    long.record_flight(ms(0), Duration::from_secs(600));
    let ts = long.timeseries();
    assert!(ts.len() <= MAX_SAMPLES);
    let total: f64 = ts.iter().map(|t| t.in_flight * f64::from(t.width)).sum();
    assert!((total - 600.0).abs() < 1e-6, "{total}");
}

/// Issue 11: memory flat in step length. A 1-hour step keeps at most
/// [`MAX_SAMPLES`] samples of a few hundred bytes, each covering 16 s,
/// and no request is lost from the series.
#[test]
fn issue_11_a_long_step_keeps_a_bounded_series_of_wider_samples() {
    assert!(MAX_SAMPLES * std::mem::size_of::<Sample>() < 140_000);
    let mut r = Recorder::default();
    let ms = Duration::from_millis;
    for i in 0..360_000u64 {
        let failure = (i % 100 == 0).then_some(Failure::Read);
        r.record(ms(i * 10), ms(1 + i % 20), failure, 1.0);
    }
    assert!(r.seconds.samples.len() <= MAX_SAMPLES);
    assert!(r.seconds.samples.capacity() <= MAX_SAMPLES);
    let ts = r.timeseries();
    assert_eq!(ts.len(), 225);
    assert!(ts.iter().all(|t| t.width == 16));
    assert_eq!((ts[0].second, ts[1].second, ts[224].second), (0, 16, 3584));
    assert_eq!(ts.iter().map(|t| t.ok).sum::<u64>(), 356_400);
    assert_eq!(ts.iter().map(|t| t.errors).sum::<u64>(), 3_600);
    assert_eq!((ts[0].ok, ts[0].errors), (1_584, 16));
    // 1..=20 ms uniformly: p50 about 10 ms, p99 about 20 ms.
    assert!((ts[3].p50_ms - 10.0).abs() <= 1.3, "{}", ts[3].p50_ms);
    assert!((ts[3].p99_ms - 20.0).abs() <= 2.5, "{}", ts[3].p99_ms);
}

#[test]
fn series_of_different_widths_merge_at_the_coarser_one() {
    let ms = Duration::from_millis;
    let mut long = Recorder::default();
    let mut short = Recorder::default();
    for s in 0..600u64 {
        long.record(ms(s * 1000), ms(5), None, 1.0);
    }
    for s in 0..100u64 {
        short.record(ms(s * 1000 + 500), ms(5), Some(Failure::Timeout), 1.0);
    }
    for (a, b) in [(long.clone(), &short), (short.clone(), &long)] {
        let mut merged = a;
        merged.merge(b);
        let ts = merged.timeseries();
        assert_eq!(ts.len(), 150);
        assert!(ts.iter().all(|t| t.width == 4));
        assert_eq!((ts[0].ok, ts[0].errors), (4, 4));
        assert_eq!((ts[25].ok, ts[25].errors), (4, 0));
        assert_eq!(ts.iter().map(|t| t.ok + t.errors).sum::<u64>(), 700);
    }
}

#[test]
fn retries_are_summed_over_threads_and_runs_and_old_reports_load() {
    let mut a = Recorder::default();
    let mut b = Recorder::default();
    a.record_retry();
    b.record_retry();
    b.record_retry();
    b.record(
        Duration::ZERO,
        Duration::from_millis(1),
        Some(Failure::Protocol),
        1.0,
    );
    a.merge(&b);
    let m = a.summary(whole(1));
    assert_eq!((m.retries, m.errors.protocol, m.errors.total), (3, 1, 1));
    assert_eq!(m.errors.classes(), vec![(ErrorClass::Protocol, 1)]);
    let level = LevelSummary::of(Level::workers(1), &[&m, &m]);
    assert_eq!(level.retries, 6);
    let old: SecondSample =
        serde_json::from_str(r#"{"second":3,"ok":1,"errors":0,"p50_ms":1.0,"p99_ms":2.0}"#)
            .unwrap();
    assert_eq!(old.width, 1);
    let mut json = serde_json::to_value(&m).unwrap();
    json.as_object_mut().unwrap().remove("retries");
    json["errors"].as_object_mut().unwrap().remove("protocol");
    let old: StepMetrics = serde_json::from_value(json).unwrap();
    assert_eq!((old.retries, old.errors.protocol), (0, 0));
}

#[test]
fn shape_errors_are_a_class_of_their_own() {
    let mut r = Recorder::default();
    r.record(
        Duration::ZERO,
        Duration::from_millis(1),
        Some(Failure::Shape),
        1.0,
    );
    r.record(Duration::ZERO, Duration::from_millis(1), None, 1.0);
    let m = r.summary(whole(1));
    assert_eq!((m.errors.shape, m.errors.total, m.successes), (1, 1, 1));
    assert_eq!(m.errors.classes(), vec![(ErrorClass::Shape, 1)]);
    assert_eq!(ErrorClass::Shape.label(), "shape");
    assert!(ErrorClass::FIXED.contains(&ErrorClass::Shape));
}

#[test]
fn empty_step_has_zero_rates() {
    let m = Recorder::default().summary(Window::default());
    assert_eq!((m.requests, m.rps, m.error_rate), (0, 0.0, 0.0));
    assert!(m.percentiles.is_empty());
}
