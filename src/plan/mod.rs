//! The interpreter: a checked scenario becomes one immutable [`Plan`] — what
//! starts, in which order, on which ports, then every load step and check.
//!
//! `scenario plan` prints exactly the plan that `scenario run` executes.

pub mod capacity;
mod check;
pub mod command;
mod facts;
mod gateway;
pub mod level;
pub mod ramp;
mod render;
mod secret;
mod service;
pub mod shard;
mod step;
mod stock;
mod target;
mod text;
mod untaken;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::diag::Diagnostics;
use crate::scenario::model::{duration, UPSTREAM_PATH};
use crate::scenario::Scenario;

pub use capacity::{Capacity, SearchPlan};
use check::checks;
pub use check::Check;
pub use facts::{cache_dir, Facts};
pub use level::{Level, LevelKind};
pub use ramp::{Ramp, RampCursor, RampStage};
pub use secret::{hide, redact, redact_secrets};
use service::{metrics_sources, upstream};
pub use service::{PlannedFile, Provision, ReadyCheck, Service, SetupStep, Wave};
use step::{levels, steps};
pub use step::{stop_rule, Open, Step, Stop};
use target::{gateway_target, request_headers, target};
pub use target::{Selection, Target};

/// Everything a run does, decided before anything starts.
///
/// Its JSON (secrets redacted) is what `scenario plan --json` prints and
/// what a report keeps (see [`Plan::shown`]); read back, what a plan never
/// shows (file contents, rendered bodies, secrets, the template context)
/// is empty.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Plan {
    pub scenario: String,
    pub description: Option<String>,
    pub file: PathBuf,
    /// Where files, data, logs and reports of this run go.
    pub run_dir: PathBuf,
    /// A Python environment to create before anything starts (cached).
    pub provision: Option<Provision>,
    /// Files written into the run folder before the services start.
    pub files: Vec<PlannedFile>,
    /// Services in start order (a wave starts together); torn down in reverse.
    pub services: Vec<Service>,
    /// HTTP calls made once every service is ready.
    pub setup: Vec<SetupStep>,
    pub target: Target,
    /// The same requests straight to the fake upstream, run after each step
    /// (`topology.direct`), to show what the gateway adds.
    pub baseline: Option<Target>,
    pub steps: Vec<Step>,
    pub checks: Vec<Check>,
    /// The capacity frontier, `[load] search` and the goodput SLO.
    pub capacity: Capacity,
    /// Report formats written besides `report.json`.
    pub formats: Vec<crate::report::Format>,
    /// `topology.cpus`: the CPUs of the gateway's side and of the harness.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<crate::topology::cpus::Pinning>,
    /// `topology.quiet_period`: the wait, after the last step, before the
    /// services' recovered RSS is sampled.
    #[serde(
        default,
        with = "duration::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub quiet_period: Option<Duration>,
    /// Prometheus endpoints scraped during steps (the profile's
    /// `metrics_path` on each instance), and the series kept.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<crate::topology::scrape::Source>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics_series: Vec<String>,
    /// Values never shown: passwords, keys. Replaced by `<redacted>`.
    #[serde(skip)]
    pub secrets: Vec<String>,
    /// What setup templates see (with `captured` added as calls answer):
    /// free-form JSON, since a gateway profile's templates may read any key
    /// of it; never shown (it holds secrets), so a report's plan lacks it.
    #[serde(skip)]
    pub context: serde_json::Value,
}

/// Errors that stop a plan from being made (nothing started yet).
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// A problem in an input file (a gateway profile), located in it.
    #[error("{}", .0.render(false).trim_end())]
    Input(Diagnostics),
    /// A template outside the scenario's files (a stock one, or a profile's
    /// read without its text) did not render.
    #[error("{path}: {message}")]
    Template { path: PathBuf, message: String },
    /// The same, `note` saying under which untaken branch it was rendered.
    #[error("{error} ({note})")]
    Noted { error: Box<PlanError>, note: String },
    #[error("templates/nginx.conf.j2 not found next to the scenario or above it")]
    NoNginxTemplate,
    /// A program the facts did not find.
    #[error("`{name}` not found: {install}")]
    NoBinary { name: String, install: String },
    #[error("no Python >= {0} found (`scenario doctor` says how to get one)")]
    NoPython(String),
    #[error(
        "topology.cpus.{side} = \"{list}\": CPU {missing} does not exist on this machine \
         (or this process may not use it); the CPUs there are {available}"
    )]
    NoSuchCpu {
        side: &'static str,
        list: String,
        missing: String,
        available: String,
    },
    /// What the machine lacks, one `  - what (why): install with …` line each.
    #[error("this machine lacks what the scenario needs:\n{}\n(`scenario doctor {}` lists everything)", .missing.join("\n"), .file.display())]
    Lacks { missing: Vec<String>, file: PathBuf },
    #[error("the gathered facts hold fewer ports than the plan needs (a bug: please report it)")]
    FewerPorts,
    #[error("cannot encode [upstream]: {0}")]
    EncodeUpstream(serde_json::Error),
}

/// Expand a checked scenario into the plan `run` executes, with files and
/// data under `run_dir` (`scenario plan` shows `$RUN_DIR`). Pure: all it
/// knows of the machine is in `facts`.
pub fn build(s: &Scenario, facts: &Facts, run_dir: &Path) -> Result<Plan, PlanError> {
    check_missing(s, facts)?;
    check_cpus(s, facts)?;
    let m = &s.model;
    let mut ports = Ports(facts.ports.iter());
    let headers = request_headers(s);
    let mut services = Vec::new();
    let mut gateway = None;
    let mut baseline = None;
    let main = match &m.topology.target {
        Some(url) => target(s, url.clone(), headers.clone(), Vec::new(), true),
        None => {
            let port = ports.take()?;
            services.push(upstream(s, facts, port)?);
            let upstream_url = format!("http://127.0.0.1:{port}");
            match &s.profile {
                None => {
                    let path = m.request.path.as_deref().unwrap_or(UPSTREAM_PATH);
                    target(
                        s,
                        format!("{upstream_url}{path}"),
                        headers.clone(),
                        Vec::new(),
                        true,
                    )
                }
                Some((profile, path)) => {
                    let mut g = gateway::expand(
                        s,
                        profile,
                        path,
                        facts,
                        &mut ports,
                        run_dir,
                        &upstream_url,
                    )?;
                    services.append(&mut g.services);
                    if m.topology.direct {
                        let path = m.topology.direct_path.as_deref().unwrap_or(UPSTREAM_PATH);
                        let url = format!("{upstream_url}{path}");
                        baseline = Some(target(s, url, headers.clone(), Vec::new(), false));
                    }
                    let t = gateway_target(s, &g, &headers);
                    gateway = Some(g);
                    t
                }
            }
        }
    };
    let (provision, files, setup, secrets, context) = match gateway {
        Some(g) => (g.provision, g.files, g.setup, g.secrets, g.context),
        None => Default::default(),
    };
    let metrics = metrics_sources(s, &services);
    Ok(Plan {
        scenario: s.name.clone(),
        description: m.scenario.description.clone(),
        file: s.file.clone(),
        run_dir: run_dir.to_path_buf(),
        provision,
        files,
        services,
        setup,
        target: main,
        baseline,
        steps: steps(s),
        checks: checks(&m.assertions, &levels(&m.load)),
        capacity: capacity::resolve(s, stop_rule(&m.load)),
        formats: formats(s),
        cpus: m.topology.cpus.clone(),
        quiet_period: m.topology.quiet_period,
        metrics,
        metrics_series: m.report.metrics.clone(),
        secrets,
        context,
    })
}

/// The report formats asked for (`check` rejected unknown names).
fn formats(s: &Scenario) -> Vec<crate::report::Format> {
    let names = &s.model.report.formats;
    names
        .iter()
        .filter_map(|f| crate::report::Format::parse(f))
        .collect()
}

/// Refuse CPUs this machine does not have (or this process may not use).
fn check_cpus(s: &Scenario, facts: &Facts) -> Result<(), PlanError> {
    let Some(pins) = &s.model.topology.cpus else {
        return Ok(());
    };
    if facts.cpus.cpus().is_empty() {
        return Ok(());
    }
    for (side, list) in [("gateway", &pins.gateway), ("harness", &pins.harness)] {
        let missing = list.missing_from(&facts.cpus);
        if !missing.is_empty() {
            let names: Vec<String> = missing.iter().map(usize::to_string).collect();
            return Err(PlanError::NoSuchCpu {
                side,
                list: list.to_string(),
                missing: names.join(", "),
                available: facts.cpus.to_string(),
            });
        }
    }
    Ok(())
}

/// Refuse to plan what this machine cannot run.
fn check_missing(s: &Scenario, facts: &Facts) -> Result<(), PlanError> {
    if facts.missing.is_empty() {
        return Ok(());
    }
    let missing: Vec<String> = facts
        .missing
        .iter()
        .map(|r| format!("  - {} ({}): install with `{}`", r.what, r.why, r.install))
        .collect();
    Err(PlanError::Lacks {
        missing,
        file: s.file.clone(),
    })
}

/// The facts' ports, handed out in start order.
pub struct Ports<'a>(std::slice::Iter<'a, u16>);

impl Ports<'_> {
    pub fn take(&mut self) -> Result<u16, PlanError> {
        self.0.next().copied().ok_or(PlanError::FewerPorts)
    }
}

impl Plan {
    /// The plan as JSON with every secret value replaced by `<redacted>`
    /// (but in the words the plan writes itself and must parse back, such
    /// as the `s` of `10s`: see [`secret::redact_readable`]).
    pub fn to_json(&self) -> serde_json::Value {
        let mut value = serde_json::to_value(self).unwrap_or_default();
        secret::redact_readable::<Plan>(&mut value, &self.secrets);
        value
    }

    /// The plan as shown: [`Plan::to_json`] read back, so every secret is
    /// `<redacted>` and what is never shown is empty. This is the plan a
    /// report keeps. Errs only should the plan's own JSON not read back (a
    /// bug: `every_plan_reads_back_from_its_json_unchanged` guards it).
    pub fn shown(&self) -> Result<Plan, String> {
        serde_json::from_value(self.to_json())
            .map_err(|e| format!("the plan with its secrets redacted does not read back: {e}"))
    }

    /// `text` with every secret value replaced by `<redacted>`.
    pub fn hide(&self, text: &str) -> String {
        hide(text, &self.secrets)
    }
}

/// Plans made from the repository's scenario files with made-up facts, for
/// tests of later stages.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    /// The scenario `file` (relative to the repository) with `sets` applied.
    pub fn scenario(file: &str, sets: &[&str]) -> Scenario {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        crate::scenario::load(&path, &sets).unwrap()
    }

    /// Facts for a machine that has everything, made up: no machine access.
    pub fn fake_facts(s: &Scenario, ports: Vec<u16>) -> Facts {
        let mut facts = Facts::new("/bin/scenario", ports).assume_present(s);
        let template = "listen {{ port }};{% for u in upstreams %} {{ u }}{% endfor %}";
        facts.nginx_template = Some(("nginx.conf.j2".into(), template.into()));
        facts
    }

    /// The plan of `file` with `sets`, its run folder `/run`.
    pub fn plan(file: &str, sets: &[&str]) -> Plan {
        let s = scenario(file, sets);
        let ports = (41000..41010).collect();
        build(&s, &fake_facts(&s, ports), Path::new("/run")).unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{fake_facts, scenario};
    use super::*;
    use crate::scenario::model::Thresholds;

    #[test]
    fn per_level_overrides_replace_only_their_keys() {
        let mut t = Thresholds {
            max_p50_ms: Some(60.0),
            max_error_rate: Some(0.01),
            ..Thresholds::default()
        };
        t.concurrency.insert(
            "100".into(),
            Thresholds {
                max_p50_ms: Some(80.0),
                ..Thresholds::default()
            },
        );
        let checks = checks(&t, &[Level::workers(1), Level::workers(100)]);
        let p50 = |c| {
            checks
                .iter()
                .find(|k| {
                    k.level == Level::workers(c) && k.metric == crate::assertions::Metric::MaxP50Ms
                })
                .unwrap()
                .limit
        };
        assert_eq!(p50(1), 60.0);
        assert_eq!(p50(100), 80.0);
        assert_eq!(checks.len(), 4);
    }

    #[test]
    fn build_uses_the_facts_ports_in_start_order() {
        let s = scenario("tests/fixtures/tiny.toml", &[]);
        let plan = build(&s, &fake_facts(&s, vec![41000]), Path::new("/run")).unwrap();
        assert_eq!(plan.services[0].port, 41000);
        assert_eq!(plan.services[0].command[0], "/bin/scenario");
        assert_eq!(
            plan.target.url,
            "http://127.0.0.1:41000/v1/chat/completions"
        );
    }

    #[test]
    fn a_gateway_starts_in_waves_from_the_facts() {
        let s = scenario(
            "scenarios/mlflow-multi.toml",
            &["topology.database=\"postgres\"", "topology.instances=3"],
        );
        let ports = vec![1001, 1002, 1003, 1004, 1005, 1006];
        assert_eq!(
            s.model
                .topology
                .ports_needed(s.profile.as_ref().map(|p| &p.0)),
            6
        );
        let plan = build(&s, &fake_facts(&s, ports.clone()), Path::new("/run")).unwrap();
        let got: Vec<(u16, Wave)> = plan.services.iter().map(|s| (s.port, s.wave)).collect();
        use Wave::*;
        let waves = [
            Upstream,
            Database,
            FirstInstance,
            OtherInstances,
            OtherInstances,
            Proxy,
        ];
        assert_eq!(got, ports.into_iter().zip(waves).collect::<Vec<_>>());
        assert_eq!(plan.services[1].command[0], "postgres", "the facts' path");
        assert_eq!(plan.target.url.split('/').nth(2), Some("127.0.0.1:1006"));
        assert!(plan
            .files
            .iter()
            .any(|f| f.content == "listen 1006; 1003 1004 1005"));
        let json = plan.to_json();
        assert_eq!(json["services"][4]["wave"], 3, "waves stay numbers in JSON");
        assert!(
            !json.to_string().contains("db-password"),
            "secrets redacted"
        );
    }

    #[test]
    fn too_few_ports_in_the_facts_is_an_error_not_a_guess() {
        let s = scenario("scenarios/mlflow-multi.toml", &[]);
        let err = build(&s, &fake_facts(&s, vec![1001]), Path::new("/run")).unwrap_err();
        assert!(err.to_string().contains("fewer ports"), "{err}");
    }

    #[test]
    fn missing_prerequisites_stop_the_plan() {
        let s = scenario("tests/fixtures/tiny.toml", &[]);
        let mut facts = fake_facts(&s, vec![41000]);
        facts.missing.push(crate::prereq::Requirement {
            what: "nginx".into(),
            why: "test".into(),
            found: None,
            install: "apt-get install -y nginx".into(),
        });
        let err = build(&s, &facts, Path::new("/run")).unwrap_err();
        assert!(
            err.to_string().contains("apt-get install -y nginx"),
            "{err}"
        );
    }

    /// Issue 12: a ramp is one step (per run) at its peak level, for as
    /// long as its stages, with no warm-up; a rate ramp paces it open-loop.
    #[test]
    fn stages_plan_one_ramp_step() {
        let s = scenario("scenarios/ramp.toml", &["load.runs=2"]);
        let plan = build(&s, &fake_facts(&s, vec![41000]), Path::new("/run")).unwrap();
        assert_eq!(plan.steps.len(), 2);
        let step = &plan.steps[0];
        assert_eq!(step.level, Level::ramp(LevelKind::Workers, 100));
        assert_eq!(step.stop, Stop::Duration(Duration::from_secs(20)));
        assert_eq!((step.warmup, step.workers(), step.open), (0, 100, None));
        assert_eq!(step.ramp.as_ref().unwrap().stages.len(), 3);
        let json = plan.to_json();
        assert_eq!(json["steps"][0]["ramp"]["kind"], "workers");
        assert_eq!(json["steps"][0]["concurrency"], 100);
        let s = scenario(
            "scenarios/ramp.toml",
            &["load.stages=[{duration=\"4s\",rate=300},{duration=\"1s\",rate=50}]"],
        );
        let plan = build(&s, &fake_facts(&s, vec![41000]), Path::new("/run")).unwrap();
        let step = &plan.steps[0];
        assert_eq!(step.level.label(), "ramp to r=300/s");
        assert_eq!(step.open.map(|o| o.per_s), Some(300.0));
        assert_eq!(step.stop, Stop::Duration(Duration::from_secs(5)));
    }

    /// Issue 16: a report keeps the plan typed. Read back from its JSON,
    /// every plan the repository's scenarios make (each variant, sharded
    /// too) writes exactly the JSON `scenario plan --json` prints, so
    /// report.json keeps its shape and reports written before still load.
    #[test]
    fn every_plan_reads_back_from_its_json_unchanged() {
        let mut files: Vec<PathBuf> = ["scenarios", "tests/fixtures"]
            .iter()
            .flat_map(|d| std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(d)))
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        files.sort();
        let mut planned = 0;
        for file in &files {
            let Ok(all) = crate::scenario::load_variants(file, &[]) else {
                continue; // a fixture that is meant to be refused
            };
            for s in all {
                let ports = (41000..41020).collect();
                let mut plan = build(&s, &fake_facts(&s, ports), Path::new("/run")).unwrap();
                if plan.services.is_empty() {
                    shard::apply(&mut plan, shard::Shard { index: 1, count: 2 }).unwrap();
                }
                let json = plan.to_json();
                let shown = plan
                    .shown()
                    .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
                let back = serde_json::to_value(&shown).unwrap();
                assert_eq!(back, json, "{}", file.display());
                // Key for key, in order: report.json is written from the typed plan.
                let text = serde_json::to_string(&shown).unwrap();
                assert_eq!(text, json.to_string(), "{}", file.display());
                assert_eq!(shown.steps.len(), plan.steps.len());
                for (a, b) in shown.steps.iter().zip(&plan.steps) {
                    assert_eq!((a.level, a.stop, a.shard), (b.level, b.stop, b.shard));
                }
                assert_eq!(shown.capacity, plan.capacity);
                planned += 1;
            }
        }
        assert!(planned >= 30, "only {planned} plans were checked");
    }

    /// What a report keeps of a plan holds no secret, and what is never
    /// shown is empty.
    #[test]
    fn the_shown_plan_keeps_no_secret() {
        let s = scenario(
            "scenarios/mlflow-auth.toml",
            &["topology.database=\"postgres\""],
        );
        let plan = build(&s, &fake_facts(&s, (1..20).collect()), Path::new("/run")).unwrap();
        assert!(!plan.secrets.is_empty());
        let shown = plan.shown().unwrap();
        let text = serde_json::to_string(&shown).unwrap();
        for secret in &plan.secrets {
            assert!(!text.contains(secret.as_str()), "{secret} in {text}");
        }
        assert!(shown.secrets.is_empty() && shown.context.is_null());
        assert!(shown.files.iter().all(|f| f.content.is_empty()));
        assert!(shown.target.body_bytes.is_empty());
        let auth = shown
            .target
            .headers
            .iter()
            .find(|(k, _)| k == "authorization");
        assert_eq!(auth.map(|(_, v)| v.as_str()), Some("Basic <redacted>"));
        assert_eq!(shown.services[1].wave, Wave::Database);
    }

    /// A secret that is part of a word the plan's JSON must parse (here a
    /// one-letter password, the `s` of every duration and of `requests`)
    /// is hidden from every free text and leaves those words alone, so the
    /// plan is still shown (a report used to keep `"plan": null`).
    #[test]
    fn a_one_letter_secret_is_hidden_and_the_plan_still_reads_back() {
        let mut plan = testing::plan("tests/fixtures/tiny.toml", &[]);
        plan.secrets = vec!["s".into()];
        let shown = plan.shown().unwrap();
        assert_eq!(serde_json::to_value(&shown).unwrap(), plan.to_json());
        let bare = |text: &str| !text.replace("<redacted>", "").contains('s');
        assert!(plan.target.url.contains('s'));
        assert!(bare(&shown.target.url), "{}", shown.target.url);
        let upstream = &shown.services[0];
        assert!(plan.services[0].command.iter().any(|a| a.contains('s')));
        for text in upstream
            .command
            .iter()
            .chain(upstream.env.iter().map(|(_, v)| v))
        {
            assert!(bare(text), "{text}");
        }
        assert_eq!(
            shown.services[0].stop_timeout,
            plan.services[0].stop_timeout
        );
        assert_eq!(shown.target.timeout, plan.target.timeout);
        for (a, b) in shown.steps.iter().zip(&plan.steps) {
            assert_eq!((a.level, a.stop), (b.level, b.stop));
        }
        assert_eq!(shown.capacity, plan.capacity);
    }

    /// Headers are a JSON object (a name given twice once, with its last
    /// value, as the JSON value showed it), read back in order.
    #[test]
    fn headers_are_an_object_read_back_in_order() {
        #[derive(Serialize, Deserialize)]
        struct Shown(#[serde(with = "secret::headers")] Vec<(String, String)>);
        let pair = |k: &str, v: &str| (k.to_string(), v.to_string());
        let given = vec![
            pair("b", "1"),
            pair("authorization", "Bearer x"),
            pair("b", "2"),
        ];
        let text = serde_json::to_string(&Shown(given.clone())).unwrap();
        assert_eq!(text, r#"{"b":"2","authorization":"Bearer <redacted>"}"#);
        let value = serde_json::to_value(Shown(given)).unwrap().to_string();
        assert_eq!(text, value);
        let back: Shown = serde_json::from_str(&text).unwrap();
        assert_eq!(
            back.0,
            vec![pair("b", "2"), pair("authorization", "Bearer <redacted>")]
        );
    }

    #[test]
    fn secrets_are_redacted() {
        assert_eq!(redact("Authorization", "Bearer abc"), "Bearer <redacted>");
        assert_eq!(redact("x-api-key", "abc"), "<redacted>");
        assert_eq!(
            redact("content-type", "application/json"),
            "application/json"
        );
    }
}
