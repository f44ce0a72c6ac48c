//! Stream accumulators modelled on what the official SDKs do (OpenAI `chat.completions.stream`,
//! `responses.stream`, Anthropic `messages.stream`), asserting the invariants they rely on:
//! contiguous tool-call indexes, content-block indexes and output indexes, contiguous
//! `sequence_number`s, and a final Responses object matching the streamed items. Both streams and
//! complete responses reduce to the same `Summary`, so the two paths can be compared.

use serde_json::Value;
use std::collections::VecDeque;
use warden_llm::{Api, SseEvent, SseParser};

/// What the agent ends up with.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub text: String,
    pub calls: Vec<(String, Value)>,
    pub stop: Option<String>,
}

pub fn events(bytes: &[u8]) -> Vec<SseEvent> {
    let mut parser = SseParser::new(usize::MAX);
    let mut out = VecDeque::new();
    parser.push(bytes, &mut out).unwrap();
    assert!(!parser.has_partial_event(), "output ends mid-event");
    out.into_iter().filter(|e| !e.comment_only).collect()
}

fn args(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("released arguments {text:?}: {e}"))
}

pub fn stream(api: Api, bytes: &[u8]) -> Summary {
    match api {
        Api::OpenAiChat => chat_stream(bytes),
        Api::OpenAiResponses => responses_stream(bytes),
        Api::Anthropic => anthropic_stream(bytes),
    }
}

pub fn complete(api: Api, response: &Value) -> Summary {
    match api {
        Api::OpenAiChat => {
            let choice = &response["choices"][0];
            let message = &choice["message"];
            let calls = message["tool_calls"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| {
                    let f = &c["function"];
                    (
                        f["name"].as_str().unwrap().to_owned(),
                        args(f["arguments"].as_str().unwrap()),
                    )
                })
                .collect();
            Summary {
                text: message["content"].as_str().unwrap_or_default().to_owned(),
                calls,
                stop: choice["finish_reason"].as_str().map(str::to_owned),
            }
        }
        Api::Anthropic => {
            let mut summary = Summary {
                text: String::new(),
                calls: vec![],
                stop: None,
            };
            for block in response["content"].as_array().unwrap() {
                match block["type"].as_str().unwrap() {
                    "text" => summary.text.push_str(block["text"].as_str().unwrap()),
                    "tool_use" => summary.calls.push((
                        block["name"].as_str().unwrap().to_owned(),
                        block["input"].clone(),
                    )),
                    other => panic!("unexpected block {other}"),
                }
            }
            summary.stop = response["stop_reason"].as_str().map(str::to_owned);
            summary
        }
        Api::OpenAiResponses => {
            let mut summary = Summary {
                text: String::new(),
                calls: vec![],
                stop: None,
            };
            for item in response["output"].as_array().unwrap() {
                match item["type"].as_str().unwrap() {
                    "message" => {
                        for part in item["content"].as_array().unwrap() {
                            summary.text.push_str(part["text"].as_str().unwrap());
                        }
                    }
                    "function_call" => summary.calls.push((
                        item["name"].as_str().unwrap().to_owned(),
                        args(item["arguments"].as_str().unwrap()),
                    )),
                    other => panic!("unexpected item {other}"),
                }
            }
            summary.stop = response["status"].as_str().map(str::to_owned);
            summary
        }
    }
}

fn chat_stream(bytes: &[u8]) -> Summary {
    let mut text = String::new();
    let mut calls: Vec<(String, String)> = Vec::new();
    let mut stop = None;
    let mut done = false;
    for event in events(bytes) {
        assert!(!done, "event after [DONE]");
        if event.data == "[DONE]" {
            done = true;
            continue;
        }
        let chunk: Value = serde_json::from_str(&event.data).unwrap();
        assert_eq!(chunk["object"], "chat.completion.chunk");
        for choice in chunk["choices"].as_array().unwrap() {
            let delta = &choice["delta"];
            text.push_str(delta["content"].as_str().unwrap_or_default());
            for fragment in delta["tool_calls"].as_array().into_iter().flatten() {
                let index = fragment["index"].as_u64().unwrap() as usize;
                assert!(index <= calls.len(), "tool call index {index} skips ahead");
                if index == calls.len() {
                    assert!(fragment["id"].is_string(), "first fragment carries the id");
                    calls.push((String::new(), String::new()));
                }
                let f = &fragment["function"];
                calls[index]
                    .0
                    .push_str(f["name"].as_str().unwrap_or_default());
                calls[index]
                    .1
                    .push_str(f["arguments"].as_str().unwrap_or_default());
            }
            if let Some(reason) = choice["finish_reason"].as_str() {
                stop = Some(reason.to_owned());
            }
        }
    }
    assert!(done, "stream ends with [DONE]");
    Summary {
        text,
        calls: calls.into_iter().map(|(n, a)| (n, args(&a))).collect(),
        stop,
    }
}

fn anthropic_stream(bytes: &[u8]) -> Summary {
    let mut blocks: Vec<(Value, String, bool)> = Vec::new();
    let mut stop = None;
    let mut stopped = false;
    for event in events(bytes) {
        let value: Value = serde_json::from_str(&event.data).unwrap();
        assert_eq!(
            event.event.as_deref(),
            value["type"].as_str(),
            "event name matches type"
        );
        match value["type"].as_str().unwrap() {
            "content_block_start" => {
                assert_eq!(
                    value["index"].as_u64().unwrap() as usize,
                    blocks.len(),
                    "block index"
                );
                blocks.push((value["content_block"].clone(), String::new(), false));
            }
            "content_block_delta" => {
                let block = &mut blocks[value["index"].as_u64().unwrap() as usize];
                assert!(!block.2, "delta after stop");
                let delta = &value["delta"];
                match delta["type"].as_str().unwrap() {
                    "text_delta" => {
                        assert_eq!(block.0["type"], "text");
                        block.1.push_str(delta["text"].as_str().unwrap());
                    }
                    "input_json_delta" => {
                        assert_eq!(block.0["type"], "tool_use");
                        block.1.push_str(delta["partial_json"].as_str().unwrap());
                    }
                    other => panic!("unexpected delta {other}"),
                }
            }
            "content_block_stop" => blocks[value["index"].as_u64().unwrap() as usize].2 = true,
            "message_delta" => stop = value["delta"]["stop_reason"].as_str().map(str::to_owned),
            "message_stop" => stopped = true,
            _ => {}
        }
    }
    assert!(stopped, "stream ends with message_stop");
    let mut summary = Summary {
        text: String::new(),
        calls: vec![],
        stop,
    };
    for (block, body, closed) in blocks {
        assert!(closed, "every block is stopped");
        match block["type"].as_str().unwrap() {
            "text" => summary.text.push_str(&body),
            "tool_use" => summary.calls.push((
                block["name"].as_str().unwrap().to_owned(),
                if body.is_empty() {
                    block["input"].clone()
                } else {
                    args(&body)
                },
            )),
            other => panic!("unexpected block {other}"),
        }
    }
    summary
}

fn responses_stream(bytes: &[u8]) -> Summary {
    let mut output: Vec<Value> = Vec::new();
    let mut final_response = None;
    for (number, event) in events(bytes).into_iter().enumerate() {
        let value: Value = serde_json::from_str(&event.data).unwrap();
        assert_eq!(
            event.event.as_deref(),
            value["type"].as_str(),
            "event name matches type"
        );
        assert_eq!(
            value["sequence_number"].as_u64(),
            Some(number as u64),
            "sequence_number"
        );
        match value["type"].as_str().unwrap() {
            "response.output_item.added" => {
                assert_eq!(
                    value["output_index"].as_u64().unwrap() as usize,
                    output.len()
                );
                output.push(value["item"].clone());
            }
            "response.output_item.done" => {
                let index = value["output_index"].as_u64().unwrap() as usize;
                assert_eq!(output[index]["id"], value["item"]["id"]);
                output[index] = value["item"].clone();
            }
            "response.output_text.delta" | "response.function_call_arguments.delta" => {
                let index = value["output_index"].as_u64().unwrap() as usize;
                assert_eq!(output[index]["id"], value["item_id"]);
            }
            "response.completed" => final_response = Some(value["response"].clone()),
            _ => {}
        }
    }
    let response = final_response.expect("stream ends with response.completed");
    assert_eq!(
        response["output"].as_array().unwrap(),
        &output,
        "final output matches stream"
    );
    complete(Api::OpenAiResponses, &response)
}
