//! What the server served and injected, counted exactly: lock-free counters on
//! the hot path, an [`UpstreamCounts`] snapshot for `GET /stats`.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

use super::faults::Fault;
// `GET /stats` answers in the report's own type: one definition of the counts.
use crate::report::{EndpointCounts, FaultCounts, UpstreamCounts};

/// Which endpoint a request hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    ChatCompletions,
    Completions,
    Embeddings,
    Messages,
    Responses,
    Models,
    Routes,
    NotFound,
    Health,
}

/// Counters of one shard, on cache lines of their own.
#[derive(Debug, Default)]
#[repr(align(64))]
struct Shard {
    requests: AtomicU64,
    endpoints: [AtomicU64; 9],
    streamed: AtomicU64,
    prompt_tokens: AtomicU64,
    completion_tokens: AtomicU64,
    faults: [AtomicU64; 7],
}

/// Shards; threads beyond this many share them (still exact, just contended).
const SHARDS: usize = 16;

static NEXT_SHARD: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static SHARD: usize = NEXT_SHARD.fetch_add(1, Relaxed) % SHARDS;
}

/// The live counters: one shard per worker thread, so counting never makes
/// cores fight over a cache line; a snapshot sums the shards.
#[derive(Debug, Default)]
pub struct Counters {
    shards: [Shard; SHARDS],
}

impl Counters {
    fn shard(&self) -> &Shard {
        &self.shards[SHARD.with(|s| *s)]
    }

    pub fn endpoint(&self, endpoint: Endpoint) {
        let shard = self.shard();
        if endpoint != Endpoint::Health {
            shard.requests.fetch_add(1, Relaxed);
        }
        shard.endpoints[endpoint as usize].fetch_add(1, Relaxed);
    }

    pub fn streamed(&self) {
        self.shard().streamed.fetch_add(1, Relaxed);
    }

    pub fn tokens(&self, prompt: u64, completion: u64) {
        let shard = self.shard();
        shard.prompt_tokens.fetch_add(prompt, Relaxed);
        shard.completion_tokens.fetch_add(completion, Relaxed);
    }

    pub fn fault(&self, fault: Fault) {
        self.shard().faults[fault as usize].fetch_add(1, Relaxed);
    }

    /// The counts now; with `reset`, each counter is zeroed as it is read, so
    /// every increment is reported exactly once.
    pub fn snapshot(&self, reset: bool) -> UpstreamCounts {
        let get = |pick: &dyn Fn(&Shard) -> &AtomicU64| -> u64 {
            self.shards
                .iter()
                .map(|shard| {
                    let c = pick(shard);
                    if reset {
                        c.swap(0, Relaxed)
                    } else {
                        c.load(Relaxed)
                    }
                })
                .sum()
        };
        let e = |endpoint: Endpoint| get(&|s: &Shard| &s.endpoints[endpoint as usize]);
        let f = |fault: Fault| get(&|s: &Shard| &s.faults[fault as usize]);
        UpstreamCounts {
            requests: get(&|s| &s.requests),
            endpoints: EndpointCounts {
                chat_completions: e(Endpoint::ChatCompletions),
                completions: e(Endpoint::Completions),
                embeddings: e(Endpoint::Embeddings),
                messages: e(Endpoint::Messages),
                responses: e(Endpoint::Responses),
                models: e(Endpoint::Models),
                routes: e(Endpoint::Routes),
                not_found: e(Endpoint::NotFound),
                health: e(Endpoint::Health),
            },
            streamed: get(&|s| &s.streamed),
            prompt_tokens: get(&|s| &s.prompt_tokens),
            completion_tokens: get(&|s| &s.completion_tokens),
            faults: FaultCounts {
                status_429: f(Fault::Status429),
                status_500: f(Fault::Status500),
                status_503: f(Fault::Status503),
                hang: f(Fault::Hang),
                reset: f(Fault::Reset),
                truncated: f(Fault::Truncated),
                stall: f(Fault::Stall),
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
        assert_eq!(c.snapshot(false), UpstreamCounts::default());
    }

    #[test]
    fn counts_from_many_threads_add_up() {
        let c = Counters::default();
        std::thread::scope(|scope| {
            for _ in 0..20 {
                scope.spawn(|| {
                    for _ in 0..1000 {
                        c.endpoint(Endpoint::Embeddings);
                        c.fault(Fault::Hang);
                    }
                });
            }
        });
        let s = c.snapshot(false);
        assert_eq!(
            (s.requests, s.endpoints.embeddings, s.faults.hang),
            (20_000, 20_000, 20_000)
        );
    }
}
