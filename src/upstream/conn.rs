//! One connection of the fake upstream: a lean HTTP/1.1 server loop.
//!
//! A connection holds no buffer while it waits: requests are read into a
//! per-thread scratch buffer and parsed there (httparse); only bytes of an
//! unfinished request (or a pipelined next one) are kept per connection. Each
//! request reaches the handlers as a `Request<Incoming>` whose path and body
//! share one exact-size allocation (the headers the server acts on, length,
//! framing, `Connection`, `Expect`, are read while parsing; the handlers
//! read none, so none are copied); the answer is written straight to the
//! socket (Content-Length, or chunked when the length is unknown), token
//! streams flushed as each frame is ready. So an open request costs its task,
//! its request bytes and the socket, not a pair of 8 KiB buffers.
//!
//! What it keeps from a full server: keep-alive and pipelining, HTTP/1.0,
//! `Expect: 100-continue`, chunked request bodies, HEAD, limits on head and
//! body size, a client that leaves mid-request cancels the handler, and a
//! body that fails mid-way (the truncation fault) closes the connection.

use std::cell::RefCell;
use std::future::poll_fn;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper::body::Body as _;
use hyper::header::HeaderValue;
use hyper::{Request, Response, StatusCode};
use tokio::io::{AsyncRead, ReadBuf};
use tokio::net::TcpStream;

use super::body::Body;
use super::handlers::{self, ConnState};
pub use super::parse::Incoming;
use super::parse::{parse, Parse, Parsed, Reject, MAX_HEAD};

/// Bytes read per `read` call, into the per-thread scratch buffer.
const SCRATCH: usize = 64 << 10;
/// Pipelined bytes kept while a request is being answered; beyond this the
/// connection stops reading until the answer is out.
const MAX_PENDING: usize = MAX_HEAD;
/// Body bytes of one answer gathered before a write.
const GATHER: usize = 16 << 10;

thread_local! {
    static READ_BUF: RefCell<Box<[u8]>> = RefCell::new(vec![0; SCRATCH].into_boxed_slice());
    static DATE: RefCell<(u64, [u8; 29])> = const { RefCell::new((0, [0; 29])) };
}

/// Serves HTTP/1.1 requests on `stream` until the client closes, an answer
/// ends the connection, or the server closes it (`state.closing`, or the
/// future dropped while `state.idle`). With the reset fault drawn, the
/// socket closes with RST.
pub async fn serve(stream: TcpStream, state: Arc<ConnState>) {
    let mut conn = Conn {
        stream,
        pending: Vec::new(),
    };
    let _ = conn.run(&state).await;
    if state.reset.load(Ordering::Relaxed) {
        let _ = conn.stream.set_zero_linger();
    }
}

struct Conn {
    stream: TcpStream,
    /// Bytes read but not yet served: an unfinished or pipelined request.
    pending: Vec<u8>,
}

#[allow(clippy::large_enum_variant)]
enum Read {
    Request(Parsed),
    Closed,
}

impl Conn {
    async fn run(&mut self, state: &Arc<ConnState>) -> io::Result<()> {
        loop {
            let parsed = match self.next_request(state).await {
                Ok(Read::Request(parsed)) => parsed,
                Ok(Read::Closed) => return Ok(()),
                Err(Ok(reject)) => return self.reject(reject).await,
                Err(Err(e)) => return Err(e),
            };
            let Parsed {
                request,
                mut keep_alive,
                head_only,
                http10,
            } = parsed;
            let Some(answer) = self.answer(state, request).await? else {
                return Ok(()); // the client left, or the handler closes (hang, reset)
            };
            if state.closing.load(Ordering::Relaxed) {
                keep_alive = false;
            }
            keep_alive = self.write(answer, keep_alive, head_only, http10).await? && keep_alive;
            if !keep_alive {
                return Ok(());
            }
        }
    }

    /// Runs the handler, watching the socket meanwhile: a client that closes
    /// cancels it (`None`), bytes of a pipelined request are kept for later.
    async fn answer(
        &mut self,
        state: &Arc<ConnState>,
        request: Request<Incoming>,
    ) -> io::Result<Option<Response<Body>>> {
        let handler = handlers::handle(state.clone(), request);
        tokio::pin!(handler);
        loop {
            let watch = self.pending.len() < MAX_PENDING;
            tokio::select! {
                biased;
                answer = &mut handler => return Ok(answer.ok()),
                ready = self.stream.readable(), if watch => {
                    ready?;
                    match self.read_more() {
                        Ok(0) => return Ok(None),
                        Ok(_) => {}
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                        Err(e) => return Err(e),
                    }
                }
            }
        }
    }

    /// Reads what the socket has into `pending`; 0 at end of stream.
    fn read_more(&mut self) -> io::Result<usize> {
        READ_BUF.with(|buf| {
            let mut buf = buf.borrow_mut();
            let n = self.stream.try_read(&mut buf[..])?;
            self.pending.extend_from_slice(&buf[..n]);
            Ok(n)
        })
    }

    /// The next complete request; `Closed` when the client closes between
    /// requests. Waiting with no bytes of a request, the connection is
    /// `idle`: the server may drop it then.
    async fn next_request(&mut self, state: &ConnState) -> Result<Read, Result<Reject, io::Error>> {
        let mut need = 1;
        let mut continued = false;
        if !self.pending.is_empty() {
            match self.parse_pending().map_err(Ok)? {
                Parse::Done(parsed, _) => return Ok(Read::Request(parsed)),
                Parse::Need { at_least, .. } => need = at_least,
            }
        }
        loop {
            let step = poll_fn(|cx| {
                let step = self.poll_read(cx);
                state.idle.store(
                    step.is_pending() && self.pending.is_empty(),
                    Ordering::Relaxed,
                );
                step
            })
            .await?;
            match step {
                Some(Read::Closed) if !self.pending.is_empty() => {
                    return Err(Ok(Reject::Malformed)); // a request cut short
                }
                Some(read) => return Ok(read),
                None => {}
            }
            if self.pending.len() < need {
                continue;
            }
            match self.parse_pending().map_err(Ok)? {
                Parse::Done(parsed, _) => return Ok(Read::Request(parsed)),
                Parse::Need {
                    at_least,
                    continue_,
                } => {
                    need = at_least;
                    if continue_ && !continued {
                        continued = true;
                        write_all(&self.stream, b"HTTP/1.1 100 Continue\r\n\r\n", &[])
                            .await
                            .map_err(Err)?;
                    }
                }
            }
        }
    }

    /// One read into the per-thread buffer. A whole request in one read (the
    /// usual case) is parsed in place; other bytes go to `pending` (`None`).
    /// `AsyncRead` rather than `try_read`: a short read clears the socket's
    /// readiness, which saves a `read` returning `EAGAIN` per request.
    #[allow(clippy::type_complexity)]
    fn poll_read(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Option<Read>, Result<Reject, io::Error>>> {
        READ_BUF.with(|buf| {
            let mut buf = buf.borrow_mut();
            let mut read = ReadBuf::new(&mut buf[..]);
            match Pin::new(&mut self.stream).poll_read(cx, &mut read) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(Err(e))),
                Poll::Ready(Ok(())) => {}
            }
            let n = read.filled().len();
            let data = &buf[..n];
            Poll::Ready(if n == 0 {
                Ok(Some(Read::Closed))
            } else if !self.pending.is_empty() {
                self.pending.extend_from_slice(data);
                Ok(None)
            } else {
                match parse(data) {
                    Ok(Parse::Done(parsed, used)) => {
                        self.pending.extend_from_slice(&data[used..]);
                        Ok(Some(Read::Request(parsed)))
                    }
                    Ok(Parse::Need { .. }) => {
                        self.pending.extend_from_slice(data);
                        Ok(None)
                    }
                    Err(reject) => Err(Ok(reject)),
                }
            })
        })
    }

    /// Parses `pending`, dropping the bytes of a complete request.
    fn parse_pending(&mut self) -> Result<Parse, Reject> {
        let parse = parse(&self.pending)?;
        if let Parse::Done(_, used) = &parse {
            self.pending.drain(..*used);
            if self.pending.is_empty() {
                self.pending = Vec::new(); // hold nothing while idle
            }
        }
        Ok(parse)
    }

    async fn reject(&mut self, reject: Reject) -> io::Result<()> {
        let (status, message) = match reject {
            Reject::Malformed => (StatusCode::BAD_REQUEST, "Malformed HTTP/1.1 request"),
            Reject::HeadTooLarge => (
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "Request head larger than 65536 bytes or with more than 100 headers",
            ),
            Reject::BodyTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "Request body larger than 33554432 bytes",
            ),
        };
        let body = format!(
            r#"{{"error":{{"message":"{message}","type":"invalid_request_error","param":null,"code":null}}}}"#
        );
        let mut response = Response::new(Body::full(body));
        *response.status_mut() = status;
        response.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        self.write(response, false, false, false).await.map(|_| ())
    }

    /// Writes `answer`; false when its body failed part-way (the connection
    /// must close) or has no length over HTTP/1.0.
    // Long by choice (issue 16): the per-answer write path (head, gathered
    // body frames, flushes), one loop read top to bottom; one async frame.
    async fn write(
        &mut self,
        answer: Response<Body>,
        keep_alive: bool,
        head_only: bool,
        http10: bool,
    ) -> io::Result<bool> {
        let (parts, mut body) = answer.into_parts();
        let length = body.size_hint().exact();
        let chunked = length.is_none() && !http10;
        let keep_alive = keep_alive && (length.is_some() || chunked);
        // One allocation: the head, and a whole body that fits one write.
        let body_len = length.map_or(0, |len| len.min(GATHER as u64) as usize);
        let mut out = Vec::with_capacity(256 + body_len);
        out.extend_from_slice(if http10 { b"HTTP/1.0 " } else { b"HTTP/1.1 " });
        out.extend_from_slice(parts.status.as_str().as_bytes());
        out.push(b' ');
        out.extend_from_slice(parts.status.canonical_reason().unwrap_or("").as_bytes());
        out.extend_from_slice(b"\r\n");
        for (name, value) in &parts.headers {
            out.extend_from_slice(name.as_str().as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        match length {
            Some(len) => {
                out.extend_from_slice(b"content-length: ");
                super::openai::push_u64(&mut out, len);
                out.extend_from_slice(b"\r\n");
            }
            None if chunked => out.extend_from_slice(b"transfer-encoding: chunked\r\n"),
            None => {}
        }
        if !keep_alive {
            out.extend_from_slice(b"connection: close\r\n");
        } else if http10 {
            out.extend_from_slice(b"connection: keep-alive\r\n");
        }
        push_date(&mut out);
        out.extend_from_slice(b"\r\n");
        if head_only {
            write_all(&self.stream, &out, &[]).await?;
            return Ok(keep_alive);
        }
        loop {
            let next = poll_fn(|cx| match Pin::new(&mut body).poll_frame(cx) {
                Poll::Ready(frame) => Poll::Ready(Some(frame)),
                Poll::Pending if out.is_empty() => Poll::Pending,
                Poll::Pending => Poll::Ready(None), // flush what is ready, then wait
            })
            .await;
            let data = match next {
                None => {
                    write_all(&self.stream, &out, &[]).await?;
                    out.clear();
                    continue;
                }
                Some(None) => break,
                Some(Some(Err(_))) => {
                    // A body failing mid-way (truncation): send what came, then close.
                    write_all(&self.stream, &out, &[]).await?;
                    return Ok(false);
                }
                Some(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) if !data.is_empty() => data,
                    _ => continue, // trailers, empty frames
                },
            };
            if chunked {
                push_hex(&mut out, data.len());
                out.extend_from_slice(b"\r\n");
            }
            if out.len() + data.len() <= GATHER {
                out.extend_from_slice(&data);
            } else {
                write_all(&self.stream, &out, &data).await?;
                out.clear();
            }
            if chunked {
                out.extend_from_slice(b"\r\n");
            }
        }
        if chunked {
            out.extend_from_slice(b"0\r\n\r\n");
        }
        write_all(&self.stream, &out, &[]).await?;
        Ok(keep_alive)
    }
}

/// Writes `a` then `b`, in one system call when the socket takes both.
async fn write_all(stream: &TcpStream, mut a: &[u8], mut b: &[u8]) -> io::Result<()> {
    while !a.is_empty() || !b.is_empty() {
        let written = if b.is_empty() {
            stream.try_write(a)
        } else if a.is_empty() {
            stream.try_write(b)
        } else {
            stream.try_write_vectored(&[IoSlice::new(a), IoSlice::new(b)])
        };
        match written {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                let from_a = n.min(a.len());
                a = &a[from_a..];
                b = &b[n - from_a..];
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => stream.writable().await?,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn push_hex(out: &mut Vec<u8>, n: usize) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut digits = [0u8; 16];
    let mut i = digits.len();
    let mut n = n;
    loop {
        i -= 1;
        digits[i] = HEX[n & 15];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// `date: <IMF-fixdate>\r\n`, formatted once a second per thread.
fn push_date(out: &mut Vec<u8>) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    DATE.with(|date| {
        let mut date = date.borrow_mut();
        if date.0 != now {
            let format = time::macros::format_description!(
                "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
            );
            let text = time::OffsetDateTime::from_unix_timestamp(now as i64)
                .ok()
                .and_then(|t| t.format(format).ok())
                .unwrap_or_default();
            if text.len() == 29 {
                date.1.copy_from_slice(text.as_bytes());
                date.0 = now;
            }
        }
        if date.0 == now {
            out.extend_from_slice(b"date: ");
            out.extend_from_slice(&date.1);
            out.extend_from_slice(b"\r\n");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_format() {
        let mut out = Vec::new();
        crate::upstream::openai::push_u64(&mut out, 0);
        out.push(b' ');
        crate::upstream::openai::push_u64(&mut out, 1234567);
        out.push(b' ');
        push_hex(&mut out, 255);
        out.push(b' ');
        push_date(&mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("0 1234567 ff date: "), "{text}");
        assert!(text.ends_with(" GMT\r\n"), "{text}");
    }
}
