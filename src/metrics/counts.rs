//! The plain counts a [`Recorder`](super::Recorder) keeps beside its
//! histograms: defined once, added when recorders merge, and written as
//! they are in a shard's lossless recorder ([`super::raw`]).

use serde::{Deserialize, Serialize};

/// Successes, failures by class, resends, streams and tokens of one
/// recorder. The busy-window shares are `f64`: each request counts by the
/// share of its time inside the window ([`super::busy_share`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Counts {
    pub successes: u64,
    pub timeouts: u64,
    pub connects: u64,
    pub reads: u64,
    pub truncated: u64,
    pub client: u64,
    pub protocol: u64,
    /// 2xx answers not in the shape of the request's dialect.
    #[serde(default)]
    pub shape: u64,
    /// Requests sent a second time (see `load::conn::Conn`'s resend rule).
    pub retries: u64,
    /// Successes and their output tokens inside the busy window, each
    /// weighted by the share of its time that lay inside it.
    pub busy_successes: f64,
    pub busy_tokens: f64,
    /// Successful streamed answers.
    pub streams: u64,
    /// Successful answers that reported tokens, and the sum of those tokens.
    pub token_answers: u64,
    pub output_tokens: u64,
}

impl Counts {
    /// Add `other`'s counts to these.
    pub fn add(&mut self, other: &Counts) {
        let Counts {
            successes,
            timeouts,
            connects,
            reads,
            truncated,
            client,
            protocol,
            shape,
            retries,
            busy_successes,
            busy_tokens,
            streams,
            token_answers,
            output_tokens,
        } = other;
        self.successes += successes;
        self.timeouts += timeouts;
        self.connects += connects;
        self.reads += reads;
        self.truncated += truncated;
        self.client += client;
        self.protocol += protocol;
        self.shape += shape;
        self.retries += retries;
        self.busy_successes += busy_successes;
        self.busy_tokens += busy_tokens;
        self.streams += streams;
        self.token_answers += token_answers;
        self.output_tokens += output_tokens;
    }

    /// Failed requests of the classes counted here (answers with an error
    /// status are counted by code, apart).
    pub fn failures(&self) -> u64 {
        self.timeouts
            + self.connects
            + self.reads
            + self.truncated
            + self.client
            + self.protocol
            + self.shape
    }
}
