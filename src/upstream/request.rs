//! OpenAI (and Anthropic Messages, Responses) request fields the fake reads,
//! and token estimates.
//!
//! Token estimate: one token per 4 characters of prompt text (OpenAI's rule of
//! thumb), rounded up; a token id given as a number counts as one token. Prompt
//! text is every message's `content` (a string, or the `text` of its parts),
//! the completion `prompt`, the embedding `input`; for Anthropic Messages
//! also `system`, for OpenAI Responses the `input` and `instructions`.
//! Completion length is the request's `max_completion_tokens`, else
//! `max_tokens`, else `max_output_tokens` (Responses), else the configured
//! `completion_tokens`.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

/// Characters of prompt text, plus 4 per numeric token id.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TextChars(pub u64);

impl TextChars {
    /// Estimated tokens: ceil(chars / 4).
    pub fn tokens(self) -> u64 {
        self.0.div_ceil(4)
    }
}

impl<'de> Deserialize<'de> for TextChars {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TextCharsVisitor)
    }
}

struct TextCharsVisitor;

impl<'de> Visitor<'de> for TextCharsVisitor {
    type Value = TextChars;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("text, a list of texts or token ids, or message objects")
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<TextChars, E> {
        Ok(TextChars(s.chars().count() as u64))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<TextChars, E> {
        Ok(TextChars(4))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<TextChars, E> {
        Ok(TextChars(4))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<TextChars, E> {
        Ok(TextChars(0))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<TextChars, E> {
        Ok(TextChars(0))
    }

    fn visit_unit<E: de::Error>(self) -> Result<TextChars, E> {
        Ok(TextChars(0))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<TextChars, A::Error> {
        let mut total = 0;
        while let Some(TextChars(n)) = seq.next_element()? {
            total += n;
        }
        Ok(TextChars(total))
    }

    /// A message (`content`) or a content part (`text`); other keys are ignored.
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TextChars, A::Error> {
        let mut total = 0;
        while let Some(TextKey(is_text)) = map.next_key()? {
            if is_text {
                total += map.next_value::<TextChars>()?.0;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(TextChars(total))
    }
}

/// A map key, and whether it is `content` or `text`, read without allocating.
struct TextKey(bool);

impl<'de> Deserialize<'de> for TextKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = TextKey;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<TextKey, E> {
                Ok(TextKey(s == "content" || s == "text"))
            }
        }
        d.deserialize_str(V)
    }
}

/// A JSON string, borrowed from the request when it has no escapes.
/// (`Option<Cow<str>>` in a derive always allocates.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonStr<'a>(pub Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for JsonStr<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = JsonStr<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<JsonStr<'a>, E> {
                Ok(JsonStr(Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<JsonStr<'a>, E> {
                Ok(JsonStr(Cow::Owned(s.to_owned())))
            }
        }
        d.deserialize_str(V(std::marker::PhantomData))
    }
}

impl JsonStr<'_> {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The fields of a generation request the fake uses: chat, completion,
/// Anthropic Messages or OpenAI Responses (each reads its own keys).
#[derive(Debug, Default, Deserialize)]
pub struct GenerateRequest<'a> {
    #[serde(borrow, default)]
    pub model: Option<JsonStr<'a>>,
    /// Chat: the messages.
    #[serde(default)]
    pub messages: TextChars,
    /// Completions: the prompt.
    #[serde(default)]
    pub prompt: TextChars,
    /// Anthropic Messages: the system prompt (a string or text blocks).
    #[serde(default)]
    pub system: TextChars,
    /// OpenAI Responses: the input (a string or input items).
    #[serde(default)]
    pub input: TextChars,
    /// OpenAI Responses: the system instructions.
    #[serde(default)]
    pub instructions: TextChars,
    #[serde(default)]
    pub max_tokens: Option<u32>,
    /// OpenAI Responses: the completion length.
    #[serde(default)]
    pub max_output_tokens: Option<u32>,
    #[serde(default)]
    pub max_completion_tokens: Option<u32>,
    #[serde(default)]
    pub stream: Option<bool>,
    #[serde(default)]
    pub stream_options: Option<StreamOptions>,
}

#[derive(Debug, Default, Deserialize)]
pub struct StreamOptions {
    #[serde(default)]
    pub include_usage: Option<bool>,
}

impl GenerateRequest<'_> {
    pub fn prompt_tokens(&self) -> u64 {
        let chars = self.messages.0 + self.prompt.0;
        TextChars(chars + self.system.0 + self.input.0 + self.instructions.0).tokens()
    }

    pub fn completion_tokens(&self, default: u32) -> u32 {
        self.max_completion_tokens
            .or(self.max_tokens)
            .or(self.max_output_tokens)
            .unwrap_or(default)
    }

    pub fn stream(&self) -> bool {
        self.stream.unwrap_or(false)
    }

    pub fn include_usage(&self) -> bool {
        self.stream_options
            .as_ref()
            .and_then(|o| o.include_usage)
            .unwrap_or(false)
    }
}

/// The fields of an embeddings request the fake uses.
#[derive(Debug, Default, Deserialize)]
pub struct EmbeddingsRequest<'a> {
    #[serde(borrow, default)]
    pub model: Option<JsonStr<'a>>,
    #[serde(default)]
    pub input: EmbeddingInput,
    #[serde(default)]
    pub dimensions: Option<u32>,
    #[serde(borrow, default)]
    pub encoding_format: Option<JsonStr<'a>>,
}

/// How many vectors to answer and the characters of all inputs.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct EmbeddingInput {
    pub items: u32,
    pub chars: TextChars,
}

impl<'de> Deserialize<'de> for EmbeddingInput {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(EmbeddingInputVisitor)
    }
}

struct EmbeddingInputVisitor;

impl<'de> Visitor<'de> for EmbeddingInputVisitor {
    type Value = EmbeddingInput;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a text, a list of texts, a list of token ids or a list of such lists")
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<EmbeddingInput, E> {
        Ok(EmbeddingInput {
            items: 1,
            chars: TextChars(s.chars().count() as u64),
        })
    }

    /// `["a", "b"]` is two inputs; `[1, 2, 3]` is one input of token ids.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<EmbeddingInput, A::Error> {
        let (mut items, mut chars, mut ids) = (0u32, 0u64, 0u64);
        while let Some(element) = seq.next_element::<Element>()? {
            match element {
                Element::Id => ids += 1,
                Element::Text(n) => {
                    items += 1;
                    chars += n;
                }
            }
        }
        if ids > 0 {
            items += 1;
            chars += 4 * ids;
        }
        Ok(EmbeddingInput {
            items,
            chars: TextChars(chars),
        })
    }
}

enum Element {
    Id,
    Text(u64),
}

impl<'de> Deserialize<'de> for Element {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Element;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a text, a token id or a list of token ids")
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Element, E> {
                Ok(Element::Id)
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Element, E> {
                Ok(Element::Id)
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Element, E> {
                Ok(Element::Text(s.chars().count() as u64))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Element, A::Error> {
                let TextChars(n) = TextCharsVisitor.visit_seq(seq)?;
                Ok(Element::Text(n))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_prompt_tokens_count_message_text() {
        let body = r#"{"model":"m","messages":[
            {"role":"system","content":"12345678"},
            {"role":"user","content":[{"type":"text","text":"abcd"},{"type":"image_url","image_url":{"url":"http://x"}}]},
            {"role":"assistant","content":null,"tool_calls":[{"id":"x"}]}
        ],"max_tokens":5,"stream":true,"stream_options":{"include_usage":true}}"#;
        let r: GenerateRequest = serde_json::from_str(body).unwrap();
        assert_eq!(r.messages, TextChars(12));
        assert_eq!(r.prompt_tokens(), 3);
        assert_eq!(r.completion_tokens(16), 5);
        assert!(r.stream() && r.include_usage());
        assert_eq!(r.model.as_ref().map(JsonStr::as_str), Some("m"));
        let r: GenerateRequest = serde_json::from_str(r#"{"model":"a\"b"}"#).unwrap();
        assert_eq!(r.model.unwrap().as_str(), "a\"b");
    }

    #[test]
    fn tokens_round_up_and_count_unicode_chars() {
        assert_eq!(TextChars(0).tokens(), 0);
        assert_eq!(TextChars(1).tokens(), 1);
        assert_eq!(TextChars(8).tokens(), 2);
        assert_eq!(TextChars(9).tokens(), 3);
        let r: GenerateRequest = serde_json::from_str(r#"{"prompt":"héllo"}"#).unwrap();
        assert_eq!(r.prompt, TextChars(5));
    }

    #[test]
    fn completion_prompt_forms() {
        let r: GenerateRequest = serde_json::from_str(
            r#"{"prompt":["abcd","efgh"],"max_completion_tokens":2,"max_tokens":9}"#,
        )
        .unwrap();
        assert_eq!((r.prompt_tokens(), r.completion_tokens(16)), (2, 2));
        let r: GenerateRequest = serde_json::from_str(r#"{"prompt":[1,2,3]}"#).unwrap();
        assert_eq!(
            (r.prompt_tokens(), r.completion_tokens(16), r.stream()),
            (3, 16, false)
        );
    }

    #[test]
    fn embedding_inputs() {
        let count = |json: &str| {
            let r: EmbeddingsRequest = serde_json::from_str(json).unwrap();
            (r.input.items, r.input.chars.tokens())
        };
        assert_eq!(count(r#"{"input":"abcdefgh"}"#), (1, 2));
        assert_eq!(count(r#"{"input":["abcd","ef",""]}"#), (3, 2));
        assert_eq!(count(r#"{"input":[1,2,3]}"#), (1, 3));
        assert_eq!(count(r#"{"input":[[1,2],[3]]}"#), (2, 3));
    }
}
