//! Sharded load: one scenario's steps split over `N` processes (pods of a
//! Kubernetes Indexed Job, or local processes), shard `I` of `N` sending
//! exactly the requests a single process's workers `I`, `I + N`, … would.
//!
//! The split is by worker and by arrival, never by percentage, so it is
//! exact and the same seeded prompt selection is made:
//! - closed loop: shard `I` runs the global workers `w ≡ I (mod N)`; each
//!   keeps its global id, so it owns the same tickets (`w`, `w + c`, …), the
//!   same warm-up tickets and the same seeded body choices as in one process;
//! - open loop: shard `I` sends the global arrivals `i ≡ I (mod N)` at their
//!   intended times (a rate of `rate / N` on average, same seed), with its
//!   share of `max_in_flight`.
//!
//! Steps line up across machines through `--start-at`: step `k` starts
//! measuring at `start_at + offsets[k]` (see [`offsets`]).

use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::{Plan, Step, Stop};

/// Shard `index` of `count` (0-based, like `JOB_COMPLETION_INDEX`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl FromStr for Shard {
    type Err = String;

    /// `I/N`, with `0 <= I < N`.
    fn from_str(s: &str) -> Result<Shard, String> {
        let bad = || {
            format!(
                "`{s}` is not a shard: write I/N with 0 <= I < N, e.g. 0/4 \
                 (I is 0-based, like JOB_COMPLETION_INDEX)"
            )
        };
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let index: u32 = i.trim().parse().map_err(|_| bad())?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// How many of `0..total` are `≡ index (mod count)`: this shard's share
    /// of `total` items dealt round-robin (remainders go to the lowest shards).
    pub fn share(&self, total: u64) -> u64 {
        let (i, n) = (u64::from(self.index), u64::from(self.count));
        if total <= i {
            0
        } else {
            (total - i).div_ceil(n)
        }
    }

    /// The global ids of this shard's workers out of `total`.
    pub fn workers(&self, total: u32) -> Vec<u32> {
        (self.index..total).step_by(self.count as usize).collect()
    }

    /// Closed loop: the measured requests (or warm-up requests) of the
    /// `total` that this shard's workers own when `workers` workers share
    /// them (worker `w` owns tickets `w`, `w + workers`, …).
    pub fn tickets(&self, total: u64, workers: u32) -> u64 {
        let c = u64::from(workers.max(1));
        self.workers(workers)
            .into_iter()
            .map(|w| total / c + u64::from(u64::from(w) < total % c))
            .sum()
    }

    /// Open loop: the average rate of this shard's arrivals (every `N`-th).
    pub fn rate(&self, per_s: f64) -> f64 {
        per_s / f64::from(self.count)
    }

    /// What this shard sends of `step`: workers, measured requests (`None`
    /// for a duration), warm-up requests.
    pub fn load_of(&self, step: &Step) -> ShardLoad {
        let workers = step.workers();
        let requests = match step.stop {
            Stop::Duration(_) => None,
            Stop::Requests(n) if step.open.is_some() => Some(self.share(n)),
            Stop::Requests(n) => Some(self.tickets(n, workers)),
        };
        ShardLoad {
            workers: self.share(u64::from(workers)) as u32,
            rate: step.open.map(|o| self.rate(o.per_s)),
            requests,
            warmup: self.tickets(step.warmup, workers),
        }
    }
}

/// One shard's part of one step.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ShardLoad {
    pub workers: u32,
    /// Open loop: requests/s on average.
    pub rate: Option<f64>,
    pub requests: Option<u64>,
    pub warmup: u64,
}

/// Why a run cannot be sharded or its steps lined up: each names the flag
/// or key at fault and the fix.
#[derive(Debug, thiserror::Error)]
pub enum ShardError {
    /// A shard only sends load; this plan starts services.
    #[error(
        "--shard {shard}: a shard only sends load to a gateway running elsewhere, but this \
         scenario starts services ({}); set `[topology] target = \"http://…\"` to the \
         deployed gateway's URL (e.g. `--set topology.target=http://gateway:8080/v1/chat/completions`)",
        services.join(", ")
    )]
    StartsServices { shard: Shard, services: Vec<String> },
    /// An open loop's `max_in_flight` leaves this shard no worker.
    #[error(
        "--shard {shard}: `[load] max_in_flight` = {max_in_flight} leaves shard {} without a \
         worker; raise it to at least {} (one per shard) or use fewer shards",
        shard.index,
        shard.count
    )]
    NoWorker { shard: Shard, max_in_flight: u32 },
    /// Step `step` (1-based) stops on a request count, and more follow.
    #[error(
        "--start-at: step {step} stops after {requests} requests, so when it ends (and the next \
         step starts) cannot be planned; give `--step-every DURATION` (longer than \
         a step takes) or set `[load] duration`"
    )]
    UnplannedLength { step: usize, requests: u64 },
    #[error(
        "`{0}` is not a start time: give RFC 3339 (2026-01-01T12:00:00Z) or unix seconds \
         (e.g. `--start-at $(( $(date +%s) + 30 ))`)"
    )]
    NotAStartTime(String),
    #[error("`{0}` is before 1970")]
    Before1970(String),
}

/// Why a plan cannot be sharded, or `Ok` with every step marked as shard
/// `shard`'s: a shard only sends load to `topology.target`, it never starts
/// services; every shard must get at least one worker when it has arrivals.
pub fn apply(plan: &mut Plan, shard: Shard) -> Result<(), ShardError> {
    if !plan.services.is_empty() || plan.provision.is_some() || !plan.setup.is_empty() {
        return Err(ShardError::StartsServices {
            shard,
            services: plan.services.iter().map(|s| s.name.clone()).collect(),
        });
    }
    for step in &mut plan.steps {
        if let Some(open) = step.open {
            if shard.share(u64::from(open.max_in_flight)) == 0 {
                return Err(ShardError::NoWorker {
                    shard,
                    max_in_flight: open.max_in_flight,
                });
            }
        }
        step.shard = Some(shard);
    }
    Ok(())
}

/// Time between the end of one step's planned length and the next one's
/// start, unless `--step-every` is given: room for the drain of the last
/// requests and the next step's warm-up.
pub const STEP_GAP: Duration = Duration::from_secs(5);

/// When each step starts measuring, from `--start-at`: with `every`, step
/// `k` at `k × every`; otherwise each step starts [`STEP_GAP`] after the
/// planned end of the one before (its `duration`). A step that stops on a
/// request count has no planned length, so it may only be the last one
/// unless `every` is given.
pub fn offsets(steps: &[Step], every: Option<Duration>) -> Result<Vec<Duration>, ShardError> {
    if let Some(every) = every {
        return Ok((0..steps.len() as u32).map(|k| every * k).collect());
    }
    let mut at = Duration::ZERO;
    let mut out = Vec::with_capacity(steps.len());
    for (k, step) in steps.iter().enumerate() {
        out.push(at);
        match step.stop {
            Stop::Duration(d) => at += d + STEP_GAP,
            Stop::Requests(requests) if k + 1 < steps.len() => {
                return Err(ShardError::UnplannedLength {
                    step: k + 1,
                    requests,
                })
            }
            Stop::Requests(_) => {}
        }
    }
    Ok(out)
}

/// `--start-at`: RFC 3339 (`2026-01-01T12:00:00Z`) or unix seconds
/// (`1767268800`, fractions allowed).
pub fn parse_start_at(s: &str) -> Result<SystemTime, ShardError> {
    if let Ok(secs) = s.trim().parse::<f64>() {
        if secs.is_finite() && secs >= 0.0 {
            return Ok(UNIX_EPOCH + Duration::from_secs_f64(secs));
        }
    }
    let t = OffsetDateTime::parse(s.trim(), &Rfc3339)
        .map_err(|_| ShardError::NotAStartTime(s.to_string()))?;
    let nanos = t.unix_timestamp_nanos();
    if nanos < 0 {
        return Err(ShardError::Before1970(s.to_string()));
    }
    Ok(UNIX_EPOCH + Duration::from_nanos(nanos as u64))
}

/// Microseconds since the unix epoch (0 before it).
pub fn unix_us(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Open;
    use crate::scenario::model::Arrival;

    fn step(concurrency: u32, open: Option<Open>, stop: Stop, warmup: u64) -> Step {
        Step {
            index: 0,
            level: match open {
                Some(_) => crate::plan::Level::rate(concurrency),
                None => crate::plan::Level::workers(concurrency),
            },
            open,
            ramp: None,
            run: 1,
            runs: 1,
            warmup,
            stop,
            shard: None,
        }
    }

    fn open(per_s: f64, max_in_flight: u32) -> Option<Open> {
        Some(Open {
            per_s,
            arrival: Arrival::Poisson,
            seed: 1,
            max_in_flight,
        })
    }

    #[test]
    fn shards_parse_zero_based_and_refuse_what_is_not_one() {
        assert_eq!("2/4".parse::<Shard>(), Ok(Shard { index: 2, count: 4 }));
        for bad in ["4/4", "1/0", "x/2", "3", "-1/2", ""] {
            let e = bad.parse::<Shard>().unwrap_err();
            assert!(e.contains("0-based"), "{bad}: {e}");
        }
    }

    /// Issue 15: N shards of concurrency 10, rate 333 and 1,001 requests:
    /// totals exact, remainders spread one each over the lowest shards, no
    /// shard empty unless N exceeds the work.
    #[test]
    fn issue_15_shard_totals_are_exact_and_no_shard_is_empty_unless_n_exceeds_the_work() {
        let closed = step(10, None, Stop::Requests(1001), 10);
        let rated = step(333, open(333.0, 64), Stop::Requests(1001), 34);
        for n in 1..=16u32 {
            let shards: Vec<Shard> = (0..n).map(|index| Shard { index, count: n }).collect();
            let c: Vec<ShardLoad> = shards.iter().map(|s| s.load_of(&closed)).collect();
            let r: Vec<ShardLoad> = shards.iter().map(|s| s.load_of(&rated)).collect();
            assert_eq!(c.iter().map(|l| l.workers).sum::<u32>(), 10, "N={n}");
            assert_eq!(c.iter().map(|l| l.requests.unwrap()).sum::<u64>(), 1001);
            assert_eq!(c.iter().map(|l| l.warmup).sum::<u64>(), 10);
            assert_eq!(r.iter().map(|l| l.requests.unwrap()).sum::<u64>(), 1001);
            assert_eq!(r.iter().map(|l| l.warmup).sum::<u64>(), 34);
            let rate: f64 = r.iter().map(|l| l.rate.unwrap()).sum();
            assert!((rate - 333.0).abs() < 1e-9, "N={n}: {rate}");
            assert_eq!(r.iter().map(|l| l.workers).sum::<u32>(), 64);
            // Even: shares differ by at most one worker; empty only past the work.
            let (lo, hi) = (
                c.iter().map(|l| l.workers).min().unwrap(),
                c.iter().map(|l| l.workers).max().unwrap(),
            );
            assert!(hi - lo <= 1, "N={n}: {c:?}");
            assert_eq!(c.iter().all(|l| l.requests.unwrap() > 0), n <= 10, "N={n}");
            assert!(r.iter().all(|l| l.requests.unwrap() > 0 && l.workers > 0));
            let (lo, hi) = (
                r.iter().map(|l| l.requests.unwrap()).min().unwrap(),
                r.iter().map(|l| l.requests.unwrap()).max().unwrap(),
            );
            assert!(hi - lo <= 1, "N={n}: {r:?}");
        }
        let three: Vec<u64> = (0..3)
            .map(|index| Shard { index, count: 3 }.load_of(&closed).requests.unwrap())
            .collect();
        // Workers {0,3,6,9}, {1,4,7}, {2,5,8}; worker 0 owns the 1,001st.
        assert_eq!(three, vec![401, 300, 300]);
    }

    #[test]
    fn a_shard_owns_the_tickets_of_its_global_workers() {
        let s = Shard { index: 1, count: 3 };
        assert_eq!(s.workers(10), vec![1, 4, 7]);
        // Tickets t < 25 with t % 10 in {1, 4, 7}: 1,4,7,11,14,17,21,24.
        assert_eq!(s.tickets(25, 10), 8);
        assert_eq!(Shard { index: 3, count: 4 }.workers(3), Vec::<u32>::new());
    }

    #[test]
    fn offsets_follow_durations_or_every_and_refuse_unplanned_lengths() {
        let d = |s| Stop::Duration(Duration::from_secs(s));
        let steps = vec![
            step(1, None, d(10), 1),
            step(2, None, d(20), 1),
            step(3, None, d(5), 1),
        ];
        let secs = |v: Vec<Duration>| v.iter().map(Duration::as_secs).collect::<Vec<_>>();
        assert_eq!(secs(offsets(&steps, None).unwrap()), vec![0, 15, 40]);
        let every = Some(Duration::from_secs(60));
        assert_eq!(secs(offsets(&steps, every).unwrap()), vec![0, 60, 120]);
        let counted = vec![step(1, None, Stop::Requests(5), 1); 2];
        let e = offsets(&counted, None).unwrap_err().to_string();
        assert!(e.contains("--step-every"), "{e}");
        assert!(offsets(&counted[..1], None).is_ok());
    }

    #[test]
    fn start_times_are_rfc3339_or_unix_seconds() {
        let a = parse_start_at("2026-01-01T00:00:10Z").unwrap();
        let b = parse_start_at("1767225610").unwrap();
        assert_eq!(a, b);
        assert_eq!(unix_us(parse_start_at("1.5").unwrap()), 1_500_000);
        assert!(parse_start_at("soon")
            .unwrap_err()
            .to_string()
            .contains("RFC 3339"));
    }
}
