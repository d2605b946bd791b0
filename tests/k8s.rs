//! Issue 15: `scenario k8s` emits a manifest that validates offline against
//! the Kubernetes schemas for `v1` ConfigMap and `batch/v1` Job (the ones
//! PyPI's `kubernetes-validate` ships; the test makes its venv in the
//! scenario cache (`$SCENARIO_CACHE_DIR`, as the gateway venvs) once and
//! reuses it, so a cold cache in CI installs it), and whose
//! pods, run here as local processes from the manifest's own ConfigMap
//! files and container arguments, produce logs that `scenario merge` reads.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use common::{text, Server, BIN};
use serde_json::Value;

/// The validator's version: the one whose bundled schemas cover Kubernetes 1.37.
const KUBERNETES_VALIDATE: &str = "kubernetes-validate==1.37.0";

/// A venv with `kubernetes-validate` installed, made on first use.
fn venv() -> PathBuf {
    common::test_venv("kubernetes-validate-1.37.0", &[KUBERNETES_VALIDATE])
}

/// `kubernetes-validate --strict` (unknown fields are errors) on `file`.
fn validate(venv: &Path, file: &Path) -> Output {
    Command::new(venv.join("bin/kubernetes-validate"))
        .args(["--strict", "--kubernetes-version", "1.37.0"])
        .arg(file)
        .output()
        .unwrap()
}

/// The manifest's documents as JSON (PyYAML, installed with the validator).
fn documents(venv: &Path, file: &Path) -> Vec<Value> {
    let out = Command::new(venv.join("bin/python"))
        .args([
            "-c",
            "import json, sys, yaml; print(json.dumps([d for d in yaml.safe_load_all(open(sys.argv[1])) if d]))",
        ])
        .arg(file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn issue_15_k8s_manifest_validates_offline_and_its_pods_merge() {
    let venv = venv();
    let server = Server::start(&["--delay-ms", "2"]);
    let dir = std::env::temp_dir().join(format!("scenario-k8s-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("scenarios")).unwrap();
    std::fs::create_dir_all(dir.join("templates")).unwrap();
    // A scenario with files beside and above it: the layout must survive.
    std::fs::write(
        dir.join("scenarios/load.toml"),
        common::targeting("K8s Load", server.port)
            + r#"[request]
template = "../templates/body.json.j2"
[request.pool]
file = "prompts.jsonl"
[load]
concurrency = [5]
requests = 47
warmup = 5
"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("scenarios/prompts.jsonl"),
        "{\"prompt\": \"one\"}\n{\"prompt\": \"two\", \"max_tokens\": 3}\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("templates/body.json.j2"),
        "{\"model\": \"m\", \"messages\": [{\"role\": \"user\", \"content\": {{ prompt | tojson }}}]\
         {% if max_tokens is defined %}, \"max_tokens\": {{ max_tokens }}{% endif %}}\n",
    )
    .unwrap();
    let start = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3;
    let out = Command::new(BIN)
        .args([
            "k8s",
            "scenarios/load.toml",
            "--shards",
            "3",
            "--image",
            "scenario:test",
        ])
        .args(["--namespace", "bench", "--start-at", &start.to_string()])
        .args(["--set", "load.requests=48"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let manifest = text(&out.stdout);
    let how = text(&out.stderr);
    assert!(
        how.contains("kubectl logs -n bench -l job-name=scenario-k8s-load --tail=-1")
            && how.contains("scenario merge scenario-k8s-load.log"),
        "{how}"
    );
    let file = dir.join("manifest.yaml");
    std::fs::write(&file, &manifest).unwrap();

    let valid = validate(&venv, &file);
    let said = format!("{}{}", text(&valid.stdout), text(&valid.stderr));
    assert_eq!(valid.status.code(), Some(0), "{said}\n{manifest}");
    assert!(
        said.contains("passed for resource configmap/scenario-k8s-load")
            && said.contains("passed for resource job/scenario-k8s-load"),
        "{said}"
    );
    // The validator does fail a broken manifest: a count that is no number,
    // and (strict) a field Jobs do not have.
    for (from, to) in [
        ("completions: 3", "completions: \"three\""),
        ("completionMode:", "completionStyle:"),
    ] {
        assert!(manifest.contains(from), "{from}");
        let broken = dir.join("broken.yaml");
        std::fs::write(&broken, manifest.replace(from, to)).unwrap();
        let out = validate(&venv, &broken);
        assert_ne!(
            out.status.code(),
            Some(0),
            "{to} passed:\n{}",
            text(&out.stdout)
        );
    }

    let docs = documents(&venv, &file);
    let config = docs.iter().find(|d| d["kind"] == "ConfigMap").unwrap();
    let job = docs.iter().find(|d| d["kind"] == "Job").unwrap();
    assert_eq!(job["apiVersion"], "batch/v1");
    assert_eq!(job["metadata"]["namespace"], "bench");
    let spec = &job["spec"];
    assert_eq!(spec["completionMode"], "Indexed");
    assert_eq!(
        (&spec["completions"], &spec["parallelism"]),
        (&3.into(), &3.into())
    );
    let pod = &spec["template"]["spec"];
    let container = &pod["containers"][0];
    let mount = container["volumeMounts"][0]["mountPath"].as_str().unwrap();

    // "Run the pods" here: the ConfigMap's items where the volume puts them,
    // the container's arguments with the completion index filled in.
    let root = dir.join("pod");
    for item in pod["volumes"][0]["configMap"]["items"].as_array().unwrap() {
        let path = root.join(item["path"].as_str().unwrap());
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let data = config["data"][item["key"].as_str().unwrap()]
            .as_str()
            .unwrap();
        std::fs::write(path, data).unwrap();
    }
    assert_eq!(
        std::fs::read_to_string(root.join("scenarios/prompts.jsonl")).unwrap(),
        std::fs::read_to_string(dir.join("scenarios/prompts.jsonl")).unwrap()
    );
    assert!(root.join("templates/body.json.j2").is_file());
    assert_eq!(container["command"][0], "scenario");
    let pods: Vec<_> = (0..3)
        .map(|i| {
            let args: Vec<String> = container["args"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| {
                    let a = a.as_str().unwrap();
                    let a = a.replace("$(JOB_COMPLETION_INDEX)", &i.to_string());
                    match a.strip_prefix(mount) {
                        Some(rest) => format!("{}{rest}", root.display()),
                        None if a == "/tmp/results" => dir.join("results").display().to_string(),
                        None => a,
                    }
                })
                .collect();
            Command::new(BIN)
                .args(&args)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut logs = String::new();
    for p in pods {
        let out = p.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        logs.push_str(&text(&out.stdout));
    }
    std::fs::write(dir.join("scenario-k8s-load.log"), logs).unwrap();
    let merged = Command::new(BIN)
        .args([
            "merge",
            "scenario-k8s-load.log",
            "--out",
            "merged",
            "--quiet",
        ])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert_eq!(merged.status.code(), Some(0), "{}", text(&merged.stderr));
    let r = common::report(&dir.join("merged"));
    // The `--set` reached every pod: 48 requests, not the file's 47.
    assert_eq!(r["steps"][0]["metrics"]["requests"], 48);
    assert_eq!(r["steps"][0]["metrics"]["successes"], 48);
    server.stop();
}
