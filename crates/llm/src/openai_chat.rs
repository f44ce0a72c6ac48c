//! OpenAI Chat Completions: tool calls in a complete response (`choices[].message.tool_calls`),
//! applying verdicts to them, and usage. The streaming machine is in [`stream`].
//!
//! Owns the Chat Completions wire format only; must not do I/O or judge anything.

pub(crate) mod stream;

use crate::call::Outcome;
use crate::json::{str_at, u64_at};
use crate::{Arguments, ProposedCall, ProtocolError, Usage};
use serde_json::{Value, json};

/// The `finish_reason` meaning "the model wants tools run".
const TOOL_CALLS: &str = "tool_calls";
/// The `finish_reason` used once no tool call is left.
const STOP: &str = "stop";
/// Separates a blocked call's text from text already in the message.
const TEXT_SEPARATOR: &str = "\n\n";

/// Every tool call of every choice, in order.
pub(crate) fn proposed_calls(response: &Value) -> Result<Vec<ProposedCall>, ProtocolError> {
    let mut calls = Vec::new();
    for choice in choices(response)? {
        let message = choice.get("message").unwrap_or(&Value::Null);
        refuse_legacy_function_call(message)?;
        for tool_call in tool_calls(message) {
            calls.push(call_of(tool_call, calls.len())?);
        }
    }
    Ok(calls)
}

/// Applies one outcome per tool call, in order; blocked calls become message text, and
/// `finish_reason` becomes `stop` in a choice left without calls.
pub(crate) fn apply(response: &mut Value, outcomes: Vec<Outcome>) -> Result<(), ProtocolError> {
    let mut outcomes = outcomes.into_iter();
    let choices = response
        .get_mut("choices")
        .and_then(Value::as_array_mut)
        .ok_or_else(|| ProtocolError::Malformed("response has no `choices` array".into()))?;
    for choice in choices {
        let Some(message) = choice.get_mut("message").and_then(Value::as_object_mut) else {
            continue;
        };
        if !matches!(message.get("tool_calls"), Some(Value::Array(_))) {
            continue;
        }
        let Some(Value::Array(calls)) = message.remove("tool_calls") else {
            continue;
        };
        let mut kept = Vec::new();
        let mut texts = Vec::new();
        for mut call in calls {
            match outcomes.next() {
                Some(Outcome::Unchanged) | None => kept.push(call),
                Some(Outcome::Rewritten(arguments)) => {
                    set_arguments(&mut call, &arguments);
                    kept.push(call);
                }
                Some(Outcome::Blocked(text)) => texts.push(text),
            }
        }
        let content = message.entry("content").or_insert(Value::Null);
        for text in texts {
            append_text(content, &text);
        }
        let none_left = kept.is_empty();
        if !none_left {
            message.insert("tool_calls".into(), Value::Array(kept));
        }
        if none_left
            && str_at(choice, "finish_reason") == Some(TOOL_CALLS)
            && let Some(fields) = choice.as_object_mut()
        {
            fields.insert("finish_reason".into(), STOP.into());
        }
    }
    Ok(())
}

/// Usage of a complete response or of a stream's usage chunk.
pub(crate) fn usage(response: &Value) -> crate::Usage {
    let usage = response.get("usage").unwrap_or(&Value::Null);
    Usage {
        input_tokens: u64_at(usage, "prompt_tokens"),
        output_tokens: u64_at(usage, "completion_tokens"),
        cached_input_tokens: usage
            .get("prompt_tokens_details")
            .and_then(|d| u64_at(d, "cached_tokens")),
    }
}

fn choices(response: &Value) -> Result<&Vec<Value>, ProtocolError> {
    response
        .get("choices")
        .and_then(Value::as_array)
        .ok_or_else(|| ProtocolError::Malformed("response has no `choices` array".into()))
}

fn tool_calls(message: &Value) -> impl Iterator<Item = &Value> {
    message
        .get("tool_calls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

/// The deprecated single `function_call` carries a call this crate does not judge: refuse it.
pub(crate) fn refuse_legacy_function_call(message: &Value) -> Result<(), ProtocolError> {
    match message.get("function_call") {
        None | Some(Value::Null) => Ok(()),
        Some(_) => Err(legacy_function_call_error()),
    }
}

/// The error for a deprecated `function_call`.
pub(crate) fn legacy_function_call_error() -> ProtocolError {
    ProtocolError::Unsupported("the deprecated `function_call` field; use `tools`".into())
}

fn call_of(tool_call: &Value, index: usize) -> Result<ProposedCall, ProtocolError> {
    let id = str_at(tool_call, "id").unwrap_or_default().to_owned();
    if let Some(custom) = tool_call.get("custom") {
        return Ok(ProposedCall {
            index,
            id,
            name: required_name(custom)?,
            arguments: Arguments::Json(custom.get("input").cloned().unwrap_or_default()),
        });
    }
    let function = tool_call
        .get("function")
        .ok_or_else(|| ProtocolError::Malformed("tool call has no `function`".into()))?;
    Ok(ProposedCall {
        index,
        id,
        name: required_name(function)?,
        arguments: Arguments::parse(str_at(function, "arguments").unwrap_or_default()),
    })
}

fn required_name(function: &Value) -> Result<String, ProtocolError> {
    str_at(function, "name")
        .map(str::to_owned)
        .ok_or_else(|| ProtocolError::Malformed("tool call has no string `name`".into()))
}

/// Sets a tool call's arguments: a JSON string for functions, the raw input for custom tools.
fn set_arguments(call: &mut Value, arguments: &Value) {
    if let Some(custom) = call.get_mut("custom").and_then(Value::as_object_mut) {
        custom.insert("input".into(), custom_input(arguments).into());
    } else if let Some(function) = call.get_mut("function").and_then(Value::as_object_mut) {
        function.insert("arguments".into(), arguments.to_string().into());
    }
}

/// A custom tool's input is free text: a JSON string is used as is, anything else as JSON text.
pub(crate) fn custom_input(arguments: &Value) -> String {
    match arguments {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// Appends a blocked call's text to a message's content (a string, null, or an array of parts).
fn append_text(content: &mut Value, text: &str) {
    match content {
        Value::String(existing) if !existing.is_empty() => {
            existing.push_str(TEXT_SEPARATOR);
            existing.push_str(text);
        }
        Value::Array(parts) => parts.push(json!({"type": "text", "text": text})),
        other => *other = Value::String(text.to_owned()),
    }
}
