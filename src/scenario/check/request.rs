//! Checks `[request]`: method, path, timeout, headers, template and prompt pool.

use std::path::Path;

use crate::diag::Problem;
use crate::scenario::model::{Request, ScenarioFile};
use crate::scenario::resolve_path;

const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

pub(super) fn check_request(s: &ScenarioFile, dir: &Path, out: &mut Vec<Problem>) {
    let r = &s.request;
    if !METHODS.contains(&r.method.as_str()) {
        out.push(
            Problem::new(
                "request.method",
                format!("unknown HTTP method `{}`", r.method),
            )
            .note(format!("valid methods: {}", METHODS.join(", "))),
        );
    }
    if let Some(path) = r.path.as_ref().filter(|p| !p.starts_with('/')) {
        out.push(
            Problem::new("request.path", format!("path `{path}` must start with `/`"))
                .label(format!("write \"/{path}\"")),
        );
    }
    if r.timeout.is_zero() {
        out.push(Problem::new(
            "request.timeout",
            "timeout must be longer than zero",
        ));
    }
    for (name, value) in &r.headers {
        out.extend(header_problem(
            &format!("request.headers.{name}"),
            name,
            value,
        ));
    }
    if let Some(template) = &r.template {
        if resolve_path(dir, template).is_none() {
            out.push(
                Problem::new(
                    "request.template",
                    format!("template `{}` not found", template.display()),
                )
                .label("no such file")
                .note(format!(
                    "looked in {} and the folders above it; request templates live under templates/requests/",
                    dir.display()
                )),
            );
        }
    }
    check_pool(r, dir, out);
}

/// `[request.pool]`: inline `prompts` or a `file`, not both, and what they hold.
fn check_pool(r: &Request, dir: &Path, out: &mut Vec<Problem>) {
    if r.pool.prompts.is_some() && r.pool.file.is_some() {
        out.push(
            Problem::new(
                "request.pool.file",
                "set either `prompts` or `file` in [request.pool], not both",
            )
            .label("remove one of them"),
        );
    }
    if let Some(file) = &r.pool.file {
        if resolve_path(dir, file).is_none() {
            out.push(
                Problem::new(
                    "request.pool.file",
                    format!("prompt pool `{}` not found", file.display()),
                )
                .label("no such file")
                .note(format!(
                    "looked in {} and the folders above it",
                    dir.display()
                )),
            );
        }
    }
    if let Some(prompts) = &r.pool.prompts {
        if prompts.is_empty() {
            out.push(Problem::new(
                "request.pool.prompts",
                "the prompt pool is empty",
            ));
        }
        for (i, p) in prompts.iter().enumerate() {
            if !(p.is_string() || p.is_object()) {
                out.push(
                    Problem::new(
                        format!("request.pool.prompts[{i}]"),
                        "a pool entry must be a string or a table",
                    )
                    .label("e.g. \"Say hi\" or { prompt = \"Say hi\", max_tokens = 16 }"),
                );
            }
        }
    }
}

/// The problem with a request header, if any: a name that is not an HTTP
/// token, or a value with CR, LF or another control character (which would
/// end the header early or smuggle another one).
pub fn header_problem(key: &str, name: &str, value: &str) -> Option<Problem> {
    if hyper::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
        return Some(
            Problem::new(key, format!("`{name}` is not a valid header name"))
                .label("a header name is letters, digits and !#$%&'*+-.^_`|~, no spaces or colons"),
        );
    }
    control_char(key, "header value", value)
}

/// A problem when `value` holds a control character other than tab.
pub(super) fn control_char(key: &str, what: &str, value: &str) -> Option<Problem> {
    let (at, c) = value
        .char_indices()
        .find(|&(_, c)| c.is_control() && c != '\t')?;
    let name = match c {
        '\r' => "a carriage return (CR, \\r)".to_string(),
        '\n' => "a line feed (LF, \\n)".to_string(),
        c => format!("the control character U+{:04X}", u32::from(c)),
    };
    Some(
        Problem::new(
            key,
            format!(
                "the {what} contains {name} at character {}",
                value[..at].chars().count() + 1
            ),
        )
        .label("remove it: control characters would split or corrupt the HTTP header"),
    )
}
