//! What a run needs to find capacity: the frontier's bounds, the search
//! (its probes are steps made as it goes, see [`SearchPlan::probe`]), the
//! goodput SLO and the capacity assertion.

use std::fmt::{self, Write};

use serde::{Deserialize, Serialize};

use super::{Open, Step, Stop};
use crate::scenario::capacity::{DEFAULT_FRONTIER_ERROR_RATE, DEFAULT_FRONTIER_P99_MS};
use crate::scenario::model::{FrontierBasis, Slo};
use crate::scenario::Scenario;

/// The capacity part of a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Capacity {
    pub frontier: FrontierPlan,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search: Option<SearchPlan>,
    /// What a good request is (`[report] slo`), for goodput.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slo: Option<Slo>,
    /// `[assert] min_capacity_rps`: judged against the search's result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_capacity_rps: Option<f64>,
}

/// The capacity frontier's bounds, resolved from `[report] frontier_*`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrontierPlan {
    pub p99_ms: Vec<f64>,
    pub basis: FrontierBasis,
    pub max_error_rate: f64,
}

/// `[load] search`, resolved: what each probe must meet and how probes are made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchPlan {
    pub p99_ms: f64,
    pub max_error_rate: f64,
    /// Over arrival rates (else worker counts).
    pub open: bool,
    pub low: u32,
    pub high: u32,
    pub tolerance: f64,
    pub max_probes: u32,
    /// Every probe's stop rule, and its warm-up when set.
    pub stop: Stop,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warmup: Option<u64>,
    /// The pacing of a rate probe (its `per_s` is set per probe).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pacing: Option<Open>,
}

impl SearchPlan {
    /// The measured step that probes `level`, numbered `index`.
    pub fn probe(&self, index: usize, level: u32) -> Step {
        let open = self.pacing.map(|o| Open {
            per_s: f64::from(level),
            ..o
        });
        Step {
            index,
            level: crate::plan::Level::fixed(level, open.is_some()),
            open,
            ramp: None,
            run: 1,
            runs: 1,
            // As a sweep's steps: a tenth of a second of arrivals, or one
            // request per worker.
            warmup: self.warmup.unwrap_or(match open {
                Some(o) => (o.per_s / 10.0).ceil().max(1.0) as u64,
                None => u64::from(level),
            }),
            stop: self.stop,
            shard: None,
        }
    }
}

/// Resolve the capacity keys of `s`; `stop` is every step's stop rule.
pub fn resolve(s: &Scenario, stop: Stop) -> Capacity {
    let m = &s.model;
    let r = &m.report;
    let load = &m.load;
    Capacity {
        frontier: FrontierPlan {
            p99_ms: r
                .frontier_p99_ms
                .clone()
                .unwrap_or_else(|| DEFAULT_FRONTIER_P99_MS.to_vec()),
            basis: r.frontier_basis.unwrap_or(if m.topology.direct {
                FrontierBasis::Overhead
            } else {
                FrontierBasis::Absolute
            }),
            max_error_rate: r
                .frontier_max_error_rate
                .unwrap_or(DEFAULT_FRONTIER_ERROR_RATE),
        },
        search: load.search.as_ref().map(|search| {
            let [low, high] = search.bounds();
            SearchPlan {
                p99_ms: search.p99_ms,
                max_error_rate: search.max_error_rate,
                open: search.open(),
                low,
                high,
                tolerance: search.tolerance,
                max_probes: search.max_probes,
                stop,
                warmup: load.warmup,
                pacing: search.open().then(|| Open {
                    per_s: 0.0,
                    arrival: load.arrival,
                    seed: load.seed.unwrap_or(m.request.pool.seed),
                    max_in_flight: load.max_in_flight(),
                }),
            }
        }),
        slo: r.slo,
        min_capacity_rps: m.assertions.min_capacity_rps,
    }
}

impl fmt::Display for Capacity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        if let Some(s) = &self.search {
            let unit = if s.open { " req/s" } else { " workers" };
            writeln!(
                out,
                "Search: the highest {} in [{}, {}]{unit} with p99 ≤ {} ms and error rate ≤ {}%,",
                if s.open { "rate" } else { "concurrency" },
                s.low,
                s.high,
                s.p99_ms,
                s.max_error_rate * 100.0
            )?;
            writeln!(
                out,
                "  by bisection: both bounds, then midpoints until within {}% (at most {} probes of {} each{})",
                s.tolerance * 100.0,
                s.max_probes,
                s.stop,
                s.pacing.map_or(String::new(), |o| format!(
                    ", {:?} arrivals, max {} in flight",
                    o.arrival, o.max_in_flight
                ))
            )?;
        }
        let fr = &self.frontier;
        let bounds: Vec<String> = fr.p99_ms.iter().map(|b| format!("{b}")).collect();
        writeln!(
            out,
            "Frontier: most throughput with p99{} ≤ {} ms, error rate ≤ {}%",
            match fr.basis {
                FrontierBasis::Absolute => "",
                FrontierBasis::Overhead => " over the direct path",
            },
            bounds.join(" / "),
            fr.max_error_rate * 100.0
        )?;
        if let Some(slo) = &self.slo {
            writeln!(
                out,
                "Goodput: requests that succeeded with {}",
                slo.describe()
            )?;
        }
        f.write_str(&out)
    }
}
