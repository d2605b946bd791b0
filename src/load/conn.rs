//! One keep-alive HTTP/1.1 connection and one request over it (hyper 1.x, client side).

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{HeaderMap, Method, Request, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::metrics::Failure;

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

    /// Send `req` and read the whole answer. Returns `None` for a 2xx.
    pub async fn send(&mut self, addr: SocketAddr, req: Request<Full<Bytes>>) -> Option<Failure> {
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
        let mut body = response.into_body();
        while let Some(frame) = body.frame().await {
            if frame.is_err() {
                self.sender = None;
                return Some(Failure::Read);
            }
        }
        if status.is_success() {
            None
        } else {
            Some(Failure::Status(status.as_u16()))
        }
    }

    /// Forget the connection (after a timeout its state is unknown).
    pub fn reset(&mut self) {
        self.sender = None;
    }
}
