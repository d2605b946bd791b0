//! The series scraped from the services' Prometheus endpoints in
//! `report.html` (`[report] metrics`): a table of each series' range over
//! a step.

use crate::report::svg::num;
use crate::report::Report;

/// Per step and scraped series: the step, service, series, first, last,
/// min and max value over the step, and how many scrapes had it.
pub(super) fn server_metric_rows(r: &Report) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for s in &r.steps {
        for m in &s.server_metrics {
            let values: Vec<f64> = m.values.iter().flatten().copied().collect();
            let (Some(first), Some(last)) = (values.first(), values.last()) else {
                continue;
            };
            let min = values.iter().copied().fold(f64::INFINITY, f64::min);
            let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            rows.push(vec![
                s.name(r),
                m.service.clone(),
                m.series.clone(),
                num(*first),
                num(*last),
                num(min),
                num(max),
                format!("{}/{}", values.len(), m.values.len()),
            ]);
        }
    }
    rows
}
