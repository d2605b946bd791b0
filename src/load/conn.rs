//! One keep-alive HTTP/1.1 connection and one request over it (hyper 1.x, client side).

use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::CONTENT_TYPE;
use hyper::{HeaderMap, Method, Request, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::sse::{Event, KeyNumber, SseScanner};
use crate::metrics::Failure;

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

    /// Scan one body frame as it arrives.
    #[inline]
    fn frame(&mut self, bytes: &[u8]) {
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

/// A request target resolved once per step, before any timing.
#[derive(Debug)]
pub struct Prepared {
    pub addr: SocketAddr,
    pub method: Method,
    /// Path and query sent on the request line.
    pub uri: Uri,
    /// Headers, `host` included.
    pub headers: HeaderMap,
    pub bodies: Vec<Bytes>,
}

impl Prepared {
    /// Build the request for body `i`. Called before the clock starts.
    #[inline]
    pub fn request(&self, i: usize) -> Request<Full<Bytes>> {
        let mut req = Request::new(Full::new(self.bodies[i].clone()));
        *req.method_mut() = self.method.clone();
        *req.uri_mut() = self.uri.clone();
        *req.headers_mut() = self.headers.clone();
        req
    }
}

/// A connection that reconnects when the server closed it.
#[derive(Default)]
pub struct Conn {
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Conn {
    /// Open the connection if there is none (or the server closed it).
    pub async fn ensure(&mut self, addr: SocketAddr) -> Result<(), Failure> {
        if let Some(sender) = &mut self.sender {
            if sender.ready().await.is_ok() {
                return Ok(());
            }
        }
        self.sender = None;
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|_| Failure::Connect)?;
        let _ = stream.set_nodelay(true);
        let (sender, connection) = http1::Builder::new()
            .handshake(TokioIo::new(stream))
            .await
            .map_err(|_| Failure::Connect)?;
        tokio::task::spawn_local(async move {
            let _ = connection.await;
        });
        self.sender = Some(sender);
        Ok(())
    }

    /// Send `req` and read the whole answer into `probe`. Returns `None` for
    /// a 2xx (a stream must also end with `data: [DONE]`).
    pub async fn send(
        &mut self,
        addr: SocketAddr,
        req: Request<Full<Bytes>>,
        probe: &mut Probe,
    ) -> Option<Failure> {
        if let Err(f) = self.ensure(addr).await {
            return Some(f);
        }
        let sender = self.sender.as_mut()?;
        let response = match sender.send_request(req).await {
            Ok(r) => r,
            Err(_) => {
                self.sender = None;
                return Some(Failure::Read);
            }
        };
        let status = response.status();
        let streamed = response
            .headers()
            .get(CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
        probe.start(streamed);
        let mut body = response.into_body();
        while let Some(frame) = body.frame().await {
            match frame {
                Ok(frame) => {
                    if let Some(data) = frame.data_ref() {
                        probe.frame(data);
                    }
                }
                Err(_) => {
                    self.sender = None;
                    return Some(Failure::Read);
                }
            }
        }
        probe.finish();
        if !status.is_success() {
            Some(Failure::Status(status.as_u16()))
        } else if streamed && !probe.done {
            Some(Failure::Truncated)
        } else {
            None
        }
    }

    /// Forget the connection (after a timeout its state is unknown).
    pub fn reset(&mut self) {
        self.sender = None;
    }
}
