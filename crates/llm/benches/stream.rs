//! Stream rewriting cost. Text streams are what the agent waits on, so the claim to check is
//! that the rewriter adds nothing noticeable per event: each API's text stream is rewritten in
//! 4 KiB upstream chunks and compared, in the same run, with copying the same chunks straight
//! through (what a proxy without Warden does). Tool-call streams (two parallel calls, one denied)
//! show the cost of holding, judging and re-emitting calls.
//!
//! `cargo bench -p warden-llm --bench stream` prints criterion figures, then a summary with
//! nanoseconds per event and the ratio against the direct copy.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use criterion::{Criterion, Throughput};
use std::hint::black_box;
use std::time::Instant;
use warden_llm::{Api, Limits, Step, StreamRewriter, Verdict};

const TEXT_EVENTS: usize = 2_000;
const CHUNK: usize = 4096;

fn chat_text(n: usize) -> Vec<u8> {
    let head = r#""id":"chatcmpl-b","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o-mini","system_fingerprint":"fp_b""#;
    let mut s = format!(
        "data: {{{head},\"choices\":[{{\"index\":0,\"delta\":{{\"role\":\"assistant\",\"content\":\"\"}},\"logprobs\":null,\"finish_reason\":null}}]}}\n\n"
    );
    for i in 0..n {
        s += &format!(
            "data: {{{head},\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"word{i} \"}},\"logprobs\":null,\"finish_reason\":null}}]}}\n\n"
        );
    }
    s += &format!(
        "data: {{{head},\"choices\":[{{\"index\":0,\"delta\":{{}},\"logprobs\":null,\"finish_reason\":\"stop\"}}]}}\n\ndata: [DONE]\n\n"
    );
    s.into_bytes()
}

fn anthropic_text(n: usize) -> Vec<u8> {
    let mut s = String::from(
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_b\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":10,\"output_tokens\":1}}}\n\n",
    );
    s += "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n";
    for i in 0..n {
        s += &format!(
            "event: content_block_delta\ndata: {{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"text_delta\",\"text\":\"word{i} \"}}}}\n\n"
        );
    }
    s += "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n";
    s += "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":2000}}\n\n";
    s += "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
    s.into_bytes()
}

fn responses_text(n: usize) -> Vec<u8> {
    let mut seq = 0;
    let mut s = String::new();
    let mut event = |s: &mut String, kind: &str, body: &str| {
        *s += &format!(
            "event: {kind}\ndata: {{\"type\":\"{kind}\",\"sequence_number\":{seq},{body}}}\n\n"
        );
        seq += 1;
    };
    event(
        &mut s,
        "response.created",
        r#""response":{"id":"resp_b","object":"response","status":"in_progress","output":[]}"#,
    );
    event(
        &mut s,
        "response.output_item.added",
        r#""output_index":0,"item":{"id":"msg_b","type":"message","status":"in_progress","content":[],"role":"assistant"}"#,
    );
    event(
        &mut s,
        "response.content_part.added",
        r#""item_id":"msg_b","output_index":0,"content_index":0,"part":{"type":"output_text","annotations":[],"text":""}"#,
    );
    for i in 0..n {
        event(
            &mut s,
            "response.output_text.delta",
            &format!(
                r#""item_id":"msg_b","output_index":0,"content_index":0,"delta":"word{i} ","logprobs":[]"#
            ),
        );
    }
    event(
        &mut s,
        "response.output_text.done",
        r#""item_id":"msg_b","output_index":0,"content_index":0,"text":"...","logprobs":[]"#,
    );
    event(
        &mut s,
        "response.completed",
        r#""response":{"id":"resp_b","object":"response","status":"completed","output":[{"id":"msg_b","type":"message","status":"completed","content":[{"type":"output_text","annotations":[],"text":"..."}],"role":"assistant"}],"usage":{"input_tokens":10,"output_tokens":2000}}"#,
    );
    s.into_bytes()
}

fn tool_stream(api: Api) -> Vec<u8> {
    let name = match api {
        Api::OpenAiChat => "chat",
        Api::OpenAiResponses => "responses",
        Api::Anthropic => "messages",
    };
    let path = format!(
        "{}/tests/data/input/{name}-stream-parallel.sse",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(path).unwrap()
}

/// Rewrites `input` fed in `CHUNK`-byte pieces; denies every call but the first.
fn rewrite(api: Api, input: &[u8]) -> usize {
    let mut rewriter = StreamRewriter::new(api, Limits::default());
    let mut sent = 0;
    let mut drain = |rewriter: &mut StreamRewriter| loop {
        match rewriter.poll() {
            Step::Emit(bytes) => sent += black_box(bytes).len(),
            Step::Judge(call) => {
                let verdict = if call.index == 0 {
                    Verdict::Release { arguments: None }
                } else {
                    Verdict::Block {
                        text: format!("Tool call `{}` denied.", call.name),
                    }
                };
                rewriter.resolve(verdict).unwrap();
            }
            Step::NeedInput | Step::Done => break,
        }
    };
    for piece in input.chunks(CHUNK) {
        rewriter.feed(piece).unwrap();
        drain(&mut rewriter);
    }
    rewriter.finish(true).unwrap();
    drain(&mut rewriter);
    sent
}

/// What a proxy without Warden does with the same chunks.
fn copy(input: &[u8]) -> usize {
    let mut sent = 0;
    for piece in input.chunks(CHUNK) {
        sent += black_box(piece.to_vec()).len();
    }
    sent
}

fn cases() -> Vec<(&'static str, Api, Vec<u8>)> {
    vec![
        ("chat", Api::OpenAiChat, chat_text(TEXT_EVENTS)),
        (
            "responses",
            Api::OpenAiResponses,
            responses_text(TEXT_EVENTS),
        ),
        ("anthropic", Api::Anthropic, anthropic_text(TEXT_EVENTS)),
    ]
}

fn benches(c: &mut Criterion) {
    for (name, api, input) in cases() {
        let mut group = c.benchmark_group(format!("text_stream/{name}"));
        group.throughput(Throughput::Bytes(input.len() as u64));
        group.bench_function("direct_copy", |b| b.iter(|| copy(black_box(&input))));
        group.bench_function("rewriter", |b| b.iter(|| rewrite(api, black_box(&input))));
        group.finish();
        let tools = tool_stream(api);
        let mut group = c.benchmark_group(format!("tool_stream/{name}"));
        group.throughput(Throughput::Bytes(tools.len() as u64));
        group.bench_function("rewriter", |b| b.iter(|| rewrite(api, black_box(&tools))));
        group.finish();
    }
}

/// Median of `runs` timings of `f`, in nanoseconds.
fn median_ns(runs: usize, mut f: impl FnMut() -> usize) -> f64 {
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            black_box(f());
            start.elapsed().as_nanos() as f64
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn summary() {
    println!(
        "\nsummary ({TEXT_EVENTS} text events per stream, {CHUNK}-byte upstream chunks, median of 200 runs)"
    );
    println!(
        "{:<10} {:>12} {:>12} {:>12} {:>14} {:>10}",
        "api", "copy µs", "rewrite µs", "ns/event", "rewrite MB/s", "ratio"
    );
    for (name, api, input) in cases() {
        assert_eq!(
            rewrite(api, &input),
            input.len(),
            "untouched text streams pass through byte for byte"
        );
        let direct = median_ns(200, || copy(&input));
        let rewritten = median_ns(200, || rewrite(api, &input));
        println!(
            "{name:<10} {:>12.1} {:>12.1} {:>12.0} {:>14.0} {:>9.1}x",
            direct / 1e3,
            rewritten / 1e3,
            rewritten / TEXT_EVENTS as f64,
            input.len() as f64 / (rewritten / 1e9) / 1e6,
            rewritten / direct
        );
    }
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    benches(&mut criterion);
    criterion.final_summary();
    summary();
}
