//! Issue 5, end to end with the real binary and the built-in fake upstream:
//! report.html with its charts (and rendered by headless Chromium),
//! junit.xml read by an XML parser, `scenario compare` and `run --baseline`
//! catching a 30% slower upstream, and `scenario report` re-rendering.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

use serde_json::Value;

mod common;

const BIN: &str = env!("CARGO_BIN_EXE_scenario");

/// One sweep at a time: parallel sweeps on a small machine make each
/// other's tails noisy, and the comparison test judges tails.
static SWEEP: Mutex<()> = Mutex::new(());

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
        .display()
        .to_string()
}

fn scenario(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run scenario")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn out_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("scenario-reports-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Run `file` into a fresh folder; returns the run folder and the output.
fn run(tag: &str, file: &str, extra: &[&str]) -> (PathBuf, Output) {
    let _one_at_a_time = SWEEP.lock().unwrap_or_else(|e| e.into_inner());
    let out = out_dir(tag);
    let mut args = vec!["run", file, "--out", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    let output = scenario(&args);
    assert!(
        out.is_dir(),
        "no results under {}:\n{}",
        out.display(),
        text(&output.stderr)
    );
    let dir = common::run_folder(&out);
    (dir, output)
}

fn report(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap()
}

#[test]
fn html_report_has_the_four_chart_kinds_the_verdicts_and_no_network() {
    let (dir, out) = run("html", &fixture("reports-faults.toml"), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let html = std::fs::read_to_string(dir.join("report.html")).expect("report.html is written");
    // Throughput with the ideal and the ceiling analysis, latency by level,
    // the spectrum, a time series per step, and the errors.
    for id in [
        "chart-throughput",
        "chart-latency",
        "chart-spectrum",
        "chart-timeseries-rps-1",
        "chart-timeseries-latency-1",
        "chart-timeseries-rps-2",
        "chart-errors",
    ] {
        assert!(
            html.contains(&format!(r#"<svg id="{id}""#)),
            "no {id} chart"
        );
    }
    assert!(html.contains("ideal: c / "), "the Little's-law line");
    assert!(html.contains("efficiency"));
    assert!(html.contains("HTTP 500") && html.contains("HTTP 503"));
    // One verdict row per verdict, failures marked.
    let r = report(&dir);
    let verdicts = r["verdicts"].as_array().unwrap();
    assert_eq!(
        html.matches(r#"<tr class="verdict "#).count(),
        verdicts.len()
    );
    let failed = verdicts.iter().filter(|v| v["passed"] == false).count();
    assert!(failed >= 1);
    assert_eq!(html.matches(r#"<tr class="verdict fail""#).count(), failed);
    assert!(html.contains(r#"<span class="badge fail" id="outcome">FAIL</span>"#));
    // Self-contained: nothing is fetched.
    for needle in ["<script", "<link", "src=", "url(", "https://", "@import"] {
        assert!(
            !html.contains(needle),
            "report.html must not contain `{needle}`"
        );
    }
    assert!(
        html.contains("[upstream.faults]"),
        "the resolved scenario as TOML"
    );
    assert!(html.contains("git commit"), "the environment");
    let _ = std::fs::remove_dir_all(dir.parent().unwrap().parent().unwrap());
}

/// `chromium` must be installed for this test (`.ci/run` installs it).
#[test]
fn html_report_renders_in_headless_chromium() {
    let chromium = common::chromium("report.html");
    let (dir, out) = run("chromium", &fixture("tiny.toml"), &["--set", "load.runs=1"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let page = format!("file://{}", dir.join("report.html").display());
    let profile = dir.join("chromium-profile");
    let shot = dir.join("shot.png");
    let flags = common::HEADLESS;
    let profile_flag = format!("--user-data-dir={}", profile.display());
    let dom = Command::new(&chromium)
        .args(flags)
        .arg(&profile_flag)
        .arg("--dump-dom")
        .arg(&page)
        .output()
        .unwrap();
    let dom = text(&dom.stdout);
    for id in [
        "chart-throughput",
        "chart-latency",
        "chart-spectrum",
        "chart-timeseries-rps-1",
    ] {
        assert!(
            dom.contains(&format!(r#"id="{id}""#)),
            "{id} not in the rendered DOM"
        );
    }
    assert!(
        dom.contains(r#"class="verdict pass""#),
        "verdicts in the rendered DOM"
    );
    let status = Command::new(&chromium)
        .args(flags)
        .arg(&profile_flag)
        .arg(format!("--screenshot={}", shot.display()))
        .arg("--window-size=1280,2400")
        .arg(&page)
        .output()
        .unwrap();
    let png = std::fs::read(&shot)
        .unwrap_or_else(|e| panic!("no screenshot ({e}): {}", text(&status.stderr)));
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    assert!(
        png.len() > 20_000,
        "a page with content, not a blank one: {} bytes",
        png.len()
    );
    let _ = std::fs::remove_dir_all(dir.parent().unwrap().parent().unwrap());
}

#[test]
fn junit_xml_parses_as_junit_with_one_testcase_per_assertion_per_level() {
    let (dir, out) = run("junit", &fixture("reports-faults.toml"), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let xml = std::fs::read_to_string(dir.join("junit.xml")).expect("junit.xml is written");
    let doc = roxmltree::Document::parse(&xml).expect("junit.xml is well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    let suites: Vec<_> = root
        .children()
        .filter(|n| n.has_tag_name("testsuite"))
        .collect();
    assert_eq!(suites.len(), 1, "one testsuite per scenario");
    let suite = suites[0];
    assert_eq!(suite.attribute("name"), Some("reports-faults"));

    let r = report(&dir);
    let verdicts = r["verdicts"].as_array().unwrap();
    // 2 levels × (max_error_rate, max_p50_ms), plus `run completed`.
    assert_eq!(verdicts.len(), 4);
    let cases: Vec<_> = suite
        .children()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases.len(), verdicts.len() + 1);
    assert_eq!(suite.attribute("tests"), Some("5"));
    let failures: Vec<_> = cases
        .iter()
        .filter_map(|c| {
            c.children()
                .find(|n| n.has_tag_name("failure"))
                .map(|f| (c, f))
        })
        .collect();
    let failed = verdicts.iter().filter(|v| v["passed"] == false).count();
    assert_eq!(failures.len(), failed);
    assert_eq!(
        suite.attribute("failures"),
        Some(failed.to_string().as_str())
    );
    assert_eq!(
        root.attribute("failures"),
        Some(failed.to_string().as_str())
    );
    assert_eq!(suite.attribute("errors"), Some("0"));
    let names: Vec<&str> = cases.iter().filter_map(|c| c.attribute("name")).collect();
    assert!(names.contains(&"c=1 max_error_rate"), "{names:?}");
    assert!(names.contains(&"c=4 max_p50_ms"), "{names:?}");
    assert!(names.contains(&"run completed"));
    // A failure carries the measured and the allowed value.
    let (case, failure) = failures
        .iter()
        .find(|(c, _)| c.attribute("name").unwrap().ends_with("max_error_rate"))
        .expect("the 15% fault rate fails max_error_rate = 0.01");
    let body = failure.text().unwrap_or_default();
    assert!(body.contains("measured: 0."), "{body}");
    assert!(body.contains("allowed: ≤ 0.01"), "{body}");
    assert!(failure.attribute("message").unwrap().contains("error rate"));
    assert!(case
        .attribute("classname")
        .unwrap()
        .starts_with("reports-faults.c"));
    let _ = std::fs::remove_dir_all(dir.parent().unwrap().parent().unwrap());
}

#[test]
fn compare_fails_a_30_percent_slower_upstream_and_passes_an_identical_run() {
    let file = fixture("compare.toml");
    // Tails are what is judged, and a busy machine (other builds, other
    // benchmarks) can stall a sweep for 100-200 ms and blow up one run's
    // p95. So a verdict that disagrees with the setup is retried on fresh
    // sweeps, up to three times; a broken comparison fails every time.
    let mut slow_attempts = Vec::new();
    let (base, slow, stdout) = loop {
        let (base, out) = run("cmp-base", &file, &["--quiet"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        // 65 ms instead of 50 ms, judged by `run --baseline`.
        let (slow, out) = run(
            "cmp-slow",
            &file,
            &[
                "--set",
                "upstream.delay_ms=65",
                "--baseline",
                base.to_str().unwrap(),
            ],
        );
        let stdout = text(&out.stdout);
        if out.status.code() == Some(1) || slow_attempts.len() == 2 {
            assert_eq!(
                out.status.code(),
                Some(1),
                "30% slower never failed:\n{}\n{stdout}{}",
                slow_attempts.join("\n"),
                text(&out.stderr)
            );
            break (base, slow, stdout);
        }
        slow_attempts.push(stdout);
        for dir in [base, slow] {
            let _ = std::fs::remove_dir_all(dir.parent().unwrap().parent().unwrap());
        }
    };
    let failing = stdout
        .lines()
        .find_map(|l| l.strip_prefix("FAIL: regression at concurrency "))
        .unwrap_or_else(|| panic!("no failing levels named:\n{stdout}"));
    for level in failing.split(", ") {
        assert!(
            stdout.contains(&format!("FAIL c={level}: p95 +")),
            "{stdout}"
        );
    }
    let md = std::fs::read_to_string(slow.join("compare.md")).expect("compare.md is written");
    assert!(md.contains("| concurrency | p50 ms | p95 ms |"), "{md}");
    assert!(md.contains("❌ **FAIL** c="), "{md}");

    // Identical configuration: no FAIL (a WARN would still exit 0).
    let mut same_attempts = Vec::new();
    loop {
        let (same, out) = run("cmp-same", &file, &["--quiet"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let out = scenario(&["compare", base.to_str().unwrap(), same.to_str().unwrap()]);
        let _ = std::fs::remove_dir_all(same.parent().unwrap().parent().unwrap());
        let stdout = text(&out.stdout);
        if out.status.code() == Some(0) || same_attempts.len() == 2 {
            assert_eq!(
                out.status.code(),
                Some(0),
                "identical runs failed:\n{}\n{stdout}{}",
                same_attempts.join("\n"),
                text(&out.stderr)
            );
            assert!(!stdout.contains("FAIL"), "{stdout}");
            break;
        }
        same_attempts.push(stdout);
    }

    // And by `compare`, as text and as Markdown.
    let out = scenario(&["compare", base.to_str().unwrap(), slow.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(&format!("FAIL: regression at concurrency {failing}")),
        "{stdout}"
    );
    let out = scenario(&[
        "compare",
        base.join("report.json").to_str().unwrap(),
        slow.to_str().unwrap(),
        "--markdown",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).starts_with("## ❌ Performance vs baseline: `compare`"));
    // Loosened limits turn the FAIL into a pass.
    let out = scenario(&[
        "compare",
        base.to_str().unwrap(),
        slow.to_str().unwrap(),
        "--fail-p95-increase",
        "0.6",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["thresholds"]["fail_p95_increase"], 0.6);
    assert_eq!(json["levels"].as_array().unwrap().len(), 2);

    // Bad input exits 2.
    let out = scenario(&["compare", "/nonexistent", slow.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("error: base:"),
        "{}",
        text(&out.stderr)
    );
    let out = scenario(&["run", &file, "--baseline", "/nonexistent/report.json"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a bad baseline stops the run before it starts"
    );

    for dir in [base, slow] {
        let _ = std::fs::remove_dir_all(dir.parent().unwrap().parent().unwrap());
    }
}

#[test]
fn report_rerenders_every_format_from_report_json_alone() {
    let (dir, out) = run(
        "rerender",
        &fixture("tiny.toml"),
        &["--set", "load.runs=1", "--quiet"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // Only report.json in a fresh folder: every format comes from it alone.
    let alone = out_dir("rerender-alone");
    std::fs::create_dir_all(&alone).unwrap();
    std::fs::copy(dir.join("report.json"), alone.join("report.json")).unwrap();
    for (format, file) in [
        ("json", "report.json"),
        ("csv", "steps.csv"),
        ("md", "summary.md"),
        ("html", "report.html"),
        ("junit", "junit.xml"),
    ] {
        let out = scenario(&["report", alone.to_str().unwrap(), "--format", format]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{format}: {}",
            text(&out.stderr)
        );
        let written = std::fs::read_to_string(dir.join(file)).unwrap();
        assert_eq!(
            text(&out.stdout),
            written,
            "{format} re-rendered differs from {file}"
        );
    }
    let target = alone.join("copy.html");
    let out = scenario(&[
        "report",
        alone.join("report.json").to_str().unwrap(),
        "--format",
        "html",
        "--out",
        target.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert!(std::fs::read_to_string(&target)
        .unwrap()
        .contains("chart-spectrum"));
    let out = scenario(&["report", "/nonexistent", "--format", "md"]);
    assert_eq!(out.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&alone);
    let _ = std::fs::remove_dir_all(dir.parent().unwrap().parent().unwrap());
}
