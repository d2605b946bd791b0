//! A gateway profile and `[topology]` expanded into services (database,
//! instances, nginx), files, setup calls and the load target.
//!
//! Everything gateway-specific comes from the profile's templates; this file
//! only knows databases, instances, nginx and HTTP calls.

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use minijinja::{Environment, UndefinedBehavior};
use rand::Rng;
use serde_json::{json, Map, Value};

use super::{PlanError, PlannedFile, PortPicker, Probe, Provision, Service, SetupStep};
use crate::prereq::{self, find_binary, POSTGRES_DIRS};
use crate::scenario::model::{AuthKind, Database};
use crate::scenario::profile::Profile;
use crate::scenario::{resolve_path, Scenario};

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

/// Where downloaded and built things are kept between runs.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SCENARIO_CACHE_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(dir).join("scenario");
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/tmp".into());
    PathBuf::from(home).join(".cache/scenario")
}

/// FNV-1a: a stable key for cache folders (std's hasher may change between releases).
fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

fn random_secret() -> String {
    let mut rng = rand::thread_rng();
    (0..24)
        .map(|_| format!("{:02x}", rng.gen::<u8>()))
        .collect()
}

struct Renderer {
    env: Environment<'static>,
    profile: String,
}

impl Renderer {
    fn new(profile: &str) -> Renderer {
        let mut env = Environment::new();
        // Printing an undefined value fails; testing one (`{% if auth %}`) is allowed.
        env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
        Renderer {
            env,
            profile: profile.to_string(),
        }
    }

    fn render(&self, what: &str, template: &str, ctx: &Value) -> Result<String, PlanError> {
        self.env.render_str(template, ctx).map_err(|e| {
            let names: Vec<&String> = ctx
                .as_object()
                .map(|m| m.keys().collect())
                .unwrap_or_default();
            PlanError(format!(
                "gateway profile `{}`, {what}: {e:#}\n  variables it can use: {}",
                self.profile,
                names
                    .iter()
                    .map(|n| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
    }

    fn truthy(&self, what: &str, expr: &str, ctx: &Value) -> Result<bool, PlanError> {
        let fail = |e: minijinja::Error| {
            PlanError(format!("gateway profile `{}`, {what}: {e:#}", self.profile))
        };
        let expr = self.env.compile_expression(expr).map_err(fail)?;
        Ok(expr.eval(ctx).map_err(fail)?.is_true())
    }
}

fn words(what: &str, line: &str) -> Result<Vec<String>, PlanError> {
    shlex::split(line).ok_or_else(|| PlanError(format!("{what}: unbalanced quotes in `{line}`")))
}

fn insert(ctx: &mut Value, key: &str, value: Value) {
    if let Value::Object(map) = ctx {
        map.insert(key.to_string(), value);
    }
}

pub fn expand(
    s: &Scenario,
    profile: &Profile,
    profile_path: &Path,
    ports: &mut PortPicker,
    run_dir: &Path,
    upstream_url: &str,
) -> Result<Expanded, PlanError> {
    let t = &s.model.topology;
    let r = Renderer::new(&profile.name);
    let mut secrets = Vec::new();
    let mut services = Vec::new();
    let mut files = Vec::new();

    let mut options: Map<String, Value> = profile.options.clone().into_iter().collect();
    options.extend(t.options.clone());
    let mut bins = Map::new();
    for b in &profile.requires {
        let dirs: Vec<&str> = b.dirs.iter().map(String::as_str).collect();
        if let Some(path) = find_binary(&b.binary, &dirs) {
            bins.insert(b.binary.clone(), json!(path));
        }
    }
    let mut ctx = json!({
        "run_dir": run_dir,
        "profile_dir": profile_path
            .parent()
            .and_then(|d| d.canonicalize().ok())
            .unwrap_or_else(|| PathBuf::from(".")),
        "upstream": { "url": upstream_url },
        "instances": t.instances,
        "workers": t.workers,
        "options": options,
        "bin": bins,
    });

    // The Python environment, keyed by interpreter and requirements.
    let provision = match &profile.python {
        None => None,
        Some(py) => {
            let (python, version) = prereq::find_python(&py.min_version).ok_or_else(|| {
                PlanError(format!(
                    "no Python >= {} found (`scenario doctor` says how to get one)",
                    py.min_version
                ))
            })?;
            let requirements = py
                .requirements
                .iter()
                .map(|line| r.render("python.requirements", line, &ctx))
                .collect::<Result<Vec<_>, _>>()?;
            let key = fnv(&format!(
                "{}\n{version}\n{}",
                python.display(),
                requirements.join("\n")
            ));
            let venv = cache_dir()
                .join("venvs")
                .join(format!("{}-py{version}-{key:016x}", profile.name));
            insert(&mut ctx, "venv", json!(venv));
            insert(&mut ctx, "python", json!(venv.join("bin/python")));
            Some(Provision {
                python,
                venv,
                requirements,
            })
        }
    };

    let secret_key = random_secret();
    secrets.push(secret_key.clone());
    insert(&mut ctx, "secret_key", json!(secret_key));
    let mut auth_header = None;
    if let Some(auth) = &t.auth {
        secrets.push(auth.password.clone());
        insert(
            &mut ctx,
            "auth",
            json!({ "kind": "basic", "username": auth.username, "password": auth.password }),
        );
        match auth.kind {
            AuthKind::Basic => {
                let token = base64::engine::general_purpose::STANDARD
                    .encode(format!("{}:{}", auth.username, auth.password));
                secrets.push(token.clone());
                auth_header = Some(("authorization".to_string(), format!("Basic {token}")));
            }
        }
    }

    // The database.
    let database = profile.database(t.database.as_ref());
    let database_uri = match &database {
        None => None,
        Some(Database::Url(url)) => Some(url.clone()),
        Some(Database::Sqlite) => {
            Some(r.render("databases.sqlite", &profile.databases["sqlite"], &ctx)?)
        }
        Some(Database::Postgres) => {
            let (service, file, db) = postgres(ports.next()?, run_dir)?;
            secrets.push(db["password"].as_str().unwrap_or_default().to_string());
            services.push(service);
            files.push(file);
            let mut with_db = ctx.clone();
            insert(&mut with_db, "db", db);
            Some(r.render(
                "databases.postgres",
                &profile.databases["postgres"],
                &with_db,
            )?)
        }
    };
    insert(
        &mut ctx,
        "database",
        json!(database.as_ref().map(Database::kind)),
    );
    insert(&mut ctx, "database_uri", json!(database_uri));

    // Files the instances read (per-instance ones are written with each instance).
    let mut file_paths = Map::new();
    insert(&mut ctx, "files", Value::Object(file_paths.clone()));
    for f in profile.files.iter().filter(|f| !f.per_instance) {
        if let Some(path) = write_file(&r, f, &ctx, run_dir, &mut files)? {
            file_paths.insert(f.name.clone(), json!(path));
            insert(&mut ctx, "files", Value::Object(file_paths.clone()));
        }
    }

    // The instances.
    let inst = &profile.instance;
    let mut instance_ports = Vec::new();
    for i in 0..t.instances {
        let port = ports.next()?;
        instance_ports.push(port);
        let mut local = ctx.clone();
        insert(&mut local, "instance", json!(i));
        insert(&mut local, "port", json!(port));
        for f in profile.files.iter().filter(|f| f.per_instance) {
            if let Some(path) = write_file(&r, f, &local, run_dir, &mut files)? {
                if let Some(Value::Object(map)) = local.get_mut("files") {
                    map.insert(f.name.clone(), json!(path));
                }
            }
        }
        let line = r.render("instance.command", &inst.command, &local)?;
        let env = inst
            .env
            .iter()
            .map(|(k, v)| {
                Ok((
                    k.clone(),
                    r.render(&format!("instance.env.{k}"), v, &local)?,
                ))
            })
            .collect::<Result<Vec<_>, PlanError>>()?;
        services.push(Service {
            name: format!("{}-{i}", profile.name),
            command: words("instance.command", &line)?,
            env,
            user: None,
            port,
            ready: Probe::Http {
                url: format!("http://127.0.0.1:{port}{}", inst.ready_path),
                timeout: inst.ready_timeout,
            },
            dirs: Vec::new(),
            prepare: Vec::new(),
            after: Vec::new(),
            wave: if i == 0 || !inst.first_alone { 2 } else { 3 },
            stop_timeout: inst.stop_timeout,
        });
    }
    let first = format!("http://127.0.0.1:{}", instance_ports[0]);

    // nginx in front.
    let base_url = if t.nginx.unwrap_or(t.instances > 1) {
        let port = ports.next()?;
        let (service, file) = nginx(s, port, &instance_ports, run_dir, &inst.ready_path)?;
        services.push(service);
        files.push(file);
        format!("http://127.0.0.1:{port}")
    } else {
        first.clone()
    };

    let mut headers: Vec<(String, String)> = profile
        .request
        .headers
        .iter()
        .map(|(k, v)| {
            Ok((
                k.to_ascii_lowercase(),
                r.render(&format!("request.headers.{k}"), v, &ctx)?,
            ))
        })
        .collect::<Result<_, PlanError>>()?;
    headers.extend(auth_header.clone());

    let mut setup = Vec::new();
    let mut captured = Map::new();
    for call in &profile.setup {
        if let Some(when) = &call.when {
            if !r.truthy(&format!("setup `{}` when", call.name), when, &ctx)? {
                continue;
            }
        }
        let mut with_captured = ctx.clone();
        insert(
            &mut with_captured,
            "captured",
            Value::Object(captured.clone()),
        );
        let preview = match &call.body {
            Some(body) => {
                Some(r.render(&format!("setup `{}` body", call.name), body, &with_captured)?)
            }
            None => None,
        };
        for name in call.capture.keys() {
            captured.insert(name.clone(), json!(format!("@captured.{name}")));
        }
        let mut call_headers = vec![("content-type".to_string(), "application/json".to_string())];
        call_headers.extend(auth_header.clone());
        setup.push(SetupStep {
            name: call.name.clone(),
            method: call.method.clone(),
            url: format!(
                "{first}{}",
                r.render(&format!("setup `{}` path", call.name), &call.path, &ctx)?
            ),
            headers: call_headers,
            body: call.body.clone(),
            preview,
            capture: call.capture.clone(),
        });
    }
    let path = match &profile.request.path {
        Some(p) => r.render("request.path", p, &ctx)?,
        None => crate::scenario::model::UPSTREAM_PATH.to_string(),
    };
    Ok(Expanded {
        services,
        files,
        setup,
        provision,
        base_url,
        path,
        headers,
        overhead_headers: profile.request.overhead_headers.clone(),
        secrets,
        context: ctx,
    })
}

/// Plan one profile file under `ctx`, unless its `when` is false; returns its path.
fn write_file(
    r: &Renderer,
    f: &crate::scenario::profile::FileTemplate,
    ctx: &Value,
    run_dir: &Path,
    files: &mut Vec<PlannedFile>,
) -> Result<Option<PathBuf>, PlanError> {
    if let Some(when) = &f.when {
        if !r.truthy(&format!("files `{}` when", f.name), when, ctx)? {
            return Ok(None);
        }
    }
    let path = run_dir.join(r.render(&format!("files `{}` path", f.name), &f.path, ctx)?);
    files.push(PlannedFile {
        path: path.clone(),
        owner: None,
        content: r.render(&format!("files `{}`", f.name), &f.template, ctx)?,
    });
    Ok(Some(path))
}

/// A PostgreSQL server in the run folder: initdb, then `postgres` in the
/// foreground (so it is supervised like any service), then the database.
fn postgres(port: u16, run_dir: &Path) -> Result<(Service, PlannedFile, Value), PlanError> {
    let bin = |name: &str| {
        find_binary(name, POSTGRES_DIRS)
            .map(|p| p.display().to_string())
            .ok_or_else(|| PlanError(format!("`{name}` not found: apt-get install -y postgresql")))
    };
    let dir = run_dir.join("postgres");
    let data = dir.join("data");
    let pwfile = dir.join("pwfile");
    let password = random_secret();
    // PostgreSQL refuses to run as root.
    let user = nix::unistd::geteuid()
        .is_root()
        .then(|| "postgres".to_string());
    let d = |p: &Path| p.display().to_string();
    let service = Service {
        name: "postgres".into(),
        command: vec![
            bin("postgres")?,
            "-D".into(),
            d(&data),
            "-c".into(),
            "listen_addresses=127.0.0.1".into(),
            "-c".into(),
            format!("port={port}"),
            "-c".into(),
            "max_connections=500".into(),
            "-c".into(),
            format!("unix_socket_directories={}", d(&dir)),
        ],
        env: vec![("PGPASSWORD".into(), password.clone())],
        user: user.clone(),
        port,
        ready: Probe::Command {
            argv: vec![
                bin("pg_isready")?,
                "-h".into(),
                "127.0.0.1".into(),
                "-p".into(),
                port.to_string(),
            ],
            timeout: Duration::from_secs(60),
        },
        dirs: vec![dir.clone()],
        prepare: vec![vec![
            bin("initdb")?,
            "-D".into(),
            d(&data),
            "-U".into(),
            "postgres".into(),
            format!("--pwfile={}", d(&pwfile)),
            "--auth-host=scram-sha-256".into(),
            "--auth-local=trust".into(),
            "-E".into(),
            "UTF8".into(),
            "--locale=C.UTF-8".into(),
        ]],
        after: vec![vec![
            bin("psql")?,
            "-h".into(),
            "127.0.0.1".into(),
            "-p".into(),
            port.to_string(),
            "-U".into(),
            "postgres".into(),
            "-d".into(),
            "postgres".into(),
            "-v".into(),
            "ON_ERROR_STOP=1".into(),
            "-c".into(),
            "CREATE DATABASE gateway".into(),
        ]],
        wave: 1,
        stop_timeout: Duration::from_secs(20),
    };
    let file = PlannedFile {
        path: pwfile,
        owner: user,
        content: format!("{password}\n"),
    };
    let db = json!({ "user": "postgres", "password": password, "host": "127.0.0.1", "port": port, "name": "gateway" });
    Ok((service, file, db))
}

/// nginx load-balancing the instances, configured from `templates/nginx.conf.j2`.
fn nginx(
    s: &Scenario,
    port: u16,
    upstreams: &[u16],
    run_dir: &Path,
    ready_path: &str,
) -> Result<(Service, PlannedFile), PlanError> {
    let dir = s.file.parent().unwrap_or(Path::new("."));
    let template_path =
        resolve_path(dir, Path::new("templates/nginx.conf.j2")).ok_or_else(|| {
            PlanError("templates/nginx.conf.j2 not found next to the scenario or above it".into())
        })?;
    let template = std::fs::read_to_string(&template_path)
        .map_err(|e| PlanError(format!("cannot read {}: {e}", template_path.display())))?;
    let prefix = run_dir.join("nginx");
    let conf = prefix.join("nginx.conf");
    let ctx = json!({ "prefix": prefix, "port": port, "upstreams": upstreams });
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    let content = env
        .render_str(&template, &ctx)
        .map_err(|e| PlanError(format!("{}: {e:#}", template_path.display())))?;
    let nginx = find_binary("nginx", &["/usr/sbin"])
        .ok_or_else(|| PlanError("`nginx` not found: apt-get install -y nginx".into()))?;
    let service = Service {
        name: "nginx".into(),
        command: vec![
            nginx.display().to_string(),
            "-p".into(),
            prefix.display().to_string(),
            "-c".into(),
            conf.display().to_string(),
            "-g".into(),
            "daemon off;".into(),
        ],
        env: Vec::new(),
        user: None,
        port,
        ready: Probe::Http {
            url: format!("http://127.0.0.1:{port}{ready_path}"),
            timeout: Duration::from_secs(30),
        },
        dirs: vec![prefix.clone(), prefix.join("logs"), prefix.join("tmp")],
        prepare: Vec::new(),
        after: Vec::new(),
        wave: 4,
        stop_timeout: Duration::from_secs(10),
    };
    Ok((
        service,
        PlannedFile {
            path: conf,
            owner: None,
            content,
        },
    ))
}
