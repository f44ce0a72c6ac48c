//! Ending a stream early, cleanly, on the caller's word: an [`OutputMeter`] sees the output text
//! of every event before it is handled, and when it refuses one the stream is closed the way the
//! provider closes a response that ran out of tokens (`finish_reason: "length"` and `[DONE]`;
//! `content_block_stop`, `message_delta` with `stop_reason: "max_tokens"` and `message_stop`;
//! `response.incomplete` with reason `max_output_tokens`), so SDKs finish normally.
//!
//! Owns what a cut needs to remember about the stream so far ([`Terminus`]), the extraction of
//! output text and usage from events; must not count tokens (the meter does) or do I/O.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::json::{str_at, u64_at, write_event};
use crate::{Api, Usage};

/// Decides whether more output may reach the agent (a budget's meter).
pub trait OutputMeter: Send + Sync {
    /// Accounts for output `text` about to be handled; `false` when it would exceed the
    /// allowance, and the stream is then ended before it.
    fn admit(&mut self, text: &str) -> bool;
    /// Output tokens admitted so far.
    fn admitted_tokens(&self) -> u64;
}

/// What closing the stream early needs to know about what was already sent.
#[derive(Debug, Default)]
pub(crate) struct Terminus {
    /// Chat: the first chunk's fields other than `choices` and `usage`.
    chat_envelope: Option<Value>,
    /// Chat: choice indexes seen.
    chat_choices: BTreeSet<u64>,
    /// Anthropic: the index of a text or thinking block started and not yet stopped.
    open_block: Option<u64>,
    /// Responses: the response object of `response.created`.
    response: Option<Value>,
}

impl Terminus {
    /// Notes an event about to be handled.
    pub(crate) fn observe(&mut self, api: Api, value: &Value) {
        match api {
            Api::OpenAiChat => {
                if self.chat_envelope.is_none()
                    && let Some(fields) = value.as_object()
                {
                    let envelope: serde_json::Map<String, Value> = fields
                        .iter()
                        .filter(|(k, _)| *k != "choices" && *k != "usage")
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    self.chat_envelope = Some(Value::Object(envelope));
                }
                for choice in value
                    .get("choices")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    self.chat_choices
                        .insert(u64_at(choice, "index").unwrap_or(0));
                }
            }
            Api::Anthropic => match str_at(value, "type") {
                Some("content_block_start") => {
                    let kind = value.get("content_block").and_then(|b| str_at(b, "type"));
                    if matches!(kind, Some("text" | "thinking" | "redacted_thinking")) {
                        self.open_block = u64_at(value, "index");
                    }
                }
                Some("content_block_stop") if u64_at(value, "index") == self.open_block => {
                    self.open_block = None;
                }
                _ => {}
            },
            Api::OpenAiResponses => {
                if str_at(value, "type") == Some("response.created") {
                    self.response = value.get("response").cloned();
                }
            }
        }
    }

    /// The events that end the stream as if the model had run out of output tokens.
    pub(crate) fn close(&self, api: Api, output_tokens: u64, sequence: Option<u64>) -> Vec<u8> {
        let mut out = Vec::new();
        match api {
            Api::OpenAiChat => {
                let mut chunk = self
                    .chat_envelope
                    .clone()
                    .unwrap_or_else(|| json!({"object": "chat.completion.chunk"}));
                let choices: Vec<Value> = if self.chat_choices.is_empty() {
                    vec![0]
                } else {
                    self.chat_choices.iter().copied().collect()
                }
                .into_iter()
                .map(|index| {
                    json!({"index": index, "delta": {}, "logprobs": null, "finish_reason": "length"})
                })
                .collect();
                if let Some(fields) = chunk.as_object_mut() {
                    fields.insert("choices".into(), Value::Array(choices));
                }
                write_event(&mut out, None, &chunk);
                out.extend_from_slice(b"data: [DONE]\n\n");
            }
            Api::Anthropic => {
                if let Some(index) = self.open_block {
                    write_event(
                        &mut out,
                        Some("content_block_stop"),
                        &json!({"type": "content_block_stop", "index": index}),
                    );
                }
                write_event(
                    &mut out,
                    Some("message_delta"),
                    &json!({"type": "message_delta",
                        "delta": {"stop_reason": "max_tokens", "stop_sequence": null},
                        "usage": {"output_tokens": output_tokens}}),
                );
                write_event(
                    &mut out,
                    Some("message_stop"),
                    &json!({"type": "message_stop"}),
                );
            }
            Api::OpenAiResponses => {
                let mut response = self.response.clone().unwrap_or_else(|| json!({}));
                if let Some(fields) = response.as_object_mut() {
                    fields.insert("status".into(), "incomplete".into());
                    fields.insert(
                        "incomplete_details".into(),
                        json!({"reason": "max_output_tokens"}),
                    );
                }
                let mut event = json!({"type": "response.incomplete", "response": response});
                if let (Some(n), Some(fields)) = (sequence, event.as_object_mut()) {
                    fields.insert("sequence_number".into(), n.into());
                }
                write_event(&mut out, Some("response.incomplete"), &event);
            }
        }
        out
    }
}

/// Appends the output text an event carries (text, reasoning, tool-call arguments) to `into`.
pub(crate) fn output_text(api: Api, value: &Value, into: &mut String) {
    let mut push = |v: Option<&Value>| {
        if let Some(s) = v.and_then(Value::as_str) {
            into.push_str(s);
        }
    };
    match api {
        Api::OpenAiChat => {
            for choice in value
                .get("choices")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let Some(delta) = choice.get("delta") else {
                    continue;
                };
                for key in ["content", "reasoning_content", "reasoning", "refusal"] {
                    push(delta.get(key));
                }
                for call in delta
                    .get("tool_calls")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    push(call.get("function").and_then(|f| f.get("arguments")));
                    push(call.get("custom").and_then(|f| f.get("input")));
                }
                push(delta.get("function_call").and_then(|f| f.get("arguments")));
            }
        }
        Api::Anthropic => {
            if str_at(value, "type") == Some("content_block_delta") {
                let delta = value.get("delta");
                for key in ["text", "partial_json", "thinking"] {
                    push(delta.and_then(|d| d.get(key)));
                }
            }
        }
        Api::OpenAiResponses => {
            if str_at(value, "type").is_some_and(|t| t.ends_with(".delta")) {
                push(value.get("delta"));
            }
        }
    }
}

/// Usage figures an event reports, merged over `usage` (fields it reports replace).
pub(crate) fn merge_event_usage(api: Api, value: &Value, usage: &mut Usage) {
    let found = match api {
        Api::OpenAiChat => crate::openai_chat::usage(value),
        Api::Anthropic => match str_at(value, "type") {
            Some("message_start") => value
                .get("message")
                .and_then(|m| m.get("usage"))
                .map(crate::anthropic::usage_fields)
                .unwrap_or_default(),
            Some("message_delta") => {
                crate::anthropic::usage_fields(value.get("usage").unwrap_or(&Value::Null))
            }
            _ => Usage::default(),
        },
        Api::OpenAiResponses => value
            .get("response")
            .map(crate::openai_responses::usage)
            .unwrap_or_default(),
    };
    // A message_delta without input figures keeps those of message_start.
    usage.input_tokens = found.input_tokens.or(usage.input_tokens);
    usage.output_tokens = found.output_tokens.or(usage.output_tokens);
    usage.cached_input_tokens = found.cached_input_tokens.or(usage.cached_input_tokens);
}
