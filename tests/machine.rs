//! What a gateway does to the machine (issue 13): its memory over the run
//! (a Python gateway that leaks is caught, the fake upstream is not) and
//! CPU isolation (`topology.cpus` pins nginx's workers and the harness).
//! Needs python3 and nginx (`.ci/run` installs them).

mod common;

use std::path::{Path, PathBuf};

use common::{descendants_of, out_dir, report, run_folder, scenario, start_run, text};

/// A gateway in Python's standard library that forwards to the fake
/// upstream and keeps `leak_kib` KiB per request forever.
const LEAKY_PY: &str = r##"
import http.client, http.server, os, sys, threading, urllib.parse
port, upstream, leak = int(sys.argv[1]), urllib.parse.urlsplit(sys.argv[2]), int(sys.argv[3]) * 1024
kept = []
local = threading.local()

class Gateway(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        if self.path == "/metrics":
            text = "# TYPE leaked_bytes gauge\nleaked_bytes %d\n" % (len(kept) * leak)
            text += '# TYPE gateway_requests_total counter\ngateway_requests_total{route="chat"} %d\n' % len(kept)
            text += "# TYPE unselected gauge\nunselected 1\n"
            self.answer(200, text.encode())
        else:
            self.answer(200, b"ok")
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        if not hasattr(local, "conn"):
            local.conn = http.client.HTTPConnection(upstream.hostname, upstream.port)
        local.conn.request("POST", self.path, body, {"content-type": "application/json"})
        reply = local.conn.getresponse()
        data = reply.read()
        kept.append(os.urandom(leak))
        self.answer(reply.status, data)
    def answer(self, status, data):
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def log_message(self, *args):
        pass

http.server.ThreadingHTTPServer(("127.0.0.1", port), Gateway).serve_forever()
"##;

const LEAKY_PROFILE: &str = r#"
name = "leaky"
description = "a Python proxy that keeps some memory per request"

[[requires]]
binary = "python3"
install = "apt-get install -y python3"

[options]
leak_kib = 32

[instance]
command = "{{ bin.python3 }} {{ profile_dir }}/leaky.py {{ port }} {{ upstream.url }} {{ options.leak_kib }}"
ready_path = "/health"
ready_timeout = "20s"
stop_timeout = "5s"
metrics_path = "/metrics"

[request]
path = "/v1/chat/completions"
"#;

/// A scenario in `dir` with `topology` (TOML lines) and a steady open loop:
/// 100 req/s for 8 s (the growth is fitted over the later 4 s).
fn write_scenario(dir: &Path, name: &str, topology: &str) -> PathBuf {
    write_scenario_with(dir, name, topology, "")
}

/// The same with more TOML at the end (e.g. a `[report]` table).
fn write_scenario_with(dir: &Path, name: &str, topology: &str, more: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let file = dir.join(format!("{name}.toml"));
    std::fs::write(
        &file,
        format!(
            r#"[scenario]
name = "{name}"

[topology]
{topology}
quiet_period = "2s"

[upstream]
delay_ms = 1

[request.pool]
prompts = ["hi"]

[load]
rate = [100]
arrival = "constant"
duration = "8s"
warmup = 20
max_in_flight = 20

[assert]
max_error_rate = 0.0
max_rss_growth_mib_per_min = 30
{more}"#
        ),
    )
    .unwrap();
    file
}

fn memory_of<'a>(r: &'a serde_json::Value, service: &str) -> &'a serde_json::Value {
    r["memory"]["services"]
        .as_array()
        .unwrap_or_else(|| panic!("no memory in the report: {}", r["memory"]))
        .iter()
        .find(|m| m["service"] == service)
        .unwrap_or_else(|| panic!("no memory of `{service}`: {}", r["memory"]))
}

fn growth_verdict(r: &serde_json::Value) -> &serde_json::Value {
    r["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["metric"] == "max_rss_growth_mib_per_min")
        .unwrap_or_else(|| panic!("no growth verdict: {}", r["verdicts"]))
}

#[test]
fn a_leaking_gateway_fails_max_rss_growth_and_the_fake_upstream_passes() {
    let out = out_dir("leak");
    let files = out.join("files");
    std::fs::create_dir_all(&files).unwrap();
    std::fs::write(files.join("leaky.py"), LEAKY_PY).unwrap();
    std::fs::write(files.join("leaky-profile.toml"), LEAKY_PROFILE).unwrap();
    let profile = files.join("leaky-profile.toml");
    let leaky = write_scenario_with(
        &files,
        "leaky",
        &format!("gateway = {:?}", profile.to_str().unwrap()),
        "\n[report]\nmetrics = [\"leaked_bytes\", \"gateway_requests_total\"]\n",
    );
    let leaky_out = out.join("leaky");
    let run = scenario(&[
        "run",
        leaky.to_str().unwrap(),
        "--out",
        leaky_out.to_str().unwrap(),
    ]);
    let stdout = text(&run.stdout);
    assert_eq!(run.status.code(), Some(1), "{stdout}{}", text(&run.stderr));
    let r = report(&run_folder(&leaky_out));
    assert_eq!(r["status"], "complete");
    eprintln!("leaky gateway: {}", r["memory"]);
    let gw = memory_of(&r, "leaky-0");
    let growth = gw["rss_growth_mib_per_min"].as_f64().unwrap();
    // 100 req/s × 32 KiB ≈ 187 MiB/min kept.
    assert!(growth > 60.0, "the leak shows as growth: {gw}");
    let (idle, steady) = (
        gw["idle_rss_mib"].as_f64().unwrap(),
        gw["steady_rss_mib"].as_f64().unwrap(),
    );
    assert!(steady > idle + 5.0, "steady above idle: {gw}");
    let recovered = gw["recovered_rss_mib"].as_f64().unwrap();
    assert!(recovered > idle + 5.0, "a leak gives nothing back: {gw}");
    assert_eq!(r["memory"]["quiet_period_s"], 2.0);
    let v = growth_verdict(&r);
    assert_eq!(v["passed"], false, "{v}");
    assert!(v["measured"].as_f64().unwrap() > 30.0, "{v}");
    assert!(stdout.contains("memory (RSS per service)"), "{stdout}");
    assert!(stdout.contains("FAIL"), "{stdout}");
    let dir = run_folder(&leaky_out);
    let md = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    assert!(md.contains("**Memory (RSS per service)**"), "{md}");
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains(r#"id="memory-table""#));
    assert!(html.contains(r#"id="server-metrics-table""#));
    // Each scraped series drawn over the step, beside the table.
    assert!(html.contains(r#"id="chart-server-1-1""#));
    assert!(html.contains(r#"id="chart-server-1-2""#));
    // The gateway's own series, scraped each second of the step.
    let series = r["steps"][0]["server_metrics"].as_array().unwrap();
    let names: Vec<&str> = series
        .iter()
        .map(|s| s["series"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["gateway_requests_total{route=\"chat\"}", "leaked_bytes"],
        "the selected series only"
    );
    let leaked: Vec<f64> = series[1]["values"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_f64())
        .collect();
    assert!(leaked.len() >= 6, "about one scrape a second: {leaked:?}");
    assert!(
        leaked.windows(2).all(|w| w[1] >= w[0]) && leaked.last() > leaked.first(),
        "the leak grows scrape by scrape: {leaked:?}"
    );
    let csv = std::fs::read_to_string(dir.join("steps.csv")).unwrap();
    assert!(csv
        .lines()
        .next()
        .unwrap()
        .ends_with(",steady_rss_mib,rss_growth_mib_per_min"));

    // The fake upstream alone under the same load and the same limit.
    let plain = write_scenario(&files, "plain", "");
    let plain_out = out.join("plain");
    let run = scenario(&[
        "run",
        plain.to_str().unwrap(),
        "--out",
        plain_out.to_str().unwrap(),
    ]);
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}{}",
        text(&run.stdout),
        text(&run.stderr)
    );
    let r = report(&run_folder(&plain_out));
    eprintln!("fake upstream alone: {}", r["memory"]);
    let up = memory_of(&r, "upstream");
    let growth = up["rss_growth_mib_per_min"].as_f64().unwrap();
    assert!(growth < 30.0, "{up}");
    assert_eq!(growth_verdict(&r)["passed"], true);
    let _ = std::fs::remove_dir_all(&out);
}

fn cpus_allowed(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .map(|v| v.trim().to_string())
        .unwrap_or_default()
}

fn comm(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

#[test]
fn cpus_pin_nginx_workers_to_the_gateway_and_the_harness_elsewhere() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cores < 2 {
        eprintln!("skipped: CPU isolation needs two CPUs, this machine has {cores}");
        return;
    }
    let out = out_dir("cpus");
    let profile =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/gateways/nginx-passthrough.toml");
    let file = write_scenario(
        &out.join("files"),
        "pinned",
        &format!(
            "gateway = {:?}\noptions = {{ worker_processes = 2 }}\ncpus = {{ gateway = \"1\", harness = \"0\" }}",
            profile.to_str().unwrap()
        ),
    );
    let results = out.join("results");
    let plan = scenario(&["plan", file.to_str().unwrap()]);
    let shown = text(&plan.stdout);
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan.stderr));
    assert!(
        shown.contains("CPUs: gateway on CPUs 1, harness on CPUs 0"),
        "{shown}"
    );
    assert!(shown.contains("(wave 2, on CPUs 1)"), "{shown}");

    let (mut child, services) = start_run(
        &[
            "run",
            file.to_str().unwrap(),
            "--out",
            results.to_str().unwrap(),
        ],
        2,
    );
    // Every process of each service's tree: nginx's master and both workers.
    let mut seen = Vec::new();
    for &root in &services {
        let mut tree = vec![root];
        tree.extend(descendants_of(root));
        for pid in tree {
            seen.push((comm(pid), cpus_allowed(pid)));
        }
    }
    // Every thread of the tool itself (name, CPUs): the main runtime's,
    // tokio's blocking pool and the load threads.
    let tasks = std::fs::read_dir(format!("/proc/{}/task", child.id())).unwrap();
    let threads: Vec<(String, String)> = tasks
        .flatten()
        .filter_map(|t| {
            let tid: u32 = t.file_name().to_str()?.parse().ok()?;
            let name =
                std::fs::read_to_string(format!("/proc/{}/task/{tid}/comm", child.id())).ok()?;
            let status =
                std::fs::read_to_string(format!("/proc/{}/task/{tid}/status", child.id())).ok()?;
            let cpus = status
                .lines()
                .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))?
                .trim()
                .to_string();
            Some((name.trim().to_string(), cpus))
        })
        .collect();
    let load: Vec<&String> = threads
        .iter()
        .filter(|(name, _)| name.starts_with("load-"))
        .map(|(_, cpus)| cpus)
        .collect();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "the run passed");

    let nginx: Vec<&(String, String)> = seen.iter().filter(|(c, _)| c == "nginx").collect();
    assert!(nginx.len() >= 3, "a master and two workers: {seen:?}");
    for (name, cpus) in &seen {
        let want = if name == "nginx" { "1" } else { "0" };
        assert_eq!(cpus, want, "{name} runs on CPUs {cpus}: {seen:?}");
    }
    assert!(!load.is_empty(), "the load threads were seen");
    assert!(load.iter().all(|c| *c == "0"), "load threads on {load:?}");
    assert!(
        threads.iter().all(|(_, c)| c == "0"),
        "every thread of the tool on the harness's CPU: {threads:?}"
    );
    assert_eq!(load.len(), 1, "one load thread per harness CPU");

    let r = report(&run_folder(&results));
    assert_eq!(r["environment"]["cpus"]["gateway"], "1");
    assert_eq!(r["environment"]["cpus"]["harness"], "0");
    let step = &r["steps"][0];
    for u in step["resources"].as_array().unwrap() {
        let want = if u["role"] == "gateway" { "1" } else { "0" };
        for p in u["processes"].as_array().unwrap() {
            if p.get("cpus").is_some() {
                assert_eq!(p["cpus"], want, "{u}");
            }
        }
    }
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn a_cpu_this_machine_lacks_is_refused_before_anything_starts() {
    let out = out_dir("nocpu");
    let profile =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/gateways/nginx-passthrough.toml");
    let file = write_scenario(
        &out,
        "nocpu",
        &format!(
            "gateway = {:?}\ncpus = {{ gateway = \"1000\", harness = \"0\" }}",
            profile.to_str().unwrap()
        ),
    );
    let run = scenario(&[
        "run",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let err = text(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{err}");
    assert!(err.contains("CPU 1000 does not exist"), "{err}");
    assert!(
        err.contains("the CPUs there are 0"),
        "names those there are: {err}"
    );

    let bad = write_scenario(
        &out,
        "badlist",
        &format!(
            "gateway = {:?}\ncpus = {{ gateway = \"1-0\", harness = \"0\" }}",
            profile.to_str().unwrap()
        ),
    );
    let run = scenario(&["validate", bad.to_str().unwrap()]);
    let err = text(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{err}");
    assert!(err.contains("not a CPU list"), "{err}");
    assert!(err.contains("badlist.toml:6"), "located in the file: {err}");

    for (name, topology, more, says) in [
        (
            "overlap",
            "cpus = { gateway = \"0-1\", harness = \"1\" }",
            "",
            "overlap",
        ),
        (
            "nogateway",
            "",
            "\n[report]\nmetrics = [\"x\"]\n",
            "scraped from a gateway",
        ),
    ] {
        let topology = format!("gateway = {:?}\n{topology}", profile.to_str().unwrap());
        let topology = if name == "nogateway" {
            String::new()
        } else {
            topology
        };
        let file = write_scenario_with(&out, name, &topology, more);
        let run = scenario(&["validate", file.to_str().unwrap()]);
        let err = text(&run.stderr);
        assert_eq!(run.status.code(), Some(2), "{name}: {err}");
        assert!(err.contains(says), "{name}: {err}");
    }
    // nginx-passthrough has no metrics endpoint.
    let file = write_scenario_with(
        &out,
        "nometrics",
        &format!("gateway = {:?}", profile.to_str().unwrap()),
        "\n[report]\nmetrics = [\"x\"]\n",
    );
    let run = scenario(&["validate", file.to_str().unwrap()]);
    let err = text(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{err}");
    assert!(err.contains("has no metrics endpoint"), "{err}");
    let _ = std::fs::remove_dir_all(&out);
}
