//! Scripts: which reply the mock gives to which request.
//!
//! Owns [`Script`], [`Reply`] and their parts, the YAML loader with located errors (`raw` mirrors
//! the file, `validate` checks it) and reply selection. A reply is provider-neutral: the API
//! modules render the same reply in each wire format. Must not depend on HTTP or the async
//! runtime.

mod raw;
mod validate;

use std::time::Duration;

use serde::Deserialize;

use crate::error::MockError;
use raw::RawScript;

/// Characters per text or arguments delta when a reply does not say.
pub const DEFAULT_CHUNK_SIZE: usize = 8;

/// A validated script: the replies the mock gives, in the order they are tried.
#[derive(Debug, Clone)]
pub struct Script {
    api_key: Option<String>,
    models: Vec<String>,
    replies: Vec<Reply>,
    fallback: usize,
}

/// One scripted reply, rendered in whichever API shape the client called.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// Name used by the `Warden-Mock-Reply` header and by `default`.
    pub name: String,
    /// When the reply applies without being named.
    pub when: Option<Condition>,
    /// Assistant text, streamed before any tool call.
    pub text: Option<String>,
    /// Tool calls the model proposes, in order (parallel calls when more than one).
    pub tool_calls: Vec<ToolCall>,
    /// Characters per text or arguments delta in streams.
    pub chunk_size: usize,
    /// Wait before the first body byte.
    pub delay: Duration,
    /// Wait between stream chunks.
    pub chunk_delay: Duration,
    /// Reported token counts; `None` means estimated from the request and reply.
    pub usage: Option<Usage>,
    /// Reported finish reason; `None` means `tool_calls` when there are calls, else `stop`.
    pub finish: Option<Finish>,
    /// Failure injected instead of (or into) the normal reply.
    pub fault: Option<Fault>,
}

/// Conditions on a request; all that are set must hold.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Condition {
    /// The text of the last user message contains this (case-sensitive).
    pub last_user_contains: Option<String>,
    /// The request names exactly this model.
    pub model: Option<String>,
    /// Whether the conversation ends with a tool result.
    pub after_tool_result: Option<bool>,
}

/// One proposed tool call.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    /// Tool name.
    pub name: String,
    /// Arguments, always a JSON object.
    pub arguments: serde_json::Value,
}

/// Token counts reported in `usage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct Usage {
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Completion tokens.
    pub output_tokens: u64,
}

/// Why the model stopped, in provider-neutral terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Finish {
    /// Natural end (`stop`, `end_turn`, `completed`).
    Stop,
    /// The model proposed tool calls (`tool_calls`, `tool_use`).
    ToolCalls,
    /// The output-token limit was reached (`length`, `max_tokens`, `incomplete`).
    Length,
}

/// A failure the mock injects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this HTTP status and the provider's error body.
    Status(u16),
    /// Send this many stream chunks, then drop the connection without a terminator.
    ResetMidStream(u64),
    /// Send this many stream chunks, then a syntactically broken `data:` line.
    MalformedSse(u64),
    /// End the stream cleanly in the middle of the first tool call's arguments.
    TruncateToolCall,
    /// Wait this long before sending the response headers.
    SlowHeaders(Duration),
    /// Produce the whole reply whatever output-token limit the request sets (a provider that
    /// overruns `max_tokens`), still reporting the usage it produced.
    IgnoreMaxTokens,
}

/// What reply selection and the rendering of usage look at in a request.
#[derive(Debug, Clone, Default)]
pub(crate) struct Prompt {
    /// Requested model.
    pub model: String,
    /// Text parts of the last user-authored message.
    pub last_user_text: String,
    /// Whether the conversation ends with a tool result.
    pub after_tool_result: bool,
    /// Characters of prompt text, for estimated usage.
    pub chars: usize,
    /// The request's limit on output tokens, if it sets one.
    pub max_tokens: Option<u64>,
}

impl Script {
    /// Parses and validates a script. Errors name the line, column and field at fault.
    pub fn from_yaml(text: &str) -> Result<Script, MockError> {
        let raw: RawScript = serde_saphyr::from_str(text).map_err(|e| {
            let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
            let message = e.without_snippet().to_string();
            let message = message.lines().next().unwrap_or("invalid YAML").to_owned();
            MockError::Yaml {
                line,
                column,
                message,
            }
        })?;
        validate::script(raw)
    }

    /// The key clients must present, if any.
    pub fn api_key(&self) -> Option<&str> {
        self.api_key.as_deref()
    }

    /// Replaces the key clients must present (`None` accepts any).
    pub fn set_api_key(&mut self, key: Option<String>) {
        self.api_key = key;
    }

    /// Model ids listed by `GET /v1/models`.
    pub fn models(&self) -> &[String] {
        &self.models
    }

    /// The replies, in the order they are tried.
    pub fn replies(&self) -> &[Reply] {
        &self.replies
    }

    /// The reply used when nothing else matches.
    pub fn fallback(&self) -> Option<&Reply> {
        self.replies.get(self.fallback)
    }

    /// The reply named `name`.
    pub fn reply(&self, name: &str) -> Option<&Reply> {
        self.replies.iter().find(|r| r.name == name)
    }

    /// The first reply whose condition holds for `prompt`, else the fallback.
    pub(crate) fn select(&self, prompt: &Prompt) -> Option<&Reply> {
        self.replies
            .iter()
            .find(|r| r.when.as_ref().is_some_and(|c| c.holds(prompt)))
            .or_else(|| self.fallback())
    }
}

impl Condition {
    fn holds(&self, prompt: &Prompt) -> bool {
        self.last_user_contains
            .as_ref()
            .is_none_or(|s| prompt.last_user_text.contains(s.as_str()))
            && self.model.as_ref().is_none_or(|m| *m == prompt.model)
            && self
                .after_tool_result
                .is_none_or(|b| b == prompt.after_tool_result)
    }
}

#[cfg(test)]
mod tests;
