//! OpenAI Responses streaming: every event of a client-executed call item (from
//! `response.output_item.added` through its argument deltas to `response.output_item.done`) is
//! held, then replayed, rewritten, or replaced by the events of an assistant message item at the
//! same `output_index`. Every emitted event gets the next `sequence_number`, so numbering stays
//! contiguous; `response.completed` (and `.incomplete` / `.failed`) carries the output items the
//! agent actually received.
//!
//! Owns the Responses event sequence only; must not do I/O or judge anything.

use super::{call_of, is_client_call, message_id, message_item, rewritten_item, text_part};
use crate::call::Outcome;
use crate::head::{self, ResponsesHead};
use crate::json::{parse_data, str_at, u64_at, write_event};
use crate::sse::SseEvent;
use crate::stream::EventMachine;
use crate::{Limits, ProposedCall, ProtocolError, Usage, Verdict};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, VecDeque};

/// A held event, kept parsed for renumbering and raw for verbatim replay.
#[derive(Debug)]
struct HeldEvent {
    value: Value,
    raw: Vec<u8>,
}

/// A call item being held.
#[derive(Debug)]
struct OpenItem {
    events: Vec<HeldEvent>,
    argument_bytes: usize,
    bytes: usize,
}

impl OpenItem {
    /// The call id of the held item, from its `output_item.added` event.
    fn call_id(&self) -> String {
        self.events
            .first()
            .and_then(|e| e.value.get("item"))
            .and_then(|i| str_at(i, "call_id"))
            .unwrap_or("(unknown)")
            .to_owned()
    }
}

/// A complete call item awaiting its verdict.
#[derive(Debug)]
struct Judging {
    output_index: u64,
    item: OpenItem,
    final_item: Value,
    call: ProposedCall,
}

/// An event that arrived while a call item was held and belongs to another item: it waits, so
/// the agent sees items in `output_index` order.
#[derive(Debug)]
struct Waiting {
    output_index: Option<u64>,
    ends_response: bool,
    event: SseEvent,
}

/// What the agent received in place of a call item.
#[derive(Debug)]
enum Delivered {
    /// The item as the model produced it.
    Unchanged,
    /// A rewritten call item or a replacement message item.
    Replaced(Value),
}

/// The Responses stream machine.
#[derive(Debug)]
pub(crate) struct ResponsesStream {
    limits: Limits,
    open: BTreeMap<u64, OpenItem>,
    judging: VecDeque<Judging>,
    waiting: VecDeque<Waiting>,
    delivered: HashMap<String, Delivered>,
    next_sequence: Option<u64>,
    calls_seen: usize,
    usage: Usage,
    held_bytes: usize,
    upstream_error: bool,
    finished: bool,
}

impl ResponsesStream {
    pub(crate) fn new(limits: Limits) -> Self {
        ResponsesStream {
            limits,
            open: BTreeMap::new(),
            judging: VecDeque::new(),
            waiting: VecDeque::new(),
            delivered: HashMap::new(),
            next_sequence: None,
            calls_seen: 0,
            usage: Usage::default(),
            held_bytes: 0,
            upstream_error: false,
            finished: false,
        }
    }

    /// Whether an event is neither part of a held call, nor a call item starting, nor a final or
    /// error event, and already carries the right `sequence_number`; such an event goes to the
    /// agent as received (and the numbering advances).
    fn passes_untouched(&mut self, data: &str) -> Result<bool, ProtocolError> {
        let head: ResponsesHead<'_> = head::parse(data)?;
        let kind = head.kind.as_deref().unwrap_or_default();
        let special = matches!(
            kind,
            "response.output_item.added"
                | "response.completed"
                | "response.incomplete"
                | "response.failed"
                | "error"
        ) || head
            .output_index
            .is_some_and(|i| self.open.contains_key(&i));
        let Some(upstream) = head.sequence_number.filter(|_| !special) else {
            return Ok(false);
        };
        let expected = *self.next_sequence.get_or_insert(upstream);
        if upstream != expected {
            return Ok(false);
        }
        self.next_sequence = Some(expected + 1);
        Ok(true)
    }

    /// Emits an upstream event, renumbered; verbatim when its number is already right and
    /// nothing else changed.
    fn emit(&mut self, mut value: Value, raw: Option<&[u8]>, out: &mut Vec<u8>) {
        let Some(upstream) = u64_at(&value, "sequence_number") else {
            match raw {
                Some(raw) => out.extend_from_slice(raw),
                None => write_event(out, str_at(&value, "type"), &value),
            }
            return;
        };
        let number = *self.next_sequence.get_or_insert(upstream);
        self.next_sequence = Some(number + 1);
        match raw {
            Some(raw) if upstream == number => out.extend_from_slice(raw),
            _ => {
                if let Some(fields) = value.as_object_mut() {
                    fields.insert("sequence_number".into(), number.into());
                }
                write_event(out, str_at(&value, "type"), &value);
            }
        }
    }

    /// Emits an event Warden composed, numbered next.
    fn emit_new(&mut self, mut value: Value, out: &mut Vec<u8>) {
        let number = *self.next_sequence.get_or_insert(0);
        self.next_sequence = Some(number + 1);
        if let Some(fields) = value.as_object_mut() {
            fields.insert("sequence_number".into(), number.into());
        }
        write_event(out, str_at(&value, "type"), &value);
    }

    fn hold(&mut self, output_index: u64, value: Value, raw: Vec<u8>) -> Result<(), ProtocolError> {
        let limit = self.limits.max_tool_args_bytes;
        let Some(item) = self.open.get_mut(&output_index) else {
            return Ok(());
        };
        if str_at(&value, "type").is_some_and(|t| t.ends_with(".delta")) {
            item.argument_bytes += str_at(&value, "delta").map_or(0, str::len);
            if item.argument_bytes > limit {
                return Err(ProtocolError::TooLarge {
                    what: "tool call arguments",
                    limit,
                });
            }
        }
        item.bytes += raw.len();
        self.held_bytes += raw.len();
        item.events.push(HeldEvent { value, raw });
        Ok(())
    }

    fn complete(&mut self, output_index: u64, final_item: Value) -> Result<(), ProtocolError> {
        let Some(item) = self.open.remove(&output_index) else {
            return Ok(());
        };
        let call = call_of(&final_item, self.calls_seen)?;
        self.calls_seen += 1;
        self.judging.push_back(Judging {
            output_index,
            item,
            final_item,
            call,
        });
        Ok(())
    }

    /// Makes a final response event list the output items the agent received.
    fn final_event(
        &mut self,
        mut value: Value,
        raw: Vec<u8>,
        out: &mut Vec<u8>,
    ) -> Result<(), ProtocolError> {
        if let Some((_, item)) = self.open.iter().next() {
            let id = item.call_id();
            return Err(ProtocolError::Truncated(format!("tool call {id}")));
        }
        let response = value.get_mut("response");
        if let Some(response) = &response {
            let usage = super::usage(response);
            if usage != Usage::default() {
                self.usage = usage;
            }
        }
        let output = response
            .and_then(|r| r.get_mut("output"))
            .and_then(Value::as_array_mut);
        let mut changed = false;
        if let Some(output) = output {
            let items = std::mem::take(output);
            for item in items {
                if !is_client_call(&item) {
                    output.push(item);
                    continue;
                }
                match self.delivered.get(str_at(&item, "id").unwrap_or_default()) {
                    Some(Delivered::Unchanged) => output.push(item),
                    Some(Delivered::Replaced(replacement)) => {
                        output.push(replacement.clone());
                        changed = true;
                    }
                    // Never delivered to the agent: it must not appear in the final response.
                    None => changed = true,
                }
            }
        }
        self.finished = true;
        let raw = if changed { None } else { Some(raw.as_slice()) };
        self.emit(value, raw, out);
        Ok(())
    }

    fn replay(&mut self, judging: Judging, out: &mut Vec<u8>) {
        for event in judging.item.events {
            self.emit(event.value, Some(&event.raw), out);
        }
    }

    fn rewrite(&mut self, judging: &Judging, arguments: &Value, out: &mut Vec<u8>) -> Value {
        let output_index = judging.output_index;
        let item = rewritten_item(&judging.final_item, arguments);
        let item_id = str_at(&item, "id").unwrap_or_default().to_owned();
        let mut started = item.clone();
        if let Some(fields) = started.as_object_mut() {
            fields.insert("status".into(), "in_progress".into());
        }
        let (delta_type, done_type, key) = match str_at(&item, "type") {
            Some("function_call") => (
                "response.function_call_arguments.delta",
                "response.function_call_arguments.done",
                "arguments",
            ),
            Some("custom_tool_call") => (
                "response.custom_tool_call_input.delta",
                "response.custom_tool_call_input.done",
                "input",
            ),
            _ => ("", "", ""),
        };
        let text = str_at(&item, key).map(str::to_owned);
        if let (Some(_), Some(fields)) = (&text, started.as_object_mut()) {
            fields.insert(key.into(), "".into());
        }
        self.emit_new(
            json!({"type": "response.output_item.added", "output_index": output_index, "item": started}),
            out,
        );
        if let Some(text) = text {
            self.emit_new(
                json!({"type": delta_type, "item_id": item_id, "output_index": output_index, "delta": text}),
                out,
            );
            self.emit_new(
                json!({"type": done_type, "item_id": item_id, "output_index": output_index, key: text}),
                out,
            );
        }
        self.emit_new(
            json!({"type": "response.output_item.done", "output_index": output_index, "item": item}),
            out,
        );
        item
    }

    fn replace_with_text(&mut self, judging: &Judging, text: &str, out: &mut Vec<u8>) -> Value {
        let output_index = judging.output_index;
        let id = message_id(&judging.final_item);
        let started = json!({"id": id, "type": "message", "status": "in_progress",
            "role": "assistant", "content": []});
        let part = |text: &str| {
            json!({"item_id": id, "output_index": output_index,
            "content_index": 0, "part": text_part(text)})
        };
        let text_event = |kind: &str, key: &str| {
            json!({"type": kind, "item_id": id,
            "output_index": output_index, "content_index": 0, key: text, "logprobs": []})
        };
        let mut part_added = part("");
        let mut part_done = part(text);
        set_type(&mut part_added, "response.content_part.added");
        set_type(&mut part_done, "response.content_part.done");
        let item = message_item(&id, text);
        let events = [
            json!({"type": "response.output_item.added", "output_index": output_index, "item": started}),
            part_added,
            text_event("response.output_text.delta", "delta"),
            text_event("response.output_text.done", "text"),
            part_done,
            json!({"type": "response.output_item.done", "output_index": output_index, "item": item}),
        ];
        for event in events {
            self.emit_new(event, out);
        }
        item
    }
    /// Handles one event in stream order.
    fn handle(&mut self, event: SseEvent, out: &mut Vec<u8>) -> Result<(), ProtocolError> {
        if event.comment_only {
            out.extend_from_slice(&event.raw);
            return Ok(());
        }
        if self.passes_untouched(&event.data)? {
            out.extend_from_slice(&event.raw);
            return Ok(());
        }
        let value = parse_data(&event.data)?;
        let kind = str_at(&value, "type").unwrap_or_default().to_owned();
        let output_index = u64_at(&value, "output_index");
        match (kind.as_str(), output_index) {
            ("response.output_item.added", Some(index))
                if value.get("item").is_some_and(is_client_call) =>
            {
                if self.open.contains_key(&index) {
                    return Err(ProtocolError::Malformed(format!(
                        "output item {index} added twice"
                    )));
                }
                self.open.insert(
                    index,
                    OpenItem {
                        events: Vec::new(),
                        argument_bytes: 0,
                        bytes: 0,
                    },
                );
                self.hold(index, value, event.raw)
            }
            ("response.output_item.done", Some(index)) if self.open.contains_key(&index) => {
                let final_item = value.get("item").cloned().unwrap_or_default();
                self.hold(index, value, event.raw)?;
                self.complete(index, final_item)
            }
            (_, Some(index)) if self.open.contains_key(&index) => {
                self.hold(index, value, event.raw)
            }
            ("response.completed" | "response.incomplete" | "response.failed", _) => {
                self.final_event(value, event.raw, out)
            }
            ("error", _) => {
                // The upstream failed mid-stream: whatever was held is never released.
                self.upstream_error = true;
                self.finished = true;
                self.open.clear();
                self.held_bytes = 0;
                self.emit(value, Some(&event.raw), out);
                Ok(())
            }
            _ => {
                self.emit(value, Some(&event.raw), out);
                Ok(())
            }
        }
    }

    /// Handles waiting events that may go now: all of them in order once no call item is held,
    /// otherwise those of the held items (and a final event, which then reports truncation).
    fn drain_waiting(&mut self, out: &mut Vec<u8>) -> Result<(), ProtocolError> {
        while self.judging.is_empty() {
            let position = if self.open.is_empty() {
                0
            } else {
                let ready = |w: &Waiting| {
                    w.ends_response || w.output_index.is_some_and(|i| self.open.contains_key(&i))
                };
                match self.waiting.iter().position(ready) {
                    Some(position) => position,
                    None => break,
                }
            };
            let Some(waiting) = self.waiting.remove(position) else {
                break;
            };
            self.held_bytes = self.held_bytes.saturating_sub(waiting.event.raw.len());
            self.handle(waiting.event, out)?;
        }
        Ok(())
    }
}

/// Whether an event type ends the response.
fn ends_response(kind: &str) -> bool {
    matches!(
        kind,
        "response.completed" | "response.incomplete" | "response.failed" | "error"
    )
}

fn set_type(event: &mut Value, kind: &str) {
    if let Some(fields) = event.as_object_mut() {
        fields.insert("type".into(), kind.into());
    }
}

impl EventMachine for ResponsesStream {
    fn on_event(&mut self, event: SseEvent, out: &mut Vec<u8>) -> Result<(), ProtocolError> {
        if self.open.is_empty() && self.waiting.is_empty() {
            return self.handle(event, out);
        }
        let (output_index, ends_response) = if event.comment_only {
            (None, false)
        } else {
            let head: ResponsesHead<'_> = head::parse(&event.data)?;
            let kind = head.kind.as_deref().unwrap_or_default();
            (head.output_index, ends_response(kind))
        };
        self.held_bytes += event.raw.len();
        self.waiting.push_back(Waiting {
            output_index,
            ends_response,
            event,
        });
        self.drain_waiting(out)
    }

    fn pending(&self) -> Option<&ProposedCall> {
        self.judging.front().map(|j| &j.call)
    }

    fn resolve(&mut self, verdict: Verdict, out: &mut Vec<u8>) -> Result<(), ProtocolError> {
        let Some(judging) = self.judging.pop_front() else {
            return Err(ProtocolError::InvalidState("no tool call awaits a verdict"));
        };
        self.held_bytes = self.held_bytes.saturating_sub(judging.item.bytes);
        let item_id = str_at(&judging.final_item, "id")
            .unwrap_or_default()
            .to_owned();
        let delivered = match Outcome::of(&judging.call, verdict) {
            Outcome::Unchanged => {
                self.replay(judging, out);
                Delivered::Unchanged
            }
            Outcome::Rewritten(arguments) => {
                Delivered::Replaced(self.rewrite(&judging, &arguments, out))
            }
            Outcome::Blocked(text) => {
                Delivered::Replaced(self.replace_with_text(&judging, &text, out))
            }
        };
        self.delivered.insert(item_id, delivered);
        self.drain_waiting(out)
    }

    fn end(&mut self) -> Result<(), ProtocolError> {
        self.held_bytes = 0;
        let open = self.open.values().next().map(OpenItem::call_id);
        self.open.clear();
        self.waiting.clear();
        if let Some(id) = open.filter(|_| !self.upstream_error) {
            return Err(ProtocolError::Truncated(format!("tool call {id}")));
        }
        Ok(())
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

    fn next_sequence_number(&self) -> Option<u64> {
        Some(self.next_sequence.unwrap_or(0))
    }
}
