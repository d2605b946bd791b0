//! Renders a gateway profile's templates; an error points at the profile
//! file's line and column, names the undefined variable and lists the ones
//! that exist.

use std::ops::Range;
use std::path::Path;

use minijinja::{Environment, ErrorKind, UndefinedBehavior};
use serde_json::Value;

use super::PlanError;
use crate::diag::{Diagnostics, Origin, Problem, Sources};
use crate::scenario::tree::{self, KeyPath};

/// Where in a template a problem is: the template, a line of it, a byte range of it.
pub type Place<'t> = (&'t str, Option<usize>, Option<Range<usize>>);

/// Renders the templates of one profile file.
pub struct Renderer<'a> {
    env: Environment<'static>,
    name: &'a str,
    path: &'a Path,
    /// The profile file's text, to point into; without it errors are plain.
    text: Option<&'a str>,
}

impl<'a> Renderer<'a> {
    pub fn new(name: &'a str, path: &'a Path, text: Option<&'a str>) -> Renderer<'a> {
        let mut env = Environment::new();
        // Printing an undefined value fails; testing one (`{% if auth %}`) is allowed.
        env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
        Renderer {
            env,
            name,
            path,
            text,
        }
    }

    /// Render the template written at `key` (a key path in the profile).
    pub fn render(&self, key: &str, template: &str, ctx: &Value) -> Result<String, PlanError> {
        self.env
            .render_str(template, ctx)
            .map_err(|e| self.template_error(key, template, &e, ctx))
    }

    /// Evaluate the expression written at `key` (a `when`).
    pub fn truthy(&self, key: &str, expr: &str, ctx: &Value) -> Result<bool, PlanError> {
        let fail = |e: minijinja::Error| self.template_error(key, expr, &e, ctx);
        let compiled = self.env.compile_expression(expr).map_err(fail)?;
        Ok(compiled.eval(ctx).map_err(fail)?.is_true())
    }

    fn template_error(
        &self,
        key: &str,
        template: &str,
        e: &minijinja::Error,
        ctx: &Value,
    ) -> PlanError {
        let range = e.range().filter(|r| template.get(r.clone()).is_some());
        let what = range.clone().map(|r| template[r].trim().to_string());
        let message = match (e.kind(), &what) {
            (ErrorKind::UndefinedError, Some(w)) if !w.is_empty() => format!(
                "gateway profile `{}`: `{w}` is undefined in `{key}`",
                self.name
            ),
            _ => format!(
                "gateway profile `{}`: cannot render `{key}`: {}",
                self.name,
                e.detail()
                    .map_or(e.kind().to_string(), |d| format!("{}: {d}", e.kind()))
            ),
        };
        let mut problem = Problem::new(key, message).label(e.kind().to_string());
        if let Some(fields) = what.as_deref().and_then(|w| fields_of(w, ctx)) {
            problem = problem.note(fields);
        }
        let problem = problem.note(format!("variables it can use: {}", variables(ctx)));
        self.problem(problem, Some((template, e.line(), range)))
    }

    /// `problem` at its key in the profile file, narrowed to a place in the
    /// template (its line, or a byte range of it) when one is known.
    pub fn problem(&self, problem: Problem, place: Option<Place>) -> PlanError {
        let Some(text) = self.text else {
            let notes: String = problem.notes.iter().map(|n| format!("\n  {n}")).collect();
            return PlanError::Template {
                path: self.path.to_path_buf(),
                message: format!("{}{notes}", problem.message),
            };
        };
        let mut sources = Sources::default();
        let id = sources.add(self.path.display().to_string(), text.to_string());
        let origin = tree::parse(&sources, id).ok().and_then(|root| {
            let value = root.origin_of(&KeyPath::parse(&problem.key)?, false)?;
            Some(match place {
                Some((template, line, range)) => narrow(text, value, template, line, range),
                None => value,
            })
        });
        PlanError::Input(Diagnostics {
            sources,
            problems: vec![problem.at(origin)],
        })
    }
}

/// The top-level names a template can use, comma-separated.
fn variables(ctx: &Value) -> String {
    ctx.as_object()
        .map(|m| m.keys().cloned().collect::<Vec<_>>().join(", "))
        .unwrap_or_default()
}

/// For an undefined `a.b.c`: the keys the deepest defined parent has,
/// e.g. "`upstream` has: url".
fn fields_of(expr: &str, ctx: &Value) -> Option<String> {
    let parts: Vec<&str> = expr.split('.').map(str::trim).collect();
    if parts.len() < 2
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.chars().all(|c| c.is_alphanumeric() || c == '_'))
    {
        return None;
    }
    let mut value = ctx;
    let mut depth = 0;
    for part in &parts[..parts.len() - 1] {
        match value.get(part) {
            Some(v) => {
                value = v;
                depth += 1;
            }
            None => break,
        }
    }
    if depth == 0 {
        return None;
    }
    let keys: Vec<&str> = value.as_object()?.keys().map(String::as_str).collect();
    Some(format!(
        "`{}` has: {}",
        parts[..depth].join("."),
        if keys.is_empty() {
            "nothing".to_string()
        } else {
            keys.join(", ")
        }
    ))
}

/// Narrow the origin of a string value to `range` of its template (when the
/// file holds the same text there, i.e. no escapes came before), else to
/// its `line`, else leave it whole.
fn narrow(
    text: &str,
    value: Origin,
    template: &str,
    line: Option<usize>,
    range: Option<Range<usize>>,
) -> Origin {
    let Some(raw) = text.get(value.span.clone()) else {
        return value;
    };
    let skip = if raw.starts_with("\"\"\"") || raw.starts_with("'''") {
        3 + [("\r\n", 2), ("\n", 1)]
            .iter()
            .find(|(nl, _)| raw[3..].starts_with(nl))
            .map_or(0, |(_, n)| *n)
    } else {
        usize::from(raw.starts_with('"') || raw.starts_with('\''))
    };
    let body = value.span.start + skip..value.span.end;
    let at = |span: Range<usize>| Origin {
        source: value.source,
        span,
    };
    if let Some(r) = range {
        let span = body.start + r.start..body.start + r.end;
        if span.end <= body.end && text.get(span.clone()) == template.get(r) {
            return at(span);
        }
    }
    if let Some(line) = line {
        let mut offset = body.start;
        for (i, l) in text[body.clone()].split_inclusive('\n').enumerate() {
            if i + 1 == line {
                let len = l.trim_end().len().min(body.end - offset);
                return at(offset..offset + len);
            }
            offset += l.len();
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const PROFILE: &str = "name = \"x\"\n[instance]\ncommand = \"\"\"\nrun\n  --port {{ port }} --user {{ usr }}\n\"\"\"\n";

    #[test]
    fn an_undefined_variable_is_named_and_located_in_the_profile() {
        let r = Renderer::new("x", Path::new("x.toml"), Some(PROFILE));
        let template = "run\n  --port {{ port }} --user {{ usr }}\n";
        let err = r
            .render(
                "instance.command",
                template,
                &json!({ "port": 1, "user": "u" }),
            )
            .unwrap_err();
        let PlanError::Input(d) = &err else {
            panic!("not located: {err}")
        };
        let origin = d.problems[0].origin.as_ref().unwrap();
        assert_eq!(d.sources.locate(origin), "x.toml:5:31", "{err}");
        let text = err.to_string();
        assert!(
            text.contains("`usr` is undefined in `instance.command`"),
            "{text}"
        );
        assert!(text.contains("variables it can use: port, user"), "{text}");
    }

    #[test]
    fn an_undefined_field_lists_the_fields_its_parent_has() {
        let r = Renderer::new("x", Path::new("x.toml"), None);
        let err = r
            .render(
                "request.path",
                "{{ upstream.uri }}",
                &json!({ "upstream": { "url": "u" } }),
            )
            .unwrap_err()
            .to_string();
        assert!(err.contains("`upstream.uri` is undefined"), "{err}");
        assert!(err.contains("`upstream` has: url"), "{err}");
    }

    #[test]
    fn without_the_file_the_error_still_names_it() {
        let r = Renderer::new("x", Path::new("x.toml"), None);
        let err = r
            .render("request.path", "{{ nope }}", &json!({}))
            .unwrap_err();
        assert!(err.to_string().contains("x.toml"), "{err}");
        assert!(err.to_string().contains("`nope` is undefined"), "{err}");
    }
}
