//! Routing and answers: mock routes first, then the OpenAI endpoints and
//! Anthropic's `/messages` (with or without the `/v1` prefix), `/health` and
//! `/stats`; 404 in OpenAI's error shape otherwise. Model endpoints draw
//! their fault and delay here, one way for every dialect; errors of
//! `/messages` come in Anthropic's error shape.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::timer::sleep_until;
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER};
use hyper::{Method, Request, Response, StatusCode};
use tokio::time::Instant;

use super::body::{Body, Flavor, SseParams, SseStream};
use super::config::{DelayPer, UpstreamConfig};
use super::conn::Incoming;
use super::delay::{request_rng, Sampler};
use super::faults::{Fault, FaultPicker};
use super::openai::{
    self, EmbeddingsRequest, GenerateRequest, Id, JsonStr, Meta, TextCache, Usage,
};
use super::stats::{Counters, Endpoint};
use super::{anthropic, responses};

/// Completion texts up to this many tokens are built once at start.
const TEXT_CACHE_TOKENS: u32 = 4096;

/// Largest request body read, in bytes.
const MAX_BODY: usize = 32 << 20;

const JSON: HeaderValue = HeaderValue::from_static("application/json");
const EVENT_STREAM: HeaderValue = HeaderValue::from_static("text/event-stream");

/// Everything the request handlers share: the compiled config and the counters.
pub struct Shared {
    seed: u64,
    completion_tokens: u32,
    embedding_dims: u32,
    request_delay: Sampler,
    per_token: bool,
    ttft: Sampler,
    itl: Sampler,
    faults: FaultPicker,
    retry_after: HeaderValue,
    hang: Duration,
    stall: Duration,
    seq: AtomicU64,
    counters: Arc<Counters>,
    health: Bytes,
    models: Bytes,
    texts: TextCache,
    routes: Vec<MockRoute>,
    /// `max_concurrent`: model requests wait here for a slot.
    slots: Option<Arc<tokio::sync::Semaphore>>,
}

struct MockRoute {
    path: String,
    method: Option<Method>,
    status: StatusCode,
    body: Bytes,
    delay: Duration,
}

impl Shared {
    /// Compiles a validated config.
    pub fn new(config: UpstreamConfig) -> Self {
        let routes = config
            .routes
            .iter()
            .map(|r| MockRoute {
                path: r.path.clone(),
                method: r
                    .method
                    .as_deref()
                    .and_then(|m| Method::from_bytes(m.to_ascii_uppercase().as_bytes()).ok()),
                status: StatusCode::from_u16(r.status).unwrap_or(StatusCode::OK),
                body: match &r.body {
                    Some(v) => Bytes::from(serde_json::to_vec(v).expect("JSON values serialize")),
                    None => Bytes::from_static(b"{}"),
                },
                delay: Duration::from_millis(r.delay_ms.unwrap_or(0)),
            })
            .collect();
        Self {
            seed: config.seed,
            completion_tokens: config.completion_tokens,
            embedding_dims: config.embedding_dims,
            request_delay: config.request_delay().into(),
            per_token: config.delay_per == DelayPer::Token,
            ttft: config.ttft_delay().into(),
            itl: config.itl_delay().into(),
            faults: FaultPicker::new(&config.faults),
            retry_after: HeaderValue::from(config.faults.retry_after_s),
            hang: Duration::from_millis(config.faults.hang_ms),
            stall: Duration::from_millis(config.faults.stall_ms),
            seq: AtomicU64::new(0),
            counters: Arc::new(Counters::default()),
            health: Bytes::from_static(br#"{"status":"ok"}"#),
            models: Bytes::from(openai::models(&config.models)),
            texts: TextCache::new(config.completion_tokens.max(TEXT_CACHE_TOKENS)),
            routes,
            slots: config
                .max_concurrent
                .map(|n| Arc::new(tokio::sync::Semaphore::new(n as usize))),
        }
    }
}

type Answer = Result<Response<Body>, io::Error>;

/// One connection's view: the shared state and its own reset flag.
pub struct ConnState {
    pub shared: Arc<Shared>,
    /// Set by the reset fault: the socket closes with RST when dropped.
    pub reset: AtomicBool,
    /// Waiting for a request with none of its bytes read: safe to drop.
    pub idle: AtomicBool,
    /// The server is shutting down: close after the answer in progress.
    pub closing: AtomicBool,
}

/// Answers one request. An `Err` closes the connection without an answer
/// (hang, reset); with `reset` set first, the close is a TCP reset.
pub async fn handle(conn: Arc<ConnState>, req: Request<Incoming>) -> Answer {
    let start = Instant::now();
    let s = &*conn.shared;
    let reset = &conn.reset;
    let path = req.uri().path();
    if let Some(route) = mock_route(s, &req) {
        s.counters.endpoint(Endpoint::Routes);
        if !route.delay.is_zero() {
            sleep_until(start + route.delay).await;
        }
        return Ok(json(route.status, route.body.clone()));
    }
    let route = api_route(path);
    match (req.method(), route) {
        (&Method::GET, "/health") => {
            s.counters.endpoint(Endpoint::Health);
            Ok(json(StatusCode::OK, s.health.clone()))
        }
        (&Method::GET, "/stats") => {
            let reset = req
                .uri()
                .query()
                .is_some_and(|q| q.split('&').any(|kv| kv == "reset=1" || kv == "reset=true"));
            Ok(stats(s, reset))
        }
        (&Method::POST, "/stats/reset") => Ok(stats(s, true)),
        (&Method::GET, "/models") => {
            s.counters.endpoint(Endpoint::Models);
            Ok(json(StatusCode::OK, s.models.clone()))
        }
        (&Method::GET, id) if id.starts_with("/models/") => {
            s.counters.endpoint(Endpoint::Models);
            Ok(json(
                StatusCode::OK,
                openai::model(&id["/models/".len()..]).into(),
            ))
        }
        (
            &Method::POST,
            "/chat/completions" | "/completions" | "/embeddings" | "/messages" | "/responses",
        ) => {
            // At capacity, wait for a slot; the delay starts once served.
            let (slot, start) = match &s.slots {
                Some(slots) => {
                    let slot = slots.clone().acquire_owned().await.ok();
                    (slot, Instant::now())
                }
                None => (None, start),
            };
            match route {
                "/chat/completions" => generate(s, reset, req, start, Flavor::Chat, slot).await,
                "/completions" => generate(s, reset, req, start, Flavor::Text, slot).await,
                "/messages" => generate(s, reset, req, start, Flavor::Messages, slot).await,
                "/responses" => generate(s, reset, req, start, Flavor::Responses, slot).await,
                _ => embeddings(s, reset, req, start).await,
            }
        }
        (
            method,
            "/health" | "/stats" | "/stats/reset" | "/models" | "/chat/completions"
            | "/completions" | "/embeddings" | "/messages" | "/responses",
        ) => Ok(not_allowed(s, method, path)),
        (method, _) => Ok(not_found(s, method, path)),
    }
}

/// The mock route `req` matches (path, and method when the route names one).
fn mock_route<'a>(s: &'a Shared, req: &Request<Incoming>) -> Option<&'a MockRoute> {
    let path = req.uri().path();
    s.routes
        .iter()
        .find(|r| r.path == path && r.method.as_ref().is_none_or(|m| m == req.method()))
}

/// The API endpoint `path` names: without the `/v1` prefix or a trailing `/`.
fn api_route(path: &str) -> &str {
    let route = path
        .strip_prefix("/v1")
        .filter(|rest| rest.is_empty() || rest.starts_with('/'))
        .unwrap_or(path);
    route.strip_suffix('/').unwrap_or(route)
}

/// 405 for a known endpoint asked with the wrong method.
fn not_allowed(s: &Shared, method: &Method, path: &str) -> Response<Body> {
    s.counters.endpoint(Endpoint::NotFound);
    let message = format!("Method {method} is not allowed on {path}");
    error(
        ErrorShape::OpenAi,
        StatusCode::METHOD_NOT_ALLOWED,
        &message,
        "invalid_request_error",
        None,
    )
}

/// 404 for a path the fake does not serve, naming the ones it does.
fn not_found(s: &Shared, method: &Method, path: &str) -> Response<Body> {
    s.counters.endpoint(Endpoint::NotFound);
    let message = format!("Unknown request URL: {method} {path}. The fake upstream serves /v1/chat/completions, /v1/completions, /v1/embeddings, /v1/messages, /v1/responses and /v1/models.");
    error(
        ErrorShape::OpenAi,
        StatusCode::NOT_FOUND,
        &message,
        "invalid_request_error",
        Some("unknown_url"),
    )
}

/// Chat or text completion, Anthropic message or OpenAI response, plain or
/// streamed: one path for all, so delays and faults act alike.
async fn generate(
    s: &Shared,
    reset: &AtomicBool,
    req: Request<Incoming>,
    start: Instant,
    flavor: Flavor,
    slot: Option<tokio::sync::OwnedSemaphorePermit>,
) -> Answer {
    s.counters.endpoint(endpoint(flavor));
    let shape = ErrorShape::of(flavor);
    let body = match read_body(req, shape).await? {
        Ok(body) => body,
        Err(answer) => return Ok(answer),
    };
    let request: GenerateRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return Ok(bad_json(e, shape)),
    };
    let (seq, mut rng, fault) = match draw(s, reset, shape).await {
        Ok(drawn) => drawn,
        Err(answer) => return answer,
    };
    let truncated = fault == Some(Fault::Truncated);
    let stall = if fault == Some(Fault::Stall) {
        s.stall
    } else {
        Duration::ZERO
    };
    let tokens = request.completion_tokens(s.completion_tokens);
    let prompt_tokens = request.prompt_tokens();
    let meta = meta(flavor, seq, &request);
    if request.stream() {
        s.counters.streamed();
        let first_token_at = start + s.ttft.sample(&mut rng);
        if first_token_at > Instant::now() {
            sleep_until(first_token_at).await;
        }
        let stream = SseStream::new(
            meta,
            SseParams {
                flavor,
                tokens,
                prompt_tokens,
                include_usage: request.include_usage(),
                truncated,
                stall,
                itl: s.itl,
                rng,
                first_token_at,
                counters: s.counters.clone(),
                slot,
            },
        );
        return Ok(sse_response(stream));
    }
    let delay = stall
        + if s.per_token {
            s.request_delay.sample_sum(&mut rng, tokens)
        } else {
            s.request_delay.sample(&mut rng)
        };
    let text = s.texts.get(tokens);
    let usage = Usage::new(prompt_tokens, u64::from(tokens));
    let bytes = match flavor {
        Flavor::Chat => openai::chat_completion(meta, &text, usage),
        Flavor::Text => openai::text_completion(meta, &text, usage),
        Flavor::Messages => anthropic::message(meta, &text, usage),
        Flavor::Responses => responses::body(meta, &text, usage),
    };
    if !delay.is_zero() {
        sleep_until(start + delay).await;
    }
    Ok(finish(s, bytes, truncated, usage))
}

/// The endpoint a generate request of `flavor` is counted under.
fn endpoint(flavor: Flavor) -> Endpoint {
    match flavor {
        Flavor::Chat => Endpoint::ChatCompletions,
        Flavor::Text => Endpoint::Completions,
        Flavor::Messages => Endpoint::Messages,
        Flavor::Responses => Endpoint::Responses,
    }
}

/// The id, time and model an answer of `flavor` carries.
fn meta<'a>(flavor: Flavor, seq: u64, request: &'a GenerateRequest) -> Meta<'a> {
    let id = Id {
        prefix: match flavor {
            Flavor::Chat => "chatcmpl-",
            Flavor::Text => "cmpl-",
            Flavor::Messages => "msg_",
            Flavor::Responses => "resp_",
        },
        seq,
    };
    let model = request
        .model
        .as_ref()
        .map_or("mock-chat-model", JsonStr::as_str);
    Meta {
        id,
        created: unix_now(),
        model,
    }
}

/// A token stream's answer: the stream with its SSE headers.
fn sse_response(stream: SseStream) -> Response<Body> {
    let mut response = Response::new(Body::Sse(Box::new(stream)));
    response.headers_mut().insert(CONTENT_TYPE, EVENT_STREAM);
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

async fn embeddings(
    s: &Shared,
    reset: &AtomicBool,
    req: Request<Incoming>,
    start: Instant,
) -> Answer {
    s.counters.endpoint(Endpoint::Embeddings);
    let body = match read_body(req, ErrorShape::OpenAi).await? {
        Ok(body) => body,
        Err(answer) => return Ok(answer),
    };
    let request: EmbeddingsRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return Ok(bad_json(e, ErrorShape::OpenAi)),
    };
    let (_, mut rng, fault) = match draw(s, reset, ErrorShape::OpenAi).await {
        Ok(drawn) => drawn,
        Err(answer) => return answer,
    };
    let mut delay = s.request_delay.sample(&mut rng);
    if fault == Some(Fault::Stall) {
        delay += s.stall;
    }
    let prompt_tokens = request.input.chars.tokens();
    let dims = request
        .dimensions
        .filter(|&d| d > 0 && d <= 65_536)
        .unwrap_or(s.embedding_dims);
    let base64 = request.encoding_format.as_ref().map(JsonStr::as_str) == Some("base64");
    let model = request
        .model
        .as_ref()
        .map_or("mock-embedding-model", JsonStr::as_str);
    let bytes = openai::embeddings(model, request.input.items, dims, base64, prompt_tokens);
    if !delay.is_zero() {
        sleep_until(start + delay).await;
    }
    Ok(finish(
        s,
        bytes,
        fault == Some(Fault::Truncated),
        Usage::new(prompt_tokens, 0),
    ))
}

/// Number a model request, seed its randomness and draw its fault; an
/// injected fault is answered here (`Err`).
async fn draw(
    s: &Shared,
    reset: &AtomicBool,
    shape: ErrorShape,
) -> Result<(u64, rand::rngs::SmallRng, Option<Fault>), Answer> {
    let seq = s.seq.fetch_add(1, Ordering::Relaxed);
    let mut rng = request_rng(s.seed, seq);
    let fault = s.faults.pick(&mut rng);
    match inject(s, reset, fault, shape).await {
        Some(answer) => Err(answer),
        None => Ok((seq, rng, fault)),
    }
}

/// The shape of an endpoint's error bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ErrorShape {
    /// `{"error": {"message", "type", "param", "code"}}`.
    OpenAi,
    /// `{"type": "error", "error": {"type", "message"}}`.
    Anthropic,
}

impl ErrorShape {
    fn of(flavor: Flavor) -> Self {
        match flavor {
            Flavor::Messages => ErrorShape::Anthropic,
            _ => ErrorShape::OpenAi,
        }
    }
}

/// The answer for an error-status, hang or reset fault, its body in `shape`;
/// `None` to answer normally (no fault, or a truncation, which the caller applies).
async fn inject(
    s: &Shared,
    reset: &AtomicBool,
    fault: Option<Fault>,
    shape: ErrorShape,
) -> Option<Answer> {
    let fault = fault?;
    s.counters.fault(fault);
    Some(match fault {
        Fault::Status429 => {
            let mut answer = error(
                shape,
                StatusCode::TOO_MANY_REQUESTS,
                "Rate limit reached (injected by the scenario fake upstream).",
                "requests",
                Some("rate_limit_exceeded"),
            );
            answer.headers_mut().insert(RETRY_AFTER, s.retry_after.clone());
            Ok(answer)
        }
        Fault::Status500 => Ok(error(
            shape,
            StatusCode::INTERNAL_SERVER_ERROR,
            "The server had an error while processing your request (injected by the scenario fake upstream).",
            "server_error",
            None,
        )),
        Fault::Status503 => Ok(error(
            shape,
            StatusCode::SERVICE_UNAVAILABLE,
            "The engine is currently overloaded (injected by the scenario fake upstream).",
            "server_error",
            Some("service_unavailable"),
        )),
        Fault::Hang => {
            tokio::time::sleep(s.hang).await;
            Err(io::Error::new(io::ErrorKind::TimedOut, "injected hang"))
        }
        Fault::Reset => {
            reset.store(true, Ordering::Relaxed);
            Err(io::Error::new(io::ErrorKind::ConnectionReset, "injected reset"))
        }
        Fault::Truncated | Fault::Stall => return None,
    })
}

/// A full answer, or half of it under the full Content-Length when truncated.
fn finish(s: &Shared, bytes: Vec<u8>, truncated: bool, usage: Usage) -> Response<Body> {
    let body = if truncated {
        Body::cut(bytes)
    } else {
        s.counters
            .tokens(usage.prompt_tokens, usage.completion_tokens);
        Body::full(bytes)
    };
    let mut response = Response::new(body);
    response.headers_mut().insert(CONTENT_TYPE, JSON);
    response
}

/// The request body, or the answer to send when it is too large. A body that
/// arrives in one piece (the usual case) is taken as is, without copying.
async fn read_body(
    req: Request<Incoming>,
    shape: ErrorShape,
) -> io::Result<Result<Bytes, Response<Body>>> {
    let mut body = req.into_body();
    let mut first: Option<Bytes> = None;
    let mut rest: Vec<u8> = Vec::new();
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.map_err(io::Error::other)?.into_data() else {
            continue; // trailers
        };
        match &first {
            None => first = Some(data),
            Some(head) => {
                if rest.is_empty() {
                    rest.extend_from_slice(head);
                }
                rest.extend_from_slice(&data);
            }
        }
        if first.as_ref().map_or(0, Bytes::len).max(rest.len()) > MAX_BODY {
            let message = format!("Request body larger than {MAX_BODY} bytes");
            return Ok(Err(error(
                shape,
                StatusCode::PAYLOAD_TOO_LARGE,
                &message,
                "invalid_request_error",
                None,
            )));
        }
    }
    Ok(Ok(if rest.is_empty() {
        first.unwrap_or_default()
    } else {
        Bytes::from(rest)
    }))
}

fn bad_json(e: serde_json::Error, shape: ErrorShape) -> Response<Body> {
    let message = format!("We could not parse the JSON body of your request: {e}");
    error(
        shape,
        StatusCode::BAD_REQUEST,
        &message,
        "invalid_request_error",
        None,
    )
}

fn stats(s: &Shared, reset: bool) -> Response<Body> {
    let snapshot = s.counters.snapshot(reset);
    json(
        StatusCode::OK,
        Bytes::from(serde_json::to_vec(&snapshot).expect("stats serialize")),
    )
}

fn json(status: StatusCode, body: Bytes) -> Response<Body> {
    let mut response = Response::new(Body::full(body));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, JSON);
    response
}

/// An error answer: OpenAI's body with `kind` and `code`, or Anthropic's
/// (whose type follows from the status).
fn error(
    shape: ErrorShape,
    status: StatusCode,
    message: &str,
    kind: &str,
    code: Option<&str>,
) -> Response<Body> {
    let body = match shape {
        ErrorShape::OpenAi => openai::error(message, kind, code),
        ErrorShape::Anthropic => anthropic::error(status.as_u16(), message),
    };
    json(status, Bytes::from(body))
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
