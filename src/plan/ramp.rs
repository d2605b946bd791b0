//! A stages load (a ramp) as data: the target load over time, piecewise
//! linear from 0 through each stage's target, and the arithmetic the load
//! engine and the reports need of it (the target at a moment, its mean over
//! a second, when a worker's turn comes, when the `n`-th arrival is due).
//!
//! Pure: no clock. Times are seconds from the start of the step.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::LevelKind;
use crate::scenario::model::duration;

/// The target over time: workers (a closed loop whose workers start and
/// stop as the target moves, Locust-style) or an arrival rate in req/s
/// (k6's ramping arrival rate).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ramp {
    pub kind: LevelKind,
    pub stages: Vec<RampStage>,
}

/// One stage: over `duration`, the target moves linearly to `target`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RampStage {
    #[serde(with = "duration")]
    pub duration: Duration,
    pub target: f64,
}

/// A straight piece of the ramp: from `(t0, v0)` to `(t1, v1)`.
#[derive(Debug, Clone, Copy)]
struct Piece {
    t0: f64,
    t1: f64,
    v0: f64,
    v1: f64,
}

impl Piece {
    fn len(self) -> f64 {
        self.t1 - self.t0
    }

    fn at(self, t: f64) -> f64 {
        if self.len() <= 0.0 {
            return self.v1;
        }
        self.v0 + (self.v1 - self.v0) * (t - self.t0) / self.len()
    }

    /// The area under the piece from `t0` to `t`.
    fn area_to(self, t: f64) -> f64 {
        let t = t.clamp(self.t0, self.t1);
        (self.v0 + self.at(t)) / 2.0 * (t - self.t0)
    }
}

impl Ramp {
    fn pieces(&self) -> impl Iterator<Item = Piece> + '_ {
        let mut t = 0.0;
        let mut v = 0.0;
        self.stages.iter().map(move |s| {
            let piece = Piece {
                t0: t,
                t1: t + s.duration.as_secs_f64(),
                v0: v,
                v1: s.target,
            };
            (t, v) = (piece.t1, piece.v1);
            piece
        })
    }

    /// How long the ramp lasts: its stages' durations added up.
    pub fn total(&self) -> Duration {
        self.stages.iter().map(|s| s.duration).sum()
    }

    /// The highest target.
    pub fn peak(&self) -> f64 {
        self.stages.iter().map(|s| s.target).fold(0.0, f64::max)
    }

    /// The target at `t` (the last stage's after the end).
    pub fn at(&self, t: f64) -> f64 {
        let mut last = 0.0;
        for p in self.pieces() {
            if t < p.t1 {
                return p.at(t.max(p.t0));
            }
            last = p.v1;
        }
        last
    }

    /// The area under the target from 0 to `t` (for a rate: the arrivals due by `t`).
    pub fn area(&self, t: f64) -> f64 {
        self.pieces()
            .take_while(|p| p.t0 < t)
            .map(|p| p.area_to(t))
            .sum()
    }

    /// The mean target over `[a, b)`, clipped to the ramp's span.
    pub fn mean(&self, a: f64, b: f64) -> f64 {
        let b = b.min(self.total().as_secs_f64());
        if b <= a {
            return self.at(a);
        }
        (self.area(b) - self.area(a)) / (b - a)
    }

    /// The first moment at or after `t`, before the end, at which the
    /// target is above `level`: when worker `level` (0-based) runs. `None`
    /// when it never is again.
    pub fn first_above(&self, level: f64, t: f64) -> Option<f64> {
        for p in self.pieces().filter(|p| p.t1 > t) {
            let from = t.max(p.t0);
            if p.at(from) > level {
                return Some(from);
            }
            if p.v1 > level {
                // Rising through `level` inside the piece; a microsecond
                // past the crossing, so the target is above it then.
                let cross = p.t0 + (level - p.v0) / (p.v1 - p.v0) * p.len();
                return Some(cross.max(from) + 1e-6);
            }
        }
        None
    }

    /// When the area under the target reaches `u`, `cursor` remembering
    /// where the last (smaller or equal) `u` was found: arrival `u` of a
    /// unit-rate sequence mapped onto the ramp's rate. `None` past the end.
    pub fn time_of(&self, u: f64, cursor: &mut RampCursor) -> Option<f64> {
        loop {
            let s = self.stages.get(cursor.stage)?;
            let len = s.duration.as_secs_f64();
            let v1 = s.target;
            let area = (cursor.v0 + v1) / 2.0 * len;
            let rest = u - cursor.area;
            if rest <= area && area > 0.0 {
                // v(x) = v0 + k x inside the stage; solve v0 x + k x²/2 = rest
                // in the form that stays exact as k goes to 0 or below it.
                let k = (v1 - cursor.v0) / len;
                let disc = (cursor.v0 * cursor.v0 + 2.0 * k * rest).max(0.0);
                let denom = cursor.v0 + disc.sqrt();
                let x = if denom > 0.0 { 2.0 * rest / denom } else { 0.0 };
                return Some(cursor.t0 + x.clamp(0.0, len));
            }
            cursor.area += area;
            cursor.t0 += len;
            cursor.v0 = v1;
            cursor.stage += 1;
        }
    }
}

/// Where [`Ramp::time_of`] left off: a stage, its start, the target and
/// the area before it.
#[derive(Debug, Clone, Copy, Default)]
pub struct RampCursor {
    stage: usize,
    t0: f64,
    v0: f64,
    area: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(kind: LevelKind, stages: &[(u64, f64)]) -> Ramp {
        Ramp {
            kind,
            stages: stages
                .iter()
                .map(|&(s, target)| RampStage {
                    duration: Duration::from_secs(s),
                    target,
                })
                .collect(),
        }
    }

    #[test]
    fn the_target_rises_linearly_from_zero_holds_and_falls() {
        let r = ramp(LevelKind::Workers, &[(10, 100.0), (5, 100.0), (5, 0.0)]);
        assert_eq!(r.total(), Duration::from_secs(20));
        assert_eq!(r.peak(), 100.0);
        assert_eq!(r.at(0.0), 0.0);
        assert_eq!(r.at(5.0), 50.0);
        assert_eq!(r.at(12.0), 100.0);
        assert_eq!(r.at(17.5), 50.0);
        assert_eq!(r.at(30.0), 0.0);
        assert!((r.mean(0.0, 1.0) - 5.0).abs() < 1e-9);
        assert!((r.area(20.0) - (500.0 + 500.0 + 250.0)).abs() < 1e-9);
    }

    #[test]
    fn a_worker_runs_once_the_target_is_above_its_index() {
        let r = ramp(LevelKind::Workers, &[(10, 100.0), (10, 0.0)]);
        // Worker 0 starts at once, worker 49 just after 4.9 s.
        assert!(r.first_above(0.0, 0.0).unwrap() < 0.001);
        let t = r.first_above(49.0, 0.0).unwrap();
        assert!((t - 4.9).abs() < 1e-3, "{t}");
        assert!(r.at(t) > 49.0);
        // Once past the peak and down again, worker 49 never runs again.
        assert_eq!(r.first_above(49.0, 15.2), None);
        assert_eq!(r.first_above(100.0, 0.0), None);
    }

    #[test]
    fn arrivals_mapped_onto_the_ramp_follow_its_rate() {
        // 0 → 100/s over 10 s, then 100/s for 10 s: 500 + 1000 arrivals.
        let r = ramp(LevelKind::Rate, &[(10, 100.0), (10, 100.0)]);
        let mut cursor = RampCursor::default();
        let times: Vec<f64> = (0..)
            .map_while(|i| r.time_of(f64::from(i), &mut cursor))
            .collect();
        assert_eq!(times.len(), 1501);
        let in_second = |s: f64| times.iter().filter(|&&t| t >= s && t < s + 1.0).count();
        // Second 4–5 of the rising stage has a mean target of 45/s.
        assert!(
            (in_second(4.0) as i64 - 45).abs() <= 1,
            "{}",
            in_second(4.0)
        );
        assert!((in_second(15.0) as i64 - 100).abs() <= 1);
        assert!(times.windows(2).all(|w| w[0] <= w[1]));
    }
}
