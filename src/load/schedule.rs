//! When each request of an open-loop step is meant to be sent: the
//! schedule is data, and the one request loop obeys it (as vegeta's `Pacer`).
//!
//! A [`Schedule`] answers "when is arrival `i` intended", as an offset from
//! the start of measurement. [`Schedule::Closed`] has no intended times: a
//! worker sends its next request as soon as its last one is answered.
//! Open schedules are seeded and deterministic, so every load thread can
//! generate the same global sequence and take every `k`-th arrival of it
//! ([`Arrivals::strided`]): the process as a whole sends exactly the
//! scheduled sequence.
//!
//! A ramp (`[load] stages`) is data too: [`Schedule::Workers`] says when
//! each worker of a closed loop runs, and an open schedule with a ramp maps
//! a unit-rate sequence onto the ramp's rate (arrival `u` is due when the
//! area under the target rate reaches `u`), so a ramping rate keeps every
//! arrival's intended time.
//!
//! Pure: no clock, no I/O. The load threads' timers ([`super::rt`]) wake a
//! send within tens of microseconds of its intended time on an idle
//! machine; "late" means more than 1 ms late, so a busy machine's wake-up
//! delays are not counted as waiting for a worker.

use std::sync::Arc;
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::plan::{Ramp, RampCursor};
use crate::scenario::model::Arrival;

/// How a step's requests are paced.
#[derive(Debug, Clone, PartialEq)]
pub enum Schedule {
    /// Closed loop: each worker sends when its last answer arrived.
    Closed,
    /// Closed loop whose workers follow a ramp: worker `w` runs while the
    /// target is above `w` (started and stopped as the target moves).
    Workers(Arc<Ramp>),
    /// Open loop: arrivals at `per_s` a second on average, gaps shaped by
    /// `arrival`; with a `ramp`, at the ramp's rate instead.
    Open {
        per_s: f64,
        arrival: Arrival,
        seed: u64,
        ramp: Option<Arc<Ramp>>,
    },
}

impl Schedule {
    /// The intended times of the arrivals one thread sends: global arrivals
    /// `first`, `first + every`, … (thread `t` of `k` in one process takes
    /// `t, k`; of shard `I` of `N`, `I + N·t, N·k`). `None` for a closed loop.
    pub fn arrivals(&self, first: usize, every: usize) -> Option<Arrivals> {
        match self {
            Schedule::Closed | Schedule::Workers(_) => None,
            Schedule::Open {
                per_s,
                arrival,
                seed,
                ramp,
            } => {
                let arrivals = match ramp {
                    None => Arrivals::new(*per_s, *arrival, *seed),
                    Some(r) => Arrivals::ramped(r.clone(), *arrival, *seed),
                };
                Some(arrivals.strided(first, every))
            }
        }
    }

    /// The closed loop's worker ramp, if it has one.
    pub fn workers(&self) -> Option<&Ramp> {
        match self {
            Schedule::Workers(r) => Some(r),
            _ => None,
        }
    }

    /// Whether workers pace themselves (no intended times).
    pub fn is_closed(&self) -> bool {
        matches!(self, Schedule::Closed | Schedule::Workers(_))
    }
}

/// The global arrival sequence of an open schedule (or a stride of it):
/// yields `(index, intended offset from the start)`.
#[derive(Debug, Clone)]
pub struct Arrivals {
    gap: Gap,
    mean_s: f64,
    rng: SmallRng,
    /// Index and time (s) of the next global arrival.
    next: u64,
    at_s: f64,
    /// Yield arrivals `first`, `first + every`, ….
    first: u64,
    every: u64,
    /// A ramping rate: times above are in arrivals (a unit rate), mapped
    /// onto the ramp's seconds.
    ramp: Option<(Arc<Ramp>, RampCursor)>,
}

/// How gaps between arrivals are drawn; means are 1 (scaled by `mean_s`).
#[derive(Debug, Clone, Copy)]
enum Gap {
    Constant,
    Exponential,
    /// Gamma with shape `k` (cv = 1/sqrt(k)) and scale `1/k`.
    Gamma {
        k: f64,
    },
}

impl Arrivals {
    pub fn new(per_s: f64, arrival: Arrival, seed: u64) -> Arrivals {
        let gap = match arrival {
            Arrival::Constant => Gap::Constant,
            Arrival::Poisson => Gap::Exponential,
            Arrival::Gamma { cv } => Gap::Gamma { k: 1.0 / (cv * cv) },
        };
        Arrivals {
            gap,
            mean_s: 1.0 / per_s,
            rng: SmallRng::seed_from_u64(seed),
            next: 0,
            at_s: 0.0,
            first: 0,
            every: 1,
            ramp: None,
        }
    }

    /// Arrivals at a ramp's rate: a unit-rate sequence of `arrival`'s
    /// shape, arrival `u` due when the area under the ramp reaches `u`.
    pub fn ramped(ramp: Arc<Ramp>, arrival: Arrival, seed: u64) -> Arrivals {
        Arrivals {
            ramp: Some((ramp, RampCursor::default())),
            ..Arrivals::new(1.0, arrival, seed)
        }
    }

    /// Only arrivals `first`, `first + every`, … of this sequence.
    pub fn strided(mut self, first: usize, every: usize) -> Arrivals {
        self.first = first as u64;
        self.every = every.max(1) as u64;
        self
    }

    /// The next global arrival, `(index, seconds from the start)`.
    #[inline]
    fn step(&mut self) -> (u64, f64) {
        let i = self.next;
        let at = match self.gap {
            // From the index, so a long step does not accumulate rounding.
            Gap::Constant => i as f64 * self.mean_s,
            _ => self.at_s,
        };
        let gap = match self.gap {
            Gap::Constant => 0.0,
            Gap::Exponential => exponential(&mut self.rng),
            Gap::Gamma { k } => gamma(&mut self.rng, k) / k,
        };
        self.at_s += gap * self.mean_s;
        self.next += 1;
        (i, at)
    }
}

impl Iterator for Arrivals {
    type Item = (u64, Duration);

    #[inline]
    fn next(&mut self) -> Option<(u64, Duration)> {
        loop {
            let (i, at) = self.step();
            if i >= self.first && (i - self.first) % self.every == 0 {
                let at = match &mut self.ramp {
                    None => at,
                    Some((ramp, cursor)) => ramp.time_of(at, cursor)?,
                };
                return Some((i, Duration::from_secs_f64(at)));
            }
        }
    }
}

/// Exponential with mean 1.
fn exponential(rng: &mut SmallRng) -> f64 {
    // 1 - u is in (0, 1], so the log is finite.
    -(1.0 - rng.gen::<f64>()).ln()
}

/// Standard normal (Box–Muller).
fn normal(rng: &mut SmallRng) -> f64 {
    let u = 1.0 - rng.gen::<f64>();
    let v = rng.gen::<f64>();
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

/// Gamma with shape `k` and scale 1 (Marsaglia and Tsang; shapes below 1
/// boosted by `U^(1/k)`).
fn gamma(rng: &mut SmallRng, k: f64) -> f64 {
    if k < 1.0 {
        let u = 1.0 - rng.gen::<f64>();
        return gamma(rng, k + 1.0) * u.powf(1.0 / k);
    }
    let d = k - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    loop {
        let x = normal(rng);
        let v = (1.0 + c * x).powi(3);
        if v <= 0.0 {
            continue;
        }
        let u = 1.0 - rng.gen::<f64>();
        if u.ln() < 0.5 * x * x + d - d * v + d * v.ln() {
            return d * v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gaps(arrival: Arrival, n: usize) -> Vec<f64> {
        let times: Vec<f64> = Arrivals::new(100.0, arrival, 7)
            .take(n + 1)
            .map(|(_, d)| d.as_secs_f64())
            .collect();
        times.windows(2).map(|w| w[1] - w[0]).collect()
    }

    fn cv(g: &[f64]) -> f64 {
        let n = g.len() as f64;
        let mean = g.iter().sum::<f64>() / n;
        let var = g.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
        var.sqrt() / mean
    }

    #[test]
    fn constant_arrivals_are_exactly_one_over_the_rate_apart() {
        let times: Vec<(u64, Duration)> =
            Arrivals::new(4.0, Arrival::Constant, 1).take(5).collect();
        let ms: Vec<u128> = times.iter().map(|(_, d)| d.as_millis()).collect();
        assert_eq!(ms, [0, 250, 500, 750, 1000]);
        assert_eq!(times[4].0, 4);
    }

    #[test]
    fn poisson_gaps_pass_a_ks_test_against_the_exponential() {
        let mut g = gaps(Arrival::Poisson, 10_000);
        g.sort_by(f64::total_cmp);
        let n = g.len() as f64;
        let mean = 0.01;
        let d = g
            .iter()
            .enumerate()
            .map(|(i, &x)| {
                let cdf = 1.0 - (-x / mean).exp();
                (cdf - i as f64 / n)
                    .abs()
                    .max(((i + 1) as f64 / n - cdf).abs())
            })
            .fold(0.0, f64::max);
        // The 1% critical value of the one-sample KS statistic.
        assert!(d < 1.63 / n.sqrt(), "KS statistic {d}");
        // A constant schedule is far from exponential: the test can fail.
        let c = gaps(Arrival::Constant, 10_000);
        let dc = c
            .iter()
            .map(|&x| (1.0 - (-x / mean).exp() - 0.5).abs())
            .fold(0.0, f64::max);
        assert!(dc > 1.63 / n.sqrt());
    }

    #[test]
    fn gamma_with_cv_2_is_burstier_than_poisson_at_the_same_mean() {
        let p = gaps(Arrival::Poisson, 20_000);
        let g = gaps(Arrival::Gamma { cv: 2.0 }, 20_000);
        let mean = g.iter().sum::<f64>() / g.len() as f64;
        assert!((mean - 0.01).abs() < 0.001, "gamma mean gap {mean}");
        assert!((cv(&p) - 1.0).abs() < 0.05, "poisson cv {}", cv(&p));
        assert!(cv(&g) > 1.7 && cv(&g) > cv(&p) + 0.5, "gamma cv {}", cv(&g));
        let half = gaps(Arrival::Gamma { cv: 0.5 }, 20_000);
        assert!(
            (cv(&half) - 0.5).abs() < 0.05,
            "gamma cv 0.5 -> {}",
            cv(&half)
        );
    }

    #[test]
    fn threads_taking_every_kth_arrival_send_exactly_the_global_sequence() {
        let schedule = Schedule::Open {
            per_s: 1000.0,
            arrival: Arrival::Poisson,
            seed: 3,
            ramp: None,
        };
        let all: Vec<(u64, Duration)> = schedule.arrivals(0, 1).unwrap().take(300).collect();
        let mut merged: Vec<(u64, Duration)> = (0..3)
            .flat_map(|t| schedule.arrivals(t, 3).unwrap().take(100))
            .collect();
        merged.sort();
        assert_eq!(merged, all);
        assert!(Schedule::Closed.arrivals(0, 1).is_none());
    }

    /// Issue 12: a rate ramp (0 → 100/s over 10 s) keeps every arrival's
    /// intended time on the ramp, split over threads like a fixed rate, and
    /// ends with the ramp.
    #[test]
    fn a_ramped_schedule_follows_the_ramp_and_ends_with_it() {
        use crate::plan::{LevelKind, Ramp, RampStage};
        let ramp = Arc::new(Ramp {
            kind: LevelKind::Rate,
            stages: vec![RampStage {
                duration: Duration::from_secs(10),
                target: 100.0,
            }],
        });
        let schedule = Schedule::Open {
            per_s: 100.0,
            arrival: Arrival::Poisson,
            seed: 5,
            ramp: Some(ramp),
        };
        let all: Vec<(u64, Duration)> = schedule.arrivals(0, 1).unwrap().collect();
        // 500 due on average (the area under the ramp), Poisson-spread.
        assert!((440..=560).contains(&all.len()), "{}", all.len());
        assert!(all.iter().all(|(_, at)| *at <= Duration::from_secs(10)));
        let first_half = all.iter().filter(|(_, at)| at.as_secs() < 5).count();
        // A quarter of the area lies in the first half of a linear ramp.
        let share = first_half as f64 / all.len() as f64;
        assert!((share - 0.25).abs() < 0.06, "{share}");
        let mut merged: Vec<(u64, Duration)> = (0..2)
            .flat_map(|t| schedule.arrivals(t, 2).unwrap())
            .collect();
        merged.sort();
        assert_eq!(merged, all);
    }
}
