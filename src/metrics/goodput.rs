//! Goodput: how many requests met every bound of `[report] slo` (latency,
//! TTFT, mean inter-token gap), judged per request in the load loop with
//! integer comparisons (no allocation), counted per thread, merged after.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::scenario::model::Slo;

/// The SLO in microseconds, as the load loop compares it; an unset bound is
/// `u64::MAX` (always met).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    latency_us: u64,
    ttft_us: u64,
    itl_us: u64,
}

impl Rule {
    pub fn new(slo: &Slo) -> Rule {
        let us = |ms: Option<f64>| ms.map_or(u64::MAX, |ms| (ms * 1000.0).round() as u64);
        Rule {
            latency_us: us(slo.latency_ms),
            ttft_us: us(slo.ttft_ms),
            itl_us: us(slo.itl_ms),
        }
    }

    /// Whether a successful answer met every bound: `latency` and `ttft`
    /// from the request's origin (its intended send time in an open loop;
    /// a non-streamed answer's TTFT is its latency), `gaps_us` the gaps
    /// between its tokens (a stream's mean gap is its ITL; none: met).
    #[inline]
    pub fn met(&self, latency: Duration, ttft: Duration, gaps_us: &[u32]) -> bool {
        let us = |d: Duration| u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        if us(latency) > self.latency_us || us(ttft) > self.ttft_us {
            return false;
        }
        if gaps_us.is_empty() || self.itl_us == u64::MAX {
            return true;
        }
        let sum: u64 = gaps_us.iter().map(|&g| u64::from(g)).sum();
        // mean ≤ bound, without dividing.
        sum <= self.itl_us.saturating_mul(gaps_us.len() as u64)
    }
}

/// One thread's count of good requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Counter {
    good: u64,
    /// Good requests weighted by their share inside the busy window.
    busy_good: f64,
}

impl Counter {
    #[inline]
    pub fn record(&mut self, busy: f64) {
        self.good += 1;
        self.busy_good += busy;
    }

    pub fn merge(&mut self, other: &Counter) {
        self.good += other.good;
        self.busy_good += other.busy_good;
    }

    /// The step's goodput: `requests` sent (plus `dropped` arrivals never
    /// sent, which no user got an answer to) over the `busy_s` window.
    pub fn summary(&self, requests: u64, dropped: u64, busy_s: f64) -> GoodputSummary {
        let all = requests + dropped;
        GoodputSummary {
            good: self.good,
            share: if all == 0 {
                0.0
            } else {
                self.good as f64 / all as f64
            },
            per_s: if busy_s > 0.0 {
                self.busy_good / busy_s
            } else {
                0.0
            },
        }
    }
}

/// How many of a step's requests met the SLO.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct GoodputSummary {
    /// Requests that succeeded and met every bound.
    pub good: u64,
    /// `good` over the requests (and, open loop, the dropped arrivals).
    pub share: f64,
    /// Good requests per second over the busy window.
    pub per_s: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_set_bound_must_hold_and_itl_is_the_mean_gap() {
        let ms = Duration::from_millis;
        let rule = Rule::new(&Slo {
            latency_ms: Some(100.0),
            ttft_ms: Some(20.0),
            itl_ms: Some(5.0),
        });
        assert!(rule.met(ms(100), ms(20), &[]));
        assert!(!rule.met(ms(101), ms(20), &[]));
        assert!(!rule.met(ms(50), ms(21), &[]));
        // Mean 5 ms although one gap is 9 ms: met; mean 5.001 ms: not.
        assert!(rule.met(ms(50), ms(10), &[1000, 9000, 5000]));
        assert!(!rule.met(ms(50), ms(10), &[1000, 9000, 5003]));
        let latency_only = Rule::new(&Slo {
            latency_ms: Some(10.0),
            ..Slo::default()
        });
        assert!(latency_only.met(ms(10), ms(3000), &[u32::MAX]));
    }

    #[test]
    fn the_share_counts_dropped_arrivals_as_not_good() {
        let mut c = Counter::default();
        for _ in 0..8 {
            c.record(1.0);
        }
        let s = c.summary(9, 1, 2.0);
        assert_eq!((s.good, s.share, s.per_s), (8, 0.8, 4.0));
    }
}
