//! The series scraped from the services' Prometheus endpoints in
//! `report.html` (`[report] metrics`): a table of each series' range over
//! a step, and a chart of its values scrape by scrape.

use minijinja::Value;

use crate::report::svg::{self, num, Axis, LineChart, Series};
use crate::report::Report;

const LINE: &str = "#0d9488";

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

/// Per step and scraped series with a value: a line over the step's
/// scrapes (about one a second; a failed scrape has no point), element id
/// `chart-server-STEP-N` (`-direct` added for a direct step).
pub(super) fn server_metric_charts(r: &Report) -> Vec<Value> {
    let mut charts = Vec::new();
    for s in &r.steps {
        let suffix = match s.side {
            crate::report::Side::Target => "",
            crate::report::Side::Direct => "-direct",
        };
        for (n, m) in s.server_metrics.iter().enumerate() {
            let points: Vec<(f64, f64)> = m
                .values
                .iter()
                .enumerate()
                .filter_map(|(i, v)| v.map(|v| (i as f64, v)))
                .collect();
            if points.is_empty() {
                continue;
            }
            let name = s.name(r);
            let mut line = Series::new(&m.series, LINE, points);
            line.markers = m.values.len() <= 30;
            line.legend = false;
            line.tips = line
                .points
                .iter()
                .map(|(x, y)| format!("{name} scrape {x}: {}", num(*y)))
                .collect();
            let chart = LineChart {
                id: format!("chart-server-{}-{}{suffix}", s.index + 1, n + 1),
                width: svg::WIDTH / 2.0,
                title: format!("{name} · {}: {}", m.service, m.series),
                height: 210.0,
                x: Axis::linear("scrape (about one a second)"),
                y: Axis::linear(&m.series),
                series: vec![line],
                markers: Vec::new(),
            };
            charts.push(Value::from_safe_string(chart.render()));
        }
    }
    charts
}
