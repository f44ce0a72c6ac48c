//! Property tests: the SSE parser and every stream rewriter never panic on arbitrary bytes, and
//! the complete-response functions never panic on arbitrary JSON.

use crate::common::*;
use proptest::prelude::*;
use serde_json::Value;
use std::collections::VecDeque;
use warden_llm::{
    Api, Limits, SseParser, Verdict, apply_verdicts, proposed_calls, summarize_request,
};

fn api_of(n: u8) -> Api {
    APIS[usize::from(n % 3)]
}

/// Arbitrary bytes biased towards SSE syntax and the providers' event shapes.
fn sse_bytes() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        Just(b"data: ".to_vec()),
        Just(b"event: ".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b": c\n".to_vec()),
        Just(b"[DONE]".to_vec()),
        Just(br#"{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"t","name":"n","input":{}}}"#.to_vec()),
        Just(br#"{"type":"content_block_stop","index":0}"#.to_vec()),
        Just(br#"{"type":"response.output_item.added","output_index":0,"sequence_number":1,"item":{"type":"function_call","id":"f","call_id":"c","name":"n","arguments":""}}"#.to_vec()),
        Just(br#"{"type":"response.output_item.done","output_index":0,"sequence_number":2,"item":{"type":"function_call","id":"f","call_id":"c","name":"n","arguments":"{}"}}"#.to_vec()),
        Just(br#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c","function":{"name":"n","arguments":"{}"}}]}}]}"#.to_vec()),
        Just(br#"{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#.to_vec()),
        proptest::collection::vec(any::<u8>(), 0..16),
    ];
    proptest::collection::vec(token, 0..24).prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn sse_parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512), cut in 0usize..512) {
        let mut parser = SseParser::new(256);
        let mut out = VecDeque::new();
        let cut = cut.min(bytes.len());
        let _ = parser.push(&bytes[..cut], &mut out);
        let _ = parser.push(&bytes[cut..], &mut out);
    }

    #[test]
    fn stream_rewriters_never_panic(api in any::<u8>(), bytes in sse_bytes(), cuts in proptest::collection::vec(0usize..2048, 0..8), block_all in any::<bool>()) {
        let limits = Limits { max_event_bytes: 4096, max_tool_args_bytes: 256, max_buffered_bytes: 8192 };
        let _ = run_stream(api_of(api), limits, &bytes, &cuts, &mut |call| {
            if block_all { block(call) } else { Verdict::Release { arguments: None } }
        });
    }

    #[test]
    fn arbitrary_bytes_never_panic_a_rewriter(api in any::<u8>(), bytes in proptest::collection::vec(any::<u8>(), 0..1024)) {
        let _ = run_stream(api_of(api), Limits::default(), &bytes, &[], &mut |_| release());
    }

    #[test]
    fn complete_responses_and_requests_never_panic(api in any::<u8>(), json in json_value()) {
        let api = api_of(api);
        let _ = summarize_request(api, &json);
        if let Ok(calls) = proposed_calls(api, &json) {
            let verdicts: Vec<Verdict> = calls.iter().map(block).collect();
            let mut response = json.clone();
            prop_assert!(apply_verdicts(api, &mut response, &verdicts).is_ok());
            prop_assert!(proposed_calls(api, &response).unwrap().is_empty());
        }
    }
}

/// Arbitrary JSON shaped loosely like provider responses.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<u32>().prop_map(Value::from),
        prop_oneof![
            Just("tool_use"),
            Just("function_call"),
            Just("tool_calls"),
            Just("text"),
            Just("{}"),
            Just("x"),
            Just("custom_tool_call")
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map(
                prop_oneof![
                    Just("type"),
                    Just("content"),
                    Just("choices"),
                    Just("message"),
                    Just("tool_calls"),
                    Just("function"),
                    Just("name"),
                    Just("arguments"),
                    Just("output"),
                    Just("id"),
                    Just("input"),
                    Just("model"),
                    Just("messages"),
                    Just("finish_reason"),
                    Just("stop_reason"),
                    Just("custom")
                ]
                .prop_map(str::to_owned),
                inner,
                0..5
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Cut anywhere, cleanly or not, a call that was not judged never reaches the agent, and a
    /// call that was judged is complete.
    #[test]
    fn truncation_anywhere_never_leaks_an_unjudged_call(api in any::<u8>(), cut in any::<proptest::sample::Index>(), clean in any::<bool>(), split in any::<proptest::sample::Index>()) {
        let api = api_of(api);
        let input = input(&format!("{}-stream-parallel.sse", prefix(api)));
        let cut = cut.index(input.len() + 1);
        let head = &input[..cut];
        let split = split.index(head.len() + 1);
        let mut rewriter = warden_llm::StreamRewriter::new(api, Limits::default());
        let run = run_with(&mut rewriter, head, &[split], clean, &mut |_| release());
        let leaked = head_contains(&run.output, "\"bash\"");
        let judged = run.calls.iter().any(|c| c.name == "bash");
        prop_assert!(!leaked || judged, "unjudged call leaked at cut {}", cut);
        for call in &run.calls {
            prop_assert!(call.arguments.json().is_some(), "judged an incomplete call: {:?}", call);
        }
    }
}

fn head_contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}
