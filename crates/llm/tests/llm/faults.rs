//! Faults: truncation mid-call, malformed SSE and JSON, invalid UTF-8, oversize data, upstream
//! errors, misuse. In every case the held call is never released.

use crate::common::*;
use serde_json::json;
use warden_llm::{
    Api, Arguments, ErrorKind, Limits, ProtocolError, Step, StreamRewriter, Usage, Verdict,
    apply_verdicts, proposed_calls,
};

const DANGEROUS: &str = "rm -rf";

fn parallel(api: Api) -> Vec<u8> {
    input(&format!("{}-stream-parallel.sse", prefix(api)))
}

/// The input cut in the middle of the second call's arguments.
fn cut_mid_second_call(api: Api) -> Vec<u8> {
    let input = parallel(api);
    let at = find(&input, b"-rf /");
    input[..at].to_vec()
}

fn find(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .position(|w| w == needle)
        .unwrap()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

fn release_all(_: &warden_llm::ProposedCall) -> Verdict {
    release()
}

#[test]
fn a_stream_ending_mid_call_drops_the_call_and_reports_truncation() {
    for api in APIS {
        for clean in [true, false] {
            let mut rewriter = StreamRewriter::new(api, Limits::default());
            let run = run_with(
                &mut rewriter,
                &cut_mid_second_call(api),
                &[],
                clean,
                &mut release_all,
            );
            assert!(
                matches!(run.error, Some(ProtocolError::Truncated(_))),
                "{api:?}: {:?}",
                run.error
            );
            assert_eq!(run.calls.len(), 1, "only the complete first call is judged");
            assert!(
                !contains(&run.output, "bash"),
                "{api:?}: the incomplete call leaked"
            );
            assert!(
                contains(&run.output, "get_weather"),
                "{api:?}: the complete call is released"
            );
        }
    }
}

#[test]
fn final_events_arriving_while_a_call_is_open_are_truncation() {
    // The second call's closing events are removed; the final events follow directly.
    let cases = [
        (
            Api::Anthropic,
            "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":2}\n\n",
        ),
        (
            Api::OpenAiChat,
            "data: {\"id\":\"chatcmpl-mock000001\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"gpt-4o-mini\",\"service_tier\":\"default\",\"system_fingerprint\":\"fp_mock\",\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"tool_calls\"}],\"usage\":null}\n\n",
        ),
    ];
    for (api, removed) in cases {
        let text = String::from_utf8(parallel(api)).unwrap();
        assert!(text.contains(removed));
        let input = text.replace(removed, "");
        let run = run_stream(
            api,
            Limits::default(),
            input.as_bytes(),
            &[],
            &mut release_all,
        );
        assert!(
            matches!(run.error, Some(ProtocolError::Truncated(_))),
            "{api:?}: {:?}",
            run.error
        );
        assert!(!contains(&run.output, DANGEROUS), "{api:?}");
    }
}

#[test]
fn malformed_json_while_a_call_is_held_releases_nothing_more() {
    for api in APIS {
        let input = parallel(api);
        let at = find(&input, b"-rf /");
        let mut broken = input[..at].to_vec();
        broken.extend_from_slice(b"\n\ndata: {not json\n\n");
        broken.extend_from_slice(&input[at..]);
        let run = run_stream(api, Limits::default(), &broken, &[], &mut release_all);
        assert!(
            matches!(run.error, Some(ProtocolError::Malformed(_))),
            "{api:?}: {:?}",
            run.error
        );
        assert!(!contains(&run.output, "bash"), "{api:?}");
    }
}

#[test]
fn invalid_utf8_inside_a_call_is_malformed_and_not_released() {
    for api in APIS {
        let mut input = parallel(api);
        let at = find(&input, b"-rf /");
        input[at] = 0xFF;
        let run = run_stream(api, Limits::default(), &input, &[], &mut release_all);
        assert!(
            matches!(run.error, Some(ProtocolError::Malformed(_))),
            "{api:?}: {:?}",
            run.error
        );
        assert!(!contains(&run.output, "bash"), "{api:?}");
    }
}

#[test]
fn oversize_arguments_are_refused_and_not_released() {
    for api in APIS {
        let limits = Limits {
            max_tool_args_bytes: 12,
            ..Limits::default()
        };
        let run = run_stream(api, limits, &parallel(api), &[], &mut release_all);
        assert_eq!(
            run.error,
            Some(ProtocolError::TooLarge {
                what: "tool call arguments",
                limit: 12
            }),
            "{api:?}"
        );
        assert!(!contains(&run.output, DANGEROUS), "{api:?}");
        assert!(run.calls.iter().all(|c| c.name != "bash"));
    }
}

#[test]
fn oversize_events_and_held_bytes_are_refused() {
    for api in APIS {
        let limits = Limits {
            max_event_bytes: 64,
            ..Limits::default()
        };
        let run = run_stream(api, limits, &parallel(api), &[], &mut release_all);
        assert!(matches!(
            run.error,
            Some(ProtocolError::TooLarge {
                what: "SSE event",
                ..
            })
        ));
        let limits = Limits {
            max_buffered_bytes: 600,
            ..Limits::default()
        };
        let run = run_stream(api, limits, &parallel(api), &[], &mut release_all);
        assert!(
            matches!(
                run.error,
                Some(ProtocolError::TooLarge {
                    what: "held stream data",
                    ..
                })
            ),
            "{api:?}: {:?}",
            run.error
        );
        assert!(!contains(&run.output, DANGEROUS), "{api:?}");
    }
}

#[test]
fn a_failed_rewriter_stays_failed() {
    let mut rewriter = StreamRewriter::new(Api::Anthropic, Limits::default());
    let error = rewriter.feed(b"data: {oops\n\n").unwrap_err();
    assert_eq!(rewriter.feed(b"data: {}\n\n"), Err(error.clone()));
    assert_eq!(rewriter.resolve(release()), Err(error.clone()));
    assert_eq!(rewriter.finish(true), Err(error));
    assert_eq!(rewriter.poll(), Step::Done);
}

#[test]
fn misuse_is_reported() {
    let mut rewriter = StreamRewriter::new(Api::OpenAiChat, Limits::default());
    assert!(matches!(
        rewriter.resolve(release()),
        Err(ProtocolError::InvalidState(_))
    ));
    let mut rewriter = StreamRewriter::new(Api::OpenAiChat, Limits::default());
    rewriter.finish(true).unwrap();
    assert!(matches!(
        rewriter.feed(b"data: x\n\n"),
        Err(ProtocolError::InvalidState(_))
    ));
    assert_eq!(rewriter.poll(), Step::Done);
}

#[test]
fn polling_while_a_verdict_is_pending_yields_the_same_call() {
    let mut rewriter = StreamRewriter::new(Api::Anthropic, Limits::default());
    rewriter.feed(&parallel(Api::Anthropic)).unwrap();
    while let Step::Emit(_) = rewriter.poll() {}
    let first = rewriter.poll();
    assert!(matches!(&first, Step::Judge(c) if c.name == "get_weather"));
    assert_eq!(rewriter.poll(), first);
}

#[test]
fn an_upstream_error_event_ends_the_call_without_releasing_it() {
    let cut = String::from_utf8(cut_mid_second_call(Api::Anthropic)).unwrap();
    let start = cut.rfind("event: ").unwrap();
    let input = format!(
        "{}event: error\ndata: {{\"type\":\"error\",\"error\":{{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}}}\n\n",
        &cut[..start]
    );
    let run = run_stream(
        Api::Anthropic,
        Limits::default(),
        input.as_bytes(),
        &[],
        &mut release_all,
    );
    assert_eq!(run.error, None);
    assert!(contains(&run.output, "overloaded_error"));
    assert!(!contains(&run.output, "\"bash\""));
}

#[test]
fn unparseable_arguments_are_judged_as_invalid_and_never_released_as_is() {
    let text = String::from_utf8(input("messages-stream-single.sse")).unwrap();
    let input = text.replace("\"partial_json\":\"}\"", "\"partial_json\":\"\"");
    assert_ne!(input, text, "fixture changed");
    let run = run_stream(
        Api::Anthropic,
        Limits::default(),
        input.as_bytes(),
        &[],
        &mut release_all,
    );
    assert_eq!(run.error, None);
    assert!(matches!(run.calls[0].arguments, Arguments::Invalid { .. }));
    let summary = crate::accumulate::stream(Api::Anthropic, &run.output);
    assert!(summary.calls.is_empty());
    assert!(summary.text.contains("not valid JSON"));
    assert_eq!(summary.stop.as_deref(), Some("end_turn"));
}

#[test]
fn done_without_finish_reason_while_a_chat_call_is_open_is_truncation() {
    let text = String::from_utf8(parallel(Api::OpenAiChat)).unwrap();
    let cut = text.find("\"finish_reason\":\"tool_calls\"").unwrap();
    let start = text[..cut].rfind("data: ").unwrap();
    let input = format!("{}data: [DONE]\n\n", &text[..start]);
    let run = run_stream(
        Api::OpenAiChat,
        Limits::default(),
        input.as_bytes(),
        &[],
        &mut release_all,
    );
    assert!(
        matches!(run.error, Some(ProtocolError::Truncated(id)) if id == "tool call call_mock000001_1")
    );
    assert!(!contains(&run.output, DANGEROUS));
}

#[test]
fn usage_is_recorded_and_the_chat_usage_chunk_can_be_stripped() {
    let input = parallel(Api::OpenAiChat);
    let mut rewriter =
        StreamRewriter::new(Api::OpenAiChat, Limits::default()).strip_usage_chunk(true);
    let run = run_with(&mut rewriter, &input, &[], true, &mut release_all);
    assert_eq!(run.error, None);
    assert!(!contains(&run.output, "prompt_tokens"));
    assert!(contains(&run.output, "[DONE]"));
    let usage = rewriter.usage();
    assert_eq!(
        (usage.input_tokens, usage.output_tokens),
        (Some(42), Some(17))
    );

    let mut kept = StreamRewriter::new(Api::OpenAiChat, Limits::default());
    let run = run_with(&mut kept, &input, &[], true, &mut release_all);
    assert!(contains(&run.output, "prompt_tokens"));

    for api in [Api::Anthropic, Api::OpenAiResponses] {
        let mut rewriter = StreamRewriter::new(api, Limits::default());
        run_with(&mut rewriter, &parallel(api), &[], true, &mut release_all);
        let usage: Usage = rewriter.usage();
        assert_eq!(
            (usage.input_tokens, usage.output_tokens),
            (Some(42), Some(17)),
            "{api:?}"
        );
    }
}

#[test]
fn responses_error_events_continue_the_sequence_numbers() {
    let mut rewriter = StreamRewriter::new(Api::OpenAiResponses, Limits::default());
    let run = run_with(
        &mut rewriter,
        &cut_mid_second_call(Api::OpenAiResponses),
        &[],
        false,
        &mut release_all,
    );
    assert!(run.error.is_some());
    let emitted = crate::accumulate::events(&run.output).len();
    let event =
        String::from_utf8(rewriter.error_event(ErrorKind::Internal, "upstream failed")).unwrap();
    assert!(
        event.contains(&format!("\"sequence_number\":{emitted}")),
        "{event}"
    );
}

#[test]
fn legacy_function_call_is_refused() {
    let response = json!({"choices": [{"index": 0, "message": {"role": "assistant",
        "function_call": {"name": "bash", "arguments": "{}"}}, "finish_reason": "function_call"}]});
    assert!(matches!(
        proposed_calls(Api::OpenAiChat, &response),
        Err(ProtocolError::Unsupported(_))
    ));
    let chunk = b"data: {\"choices\":[{\"index\":0,\"delta\":{\"function_call\":{\"name\":\"bash\"}}}]}\n\n";
    let run = run_stream(
        Api::OpenAiChat,
        Limits::default(),
        chunk,
        &[],
        &mut release_all,
    );
    assert!(matches!(run.error, Some(ProtocolError::Unsupported(_))));
    assert!(run.output.is_empty());
}

#[test]
fn verdict_count_mismatch_leaves_the_response_unchanged() {
    for api in APIS {
        let original = input_json(&format!("{}-json-parallel.json", prefix(api)));
        let mut response = original.clone();
        let error = apply_verdicts(api, &mut response, &[release()]).unwrap_err();
        assert_eq!(
            error,
            ProtocolError::VerdictCount {
                expected: 2,
                got: 1
            }
        );
        assert_eq!(response, original);
    }
}

#[test]
fn malformed_complete_responses_are_refused() {
    for api in APIS {
        assert!(
            matches!(
                proposed_calls(api, &json!({"id": "x"})),
                Err(ProtocolError::Malformed(_))
            ),
            "{api:?}"
        );
    }
    let nameless = json!({"content": [{"type": "tool_use", "id": "t", "input": {}}]});
    assert!(matches!(
        proposed_calls(Api::Anthropic, &nameless),
        Err(ProtocolError::Malformed(_))
    ));
}

#[test]
fn an_unclean_end_before_the_final_event_is_truncation_even_without_a_call() {
    for api in APIS {
        let input = input(&format!("{}-stream-text.sse", prefix(api)));
        let half = &input[..input.len() / 2];
        let mut rewriter = StreamRewriter::new(api, Limits::default());
        let run = run_with(&mut rewriter, half, &[], false, &mut release_all);
        assert_eq!(
            run.error,
            Some(ProtocolError::Truncated("the response".into())),
            "{api:?}"
        );
        let mut rewriter = StreamRewriter::new(api, Limits::default());
        let run = run_with(&mut rewriter, half, &[], true, &mut release_all);
        assert_eq!(
            run.error, None,
            "{api:?}: a clean end without a call pending is accepted"
        );
        let mut rewriter = StreamRewriter::new(api, Limits::default());
        let run = run_with(&mut rewriter, &input, &[], false, &mut release_all);
        assert_eq!(run.error, None, "{api:?}: the final event was seen");
    }
}

#[test]
fn responses_items_interleaved_with_a_held_call_wait_for_it() {
    // Start the second call before the first one's arguments arrive.
    let text = String::from_utf8(parallel(Api::OpenAiResponses)).unwrap();
    let events: Vec<&str> = text.split_inclusive("\n\n").collect();
    let second = events
        .iter()
        .position(|e| e.contains("output_item.added") && e.contains("\"output_index\":2"))
        .unwrap();
    let first = events
        .iter()
        .position(|e| e.contains("output_item.added") && e.contains("\"output_index\":1"))
        .unwrap();
    let mut reordered: Vec<&str> = events.clone();
    let moved = reordered.remove(second);
    reordered.insert(first + 1, moved);
    let input = reordered.concat();
    for deny_first in [true, false] {
        let run = run_stream(
            Api::OpenAiResponses,
            Limits::default(),
            input.as_bytes(),
            &[],
            &mut |c| {
                if (c.index == 0) == deny_first {
                    block(c)
                } else {
                    release()
                }
            },
        );
        assert_eq!(run.error, None);
        assert_eq!(run.calls.len(), 2);
        // The accumulator checks output_index order and contiguous sequence numbers.
        let summary = crate::accumulate::stream(Api::OpenAiResponses, &run.output);
        assert_eq!(summary.calls.len(), 1);
    }
}

#[test]
fn the_rewriter_can_move_between_threads() {
    fn assert_send<T: Send>(_: &T) {}
    assert_send(&StreamRewriter::new(Api::OpenAiChat, Limits::default()));
}
