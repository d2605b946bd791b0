//! The load generator: one request loop, driven by a [`Schedule`] and a
//! step's stop rule.
//!
//! Closed loop: each worker sends its next request when its last one was
//! answered. Open loop: arrivals have intended send times
//! ([`schedule`]); each thread takes every `k`-th arrival of the global
//! sequence, and a free worker claims the thread's next arrival, sleeps
//! until its intended time (to the microsecond: [`rt::sleep_until`]), sends, and
//! records the latency from the intended time (coordinated omission
//! corrected), the service time from the actual send, and the gap (client
//! queue time). An arrival no worker was free for waits, and is counted
//! late; arrivals due inside a `duration` step but unsent at its end are
//! counted dropped. At most `max_in_flight` workers, so as many connections,
//! each opened on its worker's first request.
//!
//! Ramps (`[load] stages`) are schedules too: a worker ramp runs worker `w`
//! only while the target is above `w` (it waits, connectionless, until
//! then); a rate ramp is an open schedule whose arrivals follow the moving
//! rate. Every request adds its send and its time in flight to the
//! per-second series, so a ramp's achieved load shows beside its target.
//!
//! Layout (chosen by measurement, see docs/performance.md): OS threads,
//! each with its own event loop ([`rt`]) and its own [`Recorder`] shared
//! by the workers on it (no locks, no contended atomics on the sample path:
//! each worker owns every `c`-th ticket, so a fixed count is split in fair
//! shares up front; progress is published in batches; the end of the busy
//! window is one relaxed read per request, written once per worker). Each
//! worker owns one keep-alive connection and writes pre-serialized request
//! bytes itself ([`conn`], framing in [`http1`]). The clock starts just before the write; after
//! the answer, the sample goes into the thread's histogram. Recorders are
//! merged after the step. Cancellation is noticed by each thread's loop
//! (its periodic sweep), not checked per request.

mod conn;
mod error;
#[cfg(test)]
mod exchange_tests;
mod http1;
pub mod limits;
mod rt;
mod scan;
pub mod schedule;
pub mod sse;
pub mod upstream_stats;
mod worker;

use std::cell::RefCell;
use std::net::ToSocketAddrs;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Mutex, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio_util::sync::CancellationToken;

use crate::metrics::goodput::{GoodputSummary, Rule};
use crate::metrics::{ErrorSummary, Recorder, Window};
use crate::metrics::{OpenLoopSummary, Pacing};
use crate::plan::{Selection, Step, Stop, Target};

use conn::Conn;
pub use conn::Prepared;
pub use error::LoadError;
pub use schedule::Schedule;
use worker::{measure_loop, warm_up, warmup_failed, Dispatch};

/// Counters the progress display reads while a step runs.
#[derive(Debug, Default)]
pub struct Live {
    pub done: AtomicU64,
    pub errors: AtomicU64,
}

impl Live {
    pub fn reset(&self) {
        self.done.store(0, Ordering::Relaxed);
        self.errors.store(0, Ordering::Relaxed);
    }
}

/// What a step measured.
#[derive(Debug)]
pub struct StepOutcome {
    pub recorder: Recorder,
    /// From the start of measurement to the last answer (`whole`), and to
    /// the moment the first worker found no more work (`busy`).
    pub window: Window,
    /// Warm-up requests that failed (not part of the metrics).
    pub warmup_errors: u64,
    /// The same failures by class (a `client` count here means the harness
    /// ran out of file descriptors or ports before measuring began).
    pub warmup: ErrorSummary,
    /// The step was cut short by cancellation.
    pub cancelled: bool,
    /// How an open-loop step kept to its schedule; `None` for a closed loop.
    pub open_loop: Option<OpenLoopSummary>,
    /// The wall-clock moment measurement started (shards line up on it).
    pub started: std::time::SystemTime,
    /// Requests that met `[report] slo`; `None` without an SLO.
    pub goodput: Option<GoodputSummary>,
}

/// Resolve the target once: address, and every request serialized to the
/// bytes sent on the wire (request line, `host`, headers, `content-length`, body).
pub fn prepare(target: &Target) -> Result<Prepared, LoadError> {
    let url = &target.url;
    let uri: hyper::Uri = url.parse().map_err(|source| LoadError::BadUrl {
        url: url.clone(),
        source,
    })?;
    if uri.scheme_str() != Some("http") {
        return Err(LoadError::NotHttp { url: url.clone() });
    }
    let host = uri
        .host()
        .ok_or_else(|| LoadError::NoHost { url: url.clone() })?;
    let port = uri.port_u16().unwrap_or(80);
    let authority = uri.authority().map_or(host, |a| a.as_str()).to_string();
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addr = (host, port)
        .to_socket_addrs()
        .map_err(|source| LoadError::Resolve {
            host: host.to_string(),
            source,
        })?
        .next()
        .ok_or_else(|| LoadError::NoAddress {
            host: host.to_string(),
        })?;
    let method = target.method.to_ascii_uppercase();
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(LoadError::BadMethod(target.method.clone()));
    }
    let bad = |s: &str| s.bytes().any(|b| b == b'\r' || b == b'\n');
    if bad(&path) || path.contains(' ') {
        return Err(LoadError::BadPath { url: url.clone() });
    }
    let mut head = format!("{method} {path} HTTP/1.1\r\n");
    let mut has_host = false;
    for (k, v) in &target.headers {
        if k.is_empty() || bad(k) || bad(v) || k.contains(':') || k.contains(' ') {
            return Err(LoadError::BadHeader(k.clone()));
        }
        let lower = k.to_ascii_lowercase();
        if lower == "content-length" || lower == "transfer-encoding" {
            continue;
        }
        has_host |= lower == "host";
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if !has_host {
        head = head.replacen("\r\n", &format!("\r\nhost: {authority}\r\n"), 1);
    }
    let bodyless = matches!(method.as_str(), "GET" | "HEAD" | "DELETE" | "OPTIONS");
    let wire = target
        .body_bytes
        .iter()
        .map(|body| {
            let mut w = head.clone().into_bytes();
            if !(bodyless && body.is_empty()) {
                w.extend_from_slice(format!("content-length: {}\r\n", body.len()).as_bytes());
            }
            w.extend_from_slice(b"\r\n");
            w.extend_from_slice(body);
            Bytes::from(w)
        })
        .collect();
    Ok(Prepared {
        addr,
        head_only: method == "HEAD",
        overhead_headers: target
            .overhead_headers
            .iter()
            .map(|h| h.to_ascii_lowercase())
            .collect(),
        wire,
        dialect: target.dialect,
    })
}

/// State shared by every thread of one step.
struct Shared {
    target: Arc<Prepared>,
    timeout: Duration,
    selection: Selection,
    seed: u64,
    /// `[report] slo`, judged per request (goodput).
    slo: Option<Rule>,
    /// Workers in the step: worker `w` owns tickets `w`, `w + c`, `w + 2c`, …
    /// (closed loop, and every warm-up).
    concurrency: u64,
    schedule: Schedule,
    /// Of the global arrival sequence, this process sends `first`,
    /// `first + every`, … (`0, 1` unless sharded); its threads split those.
    arrivals: (usize, usize),
    threads: usize,
    /// Keep every success's latency (`SCENARIO_KEEP_SAMPLES=1`, for tests
    /// that check the histograms against the raw samples).
    keep_samples: bool,
    warmup: u64,
    stop: Stop,
    start: OnceLock<Instant>,
    /// When the first worker that had work found none left, in nanoseconds
    /// from the start; [`OPEN`] until then. Written once per worker at its
    /// end, read (relaxed) once per request: never contended.
    drained: AtomicU64,
    /// Threads and the coordinator meet here after warm-up, then again to start.
    warmed: Barrier,
    go: Barrier,
    /// Set before `go` when the warm-up showed there is nothing to measure.
    abort: AtomicBool,
    cancel: CancellationToken,
    live: Arc<Live>,
    /// The pacing each stream is checked against (buffering, stalls).
    pacing: Option<Pacing>,
    /// What the warm-up saw, merged once per thread.
    warm: Mutex<Recorder>,
}

/// [`Shared::drained`] while every worker still has work.
const OPEN: u64 = u64::MAX;

impl Shared {
    /// Whether worker ticket `ticket` is measured: every worker owns every
    /// `c`-th ticket, so a fixed count is split in fair shares up front
    /// (worker `w` of `c` gets `n / c`, one more when `w < n % c`) with no
    /// shared counter, and round-robin body selection still covers the bodies
    /// in ticket order.
    /// `elapsed` is the time since the start of measurement.
    #[inline]
    fn measured(&self, ticket: u64, elapsed: Duration) -> bool {
        match self.stop {
            Stop::Requests(n) => ticket < n,
            Stop::Duration(d) => elapsed < d,
        }
    }

    /// The busy window's end so far (`None` while every worker has work).
    #[inline]
    fn drained(&self) -> Option<Duration> {
        let ns = self.drained.load(Ordering::Relaxed);
        (ns != OPEN).then(|| Duration::from_nanos(ns))
    }

    /// A worker that had work found none left at `at` (from the start).
    fn drain(&self, at: Duration) {
        let ns = u64::try_from(at.as_nanos()).unwrap_or(OPEN - 1);
        if ns < self.drained.load(Ordering::Relaxed) {
            self.drained.fetch_min(ns, Ordering::Relaxed);
        }
    }
}

/// How many load threads to use for `concurrency` workers:
/// `SCENARIO_LOAD_THREADS` if set, else one per core this thread may run on
/// (with `topology.cpus`, the harness's CPUs: the step runs pinned to them);
/// never more than the workers. Measured on 2 cores against the local fake upstream at c=50 on
/// a quiet machine, alternating: two threads 158-159k req/s, one 139k (oha
/// 160k). An idle load thread costs the gateway under test nothing.
pub fn threads_for(concurrency: u32) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = std::env::var("SCENARIO_LOAD_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or(cores);
    threads.min(concurrency as usize).max(1)
}

/// Run one step to completion (blocking). Cancellation ends it early; what
/// was measured until then is returned. `before_measure` runs after the
/// warm-up, when no request is in flight, just before measuring starts.
///
/// A warm-up in which every request failed ends the step with an error
/// naming the count and the classes: there would be nothing to measure.
pub fn run_step(
    target: Arc<Prepared>,
    plan: &Target,
    step: &Step,
    cancel: CancellationToken,
    live: Arc<Live>,
    before_measure: impl FnOnce(),
) -> std::io::Result<StepOutcome> {
    let workers = step.workers();
    // A shard runs the global workers that are its own, under their global
    // ids, so they own the same tickets and seeds as in one process.
    let ids: Vec<u32> = match step.shard {
        Some(s) => s.workers(workers),
        None => (0..workers).collect(),
    };
    let threads = threads_for(ids.len() as u32);
    let schedule = schedule_of(step);
    let shared = Arc::new(Shared {
        target,
        timeout: plan.timeout,
        selection: plan.selection,
        slo: plan.slo.as_ref().map(Rule::new),
        seed: plan.seed ^ (step.index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        concurrency: u64::from(workers.max(1)),
        schedule,
        arrivals: step
            .shard
            .map_or((0, 1), |s| (s.index as usize, s.count as usize)),
        threads,
        keep_samples: std::env::var_os("SCENARIO_KEEP_SAMPLES").is_some_and(|v| v == "1"),
        warmup: step.warmup,
        stop: step.stop,
        start: OnceLock::new(),
        drained: AtomicU64::new(OPEN),
        warmed: Barrier::new(threads + 1),
        go: Barrier::new(threads + 1),
        abort: AtomicBool::new(false),
        cancel,
        live,
        pacing: plan.pacing,
        warm: Mutex::new(Recorder::default()),
    });
    let handles = spawn_threads(&shared, &ids)?;
    shared.warmed.wait();
    let warm = std::mem::take(&mut *shared.warm.lock().unwrap_or_else(|p| p.into_inner()));
    let warmup = warm.errors();
    let failed = (!shared.cancel.is_cancelled() && warm.successes() == 0 && warmup.total > 0)
        .then(|| warmup_failed(&warmup, shared.target.addr));
    if failed.is_some() {
        shared.abort.store(true, Ordering::Relaxed);
    } else {
        before_measure();
    }
    let start = Instant::now();
    let started = std::time::SystemTime::now();
    let _ = shared.start.set(start);
    shared.go.wait();
    let recorder = join_threads(handles)?;
    if let Some(message) = failed {
        return Err(std::io::Error::other(message));
    }
    let whole = recorder.last_end();
    let open_loop = open_loop_summary(step, &recorder);
    let window = Window {
        whole,
        busy: shared.drained().map_or(whole, |d| d.min(whole)),
    };
    Ok(StepOutcome {
        open_loop,
        goodput: shared.slo.map(|_| recorder.goodput_summary(window)),
        window,
        recorder,
        warmup_errors: warmup.total,
        warmup,
        cancelled: shared.cancel.is_cancelled(),
        started,
    })
}

/// The step's schedule: open (arrivals at a rate, maybe ramped), a worker
/// ramp, or closed.
fn schedule_of(step: &Step) -> Schedule {
    let ramp = step.ramp.clone().map(Arc::new);
    match (step.open, ramp) {
        (Some(o), ramp) => Schedule::Open {
            per_s: o.per_s,
            arrival: o.arrival,
            seed: o.seed ^ (step.index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
            ramp,
        },
        (None, Some(r)) => Schedule::Workers(r),
        (None, None) => Schedule::Closed,
    }
}

type LoadThread = std::thread::JoinHandle<std::io::Result<Recorder>>;

/// One OS thread per `shared.threads`, thread `t` running every
/// `threads`-th of the worker ids.
fn spawn_threads(shared: &Arc<Shared>, ids: &[u32]) -> std::io::Result<Vec<LoadThread>> {
    let threads = shared.threads;
    let mut handles = Vec::with_capacity(threads);
    for t in 0..threads {
        let workers: Vec<u32> = ids
            .iter()
            .enumerate()
            .filter(|(k, _)| k % threads == t)
            .map(|(_, &w)| w)
            .collect();
        let shared = shared.clone();
        handles.push(
            std::thread::Builder::new()
                .name(format!("load-{t}"))
                .spawn(move || load_thread(shared, workers, t))?,
        );
    }
    Ok(handles)
}

/// The threads' recorders merged, or the first thread's error.
fn join_threads(handles: Vec<LoadThread>) -> std::io::Result<Recorder> {
    let mut recorder = Recorder::default();
    for handle in handles {
        match handle.join() {
            Ok(Ok(r)) => recorder.merge(&r),
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err(std::io::Error::other("a load thread panicked")),
        }
    }
    Ok(recorder)
}

/// An open-loop step's summary against its (this shard's) target rate.
fn open_loop_summary(step: &Step, recorder: &Recorder) -> Option<OpenLoopSummary> {
    step.open.zip(step.scheduled_window()).map(|(o, window)| {
        // A ramp's target is its mean rate over the ramp.
        let target = step.ramp.as_ref().map_or(o.per_s, |r| {
            let total = r.total().as_secs_f64();
            r.area(total) / total.max(f64::MIN_POSITIVE)
        });
        let per_s = step.shard.map_or(target, |s| s.rate(target));
        recorder.open_summary(per_s, window)
    })
}

fn load_thread(shared: Arc<Shared>, workers: Vec<u32>, thread: usize) -> std::io::Result<Recorder> {
    let sweep = (shared.timeout / 50).clamp(Duration::from_millis(1), Duration::from_millis(50));
    let mut lp = match rt::Loop::new(sweep) {
        Ok(lp) => lp,
        Err(e) => {
            // Keep the barriers whole so the coordinator is not left waiting.
            shared.warmed.wait();
            shared.go.wait();
            return Err(e);
        }
    };
    let recorder = Rc::new(RefCell::new(if shared.keep_samples {
        Recorder::keeping_samples()
    } else {
        Recorder::default()
    }));
    let conns = warm_thread(&mut lp, &shared, &workers);
    // Nothing is in flight on this thread now, so blocking here is harmless.
    shared.warmed.wait();
    shared.go.wait();
    if !shared.abort.load(Ordering::Relaxed) {
        measure_thread(&mut lp, &shared, conns, &workers, thread, &recorder);
    }
    drop(lp);
    Ok(Rc::try_unwrap(recorder)
        .map(RefCell::into_inner)
        .unwrap_or_else(|rc| rc.borrow().clone()))
}

/// Warm up the thread's workers, each on its own connection, and add what
/// the warm-up recorded to the step's; the connections, warm, in order.
fn warm_thread(lp: &mut rt::Loop, shared: &Arc<Shared>, workers: &[u32]) -> Vec<Conn> {
    let warm_recorder = Rc::new(RefCell::new(Recorder::default()));
    let warm = workers
        .iter()
        .map(|&w| warm_up(shared.clone(), warm_recorder.clone(), w))
        .collect();
    let conns = lp
        .run(warm, Some(&shared.cancel))
        .into_iter()
        .map(Option::unwrap_or_default)
        .collect();
    shared
        .warm
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .merge(&warm_recorder.borrow());
    conns
}

/// Run the thread's measured loops, one per worker, until all end or the
/// step is cancelled (in-flight requests are then dropped unrecorded).
fn measure_thread(
    lp: &mut rt::Loop,
    shared: &Arc<Shared>,
    conns: Vec<Conn>,
    workers: &[u32],
    thread: usize,
    recorder: &Rc<RefCell<Recorder>>,
) {
    let start = *shared.start.get().expect("set before the go barrier");
    if !shared.schedule.is_closed() {
        rt::tight_timers();
    }
    let (first, every) = shared.arrivals;
    let arrivals = shared
        .schedule
        .arrivals(first + every * thread, every * shared.threads)
        .map(|a| Rc::new(Dispatch::new(a)));
    let mut pairs: Vec<(Conn, u32)> = conns.into_iter().zip(workers.iter().copied()).collect();
    if arrivals.is_some() {
        // The open loop hands arrivals to the most recently idle worker
        // first; queued last, the lowest (warmed-up) workers go first.
        pairs.reverse();
    }
    let measure = pairs
        .into_iter()
        .map(|(conn, w)| {
            measure_loop(
                shared.clone(),
                conn,
                recorder.clone(),
                arrivals.clone(),
                start,
                w,
            )
        })
        .collect();
    lp.run(measure, Some(&shared.cancel));
}
