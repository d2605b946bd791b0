//! Anthropic Messages answers (`POST /v1/messages`): the `message` body, the
//! streamed events (`message_start`, `content_block_start`, `ping`,
//! `content_block_delta` with `text_delta`, `content_block_stop`,
//! `message_delta` with the usage, `message_stop`, each with its `event:`
//! line) and the error body, as Anthropic's API and SDKs write them.

use std::io::Write;

use serde::Serialize;

use super::openai::{Meta, Usage};

/// Anthropic's usage: `input_tokens` and `output_tokens`.
#[derive(Serialize)]
struct AnthropicUsage {
    input_tokens: u64,
    output_tokens: u64,
}

impl From<Usage> for AnthropicUsage {
    fn from(u: Usage) -> Self {
        AnthropicUsage {
            input_tokens: u.prompt_tokens,
            output_tokens: u.completion_tokens,
        }
    }
}

#[derive(Serialize)]
struct Message<'a> {
    id: super::openai::Id,
    #[serde(rename = "type")]
    kind: &'static str,
    role: &'static str,
    model: &'a str,
    content: Vec<TextBlock<'a>>,
    stop_reason: Option<&'static str>,
    stop_sequence: Option<()>,
    usage: AnthropicUsage,
}

#[derive(Serialize)]
struct TextBlock<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    text: &'a str,
}

/// The `message` body of a plain answer.
pub fn message(meta: Meta, text: &str, usage: Usage) -> Vec<u8> {
    let body = Message {
        id: meta.id,
        kind: "message",
        role: "assistant",
        model: meta.model,
        content: vec![TextBlock { kind: "text", text }],
        stop_reason: Some("end_turn"),
        stop_sequence: None,
        usage: usage.into(),
    };
    let mut out = Vec::with_capacity(256 + text.len());
    serde_json::to_writer(&mut out, &body).expect("serializing to a Vec cannot fail");
    out
}

/// Everything before the first token: `message_start` (the message with no
/// content yet and the input tokens), `content_block_start`, `ping`.
pub fn stream_start(meta: Meta, prompt_tokens: u64) -> Vec<u8> {
    let body = Message {
        id: meta.id,
        kind: "message",
        role: "assistant",
        model: meta.model,
        content: Vec::new(),
        stop_reason: None,
        stop_sequence: None,
        usage: AnthropicUsage {
            input_tokens: prompt_tokens,
            output_tokens: 1,
        },
    };
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(b"event: message_start\ndata: {\"type\":\"message_start\",\"message\":");
    serde_json::to_writer(&mut out, &body).expect("serializing to a Vec cannot fail");
    out.extend_from_slice(
        b"}\n\nevent: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\
          \"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n\
          event: ping\ndata: {\"type\": \"ping\"}\n\n",
    );
    out
}

/// The parts of one token's `content_block_delta` event around the token.
pub const DELTA: [&[u8]; 2] = [
    b"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\
      \"delta\":{\"type\":\"text_delta\",\"text\":\"",
    b"\"}}\n\n",
];

/// Everything after the last token: `content_block_stop`, `message_delta`
/// (stop reason and the output tokens), `message_stop`.
pub fn stream_finish(output_tokens: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(384);
    let _ = write!(
        out,
        "event: content_block_stop\ndata: {{\"type\":\"content_block_stop\",\"index\":0}}\n\n\
         event: message_delta\ndata: {{\"type\":\"message_delta\",\"delta\":{{\"stop_reason\":\
         \"end_turn\",\"stop_sequence\":null}},\"usage\":{{\"output_tokens\":{output_tokens}}}}}\n\n\
         event: message_stop\ndata: {{\"type\":\"message_stop\"}}\n\n"
    );
    out
}

/// An error body in Anthropic's shape, its `type` chosen from the status.
pub fn error(status: u16, message: &str) -> Vec<u8> {
    let kind = match status {
        400 | 405 | 413 => "invalid_request_error",
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        429 => "rate_limit_error",
        503 | 529 => "overloaded_error",
        _ => "api_error",
    };
    let body =
        serde_json::json!({ "type": "error", "error": { "type": kind, "message": message } });
    serde_json::to_vec(&body).expect("serializing to a Vec cannot fail")
}

#[cfg(test)]
mod tests {
    use super::super::openai::Id;
    use super::*;

    fn meta() -> Meta<'static> {
        Meta {
            id: Id {
                prefix: "msg_",
                seq: 7,
            },
            created: 1,
            model: "claude-x",
        }
    }

    #[test]
    fn plain_message_has_anthropic_fields() {
        let v: serde_json::Value =
            serde_json::from_slice(&message(meta(), "Lorem ipsum", Usage::new(3, 2))).unwrap();
        assert_eq!(v["type"], "message");
        assert_eq!(v["id"], "msg_0000000000000007");
        assert_eq!(v["content"][0]["text"], "Lorem ipsum");
        assert_eq!(v["stop_reason"], "end_turn");
        assert_eq!(v["usage"]["input_tokens"], 3);
        assert_eq!(v["usage"]["output_tokens"], 2);
        let e: serde_json::Value = serde_json::from_slice(&error(429, "slow down")).unwrap();
        assert_eq!(e["error"]["type"], "rate_limit_error");
    }

    #[test]
    fn stream_events_are_json_with_event_lines() {
        let mut all = stream_start(meta(), 4);
        all.extend_from_slice(&[DELTA[0], b"Lorem", DELTA[1]].concat());
        all.extend_from_slice(&stream_finish(1));
        let text = String::from_utf8(all).unwrap();
        let mut kinds = Vec::new();
        for event in text.split("\n\n").filter(|e| !e.is_empty()) {
            let (event_line, data) = event.split_once('\n').unwrap();
            let name = event_line.strip_prefix("event: ").unwrap();
            let v: serde_json::Value =
                serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap();
            assert_eq!(v["type"], name);
            kinds.push(name.to_string());
        }
        assert_eq!(
            kinds,
            [
                "message_start",
                "content_block_start",
                "ping",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop"
            ]
        );
    }
}
