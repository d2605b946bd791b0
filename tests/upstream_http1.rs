//! The fake upstream's own HTTP/1.1 loop on the wire, byte for byte:
//! pipelining, `Expect: 100-continue`, chunked request bodies, HTTP/1.0,
//! HEAD, oversized and malformed requests, and a client that leaves while
//! queued giving its `max_concurrent` slot back.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{connect, read_to_close, request, Server};

const CHAT: &str = r#"{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":3}"#;

/// Reads until `count` answers' heads were seen and the last body ended
/// (`needle` occurs `count` times).
fn read_until(s: &mut TcpStream, needle: &str, count: usize) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while String::from_utf8_lossy(&out).matches(needle).count() < count {
        let n = s.read(&mut buf).expect("the server answers");
        assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&out));
        out.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn pipelined_requests_are_answered_in_order_on_one_connection() {
    let server = Server::start(&[]);
    let mut s = connect(server.port);
    let chat = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{CHAT}",
        CHAT.len()
    );
    let all = format!(
        "GET /health HTTP/1.1\r\nHost: x\r\n\r\n{chat}GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n"
    );
    s.write_all(all.as_bytes()).unwrap();
    let text = read_until(&mut s, "HTTP/1.1 200 OK", 3);
    let health = text.find(r#"{"status":"ok"}"#).expect("health answered");
    let chat = text.find("chat.completion").expect("chat answered");
    let models = text.rfind(r#""object":"list""#).expect("models answered");
    assert!(health < chat && chat < models, "{text}");
    assert!(!text.contains("connection: close"), "{text}");
}

#[test]
fn expect_continue_gets_100_before_the_body_is_sent() {
    let server = Server::start(&[]);
    let mut s = connect(server.port);
    let head = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        CHAT.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    let interim = read_until(&mut s, "\r\n\r\n", 1);
    assert_eq!(interim, "HTTP/1.1 100 Continue\r\n\r\n");
    s.write_all(CHAT.as_bytes()).unwrap();
    let answer = read_until(&mut s, "chat.completion", 1);
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
}

#[test]
fn chunked_request_bodies_are_read_whole() {
    let server = Server::start(&[]);
    let mut s = connect(server.port);
    let (a, b) = CHAT.split_at(10);
    let req = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{a}\r\n{:x}\r\n{b}\r\n0\r\n\r\n",
        a.len(),
        b.len()
    );
    s.write_all(req.as_bytes()).unwrap();
    let text = read_to_close(&mut s);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.contains("connection: close\r\n"), "{text}");
    assert!(text.contains(r#""completion_tokens":3"#), "{text}");
}

#[test]
fn http10_gets_an_http10_answer_and_a_close() {
    let server = Server::start(&[]);
    let mut s = connect(server.port);
    s.write_all(b"GET /health HTTP/1.0\r\n\r\n").unwrap();
    let text = read_to_close(&mut s);
    assert!(text.starts_with("HTTP/1.0 200 OK\r\n"), "{text}");
    assert!(text.ends_with(r#"{"status":"ok"}"#), "{text}");
    // A streamed answer over HTTP/1.0 has no chunking: it ends with the close.
    let mut s = connect(server.port);
    let body = r#"{"messages":[{"role":"user","content":"hi"}],"max_tokens":2,"stream":true}"#;
    let req = format!(
        "POST /v1/chat/completions HTTP/1.0\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).unwrap();
    let text = read_to_close(&mut s);
    assert!(!text.contains("transfer-encoding"), "{text}");
    assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
}

#[test]
fn head_requests_get_the_head_only() {
    let server = Server::start(&[]);
    let mut s = connect(server.port);
    s.write_all(b"HEAD /v1/models HTTP/1.1\r\nHost: x\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let text = read_to_close(&mut s);
    // The HEAD answer (405: models only answer GET) carries a length but no
    // body: the next bytes are the next answer.
    let second = text.find("HTTP/1.1 200 OK").expect("second answer");
    let first = &text[..second];
    assert!(first.starts_with("HTTP/1.1 405 "), "{text}");
    assert!(first.contains("content-length: "), "{text}");
    assert!(first.ends_with("\r\n\r\n"), "{text}");
}

#[test]
fn oversized_and_malformed_requests_are_refused_and_closed() {
    let server = Server::start(&[]);
    let mut s = connect(server.port);
    s.write_all(b"POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 40000000\r\n\r\n{")
        .unwrap();
    let text = read_to_close(&mut s);
    assert!(text.starts_with("HTTP/1.1 413 "), "{text}");
    assert!(text.contains("invalid_request_error"), "{text}");
    let mut s = connect(server.port);
    s.write_all(b"NOT HTTP AT ALL\r\n\r\n").unwrap();
    let text = read_to_close(&mut s);
    assert!(text.starts_with("HTTP/1.1 400 "), "{text}");
    // The server still answers.
    assert_eq!(
        request(server.port, "GET", "/health", None).unwrap().status,
        200
    );
}

#[test]
fn a_client_that_leaves_while_queued_gives_its_slot_back() {
    // One slot, 500 ms per answer. A client queues behind a held slot and
    // leaves; its slot must not be held for it, so a later request waits
    // for the first answer only (~500 ms), not for the leaver's too.
    let server = Server::start(&["--delay-ms", "500", "--max-concurrent", "1"]);
    let port = server.port;
    let post = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{CHAT}",
        CHAT.len()
    );
    let mut holder = connect(port);
    holder.write_all(post.as_bytes()).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let mut leaver = connect(port);
    leaver.write_all(post.as_bytes()).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    drop(leaver);
    std::thread::sleep(Duration::from_millis(50));
    let t = Instant::now();
    let r = request(port, "POST", "/v1/chat/completions", Some(CHAT)).unwrap();
    assert_eq!(r.status, 200);
    let waited = t.elapsed();
    // Holder ends at ~500 ms from its start, then ours takes 500 ms: ~850 ms
    // from here. With the leaver's turn in between it would be ~1350 ms.
    assert!(
        waited < Duration::from_millis(1200),
        "waited {waited:?}: the leaver's queued request was served anyway"
    );
    let _ = read_until(&mut holder, "chat.completion", 1);
}
