//! The capacity keys: `[load] search` (bisection for the highest load that
//! meets a latency bound), `[report] slo` (what a good request is, for
//! goodput) and `[report] frontier_*` (capacity at each latency bound).
//! Checked in [`check`]; docs/capacity.md documents them.

use serde::{Deserialize, Serialize};

use crate::diag::Problem;

/// `[load] search = { p99_ms = 100, max_error_rate = 0.001, rate = [10, 5000] }`:
/// the highest rate (or `concurrency`) whose p99 (corrected, for a rate)
/// stays within `p99_ms` with no error rate above `max_error_rate`, found by
/// bisection, one measured step per probe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Search {
    /// The latency bound a probe must keep its p99 within, ms.
    pub p99_ms: f64,
    /// Largest share of failed (or, for a rate, dropped) requests a probe may have.
    #[serde(default = "default_search_error_rate")]
    pub max_error_rate: f64,
    /// Search arrival rates (req/s, open loop) between these bounds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<[u32; 2]>,
    /// Search worker counts (closed loop) between these bounds instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<[u32; 2]>,
    /// Stop when the highest passing and the lowest failing level are within
    /// this share of each other.
    #[serde(default = "default_tolerance")]
    pub tolerance: f64,
    /// Most probes (measured steps), bounds included.
    #[serde(default = "default_max_probes")]
    pub max_probes: u32,
}

/// The rate bounds searched when neither `rate` nor `concurrency` is given.
pub const DEFAULT_SEARCH_RATE: [u32; 2] = [10, 10_000];

fn default_search_error_rate() -> f64 {
    0.001
}
fn default_tolerance() -> f64 {
    0.02
}
fn default_max_probes() -> u32 {
    12
}

impl Search {
    /// Whether the search is over arrival rates (else over concurrency).
    pub fn open(&self) -> bool {
        self.concurrency.is_none()
    }

    /// The `[low, high]` bounds searched.
    pub fn bounds(&self) -> [u32; 2] {
        self.rate
            .or(self.concurrency)
            .unwrap_or(DEFAULT_SEARCH_RATE)
    }
}

/// `[report] slo = { latency_ms = 500, ttft_ms = 200, itl_ms = 50 }`: a
/// request is *good* when it succeeded and met every bound set. TTFT and ITL
/// count from the request's intended send time (open loop) like latency; a
/// stream's ITL is its mean gap between tokens (as vLLM's goodput does); a
/// non-streamed answer's TTFT is its latency and it has no ITL.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Slo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttft_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub itl_ms: Option<f64>,
}

impl Slo {
    /// `(key, bound)` of each bound, in report order.
    pub fn bounds(&self) -> [(&'static str, Option<f64>); 3] {
        [
            ("latency_ms", self.latency_ms),
            ("ttft_ms", self.ttft_ms),
            ("itl_ms", self.itl_ms),
        ]
    }

    /// `latency ≤ 500 ms, TTFT ≤ 200 ms`.
    pub fn describe(&self) -> String {
        let names = ["latency", "TTFT", "mean ITL"];
        self.bounds()
            .iter()
            .zip(names)
            .filter_map(|((_, b), name)| b.map(|b| format!("{name} ≤ {b} ms")))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// What a frontier bound limits: the p99 itself, or the p99 the gateway
/// adds over the direct path (`topology.direct = true`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FrontierBasis {
    Absolute,
    Overhead,
}

impl FrontierBasis {
    pub fn label(self) -> &'static str {
        match self {
            FrontierBasis::Absolute => "absolute",
            FrontierBasis::Overhead => "overhead",
        }
    }
}

/// The frontier's bounds when `frontier_p99_ms` is not given: the tail
/// bounds gateway rankings publish (ms over the upstream).
pub const DEFAULT_FRONTIER_P99_MS: &[f64] = &[1.0, 5.0, 10.0, 50.0, 100.0];

/// The frontier's error-rate limit when `frontier_max_error_rate` is not given.
pub const DEFAULT_FRONTIER_ERROR_RATE: f64 = 0.001;

/// Problems with the capacity keys (`search`, `slo`, `frontier_*`).
pub fn check(s: &super::ScenarioFile, out: &mut Vec<Problem>) {
    match &s.load.search {
        Some(search) => {
            check_search(search, out);
            check_search_fits(s, search, out);
        }
        None if s.assertions.min_capacity_rps.is_some() => {
            out.push(
                Problem::new(
                    "assert.min_capacity_rps",
                    "`min_capacity_rps` judges the result of `[load] search`, which is not set",
                )
                .label("add e.g. search = { p99_ms = 100, rate = [10, 5000] } under [load]"),
            );
        }
        None => {}
    }
    check_slo(s, out);
    check_frontier(s, out);
}

/// A value that must be a number > 0.
fn number(v: f64) -> bool {
    v.is_finite() && v > 0.0
}

/// `[load] search`'s own keys: the bound, the error rate, the range, the
/// tolerance and the number of probes.
fn check_search(search: &Search, out: &mut Vec<Problem>) {
    if !number(search.p99_ms) {
        out.push(
            Problem::new("load.search.p99_ms", "`p99_ms` must be a number > 0")
                .label("e.g. 100: the p99 a probe may reach, ms"),
        );
    }
    if !(0.0..=1.0).contains(&search.max_error_rate) {
        out.push(
            Problem::new(
                "load.search.max_error_rate",
                "`max_error_rate` is a share between 0 and 1",
            )
            .label("e.g. 0.001 for 0.1%"),
        );
    }
    if search.rate.is_some() && search.concurrency.is_some() {
        out.push(
            Problem::new(
                "load.search.concurrency",
                "search either `rate` (open loop) or `concurrency` (closed loop), not both",
            )
            .label("remove one of them"),
        );
    }
    for (key, bounds) in [("rate", search.rate), ("concurrency", search.concurrency)] {
        if let Some([low, high]) = bounds {
            if low == 0 || high <= low {
                out.push(
                    Problem::new(
                        format!("load.search.{key}"),
                        format!("`{key}` is [low, high] with 1 ≤ low < high, not [{low}, {high}]"),
                    )
                    .label(format!("e.g. {key} = [10, 5000]")),
                );
            }
        }
    }
    if !(search.tolerance > 0.0 && search.tolerance < 1.0) {
        out.push(
            Problem::new(
                "load.search.tolerance",
                "`tolerance` is a share between 0 and 1 (exclusive)",
            )
            .label("e.g. 0.02: stop when pass and fail are within 2%"),
        );
    }
    if search.max_probes < 2 {
        out.push(
            Problem::new(
                "load.search.max_probes",
                "`max_probes` must be at least 2 (both bounds are probed)",
            )
            .label("the default is 12"),
        );
    }
}

/// What cannot go with a search: a sweep of levels, a closed loop's
/// `max_in_flight`, per-level thresholds.
fn check_search_fits(s: &super::ScenarioFile, search: &Search, out: &mut Vec<Problem>) {
    let load = &s.load;
    for (key, set) in [
        ("rate", !load.rate.is_empty()),
        ("concurrency", !load.concurrency.is_empty()),
    ] {
        if set {
            out.push(
                Problem::new(
                    format!("load.{key}"),
                    format!("`search` picks its own levels; a `{key}` sweep cannot go with it"),
                )
                .label("remove it, or remove `search`"),
            );
        }
    }
    if !search.open() && load.max_in_flight.is_some() {
        out.push(
            Problem::new(
                "load.max_in_flight",
                "max_in_flight caps an open loop; this search is over `concurrency`",
            )
            .label("remove it, or search `rate` instead"),
        );
    }
    let a = &s.assertions;
    let per_level = [
        ("min_rps", a.min_rps),
        ("max_p50_ms", a.max_p50_ms),
        ("max_p95_ms", a.max_p95_ms),
        ("max_p99_ms", a.max_p99_ms),
        ("max_error_rate", a.max_error_rate),
        ("min_achieved_rate_ratio", a.min_achieved_rate_ratio),
        ("max_dropped", a.max_dropped),
        ("min_goodput", a.min_goodput),
    ];
    for (key, value) in per_level {
        if value.is_some() {
            out.push(
                Problem::new(
                    format!("assert.{key}"),
                    format!("`{key}` judges the levels of a sweep; a search picks its levels as it goes"),
                )
                .label("assert the search's result with `min_capacity_rps`, or sweep `rate`/`concurrency`"),
            );
        }
    }
    if !a.concurrency.is_empty() {
        out.push(
            Problem::new(
                "assert.concurrency",
                "per-level thresholds judge the levels of a sweep; a search picks its levels as it goes",
            )
            .label("assert the search's result with `min_capacity_rps`"),
        );
    }
}

/// `[report] slo`: at least one bound, each > 0; `min_goodput` needs it.
fn check_slo(s: &super::ScenarioFile, out: &mut Vec<Problem>) {
    let r = &s.report;
    if let Some(slo) = &r.slo {
        if slo.bounds().iter().all(|(_, b)| b.is_none()) {
            out.push(
                Problem::new("report.slo", "the SLO sets no bound")
                    .label("set latency_ms, ttft_ms and/or itl_ms"),
            );
        }
        for (key, bound) in slo.bounds() {
            if bound.is_some_and(|b| !number(b)) {
                out.push(
                    Problem::new(
                        format!("report.slo.{key}"),
                        format!("`{key}` must be a number > 0"),
                    )
                    .label("milliseconds"),
                );
            }
        }
    } else if s.assertions.min_goodput.is_some()
        || s.assertions
            .concurrency
            .values()
            .any(|t| t.min_goodput.is_some())
    {
        out.push(
            Problem::new(
                "assert.min_goodput",
                "`min_goodput` needs an SLO saying what a good request is",
            )
            .label("add e.g. slo = { latency_ms = 500 } under [report]"),
        );
    }
}

/// `[report] frontier_*`: the bounds, the error-rate limit and the basis.
fn check_frontier(s: &super::ScenarioFile, out: &mut Vec<Problem>) {
    let r = &s.report;
    if let Some(bounds) = &r.frontier_p99_ms {
        if bounds.is_empty() {
            out.push(
                Problem::new("report.frontier_p99_ms", "the list of bounds is empty")
                    .label("remove the key for the defaults (1, 5, 10, 50, 100 ms)"),
            );
        }
        for (i, &b) in bounds.iter().enumerate() {
            if !number(b) {
                out.push(Problem::new(
                    format!("report.frontier_p99_ms[{i}]"),
                    "a bound must be a number > 0 (ms)",
                ));
            }
        }
    }
    if r.frontier_max_error_rate
        .is_some_and(|v| !(0.0..=1.0).contains(&v))
    {
        out.push(
            Problem::new(
                "report.frontier_max_error_rate",
                "`frontier_max_error_rate` is a share between 0 and 1",
            )
            .label("e.g. 0.001 for 0.1%"),
        );
    }
    if r.frontier_basis == Some(FrontierBasis::Overhead) && !s.topology.direct {
        out.push(
            Problem::new(
                "report.frontier_basis",
                "an overhead frontier needs the direct baseline",
            )
            .label("set topology.direct = true, or use \"absolute\""),
        );
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    fn load(tag: &str, text: &str) -> Result<super::super::Scenario, String> {
        let dir =
            std::env::temp_dir().join(format!("scenario-capacity-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file: PathBuf = dir.join("s.toml");
        std::fs::write(&file, text).unwrap();
        super::super::load(&file, &[]).map_err(|e| e.to_string())
    }

    #[test]
    fn issue_12_bad_search_keys_are_located_and_explained() {
        let err = load(
            "search",
            "[load]\nduration = \"1s\"\nsearch = { p99_ms = 100, rate = [500, 10], tolerence = 0.1 }\n",
        )
        .unwrap_err();
        assert!(err.contains("s.toml:3:"), "{err}");
        assert!(
            err.contains("tolerence") && err.contains("tolerance"),
            "{err}"
        );
        let err = load(
            "search-bounds",
            "[load]\nduration = \"1s\"\nsearch = { p99_ms = 0, rate = [500, 10], max_probes = 1 }\n\
             [assert]\nmax_p99_ms = 5\n",
        )
        .unwrap_err();
        for want in [
            "s.toml:3:21",
            "`p99_ms` must be a number > 0",
            "[low, high] with 1 ≤ low < high, not [500, 10]",
            "`max_probes` must be at least 2",
            "s.toml:5:1",
            "`max_p99_ms` judges the levels of a sweep",
        ] {
            assert!(err.contains(want), "{want}:\n{err}");
        }
        let err = load(
            "search-sweep",
            "[load]\nconcurrency = [1, 2]\nsearch = { p99_ms = 100, concurrency = [1, 64] }\n",
        )
        .unwrap_err();
        assert!(err.contains("s.toml:2:15"), "{err}");
        assert!(
            err.contains("a `concurrency` sweep cannot go with it"),
            "{err}"
        );
    }

    #[test]
    fn issue_12_goodput_and_capacity_assertions_need_their_figures() {
        let err = load(
            "goodput",
            "[assert]\nmin_goodput = 0.9\nmin_capacity_rps = 10\n",
        )
        .unwrap_err();
        assert!(err.contains("needs an SLO"), "{err}");
        assert!(
            err.contains("judges the result of `[load] search`"),
            "{err}"
        );
        let err = load(
            "slo",
            "[report]\nslo = { latency_ms = -1 }\nfrontier_p99_ms = []\nfrontier_basis = \"overhead\"\n",
        )
        .unwrap_err();
        for want in [
            "`latency_ms` must be a number > 0",
            "the list of bounds is empty",
            "an overhead frontier needs the direct baseline",
        ] {
            assert!(err.contains(want), "{want}:\n{err}");
        }
        let ok = load(
            "ok",
            "[load]\nduration = \"1s\"\nsearch = { p99_ms = 100 }\n[report]\nslo = { ttft_ms = 200 }\n[assert]\nmin_capacity_rps = 10\n",
        )
        .unwrap();
        assert!(
            ok.model.load.levels().is_empty(),
            "a search picks its own levels"
        );
        assert_eq!(
            ok.model.load.search.unwrap().bounds(),
            super::DEFAULT_SEARCH_RATE
        );
    }
}
