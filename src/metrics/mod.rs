//! Measurements: a [`Recorder`] per load thread (no locks, no allocation per
//! sample), merged after the step into summaries, time series and spreads.
//! Rates are taken over the step's busy [`Window`], the time every worker
//! still had work, so the drain at the end of a closed loop does not lower them.

pub mod goodput;
pub mod raw;
pub mod stream;

mod counts;
mod errors;
mod level;
mod recorder;
mod series;
mod step;

use hdrhistogram::Histogram;

pub use errors::{ErrorClass, ErrorSummary, Failure};
pub use level::{LevelSummary, Spread};
pub use recorder::{busy_share, Recorder, Tokens, Window, LATE};
pub use series::SecondSample;
pub use step::{
    LatencySummary, OpenLoopSummary, Quantiles, StepMetrics, StreamingSummary, TokenSummary,
};
pub use stream::{Pacing, StreamChecks};

/// Latencies are recorded in microseconds, from 1 µs to one hour.
const HIGHEST_US: u64 = 3_600_000_000;

fn histogram<T: hdrhistogram::Counter>(sigfig: u8) -> Histogram<T> {
    Histogram::new_with_bounds(1, HIGHEST_US, sigfig).expect("static histogram bounds are valid")
}

#[cfg(test)]
mod tests;
