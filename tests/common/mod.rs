//! Shared by the integration tests: start `scenario fake-upstream --port 0` and
//! talk HTTP/1.1 to it over a plain std `TcpStream` (no client library between
//! the test and the bytes on the wire).

#![allow(dead_code)]

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_scenario");

/// A running fake upstream; killed on drop.
pub struct Server {
    pub port: u16,
    child: Child,
}

impl Server {
    /// Starts `scenario fake-upstream --port 0 ARGS` and waits for its `listening on` line.
    pub fn start(args: &[&str]) -> Server {
        let mut child = Command::new(BIN)
            .args(["fake-upstream", "--port", "0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start scenario fake-upstream");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                panic!("fake-upstream printed no `listening on` line within 10 s");
            }
        };
        let port = line
            .trim()
            .strip_prefix("listening on http://127.0.0.1:")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"));
        Server { port, child }
    }

    /// SIGTERM, then the exit code (None if it had not exited after 20 s;
    /// generous, since a machine busy with builds slows the shutdown).
    pub fn stop(mut self) -> Option<i32> {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `scenario fake-upstream ARGS` expecting it to exit by itself (bad input).
pub fn run_to_end(args: &[&str]) -> Output {
    let mut child = Command::new(BIN)
        .arg("fake-upstream")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("fake-upstream {args:?} did not exit within 10 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// One HTTP answer.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// De-chunked body.
    pub body: Vec<u8>,
    /// Time from sending the request to the first byte of the answer.
    pub first_byte: Option<Duration>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A connection to 127.0.0.1:`port` whose reads give up after 10 s, for a
/// test that writes its request bytes itself (pipelining, HTTP/1.0, ...).
pub fn connect(port: u16) -> TcpStream {
    open(port).unwrap_or_else(|e| panic!("connect to 127.0.0.1:{port}: {e}"))
}

fn open(port: u16) -> io::Result<TcpStream> {
    let stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    Ok(stream)
}

/// Reads until the server closes the connection (or a read fails), as text.
pub fn read_to_close(stream: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// Sends one request on a fresh connection (`Connection: close`) and reads the
/// answer to EOF. A connection closed before a complete answer is an
/// `UnexpectedEof` error; a reset is `ConnectionReset`. Every test's HTTP
/// request goes through this (or [`connect`] for hand-written bytes).
pub fn request(port: u16, method: &str, path: &str, body: Option<&str>) -> io::Result<Response> {
    let mut stream = open(port)?;
    let body = body.unwrap_or("");
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nAuthorization: Bearer fake\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body.as_bytes())?;
    let sent = Instant::now();
    let mut raw = Vec::new();
    let mut first_byte = None;
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        first_byte.get_or_insert_with(|| sent.elapsed());
        raw.extend_from_slice(&buf[..n]);
    }
    parse(&raw, first_byte)
}

fn eof(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, msg)
}

fn parse(raw: &[u8], first_byte: Option<Duration>) -> io::Result<Response> {
    if raw.is_empty() {
        return Err(eof("connection closed without an answer".into()));
    }
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| eof("headers never ended".into()))?;
    let head = std::str::from_utf8(&raw[..split])
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    let rest = &raw[split + 4..];
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("bad status line in {head:?}"),
            )
        })?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let get = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let body = if get("transfer-encoding") == Some("chunked") {
        dechunk(rest)?
    } else if let Some(len) = get("content-length").and_then(|v| v.parse::<usize>().ok()) {
        if rest.len() < len {
            return Err(eof(format!(
                "body cut short: got {} of {len} bytes",
                rest.len()
            )));
        }
        rest[..len].to_vec()
    } else {
        rest.to_vec()
    };
    Ok(Response {
        status,
        headers,
        body,
        first_byte,
    })
}

fn dechunk(mut data: &[u8]) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or_else(|| eof("chunked body cut short".into()))?;
        let size_text = std::str::from_utf8(&data[..line_end]).unwrap_or("");
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("bad chunk size {size_text:?}"),
                )
            })?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if data.len() < size + 2 {
            return Err(eof("chunk cut short".into()));
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

pub fn scenario(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run scenario")
}

pub fn out_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("scenario-cli-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The one run folder under `out` (`out/<name>/<timestamp>`).
/// (Folders only: `out` also holds the run history, `history.sqlite`.)
pub fn run_folder(out: &Path) -> PathBuf {
    let only_folder = |dir: &Path| {
        std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("no results under {}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .find(|p| p.is_dir())
            .unwrap_or_else(|| panic!("no folder under {}", dir.display()))
    };
    only_folder(&only_folder(out))
}

pub fn report(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap()
}

/// Processes whose parent is `pid` (to prove no service outlives the run),
/// but the run's guardian (`scenario guard`), which is no service, and a
/// child forked but not yet started (its command line is still the
/// parent's: it may be the guardian before its `exec`).
pub fn children_of(pid: u32) -> Vec<u32> {
    let parent = cmdline(pid);
    children_and_guardian(pid)
        .into_iter()
        .filter(|&c| !is_guardian(c) && (parent.is_none() || cmdline(c) != parent))
        .collect()
}

fn cmdline(pid: u32) -> Option<Vec<u8>> {
    std::fs::read(format!("/proc/{pid}/cmdline")).ok()
}

/// Is `pid` a run's guardian process (`scenario guard --parent …`)?
pub fn is_guardian(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|c| c.split(|&b| b == 0).nth(1) == Some(b"guard".as_slice()))
        .unwrap_or(false)
}

/// Every process below `pid`, children first (the run's whole tree).
pub fn descendants_of(pid: u32) -> Vec<u32> {
    let mut tree = vec![pid];
    let mut i = 0;
    while i < tree.len() {
        let next = children_and_guardian(tree[i]);
        tree.extend(next);
        i += 1;
    }
    tree.remove(0);
    tree
}

/// Every process whose parent is `pid`, the guardian included.
pub fn children_and_guardian(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else {
            continue;
        };
        // Fields after the command name (which may hold spaces): state, ppid, …
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        let ppid: u32 = rest.split(' ').nth(1).unwrap().parse().unwrap();
        if ppid == pid {
            out.push(child);
        }
    }
    out
}

pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s[s.rfind(')').unwrap() + 2..].starts_with('Z'))
        .unwrap_or(false)
}

/// Start `scenario ARGS` in the background and wait until it has started
/// `services` children and measured for a moment; returns it and their pids.
pub fn start_run(args: &[&str], services: usize) -> (Child, Vec<u32>) {
    let child = Command::new(BIN)
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let kids = loop {
        let kids = children_of(child.id());
        if kids.len() >= services {
            break kids;
        }
        assert!(Instant::now() < deadline, "the run started no services");
        std::thread::sleep(Duration::from_millis(50));
    };
    // Let the step get under way.
    std::thread::sleep(Duration::from_millis(1500));
    (child, kids)
}

/// `scenario run tests/fixtures/slow.toml --out OUT [--set S]…`, started
/// as [`start_run`] starts it (one service: the fake upstream).
pub fn start_slow_run(out: &Path, set: &[&str]) -> (Child, Vec<u32>) {
    let slow = fixture("slow.toml");
    let mut args = vec![
        "run",
        slow.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    for s in set {
        args.extend(["--set", s]);
    }
    start_run(&args, 1)
}

/// Send `signal` to `pid`.
pub fn signal(pid: u32, signal: nix::sys::signal::Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), signal).unwrap();
}

/// The `key` string of every element of the JSON array `list`
/// (service names in a plan, services sampled in a step, …).
pub fn strings<'a>(list: &'a serde_json::Value, key: &str) -> Vec<&'a str> {
    list.as_array()
        .unwrap_or_else(|| panic!("not an array: {list}"))
        .iter()
        .map(|e| {
            e[key]
                .as_str()
                .unwrap_or_else(|| panic!("no `{key}` in {e}"))
        })
        .collect()
}

/// The value of environment variable `key` in a planned service's `env`.
pub fn env_of(service: &serde_json::Value, key: &str) -> Option<String> {
    service["env"]
        .as_array()?
        .iter()
        .find(|kv| kv[0] == key)
        .and_then(|kv| kv[1].as_str())
        .map(String::from)
}

/// Every port the run's services used is free again: nothing was left behind.
pub fn ports_are_free(r: &serde_json::Value) {
    for s in r["plan"]["services"].as_array().unwrap() {
        let port = s["port"].as_u64().unwrap() as u16;
        assert!(
            std::net::TcpListener::bind(("127.0.0.1", port)).is_ok(),
            "service `{}` still holds port {port}",
            s["name"]
        );
    }
}

/// `scenario provision` for the files and `--set`s of the `scenario run
/// ARGS` command line `run_args`: installs the gateway's venv (pip, from
/// PyPI) when the cache is cold, so that the run itself installs nothing.
pub fn provision_for(run_args: &[&str]) {
    provision_for_in(Path::new(env!("CARGO_MANIFEST_DIR")), run_args)
}

/// [`provision_for`] with the files of `run_args` relative to `dir`.
pub fn provision_for_in(dir: &Path, run_args: &[&str]) {
    assert_eq!(run_args.first(), Some(&"run"), "{run_args:?}");
    let mut args = vec!["provision"];
    let mut rest = run_args[1..].iter();
    while let Some(&a) = rest.next() {
        match a {
            "--out" | "--baseline" => {
                rest.next();
            }
            "--quiet" | "-q" | "--json" => {}
            _ => args.push(a),
        }
    }
    let out = Command::new(BIN)
        .args(&args)
        .current_dir(dir)
        .output()
        .expect("run scenario provision");
    assert!(
        out.status.success(),
        "scenario {args:?} failed:\n{}\n{}",
        text(&out.stderr),
        text(&out.stdout)
    );
}

/// Runs `scenario ARGS` under `strace -f`, recording every `connect(2)` made
/// by the tool and by every process it starts (gateways, their workers, the
/// fake upstream) into `trace`. Returns the output and the connects that went
/// anywhere but loopback (or a local Unix socket): any such line is an
/// outbound connection attempt, telemetry or otherwise. The gateway's venv
/// is provisioned first, outside the trace ([`provision_for`]): installing
/// from PyPI is the one thing allowed to leave the machine, and it happens
/// before the run, so a cold cache and a warm one trace the same.
pub fn scenario_traced(args: &[&str], trace: &Path) -> (Output, Vec<String>) {
    provision_for(args);
    let strace = ["/usr/bin/strace", "/bin/strace", "/usr/local/bin/strace"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("`strace` not found (it proves no outbound connection): apt-get install -y strace");
    let trace_arg = trace.display().to_string();
    let mut argv = vec![
        "-f",
        // Stop only at connect(2), so the gateway runs at full speed.
        "--seccomp-bpf",
        "-qq",
        "-e",
        "trace=connect",
        "-e",
        "signal=none",
        "-o",
        &trace_arg,
        BIN,
    ];
    argv.extend(args);
    let out = Command::new(strace)
        .args(&argv)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run scenario under strace");
    let log = std::fs::read_to_string(trace).expect("strace wrote its log");
    assert!(
        log.contains("connect("),
        "strace recorded no connect at all: is tracing working?\n{log}"
    );
    let outbound = outbound(&log);
    (out, outbound)
}

/// The `connect(2)` lines of an strace log that went anywhere but loopback
/// (IPv4 127/8, IPv6 ::1) or a local socket (Unix, netlink).
pub fn outbound(strace_log: &str) -> Vec<String> {
    strace_log
        .lines()
        .filter(|l| l.contains("connect("))
        .filter(|l| {
            if l.contains("AF_INET6") {
                !l.contains("\"::1\"") && !l.contains("\"::ffff:127.")
            } else {
                l.contains("AF_INET") && !l.contains("inet_addr(\"127.")
            }
        })
        .map(str::to_string)
        .collect()
}

/// Flags for a headless Chromium that fetches nothing on its own.
pub const HEADLESS: [&str; 7] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
];

/// The headless Chromium the HTML tests render pages with (`CHROMIUM`, or
/// `chromium` on PATH); fails naming the install command when missing.
pub fn chromium(what: &str) -> String {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "chromium".into());
    let found = Command::new(&chromium).arg("--version").output();
    assert!(
        found.as_ref().is_ok_and(|o| o.status.success()),
        "`{chromium}` is needed to check {what} renders: apt-get install -y chromium (or set CHROMIUM=/path/to/chrome)"
    );
    chromium
}

/// A venv for test tools from the package index (`packages`, pip
/// arguments), made on first use under the scenario cache
/// (`$SCENARIO_CACHE_DIR/test-venvs/NAME`, so a cold cache in CI installs
/// it) and reused; a marker records what it holds, so adding a package
/// installs it into an existing venv. Returns the venv's folder.
#[allow(dead_code)]
pub fn test_venv(name: &str, packages: &[&str]) -> PathBuf {
    static MADE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _once = MADE.lock().unwrap_or_else(|e| e.into_inner());
    let venv = scenario::testing::cache_dir().join("test-venvs").join(name);
    let python = venv.join("bin/python");
    let ready = venv.join(".installed");
    let wanted = packages.join(" ");
    if std::fs::read_to_string(&ready).is_ok_and(|had| had == wanted) {
        return venv;
    }
    let version = Command::new("python3").arg("--version").output();
    if !matches!(&version, Ok(out) if out.status.success()) {
        panic!("python3 is missing; install it with: apt-get install -y python3 python3-venv");
    }
    if !python.exists() {
        std::fs::create_dir_all(venv.parent().unwrap()).unwrap();
        let out = Command::new("python3")
            .args(["-m", "venv", "--clear"])
            .arg(&venv)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "python3 -m venv failed (install it with: apt-get install -y python3 python3-venv):\n{}",
            text(&out.stderr)
        );
    }
    let out = Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .args(packages)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pip install {wanted} failed:\n{}",
        text(&out.stderr)
    );
    std::fs::write(&ready, &wanted).unwrap();
    venv
}

/// The head of a scenario file named `name` aimed at the fake upstream on
/// `port` (`[scenario]` and `[topology] target`): append its other tables.
pub fn targeting(name: &str, port: u16) -> String {
    format!(
        "[scenario]\nname = \"{name}\"\n[topology]\ntarget = \"http://127.0.0.1:{port}/v1/chat/completions\"\n"
    )
}

/// `scenario run --quiet --out OUT FIXTURE --set S …` for a file in
/// tests/fixtures, into a fresh `out_dir(tag)`. The run must have judged
/// (exit 0 or 1), not failed as a harness (2). Returns the exit code and
/// the run folder.
pub fn run_fixture(tag: &str, file: &str, set: &[&str]) -> (Option<i32>, PathBuf) {
    let out = out_dir(tag);
    let file = fixture(file);
    let output = scenario(&quiet_run_args(&out, &file, set));
    assert!(
        matches!(output.status.code(), Some(0 | 1)),
        "{}",
        text(&output.stderr)
    );
    (output.status.code(), run_folder(&out))
}

/// `run --quiet --out OUT FILE --set S …`, the arguments of a run whose
/// only output is its reports.
pub fn quiet_run_args<'a>(out: &'a Path, file: &'a Path, set: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "run",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
        file.to_str().unwrap(),
    ];
    for s in set {
        args.extend(["--set", s]);
    }
    args
}

/// The steps of a report that went through the gateway (`side = "target"`),
/// not the baseline's straight to the upstream.
pub fn gateway_steps(r: &serde_json::Value) -> Vec<&serde_json::Value> {
    r["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["side"] == "target")
        .collect()
}

/// The run exited with `code`; otherwise fails showing its stderr and stdout.
pub fn exited(run: &Output, code: i32) {
    assert_eq!(
        run.status.code(),
        Some(code),
        "{}\n{}",
        text(&run.stderr),
        text(&run.stdout)
    );
}

/// Every file under `dir`, but in folders named in `skip` (a service's
/// data folder owned by another user, say).
pub fn files_under(dir: &Path, skip: &[&str]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            if !skip.iter().any(|s| path.ends_with(s)) {
                out.extend(files_under(&path, skip));
            }
        } else {
            out.push(path);
        }
    }
    out
}
