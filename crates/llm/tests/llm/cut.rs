//! Streams ended early by an output meter: what was admitted passes, the ending is the
//! provider's own out-of-tokens ending, held tool calls are never released, and usage figures
//! arriving after the cut are still read.

use crate::common::*;
use serde_json::Value;
use warden_llm::{Api, Limits, OutputMeter, StreamRewriter};

/// Admits output while its bytes stay within `allowance`.
struct ByteMeter {
    allowance: usize,
    used: usize,
}

impl OutputMeter for ByteMeter {
    fn admit(&mut self, text: &str) -> bool {
        if self.used + text.len() > self.allowance {
            return false;
        }
        self.used += text.len();
        true
    }
    fn admitted_tokens(&self) -> u64 {
        self.used as u64
    }
}

fn metered(api: Api, allowance: usize) -> StreamRewriter {
    StreamRewriter::new(api, Limits::default())
        .meter_output(Box::new(ByteMeter { allowance, used: 0 }))
}

/// The JSON data of every event in `output`, with its event name.
fn events(output: &[u8]) -> Vec<(Option<String>, String)> {
    let text = String::from_utf8(output.to_vec()).unwrap();
    text.split("\n\n")
        .filter(|block| !block.trim().is_empty())
        .map(|block| {
            let name = block
                .lines()
                .find_map(|l| l.strip_prefix("event: "))
                .map(str::to_owned);
            let data = block
                .lines()
                .filter_map(|l| l.strip_prefix("data: "))
                .collect::<Vec<_>>()
                .join("\n");
            (name, data)
        })
        .collect()
}

fn json(data: &str) -> Value {
    serde_json::from_str(data).unwrap()
}

#[test]
fn a_chat_stream_ends_with_finish_reason_length_and_done() {
    let mut rewriter = metered(Api::OpenAiChat, 10);
    let run = run_with(
        &mut rewriter,
        &input("chat-stream-text.sse"),
        &[],
        true,
        &mut |_| release(),
    );
    assert!(run.error.is_none(), "{:?}", run.error);
    assert!(rewriter.was_cut());
    let out = String::from_utf8(run.output.clone()).unwrap();
    assert!(out.contains("Hello, w"));
    assert!(!out.contains("orld! St"));
    let events = events(&run.output);
    let (_, done) = events.last().unwrap();
    assert_eq!(done, "[DONE]");
    let last = json(&events[events.len() - 2].1);
    assert_eq!(last["choices"][0]["finish_reason"], "length");
    assert_eq!(last["id"], "chatcmpl-mock000001");
    assert_eq!(last["model"], "gpt-4o-mini");
    // The usage chunk fed after the cut is read, not sent.
    assert!(!out.contains("prompt_tokens"));
    let usage = rewriter.usage();
    assert_eq!(usage.input_tokens, Some(12));
    assert_eq!(usage.output_tokens, Some(8));
    assert_eq!(rewriter.metered_output_tokens(), 8);
}

#[test]
fn a_messages_stream_closes_its_text_block_and_stops_for_max_tokens() {
    let mut rewriter = metered(Api::Anthropic, 8);
    let run = run_with(
        &mut rewriter,
        &input("messages-stream-text.sse"),
        &[],
        true,
        &mut |_| release(),
    );
    assert!(run.error.is_none(), "{:?}", run.error);
    assert!(rewriter.was_cut());
    let events = events(&run.output);
    let names: Vec<_> = events.iter().map(|(n, _)| n.clone().unwrap()).collect();
    assert_eq!(
        names,
        [
            "message_start",
            "content_block_start",
            "ping",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    let delta = json(&events[5].1);
    assert_eq!(delta["delta"]["stop_reason"], "max_tokens");
    assert_eq!(delta["usage"]["output_tokens"], 8);
    assert_eq!(json(&events[4].1)["index"], 0);
    assert_eq!(rewriter.usage().output_tokens, Some(8));
    assert_eq!(rewriter.usage().input_tokens, Some(11));
}

#[test]
fn a_responses_stream_ends_incomplete_for_max_output_tokens() {
    let mut rewriter = metered(Api::OpenAiResponses, 5);
    let run = run_with(
        &mut rewriter,
        &input("responses-stream-text.sse"),
        &[],
        true,
        &mut |_| release(),
    );
    assert!(run.error.is_none(), "{:?}", run.error);
    let events = events(&run.output);
    let (name, data) = events.last().unwrap();
    assert_eq!(name.as_deref(), Some("response.incomplete"));
    let last = json(data);
    assert_eq!(last["response"]["status"], "incomplete");
    assert_eq!(
        last["response"]["incomplete_details"]["reason"],
        "max_output_tokens"
    );
    let previous = json(&events[events.len() - 2].1);
    assert_eq!(
        last["sequence_number"].as_u64().unwrap(),
        previous["sequence_number"].as_u64().unwrap() + 1
    );
    assert!(!String::from_utf8_lossy(&run.output).contains("output_text.delta"));
}

#[test]
fn a_tool_call_incomplete_at_the_cut_is_never_released() {
    for (api, name) in [
        (Api::OpenAiChat, "chat-stream-single.sse"),
        (Api::Anthropic, "messages-stream-single.sse"),
        (Api::OpenAiResponses, "responses-stream-single.sse"),
    ] {
        let mut rewriter = metered(api, 3);
        let run = run_with(&mut rewriter, &input(name), &[], true, &mut |_| release());
        assert!(run.error.is_none(), "{api:?}: {:?}", run.error);
        assert!(run.calls.is_empty(), "{api:?} judged a call");
        let out = String::from_utf8(run.output).unwrap();
        assert!(!out.contains("tool_calls\":[{"), "{api:?}: {out}");
        assert!(!out.contains("\"tool_use\""), "{api:?}: {out}");
        assert!(!out.contains("function_call_arguments"), "{api:?}: {out}");
    }
}

#[test]
fn an_unmetered_stream_is_never_cut() {
    let mut rewriter = StreamRewriter::new(Api::OpenAiChat, Limits::default());
    let run = run_with(
        &mut rewriter,
        &input("chat-stream-text.sse"),
        &[],
        true,
        &mut |_| release(),
    );
    assert!(!rewriter.was_cut());
    assert!(String::from_utf8(run.output).unwrap().contains("works."));
}
