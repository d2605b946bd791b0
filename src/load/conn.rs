//! One keep-alive HTTP/1.1 connection and one request over it, written and
//! read by the worker's own task: the socket side of the exchange, whose
//! framing lives in [`super::http1`].
//!
//! A general client (hyper's) hands each request to a connection task over
//! channels and each body frame back the same way: several task wake-ups and
//! allocations per request. A load generator sends one fixed request at a
//! time and needs only the status, the framing and the body bytes, so this
//! module writes pre-serialized request bytes and parses the answer in place
//! from one reused buffer: no allocation, no task hop, two syscalls in the
//! usual case. When a request is sent again is the resend rule on [`Conn`].
//! A socket error caused by this machine running out of something (file
//! descriptors, local ports, buffers) is [`Failure::Client`], never blamed
//! on the target; an answer that breaks HTTP/1.1 framing is
//! [`Failure::Protocol`] and closes the connection.

use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;

use super::http1::{parse_head, Body, Framing, Head, Violation};
use super::rt::{self, Stream};
use super::scan::{KeyNumber, PairScan};
use super::sse::{Event, Markers, SseScanner};
use crate::dialect::Dialect;
use crate::metrics::Failure;

/// Read buffer size (grows only for larger heads).
const BUF: usize = 16 << 10;

/// A request target resolved once per step, before any timing.
#[derive(Debug)]
pub struct Prepared {
    pub addr: SocketAddr,
    /// `HEAD` answers carry no body whatever their headers say.
    pub head_only: bool,
    /// Response headers (lowercase) in which a gateway reports its own
    /// overhead in milliseconds.
    pub overhead_headers: Vec<String>,
    /// One complete request (request line, headers, body) per rendered body.
    pub wire: Vec<Bytes>,
    /// What the requests speak: how answers are read and what shape a 2xx
    /// answer must have. `None`: read like chat, shape not checked.
    pub dialect: Option<Dialect>,
}

/// What one answer's body showed, filled while it is read. One per worker,
/// reused for every request, so reading it allocates nothing once `gaps`
/// has grown to the longest stream's length.
#[derive(Debug, Default)]
pub struct BodyScanner {
    sse: SseScanner,
    usage: KeyNumber,
    /// A plain body's shape marker; `None` when the dialect is unchecked.
    shape: Option<PairScan>,
    /// Judge the shape of this answer (not for `HEAD`).
    check_shape: bool,
    /// The answer had the shape of the request's dialect (or was not checked).
    pub shaped: bool,
    /// The answer was `text/event-stream`.
    pub streamed: bool,
    /// The stream ended with its last event (`data: [DONE]` for chat).
    pub done: bool,
    /// When the first and the last content event arrived.
    pub first: Option<Instant>,
    pub last: Option<Instant>,
    /// Content events seen.
    pub content_events: u64,
    /// Gaps between successive content events, in microseconds.
    pub gaps: Vec<u32>,
    /// `completion_tokens` from the body's (or the stream's) `usage`.
    pub completion_tokens: Option<u64>,
    /// The gateway's own overhead (ms), from a response header.
    pub overhead_ms: Option<f64>,
}

impl BodyScanner {
    /// A scanner that reads answers of `dialect`.
    pub fn new(dialect: Option<Dialect>) -> Self {
        let markers = Markers::of(dialect);
        BodyScanner {
            sse: SseScanner::new(markers),
            usage: KeyNumber::new(markers.tokens),
            shape: markers.body_shape.map(PairScan::new),
            ..BodyScanner::default()
        }
    }

    fn start(&mut self, streamed: bool, check_shape: bool) {
        self.streamed = streamed;
        self.check_shape = check_shape;
        self.shaped = true;
        self.done = false;
        self.first = None;
        self.last = None;
        self.content_events = 0;
        self.gaps.clear();
        self.completion_tokens = None;
        if streamed {
            self.sse.reset();
        } else {
            self.usage.reset();
            if let Some(shape) = &mut self.shape {
                shape.reset();
            }
        }
    }

    /// Scan a piece of the body as it arrives.
    #[inline]
    fn body(&mut self, bytes: &[u8]) {
        if !self.streamed {
            self.usage.feed(bytes);
            if let Some(shape) = &mut self.shape {
                shape.feed(bytes);
            }
            return;
        }
        let mut now = None;
        let BodyScanner {
            sse,
            done,
            first,
            last,
            content_events,
            gaps,
            completion_tokens,
            ..
        } = self;
        sse.feed(bytes, |e: Event| {
            if e.content {
                let t = *now.get_or_insert_with(Instant::now);
                match *last {
                    None => *first = Some(t),
                    Some(prev) => gaps.push((t - prev).as_micros().min(u32::MAX as u128) as u32),
                }
                *last = Some(t);
                *content_events += 1;
            }
            if let Some(n) = e.completion_tokens {
                *completion_tokens = Some(n);
            }
            // The last event ends the stream (a `[DONE]` after another
            // dialect's last event changes nothing).
            *done = e.done || (*done && e.sentinel);
        });
    }

    fn finish(&mut self) {
        self.shaped = !self.check_shape
            || if self.streamed {
                self.sse.shaped()
            } else {
                self.shape.as_ref().is_none_or(PairScan::found)
            };
        if !self.streamed {
            self.completion_tokens = self.usage.value();
        }
    }
}

/// Why an exchange failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ExchangeError {
    /// Writing the request failed: the server had closed or reset the
    /// connection before it, so it cannot have acted on the request.
    Unsent,
    /// The request was written, then the connection ended or broke before
    /// the answer was complete: the server may have acted on it.
    Broken,
    /// This machine refused to send or read (out of buffers or memory).
    Client,
    /// The answer broke HTTP/1.1 framing.
    Protocol(Violation),
}

impl ExchangeError {
    fn failure(self) -> Failure {
        match self {
            ExchangeError::Unsent | ExchangeError::Broken => Failure::Read,
            ExchangeError::Client => Failure::Client,
            ExchangeError::Protocol(_) => Failure::Protocol,
        }
    }
}

/// Whether an I/O error comes from the client's own machine running out of
/// something (file descriptors, local ports, buffers, memory) rather than
/// from the target or the network: the harness's limit, not the target's.
fn own_limit(e: &io::Error) -> bool {
    use nix::errno::Errno;
    e.raw_os_error().is_some_and(|code| {
        [
            Errno::EMFILE,
            Errno::ENFILE,
            Errno::EADDRNOTAVAIL,
            Errno::EADDRINUSE,
            Errno::ENOBUFS,
            Errno::ENOMEM,
        ]
        .iter()
        .any(|errno| *errno as i32 == code)
    })
}

/// A socket error after the request was written: [`ExchangeError::Client`]
/// when this machine ran out of something, else [`ExchangeError::Broken`].
fn read_error(e: &io::Error) -> ExchangeError {
    if own_limit(e) {
        ExchangeError::Client
    } else {
        ExchangeError::Broken
    }
}

/// The class of a failed connect: [`Failure::Client`] when this machine
/// refused to make the connection, else [`Failure::Connect`].
fn connect_failure(e: &io::Error) -> Failure {
    if own_limit(e) {
        Failure::Client
    } else {
        Failure::Connect
    }
}

/// What a kept-alive connection showed while it sat idle between answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Idle {
    /// Nothing: it can carry the next request.
    Open,
    /// The server closed it (FIN) or reset it (RST).
    Closed,
    /// The server sent bytes nobody asked for.
    Spoke,
}

/// A keep-alive connection, reopened when the server closed it.
///
/// The resend rule: a request is sent a second time only when writing it
/// on a reused connection failed, as the server had reset the connection
/// before the request reached it. Before each request on a reused
/// connection the socket is checked without blocking: a non-blocking read
/// gated by the readiness the loop ([`rt`]) already tracks, so it makes a system
/// call only when the socket became readable since the last answer
/// (measured with strace: one `recvfrom` per request, as before). An idle
/// connection the server closed, with FIN or RST alike, is replaced before
/// anything is sent, which is not a resend. A close that lands between
/// that check and the write, or that the loop has not seen yet, cannot
/// be told from a server that took the request and closed: it is an error
/// (HTTP/1.1 leaves it to the client, RFC 9112 §9.3.1; a non-idempotent
/// request must not be sent twice on a guess). Once the request is
/// written, a connection that ends before the answer (the server received
/// the request and closed without answering) is a `read` error, never sent
/// again: the server may have acted on it. Every resend is counted
/// ([`Conn::resent`]), so the server's request count is the client's
/// requests plus its resends.
pub struct Conn {
    stream: Option<Stream>,
    /// Received bytes not consumed yet: `buf[pos..]`.
    buf: Vec<u8>,
    pos: usize,
    /// The last request was sent a second time.
    resent: bool,
}

impl Default for Conn {
    fn default() -> Self {
        Conn {
            stream: None,
            buf: Vec::with_capacity(BUF),
            pos: 0,
            resent: false,
        }
    }
}

impl Conn {
    /// Open the connection if there is none.
    pub async fn ensure(&mut self, addr: SocketAddr) -> Result<(), Failure> {
        if self.stream.is_none() {
            let stream = Stream::connect(addr)
                .await
                .map_err(|e| connect_failure(&e))?;
            self.stream = Some(stream);
            self.buf.clear();
            self.pos = 0;
        }
        Ok(())
    }

    /// Whether the last request was sent twice (see the resend rule on [`Conn`]).
    pub fn resent(&self) -> bool {
        self.resent
    }

    /// [`Conn::send`], given up at `deadline` (by the loop's sweep: a
    /// store per request, no timer); after a timeout the connection's
    /// state is unknown, so it is dropped.
    pub async fn send_within(
        &mut self,
        deadline: Instant,
        target: &Prepared,
        wire: &[u8],
        scanner: &mut BodyScanner,
    ) -> Option<Failure> {
        let answer = rt::within(deadline, self.send(target, wire, scanner)).await;
        answer.unwrap_or_else(|| {
            self.reset();
            Some(Failure::Timeout)
        })
    }

    /// Send `wire` and read the whole answer into `scanner`. Returns `None` for
    /// a 2xx in the shape of the dialect (a stream must also end with its
    /// last event, `data: [DONE]` for chat). Resends follow the rule on [`Conn`].
    pub async fn send(
        &mut self,
        target: &Prepared,
        wire: &[u8],
        scanner: &mut BodyScanner,
    ) -> Option<Failure> {
        self.resent = false;
        match self.idle() {
            Idle::Open => {}
            Idle::Closed => self.reset(),
            Idle::Spoke => {
                // The previous answer's framing was wrong; this request is
                // not sent on a connection whose state is unknown.
                self.reset();
                return Some(Failure::Protocol);
            }
        }
        let reused = self.stream.is_some();
        let result = match self.exchange(target, wire, scanner).await {
            Err(ExchangeError::Unsent) if reused => {
                self.reset();
                self.resent = true;
                self.exchange(target, wire, scanner).await
            }
            other => other,
        };
        match result {
            Ok(answer) => answer,
            Err(e) => {
                self.reset();
                Some(e.failure())
            }
        }
    }

    /// Look at an open connection between two answers without waiting.
    fn idle(&mut self) -> Idle {
        let Some(stream) = &self.stream else {
            return Idle::Open;
        };
        // Every answer was read to its end and nothing was left (see
        // `exchange`), so the buffer is empty with room to read into.
        self.buf.clear();
        self.pos = 0;
        match stream.try_read(&mut self.buf) {
            None => Idle::Open,
            Some(Ok(0) | Err(_)) => Idle::Closed,
            Some(Ok(_)) => Idle::Spoke,
        }
    }

    async fn exchange(
        &mut self,
        target: &Prepared,
        wire: &[u8],
        scanner: &mut BodyScanner,
    ) -> Result<Option<Failure>, ExchangeError> {
        if let Err(f) = self.ensure(target.addr).await {
            return Ok(Some(f));
        }
        let stream = self.stream.as_ref().expect("connected above");
        if let Err(e) = stream.write_all(wire).await {
            return Err(if own_limit(&e) {
                ExchangeError::Client
            } else {
                ExchangeError::Unsent
            });
        }
        // Interim (1xx) answers come before the real one.
        let head = loop {
            let head = self.read_head(&target.overhead_headers).await?;
            self.pos += head.len;
            if !head.interim() {
                break head;
            }
        };
        scanner.start(head.event_stream, !target.head_only);
        scanner.overhead_ms = head.overhead_ms;
        let framing = if target.head_only {
            Framing::Length(0)
        } else {
            head.framing
        };
        self.read_body(Body::new(framing), scanner).await?;
        scanner.finish();
        if self.pos != self.buf.len() {
            return Err(ExchangeError::Protocol(Violation::TrailingBytes));
        }
        if head.close || framing == Framing::Close {
            self.reset();
        } else {
            self.buf.clear();
            self.pos = 0;
        }
        Ok(if !(200..300).contains(&head.status) {
            Some(Failure::Status(head.status))
        } else if !scanner.shaped {
            Some(Failure::Shape)
        } else if head.event_stream && !scanner.done {
            Some(Failure::Truncated)
        } else {
            None
        })
    }

    /// Read more bytes; `Ok(0)` is the end of the stream.
    async fn fill(&mut self) -> io::Result<usize> {
        if self.pos > 0 && self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        } else if self.buf.capacity() - self.buf.len() < BUF / 4 {
            if self.pos > 0 {
                self.buf.drain(..self.pos);
                self.pos = 0;
            }
            self.buf.reserve(BUF);
        }
        let stream = self.stream.as_ref().expect("connected");
        stream.read(&mut self.buf).await
    }

    async fn read_head(&mut self, overhead: &[String]) -> Result<Head, ExchangeError> {
        loop {
            // Nothing to parse before the first bytes of the answer arrive.
            if self.pos < self.buf.len() {
                if let Some(head) =
                    parse_head(&self.buf[self.pos..], overhead).map_err(ExchangeError::Protocol)?
                {
                    return Ok(head);
                }
            }
            match self.fill().await {
                Ok(0) => return Err(ExchangeError::Broken),
                Err(e) => return Err(read_error(&e)),
                Ok(_) => {}
            }
        }
    }

    async fn read_body(
        &mut self,
        mut body: Body,
        scanner: &mut BodyScanner,
    ) -> Result<(), ExchangeError> {
        loop {
            let (used, done) = body
                .advance(&self.buf[self.pos..], |data| scanner.body(data))
                .map_err(ExchangeError::Protocol)?;
            self.pos += used;
            if done {
                return Ok(());
            }
            match self.fill().await {
                Ok(0) if body.ends_at_close() => return Ok(()),
                Ok(0) => return Err(ExchangeError::Broken),
                Err(e) => return Err(read_error(&e)),
                Ok(_) => {}
            }
        }
    }

    /// Forget the connection (after a timeout or an error its state is unknown).
    pub fn reset(&mut self) {
        self.stream = None;
        self.buf.clear();
        self.pos = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Set in the child process [`a_connect_refused_by_this_machine_is_a_client_failure`] starts.
    const EMFILE_CHILD: &str = "SCENARIO_TEST_EMFILE_CHILD";

    /// Lowers the open-files limit, so it runs alone in a child process of
    /// its own (this test binary, started by the test below); in the normal
    /// test run it does nothing.
    #[test]
    fn emfile_child() {
        if std::env::var_os(EMFILE_CHILD).is_none() {
            return;
        }
        use nix::sys::resource::{getrlimit, setrlimit, Resource};
        // The loop's own descriptors are made before the limit is lowered.
        let mut lp = rt::Loop::new(std::time::Duration::from_millis(10)).unwrap();
        let mut connect = |addr| {
            lp.run(
                vec![async move { Conn::default().ensure(addr).await }],
                None,
            )
            .pop()
            .flatten()
            .unwrap()
        };
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let open = listener.local_addr().unwrap();
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        // A port nobody listens on is the target's problem, not ours.
        let refused = connect(closed);
        assert_eq!(refused, Err(Failure::Connect));
        // Out of file descriptors: the listening target cannot be reached
        // because this process may open no more.
        let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
        setrlimit(Resource::RLIMIT_NOFILE, 32, hard).unwrap();
        let mut held = Vec::new();
        while let Ok(f) = std::fs::File::open("/dev/null") {
            held.push(f);
            assert!(held.len() < 64, "the lowered limit did not take");
        }
        let exhausted = connect(open);
        assert_eq!(exhausted, Err(Failure::Client));
        drop(held);
        println!("emfile child: connect refused by this machine is `client`");
    }

    #[test]
    fn a_connect_refused_by_this_machine_is_a_client_failure() {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "load::conn::tests::emfile_child",
                "--test-threads=1",
                "--nocapture",
            ])
            .env(EMFILE_CHILD, "1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("is `client`"),
            "child failed: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
