//! One keep-alive HTTP/1.1 connection and one request over it, written and
//! read by the worker's own task.
//!
//! A general client (hyper's) hands each request to a connection task over
//! channels and each body frame back the same way: several task wake-ups and
//! allocations per request. A load generator sends one fixed request at a
//! time and needs only the status, the framing and the body bytes, so this
//! module writes pre-serialized request bytes and parses the answer in place
//! from one reused buffer: no allocation, no task hop, two syscalls in the
//! usual case. It handles `content-length`, `chunked` and read-to-close
//! bodies, `1xx` interim answers, `connection: close` and HTTP/1.0.
//! A socket error caused by this machine running out of something (file
//! descriptors, local ports, buffers) is [`Failure::Client`], never blamed
//! on the target.

use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::sse::{Event, KeyNumber, SseScanner};
use crate::metrics::Failure;

/// Largest response head accepted, in bytes.
const MAX_HEAD: usize = 64 << 10;
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
}

/// What one answer's body showed, filled while it is read. One per worker,
/// reused for every request, so reading it allocates nothing once `gaps`
/// has grown to the longest stream's length.
#[derive(Debug, Default)]
pub struct Probe {
    sse: SseScanner,
    usage: KeyNumber,
    /// The answer was `text/event-stream`.
    pub streamed: bool,
    /// The stream's last event was `data: [DONE]`.
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

impl Probe {
    fn start(&mut self, streamed: bool) {
        self.streamed = streamed;
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
        }
    }

    /// Scan a piece of the body as it arrives.
    #[inline]
    fn body(&mut self, bytes: &[u8]) {
        if !self.streamed {
            self.usage.feed(bytes);
            return;
        }
        let mut now = None;
        let Probe {
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
            *done = e.done;
        });
    }

    fn finish(&mut self) {
        if !self.streamed {
            self.completion_tokens = self.usage.value();
        }
    }
}

/// How the body of an answer ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Length(u64),
    Chunked,
    /// Until the server closes the connection.
    Close,
}

/// The parts of a response head the engine needs.
#[derive(Debug, Clone, Copy)]
struct Head {
    status: u16,
    /// Bytes of the head, blank line included.
    len: usize,
    framing: Framing,
    event_stream: bool,
    /// The connection cannot be reused after this answer.
    close: bool,
    /// The gateway's own overhead, from a header the profile names.
    overhead_ms: Option<f64>,
}

/// Why reading an answer failed.
enum ReadError {
    /// The server closed the connection before a single byte of the answer.
    ClosedBeforeAnswer,
    /// This machine refused to send (out of buffers or memory).
    Client,
    Failed,
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

/// A socket error while sending or reading: [`ReadError::Client`] when this
/// machine ran out of something, else [`ReadError::Failed`].
fn io_error(e: &io::Error) -> ReadError {
    if own_limit(e) {
        ReadError::Client
    } else {
        ReadError::Failed
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

/// A connection that reconnects when the server closed it.
pub struct Conn {
    stream: Option<TcpStream>,
    /// Received bytes not consumed yet: `buf[pos..]`.
    buf: Vec<u8>,
    pos: usize,
}

impl Default for Conn {
    fn default() -> Self {
        Conn {
            stream: None,
            buf: Vec::with_capacity(BUF),
            pos: 0,
        }
    }
}

impl Conn {
    /// Open the connection if there is none.
    pub async fn ensure(&mut self, addr: SocketAddr) -> Result<(), Failure> {
        if self.stream.is_none() {
            let stream = TcpStream::connect(addr)
                .await
                .map_err(|e| connect_failure(&e))?;
            let _ = stream.set_nodelay(true);
            self.stream = Some(stream);
            self.buf.clear();
            self.pos = 0;
        }
        Ok(())
    }

    /// Send `wire` and read the whole answer into `probe`. Returns `None` for
    /// a 2xx (a stream must also end with `data: [DONE]`). A kept-alive
    /// connection the server closed while idle is reopened and the request
    /// sent again, once.
    /// [`Conn::send`] within `timeout`; after a timeout the connection's
    /// state is unknown, so it is dropped.
    pub async fn send_within(
        &mut self,
        timeout: std::time::Duration,
        target: &Prepared,
        wire: &[u8],
        probe: &mut Probe,
    ) -> Option<Failure> {
        match tokio::time::timeout(timeout, self.send(target, wire, probe)).await {
            Ok(failure) => failure,
            Err(_) => {
                self.reset();
                Some(Failure::Timeout)
            }
        }
    }

    pub async fn send(
        &mut self,
        target: &Prepared,
        wire: &[u8],
        probe: &mut Probe,
    ) -> Option<Failure> {
        let reused = self.stream.is_some();
        let failed = |e: ReadError| match e {
            ReadError::Client => Failure::Client,
            ReadError::ClosedBeforeAnswer | ReadError::Failed => Failure::Read,
        };
        match self.exchange(target, wire, probe).await {
            Ok(answer) => answer,
            Err(ReadError::ClosedBeforeAnswer) if reused => {
                self.reset();
                match self.exchange(target, wire, probe).await {
                    Ok(answer) => answer,
                    Err(e) => {
                        self.reset();
                        Some(failed(e))
                    }
                }
            }
            Err(e) => {
                self.reset();
                Some(failed(e))
            }
        }
    }

    async fn exchange(
        &mut self,
        target: &Prepared,
        wire: &[u8],
        probe: &mut Probe,
    ) -> Result<Option<Failure>, ReadError> {
        if let Err(f) = self.ensure(target.addr).await {
            return Ok(Some(f));
        }
        let stream = self.stream.as_mut().expect("connected above");
        if let Err(e) = stream.write_all(wire).await {
            return Err(io_error(&e));
        }
        // Interim (1xx) answers come before the real one.
        let head = loop {
            let head = self.read_head(&target.overhead_headers).await?;
            if (100..200).contains(&head.status) && head.status != 101 {
                self.pos += head.len;
                continue;
            }
            break head;
        };
        self.pos += head.len;
        probe.start(head.event_stream);
        probe.overhead_ms = head.overhead_ms;
        let framing = if target.head_only {
            Framing::Length(0)
        } else {
            head.framing
        };
        match framing {
            Framing::Length(n) => self.read_length(n, probe).await?,
            Framing::Chunked => self.read_chunked(probe).await?,
            Framing::Close => self.read_to_close(probe).await?,
        }
        probe.finish();
        if head.close || framing == Framing::Close {
            self.reset();
        } else if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        }
        Ok(if !(200..300).contains(&head.status) {
            Some(Failure::Status(head.status))
        } else if head.event_stream && !probe.done {
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
        let stream = self.stream.as_mut().expect("connected");
        stream.read_buf(&mut self.buf).await
    }

    async fn read_head(&mut self, overhead: &[String]) -> Result<Head, ReadError> {
        let mut first = true;
        loop {
            if let Some(head) =
                parse_head(&self.buf[self.pos..], overhead).map_err(|_| ReadError::Failed)?
            {
                return Ok(head);
            }
            if self.buf.len() - self.pos > MAX_HEAD {
                return Err(ReadError::Failed);
            }
            match self.fill().await {
                Ok(0) if first && self.pos == self.buf.len() => {
                    return Err(ReadError::ClosedBeforeAnswer)
                }
                Ok(0) => return Err(ReadError::Failed),
                Err(e) => return Err(io_error(&e)),
                Ok(_) => first = false,
            }
        }
    }

    async fn read_length(&mut self, mut left: u64, probe: &mut Probe) -> Result<(), ReadError> {
        loop {
            let avail = &self.buf[self.pos..];
            let take = (avail.len() as u64).min(left) as usize;
            if take > 0 {
                probe.body(&avail[..take]);
                self.pos += take;
                left -= take as u64;
            }
            if left == 0 {
                return Ok(());
            }
            match self.fill().await {
                Ok(0) => return Err(ReadError::Failed),
                Err(e) => return Err(io_error(&e)),
                Ok(_) => {}
            }
        }
    }

    async fn read_to_close(&mut self, probe: &mut Probe) -> Result<(), ReadError> {
        loop {
            probe.body(&self.buf[self.pos..]);
            self.pos = self.buf.len();
            match self.fill().await {
                Ok(0) => return Ok(()),
                Err(e) => return Err(io_error(&e)),
                Ok(_) => {}
            }
        }
    }

    async fn read_chunked(&mut self, probe: &mut Probe) -> Result<(), ReadError> {
        let mut chunks = Chunked::default();
        loop {
            let avail = &self.buf[self.pos..];
            let (used, done) = chunks
                .advance(avail, |data| probe.body(data))
                .map_err(|_| ReadError::Failed)?;
            self.pos += used;
            if done {
                return Ok(());
            }
            match self.fill().await {
                Ok(0) => return Err(ReadError::Failed),
                Err(e) => return Err(io_error(&e)),
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

/// Parse a response head at the start of `b`; `Ok(None)` when incomplete.
/// Parse a response head; `overhead` names headers whose value (ms) is kept.
fn parse_head(b: &[u8], overhead: &[String]) -> Result<Option<Head>, ()> {
    // httparse (hyper's own parser): zero-copy, no allocation.
    let mut headers = [httparse::EMPTY_HEADER; 96];
    let mut response = httparse::Response::new(&mut headers);
    let end = match response.parse(b) {
        Ok(httparse::Status::Complete(end)) => end,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(()),
    };
    let status = response.code.ok_or(())?;
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
            length = Some(parse_u64(value).ok_or(())?);
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

/// The chunked transfer coding, decoded incrementally.
#[derive(Debug, Default)]
struct Chunked {
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
    /// After the last chunk: trailer lines until a blank one.
    Trailer,
}

impl Chunked {
    /// Decode what `avail` holds; returns the bytes used and whether the body ended.
    fn advance(&mut self, avail: &[u8], mut data: impl FnMut(&[u8])) -> Result<(usize, bool), ()> {
        let mut used = 0;
        loop {
            let rest = &avail[used..];
            match self.state {
                ChunkState::Size => {
                    let Some(nl) = rest.iter().position(|&c| c == b'\n') else {
                        return if rest.len() > 1024 {
                            Err(())
                        } else {
                            Ok((used, false))
                        };
                    };
                    let line = &rest[..nl];
                    let digits = line.iter().take_while(|c| c.is_ascii_hexdigit()).count();
                    if digits == 0 || digits > 15 {
                        return Err(());
                    }
                    let size = line[..digits].iter().fold(0u64, |n, &c| {
                        n * 16 + u64::from((c as char).to_digit(16).unwrap_or(0))
                    });
                    used += nl + 1;
                    self.state = if size == 0 {
                        ChunkState::Trailer
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
                        return if rest.len() > 2 {
                            Err(())
                        } else {
                            Ok((used, false))
                        };
                    };
                    if nl > 1 {
                        return Err(());
                    }
                    used += nl + 1;
                    self.state = ChunkState::Size;
                }
                ChunkState::Trailer => {
                    let Some(nl) = rest.iter().position(|&c| c == b'\n') else {
                        return Ok((used, false));
                    };
                    let blank = nl == 0 || (nl == 1 && rest[0] == b'\r');
                    used += nl + 1;
                    if blank {
                        return Ok((used, true));
                    }
                }
            }
        }
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
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let open = listener.local_addr().unwrap();
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        // A port nobody listens on is the target's problem, not ours.
        let refused = runtime.block_on(Conn::default().ensure(closed));
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
        let exhausted = runtime.block_on(Conn::default().ensure(open));
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
        assert!(parse_head(b"SSH-2.0\r\n\r\n", &[]).is_err());
        // 204 and 304 have no body even without content-length: reading to
        // close would hang a kept-alive connection until the timeout.
        for code in ["204 No Content", "304 Not Modified"] {
            let head = format!("HTTP/1.1 {code}\r\nconnection: keep-alive\r\n\r\n");
            let h = parse_head(head.as_bytes(), &[]).unwrap().unwrap();
            assert_eq!((h.framing, h.close), (Framing::Length(0), false), "{code}");
        }
        assert!(parse_head(b"HTTP/1.1 200 OK\r\ncontent-length: x\r\n\r\n", &[]).is_err());
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
        assert!(c.advance(b"zz\r\n", |_| {}).is_err());
    }
}
