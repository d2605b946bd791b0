//! The accept loop: one hyper HTTP/1.1 connection task per socket, keep-alive,
//! TCP_NODELAY, and a socket wrapper that can end a connection with a reset.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use super::handlers::{self, Shared};
use super::UpstreamConfig;

/// How long open connections get to finish once `shutdown` fires.
const DRAIN: Duration = Duration::from_secs(1);

/// Serve `config` on `listener` until `shutdown` fires.
///
/// Runs on the caller's runtime (`config.workers` is for whoever builds it).
/// Returns once the listener is closed; open connections are asked to close
/// and dropped after a short grace period.
pub async fn serve(
    config: UpstreamConfig,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let shared = Arc::new(Shared::new(config));
    let mut http = http1::Builder::new();
    http.keep_alive(true).max_buf_size(64 * 1024);
    let http = Arc::new(http);
    loop {
        let stream = tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) if is_transient(&e) => {
                    // Out of file descriptors or a connection gone before accept:
                    // back off briefly instead of spinning or failing the server.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
                Err(e) => return Err(e),
            },
        };
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        let http = http.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let reset = Arc::new(AtomicBool::new(false));
            let io = TokioIo::new(ResettableStream {
                stream,
                reset: reset.clone(),
            });
            let service =
                service_fn(move |req| handlers::handle(shared.clone(), reset.clone(), req));
            let conn = http.serve_connection(io, service);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = shutdown.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(DRAIN, conn).await;
                }
            }
        });
    }
}

fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
    ) || matches!(e.raw_os_error(), Some(code) if code == 24 /* EMFILE */ || code == 23 /* ENFILE */ || code == 105 /* ENOBUFS */ || code == 12 /* ENOMEM */)
}

/// A TCP stream that closes with RST instead of FIN when `reset` was set
/// (SO_LINGER 0 at drop): the "connection reset" fault.
struct ResettableStream {
    stream: TcpStream,
    reset: Arc<AtomicBool>,
}

impl Drop for ResettableStream {
    fn drop(&mut self) {
        if self.reset.load(Ordering::Relaxed) {
            let _ = self.stream.set_zero_linger();
        }
    }
}

impl AsyncRead for ResettableStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for ResettableStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
