//! `steps.csv`: one row per step, for spreadsheets and plotting scripts.
//! `side` tells a step through the target from its `direct` twin (the
//! baseline); one error column per class, from [`ErrorClass`], and the
//! requests resent (`retries`); a step that
//! measured nothing has its figures left empty.

use std::fmt::Write;

use super::ServiceUsage;
use super::{Exporter, Report, StepReport as Step};
use crate::metrics::{ErrorClass, StepMetrics as Metrics};
use crate::plan::LevelKind;

pub struct Csv;

/// After `step,side,` and the level column (`concurrency`, or `rate` for
/// arrival rates; a ramp's peak).
const HEAD: &str = ",run,requests,successes,errors,error_rate,duration_s,busy_s,rps,rps_window,\
min_ms,mean_ms,stddev_ms,p50_ms,p90_ms,p95_ms,p99_ms,p999_ms,max_ms";

/// Columns added when some step streamed.
const STREAMING: &str = ",streams,ttft_p50_ms,ttft_p90_ms,ttft_p99_ms,\
itl_p50_ms,itl_p90_ms,itl_p99_ms";

/// Columns added when some step's streams were checked against the fake
/// upstream's pacing.
const CHECKS: &str = ",expected_itl_ms,stall_ms,streams_checked,buffered_streams,\
stalled_streams,stalls";

/// Columns added with the baseline when some step streamed: a target step
/// minus its direct twin, empty on direct rows.
const ADDED: &str = ",added_ttft_p50_ms,added_ttft_p90_ms,added_ttft_p99_ms,\
added_itl_p50_ms,added_itl_p90_ms,added_itl_p99_ms";

/// Columns added when some answer reported tokens.
const TOKENS: &str = ",output_tokens,output_tokens_per_s,\
request_tokens_per_s_p50,request_tokens_per_s_p90,request_tokens_per_s_p99";

/// Columns added when some step ran an open loop (`rate`): `p*_ms` above
/// count from the intended send time there.
const OPEN_LOOP: &str = ",target_rate,achieved_rate,scheduled,sent,late,dropped,\
service_p50_ms,service_p99_ms,queue_p50_ms,queue_p99_ms";

/// Columns added when `[report] slo` is set: requests that met it, their
/// share and rate.
const GOODPUT: &str = ",good,goodput_share,goodput_per_s";
/// Columns added when services were sampled: the services under test
/// (the gateway's side; see `memory::under_test`), the largest of them.
const MEMORY: &str = ",steady_rss_mib,rss_growth_mib_per_min";

/// The error column of a class: `timeout_errors`, `truncated_errors`,
/// `http_500_errors`.
fn column(class: ErrorClass) -> String {
    format!("{}_errors", class.label().to_lowercase().replace(' ', "_"))
}

impl Exporter for Csv {
    fn file_name(&self) -> &'static str {
        "steps.csv"
    }

    fn render(&self, report: &Report) -> String {
        let cols = Columns::of(report);
        let mut out = cols.header();
        for s in &report.steps {
            cols.row(&mut out, report, s);
        }
        out
    }
}

/// Which optional column groups the file has: each is present when some
/// step has its figures.
struct Columns<'a> {
    kind: LevelKind,
    /// Every fixed class, then each status code some step saw.
    classes: Vec<ErrorClass>,
    streaming: bool,
    checks: bool,
    added: bool,
    tokens: bool,
    open: bool,
    goodput: bool,
    /// A search's probes say whether they met its bound.
    probes: Option<&'a Vec<crate::search::Probe>>,
    memory: bool,
}

impl<'a> Columns<'a> {
    fn of(report: &'a Report) -> Self {
        let streaming = report.steps.iter().any(|s| s.metrics.streaming.is_some());
        let tokens = report.steps.iter().any(|s| s.metrics.tokens.is_some());
        let checks = report.steps.iter().any(|s| {
            s.metrics
                .streaming
                .as_ref()
                .is_some_and(|st| st.checks.is_some())
        });
        let added = report
            .streams
            .as_ref()
            .is_some_and(|f| !f.overhead.is_empty());
        let open = report.steps.iter().any(|s| s.metrics.open_loop.is_some());
        let memory = report.steps.iter().any(|s| !s.resources.is_empty());
        let mut classes: Vec<ErrorClass> = ErrorClass::FIXED.to_vec();
        for s in &report.steps {
            for (class, _) in s.metrics.errors.classes() {
                if !classes.contains(&class) {
                    classes.push(class);
                }
            }
        }
        classes[ErrorClass::FIXED.len()..].sort();
        let kind = LevelKind::of(report.steps.iter().map(|s| &s.level));
        let goodput = report.steps.iter().any(|s| s.metrics.goodput.is_some());
        let probes = report.search.as_ref().map(|s| &s.probes);
        Columns {
            kind,
            classes,
            streaming,
            checks,
            added,
            tokens,
            open,
            goodput,
            probes,
            memory,
        }
    }

    /// The header line.
    fn header(&self) -> String {
        let mut out = format!("step,side,{}{HEAD}", self.kind.field());
        for &class in &self.classes {
            let _ = write!(out, ",{}", column(class));
        }
        out.push_str(",status_errors,retries,cancelled");
        if self.streaming {
            out.push_str(STREAMING);
        }
        if self.checks {
            out.push_str(CHECKS);
        }
        if self.added {
            out.push_str(ADDED);
        }
        if self.tokens {
            out.push_str(TOKENS);
        }
        if self.open {
            out.push_str(OPEN_LOOP);
        }
        if self.goodput {
            out.push_str(GOODPUT);
        }
        if self.probes.is_some() {
            out.push_str(",search_probe");
        }
        if self.memory {
            out.push_str(MEMORY);
        }
        out.push('\n');
        out
    }

    /// One step's line.
    fn row(&self, out: &mut String, report: &Report, s: &Step) {
        let m = &s.metrics;
        base(out, s, &self.classes);
        if self.streaming {
            streaming(out, m);
        }
        if self.checks {
            checks(out, m);
        }
        if self.added {
            match super::stream::added_over_twin(report, s) {
                Some(a) => {
                    for v in a {
                        let _ = write!(out, ",{v:.3}");
                    }
                }
                None => out.push_str(&",".repeat(6)),
            }
        }
        if self.tokens {
            tokens(out, m);
        }
        if self.open {
            open_loop(out, m);
        }
        if self.goodput {
            match &m.goodput {
                Some(g) => {
                    let _ = write!(out, ",{},{:.6},{:.2}", g.good, g.share, g.per_s);
                }
                None => out.push_str(",,,"),
            }
        }
        if let Some(probes) = self.probes {
            let probe = probes
                .iter()
                .find(|p| p.step == s.index && s.side == super::Side::Target);
            out.push_str(match probe {
                Some(p) if p.passed => ",pass",
                Some(_) => ",fail",
                None => ",",
            });
        }
        if self.memory {
            memory(out, s);
        }
        out.push('\n');
    }
}

/// The columns every file has: counts, rates, latency, errors by class.
fn base(out: &mut String, s: &Step, classes: &[ErrorClass]) {
    let m = &s.metrics;
    let l = &m.latency_ms;
    let e = &m.errors;
    let _ = write!(
        out,
        "{},{},{},{},{},{},{},",
        s.index + 1,
        s.side.label(),
        s.level.key(),
        s.run,
        m.requests,
        m.successes,
        e.total
    );
    if m.requests > 0 {
        let _ = write!(
            out,
            "{:.6},{:.3},{:.3},{:.2},{:.2}",
            m.error_rate, m.duration_s, m.busy_s, m.rps, m.rps_window
        );
    } else {
        out.push_str(",,,,");
    }
    if m.successes > 0 {
        let _ = write!(
            out,
            ",{:.3},{:.3},{:.3},{:.3},{:.3},{:.3},{:.3},{:.3},{:.3}",
            l.min, l.mean, l.stddev, l.p50, l.p90, l.p95, l.p99, l.p999, l.max
        );
    } else {
        out.push_str(&",".repeat(9));
    }
    for &class in classes {
        let _ = write!(out, ",{}", e.count(class));
    }
    let status: u64 = e.status.values().sum();
    let _ = write!(out, ",{status},{},{}", m.retries, s.cancelled);
}

fn streaming(out: &mut String, m: &Metrics) {
    match &m.streaming {
        Some(st) => {
            let (t, i) = (st.ttft_ms, st.itl_ms);
            let _ = write!(
                out,
                ",{},{:.3},{:.3},{:.3},{:.3},{:.3},{:.3}",
                st.streams, t.p50, t.p90, t.p99, i.p50, i.p90, i.p99
            );
        }
        None => out.push_str(",0,,,,,,"),
    }
}

fn checks(out: &mut String, m: &Metrics) {
    match m.streaming.as_ref().and_then(|st| st.checks) {
        Some(c) => {
            let _ = write!(
                out,
                ",{},{},{},{},{},{}",
                c.expected_itl_ms, c.stall_ms, c.checked, c.buffered, c.stalled_streams, c.stalls
            );
        }
        None => out.push_str(",,,0,0,0,0"),
    }
}

fn tokens(out: &mut String, m: &Metrics) {
    match &m.tokens {
        Some(tk) => {
            let p = tk.per_request;
            let _ = write!(
                out,
                ",{},{:.2},{:.2},{:.2},{:.2}",
                tk.output_tokens, tk.per_s, p.p50, p.p90, p.p99
            );
        }
        None => out.push_str(",0,,,,"),
    }
}

fn open_loop(out: &mut String, m: &Metrics) {
    match &m.open_loop {
        Some(o) => {
            let _ = write!(
                out,
                ",{},{:.2},{},{},{},{},{:.3},{:.3},{:.3},{:.3}",
                o.target_rate,
                o.achieved_rate,
                o.scheduled,
                o.sent,
                o.late,
                o.dropped,
                o.service_ms.p50,
                o.service_ms.p99,
                o.queue_ms.p50,
                o.queue_ms.p99
            );
        }
        None => out.push_str(&",".repeat(10)),
    }
}

/// The services under test's largest steady RSS and growth.
fn memory(out: &mut String, s: &Step) {
    let under: Vec<_> = super::memory::under_test(&s.resources).collect();
    let most = |f: fn(&ServiceUsage) -> Option<f64>| {
        under
            .iter()
            .filter_map(|u| f(u))
            .reduce(f64::max)
            .map_or(String::new(), |v| format!("{v:.2}"))
    };
    let _ = write!(
        out,
        ",{},{}",
        most(|u| u.steady_rss_mib),
        most(|u| u.rss_growth_mib_per_min)
    );
}
