//! HTTP/1.1 response framing over byte slices, with no I/O: where a response
//! head ends and what it says ([`parse_head`]), and where its body ends
//! ([`Body`]). The socket side ([`super::conn`]) feeds it whatever bytes
//! arrived and acts on the answer. Every way an answer can break framing is
//! a [`Violation`], which the engine records as `protocol`.
//!
//! Limits keep a broken or hostile server from holding memory: a head is at
//! most [`MAX_HEAD`] bytes and [`MAX_HEADERS`] headers, a chunk-size line
//! 1 KiB, a trailer [`MAX_TRAILER`] bytes.

use std::mem::MaybeUninit;

/// Largest response head accepted, in bytes.
pub const MAX_HEAD: usize = 64 << 10;
/// Most headers accepted in one head. Real servers send a few dozen; the
/// first parse makes room for [`COMMON_HEADERS`] and only a longer head
/// pays for the full array.
pub const MAX_HEADERS: usize = 256;
const COMMON_HEADERS: usize = 64;
/// Largest trailer (the header lines after the last chunk), in bytes.
pub const MAX_TRAILER: usize = 64 << 10;
/// Largest chunk-size line (size and extensions), in bytes.
const MAX_CHUNK_LINE: usize = 1024;

/// How an answer broke HTTP/1.1 framing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Violation {
    /// The head is not an HTTP/1.x response head.
    Malformed,
    /// More than [`MAX_HEADERS`] headers.
    TooManyHeaders,
    /// A head longer than [`MAX_HEAD`] bytes.
    HeadTooLong,
    /// `content-length` is not a number, or two of them disagree.
    BadLength,
    /// A chunk-size line or the end of a chunk is malformed.
    BadChunk,
    /// A trailer longer than [`MAX_TRAILER`] bytes.
    TrailerTooLong,
    /// Bytes arrived after a complete answer, before the next request.
    TrailingBytes,
}

/// How the body of an answer ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    Length(u64),
    Chunked,
    /// Until the server closes the connection.
    Close,
}

/// The parts of a response head the engine needs.
#[derive(Debug, Clone, Copy)]
pub struct Head {
    pub status: u16,
    /// Bytes of the head, blank line included.
    pub len: usize,
    pub framing: Framing,
    pub event_stream: bool,
    /// The connection cannot be reused after this answer.
    pub close: bool,
    /// The gateway's own overhead, from a header the profile names.
    pub overhead_ms: Option<f64>,
}

impl Head {
    /// An interim answer (`1xx` other than `101`): the real one follows.
    pub fn interim(&self) -> bool {
        (100..200).contains(&self.status) && self.status != 101
    }
}

/// Parse a response head at the start of `b`; `Ok(None)` while incomplete.
/// `overhead` names headers (lowercase) whose value, in ms, is kept.
pub fn parse_head(b: &[u8], overhead: &[String]) -> Result<Option<Head>, Violation> {
    // httparse (hyper's own parser): zero-copy, no allocation. The header
    // array is left uninitialized: httparse writes only what it parses, and
    // zeroing 64 headers (2 KiB) per answer was a tenth of the client's
    // user time per request (perf, closed loop against the fake upstream).
    let mut headers = [MaybeUninit::<httparse::Header<'_>>::uninit(); COMMON_HEADERS];
    let mut response = httparse::Response::new(&mut []);
    let parsed = httparse::ParserConfig::default().parse_response_with_uninit_headers(
        &mut response,
        b,
        &mut headers,
    );
    match parsed {
        Err(httparse::Error::TooManyHeaders) => parse_long_head(b, overhead),
        parsed => read_head(b, response, parsed, overhead),
    }
}

/// [`parse_head`] for a head with more than [`COMMON_HEADERS`] headers.
#[cold]
fn parse_long_head(b: &[u8], overhead: &[String]) -> Result<Option<Head>, Violation> {
    let mut headers = [MaybeUninit::<httparse::Header<'_>>::uninit(); MAX_HEADERS];
    let mut response = httparse::Response::new(&mut []);
    let parsed = httparse::ParserConfig::default().parse_response_with_uninit_headers(
        &mut response,
        b,
        &mut headers,
    );
    read_head(b, response, parsed, overhead)
}

fn read_head(
    b: &[u8],
    response: httparse::Response<'_, '_>,
    parsed: httparse::Result<usize>,
    overhead: &[String],
) -> Result<Option<Head>, Violation> {
    let end = match parsed {
        Ok(httparse::Status::Complete(end)) => end,
        Ok(httparse::Status::Partial) if b.len() > MAX_HEAD => return Err(Violation::HeadTooLong),
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(Violation::TooManyHeaders),
        Err(_) => return Err(Violation::Malformed),
    };
    let status = response.code.ok_or(Violation::Malformed)?;
    let mut length = None;
    let mut chunked = false;
    let mut event_stream = false;
    let mut close = response.version == Some(0);
    let mut overhead_ms = None;
    for h in response.headers.iter() {
        let (name, value) = (h.name.as_bytes(), trim(h.value));
        if overhead
            .iter()
            .any(|o| name.eq_ignore_ascii_case(o.as_bytes()))
        {
            overhead_ms = std::str::from_utf8(value)
                .ok()
                .and_then(|v| v.parse::<f64>().ok());
        } else if name.eq_ignore_ascii_case(b"content-length") {
            // Repeated (`5, 5` or two headers) only when every value agrees
            // (RFC 9110 §8.6): two different lengths leave the end unknown.
            for part in value.split(|&c| c == b',') {
                let n = parse_u64(trim(part)).ok_or(Violation::BadLength)?;
                if length.is_some_and(|seen| seen != n) {
                    return Err(Violation::BadLength);
                }
                length = Some(n);
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            chunked = contains_ignore_case(value, b"chunked");
        } else if name.eq_ignore_ascii_case(b"content-type") {
            event_stream =
                value.len() >= 17 && value[..17].eq_ignore_ascii_case(b"text/event-stream");
        } else if name.eq_ignore_ascii_case(b"connection") {
            if contains_ignore_case(value, b"close") {
                close = true;
            } else if contains_ignore_case(value, b"keep-alive") {
                close = false;
            }
        }
    }
    // 1xx, 204 and 304 answers never have a body (RFC 9112 §6.3).
    let bodiless = (100..200).contains(&status) || status == 204 || status == 304;
    let framing = match (bodiless, chunked, length) {
        (true, _, _) => Framing::Length(0),
        (false, true, _) => Framing::Chunked,
        (false, false, Some(n)) => Framing::Length(n),
        (false, false, None) => Framing::Close,
    };
    Ok(Some(Head {
        status,
        len: end,
        framing,
        event_stream,
        close,
        overhead_ms,
    }))
}

fn trim(v: &[u8]) -> &[u8] {
    let start = v
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(v.len());
    let end = v
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &v[start..end]
}

fn parse_u64(v: &[u8]) -> Option<u64> {
    if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    v.iter().try_fold(0u64, |n, d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

fn contains_ignore_case(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

/// A body being read: how much is left, decoded incrementally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// This many bytes left.
    Length(u64),
    Chunked(Chunked),
    /// Everything until the server closes the connection.
    Close,
}

impl Body {
    pub fn new(framing: Framing) -> Body {
        match framing {
            Framing::Length(n) => Body::Length(n),
            Framing::Chunked => Body::Chunked(Chunked::default()),
            Framing::Close => Body::Close,
        }
    }

    /// Decode what `avail` holds, handing body bytes to `data`; returns the
    /// bytes used and whether the body ended. Bytes past the end are left.
    #[inline]
    pub fn advance(
        &mut self,
        avail: &[u8],
        mut data: impl FnMut(&[u8]),
    ) -> Result<(usize, bool), Violation> {
        match self {
            Body::Length(left) => {
                let take = (avail.len() as u64).min(*left) as usize;
                if take > 0 {
                    data(&avail[..take]);
                    *left -= take as u64;
                }
                Ok((take, *left == 0))
            }
            Body::Chunked(c) => c.advance(avail, data),
            Body::Close => {
                if !avail.is_empty() {
                    data(avail);
                }
                Ok((avail.len(), false))
            }
        }
    }

    /// Whether the server closing the connection now ends the body
    /// cleanly; otherwise the answer was cut short.
    pub fn ends_at_close(&self) -> bool {
        matches!(self, Body::Close | Body::Length(0))
    }
}

/// The chunked transfer coding, decoded incrementally.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Chunked {
    state: ChunkState,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum ChunkState {
    /// Reading a size line (`1a;ext=x\r\n`).
    #[default]
    Size,
    /// Inside chunk data, this many bytes left.
    Data(u64),
    /// The `\r\n` after chunk data.
    DataEnd,
    /// After the last chunk: trailer lines until a blank one, this many
    /// trailer bytes so far.
    Trailer(usize),
}

impl Chunked {
    /// Decode what `avail` holds; returns the bytes used and whether the body ended.
    // Long by choice (issue 16): the chunk decoder's state machine, one loop
    // read top to bottom on the per-request path; the compiler keeps it one frame.
    pub fn advance(
        &mut self,
        avail: &[u8],
        mut data: impl FnMut(&[u8]),
    ) -> Result<(usize, bool), Violation> {
        let mut used = 0;
        loop {
            let rest = &avail[used..];
            match self.state {
                ChunkState::Size => {
                    let Some(nl) = rest.iter().position(|&c| c == b'\n') else {
                        return if rest.len() > MAX_CHUNK_LINE {
                            Err(Violation::BadChunk)
                        } else {
                            Ok((used, false))
                        };
                    };
                    let line = &rest[..nl];
                    let digits = line.iter().take_while(|c| c.is_ascii_hexdigit()).count();
                    if digits == 0 || digits > 15 || nl > MAX_CHUNK_LINE {
                        return Err(Violation::BadChunk);
                    }
                    let size = line[..digits].iter().fold(0u64, |n, &c| {
                        n * 16 + u64::from((c as char).to_digit(16).unwrap_or(0))
                    });
                    used += nl + 1;
                    self.state = if size == 0 {
                        ChunkState::Trailer(0)
                    } else {
                        ChunkState::Data(size)
                    };
                }
                ChunkState::Data(left) => {
                    if rest.is_empty() {
                        return Ok((used, false));
                    }
                    let take = (rest.len() as u64).min(left) as usize;
                    data(&rest[..take]);
                    used += take;
                    self.state = if take as u64 == left {
                        ChunkState::DataEnd
                    } else {
                        ChunkState::Data(left - take as u64)
                    };
                }
                ChunkState::DataEnd => {
                    let Some(nl) = rest.iter().position(|&c| c == b'\n') else {
                        return if rest.len() > 1 {
                            Err(Violation::BadChunk)
                        } else {
                            Ok((used, false))
                        };
                    };
                    if nl > 1 || (nl == 1 && rest[0] != b'\r') {
                        return Err(Violation::BadChunk);
                    }
                    used += nl + 1;
                    self.state = ChunkState::Size;
                }
                ChunkState::Trailer(seen) => {
                    let Some(nl) = rest.iter().position(|&c| c == b'\n') else {
                        // A line still arriving counts too: an endless one
                        // would otherwise grow the read buffer without end.
                        return if seen + rest.len() > MAX_TRAILER {
                            Err(Violation::TrailerTooLong)
                        } else {
                            Ok((used, false))
                        };
                    };
                    let blank = nl == 0 || (nl == 1 && rest[0] == b'\r');
                    used += nl + 1;
                    if blank {
                        return Ok((used, true));
                    }
                    let seen = seen + nl + 1;
                    if seen > MAX_TRAILER {
                        return Err(Violation::TrailerTooLong);
                    }
                    self.state = ChunkState::Trailer(seen);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_are_parsed_with_their_framing() {
        let h = parse_head(
            b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\nContent-Type: application/json\r\n\r\n{",
            &[],
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            (h.status, h.framing, h.event_stream, h.close),
            (200, Framing::Length(12), false, false)
        );
        assert_eq!(h.len, 71);
        let h = parse_head(b"HTTP/1.1 500 x\r\ntransfer-encoding: chunked\r\ncontent-type: text/event-stream; charset=utf-8\r\nconnection: close\r\n\r\n", &[])
            .unwrap()
            .unwrap();
        assert_eq!(
            (h.status, h.framing, h.event_stream, h.close),
            (500, Framing::Chunked, true, true)
        );
        let h = parse_head(b"HTTP/1.0 200 OK\n\n", &[]).unwrap().unwrap();
        assert_eq!((h.framing, h.close), (Framing::Close, true));
        assert!(parse_head(b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\n", &[])
            .unwrap()
            .is_none());
        assert_eq!(
            parse_head(b"SSH-2.0\r\n\r\n", &[]).unwrap_err(),
            Violation::Malformed
        );
        // 204 and 304 have no body even without content-length: reading to
        // close would hang a kept-alive connection until the timeout.
        for code in ["204 No Content", "304 Not Modified"] {
            let head = format!("HTTP/1.1 {code}\r\nconnection: keep-alive\r\n\r\n");
            let h = parse_head(head.as_bytes(), &[]).unwrap().unwrap();
            assert_eq!((h.framing, h.close), (Framing::Length(0), false), "{code}");
        }
        assert_eq!(
            parse_head(b"HTTP/1.1 200 OK\r\ncontent-length: x\r\n\r\n", &[]).unwrap_err(),
            Violation::BadLength
        );
        let named = ["x-gateway-overhead-ms".to_string()];
        let h = parse_head(
            b"HTTP/1.1 200 OK\r\nX-Gateway-Overhead-Ms: 12.5\r\ncontent-length: 0\r\n\r\n",
            &named,
        )
        .unwrap()
        .unwrap();
        assert_eq!(h.overhead_ms, Some(12.5));
    }

    #[test]
    fn repeated_lengths_must_agree() {
        let agree = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nContent-Length: 5, 5\r\n\r\n";
        let h = parse_head(agree, &[]).unwrap().unwrap();
        assert_eq!(h.framing, Framing::Length(5));
        for head in [
            &b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\ncontent-length: 5, 6\r\n\r\n",
        ] {
            assert_eq!(parse_head(head, &[]).unwrap_err(), Violation::BadLength);
        }
    }

    #[test]
    fn up_to_256_headers_are_read_and_more_is_a_violation() {
        let head = |n: usize| {
            let mut h = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n".to_vec();
            for i in 1..n {
                h.extend_from_slice(format!("x-h-{i}: {i}\r\n").as_bytes());
            }
            h.extend_from_slice(b"\r\n");
            h
        };
        for n in [COMMON_HEADERS, COMMON_HEADERS + 1, 200, MAX_HEADERS] {
            let h = parse_head(&head(n), &[]).unwrap().unwrap();
            assert_eq!(h.framing, Framing::Length(2), "{n} headers");
        }
        assert_eq!(
            parse_head(&head(MAX_HEADERS + 1), &[]).unwrap_err(),
            Violation::TooManyHeaders
        );
    }

    #[test]
    fn a_head_that_never_ends_is_bounded() {
        let mut h = b"HTTP/1.1 200 OK\r\n".to_vec();
        while h.len() <= MAX_HEAD {
            h.extend_from_slice(b"x-long: 0123456789012345678901234567890123456789\r\n");
            if h.len() < 200 {
                // A head in progress below the limit is only incomplete.
                assert!(parse_head(&h, &[]).unwrap().is_none());
            }
        }
        // Too many headers or too long: a violation either way.
        assert!(parse_head(&h, &[]).is_err());
        let mut one_line = b"HTTP/1.1 200 OK\r\nx-long: ".to_vec();
        one_line.resize(MAX_HEAD + 1, b'a');
        assert_eq!(
            parse_head(&one_line, &[]).unwrap_err(),
            Violation::HeadTooLong
        );
    }

    #[test]
    fn chunked_bodies_decode_across_any_split() {
        let wire = b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nx-trailer: 1\r\n\r\n";
        for cut in 0..=wire.len() {
            let mut c = Chunked::default();
            let mut body = Vec::new();
            let mut buf: Vec<u8> = wire[..cut].to_vec();
            let (used, done) = c.advance(&buf, |d| body.extend_from_slice(d)).unwrap();
            if done {
                assert_eq!((cut, used), (wire.len(), wire.len()));
                assert_eq!(body, b"hello, world");
                continue;
            }
            buf.drain(..used);
            buf.extend_from_slice(&wire[cut..]);
            let (used, done) = c.advance(&buf, |d| body.extend_from_slice(d)).unwrap();
            assert!(done, "split at {cut}");
            assert_eq!(used, buf.len());
            assert_eq!(body, b"hello, world");
        }
        let mut c = Chunked::default();
        assert_eq!(c.advance(b"zz\r\n", |_| {}), Err(Violation::BadChunk));
        let mut c = Chunked::default();
        assert_eq!(c.advance(b"1\r\nxyz", |_| {}), Err(Violation::BadChunk));
    }

    #[test]
    fn trailers_are_bounded_in_lines_and_in_one_endless_line() {
        // Many short lines: consumed as they come, but counted.
        let mut c = Chunked::default();
        let (used, done) = c.advance(b"0\r\n", |_| {}).unwrap();
        assert_eq!((used, done), (3, false));
        let line = b"x-trailer: 0123456789\r\n";
        let mut fed = 0;
        let err = loop {
            match c.advance(line, |_| {}) {
                Ok((n, false)) => fed += n,
                Ok((_, true)) => panic!("no blank line was sent"),
                Err(e) => break e,
            }
        };
        assert_eq!(err, Violation::TrailerTooLong);
        assert!(fed <= MAX_TRAILER, "{fed}");
        // One line without end: the caller keeps it buffered, so it is
        // refused once the buffered part passes the limit.
        let mut c = Chunked::default();
        c.advance(b"0\r\n", |_| {}).unwrap();
        let endless = vec![b'a'; MAX_TRAILER];
        assert_eq!(c.advance(&endless, |_| {}), Ok((0, false)));
        let endless = vec![b'a'; MAX_TRAILER + 1];
        assert_eq!(c.advance(&endless, |_| {}), Err(Violation::TrailerTooLong));
        // A long but bounded trailer is fine.
        let mut c = Chunked::default();
        let mut wire = b"0\r\n".to_vec();
        for _ in 0..1000 {
            wire.extend_from_slice(line);
        }
        wire.extend_from_slice(b"\r\n");
        assert_eq!(c.advance(&wire, |_| {}), Ok((wire.len(), true)));
    }

    #[test]
    fn bodies_stop_at_their_end_and_leave_the_rest() {
        let mut b = Body::new(Framing::Length(3));
        let mut seen = Vec::new();
        assert_eq!(
            b.advance(b"abcHTTP", |d| seen.extend_from_slice(d)),
            Ok((3, true))
        );
        assert_eq!(seen, b"abc");
        let mut b = Body::new(Framing::Close);
        assert_eq!(b.advance(b"abc", |_| {}), Ok((3, false)));
        assert!(b.ends_at_close());
        assert!(!Body::new(Framing::Length(1)).ends_at_close());
        assert!(!Body::new(Framing::Chunked).ends_at_close());
    }
}
