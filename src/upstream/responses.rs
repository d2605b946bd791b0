//! OpenAI Responses answers (`POST /v1/responses`): the `response` body and
//! the streamed events (`response.created`, `response.in_progress`,
//! `response.output_item.added`, `response.content_part.added`,
//! `response.output_text.delta` per token, `response.output_text.done`,
//! `response.content_part.done`, `response.output_item.done`,
//! `response.completed` with the usage), each with its `event:` line and a
//! `sequence_number`, as OpenAI's API and SDK write them. Errors use
//! OpenAI's usual error body.

use std::io::Write;

use serde_json::{json, Value};

use super::openai::{Id, Meta, Usage};

/// The id of the answer's one output message, from the response's number.
fn item_id(meta: &Meta) -> Id {
    Id {
        prefix: "msg_",
        seq: meta.id.seq,
    }
}

fn output_text(text: &str) -> Value {
    json!({ "type": "output_text", "text": text, "annotations": [] })
}

fn output_item(meta: &Meta, status: &str, content: Vec<Value>) -> Value {
    json!({
        "type": "message",
        "id": item_id(meta),
        "status": status,
        "role": "assistant",
        "content": content,
    })
}

/// The `response` object: finished with its output and usage, or (for
/// `response.created`) in progress with neither.
fn response(meta: &Meta, done: Option<(&str, Usage)>) -> Value {
    let (status, output, usage) = match done {
        Some((text, u)) => (
            "completed",
            vec![output_item(meta, "completed", vec![output_text(text)])],
            json!({
                "input_tokens": u.prompt_tokens,
                "input_tokens_details": { "cached_tokens": 0 },
                "output_tokens": u.completion_tokens,
                "output_tokens_details": { "reasoning_tokens": 0 },
                "total_tokens": u.total_tokens,
            }),
        ),
        None => ("in_progress", Vec::new(), Value::Null),
    };
    json!({
        "id": meta.id,
        "object": "response",
        "created_at": meta.created,
        "status": status,
        "error": null,
        "incomplete_details": null,
        "instructions": null,
        "max_output_tokens": null,
        "model": meta.model,
        "output": output,
        "parallel_tool_calls": true,
        "previous_response_id": null,
        "reasoning": { "effort": null, "summary": null },
        "store": false,
        "temperature": 1.0,
        "text": { "format": { "type": "text" } },
        "tool_choice": "auto",
        "tools": [],
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": usage,
        "user": null,
        "metadata": {},
    })
}

/// The `response` body of a plain answer.
pub fn body(meta: Meta, text: &str, usage: Usage) -> Vec<u8> {
    serde_json::to_vec(&response(&meta, Some((text, usage)))).expect("JSON values serialize")
}

/// Events before the first token; the first token's sequence number is [`FIRST_TOKEN_SEQ`].
pub fn stream_start(meta: Meta) -> Vec<u8> {
    let created = response(&meta, None);
    let mut out = Vec::with_capacity(2048);
    event(
        &mut out,
        "response.created",
        json!({ "sequence_number": 0, "response": created }),
    );
    event(
        &mut out,
        "response.in_progress",
        json!({ "sequence_number": 1, "response": created }),
    );
    event(
        &mut out,
        "response.output_item.added",
        json!({ "sequence_number": 2, "output_index": 0, "item": output_item(&meta, "in_progress", Vec::new()) }),
    );
    event(
        &mut out,
        "response.content_part.added",
        json!({ "sequence_number": 3, "item_id": item_id(&meta), "output_index": 0, "content_index": 0, "part": output_text("") }),
    );
    out
}

/// The sequence number of the first `response.output_text.delta`.
pub const FIRST_TOKEN_SEQ: u64 = 4;

/// Writes token `seq`'s `response.output_text.delta` event up to the
/// token, which the caller follows with [`DELTA_END`].
pub fn delta_head(out: &mut Vec<u8>, meta_item: Id, seq: u64) {
    let _ = write!(
        out,
        "event: response.output_text.delta\ndata: {{\"type\":\"response.output_text.delta\",\
         \"sequence_number\":{seq},\"item_id\":\"{meta_item}\",\"output_index\":0,\
         \"content_index\":0,\"delta\":\""
    );
}

/// What closes a delta event after its token.
pub const DELTA_END: &[u8] = b"\",\"logprobs\":[]}\n\n";

/// The output message's id, for [`delta_head`].
pub fn message_id(meta: &Meta) -> Id {
    item_id(meta)
}

/// Events after the last token, numbered from `seq`: the text, part and
/// item done, then `response.completed` with the whole response and usage.
pub fn stream_finish(meta: Meta, seq: u64, text: &str, usage: Usage) -> Vec<u8> {
    let mut out = Vec::with_capacity(2048 + 4 * text.len());
    let id = item_id(&meta);
    event(
        &mut out,
        "response.output_text.done",
        json!({ "sequence_number": seq, "item_id": id, "output_index": 0, "content_index": 0, "text": text, "logprobs": [] }),
    );
    event(
        &mut out,
        "response.content_part.done",
        json!({ "sequence_number": seq + 1, "item_id": id, "output_index": 0, "content_index": 0, "part": output_text(text) }),
    );
    event(
        &mut out,
        "response.output_item.done",
        json!({ "sequence_number": seq + 2, "output_index": 0, "item": output_item(&meta, "completed", vec![output_text(text)]) }),
    );
    event(
        &mut out,
        "response.completed",
        json!({ "sequence_number": seq + 3, "response": response(&meta, Some((text, usage))) }),
    );
    out
}

/// One `event:`/`data:` pair; `fields` gets `"type": kind` first.
fn event(out: &mut Vec<u8>, kind: &str, fields: Value) {
    let _ = write!(out, "event: {kind}\ndata: {{\"type\":\"{kind}\"");
    if let Value::Object(map) = fields {
        for (k, v) in map {
            out.push(b',');
            let _ = serde_json::to_writer(&mut *out, &k);
            out.push(b':');
            let _ = serde_json::to_writer(&mut *out, &v);
        }
    }
    out.extend_from_slice(b"}\n\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> Meta<'static> {
        Meta {
            id: Id {
                prefix: "resp_",
                seq: 9,
            },
            created: 1,
            model: "gpt-x",
        }
    }

    #[test]
    fn plain_body_reads_like_a_response() {
        let v: Value = serde_json::from_slice(&body(meta(), "Lorem", Usage::new(2, 1))).unwrap();
        assert_eq!(v["object"], "response");
        assert_eq!(v["status"], "completed");
        assert_eq!(v["output"][0]["content"][0]["text"], "Lorem");
        assert_eq!(v["usage"]["output_tokens"], 1);
        assert_eq!(v["usage"]["total_tokens"], 3);
    }

    #[test]
    fn stream_events_are_numbered_in_order() {
        let m = meta();
        let mut all = stream_start(m);
        for (i, token) in ["Lorem", " ipsum"].iter().enumerate() {
            delta_head(&mut all, message_id(&m), FIRST_TOKEN_SEQ + i as u64);
            all.extend_from_slice(token.as_bytes());
            all.extend_from_slice(DELTA_END);
        }
        all.extend_from_slice(&stream_finish(
            m,
            FIRST_TOKEN_SEQ + 2,
            "Lorem ipsum",
            Usage::new(1, 2),
        ));
        let text = String::from_utf8(all).unwrap();
        let mut seqs = Vec::new();
        let mut last = None;
        for event in text.split("\n\n").filter(|e| !e.is_empty()) {
            let (event_line, data) = event.split_once('\n').unwrap();
            let name = event_line.strip_prefix("event: ").unwrap();
            let v: Value = serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap();
            assert_eq!(v["type"], name);
            seqs.push(v["sequence_number"].as_u64().unwrap());
            last = Some(v);
        }
        assert_eq!(seqs, (0..seqs.len() as u64).collect::<Vec<_>>());
        let last = last.unwrap();
        assert_eq!(last["type"], "response.completed");
        assert_eq!(last["response"]["usage"]["output_tokens"], 2);
    }
}
