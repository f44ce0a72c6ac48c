//! OpenAI Chat Completions streaming: `delta.tool_calls[]` fragments are held per choice and
//! call `index` until the call is complete (a fragment for another index arrives in the same
//! choice, or the choice's `finish_reason` does), then released, rewritten (one fragment with the
//! whole arguments) or replaced by a `delta.content` chunk. Released calls are renumbered so their
//! indexes stay contiguous from 0, as SDK accumulators require; `finish_reason: "tool_calls"`
//! becomes `"stop"` in a choice whose calls were all blocked.
//!
//! Owns the chat chunk sequence only; must not do I/O or judge anything.

use super::{STOP, TEXT_SEPARATOR, TOOL_CALLS, custom_input, refuse_legacy_function_call};
use crate::call::Outcome;
use crate::head::{self, ChatHead};
use crate::json::{parse_data, str_at, u64_at, write_event};
use crate::sse::SseEvent;
use crate::stream::EventMachine;
use crate::{Arguments, Limits, ProposedCall, ProtocolError, Usage, Verdict};
use serde_json::{Value, json};
use std::collections::{BTreeMap, VecDeque};

/// One held chunk carrying only this call's fragment.
#[derive(Debug)]
struct Fragment {
    /// The original bytes, when the upstream chunk held nothing but this fragment.
    raw: Option<Vec<u8>>,
    value: Value,
}

/// A tool call being assembled from fragments.
#[derive(Debug)]
struct OpenCall {
    upstream_index: u64,
    id: String,
    name: String,
    arguments: String,
    custom: bool,
    fragments: Vec<Fragment>,
    bytes: usize,
}

/// Per-choice state.
#[derive(Debug, Default)]
struct ChoiceState {
    open: Vec<OpenCall>,
    released: u64,
    has_text: bool,
}

/// A complete call awaiting its verdict.
#[derive(Debug)]
struct Judging {
    choice: u64,
    call: OpenCall,
    proposed: ProposedCall,
}

/// The chat stream machine.
#[derive(Debug)]
pub(crate) struct ChatStream {
    limits: Limits,
    strip_usage_chunk: bool,
    choices: BTreeMap<u64, ChoiceState>,
    judging: VecDeque<Judging>,
    deferred: Option<(Value, Option<Vec<u8>>)>,
    calls_seen: usize,
    usage: Usage,
    held_bytes: usize,
    upstream_error: bool,
    finished: bool,
}

impl ChatStream {
    pub(crate) fn new(limits: Limits) -> Self {
        ChatStream {
            limits,
            strip_usage_chunk: false,
            choices: BTreeMap::new(),
            judging: VecDeque::new(),
            deferred: None,
            calls_seen: 0,
            usage: Usage::default(),
            held_bytes: 0,
            upstream_error: false,
            finished: false,
        }
    }

    /// Whether a chunk is plain text (no fragments, finish reason, usage or error), recording
    /// the text it carries; such a chunk goes to the agent as received.
    fn passes_untouched(&mut self, data: &str) -> Result<bool, ProtocolError> {
        let head: ChatHead<'_> = head::parse(data)?;
        let Some(choices) = head
            .choices
            .filter(|_| head.usage.is_none() && head.error.is_none())
        else {
            return Ok(false);
        };
        let plain = choices.iter().all(|c| {
            c.finish_reason.is_none()
                && c.delta
                    .as_ref()
                    .is_none_or(|d| d.tool_calls.is_none() && d.function_call.is_none())
        });
        if plain {
            for choice in &choices {
                let text = choice.delta.as_ref().and_then(|d| d.content.as_deref());
                if text.is_some_and(|t| !t.is_empty()) {
                    self.choices
                        .entry(choice.index.unwrap_or(0))
                        .or_default()
                        .has_text = true;
                }
            }
        }
        Ok(plain)
    }

    fn first_open_call(&self) -> Option<&OpenCall> {
        self.choices.values().flat_map(|c| c.open.first()).next()
    }

    /// Handles one chunk: holds its tool-call fragments, queues completed calls, and emits (or
    /// defers behind the verdicts) what remains.
    fn on_chunk(
        &mut self,
        mut value: Value,
        raw: Vec<u8>,
        out: &mut Vec<u8>,
    ) -> Result<(), ProtocolError> {
        let usage = super::usage(&value);
        if usage != Usage::default() {
            self.usage = usage;
        }
        let Some(choices) = value.get("choices").and_then(Value::as_array) else {
            out.extend_from_slice(&raw);
            return Ok(());
        };
        let has_fragments = choices.iter().any(|c| delta_tool_calls(c).is_some());
        if !has_fragments {
            for choice in choices {
                let delta = choice.get("delta").unwrap_or(&Value::Null);
                refuse_legacy_function_call(delta)?;
            }
            self.complete_finished_choices(choices);
            return self.emit_or_defer(value, Some(raw), out);
        }
        let mut source = Source {
            envelope: envelope_of(&value),
            bytes: raw.len(),
            raw: Some(raw).filter(|_| is_single_fragment(choices)),
        };
        if let Some(choices) = value.get_mut("choices").and_then(Value::as_array_mut) {
            for choice in choices.iter_mut() {
                self.absorb_choice(choice, &mut source)?;
            }
            choices.retain(is_meaningful);
            let keep = !choices.is_empty() || value.get("usage").is_some_and(|u| !u.is_null());
            if !keep {
                return Ok(());
            }
        }
        self.emit_or_defer(value, None, out)
    }

    /// Takes a choice's fragments into open calls and queues the calls this choice completes.
    fn absorb_choice(
        &mut self,
        choice: &mut Value,
        source: &mut Source,
    ) -> Result<(), ProtocolError> {
        let index = u64_at(choice, "index").unwrap_or(0);
        let delta = choice.get_mut("delta").and_then(Value::as_object_mut);
        let fragments = match delta {
            Some(delta) => {
                if delta.get("function_call").is_some_and(|f| !f.is_null()) {
                    return Err(super::legacy_function_call_error());
                }
                match delta.remove("tool_calls") {
                    Some(Value::Array(fragments)) => fragments,
                    _ => Vec::new(),
                }
            }
            None => Vec::new(),
        };
        let mut seen = Vec::new();
        for fragment in fragments {
            seen.push(self.absorb_fragment(index, fragment, source)?);
        }
        let finished = choice.get("finish_reason").is_some_and(|f| !f.is_null());
        self.complete(index, |call| {
            finished || (!seen.is_empty() && !seen.contains(&call.upstream_index))
        });
        Ok(())
    }

    fn absorb_fragment(
        &mut self,
        choice: u64,
        fragment: Value,
        source: &mut Source,
    ) -> Result<u64, ProtocolError> {
        let index = u64_at(&fragment, "index")
            .ok_or_else(|| ProtocolError::Malformed("tool call fragment has no index".into()))?;
        let limit = self.limits.max_tool_args_bytes;
        let state = self.choices.entry(choice).or_default();
        let position = match state.open.iter().position(|c| c.upstream_index == index) {
            Some(position) => position,
            None => {
                state.open.push(OpenCall {
                    upstream_index: index,
                    id: String::new(),
                    name: String::new(),
                    arguments: String::new(),
                    custom: false,
                    fragments: Vec::new(),
                    bytes: 0,
                });
                state.open.len() - 1
            }
        };
        let Some(call) = state.open.get_mut(position) else {
            return Ok(index);
        };
        if let Some(id) = str_at(&fragment, "id").filter(|id| !id.is_empty()) {
            call.id = id.to_owned();
        }
        let (body, argument_key) = match fragment.get("custom") {
            Some(custom) => {
                call.custom = true;
                (custom, "input")
            }
            None => (
                fragment.get("function").unwrap_or(&Value::Null),
                "arguments",
            ),
        };
        call.name.push_str(str_at(body, "name").unwrap_or_default());
        call.arguments
            .push_str(str_at(body, argument_key).unwrap_or_default());
        if call.arguments.len() > limit {
            return Err(ProtocolError::TooLarge {
                what: "tool call arguments",
                limit,
            });
        }
        let raw = source.raw.take();
        let mut value = source.envelope.clone();
        if let Some(fields) = value.as_object_mut() {
            let choice_value = json!({"index": choice, "delta": {"tool_calls": [fragment]},
                "logprobs": null, "finish_reason": null});
            fields.insert("choices".into(), json!([choice_value]));
        }
        // Held size is estimated from the upstream chunk rather than measured by serializing.
        let bytes = source.bytes;
        call.bytes += bytes;
        self.held_bytes += bytes;
        call.fragments.push(Fragment { raw, value });
        Ok(index)
    }

    /// Queues, in index order, the open calls of `choice` that `done` says are complete.
    fn complete(&mut self, choice: u64, done: impl Fn(&OpenCall) -> bool) {
        let Some(state) = self.choices.get_mut(&choice) else {
            return;
        };
        let (mut complete, open): (Vec<_>, Vec<_>) = std::mem::take(&mut state.open)
            .into_iter()
            .partition(|c| done(c));
        state.open = open;
        complete.sort_by_key(|c| c.upstream_index);
        for call in complete {
            let proposed = ProposedCall {
                index: self.calls_seen,
                id: call.id.clone(),
                name: call.name.clone(),
                arguments: if call.custom {
                    Arguments::Json(Value::String(call.arguments.clone()))
                } else {
                    Arguments::parse(&call.arguments)
                },
            };
            self.calls_seen += 1;
            self.judging.push_back(Judging {
                choice,
                call,
                proposed,
            });
        }
    }

    /// Queues the open calls of every choice that this fragment-free chunk finishes.
    fn complete_finished_choices(&mut self, choices: &[Value]) {
        for choice in choices {
            if choice.get("finish_reason").is_some_and(|f| !f.is_null()) {
                self.complete(u64_at(choice, "index").unwrap_or(0), |_| true);
            }
        }
    }

    fn emit_or_defer(
        &mut self,
        value: Value,
        raw: Option<Vec<u8>>,
        out: &mut Vec<u8>,
    ) -> Result<(), ProtocolError> {
        if self.judging.is_empty() {
            self.emit_remainder(value, raw, out);
        } else {
            self.deferred = Some((value, raw));
        }
        Ok(())
    }

    /// Emits a chunk with no held fragments left in it, correcting `finish_reason`.
    fn emit_remainder(&mut self, mut value: Value, raw: Option<Vec<u8>>, out: &mut Vec<u8>) {
        let choices = value.get_mut("choices").and_then(Value::as_array_mut);
        if self.strip_usage_chunk
            && choices.as_ref().is_some_and(|c| c.is_empty())
            && value.get("usage").is_some_and(Value::is_object)
        {
            return;
        }
        let mut changed = false;
        for choice in value
            .get_mut("choices")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            let state = self
                .choices
                .entry(u64_at(choice, "index").unwrap_or(0))
                .or_default();
            let content = choice.get("delta").and_then(|d| str_at(d, "content"));
            state.has_text |= content.is_some_and(|c| !c.is_empty());
            if str_at(choice, "finish_reason") == Some(TOOL_CALLS)
                && state.released == 0
                && let Some(fields) = choice.as_object_mut()
            {
                fields.insert("finish_reason".into(), STOP.into());
                changed = true;
            }
        }
        match raw {
            Some(raw) if !changed => out.extend_from_slice(&raw),
            _ => write_event(out, None, &value),
        }
    }
}

/// Where held fragments of one upstream chunk come from.
struct Source {
    /// The chunk without its choices (and with null usage), to wrap each held fragment.
    envelope: Value,
    /// The chunk's original bytes, when it is a single fragment that can be replayed verbatim.
    raw: Option<Vec<u8>>,
    /// The chunk's size.
    bytes: usize,
}

/// A chunk's fields other than `choices`, with `choices` empty and `usage` null.
fn envelope_of(chunk: &Value) -> Value {
    let mut fields: serde_json::Map<String, Value> = chunk
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(key, _)| key.as_str() != "choices")
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    fields.insert("choices".into(), Value::Array(Vec::new()));
    if let Some(usage) = fields.get_mut("usage") {
        *usage = Value::Null;
    }
    Value::Object(fields)
}

/// The `delta.tool_calls` array of a choice, if it has one.
fn delta_tool_calls(choice: &Value) -> Option<&Vec<Value>> {
    choice
        .get("delta")
        .and_then(|d| d.get("tool_calls"))
        .and_then(Value::as_array)
}

/// Whether a chunk is exactly one choice carrying exactly one fragment and nothing else, so its
/// original bytes can be replayed on release.
fn is_single_fragment(choices: &[Value]) -> bool {
    let [choice] = choices else {
        return false;
    };
    let delta_only_fragments = choice
        .get("delta")
        .and_then(Value::as_object)
        .is_some_and(|d| d.len() == 1);
    delta_only_fragments
        && delta_tool_calls(choice).is_some_and(|f| f.len() == 1)
        && choice.get("finish_reason").is_none_or(Value::is_null)
}

/// Whether a choice still says something once its fragments are taken out.
fn is_meaningful(choice: &Value) -> bool {
    let delta_has_content = choice
        .get("delta")
        .and_then(Value::as_object)
        .is_some_and(|d| !d.is_empty());
    delta_has_content
        || choice.get("finish_reason").is_some_and(|f| !f.is_null())
        || choice.get("logprobs").is_some_and(|l| !l.is_null())
}

impl EventMachine for ChatStream {
    fn on_event(&mut self, event: SseEvent, out: &mut Vec<u8>) -> Result<(), ProtocolError> {
        if event.comment_only {
            out.extend_from_slice(&event.raw);
            return Ok(());
        }
        if event.data.trim() == "[DONE]" {
            if let Some(call) = self.first_open_call() {
                return Err(ProtocolError::Truncated(format!("tool call {}", call.id)));
            }
            self.finished = true;
            out.extend_from_slice(&event.raw);
            return Ok(());
        }
        if self.passes_untouched(&event.data)? {
            out.extend_from_slice(&event.raw);
            return Ok(());
        }
        let value = parse_data(&event.data)?;
        if value.get("error").is_some_and(|e| !e.is_null()) && value.get("choices").is_none() {
            // The upstream failed mid-stream: whatever was held is never released.
            self.upstream_error = true;
            self.finished = true;
            self.choices.values_mut().for_each(|c| c.open.clear());
            self.held_bytes = 0;
            out.extend_from_slice(&event.raw);
            return Ok(());
        }
        self.on_chunk(value, event.raw, out)
    }

    fn pending(&self) -> Option<&ProposedCall> {
        self.judging.front().map(|j| &j.proposed)
    }

    fn resolve(&mut self, verdict: Verdict, out: &mut Vec<u8>) -> Result<(), ProtocolError> {
        let Some(Judging {
            choice,
            call,
            proposed,
        }) = self.judging.pop_front()
        else {
            return Err(ProtocolError::InvalidState("no tool call awaits a verdict"));
        };
        self.held_bytes = self.held_bytes.saturating_sub(call.bytes);
        let state = self.choices.entry(choice).or_default();
        let outcome = Outcome::of(&proposed, verdict);
        let envelope = call.fragments.first().map(|f| f.value.clone());
        match outcome {
            Outcome::Unchanged => {
                let index = state.released;
                state.released += 1;
                for fragment in call.fragments {
                    replay_fragment(fragment, call.upstream_index, index, out);
                }
            }
            Outcome::Rewritten(arguments) => {
                let index = state.released;
                state.released += 1;
                let tool_call = if call.custom {
                    json!({"index": index, "id": call.id, "type": "custom",
                        "custom": {"name": call.name, "input": custom_input(&arguments)}})
                } else {
                    json!({"index": index, "id": call.id, "type": "function",
                        "function": {"name": call.name, "arguments": arguments.to_string()}})
                };
                write_chunk(envelope, choice, json!({"tool_calls": [tool_call]}), out);
            }
            Outcome::Blocked(text) => {
                let text = if state.has_text {
                    format!("{TEXT_SEPARATOR}{text}")
                } else {
                    text
                };
                state.has_text = true;
                write_chunk(envelope, choice, json!({"content": text}), out);
            }
        }
        if self.judging.is_empty()
            && let Some((value, raw)) = self.deferred.take()
        {
            self.emit_remainder(value, raw, out);
        }
        Ok(())
    }

    fn end(&mut self) -> Result<(), ProtocolError> {
        self.held_bytes = 0;
        let open = self.first_open_call().map(|c| c.id.clone());
        self.choices.values_mut().for_each(|c| c.open.clear());
        match open {
            Some(id) if !self.upstream_error => {
                Err(ProtocolError::Truncated(format!("tool call {id}")))
            }
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

    fn set_strip_usage_chunk(&mut self, strip: bool) {
        self.strip_usage_chunk = strip;
    }
}

/// Replays a held fragment, renumbered to `index` (original bytes when nothing changes).
fn replay_fragment(fragment: Fragment, upstream_index: u64, index: u64, out: &mut Vec<u8>) {
    match fragment.raw {
        Some(raw) if upstream_index == index => out.extend_from_slice(&raw),
        _ => {
            let mut value = fragment.value;
            let tool_call = value
                .get_mut("choices")
                .and_then(|c| c.get_mut(0))
                .and_then(|c| c.get_mut("delta"))
                .and_then(|d| d.get_mut("tool_calls"))
                .and_then(|t| t.get_mut(0))
                .and_then(Value::as_object_mut);
            if let Some(tool_call) = tool_call {
                tool_call.insert("index".into(), index.into());
            }
            write_event(out, None, &value);
        }
    }
}

/// Writes a chunk in the upstream's envelope with one choice carrying `delta`.
fn write_chunk(envelope: Option<Value>, choice: u64, delta: Value, out: &mut Vec<u8>) {
    let mut value = envelope.unwrap_or_else(|| json!({"object": "chat.completion.chunk"}));
    if let Some(fields) = value.as_object_mut() {
        let choice_value =
            json!({"index": choice, "delta": delta, "logprobs": null, "finish_reason": null});
        fields.insert("choices".into(), json!([choice_value]));
    }
    write_event(out, None, &value);
}
