//! Measurements: a [`Recorder`] per load thread (no locks, no allocation per
//! sample), merged after the step into summaries, time series and spreads.
//! Rates are taken over the step's busy [`Window`], the time every worker
//! still had work, so the drain at the end of a closed loop does not lower them.

pub mod goodput;
pub mod raw;

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::plan::Level;

pub mod stream;
pub use stream::{Pacing, StreamChecks};

/// Latencies are recorded in microseconds, from 1 µs to one hour.
const HIGHEST_US: u64 = 3_600_000_000;

fn histogram<T: hdrhistogram::Counter>(sigfig: u8) -> Histogram<T> {
    Histogram::new_with_bounds(1, HIGHEST_US, sigfig).expect("static histogram bounds are valid")
}

/// Why a request did not succeed: its error class (one type for both).
pub type Failure = ErrorClass;

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

/// Samples a step's time series keeps at most. Past this many, adjacent
/// samples merge pairwise and each then covers twice the seconds: a step of
/// up to 256 s keeps one sample per second, a 1-hour step one per 16 s, and
/// a recorder's series never holds more than 256 × ~530 bytes (~135 KB),
/// however long the step.
const MAX_SAMPLES: usize = 256;

/// Buckets of a sample's latency histogram: four per power of two of
/// microseconds, up to 2^32 µs (the middle of a bucket is within 12.5% of
/// any value in it; the step's own percentiles stay exact to 0.1%).
const SAMPLE_BUCKETS: usize = 124;

/// The bucket of `us` microseconds in a [`Sample`]'s histogram.
#[inline]
fn sample_bucket(us: u64) -> usize {
    let v = us.clamp(1, u64::from(u32::MAX));
    if v < 4 {
        return v as usize;
    }
    let octave = 63 - v.leading_zeros() as usize;
    (octave - 1) * 4 + ((v >> (octave - 2)) & 3) as usize
}

/// The middle of bucket `i` (see [`sample_bucket`]), in microseconds.
fn sample_bucket_middle(i: usize) -> u64 {
    if i < 4 {
        return i as u64;
    }
    let shift = i / 4 - 1;
    (((4 + i % 4) as u64) << shift) + ((1u64 << shift) >> 1)
}

/// A stretch of a step (one second, or a power of two of them once the step
/// is long): counts and a compact latency histogram of its successes.
#[derive(Debug, Clone)]
struct Sample {
    ok: u64,
    errors: u64,
    /// Requests sent in the sample (by actual send time), and the time
    /// requests spent in flight inside it, in microseconds.
    sent: u64,
    flight_us: u64,
    latency: [u32; SAMPLE_BUCKETS],
}

impl Default for Sample {
    fn default() -> Self {
        Sample {
            ok: 0,
            errors: 0,
            sent: 0,
            flight_us: 0,
            latency: [0; SAMPLE_BUCKETS],
        }
    }
}

impl Sample {
    fn add(&mut self, other: &Sample) {
        self.ok += other.ok;
        self.errors += other.errors;
        self.sent += other.sent;
        self.flight_us += other.flight_us;
        for (mine, theirs) in self.latency.iter_mut().zip(&other.latency) {
            *mine = mine.saturating_add(*theirs);
        }
    }

    /// The latency (ms) at quantile `q` of the successes, 0 without any.
    fn quantile_ms(&self, q: f64) -> f64 {
        let count: u64 = self.latency.iter().map(|&c| u64::from(c)).sum();
        if count == 0 {
            return 0.0;
        }
        let rank = ((q * count as f64).ceil() as u64).clamp(1, count);
        let mut seen = 0;
        for (i, &c) in self.latency.iter().enumerate() {
            seen += u64::from(c);
            if seen >= rank {
                return sample_bucket_middle(i) as f64 / 1000.0;
            }
        }
        0.0
    }
}

/// A step's time series in at most [`MAX_SAMPLES`] samples, each covering
/// `2^shift` seconds.
#[derive(Debug, Clone, Default)]
struct Series {
    shift: u32,
    samples: Vec<Sample>,
}

impl Series {
    /// The sample a request that ended `end` after the start belongs to.
    #[inline]
    fn at(&mut self, end: Duration) -> &mut Sample {
        let i = self.index(end);
        &mut self.samples[i]
    }

    /// The index of the sample `end` belongs to, made room for.
    #[inline]
    fn index(&mut self, end: Duration) -> usize {
        let i = (end.as_secs() >> self.shift) as usize;
        if i < self.samples.len() {
            i
        } else {
            self.grow(end.as_secs())
        }
    }

    /// Make room for `second`, coarsening the series when it would pass
    /// [`MAX_SAMPLES`]; returns its sample's index.
    #[cold]
    fn grow(&mut self, second: u64) -> usize {
        while (second >> self.shift) as usize >= MAX_SAMPLES {
            self.coarsen();
        }
        let i = (second >> self.shift) as usize;
        if self.samples.capacity() == 0 {
            self.samples.reserve_exact(MAX_SAMPLES);
        }
        self.samples
            .resize_with(self.samples.len().max(i + 1), Sample::default);
        i
    }

    /// Merge adjacent samples pairwise: half as many, each twice as wide.
    fn coarsen(&mut self) {
        let n = self.samples.len();
        for k in 0..n.div_ceil(2) {
            let mut pair = std::mem::take(&mut self.samples[2 * k]);
            if let Some(next) = self.samples.get(2 * k + 1) {
                pair.add(next);
            }
            self.samples[k] = pair;
        }
        self.samples.truncate(n.div_ceil(2));
        self.shift += 1;
    }

    /// A request in flight from `from` to `to`: one send in `from`'s
    /// sample, and its time in flight split over the samples it spans.
    #[inline]
    fn flight(&mut self, from: Duration, to: Duration) {
        self.at(from).sent += 1;
        let mut t = from;
        while t < to {
            // `index` may coarsen the series: take the width after it.
            let i = self.index(t);
            let width = 1u64 << self.shift;
            let edge = Duration::from_secs((t.as_secs() / width + 1) * width).min(to);
            self.samples[i].flight_us += (edge - t).as_micros() as u64;
            t = edge;
        }
    }

    fn merge(&mut self, other: &Series) {
        while self.shift < other.shift {
            self.coarsen();
        }
        // Each of `other`'s samples lies inside one of ours: widths are
        // powers of two and both start at second 0.
        let ratio = self.shift - other.shift;
        for (i, theirs) in other.samples.iter().enumerate() {
            let j = i >> ratio;
            if j >= self.samples.len() {
                self.samples.resize_with(j + 1, Sample::default);
            }
            self.samples[j].add(theirs);
        }
        while self.samples.len() > MAX_SAMPLES {
            self.coarsen();
        }
    }

    fn timeseries(&self) -> Vec<SecondSample> {
        let width = 1u32 << self.shift;
        self.samples
            .iter()
            .enumerate()
            .map(|(i, s)| SecondSample {
                second: i as u32 * width,
                width,
                ok: s.ok,
                errors: s.errors,
                sent: s.sent,
                in_flight: s.flight_us as f64 / (f64::from(width) * 1e6),
                target: None,
                p50_ms: s.quantile_ms(0.5),
                p90_ms: s.quantile_ms(0.9),
                p99_ms: s.quantile_ms(0.99),
            })
            .collect()
    }
}

/// Everything one load thread measured in one step.
#[derive(Debug, Clone)]
pub struct Recorder {
    latency: Histogram<u64>,
    seconds: Series,
    successes: u64,
    timeouts: u64,
    connects: u64,
    reads: u64,
    truncated: u64,
    client: u64,
    protocol: u64,
    shape: u64,
    status: Box<[u64; 600]>,
    /// Requests sent a second time (see `load::conn::Conn`'s resend rule).
    retries: u64,
    /// When the last request ended, from the start of measurement.
    last_end: Duration,
    /// Successes and their output tokens inside the busy window, each
    /// weighted by the share of its time that lay inside it (see [`Window`]).
    busy_successes: f64,
    busy_tokens: f64,
    /// Successful streamed answers, their time to first token and the gaps
    /// between their tokens, in microseconds.
    streams: u64,
    ttft: Histogram<u64>,
    itl: Histogram<u64>,
    /// Streams checked against the upstream's pacing (buffering, stalls).
    checks: stream::Tally,
    /// Successful answers that reported tokens, the sum, and per-request rates.
    token_answers: u64,
    output_tokens: u64,
    tps: Histogram<u64>,
    /// What the gateway said it added (a response header), in microseconds.
    gateway_overhead: Histogram<u64>,
    /// Open loop: see [`OpenLoop`].
    open: OpenLoop,
    /// Every success's latency (µs), only when asked for
    /// ([`Recorder::keeping_samples`]): tests check the histograms against them.
    samples: Option<Vec<u64>>,
    /// Requests that met `[report] slo`.
    goodput: goodput::Counter,
}

/// What an open-loop step measured beside the latency from the intended
/// send time (which goes into [`Recorder`]'s latency histogram).
#[derive(Debug, Clone)]
struct OpenLoop {
    /// Requests sent, and when the last was, from the start of measurement.
    sends: u64,
    last_send: Duration,
    /// Sent more than [`LATE`] after the intended time / never sent.
    late: u64,
    dropped: u64,
    /// Service time of successes (actual send to answer), and client queue
    /// time of every send (intended to actual send), microseconds.
    service: Histogram<u64>,
    queue: Histogram<u64>,
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
            successes: 0,
            timeouts: 0,
            connects: 0,
            reads: 0,
            truncated: 0,
            client: 0,
            protocol: 0,
            shape: 0,
            status: Box::new([0; 600]),
            retries: 0,
            last_end: Duration::ZERO,
            busy_successes: 0.0,
            busy_tokens: 0.0,
            streams: 0,
            ttft: histogram(3),
            itl: histogram(3),
            checks: stream::Tally::default(),
            token_answers: 0,
            output_tokens: 0,
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
                self.successes += 1;
                self.busy_successes += busy;
                if let Some(kept) = &mut self.samples {
                    kept.push(us);
                }
            }
            Some(f) => {
                bucket.errors += 1;
                match f {
                    Failure::Status(code) => self.status[usize::from(code).min(599)] += 1,
                    Failure::Timeout => self.timeouts += 1,
                    Failure::Connect => self.connects += 1,
                    Failure::Read => self.reads += 1,
                    Failure::Truncated => self.truncated += 1,
                    Failure::Client => self.client += 1,
                    Failure::Protocol => self.protocol += 1,
                    Failure::Shape => self.shape += 1,
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
        let requests = self.successes + self.errors().total;
        self.goodput
            .summary(requests, self.open.dropped, window.busy.as_secs_f64())
    }

    /// Record that a request was sent a second time.
    #[inline]
    pub fn record_retry(&mut self) {
        self.retries += 1;
    }

    /// Record a successful stream's time to first token and the gaps (µs)
    /// between its successive content events.
    #[inline]
    pub fn record_stream(&mut self, ttft: Duration, gaps_us: &[u32]) {
        self.streams += 1;
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
        self.token_answers += 1;
        self.output_tokens += tokens.count;
        self.busy_tokens += tokens.count as f64 * busy;
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
        self.successes += other.successes;
        self.busy_successes += other.busy_successes;
        self.busy_tokens += other.busy_tokens;
        self.timeouts += other.timeouts;
        self.connects += other.connects;
        self.reads += other.reads;
        self.truncated += other.truncated;
        self.client += other.client;
        self.protocol += other.protocol;
        self.shape += other.shape;
        self.retries += other.retries;
        self.streams += other.streams;
        self.ttft.add(&other.ttft).expect("histograms share bounds");
        self.itl.add(&other.itl).expect("histograms share bounds");
        self.checks.merge(&other.checks);
        self.token_answers += other.token_answers;
        self.output_tokens += other.output_tokens;
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
        self.successes
    }

    pub fn errors(&self) -> ErrorSummary {
        let status: BTreeMap<String, u64> = self
            .status
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(code, n)| (code.to_string(), *n))
            .collect();
        ErrorSummary {
            total: self.timeouts
                + self.connects
                + self.reads
                + self.truncated
                + self.client
                + self.protocol
                + self.shape
                + status.values().sum::<u64>(),
            timeout: self.timeouts,
            connect: self.connects,
            read: self.reads,
            truncated: self.truncated,
            client: self.client,
            protocol: self.protocol,
            shape: self.shape,
            status,
        }
    }

    /// The step's summary over its measured [`Window`].
    pub fn summary(&self, window: Window) -> StepMetrics {
        let errors = self.errors();
        let requests = self.successes + errors.total;
        let secs = window.whole.as_secs_f64();
        let busy = window.busy.as_secs_f64();
        let rate = |count: f64, over: f64| if over > 0.0 { count / over } else { 0.0 };
        StepMetrics {
            requests,
            successes: self.successes,
            error_rate: if requests == 0 {
                0.0
            } else {
                errors.total as f64 / requests as f64
            },
            errors,
            retries: self.retries,
            duration_s: secs,
            busy_s: busy,
            rps: rate(self.busy_successes, busy),
            rps_window: rate(self.successes as f64, secs),
            latency_ms: LatencySummary::of(&self.latency),
            percentiles: spectrum(&self.latency),
            streaming: (self.streams > 0).then(|| StreamingSummary {
                streams: self.streams,
                ttft_ms: Quantiles::of(&self.ttft, 1000.0),
                itl_ms: Quantiles::of(&self.itl, 1000.0),
                checks: self.checks.summary(),
            }),
            tokens: (self.token_answers > 0).then(|| TokenSummary {
                answers: self.token_answers,
                output_tokens: self.output_tokens,
                per_s: rate(self.busy_tokens, busy),
                per_s_window: rate(self.output_tokens as f64, secs),
                per_request: Quantiles::of(&self.tps, TPS_SCALE),
            }),
            gateway_overhead_ms: (!self.gateway_overhead.is_empty())
                .then(|| Quantiles::of(&self.gateway_overhead, 1000.0)),
            open_loop: None,
            goodput: None,
        }
    }

    /// Throughput, errors and p50/p99 over time: one sample per second,
    /// or per `width` seconds in a long step (see [`MAX_SAMPLES`]).
    pub fn timeseries(&self) -> Vec<SecondSample> {
        self.seconds.timeseries()
    }
}

/// Failed requests by class; `status` counts non-2xx answers by code.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ErrorSummary {
    pub total: u64,
    pub timeout: u64,
    pub connect: u64,
    pub read: u64,
    /// Streams that ended without their last event (`data: [DONE]` for chat).
    #[serde(default)]
    pub truncated: u64,
    /// Requests the client's own machine could not make (file descriptors,
    /// local ports): a harness failure, never the target's.
    #[serde(default)]
    pub client: u64,
    /// Answers that broke HTTP/1.1 framing.
    #[serde(default)]
    pub protocol: u64,
    /// 2xx answers not in the shape of the request's dialect.
    #[serde(default)]
    pub shape: u64,
    pub status: BTreeMap<String, u64>,
}

/// A class of failed request, as every report names it. The one list of
/// classes: renderers iterate [`ErrorSummary::classes`] instead of naming
/// fields, so a new class shows up everywhere at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorClass {
    Timeout,
    Connect,
    Read,
    Truncated,
    Client,
    Protocol,
    /// A 2xx answer not in the shape of the request's dialect (an Anthropic
    /// request answered with a chat completion, say).
    Shape,
    /// A non-2xx answer with this status code.
    Status(u16),
}

impl ErrorClass {
    /// The classes that are not HTTP statuses, in report order.
    pub const FIXED: [ErrorClass; 7] = [
        ErrorClass::Timeout,
        ErrorClass::Connect,
        ErrorClass::Read,
        ErrorClass::Truncated,
        ErrorClass::Client,
        ErrorClass::Protocol,
        ErrorClass::Shape,
    ];

    /// The name reports use: `timeout`, `connect`, `read`, `truncated`,
    /// `client`, `protocol`, `shape`, or `HTTP 500`.
    pub fn label(self) -> String {
        match self {
            ErrorClass::Timeout => "timeout".into(),
            ErrorClass::Connect => "connect".into(),
            ErrorClass::Read => "read".into(),
            ErrorClass::Truncated => "truncated".into(),
            ErrorClass::Client => "client".into(),
            ErrorClass::Protocol => "protocol".into(),
            ErrorClass::Shape => "shape".into(),
            ErrorClass::Status(code) => format!("HTTP {code}"),
        }
    }

    /// What the class means, for a legend.
    pub fn meaning(self) -> &'static str {
        match self {
            ErrorClass::Timeout => "no answer within the request timeout",
            ErrorClass::Connect => "the connection could not be made",
            ErrorClass::Read => "the connection broke while sending or reading",
            ErrorClass::Truncated => {
                "a stream ended without its last event (`data: [DONE]`, `message_stop`, \
                 `response.completed`)"
            }
            ErrorClass::Client => {
                "the client's own machine refused (file descriptors, local ports): a harness failure"
            }
            ErrorClass::Protocol => {
                "the answer broke HTTP/1.1 framing (a malformed head or chunk, bytes after \
                 the answer, conflicting lengths, too many headers or too long a trailer)"
            }
            ErrorClass::Shape => {
                "a 2xx answer not in the shape of the request's dialect (`[request] dialect`), \
                 e.g. a chat completion for an Anthropic Messages request: the gateway did not translate"
            }
            ErrorClass::Status(_) => "the target answered with a non-2xx status",
        }
    }
}

impl ErrorSummary {
    /// The count of one class.
    pub fn count(&self, class: ErrorClass) -> u64 {
        match class {
            ErrorClass::Timeout => self.timeout,
            ErrorClass::Connect => self.connect,
            ErrorClass::Read => self.read,
            ErrorClass::Truncated => self.truncated,
            ErrorClass::Client => self.client,
            ErrorClass::Protocol => self.protocol,
            ErrorClass::Shape => self.shape,
            ErrorClass::Status(code) => self.status.get(&code.to_string()).copied().unwrap_or(0),
        }
    }

    /// Every class with a count above zero, fixed classes first, then
    /// statuses by code.
    pub fn classes(&self) -> Vec<(ErrorClass, u64)> {
        ErrorClass::FIXED
            .into_iter()
            .chain(
                self.status
                    .keys()
                    .filter_map(|k| k.parse().ok())
                    .map(ErrorClass::Status),
            )
            .map(|c| (c, self.count(c)))
            .filter(|(_, n)| *n > 0)
            .collect()
    }
}

/// A distribution in a few numbers (in the unit its field names).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Quantiles {
    /// How many values.
    pub count: u64,
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

impl Quantiles {
    /// `h`'s figures, each divided by `scale`.
    fn of(h: &Histogram<u64>, scale: f64) -> Self {
        if h.is_empty() {
            return Self::default();
        }
        let q = |q: f64| h.value_at_quantile(q) as f64 / scale;
        Quantiles {
            count: h.len(),
            mean: h.mean() / scale,
            p50: q(0.5),
            p90: q(0.9),
            p99: q(0.99),
            max: h.max() as f64 / scale,
        }
    }
}

/// Streamed answers (successful ones only): see docs/measurement.md, "Streaming".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamingSummary {
    /// Successful streamed answers.
    pub streams: u64,
    /// Time to first token: request start to the first event carrying content.
    pub ttft_ms: Quantiles,
    /// Inter-token latency: gaps between successive content events (the
    /// first token excluded), over every stream.
    pub itl_ms: Quantiles,
    /// The streams judged against the fake upstream's pacing: buffered,
    /// stalled; absent when the pacing is unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checks: Option<StreamChecks>,
}

/// Output tokens of successful answers: see docs/measurement.md, "Streaming".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TokenSummary {
    /// Successful answers whose token count was known.
    pub answers: u64,
    /// Their completion tokens, summed.
    pub output_tokens: u64,
    /// `output_tokens` over the busy window (see [`StepMetrics::rps`]): the
    /// step's aggregate rate.
    pub per_s: f64,
    /// `output_tokens` over the whole window (see [`StepMetrics::rps_window`]).
    #[serde(default)]
    pub per_s_window: f64,
    /// Output tokens/s of single requests.
    pub per_request: Quantiles,
}

/// Latency of successful requests, in milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    pub min: f64,
    pub mean: f64,
    pub stddev: f64,
    pub p50: f64,
    pub p90: f64,
    pub p95: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

impl LatencySummary {
    fn of(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Self::default();
        }
        let q = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
        LatencySummary {
            min: h.min() as f64 / 1000.0,
            mean: h.mean() / 1000.0,
            stddev: h.stdev() / 1000.0,
            p50: q(0.5),
            p90: q(0.9),
            p95: q(0.95),
            p99: q(0.99),
            p999: q(0.999),
            max: h.max() as f64 / 1000.0,
        }
    }
}

/// Percentiles at which the latency spectrum is sampled for reports.
const SPECTRUM: &[f64] = &[
    0.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.5, 99.9, 99.95, 99.99, 100.0,
];

/// `(percentile, ms)` pairs for an HdrHistogram-style percentile plot.
fn spectrum(h: &Histogram<u64>) -> Vec<(f64, f64)> {
    if h.is_empty() {
        return Vec::new();
    }
    SPECTRUM
        .iter()
        .map(|&p| (p, h.value_at_quantile(p / 100.0) as f64 / 1000.0))
        .collect()
}

/// What one step measured.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StepMetrics {
    /// Measured requests that finished (warm-up excluded).
    pub requests: u64,
    pub successes: u64,
    pub errors: ErrorSummary,
    /// Requests sent a second time, on a new connection, because writing
    /// them on a reused one failed: the server closed it first, so it
    /// cannot have acted on them. The server's request count is `requests`
    /// plus these (0 in reports written before it existed).
    #[serde(default)]
    pub retries: u64,
    /// Failed share of `requests`, 0.0–1.0.
    pub error_rate: f64,
    /// The whole measured window, in seconds: from the start of measurement
    /// to the last answer.
    pub duration_s: f64,
    /// The busy window, in seconds: from the start of measurement until the
    /// first worker found no more work; every worker was busy until then
    /// (0 in reports written before it existed).
    #[serde(default)]
    pub busy_s: f64,
    /// Throughput: successful requests per second over the busy window, a
    /// request that straddles its end counted by the share of its time inside
    /// it. Unlike `rps_window`, it does not depend on the drain at the end of
    /// a closed-loop step, when fewer and fewer workers still have work.
    pub rps: f64,
    /// Successful requests per second over the whole window (`successes /
    /// duration_s`; 0 in reports written before it existed).
    #[serde(default)]
    pub rps_window: f64,
    pub latency_ms: LatencySummary,
    /// `(percentile, ms)` pairs of the latency spectrum.
    pub percentiles: Vec<(f64, f64)>,
    /// Time to first token and inter-token latency; absent without streams.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub streaming: Option<StreamingSummary>,
    /// Output tokens; absent when no answer reported any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<TokenSummary>,
    /// The overhead the gateway reported for itself in a response header
    /// (the profile's `overhead_headers`), beside the client's view.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway_overhead_ms: Option<Quantiles>,
    /// An open-loop step's pacing; absent for a closed loop. There,
    /// `latency_ms` (and streaming figures) count from each request's
    /// intended send time: the latency users saw, coordinated omission
    /// corrected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_loop: Option<OpenLoopSummary>,
    /// Requests that met `[report] slo`; absent without an SLO.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goodput: Option<goodput::GoodputSummary>,
}

impl StepMetrics {
    /// The throughput a step carried, as capacity figures count it: for
    /// an open loop the arrival rate it kept (achieved send rate times the
    /// share that succeeded), for a closed loop its successful req/s.
    pub fn carried_rps(&self) -> f64 {
        match &self.open_loop {
            Some(o) if self.requests > 0 => {
                o.achieved_rate * self.successes as f64 / self.requests as f64
            }
            _ => self.rps,
        }
    }
}

/// How an open-loop step kept to its schedule: see docs/measurement.md, "Open-loop clocks".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OpenLoopSummary {
    /// Requests per second the schedule asked for.
    pub target_rate: f64,
    /// Requests per second actually sent over the step.
    pub achieved_rate: f64,
    /// Arrivals the schedule put in the step (`sent` + `dropped`).
    pub scheduled: u64,
    /// Requests sent.
    pub sent: u64,
    /// Due more than 1 ms before a worker was free to send them (all
    /// `max_in_flight` were busy); their latency includes the wait.
    pub late: u64,
    /// Due inside a `duration` step but still unsent when it ended.
    pub dropped: u64,
    /// Service time: from the actual send to the answer (successes).
    pub service_ms: LatencySummary,
    /// Client queue time: from the intended to the actual send (every send).
    pub queue_ms: Quantiles,
}

/// One sample of a step's time series: the requests that ended in the
/// `width` seconds from `second` (from the start of measurement).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecondSample {
    /// The first second the sample covers.
    pub second: u32,
    /// How many seconds it covers: 1, or a power of two in a long step
    /// (1 in reports written before it existed).
    #[serde(default = "one_second")]
    pub width: u32,
    pub ok: u64,
    pub errors: u64,
    /// Requests sent in the sample, by actual send time (0 in reports
    /// written before it existed).
    #[serde(default)]
    pub sent: u64,
    /// Mean requests in flight over the sample: the achieved concurrency
    /// (a worker ramp's active workers, each busy nearly all the time).
    #[serde(default)]
    pub in_flight: f64,
    /// A ramp's target over the sample (mean): workers, or req/s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<f64>,
    pub p50_ms: f64,
    /// (0 in reports written before it existed.)
    #[serde(default)]
    pub p90_ms: f64,
    pub p99_ms: f64,
}

impl SecondSample {
    /// The load achieved in the sample, in the unit of `kind`: mean
    /// requests in flight (workers), or requests sent per second (rate).
    pub fn achieved(&self, kind: crate::plan::LevelKind) -> f64 {
        match kind {
            crate::plan::LevelKind::Workers => self.in_flight,
            crate::plan::LevelKind::Rate => self.sent as f64 / f64::from(self.width.max(1)),
        }
    }
}

fn one_second() -> u32 {
    1
}

/// Mean and spread of one figure over the runs of a concurrency level.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    pub mean: f64,
    pub stddev: f64,
    pub min: f64,
    pub max: f64,
}

impl Spread {
    pub fn of(values: &[f64]) -> Spread {
        if values.is_empty() {
            return Spread::default();
        }
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        Spread {
            mean,
            stddev: var.sqrt(),
            min: values.iter().copied().fold(f64::INFINITY, f64::min),
            max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        }
    }
}

/// A level over all its runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LevelSummary {
    /// The level (JSON: `concurrency`, and `rate` in req/s for an arrival rate).
    #[serde(flatten)]
    pub level: Level,
    pub runs: u32,
    pub rps: Spread,
    pub p50_ms: Spread,
    pub p95_ms: Spread,
    pub p99_ms: Spread,
    pub error_rate: Spread,
    pub requests: u64,
    pub errors: u64,
    /// Requests sent a second time, over all runs (see [`StepMetrics::retries`]).
    #[serde(default)]
    pub retries: u64,
    /// Time to first token and inter-token latency (ms), when the level streamed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttft_p50_ms: Option<Spread>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttft_p99_ms: Option<Spread>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub itl_p50_ms: Option<Spread>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub itl_p99_ms: Option<Spread>,
    /// Median per-request output tokens/s, when answers reported tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_per_s_p50: Option<Spread>,
    /// Open loop: the achieved send rate (req/s), late and dropped
    /// requests over all runs, and the service-time p99 (ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub achieved_rate: Option<Spread>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub late: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dropped: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_p50_ms: Option<Spread>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_p99_ms: Option<Spread>,
    /// A rate ramp: its mean target rate, req/s (what `achieved_rate` is
    /// judged against).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ramp_target_rate: Option<f64>,
    /// Share (0–1) and rate (req/s) of requests that met `[report] slo`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goodput: Option<Spread>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goodput_per_s: Option<Spread>,
    /// The fastest RSS growth (MiB/min) of the services under test over the
    /// level's runs (see `report::memory::under_test`); set by the report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rss_growth_mib_per_min: Option<f64>,
}

impl LevelSummary {
    /// [`StepMetrics::carried_rps`] of a level: means over its runs.
    pub fn carried_rps(&self) -> f64 {
        match self.achieved_rate {
            Some(a) => a.mean * (1.0 - self.error_rate.mean),
            None => self.rps.mean,
        }
    }

    /// A one-run level with only throughput and p50 set (for tests).
    #[cfg(test)]
    pub(crate) fn sample(concurrency: u32, rps: f64, p50_ms: f64) -> LevelSummary {
        LevelSummary {
            level: Level::workers(concurrency),
            runs: 1,
            rps: Spread::of(&[rps]),
            p50_ms: Spread::of(&[p50_ms]),
            ..LevelSummary::default()
        }
    }

    /// `c=10` or `r=500/s`.
    pub fn label(&self) -> String {
        self.level.label()
    }

    /// The target rate (req/s) of an arrival-rate level (a ramp's mean);
    /// `None` for workers.
    pub fn target_rate(&self) -> Option<f64> {
        match (self.level.is_rate(), self.level.ramp) {
            (true, false) => Some(self.level.x()),
            (true, true) => self.ramp_target_rate,
            (false, _) => None,
        }
    }

    pub fn of(level: Level, runs: &[&StepMetrics]) -> LevelSummary {
        let spread =
            |f: fn(&StepMetrics) -> f64| Spread::of(&runs.iter().map(|m| f(m)).collect::<Vec<_>>());
        LevelSummary {
            level,
            runs: runs.len() as u32,
            rps: spread(|m| m.rps),
            p50_ms: spread(|m| m.latency_ms.p50),
            p95_ms: spread(|m| m.latency_ms.p95),
            p99_ms: spread(|m| m.latency_ms.p99),
            error_rate: spread(|m| m.error_rate),
            requests: runs.iter().map(|m| m.requests).sum(),
            errors: runs.iter().map(|m| m.errors.total).sum(),
            retries: runs.iter().map(|m| m.retries).sum(),
            ttft_p50_ms: optional(runs, |m| m.streaming.as_ref().map(|s| s.ttft_ms.p50)),
            ttft_p99_ms: optional(runs, |m| m.streaming.as_ref().map(|s| s.ttft_ms.p99)),
            itl_p50_ms: optional(runs, |m| m.streaming.as_ref().map(|s| s.itl_ms.p50)),
            itl_p99_ms: optional(runs, |m| m.streaming.as_ref().map(|s| s.itl_ms.p99)),
            tokens_per_s_p50: optional(runs, |m| {
                m.tokens
                    .as_ref()
                    .filter(|t| t.per_request.count > 0)
                    .map(|t| t.per_request.p50)
            }),
            achieved_rate: optional(runs, |m| m.open_loop.as_ref().map(|o| o.achieved_rate)),
            late: open_total(runs, |o| o.late),
            dropped: open_total(runs, |o| o.dropped),
            service_p50_ms: optional(runs, |m| m.open_loop.as_ref().map(|o| o.service_ms.p50)),
            service_p99_ms: optional(runs, |m| m.open_loop.as_ref().map(|o| o.service_ms.p99)),
            ramp_target_rate: level
                .ramp
                .then(|| optional(runs, |m| m.open_loop.as_ref().map(|o| o.target_rate)))
                .flatten()
                .map(|s| s.mean),
            goodput: optional(runs, |m| m.goodput.map(|g| g.share)),
            goodput_per_s: optional(runs, |m| m.goodput.map(|g| g.per_s)),
            rss_growth_mib_per_min: None,
        }
    }
}

/// An open-loop count summed over the runs; `None` for a closed loop.
fn open_total(runs: &[&StepMetrics], f: impl Fn(&OpenLoopSummary) -> u64) -> Option<u64> {
    let open: Vec<&OpenLoopSummary> = runs.iter().filter_map(|m| m.open_loop.as_ref()).collect();
    (!open.is_empty()).then(|| open.into_iter().map(f).sum())
}

/// The spread of a figure only some runs have; `None` when none has it.
fn optional(runs: &[&StepMetrics], f: impl Fn(&StepMetrics) -> Option<f64>) -> Option<Spread> {
    let values: Vec<f64> = runs.iter().filter_map(|m| f(m)).collect();
    (!values.is_empty()).then(|| Spread::of(&values))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A window with no drain: busy to the end.
    fn whole(secs: u64) -> Window {
        let d = Duration::from_secs(secs);
        Window { whole: d, busy: d }
    }

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

    #[test]
    fn spread_of_runs() {
        let s = Spread::of(&[1.0, 2.0, 3.0]);
        assert_eq!(s.mean, 2.0);
        assert_eq!((s.min, s.max), (1.0, 3.0));
        assert!((s.stddev - (2.0f64 / 3.0).sqrt()).abs() < 1e-12);
    }

    #[test]
    fn sample_buckets_are_ordered_and_their_middles_close() {
        let mut last = 0;
        for us in 1..100_000u64 {
            let b = sample_bucket(us);
            assert!(b >= last && b < SAMPLE_BUCKETS, "{us} µs");
            last = b;
            let middle = sample_bucket_middle(b) as f64;
            assert!(
                (middle - us as f64).abs() <= us as f64 * 0.125,
                "{us} µs read back as {middle}"
            );
        }
        assert_eq!(sample_bucket(u64::MAX), SAMPLE_BUCKETS - 1);
        assert_eq!(sample_bucket(0), sample_bucket(1));
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
}
