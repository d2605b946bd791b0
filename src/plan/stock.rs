//! The stock programs planned beside a gateway: a PostgreSQL server for its
//! database and nginx load-balancing its instances.

use std::path::Path;
use std::time::Duration;

use minijinja::{Environment, UndefinedBehavior};
use serde_json::{json, Value};

use super::{Facts, PlanError, PlannedFile, ReadyCheck, Service, Wave};

/// A program the facts found, or why the plan cannot use it.
fn binary(facts: &Facts, name: &str, install: &str) -> Result<String, PlanError> {
    facts
        .binaries
        .get(name)
        .map(|p| p.display().to_string())
        .ok_or_else(|| PlanError::NoBinary {
            name: name.to_string(),
            install: install.to_string(),
        })
}

/// A PostgreSQL server in the run folder: initdb, then `postgres` in the
/// foreground (so it is supervised like any service), then the database.
pub(super) fn postgres(
    port: u16,
    facts: &Facts,
    run_dir: &Path,
) -> Result<(Service, PlannedFile, Value), PlanError> {
    let bin = |name: &str| binary(facts, name, "apt-get install -y postgresql");
    let dir = run_dir.join("postgres");
    let data = dir.join("data");
    let pwfile = dir.join("pwfile");
    let password = facts.db_password.clone();
    // PostgreSQL refuses to run as root.
    let user = facts.root.then(|| "postgres".to_string());
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
        ready: ReadyCheck::Command {
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
        prepare: vec![initdb(bin("initdb")?, &data, &pwfile)],
        after: vec![create_database(bin("psql")?, port)],
        wave: Wave::Database,
        stop_timeout: Duration::from_secs(20),
        env_remove: Vec::new(),
    };
    let file = PlannedFile {
        path: pwfile,
        owner: user,
        content: format!("{password}\n"),
    };
    let db = json!({ "user": "postgres", "password": password, "host": "127.0.0.1", "port": port, "name": "gateway" });
    Ok((service, file, db))
}

/// `initdb` of `data` with the superuser `postgres`, its password in `pwfile`.
fn initdb(initdb: String, data: &Path, pwfile: &Path) -> Vec<String> {
    vec![
        initdb,
        "-D".into(),
        data.display().to_string(),
        "-U".into(),
        "postgres".into(),
        format!("--pwfile={}", pwfile.display()),
        "--auth-host=scram-sha-256".into(),
        "--auth-local=trust".into(),
        "-E".into(),
        "UTF8".into(),
        "--locale=C.UTF-8".into(),
    ]
}

/// `psql` creating the gateway's database once the server on `port` is up.
fn create_database(psql: String, port: u16) -> Vec<String> {
    vec![
        psql,
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
    ]
}

/// nginx load-balancing the instances, configured from `templates/nginx.conf.j2`.
pub(super) fn nginx(
    facts: &Facts,
    port: u16,
    upstreams: &[u16],
    run_dir: &Path,
    ready_path: &str,
) -> Result<(Service, PlannedFile), PlanError> {
    let (template_path, template) = facts
        .nginx_template
        .as_ref()
        .ok_or(PlanError::NoNginxTemplate)?;
    let prefix = run_dir.join("nginx");
    let conf = prefix.join("nginx.conf");
    let ctx = json!({ "prefix": prefix, "port": port, "upstreams": upstreams });
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    let content = env
        .render_str(template, &ctx)
        .map_err(|e| PlanError::Template {
            path: template_path.clone(),
            message: format!("{e:#}"),
        })?;
    let nginx = binary(facts, "nginx", "apt-get install -y nginx")?;
    let service = Service {
        name: "nginx".into(),
        command: vec![
            nginx,
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
        ready: ReadyCheck::Http {
            url: format!("http://127.0.0.1:{port}{ready_path}"),
            headers: Vec::new(),
            timeout: Duration::from_secs(30),
        },
        dirs: vec![prefix.clone(), prefix.join("logs"), prefix.join("tmp")],
        prepare: Vec::new(),
        after: Vec::new(),
        wave: Wave::Proxy,
        stop_timeout: Duration::from_secs(10),
        env_remove: Vec::new(),
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
