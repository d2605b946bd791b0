//! Scanners for a plain JSON body fed in pieces, and the key matchers the
//! SSE scanner ([`super::sse`]) is built from: [`KeyNumber`] finds a number
//! after a key (the token count), [`PairScan`] a key/value pair (the
//! dialect's shape marker), jumping from key to key; the state is a few small
//! counters, never a buffer.

use memchr::memmem;

use super::sse::Markers;

/// Matches `"key"`, optional blanks, `:` and optional blanks, then reports
/// what follows: the first byte of a string value, or the digits of a number.
#[derive(Debug, Clone, Copy)]
pub(super) struct KeyMatcher {
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
pub(super) enum Hit {
    None,
    /// A string value whose first byte is not the closing quote.
    NonEmptyString,
    /// A digit of a number value (`value` so far in the accumulator).
    Digit(u8),
    /// The end of a number value.
    NumberEnd,
}

impl KeyMatcher {
    pub(super) const fn new(key: &'static [u8]) -> Self {
        KeyMatcher {
            key,
            phase: Phase::Key(0),
        }
    }

    pub(super) fn reset(&mut self) {
        self.phase = Phase::Key(0);
    }

    /// Waiting for the key (`Key(0)`) with `rest` starting with the whole
    /// key: take it in one step (as feeding its bytes would, the key
    /// holding no quote but its first and last byte); the bytes taken.
    #[inline]
    pub(super) fn take_key(&mut self, rest: &[u8]) -> usize {
        if rest.starts_with(self.key) {
            self.phase = Phase::Colon;
            self.key.len()
        } else {
            0
        }
    }

    /// Feed one byte. Keys start and end with `"` and hold no other quote,
    /// so on a mismatch the only possible restart is at a `"`.
    #[inline]
    pub(super) fn feed(&mut self, b: u8) -> Hit {
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

/// Where a scan waiting for its key's opening quote can jump to: the next
/// whole occurrence of the key (SIMD search, built once per scanner), or,
/// with none left, the first place a key cut off by the end of the piece
/// could begin. No skipped byte could start a match.
#[derive(Debug, Clone)]
struct Skip(memmem::Finder<'static>);

impl Skip {
    fn new(key: &'static [u8]) -> Self {
        Skip(memmem::Finder::new(key))
    }

    /// Where to resume in `bytes`, at or after `i`.
    #[inline]
    fn next(&self, bytes: &[u8], i: usize) -> usize {
        match self.0.find(&bytes[i..]) {
            Some(at) => i + at,
            None => bytes.len().saturating_sub(self.0.needle().len() - 1).max(i),
        }
    }
}

/// Finds the number after a key (`"completion_tokens":` by default) in a
/// JSON body fed in pieces.
#[derive(Debug, Clone)]
pub struct KeyNumber {
    matcher: KeyMatcher,
    acc: u64,
    found: Option<u64>,
    skip: Skip,
}

impl Default for KeyNumber {
    fn default() -> Self {
        KeyNumber::new(Markers::CHAT.tokens)
    }
}

impl KeyNumber {
    /// `key` with its quotes, e.g. `"output_tokens"`.
    pub fn new(key: &'static [u8]) -> Self {
        KeyNumber {
            matcher: KeyMatcher::new(key),
            acc: 0,
            found: None,
            skip: Skip::new(key),
        }
    }

    pub fn reset(&mut self) {
        self.matcher.reset();
        self.acc = 0;
        self.found = None;
    }

    /// Feed the next piece of the body. Between keys it jumps to the next
    /// occurrence of the key ([`Skip`]), so a body costs little more than
    /// a copy.
    pub fn feed(&mut self, bytes: &[u8]) {
        if self.found.is_some() {
            return;
        }
        let mut i = 0;
        while i < bytes.len() {
            if self.matcher.phase == Phase::Key(0) {
                i = self.skip.next(bytes, i);
                i += self.matcher.take_key(&bytes[i..]);
                if self.matcher.phase == Phase::Key(0) {
                    match find_quote(&bytes[i..]) {
                        Some(at) => i += at,
                        None => return,
                    }
                } else if i == bytes.len() {
                    return;
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

/// Matches `"key"`, optional blanks, `:`, optional blanks, then the
/// string `"value"` exactly (or, with no value, anything: the key alone).
#[derive(Debug, Clone, Copy)]
pub struct Pair {
    /// With its quotes.
    key: &'static [u8],
    /// Without its quotes.
    value: Option<&'static [u8]>,
    phase: PairPhase,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PairPhase {
    Key(u8),
    Colon,
    Value,
    /// `n` bytes of the value matched after its opening quote.
    Str(u8),
}

impl Pair {
    pub(super) const fn new(key: &'static [u8], value: Option<&'static [u8]>) -> Self {
        Pair {
            key,
            value,
            phase: PairPhase::Key(0),
        }
    }

    pub(super) fn reset(&mut self) {
        self.phase = PairPhase::Key(0);
    }

    /// As [`KeyMatcher::take_key`]: at `Key(0)`, take a whole key at the
    /// start of `rest` in one step; the bytes taken.
    #[inline]
    pub(super) fn take_key(&mut self, rest: &[u8]) -> usize {
        if rest.starts_with(self.key) {
            self.phase = PairPhase::Colon;
            self.key.len()
        } else {
            0
        }
    }

    /// Feed one byte; true when the pair just completed. As for
    /// [`KeyMatcher`], a mismatch can only restart at a `"`.
    #[inline]
    pub(super) fn feed(&mut self, b: u8) -> bool {
        let restart = PairPhase::Key(u8::from(b == b'"'));
        match self.phase {
            PairPhase::Key(n) => {
                self.phase = if b != self.key[n as usize] {
                    restart
                } else if n as usize + 1 == self.key.len() {
                    PairPhase::Colon
                } else {
                    PairPhase::Key(n + 1)
                };
                false
            }
            PairPhase::Colon => match b {
                b':' if self.value.is_none() => {
                    self.phase = PairPhase::Key(0);
                    true
                }
                b':' => {
                    self.phase = PairPhase::Value;
                    false
                }
                b' ' | b'\t' => false,
                _ => {
                    self.phase = restart;
                    false
                }
            },
            PairPhase::Value => {
                match b {
                    b' ' | b'\t' => {}
                    b'"' => self.phase = PairPhase::Str(0),
                    _ => self.phase = PairPhase::Key(0),
                }
                false
            }
            PairPhase::Str(n) => {
                let value = self.value.unwrap_or_default();
                if n as usize == value.len() {
                    self.phase = PairPhase::Key(0);
                    b == b'"'
                } else {
                    self.phase = if b == value[n as usize] {
                        PairPhase::Str(n + 1)
                    } else {
                        // The value's closing quote (a shorter value) or another byte.
                        PairPhase::Key(0)
                    };
                    false
                }
            }
        }
    }
}

/// Whether a JSON body fed in pieces holds a [`Pair`] (outside strings'
/// escaped quotes), jumping from key to key ([`Skip`]).
#[derive(Debug, Clone)]
pub struct PairScan {
    pair: Pair,
    found: bool,
    skip: Skip,
}

impl PairScan {
    pub fn new(pair: Pair) -> Self {
        PairScan {
            pair,
            found: false,
            skip: Skip::new(pair.key),
        }
    }

    pub fn reset(&mut self) {
        self.pair.reset();
        self.found = false;
    }

    pub fn feed(&mut self, bytes: &[u8]) {
        let mut i = 0;
        while !self.found && i < bytes.len() {
            if self.pair.phase == PairPhase::Key(0) {
                i = self.skip.next(bytes, i);
                i += self.pair.take_key(&bytes[i..]);
                if self.pair.phase == PairPhase::Key(0) {
                    match find_quote(&bytes[i..]) {
                        Some(at) => i += at,
                        None => return,
                    }
                } else if i == bytes.len() {
                    return;
                }
            }
            self.found = self.pair.feed(bytes[i]);
            i += 1;
        }
    }

    pub fn found(&self) -> bool {
        self.found
    }
}

/// The index of the first `"` in `hay`, eight bytes at a time.
#[inline]
pub(super) fn find_quote(hay: &[u8]) -> Option<usize> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
        // Near misses before the real key, cut in three anywhere.
        let body = br#"{"text":"completion_tokens","completion_tokens_x":2,"completion_tokens":"3","completion_tokens" :	41,"n":5}"#;
        for a in 0..body.len() {
            for b in a..body.len() {
                let mut k = KeyNumber::default();
                for piece in [&body[..a], &body[a..b], &body[b..]] {
                    k.feed(piece);
                }
                assert_eq!(k.value(), Some(41), "cut at {a} and {b}");
            }
        }
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
