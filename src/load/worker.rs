//! The per-request loop: a worker's warm-up, then its measured requests
//! (closed loop over its tickets, or open loop over its thread's arrivals),
//! each recorded into the thread's [`Recorder`]; and the error for a warm-up
//! in which every request failed.

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::conn::{BodyScanner, Conn};
use super::rt;
use super::schedule::Arrivals;
use super::{Schedule, Shared};
use crate::metrics::{busy_share, ErrorClass, ErrorSummary, Pacing, Recorder, Tokens, LATE};
use crate::plan::{Selection, Stop};

/// Open the worker's connection and spend its share of the warm-up on it
/// (tickets `worker`, `worker + c`, … below the warm-up count).
pub(super) async fn warm_up(
    shared: Arc<Shared>,
    recorder: Rc<RefCell<Recorder>>,
    worker: u32,
) -> Conn {
    let mut conn = Conn::default();
    let target = &*shared.target;
    // An open loop's workers beyond the warm-up connect on first use: most
    // of `max_in_flight` may never be needed. A worker ramp's connect when
    // they start, as a new user would.
    if shared.schedule == Schedule::Closed || u64::from(worker) < shared.warmup {
        let _ = rt::within(Instant::now() + shared.timeout, conn.ensure(target.addr)).await;
    }
    let n = target.wire.len() as u64;
    let mut scanner = BodyScanner::new(target.dialect);
    let mut ticket = u64::from(worker);
    while ticket < shared.warmup {
        let wire = &target.wire[(ticket % n) as usize];
        let began = Instant::now();
        // Cancelled, the loop drops this future where it waits.
        let failure = conn
            .send_within(began + shared.timeout, target, wire, &mut scanner)
            .await;
        let mut r = recorder.borrow_mut();
        r.record(Duration::ZERO, began.elapsed(), failure, 1.0);
        if conn.resent() {
            r.record_retry();
        }
        ticket += shared.concurrency;
    }
    conn
}

/// Progress is published to [`Live`](super::Live) every this many requests per worker.
const PUBLISH: u64 = 32;

/// The one measured request loop: over worker `worker`'s tickets (closed
/// loop), or over the thread's arrivals, each claimed when the worker is
/// free and sent at its intended time (open loop).
// Long by choice (issue 16): the timed per-request loop, read top to bottom
// in one place; one async fn is one state machine, with no helper futures.
pub(super) async fn measure_loop(
    shared: Arc<Shared>,
    mut conn: Conn,
    recorder: Rc<RefCell<Recorder>>,
    arrivals: Option<Rc<Dispatch>>,
    start: Instant,
    worker: u32,
) {
    let target = &*shared.target;
    let n = target.wire.len() as u64;
    let mut rng = SmallRng::seed_from_u64(shared.seed.wrapping_add(u64::from(worker)));
    let mut scanner = BodyScanner::new(target.dialect);
    let (mut done, mut errors) = (0u64, 0u64);
    let mut ticket = u64::from(worker);
    let mut worked = false;
    let mut ramped_out = false;
    // (The loop takes in its sockets' events before it first polls this,
    // so a connection the server closed while the threads met at the
    // barrier is seen as closed before the first request: the resend rule
    // on `Conn`.)
    // The clock as last read: a closed loop's next request follows the
    // last answer at once, so its end tells whether there is time left.
    let mut now = Instant::now();
    loop {
        if let Some(ramp) = shared.schedule.workers() {
            // A ramp's worker runs while the target is above its index;
            // stopped, it closes its connection, as a leaving user would.
            let t = (now - start).as_secs_f64();
            if ramp.at(t) <= f64::from(worker) {
                conn = Conn::default();
                match ramp.first_above(f64::from(worker), t) {
                    Some(at) => {
                        rt::sleep_until(start + Duration::from_secs_f64(at)).await;
                        now = Instant::now();
                    }
                    None => {
                        ramped_out = true;
                        break;
                    }
                }
            }
        }
        let intended = match &arrivals {
            None if shared.measured(ticket, now - start) => None,
            None => break,
            Some(dispatch) => {
                dispatch.lead().await;
                let next = next_arrival(&shared, &mut dispatch.arrivals.borrow_mut(), start);
                match next {
                    Next::Send(i, at) => {
                        ticket = i;
                        Some(start + at)
                    }
                    Next::Dropped(n) => {
                        recorder.borrow_mut().record_dropped(n);
                        dispatch.hand_off();
                        break;
                    }
                    Next::End => {
                        dispatch.hand_off();
                        break;
                    }
                }
            }
        };
        // Late: no worker was free when the arrival was due (the timer's
        // own wake-up delay, under a millisecond or two, is not lateness).
        let mut late = false;
        if let (Some(at), Some(dispatch)) = (intended, &arrivals) {
            let now = Instant::now();
            late = now > at + LATE;
            // Lead until shortly before the arrival is due, so the next
            // leader can take an arrival due right after this one.
            if let Some(early) = at.checked_sub(HORIZON).filter(|&e| e > now) {
                rt::sleep_until(early).await;
            }
            dispatch.hand_off();
            rt::sleep_until(at).await;
        }
        let body = match shared.selection {
            Selection::RoundRobin => ticket % n,
            Selection::Random => rng.gen_range(0..n),
        };
        let wire = &target.wire[body as usize];
        let began = Instant::now();
        let failure = conn
            .send_within(began + shared.timeout, target, wire, &mut scanner)
            .await;
        let end = Instant::now();
        now = end;
        // Open loop: latency (and TTFT) from the intended time.
        let origin = intended.map_or(began, |at| at.min(began));
        let (from, to) = (origin - start, end - start);
        let busy = busy_share(from, to, shared.drained());
        let mut r = recorder.borrow_mut();
        r.record(to, to - from, failure, busy);
        r.record_flight(began - start, to);
        if intended.is_some() {
            let service = failure.is_none().then(|| end - began);
            r.record_send(began - start, began - origin, late, service);
        }
        if conn.resent() {
            r.record_retry();
        }
        if failure.is_none() {
            record_answer(&mut r, &scanner, shared.pacing.as_ref(), origin, end, busy);
            if let Some(rule) = &shared.slo {
                let first = scanner.first.filter(|_| scanner.streamed).unwrap_or(end);
                if rule.met(end - origin, first.max(origin) - origin, &scanner.gaps) {
                    r.record_good(busy);
                }
            }
        }
        drop(r);
        done += 1;
        errors += u64::from(failure.is_some());
        if done == PUBLISH {
            shared.live.done.fetch_add(done, Ordering::Relaxed);
            shared.live.errors.fetch_add(errors, Ordering::Relaxed);
            (done, errors) = (0, 0);
        }
        ticket += shared.concurrency;
        worked = true;
    }
    // The first worker with work to run out of it closes the busy window; a
    // worker whose share was empty never had work, so it says nothing, and
    // neither does one a ramp stopped before the end.
    if worked && !ramped_out {
        shared.drain(start.elapsed());
    }
    shared.live.done.fetch_add(done, Ordering::Relaxed);
    shared.live.errors.fetch_add(errors, Ordering::Relaxed);
}

/// How long before an arrival is due its worker hands on the lead, so
/// arrivals closer together than a wake-up can be late on a busy machine
/// (a millisecond or two) are each taken on time by their own worker.
const HORIZON: Duration = Duration::from_millis(2);

/// One thread's open-loop arrivals and who waits for the next one: one
/// worker at a time leads (claims the next arrival and sleeps until
/// [`HORIZON`] before it is due), then hands the lead to the most recently
/// idle worker, sleeps the rest of the way and sends.
/// So an idle worker that waits is never ahead of a due arrival, a burst
/// uses as many workers as it needs, and a low rate reuses the same few
/// warm connections instead of cycling through all `max_in_flight`.
pub(super) struct Dispatch {
    arrivals: RefCell<Arrivals>,
    led: Cell<bool>,
    /// The workers (loop tasks) waiting to lead, the last idle last.
    idle: RefCell<Vec<u32>>,
    /// Which tasks are in `idle` (a task woken for another reason, its
    /// socket's close say, polls its wait again without queueing twice).
    waiting: RefCell<Vec<bool>>,
}

impl Dispatch {
    pub(super) fn new(arrivals: Arrivals) -> Dispatch {
        Dispatch {
            arrivals: RefCell::new(arrivals),
            led: Cell::new(false),
            idle: RefCell::new(Vec::new()),
            waiting: RefCell::new(Vec::new()),
        }
    }

    /// Wait until this worker may lead (single-threaded: no race between
    /// the check and the set; a stale wake-up just waits again).
    async fn lead(&self) {
        poll_fn(|_| {
            if !self.led.get() {
                self.led.set(true);
                return Poll::Ready(());
            }
            let me = rt::current();
            let mut waiting = self.waiting.borrow_mut();
            if waiting.len() <= me as usize {
                waiting.resize(me as usize + 1, false);
            }
            if !waiting[me as usize] {
                waiting[me as usize] = true;
                self.idle.borrow_mut().push(me);
            }
            Poll::Pending
        })
        .await
    }

    /// Give up the lead to the worker that went idle last.
    fn hand_off(&self) {
        self.led.set(false);
        if let Some(next) = self.idle.borrow_mut().pop() {
            self.waiting.borrow_mut()[next as usize] = false;
            rt::wake(next);
        }
    }
}

/// What an open-loop worker does next.
enum Next {
    /// Send arrival `i` at this offset from the start.
    Send(u64, Duration),
    /// The step ended with this many due arrivals unsent.
    Dropped(u64),
    End,
}

/// Claim the thread's next arrival. In a `duration` step, arrivals at or
/// after its end are not sent; if the step already ended, the due ones
/// still unsent are counted as dropped (never silently skipped).
#[inline]
fn next_arrival(shared: &Shared, arrivals: &mut Arrivals, start: Instant) -> Next {
    let Some((i, at)) = arrivals.next() else {
        return Next::End;
    };
    match shared.stop {
        Stop::Requests(n) if i >= n => Next::End,
        Stop::Requests(_) => Next::Send(i, at),
        Stop::Duration(d) if at >= d => Next::End,
        Stop::Duration(d) if start.elapsed() < d => Next::Send(i, at),
        Stop::Duration(d) => {
            let rest = arrivals.take_while(|&(_, at)| at < d).count() as u64;
            Next::Dropped(1 + rest)
        }
    }
}

/// Streaming and token figures of a successful answer (after the clock stopped).
#[inline]
fn record_answer(
    recorder: &mut Recorder,
    scanner: &BodyScanner,
    pacing: Option<&Pacing>,
    began: Instant,
    end: Instant,
    busy: f64,
) {
    if let Some(ms) = scanner.overhead_ms {
        recorder.record_gateway_overhead(ms);
    }
    if scanner.streamed {
        let Some(first) = scanner.first else {
            return;
        };
        recorder.record_stream(first - began, &scanner.gaps);
        if let Some(pacing) = pacing {
            recorder.record_stream_check(pacing, &scanner.gaps);
        }
        let count = scanner.completion_tokens.unwrap_or(scanner.content_events);
        let span = scanner.last.map_or(Duration::ZERO, |last| last - first);
        recorder.record_tokens(
            Tokens {
                count,
                per_s: (count >= 2 && !span.is_zero())
                    .then(|| (count - 1) as f64 / span.as_secs_f64()),
            },
            busy,
        );
    } else if let Some(count) = scanner.completion_tokens {
        let span = end - began;
        recorder.record_tokens(
            Tokens {
                count,
                per_s: (count >= 1 && !span.is_zero()).then(|| count as f64 / span.as_secs_f64()),
            },
            busy,
        );
    }
}

/// The error for a warm-up in which every request failed: how many, of
/// which classes, and what that points at.
pub(super) fn warmup_failed(errors: &ErrorSummary, addr: std::net::SocketAddr) -> String {
    let classes = errors.classes();
    let counts: Vec<String> = classes
        .iter()
        .map(|(class, n)| format!("{n} {}", class.label()))
        .collect();
    let only = |c: ErrorClass| classes.iter().all(|(class, _)| *class == c);
    let why = if errors.client > 0 {
        "this machine ran out of file descriptors or local ports: raise `ulimit -n` \
         before the command, or lower `load.concurrency`"
            .to_string()
    } else if only(ErrorClass::Connect) {
        format!("nothing answered at {addr}; is the target running and listening there?")
    } else if only(ErrorClass::Protocol) {
        format!(
            "{addr} answered, but not in valid HTTP/1.1 (malformed or mis-framed answers); \
             is it an HTTP/1.1 server? try `curl -v --http1.1` against it"
        )
    } else if only(ErrorClass::Shape) {
        format!(
            "{addr} answered 2xx, but not in the shape of the request's dialect (an Anthropic \
             or Responses request answered in chat completions' shape, say): the gateway passes \
             the request through untranslated, or `[request] dialect` or `path` is wrong"
        )
    } else if !errors.status.is_empty() {
        format!("{addr} answered, but never with a 2xx; check the request and the target's logs")
    } else {
        format!("no answer from {addr} completed; check the target's logs and `load.timeout`")
    };
    format!(
        "all {} warm-up requests failed ({}): {why}",
        errors.total,
        counts.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_warm_up_that_all_failed_names_count_classes_and_cause() {
        let addr: std::net::SocketAddr = "127.0.0.1:9".parse().unwrap();
        let refused = ErrorSummary {
            total: 100,
            connect: 100,
            ..ErrorSummary::default()
        };
        assert_eq!(
            warmup_failed(&refused, addr),
            "all 100 warm-up requests failed (100 connect): nothing answered at \
             127.0.0.1:9; is the target running and listening there?"
        );
        let mixed = ErrorSummary {
            total: 10,
            connect: 4,
            client: 6,
            ..ErrorSummary::default()
        };
        let e = warmup_failed(&mixed, addr);
        assert!(
            e.starts_with("all 10 warm-up requests failed (4 connect, 6 client): this machine")
                && e.contains("ulimit -n"),
            "{e}"
        );
        let broken = ErrorSummary {
            total: 5,
            protocol: 5,
            ..ErrorSummary::default()
        };
        assert_eq!(
            warmup_failed(&broken, addr),
            "all 5 warm-up requests failed (5 protocol): 127.0.0.1:9 answered, but not in \
             valid HTTP/1.1 (malformed or mis-framed answers); is it an HTTP/1.1 server? \
             try `curl -v --http1.1` against it"
        );
        let status = ErrorSummary {
            total: 3,
            status: [("500".to_string(), 3)].into(),
            ..ErrorSummary::default()
        };
        assert_eq!(
            warmup_failed(&status, addr),
            "all 3 warm-up requests failed (3 HTTP 500): 127.0.0.1:9 answered, but never \
             with a 2xx; check the request and the target's logs"
        );
    }
}
