//! Scripts: which reply the mock gives to which request.
//!
//! Owns [`Script`], [`Reply`] and their parts, the YAML loader with located errors, and reply
//! selection. A reply is provider-neutral: the API modules render the same reply in each wire
//! format. Must not depend on HTTP or the async runtime.

mod raw;

use std::collections::HashSet;
use std::time::Duration;

use serde::Deserialize;
use serde_saphyr::{Location, Spanned};

use crate::error::MockError;
use raw::{RawCondition, RawFault, RawReply, RawScript, RawToolCall};

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
}

/// What selection looks at in a request.
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
        validate(raw)
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

fn invalid(at: Location, field: impl Into<String>, message: impl Into<String>) -> MockError {
    MockError::Invalid {
        line: at.line(),
        column: at.column(),
        field: field.into(),
        message: message.into(),
    }
}

fn validate(raw: RawScript) -> Result<Script, MockError> {
    let replies_at = raw.replies.referenced;
    if raw.replies.value.is_empty() {
        return Err(invalid(
            replies_at,
            "replies",
            "a script needs at least one reply",
        ));
    }
    let mut seen = HashSet::new();
    let mut replies = Vec::with_capacity(raw.replies.value.len());
    for (i, reply) in raw.replies.value.into_iter().enumerate() {
        let field = format!("replies[{i}]");
        let name = &reply.value.name;
        if !seen.insert(name.value.clone()) {
            return Err(invalid(
                name.referenced,
                format!("{field}.name"),
                format!("duplicate reply name `{}`", name.value),
            ));
        }
        replies.push(validate_reply(reply, &field)?);
    }
    let fallback = match raw.default {
        Some(name) => replies
            .iter()
            .position(|r| r.name == name.value)
            .ok_or_else(|| {
                invalid(
                    name.referenced,
                    "default",
                    format!("no reply is named `{}`", name.value),
                )
            })?,
        None => replies
            .iter()
            .position(|r| r.when.is_none())
            .ok_or_else(|| {
                invalid(
                    replies_at,
                    "default",
                    "no fallback reply: name one with `default` or add a reply without `when`",
                )
            })?,
    };
    let mut models = Vec::with_capacity(raw.models.len());
    for (i, model) in raw.models.into_iter().enumerate() {
        if model.value.is_empty() {
            return Err(invalid(
                model.referenced,
                format!("models[{i}]"),
                "empty model id",
            ));
        }
        models.push(model.value);
    }
    let api_key = match raw.api_key {
        Some(key) if key.value.is_empty() => {
            return Err(invalid(
                key.referenced,
                "api_key",
                "empty key; omit it to accept any",
            ));
        }
        key => key.map(|k| k.value),
    };
    Ok(Script {
        api_key,
        models,
        replies,
        fallback,
    })
}

fn validate_reply(reply: Spanned<RawReply>, field: &str) -> Result<Reply, MockError> {
    let at = reply.referenced;
    let raw = reply.value;
    if raw.name.value.is_empty() {
        return Err(invalid(
            raw.name.referenced,
            format!("{field}.name"),
            "empty name",
        ));
    }
    let chunk_size = match raw.chunk_size {
        None => DEFAULT_CHUNK_SIZE,
        Some(size) => match usize::try_from(size.value) {
            Ok(n) if n > 0 => n,
            _ => {
                return Err(invalid(
                    size.referenced,
                    format!("{field}.chunk_size"),
                    "must be a positive number of characters",
                ));
            }
        },
    };
    let tool_calls = raw
        .tool_calls
        .into_iter()
        .enumerate()
        .map(|(i, call)| validate_call(call, &format!("{field}.tool_calls[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    let fault = raw
        .fault
        .map(|f| validate_fault(f, &format!("{field}.fault"), !tool_calls.is_empty()))
        .transpose()?;
    let answers = raw.text.is_some() || !tool_calls.is_empty();
    if !answers && !matches!(fault, Some(Fault::Status(_))) {
        return Err(invalid(
            at,
            field,
            "a reply needs `text`, `tool_calls` or a `fault: { status: … }`",
        ));
    }
    Ok(Reply {
        name: raw.name.value,
        when: raw.when.map(|c| validate_condition(c, field)).transpose()?,
        text: raw.text,
        tool_calls,
        chunk_size,
        delay: Duration::from_millis(raw.delay_ms.unwrap_or(0)),
        chunk_delay: Duration::from_millis(raw.chunk_delay_ms.unwrap_or(0)),
        usage: raw.usage.map(|u| Usage {
            input_tokens: u.input_tokens,
            output_tokens: u.output_tokens,
        }),
        finish: raw.finish,
        fault,
    })
}

fn validate_condition(when: Spanned<RawCondition>, field: &str) -> Result<Condition, MockError> {
    let RawCondition {
        last_user_contains,
        model,
        after_tool_result,
    } = when.value;
    if last_user_contains.is_none() && model.is_none() && after_tool_result.is_none() {
        return Err(invalid(
            when.referenced,
            format!("{field}.when"),
            "empty condition: give `last_user_contains`, `model` or `after_tool_result`",
        ));
    }
    Ok(Condition {
        last_user_contains,
        model,
        after_tool_result,
    })
}

fn validate_call(call: Spanned<RawToolCall>, field: &str) -> Result<ToolCall, MockError> {
    let RawToolCall { name, arguments } = call.value;
    if name.value.is_empty() {
        return Err(invalid(
            name.referenced,
            format!("{field}.name"),
            "empty tool name",
        ));
    }
    let arguments = match arguments {
        None => serde_json::Value::Object(serde_json::Map::new()),
        Some(args) if args.value.is_object() => args.value,
        Some(args) => {
            return Err(invalid(
                args.referenced,
                format!("{field}.arguments"),
                "arguments must be a mapping",
            ));
        }
    };
    Ok(ToolCall {
        name: name.value,
        arguments,
    })
}

fn validate_fault(
    fault: Spanned<RawFault>,
    field: &str,
    has_calls: bool,
) -> Result<Fault, MockError> {
    let at = fault.referenced;
    let RawFault {
        status,
        reset_mid_stream,
        malformed_sse,
        truncate_tool_call,
        slow_headers_ms,
    } = fault.value;
    let mut chosen = Vec::new();
    if let Some(code) = status {
        if !(400..=599).contains(&code) {
            return Err(invalid(
                at,
                format!("{field}.status"),
                "must be an HTTP error status (400–599)",
            ));
        }
        chosen.push(Fault::Status(code));
    }
    if let Some(n) = reset_mid_stream {
        chosen.push(Fault::ResetMidStream(n));
    }
    if let Some(n) = malformed_sse {
        chosen.push(Fault::MalformedSse(n));
    }
    match truncate_tool_call {
        Some(true) if !has_calls => {
            return Err(invalid(
                at,
                format!("{field}.truncate_tool_call"),
                "the reply has no tool call to truncate",
            ));
        }
        Some(true) => chosen.push(Fault::TruncateToolCall),
        Some(false) => {
            return Err(invalid(
                at,
                format!("{field}.truncate_tool_call"),
                "set it to true or remove it",
            ));
        }
        None => {}
    }
    if let Some(ms) = slow_headers_ms {
        chosen.push(Fault::SlowHeaders(Duration::from_millis(ms)));
    }
    match chosen.as_slice() {
        [one] => Ok(*one),
        [] => Err(invalid(
            at,
            field,
            "empty fault: give one of `status`, `reset_mid_stream`, `malformed_sse`, `truncate_tool_call`, `slow_headers_ms`",
        )),
        _ => Err(invalid(at, field, "give exactly one kind of fault")),
    }
}

#[cfg(test)]
mod tests;
