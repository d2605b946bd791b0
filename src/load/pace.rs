//! Waiting until an open-loop arrival's intended send time, to well under a
//! millisecond: tokio's timer ticks in whole milliseconds (a send would go
//! out up to a tick late), so the last stretch before a send is a
//! `timerfd` armed to the nanosecond and awaited on the runtime's own
//! event loop. Nothing spins: a low rate costs a few system calls per
//! arrival, no busy core.

use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::time::Instant;

use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
use tokio::io::unix::AsyncFd;

/// A worker's precise timer, made on first use. Without one (the system
/// refused a `timerfd`: out of file descriptors) the wait falls back to
/// tokio's timer.
#[derive(Default)]
pub struct Pace {
    timer: Option<AsyncFd<Timer>>,
    /// Making the timer failed: do not try again for every arrival.
    failed: bool,
}

/// A `timerfd` on the monotonic clock (the clock [`Instant`] reads).
struct Timer(TimerFd);

impl AsRawFd for Timer {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

impl Pace {
    /// Return at `at` (at once if it is past).
    pub async fn until(&mut self, at: Instant) {
        let left = at.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        let Some(timer) = self.timer() else {
            tokio::time::sleep_until(at.into()).await;
            return;
        };
        let armed = timer.get_ref().0.set(
            Expiration::OneShot(TimeSpec::from_duration(left)),
            TimerSetTimeFlags::empty(),
        );
        if armed.is_err() {
            tokio::time::sleep_until(at.into()).await;
            return;
        }
        loop {
            let Ok(mut ready) = timer.readable().await else {
                tokio::time::sleep_until(at.into()).await;
                return;
            };
            // Reading the expiration count disarms the readiness; a stale
            // readiness (an earlier expiry already read) reads nothing and waits again.
            let fired = ready.try_io(|fd| {
                let mut count = [0u8; 8];
                nix::unistd::read(fd.as_raw_fd(), &mut count).map_err(std::io::Error::from)
            });
            match fired {
                Ok(Ok(_)) => return,
                Ok(Err(_)) => {
                    tokio::time::sleep_until(at.into()).await;
                    return;
                }
                Err(_would_block) => {}
            }
        }
    }

    fn timer(&mut self) -> Option<&AsyncFd<Timer>> {
        if self.timer.is_none() && !self.failed {
            let made = TimerFd::new(
                ClockId::CLOCK_MONOTONIC,
                TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
            )
            .ok()
            // SAFETY: the descriptor is the `TimerFd` the `AsyncFd` owns, so
            // it stays open for as long as it is registered.
            .and_then(|fd| unsafe { AsyncFd::register(Timer(fd)) }.ok());
            self.failed = made.is_none();
            self.timer = made;
        }
        self.timer.as_ref()
    }
}

/// Ask the kernel to fire this thread's timers on time rather than up to
/// its default 50 µs "slack" late (which it uses to batch wake-ups).
pub fn tight_timers() {
    let _ = nix::sys::prctl::set_timerslack(1);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn waits_until_the_instant_well_within_a_millisecond() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        tight_timers();
        let mut pace = Pace::default();
        let late: Vec<Duration> = runtime.block_on(async {
            let mut late = Vec::new();
            for k in 0..40u64 {
                // Odd offsets, so the instants fall between tokio's ticks.
                let at = Instant::now() + Duration::from_micros(300 + 97 * k);
                pace.until(at).await;
                let now = Instant::now();
                assert!(now >= at, "returned {:?} early", at - now);
                late.push(now - at);
            }
            late
        });
        assert!(pace.timer.is_some(), "the timerfd was used");
        let mut sorted = late.clone();
        sorted.sort();
        // Generous: the machine may be busy, but a millisecond tick would
        // put the median near half a millisecond.
        assert!(sorted[20] < Duration::from_micros(400), "{late:?}");
    }
}
