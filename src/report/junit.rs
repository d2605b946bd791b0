//! `junit.xml`: the verdicts as JUnit test results for CI dashboards — one
//! testsuite per scenario, one testcase per assertion per level (e.g.
//! `c=100 max_p50_ms`), failures carrying the measured and the allowed value,
//! plus a `run completed` testcase that errors when the run stopped early.
//! Times are those of the steps through the target; the direct steps (the
//! baseline) are a property of their own, `direct_time`.

use std::fmt::Write;

use super::svg::esc;
use super::{Exporter, Report, Side, Status};
use crate::assertions::Verdict;

pub struct Junit;

impl Exporter for Junit {
    fn file_name(&self) -> &'static str {
        "junit.xml"
    }

    fn render(&self, r: &Report) -> String {
        let name = esc(&r.scenario.name);
        let failures = r.verdicts.iter().filter(|v| v.failed()).count();
        let skipped = r.verdicts.iter().filter(|v| v.not_measured).count();
        let errors = usize::from(r.status != Status::Complete);
        let tests = r.verdicts.len() + 1;
        let time: f64 = r.steps_of(Side::Target).map(|s| s.metrics.duration_s).sum();
        let direct: f64 = r.steps_of(Side::Direct).map(|s| s.metrics.duration_s).sum();
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let _ = writeln!(
            out,
            r#"<testsuites name="scenario" tests="{tests}" failures="{failures}" errors="{errors}" time="{time:.3}">"#
        );
        let _ = writeln!(
            out,
            r#"  <testsuite name="{name}" tests="{tests}" failures="{failures}" errors="{errors}" skipped="{skipped}" time="{time:.3}" timestamp="{}">"#,
            esc(&r.started_at)
        );
        out.push_str("    <properties>\n");
        let e = &r.environment;
        let mut props = vec![
            ("scenario.file", r.scenario.file.display().to_string()),
            ("status", r.status.label().to_string()),
            ("tool_version", e.tool_version.clone()),
            ("git_commit", e.git_commit.clone()),
            ("cpu", e.cpu.clone()),
            ("cores", e.cores.to_string()),
            ("os", e.os.clone()),
        ];
        if r.steps_of(Side::Direct).next().is_some() {
            props.push(("direct_time", format!("{direct:.3}")));
        }
        for (k, v) in props {
            let _ = writeln!(out, r#"      <property name="{k}" value="{}"/>"#, esc(&v));
        }
        out.push_str("    </properties>\n");
        let _ = write!(
            out,
            r#"    <testcase name="run completed" classname="{name}" time="{time:.3}""#
        );
        match r.status {
            Status::Complete => out.push_str("/>\n"),
            status => {
                let why = r
                    .error
                    .clone()
                    .unwrap_or_else(|| format!("the run is {}", status.label()));
                let _ = writeln!(
                    out,
                    ">\n      <error message=\"{}\" type=\"{}\">{}</error>\n    </testcase>",
                    esc(&why),
                    status.label(),
                    esc(&why)
                );
            }
        }
        for v in &r.verdicts {
            testcase(&mut out, &name, r, v);
        }
        out.push_str("  </testsuite>\n</testsuites>\n");
        out
    }
}

fn testcase(out: &mut String, suite: &str, r: &Report, v: &Verdict) {
    let time: f64 = r
        .steps_of(Side::Target)
        .filter(|s| s.level == v.level)
        .map(|s| s.metrics.duration_s)
        .sum::<f64>()
        + 0.0; // an empty sum is -0.0

    let _ = write!(
        out,
        r#"    <testcase name="{} {}" classname="{suite}.{}" time="{time:.3}""#,
        esc(&v.level.label()),
        v.metric.key(),
        v.level.ident()
    );
    if v.passed {
        out.push_str("/>\n");
        return;
    }
    if v.not_measured {
        let _ = writeln!(
            out,
            ">\n      <skipped message=\"{}\"/>\n    </testcase>",
            esc(&format!(
                "not measured: this run's sweep does not include {}",
                v.level.words()
            ))
        );
        return;
    }
    let op = v.metric.direction().op();
    let measured = v.measured.map_or("not measured".into(), |m| format!("{m}"));
    let message = v.describe();
    let _ = writeln!(
        out,
        ">\n      <failure message=\"{}\" type=\"{}\">measured: {}\nallowed: {op} {}\nlevel: {}</failure>\n    </testcase>",
        esc(&message),
        v.metric.key(),
        esc(&measured),
        v.limit,
        esc(&v.level.words())
    );
}
