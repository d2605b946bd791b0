//! Why requests failed: the one list of error classes ([`ErrorClass`]) and
//! a step's counts by class ([`ErrorSummary`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Why a request did not succeed: its error class (one type for both).
pub type Failure = ErrorClass;
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ErrorSummary {
    pub total: u64,
    pub timeout: u64,
    pub connect: u64,
    pub read: u64,
    /// Streams that ended without their last event (`data: [DONE]` for chat).
    #[serde(default)]
    pub truncated: u64,
    /// Requests the client's own machine could not make (file descriptors,
    /// local ports): a harness failure, never the target's.
    #[serde(default)]
    pub client: u64,
    /// Answers that broke HTTP/1.1 framing.
    #[serde(default)]
    pub protocol: u64,
    /// 2xx answers not in the shape of the request's dialect.
    #[serde(default)]
    pub shape: u64,
    pub status: BTreeMap<String, u64>,
}

/// A class of failed request, as every report names it. The one list of
/// classes: renderers iterate [`ErrorSummary::classes`] instead of naming
/// fields, so a new class shows up everywhere at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorClass {
    Timeout,
    Connect,
    Read,
    Truncated,
    Client,
    Protocol,
    /// A 2xx answer not in the shape of the request's dialect (an Anthropic
    /// request answered with a chat completion, say).
    Shape,
    /// A non-2xx answer with this status code.
    Status(u16),
}

impl ErrorClass {
    /// The classes that are not HTTP statuses, in report order.
    pub const FIXED: [ErrorClass; 7] = [
        ErrorClass::Timeout,
        ErrorClass::Connect,
        ErrorClass::Read,
        ErrorClass::Truncated,
        ErrorClass::Client,
        ErrorClass::Protocol,
        ErrorClass::Shape,
    ];

    /// The name reports use: `timeout`, `connect`, `read`, `truncated`,
    /// `client`, `protocol`, `shape`, or `HTTP 500`.
    pub fn label(self) -> String {
        match self {
            ErrorClass::Timeout => "timeout".into(),
            ErrorClass::Connect => "connect".into(),
            ErrorClass::Read => "read".into(),
            ErrorClass::Truncated => "truncated".into(),
            ErrorClass::Client => "client".into(),
            ErrorClass::Protocol => "protocol".into(),
            ErrorClass::Shape => "shape".into(),
            ErrorClass::Status(code) => format!("HTTP {code}"),
        }
    }

    /// What the class means, for a legend.
    pub fn meaning(self) -> &'static str {
        match self {
            ErrorClass::Timeout => "no answer within the request timeout",
            ErrorClass::Connect => "the connection could not be made",
            ErrorClass::Read => "the connection broke while sending or reading",
            ErrorClass::Truncated => {
                "a stream ended without its last event (`data: [DONE]`, `message_stop`, \
                 `response.completed`)"
            }
            ErrorClass::Client => {
                "the client's own machine refused (file descriptors, local ports): a harness failure"
            }
            ErrorClass::Protocol => {
                "the answer broke HTTP/1.1 framing (a malformed head or chunk, bytes after \
                 the answer, conflicting lengths, too many headers or too long a trailer)"
            }
            ErrorClass::Shape => {
                "a 2xx answer not in the shape of the request's dialect (`[request] dialect`), \
                 e.g. a chat completion for an Anthropic Messages request: the gateway did not translate"
            }
            ErrorClass::Status(_) => "the target answered with a non-2xx status",
        }
    }
}

impl ErrorSummary {
    /// The count of one class.
    pub fn count(&self, class: ErrorClass) -> u64 {
        match class {
            ErrorClass::Timeout => self.timeout,
            ErrorClass::Connect => self.connect,
            ErrorClass::Read => self.read,
            ErrorClass::Truncated => self.truncated,
            ErrorClass::Client => self.client,
            ErrorClass::Protocol => self.protocol,
            ErrorClass::Shape => self.shape,
            ErrorClass::Status(code) => self.status.get(&code.to_string()).copied().unwrap_or(0),
        }
    }

    /// Every class with a count above zero, fixed classes first, then
    /// statuses by code.
    pub fn classes(&self) -> Vec<(ErrorClass, u64)> {
        ErrorClass::FIXED
            .into_iter()
            .chain(
                self.status
                    .keys()
                    .filter_map(|k| k.parse().ok())
                    .map(ErrorClass::Status),
            )
            .map(|c| (c, self.count(c)))
            .filter(|(_, n)| *n > 0)
            .collect()
    }
}
