//! Prompt pools and request templates: every body is rendered here, before any timed loop.
//!
//! Templates are minijinja with strict undefined behaviour, so a template that
//! uses a variable a pool entry lacks fails now, naming the entry, not during
//! a run.

use std::collections::BTreeSet;
use std::path::Path;

use bytes::Bytes;
use minijinja::{Environment, UndefinedBehavior};
use serde_json::{Map, Value};

use super::model::ScenarioFile;
use super::resolve_path;
use crate::diag::{Origin, Problem, Sources};

/// The body used when `[request] template` is not set: an OpenAI chat request.
pub const BUILTIN_CHAT: &str = include_str!("../../templates/requests/openai-chat.json.j2");
pub const BUILTIN_CHAT_NAME: &str = "built-in:openai-chat";

/// The pool used when `[request.pool]` names none.
const DEFAULT_PROMPT: &str = "Say hello in one short sentence.";

/// A pool entry and where it was written (for errors about it).
struct Entry {
    vars: Map<String, Value>,
    key: String,
    origin: Option<Origin>,
}

/// Render one body per pool entry. Returns the template's display name and the bodies.
pub fn render_all(
    s: &ScenarioFile,
    dir: &Path,
    sources: &mut Sources,
) -> Result<(String, Vec<Bytes>), Vec<Problem>> {
    let entries = pool_entries(s, dir, sources)?;
    let (name, text, source) = template_text(s, dir, sources)?;
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    // The stock `tojson` turns an undefined value into `null`; a body built
    // from a missing variable is a mistake, so fail instead.
    env.add_filter("tojson", strict_tojson);
    if let Err(e) = env.add_template_owned(name.clone(), text.clone()) {
        return Err(vec![template_problem(
            &e,
            &text,
            source,
            "does not compile",
        )]);
    }
    let template = env
        .get_template(&name)
        .map_err(|e| vec![Problem::new("request.template", e.to_string())])?;
    let wants_json = !s
        .request
        .headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("content-type") && !v.contains("json"));

    let mut problems = Vec::new();
    let mut bodies = Vec::with_capacity(entries.len());
    for (i, entry) in entries.iter().enumerate() {
        let mut ctx: Map<String, Value> = s.request.vars.clone().into_iter().collect();
        ctx.extend(entry.vars.clone());
        ctx.insert("index".into(), Value::from(i));
        match template.render(&ctx) {
            Ok(body) => {
                if wants_json && !body.trim().is_empty() {
                    if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(&body) {
                        problems.push(
                            Problem::new(
                                entry.key.clone(),
                                format!("pool entry {i} renders to invalid JSON: {e}"),
                            )
                            .at(entry.origin.clone())
                            .note(format!("template: {name}"))
                            .note("quote strings with the tojson filter: {{ prompt | tojson }}"),
                        );
                    }
                }
                bodies.push(Bytes::from(body));
            }
            Err(e) => problems.push(render_problem(&template, &ctx, entry, i, &name, &e)),
        }
    }
    if problems.is_empty() {
        Ok((name, bodies))
    } else {
        Err(problems)
    }
}

/// The request template's display name, text and source id: the file
/// `[request] template` names, else the built-in chat body.
fn template_text(
    s: &ScenarioFile,
    dir: &Path,
    sources: &mut Sources,
) -> Result<(String, String, Option<usize>), Vec<Problem>> {
    Ok(match &s.request.template {
        None => (
            BUILTIN_CHAT_NAME.to_string(),
            BUILTIN_CHAT.to_string(),
            None,
        ),
        Some(rel) => {
            // A missing template was already reported by the checks.
            let path = resolve_path(dir, rel).ok_or_else(Vec::new)?;
            let (text, id) = super::read_source("request.template", &path, sources)?;
            (path.display().to_string(), text, Some(id))
        }
    })
}

/// Why pool entry `i` does not render: the variables it lacks, or the
/// template's own error.
fn render_problem(
    template: &minijinja::Template<'_, '_>,
    ctx: &Map<String, Value>,
    entry: &Entry,
    i: usize,
    name: &str,
    e: &minijinja::Error,
) -> Problem {
    let missing: BTreeSet<String> = template
        .undeclared_variables(false)
        .into_iter()
        .filter(|v| !ctx.contains_key(v))
        .collect();
    let message = if e.kind() == minijinja::ErrorKind::UndefinedError && !missing.is_empty() {
        format!(
            "template `{name}` uses {} which pool entry {i} does not define",
            missing
                .iter()
                .map(|v| format!("`{v}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    } else {
        format!("template `{name}` fails for pool entry {i}: {e}")
    };
    let keys: Vec<&String> = ctx.keys().collect();
    Problem::new(entry.key.clone(), message)
        .at(entry.origin.clone())
        .note(format!(
            "variables it has: {}",
            keys.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")
        ))
        .note("add the variable to each pool entry or to [request.vars], or guard it with `is defined`")
}

fn strict_tojson(value: minijinja::Value) -> Result<minijinja::Value, minijinja::Error> {
    if value.is_undefined() {
        return Err(minijinja::Error::new(
            minijinja::ErrorKind::UndefinedError,
            "tojson of an undefined value",
        ));
    }
    serde_json::to_string(&value)
        .map(minijinja::Value::from_safe_string)
        .map_err(|e| minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, e.to_string()))
}

fn template_problem(
    e: &minijinja::Error,
    text: &str,
    source: Option<usize>,
    what: &str,
) -> Problem {
    let span = e.range().or_else(|| {
        let line = e.line()?;
        let start: usize = text
            .split_inclusive('\n')
            .take(line.saturating_sub(1))
            .map(str::len)
            .sum();
        let len = text[start..].find('\n').unwrap_or(text.len() - start);
        Some(start..start + len)
    });
    let origin = source
        .zip(span)
        .map(|(source, span)| Origin { source, span });
    Problem::new("request.template", format!("the request template {what}"))
        .at(origin)
        .label(e.detail().unwrap_or(&e.kind().to_string()).to_string())
}

fn pool_entries(
    s: &ScenarioFile,
    dir: &Path,
    sources: &mut Sources,
) -> Result<Vec<Entry>, Vec<Problem>> {
    let pool = &s.request.pool;
    if let Some(prompts) = &pool.prompts {
        return Ok(prompts
            .iter()
            .enumerate()
            .filter_map(|(i, p)| {
                let vars = match p {
                    Value::String(text) => {
                        Map::from_iter([("prompt".to_string(), Value::from(text.as_str()))])
                    }
                    Value::Object(map) => map.clone(),
                    _ => return None, // reported by the checks
                };
                Some(Entry {
                    vars,
                    key: format!("request.pool.prompts[{i}]"),
                    origin: None,
                })
            })
            .collect());
    }
    let Some(file) = &pool.file else {
        return Ok(vec![Entry {
            vars: Map::from_iter([("prompt".to_string(), Value::from(DEFAULT_PROMPT))]),
            key: "request.pool".into(),
            origin: None,
        }]);
    };
    let path = resolve_path(dir, file).ok_or_else(Vec::new)?;
    let (text, id) = super::read_source("request.pool.file", &path, sources)?;
    let mut entries = Vec::new();
    let mut problems = Vec::new();
    let mut offset = 0;
    for (n, line) in text.split_inclusive('\n').enumerate() {
        let start = offset;
        offset += line.len();
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with("//") {
            continue;
        }
        let origin = Some(Origin {
            source: id,
            span: start..start + line.trim_end().len(),
        });
        match pool_line(n, trimmed, origin) {
            Ok(entry) => entries.push(entry),
            Err(problem) => problems.push(problem),
        }
    }
    if entries.is_empty() && problems.is_empty() {
        problems.push(Problem::new(
            "request.pool.file",
            format!("prompt pool `{}` has no entries", path.display()),
        ));
    }
    if problems.is_empty() {
        Ok(entries)
    } else {
        Err(problems)
    }
}

/// Line `n` (0-based) of a pool file: one JSON object, the entry's variables.
fn pool_line(n: usize, trimmed: &str, origin: Option<Origin>) -> Result<Entry, Problem> {
    match serde_json::from_str::<Value>(trimmed) {
        Ok(Value::Object(vars)) => Ok(Entry {
            vars,
            key: "request.pool.file".into(),
            origin,
        }),
        Ok(_) => Err(Problem::new(
            "request.pool.file",
            format!("line {} is not a JSON object", n + 1),
        )
        .at(origin)
        .label("each line must be an object, e.g. {\"prompt\": \"…\", \"max_tokens\": 64}")),
        Err(e) => Err(Problem::new(
            "request.pool.file",
            format!("line {} is not valid JSON", n + 1),
        )
        .at(origin)
        .label(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::model::request::Pool;

    fn scenario_with(prompts: Vec<Value>) -> ScenarioFile {
        let mut s = ScenarioFile::default();
        s.request.pool = Pool {
            prompts: Some(prompts),
            ..Pool::default()
        };
        s
    }

    #[test]
    fn builtin_template_renders_valid_json_with_optional_fields() {
        let s = scenario_with(vec![
            Value::from("He said \"hi\"\n"),
            serde_json::json!({"prompt": "x", "max_tokens": 8, "temperature": 0.5}),
        ]);
        let (name, bodies) = render_all(&s, Path::new("."), &mut Sources::default()).unwrap();
        assert_eq!(name, BUILTIN_CHAT_NAME);
        let first: Value = serde_json::from_slice(&bodies[0]).unwrap();
        assert_eq!(first["messages"][0]["content"], "He said \"hi\"\n");
        assert!(first.get("max_tokens").is_none());
        let second: Value = serde_json::from_slice(&bodies[1]).unwrap();
        assert_eq!(second["max_tokens"], 8);
        assert_eq!(second["model"], "gpt-4o-mini");
    }

    #[test]
    fn missing_variable_names_the_entry_and_variable() {
        let s = scenario_with(vec![serde_json::json!({"text": "no prompt key"})]);
        let problems = render_all(&s, Path::new("."), &mut Sources::default()).unwrap_err();
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].message.contains("`prompt`"),
            "{}",
            problems[0].message
        );
        assert_eq!(problems[0].key, "request.pool.prompts[0]");
    }
}
