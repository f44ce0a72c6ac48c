//! Shared test helpers: reading inputs, driving a `StreamRewriter`, golden comparison.

use serde_json::{Value, json};
use std::path::PathBuf;
use warden_llm::{Api, Limits, ProposedCall, ProtocolError, Step, StreamRewriter, Verdict};

pub fn data_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(relative)
}

pub fn input(name: &str) -> Vec<u8> {
    std::fs::read(data_path(&format!("input/{name}"))).unwrap()
}

pub fn input_json(name: &str) -> Value {
    serde_json::from_slice(&input(name)).unwrap()
}

/// The file-name prefix each API's recorded inputs use.
pub fn prefix(api: Api) -> &'static str {
    match api {
        Api::OpenAiChat => "chat",
        Api::OpenAiResponses => "responses",
        Api::Anthropic => "messages",
    }
}

pub const APIS: [Api; 3] = [Api::OpenAiChat, Api::OpenAiResponses, Api::Anthropic];

/// The text a gateway would put in place of a denied call.
pub fn block_text(call: &ProposedCall) -> String {
    format!(
        "[warden] Tool call `{}` was denied by rule no-destructive-shell: destructive shell \
         commands are never run by agents. Ledger record rec_{:04}.",
        call.name, call.index
    )
}

pub fn block(call: &ProposedCall) -> Verdict {
    Verdict::Block {
        text: block_text(call),
    }
}

pub fn release() -> Verdict {
    Verdict::Release { arguments: None }
}

pub fn remediated_arguments() -> Value {
    json!({"city": "Paris", "unit": "fahrenheit"})
}

/// Compares `actual` with the expected file, or rewrites it under `UPDATE_GOLDEN=1`.
pub fn assert_golden(relative: &str, actual: &[u8]) {
    let path = data_path(&format!("expected/{relative}"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run with UPDATE_GOLDEN=1)", path.display()));
    assert!(
        expected == actual,
        "{} differs:\n--- expected\n{}\n--- actual\n{}",
        path.display(),
        String::from_utf8_lossy(&expected),
        String::from_utf8_lossy(actual)
    );
}

/// What a stream run produced.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Run {
    pub output: Vec<u8>,
    pub calls: Vec<ProposedCall>,
    pub error: Option<ProtocolError>,
    pub done: bool,
}

/// Feeds `input` in the given chunk sizes (the rest in one piece), judging each call with
/// `verdict`, then finishes the stream cleanly.
pub fn run_stream(
    api: Api,
    limits: Limits,
    input: &[u8],
    cuts: &[usize],
    verdict: &mut dyn FnMut(&ProposedCall) -> Verdict,
) -> Run {
    let mut rewriter = StreamRewriter::new(api, limits);
    run_with(&mut rewriter, input, cuts, true, verdict)
}

pub fn run_with(
    rewriter: &mut StreamRewriter,
    input: &[u8],
    cuts: &[usize],
    clean: bool,
    verdict: &mut dyn FnMut(&ProposedCall) -> Verdict,
) -> Run {
    let mut run = Run::default();
    let mut start = 0;
    let mut boundaries: Vec<usize> = cuts.iter().copied().filter(|c| *c <= input.len()).collect();
    boundaries.sort_unstable();
    boundaries.push(input.len());
    for end in boundaries {
        let piece = &input[start..end.max(start)];
        start = end.max(start);
        if let Err(e) = rewriter.feed(piece) {
            run.error = Some(e);
            drain(rewriter, &mut run, verdict);
            return run;
        }
        drain(rewriter, &mut run, verdict);
        if run.error.is_some() {
            return run;
        }
    }
    if let Err(e) = rewriter.finish(clean) {
        run.error = Some(e);
    }
    drain(rewriter, &mut run, verdict);
    run
}

fn drain(
    rewriter: &mut StreamRewriter,
    run: &mut Run,
    verdict: &mut dyn FnMut(&ProposedCall) -> Verdict,
) {
    loop {
        match rewriter.poll() {
            Step::Emit(bytes) => run.output.extend_from_slice(&bytes),
            Step::Judge(call) => {
                let v = verdict(&call);
                run.calls.push(call);
                if let Err(e) = rewriter.resolve(v) {
                    run.error = Some(e);
                }
            }
            Step::NeedInput => return,
            Step::Done => {
                run.done = true;
                return;
            }
        }
    }
}
