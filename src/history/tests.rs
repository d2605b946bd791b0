//! Unit tests: the identity hash, the store (round trip, idempotence,
//! comparability, schema), the check against history and the renderers.

use std::path::{Path, PathBuf};

use super::*;
use crate::report::compare::Grade;
use crate::report::fixture;
use crate::scenario::model::Regression;

fn temp_db(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("scenario-history-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("history.sqlite")
}

/// The fixture report, complete, started at `second`, its p95 at every
/// level `p95`.
fn report(second: u32, p95: f64) -> Report {
    let mut r = fixture::report();
    r.status = Status::Complete;
    r.started_at = format!("2026-01-02T03:04:{second:02}Z");
    for l in &mut r.levels {
        l.p95_ms = Spread::of(&[p95]);
        l.p50_ms = Spread::of(&[p95 * 0.9]);
        l.error_rate = Spread::of(&[0.0]);
    }
    r
}

fn record(r: &Report, dir: &str) -> RunRecord {
    RunRecord::of(r, Path::new(dir)).unwrap()
}

#[test]
fn identity_is_stable_and_ignores_key_order_and_limits_only() {
    let a = serde_json::json!({
        "scenario": {"name": "x"},
        "load": {"requests": 10, "runs": 1},
        "upstream": {"delay_ms": 50},
    });
    let b = serde_json::json!({
        "upstream": {"delay_ms": 50},
        "load": {"runs": 1, "requests": 10},
        "scenario": {"name": "x"},
    });
    assert_eq!(identity(&a), identity(&b));
    // Pinned: FNV-1a of
    // `{"load":{"requests":10,"runs":1},"scenario":{"name":"x"},"upstream":{"delay_ms":50}}`,
    // the same on every build and platform.
    assert_eq!(identity(&a), "5fd68790c9374680");
    let limits = serde_json::json!({
        "scenario": {"name": "x", "description": "other words"},
        "load": {"requests": 10, "runs": 1},
        "assert": {"max_p50_ms": 5},
        "report": {"formats": ["json"]},
        "upstream": {"delay_ms": 50},
    });
    assert_eq!(identity(&a), identity(&limits));
    // The fake upstream's latency is part of what was measured.
    let slower = serde_json::json!({
        "scenario": {"name": "x"},
        "load": {"requests": 10, "runs": 1},
        "upstream": {"delay_ms": 60},
    });
    assert_ne!(identity(&a), identity(&slower));
    let other = serde_json::json!({
        "scenario": {"name": "x"},
        "load": {"requests": 11, "runs": 1},
        "upstream": {"delay_ms": 50},
    });
    assert_ne!(identity(&a), identity(&other));
    let faults = serde_json::json!({
        "scenario": {"name": "x"},
        "load": {"requests": 10, "runs": 1},
        "upstream": {"delay_ms": 50, "faults": {"status_500": 0.1}},
    });
    assert_ne!(identity(&a), identity(&faults));
}

#[test]
fn a_record_names_scenario_variant_machine_and_figures() {
    let mut r = report(5, 20.0);
    r.scenario.name = "fixture · workers=2".into();
    let rec = record(&r, "/runs/a");
    assert_eq!(rec.scenario, "fixture");
    assert_eq!(rec.variant.as_deref(), Some("workers=2"));
    assert_eq!(rec.name(), "fixture · workers=2");
    assert_eq!(rec.machine.cpu, "Test CPU @ 3.00GHz");
    assert_eq!(rec.machine.cores, 4);
    assert_eq!(rec.git_commit.as_deref(), Some("0123abc"));
    assert_eq!(
        rec.levels.iter().map(|l| l.concurrency).collect::<Vec<_>>(),
        vec![1, 4],
        "the unmeasured c=8 is not recorded"
    );
    assert_eq!(rec.levels[0].get(Figure::P95Ms), Some(20.0));
    assert!(rec.levels[0].get(Figure::OverheadP50Ms).is_some());
    // An interrupted run is not recorded.
    assert_eq!(
        RunRecord::of(&fixture::report(), Path::new("/runs/b")),
        None
    );
}

#[test]
fn the_store_round_trips_records_once_per_run_folder() {
    let db = temp_db("roundtrip");
    let mut store = Store::open(&db).unwrap();
    assert_eq!(store.schema_version().unwrap(), store::SCHEMA_VERSION);
    let a = record(&report(1, 20.0), "/runs/a");
    let b = record(&report(2, 21.0), "/runs/b");
    assert!(store.record(&b).unwrap());
    assert!(store.record(&a).unwrap());
    assert!(!store.record(&a).unwrap(), "idempotent by run folder");
    let runs = store.runs(&Query::default()).unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].run_dir, Path::new("/runs/a"), "oldest first");
    assert_eq!(runs[0].levels, a.levels);
    assert_eq!(runs[1].levels, b.levels);
    assert_eq!(
        Query {
            since: Some("2026-01-02T03:04:02Z".into()),
            ..Query::default()
        }
        .scenario,
        None
    );
    let since = store
        .runs(&Query {
            since: Some("2026-01-02T03:04:02Z".into()),
            scenario: Some("fixture".into()),
        })
        .unwrap();
    assert_eq!(since.len(), 1);
    assert_eq!(store.integrity_check().unwrap(), "ok");
    // Reopening migrates nothing and keeps everything.
    drop(store);
    let store = Store::open(&db).unwrap();
    assert_eq!(store.runs(&Query::default()).unwrap().len(), 2);
}

#[test]
fn only_the_same_scenario_on_the_same_machine_is_comparable() {
    let db = temp_db("comparable");
    let mut store = Store::open(&db).unwrap();
    let same = record(&report(1, 20.0), "/runs/same");
    let mut other_scenario = report(2, 20.0);
    other_scenario.scenario.resolved["load"]["requests"] = 301.into();
    let mut other_machine = report(3, 20.0);
    other_machine.environment.cores = 64;
    let current = record(&report(4, 20.0), "/runs/current");
    for r in [
        &same,
        &record(&other_scenario, "/runs/other-scenario"),
        &record(&other_machine, "/runs/other-machine"),
        &current,
    ] {
        store.record(r).unwrap();
    }
    let found = store
        .comparable(
            &current.scenario_hash,
            &current.machine,
            &current.run_dir,
            5,
        )
        .unwrap();
    let dirs: Vec<&Path> = found.iter().map(|r| r.run_dir.as_path()).collect();
    assert_eq!(dirs, vec![Path::new("/runs/same")]);
}

#[test]
fn a_newer_schema_is_refused_with_the_fix() {
    let db = temp_db("newer");
    drop(Store::open(&db).unwrap());
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute(
        "UPDATE meta SET value = '99' WHERE key = 'schema_version'",
        [],
    )
    .unwrap();
    drop(conn);
    let e = Store::open(&db).err().expect("refused").to_string();
    assert!(e.contains("schema 99, newer than this tool's 1"), "{e}");
    assert!(e.contains("--history PATH"), "{e}");
}

#[test]
fn a_missing_database_is_named_with_how_to_fill_it() {
    let db = temp_db("missing").with_file_name("nothing.sqlite");
    let e = Store::open_existing(&db).err().unwrap();
    assert!(matches!(e, StoreError::Missing { .. }));
    assert!(e.to_string().contains("scenario history import"), "{e}");
    assert!(!db.exists(), "reading creates no file");
}

#[test]
fn history_baseline_is_the_median_and_drift_warns_before_a_fail() {
    let db = temp_db("check");
    let mut store = Store::open(&db).unwrap();
    for (i, p95) in [50.0, 51.0, 52.0, 53.0].into_iter().enumerate() {
        store
            .record(&record(&report(i as u32, p95), &format!("/runs/{i}")))
            .unwrap();
    }
    let current = report(9, 54.0);
    let t = Regression::default();
    let h = check::against_history(&db, &current, Path::new("/runs/9/report.json"), &t).unwrap();
    assert_eq!(h.baseline_runs, 4);
    let c = h.comparison.as_ref().unwrap();
    let d = &c.levels[0].deltas[1];
    assert_eq!(d.base, 51.5, "median of 50, 51, 52, 53");
    assert_eq!(c.grade, Grade::Ok, "+4.9% is no regression");
    assert_eq!(h.grade, Grade::Warn, "{:#?}", h.drift);
    assert!(h
        .render_text()
        .contains("drift: p95 ms rising 1.00 per run"));
    // A run of another scenario has no history to be compared with.
    let mut other = report(9, 54.0);
    other.scenario.resolved["load"]["requests"] = 1.into();
    let h = check::against_history(&db, &other, Path::new("/runs/x/report.json"), &t).unwrap();
    assert!(h.comparison.is_none() && h.drift.is_empty());
    assert_eq!(h.grade, Grade::Ok);
    assert!(h.render_text().starts_with("compare history"));
}

#[test]
fn csv_has_every_figure_and_one_row_per_run_and_level() {
    let runs = vec![record(&report(1, 20.0), "/runs/a")];
    let db = PathBuf::from("results/history.sqlite");
    let v = View {
        db: &db,
        runs: &runs,
        level: Some(4),
        figures: Figure::shown(None, &runs),
    };
    let csv = v.render(Format::Csv);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(lines[0].starts_with("started_at,scenario,variant,scenario_hash,"));
    assert!(lines[0].ends_with(",overhead_p50_ms,run_dir"));
    assert!(
        lines[1].starts_with("2026-01-02T03:04:01Z,fixture,,"),
        "{}",
        lines[1]
    );
    assert!(lines[1].ends_with(",/runs/a"));
    assert!(lines[1].contains(",4,"), "{}", lines[1]);
}

#[test]
fn text_and_markdown_show_the_chosen_metric_only() {
    let runs = vec![record(&report(1, 20.0), "/runs/a")];
    let db = PathBuf::from("h.sqlite");
    let v = View {
        db: &db,
        runs: &runs,
        level: Some(1),
        figures: Figure::shown(Some(Figure::P99Ms), &runs),
    };
    let text = v.render(Format::Text);
    assert!(text.starts_with("history: 1 runs in h.sqlite\n"), "{text}");
    assert!(
        text.contains("p99 ms") && !text.contains("p95 ms"),
        "{text}"
    );
    let md = v.render(Format::Md);
    assert!(
        md.contains("| started (UTC) | scenario | commit | concurrency | p99 ms | run folder |")
    );
    let json: serde_json::Value = serde_json::from_str(&v.render(Format::Json)).unwrap();
    assert_eq!(json["runs"][0]["levels"].as_array().unwrap().len(), 1);
    assert_eq!(json["runs"][0]["levels"][0]["p95_ms"], 20.0);
}

#[test]
fn html_has_a_linked_chart_per_figure_and_level_and_no_script() {
    let runs = vec![
        record(&report(1, 20.0), "/runs/a"),
        record(&report(2, 21.0), "/runs/b"),
    ];
    let db = PathBuf::from("h.sqlite");
    let v = View {
        db: &db,
        runs: &runs,
        level: None,
        figures: Figure::shown(None, &runs),
    };
    let page = v.render(Format::Html);
    let mut charts = 0;
    for f in &v.figures {
        for c in [1, 4] {
            let id = html::chart_id(*f, c);
            let measured = runs[0].level(c).unwrap().get(*f).is_some();
            assert_eq!(page.contains(&format!(r#"id="{id}""#)), measured, "{id}");
            charts += usize::from(measured);
        }
    }
    assert!(charts >= 10, "the five main figures at both levels");
    assert_eq!(page.matches("<svg ").count(), charts);
    assert!(page.contains(r#"<a href="/runs/b/report.html">"#));
    assert!(!page.contains("<script") && !page.contains("<link") && !page.contains(" src="));
}

#[test]
fn the_flag_beats_the_setting_beats_the_out_folder() {
    let (flag, setting, out) = (
        Path::new("f.sqlite"),
        Path::new("s.sqlite"),
        Path::new("out"),
    );
    assert_eq!(location(Some(flag), Some(setting), out), flag);
    assert_eq!(location(None, Some(setting), out), setting);
    assert_eq!(location(None, None, out), Path::new("out/history.sqlite"));
}
