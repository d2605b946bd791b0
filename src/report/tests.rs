//! Every exporter rendered from the one hand-made report of
//! [`fixture`](super::fixture), as snapshots (`src/report/snapshots/`), plus
//! the checks a snapshot review could miss: the sides kept apart, unique
//! HTML ids, every error class shown, unmeasured levels not shown as 0.
//!
//! After a deliberate change: `INSTA_UPDATE=always cargo test --lib report`,
//! then read the diff of the `.snap` files.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::fixture::{self, PROTOCOL, RETRIES, TRUNCATED};
use super::variants::{self, VariantRun};
use super::{exporter, level_table, terminal, Report, Side, NOT_MEASURED};

fn render(format: &str) -> String {
    exporter(format)
        .expect("a known format")
        .render(&fixture::report())
}

#[test]
fn json_snapshot() {
    insta::assert_snapshot!("report.json", render("json"));
}

#[test]
fn csv_snapshot() {
    insta::assert_snapshot!("steps.csv", render("csv"));
}

#[test]
fn markdown_snapshot() {
    insta::assert_snapshot!("summary.md", render("md"));
}

#[test]
fn html_snapshot() {
    insta::assert_snapshot!("report.html", render("html"));
}

#[test]
fn junit_snapshot() {
    insta::assert_snapshot!("junit.xml", render("junit"));
}

#[test]
fn terminal_snapshot() {
    insta::assert_snapshot!("terminal", terminal::render(&fixture::report()));
}

/// An open-loop sweep (issue 12): rate levels, target vs achieved, late,
/// dropped, corrected vs service latency, in every format.
#[test]
fn open_loop_snapshots() {
    let report = fixture::open_report();
    insta::assert_snapshot!("open-loop terminal", terminal::render(&report));
    for format in ["csv", "md", "json"] {
        let text = exporter(format).expect("a known format").render(&report);
        insta::assert_snapshot!(format!("open-loop {format}"), text);
    }
    let html = exporter("html").expect("html").render(&report);
    // (minijinja escapes `/` in the table's cells.)
    for figure in [
        "achieved",
        "service p99",
        "430.0",
        ">55<",
        "achieved rate 86.00%",
    ] {
        assert!(html.contains(figure), "no `{figure}` in the HTML report");
    }
}

/// A ramp (issue 12): named `ramp to c=10` everywhere, its per-second
/// target against the achieved load summed up in a line, charted in HTML.
#[test]
fn ramp_snapshots() {
    let report = fixture::ramp_report();
    insta::assert_snapshot!("ramp terminal", terminal::render(&report));
    insta::assert_snapshot!("ramp md", exporter("md").expect("md").render(&report));
    let html = exporter("html").expect("html").render(&report);
    for figure in [
        "id=\"chart-ramp-load-1\"",
        "id=\"chart-ramp-latency-1\"",
        "target workers and mean requests in flight",
        "ramp to c=10",
    ] {
        assert!(html.contains(figure), "no `{figure}` in the HTML report");
    }
    let junit = exporter("junit").expect("junit").render(&report);
    assert!(junit.contains(r#"classname="fixture.ramp_c10""#), "{junit}");
    let json = exporter("json").expect("json").render(&report);
    let back: Report = serde_json::from_str(&json).expect("reads back");
    assert_eq!(back.steps[0].level, report.steps[0].level);
    assert_eq!(back.steps[0].timeseries, report.steps[0].timeseries);
}

#[test]
fn variants_snapshot() {
    let a = fixture::report();
    let mut b = fixture::report();
    for s in &mut b.steps {
        s.metrics.latency_ms.p50 *= 1.5;
    }
    b.summarise_levels();
    let runs = [
        VariantRun::of("one", &a, PathBuf::from("results/one")),
        VariantRun::of("two", &b, PathBuf::from("results/two")),
    ];
    insta::assert_snapshot!(
        "variants",
        format!(
            "{}\n{}",
            variants::markdown("fixture", &runs),
            variants::text("fixture", &runs)
        )
    );
}

/// `variants.json` keeps the shape it had when built with `json!`: the
/// scenario, then each variant's run in order.
#[test]
fn variants_json_is_the_scenario_then_each_run() {
    let a = fixture::report();
    let runs = [
        VariantRun::of("one", &a, PathBuf::from("results/one")),
        VariantRun::of("two", &a, PathBuf::from("results/two")),
    ];
    let text = variants::json("fixture", &runs);
    let old = serde_json::json!({ "scenario": "fixture", "variants": runs });
    assert_eq!(text, serde_json::to_string_pretty(&old).unwrap());
    let back: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(back["variants"][1]["variant"], "two");
    assert_eq!(back["variants"][0]["report_dir"], "results/one");
}

#[test]
fn html_element_ids_are_unique_with_direct_steps() {
    let html = render("html");
    let ids = super::html::element_ids(&html);
    let mut seen = BTreeMap::new();
    for id in &ids {
        *seen.entry(*id).or_insert(0) += 1;
    }
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "duplicate ids: {twice:?}");
    for id in ["chart-timeseries-rps-1", "chart-timeseries-rps-1-direct"] {
        assert!(seen.contains_key(id), "no {id} in {ids:?}");
    }
    // Labels too: the direct twin says so.
    assert!(html.contains("c=1 run 1 · direct"), "no direct label");
    assert_eq!(html.matches("Step 1 · c=1 run 1 ·").count(), 2);
}

/// The `<section id="errors">` of the page.
fn errors_section(html: &str) -> &str {
    let start = html
        .find(r#"<section id="errors">"#)
        .expect("an errors section");
    let end = start + html[start..].find("</section>").expect("closed");
    &html[start..end]
}

#[test]
fn html_errors_section_names_truncated_streams_with_their_count() {
    let html = render("html");
    let errors = errors_section(&html);
    assert!(
        !errors.contains("No failed requests"),
        "28 truncated streams are failed requests:\n{errors}"
    );
    assert!(
        errors.contains(&format!("truncated: {TRUNCATED}")),
        "{errors}"
    );
    assert!(errors.contains("HTTP 500: 10"), "{errors}");
    // The direct side's failures are its own row, not the target's.
    assert!(errors.contains("4 · direct"), "{errors}");
    assert!(errors.contains("HTTP 500: 3"), "{errors}");
    assert!(
        errors.contains(&format!("protocol: {PROTOCOL}")),
        "{errors}"
    );
    assert!(
        errors.contains(&format!("resent: {RETRIES}")),
        "resends are shown beside the errors: {errors}"
    );

    // Only truncated streams: still not "no failed requests".
    let mut only = fixture::report();
    only.steps.retain(|s| s.level.value == 4 && s.run == 1);
    only.summarise_levels();
    let html = exporter("html").unwrap().render(&only);
    let errors = errors_section(&html);
    assert!(!errors.contains("No failed requests"), "{errors}");
    assert!(errors.contains("truncated"), "{errors}");
}

#[test]
fn target_figures_leave_the_direct_steps_out() {
    let r = fixture::report();
    let c4 = |levels: &[crate::metrics::LevelSummary]| {
        levels.iter().find(|l| l.level.value == 4).unwrap().errors
    };
    assert_eq!(c4(&r.levels), TRUNCATED + 10 + PROTOCOL);
    assert_eq!(c4(&r.baseline_levels), 3);

    // The max of c=1 is the target's 42 ms, not the direct spike of 250 ms.
    let (header, rows) = level_table(&r, Side::Target);
    let max = header.iter().position(|h| *h == "max ms").unwrap();
    assert_eq!(rows[0][0], "1");
    assert_eq!(rows[0][max], "42.00");
    let (_, direct) = level_table(&r, Side::Direct);
    assert_eq!(direct[0][max], "250.00");

    // junit: 4 target steps of 2.5 s (the direct ones apart).
    let junit = render("junit");
    assert!(
        junit.contains(r#"tests="5" failures="2" errors="1" time="10.000""#),
        "{junit}"
    );
    assert!(
        junit.contains(r#"name="direct_time" value="10.000""#),
        "{junit}"
    );
    assert!(junit.contains(r#"name="c=4 max_error_rate" classname="fixture.c4" time="5.000""#));

    // steps.csv: a side column, four direct rows.
    let csv = render("csv");
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    assert_eq!(header[..3], ["step", "side", "concurrency"]);
    assert_eq!(csv.lines().filter(|l| l.contains(",direct,")).count(), 4);
    assert_eq!(csv.lines().filter(|l| l.contains(",target,")).count(), 5);
    let truncated = header
        .iter()
        .position(|h| *h == "truncated_errors")
        .unwrap();
    let step3: Vec<&str> = csv.lines().nth(5).unwrap().split(',').collect();
    assert_eq!((step3[1], step3[truncated]), ("target", "28"));
}

#[test]
fn a_level_without_requests_is_not_measured_rather_than_zero() {
    let r = fixture::report();
    let c8 = r.levels.iter().find(|l| l.level.value == 8).unwrap();
    assert_eq!(c8.runs, 0, "the cut-short step is not a run of its level");
    let (header, rows) = level_table(&r, Side::Target);
    let row = rows.iter().find(|row| row[0] == "8").unwrap();
    let p50 = header.iter().position(|h| *h == "p50 ms").unwrap();
    assert_eq!(row[p50], NOT_MEASURED);
    assert!(!row.iter().any(|c| c.starts_with("0.0")), "{row:?}");

    let md = render("md");
    assert!(md.contains("Not measured: c=8"), "{md}");
    let csv = render("csv");
    let last: Vec<&str> = csv.lines().last().unwrap().split(',').collect();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let p50 = header.iter().position(|h| *h == "p50_ms").unwrap();
    assert_eq!((last[2], last[p50]), ("8", ""));
    let html = render("html");
    assert!(
        html.contains("Step 5 · c=8 · not measured"),
        "no unmeasured panel"
    );
    assert!(!html.contains("c=8: 0 req/s"));
}

#[test]
fn steps_of_schema_1_load_with_their_side() {
    let mut json = serde_json::to_value(fixture::report()).unwrap();
    for s in json["steps"].as_array_mut().unwrap() {
        let direct = s["side"] == "direct";
        let step = s.as_object_mut().unwrap();
        step.remove("side");
        step.insert("baseline".into(), direct.into());
    }
    json["schema_version"] = 1.into();
    let old: Report = serde_json::from_value(json).unwrap();
    assert_eq!(old.steps_of(Side::Direct).count(), 4);
    assert_eq!(old.steps[1].side, Side::Direct);
    let bad = serde_json::from_value::<Side>(serde_json::json!("gateway"));
    assert!(bad.unwrap_err().to_string().contains("target"));
}

#[test]
fn a_failed_write_leaves_no_temporary_file() {
    let dir = std::env::temp_dir().join(format!("scenario-write-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    // A directory where report.html goes: the rename over it fails.
    std::fs::create_dir_all(dir.join("report.html")).unwrap();
    let err = super::write(&dir, &fixture::report(), &[super::Format::Html]).unwrap_err();
    assert!(err.to_string().contains("report.html"), "{err}");
    let left: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(left.iter().all(|n| !n.ends_with(".tmp")), "{left:?}");
    assert!(left.contains(&"report.json".to_string()), "{left:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// issue 16: a status and a side have one name, the same in JSON and in
/// every renderer (none formats `Debug` output as data).
#[test]
fn status_and_side_names_are_their_json_names() {
    use super::Status;
    for status in [
        Status::Running,
        Status::Complete,
        Status::Interrupted,
        Status::Failed,
    ] {
        assert_eq!(serde_json::to_value(status).unwrap(), status.label());
    }
    for side in Side::ALL {
        let json = serde_json::to_value(side).unwrap();
        assert_eq!(json, side.label());
        assert_eq!(serde_json::from_value::<Side>(json).unwrap(), side);
    }
    assert!(serde_json::from_value::<Side>("sideways".into()).is_err());
    let mut report = fixture::report();
    report.status = Status::Interrupted;
    let junit = exporter("junit").expect("junit").render(&report);
    assert!(junit.contains(r#"<property name="status" value="interrupted"/>"#));
    assert!(junit.contains(r#"type="interrupted""#), "{junit}");
}

#[test]
fn scraped_server_series_are_drawn_as_charts_beside_their_table() {
    let mut report = fixture::report();
    assert!(
        !render("html").contains("chart-server-"),
        "no scraped series, no chart"
    );
    report.steps[0].server_metrics = vec![crate::topology::scrape::ServerSeries {
        service: "gateway-0".into(),
        series: "queue_depth".into(),
        values: vec![Some(1.0), None, Some(4.0), Some(2.5)],
    }];
    let html = exporter("html").unwrap().render(&report);
    assert!(
        html.contains(r#"id="server-metrics-table""#),
        "the table stays"
    );
    let at = html
        .find(r#"id="chart-server-1-1""#)
        .expect("a chart for the scraped series");
    let chart = &html[at..at + html[at..].find("</svg>").expect("closed")];
    // Three values (the failed scrape has no point), at scrapes 0, 2 and 3.
    assert!(chart.contains(r#"data-name="queue_depth""#), "{chart}");
    assert_eq!(chart.matches("<circle").count(), 3, "{chart}");
    assert!(chart.contains("scrape 2: 4"), "{chart}");
}

/// Issue 16: the report keeps its plan typed; report.json written with it
/// loads back to the same plan and re-renders byte for byte.
#[test]
fn a_report_keeps_its_plan_typed_through_report_json() {
    let dir = std::env::temp_dir().join(format!("scenario-plan-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let plan = crate::plan::testing::plan("tests/fixtures/ramp_rate.toml", &[]);
    let mut report = fixture::report();
    report.plan = Some(plan.shown().unwrap());
    super::write(&dir, &report, &[]).unwrap();
    let written = std::fs::read_to_string(dir.join("report.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&written).unwrap();
    assert_eq!(
        json["plan"],
        plan.to_json(),
        "the plan as `plan --json` shows it"
    );
    let (back, _) = Report::load(&dir).unwrap();
    let kept = back.plan.as_ref().unwrap();
    assert_eq!(kept.steps[0].level, plan.steps[0].level);
    assert!(kept.steps[0].level.ramp && kept.steps[0].ramp.is_some());
    assert_eq!(kept.capacity, plan.capacity);
    assert_eq!(exporter("json").unwrap().render(&back), written);
    std::fs::remove_dir_all(&dir).unwrap();
}
