//! Keeping secrets out of what is shown: header values that look secret and
//! the run's passwords and keys, replaced by `<redacted>` (in a typed
//! value's JSON, so that it still reads back: [`redact_readable`]).

/// `text` with each of `secrets` replaced by `<redacted>`.
pub fn hide(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_string();
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        out = out.replace(secret.as_str(), "<redacted>");
    }
    out
}

/// Replace secrets in every string of a JSON value.
pub fn redact_secrets(value: &mut serde_json::Value, secrets: &[String]) {
    match value {
        serde_json::Value::String(s) => *s = hide(s, secrets),
        serde_json::Value::Array(items) => {
            items.iter_mut().for_each(|v| redact_secrets(v, secrets))
        }
        serde_json::Value::Object(map) => map.values_mut().for_each(|v| redact_secrets(v, secrets)),
        _ => {}
    }
}

/// `value` (the JSON of a `T`) with every secret replaced by `<redacted>`
/// in its strings, except where that leaves a `T` that does not read back:
/// a string that must parse (a duration `10s`, a variant's name such as
/// `requests`) of which a short secret (`s`) is only a part. Such a string
/// is a word the plan writes itself, never a secret's value, so it stays
/// as it was. Should `value` itself not read back as a `T`, every string
/// is redacted regardless.
pub fn redact_readable<T: serde::de::DeserializeOwned>(
    value: &mut serde_json::Value,
    secrets: &[String],
) {
    let plain = value.clone();
    redact_secrets(value, secrets);
    if T::deserialize(&*value).is_ok() || T::deserialize(&plain).is_err() {
        return;
    }
    let mut changed = Vec::new();
    changed_strings(&plain, value, &mut String::new(), &mut changed);
    // Each change alone on the plain value: one that breaks it is undone.
    let mut probe = plain;
    for pointer in changed {
        let (Some(slot), Some(hidden)) = (probe.pointer_mut(&pointer), value.pointer(&pointer))
        else {
            continue;
        };
        let original = std::mem::replace(slot, hidden.clone());
        let readable = T::deserialize(&probe).is_ok();
        if let Some(slot) = probe.pointer_mut(&pointer) {
            if !readable {
                if let Some(shown) = value.pointer_mut(&pointer) {
                    *shown = original.clone();
                }
            }
            *slot = original;
        }
    }
}

/// The JSON pointer of every string of `plain` that differs in `redacted`
/// (the same shape, strings aside).
fn changed_strings(
    plain: &serde_json::Value,
    redacted: &serde_json::Value,
    at: &mut String,
    out: &mut Vec<String>,
) {
    use serde_json::Value;
    let mut below = |at: &mut String, key: &str, a: &Value, b: &Value| {
        let len = at.len();
        at.push('/');
        at.push_str(&key.replace('~', "~0").replace('/', "~1"));
        changed_strings(a, b, at, out);
        at.truncate(len);
    };
    match (plain, redacted) {
        (Value::String(a), Value::String(b)) if a != b => out.push(at.clone()),
        (Value::Array(a), Value::Array(b)) => {
            for (i, (a, b)) in a.iter().zip(b).enumerate() {
                below(at, &i.to_string(), a, b);
            }
        }
        (Value::Object(a), Value::Object(b)) => {
            for (k, a) in a {
                if let Some(b) = b.get(k) {
                    below(at, k, a, b);
                }
            }
        }
        _ => {}
    }
}

fn is_secret(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    [
        "authorization",
        "api-key",
        "x-api-key",
        "cookie",
        "token",
        "secret",
        "password",
    ]
    .iter()
    .any(|s| name.contains(s))
}

/// Shown as `Bearer <redacted>`-style text: the scheme stays, the secret goes.
pub fn redact(name: &str, value: &str) -> String {
    if !is_secret(name) {
        return value.to_string();
    }
    match value.split_once(' ') {
        Some((scheme, _)) => format!("{scheme} <redacted>"),
        None => "<redacted>".into(),
    }
}

/// Headers as shown: a JSON object of name to value, secret-looking values
/// redacted (`with = "headers"` on a `Vec<(String, String)>` field); read
/// back in order (a report's plan).
pub(super) mod headers {
    use super::redact;
    use serde::Deserialize;

    pub fn serialize<S: serde::Serializer>(
        h: &[(String, String)],
        s: S,
    ) -> Result<S::Ok, S::Error> {
        // A name given twice is written once, where it first came, with
        // its last value (as a JSON object reads it).
        let mut map = indexmap::IndexMap::with_capacity(h.len());
        for (k, v) in h {
            map.insert(k.as_str(), redact(k, v));
        }
        serde::Serialize::serialize(&map, s)
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Vec<(String, String)>, D::Error> {
        let map = indexmap::IndexMap::<String, String>::deserialize(d)?;
        Ok(map.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Deserialize)]
    #[serde(rename_all = "snake_case")]
    #[allow(dead_code)]
    enum Kind {
        Requests,
    }

    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct Shown {
        url: String,
        kind: Kind,
    }

    #[test]
    fn only_the_words_that_must_parse_keep_a_short_secret() {
        let mut value = json!({"url": "http://u:s@h/s", "kind": "requests"});
        redact_readable::<Shown>(&mut value, &["s".to_string()]);
        let want = json!({"url": "http://u:<redacted>@h/<redacted>", "kind": "requests"});
        assert_eq!(value, want);
    }

    /// Nothing is left in clear on the grounds that hiding it breaks a
    /// value that did not read back in the first place.
    #[test]
    fn a_value_that_never_read_back_is_redacted_everywhere() {
        let mut value = json!({"url": "s", "kind": "steps"});
        redact_readable::<Shown>(&mut value, &["s".to_string()]);
        let want = json!({"url": "<redacted>", "kind": "<redacted>tep<redacted>"});
        assert_eq!(value, want);
    }
}
