//! A load level: what one step holds its load at (or ramps it to). The one
//! type every stage keys steps, checks and summaries by, and the one place
//! that says how a level is named (`c=10`, `r=500/s`, `ramp to c=200`), what
//! its number is called on a chart axis or a table column, and how it is
//! written to JSON.
//!
//! JSON keeps the fields reports had before this type existed: `concurrency`
//! holds the number (workers, or requests/s), `rate` is set for an arrival
//! rate (the target in req/s; in verdicts, `true`), and `ramp: true` marks
//! a stages step, whose number is its peak. Older reports read as before.

use serde::{Deserialize, Serialize};

/// What a level's number counts.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum LevelKind {
    /// Closed loop: workers, each sending when its last answer arrived.
    #[default]
    Workers,
    /// Open loop: the target arrival rate, requests per second.
    Rate,
}

/// One load level.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Level {
    pub kind: LevelKind,
    /// Workers or requests/s; a ramp's peak.
    pub value: u32,
    /// A stages step: the load ramps (to `value` at its highest) instead of
    /// holding still.
    pub ramp: bool,
}

impl Level {
    pub const fn workers(n: u32) -> Level {
        Level {
            kind: LevelKind::Workers,
            value: n,
            ramp: false,
        }
    }

    pub const fn rate(per_s: u32) -> Level {
        Level {
            kind: LevelKind::Rate,
            value: per_s,
            ramp: false,
        }
    }

    /// A fixed level: `per_s` requests/s when `rate`, else workers.
    pub const fn fixed(value: u32, rate: bool) -> Level {
        if rate {
            Level::rate(value)
        } else {
            Level::workers(value)
        }
    }

    /// A stages step of `kind` peaking at `peak`.
    pub const fn ramp(kind: LevelKind, peak: u32) -> Level {
        Level {
            kind,
            value: peak,
            ramp: true,
        }
    }

    /// An arrival rate (open loop).
    pub fn is_rate(self) -> bool {
        self.kind == LevelKind::Rate
    }

    /// `c=10`, `r=500/s`, `ramp to c=200`, `ramp to r=500/s`.
    pub fn label(self) -> String {
        let fixed = match self.kind {
            LevelKind::Workers => format!("c={}", self.value),
            LevelKind::Rate => format!("r={}/s", self.value),
        };
        if self.ramp {
            format!("ramp to {fixed}")
        } else {
            fixed
        }
    }

    /// `concurrency 10`, `rate 500/s`: how the plan and JUnit spell it out.
    pub fn words(self) -> String {
        let fixed = match self.kind {
            LevelKind::Workers => format!("concurrency {}", self.value),
            LevelKind::Rate => format!("rate {}/s", self.value),
        };
        if self.ramp {
            format!("a ramp to {fixed}")
        } else {
            fixed
        }
    }

    /// The key naming it under `[assert.concurrency.N]` / `[assert.rate.N]`
    /// (and a table cell): the number.
    pub fn key(self) -> String {
        self.value.to_string()
    }

    /// Its number as a chart coordinate.
    pub fn x(self) -> f64 {
        f64::from(self.value)
    }

    /// A short identifier for names that allow no `=` or `/` (JUnit class
    /// names): `c10`, `r500`, `ramp_c200`.
    pub fn ident(self) -> String {
        let fixed = match self.kind {
            LevelKind::Workers => format!("c{}", self.value),
            LevelKind::Rate => format!("r{}", self.value),
        };
        if self.ramp {
            format!("ramp_{fixed}")
        } else {
            fixed
        }
    }
}

impl LevelKind {
    /// A table column or CSV header: `concurrency` or `rate/s`.
    pub fn column(self) -> &'static str {
        match self {
            LevelKind::Workers => "concurrency",
            LevelKind::Rate => "rate/s",
        }
    }

    /// A field name (CSV header, JSON key): `concurrency` or `rate`.
    pub fn field(self) -> &'static str {
        match self {
            LevelKind::Workers => "concurrency",
            LevelKind::Rate => "rate",
        }
    }

    /// A chart axis.
    pub fn axis(self) -> &'static str {
        match self {
            LevelKind::Workers => "concurrency",
            LevelKind::Rate => "target rate (req/s)",
        }
    }

    /// What a count of it is: `workers` or `req/s`.
    pub fn unit(self) -> &'static str {
        match self {
            LevelKind::Workers => "workers",
            LevelKind::Rate => "req/s",
        }
    }

    /// The kind shared by `levels`, or `Workers` when they mix or are none
    /// (a table has one column for the level).
    pub fn of<'a>(levels: impl IntoIterator<Item = &'a Level>) -> LevelKind {
        let mut kinds = levels.into_iter().map(|l| l.kind);
        match kinds.next() {
            Some(first) if kinds.all(|k| k == first) => first,
            _ => LevelKind::Workers,
        }
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.label())
    }
}

/// How a level is written in JSON (flattened into its step, summary,
/// check or verdict).
#[derive(Serialize, Deserialize)]
struct Keyed {
    concurrency: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rate: Option<RateKey>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    ramp: bool,
}

/// `rate`: the target in req/s (steps, summaries), or `true` (verdicts).
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum RateKey {
    PerS(f64),
    Flag(bool),
}

impl Keyed {
    fn level(self) -> Level {
        let rate = match self.rate {
            Some(RateKey::PerS(_)) | Some(RateKey::Flag(true)) => LevelKind::Rate,
            _ => LevelKind::Workers,
        };
        Level {
            kind: rate,
            value: self.concurrency,
            ramp: self.ramp,
        }
    }
}

impl Serialize for Level {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Keyed {
            concurrency: self.value,
            rate: self.is_rate().then(|| RateKey::PerS(f64::from(self.value))),
            ramp: self.ramp,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Level {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Level, D::Error> {
        Keyed::deserialize(d).map(Keyed::level)
    }
}

/// The verdicts' shape: `rate: true` instead of the number.
pub mod flag {
    use super::*;

    pub fn serialize<S: serde::Serializer>(l: &Level, s: S) -> Result<S::Ok, S::Error> {
        Keyed {
            concurrency: l.value,
            rate: l.is_rate().then_some(RateKey::Flag(true)),
            ramp: l.ramp,
        }
        .serialize(s)
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Level, D::Error> {
        Keyed::deserialize(d).map(Keyed::level)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct Step {
        index: u32,
        #[serde(flatten)]
        level: Level,
        run: u32,
    }

    #[test]
    fn levels_are_named_once() {
        assert_eq!(Level::workers(10).label(), "c=10");
        assert_eq!(Level::rate(500).label(), "r=500/s");
        assert_eq!(
            Level::ramp(LevelKind::Workers, 200).label(),
            "ramp to c=200"
        );
        assert_eq!(Level::rate(500).words(), "rate 500/s");
        assert_eq!(Level::ramp(LevelKind::Rate, 50).ident(), "ramp_r50");
        assert_eq!(
            LevelKind::of(&[Level::rate(1), Level::rate(2)]),
            LevelKind::Rate
        );
        assert_eq!(
            LevelKind::of(&[Level::rate(1), Level::workers(2)]),
            LevelKind::Workers
        );
    }

    #[test]
    fn json_keeps_the_fields_older_reports_have() {
        let closed = Step {
            index: 0,
            level: Level::workers(4),
            run: 1,
        };
        let json = serde_json::to_string(&closed).unwrap();
        assert_eq!(json, r#"{"index":0,"concurrency":4,"run":1}"#);
        let open: Step =
            serde_json::from_str(r#"{"index":1,"concurrency":500,"rate":500.0,"run":2}"#).unwrap();
        assert_eq!(open.level, Level::rate(500));
        assert_eq!(
            serde_json::to_string(&open).unwrap(),
            r#"{"index":1,"concurrency":500,"rate":500.0,"run":2}"#
        );
        let ramp = Step {
            index: 2,
            level: Level::ramp(LevelKind::Rate, 80),
            run: 1,
        };
        let back: Step = serde_json::from_str(&serde_json::to_string(&ramp).unwrap()).unwrap();
        assert_eq!(back, ramp);
        // A verdict's `rate: true`.
        let flagged: Step =
            serde_json::from_str(r#"{"index":1,"concurrency":500,"rate":true,"run":2}"#).unwrap();
        assert_eq!(flagged.level, Level::rate(500));
    }
}
