//! Sampling delays and per-request random generators.
//!
//! Each request gets its own small RNG seeded from the configured seed and the
//! request's sequence number, so no lock is shared on the hot path and the same
//! seed gives the same multiset of draws over the same number of requests.

use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::config::DelayModel;

/// z-score of the 99th percentile of the standard normal distribution.
const Z_P99: f64 = 2.326_347_874_040_841;

/// A delay model ready to sample, with its parameters in seconds.
#[derive(Debug, Clone, Copy)]
pub enum Sampler {
    Fixed(Duration),
    Uniform { min: f64, max: f64 },
    Normal { mean: f64, sd: f64 },
    Lognormal { mu: f64, sigma: f64 },
}

impl From<DelayModel> for Sampler {
    fn from(model: DelayModel) -> Self {
        let s = |ms: u64| ms as f64 / 1000.0;
        match model {
            DelayModel::Fixed { ms } => Sampler::Fixed(Duration::from_millis(ms)),
            DelayModel::Uniform { min_ms, max_ms } if min_ms == max_ms => {
                Sampler::Fixed(Duration::from_millis(min_ms))
            }
            DelayModel::Uniform { min_ms, max_ms } => Sampler::Uniform {
                min: s(min_ms),
                max: s(max_ms),
            },
            DelayModel::Normal { mean_ms, sd_ms: 0 } => {
                Sampler::Fixed(Duration::from_millis(mean_ms))
            }
            DelayModel::Normal { mean_ms, sd_ms } => Sampler::Normal {
                mean: s(mean_ms),
                sd: s(sd_ms),
            },
            DelayModel::Lognormal { p50_ms, p99_ms } => Sampler::Lognormal {
                mu: s(p50_ms).ln(),
                sigma: (p99_ms as f64 / p50_ms as f64).ln() / Z_P99,
            },
        }
    }
}

impl Sampler {
    /// One draw.
    pub fn sample(&self, rng: &mut SmallRng) -> Duration {
        let secs = match *self {
            Sampler::Fixed(d) => return d,
            Sampler::Uniform { min, max } => rng.gen_range(min..max),
            Sampler::Normal { mean, sd } => mean + sd * standard_normal(rng),
            Sampler::Lognormal { mu, sigma } => (mu + sigma * standard_normal(rng)).exp(),
        };
        Duration::try_from_secs_f64(secs.max(0.0)).unwrap_or(Duration::ZERO)
    }

    /// The sum of `n` draws (a non-streamed answer with the delay per token).
    pub fn sample_sum(&self, rng: &mut SmallRng, n: u32) -> Duration {
        match *self {
            Sampler::Fixed(d) => d * n,
            _ => (0..n).map(|_| self.sample(rng)).sum(),
        }
    }

    /// True when every draw is zero, so callers can skip the timer entirely.
    pub fn is_zero(&self) -> bool {
        matches!(self, Sampler::Fixed(d) if d.is_zero())
    }
}

/// Box–Muller: one standard normal draw.
fn standard_normal(rng: &mut SmallRng) -> f64 {
    let u1: f64 = 1.0 - rng.gen::<f64>(); // (0, 1]: ln stays finite
    let u2: f64 = rng.gen();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// The RNG of request number `seq` under `seed`.
pub fn request_rng(seed: u64, seq: u64) -> SmallRng {
    SmallRng::seed_from_u64(splitmix64(seed ^ splitmix64(seq)))
}

fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` draws, one fresh request RNG each (as the server does), sorted, in ms.
    fn draws(model: DelayModel, n: u64) -> Vec<f64> {
        let sampler = Sampler::from(model);
        let mut v: Vec<f64> = (0..n)
            .map(|seq| sampler.sample(&mut request_rng(42, seq)).as_secs_f64() * 1000.0)
            .collect();
        v.sort_by(f64::total_cmp);
        v
    }

    fn quantile(sorted: &[f64], q: f64) -> f64 {
        sorted[((sorted.len() as f64 - 1.0) * q).round() as usize]
    }

    #[test]
    fn lognormal_hits_its_percentiles() {
        let v = draws(
            DelayModel::Lognormal {
                p50_ms: 50,
                p99_ms: 400,
            },
            200_000,
        );
        let (p50, p99) = (quantile(&v, 0.5), quantile(&v, 0.99));
        assert!((p50 / 50.0 - 1.0).abs() < 0.02, "p50 {p50}");
        assert!((p99 / 400.0 - 1.0).abs() < 0.04, "p99 {p99}");
    }

    #[test]
    fn normal_is_truncated_at_zero() {
        let v = draws(
            DelayModel::Normal {
                mean_ms: 10,
                sd_ms: 10,
            },
            100_000,
        );
        assert!(v[0] >= 0.0);
        let zeros = v.iter().filter(|&&x| x == 0.0).count() as f64 / v.len() as f64;
        assert!((zeros - 0.1587).abs() < 0.01, "share clamped to 0: {zeros}");
        assert!((quantile(&v, 0.5) - 10.0).abs() < 0.3);
        let above = v.iter().filter(|&&x| x > 20.0).count() as f64 / v.len() as f64;
        assert!(
            (above - 0.1587).abs() < 0.01,
            "share above mean+sd: {above}"
        );
    }

    #[test]
    fn uniform_stays_in_range_and_is_flat() {
        let v = draws(
            DelayModel::Uniform {
                min_ms: 10,
                max_ms: 30,
            },
            100_000,
        );
        assert!(v[0] >= 10.0 && *v.last().unwrap() < 30.0);
        assert!((quantile(&v, 0.25) - 15.0).abs() < 0.3);
        assert!((quantile(&v, 0.75) - 25.0).abs() < 0.3);
    }

    #[test]
    fn fixed_and_sums() {
        let fixed = Sampler::from(DelayModel::Fixed { ms: 7 });
        let mut rng = request_rng(1, 1);
        assert_eq!(fixed.sample(&mut rng), Duration::from_millis(7));
        assert_eq!(fixed.sample_sum(&mut rng, 3), Duration::from_millis(21));
        assert!(Sampler::from(DelayModel::Fixed { ms: 0 }).is_zero());
        let uni = Sampler::from(DelayModel::Uniform {
            min_ms: 10,
            max_ms: 20,
        });
        let sum = uni.sample_sum(&mut rng, 100).as_secs_f64();
        assert!((1.2..1.8).contains(&sum), "{sum}");
    }

    #[test]
    fn same_seed_same_draws_other_seed_other_draws() {
        let s = Sampler::from(DelayModel::Lognormal {
            p50_ms: 50,
            p99_ms: 400,
        });
        let a: Vec<_> = (0..10).map(|i| s.sample(&mut request_rng(5, i))).collect();
        let b: Vec<_> = (0..10).map(|i| s.sample(&mut request_rng(5, i))).collect();
        let c: Vec<_> = (0..10).map(|i| s.sample(&mut request_rng(6, i))).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}
