//! The API dialects a request can speak: OpenAI chat completions, Anthropic
//! Messages and OpenAI Responses. One type for the scenario key
//! (`[request] dialect`), the plan, the load engine (which events carry
//! tokens, which event ends a stream, what a well-shaped answer looks like)
//! and the fake upstream (which endpoint answers which shape).

use std::fmt;

use serde::{Deserialize, Serialize};

/// What a request speaks, so what its answer must look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Dialect {
    /// `POST /v1/chat/completions`: `choices`, chunks ending in `data: [DONE]`.
    OpenaiChat,
    /// `POST /v1/messages`: a `message`, events `message_start` … `message_stop`.
    AnthropicMessages,
    /// `POST /v1/responses`: a `response`, events `response.created` … `response.completed`.
    OpenaiResponses,
}

impl Dialect {
    /// Every dialect, in documentation order.
    #[cfg(test)]
    pub const ALL: [Dialect; 3] = [
        Dialect::OpenaiChat,
        Dialect::AnthropicMessages,
        Dialect::OpenaiResponses,
    ];

    /// The name scenario files use: `openai-chat`, `anthropic-messages`, `openai-responses`.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::OpenaiChat => "openai-chat",
            Dialect::AnthropicMessages => "anthropic-messages",
            Dialect::OpenaiResponses => "openai-responses",
        }
    }

    /// The dialect a request path implies by its last segments (a query is
    /// ignored): `…/chat/completions`, `…/messages`, `…/responses`. `None`
    /// for any other path (a gateway's own route): its answers are read
    /// like chat completions' but their shape is not checked.
    pub fn from_path(path: &str) -> Option<Dialect> {
        let path = path.split(['?', '#']).next().unwrap_or(path);
        let path = path.strip_suffix('/').unwrap_or(path);
        if path.ends_with("/chat/completions") {
            Some(Dialect::OpenaiChat)
        } else if path.ends_with("/messages") {
            Some(Dialect::AnthropicMessages)
        } else if path.ends_with("/responses") {
            Some(Dialect::OpenaiResponses)
        } else {
            None
        }
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_imply_dialects() {
        let d = Dialect::from_path;
        assert_eq!(d("/v1/chat/completions"), Some(Dialect::OpenaiChat));
        assert_eq!(d("/openai/v1/chat/completions/"), Some(Dialect::OpenaiChat));
        assert_eq!(d("/v1/messages"), Some(Dialect::AnthropicMessages));
        assert_eq!(
            d("/anthropic/v1/messages?beta=true"),
            Some(Dialect::AnthropicMessages)
        );
        assert_eq!(d("/v1/responses"), Some(Dialect::OpenaiResponses));
        assert_eq!(d("/v1/completions"), None);
        assert_eq!(d("/score"), None);
        for dialect in Dialect::ALL {
            let json = serde_json::to_string(&dialect).unwrap();
            assert_eq!(json, format!("\"{dialect}\""));
        }
    }
}
