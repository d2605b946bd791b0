//! Issue 15: sharded runs (`run --shard I/N`) merged exactly (`scenario
//! merge`), against the real fake upstream over TCP with local processes.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use common::{report, run_folder, text, Server, BIN};
use serde_json::Value;

/// The load tests here run one at a time: the simulation compares a
/// single run with a sharded one, which another test's load would skew.
static LOAD: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    LOAD.lock().unwrap_or_else(|p| p.into_inner())
}

/// A folder for one test's files, emptied first.
fn workdir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("scenario-shard-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `dir/s.toml`: scenario `name` aimed at the fake upstream on `port`,
/// with `rest` (its `[request]`, `[load]`, … tables).
fn write_scenario(dir: &Path, name: &str, port: u16, rest: &str) {
    std::fs::write(dir.join("s.toml"), common::targeting(name, port) + rest).unwrap();
}

/// `s.toml` in `dir` as one process (no shards) into `dir/single`; it passes.
fn single_run(dir: &Path) {
    let single = run(
        dir,
        &[
            "run",
            "s.toml",
            "--quiet",
            "--out",
            "single",
            "--no-history",
        ],
        &[],
    );
    assert_eq!(single.status.code(), Some(0), "{}", text(&single.stderr));
}

fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(BIN)
        .args(args)
        .envs(env.iter().copied())
        .current_dir(dir)
        .output()
        .expect("run scenario")
}

/// A start time `secs` from now, in unix seconds.
fn start_in(secs: u64) -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    (now.as_secs() + secs).to_string()
}

/// Start `n` shard processes of `file` at once, all at the same `--start-at`,
/// printing their results on stdout; their outputs, shard 0 first.
fn shards(dir: &Path, file: &str, n: u32, env: &[(&str, &str)]) -> Vec<Output> {
    let at = start_in(2);
    let children: Vec<_> = (0..n)
        .map(|i| {
            let shard = format!("{i}/{n}");
            Command::new(BIN)
                .args(["run", file, "--quiet", "--out", "shards", "--shard", &shard])
                .args(["--start-at", &at, "--shard-out", "-"])
                .envs(env.iter().copied())
                .current_dir(dir)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start a shard")
        })
        .collect();
    children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect()
}

fn stats(port: u16, reset: bool) -> Value {
    let (method, path) = if reset {
        ("POST", "/stats/reset")
    } else {
        ("GET", "/stats")
    };
    let r = common::request(port, method, path, None).unwrap();
    serde_json::from_slice(&r.body).unwrap()
}

/// A count read from a step's metrics.
type Count = fn(&Value) -> u64;

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

/// The step's metrics of a report.
fn metrics(r: &Value) -> &Value {
    &r["steps"][0]["metrics"]
}

/// Issue 15, exactness: one step in one process, then the same requests
/// over 3 shard processes (random prompt selection with a fixed seed,
/// streamed answers). The fake upstream receives the same requests and
/// bodies; every merged count is the sum of the shards'; the
/// merged latency histogram gives exactly the figures of a histogram built
/// from every sample the shards recorded. The shards judge nothing; the
/// merge judges the scenario's assertion (a FAIL here, exit 1, as `run`).
#[test]
fn issue_15_three_shards_merge_exactly_into_the_run_one_process_makes() {
    let _load = one_at_a_time();
    let server = Server::start(&["--ttft", "2", "--itl", "1", "--completion-tokens", "4"]);
    let dir = workdir("exact");
    write_scenario(
        &dir,
        "exact",
        server.port,
        r#"[request]
vars = { stream = true }
[request.pool]
prompts = ["a", { prompt = "b b b b b b", max_tokens = 2 }, "c c c c c c c c c c c c c c c c", { prompt = "d d d", max_tokens = 7 }]
selection = "random"
seed = 7
[load]
concurrency = [10]
requests = 1001
warmup = 10
[assert]
max_p50_ms = 0.001
"#,
    );

    stats(server.port, true);
    let single = run(&dir, &["run", "s.toml", "--quiet", "--out", "single"], &[]);
    assert_eq!(single.status.code(), Some(1), "{}", text(&single.stderr));
    let upstream_single = stats(server.port, true);
    let outs = shards(&dir, "s.toml", 3, &[("SCENARIO_KEEP_SAMPLES", "1")]);
    let upstream_sharded = stats(server.port, false);
    for (i, o) in outs.iter().enumerate() {
        // A shard judges nothing: its part cannot pass or fail the run.
        assert_eq!(o.status.code(), Some(0), "shard {i}: {}", text(&o.stderr));
    }

    // The same requests reached the upstream, with the same bodies (the
    // prompts differ in length, so the token sum tells the choices apart).
    for key in ["requests", "prompt_tokens", "completion_tokens", "streamed"] {
        assert_eq!(
            upstream_single[key], upstream_sharded[key],
            "upstream {key}"
        );
    }

    // Logs of every shard in one file, in another order, among other lines.
    let mut logs = String::from("some other output\n");
    for o in outs.iter().rev() {
        logs.push_str(&format!("[pod/x] {}", text(&o.stdout)));
    }
    std::fs::write(dir.join("all.log"), &logs).unwrap();
    let merged = run(&dir, &["merge", "all.log", "--out", "merged"], &[]);
    assert_eq!(merged.status.code(), Some(1), "{}", text(&merged.stderr));
    let m = report(&dir.join("merged"));
    assert_eq!(m["status"], "complete");
    assert_eq!(m["verdicts"][0]["passed"], false, "{}", m["verdicts"]);

    let shard_dirs: Vec<PathBuf> = std::fs::read_dir(dir.join("shards/exact"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(shard_dirs.len(), 3);
    let raws: Vec<Value> = shard_dirs
        .iter()
        .map(|d| {
            serde_json::from_str(&std::fs::read_to_string(d.join("shard.json")).unwrap()).unwrap()
        })
        .collect();
    let parts: Vec<Value> = shard_dirs.iter().map(|d| report(d)).collect();
    let sum = |f: &dyn Fn(&Value) -> u64| parts.iter().map(|r| f(metrics(r))).sum::<u64>();
    let mm = metrics(&m);
    let single_report = report(&run_folder(&dir.join("single")));
    let single_m = metrics(&single_report);

    let mut shares: Vec<u64> = parts.iter().map(|r| u(&metrics(r)["requests"])).collect();
    shares.sort();
    assert_eq!(shares, vec![300, 300, 401]);
    assert_eq!(u(&mm["requests"]), 1001);
    assert_eq!(u(&single_m["requests"]), 1001);
    let counts: [(&str, Count); 9] = [
        ("timeouts", |m| u(&m["errors"]["timeout"])),
        ("requests", |m| u(&m["requests"])),
        ("successes", |m| u(&m["successes"])),
        ("errors", |m| u(&m["errors"]["total"])),
        ("500s", |m| {
            m["errors"]["status"]["500"].as_u64().unwrap_or(0)
        }),
        ("retries", |m| u(&m["retries"])),
        ("streams", |m| u(&m["streaming"]["streams"])),
        ("itl gaps", |m| u(&m["streaming"]["itl_ms"]["count"])),
        ("tokens", |m| u(&m["tokens"]["output_tokens"])),
    ];
    for (name, f) in counts {
        assert_eq!(f(mm), sum(&f), "merged {name} = the shards' sum");
    }
    for key in ["successes", "errors", "retries"] {
        let k = if key == "errors" {
            "/errors/total"
        } else {
            key
        };
        let single_count = single_m.pointer(&format!("/{}", k.trim_start_matches('/')));
        let merged_count = mm.pointer(&format!("/{}", k.trim_start_matches('/')));
        assert_eq!(single_count, merged_count, "{key}: one process vs merged");
    }
    assert_eq!(
        single_m["tokens"]["output_tokens"], mm["tokens"]["output_tokens"],
        "the same bodies (max_tokens differ by prompt)"
    );
    assert_eq!(
        u(&upstream_sharded["requests"]),
        1001 + 10 + u(&mm["retries"]),
        "measured + warm-up + resent"
    );

    // The merged histogram equals one built from every sample.
    let mut all = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).unwrap();
    for raw in &raws {
        let samples = raw["steps"][0]["recorder"]["samples_us"]
            .as_array()
            .unwrap();
        for s in samples {
            all.record(u(s)).unwrap();
        }
    }
    assert_eq!(all.len(), u(&mm["successes"]));
    let lat = &mm["latency_ms"];
    let ms = |us: u64| us as f64 / 1000.0;
    for (key, q) in [
        ("p50", 0.5),
        ("p90", 0.9),
        ("p95", 0.95),
        ("p99", 0.99),
        ("p999", 0.999),
    ] {
        assert_eq!(
            lat[key].as_f64().unwrap(),
            ms(all.value_at_quantile(q)),
            "{key}"
        );
    }
    assert_eq!(lat["min"].as_f64().unwrap(), ms(all.min()));
    assert_eq!(lat["max"].as_f64().unwrap(), ms(all.max()));
    assert!((lat["mean"].as_f64().unwrap() - all.mean() / 1000.0).abs() < 1e-9);
    // And it is no average of the shards' percentiles.
    let p99s: Vec<f64> = parts
        .iter()
        .map(|r| metrics(r)["latency_ms"]["p99"].as_f64().unwrap())
        .collect();
    assert!(p99s.iter().all(|p| *p <= ms(all.max())));

    // Every shard is needed, once.
    let two = format!("{}\n{}", text(&outs[0].stdout), text(&outs[1].stdout));
    std::fs::write(dir.join("two.log"), two).unwrap();
    let partial = run(&dir, &["merge", "two.log", "--out", "partial"], &[]);
    assert_eq!(partial.status.code(), Some(2));
    assert!(
        text(&partial.stderr).contains("shards 2/3 are missing"),
        "{}",
        text(&partial.stderr)
    );
    let d0 = shard_dirs[0].to_str().unwrap();
    let twice = run(&dir, &["merge", "all.log", d0, "--out", "twice"], &[]);
    assert_eq!(twice.status.code(), Some(2));
    assert!(
        text(&twice.stderr).contains("is given twice"),
        "{}",
        text(&twice.stderr)
    );
    server.stop();
}

/// Issue 15, simulation on one machine: 4 shard processes against one fake
/// upstream measure what one process with the whole load measures (within
/// noise), and the merged run renders in every format and compares with
/// a baseline like any run.
#[test]
fn issue_15_four_local_shards_measure_what_one_process_does() {
    let _load = one_at_a_time();
    let server = Server::start(&["--delay-ms", "20", "--fault", "500=0.02"]);
    let dir = workdir("sim");
    write_scenario(
        &dir,
        "sim",
        server.port,
        r#"[load]
concurrency = [8]
requests = 800
warmup = 8
[assert]
max_error_rate = 0.2
[report]
formats = ["json", "csv", "md", "html", "junit"]
"#,
    );
    single_run(&dir);
    let single_dir = run_folder(&dir.join("single"));
    stats(server.port, true);
    let outs = shards(&dir, "s.toml", 4, &[]);
    let upstream = stats(server.port, false);
    let logs: String = outs.iter().map(|o| text(&o.stdout)).collect();
    for o in &outs {
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    }
    std::fs::write(dir.join("all.log"), logs).unwrap();
    let base = single_dir.to_str().unwrap();
    let merged = run(
        &dir,
        &["merge", "all.log", "--out", "merged", "--baseline", base],
        &[],
    );
    let stdout = text(&merged.stdout);
    assert!(
        matches!(merged.status.code(), Some(0 | 1)),
        "{stdout}{}",
        text(&merged.stderr)
    );
    assert!(
        dir.join("merged/compare.md").is_file(),
        "--baseline wrote no comparison"
    );

    let (s, m) = (report(&single_dir), report(&dir.join("merged")));
    let (s, m) = (metrics(&s), metrics(&m));
    let f = |v: &Value, k: &str| v.pointer(k).and_then(Value::as_f64).unwrap();
    // Noise on 2 shared cores is mostly added latency, on either side.
    let within = |k: &str, share: f64, slack: f64| {
        let (a, b) = (f(s, k), f(m, k));
        eprintln!("{k}: single {a:.3}, merged {b:.3}");
        assert!(
            (a - b).abs() <= a.max(b) * share + slack,
            "{k}: single {a}, merged {b}"
        );
    };
    assert_eq!(u(&m["requests"]), 800);
    // Errors by class: each 500 the upstream injected is counted once,
    // measured or in a warm-up.
    let parts: Vec<Value> = std::fs::read_dir(dir.join("shards/sim"))
        .unwrap()
        .map(|e| report(&e.unwrap().path()))
        .collect();
    let fives = |m: &Value| m["errors"]["status"]["500"].as_u64().unwrap_or(0);
    let warm: u64 = parts
        .iter()
        .map(|r| u(&r["steps"][0]["warmup_errors"]))
        .sum();
    assert_eq!(
        fives(m),
        parts.iter().map(|r| fives(metrics(r))).sum::<u64>()
    );
    assert_eq!(u(&m["errors"]["total"]), fives(m));
    let injected = u(&upstream["faults"]["status_500"]);
    assert!(injected > 0, "the fault share injected no 500");
    assert_eq!(fives(m) + warm, injected);
    within("/rps", 0.25, 0.0);
    within("/latency_ms/p50", 0.15, 1.0);
    within("/latency_ms/p99", 0.5, 10.0);

    for format in ["html", "md", "csv", "json", "junit"] {
        let out = run(&dir, &["report", "merged", "--format", format], &[]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{format}: {}",
            text(&out.stderr)
        );
        assert!(!out.stdout.is_empty(), "{format} rendered nothing");
    }
    for file in [
        "report.json",
        "report.html",
        "summary.md",
        "steps.csv",
        "junit.xml",
    ] {
        assert!(dir.join("merged").join(file).is_file(), "no {file}");
    }
    server.stop();
}

/// A shard never starts services: a scenario without `topology.target`
/// is refused before anything starts, naming the fix; `plan --shard`
/// shows a shard's part of each step.
#[test]
fn issue_15_a_shard_refuses_a_scenario_that_starts_services() {
    let out = common::scenario(&[
        "run",
        common::fixture("tiny.toml").to_str().unwrap(),
        "--shard",
        "0/2",
        "--out",
        std::env::temp_dir()
            .join("scenario-shard-refused")
            .to_str()
            .unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("topology] target"), "{err}");
    assert!(err.contains("nothing was started"), "{err}");
    // `plan --shard` shows each step's part, as `run --shard` sends it.
    let plan = common::scenario(&["plan", "scenarios/sharded.toml", "--shard", "1/3"]);
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan.stderr));
    let shown = text(&plan.stdout);
    assert!(
        shown.contains("shard 1/3: 11 workers, 1375 requests, warm-up 11"),
        "{shown}"
    );
    let tiny = common::fixture("tiny.toml");
    let refused = common::scenario(&["plan", tiny.to_str().unwrap(), "--shard", "1/3"]);
    assert_eq!(refused.status.code(), Some(2));
    let bad = common::scenario(&["run", "x.toml", "--shard", "2/2"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        text(&bad.stderr).contains("0-based"),
        "{}",
        text(&bad.stderr)
    );
}

/// Issue 15, open loop: shard `I` of 3 sends every 3rd arrival of the one
/// seeded schedule at its intended time, so the shards together schedule
/// exactly the arrivals one process does (a Poisson schedule over a
/// duration: the count itself is drawn), each at a third of the rate, and
/// the merged step reports the whole rate.
#[test]
fn issue_15_open_loop_shards_send_the_schedule_one_process_would() {
    let _load = one_at_a_time();
    let server = Server::start(&["--delay-ms", "5"]);
    let dir = workdir("open");
    write_scenario(
        &dir,
        "open",
        server.port,
        r#"[load]
rate = [150]
duration = "2s"
arrival = "poisson"
seed = 11
max_in_flight = 30
"#,
    );
    single_run(&dir);
    let outs = shards(&dir, "s.toml", 3, &[]);
    let logs: String = outs.iter().map(|o| text(&o.stdout)).collect();
    std::fs::write(dir.join("all.log"), logs).unwrap();
    let merged = run(&dir, &["merge", "all.log", "--out", "merged"], &[]);
    assert_eq!(merged.status.code(), Some(0), "{}", text(&merged.stderr));
    let s = report(&run_folder(&dir.join("single")));
    let m = report(&dir.join("merged"));
    let (so, mo) = (&metrics(&s)["open_loop"], &metrics(&m)["open_loop"]);
    assert_eq!(mo["scheduled"], so["scheduled"], "the same arrivals");
    assert_eq!(u(&mo["scheduled"]), u(&mo["sent"]) + u(&mo["dropped"]));
    assert_eq!(mo["target_rate"], 150.0);
    for part in std::fs::read_dir(dir.join("shards/open")).unwrap() {
        let r = report(&part.unwrap().path());
        assert_eq!(metrics(&r)["open_loop"]["target_rate"], 50.0);
    }
    let achieved = mo["achieved_rate"].as_f64().unwrap();
    assert!((achieved - 150.0).abs() < 40.0, "achieved {achieved}/s");
    server.stop();
}
