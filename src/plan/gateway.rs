//! A gateway profile and `[topology]` expanded into services (database,
//! instances, nginx), files, setup calls and the load target.
//!
//! Everything gateway-specific comes from the profile's templates; this file
//! only knows databases, instances, nginx and HTTP calls. Machine facts
//! (binaries, Python, ports, secrets) come from [`Facts`]; nothing here
//! looks at the machine.

use std::path::{Path, PathBuf};

use base64::Engine;
use serde_json::{json, Map, Value};

use super::facts::fnv;
use super::render::Renderer;
use super::stock::{nginx, postgres};
use super::{
    Facts, PlanError, PlannedFile, Ports, Provision, ReadyCheck, Service, SetupStep, Wave,
};
use crate::diag::Problem;
use crate::scenario::check::header_problem;
use crate::scenario::model::{AuthKind, Database};
use crate::scenario::profile::{FileTemplate, Profile};
use crate::scenario::Scenario;
/// What a gateway adds to the plan.
pub struct Expanded {
    pub services: Vec<Service>,
    pub files: Vec<PlannedFile>,
    pub setup: Vec<SetupStep>,
    pub provision: Option<Provision>,
    /// `http://127.0.0.1:PORT` of nginx, or of the only instance.
    pub base_url: String,
    /// The path benchmarked on the gateway.
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub overhead_headers: Vec<String>,
    pub secrets: Vec<String>,
    pub context: Value,
}

/// Expand the scenario's gateway profile, step by step: the Python
/// environment, auth, the database, shared files, the instances, nginx,
/// the request headers and the setup calls. Each step adds what it
/// defines to the template context the later ones see.
pub fn expand(
    s: &Scenario,
    profile: &Profile,
    profile_path: &Path,
    facts: &Facts,
    ports: &mut Ports,
    run_dir: &Path,
    upstream_url: &str,
) -> Result<Expanded, PlanError> {
    let mut g = Gateway {
        s,
        profile,
        facts,
        run_dir,
        r: Renderer::new(&profile.name, profile_path, s.profile_text.as_deref()),
        ctx: base_context(s, profile, facts, run_dir, upstream_url),
        secrets: vec![facts.secret_key.clone()],
        services: Vec::new(),
        files: Vec::new(),
    };
    let provision = g.provision()?;
    insert(&mut g.ctx, "secret_key", json!(facts.secret_key));
    let auth_header = g.auth();
    g.database(ports)?;
    g.shared_files()?;
    let instance_ports = g.instances(ports)?;
    let first = format!("http://127.0.0.1:{}", instance_ports[0]);
    let base_url = match s.model.topology.uses_nginx() {
        true => g.nginx(ports.take()?, &instance_ports)?,
        false => first.clone(),
    };
    let mut headers = g.headers()?;
    headers.extend(auth_header.clone());
    let setup = g.setup(&first, auth_header)?;
    let path = match &profile.request.path {
        Some(p) => g.r.render("request.path", p, &g.ctx)?,
        None => crate::scenario::model::UPSTREAM_PATH.to_string(),
    };
    // The branches this plan does not take are rendered too (with
    // stand-ins), so `validate` finds a typo in any template.
    super::untaken::check(&g.r, profile, &g.ctx, instance_ports[0])?;
    Ok(Expanded {
        services: g.services,
        files: g.files,
        setup,
        provision,
        base_url,
        path,
        headers,
        overhead_headers: profile.request.overhead_headers.clone(),
        secrets: g.secrets,
        context: g.ctx,
    })
}

/// The expansion in progress: what is planned so far and the context the
/// next templates see.
struct Gateway<'a> {
    s: &'a Scenario,
    profile: &'a Profile,
    facts: &'a Facts,
    run_dir: &'a Path,
    r: Renderer<'a>,
    ctx: Value,
    secrets: Vec<String>,
    services: Vec<Service>,
    files: Vec<PlannedFile>,
}

/// What every template sees.
fn base_context(
    s: &Scenario,
    profile: &Profile,
    facts: &Facts,
    run_dir: &Path,
    upstream_url: &str,
) -> Value {
    let t = &s.model.topology;
    let mut options: Map<String, Value> = profile.options.clone().into_iter().collect();
    options.extend(t.options.clone());
    let bins: Map<String, Value> = profile
        .requires
        .iter()
        .filter_map(|b| Some((b.binary.clone(), json!(facts.binaries.get(&b.binary)?))))
        .collect();
    json!({
        "run_dir": run_dir,
        "profile_dir": facts.profile_dir,
        "upstream": { "url": upstream_url },
        "instances": t.instances,
        "workers": t.workers,
        "options": options,
        "bin": bins,
    })
}

impl Gateway<'_> {
    /// The Python environment, cached by interpreter and requirements.
    fn provision(&mut self) -> Result<Option<Provision>, PlanError> {
        let Some(py) = &self.profile.python else {
            return Ok(None);
        };
        let (python, version) = self
            .facts
            .python
            .clone()
            .ok_or_else(|| PlanError::NoPython(py.min_version.to_string()))?;
        let requirements = py
            .requirements
            .iter()
            .enumerate()
            .map(|(i, line)| {
                self.r
                    .render(&format!("python.requirements[{i}]"), line, &self.ctx)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut keyed = format!(
            "{}\n{version}\n{}",
            python.display(),
            requirements.join("\n")
        );
        let mut requirements_files = Vec::new();
        for (i, name) in py.requirements_files.iter().enumerate() {
            // Gathered from the same profile, in the same order.
            let found = self.facts.requirements_files.get(i);
            let Some((path, Some(hash))) = found else {
                return Err(self.r.problem(
                    Problem::new(
                        format!("python.requirements_files[{i}]"),
                        format!("requirements file `{}` cannot be read", name.display()),
                    )
                    .label("no such file")
                    .note(format!(
                        "paths are relative to the profile's folder, {}",
                        self.facts.profile_dir.display()
                    )),
                    None,
                ));
            };
            // A file's content, not its name, decides the venv: editing it
            // makes a new one.
            keyed.push_str(&format!("\n-r {hash:016x}"));
            requirements_files.push(path.clone());
        }
        let key = fnv(&keyed);
        let venv = self
            .facts
            .cache_dir
            .join("venvs")
            .join(format!("{}-py{version}-{key:016x}", self.profile.name));
        insert(&mut self.ctx, "venv", json!(venv));
        insert(&mut self.ctx, "python", json!(venv.join("bin/python")));
        Ok(Some(Provision {
            python,
            venv,
            requirements,
            requirements_files,
        }))
    }

    /// `auth` for templates; the header every request and setup call carries.
    fn auth(&mut self) -> Option<(String, String)> {
        let auth = self.s.model.topology.auth.as_ref()?;
        let field = |v: &Option<String>| v.clone().unwrap_or_default();
        match auth.kind {
            AuthKind::Basic => {
                let (username, password) = (field(&auth.username), field(&auth.password));
                self.secrets.push(password.clone());
                insert(
                    &mut self.ctx,
                    "auth",
                    json!({ "kind": "basic", "username": username, "password": password }),
                );
                let token = base64::engine::general_purpose::STANDARD
                    .encode(format!("{username}:{password}"));
                self.secrets.push(token.clone());
                Some(("authorization".to_string(), format!("Basic {token}")))
            }
            AuthKind::Bearer => {
                let token = field(&auth.token);
                self.secrets.push(token.clone());
                insert(
                    &mut self.ctx,
                    "auth",
                    json!({ "kind": "bearer", "token": token }),
                );
                Some(("authorization".to_string(), format!("Bearer {token}")))
            }
        }
    }

    /// The database: a URL as given, SQLite in the run folder, or a
    /// PostgreSQL server of our own; templates see `database_uri`.
    fn database(&mut self, ports: &mut Ports) -> Result<(), PlanError> {
        let database = self
            .profile
            .database(self.s.model.topology.database.as_ref());
        let templates = &self.profile.databases;
        let uri = match &database {
            None => None,
            Some(Database::Url(url)) => Some(url.clone()),
            Some(Database::Sqlite) => Some(self.r.render(
                "databases.sqlite",
                &templates["sqlite"],
                &self.ctx,
            )?),
            Some(Database::Postgres) => {
                let (service, file, db) = postgres(ports.take()?, self.facts, self.run_dir)?;
                self.secrets.push(self.facts.db_password.clone());
                self.services.push(service);
                self.files.push(file);
                let mut with_db = self.ctx.clone();
                insert(&mut with_db, "db", db);
                Some(
                    self.r
                        .render("databases.postgres", &templates["postgres"], &with_db)?,
                )
            }
        };
        insert(
            &mut self.ctx,
            "database",
            json!(database.as_ref().map(Database::kind)),
        );
        insert(&mut self.ctx, "database_uri", json!(uri));
        Ok(())
    }

    /// Files every instance reads; templates see `files.NAME` (its path).
    fn shared_files(&mut self) -> Result<(), PlanError> {
        insert(&mut self.ctx, "files", json!({}));
        for (i, f) in self.profile.files.iter().enumerate() {
            if f.per_instance {
                continue;
            }
            if let Some(path) = self.file(i, f, &self.ctx.clone())? {
                if let Some(Value::Object(map)) = self.ctx.get_mut("files") {
                    map.insert(f.name.clone(), json!(path));
                }
            }
        }
        Ok(())
    }

    /// Plan profile file number `i` under `ctx`, unless its `when` is false;
    /// returns its path.
    fn file(
        &mut self,
        i: usize,
        f: &FileTemplate,
        ctx: &Value,
    ) -> Result<Option<PathBuf>, PlanError> {
        if let Some(when) = &f.when {
            if !self.r.truthy(&format!("files[{i}].when"), when, ctx)? {
                return Ok(None);
            }
        }
        let path = self
            .run_dir
            .join(self.r.render(&format!("files[{i}].path"), &f.path, ctx)?);
        let content = self
            .r
            .render(&format!("files[{i}].template"), &f.template, ctx)?;
        self.files.push(PlannedFile {
            path: path.clone(),
            owner: None,
            content,
        });
        Ok(Some(path))
    }

    /// One service per instance, each with its own files and port.
    fn instances(&mut self, ports: &mut Ports) -> Result<Vec<u16>, PlanError> {
        let inst = &self.profile.instance;
        let mut instance_ports = Vec::new();
        for i in 0..self.s.model.topology.instances {
            let port = ports.take()?;
            instance_ports.push(port);
            let mut local = self.ctx.clone();
            insert(&mut local, "instance", json!(i));
            insert(&mut local, "port", json!(port));
            for (n, f) in self.profile.files.iter().enumerate() {
                if !f.per_instance {
                    continue;
                }
                if let Some(path) = self.file(n, f, &local)? {
                    if let Some(Value::Object(map)) = local.get_mut("files") {
                        map.insert(f.name.clone(), json!(path));
                    }
                }
            }
            let line = self.r.render("instance.command", &inst.command, &local)?;
            let env = inst
                .env
                .iter()
                .map(|(k, v)| {
                    Ok((
                        k.clone(),
                        self.r.render(&format!("instance.env.{k}"), v, &local)?,
                    ))
                })
                .collect::<Result<Vec<_>, PlanError>>()?;
            self.services.push(Service {
                name: format!("{}-{i}", self.profile.name),
                command: self.words("instance.command", &line)?,
                env,
                user: None,
                port,
                ready: ReadyCheck::Http {
                    url: format!("http://127.0.0.1:{port}{}", inst.ready_path),
                    headers: self.ready_headers(&local)?,
                    timeout: inst.ready_timeout,
                },
                dirs: Vec::new(),
                prepare: Vec::new(),
                after: Vec::new(),
                wave: match i == 0 || !inst.first_alone {
                    true => Wave::FirstInstance,
                    false => Wave::OtherInstances,
                },
                stop_timeout: inst.stop_timeout,
                env_remove: inst.env_remove.clone(),
            });
        }
        Ok(instance_ports)
    }

    /// The readiness check's headers, rendered under `ctx` and checked.
    fn ready_headers(&self, ctx: &Value) -> Result<Vec<(String, String)>, PlanError> {
        let headers = &self.profile.instance.ready_headers;
        self.render_headers("instance.ready_headers", headers, ctx)
    }

    /// Header templates written at `at` in the profile, rendered under
    /// `ctx` and checked; names lower-cased.
    fn render_headers(
        &self,
        at: &str,
        headers: &indexmap::IndexMap<String, String>,
        ctx: &Value,
    ) -> Result<Vec<(String, String)>, PlanError> {
        let mut out = Vec::new();
        for (k, v) in headers {
            let key = format!("{at}.{k}");
            let value = self.r.render(&key, v, ctx)?;
            if let Some(p) = header_problem(&key, k, &value) {
                return Err(self.r.problem(p, None));
            }
            out.push((k.to_ascii_lowercase(), value));
        }
        Ok(out)
    }

    /// A rendered command line split into words like a shell would.
    fn words(&self, key: &str, line: &str) -> Result<Vec<String>, PlanError> {
        shlex::split(line).ok_or_else(|| {
            self.r.problem(
                Problem::new(key, format!("unbalanced quotes in `{}`", line.trim()))
                    .label("close every quote"),
                None,
            )
        })
    }

    /// nginx on `port` load-balancing the instances; returns its URL.
    fn nginx(&mut self, port: u16, upstreams: &[u16]) -> Result<String, PlanError> {
        let ready_path = &self.profile.instance.ready_path;
        let headers = self.ready_headers(&self.ctx)?;
        let (mut service, file) = nginx(self.facts, port, upstreams, self.run_dir, ready_path)?;
        if let ReadyCheck::Http { headers: h, .. } = &mut service.ready {
            *h = headers;
        }
        self.services.push(service);
        self.files.push(file);
        Ok(format!("http://127.0.0.1:{port}"))
    }

    /// The profile's request headers, rendered and checked.
    fn headers(&self) -> Result<Vec<(String, String)>, PlanError> {
        self.render_headers("request.headers", &self.profile.request.headers, &self.ctx)
    }

    /// The setup calls on the first instance; bodies are shown with
    /// `@captured.NAME` for values earlier answers will give.
    fn setup(
        &self,
        first: &str,
        auth_header: Option<(String, String)>,
    ) -> Result<Vec<SetupStep>, PlanError> {
        let mut setup = Vec::new();
        let mut captured = Map::new();
        for (i, call) in self.profile.setup.iter().enumerate() {
            if let Some(when) = &call.when {
                if !self
                    .r
                    .truthy(&format!("setup[{i}].when"), when, &self.ctx)?
                {
                    continue;
                }
            }
            let mut with_captured = self.ctx.clone();
            insert(
                &mut with_captured,
                "captured",
                Value::Object(captured.clone()),
            );
            let preview = match &call.body {
                Some(body) => Some(self.r.render(
                    &format!("setup[{i}].body"),
                    body,
                    &with_captured,
                )?),
                None => None,
            };
            for name in call.capture.keys() {
                captured.insert(name.clone(), json!(format!("@captured.{name}")));
            }
            let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
            headers.extend(auth_header.clone());
            let path = self
                .r
                .render(&format!("setup[{i}].path"), &call.path, &self.ctx)?;
            setup.push(SetupStep {
                name: call.name.clone(),
                method: call.method.clone(),
                url: format!("{first}{path}"),
                headers,
                body: call.body.clone(),
                preview,
                capture: call.capture.clone(),
            });
        }
        Ok(setup)
    }
}

fn insert(ctx: &mut Value, key: &str, value: Value) {
    if let Value::Object(map) = ctx {
        map.insert(key.to_string(), value);
    }
}
