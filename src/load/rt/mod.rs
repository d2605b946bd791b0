//! The load threads' own event loop: one `epoll` (mio, edge-triggered) per
//! thread, a run queue of the thread's workers, precise timers, request
//! deadlines and the sockets the workers speak through.
//!
//! A general runtime (tokio's) pays per request for what a load generator
//! does not need: a waker cloned and stored under a lock for every wait,
//! task state kept in atomics, a scheduler queue that checks which thread
//! it is on, a timer wheel entry moved for every request's timeout and the
//! clock read twice every time it parks (perf: about a third of the
//! client's user time). Here a worker is a task numbered in its thread, a
//! socket's readiness event puts the number of the task waiting on it in
//! the run queue, and nothing else happens between the kernel's answer and
//! the worker reading it. Workers are still plain `async fn`s, polled with
//! a no-op waker: every future they await is one of this module's, which
//! know their task by its number.
//!
//! - **Sockets** ([`Stream`]) are registered once, edge-triggered; a read
//!   that came back short, or a read or write that would block, clears the
//!   socket's readiness, so every request costs one `send` and one `recv`
//!   in the usual case, issued as plain system calls (libc's wrappers add
//!   thread-cancellation bookkeeping to each).
//! - **Timers** ([`sleep_until`]) wake their task on time to the
//!   microsecond: a heap of deadlines and one `timerfd` armed to the
//!   earliest.
//! - **Request deadlines** ([`within`]) cost a store per request: a
//!   periodic sweep ([`Loop::new`]'s `sweep`) finds the requests past their
//!   deadline, so a timeout fires up to one sweep late. The same sweep
//!   notices cancellation.
//! - **Fairness**: a worker whose socket is always ready yields after
//!   [`BUDGET`] socket operations, and the loop looks at its sockets at
//!   least every [`EVENT_INTERVAL`] task polls.

use std::cell::{Cell, RefCell};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::future::{poll_fn, Future};
use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::pin::pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Events, Interest, Token};
use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
use tokio_util::sync::CancellationToken;

mod stream;
pub use stream::Stream;

/// Socket operations a task may do in one poll before it yields.
pub const BUDGET: u32 = 128;
/// Task polls between two looks at the sockets while tasks are still ready.
pub const EVENT_INTERVAL: u32 = 61;

const READ: u8 = 1;
const WRITE: u8 = 2;
/// The peer closed (or the socket failed): readable until the end,
/// whatever a short read cleared, as no new event follows it.
const CLOSED: u8 = 4;
/// A slot (socket) or task number that is no one's.
const NONE: u32 = u32::MAX;
const TICK: Token = Token(usize::MAX);
const ALARM: Token = Token(usize::MAX - 1);

/// One socket's readiness, and the task to wake when it changes.
#[derive(Clone, Copy)]
struct Slot {
    ready: u8,
    task: u32,
}

/// What the loop knows of one task.
#[derive(Clone, Copy, Default)]
struct TaskState {
    queued: bool,
    /// The request it is in must end by then ([`within`]).
    deadline: Option<Instant>,
    /// The sweep found it past its deadline.
    expired: bool,
}

/// The state futures reach through the thread's loop.
struct Inner {
    registry: mio::Registry,
    current: Cell<u32>,
    budget: Cell<u32>,
    run: RefCell<VecDeque<u32>>,
    tasks: RefCell<Vec<TaskState>>,
    slots: RefCell<Vec<Slot>>,
    free: RefCell<Vec<u32>>,
    timers: RefCell<BinaryHeap<Reverse<(Instant, u32)>>>,
    alarm: TimerFd,
    /// The deadline the alarm is armed for.
    armed: Cell<Option<Instant>>,
}

thread_local! {
    static LOOP: RefCell<Option<Rc<Inner>>> = const { RefCell::new(None) };
}

/// The calling thread's loop. Panics outside one: every future of this
/// module runs inside [`Loop::run`].
fn inner() -> Rc<Inner> {
    LOOP.with(|l| l.borrow().clone())
        .expect("load::rt futures run inside a load::rt::Loop")
}

impl Inner {
    fn wake(&self, task: u32) {
        let mut tasks = self.tasks.borrow_mut();
        if let Some(t) = tasks.get_mut(task as usize) {
            if !t.queued {
                t.queued = true;
                self.run.borrow_mut().push_back(task);
            }
        }
    }

    /// One socket operation of the current task: `false` when its budget
    /// is spent (it is queued again and must return `Pending`).
    #[inline]
    fn spend(&self) -> bool {
        let left = self.budget.get();
        if left == 0 {
            self.wake(self.current.get());
            return false;
        }
        self.budget.set(left - 1);
        true
    }

    fn add_timer(&self, at: Instant) {
        self.timers
            .borrow_mut()
            .push(Reverse((at, self.current.get())));
        if self.armed.get().is_none_or(|a| at < a) {
            self.arm(at);
        }
    }

    /// Arm the alarm for `at` (at once if it is past).
    fn arm(&self, at: Instant) {
        let left = at
            .saturating_duration_since(Instant::now())
            .max(Duration::from_nanos(1));
        let armed = self.alarm.set(
            Expiration::OneShot(TimeSpec::from_duration(left)),
            TimerSetTimeFlags::empty(),
        );
        // Without an alarm the next sweep wakes the timers, late but woken.
        self.armed.set(armed.is_ok().then_some(at));
    }

    /// Wake the tasks whose timers are due; re-arm for the next one.
    fn fire_timers(&self) {
        let now = Instant::now();
        let mut timers = self.timers.borrow_mut();
        while let Some(&Reverse((at, task))) = timers.peek() {
            if at > now {
                break;
            }
            timers.pop();
            self.wake(task);
        }
        let next = timers.peek().map(|&Reverse((at, _))| at);
        drop(timers);
        self.armed.set(None);
        if let Some(at) = next {
            self.arm(at);
        }
    }

    /// Mark the tasks past their deadline expired and wake them.
    fn sweep(&self) {
        let now = Instant::now();
        let mut late = Vec::new();
        for (i, t) in self.tasks.borrow_mut().iter_mut().enumerate() {
            if t.deadline.is_some_and(|d| d <= now) && !t.expired {
                t.expired = true;
                late.push(i as u32);
            }
        }
        for task in late {
            self.wake(task);
        }
        // Timers the alarm missed (it could not be armed) fire here, late.
        let due = self
            .timers
            .borrow()
            .peek()
            .is_some_and(|&Reverse((at, _))| at <= now);
        if due {
            self.fire_timers();
        }
    }

    fn new_slot(&self) -> u32 {
        if let Some(s) = self.free.borrow_mut().pop() {
            self.slots.borrow_mut()[s as usize] = Slot {
                ready: 0,
                task: NONE,
            };
            return s;
        }
        let mut slots = self.slots.borrow_mut();
        slots.push(Slot {
            ready: 0,
            task: NONE,
        });
        (slots.len() - 1) as u32
    }

    #[inline]
    fn ready(&self, slot: u32, what: u8) -> bool {
        let ready = self.slots.borrow()[slot as usize].ready;
        let closed = if what == READ { CLOSED } else { 0 };
        ready & (what | closed) != 0
    }

    /// The socket was drained: no longer `what`-ready until its next event.
    #[inline]
    fn clear(&self, slot: u32, what: u8) {
        self.slots.borrow_mut()[slot as usize].ready &= !what;
    }

    /// A closed socket's slot is free for the next one (a stale event
    /// for it is a harmless spurious readiness).
    fn free_slot(&self, slot: u32) {
        self.slots.borrow_mut()[slot as usize].task = NONE;
        self.free.borrow_mut().push(slot);
    }

    /// The socket is not `what`-ready: the current task waits for its next event.
    #[inline]
    fn wait(&self, slot: u32, what: u8) {
        let s = &mut self.slots.borrow_mut()[slot as usize];
        s.ready &= !what;
        s.task = self.current.get();
    }
}

/// A load thread's event loop; the thread's futures reach it while it
/// lives. Tasks run in phases ([`Loop::run`]): sockets and their
/// readiness carry over from one phase to the next.
pub struct Loop {
    poll: mio::Poll,
    events: Events,
    inner: Rc<Inner>,
    /// Fires every sweep: request deadlines and cancellation.
    tick: TimerFd,
}

impl Loop {
    /// A loop for this thread whose deadline sweep (and cancellation
    /// check) runs every `sweep`.
    pub fn new(sweep: Duration) -> io::Result<Loop> {
        let poll = mio::Poll::new()?;
        let registry = poll.registry().try_clone()?;
        let flags = TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC;
        let alarm = TimerFd::new(ClockId::CLOCK_MONOTONIC, flags)?;
        let tick = TimerFd::new(ClockId::CLOCK_MONOTONIC, flags)?;
        let every = TimeSpec::from_duration(sweep.max(Duration::from_millis(1)));
        tick.set(Expiration::Interval(every), TimerSetTimeFlags::empty())?;
        for (fd, token) in [(&alarm, ALARM), (&tick, TICK)] {
            let raw = fd.as_fd().as_raw_fd();
            registry.register(&mut SourceFd(&raw), token, Interest::READABLE)?;
        }
        let inner = Rc::new(Inner {
            registry,
            current: Cell::new(NONE),
            budget: Cell::new(BUDGET),
            run: RefCell::new(VecDeque::new()),
            tasks: RefCell::new(Vec::new()),
            slots: RefCell::new(Vec::new()),
            free: RefCell::new(Vec::new()),
            timers: RefCell::new(BinaryHeap::new()),
            alarm,
            armed: Cell::new(None),
        });
        LOOP.with(|l| *l.borrow_mut() = Some(inner.clone()));
        Ok(Loop {
            poll,
            events: Events::with_capacity(1024),
            inner,
            tick,
        })
    }

    /// Run `tasks` (task `i` is `tasks[i]`) until every one ends or
    /// `cancel` is cancelled; what each returned, `None` for those that
    /// had not ended (dropped where they were).
    pub fn run<F: Future>(
        &mut self,
        tasks: Vec<F>,
        cancel: Option<&CancellationToken>,
    ) -> Vec<Option<F::Output>> {
        let n = tasks.len();
        let mut tasks: Vec<_> = tasks.into_iter().map(|f| Some(Box::pin(f))).collect();
        let mut out: Vec<Option<F::Output>> = std::iter::repeat_with(|| None).take(n).collect();
        *self.inner.tasks.borrow_mut() = vec![TaskState::default(); n];
        self.inner.timers.borrow_mut().clear();
        self.inner.run.borrow_mut().clear();
        for t in 0..n as u32 {
            self.inner.wake(t);
        }
        // Take in what happened on the sockets since the last phase first
        // (a connection the server closed while the threads met is seen
        // as closed before the first request).
        self.turn(Some(Duration::ZERO));
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        let mut left = n;
        let mut polled = 0u32;
        while left > 0 {
            let next = self.inner.run.borrow_mut().pop_front();
            if let Some(t) = next {
                self.inner.tasks.borrow_mut()[t as usize].queued = false;
                let Some(task) = &mut tasks[t as usize] else {
                    continue;
                };
                self.inner.current.set(t);
                self.inner.budget.set(BUDGET);
                if let Poll::Ready(v) = task.as_mut().poll(&mut cx) {
                    out[t as usize] = Some(v);
                    tasks[t as usize] = None;
                    left -= 1;
                }
                self.inner.current.set(NONE);
                polled += 1;
                if polled < EVENT_INTERVAL {
                    continue;
                }
            }
            polled = 0;
            let idle = self.inner.run.borrow().is_empty();
            if self.turn((!idle).then_some(Duration::ZERO))
                && cancel.is_some_and(|c| c.is_cancelled())
            {
                break;
            }
        }
        // Dropped here, inside the loop's thread, so their sockets free their slots.
        drop(tasks);
        out
    }

    /// Wait for events (at most `timeout`) and wake their tasks; `true`
    /// when the sweep ran.
    fn turn(&mut self, timeout: Option<Duration>) -> bool {
        if let Err(e) = self.poll.poll(&mut self.events, timeout) {
            if e.kind() == io::ErrorKind::Interrupted {
                return false;
            }
            // Nothing sensible to do but try again; meanwhile deadlines
            // and cancellation are still looked at.
            std::thread::sleep(Duration::from_millis(1));
            self.inner.sweep();
            return true;
        }
        let mut swept = false;
        for event in &self.events {
            match event.token() {
                TICK => {
                    drain(self.tick.as_fd().as_raw_fd());
                    swept = true;
                }
                ALARM => {
                    drain(self.inner.alarm.as_fd().as_raw_fd());
                    self.inner.fire_timers();
                }
                Token(slot) => {
                    let mut bits = 0;
                    if event.is_readable() {
                        bits |= READ;
                    }
                    if event.is_read_closed() || event.is_error() {
                        bits |= READ | CLOSED;
                    }
                    if event.is_writable() || event.is_write_closed() || event.is_error() {
                        bits |= WRITE;
                    }
                    let task = {
                        let mut slots = self.inner.slots.borrow_mut();
                        let Some(s) = slots.get_mut(slot) else {
                            continue;
                        };
                        s.ready |= bits;
                        s.task
                    };
                    if task != NONE {
                        self.inner.wake(task);
                    }
                }
            }
        }
        if swept {
            self.inner.sweep();
        }
        swept
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        LOOP.with(|l| l.borrow_mut().take());
    }
}

/// Read a timer's expiration count (it is non-blocking: nothing to read is fine).
fn drain(fd: RawFd) {
    let mut count = [0u8; 8];
    let _ = nix::unistd::read(fd, &mut count);
}

/// Ask the kernel to fire this thread's timers on time rather than up to
/// its default 50 µs "slack" late (which it uses to batch wake-ups).
pub fn tight_timers() {
    let _ = nix::sys::prctl::set_timerslack(1);
}

/// Run one future to its end on a loop of its own.
#[cfg(test)]
pub fn block_on<F: Future>(f: F) -> F::Output {
    let mut lp = Loop::new(Duration::from_millis(10)).expect("an epoll and two timerfds");
    lp.run(vec![f], None)
        .pop()
        .flatten()
        .expect("not cancelled")
}

/// Return at `at` (at once if it is past), to the microsecond.
pub async fn sleep_until(at: Instant) {
    if Instant::now() >= at {
        return;
    }
    let inner = inner();
    inner.add_timer(at);
    poll_fn(|_| {
        if Instant::now() >= at {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await
}

/// The number of the task being polled (to be woken later with [`wake`]).
pub fn current() -> u32 {
    inner().current.get()
}

/// Put task `task` in the run queue (it polls its future again).
pub fn wake(task: u32) {
    inner().wake(task);
}

/// `fut`, given up at `deadline` (`None`): the periodic sweep wakes a task
/// past its deadline, so this costs nothing per poll but a flag check.
pub async fn within<F: Future>(deadline: Instant, fut: F) -> Option<F::Output> {
    let inner = inner();
    let task = inner.current.get() as usize;
    if let Some(t) = inner.tasks.borrow_mut().get_mut(task) {
        t.deadline = Some(deadline);
        t.expired = false;
    }
    let mut fut = pin!(fut);
    let out = poll_fn(|cx| {
        if inner.tasks.borrow().get(task).is_some_and(|t| t.expired) {
            return Poll::Ready(None);
        }
        fut.as_mut().poll(cx).map(Some)
    })
    .await;
    if let Some(t) = inner.tasks.borrow_mut().get_mut(task) {
        t.deadline = None;
        t.expired = false;
    }
    out
}

#[cfg(test)]
mod tests;
