//! The documentation is tested: every `scenario …` command shown in the
//! README, in `docs/*.md` and in the `--help` examples is run, and every
//! TOML snippet in them is checked, so an example can never rot.
//!
//! Commands run through `sh` in a sandbox folder that links the
//! repository's `scenarios/` and `templates/` and holds the run folders the
//! examples name (`results/quickstart/20260101T000000Z`, `base/`, `new/` …),
//! made from one real run. Its exit code and the start of its output are
//! checked. What is adapted, and why: a `run` of a scenario on the built-in
//! fake upstream gets small counts first (`load.requests=100`, a 5 ms
//! upstream; the example's own `--set`s come after and win), so a
//! minute-long sweep takes a second; a `run` of a gateway scenario is
//! checked as its `plan`, and a `provision` as its `doctor` (which resolves
//! the same venvs and says whether each is ready, without installing from
//! PyPI: the gateway tests provision and run the gateways themselves, with
//! the same `scenario provision`); `fake-upstream` listens on a port the OS
//! picks and is stopped once it says so; a pipe into `jq` is left out;
//! `/tmp/` is the sandbox's.
//!
//! A ```` ```toml ```` block is a scenario (or a part of one that stands
//! alone) and must pass `scenario validate`; a ```` ```toml profile=NAME ````
//! block is a part of the gateway profile `templates/gateways/NAME.toml`,
//! and each of its lines must be a line of that file; a ```` ```toml
//! file=NAME ```` block is another tool's file (`.taplo.toml`) and must be
//! TOML.

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{text, BIN};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Every documented command line, with where it was found.
fn documented() -> Vec<(String, String)> {
    let mut found = Vec::new();
    for file in pages() {
        let name = file.strip_prefix(ROOT).unwrap().display().to_string();
        let mut in_block = false;
        for (i, line) in std::fs::read_to_string(&file).unwrap().lines().enumerate() {
            if line.trim_start().starts_with("```") {
                in_block = !in_block;
                continue;
            }
            // Code blocks, and indented command lines between paragraphs.
            if !(in_block || line.starts_with("    ")) {
                continue;
            }
            if let Some(cmd) = command_of(line) {
                found.push((format!("{name}:{}", i + 1), cmd));
            }
        }
    }
    for sub in [
        "",
        "run",
        "validate",
        "plan",
        "doctor",
        "provision",
        "fake-upstream",
        "compare",
        "report",
        "history",
        "history import",
        "merge",
        "k8s",
    ] {
        let mut help = Command::new(BIN);
        help.args(sub.split_whitespace());
        let out = help.arg("--help").output().unwrap();
        for line in text(&out.stdout).lines() {
            if let Some(cmd) = command_of(line) {
                found.push((format!("scenario {sub} --help"), cmd));
            }
        }
    }
    found
}

/// The documentation pages: the README, then `docs/*.md`.
fn pages() -> Vec<PathBuf> {
    let mut files = vec![PathBuf::from(ROOT).join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(Path::new(ROOT).join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    files
}

/// A ```` ```toml ```` block of the documentation.
struct Snippet {
    /// `FILE:LINE` of its opening fence.
    at: String,
    /// `Some(NAME)` for a part of `templates/gateways/NAME.toml`
    /// (```` ```toml profile=NAME ````), `None` for a scenario.
    profile: Option<String>,
    /// `Some(NAME)` for another tool's file (```` ```toml file=NAME ````).
    file: Option<String>,
    text: String,
}

/// Every TOML block of the documentation pages.
fn snippets() -> Vec<Snippet> {
    let mut found = Vec::new();
    for file in pages() {
        let name = file.strip_prefix(ROOT).unwrap().display().to_string();
        let mut open: Option<Snippet> = None;
        let mut in_other = false;
        for (i, line) in std::fs::read_to_string(&file).unwrap().lines().enumerate() {
            let fence = line.trim_start().strip_prefix("```");
            match (fence, open.take()) {
                (Some(_), Some(done)) => found.push(done),
                (Some(_), None) if in_other => in_other = false,
                (Some(info), None) => {
                    let mut words = info.split_whitespace();
                    if words.next() == Some("toml") {
                        let words: Vec<&str> = words.collect();
                        let value = |key: &str| {
                            words
                                .iter()
                                .find_map(|w| w.strip_prefix(key).map(String::from))
                        };
                        open = Some(Snippet {
                            at: format!("{name}:{}", i + 1),
                            profile: value("profile="),
                            file: value("file="),
                            text: String::new(),
                        });
                    } else {
                        in_other = true;
                    }
                }
                (None, Some(mut s)) => {
                    s.text.push_str(line);
                    s.text.push('\n');
                    open = Some(s);
                }
                (None, None) => {}
            }
        }
    }
    found
}

/// Whether a snippet is what it says: a scenario `scenario validate`
/// accepts (written into `dir`, next to a link to the prompt pools), or
/// lines of the profile it names.
fn check_snippet(snippet: &Snippet, dir: &Path, n: usize) -> Result<(), String> {
    if let Some(name) = &snippet.file {
        return snippet
            .text
            .parse::<toml::Table>()
            .map(drop)
            .map_err(|e| format!("`{name}` is not TOML: {e}"));
    }
    if let Some(profile) = &snippet.profile {
        let path = Path::new(ROOT).join(format!("templates/gateways/{profile}.toml"));
        let file = std::fs::read_to_string(&path)
            .map_err(|e| format!("profile `{}`: {e}", path.display()))?;
        let lines: BTreeSet<&str> = file.lines().map(str::trim).collect();
        let missing: Vec<&str> = snippet
            .text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#') && !lines.contains(l))
            .collect();
        return if missing.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "not in templates/gateways/{profile}.toml: {missing:?}"
            ))
        };
    }
    let file = dir.join(format!("snippet-{n}.toml"));
    std::fs::write(&file, &snippet.text).unwrap();
    let out = Command::new(BIN)
        .arg("validate")
        .arg(&file)
        .current_dir(dir)
        .output()
        .unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`scenario validate` exit {:?}:\n{}{}",
            out.status.code(),
            text(&out.stdout),
            text(&out.stderr)
        ))
    }
}

/// The command on a documentation line, if it is one: `scenario …`,
/// `$ scenario …`, `VAR=x scenario …` or `cargo run --release -- …`,
/// without a trailing `# comment`.
fn command_of(line: &str) -> Option<String> {
    let line = line.trim().trim_start_matches("$ ");
    let line = line.split("  #").next().unwrap().trim();
    let line = match line.strip_prefix("cargo run --release -- ") {
        Some(rest) => format!("scenario {rest}"),
        None => line.to_string(),
    };
    let words: Vec<&str> = line.split_whitespace().collect();
    let at = words.iter().position(|w| *w == "scenario")?;
    let env_only = words[..at].iter().all(|w| w.contains('='));
    let sub = words.get(at + 1)?;
    (env_only && sub.chars().all(|c| c.is_ascii_lowercase() || c == '-')).then_some(line)
}

/// The sandbox: the repository's scenarios and templates, and the run
/// folders the examples name, made from one real (small) run.
fn sandbox(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("scenario-docs-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("tmp")).unwrap();
    for link in ["scenarios", "templates"] {
        std::os::unix::fs::symlink(Path::new(ROOT).join(link), dir.join(link)).unwrap();
    }
    let out = dir.join("seed");
    let run = Command::new(BIN)
        .args(["run", "scenarios/quickstart.toml", "--out"])
        .arg(&out)
        .args(small())
        .current_dir(&dir)
        .output()
        .unwrap();
    // Exit 1 is a verdict on this machine's speed; the report is what counts.
    assert!(
        matches!(run.status.code(), Some(0 | 1)),
        "{}{}",
        text(&run.stdout),
        text(&run.stderr)
    );
    let made = std::fs::read_dir(out.join("quickstart"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    for name in [
        "results/quickstart/20260101T000000Z",
        "results/quickstart/20260102T000000Z",
        "results/baseline",
        "base",
        "new",
    ] {
        std::fs::create_dir_all(dir.join(name)).unwrap();
        std::fs::copy(made.join("report.json"), dir.join(name).join("report.json")).unwrap();
    }
    dir
}

/// Small counts on a fast upstream, set before the example's own `--set`s.
fn small() -> [&'static str; 6] {
    [
        "--set",
        "load.requests=100",
        "--set",
        "load.warmup=10",
        "--set",
        "upstream.delay_ms=5",
    ]
}

fn has_gateway(file: &str) -> bool {
    std::fs::read_to_string(Path::new(ROOT).join(file))
        .is_ok_and(|t| t.lines().any(|l| l.trim_start().starts_with("gateway")))
        || std::fs::read_to_string(Path::new(ROOT).join(file)).is_ok_and(|t| {
            t.lines()
                .find(|l| l.starts_with("extends"))
                .and_then(|l| l.split('"').nth(1))
                .is_some_and(|base| {
                    has_gateway(
                        &Path::new(file)
                            .parent()
                            .unwrap()
                            .join(base)
                            .display()
                            .to_string(),
                    )
                })
        })
}

/// Shard results of `scenarios/sharded.toml` where the examples of
/// `scenario merge` look for them: `shard-0.log`, `shard-1.log`, both in
/// `sharded.log`, and the run folders under `results/shards/sharded/`.
fn shard_results(dir: &Path, target: &str) {
    let mut both = String::new();
    for i in 0..2 {
        let log = format!("shard-{i}.log");
        let run = Command::new(BIN)
            .args([
                "run",
                "scenarios/sharded.toml",
                "--quiet",
                "--out",
                "results/shards",
            ])
            .args(small())
            .args(["--set", &format!("topology.target={target}")])
            .args(["--shard", &format!("{i}/2"), "--shard-out", &log])
            .current_dir(dir)
            .output()
            .unwrap();
        assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
        both.push_str(&std::fs::read_to_string(dir.join(log)).unwrap());
    }
    std::fs::write(dir.join("sharded.log"), both).unwrap();
}

/// The shell line actually run for a documented command (see the module
/// doc); a shard's load goes to `target`, the sandbox's fake upstream.
fn adapt(cmd: &str, sandbox: &Path, target: &str) -> String {
    let mut words: Vec<String> = shlex::split(cmd).expect("a documented command splits");
    if let Some(pipe) = words.iter().position(|w| w == "|") {
        words.truncate(pipe);
    }
    let at = words.iter().position(|w| w == "scenario").unwrap();
    words[at] = BIN.to_string();
    let sub = words[at + 1].clone();
    if sub == "run" {
        let file = words[at + 2].clone();
        if has_gateway(&file) {
            words[at + 1] = "plan".into();
            words.retain(|w| w != "--quiet" && w != "-q");
        } else {
            let mut small: Vec<String> = small().iter().map(|s| s.to_string()).collect();
            if words.iter().any(|w| w == "--shard") {
                small.extend(["--set".into(), format!("topology.target={target}")]);
            }
            words.splice(at + 3..at + 3, small);
        }
    }
    for w in words.iter_mut() {
        if let Some(rest) = w.strip_prefix("/tmp/") {
            *w = sandbox.join("tmp").join(rest).display().to_string();
        }
        if let Some(rest) = w.strip_prefix("SCENARIO_CACHE_DIR=") {
            // The suite's own venv cache: provisioning is shared, not redone.
            let _ = rest;
            let cache = std::env::var("SCENARIO_CACHE_DIR").unwrap_or_else(|_| {
                format!(
                    "{}/.cache/scenario",
                    std::env::var("HOME").unwrap_or_default()
                )
            });
            *w = format!("SCENARIO_CACHE_DIR={cache}");
        }
    }
    if sub == "provision" {
        words[at + 1] = "doctor".into();
    }
    if sub == "fake-upstream" {
        if let Some(p) = words.iter().position(|w| w == "--port") {
            words[p + 1] = "0".into();
        }
    }
    // Globs (`scenarios/*.toml`) and redirections stay for the shell.
    words
        .iter()
        .map(|w| {
            if w.contains('*') || w == ">" || w.contains('=') && !w.contains(' ') {
                w.clone()
            } else {
                shlex::try_quote(w).unwrap().into_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// What the output of each subcommand starts with (stdout or stderr); any
/// start when stdout goes to a file.
fn expected_start(cmd: &str) -> &'static [&'static str] {
    let words: Vec<&str> = cmd.split_whitespace().collect();
    let sub = words[words.iter().position(|w| *w == "scenario").unwrap() + 1];
    let has = |flag: &str| words.contains(&flag);
    if has(">") {
        return &[""];
    }
    match sub {
        "run" if has("--json") => &["{"],
        "run" if has("--quiet") => &[""],
        // A gateway scenario's run is checked as its plan.
        "run" => &["running ", "warning: ", "Plan for", "=== variant"],
        "validate" => &["ok: "],
        "plan" if has("--json") => &["{"],
        "plan" => &["Plan for", "=== variant"],
        "doctor" => &["scenarios/"],
        // Checked as its `doctor` (see the module doc).
        "provision" => &["scenarios/"],
        "compare" if has("json") => &["{"],
        "compare" if has("--markdown") || has("md") => &["|", "#", "**"],
        "compare" => &["compare "],
        "report" if has("--out") => &[""],
        "report" => &["## ", "<!doctype", "step,", "{", "<?xml"],
        "fake-upstream" => &["listening on http://127.0.0.1:"],
        "merge" if has("--json") => &["{"],
        "merge" => &["merged "],
        "k8s" => &["# "],
        "history" if has("--out") => &[""],
        "history" if has("import") => &["imported "],
        "history" if has("json") => &["{"],
        "history" if has("md") => &["## "],
        "history" if has("csv") => &["started_at,"],
        "history" if has("html") => &["<!DOCTYPE"],
        "history" => &["history: "],
        _ => &[],
    }
}

/// The exit codes a command may end with: 0, or 1 where the command
/// judges a run: a comparison against a baseline (two small runs may
/// differ by more than the limits), or a run's (or merge's) assertions,
/// which are about speed (`min_rps`, `max_p50_ms`), and speed is the
/// machine's, shared with other builds. Either is a verdict, not a broken
/// example; bad input and run errors exit 2.
fn expected_codes(cmd: &str) -> &'static [i32] {
    let words: Vec<&str> = cmd.split_whitespace().collect();
    let sub = words
        .iter()
        .position(|w| *w == "scenario")
        .and_then(|at| words.get(at + 1));
    if cmd.contains("--baseline") || matches!(sub, Some(&"run" | &"merge")) {
        &[0, 1]
    } else {
        &[0]
    }
}

#[test]
fn every_documented_command_works_as_written() {
    let commands = documented();
    assert!(commands.len() >= 20, "found only {commands:#?}");
    let unique: BTreeSet<&str> = commands.iter().map(|(_, c)| c.as_str()).collect();
    let dir = sandbox("all");
    let upstream = common::Server::start(&["--delay-ms", "5"]);
    let target = format!("http://127.0.0.1:{}/v1/chat/completions", upstream.port);
    shard_results(&dir, &target);
    let mut broken = Vec::new();
    for cmd in unique {
        let where_ = &commands.iter().find(|(_, c)| c == cmd).unwrap().0;
        let line = adapt(cmd, &dir, &target);
        let starts = expected_start(cmd);
        let started = std::time::Instant::now();
        let (code, output) = if cmd.contains("fake-upstream") {
            serve_briefly(&line, &dir)
        } else {
            let out = sh(&line, &dir);
            // Progress and "running …" go to stderr; tables and data to
            // stdout: either may hold the expected start.
            let both = format!("{}\n---\n{}", text(&out.stdout), text(&out.stderr));
            (out.status.code(), both)
        };
        let ok_start = output.split("\n---\n").any(|part| {
            starts
                .iter()
                .any(|s| part.trim_start_matches('\n').starts_with(s))
        });
        // A `provision` checked as its `doctor` must have found the venvs.
        let ok_venvs = !cmd.contains(" provision ") || output.contains("\n  venv ");
        let codes = expected_codes(cmd);
        eprintln!("{:>6.1} s  {cmd}", started.elapsed().as_secs_f64());
        if !code.is_some_and(|c| codes.contains(&c)) || !ok_start || !ok_venvs {
            broken.push(format!(
                "{where_}: `{cmd}`\n  ran: {line}\n  exit {code:?}, expected {codes:?} and output starting with {starts:?}{}; got:\n{}",
                if cmd.contains(" provision ") { " listing each venv" } else { "" },
                output.chars().take(1500).collect::<String>()
            ));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    upstream.stop();
    assert!(
        broken.is_empty(),
        "{} broken:\n\n{}",
        broken.len(),
        broken.join("\n\n")
    );
}

/// Run a shell line in the sandbox to the end.
fn sh(line: &str, dir: &Path) -> std::process::Output {
    Command::new("sh")
        .arg("-c")
        .arg(line)
        .current_dir(dir)
        .output()
        .unwrap()
}

/// Start a server command, wait for its first line, stop it.
fn serve_briefly(line: &str, dir: &Path) -> (Option<i32>, String) {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("exec {line}"))
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut first = String::new();
        let _ = BufReader::new(stdout).read_line(&mut first);
        let _ = tx.send(first);
    });
    let first = rx.recv_timeout(Duration::from_secs(10)).unwrap_or_default();
    let _ = child.kill();
    let _ = child.wait();
    (Some(0).filter(|_| !first.is_empty()), first)
}

#[test]
fn every_documented_toml_snippet_is_valid() {
    let snippets = snippets();
    assert!(
        snippets.len() >= 10 && snippets.iter().filter(|s| s.profile.is_some()).count() >= 5,
        "found only {} snippets",
        snippets.len()
    );
    let dir = snippet_dir("snippets");
    let broken: Vec<String> = snippets
        .iter()
        .enumerate()
        .filter_map(|(n, s)| {
            check_snippet(s, &dir, n)
                .err()
                .map(|e| format!("{}:\n{}\n{e}", s.at, s.text))
        })
        .collect();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        broken.is_empty(),
        "{} broken:\n\n{}",
        broken.len(),
        broken.join("\n\n")
    );
}

/// A folder for snippets, where their relative paths (`prompts/…`)
/// resolve as they do from `scenarios/`.
fn snippet_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("scenario-docs-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::os::unix::fs::symlink(
        Path::new(ROOT).join("scenarios/prompts"),
        dir.join("prompts"),
    )
    .unwrap();
    dir
}

#[test]
fn a_broken_snippet_is_caught() {
    // The snippet checker itself can fail: a typo'd key, and a profile line
    // that is not in the profile.
    let dir = snippet_dir("broken-snippets");
    let scenario = Snippet {
        at: "here".into(),
        profile: None,
        file: None,
        text: "[load]\nconcurency = [1, 10]\n".into(),
    };
    let err = check_snippet(&scenario, &dir, 0).unwrap_err();
    assert!(err.contains("concurency"), "{err}");
    let profile = Snippet {
        at: "here".into(),
        profile: Some("llama-stack".into()),
        file: None,
        text: "[instance]\nready_path = \"/v1/healthz\"\n".into(),
    };
    let err = check_snippet(&profile, &dir, 1).unwrap_err();
    assert!(err.contains("/v1/healthz"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_broken_example_is_caught() {
    // The checker itself can fail: a command with a typo'd key exits 2.
    let dir = sandbox("broken");
    let line = adapt(
        "scenario run scenarios/quickstart.toml --set load.concurency=3",
        &dir,
        "",
    );
    let out = sh(&line, &dir);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}
