//! OpenAI Responses: tool calls in a complete response (`output[]` items the agent executes:
//! `function_call`, `custom_tool_call`, `local_shell_call`, `shell_call`, `computer_call`,
//! `apply_patch_call`), applying verdicts to them, and usage. A blocked call's item is replaced
//! by an assistant `message` item carrying the text, so `output` positions never shift. The
//! streaming machine is in [`stream`].
//!
//! Owns the Responses wire format only; must not do I/O or judge anything.

pub(crate) mod stream;

use crate::call::Outcome;
use crate::json::{str_at, u64_at};
use crate::{Arguments, ProposedCall, ProtocolError, Usage};
use serde_json::{Value, json};

/// Output item types that the agent, not the provider, executes.
const CLIENT_CALL_TYPES: [&str; 6] = [
    "function_call",
    "custom_tool_call",
    "local_shell_call",
    "shell_call",
    "computer_call",
    "apply_patch_call",
];

/// Every client-executed call in `output[]`, in order.
pub(crate) fn proposed_calls(response: &Value) -> Result<Vec<ProposedCall>, ProtocolError> {
    let output = response
        .get("output")
        .and_then(Value::as_array)
        .ok_or_else(|| ProtocolError::Malformed("response has no `output` array".into()))?;
    let mut calls = Vec::new();
    for item in output.iter().filter(|i| is_client_call(i)) {
        calls.push(call_of(item, calls.len())?);
    }
    Ok(calls)
}

/// Applies one outcome per client-executed call item, in order.
pub(crate) fn apply(response: &mut Value, outcomes: Vec<Outcome>) -> Result<(), ProtocolError> {
    let mut outcomes = outcomes.into_iter();
    let output = response
        .get_mut("output")
        .and_then(Value::as_array_mut)
        .ok_or_else(|| ProtocolError::Malformed("response has no `output` array".into()))?;
    for item in output.iter_mut().filter(|i| is_client_call(i)) {
        match outcomes.next() {
            Some(Outcome::Unchanged) | None => {}
            Some(Outcome::Rewritten(arguments)) => *item = rewritten_item(item, &arguments),
            Some(Outcome::Blocked(text)) => *item = message_item(&message_id(item), &text),
        }
    }
    Ok(())
}

/// Usage of a complete response.
pub(crate) fn usage(response: &Value) -> Usage {
    let usage = response.get("usage").unwrap_or(&Value::Null);
    Usage {
        input_tokens: u64_at(usage, "input_tokens"),
        output_tokens: u64_at(usage, "output_tokens"),
        cached_input_tokens: usage
            .get("input_tokens_details")
            .and_then(|d| u64_at(d, "cached_tokens")),
    }
}

/// Whether an output item is a call the agent executes.
pub(crate) fn is_client_call(item: &Value) -> bool {
    str_at(item, "type").is_some_and(|t| CLIENT_CALL_TYPES.contains(&t))
}

/// The proposed call an output item carries.
pub(crate) fn call_of(item: &Value, index: usize) -> Result<ProposedCall, ProtocolError> {
    let kind = str_at(item, "type").unwrap_or_default();
    let id = str_at(item, "call_id")
        .or_else(|| str_at(item, "id"))
        .unwrap_or_default()
        .to_owned();
    let (name, arguments) = match kind {
        "function_call" => (
            required_name(item)?,
            Arguments::parse(str_at(item, "arguments").unwrap_or_default()),
        ),
        "custom_tool_call" => (
            required_name(item)?,
            Arguments::Json(item.get("input").cloned().unwrap_or_default()),
        ),
        other => (
            other.strip_suffix("_call").unwrap_or(other).to_owned(),
            Arguments::Json(argument_field(item).cloned().unwrap_or_default()),
        ),
    };
    Ok(ProposedCall {
        index,
        id,
        name,
        arguments,
    })
}

fn required_name(item: &Value) -> Result<String, ProtocolError> {
    str_at(item, "name")
        .map(str::to_owned)
        .ok_or_else(|| ProtocolError::Malformed("call item has no string `name`".into()))
}

/// The structured argument of built-in client tools (`action`, or `operation` for patches).
fn argument_field(item: &Value) -> Option<&Value> {
    item.get("action").or_else(|| item.get("operation"))
}

/// `item` with its arguments replaced by `arguments`.
pub(crate) fn rewritten_item(item: &Value, arguments: &Value) -> Value {
    let mut item = item.clone();
    let key = match str_at(&item, "type") {
        Some("function_call") => "arguments",
        Some("custom_tool_call") => "input",
        Some("apply_patch_call") => "operation",
        _ => "action",
    };
    let value = match key {
        "arguments" => Value::String(arguments.to_string()),
        "input" => Value::String(crate::openai_chat::custom_input(arguments)),
        _ => arguments.clone(),
    };
    if let Some(fields) = item.as_object_mut() {
        fields.insert(key.into(), value);
    }
    item
}

/// The id of the message item that replaces a blocked call item.
pub(crate) fn message_id(item: &Value) -> String {
    format!("msg_warden_{}", str_at(item, "id").unwrap_or("call"))
}

/// A completed assistant message item carrying `text`.
pub(crate) fn message_item(id: &str, text: &str) -> Value {
    json!({"id": id, "type": "message", "status": "completed", "role": "assistant",
        "content": [text_part(text)]})
}

/// An `output_text` content part.
pub(crate) fn text_part(text: &str) -> Value {
    json!({"type": "output_text", "annotations": [], "logprobs": [], "text": text})
}
