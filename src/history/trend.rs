//! Drift: a metric creeping a little every run passes every pairwise
//! comparison. A least-squares line through the last `drift_runs` runs
//! (the current one last) is extended `drift_horizon_runs` runs ahead; when
//! it crosses the limit by then, that is a WARN.
//!
//! The limits are `[assert.regression]`'s, against the history baseline
//! (the median of the last `history_runs` comparable runs): p95 rising past
//! `fail_p95_increase`, throughput falling past `warn_rps_change` (its only
//! limit).

use serde::Serialize;

use super::Figure;
use crate::report::compare::Grade;
use crate::scenario::model::Regression;

/// The figures drift is checked on.
pub const CHECKED: [Figure; 2] = [Figure::P95Ms, Figure::Rps];

/// The middle value (the mean of the two middle ones for an even count);
/// `None` for no values.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// The least-squares line through `(i, values[i])`: `(slope, intercept)`;
/// `None` for fewer than two values.
pub fn fit(values: &[f64]) -> Option<(f64, f64)> {
    let n = values.len();
    if n < 2 {
        return None;
    }
    let nf = n as f64;
    let mx = (nf - 1.0) / 2.0;
    let my = values.iter().sum::<f64>() / nf;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (i, y) in values.iter().enumerate() {
        let dx = i as f64 - mx;
        sxy += dx * (y - my);
        sxx += dx * dx;
    }
    let slope = sxy / sxx;
    Some((slope, my - slope * mx))
}

/// One figure's drift at one level.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Drift {
    pub concurrency: u32,
    pub figure: &'static str,
    /// Runs the line was fitted through (the current one last).
    pub runs: usize,
    /// Change per run, in the figure's unit.
    pub slope_per_run: f64,
    /// The history baseline (median of the last `history_runs`).
    pub reference: f64,
    /// Where the limit lies: `reference × (1 ± share)`.
    pub limit: f64,
    /// The line's value `horizon` runs after the current one.
    pub projected: f64,
    pub horizon: usize,
    /// WARN when the projection crosses the limit, else OK.
    pub grade: Grade,
    /// Why it is a WARN.
    pub reason: Option<String>,
}

/// Judge one figure's series (oldest first, the current run last) against
/// `reference`, or `None` when the series is too short (three runs at least).
pub fn drift(
    figure: Figure,
    concurrency: u32,
    series: &[f64],
    reference: f64,
    t: &Regression,
) -> Option<Drift> {
    if series.len() < 3 || reference.is_nan() || reference <= 0.0 {
        return None;
    }
    let (slope, intercept) = fit(series)?;
    let last = (series.len() - 1) as f64;
    let horizon = t.drift_horizon_runs;
    let projected = intercept + slope * (last + horizon as f64);
    let now = intercept + slope * last;
    let (limit, crossed, what) = match figure {
        Figure::Rps => {
            let limit = reference * (1.0 - t.warn_rps_change);
            (
                limit,
                slope < 0.0 && projected < limit,
                format!("throughput falling {:.2} req/s per run", slope.abs()),
            )
        }
        _ => {
            let limit = reference * (1.0 + t.fail_p95_increase);
            (
                limit,
                slope > 0.0 && projected > limit,
                format!("{} rising {:.2} per run", figure.label(), slope),
            )
        }
    };
    let share = match figure {
        Figure::Rps => format!("-{:.0}%", t.warn_rps_change * 100.0),
        _ => format!("+{:.0}%", t.fail_p95_increase * 100.0),
    };
    let reason = crossed.then(|| {
        let runs_left = ((limit - now) / slope).ceil();
        let when = if runs_left >= 1.0 {
            format!("crosses the limit in about {runs_left:.0} runs (horizon {horizon})")
        } else {
            "is past the limit already".to_string()
        };
        format!(
            "drift: {what} over the last {} runs {when} ({share} over the history median {} = {})",
            series.len(),
            figure.show(reference),
            figure.show(limit),
        )
    });
    Some(Drift {
        concurrency,
        figure: figure.column(),
        runs: series.len(),
        slope_per_run: slope,
        reference,
        limit,
        projected,
        horizon,
        grade: if crossed { Grade::Warn } else { Grade::Ok },
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn fit_finds_the_slope_of_a_line() {
        let (slope, intercept) = fit(&[50.0, 51.0, 52.0, 53.0, 54.0]).unwrap();
        assert!((slope - 1.0).abs() < 1e-9);
        assert!((intercept - 50.0).abs() < 1e-9);
        assert_eq!(fit(&[1.0]), None);
    }

    #[test]
    fn a_steady_two_percent_rise_warns_before_it_fails() {
        let t = Regression::default();
        let d = drift(Figure::P95Ms, 1, &[50.0, 51.0, 52.0, 53.0, 54.0], 51.5, &t).unwrap();
        assert_eq!(d.grade, Grade::Warn, "{d:?}");
        assert!(d.reason.unwrap().contains("crosses the limit in about"));
        // Flat within noise: no warning.
        let flat = drift(Figure::P95Ms, 1, &[50.0, 50.4, 49.8, 50.1, 50.2], 50.0, &t).unwrap();
        assert_eq!(flat.grade, Grade::Ok);
        // Falling latency is no drift to warn about.
        let better = drift(Figure::P95Ms, 1, &[54.0, 53.0, 52.0, 51.0, 50.0], 52.0, &t).unwrap();
        assert_eq!(better.grade, Grade::Ok);
    }

    #[test]
    fn falling_throughput_warns_and_rising_does_not() {
        let t = Regression::default();
        let down = [100.0, 98.0, 96.0, 94.0, 92.0];
        assert_eq!(
            drift(Figure::Rps, 4, &down, 97.0, &t).unwrap().grade,
            Grade::Warn
        );
        let up = [92.0, 94.0, 96.0, 98.0, 100.0];
        assert_eq!(
            drift(Figure::Rps, 4, &up, 95.0, &t).unwrap().grade,
            Grade::Ok
        );
    }

    #[test]
    fn the_horizon_is_configurable() {
        let short = Regression {
            drift_horizon_runs: 2,
            ..Regression::default()
        };
        let d = drift(
            Figure::P95Ms,
            1,
            &[50.0, 51.0, 52.0, 53.0, 54.0],
            51.5,
            &short,
        )
        .unwrap();
        assert_eq!(d.grade, Grade::Ok, "{d:?}");
    }

    #[test]
    fn too_few_runs_make_no_verdict() {
        let t = Regression::default();
        assert_eq!(drift(Figure::P95Ms, 1, &[50.0, 60.0], 50.0, &t), None);
    }
}
