//! `scenario fake-upstream` as a process: resolve the flags, bind, print
//! `listening on …`, serve until SIGINT or SIGTERM.

use std::process::ExitCode;

/// `scenario fake-upstream`: bind, print `listening on http://HOST:PORT`, serve
/// until SIGINT or SIGTERM (exit 0); bad flags or a failed bind exit 2.
///
/// The main thread binds and waits for signals on a small runtime; the server
/// runs one current-thread runtime per worker (`serve_per_core`).
pub fn main(args: super::Args) -> ExitCode {
    use std::io::Write;

    let fail = |message: String| {
        errln!("error: {message}");
        ExitCode::from(2)
    };
    let config = match args.resolve() {
        Ok(config) => config,
        Err(e) => return fail(e.to_string()),
    };
    let workers = config
        .workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return fail(format!("cannot start the runtime: {e}")),
    };
    runtime.block_on(async {
        let listener = match bind(&args.host, args.port).await {
            Ok(listener) => listener,
            Err(e) => return fail(format!("cannot listen on {}:{}: {e}", args.host, args.port)),
        };
        let addr = match listener.local_addr() {
            Ok(addr) => addr,
            Err(e) => return fail(format!("cannot read the bound address: {e}")),
        };
        // Handlers are installed before the `listening on` line, so a signal
        // sent as soon as the line is read already stops the server cleanly.
        let signals = match Signals::install() {
            Ok(signals) => signals,
            Err(e) => return fail(format!("cannot install signal handlers: {e}")),
        };
        let shutdown = tokio_util::sync::CancellationToken::new();
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        let server_shutdown = shutdown.clone();
        let server = std::thread::spawn(move || {
            let result =
                crate::upstream::serve_per_core(config, listener, workers, server_shutdown);
            let _ = done_tx.send(());
            result
        });
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "listening on http://{addr}");
        let _ = stdout.flush();
        drop(stdout);
        tokio::select! {
            _ = signals.wait() => shutdown.cancel(),
            _ = done_rx => {}
        }
        match server.join() {
            Ok(Ok(())) => ExitCode::SUCCESS,
            Ok(Err(e)) => fail(format!("fake upstream stopped: {e}")),
            Err(_) => fail("fake upstream crashed".into()),
        }
    })
}

/// A listening socket with a deep accept queue (thousands of clients may
/// connect at once), handed over as a std listener.
async fn bind(host: &str, port: u16) -> std::io::Result<std::net::TcpListener> {
    let mut last = None;
    for addr in tokio::net::lookup_host((host, port)).await? {
        let socket = if addr.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        socket.set_reuseaddr(true)?;
        match socket.bind(addr).and_then(|()| socket.listen(8192)) {
            Ok(listener) => return listener.into_std(),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("the host name resolved to no address")))
}

/// SIGINT and SIGTERM, caught.
struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> std::io::Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Self {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    /// Resolves on the first of them.
    async fn wait(mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
    }
}
