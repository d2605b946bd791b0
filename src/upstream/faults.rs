//! Which fault, if any, a request gets: one uniform draw matched against the
//! cumulative fault shares, so over many requests each kind gets its share.

use rand::rngs::SmallRng;
use rand::Rng;

use super::config::Faults;

/// A fault injected instead of a normal answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Status429,
    Status500,
    Status503,
    Hang,
    Reset,
    Truncated,
    /// Answered normally after a pause part-way.
    Stall,
}

const KINDS: [Fault; 7] = [
    Fault::Status429,
    Fault::Status500,
    Fault::Status503,
    Fault::Hang,
    Fault::Reset,
    Fault::Truncated,
    Fault::Stall,
];

/// The fault shares as cumulative thresholds, ready for draws.
#[derive(Debug, Clone, Copy)]
pub struct FaultPicker {
    cumulative: [f64; 7],
    any: bool,
}

impl FaultPicker {
    pub fn new(faults: &Faults) -> Self {
        let mut cumulative = [0.0; 7];
        let mut sum = 0.0;
        for (slot, (_, share)) in cumulative.iter_mut().zip(faults.shares()) {
            sum += share;
            *slot = sum;
        }
        Self {
            cumulative,
            any: sum > 0.0,
        }
    }

    /// Draws for one request; `None` means answer normally. Draws nothing when
    /// no fault is configured, so delay draws stay the same either way.
    pub fn pick(&self, rng: &mut SmallRng) -> Option<Fault> {
        if !self.any {
            return None;
        }
        let u: f64 = rng.gen();
        // A share of exactly 1 must always fire: u < 1 always holds.
        self.cumulative
            .iter()
            .position(|&c| u < c)
            .map(|i| KINDS[i])
    }
}

#[cfg(test)]
mod tests {
    use super::super::delay::request_rng;
    use super::*;

    fn count(faults: Faults, n: u64) -> [u64; 8] {
        let picker = FaultPicker::new(&faults);
        let mut counts = [0u64; 8];
        for seq in 0..n {
            let i = match picker.pick(&mut request_rng(42, seq)) {
                None => 7,
                Some(f) => KINDS.iter().position(|&k| k == f).unwrap(),
            };
            counts[i] += 1;
        }
        counts
    }

    #[test]
    fn shares_are_respected() {
        let faults = Faults {
            status_429: 0.01,
            status_500: 0.02,
            status_503: 0.03,
            hang: 0.04,
            reset: 0.05,
            truncated: 0.10,
            stall: 0.06,
            ..Faults::default()
        };
        let n = 200_000;
        let counts = count(faults.clone(), n);
        for ((name, share), got) in faults.shares().iter().zip(counts) {
            let expected = share * n as f64;
            let tolerance = 4.0 * expected.sqrt();
            assert!(
                (got as f64 - expected).abs() < tolerance,
                "{name}: {got} vs {expected}"
            );
        }
        assert_eq!(counts.iter().sum::<u64>(), n);
    }

    #[test]
    fn share_one_always_and_zero_never() {
        let all_reset = Faults {
            reset: 1.0,
            ..Faults::default()
        };
        assert_eq!(count(all_reset, 1000)[4], 1000);
        assert_eq!(count(Faults::default(), 1000)[7], 1000);
    }
}
