//! Request side: what Warden needs from an agent's request body for policy facts, secret
//! scanning and budgets, and the two edits the gateway makes before forwarding (clamping the
//! output-token limit, asking a chat stream for usage). Must not do I/O or judge anything.

use crate::json::{collect_text, push_line, str_at, u64_at};
use crate::{Api, Arguments, ProtocolError};
use serde_json::{Value, json};

/// A tool the agent offers the model.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolDefinition {
    /// The tool's name (for provider built-in tools without one, their `type`).
    pub name: String,
    /// The definition exactly as the agent sent it, for pinning.
    pub definition: Value,
}

/// An earlier tool call or tool result in the conversation.
#[derive(Debug, Clone, PartialEq)]
pub enum HistoryItem {
    /// A call the model made earlier.
    Call {
        /// The call id.
        id: String,
        /// The tool's name.
        name: String,
        /// Its arguments.
        arguments: Arguments,
    },
    /// The result the agent sent back for a call.
    Result {
        /// The id of the call it answers.
        id: String,
        /// The result's text.
        text: String,
    },
}

/// What Warden needs from a request body.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestSummary {
    /// The requested model.
    pub model: String,
    /// Whether the agent asked for a stream.
    pub stream: bool,
    /// The output-token limit the agent set, if any.
    pub max_tokens: Option<u64>,
    /// The tools offered, in order.
    pub tools: Vec<ToolDefinition>,
    /// Earlier tool calls and results, in conversation order.
    pub history: Vec<HistoryItem>,
    /// All text of the request (instructions, system, user, assistant and tool messages), one
    /// piece per line, for secret scanning.
    pub prompt_text: String,
    /// Whether the agent will receive usage in a stream (always for Anthropic and Responses;
    /// for OpenAI Chat only with `stream_options.include_usage`).
    pub include_usage: bool,
}

/// Summarizes a request body of `api`.
///
/// # Errors
/// [`ProtocolError::Malformed`] when the body is not an object, has no string `model`, or lacks
/// the message list its API requires.
pub fn summarize_request(api: Api, body: &Value) -> Result<RequestSummary, ProtocolError> {
    if !body.is_object() {
        return Err(ProtocolError::Malformed(
            "request body is not a JSON object".into(),
        ));
    }
    let model = str_at(body, "model")
        .ok_or_else(|| ProtocolError::Malformed("request has no string `model`".into()))?
        .to_owned();
    let mut summary = RequestSummary {
        model,
        stream: body.get("stream").and_then(Value::as_bool).unwrap_or(false),
        max_tokens: None,
        tools: tools(body),
        history: Vec::new(),
        prompt_text: String::new(),
        include_usage: true,
    };
    match api {
        Api::OpenAiChat => chat(body, &mut summary)?,
        Api::OpenAiResponses => responses(body, &mut summary)?,
        Api::Anthropic => anthropic(body, &mut summary)?,
    }
    Ok(summary)
}

/// Lowers the request's output-token limit to `limit` (setting it when absent). Returns the
/// limit now in force.
///
/// # Errors
/// [`ProtocolError::Malformed`] when the body is not a JSON object.
pub fn clamp_max_tokens(api: Api, body: &mut Value, limit: u64) -> Result<u64, ProtocolError> {
    let fields = body
        .as_object_mut()
        .ok_or_else(|| ProtocolError::Malformed("request body is not a JSON object".into()))?;
    let key = match api {
        Api::OpenAiChat
            if fields.contains_key("max_tokens")
                && !fields.contains_key("max_completion_tokens") =>
        {
            "max_tokens"
        }
        Api::OpenAiChat => "max_completion_tokens",
        Api::OpenAiResponses => "max_output_tokens",
        Api::Anthropic => "max_tokens",
    };
    let current = fields.get(key).and_then(Value::as_u64);
    let effective = current.map_or(limit, |c| c.min(limit));
    fields.insert(key.into(), effective.into());
    Ok(effective)
}

/// For an OpenAI Chat stream, asks upstream for the final usage chunk
/// (`stream_options.include_usage`). Returns whether the agent had asked for it itself, i.e.
/// whether the usage chunk should reach the agent. Other APIs always report usage: `true`.
///
/// # Errors
/// [`ProtocolError::Malformed`] when the body or its `stream_options` is not a JSON object.
pub fn request_stream_usage(api: Api, body: &mut Value) -> Result<bool, ProtocolError> {
    if api != Api::OpenAiChat {
        return Ok(true);
    }
    let fields = body
        .as_object_mut()
        .ok_or_else(|| ProtocolError::Malformed("request body is not a JSON object".into()))?;
    let options = fields.entry("stream_options").or_insert_with(|| json!({}));
    if options.is_null() {
        *options = json!({});
    }
    let options = options
        .as_object_mut()
        .ok_or_else(|| ProtocolError::Malformed("`stream_options` is not an object".into()))?;
    let asked = options
        .get("include_usage")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    options.insert("include_usage".into(), true.into());
    Ok(asked)
}

fn tools(body: &Value) -> Vec<ToolDefinition> {
    let offered = body
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    let legacy = body
        .get("functions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    offered
        .chain(legacy)
        .map(|tool| ToolDefinition {
            name: tool_name(tool),
            definition: tool.clone(),
        })
        .collect()
}

/// A tool's name, wherever its API puts it.
fn tool_name(tool: &Value) -> String {
    str_at(tool, "name")
        .or_else(|| tool.get("function").and_then(|f| str_at(f, "name")))
        .or_else(|| tool.get("custom").and_then(|c| str_at(c, "name")))
        .or_else(|| str_at(tool, "type"))
        .unwrap_or_default()
        .to_owned()
}

fn messages<'a>(body: &'a Value, key: &str) -> Result<&'a Vec<Value>, ProtocolError> {
    body.get(key)
        .and_then(Value::as_array)
        .ok_or_else(|| ProtocolError::Malformed(format!("request has no `{key}` array")))
}

fn chat(body: &Value, summary: &mut RequestSummary) -> Result<(), ProtocolError> {
    summary.max_tokens =
        u64_at(body, "max_completion_tokens").or_else(|| u64_at(body, "max_tokens"));
    summary.include_usage = body
        .get("stream_options")
        .and_then(|o| o.get("include_usage"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    for message in messages(body, "messages")? {
        let mut text = String::new();
        collect_text(message.get("content").unwrap_or(&Value::Null), &mut text);
        if str_at(message, "role") == Some("tool") {
            summary.history.push(HistoryItem::Result {
                id: str_at(message, "tool_call_id")
                    .unwrap_or_default()
                    .to_owned(),
                text: text.clone(),
            });
        }
        push_line(&mut summary.prompt_text, &text);
        for call in message
            .get("tool_calls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let function = call
                .get("function")
                .or_else(|| call.get("custom"))
                .unwrap_or(&Value::Null);
            let arguments = match function.get("input") {
                Some(input) => Arguments::Json(input.clone()),
                None => Arguments::parse(str_at(function, "arguments").unwrap_or_default()),
            };
            summary.history.push(HistoryItem::Call {
                id: str_at(call, "id").unwrap_or_default().to_owned(),
                name: str_at(function, "name").unwrap_or_default().to_owned(),
                arguments,
            });
        }
    }
    Ok(())
}

fn anthropic(body: &Value, summary: &mut RequestSummary) -> Result<(), ProtocolError> {
    summary.max_tokens = u64_at(body, "max_tokens");
    collect_text(
        body.get("system").unwrap_or(&Value::Null),
        &mut summary.prompt_text,
    );
    for message in messages(body, "messages")? {
        let content = message.get("content").unwrap_or(&Value::Null);
        let Some(blocks) = content.as_array() else {
            collect_text(content, &mut summary.prompt_text);
            continue;
        };
        for block in blocks {
            match str_at(block, "type") {
                Some("tool_use") => summary.history.push(HistoryItem::Call {
                    id: str_at(block, "id").unwrap_or_default().to_owned(),
                    name: str_at(block, "name").unwrap_or_default().to_owned(),
                    arguments: Arguments::Json(block.get("input").cloned().unwrap_or_default()),
                }),
                Some("tool_result") => {
                    let mut text = String::new();
                    collect_text(block.get("content").unwrap_or(&Value::Null), &mut text);
                    push_line(&mut summary.prompt_text, &text);
                    summary.history.push(HistoryItem::Result {
                        id: str_at(block, "tool_use_id").unwrap_or_default().to_owned(),
                        text,
                    });
                }
                _ => collect_text(&Value::Array(vec![block.clone()]), &mut summary.prompt_text),
            }
        }
    }
    Ok(())
}

fn responses(body: &Value, summary: &mut RequestSummary) -> Result<(), ProtocolError> {
    summary.max_tokens = u64_at(body, "max_output_tokens");
    collect_text(
        body.get("instructions").unwrap_or(&Value::Null),
        &mut summary.prompt_text,
    );
    let input = body
        .get("input")
        .ok_or_else(|| ProtocolError::Malformed("request has no `input`".into()))?;
    let Some(items) = input.as_array() else {
        collect_text(input, &mut summary.prompt_text);
        return Ok(());
    };
    for item in items {
        let id = str_at(item, "call_id").unwrap_or_default().to_owned();
        match str_at(item, "type") {
            Some("function_call") => summary.history.push(HistoryItem::Call {
                id,
                name: str_at(item, "name").unwrap_or_default().to_owned(),
                arguments: Arguments::parse(str_at(item, "arguments").unwrap_or_default()),
            }),
            Some("custom_tool_call") => summary.history.push(HistoryItem::Call {
                id,
                name: str_at(item, "name").unwrap_or_default().to_owned(),
                arguments: Arguments::Json(item.get("input").cloned().unwrap_or_default()),
            }),
            Some(kind) if kind.ends_with("_call_output") => {
                let mut text = String::new();
                collect_text(item.get("output").unwrap_or(&Value::Null), &mut text);
                push_line(&mut summary.prompt_text, &text);
                summary.history.push(HistoryItem::Result { id, text });
            }
            _ => collect_text(
                item.get("content").unwrap_or(&Value::Null),
                &mut summary.prompt_text,
            ),
        }
    }
    Ok(())
}
