//! What the server served and injected, counted exactly: lock-free counters on
//! the hot path, a serde [`Stats`] snapshot for `GET /stats`.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use serde::{Deserialize, Serialize};

use super::faults::Fault;

/// `GET /stats`: counts since start or the last reset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Requests received, every path except `/health` and `/stats`.
    pub requests: u64,
    /// Requests per endpoint (a fault still counts its endpoint).
    pub endpoints: EndpointCounts,
    /// Chat and completion requests that asked for a stream.
    pub streamed: u64,
    /// Prompt tokens of the requests answered in full (as reported in `usage`).
    pub prompt_tokens: u64,
    /// Completion tokens sent in full answers (as reported in `usage`).
    pub completion_tokens: u64,
    /// Faults injected, by kind.
    pub faults: FaultCounts,
}

/// Requests per endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointCounts {
    /// `POST /v1/chat/completions`.
    pub chat_completions: u64,
    /// `POST /v1/completions`.
    pub completions: u64,
    /// `POST /v1/embeddings`.
    pub embeddings: u64,
    /// `GET /v1/models`.
    pub models: u64,
    /// Configured mock routes (all of them together).
    pub routes: u64,
    /// Paths nothing answers (404) or wrong methods (405).
    pub not_found: u64,
    /// `GET /health` (not part of `requests`).
    pub health: u64,
}

/// Faults injected, by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultCounts {
    pub status_429: u64,
    pub status_500: u64,
    pub status_503: u64,
    pub hang: u64,
    pub reset: u64,
    pub truncated: u64,
}

/// Which endpoint a request hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    ChatCompletions,
    Completions,
    Embeddings,
    Models,
    Routes,
    NotFound,
    Health,
}

/// The live counters.
#[derive(Debug, Default)]
pub struct Counters {
    requests: AtomicU64,
    endpoints: [AtomicU64; 7],
    streamed: AtomicU64,
    prompt_tokens: AtomicU64,
    completion_tokens: AtomicU64,
    faults: [AtomicU64; 6],
}

impl Counters {
    pub fn endpoint(&self, endpoint: Endpoint) {
        if endpoint != Endpoint::Health {
            self.requests.fetch_add(1, Relaxed);
        }
        self.endpoints[endpoint as usize].fetch_add(1, Relaxed);
    }

    pub fn streamed(&self) {
        self.streamed.fetch_add(1, Relaxed);
    }

    pub fn tokens(&self, prompt: u64, completion: u64) {
        self.prompt_tokens.fetch_add(prompt, Relaxed);
        self.completion_tokens.fetch_add(completion, Relaxed);
    }

    pub fn fault(&self, fault: Fault) {
        self.faults[fault as usize].fetch_add(1, Relaxed);
    }

    /// The counts now; with `reset`, each counter is zeroed as it is read.
    pub fn snapshot(&self, reset: bool) -> Stats {
        let get = |c: &AtomicU64| {
            if reset {
                c.swap(0, Relaxed)
            } else {
                c.load(Relaxed)
            }
        };
        let e = &self.endpoints;
        let f = &self.faults;
        Stats {
            requests: get(&self.requests),
            endpoints: EndpointCounts {
                chat_completions: get(&e[Endpoint::ChatCompletions as usize]),
                completions: get(&e[Endpoint::Completions as usize]),
                embeddings: get(&e[Endpoint::Embeddings as usize]),
                models: get(&e[Endpoint::Models as usize]),
                routes: get(&e[Endpoint::Routes as usize]),
                not_found: get(&e[Endpoint::NotFound as usize]),
                health: get(&e[Endpoint::Health as usize]),
            },
            streamed: get(&self.streamed),
            prompt_tokens: get(&self.prompt_tokens),
            completion_tokens: get(&self.completion_tokens),
            faults: FaultCounts {
                status_429: get(&f[Fault::Status429 as usize]),
                status_500: get(&f[Fault::Status500 as usize]),
                status_503: get(&f[Fault::Status503 as usize]),
                hang: get(&f[Fault::Hang as usize]),
                reset: get(&f[Fault::Reset as usize]),
                truncated: get(&f[Fault::Truncated as usize]),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_resets() {
        let c = Counters::default();
        c.endpoint(Endpoint::ChatCompletions);
        c.endpoint(Endpoint::Health);
        c.endpoint(Endpoint::NotFound);
        c.fault(Fault::Truncated);
        c.fault(Fault::Status500);
        c.tokens(3, 16);
        let s = c.snapshot(true);
        assert_eq!(s.requests, 2);
        assert_eq!(s.endpoints.chat_completions, 1);
        assert_eq!(s.endpoints.health, 1);
        assert_eq!(s.endpoints.not_found, 1);
        assert_eq!(
            (s.faults.truncated, s.faults.status_500, s.faults.reset),
            (1, 1, 0)
        );
        assert_eq!((s.prompt_tokens, s.completion_tokens), (3, 16));
        assert_eq!(c.snapshot(false), Stats::default());
    }
}
