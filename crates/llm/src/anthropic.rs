//! Anthropic Messages: tool calls in a complete response (`content[]` blocks of type
//! `tool_use`), applying verdicts to them, and usage. The streaming machine is in [`stream`].
//!
//! Owns the Messages wire format only; must not do I/O or judge anything.

pub(crate) mod stream;

use crate::call::Outcome;
use crate::json::{str_at, u64_at};
use crate::{Arguments, ProposedCall, ProtocolError, Usage};
use serde_json::{Value, json};

/// The `stop_reason` meaning "the model wants tools run".
const TOOL_USE: &str = "tool_use";
/// The `stop_reason` used once no tool call is left.
const END_TURN: &str = "end_turn";

/// Every `tool_use` block of a Messages response, in order.
pub(crate) fn proposed_calls(response: &Value) -> Result<Vec<ProposedCall>, ProtocolError> {
    let content = content(response)?;
    let mut calls = Vec::new();
    for block in content.iter().filter(|b| is_tool_use(b)) {
        calls.push(call_of(block, calls.len())?);
    }
    Ok(calls)
}

/// Applies one outcome per `tool_use` block, in order, then corrects `stop_reason`.
pub(crate) fn apply(response: &mut Value, outcomes: Vec<Outcome>) -> Result<(), ProtocolError> {
    let mut outcomes = outcomes.into_iter();
    let blocks = response
        .get_mut("content")
        .and_then(Value::as_array_mut)
        .ok_or_else(|| ProtocolError::Malformed("response has no `content` array".into()))?;
    for block in blocks.iter_mut().filter(|b| is_tool_use(b)) {
        match outcomes.next() {
            Some(Outcome::Unchanged) | None => {}
            Some(Outcome::Rewritten(input)) => {
                if let Some(fields) = block.as_object_mut() {
                    fields.insert("input".into(), input);
                }
            }
            Some(Outcome::Blocked(text)) => *block = json!({"type": "text", "text": text}),
        }
    }
    let remaining = blocks.iter().any(is_tool_use);
    if !remaining
        && str_at(response, "stop_reason") == Some(TOOL_USE)
        && let Some(fields) = response.as_object_mut()
    {
        fields.insert("stop_reason".into(), END_TURN.into());
    }
    Ok(())
}

/// Usage of a complete Messages response.
pub(crate) fn usage(response: &Value) -> Usage {
    usage_fields(response.get("usage").unwrap_or(&Value::Null))
}

/// A Messages `usage` object. Anthropic's `input_tokens` leave out tokens read from or written
/// to the prompt cache; they are added back so `input_tokens` counts the whole prompt, with the
/// cache reads as `cached_input_tokens`.
pub(crate) fn usage_fields(usage: &Value) -> Usage {
    let read = u64_at(usage, "cache_read_input_tokens");
    let written = u64_at(usage, "cache_creation_input_tokens");
    Usage {
        input_tokens: u64_at(usage, "input_tokens")
            .map(|n| n + read.unwrap_or(0) + written.unwrap_or(0)),
        output_tokens: u64_at(usage, "output_tokens"),
        cached_input_tokens: read,
    }
}

fn content(response: &Value) -> Result<&Vec<Value>, ProtocolError> {
    response
        .get("content")
        .and_then(Value::as_array)
        .ok_or_else(|| ProtocolError::Malformed("response has no `content` array".into()))
}

/// Whether a content block is a client-side tool call (server tools run at the provider).
pub(crate) fn is_tool_use(block: &Value) -> bool {
    str_at(block, "type") == Some(TOOL_USE)
}

fn call_of(block: &Value, index: usize) -> Result<ProposedCall, ProtocolError> {
    Ok(ProposedCall {
        index,
        id: required_str(block, "id")?,
        name: required_str(block, "name")?,
        arguments: Arguments::Json(block.get("input").cloned().unwrap_or_else(|| json!({}))),
    })
}

pub(crate) fn required_str(block: &Value, key: &str) -> Result<String, ProtocolError> {
    str_at(block, key)
        .map(str::to_owned)
        .ok_or_else(|| ProtocolError::Malformed(format!("tool_use block has no string `{key}`")))
}
