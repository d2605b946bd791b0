//! Checks `[assert]` thresholds, the regression limits and the
//! per-concurrency tables nested under them.

use crate::assertions::Metric;
use crate::diag::Problem;
use crate::scenario::model::Thresholds;

/// One thresholds table at key path `at`: `[assert]` (`top`) or a level under it.
pub(super) fn check_thresholds(
    t: &Thresholds,
    at: &str,
    levels: &[u32],
    top: bool,
    out: &mut Vec<Problem>,
) {
    check_limits(t, at, top, out);
    check_regression(t, at, top, out);
    check_levels(t, at, levels, top, out);
    if !top && t.strict_levels.is_some() {
        out.push(
            Problem::new(format!("{at}.strict_levels"), "applies to the whole sweep")
                .label("move it to [assert]"),
        );
    }
}

/// The metric limits (each a number ≥ 0) and the shares (each 0–1).
fn check_limits(t: &Thresholds, at: &str, top: bool, out: &mut Vec<Problem>) {
    // Shares (0–1) are checked below, each with its own example.
    let limits = Metric::ALL
        .into_iter()
        .filter(|m| !m.is_share())
        .map(|m| (m.key(), t.limit(m)));
    for (key, value) in limits {
        if value.is_some_and(|v| !(v >= 0.0 && v.is_finite())) {
            out.push(Problem::new(
                format!("{at}.{key}"),
                format!("`{key}` must be a number ≥ 0"),
            ));
        }
    }
    if t.min_achieved_rate_ratio
        .is_some_and(|v| !(0.0..=1.0).contains(&v))
    {
        out.push(
            Problem::new(
                format!("{at}.min_achieved_rate_ratio"),
                "`min_achieved_rate_ratio` is a share between 0 and 1",
            )
            .label("e.g. 0.99: at least 99% of the target rate sent"),
        );
    }
    if t.min_goodput.is_some_and(|v| !(0.0..=1.0).contains(&v)) {
        out.push(
            Problem::new(
                format!("{at}.min_goodput"),
                "`min_goodput` is a share between 0 and 1",
            )
            .label("e.g. 0.95: at least 95% of requests met the SLO"),
        );
    }
    if !top && t.min_capacity_rps.is_some() {
        out.push(
            Problem::new(
                format!("{at}.min_capacity_rps"),
                "the capacity a search finds is one figure for the whole sweep",
            )
            .label("move it to [assert]"),
        );
    }
    if t.max_error_rate.is_some_and(|v| !(0.0..=1.0).contains(&v)) {
        out.push(
            Problem::new(
                format!("{at}.max_error_rate"),
                "`max_error_rate` is a share between 0 and 1",
            )
            .label("e.g. 0.01 for 1%"),
        );
    }
}

/// `regression`: only at the top, each limit a share ≥ 0 and each run count
/// at least its least.
fn check_regression(t: &Thresholds, at: &str, top: bool, out: &mut Vec<Problem>) {
    if !top && t.regression.is_some() {
        out.push(
            Problem::new(
                format!("{at}.regression"),
                "regression limits apply to the whole sweep",
            )
            .label("move this table to [assert.regression]"),
        );
    }
    if let Some(reg) = &t.regression {
        let limits = [
            ("fail_p95_increase", reg.fail_p95_increase),
            ("fail_error_rate", reg.fail_error_rate),
            ("warn_p95_increase", reg.warn_p95_increase),
            ("warn_p50_change", reg.warn_p50_change),
            ("warn_rps_change", reg.warn_rps_change),
        ];
        for (key, value) in limits {
            if !(value >= 0.0 && value.is_finite()) {
                out.push(
                    Problem::new(
                        format!("{at}.regression.{key}"),
                        format!("`{key}` must be a share ≥ 0"),
                    )
                    .label("e.g. 0.20 for 20%"),
                );
            }
        }
        // (key, value, least, default)
        let counts = [
            ("history_runs", reg.history_runs, 1, 5),
            ("drift_runs", reg.drift_runs, 3, 10),
            ("drift_horizon_runs", reg.drift_horizon_runs, 1, 10),
        ];
        for (key, value, least, default) in counts {
            if value < least {
                out.push(
                    Problem::new(
                        format!("{at}.regression.{key}"),
                        format!("`{key}` must be at least {least}"),
                    )
                    .label(format!("the default is {default}")),
                );
            }
        }
    }
}

/// `concurrency.N` tables: only at the top, each N a level of the sweep
/// (unless it is reported as not measured), each checked like the top.
fn check_levels(t: &Thresholds, at: &str, levels: &[u32], top: bool, out: &mut Vec<Problem>) {
    if !top && !t.concurrency.is_empty() {
        out.push(Problem::new(
            format!("{at}.concurrency"),
            "per-concurrency thresholds cannot nest",
        ));
    }
    for (level, inner) in &t.concurrency {
        let key = format!("{at}.concurrency.{level}");
        match level.parse::<u32>() {
            Ok(n) if levels.contains(&n) => check_thresholds(inner, &key, levels, false, out),
            // Reported as not measured; `strict_levels` makes it an error.
            Ok(_) if t.strict_levels != Some(true) => {
                check_thresholds(inner, &key, levels, false, out)
            }
            _ => out.push(
                Problem::new(
                    key,
                    format!("`{level}` is not a concurrency level of this sweep"),
                )
                .note(format!(
                    "levels in load.concurrency: {}{}",
                    levels
                        .iter()
                        .map(u32::to_string)
                        .collect::<Vec<_>>()
                        .join(", "),
                    if t.strict_levels == Some(true) {
                        " ([assert] strict_levels = true makes this an error)"
                    } else {
                        ""
                    }
                )),
            ),
        }
    }
}
