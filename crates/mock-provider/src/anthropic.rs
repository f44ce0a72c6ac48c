//! Anthropic Messages (`POST /v1/messages`): request reading and response rendering.
//!
//! Owns the `message` object and its event stream: `message_start`, then per content block
//! `content_block_start`, `content_block_delta` (`text_delta` or `input_json_delta`) and
//! `content_block_stop` with the block's `index`, a `ping` after the first block opens,
//! `message_delta` with the stop reason and output usage, and `message_stop`. Must not depend on
//! HTTP; the server module does the I/O.

use bytes::Bytes;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::api_error::ApiError;
use crate::request::{
    Request, flag, missing, required_array, required_str, role, text_chars, text_of, token_limit,
};
use crate::script::{Finish, Prompt};
use crate::sse;
use crate::turn::{Turn, chunks};

/// Reads the fields the mock needs from a Messages request.
pub(crate) fn parse(body: &Value) -> Result<Request, ApiError> {
    let model = required_str(body, "model")?;
    let max_tokens = token_limit(body, "max_tokens")?.ok_or_else(|| missing("max_tokens"))?;
    let messages = required_array(body, "messages")?;
    let last_user = messages.iter().rev().find(|m| role(m) == Some("user"));
    let after_tool_result = messages.last().is_some_and(|m| {
        role(m) == Some("user")
            && m.get("content")
                .and_then(Value::as_array)
                .is_some_and(|blocks| {
                    blocks
                        .iter()
                        .any(|b| b.get("type").and_then(Value::as_str) == Some("tool_result"))
                })
    });
    Ok(Request {
        prompt: Prompt {
            model: model.to_owned(),
            last_user_text: text_of(last_user.and_then(|m| m.get("content"))),
            after_tool_result,
            chars: text_chars(body.get("messages")) + text_chars(body.get("system")),
            max_tokens: Some(max_tokens),
        },
        stream: flag(body, "stream")?,
        include_usage: false,
    })
}

#[derive(Serialize)]
struct Usage {
    input_tokens: u64,
    cache_creation_input_tokens: u64,
    cache_read_input_tokens: u64,
    output_tokens: u64,
}

#[derive(Serialize)]
struct MessageObject<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    role: &'static str,
    model: &'a str,
    content: Vec<Block<'a>>,
    stop_reason: Option<&'static str>,
    stop_sequence: Option<()>,
    usage: Usage,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Block<'a> {
    Text(TextBlock<'a>),
    ToolUse(ToolUseBlock<'a>),
}

#[derive(Serialize)]
struct TextBlock<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    text: &'a str,
}

#[derive(Serialize)]
struct ToolUseBlock<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: String,
    name: &'a str,
    input: &'a Value,
}

#[derive(Serialize)]
struct Typed {
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(Serialize)]
struct MessageStart<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    message: MessageObject<'a>,
}

#[derive(Serialize)]
struct BlockStart<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    index: usize,
    content_block: Block<'a>,
}

#[derive(Serialize)]
struct BlockDelta<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    index: usize,
    delta: Delta<'a>,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Delta<'a> {
    TextDelta { text: &'a str },
    InputJsonDelta { partial_json: &'a str },
}

#[derive(Serialize)]
struct BlockStop {
    #[serde(rename = "type")]
    kind: &'static str,
    index: usize,
}

#[derive(Serialize)]
struct MessageDelta {
    #[serde(rename = "type")]
    kind: &'static str,
    delta: StopDelta,
    usage: OutputUsage,
}

#[derive(Serialize)]
struct StopDelta {
    stop_reason: &'static str,
    stop_sequence: Option<()>,
}

#[derive(Serialize)]
struct OutputUsage {
    output_tokens: u64,
}

fn stop_reason(finish: Finish) -> &'static str {
    match finish {
        Finish::Stop => "end_turn",
        Finish::ToolCalls => "tool_use",
        Finish::Length => "max_tokens",
    }
}

fn usage(input_tokens: u64, output_tokens: u64) -> Usage {
    Usage {
        input_tokens,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
        output_tokens,
    }
}

fn blocks<'a>(turn: &'a Turn<'a>) -> Vec<Block<'a>> {
    let mut out = Vec::with_capacity(turn.calls.len() + 1);
    if let Some(text) = turn.text {
        out.push(Block::Text(TextBlock { kind: "text", text }));
    }
    for (i, call) in turn.calls.iter().enumerate() {
        out.push(Block::ToolUse(ToolUseBlock {
            kind: "tool_use",
            id: turn.part_id("toolu_", i),
            name: &call.name,
            input: &call.input,
        }));
    }
    out
}

/// The non-streaming `message` body.
pub(crate) fn render_json(turn: &Turn<'_>) -> Result<Vec<u8>, serde_json::Error> {
    let id = turn.id("msg_");
    serde_json::to_vec(&MessageObject {
        id: &id,
        kind: "message",
        role: "assistant",
        model: turn.model,
        content: blocks(turn),
        stop_reason: Some(stop_reason(turn.finish)),
        stop_sequence: None,
        usage: usage(turn.usage.input_tokens, turn.usage.output_tokens),
    })
}

/// The event stream. A truncated turn ends after its `input_json_delta` fragments.
pub(crate) fn render_stream(turn: &Turn<'_>) -> Result<Vec<Bytes>, serde_json::Error> {
    let id = turn.id("msg_");
    let mut frames = Vec::new();
    let start = MessageStart {
        kind: "message_start",
        message: MessageObject {
            id: &id,
            kind: "message",
            role: "assistant",
            model: turn.model,
            content: Vec::new(),
            stop_reason: None,
            stop_sequence: None,
            usage: usage(turn.usage.input_tokens, 1),
        },
    };
    frames.push(sse::event("message_start", &start)?);
    let empty = Value::Object(Map::new());
    let mut index = 0;
    if let Some(text) = turn.text {
        let opened = Block::Text(TextBlock {
            kind: "text",
            text: "",
        });
        let deltas = chunks(text, turn.chunk_size)
            .into_iter()
            .map(|text| Delta::TextDelta { text });
        open_block(&mut frames, index, opened, deltas.collect())?;
        close_block(&mut frames, index)?;
        index += 1;
    }
    for (i, call) in turn.calls.iter().enumerate() {
        let opened = Block::ToolUse(ToolUseBlock {
            kind: "tool_use",
            id: turn.part_id("toolu_", i),
            name: &call.name,
            input: &empty,
        });
        // The API opens every tool_use block's input with an empty fragment.
        let deltas = std::iter::once("")
            .chain(chunks(&call.arguments, turn.chunk_size))
            .map(|partial_json| Delta::InputJsonDelta { partial_json });
        open_block(&mut frames, index, opened, deltas.collect())?;
        if turn.truncated {
            return Ok(frames);
        }
        close_block(&mut frames, index)?;
        index += 1;
    }
    let message_delta = MessageDelta {
        kind: "message_delta",
        delta: StopDelta {
            stop_reason: stop_reason(turn.finish),
            stop_sequence: None,
        },
        usage: OutputUsage {
            output_tokens: turn.usage.output_tokens,
        },
    };
    frames.push(sse::event("message_delta", &message_delta)?);
    frames.push(sse::event(
        "message_stop",
        &Typed {
            kind: "message_stop",
        },
    )?);
    Ok(frames)
}

/// A block's start event, the `ping` after the first block opens, and its deltas.
fn open_block(
    frames: &mut Vec<Bytes>,
    index: usize,
    opened: Block<'_>,
    deltas: Vec<Delta<'_>>,
) -> Result<(), serde_json::Error> {
    let start = BlockStart {
        kind: "content_block_start",
        index,
        content_block: opened,
    };
    frames.push(sse::event("content_block_start", &start)?);
    if index == 0 {
        frames.push(sse::event("ping", &Typed { kind: "ping" })?);
    }
    for delta in deltas {
        let event = BlockDelta {
            kind: "content_block_delta",
            index,
            delta,
        };
        frames.push(sse::event("content_block_delta", &event)?);
    }
    Ok(())
}

fn close_block(frames: &mut Vec<Bytes>, index: usize) -> Result<(), serde_json::Error> {
    frames.push(sse::event(
        "content_block_stop",
        &BlockStop {
            kind: "content_block_stop",
            index,
        },
    )?);
    Ok(())
}
