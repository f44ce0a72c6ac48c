//! Anthropic Messages streaming: holds each `tool_use` content block from `content_block_start`
//! through its `input_json_delta` fragments to `content_block_stop`, then releases it, rewrites
//! it or replaces it with a `text` block at the same `index`, so block indexes never shift.
//! Corrects `message_delta.delta.stop_reason` when no tool call was released.
//!
//! Owns the Messages event sequence only; must not do I/O or judge anything.

use super::{END_TURN, TOOL_USE, required_str};
use crate::call::Outcome;
use crate::head::{self, AnthropicHead};
use crate::json::{object_mut, parse_data, str_at, u64_at, write_event};
use crate::sse::SseEvent;
use crate::stream::EventMachine;
use crate::{Arguments, Limits, ProposedCall, ProtocolError, Usage, Verdict};
use serde_json::{Value, json};

/// A `tool_use` block being held.
#[derive(Debug)]
struct HeldBlock {
    index: u64,
    start: Value,
    input_json: String,
    events: Vec<Vec<u8>>,
}

/// The Messages stream machine.
#[derive(Debug)]
pub(crate) struct AnthropicStream {
    limits: Limits,
    open: Option<HeldBlock>,
    judging: Option<(HeldBlock, ProposedCall)>,
    calls_seen: usize,
    released: usize,
    usage: Usage,
    held_bytes: usize,
    upstream_error: bool,
    finished: bool,
}

impl AnthropicStream {
    pub(crate) fn new(limits: Limits) -> Self {
        AnthropicStream {
            limits,
            open: None,
            judging: None,
            calls_seen: 0,
            released: 0,
            usage: Usage::default(),
            held_bytes: 0,
            upstream_error: false,
            finished: false,
        }
    }

    fn hold(&mut self, raw: Vec<u8>) {
        self.held_bytes += raw.len();
        if let Some(block) = &mut self.open {
            block.events.push(raw);
        }
    }

    fn open_index(&self) -> Option<u64> {
        self.open.as_ref().map(|b| b.index)
    }

    fn start_block(&mut self, value: Value, raw: Vec<u8>) -> Result<(), ProtocolError> {
        if self.open.is_some() {
            return Err(ProtocolError::Malformed(
                "content block started inside an unfinished tool_use block".into(),
            ));
        }
        let index = u64_at(&value, "index")
            .ok_or_else(|| ProtocolError::Malformed("content_block_start has no index".into()))?;
        self.open = Some(HeldBlock {
            index,
            start: value,
            input_json: String::new(),
            events: Vec::new(),
        });
        self.hold(raw);
        Ok(())
    }

    fn add_fragment(&mut self, value: &Value, raw: Vec<u8>) -> Result<(), ProtocolError> {
        let delta = value.get("delta").unwrap_or(&Value::Null);
        if let (Some(block), Some("input_json_delta")) = (&mut self.open, str_at(delta, "type")) {
            block
                .input_json
                .push_str(str_at(delta, "partial_json").unwrap_or_default());
            if block.input_json.len() > self.limits.max_tool_args_bytes {
                return Err(ProtocolError::TooLarge {
                    what: "tool call arguments",
                    limit: self.limits.max_tool_args_bytes,
                });
            }
        }
        self.hold(raw);
        Ok(())
    }

    fn complete_block(&mut self, raw: Vec<u8>) -> Result<(), ProtocolError> {
        self.hold(raw);
        let Some(block) = self.open.take() else {
            return Ok(());
        };
        let content = block.start.get("content_block").unwrap_or(&Value::Null);
        let arguments = if block.input_json.trim().is_empty() {
            Arguments::Json(content.get("input").cloned().unwrap_or_else(|| json!({})))
        } else {
            Arguments::parse(&block.input_json)
        };
        let call = ProposedCall {
            index: self.calls_seen,
            id: required_str(content, "id")?,
            name: required_str(content, "name")?,
            arguments,
        };
        self.calls_seen += 1;
        self.judging = Some((block, call));
        Ok(())
    }

    fn message_delta(
        &mut self,
        mut value: Value,
        raw: Vec<u8>,
        out: &mut Vec<u8>,
    ) -> Result<(), ProtocolError> {
        if let Some(block) = self.open.take() {
            return Err(truncated(&block));
        }
        if let Some(tokens) = value.get("usage").and_then(|u| u64_at(u, "output_tokens")) {
            self.usage.output_tokens = Some(tokens);
        }
        if let Some(tokens) = value.get("usage").and_then(|u| u64_at(u, "input_tokens")) {
            self.usage.input_tokens = Some(tokens);
        }
        let delta = value.get("delta").unwrap_or(&Value::Null);
        if self.released == 0 && str_at(delta, "stop_reason") == Some(TOOL_USE) {
            if let Some(delta) = value.get_mut("delta") {
                object_mut(delta, "message_delta.delta")?
                    .insert("stop_reason".into(), END_TURN.into());
            }
            write_event(out, Some("message_delta"), &value);
        } else {
            out.extend_from_slice(&raw);
        }
        Ok(())
    }
}

fn truncated(block: &HeldBlock) -> ProtocolError {
    let id = block
        .start
        .get("content_block")
        .and_then(|c| str_at(c, "id"))
        .unwrap_or("(unknown)");
    ProtocolError::Truncated(format!("tool call {id}"))
}

impl EventMachine for AnthropicStream {
    fn on_event(&mut self, event: SseEvent, out: &mut Vec<u8>) -> Result<(), ProtocolError> {
        if event.comment_only {
            out.extend_from_slice(&event.raw);
            return Ok(());
        }
        let head: AnthropicHead<'_> = head::parse(&event.data)?;
        let kind = head.kind.as_deref().or(event.event.as_deref());
        let open = head.index.is_some() && head.index == self.open_index();
        let tool_start = head
            .content_block
            .as_ref()
            .is_some_and(|b| b.kind.as_deref() == Some(TOOL_USE));
        let passes = match kind {
            Some("content_block_start") => !tool_start,
            Some("content_block_delta" | "content_block_stop") => !open,
            Some("ping") => true,
            _ => false,
        };
        if passes {
            out.extend_from_slice(&event.raw);
            return Ok(());
        }
        let value = parse_data(&event.data)?;
        let kind = str_at(&value, "type")
            .or(event.event.as_deref())
            .unwrap_or_default();
        let index = u64_at(&value, "index");
        match kind {
            "content_block_start" => {
                let block = value.get("content_block").unwrap_or(&Value::Null);
                if str_at(block, "type") == Some(TOOL_USE) {
                    return self.start_block(value, event.raw);
                }
            }
            "content_block_delta" if index.is_some() && index == self.open_index() => {
                return self.add_fragment(&value, event.raw);
            }
            "content_block_stop" if index.is_some() && index == self.open_index() => {
                return self.complete_block(event.raw);
            }
            "message_start" => {
                let usage = value.get("message").and_then(|m| m.get("usage"));
                self.usage = usage.map(super::usage_fields).unwrap_or_default();
            }
            "message_delta" => return self.message_delta(value, event.raw, out),
            "message_stop" => {
                if let Some(block) = self.open.take() {
                    return Err(truncated(&block));
                }
                self.finished = true;
            }
            "error" => {
                // The upstream failed mid-stream: whatever was held is never released.
                self.upstream_error = true;
                self.finished = true;
                self.open = None;
            }
            _ => {}
        }
        out.extend_from_slice(&event.raw);
        Ok(())
    }

    fn pending(&self) -> Option<&ProposedCall> {
        self.judging.as_ref().map(|(_, call)| call)
    }

    fn resolve(&mut self, verdict: Verdict, out: &mut Vec<u8>) -> Result<(), ProtocolError> {
        let Some((block, call)) = self.judging.take() else {
            return Err(ProtocolError::InvalidState("no tool call awaits a verdict"));
        };
        self.held_bytes = 0;
        let index = block.index;
        match Outcome::of(&call, verdict) {
            Outcome::Unchanged => {
                self.released += 1;
                block.events.iter().for_each(|e| out.extend_from_slice(e));
            }
            Outcome::Rewritten(input) => {
                self.released += 1;
                let mut start = block.start;
                if let Some(content) = start.get_mut("content_block") {
                    object_mut(content, "content_block")?.insert("input".into(), json!({}));
                }
                write_event(out, Some("content_block_start"), &start);
                let delta = json!({"type": "content_block_delta", "index": index,
                    "delta": {"type": "input_json_delta", "partial_json": input.to_string()}});
                write_event(out, Some("content_block_delta"), &delta);
                write_event(out, Some("content_block_stop"), &stop(index));
            }
            Outcome::Blocked(text) => {
                let start = json!({"type": "content_block_start", "index": index,
                    "content_block": {"type": "text", "text": ""}});
                write_event(out, Some("content_block_start"), &start);
                let delta = json!({"type": "content_block_delta", "index": index,
                    "delta": {"type": "text_delta", "text": text}});
                write_event(out, Some("content_block_delta"), &delta);
                write_event(out, Some("content_block_stop"), &stop(index));
            }
        }
        Ok(())
    }

    fn end(&mut self) -> Result<(), ProtocolError> {
        self.held_bytes = 0;
        match self.open.take() {
            Some(block) if !self.upstream_error => Err(truncated(&block)),
            _ => Ok(()),
        }
    }

    fn held_bytes(&self) -> usize {
        self.held_bytes
    }

    fn finished(&self) -> bool {
        self.finished
    }

    fn usage(&self) -> Usage {
        self.usage
    }
}

fn stop(index: u64) -> Value {
    json!({"type": "content_block_stop", "index": index})
}
