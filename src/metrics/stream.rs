//! What a gateway does to a token stream, judged per stream against the
//! pacing the fake upstream was told to keep: a stream whose frames arrive
//! in bursts (most gaps near 0) is `buffered`; a gap far longer than the
//! upstream's is a stall. Checked after each stream's clock stopped, with no allocation:
//! the loop hands over the gaps it already recorded.

use serde::{Deserialize, Serialize};

use super::Recorder;
use crate::upstream::config::DelayModel;

/// A gap under this share of the upstream's ITL is a frame that came in
/// the same burst as the one before (frames read at once share a timestamp:
/// their gap is 0).
pub const BURST_SHARE: f64 = 0.1;

/// A stream is buffered when at least this share of its gaps came in a
/// burst: something on the path held frames back and let them go together,
/// instead of passing each on at the upstream's pace.
pub const BURST_GAPS: f64 = 0.75;

/// Streams with fewer gaps than this are too short to judge for buffering.
pub const MIN_GAPS: usize = 3;

/// `[report] stall_factor` when the scenario does not set it.
pub const DEFAULT_STALL_FACTOR: f64 = 10.0;

/// The pacing a stream should show: what the fake upstream was configured
/// to send (`[upstream] itl_ms` / `itl`), known to the plan. Absent when
/// the load does not go to this run's fake upstream or its ITL is 0.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Pacing {
    /// The upstream's typical gap between tokens (its ITL model's median), ms.
    pub itl_ms: f64,
    /// A gap longer than this is a stall: `stall_factor` × the upstream's
    /// ITL (for a distribution, its p99; a uniform one's maximum), ms.
    pub stall_ms: f64,
}

impl Pacing {
    /// The pacing of an upstream whose tokens follow `itl`, with stalls at
    /// `stall_factor` × its ITL; `None` when it sends tokens back to back.
    pub fn of(itl: DelayModel, stall_factor: f64) -> Option<Pacing> {
        let (typical, high) = match itl {
            DelayModel::Fixed { ms } => (ms as f64, ms as f64),
            DelayModel::Uniform { min_ms, max_ms } => {
                ((min_ms + max_ms) as f64 / 2.0, min_ms.max(max_ms) as f64)
            }
            DelayModel::Normal { mean_ms, sd_ms } => {
                (mean_ms as f64, mean_ms as f64 + 2.33 * sd_ms as f64)
            }
            DelayModel::Lognormal { p50_ms, p99_ms } => (p50_ms as f64, p99_ms.max(p50_ms) as f64),
        };
        (typical > 0.0).then_some(Pacing {
            itl_ms: typical,
            stall_ms: stall_factor * high,
        })
    }

    /// Judge one stream by the gaps (µs) between its successive content
    /// frames.
    #[inline]
    pub fn check(&self, gaps_us: &[u32]) -> StreamCheck {
        let burst_us = BURST_SHARE * self.itl_ms * 1000.0;
        let stall_us = self.stall_ms * 1000.0;
        let (mut bursts, mut stalls) = (0usize, 0u64);
        for &g in gaps_us {
            let g = f64::from(g);
            bursts += usize::from(g < burst_us);
            stalls += u64::from(g > stall_us);
        }
        let buffered =
            gaps_us.len() >= MIN_GAPS && bursts as f64 >= BURST_GAPS * gaps_us.len() as f64;
        StreamCheck { buffered, stalls }
    }
}

/// The verdict on one stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamCheck {
    /// Its frames arrived in bursts.
    pub buffered: bool,
    /// Gaps over the stall threshold.
    pub stalls: u64,
}

/// Per-thread counts of the checks, merged after the step.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tally {
    pacing: Option<Pacing>,
    checked: u64,
    buffered: u64,
    stalled: u64,
    stalls: u64,
}

impl Tally {
    pub(super) fn merge(&mut self, other: &Tally) {
        self.pacing = self.pacing.or(other.pacing);
        self.checked += other.checked;
        self.buffered += other.buffered;
        self.stalled += other.stalled;
        self.stalls += other.stalls;
    }

    pub(super) fn summary(&self) -> Option<StreamChecks> {
        let pacing = self.pacing?;
        Some(StreamChecks {
            expected_itl_ms: pacing.itl_ms,
            stall_ms: pacing.stall_ms,
            checked: self.checked,
            buffered: self.buffered,
            stalled_streams: self.stalled,
            stalls: self.stalls,
        })
    }
}

impl Recorder {
    /// Check a successful stream against the upstream's pacing by the gaps
    /// (µs) between its successive content frames.
    #[inline]
    pub fn record_stream_check(&mut self, pacing: &Pacing, gaps_us: &[u32]) {
        let check = pacing.check(gaps_us);
        let t = &mut self.checks;
        t.pacing = Some(*pacing);
        t.checked += 1;
        t.buffered += u64::from(check.buffered);
        t.stalled += u64::from(check.stalls > 0);
        t.stalls += check.stalls;
    }
}

/// A step's streams judged against the upstream's pacing (see docs/measurement.md,
/// "What the gateway does to the stream"); absent when the pacing is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StreamChecks {
    /// The gap between tokens the upstream was told to keep (median), ms.
    pub expected_itl_ms: f64,
    /// Gaps over this are stalls (`stall_factor` × the upstream's ITL), ms.
    pub stall_ms: f64,
    /// Successful streams checked.
    pub checked: u64,
    /// Streams whose frames arrived in bursts: at least [`BURST_GAPS`] of
    /// their gaps under [`BURST_SHARE`] of the upstream's ITL.
    pub buffered: u64,
    /// Streams with at least one stall, and the stalls (gaps) over all.
    pub stalled_streams: u64,
    pub stalls: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed(ms: u64) -> Pacing {
        Pacing::of(DelayModel::Fixed { ms }, DEFAULT_STALL_FACTOR).expect("ITL above 0")
    }

    #[test]
    fn back_to_back_tokens_have_no_pacing() {
        assert_eq!(Pacing::of(DelayModel::Fixed { ms: 0 }, 10.0), None);
        let p = Pacing::of(
            DelayModel::Lognormal {
                p50_ms: 20,
                p99_ms: 80,
            },
            5.0,
        )
        .unwrap();
        assert_eq!((p.itl_ms, p.stall_ms), (20.0, 400.0));
    }

    #[test]
    fn a_paced_stream_is_neither_buffered_nor_stalled() {
        let gaps = [20_000; 19];
        let c = fixed(20).check(&gaps);
        assert_eq!(
            c,
            StreamCheck {
                buffered: false,
                stalls: 0
            }
        );
    }

    #[test]
    fn frames_in_bursts_are_buffered() {
        // Twenty frames read at once share a timestamp: every gap is 0.
        assert!(fixed(20).check(&[0; 19]).buffered);
        // A buffer let go when full: 15 frames at once, then a wait, then 4.
        let mut gaps = [0; 19];
        gaps[15] = 300_000;
        assert!(fixed(20).check(&gaps).buffered);
        // A gap of a tenth of the ITL is no longer a burst.
        assert!(!fixed(20).check(&[2_000; 19]).buffered);
        // Fewer than three quarters in bursts: not buffered.
        let mut gaps = [0; 8];
        gaps[..3].fill(20_000);
        assert!(!fixed(20).check(&gaps).buffered);
        // Too short a stream to judge.
        assert!(!fixed(20).check(&[0, 0]).buffered);
    }

    #[test]
    fn gaps_over_the_factor_are_stalls() {
        let gaps = [20_000, 200_001, 20_000, 450_000, 200_000];
        let c = fixed(20).check(&gaps);
        assert_eq!(c.stalls, 2);
        assert!(!c.buffered);
    }

    #[test]
    fn tallies_merge_across_threads() {
        let p = fixed(20);
        let mut a = Recorder::default();
        a.record_stream_check(&p, &[0; 5]);
        let mut b = Recorder::default();
        b.record_stream_check(&p, &[20_000, 400_000, 80_000]);
        b.record_stream_check(&p, &[20_000; 5]);
        a.merge(&b);
        let s = a.checks.summary().expect("checked");
        assert_eq!(
            (s.checked, s.buffered, s.stalled_streams, s.stalls),
            (3, 1, 1, 1)
        );
        assert_eq!(Recorder::default().checks.summary(), None);
    }
}
