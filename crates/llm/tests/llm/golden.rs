//! Golden conversions: each API × {complete, stream} × {allowed, denied, remediated, parallel
//! with one denied}, plus text-only responses that must pass through unchanged. Each stream
//! result is also accumulated as an SDK would and compared with the complete-response result.

use crate::accumulate::{self, Summary};
use crate::common::*;
use serde_json::Value;
use warden_llm::{Api, Limits, ProposedCall, Verdict, apply_verdicts, proposed_calls};

#[derive(Clone, Copy, Debug)]
enum Case {
    Allowed,
    Denied,
    Remediated,
    Parallel,
}

const CASES: [Case; 4] = [
    Case::Allowed,
    Case::Denied,
    Case::Remediated,
    Case::Parallel,
];

impl Case {
    fn name(self) -> &'static str {
        match self {
            Case::Allowed => "allowed",
            Case::Denied => "denied",
            Case::Remediated => "remediated",
            Case::Parallel => "parallel",
        }
    }

    fn input(self) -> &'static str {
        match self {
            Case::Parallel => "parallel",
            _ => "single",
        }
    }

    fn verdict(self, call: &ProposedCall) -> Verdict {
        match self {
            Case::Allowed => release(),
            Case::Denied => block(call),
            Case::Remediated => Verdict::Release {
                arguments: Some(remediated_arguments()),
            },
            Case::Parallel if call.index == 0 => release(),
            Case::Parallel => block(call),
        }
    }
}

fn complete_case(api: Api, case: Case) -> Value {
    let mut response = input_json(&format!("{}-json-{}.json", prefix(api), case.input()));
    let calls = proposed_calls(api, &response).unwrap();
    let verdicts: Vec<Verdict> = calls.iter().map(|c| case.verdict(c)).collect();
    apply_verdicts(api, &mut response, &verdicts).unwrap();
    response
}

fn stream_case(api: Api, case: Case) -> crate::common::Run {
    let input = input(&format!("{}-stream-{}.sse", prefix(api), case.input()));
    let run = run_stream(api, Limits::default(), &input, &[], &mut |c| {
        case.verdict(c)
    });
    assert_eq!(run.error, None, "{api:?} {case:?}");
    assert!(run.done);
    run
}

#[test]
fn complete_responses_match_golden_files() {
    for api in APIS {
        for case in CASES {
            let response = complete_case(api, case);
            let mut text = serde_json::to_vec_pretty(&response).unwrap();
            text.push(b'\n');
            assert_golden(&format!("{}-json-{}.json", prefix(api), case.name()), &text);
        }
    }
}

#[test]
fn streams_match_golden_files() {
    for api in APIS {
        for case in CASES {
            let run = stream_case(api, case);
            assert_golden(
                &format!("{}-stream-{}.sse", prefix(api), case.name()),
                &run.output,
            );
        }
    }
}

#[test]
fn streams_judge_the_same_calls_as_complete_responses() {
    for api in APIS {
        for case in CASES {
            let json = input_json(&format!("{}-json-{}.json", prefix(api), case.input()));
            let expected = proposed_calls(api, &json).unwrap();
            let run = stream_case(api, case);
            assert_eq!(run.calls, expected, "{api:?} {case:?}");
        }
    }
}

#[test]
fn streams_accumulate_to_what_complete_responses_deliver() {
    for api in APIS {
        for case in CASES {
            let streamed = accumulate::stream(api, &stream_case(api, case).output);
            let complete = accumulate::complete(api, &complete_case(api, case));
            assert_eq!(streamed, complete, "{api:?} {case:?}");
        }
    }
}

fn expected_stop(api: Api, calls_left: bool) -> &'static str {
    match (api, calls_left) {
        (Api::OpenAiChat, true) => "tool_calls",
        (Api::OpenAiChat, false) => "stop",
        (Api::Anthropic, true) => "tool_use",
        (Api::Anthropic, false) => "end_turn",
        (Api::OpenAiResponses, _) => "completed",
    }
}

#[test]
fn denied_calls_are_replaced_by_text_and_the_stop_reason_is_corrected() {
    for api in APIS {
        let summary: Summary = accumulate::complete(api, &complete_case(api, Case::Denied));
        assert!(summary.calls.is_empty(), "{api:?}");
        assert!(
            summary.text.contains("`get_weather` was denied"),
            "{api:?}: {}",
            summary.text
        );
        assert!(summary.text.contains("rec_0000"), "{api:?}");
        assert_eq!(
            summary.stop.as_deref(),
            Some(expected_stop(api, false)),
            "{api:?}"
        );
    }
}

#[test]
fn parallel_calls_are_judged_each_on_its_own() {
    for api in APIS {
        let summary = accumulate::stream(api, &stream_case(api, Case::Parallel).output);
        assert_eq!(summary.calls.len(), 1, "{api:?}");
        assert_eq!(summary.calls[0].0, "get_weather");
        assert!(summary.text.starts_with("Checking both."), "{api:?}");
        assert!(summary.text.contains("`bash` was denied"), "{api:?}");
        assert!(summary.text.contains("rec_0001"), "{api:?}");
        assert_eq!(
            summary.stop.as_deref(),
            Some(expected_stop(api, true)),
            "{api:?}"
        );
    }
}

#[test]
fn remediated_calls_carry_the_rewritten_arguments() {
    for api in APIS {
        for summary in [
            accumulate::stream(api, &stream_case(api, Case::Remediated).output),
            accumulate::complete(api, &complete_case(api, Case::Remediated)),
        ] {
            assert_eq!(
                summary.calls,
                vec![("get_weather".to_owned(), remediated_arguments())]
            );
            assert_eq!(
                summary.stop.as_deref(),
                Some(expected_stop(api, true)),
                "{api:?}"
            );
        }
    }
}

#[test]
fn allowed_streams_replay_the_original_bytes_of_every_event() {
    // Anthropic and Responses hold whole events and replay their original bytes; only events
    // unrelated to the held call (Anthropic's `ping`) may overtake it.
    for api in [Api::Anthropic, Api::OpenAiResponses] {
        let input = input(&format!("{}-stream-single.sse", prefix(api)));
        let raw = |bytes: &[u8]| {
            let mut events: Vec<Vec<u8>> = accumulate::events(bytes)
                .into_iter()
                .map(|e| e.raw)
                .collect();
            events.sort();
            events
        };
        let output = stream_case(api, Case::Allowed).output;
        assert_eq!(output.len(), input.len(), "{api:?}");
        assert_eq!(raw(&output), raw(&input), "{api:?}");
    }
}

#[test]
fn text_only_responses_pass_through_unchanged() {
    for api in APIS {
        let input = input(&format!("{}-stream-text.sse", prefix(api)));
        let run = run_stream(api, Limits::default(), &input, &[], &mut |_| {
            unreachable_verdict()
        });
        assert_eq!(run.output, input, "{api:?}");
        assert!(run.calls.is_empty());
        let original = input_json(&format!("{}-json-text.json", prefix(api)));
        let mut response = original.clone();
        apply_verdicts(api, &mut response, &[]).unwrap();
        assert_eq!(response, original, "{api:?}");
    }
}

fn unreachable_verdict() -> Verdict {
    panic!("a text-only response proposes no call")
}

#[test]
fn a_denied_first_call_shifts_later_calls_down_to_contiguous_indexes() {
    let first_denied = |call: &ProposedCall| {
        if call.index == 0 {
            block(call)
        } else {
            release()
        }
    };
    for api in APIS {
        let input = input(&format!("{}-stream-parallel.sse", prefix(api)));
        let run = run_stream(api, Limits::default(), &input, &[], &mut |c| {
            first_denied(c)
        });
        assert_eq!(run.error, None);
        // The accumulator asserts contiguous indexes, block indexes and sequence numbers.
        let streamed = accumulate::stream(api, &run.output);
        assert_eq!(streamed.calls.len(), 1, "{api:?}");
        assert_eq!(streamed.calls[0].0, "bash");
        assert!(streamed.text.contains("`get_weather` was denied"));

        let mut response = input_json(&format!("{}-json-parallel.json", prefix(api)));
        let verdicts: Vec<Verdict> = proposed_calls(api, &response)
            .unwrap()
            .iter()
            .map(first_denied)
            .collect();
        apply_verdicts(api, &mut response, &verdicts).unwrap();
        assert_eq!(accumulate::complete(api, &response), streamed, "{api:?}");
    }
}
