//! Server-side metrics on the timeline: a gateway profile's Prometheus
//! endpoint (`[instance] metrics_path`) scraped about once a second while
//! a step runs, keeping the series `[report] metrics` selects. The text
//! exposition format is read with the `prometheus-parse` crate.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// One scraped series over a step: a value per scrape (`null` when the
/// scrape failed or the series was absent then).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerSeries {
    pub service: String,
    /// The sample's name with its labels, e.g. `requests_total{route="chat"}`;
    /// a selected histogram gives its `_sum` and `_count`, a summary each quantile.
    pub series: String,
    pub values: Vec<Option<f64>>,
}

/// A service's metrics endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    pub service: String,
    pub url: String,
}

/// Why a scrape gave no samples.
#[derive(Debug, thiserror::Error)]
pub enum ScrapeError {
    #[error("{0}")]
    Call(#[from] crate::control::Error),
    #[error("answered {0}")]
    Status(u16),
    #[error("not the Prometheus text format: {0}")]
    NotPrometheus(std::io::Error),
}

/// The selected samples of one exposition text, by series name.
pub fn select(text: &str, names: &[String]) -> Result<BTreeMap<String, f64>, ScrapeError> {
    let lines = text.lines().map(|l| Ok(l.to_string()));
    let scrape = prometheus_parse::Scrape::parse(lines).map_err(ScrapeError::NotPrometheus)?;
    let wanted = |metric: &str| {
        names.iter().any(|n| {
            metric == n
                || metric
                    .strip_prefix(n.as_str())
                    .is_some_and(|rest| rest == "_sum" || rest == "_count")
        })
    };
    let mut out = BTreeMap::new();
    for s in scrape.samples.iter().filter(|s| wanted(&s.metric)) {
        let mut labels: Vec<(&String, &String)> = s.labels.iter().collect();
        labels.sort();
        let key = |extra: Option<(&str, String)>| {
            let mut parts: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
            if let Some((k, v)) = extra {
                parts.push(format!("{k}={v:?}"));
            }
            match parts.is_empty() {
                true => s.metric.clone(),
                false => format!("{}{{{}}}", s.metric, parts.join(",")),
            }
        };
        use prometheus_parse::Value;
        match &s.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => {
                out.insert(key(None), *v);
            }
            Value::Summary(qs) => {
                for q in qs {
                    out.insert(key(Some(("quantile", q.quantile.to_string()))), q.count);
                }
            }
            // Its `_sum` and `_count` samples carry it.
            Value::Histogram(_) => {}
        }
    }
    Ok(out)
}

/// Scrapes the sources during one step.
pub struct Scraper {
    sources: Vec<Source>,
    names: Vec<String>,
    /// Per source, per series: the values so far.
    series: Vec<BTreeMap<String, Vec<Option<f64>>>>,
    scrapes: usize,
    /// The first failure, for the step's report.
    pub error: Option<String>,
}

impl Scraper {
    pub fn new(sources: Vec<Source>, names: Vec<String>) -> Option<Scraper> {
        (!sources.is_empty() && !names.is_empty()).then(|| Scraper {
            series: vec![BTreeMap::new(); sources.len()],
            sources,
            names,
            scrapes: 0,
            error: None,
        })
    }

    /// Scrape every source once (each bounded to half a second).
    pub async fn scrape(&mut self) {
        for (i, source) in self.sources.iter().enumerate() {
            let got = match crate::control::get(&source.url, Duration::from_millis(500)).await {
                Ok(a) if a.is_success() => select(&String::from_utf8_lossy(&a.body), &self.names),
                Ok(a) => Err(ScrapeError::Status(a.status)),
                Err(e) => Err(e.into()),
            };
            let values = match got {
                Ok(v) => v,
                Err(e) => {
                    self.error
                        .get_or_insert_with(|| format!("scraping {}: {e}", source.url));
                    BTreeMap::new()
                }
            };
            let series = &mut self.series[i];
            for (name, v) in values {
                series
                    .entry(name)
                    .or_insert_with(|| vec![None; self.scrapes])
                    .push(Some(v));
            }
            for values in series.values_mut() {
                values.resize(self.scrapes + 1, None);
            }
        }
        self.scrapes += 1;
    }

    pub fn finish(self) -> Vec<ServerSeries> {
        self.sources
            .iter()
            .zip(self.series)
            .flat_map(|(source, series)| {
                series.into_iter().map(|(name, values)| ServerSeries {
                    service: source.service.clone(),
                    series: name,
                    values,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selects_counters_gauges_histogram_sums_and_summary_quantiles() {
        let text = "# TYPE requests_total counter\n\
requests_total{route=\"chat\",code=\"200\"} 12\n\
requests_total{route=\"models\",code=\"200\"} 3\n\
# TYPE queue gauge\nqueue 4\n\
# TYPE other gauge\nother 9\n\
# TYPE latency_seconds histogram\n\
latency_seconds_bucket{le=\"0.1\"} 5\nlatency_seconds_bucket{le=\"+Inf\"} 7\n\
latency_seconds_sum 0.9\nlatency_seconds_count 7\n\
# TYPE rpc summary\nrpc{quantile=\"0.99\"} 0.25\nrpc_sum 3\nrpc_count 10\n";
        let names: Vec<String> = ["requests_total", "queue", "latency_seconds", "rpc"]
            .map(String::from)
            .to_vec();
        let got = select(text, &names).unwrap();
        let keys: Vec<&str> = got.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "latency_seconds_count",
                "latency_seconds_sum",
                "queue",
                "requests_total{code=\"200\",route=\"chat\"}",
                "requests_total{code=\"200\",route=\"models\"}",
                "rpc_count",
                "rpc_sum",
                "rpc{quantile=\"0.99\"}",
            ]
        );
        assert_eq!(got["queue"], 4.0);
        assert_eq!(got["latency_seconds_count"], 7.0);
        assert_eq!(got["rpc{quantile=\"0.99\"}"], 0.25);
    }
}
