//! Cost of one mock response, in process (no sockets): request parsing, reply selection,
//! rendering and body collection, for each API shape, streaming and not. It bounds how much of a
//! gateway benchmark's latency the mock itself accounts for.

#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use criterion::{Criterion, criterion_group, criterion_main};
use http_body_util::BodyExt;
use serde_json::json;
use tower::ServiceExt;
use warden_mock_provider::{MockConfig, Script, router};

const SCRIPT: &str = r#"
replies:
  - name: answer
    text: "A typical answer of a couple of sentences, long enough to be streamed in a few dozen chunks of text."
    tool_calls:
      - { name: get_weather, arguments: { city: Paris, unit: celsius } }
"#;

fn call(runtime: &tokio::runtime::Runtime, app: &Router, path: &str, body: &str) -> usize {
    runtime.block_on(async {
        let request = Request::post(path)
            .header("content-type", "application/json")
            .body(Body::from(body.to_owned()))
            .unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .len()
    })
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let app = router(MockConfig::new(Script::from_yaml(SCRIPT).unwrap()));
    let messages = json!([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is the weather in Paris?"}]);
    for stream in [false, true] {
        let mode = if stream { "stream" } else { "json" };
        let chat =
            json!({"model": "gpt-4o-mini", "messages": messages, "stream": stream}).to_string();
        let responses = json!({"model": "gpt-4o-mini", "input": "What is the weather in Paris?", "stream": stream}).to_string();
        let anthropic = json!({"model": "claude-sonnet-4-5", "max_tokens": 512, "messages": [messages[1]], "stream": stream}).to_string();
        c.bench_function(&format!("chat_{mode}"), |b| {
            b.iter(|| call(&runtime, &app, "/v1/chat/completions", &chat))
        });
        c.bench_function(&format!("responses_{mode}"), |b| {
            b.iter(|| call(&runtime, &app, "/v1/responses", &responses))
        });
        c.bench_function(&format!("messages_{mode}"), |b| {
            b.iter(|| call(&runtime, &app, "/v1/messages", &anthropic))
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
