//! What one load thread measures in a step: a [`Recorder`] (no locks, no
//! allocation per sample; merged after the step), the [`Tokens`] of an
//! answer, and the busy [`Window`] its rates are taken over.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;

use super::counts::Counts;
use super::series::{sample_bucket, Series};
use super::step::spectrum;
use super::{
    goodput, histogram, stream, ErrorSummary, Failure, LatencySummary, OpenLoopSummary, Quantiles,
    SecondSample, StepMetrics, StreamingSummary, TokenSummary,
};

/// Output tokens/s are recorded in thousandths, so slow streams keep precision.
const TPS_SCALE: f64 = 1000.0;

/// Per-request output rates up to 10^9 tokens/s (in thousandths).
fn rate_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 1_000_000_000_000, 3).expect("static histogram bounds are valid")
}

/// What a successful answer said about its tokens, measured by the load engine.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tokens {
    /// Completion tokens (from `usage`, or content events of a stream without it).
    pub count: u64,
    /// Output tokens per second of this request, when it can be told.
    pub per_s: Option<f64>,
}

/// The two spans a step's rates are taken over, both from the start of
/// measurement.
///
/// A closed loop ends in a drain: once the first worker runs out of work,
/// fewer and fewer requests are in flight, and a rate over the time to the
/// last answer (`whole`) understates what the target sustained by up to one
/// request latency. The busy window ends when the first worker that had work
/// found none left; every worker was busy until then.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Window {
    /// To the last answer.
    pub whole: Duration,
    /// To the moment the first worker found no more work (at most `whole`).
    pub busy: Duration,
}

/// The share of a request's time, from `began` to `end` (both from the start
/// of measurement), that lay inside a busy window ending at `drained`
/// (`None` while it is still open): 1.0 for a request that ended inside it,
/// 0.0 for one that began after it, the fraction inside for one that
/// straddles its end. Weighting by share rather than counting the requests
/// that ended inside keeps lockstep workers honest: when every worker does
/// one round of 200 ms, all of them end within microseconds of the first, so
/// counting only those that ended first would report one request.
#[inline]
pub fn busy_share(began: Duration, end: Duration, drained: Option<Duration>) -> f64 {
    match drained {
        None => 1.0,
        Some(d) if end <= d => 1.0,
        Some(d) if began >= d => 0.0,
        Some(d) => (d - began).as_secs_f64() / (end - began).as_secs_f64(),
    }
}
#[derive(Debug, Clone)]
pub struct Recorder {
    /// Successes, failures by class, resends, streams, tokens.
    pub(super) counts: Counts,
    pub(super) latency: Histogram<u64>,
    pub(super) seconds: Series,
    pub(super) status: Box<[u64; 600]>,
    /// When the last request ended, from the start of measurement.
    pub(super) last_end: Duration,
    pub(super) ttft: Histogram<u64>,
    pub(super) itl: Histogram<u64>,
    /// Streams checked against the upstream's pacing (buffering, stalls).
    pub(super) checks: stream::Tally,
    pub(super) tps: Histogram<u64>,
    /// What the gateway said it added (a response header), in microseconds.
    pub(super) gateway_overhead: Histogram<u64>,
    /// Open loop: see [`OpenLoop`].
    pub(super) open: OpenLoop,
    /// Every success's latency (µs), only when asked for
    /// ([`Recorder::keeping_samples`]): tests check the histograms against them.
    pub(super) samples: Option<Vec<u64>>,
    /// Requests that met `[report] slo`.
    pub(super) goodput: goodput::Counter,
}

/// What an open-loop step measured beside the latency from the intended
/// send time (which goes into [`Recorder`]'s latency histogram).
#[derive(Debug, Clone)]
pub(super) struct OpenLoop {
    /// Requests sent, and when the last was, from the start of measurement.
    pub(super) sends: u64,
    pub(super) last_send: Duration,
    /// Sent more than [`LATE`] after the intended time / never sent.
    pub(super) late: u64,
    pub(super) dropped: u64,
    /// Service time of successes (actual send to answer), and client queue
    /// time of every send (intended to actual send), microseconds.
    pub(super) service: Histogram<u64>,
    pub(super) queue: Histogram<u64>,
}

/// An arrival still waiting for a free worker this long after its intended
/// time is late (tokio's timer wakes up to ~1 ms after a deadline on an
/// idle machine: that alone is not lateness).
pub const LATE: Duration = Duration::from_millis(1);

impl Default for Recorder {
    fn default() -> Self {
        Recorder {
            latency: histogram(3),
            seconds: Series::default(),
            counts: Counts::default(),
            status: Box::new([0; 600]),
            last_end: Duration::ZERO,
            ttft: histogram(3),
            itl: histogram(3),
            checks: stream::Tally::default(),
            tps: rate_histogram(),
            gateway_overhead: histogram(3),
            open: OpenLoop {
                sends: 0,
                last_send: Duration::ZERO,
                late: 0,
                dropped: 0,
                service: histogram(3),
                queue: histogram(3),
            },
            samples: None,
            goodput: goodput::Counter::default(),
        }
    }
}

impl Recorder {
    /// A recorder that also keeps every success's latency in a list (for
    /// tests: `SCENARIO_KEEP_SAMPLES=1`); it grows with the request count.
    pub fn keeping_samples() -> Recorder {
        Recorder {
            samples: Some(Vec::new()),
            ..Recorder::default()
        }
    }

    /// Record one finished request: `end` is measured from the step's start,
    /// `latency` is how long it took; `failure` is `None` for a 2xx; `busy`
    /// is the share (0.0–1.0) of its time that lay inside the busy window
    /// (see [`busy_share`]).
    #[inline]
    pub fn record(
        &mut self,
        end: Duration,
        latency: Duration,
        failure: Option<Failure>,
        busy: f64,
    ) {
        self.last_end = self.last_end.max(end);
        let bucket = self.seconds.at(end);
        match failure {
            None => {
                let us = (latency.as_micros() as u64).max(1);
                self.latency.saturating_record(us);
                let slot = &mut bucket.latency[sample_bucket(us)];
                *slot = slot.saturating_add(1);
                bucket.ok += 1;
                self.counts.successes += 1;
                self.counts.busy_successes += busy;
                if let Some(kept) = &mut self.samples {
                    kept.push(us);
                }
            }
            Some(f) => {
                bucket.errors += 1;
                match f {
                    Failure::Status(code) => self.status[usize::from(code).min(599)] += 1,
                    Failure::Timeout => self.counts.timeouts += 1,
                    Failure::Connect => self.counts.connects += 1,
                    Failure::Read => self.counts.reads += 1,
                    Failure::Truncated => self.counts.truncated += 1,
                    Failure::Client => self.counts.client += 1,
                    Failure::Protocol => self.counts.protocol += 1,
                    Failure::Shape => self.counts.shape += 1,
                }
            }
        }
    }

    /// Record when a request was sent and when it ended (both from the
    /// start of measurement), for the per-second sends and requests in
    /// flight.
    #[inline]
    pub fn record_flight(&mut self, sent: Duration, end: Duration) {
        self.seconds.flight(sent, end);
    }

    /// Record an open-loop send: `sent` from the start of measurement,
    /// `queue` after its intended time, `late` when no worker was free more
    /// than [`LATE`] after it was due; `service` (send to answer) for a
    /// success. The request itself goes to [`Recorder::record`], its
    /// latency from the intended time.
    #[inline]
    pub fn record_send(
        &mut self,
        sent: Duration,
        queue: Duration,
        late: bool,
        service: Option<Duration>,
    ) {
        let o = &mut self.open;
        o.sends += 1;
        o.last_send = o.last_send.max(sent);
        o.late += u64::from(late);
        o.queue.saturating_record(queue.as_micros() as u64);
        if let Some(s) = service {
            o.service.saturating_record((s.as_micros() as u64).max(1));
        }
    }

    /// Record `n` open-loop arrivals that were due inside the step but
    /// still unsent when it ended.
    pub fn record_dropped(&mut self, n: u64) {
        self.open.dropped += n;
    }

    /// The open-loop figures at target `per_s` over the scheduled `window`
    /// (the step's duration, or the intended span of its requests): the
    /// achieved rate is the sends over that window or up to the last
    /// send, whichever is longer.
    pub fn open_summary(&self, per_s: f64, window: Duration) -> OpenLoopSummary {
        let o = &self.open;
        let span = window.max(o.last_send).as_secs_f64();
        OpenLoopSummary {
            target_rate: per_s,
            achieved_rate: if span > 0.0 {
                o.sends as f64 / span
            } else {
                0.0
            },
            scheduled: o.sends + o.dropped,
            sent: o.sends,
            late: o.late,
            dropped: o.dropped,
            service_ms: LatencySummary::of(&o.service),
            queue_ms: Quantiles::of(&o.queue, 1000.0),
        }
    }

    /// Record a request that met `[report] slo`; `busy` as for [`Recorder::record`].
    #[inline]
    pub fn record_good(&mut self, busy: f64) {
        self.goodput.record(busy);
    }

    /// The step's goodput over `window` (see [`goodput::Counter::summary`]).
    pub fn goodput_summary(&self, window: Window) -> goodput::GoodputSummary {
        let requests = self.counts.successes + self.errors().total;
        self.goodput
            .summary(requests, self.open.dropped, window.busy.as_secs_f64())
    }

    /// Record that a request was sent a second time.
    #[inline]
    pub fn record_retry(&mut self) {
        self.counts.retries += 1;
    }

    /// Record a successful stream's time to first token and the gaps (µs)
    /// between its successive content events.
    #[inline]
    pub fn record_stream(&mut self, ttft: Duration, gaps_us: &[u32]) {
        self.counts.streams += 1;
        self.ttft
            .saturating_record((ttft.as_micros() as u64).max(1));
        for &gap in gaps_us {
            self.itl.saturating_record(u64::from(gap));
        }
    }

    /// Record the overhead a gateway reported for itself (ms, from a header).
    #[inline]
    pub fn record_gateway_overhead(&mut self, ms: f64) {
        self.gateway_overhead
            .saturating_record(((ms * 1000.0) as u64).max(1));
    }

    /// Record the tokens of a successful answer; `busy` as for [`Recorder::record`].
    #[inline]
    pub fn record_tokens(&mut self, tokens: Tokens, busy: f64) {
        self.counts.token_answers += 1;
        self.counts.output_tokens += tokens.count;
        self.counts.busy_tokens += tokens.count as f64 * busy;
        if let Some(rate) = tokens.per_s {
            self.tps
                .saturating_record(((rate * TPS_SCALE) as u64).max(1));
        }
    }

    /// Fold `other` into this recorder.
    pub fn merge(&mut self, other: &Recorder) {
        self.latency
            .add(&other.latency)
            .expect("histograms share bounds");
        self.seconds.merge(&other.seconds);
        self.counts.add(&other.counts);
        self.ttft.add(&other.ttft).expect("histograms share bounds");
        self.itl.add(&other.itl).expect("histograms share bounds");
        self.checks.merge(&other.checks);
        self.tps.add(&other.tps).expect("histograms share bounds");
        self.gateway_overhead
            .add(&other.gateway_overhead)
            .expect("histograms share bounds");
        self.goodput.merge(&other.goodput);
        let (o, t) = (&mut self.open, &other.open);
        o.sends += t.sends;
        o.last_send = o.last_send.max(t.last_send);
        o.late += t.late;
        o.dropped += t.dropped;
        o.service.add(&t.service).expect("histograms share bounds");
        o.queue.add(&t.queue).expect("histograms share bounds");
        for (mine, theirs) in self.status.iter_mut().zip(other.status.iter()) {
            *mine += theirs;
        }
        self.last_end = self.last_end.max(other.last_end);
        if let Some(theirs) = &other.samples {
            self.samples.get_or_insert_with(Vec::new).extend(theirs);
        }
    }

    pub fn last_end(&self) -> Duration {
        self.last_end
    }

    /// Successful requests recorded.
    pub fn successes(&self) -> u64 {
        self.counts.successes
    }

    pub fn errors(&self) -> ErrorSummary {
        let c = &self.counts;
        let status: BTreeMap<String, u64> = self
            .status
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(code, n)| (code.to_string(), *n))
            .collect();
        ErrorSummary {
            total: c.failures() + status.values().sum::<u64>(),
            timeout: c.timeouts,
            connect: c.connects,
            read: c.reads,
            truncated: c.truncated,
            client: c.client,
            protocol: c.protocol,
            shape: c.shape,
            status,
        }
    }

    /// The step's summary over its measured [`Window`].
    pub fn summary(&self, window: Window) -> StepMetrics {
        let errors = self.errors();
        let requests = self.counts.successes + errors.total;
        let secs = window.whole.as_secs_f64();
        let busy = window.busy.as_secs_f64();
        let rate = |count: f64, over: f64| if over > 0.0 { count / over } else { 0.0 };
        StepMetrics {
            requests,
            successes: self.counts.successes,
            error_rate: if requests == 0 {
                0.0
            } else {
                errors.total as f64 / requests as f64
            },
            errors,
            retries: self.counts.retries,
            duration_s: secs,
            busy_s: busy,
            rps: rate(self.counts.busy_successes, busy),
            rps_window: rate(self.counts.successes as f64, secs),
            latency_ms: LatencySummary::of(&self.latency),
            percentiles: spectrum(&self.latency),
            streaming: (self.counts.streams > 0).then(|| StreamingSummary {
                streams: self.counts.streams,
                ttft_ms: Quantiles::of(&self.ttft, 1000.0),
                itl_ms: Quantiles::of(&self.itl, 1000.0),
                checks: self.checks.summary(),
            }),
            tokens: (self.counts.token_answers > 0).then(|| TokenSummary {
                answers: self.counts.token_answers,
                output_tokens: self.counts.output_tokens,
                per_s: rate(self.counts.busy_tokens, busy),
                per_s_window: rate(self.counts.output_tokens as f64, secs),
                per_request: Quantiles::of(&self.tps, TPS_SCALE),
            }),
            gateway_overhead_ms: (!self.gateway_overhead.is_empty())
                .then(|| Quantiles::of(&self.gateway_overhead, 1000.0)),
            open_loop: None,
            goodput: None,
        }
    }

    /// Throughput, errors and p50/p99 over time: one sample per second,
    /// or per `width` seconds in a long step (see
    /// [`MAX_SAMPLES`](super::series::MAX_SAMPLES)).
    pub fn timeseries(&self) -> Vec<SecondSample> {
        self.seconds.timeseries()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_share_weights_a_straddling_request_by_its_time_inside() {
        let ms = Duration::from_millis;
        assert_eq!(busy_share(ms(0), ms(200), None), 1.0);
        assert_eq!(busy_share(ms(0), ms(200), Some(ms(200))), 1.0);
        assert_eq!(busy_share(ms(0), ms(200), Some(ms(250))), 1.0);
        assert_eq!(busy_share(ms(300), ms(500), Some(ms(250))), 0.0);
        assert_eq!(busy_share(ms(250), ms(300), Some(ms(250))), 0.0);
        assert!((busy_share(ms(100), ms(300), Some(ms(250))) - 0.75).abs() < 1e-12);
    }
}
