//! OpenAI answer bodies: completions, embeddings, models, errors, and the
//! token texts and ids they share. The request fields the fake reads are in
//! [`super::request`] (re-exported here).

use std::borrow::Cow;
use std::fmt;

use serde::Serialize;

pub use super::request::{EmbeddingsRequest, GenerateRequest, JsonStr};

/// The `i`-th completion token: words of lorem ipsum, none needing JSON escapes.
pub fn token(i: u32) -> &'static str {
    const WORDS: [&str; 16] = [
        " lorem",
        " ipsum",
        " dolor",
        " sit",
        " amet",
        ",",
        " consectetur",
        " adipiscing",
        " elit",
        ".",
        " sed",
        " do",
        " eiusmod",
        " tempor",
        " incididunt",
        " ut",
    ];
    if i == 0 {
        "Lorem"
    } else {
        WORDS[(i % 16) as usize]
    }
}

/// The whole completion text of `n` tokens.
pub fn completion_text(n: u32) -> String {
    let mut text = String::with_capacity(n as usize * 7);
    for i in 0..n {
        text.push_str(token(i));
    }
    text
}

/// Completion texts up to a length, built once: the text of `n` tokens is a
/// prefix of any longer one, so each answer borrows a slice.
#[derive(Debug)]
pub struct TextCache {
    text: String,
    /// `ends[n]`: byte length of the first `n` tokens.
    ends: Vec<usize>,
}

impl TextCache {
    pub fn new(max_tokens: u32) -> Self {
        let text = completion_text(max_tokens);
        let mut ends = Vec::with_capacity(max_tokens as usize + 1);
        ends.push(0);
        for i in 0..max_tokens {
            ends.push(ends[i as usize] + token(i).len());
        }
        Self { text, ends }
    }

    pub fn get(&self, n: u32) -> Cow<'_, str> {
        match self.ends.get(n as usize) {
            Some(&end) => Cow::Borrowed(&self.text[..end]),
            None => Cow::Owned(completion_text(n)),
        }
    }
}

/// An answer id such as `chatcmpl-000000000000002a`, written without allocating.
#[derive(Debug, Clone, Copy)]
pub struct Id {
    pub prefix: &'static str,
    pub seq: u64,
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}{:016x}", self.prefix, self.seq)
    }
}

impl Serialize for Id {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
}

impl Usage {
    pub fn new(prompt_tokens: u64, completion_tokens: u64) -> Self {
        Self {
            prompt_tokens,
            completion_tokens,
            total_tokens: prompt_tokens + completion_tokens,
        }
    }
}

/// Identity of one answer, shared by its body or all its chunks.
#[derive(Debug, Clone, Copy)]
pub struct Meta<'a> {
    pub id: Id,
    pub created: u64,
    pub model: &'a str,
}

const FINGERPRINT: &str = "fp_scenario_fake";

/// `chat.completion` body, written straight into bytes (no serializer: it
/// is the hottest path of the server).
pub fn chat_completion(meta: Meta, text: &str, usage: Usage) -> Vec<u8> {
    let mut out = Vec::with_capacity(320 + meta.model.len() + text.len());
    push_meta(&mut out, &meta, "chat.completion");
    out.extend_from_slice(br#","choices":[{"index":0,"message":{"role":"assistant","content":"#);
    push_json_str(&mut out, text);
    out.extend_from_slice(br#","refusal":null},"logprobs":null,"finish_reason":"stop"}],"#);
    push_usage(&mut out, usage);
    out
}

/// `text_completion` body, written like [`chat_completion`].
pub fn text_completion(meta: Meta, text: &str, usage: Usage) -> Vec<u8> {
    let mut out = Vec::with_capacity(280 + meta.model.len() + text.len());
    push_meta(&mut out, &meta, "text_completion");
    out.extend_from_slice(br#","choices":[{"text":"#);
    push_json_str(&mut out, text);
    out.extend_from_slice(br#","index":0,"logprobs":null,"finish_reason":"stop"}],"#);
    push_usage(&mut out, usage);
    out
}

/// `{"id":…,"object":…,"created":…,"model":…,"system_fingerprint":…`
fn push_meta(out: &mut Vec<u8>, meta: &Meta, object: &str) {
    out.extend_from_slice(br#"{"id":""#);
    out.extend_from_slice(meta.id.prefix.as_bytes());
    push_hex16(out, meta.id.seq);
    out.extend_from_slice(br#"","object":""#);
    out.extend_from_slice(object.as_bytes());
    out.extend_from_slice(br#"","created":"#);
    push_u64(out, meta.created);
    out.extend_from_slice(br#","model":"#);
    push_json_str(out, meta.model);
    out.extend_from_slice(br#","system_fingerprint":""#);
    out.extend_from_slice(FINGERPRINT.as_bytes());
    out.push(b'"');
}

/// `"usage":{…}}`: the usage object and the body's closing brace.
fn push_usage(out: &mut Vec<u8>, usage: Usage) {
    out.extend_from_slice(br#""usage":{"prompt_tokens":"#);
    push_u64(out, usage.prompt_tokens);
    out.extend_from_slice(br#","completion_tokens":"#);
    push_u64(out, usage.completion_tokens);
    out.extend_from_slice(br#","total_tokens":"#);
    push_u64(out, usage.total_tokens);
    out.extend_from_slice(b"}}");
}

/// `s` as a JSON string; copied as is when nothing in it needs escaping
/// (completion texts never do), else escaped by serde_json.
pub fn push_json_str(out: &mut Vec<u8>, s: &str) {
    // A fold, not `any`: no early exit, so the scan is vectorised.
    let escape = s
        .bytes()
        .fold(false, |e, b| e | (b < 0x20) | (b == b'"') | (b == b'\\'));
    if escape {
        let _ = serde_json::to_writer(&mut *out, s);
    } else {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    }
}

/// `n` in decimal.
pub fn push_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// `n` as 16 lowercase hex digits (as `{:016x}` writes it).
fn push_hex16(out: &mut Vec<u8>, n: u64) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut digits = [0u8; 16];
    for (i, d) in digits.iter_mut().enumerate() {
        *d = HEX[((n >> (60 - 4 * i)) & 15) as usize];
    }
    out.extend_from_slice(&digits);
}

/// Embeddings body: `items` vectors of `dims` floats, as JSON numbers or as
/// base64 of little-endian f32 (`encoding_format = "base64"`).
pub fn embeddings(model: &str, items: u32, dims: u32, base64: bool, prompt_tokens: u64) -> Vec<u8> {
    use std::io::Write;
    let mut out = Vec::with_capacity(128 + items as usize * (64 + dims as usize * 12));
    out.extend_from_slice(br#"{"object":"list","data":["#);
    let norm = 1.0 / (dims as f32).sqrt();
    for item in 0..items {
        if item > 0 {
            out.push(b',');
        }
        let _ = write!(out, r#"{{"object":"embedding","index":{item},"embedding":"#);
        // A fixed unit vector per index: alternating signs of 1/sqrt(dims).
        let value = |d: u32| if (d + item) % 2 == 0 { norm } else { -norm };
        if base64 {
            let mut raw = Vec::with_capacity(dims as usize * 4);
            for d in 0..dims {
                raw.extend_from_slice(&value(d).to_le_bytes());
            }
            out.push(b'"');
            base64_encode(&raw, &mut out);
            out.push(b'"');
        } else {
            out.push(b'[');
            for d in 0..dims {
                if d > 0 {
                    out.push(b',');
                }
                let _ = write!(out, "{}", value(d));
            }
            out.push(b']');
        }
        out.push(b'}');
    }
    out.extend_from_slice(br#"],"model":"#);
    let _ = serde_json::to_writer(&mut out, model);
    let _ = write!(
        out,
        r#","usage":{{"prompt_tokens":{prompt_tokens},"total_tokens":{prompt_tokens}}}}}"#
    );
    out
}

/// `GET /v1/models` body.
pub fn models(ids: &[String]) -> Vec<u8> {
    let data: Vec<_> = ids.iter().map(|id| model_object(id)).collect();
    to_vec(&serde_json::json!({ "object": "list", "data": data }), 256)
}

/// `GET /v1/models/{id}` body.
pub fn model(id: &str) -> Vec<u8> {
    to_vec(&model_object(id), 128)
}

fn model_object(id: &str) -> serde_json::Value {
    serde_json::json!({ "id": id, "object": "model", "created": 1_700_000_000u64, "owned_by": "scenario-fake-upstream" })
}

/// An error body in OpenAI's shape.
pub fn error(message: &str, kind: &str, code: Option<&str>) -> Vec<u8> {
    to_vec(
        &serde_json::json!({ "error": { "message": message, "type": kind, "param": null, "code": code } }),
        128 + message.len(),
    )
}

fn to_vec<T: Serialize>(value: &T, capacity: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(capacity);
    serde_json::to_writer(&mut out, value).expect("serializing to a Vec cannot fail");
    out
}

fn base64_encode(input: &[u8], out: &mut Vec<u8>) {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        out.push(TABLE[(n >> 18) as usize & 63]);
        out.push(TABLE[(n >> 12) as usize & 63]);
        out.push(if chunk.len() > 1 {
            TABLE[(n >> 6) as usize & 63]
        } else {
            b'='
        });
        out.push(if chunk.len() > 2 {
            TABLE[n as usize & 63]
        } else {
            b'='
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_valid_json() {
        let meta = Meta {
            id: Id {
                prefix: "chatcmpl-",
                seq: 1,
            },
            created: 5,
            model: "we\"ird",
        };
        let v: serde_json::Value = serde_json::from_slice(&chat_completion(
            meta,
            &completion_text(3),
            Usage::new(2, 3),
        ))
        .unwrap();
        assert_eq!(v["choices"][0]["message"]["content"], "Lorem ipsum dolor");
        assert_eq!(v["model"], "we\"ird");
        assert_eq!(v["id"], "chatcmpl-0000000000000001");
        assert_eq!(v["usage"]["total_tokens"], 5);
        let v: serde_json::Value =
            serde_json::from_slice(&text_completion(meta, "x", Usage::new(1, 1))).unwrap();
        assert_eq!(v["choices"][0]["text"], "x");
        let v: serde_json::Value =
            serde_json::from_slice(&embeddings("e", 2, 4, false, 7)).unwrap();
        assert_eq!(v["data"][1]["embedding"].as_array().unwrap().len(), 4);
        assert_eq!(v["usage"]["prompt_tokens"], 7);
        let v: serde_json::Value = serde_json::from_slice(&embeddings("e", 1, 4, true, 7)).unwrap();
        assert_eq!(v["data"][0]["embedding"].as_str().unwrap().len(), 24); // 16 bytes -> 24 chars
        let v: serde_json::Value = serde_json::from_slice(&error("no", "x", Some("c"))).unwrap();
        assert_eq!(v["error"]["code"], "c");
    }

    #[test]
    fn written_bodies_match_the_openai_shape_exactly() {
        let meta = Meta {
            id: Id {
                prefix: "cmpl-",
                seq: 0xdead_beef_0123,
            },
            created: 1_700_000_000,
            model: "m\\x\n",
        };
        let body = text_completion(meta, "a \"quoted\"\ttext", Usage::new(7, 3));
        let expected = serde_json::json!({
            "id": "cmpl-0000deadbeef0123", "object": "text_completion", "created": 1_700_000_000u64,
            "model": "m\\x\n", "system_fingerprint": "fp_scenario_fake",
            "choices": [{"text": "a \"quoted\"\ttext", "index": 0, "logprobs": null, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}
        });
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&body).unwrap(),
            expected
        );
        let body = chat_completion(meta, "", Usage::new(0, 0));
        let text = std::str::from_utf8(&body).unwrap();
        assert!(text.starts_with(r#"{"id":"cmpl-0000deadbeef0123","object":"chat.completion","created":1700000000,"model":"m\\x\n","#), "{text}");
        assert!(text.ends_with(r#""content":"","refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":0,"completion_tokens":0,"total_tokens":0}}"#), "{text}");
    }

    #[test]
    fn text_cache_slices_match_built_texts() {
        let cache = TextCache::new(40);
        for n in [0, 1, 2, 16, 17, 40, 41, 100] {
            assert_eq!(cache.get(n), completion_text(n), "{n}");
        }
        assert!(matches!(cache.get(40), Cow::Borrowed(_)));
    }

    #[test]
    fn base64_matches_known_values() {
        let enc = |s: &[u8]| {
            let mut out = Vec::new();
            base64_encode(s, &mut out);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(enc(b""), "");
        assert_eq!(enc(b"f"), "Zg==");
        assert_eq!(enc(b"fo"), "Zm8=");
        assert_eq!(enc(b"foo"), "Zm9v");
        assert_eq!(enc(b"foobar"), "Zm9vYmFy");
    }
}
