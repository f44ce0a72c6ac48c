//! The Responses event stream: one writer that numbers events and frames them as SSE.
//!
//! Owns the payload shapes of the item-level events (`response.output_item.*`,
//! `response.content_part.*`, `response.output_text.*`, `response.function_call_arguments.*`).

use bytes::Bytes;
use serde::Serialize;

use super::{CallItem, MessageItem, OutputItem, ResponseObject, TextPart, text_part};
use crate::sse;
use crate::turn::chunks;

/// Collects numbered events in order.
#[derive(Default)]
pub(super) struct EventWriter {
    next: u64,
    frames: Vec<Bytes>,
}

#[derive(Serialize)]
struct Lifecycle<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    sequence_number: u64,
    response: &'a ResponseObject<'a>,
}

#[derive(Serialize)]
struct ItemEvent<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    sequence_number: u64,
    output_index: usize,
    item: &'a OutputItem<'a>,
}

#[derive(Serialize)]
struct PartEvent<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    sequence_number: u64,
    item_id: &'a str,
    output_index: usize,
    content_index: usize,
    part: TextPart<'a>,
}

#[derive(Serialize)]
struct TextDelta<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    sequence_number: u64,
    item_id: &'a str,
    output_index: usize,
    content_index: usize,
    delta: &'a str,
    logprobs: [(); 0],
}

#[derive(Serialize)]
struct TextDone<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    sequence_number: u64,
    item_id: &'a str,
    output_index: usize,
    content_index: usize,
    text: &'a str,
    logprobs: [(); 0],
}

#[derive(Serialize)]
struct ArgumentsDelta<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    sequence_number: u64,
    item_id: &'a str,
    output_index: usize,
    delta: &'a str,
}

#[derive(Serialize)]
struct ArgumentsDone<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    sequence_number: u64,
    item_id: &'a str,
    output_index: usize,
    arguments: &'a str,
}

impl EventWriter {
    fn seq(&mut self) -> u64 {
        let n = self.next;
        self.next += 1;
        n
    }

    fn push(&mut self, name: &str, payload: &impl Serialize) -> Result<(), serde_json::Error> {
        self.frames.push(sse::event(name, payload)?);
        Ok(())
    }

    /// The frames written so far.
    pub(super) fn into_frames(self) -> Vec<Bytes> {
        self.frames
    }

    /// A `response.*` event carrying the whole response object.
    pub(super) fn lifecycle(
        &mut self,
        name: &str,
        response: &ResponseObject<'_>,
    ) -> Result<(), serde_json::Error> {
        let event = Lifecycle {
            kind: name,
            sequence_number: self.seq(),
            response,
        };
        self.push(name, &event)
    }

    fn item(
        &mut self,
        kind: &'static str,
        output_index: usize,
        item: &OutputItem<'_>,
    ) -> Result<(), serde_json::Error> {
        let event = ItemEvent {
            kind,
            sequence_number: self.seq(),
            output_index,
            item,
        };
        self.push(kind, &event)
    }

    fn part(
        &mut self,
        kind: &'static str,
        item_id: &str,
        output_index: usize,
        text: &str,
    ) -> Result<(), serde_json::Error> {
        let event = PartEvent {
            kind,
            sequence_number: self.seq(),
            item_id,
            output_index,
            content_index: 0,
            part: text_part(text),
        };
        self.push(kind, &event)
    }

    /// Every event of a message item, from `added` to `done`.
    pub(super) fn message(
        &mut self,
        index: usize,
        done: &MessageItem<'_>,
        chunk_size: usize,
    ) -> Result<(), serde_json::Error> {
        let text = done.content.first().map_or("", |p| p.text);
        let opened = MessageItem {
            status: "in_progress",
            content: Vec::new(),
            ..done.clone()
        };
        self.item(
            "response.output_item.added",
            index,
            &OutputItem::Message(opened),
        )?;
        self.part("response.content_part.added", &done.id, index, "")?;
        for delta in chunks(text, chunk_size) {
            let kind = "response.output_text.delta";
            let event = TextDelta {
                kind,
                sequence_number: self.seq(),
                item_id: &done.id,
                output_index: index,
                content_index: 0,
                delta,
                logprobs: [],
            };
            self.push(kind, &event)?;
        }
        let kind = "response.output_text.done";
        let event = TextDone {
            kind,
            sequence_number: self.seq(),
            item_id: &done.id,
            output_index: index,
            content_index: 0,
            text,
            logprobs: [],
        };
        self.push(kind, &event)?;
        self.part("response.content_part.done", &done.id, index, text)?;
        self.item(
            "response.output_item.done",
            index,
            &OutputItem::Message(done.clone()),
        )
    }

    /// A function-call item's `added` event and its argument deltas.
    pub(super) fn call_arguments(
        &mut self,
        index: usize,
        done: &CallItem<'_>,
        chunk_size: usize,
    ) -> Result<(), serde_json::Error> {
        let opened = CallItem {
            status: "in_progress",
            arguments: "",
            ..done.clone()
        };
        self.item(
            "response.output_item.added",
            index,
            &OutputItem::Call(opened),
        )?;
        for delta in chunks(done.arguments, chunk_size) {
            let kind = "response.function_call_arguments.delta";
            let event = ArgumentsDelta {
                kind,
                sequence_number: self.seq(),
                item_id: &done.id,
                output_index: index,
                delta,
            };
            self.push(kind, &event)?;
        }
        Ok(())
    }

    /// A function-call item's closing events.
    pub(super) fn call_done(
        &mut self,
        index: usize,
        done: &CallItem<'_>,
    ) -> Result<(), serde_json::Error> {
        let kind = "response.function_call_arguments.done";
        let event = ArgumentsDone {
            kind,
            sequence_number: self.seq(),
            item_id: &done.id,
            output_index: index,
            arguments: done.arguments,
        };
        self.push(kind, &event)?;
        self.item(
            "response.output_item.done",
            index,
            &OutputItem::Call(done.clone()),
        )
    }
}
