//! A step's time series: per-second (or, in a long step, per 2^k-second)
//! counts, sends, time in flight and a compact latency histogram, bounded in
//! memory however long the step ([`MAX_SAMPLES`]), and its report form
//! [`SecondSample`].

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Samples a step's time series keeps at most. Past this many, adjacent
/// samples merge pairwise and each then covers twice the seconds: a step of
/// up to 256 s keeps one sample per second, a 1-hour step one per 16 s, and
/// a recorder's series never holds more than 256 × ~530 bytes (~135 KB),
/// however long the step.
pub(super) const MAX_SAMPLES: usize = 256;

/// Buckets of a sample's latency histogram: four per power of two of
/// microseconds, up to 2^32 µs (the middle of a bucket is within 12.5% of
/// any value in it; the step's own percentiles stay exact to 0.1%).
pub(super) const SAMPLE_BUCKETS: usize = 124;

/// The bucket of `us` microseconds in a [`Sample`]'s histogram.
#[inline]
pub(super) fn sample_bucket(us: u64) -> usize {
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
pub(super) struct Sample {
    pub(super) ok: u64,
    pub(super) errors: u64,
    /// Requests sent in the sample (by actual send time), and the time
    /// requests spent in flight inside it, in microseconds.
    pub(super) sent: u64,
    pub(super) flight_us: u64,
    pub(super) latency: [u32; SAMPLE_BUCKETS],
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
pub(super) struct Series {
    pub(super) shift: u32,
    pub(super) samples: Vec<Sample>,
}

impl Series {
    /// The sample a request that ended `end` after the start belongs to.
    #[inline]
    pub(super) fn at(&mut self, end: Duration) -> &mut Sample {
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
    pub(super) fn coarsen(&mut self) {
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
    pub(super) fn flight(&mut self, from: Duration, to: Duration) {
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

    pub(super) fn merge(&mut self, other: &Series) {
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

    pub(super) fn timeseries(&self) -> Vec<SecondSample> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
