//! Response bodies: a whole buffer, a buffer cut short (truncated fault), or a
//! Server-Sent Events stream sent one token per chunk on a delay schedule.

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

/// Chat chunks (`chat.completion.chunk`) or completion chunks (`text_completion`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Chat,
    Text,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Token,
    Finish,
    Usage,
    Done,
    End,
}

/// One streamed answer: `tokens` chunks (the first sent at once, the next
/// ones `itl` apart), a finish chunk, an optional usage chunk, `[DONE]`.
/// A truncated stream ends cleanly after half its tokens, without the rest.
pub struct SseStream {
    flavor: Flavor,
    /// `data: {"id":…,"choices":[` shared by every chunk.
    head: Vec<u8>,
    next: u32,
    tokens: u32,
    truncate_after: Option<u32>,
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
    pub include_usage: bool,
    pub truncated: bool,
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
        let object = match p.flavor {
            Flavor::Chat => "chat.completion.chunk",
            Flavor::Text => "text_completion",
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
        let usage = Usage::new(p.prompt_tokens, u64::from(p.tokens));
        Self {
            flavor: p.flavor,
            head,
            next: 0,
            tokens: p.tokens,
            truncate_after: p.truncated.then_some(p.tokens / 2),
            usage: p.include_usage.then_some(usage),
            prompt_tokens: p.prompt_tokens,
            itl: p.itl,
            rng: p.rng,
            deadline: p.first_token_at,
            sleep: None,
            step: if p.tokens == 0 {
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
                self.step = if self.usage.is_some() {
                    Step::Usage
                } else {
                    Step::Done
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
        if self.itl.is_zero() {
            return;
        }
        self.deadline += self.itl.sample(&mut self.rng);
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
        }
    }

    fn usage_chunk(&self) -> Bytes {
        let mut usage = b"],\"usage\":".to_vec();
        let _ = serde_json::to_writer(&mut usage, &self.usage);
        usage.extend_from_slice(b"}\n\n");
        self.chunk(&[&usage])
    }
}
