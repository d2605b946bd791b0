//! Sub-millisecond sleeps for the fake upstream's delays.
//!
//! tokio's timer wheel rounds every deadline up to the next whole
//! millisecond, so a 50 ms delay answers after 50.5–51 ms: a fake provider
//! that adds its own error to every figure. Here one thread keeps the
//! deadlines in a heap and sleeps until the earliest with 1 µs timer slack,
//! then wakes the waiting tasks.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::{Mutex, OnceLock};
use std::thread::Thread;
use std::time::Instant;

use tokio::sync::oneshot;

struct Entry {
    at: Instant,
    seq: u64,
    wake: oneshot::Sender<()>,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

struct Timer {
    queue: Mutex<(BinaryHeap<Reverse<Entry>>, u64)>,
    thread: Thread,
}

fn timer() -> &'static Timer {
    static TIMER: OnceLock<Timer> = OnceLock::new();
    TIMER.get_or_init(|| {
        let handle = std::thread::Builder::new()
            .name("precise-timer".into())
            .spawn(|| {
                let _ = nix::sys::prctl::set_timerslack(1_000);
                run(TIMER.wait());
            })
            .expect("cannot start the timer thread");
        Timer {
            queue: Mutex::new((BinaryHeap::new(), 0)),
            thread: handle.thread().clone(),
        }
    })
}

fn run(timer: &'static Timer) {
    loop {
        let next = {
            let mut queue = timer.queue.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            while queue.0.peek().is_some_and(|Reverse(e)| e.at <= now) {
                if let Some(Reverse(entry)) = queue.0.pop() {
                    let _ = entry.wake.send(());
                }
            }
            queue.0.peek().map(|Reverse(e)| e.at)
        };
        match next {
            Some(at) => std::thread::park_timeout(at.saturating_duration_since(Instant::now())),
            None => std::thread::park(),
        }
    }
}

/// Sleep until `at`, to within a few microseconds.
pub async fn sleep_until(at: tokio::time::Instant) {
    let at = at.into_std();
    if at <= Instant::now() {
        return;
    }
    let (wake, wait) = oneshot::channel();
    let t = timer();
    let earliest = {
        let mut queue = t.queue.lock().unwrap_or_else(|e| e.into_inner());
        queue.1 += 1;
        let seq = queue.1;
        let earliest = queue.0.peek().is_none_or(|Reverse(e)| at < e.at);
        queue.0.push(Reverse(Entry { at, seq, wake }));
        earliest
    };
    if earliest {
        t.thread.unpark();
    }
    let _ = wait.await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn never_wakes_before_the_deadline() {
        // Precision is a benchmark's business (a loaded machine delays any
        // wake-up); here: never early, and always woken.
        for ms in [1u64, 3, 7, 12, 2, 5] {
            let at = tokio::time::Instant::now() + Duration::from_millis(ms);
            tokio::time::timeout(Duration::from_secs(5), sleep_until(at))
                .await
                .expect("the sleep ends");
            assert!(tokio::time::Instant::now() >= at);
        }
        // A deadline in the past returns at once.
        sleep_until(tokio::time::Instant::now() - Duration::from_millis(1)).await;
    }

    #[tokio::test]
    async fn concurrent_sleeps_wake_in_deadline_order() {
        let start = tokio::time::Instant::now() + Duration::from_millis(5);
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        for ms in [9u64, 3, 6, 1, 12] {
            let tx = tx.clone();
            tokio::spawn(async move {
                sleep_until(start + Duration::from_millis(ms)).await;
                let _ = tx.send(ms);
            });
        }
        drop(tx);
        let mut order = Vec::new();
        while let Some(ms) = rx.recv().await {
            order.push(ms);
        }
        assert_eq!(order, vec![1, 3, 6, 9, 12]);
    }
}
