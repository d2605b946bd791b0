//! What an `[assert]` key measures: the one list of check metrics, each with
//! its key, its name in reports, its unit and which way it must hold. The
//! plan, the verdicts and every renderer read these; none re-lists them.

use serde::{Deserialize, Serialize};

/// One `[assert]` metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    MinRps,
    MaxP50Ms,
    MaxP95Ms,
    MaxP99Ms,
    MaxErrorRate,
    /// Open loop: achieved rate over the target.
    MinAchievedRateRatio,
    /// Open loop: arrivals left unsent, per run.
    MaxDropped,
    /// Share of requests that met `[report] slo`.
    MinGoodput,
    /// `[load] search`: the capacity found, req/s. One figure for the
    /// whole search, judged by [`super::judge_capacity`], not per level.
    MinCapacityRps,
    /// The fastest RSS growth of the services under test, MiB per minute.
    MaxRssGrowthMibPerMin,
}

/// Which way a measured value must hold against its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// At or below the limit (`max_…`).
    AtMost,
    /// At or above the limit (`min_…`).
    AtLeast,
}

impl Direction {
    /// `≤` or `≥`.
    pub fn op(self) -> &'static str {
        match self {
            Direction::AtMost => "≤",
            Direction::AtLeast => "≥",
        }
    }

    /// Whether `measured` keeps `limit`.
    pub fn holds(self, measured: f64, limit: f64) -> bool {
        match self {
            Direction::AtMost => measured <= limit,
            Direction::AtLeast => measured >= limit,
        }
    }
}

/// How a metric is shown: name, unit, and the factor from the stored value
/// (a share 0–1 is shown as a percentage).
struct Spec {
    key: &'static str,
    label: &'static str,
    unit: &'static str,
    scale: f64,
}

impl Metric {
    /// Every metric, in `[assert]` order.
    pub const ALL: [Metric; 10] = [
        Metric::MinRps,
        Metric::MaxP50Ms,
        Metric::MaxP95Ms,
        Metric::MaxP99Ms,
        Metric::MaxErrorRate,
        Metric::MinAchievedRateRatio,
        Metric::MaxDropped,
        Metric::MinGoodput,
        Metric::MinCapacityRps,
        Metric::MaxRssGrowthMibPerMin,
    ];

    fn spec(self) -> Spec {
        let (key, label, unit, scale) = match self {
            Metric::MinRps => ("min_rps", "throughput", " req/s", 1.0),
            Metric::MaxP50Ms => ("max_p50_ms", "p50", " ms", 1.0),
            Metric::MaxP95Ms => ("max_p95_ms", "p95", " ms", 1.0),
            Metric::MaxP99Ms => ("max_p99_ms", "p99", " ms", 1.0),
            Metric::MaxErrorRate => ("max_error_rate", "error rate", "%", 100.0),
            Metric::MinAchievedRateRatio => (
                "min_achieved_rate_ratio",
                "achieved rate",
                "% of target",
                100.0,
            ),
            Metric::MaxDropped => ("max_dropped", "dropped per run", "", 1.0),
            Metric::MinGoodput => ("min_goodput", "goodput", "% of requests", 100.0),
            Metric::MinCapacityRps => ("min_capacity_rps", "capacity (search)", " req/s", 1.0),
            Metric::MaxRssGrowthMibPerMin => {
                ("max_rss_growth_mib_per_min", "RSS growth", " MiB/min", 1.0)
            }
        };
        Spec {
            key,
            label,
            unit,
            scale,
        }
    }

    /// The key as written under `[assert]` and in JSON: `max_p50_ms`.
    pub fn key(self) -> &'static str {
        self.spec().key
    }

    /// The metric of an `[assert]` key.
    pub fn parse(key: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.key() == key)
    }

    /// The name in reports: `p50`, `throughput`, `error rate`.
    pub fn label(self) -> &'static str {
        self.spec().label
    }

    /// The unit after a shown value: ` ms`, `%`, `% of target`.
    pub fn unit(self) -> &'static str {
        self.spec().unit
    }

    /// A stored value as shown (`0.02` error rate is `2`, a percentage).
    pub fn scaled(self, value: f64) -> f64 {
        value * self.spec().scale
    }

    /// Which way the measured value must hold.
    pub fn direction(self) -> Direction {
        if self.key().starts_with("max_") {
            Direction::AtMost
        } else {
            Direction::AtLeast
        }
    }

    /// True when the measured value must stay at or below the limit.
    pub fn is_max(self) -> bool {
        self.direction() == Direction::AtMost
    }

    /// A share between 0 and 1 (shown as a percentage).
    pub fn is_share(self) -> bool {
        self.spec().scale != 1.0
    }

    /// Judged per level of a sweep (all but the search's capacity).
    pub fn per_level(self) -> bool {
        self != Metric::MinCapacityRps
    }

    /// A limit as written in the plan and in verdicts: `60 ms`, `1%`.
    pub fn limit_text(self, limit: f64) -> String {
        format!("{}{}", self.scaled(limit), self.unit())
    }

    /// A measured value, two decimals: `51.20 ms`.
    pub fn value_text(self, value: f64) -> String {
        format!("{:.2}{}", self.scaled(value), self.unit())
    }
}

impl std::fmt::Display for Metric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.key())
    }
}

/// The `[assert]` key.
impl Serialize for Metric {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.key())
    }
}

impl<'de> Deserialize<'de> for Metric {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Metric, D::Error> {
        let key = String::deserialize(d)?;
        Metric::parse(&key).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown metric `{key}`, expected one of {}",
                Metric::ALL.map(Metric::key).join(", ")
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_and_round_trip() {
        for m in Metric::ALL {
            let json = serde_json::to_value(m).unwrap();
            assert_eq!(json, m.key());
            assert_eq!(serde_json::from_value::<Metric>(json).unwrap(), m);
            assert_eq!(m.is_max(), m.key().starts_with("max_"));
        }
        assert!(serde_json::from_value::<Metric>("max_p42_ms".into()).is_err());
        let keys: std::collections::HashSet<_> = Metric::ALL.map(Metric::key).into();
        assert_eq!(keys.len(), Metric::ALL.len());
    }

    #[test]
    fn shown_in_its_unit() {
        assert_eq!(Metric::MaxErrorRate.limit_text(0.01), "1%");
        assert_eq!(Metric::MaxP50Ms.value_text(51.2), "51.20 ms");
        assert_eq!(Metric::MinRps.direction().op(), "≥");
        assert!(Metric::MaxDropped.direction().holds(3.0, 3.0));
        assert!(!Metric::MinGoodput.direction().holds(0.5, 0.9));
    }
}
