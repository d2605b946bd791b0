//! Reading the fake upstream's own counts (`GET /stats`), so a step's error
//! counts can be checked against what the server says it served and injected.
//!
//! A blocking one-shot HTTP/1.1 exchange: it runs on the step's coordinator
//! thread, outside any measured span, when no request is in flight.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::report::UpstreamCounts;

const TIMEOUT: Duration = Duration::from_secs(5);

/// The upstream's counts since its last reset; with `reset`, zeroed as read.
pub fn fetch(addr: SocketAddr, reset: bool) -> Result<UpstreamCounts, String> {
    let path = if reset { "/stats?reset=1" } else { "/stats" };
    let fail = |e: std::io::Error| format!("GET {path} on {addr}: {e}");
    let mut stream = TcpStream::connect_timeout(&addr, TIMEOUT).map_err(fail)?;
    stream.set_read_timeout(Some(TIMEOUT)).map_err(fail)?;
    stream.set_write_timeout(Some(TIMEOUT)).map_err(fail)?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n"
    )
    .map_err(fail)?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).map_err(fail)?;
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("GET {path} on {addr}: no complete answer"))?;
    let head = String::from_utf8_lossy(&answer[..split]);
    if !head.starts_with("HTTP/1.1 200") {
        let line = head.lines().next().unwrap_or_default();
        return Err(format!("GET {path} on {addr}: {line}"));
    }
    serde_json::from_slice(&answer[split + 4..])
        .map_err(|e| format!("GET {path} on {addr}: not the fake upstream's stats: {e}"))
}
