//! Profile keys that let a gateway profile do without workarounds (issue 14),
//! on a gateway written here as data: a shell that records its environment
//! and then becomes the fake upstream. The scenario and profile live in a
//! temp folder outside the checkout, as a user's would.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{files_under, report, run_folder, text, BIN};

/// A folder outside the checkout holding `files`.
fn folder(tag: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("scenario-profile-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for (name, content) in files {
        std::fs::write(dir.join(name), content).unwrap();
    }
    dir
}

/// `scenario ARGS` run in `dir`, with `env` added to its environment.
fn scenario_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .envs(env.iter().copied())
        .output()
        .expect("run scenario")
}

/// A profile whose instance writes its environment to `env-N.txt`, then
/// serves as the fake upstream; `extra` is added to `[instance]`.
fn probe_profile(extra: &str) -> String {
    format!(
        r#"name = "probe"
auth = ["basic", "bearer"]

[instance]
command = """/bin/sh -c 'env > {{{{ run_dir }}}}/env-{{{{ instance }}}}.txt; exec {BIN} fake-upstream --port {{{{ port }}}} --delay-ms 1'"""
ready_path = "/v1/models"
ready_timeout = "20s"
stop_timeout = "5s"
first_alone = false
{extra}

[request]
path = "/v1/chat/completions"
"#
    )
}

const SCENARIO: &str = r#"
[topology]
gateway = "probe.toml"

[upstream]
delay_ms = 1

[load]
concurrency = [2]
requests = 20
warmup = 0
"#;

/// issue 14: an exported DATABASE_URL made LiteLLM exit; `env_remove` keeps
/// it (and whatever else the profile names) away from the gateway, while
/// the rest of the caller's environment and the profile's `env` get through.
#[test]
fn env_remove_keeps_callers_variables_from_the_gateway() {
    let profile = probe_profile(
        "env_remove = [\"DATABASE_URL\", \"SET_TWICE\"]\nenv = { SET_TWICE = \"from-profile\" }",
    );
    let dir = folder("env", &[("probe.toml", &profile), ("s.toml", SCENARIO)]);
    let run = scenario_in(
        &dir,
        &["run", "s.toml", "--out", "out"],
        &[
            ("DATABASE_URL", "postgresql://leak"),
            ("SET_TWICE", "from-caller"),
            ("KEEP_ME", "yes"),
        ],
    );
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    let run_dir = run_folder(&dir.join("out"));
    let env = std::fs::read_to_string(run_dir.join("env-0.txt")).unwrap();
    assert!(!env.contains("DATABASE_URL"), "{env}");
    assert!(env.contains("KEEP_ME=yes"), "{env}");
    assert!(env.contains("SET_TWICE=from-profile"), "{env}");
    assert!(!env.contains("from-caller"), "{env}");
    // The plan says so.
    let r = report(&run_dir);
    let removed = &r["plan"]["services"][1]["env_remove"];
    assert_eq!(removed, &serde_json::json!(["DATABASE_URL", "SET_TWICE"]));
    let plan = scenario_in(&dir, &["plan", "s.toml"], &[]);
    assert!(
        text(&plan.stdout).contains("env -u DATABASE_URL"),
        "{}",
        text(&plan.stdout)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// issue 14: with `instances = 2` a scenario outside the checkout failed
/// with "templates/nginx.conf.j2 not found" while `validate` and `doctor`
/// said ok. The built-in templates (profile, nginx, prompt pool) make a
/// scenario file work from any folder; validate, doctor and run agree.
#[test]
fn a_scenario_copied_to_an_empty_folder_runs_two_instances_behind_nginx() {
    let file = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/nginx-passthrough.toml"),
    )
    .unwrap();
    let dir = folder("copied", &[("s.toml", &file)]);
    let sets = [
        "--set",
        "topology.instances=2",
        "--set",
        "load.concurrency=[4]",
        "--set",
        "load.requests=40",
        "--set",
        "topology.direct=false",
    ];
    for command in ["validate", "doctor"] {
        let mut args = vec![command, "s.toml"];
        args.extend(sets);
        let out = scenario_in(&dir, &args, &[]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{command}: {}",
            text(&out.stderr)
        );
    }
    let mut args = vec!["run", "s.toml", "--out", "out"];
    args.extend(sets);
    let run = scenario_in(&dir, &args, &[]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    let r = report(&run_folder(&dir.join("out")));
    assert_eq!(r["status"], "complete");
    let names = common::strings(&r["plan"]["services"], "name");
    assert_eq!(
        names,
        [
            "upstream",
            "nginx-passthrough-0",
            "nginx-passthrough-1",
            "nginx"
        ]
    );
    assert_eq!(r["steps"][0]["metrics"]["successes"], 40);
    // Nothing was written next to the scenario but the results.
    let mut left: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["out", "s.toml"]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A local file of the same name overrides the built-in one.
#[test]
fn a_local_template_overrides_the_built_in_one() {
    let scenario = "[request]\ntemplate = \"templates/requests/openai-chat.json.j2\"\n[load]\nrequests = 5\nconcurrency = [1]\n";
    let dir = folder("override", &[("s.toml", scenario)]);
    let builtin = scenario_in(&dir, &["plan", "s.toml"], &[]);
    assert_eq!(builtin.status.code(), Some(0), "{}", text(&builtin.stderr));
    assert!(
        text(&builtin.stdout).contains("builtin-"),
        "{}",
        text(&builtin.stdout)
    );
    std::fs::create_dir_all(dir.join("templates/requests")).unwrap();
    std::fs::write(
        dir.join("templates/requests/openai-chat.json.j2"),
        "{\"model\": \"local\", \"messages\": [{\"role\": \"user\", \"content\": {{ prompt | tojson }}}]}",
    )
    .unwrap();
    let local = scenario_in(&dir, &["plan", "s.toml"], &[]);
    assert_eq!(local.status.code(), Some(0), "{}", text(&local.stderr));
    let stdout = text(&local.stdout);
    assert!(!stdout.contains("builtin-"), "{stdout}");
    let local = dir.join("templates/requests/openai-chat.json.j2");
    assert!(stdout.contains(&local.display().to_string()), "{stdout}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The venv a plan names (`… -m venv PATH`).
fn venv_of(plan_stdout: &str) -> String {
    plan_stdout
        .lines()
        .find_map(|l| l.split(" -m venv ").nth(1))
        .unwrap_or_else(|| panic!("no venv in the plan:\n{plan_stdout}"))
        .trim()
        .to_string()
}

/// issue 14: `"-r requirements.txt"` as a requirement failed with a
/// misleading message, and the venv was keyed on the string. Requirement
/// files are hashed by content: editing one names a new venv.
#[test]
fn requirements_files_key_the_venv_by_content_and_pip_options_are_refused() {
    let profile = probe_profile("").replace(
        "[instance]",
        "[python]\nrequirements = [\"six\"]\nrequirements_files = [\"req.txt\"]\n\n[instance]",
    );
    let dir = folder(
        "reqs",
        &[
            ("probe.toml", &profile),
            ("s.toml", SCENARIO),
            ("req.txt", "idna==3.7\n"),
        ],
    );
    let first = scenario_in(&dir, &["plan", "s.toml"], &[]);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    let stdout = text(&first.stdout);
    assert!(stdout.contains(" -r "), "{stdout}");
    assert!(stdout.contains("req.txt"), "{stdout}");
    let again = venv_of(&text(&scenario_in(&dir, &["plan", "s.toml"], &[]).stdout));
    assert_eq!(venv_of(&stdout), again, "same content, same venv");
    std::fs::write(dir.join("req.txt"), "idna==3.8\n").unwrap();
    let edited = scenario_in(&dir, &["plan", "s.toml"], &[]);
    assert_ne!(
        venv_of(&text(&edited.stdout)),
        again,
        "edited file, new venv"
    );

    std::fs::remove_file(dir.join("req.txt")).unwrap();
    let missing = scenario_in(&dir, &["validate", "s.toml"], &[]);
    assert_eq!(missing.status.code(), Some(2));
    let err = text(&missing.stderr);
    assert!(
        err.contains("requirements file `req.txt` cannot be read"),
        "{err}"
    );

    let options = profile.replace(
        "requirements = [\"six\"]",
        "requirements = [\"-r req.txt\"]",
    );
    std::fs::write(dir.join("probe.toml"), options).unwrap();
    let out = scenario_in(&dir, &["validate", "s.toml"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("`-r req.txt` is a pip option"), "{err}");
    assert!(err.contains("requirements_files"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// nginx as a gateway that wants `Authorization: Bearer TOKEN` on every
/// path, its readiness probe included.
const GUARDED: &str = r#"name = "guarded"
auth = ["bearer"]

[[requires]]
binary = "nginx"
install = "apt-get install -y nginx"
dirs = ["/usr/sbin"]

[instance]
command = "{{ bin.nginx }} -p {{ run_dir }} -e {{ run_dir }}/guarded-{{ instance }}.log -c {{ files.conf }} -g 'daemon off;'"
ready_path = "/ready"
ready_headers = { Authorization = "Bearer {{ auth.token }}" }
ready_timeout = "20s"
stop_timeout = "5s"

[[files]]
name = "conf"
path = "guarded-{{ instance }}.conf"
per_instance = true
template = """
pid {{ run_dir }}/guarded-{{ instance }}.pid;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path {{ run_dir }}/guarded-tmp;
    proxy_temp_path {{ run_dir }}/guarded-tmp;
    server {
        listen 127.0.0.1:{{ port }};
        if ($http_authorization != "Bearer {{ auth.token }}") { return 401; }
        location = /ready { return 200 "ok"; }
        location / { proxy_pass {{ upstream.url }}; }
    }
}
"""

[request]
path = "/v1/chat/completions"
"#;

/// issue 14: bearer keys worked only through a hand-written header. With
/// `auth = { kind = "bearer", token }` the load, the readiness probe
/// (`ready_headers`) and the profile's files get the token, and no plan,
/// report or log shows it.
#[test]
fn bearer_auth_reaches_load_probe_and_templates_and_is_redacted() {
    let token = "sk-test-4f8a1c";
    let scenario = SCENARIO.replace("probe.toml", "guarded.toml").replace(
        "[upstream]",
        &format!("auth = {{ kind = \"bearer\", token = \"{token}\" }}\n\n[upstream]"),
    );
    let dir = folder(
        "bearer",
        &[("guarded.toml", GUARDED), ("s.toml", &scenario)],
    );
    let plan = scenario_in(&dir, &["plan", "s.toml"], &[]);
    let shown = text(&plan.stdout);
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan.stderr));
    assert!(
        shown.contains("authorization: Bearer <redacted>"),
        "{shown}"
    );
    assert!(!shown.contains(token), "{shown}");

    let run = scenario_in(&dir, &["run", "s.toml", "--out", "out"], &[]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    let run_dir = run_folder(&dir.join("out"));
    let r = report(&run_dir);
    assert_eq!(
        r["steps"][0]["metrics"]["successes"], 20,
        "every request carried the token"
    );
    // Nowhere in the run folder: reports, plan, logs; the rendered config
    // that held it is removed after the run.
    for entry in files_under(&run_dir, &[]) {
        let content = std::fs::read(&entry).unwrap();
        assert!(
            !String::from_utf8_lossy(&content).contains(token),
            "{} shows the token",
            entry.display()
        );
    }
    assert!(!text(&run.stderr).contains(token));
    assert!(!text(&run.stdout).contains(token));

    // Without ready_headers the probe gets 401s: the failure says so, once.
    let unprobed = GUARDED
        .replace(
            "ready_headers = { Authorization = \"Bearer {{ auth.token }}\" }\n",
            "",
        )
        .replace("ready_timeout = \"20s\"", "ready_timeout = \"3s\"");
    std::fs::write(dir.join("guarded.toml"), unprobed).unwrap();
    let run = scenario_in(&dir, &["run", "s.toml", "--out", "out2"], &[]);
    let err = text(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{err}");
    assert!(err.contains("last answer 401"), "{err}");
    assert_eq!(err.matches("was not ready within").count(), 1, "{err}");

    // A gateway that does not support the kind is bad input.
    let basic = GUARDED.replace("auth = [\"bearer\"]", "auth = [\"basic\"]");
    std::fs::write(dir.join("guarded.toml"), basic).unwrap();
    let out = scenario_in(&dir, &["validate", "s.toml"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("does not support `bearer` auth"),
        "{}",
        text(&out.stderr)
    );
    // A bearer auth with a password is bad input too.
    let wrong = scenario.replace(&format!("token = \"{token}\""), "password = \"x\"");
    std::fs::write(dir.join("s.toml"), wrong).unwrap();
    let out = scenario_in(&dir, &["validate", "s.toml"], &[]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("`bearer` auth needs `token`"), "{err}");
    assert!(err.contains("`bearer` auth has no `password`"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// issue 14: `validate` let a typo through when the template sat in a
/// branch this scenario does not take (a file written only with auth), and
/// `plan` said only `undefined value (in <string>:5)`. Every template is
/// rendered now, with stand-ins, and the error names the profile file and
/// line, the variable and what it could have been.
#[test]
fn validate_finds_a_typo_in_an_untaken_profile_template_and_points_at_it() {
    let profile = probe_profile("").replace("\"basic\", ", "").replace(
        "[request]",
        "[[files]]\nname = \"keys\"\npath = \"keys.txt\"\nwhen = \"auth\"\ntemplate = \"\"\"\nfirst line\nkey: {{ auth.tokn }}\n\"\"\"\n\n[request]",
    );
    let dir = folder("typo", &[("probe.toml", &profile), ("s.toml", SCENARIO)]);
    let line = profile
        .lines()
        .position(|l| l.contains("auth.tokn"))
        .unwrap()
        + 1;
    for command in ["validate", "plan"] {
        let out = scenario_in(&dir, &[command, "s.toml"], &[]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{command}: {err}");
        assert!(
            err.contains("`auth.tokn` is undefined in `files[0].template`"),
            "{err}"
        );
        assert!(err.contains(&format!("probe.toml:{line}:")), "{err}");
        assert!(err.contains("`auth` has: kind, token"), "{err}");
        assert!(err.contains("stand-in `bearer` auth"), "{err}");
        assert!(err.contains("variables it can use:"), "{err}");
    }
    // Fixed, it validates.
    std::fs::write(dir.join("probe.toml"), profile.replace("tokn", "token")).unwrap();
    let out = scenario_in(&dir, &["validate", "s.toml"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}

/// With `topology.auth`, a hand-written Authorization header would be sent
/// beside the one auth makes: bad input, named.
#[test]
fn an_authorization_header_beside_topology_auth_is_bad_input() {
    let scenario = SCENARIO.replace(
        "[upstream]",
        "auth = { kind = \"bearer\", token = \"sk-1\" }\n\n[request]\nheaders = { Authorization = \"Bearer sk-1\" }\n\n[upstream]",
    );
    let dir = folder(
        "twice",
        &[("probe.toml", &probe_profile("")), ("s.toml", &scenario)],
    );
    let out = scenario_in(&dir, &["validate", "s.toml"], &[]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("both say how to authenticate"), "{err}");
    assert!(err.contains("s.toml:8:"), "points at the header: {err}");
    let _ = std::fs::remove_dir_all(&dir);
}
