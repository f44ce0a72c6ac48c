//! Borrowed views of the few fields that decide whether a streamed event can pass through
//! untouched. Deserializing these validates the whole event as JSON but allocates (almost)
//! nothing, so text events, the bulk of every stream, skip building a `serde_json::Value`.
//!
//! Owns only these views; must not decide anything itself.

use crate::ProtocolError;
use serde::Deserialize;
use serde::de::IgnoredAny;
use std::borrow::Cow;

/// Parses an event's head, mapping JSON errors to [`ProtocolError::Malformed`].
pub(crate) fn parse<'a, T: Deserialize<'a>>(data: &'a str) -> Result<T, ProtocolError> {
    serde_json::from_str(data)
        .map_err(|e| ProtocolError::Malformed(format!("event data is not JSON: {e}")))
}

/// An Anthropic Messages event.
#[derive(Debug, Deserialize)]
pub(crate) struct AnthropicHead<'a> {
    /// The event type.
    #[serde(borrow, rename = "type", default)]
    pub(crate) kind: Option<Cow<'a, str>>,
    /// The content block index.
    #[serde(default)]
    pub(crate) index: Option<u64>,
    /// The started block, for `content_block_start`.
    #[serde(borrow, default)]
    pub(crate) content_block: Option<TypedHead<'a>>,
}

/// Any object with a `type`.
#[derive(Debug, Deserialize)]
pub(crate) struct TypedHead<'a> {
    /// The object's type.
    #[serde(borrow, rename = "type", default)]
    pub(crate) kind: Option<Cow<'a, str>>,
}

/// An OpenAI Chat Completions chunk.
#[derive(Debug, Deserialize)]
pub(crate) struct ChatHead<'a> {
    /// The chunk's choices.
    #[serde(borrow, default)]
    pub(crate) choices: Option<Vec<ChatChoiceHead<'a>>>,
    /// Usage, when not null.
    #[serde(default)]
    pub(crate) usage: Option<IgnoredAny>,
    /// An upstream error, when not null.
    #[serde(default)]
    pub(crate) error: Option<IgnoredAny>,
}

/// One choice of a chat chunk.
#[derive(Debug, Deserialize)]
pub(crate) struct ChatChoiceHead<'a> {
    /// The choice index.
    #[serde(default)]
    pub(crate) index: Option<u64>,
    /// The choice's delta.
    #[serde(borrow, default)]
    pub(crate) delta: Option<ChatDeltaHead<'a>>,
    /// The finish reason, when not null.
    #[serde(borrow, default)]
    pub(crate) finish_reason: Option<Cow<'a, str>>,
}

/// A chat delta.
#[derive(Debug, Deserialize)]
pub(crate) struct ChatDeltaHead<'a> {
    /// Text content, when not null.
    #[serde(borrow, default)]
    pub(crate) content: Option<Cow<'a, str>>,
    /// Tool-call fragments, when not null.
    #[serde(default)]
    pub(crate) tool_calls: Option<IgnoredAny>,
    /// The deprecated single function call, when not null.
    #[serde(default)]
    pub(crate) function_call: Option<IgnoredAny>,
}

/// An OpenAI Responses event.
#[derive(Debug, Deserialize)]
pub(crate) struct ResponsesHead<'a> {
    /// The event type.
    #[serde(borrow, rename = "type", default)]
    pub(crate) kind: Option<Cow<'a, str>>,
    /// The event's sequence number.
    #[serde(default)]
    pub(crate) sequence_number: Option<u64>,
    /// The output item index the event belongs to.
    #[serde(default)]
    pub(crate) output_index: Option<u64>,
}
