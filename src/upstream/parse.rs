//! Parsing one HTTP/1.1 request of the fake upstream from the start of the
//! connection's bytes: the head (httparse), the body (Content-Length or
//! chunked), and the size limits; the request reaches the handlers as a
//! `Request<Incoming>`.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Frame, SizeHint};
use hyper::{Method, Request, Uri, Version};

/// Largest request head, in bytes.
pub(super) const MAX_HEAD: usize = 64 << 10;
/// Most headers in one request head.
const MAX_HEADERS: usize = 100;
/// Largest request body, in bytes (what the handlers accept too).
pub(super) const MAX_BODY: usize = 32 << 20;

/// A request body read in full before the handler runs.
pub struct Incoming(Option<Bytes>);

impl hyper::body::Body for Incoming {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        Poll::Ready(self.get_mut().0.take().map(|b| Ok(Frame::data(b))))
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.0.as_ref().map_or(0, |b| b.len() as u64))
    }
}

/// A parsed request and how to answer it.
pub(super) struct Parsed {
    pub(super) request: Request<Incoming>,
    pub(super) keep_alive: bool,
    pub(super) head_only: bool,
    pub(super) http10: bool,
}

// Moved once per request; boxing `Parsed` would allocate per request.
#[allow(clippy::large_enum_variant)]
pub(super) enum Parse {
    Done(Parsed, usize),
    /// Not complete: wait for at least this many bytes; `continue_` when the
    /// head asked for `100 Continue` before sending its body.
    Need {
        at_least: usize,
        continue_: bool,
    },
}

/// A request the server answers itself, then closes.
#[derive(Debug, Clone, Copy)]
pub(super) enum Reject {
    Malformed,
    HeadTooLarge,
    BodyTooLarge,
}

/// Parses one request from the start of `buf`.
// Long by choice (issue 16): the per-request parser, one pass read top to
// bottom; the compiler keeps it one frame.
pub(super) fn parse(buf: &[u8]) -> Result<Parse, Reject> {
    // Uninitialised: zeroing 100 headers per request costs more than parsing.
    let mut headers = [const { std::mem::MaybeUninit::<httparse::Header>::uninit() }; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut []);
    let head_len = match req.parse_with_uninit_headers(buf, &mut headers) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if buf.len() >= MAX_HEAD => return Err(Reject::HeadTooLarge),
        Ok(httparse::Status::Partial) => {
            return Ok(Parse::Need {
                at_least: buf.len() + 1,
                continue_: false,
            })
        }
        Err(httparse::Error::TooManyHeaders) => return Err(Reject::HeadTooLarge),
        Err(_) => return Err(Reject::Malformed),
    };
    let http10 = req.version == Some(0);
    let mut length: Option<usize> = None;
    let mut chunked = false;
    let mut close = http10;
    let mut expect_continue = false;
    for h in req.headers.iter() {
        let name = h.name.as_bytes();
        if name.eq_ignore_ascii_case(b"content-length") {
            let len = std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok())
                .ok_or(Reject::Malformed)?;
            if length.is_some_and(|l| l != len) {
                return Err(Reject::Malformed);
            }
            length = Some(len);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            chunked = h
                .value
                .rsplit(|&c| c == b',')
                .next()
                .is_some_and(|last| last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
            if !chunked {
                return Err(Reject::Malformed);
            }
        } else if name.eq_ignore_ascii_case(b"connection") {
            for token in h.value.split(|&c| c == b',') {
                let token = token.trim_ascii();
                if token.eq_ignore_ascii_case(b"close") {
                    close = true;
                } else if token.eq_ignore_ascii_case(b"keep-alive") {
                    close = false;
                }
            }
        } else if name.eq_ignore_ascii_case(b"expect") {
            expect_continue = h.value.eq_ignore_ascii_case(b"100-continue");
        }
    }
    let (raw, body, used) = if chunked {
        match dechunk(&buf[head_len..])? {
            Some((body, body_len)) => {
                if body.len() > MAX_BODY {
                    return Err(Reject::BodyTooLarge);
                }
                (
                    Bytes::copy_from_slice(&buf[..head_len]),
                    Bytes::from(body),
                    head_len + body_len,
                )
            }
            None if buf.len() - head_len > MAX_BODY + MAX_HEAD => return Err(Reject::BodyTooLarge),
            None => {
                return Ok(Parse::Need {
                    at_least: buf.len() + 1,
                    continue_: expect_continue && buf.len() == head_len,
                })
            }
        }
    } else {
        let len = length.unwrap_or(0);
        if len > MAX_BODY {
            return Err(Reject::BodyTooLarge);
        }
        let end = head_len + len;
        if buf.len() < end {
            return Ok(Parse::Need {
                at_least: end,
                continue_: expect_continue && buf.len() == head_len,
            });
        }
        let raw = Bytes::copy_from_slice(&buf[..end]);
        let body = raw.slice(head_len..);
        (raw, body, end)
    };
    let method =
        Method::from_bytes(req.method.unwrap_or("").as_bytes()).map_err(|_| Reject::Malformed)?;
    // The head was parsed in `buf`; the path is the same range of `raw`.
    let path = req.path.ok_or(Reject::Malformed)?.as_bytes();
    let at = path.as_ptr() as usize - buf.as_ptr() as usize;
    let uri =
        Uri::from_maybe_shared(raw.slice(at..at + path.len())).map_err(|_| Reject::Malformed)?;
    let head_only = method == Method::HEAD;
    let mut request = Request::new(Incoming((!body.is_empty()).then_some(body)));
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.version_mut() = if http10 {
        Version::HTTP_10
    } else {
        Version::HTTP_11
    };
    Ok(Parse::Done(
        Parsed {
            request,
            keep_alive: !close,
            head_only,
            http10,
        },
        used,
    ))
}

/// Decodes a chunked body at the start of `buf`: the body and the bytes it
/// took (trailers included), or `None` when it is not complete yet.
fn dechunk(buf: &[u8]) -> Result<Option<(Vec<u8>, usize)>, Reject> {
    let mut body = Vec::new();
    let mut at = 0;
    loop {
        let (size_len, size) = match httparse::parse_chunk_size(&buf[at..]) {
            Ok(httparse::Status::Complete(found)) => found,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(_) => return Err(Reject::Malformed),
        };
        at += size_len;
        if size == 0 {
            // Trailer lines up to an empty line.
            loop {
                let Some(end) = buf[at..].windows(2).position(|w| w == b"\r\n") else {
                    return Ok(None);
                };
                at += end + 2;
                if end == 0 {
                    return Ok(Some((body, at)));
                }
            }
        }
        let size = usize::try_from(size).map_err(|_| Reject::BodyTooLarge)?;
        if size > MAX_BODY || body.len() + size > MAX_BODY {
            return Err(Reject::BodyTooLarge);
        }
        if buf.len() < at + size + 2 {
            return Ok(None);
        }
        body.extend_from_slice(&buf[at..at + size]);
        if &buf[at + size..at + size + 2] != b"\r\n" {
            return Err(Reject::Malformed);
        }
        at += size + 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn done(buf: &[u8]) -> (Parsed, usize) {
        match parse(buf) {
            Ok(Parse::Done(parsed, used)) => (parsed, used),
            Ok(Parse::Need { .. }) => panic!("incomplete"),
            Err(e) => panic!("rejected: {e:?}"),
        }
    }

    #[test]
    fn parses_a_request_with_its_body_and_leaves_the_next() {
        let buf = b"POST /v1/chat/completions?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}GET /health HTTP/1.1\r\n\r\n";
        let (parsed, used) = done(buf);
        assert_eq!(&buf[used..], b"GET /health HTTP/1.1\r\n\r\n");
        assert_eq!(parsed.request.method(), Method::POST);
        assert_eq!(parsed.request.uri().path(), "/v1/chat/completions");
        assert_eq!(parsed.request.uri().query(), Some("x=1"));
        assert!(parsed.keep_alive);
        assert_eq!(parsed.request.into_body().0.as_deref(), Some(&b"{}"[..]));
    }

    #[test]
    fn waits_for_the_body_and_asks_for_it_on_expect_continue() {
        let head = b"POST / HTTP/1.1\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n";
        match parse(head) {
            Ok(Parse::Need {
                at_least,
                continue_,
            }) => {
                assert_eq!(at_least, head.len() + 5);
                assert!(continue_);
            }
            _ => panic!("expected to wait for the body"),
        }
    }

    #[test]
    fn decodes_chunked_bodies_with_trailers() {
        let buf = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\nT: 1\r\n\r\n";
        let (parsed, used) = done(buf);
        assert_eq!(used, buf.len());
        assert_eq!(parsed.request.into_body().0.as_deref(), Some(&b"abcde"[..]));
        assert!(matches!(
            parse(&buf[..buf.len() - 2]),
            Ok(Parse::Need { .. })
        ));
    }

    #[test]
    fn http10_and_connection_close_end_the_connection() {
        assert!(!done(b"GET / HTTP/1.0\r\n\r\n").0.keep_alive);
        assert!(
            done(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
                .0
                .keep_alive
        );
        assert!(
            !done(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
                .0
                .keep_alive
        );
    }

    #[test]
    fn rejects_garbage_huge_bodies_and_huge_heads() {
        assert!(matches!(
            parse(b"\x01\x02 nonsense\r\n\r\n"),
            Err(Reject::Malformed)
        ));
        assert!(matches!(
            parse(b"POST / HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n"),
            Err(Reject::BodyTooLarge)
        ));
        let mut long = b"GET / HTTP/1.1\r\nX: ".to_vec();
        long.resize(MAX_HEAD + 10, b'a');
        assert!(matches!(parse(&long), Err(Reject::HeadTooLarge)));
    }
}
