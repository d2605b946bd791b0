//! Incremental scanning of answers as they arrive, without allocating.
//!
//! [`SseScanner`] reads a Server-Sent Events stream frame by frame and says,
//! per event, whether it carried content (a non-empty `"content"` or `"text"`
//! string), whether it was `data: [DONE]`, and the `"completion_tokens"`
//! count when an event reported usage. Events, lines and keys may be split
//! anywhere across frames: the state is a handful of small counters, never a
//! buffer. [`KeyNumber`] finds `"completion_tokens": N` in a plain JSON body
//! the same way.

/// Matches `"key"`, optional blanks, `:` and optional blanks, then reports
/// what follows: the first byte of a string value, or the digits of a number.
#[derive(Debug, Clone, Copy)]
struct KeyMatcher {
    key: &'static [u8],
    phase: Phase,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// `n` bytes of the key (quotes included) matched so far.
    Key(u8),
    /// After the key: blanks, then `:`.
    Colon,
    /// After `:`: blanks, then the value.
    Value,
    /// Inside a string value, right after its opening quote.
    StringStart,
    /// Inside a number value.
    Number,
}

/// What the matcher saw complete with the byte just fed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hit {
    None,
    /// A string value whose first byte is not the closing quote.
    NonEmptyString,
    /// A digit of a number value (`value` so far in the accumulator).
    Digit(u8),
    /// The end of a number value.
    NumberEnd,
}

impl KeyMatcher {
    const fn new(key: &'static [u8]) -> Self {
        KeyMatcher {
            key,
            phase: Phase::Key(0),
        }
    }

    fn reset(&mut self) {
        self.phase = Phase::Key(0);
    }

    /// Feed one byte. Keys start and end with `"` and hold no other quote,
    /// so on a mismatch the only possible restart is at a `"`.
    #[inline]
    fn feed(&mut self, b: u8) -> Hit {
        match self.phase {
            Phase::Key(n) => {
                if b == self.key[n as usize] {
                    self.phase = if n as usize + 1 == self.key.len() {
                        Phase::Colon
                    } else {
                        Phase::Key(n + 1)
                    };
                } else {
                    self.phase = Phase::Key(u8::from(b == b'"'));
                }
                Hit::None
            }
            Phase::Colon => {
                match b {
                    b':' => self.phase = Phase::Value,
                    b' ' | b'\t' => {}
                    _ => self.phase = Phase::Key(u8::from(b == b'"')),
                }
                Hit::None
            }
            Phase::Value => match b {
                b' ' | b'\t' => Hit::None,
                b'"' => {
                    self.phase = Phase::StringStart;
                    Hit::None
                }
                b'0'..=b'9' => {
                    self.phase = Phase::Number;
                    Hit::Digit(b - b'0')
                }
                _ => {
                    self.phase = Phase::Key(0);
                    Hit::None
                }
            },
            Phase::StringStart => {
                self.phase = Phase::Key(0);
                if b == b'"' {
                    Hit::None
                } else {
                    Hit::NonEmptyString
                }
            }
            Phase::Number => {
                if b.is_ascii_digit() {
                    Hit::Digit(b - b'0')
                } else {
                    self.phase = Phase::Key(u8::from(b == b'"'));
                    Hit::NumberEnd
                }
            }
        }
    }
}

/// Finds the number after `"completion_tokens":` in a JSON body fed in pieces.
#[derive(Debug, Clone, Copy)]
pub struct KeyNumber {
    matcher: KeyMatcher,
    acc: u64,
    found: Option<u64>,
}

impl Default for KeyNumber {
    fn default() -> Self {
        KeyNumber {
            matcher: KeyMatcher::new(b"\"completion_tokens\""),
            acc: 0,
            found: None,
        }
    }
}

impl KeyNumber {
    pub fn reset(&mut self) {
        *self = KeyNumber::default();
    }

    /// Feed the next piece of the body. Between keys it jumps from quote to
    /// quote eight bytes at a time, so a body costs little more than a copy.
    pub fn feed(&mut self, bytes: &[u8]) {
        if self.found.is_some() {
            return;
        }
        let mut i = 0;
        while i < bytes.len() {
            if self.matcher.phase == Phase::Key(0) {
                match find_quote(&bytes[i..]) {
                    Some(at) => i += at,
                    None => return,
                }
            }
            let b = bytes[i];
            i += 1;
            match self.matcher.feed(b) {
                Hit::Digit(d) => self.acc = self.acc.saturating_mul(10).saturating_add(d.into()),
                Hit::NumberEnd => {
                    self.found = Some(self.acc);
                    return;
                }
                _ => {}
            }
        }
    }

    /// The number, once the byte after its last digit was seen.
    pub fn value(&self) -> Option<u64> {
        self.found
    }
}

/// The index of the first `"` in `hay`, eight bytes at a time.
#[inline]
fn find_quote(hay: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let quotes = ONES * u64::from(b'"');
    let mut chunks = hay.chunks_exact(8);
    let mut base = 0;
    for chunk in &mut chunks {
        let x = u64::from_le_bytes(chunk.try_into().expect("8 bytes")) ^ quotes;
        // Exactly the zero bytes of `x` get their high bit set.
        let zero = !(((x & LOW7) + LOW7) | x) & HIGH;
        if zero != 0 {
            return Some(base + (zero.trailing_zeros() / 8) as usize);
        }
        base += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b == b'"')
        .map(|p| base + p)
}

/// One complete event, as the scanner hands it over.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Event {
    /// A `"content"` or `"text"` key with a non-empty string value.
    pub content: bool,
    /// The event's data was exactly `[DONE]`.
    pub done: bool,
    /// The event reported `"completion_tokens": N` (the usage chunk).
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
    line: Line,
    /// Bytes of `[DONE]` matched at the start of the current data value;
    /// `u8::MAX` once the value is something else.
    done_pos: u8,
    content: KeyMatcher,
    text: KeyMatcher,
    usage: KeyNumber,
    event: Event,
    has_data: bool,
}

impl Default for SseScanner {
    fn default() -> Self {
        SseScanner {
            line: Line::Start,
            done_pos: 0,
            content: KeyMatcher::new(b"\"content\""),
            text: KeyMatcher::new(b"\"text\""),
            usage: KeyNumber::default(),
            event: Event::default(),
            has_data: false,
        }
    }
}

const DATA: &[u8] = b"data:";
const DONE: &[u8] = b"[DONE]";

impl SseScanner {
    /// Start over for a new stream.
    pub fn reset(&mut self) {
        *self = SseScanner::default();
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
        self.done_pos = 0;
        self.content.reset();
        self.text.reset();
        self.usage.matcher.reset();
        self.usage.acc = 0;
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
        let text = self.text.feed(b) == Hit::NonEmptyString;
        if content || text {
            self.event.content = true;
        }
        match self.usage.matcher.feed(b) {
            Hit::Digit(d) => {
                self.usage.acc = self.usage.acc.saturating_mul(10).saturating_add(d.into())
            }
            Hit::NumberEnd => self.event.completion_tokens = Some(self.usage.acc),
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
                    self.event.done = true;
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

    #[test]
    fn key_number_in_a_split_json_body() {
        let body =
            br#"{"id":"x","usage":{"prompt_tokens":3,"completion_tokens": 16,"total_tokens":19}}"#;
        for cut in 1..body.len() {
            let mut k = KeyNumber::default();
            k.feed(&body[..cut]);
            k.feed(&body[cut..]);
            assert_eq!(k.value(), Some(16), "split at {cut}");
        }
        let mut k = KeyNumber::default();
        k.feed(br#"{"completion_tokens_details":{"x":1},"text":"completion_tokens"}"#);
        assert_eq!(k.value(), None);
    }

    #[test]
    fn quotes_are_found_at_every_offset() {
        for len in 0..40 {
            for at in 0..=len {
                let mut hay = vec![b'a'; len];
                if at < len {
                    hay[at] = b'"';
                    hay.push(b'"');
                }
                let want = if at < len { Some(at) } else { None };
                assert_eq!(find_quote(&hay), want, "len {len} at {at}");
            }
        }
        assert_eq!(find_quote(&[0xa2, 0x22]), Some(1));
    }
}
