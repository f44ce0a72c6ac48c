//! OpenAI Chat Completions (`POST /v1/chat/completions`): request reading and response rendering.
//!
//! Owns the `chat.completion` object and the `chat.completion.chunk` stream: a first chunk with
//! the assistant role, content deltas, tool-call headers followed by argument fragments, a final
//! chunk with the finish reason, the optional usage chunk (`stream_options.include_usage`) and
//! `data: [DONE]`. Must not depend on HTTP; the server module does the I/O.

use bytes::Bytes;
use serde::Serialize;
use serde_json::Value;

use crate::api_error::ApiError;
use crate::request::{
    Request, flag, required_array, required_str, role, text_chars, text_of, token_limit,
};
use crate::script::{Finish, Prompt};
use crate::sse;
use crate::turn::{Turn, chunks};

const FINGERPRINT: &str = "fp_mock";

/// Reads the fields the mock needs from a Chat Completions request.
pub(crate) fn parse(body: &Value) -> Result<Request, ApiError> {
    let model = required_str(body, "model")?;
    let messages = required_array(body, "messages")?;
    let last_user = messages.iter().rev().find(|m| role(m) == Some("user"));
    let include_usage = match body.get("stream_options") {
        Some(options) => flag(options, "include_usage")?,
        None => false,
    };
    Ok(Request {
        prompt: Prompt {
            model: model.to_owned(),
            last_user_text: text_of(last_user.and_then(|m| m.get("content"))),
            after_tool_result: messages.last().and_then(role) == Some("tool"),
            chars: text_chars(body.get("messages")),
            max_tokens: match token_limit(body, "max_completion_tokens")? {
                Some(limit) => Some(limit),
                None => token_limit(body, "max_tokens")?,
            },
        },
        stream: flag(body, "stream")?,
        include_usage,
    })
}

#[derive(Serialize)]
struct Usage {
    prompt_tokens: u64,
    completion_tokens: u64,
    total_tokens: u64,
    prompt_tokens_details: PromptDetails,
    completion_tokens_details: CompletionDetails,
}

#[derive(Serialize)]
struct PromptDetails {
    cached_tokens: u64,
    audio_tokens: u64,
}

#[derive(Serialize)]
struct CompletionDetails {
    reasoning_tokens: u64,
    audio_tokens: u64,
    accepted_prediction_tokens: u64,
    rejected_prediction_tokens: u64,
}

#[derive(Serialize)]
struct Completion<'a> {
    id: String,
    object: &'static str,
    created: u64,
    model: &'a str,
    choices: [Choice<'a>; 1],
    usage: Usage,
    service_tier: &'static str,
    system_fingerprint: &'static str,
}

#[derive(Serialize)]
struct Choice<'a> {
    index: u32,
    message: Message<'a>,
    logprobs: Option<()>,
    finish_reason: &'static str,
}

#[derive(Serialize)]
struct Message<'a> {
    role: &'static str,
    content: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_calls: Vec<ToolCall<'a>>,
    refusal: Option<()>,
    annotations: [(); 0],
}

#[derive(Serialize)]
struct ToolCall<'a> {
    id: String,
    #[serde(rename = "type")]
    kind: &'static str,
    function: Function<'a>,
}

#[derive(Serialize)]
struct Function<'a> {
    name: &'a str,
    arguments: &'a str,
}

#[derive(Serialize)]
struct Chunk<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    service_tier: &'static str,
    system_fingerprint: &'static str,
    choices: Vec<ChunkChoice<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<Option<Usage>>,
}

#[derive(Serialize)]
struct ChunkChoice<'a> {
    index: u32,
    delta: Delta<'a>,
    logprobs: Option<()>,
    finish_reason: Option<&'static str>,
}

#[derive(Serialize, Default)]
struct Delta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<Option<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_calls: Option<[ToolCallDelta<'a>; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refusal: Option<Option<()>>,
}

#[derive(Serialize)]
struct ToolCallDelta<'a> {
    index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    function: FunctionDelta<'a>,
}

#[derive(Serialize)]
struct FunctionDelta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    arguments: &'a str,
}

fn finish_reason(finish: Finish) -> &'static str {
    match finish {
        Finish::Stop => "stop",
        Finish::ToolCalls => "tool_calls",
        Finish::Length => "length",
    }
}

fn usage(turn: &Turn<'_>) -> Usage {
    Usage {
        prompt_tokens: turn.usage.input_tokens,
        completion_tokens: turn.usage.output_tokens,
        total_tokens: turn.total_tokens(),
        prompt_tokens_details: PromptDetails {
            cached_tokens: 0,
            audio_tokens: 0,
        },
        completion_tokens_details: CompletionDetails {
            reasoning_tokens: 0,
            audio_tokens: 0,
            accepted_prediction_tokens: 0,
            rejected_prediction_tokens: 0,
        },
    }
}

/// The non-streaming `chat.completion` body.
pub(crate) fn render_json(turn: &Turn<'_>) -> Result<Vec<u8>, serde_json::Error> {
    let tool_calls = turn
        .calls
        .iter()
        .enumerate()
        .map(|(i, call)| ToolCall {
            id: turn.part_id("call_", i),
            kind: "function",
            function: Function {
                name: &call.name,
                arguments: &call.arguments,
            },
        })
        .collect();
    serde_json::to_vec(&Completion {
        id: turn.id("chatcmpl-"),
        object: "chat.completion",
        created: turn.created,
        model: turn.model,
        choices: [Choice {
            index: 0,
            message: Message {
                role: "assistant",
                content: turn.text,
                tool_calls,
                refusal: None,
                annotations: [],
            },
            logprobs: None,
            finish_reason: finish_reason(turn.finish),
        }],
        usage: usage(turn),
        service_tier: "default",
        system_fingerprint: FINGERPRINT,
    })
}

/// Builds the chunks of one stream, all sharing id, timestamp and model.
struct ChunkWriter<'a> {
    id: String,
    turn: &'a Turn<'a>,
    include_usage: bool,
    frames: Vec<Bytes>,
}

impl<'a> ChunkWriter<'a> {
    fn push(&mut self, delta: Delta<'_>, finish: Option<Finish>) -> Result<(), serde_json::Error> {
        let chunk = Chunk {
            id: &self.id,
            object: "chat.completion.chunk",
            created: self.turn.created,
            model: self.turn.model,
            service_tier: "default",
            system_fingerprint: FINGERPRINT,
            choices: vec![ChunkChoice {
                index: 0,
                delta,
                logprobs: None,
                finish_reason: finish.map(finish_reason),
            }],
            usage: self.include_usage.then_some(None),
        };
        self.frames.push(sse::data(&chunk)?);
        Ok(())
    }

    fn push_usage(&mut self) -> Result<(), serde_json::Error> {
        let chunk = Chunk {
            id: &self.id,
            object: "chat.completion.chunk",
            created: self.turn.created,
            model: self.turn.model,
            service_tier: "default",
            system_fingerprint: FINGERPRINT,
            choices: Vec::new(),
            usage: Some(Some(usage(self.turn))),
        };
        self.frames.push(sse::data(&chunk)?);
        Ok(())
    }
}

/// The `chat.completion.chunk` stream. A truncated turn ends after its argument fragments.
pub(crate) fn render_stream(
    turn: &Turn<'_>,
    include_usage: bool,
) -> Result<Vec<Bytes>, serde_json::Error> {
    let mut w = ChunkWriter {
        id: turn.id("chatcmpl-"),
        turn,
        include_usage,
        frames: Vec::new(),
    };
    // With text, the role arrives with empty content; a tool-call-only turn carries the role on
    // its first tool-call header, with `content: null`, as the API does.
    let mut role_sent = false;
    if let Some(text) = turn.text {
        w.push(opening(Some(""), None), None)?;
        role_sent = true;
        for piece in chunks(text, turn.chunk_size) {
            w.push(
                Delta {
                    content: Some(Some(piece)),
                    ..Delta::default()
                },
                None,
            )?;
        }
    }
    for (i, call) in turn.calls.iter().enumerate() {
        let header = ToolCallDelta {
            index: i,
            id: Some(turn.part_id("call_", i)),
            kind: Some("function"),
            function: FunctionDelta {
                name: Some(&call.name),
                arguments: "",
            },
        };
        if role_sent {
            w.push(
                Delta {
                    tool_calls: Some([header]),
                    ..Delta::default()
                },
                None,
            )?;
        } else {
            w.push(opening(None, Some(header)), None)?;
            role_sent = true;
        }
        for piece in chunks(&call.arguments, turn.chunk_size) {
            let fragment = ToolCallDelta {
                index: i,
                id: None,
                kind: None,
                function: FunctionDelta {
                    name: None,
                    arguments: piece,
                },
            };
            w.push(
                Delta {
                    tool_calls: Some([fragment]),
                    ..Delta::default()
                },
                None,
            )?;
        }
    }
    if turn.truncated {
        return Ok(w.frames);
    }
    w.push(Delta::default(), Some(turn.finish))?;
    if include_usage {
        w.push_usage()?;
    }
    w.frames.push(Bytes::from_static(sse::DONE));
    Ok(w.frames)
}

fn opening<'a>(content: Option<&'a str>, call: Option<ToolCallDelta<'a>>) -> Delta<'a> {
    Delta {
        role: Some("assistant"),
        content: Some(content),
        tool_calls: call.map(|c| [c]),
        refusal: Some(None),
    }
}
