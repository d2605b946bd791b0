//! Response bodies: a whole buffer, a buffer cut short (truncated fault), or a
//! Server-Sent Events stream sent one token per chunk on a delay schedule,
//! in the event shape of the request's dialect ([`Flavor`]).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use hyper::body::{Frame, SizeHint};
use rand::rngs::SmallRng;
use tokio::time::Instant;

use super::delay::Sampler;
use super::openai::{self, Usage};
use super::stats::Counters;
use super::{anthropic, responses};

/// Every response body the server sends.
pub enum Body {
    /// The whole body, sent at once.
    Full(Option<Bytes>),
    /// Announces `len` bytes, sends the first part, then fails so the
    /// connection closes mid-body. `paused` marks the one `Pending` in between
    /// that lets hyper flush the part before the failure drops the connection.
    Cut {
        part: Option<Bytes>,
        len: u64,
        paused: bool,
    },
    /// A token stream.
    Sse(Box<SseStream>),
}

impl Body {
    pub fn full(bytes: impl Into<Bytes>) -> Self {
        Body::Full(Some(bytes.into()))
    }

    /// The first half of `bytes`, under a Content-Length of all of them.
    pub fn cut(bytes: Vec<u8>) -> Self {
        let len = bytes.len() as u64;
        let mut part = Bytes::from(bytes);
        part.truncate(len as usize / 2);
        Body::Cut {
            part: Some(part),
            len,
            paused: false,
        }
    }
}

impl hyper::body::Body for Body {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        match self.get_mut() {
            Body::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            Body::Cut { part, paused, .. } => {
                if let Some(b) = part.take() {
                    return Poll::Ready(Some(Ok(Frame::data(b))));
                }
                if !*paused {
                    *paused = true;
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
                Poll::Ready(Some(Err(io::Error::new(
                    io::ErrorKind::ConnectionAborted,
                    "injected truncation",
                ))))
            }
            Body::Sse(stream) => stream.poll_chunk(cx).map(|c| c.map(|b| Ok(Frame::data(b)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, Body::Full(None))
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Body::Full(Some(b)) => SizeHint::with_exact(b.len() as u64),
            Body::Full(None) => SizeHint::with_exact(0),
            Body::Cut { len, .. } => SizeHint::with_exact(*len),
            Body::Sse(_) => SizeHint::default(),
        }
    }
}

/// What a stream's events look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// Chat chunks (`chat.completion.chunk`), ending in `data: [DONE]`.
    Chat,
    /// Completion chunks (`text_completion`), ending in `data: [DONE]`.
    Text,
    /// Anthropic Messages events, `message_start` to `message_stop`.
    Messages,
    /// OpenAI Responses events, `response.created` to `response.completed`.
    Responses,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// The events before the first token (Messages and Responses).
    Start,
    Token,
    Finish,
    Usage,
    Done,
    End,
}

/// One streamed answer: `tokens` chunks (the first sent at once, the next
/// ones `itl` apart), a finish chunk, an optional usage chunk, `[DONE]`
/// (Chat, Text); or the dialect's opening events, one delta event per
/// token, and its closing events with the usage (Messages, Responses).
/// A truncated stream ends cleanly after half its tokens, without the rest;
/// a stalled one waits its stall longer before the middle token.
pub struct SseStream {
    flavor: Flavor,
    /// Chat, Text: `data: {"id":…,"choices":[` shared by every chunk.
    /// Messages, Responses: the opening events, sent once.
    head: Vec<u8>,
    /// The answer's identity, for the closing events of Responses.
    id: openai::Id,
    created: u64,
    model: String,
    next: u32,
    tokens: u32,
    truncate_after: Option<u32>,
    /// The stall fault: the gap before this token is longer by `stall`.
    stall_before: Option<u32>,
    stall: std::time::Duration,
    usage: Option<Usage>,
    prompt_tokens: u64,
    itl: Sampler,
    rng: SmallRng,
    deadline: Instant,
    /// Until the next token; the precise timer, not tokio's millisecond wheel.
    sleep: Option<Pin<Box<dyn Future<Output = ()> + Send + Sync>>>,
    step: Step,
    counters: Arc<Counters>,
    /// Released when the stream is dropped (ended or abandoned).
    _slot: Option<tokio::sync::OwnedSemaphorePermit>,
}

/// What a stream needs besides its identity.
pub struct SseParams {
    pub flavor: Flavor,
    pub tokens: u32,
    pub prompt_tokens: u64,
    /// Chat, Text: send a usage chunk (`stream_options.include_usage`);
    /// the other flavors always report usage.
    pub include_usage: bool,
    pub truncated: bool,
    /// The stall fault: the pause added before the middle token (zero: none).
    pub stall: std::time::Duration,
    pub itl: Sampler,
    pub rng: SmallRng,
    /// When the first token goes out; later ones are scheduled from it.
    pub first_token_at: Instant,
    pub counters: Arc<Counters>,
    /// The `max_concurrent` slot this stream holds until it ends.
    pub slot: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl SseStream {
    pub fn new(meta: openai::Meta, p: SseParams) -> Self {
        let head = match p.flavor {
            Flavor::Chat | Flavor::Text => chunk_head(&meta, p.flavor),
            Flavor::Messages => anthropic::stream_start(meta, p.prompt_tokens),
            Flavor::Responses => responses::stream_start(meta),
        };
        let usage = Usage::new(p.prompt_tokens, u64::from(p.tokens));
        let chunked = matches!(p.flavor, Flavor::Chat | Flavor::Text);
        Self {
            flavor: p.flavor,
            head,
            id: meta.id,
            created: meta.created,
            model: if p.flavor == Flavor::Responses {
                meta.model.to_owned()
            } else {
                String::new()
            },
            next: 0,
            tokens: p.tokens,
            truncate_after: p.truncated.then_some(p.tokens / 2),
            stall_before: (!p.stall.is_zero()).then_some((p.tokens / 2).max(1)),
            stall: p.stall,
            usage: (p.include_usage || !chunked).then_some(usage),
            prompt_tokens: p.prompt_tokens,
            itl: p.itl,
            rng: p.rng,
            deadline: p.first_token_at,
            sleep: None,
            step: if !chunked {
                Step::Start
            } else if p.tokens == 0 {
                Step::Finish
            } else {
                Step::Token
            },
            counters: p.counters,
            _slot: p.slot,
        }
    }

    fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        if let Some(sleep) = &mut self.sleep {
            ready!(sleep.as_mut().poll(cx));
            self.sleep = None;
        }
        let chunk = match self.step {
            Step::Start => {
                self.step = if self.tokens == 0 {
                    Step::Finish
                } else {
                    Step::Token
                };
                Bytes::from(std::mem::take(&mut self.head))
            }
            Step::Token => {
                if self.truncate_after == Some(self.next) {
                    self.step = Step::End;
                    return Poll::Ready(None);
                }
                let chunk = self.token_chunk(self.next);
                self.next += 1;
                if self.next == self.tokens {
                    self.step = Step::Finish;
                } else if self.truncate_after != Some(self.next) {
                    self.schedule_next_token();
                }
                chunk
            }
            Step::Finish => {
                self.step = match self.flavor {
                    Flavor::Messages | Flavor::Responses => Step::End,
                    _ if self.usage.is_some() => Step::Usage,
                    _ => Step::Done,
                };
                self.counters
                    .tokens(self.prompt_tokens, u64::from(self.tokens));
                self.finish_chunk()
            }
            Step::Usage => {
                self.step = Step::Done;
                self.usage_chunk()
            }
            Step::Done => {
                self.step = Step::End;
                Bytes::from_static(b"data: [DONE]\n\n")
            }
            Step::End => return Poll::Ready(None),
        };
        Poll::Ready(Some(chunk))
    }

    fn schedule_next_token(&mut self) {
        let stall = if self.stall_before == Some(self.next) {
            self.stall
        } else {
            std::time::Duration::ZERO
        };
        if self.itl.is_zero() && stall.is_zero() {
            return;
        }
        self.deadline += self.itl.sample(&mut self.rng) + stall;
        self.sleep = Some(Box::pin(super::timer::sleep_until(self.deadline)));
    }

    fn chunk(&self, body: &[&[u8]]) -> Bytes {
        let len = self.head.len() + body.iter().map(|b| b.len()).sum::<usize>();
        let mut out = Vec::with_capacity(len);
        out.extend_from_slice(&self.head);
        for part in body {
            out.extend_from_slice(part);
        }
        Bytes::from(out)
    }

    fn token_chunk(&self, i: u32) -> Bytes {
        let token = openai::token(i).as_bytes();
        match (self.flavor, i) {
            (Flavor::Chat, 0) => self.chunk(&[
                br#"{"index":0,"delta":{"role":"assistant","content":""#,
                token,
                b"\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n",
            ]),
            (Flavor::Chat, _) => self.chunk(&[
                br#"{"index":0,"delta":{"content":""#,
                token,
                b"\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n",
            ]),
            (Flavor::Text, _) => self.chunk(&[
                br#"{"text":""#,
                token,
                b"\",\"index\":0,\"logprobs\":null,\"finish_reason\":null}]}\n\n",
            ]),
            (Flavor::Messages, _) => {
                Bytes::from([anthropic::DELTA[0], token, anthropic::DELTA[1]].concat())
            }
            (Flavor::Responses, _) => {
                let mut out = Vec::with_capacity(224 + token.len());
                let item = responses::message_id(&self.meta());
                responses::delta_head(&mut out, item, responses::FIRST_TOKEN_SEQ + u64::from(i));
                out.extend_from_slice(token);
                out.extend_from_slice(responses::DELTA_END);
                Bytes::from(out)
            }
        }
    }

    fn meta(&self) -> openai::Meta<'_> {
        openai::Meta {
            id: self.id,
            created: self.created,
            model: &self.model,
        }
    }

    fn finish_chunk(&self) -> Bytes {
        match self.flavor {
            Flavor::Chat => self.chunk(&[
                b"{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\"}]}\n\n",
            ]),
            Flavor::Text => self.chunk(&[
                b"{\"text\":\"\",\"index\":0,\"logprobs\":null,\"finish_reason\":\"stop\"}]}\n\n",
            ]),
            Flavor::Messages => Bytes::from(anthropic::stream_finish(u64::from(self.tokens))),
            Flavor::Responses => {
                let usage = Usage::new(self.prompt_tokens, u64::from(self.tokens));
                let text = openai::completion_text(self.tokens);
                let seq = responses::FIRST_TOKEN_SEQ + u64::from(self.tokens);
                Bytes::from(responses::stream_finish(self.meta(), seq, &text, usage))
            }
        }
    }

    fn usage_chunk(&self) -> Bytes {
        let mut usage = b"],\"usage\":".to_vec();
        let _ = serde_json::to_writer(&mut usage, &self.usage);
        usage.extend_from_slice(b"}\n\n");
        self.chunk(&[&usage])
    }
}

/// `data: {"id":…,"object":…,"created":…,"model":…,"choices":[`: what every
/// chat or completion chunk starts with.
fn chunk_head(meta: &openai::Meta, flavor: Flavor) -> Vec<u8> {
    let object = match flavor {
        Flavor::Text => "text_completion",
        _ => "chat.completion.chunk",
    };
    let mut head = Vec::with_capacity(160 + meta.model.len());
    head.extend_from_slice(b"data: {\"id\":");
    let _ = serde_json::to_writer(&mut head, &meta.id);
    head.extend_from_slice(
        format!(
            ",\"object\":\"{object}\",\"created\":{},\"model\":",
            meta.created
        )
        .as_bytes(),
    );
    let _ = serde_json::to_writer(&mut head, meta.model);
    head.extend_from_slice(b",\"system_fingerprint\":\"fp_scenario_fake\",\"choices\":[");
    head
}
