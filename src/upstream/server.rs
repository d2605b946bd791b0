//! Accepting connections: one task per socket (TCP_NODELAY) speaking the
//! lean HTTP/1.1 loop of [`super::conn`], on per-core runtimes.

use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::AbortHandle;
use tokio_util::sync::CancellationToken;

use super::conn;
use super::handlers::{ConnState, Shared};
use super::UpstreamConfig;

/// How long open connections get to finish once `shutdown` fires.
const DRAIN: Duration = Duration::from_secs(1);

/// Serve `config` on `listener` from `threads` OS threads, each running its
/// own current-thread runtime: no work stealing, no cross-core wake-ups. The
/// first thread accepts and deals connections round-robin, so each thread
/// serves an equal share of them for their whole life; all count into one
/// [`UpstreamCounts`](crate::report::UpstreamCounts). Blocks until `shutdown` fires and every thread
/// has stopped.
pub fn serve_per_core(
    config: UpstreamConfig,
    listener: std::net::TcpListener,
    threads: usize,
    shutdown: CancellationToken,
) -> io::Result<()> {
    listener.set_nonblocking(true)?;
    let shared = Arc::new(Shared::new(config));
    let threads = threads.max(1);
    let mut senders = Vec::with_capacity(threads - 1);
    let mut handles = Vec::with_capacity(threads);
    for i in 1..threads {
        let (tx, mut rx) = mpsc::unbounded_channel::<std::net::TcpStream>();
        senders.push(tx);
        let worker = Worker::new(shared.clone(), shutdown.clone());
        handles.push(on_own_runtime(i, async move {
            loop {
                tokio::select! {
                    _ = worker.shutdown.cancelled() => break,
                    stream = rx.recv() => match stream.map(TcpStream::from_std) {
                        Some(Ok(stream)) => worker.spawn(stream),
                        Some(Err(_)) => {} // the client is gone already
                        None => break,
                    },
                }
            }
            worker.drain().await;
            Ok(())
        })?);
    }
    let worker = Worker::new(shared, shutdown.clone());
    handles.push(on_own_runtime(0, async move {
        let listener = TcpListener::from_std(listener)?;
        let mut next = 0usize;
        let result = accept_loop(&listener, &shutdown, |stream| {
            let target = next % threads;
            next = next.wrapping_add(1);
            match target {
                0 => worker.spawn(stream),
                _ => {
                    if let Ok(stream) = stream.into_std() {
                        let _ = senders[target - 1].send(stream);
                    }
                }
            }
        })
        .await;
        worker.drain().await;
        result
    })?);
    let mut result = Ok(());
    for handle in handles {
        let outcome = handle
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("a server thread panicked")));
        if result.is_ok() {
            result = outcome;
        }
    }
    result
}

/// Runs `task` on a new thread with a current-thread runtime of its own.
fn on_own_runtime(
    index: usize,
    task: impl std::future::Future<Output = io::Result<()>> + Send + 'static,
) -> io::Result<std::thread::JoinHandle<io::Result<()>>> {
    std::thread::Builder::new()
        .name(format!("upstream-{index}"))
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let result = runtime.block_on(task);
            runtime.shutdown_timeout(DRAIN);
            result
        })
}

/// Accepts until `shutdown`, handing each connection to `handoff`.
async fn accept_loop(
    listener: &TcpListener,
    shutdown: &CancellationToken,
    mut handoff: impl FnMut(TcpStream),
) -> io::Result<()> {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    handoff(stream);
                }
                Err(e) if is_transient(&e) => {
                    // Out of file descriptors or a connection gone before accept:
                    // back off briefly instead of spinning or failing the server.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                Err(e) => return Err(e),
            },
        }
    }
}

/// What serving connections on one runtime needs.
struct Worker {
    shared: Arc<Shared>,
    shutdown: CancellationToken,
    /// The connections open on this runtime, for [`Worker::drain`]; touched
    /// once when a connection opens and once when it closes, never per request.
    live: Arc<Mutex<Live>>,
}

#[derive(Default)]
struct Live {
    next: u64,
    conns: HashMap<u64, (Arc<ConnState>, Option<AbortHandle>)>,
}

/// Forgets a connection when its task ends (or is aborted).
struct Forget {
    live: Arc<Mutex<Live>>,
    key: u64,
}

impl Drop for Forget {
    fn drop(&mut self) {
        if let Ok(mut live) = self.live.lock() {
            live.conns.remove(&self.key);
        }
    }
}

impl Worker {
    /// `shutdown` is watched through a token of this worker's own, a child
    /// of it: registering a waiter locks only this thread's token.
    fn new(shared: Arc<Shared>, shutdown: CancellationToken) -> Self {
        Self {
            shared,
            shutdown: shutdown.child_token(),
            live: Arc::default(),
        }
    }

    /// Serves `stream` on a task of the current runtime until the client
    /// leaves or [`Worker::drain`] closes it. The task watches no token:
    /// the connection reads the flags `drain` sets, at no cost per request.
    fn spawn(&self, stream: TcpStream) {
        let state = Arc::new(ConnState {
            shared: self.shared.clone(),
            reset: AtomicBool::new(false),
            idle: AtomicBool::new(true),
            closing: AtomicBool::new(false),
        });
        let key = {
            let Ok(mut live) = self.live.lock() else {
                return;
            };
            let key = live.next;
            live.next += 1;
            live.conns.insert(key, (state.clone(), None));
            key
        };
        let forget = Forget {
            live: self.live.clone(),
            key,
        };
        let task = tokio::spawn(async move {
            let _forget = forget;
            conn::serve(stream, state).await;
        });
        if let Ok(mut live) = self.live.lock() {
            if let Some(entry) = live.conns.get_mut(&key) {
                entry.1 = Some(task.abort_handle());
            }
        }
    }

    /// Once `shutdown` fired: idle connections close at once, those with a
    /// request open close after its answer, and whatever is still open
    /// after [`DRAIN`] is dropped.
    async fn drain(&self) {
        let deadline = tokio::time::Instant::now() + DRAIN;
        if let Ok(live) = self.live.lock() {
            for (state, abort) in live.conns.values() {
                match abort {
                    Some(abort) if state.idle.load(Ordering::Relaxed) => abort.abort(),
                    _ => state.closing.store(true, Ordering::Relaxed),
                }
            }
        }
        while self.live.lock().is_ok_and(|l| !l.conns.is_empty())
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        if let Ok(live) = self.live.lock() {
            for abort in live.conns.values().filter_map(|(_, abort)| abort.as_ref()) {
                abort.abort();
            }
        }
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
