//! The throughput ceiling and each level's efficiency against Little's law,
//! computed from the report's level summaries (nothing is stored).
//!
//! **Ideal throughput.** By Little's law a closed loop of `c` workers that each
//! wait `S` seconds per request completes `c / S` requests per second. `S`, the
//! unloaded service time, is taken as the smallest p50 of any level (normally
//! the lowest concurrency). The p50 rather than the minimum latency: the minimum
//! is one request (a cache hit, a lucky scheduling slot) and would make the
//! ideal line unreachably steep, while the median of the least loaded level is
//! what one request really costs when nothing queues.
//!
//! **Ceiling.** Between two neighbouring levels `c1 < c2` the growth per
//! doubling of concurrency is `(rps2 / rps1)^(1 / log2(c2 / c1)) - 1`, so steps
//! of any ratio compare fairly. The ceiling is the first level after which that
//! growth falls under [`GROWTH_THRESHOLD`] (10%): more concurrency stopped buying
//! throughput there.

use serde::Serialize;

use super::Report;
use crate::metrics::LevelSummary;
use crate::plan::LevelKind;

/// Growth per doubling of concurrency under which throughput has "stopped growing".
pub const GROWTH_THRESHOLD: f64 = 0.10;

/// Efficiency and growth for one concurrency level.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LevelEfficiency {
    pub concurrency: u32,
    /// Measured successful requests per second (mean over runs).
    pub rps: f64,
    /// `concurrency / service time`.
    pub ideal_rps: f64,
    /// `rps / ideal_rps`.
    pub efficiency: f64,
    /// Growth per doubling from the previous level to this one; `None` for the first.
    pub growth_per_doubling: Option<f64>,
}

/// Where throughput stopped growing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ceiling {
    /// The last level that still paid off.
    pub concurrency: u32,
    pub rps: f64,
    /// The next level, where growth fell under the threshold.
    pub next_concurrency: u32,
    /// Growth per doubling from `concurrency` to `next_concurrency`.
    pub growth_per_doubling: f64,
}

/// The whole analysis.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Analysis {
    /// Unloaded service time in ms (smallest level p50); `None` when nothing was measured.
    pub service_ms: Option<f64>,
    /// Levels with a measurement, by concurrency.
    pub levels: Vec<LevelEfficiency>,
    pub ceiling: Option<Ceiling>,
    /// The highest measured throughput and its level.
    pub peak: Option<(u32, f64)>,
}

impl Analysis {
    pub fn of(report: &Report) -> Analysis {
        Analysis::of_levels(&report.levels)
    }

    /// Over concurrency levels only: a rate level's throughput is set by
    /// its schedule, so it has no ceiling to find here.
    pub fn of_levels(levels: &[LevelSummary]) -> Analysis {
        let mut measured: Vec<&LevelSummary> = levels
            .iter()
            .filter(|l| l.level.kind == LevelKind::Workers && !l.level.ramp)
            .filter(|l| l.runs > 0 && l.rps.mean > 0.0 && l.p50_ms.mean > 0.0)
            .collect();
        measured.sort_by_key(|l| l.level.value);
        let service_ms = measured
            .iter()
            .map(|l| l.p50_ms.mean)
            .min_by(f64::total_cmp);
        let Some(service_ms) = service_ms else {
            return Analysis {
                service_ms: None,
                levels: Vec::new(),
                ceiling: None,
                peak: None,
            };
        };
        let mut out: Vec<LevelEfficiency> = Vec::new();
        let mut ceiling = None;
        for (i, l) in measured.iter().enumerate() {
            let ideal_rps = ideal_rps(l.level.value, service_ms);
            let growth = (i > 0).then(|| {
                let prev = measured[i - 1];
                growth_per_doubling(prev.level.value, prev.rps.mean, l.level.value, l.rps.mean)
            });
            if let (None, Some(g)) = (&ceiling, growth) {
                if g < GROWTH_THRESHOLD {
                    let prev = measured[i - 1];
                    ceiling = Some(Ceiling {
                        concurrency: prev.level.value,
                        rps: prev.rps.mean,
                        next_concurrency: l.level.value,
                        growth_per_doubling: g,
                    });
                }
            }
            out.push(LevelEfficiency {
                concurrency: l.level.value,
                rps: l.rps.mean,
                ideal_rps,
                efficiency: l.rps.mean / ideal_rps,
                growth_per_doubling: growth,
            });
        }
        let peak = out
            .iter()
            .max_by(|a, b| a.rps.total_cmp(&b.rps))
            .map(|l| (l.concurrency, l.rps));
        Analysis {
            service_ms: Some(service_ms),
            levels: out,
            ceiling,
            peak,
        }
    }

    /// One sentence for the terminal and Markdown, e.g.
    /// `throughput ceiling: 1946 req/s at c=100 (+2% per doubling to c=200)`.
    pub fn ceiling_line(&self) -> Option<String> {
        if self.levels.len() < 2 {
            return None;
        }
        Some(match &self.ceiling {
            Some(c) => format!(
                "throughput ceiling: {:.1} req/s at c={} ({} per doubling from c={} to c={})",
                c.rps,
                c.concurrency,
                signed_percent(c.growth_per_doubling),
                c.concurrency,
                c.next_concurrency
            ),
            None => {
                let last = self.levels.last().expect("two levels or more");
                format!(
                    "throughput ceiling: not reached; still growing at c={} ({:.1} req/s)",
                    last.concurrency, last.rps
                )
            }
        })
    }

    /// The efficiency of every level, e.g. `efficiency vs ideal: c=1 99%, c=10 98%`.
    pub fn efficiency_line(&self) -> Option<String> {
        let service = self.service_ms?;
        let cells: Vec<String> = self
            .levels
            .iter()
            .map(|l| format!("c={} {:.0}%", l.concurrency, l.efficiency * 100.0))
            .collect();
        Some(format!(
            "efficiency vs ideal (c / {service:.2} ms): {}",
            cells.join(", ")
        ))
    }
}

/// Little's law: `c` workers each busy `service_ms` per request.
pub fn ideal_rps(concurrency: u32, service_ms: f64) -> f64 {
    f64::from(concurrency) / (service_ms / 1000.0)
}

/// Throughput growth per doubling of concurrency between two levels.
pub fn growth_per_doubling(c1: u32, rps1: f64, c2: u32, rps2: f64) -> f64 {
    let doublings = (f64::from(c2) / f64::from(c1)).log2();
    if rps1 <= 0.0 || doublings <= 0.0 {
        return 0.0;
    }
    (rps2 / rps1).powf(1.0 / doublings) - 1.0
}

pub(crate) fn signed_percent(x: f64) -> String {
    format!("{:+.0}%", x * 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level(c: u32, rps: f64, p50: f64) -> LevelSummary {
        LevelSummary::sample(c, rps, p50)
    }

    #[test]
    fn growth_is_per_doubling_whatever_the_step_ratio() {
        // Doubling throughput for a doubling of concurrency is +100%.
        assert!((growth_per_doubling(1, 10.0, 2, 20.0) - 1.0).abs() < 1e-12);
        // ×10 concurrency, ×10 throughput: still +100% per doubling.
        assert!((growth_per_doubling(10, 100.0, 100, 1000.0) - 1.0).abs() < 1e-9);
        // ×4 concurrency, ×1.21 throughput: +10% per doubling.
        assert!((growth_per_doubling(50, 100.0, 200, 121.0) - 0.10).abs() < 1e-9);
        assert_eq!(growth_per_doubling(10, 0.0, 20, 5.0), 0.0);
    }

    #[test]
    fn linear_scaling_has_no_ceiling_and_full_efficiency() {
        let a = Analysis::of_levels(&[
            level(1, 20.0, 50.0),
            level(10, 200.0, 50.0),
            level(100, 2000.0, 50.0),
        ]);
        assert_eq!(a.service_ms, Some(50.0));
        assert_eq!(a.ceiling, None);
        for l in &a.levels {
            assert!((l.efficiency - 1.0).abs() < 1e-9, "{l:?}");
        }
        assert_eq!(a.peak, Some((100, 2000.0)));
        assert!(a.ceiling_line().unwrap().contains("not reached"));
    }

    #[test]
    fn the_ceiling_is_the_last_level_that_paid_off() {
        // 1 → 10 scales; 10 → 50 grows 1.3× over 2.32 doublings (+12% each);
        // 50 → 100 grows 1.05× (+5%): the ceiling is at 50.
        let a = Analysis::of_levels(&[
            level(100, 546.0, 180.0),
            level(1, 20.0, 50.0),
            level(10, 400.0, 25.0),
            level(50, 520.0, 90.0),
        ]);
        let c = a.ceiling.clone().expect("a ceiling");
        assert_eq!((c.concurrency, c.next_concurrency), (50, 100));
        assert!((c.growth_per_doubling - 0.05).abs() < 1e-9);
        // Service time is the smallest p50 (25 ms at c=10): ideal at c=100 is 4000.
        assert_eq!(a.service_ms, Some(25.0));
        let top = a.levels.last().unwrap();
        assert_eq!(top.concurrency, 100);
        assert!((top.ideal_rps - 4000.0).abs() < 1e-9);
        assert!((top.efficiency - 546.0 / 4000.0).abs() < 1e-12);
        assert!(a.levels[0].growth_per_doubling.is_none());
        let line = a.ceiling_line().unwrap();
        assert!(line.contains("520.0 req/s at c=50"), "{line}");
        assert!(line.contains("+5% per doubling"), "{line}");
    }

    #[test]
    fn a_drop_is_a_ceiling_and_unmeasured_levels_are_ignored() {
        let mut empty = level(200, 0.0, 0.0);
        empty.runs = 0;
        let a = Analysis::of_levels(&[level(1, 20.0, 50.0), level(2, 15.0, 60.0), empty]);
        assert_eq!(a.levels.len(), 2);
        assert_eq!(a.ceiling.as_ref().map(|c| c.concurrency), Some(1));
        assert!(a.ceiling.unwrap().growth_per_doubling < 0.0);
    }

    #[test]
    fn nothing_measured_means_no_analysis() {
        let a = Analysis::of_levels(&[]);
        assert_eq!(a.service_ms, None);
        assert!(a.ceiling_line().is_none() && a.efficiency_line().is_none());
        let one = Analysis::of_levels(&[level(4, 80.0, 50.0)]);
        assert!(one.ceiling_line().is_none(), "one level has no ceiling");
        assert!(one.efficiency_line().is_some());
    }
}
