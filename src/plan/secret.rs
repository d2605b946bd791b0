//! Keeping secrets out of what is shown: header values that look secret and
//! the run's passwords and keys, replaced by `<redacted>`.

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
