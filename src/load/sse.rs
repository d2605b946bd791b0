//! Incremental scanning of answers as they arrive, without allocating.
//!
//! [`SseScanner`] reads a Server-Sent Events stream frame by frame and says,
//! per event, whether it carried content, whether it ended the stream, and
//! the output token count when an event reported usage; and for the whole
//! stream whether it had the request dialect's shape. What counts as each
//! depends on the dialect ([`Markers`]): chat chunks carry a non-empty
//! `"content"` or `"text"`, report `"completion_tokens"` and end with
//! `data: [DONE]`; Anthropic events carry `"text"`, report `"output_tokens"`
//! and end with `"type": "message_stop"`; Responses events carry `"delta"`,
//! report `"output_tokens"` and end with `"type": "response.completed"`.
//! Events, lines and keys may be split anywhere across frames: the state is a
//! handful of small counters, never a buffer; the key matchers and the
//! plain-body scanners are in [`super::scan`].

use super::scan::{Hit, KeyMatcher, Pair};
use crate::dialect::Dialect;

/// What a dialect's answers look like to the scanners.
#[derive(Debug, Clone, Copy)]
pub struct Markers {
    /// Keys whose non-empty string value is a streamed token.
    content: [Option<&'static [u8]>; 2],
    /// The key of the output token count in the usage (with quotes).
    pub tokens: &'static [u8],
    /// The end of a stream: `data: [DONE]` when `None`, else this pair.
    end: Option<Pair>,
    /// Found in some event of a well-shaped stream; `None`: not checked.
    stream_shape: Option<Pair>,
    /// Found in a well-shaped plain body; `None`: not checked.
    pub body_shape: Option<Pair>,
}

impl Markers {
    /// Chat or text completions, shape unchecked (a path of no known dialect).
    pub const CHAT: Markers = Markers {
        content: [Some(b"\"content\""), Some(b"\"text\"")],
        tokens: b"\"completion_tokens\"",
        end: None,
        stream_shape: None,
        body_shape: None,
    };

    pub const fn of(dialect: Option<Dialect>) -> Markers {
        const TYPE: &[u8] = b"\"type\"";
        match dialect {
            None => Markers::CHAT,
            Some(Dialect::OpenaiChat) => Markers {
                stream_shape: Some(Pair::new(b"\"choices\"", None)),
                body_shape: Some(Pair::new(b"\"choices\"", None)),
                ..Markers::CHAT
            },
            Some(Dialect::AnthropicMessages) => Markers {
                content: [Some(b"\"text\""), None],
                tokens: b"\"output_tokens\"",
                end: Some(Pair::new(TYPE, Some(b"message_stop"))),
                stream_shape: Some(Pair::new(TYPE, Some(b"message_start"))),
                body_shape: Some(Pair::new(TYPE, Some(b"message"))),
            },
            Some(Dialect::OpenaiResponses) => Markers {
                content: [Some(b"\"delta\""), None],
                tokens: b"\"output_tokens\"",
                end: Some(Pair::new(TYPE, Some(b"response.completed"))),
                stream_shape: Some(Pair::new(TYPE, Some(b"response.created"))),
                body_shape: Some(Pair::new(b"\"object\"", Some(b"response"))),
            },
        }
    }
}

/// One complete event, as the scanner hands it over.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Event {
    /// A content key of the dialect with a non-empty string value.
    pub content: bool,
    /// The event ends the stream: `data: [DONE]`, or the dialect's last event.
    pub done: bool,
    /// The event's data was exactly `[DONE]` (chat's end; after another
    /// dialect's last event, harmless).
    pub sentinel: bool,
    /// The event reported its output tokens (`"completion_tokens": N` or
    /// `"output_tokens": N`).
    pub completion_tokens: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Line {
    /// At the first byte of a line.
    Start,
    /// `n` bytes of `data:` matched at the start of a line.
    Field(u8),
    /// Right after `data:` (one optional space is skipped).
    ValueStart,
    /// Inside a `data:` value.
    Value,
    /// Inside a line that is not `data:` (`event:`, `id:`, a `:` comment…).
    Skip,
}

/// The incremental SSE state machine. Lines end in `\n` (a `\r` before it is
/// ignored); a blank line ends an event; only `data:` lines are read.
#[derive(Debug, Clone)]
pub struct SseScanner {
    markers: Markers,
    line: Line,
    /// Bytes of `[DONE]` matched at the start of the current data value;
    /// `u8::MAX` once the value is something else.
    done_pos: u8,
    content: KeyMatcher,
    text: Option<KeyMatcher>,
    usage: KeyMatcher,
    /// The token count's digits so far.
    usage_acc: u64,
    end: Option<Pair>,
    shape: Option<Pair>,
    event: Event,
    has_data: bool,
    /// Some event had data / matched the dialect's shape marker.
    seen: bool,
    shaped: bool,
}

impl Default for SseScanner {
    fn default() -> Self {
        SseScanner::new(Markers::CHAT)
    }
}

const DATA: &[u8] = b"data:";
const DONE: &[u8] = b"[DONE]";

impl SseScanner {
    pub fn new(markers: Markers) -> Self {
        let [content, text] = markers.content;
        SseScanner {
            markers,
            line: Line::Start,
            done_pos: 0,
            content: KeyMatcher::new(content.unwrap_or(b"\"content\"")),
            text: text.map(KeyMatcher::new),
            usage: KeyMatcher::new(markers.tokens),
            usage_acc: 0,
            end: markers.end,
            shape: markers.stream_shape,
            event: Event::default(),
            has_data: false,
            seen: false,
            shaped: markers.stream_shape.is_none(),
        }
    }

    /// Start over for a new stream.
    pub fn reset(&mut self) {
        *self = SseScanner::new(self.markers);
    }

    /// Whether the stream so far had the dialect's shape: some event had
    /// its marker, or no event had data yet (nothing to judge), or the
    /// dialect is not checked.
    pub fn shaped(&self) -> bool {
        self.shaped || !self.seen
    }

    /// Scan the next frame, calling `on_event` for every event it completes.
    #[inline]
    pub fn feed(&mut self, bytes: &[u8], mut on_event: impl FnMut(Event)) {
        for &b in bytes {
            if b == b'\n' {
                self.end_line(&mut on_event);
                continue;
            }
            if b == b'\r' {
                continue;
            }
            match self.line {
                Line::Start => {
                    self.line = if b == DATA[0] {
                        Line::Field(1)
                    } else {
                        Line::Skip
                    };
                }
                Line::Field(n) => {
                    self.line = if b == DATA[n as usize] {
                        if n as usize + 1 == DATA.len() {
                            Line::ValueStart
                        } else {
                            Line::Field(n + 1)
                        }
                    } else {
                        Line::Skip
                    };
                }
                Line::ValueStart => {
                    self.start_value();
                    if b != b' ' {
                        self.value_byte(b);
                    }
                }
                Line::Value => self.value_byte(b),
                Line::Skip => {}
            }
        }
    }

    fn start_value(&mut self) {
        self.line = Line::Value;
        self.has_data = true;
        self.seen = true;
        self.done_pos = 0;
        self.content.reset();
        if let Some(text) = &mut self.text {
            text.reset();
        }
        self.usage.reset();
        self.usage_acc = 0;
        if let Some(end) = &mut self.end {
            end.reset();
        }
        if let Some(shape) = &mut self.shape {
            shape.reset();
        }
    }

    #[inline]
    fn value_byte(&mut self, b: u8) {
        if self.done_pos != u8::MAX {
            self.done_pos =
                if (self.done_pos as usize) < DONE.len() && DONE[self.done_pos as usize] == b {
                    self.done_pos + 1
                } else {
                    u8::MAX
                };
        }
        let content = self.content.feed(b) == Hit::NonEmptyString;
        let text = self
            .text
            .as_mut()
            .is_some_and(|t| t.feed(b) == Hit::NonEmptyString);
        if content || text {
            self.event.content = true;
        }
        if let Some(end) = &mut self.end {
            if end.feed(b) {
                self.event.done = true;
            }
        }
        if !self.shaped {
            if let Some(shape) = &mut self.shape {
                self.shaped = shape.feed(b);
            }
        }
        match self.usage.feed(b) {
            Hit::Digit(d) => {
                self.usage_acc = self.usage_acc.saturating_mul(10).saturating_add(d.into())
            }
            Hit::NumberEnd => self.event.completion_tokens = Some(self.usage_acc),
            _ => {}
        }
    }

    fn end_line(&mut self, on_event: &mut impl FnMut(Event)) {
        match self.line {
            Line::Start => {
                // A blank line: dispatch the event, if it had data.
                if self.has_data {
                    on_event(self.event);
                }
                self.event = Event::default();
                self.has_data = false;
            }
            Line::ValueStart | Line::Value => {
                if self.line == Line::ValueStart {
                    self.start_value();
                }
                if self.done_pos as usize == DONE.len() {
                    self.event.sentinel = true;
                    if self.end.is_none() {
                        self.event.done = true;
                    }
                }
            }
            Line::Field(_) | Line::Skip => {}
        }
        self.line = Line::Start;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::scan::{KeyNumber, PairScan};

    const CHAT: &str = concat!(
        "data: {\"id\":\"x\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n",
        "data: {\"id\":\"x\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"},\"finish_reason\":null}]}\n\n",
        ": a comment\n\n",
        "event: message\r\ndata: {\"choices\":[{\"delta\":{\"content\": \"\\\" there\"}}]}\r\n\r\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
        "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":12,\"total_tokens\":19,\"completion_tokens_details\":{\"reasoning_tokens\":0}}}\n\n",
        "data: [DONE]\n\n",
    );

    fn events(frames: &[&[u8]]) -> Vec<Event> {
        let mut s = SseScanner::default();
        let mut out = Vec::new();
        for f in frames {
            s.feed(f, |e| out.push(e));
        }
        out
    }

    fn expected() -> Vec<Event> {
        let e = |content, done, completion_tokens| Event {
            content,
            done,
            sentinel: done,
            completion_tokens,
        };
        vec![
            e(false, false, None),
            e(true, false, None),
            e(true, false, None),
            e(false, false, None),
            e(false, false, Some(12)),
            e(false, true, None),
        ]
    }

    #[test]
    fn whole_stream_in_one_frame() {
        assert_eq!(events(&[CHAT.as_bytes()]), expected());
    }

    #[test]
    fn events_split_across_frames_at_every_byte() {
        let bytes = CHAT.as_bytes();
        for cut in 1..bytes.len() {
            let (a, b) = bytes.split_at(cut);
            assert_eq!(events(&[a, b]), expected(), "split at byte {cut}");
        }
        let singles: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(events(&singles), expected());
    }

    #[test]
    fn text_completions_and_done_variants() {
        let text = b"data:{\"choices\":[{\"text\":\"a\"}]}\n\ndata: {\"choices\":[{\"text\":\"\"}]}\n\ndata:[DONE]\n\n";
        let got = events(&[text]);
        assert_eq!(got.len(), 3);
        assert!(got[0].content && !got[1].content);
        assert!(got[2].done);
        // `[DONE]` must be the whole value.
        let got = events(&[b"data: [DONE] later\n\ndata: x[DONE]\n\n"]);
        assert!(got.iter().all(|e| !e.done));
    }

    #[test]
    fn an_unfinished_event_is_not_dispatched() {
        let got = events(&[b"data: {\"content\":\"a\"}\n\ndata: [DONE]\n"]);
        assert_eq!(got.len(), 1);
    }

    const ANTHROPIC: &str = concat!(
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"content\":[],\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\n",
        "event: content_block_start\ndata: {\"type\": \"content_block_start\", \"index\": 0, \"content_block\": {\"type\": \"text\", \"text\": \"\"}}\n\n",
        "event: ping\ndata: {\"type\": \"ping\"}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi \\\"message_stop\\\"\"}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\" there\"}}\n\n",
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\": 7}}\n\n",
        "event: message_stop\ndata: {\"type\": \"message_stop\"}\n\n",
    );

    const RESPONSES: &str = concat!(
        "event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"object\":\"response\",\"text\":{\"format\":{\"type\":\"text\"}},\"usage\":null}}\n\n",
        "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"sequence_number\":4,\"delta\":\"Hi\"}\n\n",
        "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"sequence_number\":5,\"delta\":\" there\"}\n\n",
        "event: response.output_text.done\ndata: {\"type\":\"response.output_text.done\",\"sequence_number\":6,\"text\":\"Hi there\"}\n\n",
        "event: response.completed\ndata: {\"type\":\"response.completed\",\"sequence_number\":7,\"response\":{\"output\":[{\"content\":[{\"text\":\"Hi there\"}]}],\"usage\":{\"input_tokens\":2,\"output_tokens\":9,\"output_tokens_details\":{\"reasoning_tokens\":0}}}}\n\n",
    );

    /// (content events, tokens, done, shaped) over `text` fed in `parts`.
    fn scan(dialect: Option<Dialect>, text: &str, cut: usize) -> (u32, Option<u64>, bool, bool) {
        let mut s = SseScanner::new(Markers::of(dialect));
        let (mut content, mut tokens, mut done) = (0, None, false);
        let (a, b) = text.as_bytes().split_at(cut);
        for part in [a, b] {
            s.feed(part, |e| {
                content += u32::from(e.content);
                tokens = e.completion_tokens.or(tokens);
                done = e.done || (done && e.sentinel);
            });
        }
        (content, tokens, done, s.shaped())
    }

    #[test]
    fn anthropic_and_responses_events_at_every_split() {
        let anthropic = Some(Dialect::AnthropicMessages);
        let responses = Some(Dialect::OpenaiResponses);
        for cut in 0..ANTHROPIC.len() {
            // The escaped `"message_stop"` inside the text ends nothing.
            assert_eq!(
                scan(anthropic, ANTHROPIC, cut),
                (2, Some(7), true, true),
                "cut {cut}"
            );
        }
        for cut in 0..RESPONSES.len() {
            // Only deltas are content: the done events repeat the whole text.
            assert_eq!(
                scan(responses, RESPONSES, cut),
                (2, Some(9), true, true),
                "cut {cut}"
            );
        }
        // A `[DONE]` after the last event changes nothing.
        let trailing = format!("{RESPONSES}data: [DONE]\n\n");
        assert_eq!(scan(responses, &trailing, 0), (2, Some(9), true, true));
        // Cut before the last event: not done, still shaped (truncated).
        let cut = &ANTHROPIC[..ANTHROPIC.find("event: message_stop").unwrap()];
        assert_eq!(scan(anthropic, cut, 0), (2, Some(7), false, true));
    }

    #[test]
    fn a_stream_of_another_dialect_is_not_shaped() {
        // A chat stream answering an Anthropic or Responses request.
        for dialect in [Dialect::AnthropicMessages, Dialect::OpenaiResponses] {
            let (_, _, done, shaped) = scan(Some(dialect), CHAT, 0);
            assert!(!done && !shaped, "{dialect}");
        }
        // An Anthropic stream answering a chat request.
        let (_, _, done, shaped) = scan(Some(Dialect::OpenaiChat), ANTHROPIC, 0);
        assert!(!done && !shaped);
        assert_eq!(
            scan(Some(Dialect::OpenaiChat), CHAT, 5),
            (2, Some(12), true, true)
        );
        // No dialect: read like chat, never judged.
        assert!(scan(None, ANTHROPIC, 0).3);
        // No data at all: nothing to judge.
        assert!(SseScanner::new(Markers::of(Some(Dialect::OpenaiChat))).shaped());
    }

    #[test]
    fn plain_bodies_are_judged_by_their_marker_at_every_split() {
        let chat = br#"{"id":"x","object":"chat.completion","choices":[{"message":{"content":"\"type\":\"message\""}}],"usage":{"completion_tokens":3}}"#;
        let anthropic = br#"{"id": "msg_1", "type": "message", "role": "assistant", "content": [{"type": "text", "text": "hi"}], "usage": {"input_tokens": 2, "output_tokens": 5}}"#;
        let responses =
            br#"{"id":"resp_1","object":"response","output":[],"usage":{"output_tokens":4}}"#;
        let bodies: [(&[u8], Dialect); 3] = [
            (chat, Dialect::OpenaiChat),
            (anthropic, Dialect::AnthropicMessages),
            (responses, Dialect::OpenaiResponses),
        ];
        for (body, of) in bodies {
            for dialect in Dialect::ALL {
                let markers = Markers::of(Some(dialect));
                for cut in 0..body.len() {
                    let mut scan = PairScan::new(markers.body_shape.unwrap());
                    scan.feed(&body[..cut]);
                    scan.feed(&body[cut..]);
                    assert_eq!(
                        scan.found(),
                        dialect == of,
                        "{of} body as {dialect}, cut {cut}"
                    );
                }
            }
            let mut tokens = KeyNumber::new(Markers::of(Some(of)).tokens);
            tokens.feed(body);
            assert!(tokens.value().is_some(), "{of}");
        }
    }

    /// Scanning cost per stream by dialect (not a test of behaviour; run it
    /// in release: `cargo test --release --lib sse::tests::scan_cost -- --ignored --nocapture`).
    #[test]
    #[ignore]
    fn scan_cost() {
        let chat: String = (0..64)
            .map(|i| format!("data: {{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini\",\"system_fingerprint\":\"fp\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\" w{i}\"}},\"logprobs\":null,\"finish_reason\":null}}]}}\n\n"))
            .chain(std::iter::once("data: [DONE]\n\n".to_string()))
            .collect();
        let anthropic: String = std::iter::once(ANTHROPIC.to_string())
            .chain((0..62).map(|i| format!("event: content_block_delta\ndata: {{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"text_delta\",\"text\":\" w{i}\"}}}}\n\n")))
            .collect();
        let responses: String = std::iter::once(RESPONSES.to_string())
            .chain((0..62).map(|i| format!("event: response.output_text.delta\ndata: {{\"type\":\"response.output_text.delta\",\"sequence_number\":{i},\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,\"delta\":\" w{i}\",\"logprobs\":[]}}\n\n")))
            .collect();
        let cases = [
            ("chat, no dialect", None, &chat),
            ("chat", Some(Dialect::OpenaiChat), &chat),
            ("anthropic", Some(Dialect::AnthropicMessages), &anthropic),
            ("responses", Some(Dialect::OpenaiResponses), &responses),
        ];
        for (name, dialect, text) in cases {
            let mut s = SseScanner::new(Markers::of(dialect));
            let rounds = 20_000;
            let start = std::time::Instant::now();
            let mut events = 0u64;
            for _ in 0..rounds {
                s.reset();
                for frame in text.as_bytes().chunks(1460) {
                    s.feed(std::hint::black_box(frame), |e| {
                        events += u64::from(e.content)
                    });
                }
            }
            let per = start.elapsed() / rounds;
            let bytes = text.len() as f64;
            println!(
                "{name:18} {} bytes/stream  {per:?}/stream  {:.2} ns/byte  ({events} content events)",
                text.len(),
                per.as_nanos() as f64 / bytes
            );
        }
    }
}
