//! The fake upstream as a real process on a real port: every endpoint,
//! streaming, delays, each fault kind, exact `/stats`, mock routes, exit codes.

mod common;

use std::time::{Duration, Instant};

use common::{request, Server};
use serde_json::Value;

fn json(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(body)))
}

const CHAT: &str = r#"{"model":"gpt-test","messages":[{"role":"system","content":"12345678"},{"role":"user","content":"abcd"}],"max_tokens":5}"#;

#[test]
fn health_answers_ok() {
    let server = Server::start(&[]);
    let r = request(server.port, "GET", "/health", None).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(json(&r.body), serde_json::json!({"status": "ok"}));
}

#[test]
fn chat_completion_has_openai_shape_and_usage_from_the_request() {
    let server = Server::start(&["--delay-ms", "0"]);
    for path in ["/v1/chat/completions", "/chat/completions"] {
        let r = request(server.port, "POST", path, Some(CHAT)).unwrap();
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.header("content-type"), Some("application/json"));
        let v = json(&r.body);
        assert_eq!(v["object"], "chat.completion");
        assert_eq!(v["model"], "gpt-test");
        assert!(v["id"].as_str().unwrap().starts_with("chatcmpl-"));
        assert!(v["created"].as_u64().unwrap() > 1_600_000_000);
        assert_eq!(v["choices"][0]["message"]["role"], "assistant");
        assert_eq!(
            v["choices"][0]["message"]["content"],
            "Lorem ipsum dolor sit amet"
        );
        assert_eq!(v["choices"][0]["finish_reason"], "stop");
        // 12 characters of message text -> 3 prompt tokens; max_tokens -> 5.
        assert_eq!(
            v["usage"],
            serde_json::json!({"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8})
        );
    }
    let r = request(
        server.port,
        "POST",
        "/v1/chat/completions",
        Some(r#"{"messages":[]}"#),
    )
    .unwrap();
    assert_eq!(
        json(&r.body)["usage"]["completion_tokens"],
        16,
        "default completion length"
    );
}

#[test]
fn completions_embeddings_and_models() {
    let server = Server::start(&["--delay-ms", "0", "--completion-tokens", "3"]);
    let v = json(
        &request(
            server.port,
            "POST",
            "/v1/completions",
            Some(r#"{"model":"m","prompt":"abcdefgh"}"#),
        )
        .unwrap()
        .body,
    );
    assert_eq!(v["object"], "text_completion");
    assert_eq!(v["choices"][0]["text"], "Lorem ipsum dolor");
    assert_eq!(v["usage"]["prompt_tokens"], 2);
    assert_eq!(v["usage"]["completion_tokens"], 3);

    let v = json(
        &request(
            server.port,
            "POST",
            "/embeddings",
            Some(r#"{"model":"e","input":["ab","cd"],"dimensions":4}"#),
        )
        .unwrap()
        .body,
    );
    assert_eq!(v["object"], "list");
    assert_eq!(v["model"], "e");
    assert_eq!(v["data"].as_array().unwrap().len(), 2);
    assert_eq!(v["data"][1]["index"], 1);
    assert_eq!(v["data"][0]["embedding"].as_array().unwrap().len(), 4);
    assert_eq!(v["usage"]["prompt_tokens"], 1);

    let v = json(
        &request(server.port, "GET", "/v1/models", None)
            .unwrap()
            .body,
    );
    assert_eq!(v["object"], "list");
    assert!(v["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["id"] == "mock-chat-model"));
}

#[test]
fn unknown_paths_and_bad_bodies_answer_openai_errors() {
    let server = Server::start(&[]);
    let r = request(server.port, "POST", "/v2/nothing", Some("{}")).unwrap();
    assert_eq!(r.status, 404);
    assert!(json(&r.body)["error"]["message"]
        .as_str()
        .unwrap()
        .contains("/v2/nothing"));
    let r = request(server.port, "GET", "/v1/chat/completions", None).unwrap();
    assert_eq!(r.status, 405);
    let r = request(
        server.port,
        "POST",
        "/v1/chat/completions",
        Some("{not json"),
    )
    .unwrap();
    assert_eq!(r.status, 400);
    assert_eq!(json(&r.body)["error"]["type"], "invalid_request_error");
}

/// The `data:` payloads of an SSE body, in order.
fn sse_events(body: &[u8]) -> Vec<String> {
    String::from_utf8(body.to_vec())
        .unwrap()
        .split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|e| {
            e.strip_prefix("data: ")
                .unwrap_or_else(|| panic!("not an SSE data event: {e:?}"))
                .to_owned()
        })
        .collect()
}

#[test]
fn streamed_chat_sends_one_chunk_per_token_then_usage_and_done() {
    let server = Server::start(&["--delay-ms", "0"]);
    let body = r#"{"model":"s","messages":[{"role":"user","content":"abcd"}],"max_tokens":7,"stream":true,"stream_options":{"include_usage":true}}"#;
    let r = request(server.port, "POST", "/v1/chat/completions", Some(body)).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/event-stream"));
    let events = sse_events(&r.body);
    assert_eq!(events.last().unwrap(), "[DONE]");
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| json(e.as_bytes()))
        .collect();
    let tokens: Vec<&str> = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(tokens.len(), 7);
    assert_eq!(tokens.concat(), "Lorem ipsum dolor sit amet, consectetur");
    assert!(chunks
        .iter()
        .all(|c| c["object"] == "chat.completion.chunk" && c["model"] == "s"));
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let finish = &chunks[chunks.len() - 2];
    assert_eq!(finish["choices"][0]["finish_reason"], "stop");
    let usage = chunks.last().unwrap();
    assert_eq!(usage["choices"].as_array().unwrap().len(), 0);
    assert_eq!(usage["usage"]["completion_tokens"], 7);
    assert_eq!(usage["usage"]["prompt_tokens"], 1);

    let body = r#"{"messages":[],"max_tokens":2,"stream":true}"#;
    let plain = sse_events(
        &request(server.port, "POST", "/v1/chat/completions", Some(body))
            .unwrap()
            .body,
    );
    assert_eq!(
        plain.len(),
        2 + 1 + 1,
        "2 tokens, finish, [DONE]; no usage chunk unless asked"
    );
}

#[test]
fn streamed_completion_sends_text_chunks() {
    let server = Server::start(&["--delay-ms", "0"]);
    let body = r#"{"prompt":"x","max_tokens":4,"stream":true}"#;
    let events = sse_events(
        &request(server.port, "POST", "/completions", Some(body))
            .unwrap()
            .body,
    );
    assert_eq!(events.last().unwrap(), "[DONE]");
    let texts: Vec<String> = events[..events.len() - 1]
        .iter()
        .map(|e| json(e.as_bytes()))
        .inspect(|c| assert_eq!(c["object"], "text_completion"))
        .filter_map(|c| {
            c["choices"][0]["text"]
                .as_str()
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(texts.len(), 4);
}

#[test]
fn delays_apply_to_plain_and_streamed_answers() {
    let server = Server::start(&["--delay-ms", "150", "--ttft", "100", "--itl", "40"]);
    let t = Instant::now();
    request(server.port, "POST", "/v1/chat/completions", Some(CHAT)).unwrap();
    let plain = t.elapsed();
    assert!(
        plain >= Duration::from_millis(150) && plain < Duration::from_millis(1000),
        "{plain:?}"
    );

    let body = r#"{"messages":[],"max_tokens":6,"stream":true}"#;
    let t = Instant::now();
    let r = request(server.port, "POST", "/v1/chat/completions", Some(body)).unwrap();
    let streamed = t.elapsed();
    let first = r.first_byte.unwrap();
    assert!(first >= Duration::from_millis(100), "ttft {first:?}");
    // 100 ms to the first token, then 5 gaps of 40 ms: the first token must
    // arrive well before the last, not with it.
    assert!(
        streamed >= Duration::from_millis(300) && streamed < Duration::from_millis(1000),
        "{streamed:?}"
    );
    assert!(
        streamed - first >= Duration::from_millis(190),
        "ttft {first:?}, total {streamed:?}"
    );
}

#[test]
fn per_token_delay_scales_with_completion_length() {
    let server = Server::start(&["--delay-ms", "20", "--delay-per", "token"]);
    let t = Instant::now();
    request(
        server.port,
        "POST",
        "/v1/chat/completions",
        Some(r#"{"messages":[],"max_tokens":10}"#),
    )
    .unwrap();
    let elapsed = t.elapsed();
    assert!(
        elapsed >= Duration::from_millis(200) && elapsed < Duration::from_millis(1000),
        "{elapsed:?}"
    );
}

#[test]
fn error_status_faults_answer_429_500_503() {
    for (kind, status) in [("429", 429), ("500", 500), ("503", 503)] {
        let server = Server::start(&["--fault", &format!("{kind}=1")]);
        let r = request(server.port, "POST", "/v1/chat/completions", Some(CHAT)).unwrap();
        assert_eq!(r.status, status);
        assert!(json(&r.body)["error"]["message"].is_string());
        if status == 429 {
            assert_eq!(r.header("retry-after"), Some("1"));
        }
    }
}

#[test]
fn hang_fault_holds_then_closes_without_answer() {
    let server = Server::start(&["--config-json", r#"{"faults":{"hang":1.0,"hang_ms":300}}"#]);
    let t = Instant::now();
    let r = request(server.port, "POST", "/v1/chat/completions", Some(CHAT));
    let elapsed = t.elapsed();
    assert!(
        elapsed >= Duration::from_millis(300) && elapsed < Duration::from_secs(5),
        "{elapsed:?}"
    );
    match r {
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof, "{e}"),
        Ok(r) => panic!("a hung request was answered: {}", r.status),
    }
}

#[test]
fn reset_fault_resets_the_connection() {
    let server = Server::start(&["--fault", "reset=1"]);
    let err = request(server.port, "POST", "/v1/chat/completions", Some(CHAT)).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset, "{err}");
}

#[test]
fn truncated_fault_cuts_streams_and_bodies() {
    let server = Server::start(&["--delay-ms", "0", "--fault", "truncated=1"]);
    let body = r#"{"messages":[],"max_tokens":10,"stream":true}"#;
    let r = request(server.port, "POST", "/v1/chat/completions", Some(body)).unwrap();
    assert_eq!(r.status, 200);
    let events = sse_events(&r.body);
    assert_eq!(events.len(), 5, "half the tokens: {events:?}");
    assert!(!events.iter().any(|e| e == "[DONE]"));

    let err = request(server.port, "POST", "/v1/chat/completions", Some(CHAT)).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof, "{err}");
    assert!(err.to_string().contains("of"), "{err}");
}

#[test]
fn stats_count_exactly_and_reset() {
    let server = Server::start(&[
        "--delay-ms",
        "0",
        "--fault",
        "500=0.3",
        "--fault",
        "429=0.1",
        "--seed",
        "7",
    ]);
    let (mut ok, mut e500, mut e429) = (0, 0, 0);
    for i in 0..60 {
        let path = if i % 3 == 0 {
            "/v1/completions"
        } else {
            "/v1/chat/completions"
        };
        match request(server.port, "POST", path, Some(CHAT))
            .unwrap()
            .status
        {
            200 => ok += 1,
            500 => e500 += 1,
            429 => e429 += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    request(server.port, "GET", "/health", None).unwrap();
    request(server.port, "GET", "/nothing", None).unwrap();
    let s = json(&request(server.port, "GET", "/stats", None).unwrap().body);
    assert_eq!(s["requests"], 61);
    assert_eq!(s["endpoints"]["chat_completions"], 40);
    assert_eq!(s["endpoints"]["completions"], 20);
    assert_eq!(s["endpoints"]["not_found"], 1);
    assert_eq!(s["endpoints"]["health"], 1);
    assert_eq!(s["faults"]["status_500"], e500);
    assert_eq!(s["faults"]["status_429"], e429);
    assert!(e500 > 5 && e429 > 0 && ok > 20, "{ok} {e500} {e429}");
    assert_eq!(s["completion_tokens"], 5 * ok);

    // Reading with reset returns the counts, then they start again from zero.
    let s = json(
        &request(server.port, "POST", "/stats/reset", None)
            .unwrap()
            .body,
    );
    assert_eq!(s["faults"]["status_500"], e500);
    let s = json(
        &request(server.port, "GET", "/stats?reset=1", None)
            .unwrap()
            .body,
    );
    assert_eq!(s["requests"], 0);
    assert_eq!(s["faults"]["status_500"], 0);
}

#[test]
fn same_seed_same_faults() {
    let statuses = |seed: &str| {
        let server = Server::start(&["--delay-ms", "0", "--fault", "500=0.5", "--seed", seed]);
        (0..20)
            .map(|_| {
                request(server.port, "POST", "/v1/chat/completions", Some(CHAT))
                    .unwrap()
                    .status
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(statuses("1"), statuses("1"));
    assert_ne!(statuses("1"), statuses("2"));
}

#[test]
fn mock_routes_answer_configured_json() {
    let dir = std::env::temp_dir().join(format!("upstream-routes-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("scenario.toml");
    std::fs::write(
        &file,
        r#"
[upstream]
delay_ms = 0

[[upstream.routes]]
path = "/api/answer"
method = "GET"
body = { answer = "forty-two", tags = ["a", "b"], nested = { ok = true } }
delay_ms = 120

[[upstream.routes]]
path = "/api/created"
status = 201
"#,
    )
    .unwrap();
    let server = Server::start(&["--config", file.to_str().unwrap()]);
    let t = Instant::now();
    let r = request(server.port, "GET", "/api/answer?x=1", None).unwrap();
    assert!(t.elapsed() >= Duration::from_millis(120));
    assert_eq!(r.status, 200);
    assert_eq!(
        json(&r.body),
        serde_json::json!({"answer": "forty-two", "tags": ["a", "b"], "nested": {"ok": true}})
    );
    assert_eq!(
        request(server.port, "POST", "/api/answer", Some("{}"))
            .unwrap()
            .status,
        404,
        "method must match"
    );
    let r = request(server.port, "POST", "/api/created", Some("{}")).unwrap();
    assert_eq!((r.status, json(&r.body)), (201, serde_json::json!({})));
    let s = json(&request(server.port, "GET", "/stats", None).unwrap().body);
    assert_eq!(s["endpoints"]["routes"], 2);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_flags_and_taken_ports_exit_2() {
    let out = common::run_to_end(&["--fault", "404=1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("KIND=SHARE"));

    let out = common::run_to_end(&["--delay", "lognormal:50:10"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("upstream.delay.p99_ms"));

    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = common::run_to_end(&["--port", &port]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot listen"));
}

#[test]
fn sigterm_stops_with_exit_0() {
    let server = Server::start(&[]);
    assert_eq!(server.stop(), Some(0));
}

/// Delays measured over real TCP follow the configured lognormal: the draws
/// are seeded, so this checks the server's timing, not luck.
#[test]
fn lognormal_delays_hold_their_percentiles_end_to_end() {
    let server = Server::start(&["--delay", "lognormal:100:400", "--seed", "3"]);
    let port = server.port;
    let mut latencies: Vec<f64> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..40)
            .map(|_| {
                scope.spawn(move || {
                    (0..10)
                        .map(|_| {
                            let t = Instant::now();
                            let r =
                                request(port, "POST", "/v1/chat/completions", Some(CHAT)).unwrap();
                            assert_eq!(r.status, 200);
                            t.elapsed().as_secs_f64() * 1000.0
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    latencies.sort_by(f64::total_cmp);
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize];
    let (p50, p90) = (at(0.5), at(0.9));
    // sigma = ln(4) / 2.3263 -> p90 = 100 ms * exp(1.2816 * sigma) = 214 ms.
    assert!(
        (p50 / 100.0 - 1.0).abs() < 0.10,
        "p50 {p50:.1} ms, want 100 ms ± 10%"
    );
    assert!(
        (p90 / 214.0 - 1.0).abs() < 0.15,
        "p90 {p90:.1} ms, want 214 ms ± 15%"
    );
}

#[test]
fn max_concurrent_queues_requests_beyond_the_capacity() {
    // 2 slots, 200 ms each: 6 requests at once are served in 3 waves, so
    // their latencies are ~200, ~400 and ~600 ms, two of each.
    let server = Server::start(&["--delay-ms", "200", "--max-concurrent", "2"]);
    let port = server.port;
    let started = Instant::now();
    let handles: Vec<_> = (0..6)
        .map(|_| {
            std::thread::spawn(move || {
                let sent = Instant::now();
                let r = request(port, "POST", "/v1/chat/completions", Some(CHAT)).unwrap();
                assert_eq!(r.status, 200);
                sent.elapsed()
            })
        })
        .collect();
    let mut waits: Vec<Duration> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    waits.sort();
    let wave = |d: Duration| (d.as_millis() as f64 / 200.0).round() as u32;
    let waves: Vec<u32> = waits.iter().map(|&d| wave(d)).collect();
    assert_eq!(waves, [1, 1, 2, 2, 3, 3], "{waits:?}");
    assert!(started.elapsed() < Duration::from_millis(900), "{waits:?}");
    // Health and stats never wait for a model slot.
    let r = request(port, "GET", "/health", None).unwrap();
    assert_eq!(r.status, 200);
}

/// SIGTERM while a request is open: its answer still comes (with
/// `connection: close`), an idle keep-alive connection is closed,
/// and the server exits 0.
#[test]
fn sigterm_lets_an_open_request_finish_and_closes_idle_connections() {
    use std::io::{Read, Write};
    use std::net::TcpStream;
    let server = Server::start(&["--delay-ms", "600", "--workers", "2"]);
    let port = server.port;
    let mut idle = TcpStream::connect(("127.0.0.1", port)).unwrap();
    idle.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut first = [0u8; 512];
    assert!(idle.read(&mut first).unwrap() > 0);
    let open = std::thread::spawn(move || {
        let body = r#"{"messages":[{"role":"user","content":"hi"}]}"#;
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(
            s,
            "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        answer
    });
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(server.stop(), Some(0));
    let answer = open.join().unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.contains("connection: close\r\n"), "{answer}");
    assert!(answer.contains("chat.completion"), "{answer}");
    idle.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    assert_eq!(
        idle.read(&mut first).unwrap_or(0),
        0,
        "the idle connection is closed"
    );
}
