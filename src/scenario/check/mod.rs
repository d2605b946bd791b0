//! Checks a typed scenario for values serde accepts but a run cannot use.
//!
//! Each problem names its key path; the caller turns that into a file,
//! line and column. One submodule per part of the scenario checked; the
//! order of the calls in [`check`] is the order problems are reported in.

mod gateway;
mod load;
mod request;
mod thresholds;
mod topology;

use std::path::Path;

use super::model::ScenarioFile;
use crate::diag::{did_you_mean, Problem};
use crate::report::Format;

pub use gateway::check_gateway;
pub use request::header_problem;
pub use topology::check_ports;

pub fn check(s: &ScenarioFile, dir: &Path) -> Vec<Problem> {
    let mut out = Vec::new();
    load::check_load(s, &mut out);
    request::check_request(s, dir, &mut out);
    topology::check_topology(s, &mut out);
    thresholds::check_thresholds(&s.assertions, "assert", &s.load.levels(), true, &mut out);
    super::capacity::check(s, &mut out);
    for (key, message) in s.upstream.validate() {
        out.push(Problem::new(format!("upstream.{key}"), message));
    }
    check_report(s, &mut out);
    out
}

/// `[report]`: the stall factor and the output formats.
fn check_report(s: &ScenarioFile, out: &mut Vec<Problem>) {
    if s.report.stall_factor.is_nan() || s.report.stall_factor <= 1.0 {
        out.push(
            Problem::new(
                "report.stall_factor",
                "`stall_factor` must be a number above 1 (a stall is a gap that many times the upstream's ITL)",
            )
            .label(format!(
                "the default is {}",
                crate::metrics::stream::DEFAULT_STALL_FACTOR
            )),
        );
    }
    for (i, format) in s.report.formats.iter().enumerate() {
        if Format::parse(format).is_none() {
            let names = Format::names();
            let p = Problem::new(
                format!("report.formats[{i}]"),
                format!("unknown report format `{format}`"),
            )
            .note(format!("valid formats: {}", names.join(", ")));
            out.push(match did_you_mean(format, &names) {
                Some(s) => p.label(format!("did you mean `{s}`?")),
                None => p,
            });
        }
    }
}
