//! The load generator: one closed-loop request loop, driven by a step's stop rule.
//!
//! Layout: one OS thread per core, each with a current-thread tokio runtime
//! and its own [`Recorder`] shared by the workers on it (no locks, no
//! atomics on the sample path). Each worker owns one keep-alive connection.
//! A request is built before the clock starts; after it ends, the sample
//! goes into the thread's histogram. Recorders are merged after the step.

mod conn;
pub mod sse;
pub mod upstream_stats;

use std::cell::RefCell;
use std::net::ToSocketAddrs;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier, OnceLock};
use std::time::{Duration, Instant};

use hyper::header::{HeaderName, HeaderValue, HOST};
use hyper::{HeaderMap, Method, Uri};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio_util::sync::CancellationToken;

use crate::metrics::{Failure, Recorder, Tokens};
use crate::plan::{Step, Stop, Target};
use crate::scenario::model::Selection;
pub use conn::Prepared;
use conn::{Conn, Probe};

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
    /// From the start of measurement to the last answer.
    pub window: Duration,
    /// Warm-up requests that failed (not part of the metrics).
    pub warmup_errors: u64,
    /// The step was cut short by cancellation.
    pub cancelled: bool,
}

/// Resolve the target once: address, request line, headers and bodies.
pub fn prepare(target: &Target) -> Result<Prepared, String> {
    let uri: Uri = target
        .url
        .parse()
        .map_err(|e| format!("bad target URL `{}`: {e}", target.url))?;
    let host = uri
        .host()
        .ok_or_else(|| format!("target URL `{}` has no host", target.url))?;
    let port = uri.port_u16().unwrap_or(80);
    let addr = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve `{host}`: {e}"))?
        .next()
        .ok_or_else(|| format!("`{host}` resolves to no address"))?;
    let path: Uri = uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .parse()
        .map_err(|e| format!("bad path in `{}`: {e}", target.url))?;
    let mut headers = HeaderMap::new();
    let authority = uri.authority().map_or(host.to_string(), |a| a.to_string());
    headers.insert(
        HOST,
        HeaderValue::from_str(&authority).map_err(|e| format!("bad host header: {e}"))?,
    );
    for (k, v) in &target.headers {
        let name =
            HeaderName::from_bytes(k.as_bytes()).map_err(|e| format!("header `{k}`: {e}"))?;
        let value = HeaderValue::from_str(v).map_err(|e| format!("header `{k}` value: {e}"))?;
        headers.insert(name, value);
    }
    let method = Method::from_bytes(target.method.as_bytes())
        .map_err(|e| format!("method `{}`: {e}", target.method))?;
    Ok(Prepared {
        addr,
        method,
        uri: path,
        headers,
        bodies: target.body_bytes.clone(),
    })
}

/// State shared by every thread of one step.
struct Shared {
    target: Arc<Prepared>,
    timeout: Duration,
    selection: Selection,
    seed: u64,
    warmup: u64,
    warm_claimed: AtomicU64,
    stop: Stop,
    claimed: AtomicU64,
    start: OnceLock<Instant>,
    /// Threads and the coordinator meet here after warm-up, then again to start.
    warmed: Barrier,
    go: Barrier,
    cancel: CancellationToken,
    live: Arc<Live>,
    warmup_errors: AtomicU64,
}

impl Shared {
    /// The next measured ticket, or `None` when the step is over.
    #[inline]
    fn claim(&self, start: Instant) -> Option<u64> {
        if self.cancel.is_cancelled() {
            return None;
        }
        let ticket = self.claimed.fetch_add(1, Ordering::Relaxed);
        match self.stop {
            Stop::Requests(n) => (ticket < n).then_some(ticket),
            Stop::Duration(d) => (start.elapsed() < d).then_some(ticket),
        }
    }

    fn claim_warmup(&self) -> Option<u64> {
        if self.cancel.is_cancelled() {
            return None;
        }
        let ticket = self.warm_claimed.fetch_add(1, Ordering::Relaxed);
        (ticket < self.warmup).then_some(ticket)
    }
}

/// How many load threads to use for `concurrency` workers.
pub fn threads_for(concurrency: u32) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    cores.min(concurrency as usize).max(1)
}

/// Run one step to completion (blocking). Cancellation ends it early; what
/// was measured until then is returned. `before_measure` runs after the
/// warm-up, when no request is in flight, just before measuring starts.
pub fn run_step(
    target: Arc<Prepared>,
    plan: &Target,
    step: &Step,
    cancel: CancellationToken,
    live: Arc<Live>,
    before_measure: impl FnOnce(),
) -> std::io::Result<StepOutcome> {
    let threads = threads_for(step.concurrency);
    let shared = Arc::new(Shared {
        target,
        timeout: plan.timeout,
        selection: plan.selection,
        seed: plan.seed ^ (step.index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        warmup: step.warmup,
        warm_claimed: AtomicU64::new(0),
        stop: step.stop,
        claimed: AtomicU64::new(0),
        start: OnceLock::new(),
        warmed: Barrier::new(threads + 1),
        go: Barrier::new(threads + 1),
        cancel,
        live,
        warmup_errors: AtomicU64::new(0),
    });
    let mut handles = Vec::with_capacity(threads);
    for t in 0..threads {
        let workers: Vec<u32> = (0..step.concurrency)
            .filter(|w| *w as usize % threads == t)
            .collect();
        let shared = shared.clone();
        handles.push(
            std::thread::Builder::new()
                .name(format!("load-{t}"))
                .spawn(move || load_thread(shared, workers))?,
        );
    }
    shared.warmed.wait();
    before_measure();
    let start = Instant::now();
    let _ = shared.start.set(start);
    shared.go.wait();
    let mut recorder = Recorder::default();
    for handle in handles {
        match handle.join() {
            Ok(Ok(r)) => recorder.merge(&r),
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err(std::io::Error::other("a load thread panicked")),
        }
    }
    Ok(StepOutcome {
        window: recorder.last_end(),
        recorder,
        warmup_errors: shared.warmup_errors.load(Ordering::Relaxed),
        cancelled: shared.cancel.is_cancelled(),
    })
}

fn load_thread(shared: Arc<Shared>, workers: Vec<u32>) -> std::io::Result<Recorder> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    let runtime = match runtime {
        Ok(rt) => rt,
        Err(e) => {
            // Keep the barriers whole so the coordinator is not left waiting.
            shared.warmed.wait();
            shared.go.wait();
            return Err(e);
        }
    };
    let local = tokio::task::LocalSet::new();
    let recorder = Rc::new(RefCell::new(Recorder::default()));
    local.block_on(&runtime, async {
        let mut warm = Vec::with_capacity(workers.len());
        for _ in &workers {
            warm.push(tokio::task::spawn_local(warm_up(shared.clone())));
        }
        let mut conns = Vec::with_capacity(warm.len());
        for handle in warm {
            conns.push(handle.await.unwrap_or_default());
        }
        // Nothing is in flight on this thread now, so blocking here is harmless.
        shared.warmed.wait();
        shared.go.wait();
        let start = *shared.start.get().expect("set before the go barrier");
        let mut measure = Vec::with_capacity(conns.len());
        for (conn, &w) in conns.into_iter().zip(&workers) {
            measure.push(tokio::task::spawn_local(measure_loop(
                shared.clone(),
                conn,
                recorder.clone(),
                start,
                w,
            )));
        }
        for handle in measure {
            let _ = handle.await;
        }
    });
    drop(local);
    Ok(Rc::try_unwrap(recorder)
        .map(RefCell::into_inner)
        .unwrap_or_else(|rc| rc.borrow().clone()))
}

/// Open the worker's connection and spend warm-up tickets on it.
async fn warm_up(shared: Arc<Shared>) -> Conn {
    let mut conn = Conn::default();
    let _ = tokio::time::timeout(shared.timeout, conn.ensure(shared.target.addr)).await;
    let n = shared.target.bodies.len() as u64;
    let mut probe = Probe::default();
    while let Some(ticket) = shared.claim_warmup() {
        let req = shared.target.request((ticket % n) as usize);
        let failed = tokio::select! {
            r = tokio::time::timeout(shared.timeout, conn.send(shared.target.addr, req, &mut probe)) => {
                !matches!(r, Ok(None))
            }
            _ = shared.cancel.cancelled() => break,
        };
        if failed {
            conn.reset();
            shared.warmup_errors.fetch_add(1, Ordering::Relaxed);
        }
    }
    conn
}

/// The one measured request loop.
async fn measure_loop(
    shared: Arc<Shared>,
    mut conn: Conn,
    recorder: Rc<RefCell<Recorder>>,
    start: Instant,
    worker: u32,
) {
    let target = &shared.target;
    let n = target.bodies.len() as u64;
    let mut rng = SmallRng::seed_from_u64(shared.seed.wrapping_add(u64::from(worker)));
    let mut probe = Probe::default();
    while let Some(ticket) = shared.claim(start) {
        let body = match shared.selection {
            Selection::RoundRobin => ticket % n,
            Selection::Random => rng.gen_range(0..n),
        };
        let req = target.request(body as usize);
        let began = Instant::now();
        let failure = tokio::select! {
            r = tokio::time::timeout(shared.timeout, conn.send(target.addr, req, &mut probe)) => match r {
                Ok(failure) => failure,
                Err(_) => {
                    conn.reset();
                    Some(Failure::Timeout)
                }
            },
            _ = shared.cancel.cancelled() => break,
        };
        let end = Instant::now();
        let mut r = recorder.borrow_mut();
        r.record(end - start, end - began, failure);
        if failure.is_none() {
            record_answer(&mut r, &probe, began, end);
        }
        drop(r);
        shared.live.done.fetch_add(1, Ordering::Relaxed);
        if failure.is_some() {
            shared.live.errors.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Streaming and token figures of a successful answer (after the clock stopped).
#[inline]
fn record_answer(recorder: &mut Recorder, probe: &Probe, began: Instant, end: Instant) {
    if probe.streamed {
        let Some(first) = probe.first else {
            return;
        };
        recorder.record_stream(first - began, &probe.gaps);
        let count = probe.completion_tokens.unwrap_or(probe.content_events);
        let span = probe.last.map_or(Duration::ZERO, |last| last - first);
        recorder.record_tokens(Tokens {
            count,
            per_s: (count >= 2 && !span.is_zero()).then(|| (count - 1) as f64 / span.as_secs_f64()),
        });
    } else if let Some(count) = probe.completion_tokens {
        let span = end - began;
        recorder.record_tokens(Tokens {
            count,
            per_s: (count >= 1 && !span.is_zero()).then(|| count as f64 / span.as_secs_f64()),
        });
    }
}
