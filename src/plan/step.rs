//! The measured load steps: each level (or the ramp of `[load] stages`)
//! `runs` times, how an open loop paces, and when a step's measurement ends.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{shard, Level, LevelKind, Ramp, RampStage};
use crate::scenario::model::{duration, Arrival};
use crate::scenario::Scenario;

/// One measured load step: warm-up requests, then the measured ones.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(into = "StepJson", from = "StepJson")]
pub struct Step {
    pub index: usize,
    /// The workers of a closed-loop step, the target rate of an open-loop
    /// one (`open` is set then).
    pub level: Level,
    /// An open-loop step's pacing; absent for a closed loop.
    pub open: Option<Open>,
    /// A stages step: how its workers or arrival rate move over time
    /// (`level` holds the peak, `stop` the ramp's length).
    pub ramp: Option<Ramp>,
    /// 1-based run number of this level.
    pub run: u32,
    pub runs: u32,
    pub warmup: u64,
    pub stop: Stop,
    /// Only this shard's part of the step's load (`run --shard`); absent
    /// when one process sends it all.
    pub shard: Option<shard::Shard>,
}

/// A [`Step`] in JSON: the level's keys, then the ramp's object in place of
/// the level's `ramp: true` flag (one `ramp` key, read back as both).
#[derive(Serialize, Deserialize)]
struct StepJson {
    index: usize,
    #[serde(flatten)]
    level: Level,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ramp: Option<Ramp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    open: Option<Open>,
    run: u32,
    runs: u32,
    warmup: u64,
    stop: Stop,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    shard: Option<shard::Shard>,
}

impl From<Step> for StepJson {
    fn from(s: Step) -> StepJson {
        let level = Level {
            ramp: s.level.ramp && s.ramp.is_none(),
            ..s.level
        };
        StepJson {
            index: s.index,
            level,
            ramp: s.ramp,
            open: s.open,
            run: s.run,
            runs: s.runs,
            warmup: s.warmup,
            stop: s.stop,
            shard: s.shard,
        }
    }
}

impl From<StepJson> for Step {
    fn from(s: StepJson) -> Step {
        let level = Level {
            ramp: s.level.ramp || s.ramp.is_some(),
            ..s.level
        };
        Step {
            index: s.index,
            level,
            open: s.open,
            ramp: s.ramp,
            run: s.run,
            runs: s.runs,
            warmup: s.warmup,
            stop: s.stop,
            shard: s.shard,
        }
    }
}

/// How an open-loop step paces its requests.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Open {
    /// Target arrival rate, requests per second.
    pub per_s: f64,
    pub arrival: Arrival,
    pub seed: u64,
    /// Most requests open at once: the workers, one connection each.
    pub max_in_flight: u32,
}

impl Step {
    /// Workers (one connection each): the concurrency of a closed loop,
    /// `max_in_flight` of an open one.
    pub fn workers(&self) -> u32 {
        self.open.map_or(self.level.value, |o| o.max_in_flight)
    }

    /// An open loop's scheduled window: its `duration`, or the intended
    /// span of its requests at the target rate. `None` for a closed loop.
    pub fn scheduled_window(&self) -> Option<Duration> {
        let o = self.open?;
        Some(match self.stop {
            Stop::Duration(d) => d,
            Stop::Requests(n) => Duration::from_secs_f64(n as f64 / o.per_s),
        })
    }
}

/// When a step's measurement ends.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stop {
    Requests(u64),
    Duration(#[serde(with = "duration")] Duration),
}

/// Every measured step: each level, `runs` times; or the ramp of
/// `[load] stages` as one step, `runs` times.
pub(super) fn steps(s: &Scenario) -> Vec<Step> {
    let load = &s.model.load;
    if let Some(ramp) = ramp(load) {
        let level = Level::ramp(ramp.kind, ramp.peak().ceil() as u32);
        let open = level.is_rate().then(|| Open {
            per_s: ramp.peak(),
            arrival: load.arrival,
            seed: load.seed.unwrap_or(s.model.request.pool.seed),
            max_in_flight: load.max_in_flight(),
        });
        return (1..=load.runs)
            .map(|run| Step {
                index: run as usize - 1,
                level,
                open,
                ramp: Some(ramp.clone()),
                run,
                runs: load.runs,
                // A ramp starts from nothing: it is its own warm-up.
                warmup: load.warmup.unwrap_or(0),
                stop: Stop::Duration(ramp.total()),
                shard: None,
            })
            .collect();
    }
    let stop = stop_rule(load);
    let mut steps = Vec::new();
    for level in levels(load) {
        let open = level.is_rate().then(|| Open {
            per_s: f64::from(level.value),
            arrival: load.arrival,
            seed: load.seed.unwrap_or(s.model.request.pool.seed),
            max_in_flight: load.max_in_flight(),
        });
        for run in 1..=load.runs {
            steps.push(Step {
                index: steps.len(),
                level,
                open,
                ramp: None,
                run,
                runs: load.runs,
                // An open loop warms up on as many requests as it sends in
                // a tenth of a second (at least 1), closed-loop style.
                warmup: load.warmup.unwrap_or(match open {
                    Some(o) => (o.per_s / 10.0).ceil().max(1.0) as u64,
                    None => u64::from(level.value),
                }),
                stop,
                shard: None,
            });
        }
    }
    steps
}

/// `[load] stages` as a ramp (checked: each has a duration and one target).
pub(super) fn ramp(load: &crate::scenario::model::Load) -> Option<Ramp> {
    if load.stages.is_empty() {
        return None;
    }
    let kind = if load.open() {
        LevelKind::Rate
    } else {
        LevelKind::Workers
    };
    let stages = load
        .stages
        .iter()
        .map(|s| RampStage {
            duration: s.duration.unwrap_or_default(),
            target: f64::from(s.concurrency.or(s.rate).unwrap_or(0)),
        })
        .collect();
    Some(Ramp { kind, stages })
}

/// The measured levels: the scenario's rates or worker counts, or its
/// ramp's peak.
pub(super) fn levels(load: &crate::scenario::model::Load) -> Vec<Level> {
    if let Some(r) = ramp(load) {
        return vec![Level::ramp(r.kind, r.peak().ceil() as u32)];
    }
    let make = if load.open() {
        Level::rate
    } else {
        Level::workers
    };
    load.levels().into_iter().map(make).collect()
}

/// When each step's measurement ends: `duration`, else `requests` (default 1000).
pub fn stop_rule(load: &crate::scenario::model::Load) -> Stop {
    match (load.duration, load.requests) {
        (Some(d), _) => Stop::Duration(d),
        (None, Some(n)) => Stop::Requests(n),
        (None, None) => Stop::Requests(1000),
    }
}
