//! The stream rewriters give the same output however the upstream bytes are chunked: split at
//! every byte boundary, fed one byte at a time, and at random cuts.

use crate::common::*;
use proptest::prelude::*;
use warden_llm::{Api, Limits, ProposedCall, Verdict};

fn verdict(call: &ProposedCall) -> Verdict {
    if call.index == 0 {
        release()
    } else {
        block(call)
    }
}

fn inputs() -> Vec<(Api, Vec<u8>)> {
    let mut all = Vec::new();
    for api in APIS {
        for case in ["single", "parallel", "text"] {
            all.push((api, input(&format!("{}-stream-{case}.sse", prefix(api)))));
        }
    }
    all
}

#[test]
fn every_single_split_point_gives_identical_output() {
    for api in APIS {
        let input = input(&format!("{}-stream-parallel.sse", prefix(api)));
        let whole = run_stream(api, Limits::default(), &input, &[], &mut verdict);
        assert_eq!(whole.error, None);
        for cut in 0..=input.len() {
            let split = run_stream(api, Limits::default(), &input, &[cut], &mut verdict);
            assert_eq!(split, whole, "{api:?} split at {cut}");
        }
    }
}

#[test]
fn byte_at_a_time_gives_identical_output() {
    for (api, input) in inputs() {
        let whole = run_stream(api, Limits::default(), &input, &[], &mut verdict);
        let cuts: Vec<usize> = (1..input.len()).collect();
        let bytewise = run_stream(api, Limits::default(), &input, &cuts, &mut verdict);
        assert_eq!(bytewise, whole, "{api:?}");
    }
}

#[test]
fn crlf_line_ends_give_the_same_events() {
    for (api, input) in inputs() {
        let text = String::from_utf8(input.clone())
            .unwrap()
            .replace('\n', "\r\n");
        let lf = run_stream(api, Limits::default(), &input, &[], &mut verdict);
        let crlf = run_stream(api, Limits::default(), text.as_bytes(), &[], &mut verdict);
        assert_eq!(crlf.error, None);
        assert_eq!(crlf.calls, lf.calls, "{api:?}");
        let a = crate::accumulate::events(&lf.output);
        let b = crate::accumulate::events(&crlf.output);
        let data = |events: &[warden_llm::SseEvent]| -> Vec<String> {
            events.iter().map(|e| e.data.clone()).collect()
        };
        assert_eq!(data(&a), data(&b), "{api:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn random_cuts_give_identical_output(which in 0usize..9, cuts in proptest::collection::vec(0usize..6000, 0..40)) {
        let (api, input) = inputs().swap_remove(which);
        let whole = run_stream(api, Limits::default(), &input, &[], &mut verdict);
        let split = run_stream(api, Limits::default(), &input, &cuts, &mut verdict);
        prop_assert_eq!(split, whole);
    }
}
