//! Renders the profile templates a plan does not take — files and setup
//! calls whose `when` is false here, the databases and auth kinds this
//! scenario does not use — with stand-ins for what it lacks, so that a typo
//! in any of them is found by `validate` (and `plan`, and `run`: they plan
//! alike), not by the first run that takes that branch.

use serde_json::{json, Map, Value};

use super::render::Renderer;
use super::PlanError;
use crate::scenario::model::AuthKind;
use crate::scenario::profile::Profile;

/// Render every template of `profile` under `ctx` (the context the plan
/// built) and under one context per auth kind the profile supports, each
/// completed with stand-ins (`files.NAME`, `captured.NAME`, `instance`,
/// `port`, `db`); the first error says which stand-in it was rendered with.
pub fn check(r: &Renderer, profile: &Profile, ctx: &Value, port: u16) -> Result<(), PlanError> {
    let mut base = ctx.clone();
    let Value::Object(map) = &mut base else {
        return Ok(());
    };
    let files: &mut Value = map.entry("files").or_insert_with(|| json!({}));
    if let Value::Object(files) = files {
        for f in &profile.files {
            files
                .entry(f.name.clone())
                .or_insert_with(|| json!(format!("<files.{}>", f.name)));
        }
    }
    let mut contexts = vec![(base.clone(), None)];
    let actual = ctx
        .get("auth")
        .and_then(|a| a.get("kind"))
        .and_then(Value::as_str);
    for kind in &profile.auth {
        if actual == Some(kind.name()) {
            continue;
        }
        let mut with = base.clone();
        if let Value::Object(m) = &mut with {
            m.insert("auth".into(), stand_in_auth(*kind));
        }
        let note = format!(
            "rendered with a stand-in `{}` auth, as a scenario with `auth = {{ kind = \"{}\", … }}` would",
            kind.name(),
            kind.name()
        );
        contexts.push((with, Some(note)));
    }
    for (c, note) in &contexts {
        render_all(r, profile, c, port).map_err(|e| with_note(e, note.as_deref()))?;
    }
    // The databases this scenario does not use.
    let mut with_db = base;
    if let Value::Object(m) = &mut with_db {
        m.insert(
            "db".into(),
            json!({ "user": "<db.user>", "password": "<db.password>", "host": "127.0.0.1", "port": 5432, "name": "<db.name>" }),
        );
    }
    for (kind, template) in &profile.databases {
        r.render(&format!("databases.{kind}"), template, &with_db)?;
    }
    Ok(())
}

fn stand_in_auth(kind: AuthKind) -> Value {
    let mut auth = Map::new();
    auth.insert("kind".into(), json!(kind.name()));
    for key in kind.keys() {
        auth.insert((*key).into(), json!(format!("<auth.{key}>")));
    }
    Value::Object(auth)
}

fn with_note(e: PlanError, note: Option<&str>) -> PlanError {
    match (e, note) {
        (PlanError::Input(mut d), Some(note)) => {
            if let Some(p) = d.problems.first_mut() {
                p.notes.push(note.to_string());
            }
            PlanError::Input(d)
        }
        (error, Some(note)) => PlanError::Noted {
            error: Box::new(error),
            note: note.to_string(),
        },
        (e, None) => e,
    }
}

/// Every template of the profile under `ctx`, each file and setup call
/// only when its `when` holds there.
fn render_all(r: &Renderer, p: &Profile, ctx: &Value, port: u16) -> Result<(), PlanError> {
    if let Some(py) = &p.python {
        for (i, line) in py.requirements.iter().enumerate() {
            r.render(&format!("python.requirements[{i}]"), line, ctx)?;
        }
    }
    let mut local = ctx.clone();
    if let Value::Object(m) = &mut local {
        m.insert("instance".into(), json!(0));
        m.insert("port".into(), json!(port));
    }
    for (i, f) in p.files.iter().enumerate() {
        let c = if f.per_instance { &local } else { ctx };
        if let Some(when) = &f.when {
            if !r.truthy(&format!("files[{i}].when"), when, c)? {
                continue;
            }
        }
        r.render(&format!("files[{i}].path"), &f.path, c)?;
        r.render(&format!("files[{i}].template"), &f.template, c)?;
    }
    let inst = &p.instance;
    r.render("instance.command", &inst.command, &local)?;
    for (k, v) in &inst.env {
        r.render(&format!("instance.env.{k}"), v, &local)?;
    }
    for (k, v) in &inst.ready_headers {
        r.render(&format!("instance.ready_headers.{k}"), v, &local)?;
    }
    for (k, v) in &p.request.headers {
        r.render(&format!("request.headers.{k}"), v, ctx)?;
    }
    if let Some(path) = &p.request.path {
        r.render("request.path", path, ctx)?;
    }
    let mut with_captured = ctx.clone();
    let captured: Map<String, Value> = p
        .setup
        .iter()
        .flat_map(|c| c.capture.keys())
        .map(|name| (name.clone(), json!(format!("@captured.{name}"))))
        .collect();
    if let Value::Object(m) = &mut with_captured {
        m.insert("captured".into(), Value::Object(captured));
    }
    for (i, call) in p.setup.iter().enumerate() {
        if let Some(when) = &call.when {
            if !r.truthy(&format!("setup[{i}].when"), when, ctx)? {
                continue;
            }
        }
        r.render(&format!("setup[{i}].path"), &call.path, ctx)?;
        if let Some(body) = &call.body {
            r.render(&format!("setup[{i}].body"), body, &with_captured)?;
        }
    }
    Ok(())
}
