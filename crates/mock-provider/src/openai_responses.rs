//! OpenAI Responses (`POST /v1/responses`): request reading and response rendering.
//!
//! Owns the `response` object and its event stream: `response.created`, `response.in_progress`,
//! then per output item `response.output_item.added`, its content or argument events and
//! `response.output_item.done`, and finally `response.completed` (or `response.incomplete`), all
//! numbered by `sequence_number`. Must not depend on HTTP; the server module does the I/O.

use bytes::Bytes;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::api_error::ApiError;
use crate::request::{
    Request, flag, missing, required_str, role, text_chars, text_of, token_limit,
};
use crate::script::{Finish, Prompt};
use crate::turn::{Turn, sorted};

/// Reads the fields the mock needs from a Responses request.
pub(crate) fn parse(body: &Value) -> Result<Request, ApiError> {
    let model = required_str(body, "model")?;
    let (last_user_text, after_tool_result) = match body.get("input") {
        Some(Value::String(text)) => (text.clone(), false),
        Some(Value::Array(items)) => {
            let last_user = items.iter().rev().find(|i| role(i) == Some("user"));
            let ends_with_output = items
                .last()
                .and_then(|i| i.get("type"))
                .and_then(Value::as_str)
                == Some("function_call_output");
            (
                text_of(last_user.and_then(|i| i.get("content"))),
                ends_with_output,
            )
        }
        Some(_) => {
            return Err(ApiError::InvalidField {
                param: "input",
                message: "must be a string or an array of input items".to_owned(),
            });
        }
        None => return Err(missing("input")),
    };
    Ok(Request {
        prompt: Prompt {
            model: model.to_owned(),
            last_user_text,
            after_tool_result,
            chars: text_chars(body.get("input")) + text_chars(body.get("instructions")),
            max_tokens: token_limit(body, "max_output_tokens")?,
        },
        stream: flag(body, "stream")?,
        include_usage: false,
    })
}

/// Request fields the `response` object echoes back.
struct Echo {
    instructions: Value,
    max_output_tokens: Value,
    tools: Value,
}

impl Echo {
    fn from_body(body: &Value) -> Echo {
        let field = |name| body.get(name).map_or(Value::Null, sorted);
        let tools = match field("tools") {
            Value::Null => Value::Array(Vec::new()),
            tools => tools,
        };
        Echo {
            instructions: field("instructions"),
            max_output_tokens: field("max_output_tokens"),
            tools,
        }
    }
}

#[derive(Serialize)]
struct Usage {
    input_tokens: u64,
    input_tokens_details: InputDetails,
    output_tokens: u64,
    output_tokens_details: OutputDetails,
    total_tokens: u64,
}

#[derive(Serialize)]
struct InputDetails {
    cached_tokens: u64,
}

#[derive(Serialize)]
struct OutputDetails {
    reasoning_tokens: u64,
}

#[derive(Serialize)]
struct Incomplete {
    reason: &'static str,
}

#[derive(Serialize)]
struct Reasoning {
    effort: Option<()>,
    summary: Option<()>,
}

#[derive(Serialize)]
struct TextConfig {
    format: TextFormat,
}

#[derive(Serialize)]
struct TextFormat {
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(Serialize)]
struct ResponseObject<'a> {
    id: &'a str,
    object: &'static str,
    created_at: u64,
    status: &'static str,
    background: bool,
    error: Option<()>,
    incomplete_details: Option<Incomplete>,
    instructions: &'a Value,
    max_output_tokens: &'a Value,
    model: &'a str,
    output: &'a [OutputItem<'a>],
    parallel_tool_calls: bool,
    previous_response_id: Option<()>,
    reasoning: Reasoning,
    service_tier: &'static str,
    store: bool,
    temperature: f64,
    text: TextConfig,
    tool_choice: &'static str,
    tools: &'a Value,
    top_p: f64,
    truncation: &'static str,
    usage: Option<Usage>,
    user: Option<()>,
    metadata: Map<String, Value>,
}

#[derive(Serialize, Clone)]
#[serde(untagged)]
enum OutputItem<'a> {
    Message(MessageItem<'a>),
    Call(CallItem<'a>),
}

#[derive(Serialize, Clone)]
struct MessageItem<'a> {
    id: String,
    #[serde(rename = "type")]
    kind: &'static str,
    status: &'static str,
    content: Vec<TextPart<'a>>,
    role: &'static str,
}

#[derive(Serialize, Clone, Copy)]
struct TextPart<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    annotations: [(); 0],
    logprobs: [(); 0],
    text: &'a str,
}

#[derive(Serialize, Clone)]
struct CallItem<'a> {
    id: String,
    #[serde(rename = "type")]
    kind: &'static str,
    status: &'static str,
    arguments: &'a str,
    call_id: String,
    name: &'a str,
}

fn text_part(text: &str) -> TextPart<'_> {
    TextPart {
        kind: "output_text",
        annotations: [],
        logprobs: [],
        text,
    }
}

/// The finished output items of `turn`: a message when there is text, then one item per call.
fn finished_items<'a>(turn: &'a Turn<'a>) -> Vec<OutputItem<'a>> {
    let mut items = Vec::with_capacity(turn.calls.len() + 1);
    if let Some(text) = turn.text {
        items.push(OutputItem::Message(MessageItem {
            id: turn.part_id("msg_", 0),
            kind: "message",
            status: "completed",
            content: vec![text_part(text)],
            role: "assistant",
        }));
    }
    for (i, call) in turn.calls.iter().enumerate() {
        items.push(OutputItem::Call(CallItem {
            id: turn.part_id("fc_", i),
            kind: "function_call",
            status: if turn.truncated {
                "incomplete"
            } else {
                "completed"
            },
            arguments: &call.arguments,
            call_id: turn.part_id("call_", i),
            name: &call.name,
        }));
    }
    items
}

fn response<'a>(
    turn: &'a Turn<'a>,
    id: &'a str,
    echo: &'a Echo,
    output: &'a [OutputItem<'a>],
    done: bool,
) -> ResponseObject<'a> {
    let incomplete = done && turn.finish == Finish::Length;
    ResponseObject {
        id,
        object: "response",
        created_at: turn.created,
        status: match (done, incomplete) {
            (false, _) => "in_progress",
            (true, true) => "incomplete",
            (true, false) => "completed",
        },
        background: false,
        error: None,
        incomplete_details: incomplete.then_some(Incomplete {
            reason: "max_output_tokens",
        }),
        instructions: &echo.instructions,
        max_output_tokens: &echo.max_output_tokens,
        model: turn.model,
        output,
        parallel_tool_calls: true,
        previous_response_id: None,
        reasoning: Reasoning {
            effort: None,
            summary: None,
        },
        service_tier: "default",
        store: true,
        temperature: 1.0,
        text: TextConfig {
            format: TextFormat { kind: "text" },
        },
        tool_choice: "auto",
        tools: &echo.tools,
        top_p: 1.0,
        truncation: "disabled",
        usage: done.then(|| Usage {
            input_tokens: turn.usage.input_tokens,
            input_tokens_details: InputDetails { cached_tokens: 0 },
            output_tokens: turn.usage.output_tokens,
            output_tokens_details: OutputDetails {
                reasoning_tokens: 0,
            },
            total_tokens: turn.total_tokens(),
        }),
        user: None,
        metadata: Map::new(),
    }
}

/// The non-streaming `response` body.
pub(crate) fn render_json(turn: &Turn<'_>, body: &Value) -> Result<Vec<u8>, serde_json::Error> {
    let echo = Echo::from_body(body);
    let id = turn.id("resp_");
    let output = finished_items(turn);
    serde_json::to_vec(&response(turn, &id, &echo, &output, true))
}

mod events;

/// The event stream. A truncated turn ends after its argument deltas.
pub(crate) fn render_stream(
    turn: &Turn<'_>,
    body: &Value,
) -> Result<Vec<Bytes>, serde_json::Error> {
    let echo = Echo::from_body(body);
    let id = turn.id("resp_");
    let done_items = finished_items(turn);
    let mut w = events::EventWriter::default();
    w.lifecycle("response.created", &response(turn, &id, &echo, &[], false))?;
    w.lifecycle(
        "response.in_progress",
        &response(turn, &id, &echo, &[], false),
    )?;
    for (index, item) in done_items.iter().enumerate() {
        match item {
            OutputItem::Message(message) => w.message(index, message, turn.chunk_size)?,
            OutputItem::Call(call) => {
                w.call_arguments(index, call, turn.chunk_size)?;
                if turn.truncated {
                    return Ok(w.into_frames());
                }
                w.call_done(index, call)?;
            }
        }
    }
    let last = if turn.finish == Finish::Length {
        "response.incomplete"
    } else {
        "response.completed"
    };
    w.lifecycle(last, &response(turn, &id, &echo, &done_items, true))?;
    Ok(w.into_frames())
}
