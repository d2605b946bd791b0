//! The client's HTTP/1.1 exchange ([`super::conn`]) against canned bytes
//! from a real local socket: a scripted server on 127.0.0.1:0 that reads
//! requests, writes exactly the bytes a test gives it, waits, and closes
//! with FIN or RST (SO_LINGER 0). Each test asserts what the engine records
//! (successes, each error class, resends) and what the server received.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::conn::{BodyScanner, Conn, Prepared};
use super::http1::{MAX_HEADERS, MAX_TRAILER};
use super::rt;
use crate::metrics::{ErrorClass, Recorder, StepMetrics, Window};

/// One thing the server does on a connection.
#[derive(Debug, Clone)]
enum Act {
    /// Read one whole request (head and `content-length` body).
    Read,
    /// Read this many bytes of a request, then reset the connection.
    ReadSomeThenReset(usize),
    Write(Vec<u8>),
    /// Write these bytes again and again until the client goes away.
    WriteForever(Vec<u8>),
    Sleep(u64),
    /// Close with FIN.
    Fin,
    /// Close with RST.
    Rst,
}

use Act::*;

fn write(b: &[u8]) -> Act {
    Write(b.to_vec())
}

const OK: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
const GET: &[u8] = b"GET /v1/chat/completions HTTP/1.1\r\nhost: test\r\n\r\n";

/// Plays `script`: the n-th accepted connection runs the n-th list of acts,
/// then is held open until the test ends. Counts whole requests read.
async fn serve(listener: TcpListener, script: Vec<Vec<Act>>, received: Arc<AtomicU64>) {
    for acts in script {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        tokio::spawn(play(stream, acts, received.clone()));
    }
}

async fn play(mut stream: TcpStream, acts: Vec<Act>, received: Arc<AtomicU64>) {
    let mut buf = Vec::new();
    for act in acts {
        match act {
            Read => {
                if read_request(&mut stream, &mut buf).await.is_err() {
                    return;
                }
                received.fetch_add(1, Ordering::Relaxed);
            }
            ReadSomeThenReset(n) => {
                let mut some = vec![0; n];
                let _ = stream.read_exact(&mut some).await;
                let _ = stream.set_zero_linger();
                return;
            }
            Write(bytes) => {
                if stream.write_all(&bytes).await.is_err() {
                    return;
                }
            }
            WriteForever(bytes) => while stream.write_all(&bytes).await.is_ok() {},
            Sleep(ms) => tokio::time::sleep(Duration::from_millis(ms)).await,
            Fin => return,
            Rst => {
                let _ = stream.set_zero_linger();
                return;
            }
        }
    }
    // Held open: the client decides what happens next.
    tokio::time::sleep(Duration::from_secs(30)).await;
}

/// Read one request (head, then a `content-length` body) off `stream`.
async fn read_request(stream: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<()> {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let body = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse::<usize>().unwrap());
            let total = end + 4 + body;
            while buf.len() < total {
                read_more(stream, buf).await?;
            }
            buf.drain(..total);
            return Ok(());
        }
        read_more(stream, buf).await?;
    }
}

async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<()> {
    let mut chunk = [0u8; 64 << 10];
    match stream.read(&mut chunk).await? {
        0 => Err(std::io::ErrorKind::UnexpectedEof.into()),
        n => {
            buf.extend_from_slice(&chunk[..n]);
            Ok(())
        }
    }
}

/// How the client is driven against a script.
struct Drive {
    requests: usize,
    /// Idle time between two requests, for the server's close to land.
    pause_ms: u64,
    head_only: bool,
    request: Bytes,
    timeout: Duration,
}

impl Default for Drive {
    fn default() -> Self {
        Drive {
            requests: 1,
            pause_ms: 0,
            head_only: false,
            request: Bytes::from_static(GET),
            timeout: Duration::from_secs(5),
        }
    }
}

/// What the engine recorded and what the server received.
struct Seen {
    metrics: StepMetrics,
    received: u64,
    elapsed: Duration,
}

impl Seen {
    fn count(&self, class: ErrorClass) -> u64 {
        self.metrics.errors.count(class)
    }

    /// `(successes, class, count of that class, errors in all, retries)`.
    fn summary(&self, class: ErrorClass) -> (u64, u64, u64, u64) {
        (
            self.metrics.successes,
            self.count(class),
            self.metrics.errors.total,
            self.metrics.retries,
        )
    }
}

fn run(script: Vec<Vec<Act>>, drive: Drive) -> Seen {
    // The scripted server on tokio threads of its own; the client on the
    // load threads' event loop, as in a step.
    let server = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = server.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
    let target = Prepared {
        addr: listener.local_addr().unwrap(),
        head_only: drive.head_only,
        overhead_headers: Vec::new(),
        wire: vec![drive.request.clone()],
        dialect: None,
    };
    let received = Arc::new(AtomicU64::new(0));
    server.spawn(serve(listener, script, received.clone()));
    let (recorder, elapsed) = rt::block_on(async {
        let mut conn = Conn::default();
        let mut scanner = BodyScanner::new(target.dialect);
        let mut recorder = Recorder::default();
        let started = Instant::now();
        for i in 0..drive.requests {
            if i > 0 && drive.pause_ms > 0 {
                rt::sleep_until(Instant::now() + Duration::from_millis(drive.pause_ms)).await;
            }
            let began = Instant::now();
            let failure = conn
                .send_within(
                    Instant::now() + drive.timeout,
                    &target,
                    &drive.request,
                    &mut scanner,
                )
                .await;
            recorder.record(Duration::ZERO, began.elapsed(), failure, 1.0);
            if conn.resent() {
                recorder.record_retry();
            }
        }
        let elapsed = started.elapsed();
        // Let the server finish reading what it was sent.
        rt::sleep_until(Instant::now() + Duration::from_millis(20)).await;
        (recorder, elapsed)
    });
    server.shutdown_background();
    Seen {
        metrics: recorder.summary(Window::default()),
        received: received.load(Ordering::Relaxed),
        elapsed,
    }
}

fn requests(n: usize) -> Drive {
    Drive {
        requests: n,
        ..Drive::default()
    }
}

#[test]
fn interim_answers_are_skipped_and_the_connection_kept() {
    let answer = [
        &b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\n"[..],
        OK,
    ]
    .concat();
    let seen = run(
        vec![vec![Read, Write(answer.clone()), Read, Write(answer)]],
        requests(2),
    );
    assert_eq!(seen.summary(ErrorClass::Read), (2, 0, 0, 0));
    assert_eq!(seen.received, 2);
}

#[test]
fn an_http_1_0_answer_without_length_is_read_to_the_close() {
    let answer = b"HTTP/1.0 200 OK\r\ncontent-type: application/json\r\n\r\n{\"a\":1}";
    let one = vec![Read, write(answer), Fin];
    let seen = run(vec![one.clone(), one], requests(2));
    assert_eq!(seen.summary(ErrorClass::Read), (2, 0, 0, 0));
    assert_eq!(seen.received, 2);
}

#[test]
fn a_head_answer_has_no_body_whatever_its_length_says() {
    let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 1234\r\n\r\n";
    let seen = run(
        vec![vec![Read, write(answer), Read, write(answer)]],
        Drive {
            requests: 2,
            head_only: true,
            ..Drive::default()
        },
    );
    assert_eq!(seen.summary(ErrorClass::Read), (2, 0, 0, 0));
}

#[test]
fn a_204_has_no_body_and_keeps_the_connection() {
    let answer = b"HTTP/1.1 204 No Content\r\n\r\n";
    let seen = run(
        vec![vec![Read, write(answer), Read, write(answer)]],
        requests(2),
    );
    assert_eq!(seen.summary(ErrorClass::Read), (2, 0, 0, 0));
}

#[test]
fn connection_close_is_obeyed_even_when_the_server_keeps_it_open() {
    let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok";
    // The first connection stays open after its answer: a client that
    // reused it would wait for the timeout.
    let seen = run(
        vec![vec![Read, write(answer)], vec![Read, write(OK)]],
        Drive {
            requests: 2,
            timeout: Duration::from_secs(2),
            ..Drive::default()
        },
    );
    assert_eq!(seen.summary(ErrorClass::Timeout), (2, 0, 0, 0));
    assert_eq!(seen.received, 2);
}

/// Idle closes between requests, FIN or RST alike: the next request goes
/// on a new connection, nothing is resent, nothing fails.
#[test]
fn an_idle_connection_closed_with_fin_or_rst_is_replaced_before_sending() {
    for close in [Fin, Rst] {
        let seen = run(
            vec![
                vec![Read, write(OK), Sleep(10), close.clone()],
                vec![Read, write(OK)],
            ],
            Drive {
                requests: 2,
                pause_ms: 50,
                ..Drive::default()
            },
        );
        assert_eq!(
            seen.summary(ErrorClass::Read),
            (2, 0, 0, 0),
            "{close:?}: successes, read errors, errors, retries"
        );
        assert_eq!(seen.received, 2, "{close:?}");
    }
}

/// A request the server received and closed on without answering (the
/// fake upstream's `hang` with `hang_ms` below the timeout) is a `read`
/// error, never sent again.
#[test]
fn issue_11_a_request_received_and_closed_on_is_a_read_error_not_resent() {
    for close in [Fin, Rst] {
        let seen = run(
            vec![
                vec![Read, write(OK), Read, Sleep(50), close.clone()],
                vec![Read, write(OK)],
            ],
            requests(3),
        );
        assert_eq!(
            seen.summary(ErrorClass::Read),
            (2, 1, 1, 0),
            "{close:?}: successes, read errors, errors, retries"
        );
        assert_eq!(
            seen.received, 3,
            "{close:?}: the server got each request once"
        );
    }
}

/// A reused connection reset while the request is being written: the
/// server cannot have acted on a request it did not receive, so it is sent
/// again on a new connection, once, and counted.
#[test]
fn a_request_whose_write_fails_on_a_reused_connection_is_resent_and_counted() {
    // Larger than the socket buffers, so the write is still going when the
    // server resets the connection.
    let body = vec![b'x'; 32 << 20];
    let request = [
        format!(
            "POST /v1/chat/completions HTTP/1.1\r\nhost: test\r\ncontent-length: {}\r\n\r\n",
            body.len()
        )
        .as_bytes(),
        &body,
    ]
    .concat();
    let seen = run(
        vec![
            vec![Read, write(OK), ReadSomeThenReset(1 << 20)],
            vec![Read, write(OK)],
        ],
        Drive {
            requests: 2,
            request: Bytes::from(request),
            ..Drive::default()
        },
    );
    assert_eq!(seen.summary(ErrorClass::Read), (2, 0, 0, 1));
    // Two whole requests; the reset one never arrived in full.
    assert_eq!(seen.received, 2);
}

/// Bytes after a complete answer (here a second answer nobody asked for)
/// are a `protocol` error that closes the connection: they are never read
/// as the next request's answer.
#[test]
fn issue_11_bytes_after_an_answer_are_a_protocol_error_not_the_next_answer() {
    let extra = [OK, b"HTTP/1.1 500 Oops\r\ncontent-length: 0\r\n\r\n"].concat();
    let seen = run(
        vec![vec![Read, Write(extra)], vec![Read, write(OK)]],
        requests(2),
    );
    assert_eq!(seen.summary(ErrorClass::Protocol), (1, 1, 1, 0));
    assert_eq!(seen.count(ErrorClass::Status(500)), 0);
    assert_eq!(seen.received, 2);
    // Bytes that arrive later, while the connection is idle: the next
    // request is not sent on it and fails as `protocol`; the one after
    // goes on a new connection.
    let late = b"HTTP/1.1 500 Oops\r\ncontent-length: 0\r\n\r\n";
    let seen = run(
        vec![
            vec![Read, write(OK), Sleep(10), write(late)],
            vec![Read, write(OK)],
        ],
        Drive {
            requests: 3,
            pause_ms: 60,
            ..Drive::default()
        },
    );
    assert_eq!(seen.summary(ErrorClass::Protocol), (2, 1, 1, 0));
    assert_eq!(seen.count(ErrorClass::Status(500)), 0);
    assert_eq!(seen.received, 2);
}

fn with_headers(n: usize) -> Vec<u8> {
    let mut head = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n".to_vec();
    for i in 1..n {
        head.extend_from_slice(format!("x-header-{i}: value {i}\r\n").as_bytes());
    }
    [&head[..], b"\r\nok"].concat()
}

#[test]
fn issue_11_an_answer_with_200_headers_is_read_and_more_than_256_is_protocol() {
    let seen = run(
        vec![vec![
            Read,
            Write(with_headers(200)),
            Read,
            Write(with_headers(MAX_HEADERS)),
        ]],
        requests(2),
    );
    assert_eq!(seen.summary(ErrorClass::Read), (2, 0, 0, 0));
    let seen = run(
        vec![vec![Read, Write(with_headers(MAX_HEADERS + 1))]],
        requests(1),
    );
    assert_eq!(seen.summary(ErrorClass::Protocol), (0, 1, 1, 0));
}

#[test]
fn a_long_trailer_is_read_and_an_endless_one_is_cut_at_its_limit() {
    let head = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n";
    let line = b"x-trailer: 0123456789abcdef\r\n";
    let long = [&head[..], &line.repeat(1000), b"\r\n"].concat();
    assert!(long.len() < MAX_TRAILER);
    let seen = run(
        vec![vec![Read, Write(long.clone()), Read, Write(long)]],
        requests(2),
    );
    assert_eq!(seen.summary(ErrorClass::Read), (2, 0, 0, 0));
    // Endless: as many lines as the server can write, or one line without
    // end. Either is refused at the limit, long before the timeout, with
    // memory bounded.
    for endless in [line.to_vec(), b"x".repeat(4096)] {
        let seen = run(
            vec![vec![Read, write(head), WriteForever(endless)]],
            Drive {
                timeout: Duration::from_secs(10),
                ..Drive::default()
            },
        );
        assert_eq!(seen.summary(ErrorClass::Protocol), (0, 1, 1, 0));
        assert!(seen.elapsed < Duration::from_secs(5), "{:?}", seen.elapsed);
    }
}

#[test]
fn conflicting_content_lengths_are_a_protocol_error() {
    let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 7\r\n\r\nok";
    let seen = run(
        vec![vec![Read, write(answer)], vec![Read, write(OK)]],
        requests(2),
    );
    assert_eq!(seen.summary(ErrorClass::Protocol), (1, 1, 1, 0));
    assert_eq!(seen.received, 2);
}

#[test]
fn an_answer_cut_short_is_a_read_error() {
    let cut = b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nok";
    let seen = run(vec![vec![Read, write(cut), Fin]], requests(1));
    assert_eq!(seen.summary(ErrorClass::Read), (0, 1, 1, 0));
}
