//! `steps.csv`: one row per step, for spreadsheets and plotting scripts.

use std::fmt::Write;

use super::{Exporter, Report};

pub struct Csv;

const HEADER: &str = "step,concurrency,run,requests,successes,errors,error_rate,duration_s,rps,\
min_ms,mean_ms,stddev_ms,p50_ms,p90_ms,p95_ms,p99_ms,p999_ms,max_ms,\
timeouts,connect_errors,read_errors,status_errors,cancelled";

/// Columns added when some step streamed.
const STREAMING: &str = ",truncated_errors,streams,ttft_p50_ms,ttft_p90_ms,ttft_p99_ms,\
itl_p50_ms,itl_p90_ms,itl_p99_ms";

/// Columns added when some answer reported tokens.
const TOKENS: &str = ",output_tokens,output_tokens_per_s,\
request_tokens_per_s_p50,request_tokens_per_s_p90,request_tokens_per_s_p99";

impl Exporter for Csv {
    fn file_name(&self) -> &'static str {
        "steps.csv"
    }

    fn render(&self, report: &Report) -> String {
        let streaming = report.steps.iter().any(|s| s.metrics.streaming.is_some());
        let tokens = report.steps.iter().any(|s| s.metrics.tokens.is_some());
        let mut out = String::from(HEADER);
        if streaming {
            out.push_str(STREAMING);
        }
        if tokens {
            out.push_str(TOKENS);
        }
        out.push('\n');
        for s in &report.steps {
            let m = &s.metrics;
            let l = &m.latency_ms;
            let e = &m.errors;
            let status: u64 = e.status.values().sum();
            let _ = write!(
                out,
                "{},{},{},{},{},{},{:.6},{:.3},{:.2},{:.3},{:.3},{:.3},{:.3},{:.3},{:.3},{:.3},{:.3},{:.3},{},{},{},{},{}",
                s.index + 1, s.concurrency, s.run, m.requests, m.successes, e.total, m.error_rate,
                m.duration_s, m.rps, l.min, l.mean, l.stddev, l.p50, l.p90, l.p95, l.p99, l.p999, l.max,
                e.timeout, e.connect, e.read, status, s.cancelled
            );
            if streaming {
                let st = m.streaming.clone().unwrap_or_default();
                let (t, i) = (st.ttft_ms, st.itl_ms);
                let _ = write!(
                    out,
                    ",{},{},{:.3},{:.3},{:.3},{:.3},{:.3},{:.3}",
                    e.truncated, st.streams, t.p50, t.p90, t.p99, i.p50, i.p90, i.p99
                );
            }
            if tokens {
                let tk = m.tokens.clone().unwrap_or_default();
                let p = tk.per_request;
                let _ = write!(
                    out,
                    ",{},{:.2},{:.2},{:.2},{:.2}",
                    tk.output_tokens, tk.per_s, p.p50, p.p90, p.p99
                );
            }
            out.push('\n');
        }
        out
    }
}
