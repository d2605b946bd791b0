//! `scenario k8s`: the Kubernetes manifest of a sharded run — a ConfigMap
//! holding the scenario and every file it reads, and an Indexed Job whose
//! pod `I` runs `scenario run --shard I/N` (`I` from
//! `JOB_COMPLETION_INDEX`) and prints its shard result to its log, for
//! `scenario merge` to read from the collected logs.
//!
//! The manifest is YAML written from JSON values by [`yaml`]: mappings and
//! sequences in block style, multi-line text as literal blocks, every other
//! string double-quoted (JSON escapes are valid YAML escapes).

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Why no manifest can be written: each names the file at fault or the fix.
#[derive(Debug, thiserror::Error)]
pub enum K8sError {
    /// The scenario does not load (`problems`: its rendered diagnostics).
    #[error("{} does not load:\n{problems}", path.display())]
    DoesNotLoad { path: PathBuf, problems: String },
    #[error("cannot find {}: {source}", path.display())]
    NotFound {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Loading read no file at all (never, when the scenario loads).
    #[error("no scenario file")]
    NoScenarioFile,
    /// The files are on different roots (only when `/` is not shared).
    #[error("the scenario's files share no folder")]
    NoCommonFolder,
    #[error(
        "the scenario's files are {size} bytes, more than the 1 MiB a ConfigMap holds: \
         shrink the prompt pool, or build an image that holds them"
    )]
    TooBig { size: usize },
}

/// Default time from printing the manifest to the pods' start of
/// measurement: room to apply it, pull the image and schedule the pods.
pub const START_DELAY: Duration = Duration::from_secs(120);

/// [`START_DELAY`] from now, in whole seconds.
pub fn default_start() -> SystemTime {
    let at = SystemTime::now() + START_DELAY;
    let secs = at
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    std::time::UNIX_EPOCH + Duration::from_secs(secs)
}

/// Where the pods see the ConfigMap's files.
const MOUNT: &str = "/scenario";

/// A ConfigMap holds at most 1 MiB.
const CONFIGMAP_LIMIT: usize = 1 << 20;

/// A sharded run as Kubernetes objects.
#[derive(Debug, Clone)]
pub struct Job {
    pub name: String,
    pub namespace: Option<String>,
    pub image: String,
    pub shards: u32,
    pub start_at: SystemTime,
    pub step_every: Option<Duration>,
    /// `--set` overrides, passed on to every pod.
    pub sets: Vec<String>,
    /// The scenario first, then every file it reads, relative to the
    /// folder they share (their layout is kept under [`MOUNT`]).
    pub files: Vec<(PathBuf, String)>,
}

/// A DNS-1123 name for the Job of scenario `name`: `scenario-<name>`,
/// lower-case, at most 52 characters (pod names add a suffix).
pub fn name_for(name: &str) -> String {
    let mut out = String::from("scenario-");
    for c in name.chars() {
        match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9') => out.push(c),
            _ if !out.ends_with('-') => out.push('-'),
            _ => {}
        }
    }
    out.truncate(52);
    out.trim_end_matches('-').to_string()
}

/// The scenario at `path` and every file reading it takes, relative to
/// the deepest folder holding them all; the scenario comes first.
pub fn files_of(path: &Path, sets: &[String]) -> Result<Vec<(PathBuf, String)>, K8sError> {
    let (_, read) =
        crate::scenario::load_reading(path, sets).map_err(|d| K8sError::DoesNotLoad {
            path: path.to_path_buf(),
            problems: d.render(false),
        })?;
    let absolute: Vec<PathBuf> = read
        .iter()
        .map(|p| {
            p.canonicalize().map_err(|source| K8sError::NotFound {
                path: p.clone(),
                source,
            })
        })
        .collect::<Result<_, _>>()?;
    let mut root = absolute
        .first()
        .and_then(|p| p.parent())
        .ok_or(K8sError::NoScenarioFile)?
        .to_path_buf();
    while !absolute.iter().all(|p| p.starts_with(&root)) {
        if !root.pop() {
            return Err(K8sError::NoCommonFolder);
        }
    }
    absolute
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p).map_err(|source| K8sError::Read {
                path: p.clone(),
                source,
            })?;
            let rel = p.strip_prefix(&root).expect("under the root").to_path_buf();
            Ok((rel, text))
        })
        .collect()
}

/// `scenario k8s FILE --shards N --image IMAGE`: the manifest on stdout,
/// how to collect and merge on stderr.
pub fn command(args: &crate::cli::K8sArgs) -> crate::report::Outcome {
    use crate::report::Outcome;
    let Some(job) = job_of(args) else {
        return Outcome::Error;
    };
    match job.manifest() {
        Ok(manifest) => {
            out!("{manifest}");
            err!("{}", job.instructions());
            Outcome::Pass
        }
        Err(e) => {
            errln!("error: {e}");
            Outcome::Error
        }
    }
}

/// The Job `args` describe, checked as shard 0's `run` would check it; `None`
/// after printing why not.
fn job_of(args: &crate::cli::K8sArgs) -> Option<Job> {
    use crate::plan::command::{check_sharding, gather, make_plan};
    let all = crate::scenario::command::load_or_explain(&args.file, &args.scenario.set)?;
    let start_at = match args
        .start_at
        .as_deref()
        .map(crate::plan::shard::parse_start_at)
    {
        Some(Err(e)) => {
            errln!("error: --start-at {e}");
            return None;
        }
        Some(Ok(t)) => t,
        None => default_start(),
    };
    let facts = gather(&all)?;
    let plan = make_plan(&all[0], &facts[0])?;
    if args.shards == 0 {
        errln!("error: --shards must be at least 1");
        return None;
    }
    let every = args.step_every.map(Into::into);
    // Every pod's plan is refused for the same reasons as shard 0's.
    let shard = crate::plan::shard::Shard {
        index: 0,
        count: args.shards,
    };
    check_sharding(&all[0], &plan, Some(shard), true, every)?;
    let files = files_of(&args.file, &args.scenario.set)
        .map_err(|e| errln!("error: {e}"))
        .ok()?;
    Some(Job {
        name: args.name.clone().unwrap_or_else(|| name_for(&all[0].name)),
        namespace: args.namespace.clone(),
        image: args.image.clone(),
        shards: args.shards,
        start_at,
        step_every: every,
        sets: args.scenario.set.clone(),
        files,
    })
}

impl Job {
    fn rfc3339(&self) -> String {
        OffsetDateTime::from(self.start_at)
            .format(&Rfc3339)
            .unwrap_or_default()
    }

    fn metadata(&self) -> Value {
        let mut m = serde_json::Map::new();
        m.insert("name".into(), json!(self.name));
        if let Some(ns) = &self.namespace {
            m.insert("namespace".into(), json!(ns));
        }
        m.insert("labels".into(), self.labels());
        Value::Object(m)
    }

    fn labels(&self) -> Value {
        json!({ "app.kubernetes.io/name": "scenario", "app.kubernetes.io/instance": self.name })
    }

    /// ConfigMap keys may not hold `/`: file `k` is `fK-<its name>`.
    fn key(k: usize, path: &Path) -> String {
        let base: String = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-._".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        format!("f{k}-{base}")
    }

    pub fn config_map(&self) -> Result<Value, K8sError> {
        let size: usize = self.files.iter().map(|(_, t)| t.len()).sum();
        if size > CONFIGMAP_LIMIT {
            return Err(K8sError::TooBig { size });
        }
        let data: serde_json::Map<String, Value> = self
            .files
            .iter()
            .enumerate()
            .map(|(k, (path, text))| (Self::key(k, path), json!(text)))
            .collect();
        Ok(json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": self.metadata(),
            "data": data,
        }))
    }

    /// The arguments of pod `$(JOB_COMPLETION_INDEX)`'s `scenario`.
    fn args(&self) -> Vec<String> {
        let scenario = Path::new(MOUNT).join(&self.files[0].0);
        let mut args = vec![
            "run".to_string(),
            scenario.display().to_string(),
            "--shard".into(),
            format!("$(JOB_COMPLETION_INDEX)/{}", self.shards),
            "--start-at".into(),
            self.rfc3339(),
            "--shard-out".into(),
            "-".into(),
            "--quiet".into(),
            "--no-history".into(),
            "--out".into(),
            "/tmp/results".into(),
        ];
        if let Some(every) = self.step_every {
            args.push("--step-every".into());
            args.push(humantime::format_duration(every).to_string());
        }
        for set in &self.sets {
            args.push("--set".into());
            args.push(set.clone());
        }
        args
    }

    pub fn job(&self) -> Value {
        let items: Vec<Value> = self
            .files
            .iter()
            .enumerate()
            .map(|(k, (path, _))| json!({ "key": Self::key(k, path), "path": path.display().to_string() }))
            .collect();
        let labels = self.labels();
        json!({
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": self.metadata(),
            "spec": {
                "completionMode": "Indexed",
                "completions": self.shards,
                "parallelism": self.shards,
                // A retried pod would start late and measure alone: fail instead.
                "backoffLimit": 0,
                "template": {
                    "metadata": { "labels": labels },
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [{
                            "name": "scenario",
                            "image": self.image,
                            "command": ["scenario"],
                            "args": self.args(),
                            "env": [{
                                "name": "JOB_COMPLETION_INDEX",
                                "valueFrom": { "fieldRef": {
                                    "fieldPath": "metadata.annotations['batch.kubernetes.io/job-completion-index']"
                                }}
                            }],
                            "volumeMounts": [{ "name": "scenario", "mountPath": MOUNT, "readOnly": true }],
                        }],
                        "volumes": [{
                            "name": "scenario",
                            "configMap": { "name": self.name, "items": items },
                        }],
                    }
                }
            }
        })
    }

    /// How to start, collect and merge, as shell commands.
    pub fn instructions(&self) -> String {
        let ns = self
            .namespace
            .as_ref()
            .map(|n| format!(" -n {n}"))
            .unwrap_or_default();
        let name = &self.name;
        format!(
            "# {n} pods start measuring at {at}. Save this manifest as {name}.yaml, then\n\
             # apply it, wait, collect the shards' results from the logs and merge them:\n\
             #   kubectl apply{ns} -f {name}.yaml\n\
             #   kubectl wait{ns} --for=condition=complete job/{name} --timeout=1h\n\
             #   kubectl logs{ns} -l job-name={name} --tail=-1 --max-log-requests={n} > {name}.log\n\
             #   scenario merge {name}.log --out results/{name}\n\
             #   kubectl delete{ns} job/{name} configmap/{name}\n",
            n = self.shards,
            at = self.rfc3339(),
        )
    }

    /// The whole manifest: instructions as comments, the ConfigMap, the Job.
    pub fn manifest(&self) -> Result<String, K8sError> {
        Ok(format!(
            "{}---\n{}---\n{}",
            self.instructions(),
            yaml(&self.config_map()?),
            yaml(&self.job())
        ))
    }
}

/// `value` as a YAML block document.
pub fn yaml(value: &Value) -> String {
    let mut out = String::new();
    block(value, 0, &mut out);
    out
}

fn block(value: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                out.push_str(&format!("{pad}{}:", scalar_key(k)));
                nested(v, indent, out);
            }
        }
        Value::Array(items) => {
            for v in items {
                out.push_str(&format!("{pad}-"));
                match v {
                    // A mapping in a list: its first key on the dash's line.
                    Value::Object(m) if !m.is_empty() => {
                        let mut inner = String::new();
                        block(v, indent + 2, &mut inner);
                        out.push(' ');
                        out.push_str(&inner[indent + 2..]);
                    }
                    _ => nested(v, indent, out),
                }
            }
        }
        other => out.push_str(&format!("{pad}{}\n", scalar(other, indent))),
    }
}

/// After `key:` or `-`: a scalar on the same line, a collection below.
fn nested(v: &Value, indent: usize, out: &mut String) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            block(v, indent + 2, out);
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            block(v, indent + 2, out);
        }
        Value::Object(_) => out.push_str(" {}\n"),
        Value::Array(_) => out.push_str(" []\n"),
        other => out.push_str(&format!(" {}\n", scalar(other, indent))),
    }
}

fn scalar_key(k: &str) -> String {
    if !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
    {
        k.to_string()
    } else {
        Value::from(k).to_string()
    }
}

/// A scalar: multi-line text as a literal block (indented under `indent`),
/// everything else in JSON form (a valid YAML flow scalar).
fn scalar(v: &Value, indent: usize) -> String {
    let Value::String(s) = v else {
        return v.to_string();
    };
    let literal = s.contains('\n')
        && !s.contains('\r')
        && !s.starts_with([' ', '\n'])
        && s.lines().all(|l| l == l.trim_end() && !l.contains('\t'))
        && s.chars().all(|c| !c.is_control() || c == '\n');
    if !literal {
        return v.to_string();
    }
    let body = s.trim_end_matches('\n');
    let chomp = match s.len() - body.len() {
        0 => "-",
        1 => "",
        _ => "+",
    };
    let pad = " ".repeat(indent + 2);
    let mut out = format!("|{chomp}");
    for line in s.strip_suffix('\n').unwrap_or(s).split('\n') {
        out.push('\n');
        if !line.is_empty() {
            out.push_str(&pad);
            out.push_str(line);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_dns_labels() {
        assert_eq!(name_for("My Load · test_1"), "scenario-my-load-test-1");
        assert!(name_for(&"x".repeat(100)).len() <= 52);
    }

    #[test]
    fn yaml_blocks_lists_and_literal_text() {
        let v = json!({
            "a": { "b": [1, "two"], "c": [] },
            "list": [{ "k": "v", "n": { "m": true } }, "s"],
            "text": "line 1\n  line 2\n",
            "odd key": "quote: \"me\"",
        });
        assert_eq!(
            yaml(&v),
            "a:\n  b:\n    - 1\n    - \"two\"\n  c: []\nlist:\n  - k: \"v\"\n    n:\n      m: true\n  - \"s\"\n\
             text: |\n  line 1\n    line 2\n\"odd key\": \"quote: \\\"me\\\"\"\n"
        );
    }
}
