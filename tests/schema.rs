//! The JSON Schemas editors use (`schema/*.schema.json`, printed by
//! `scenario schema`): the committed copies are current, every shipped
//! scenario and profile validates against them under a real validator
//! (check-jsonschema from PyPI), the validator rejects what the tool
//! rejects, and every key the schemas know is documented.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{text, BIN};
use serde_json::Value;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The validator, pinned so a new release cannot change the verdicts.
const VALIDATOR: &str = "check-jsonschema==0.39.0";

/// The TOML toolkit inside Even Better TOML (VS Code), as a CLI.
const TAPLO: &str = "taplo==0.9.3";

/// `scenario schema KIND`'s output.
fn printed(kind: &str) -> String {
    let out = Command::new(BIN).args(["schema", kind]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    text(&out.stdout)
}

fn committed(kind: &str) -> PathBuf {
    Path::new(ROOT).join(format!("schema/{kind}.schema.json"))
}

/// check-jsonschema against the committed schema of `kind`, on `files`.
fn validate(kind: &str, files: &[PathBuf]) -> Output {
    let venv = common::test_venv("check-jsonschema", &[VALIDATOR]);
    Command::new(venv.join("bin/check-jsonschema"))
        .arg("--schemafile")
        .arg(committed(kind))
        .args(files)
        .output()
        .unwrap()
}

/// `*.toml` under `dir`, in subfolders too.
fn tomls(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(tomls(&path));
        } else if path.extension().is_some_and(|e| e == "toml") {
            found.push(path);
        }
    }
    found.sort();
    found
}

/// The shipped files of each kind.
fn shipped() -> [(&'static str, Vec<PathBuf>); 2] {
    [
        ("scenario", tomls(&Path::new(ROOT).join("scenarios"))),
        (
            "profile",
            tomls(&Path::new(ROOT).join("templates/gateways")),
        ),
    ]
}

#[test]
fn committed_schemas_are_what_scenario_schema_prints() {
    for kind in ["scenario", "profile"] {
        let file = committed(kind);
        let on_disk = std::fs::read_to_string(&file).unwrap_or_default();
        assert!(
            on_disk == printed(kind),
            "{} is not what `scenario schema {kind}` prints (a model key or doc comment \
             changed); regenerate it with:\n  cargo run -- schema {kind} > schema/{kind}.schema.json",
            file.display()
        );
    }
    // No argument: the scenario schema.
    let out = Command::new(BIN).arg("schema").output().unwrap();
    assert_eq!(text(&out.stdout), printed("scenario"));
}

/// Every shipped file names its schema on its first line (taplo's
/// directive, a TOML comment the tool skips), validates against it, and
/// still passes `scenario validate`.
#[test]
fn every_shipped_file_names_and_meets_its_schema() {
    for (kind, files) in shipped() {
        assert!(files.len() >= 5, "{kind}: only {files:?}");
        for file in &files {
            let content = std::fs::read_to_string(file).unwrap();
            let first = content.lines().next().unwrap_or_default();
            let target = first.strip_prefix("#:schema ").unwrap_or_else(|| {
                panic!(
                    "{} must start with `#:schema <relative path to schema/{kind}.schema.json>` \
                     (editors read it); it starts with `{first}`",
                    file.display()
                )
            });
            let named = file.parent().unwrap().join(target);
            assert_eq!(
                named.canonicalize().ok(),
                committed(kind).canonicalize().ok(),
                "{}: `{first}` does not lead to schema/{kind}.schema.json",
                file.display()
            );
        }
        let out = validate(kind, &files);
        let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert!(
            out.status.success() && said.contains("ok -- validation done"),
            "shipped {kind} files do not meet schema/{kind}.schema.json:\n{said}"
        );
    }
    // What an editor does: taplo finds each file's schema through its
    // `#:schema` line alone, and the files meet it.
    let all: Vec<PathBuf> = shipped().into_iter().flat_map(|(_, f)| f).collect();
    let venv = common::test_venv("taplo", &[TAPLO]);
    let out = Command::new(venv.join("bin/taplo"))
        .args(["lint", "--no-auto-config", "--colors", "never"])
        .args(&all)
        .output()
        .unwrap();
    let said = text(&out.stderr);
    assert!(
        out.status.success() && said.contains(&format!("total={}", all.len())),
        "taplo lint (the editor's engine) refused shipped files:\n{said}"
    );
    // The directive is a comment to the tool: every runnable scenario still checks.
    let runnable: Vec<PathBuf> = shipped()[0]
        .1
        .iter()
        .filter(|f| !f.to_string_lossy().contains("/bases/"))
        .cloned()
        .collect();
    let out = Command::new(BIN)
        .arg("validate")
        .args(&runnable)
        .current_dir(ROOT)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).matches("ok: ").count(), runnable.len());
}

/// Write `files` into a fresh folder.
fn folder(tag: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("scenario-schema-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for (name, content) in files {
        std::fs::write(dir.join(name), content).unwrap();
    }
    dir
}

/// The validator and the tool agree: keys the tool reads through custom
/// code (durations, CPU lists, `arrival`, worker lists, `extends`,
/// `[variants]`, the `[assert.rate.N]` alias) pass both; an unknown key, a
/// bad duration or a bad value fails both, the validator naming it.
#[test]
fn the_validator_accepts_and_rejects_what_the_tool_does() {
    let good = r#"extends = "base.toml"
[scenario]
name = "schema-good"
[topology]
gateway = "nginx-passthrough"
instances = [1, 2]
quiet_period = "1s"
cpus = { gateway = "1", harness = "0" }
[upstream]
delay = { kind = "lognormal", p50_ms = 5, p99_ms = 40 }
faults = { status_429 = 0.01 }
[request]
timeout = "2s"
[load]
rate = [5, 10]
arrival = { kind = "gamma", cv = 2.0 }
duration = "1m 30s"
[assert]
max_error_rate = 0.5
[assert.rate.10]
min_rps = 1
[variants.slow.upstream]
delay_ms = 100
"#;
    let base = "[report]\nformats = [\"json\"]\n";
    let bad: &[(&str, &str, &str)] = &[
        ("typo", "[load]\nconcurency = [1]\n", "concurency"),
        (
            "variant-typo",
            "[variants.a.topology]\nnginxx = true\n",
            "nginxx",
        ),
        ("duration", "[load]\nduration = \"thirty\"\n", "thirty"),
        (
            "arrival",
            "[load]\nrate = [5]\narrival = \"bursty\"\n",
            "bursty",
        ),
        ("top-level", "[loads]\nrequests = 5\n", "loads"),
    ];
    let mut files = vec![("good.toml", good), ("base.toml", base)];
    let names: Vec<String> = bad.iter().map(|(n, ..)| format!("{n}.toml")).collect();
    files.extend(
        names
            .iter()
            .map(String::as_str)
            .zip(bad.iter().map(|b| b.1)),
    );
    let dir = folder("agree", &files);

    let out = validate("scenario", &[dir.join("good.toml")]);
    assert!(
        out.status.success(),
        "the validator refused a good file:\n{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let tool = Command::new(BIN)
        .args(["validate", "good.toml"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert_eq!(tool.status.code(), Some(0), "{}", text(&tool.stderr));

    for ((_, _, culprit), name) in bad.iter().zip(&names) {
        let out = validate("scenario", &[dir.join(name)]);
        let said = text(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{name}: {said}{}",
            text(&out.stderr)
        );
        assert!(said.contains(culprit), "{name}: {said}");
        let tool = Command::new(BIN)
            .args(["validate", name])
            .current_dir(&dir)
            .output()
            .unwrap();
        assert_eq!(tool.status.code(), Some(2), "the tool took {name}");
    }

    // A profile with a misspelt key.
    let profile = "name = \"p\"\n[instance]\ncomand = \"x\"\n";
    let dir = folder("profile", &[("p.toml", profile)]);
    let out = validate("profile", &[dir.join("p.toml")]);
    let said = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("comand"), "{said}");
}

/// Every key path a schema defines, by key name: `upstream.faults.hang`
/// under `hang`. Definitions are entered once (`Thresholds` holds itself).
fn key_paths(schema: &Value) -> BTreeMap<String, String> {
    fn walk(
        node: &Value,
        path: &str,
        root: &Value,
        seen: &mut BTreeSet<String>,
        out: &mut BTreeMap<String, String>,
    ) {
        let Some(map) = node.as_object() else { return };
        if let Some(Value::String(r)) = map.get("$ref") {
            let name = r.trim_start_matches("#/definitions/").to_string();
            if seen.insert(name.clone()) {
                walk(&root["definitions"][&name], path, root, seen, out);
            }
        }
        for combo in ["allOf", "anyOf", "oneOf"] {
            for sub in map
                .get(combo)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                walk(sub, path, root, seen, out);
            }
        }
        for (key, sub) in map
            .get("properties")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let here = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            out.entry(key.clone()).or_insert_with(|| here.clone());
            walk(sub, &here, root, seen, out);
        }
        if let Some(sub @ Value::Object(_)) = map.get("additionalProperties") {
            walk(sub, &format!("{path}.NAME"), root, seen, out);
        }
        if let Some(items) = map.get("items") {
            walk(items, path, root, seen, out);
        }
    }
    let mut out = BTreeMap::new();
    walk(schema, "", schema, &mut BTreeSet::new(), &mut out);
    out
}

/// The words inside inline code spans (`…`) of README.md and docs/*.md.
fn documented_words() -> BTreeSet<String> {
    let mut pages = vec![Path::new(ROOT).join("README.md")];
    pages.extend(
        std::fs::read_dir(Path::new(ROOT).join("docs"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "md")),
    );
    let mut words = BTreeSet::new();
    for page in pages {
        let mut fenced = false;
        for line in std::fs::read_to_string(&page).unwrap().lines() {
            if line.trim_start().starts_with("```") {
                fenced = !fenced;
                continue;
            }
            if fenced {
                continue;
            }
            for span in line.split('`').skip(1).step_by(2) {
                words.extend(
                    span.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
                        .filter(|w| !w.is_empty())
                        .map(String::from),
                );
            }
        }
    }
    words
}

/// Every key an editor offers is documented: each key name of both schemas
/// appears in inline code (`key`, `[table]`, `{ key = … }`) in README.md or
/// docs/*.md.
#[test]
fn every_schema_key_is_documented() {
    let words = documented_words();
    let mut missing = Vec::new();
    for kind in ["scenario", "profile"] {
        let schema: Value = serde_json::from_str(&printed(kind)).unwrap();
        let paths = key_paths(&schema);
        assert!(paths.len() > 20, "{kind}: only {paths:?}");
        for (key, path) in paths {
            if !words.contains(&key) {
                missing.push(format!("  `{key}` ({kind} key `{path}`)"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "keys the schemas define but no page documents; add each, in backticks, to the page \
         for its table (README.md, or docs/*.md: docs/fake-upstream.md for [upstream], \
         docs/capacity.md for search/slo/frontier):\n{}",
        missing.join("\n")
    );
}
