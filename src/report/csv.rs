//! `steps.csv`: one row per step, for spreadsheets and plotting scripts.

use std::fmt::Write;

use super::{Exporter, Report};

pub struct Csv;

const HEADER: &str = "step,concurrency,run,requests,successes,errors,error_rate,duration_s,rps,\
min_ms,mean_ms,stddev_ms,p50_ms,p90_ms,p95_ms,p99_ms,p999_ms,max_ms,\
timeouts,connect_errors,read_errors,status_errors,cancelled";

impl Exporter for Csv {
    fn file_name(&self) -> &'static str {
        "steps.csv"
    }

    fn render(&self, report: &Report) -> String {
        let mut out = String::from(HEADER);
        out.push('\n');
        for s in &report.steps {
            let m = &s.metrics;
            let l = &m.latency_ms;
            let e = &m.errors;
            let status: u64 = e.status.values().sum();
            let _ = writeln!(
                out,
                "{},{},{},{},{},{},{:.6},{:.3},{:.2},{:.3},{:.3},{:.3},{:.3},{:.3},{:.3},{:.3},{:.3},{:.3},{},{},{},{},{}",
                s.index + 1, s.concurrency, s.run, m.requests, m.successes, e.total, m.error_rate,
                m.duration_s, m.rps, l.min, l.mean, l.stddev, l.p50, l.p90, l.p95, l.p99, l.p999, l.max,
                e.timeout, e.connect, e.read, status, s.cancelled
            );
        }
        out
    }
}
