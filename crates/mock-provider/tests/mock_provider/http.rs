//! Behaviour over HTTP: provider keys, bad requests, limits, reply selection, stream reassembly
//! and injected faults.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use warden_mock_provider::{FixedClock, MockConfig, Script};

use crate::common::{NOW, app, app_with, post, send, sse_events, sse_payloads};

const CHAT: &str = "/v1/chat/completions";
const RESPONSES: &str = "/v1/responses";
const MESSAGES: &str = "/v1/messages";

fn chat_body(user: &str, stream: bool) -> String {
    json!({"model": "m", "messages": [{"role": "user", "content": user}], "stream": stream})
        .to_string()
}

fn messages_body(user: &str, stream: bool) -> String {
    json!({"model": "c", "max_tokens": 64, "messages": [{"role": "user", "content": user}], "stream": stream}).to_string()
}

fn responses_body(input: Value, stream: bool) -> String {
    json!({"model": "m", "input": input, "stream": stream}).to_string()
}

const HELLO: &str = "replies:\n  - name: hello\n    text: hi\n";

#[tokio::test]
async fn provider_key_is_checked_in_each_providers_shape() {
    let app = app(&format!("api_key: sekrit\n{HELLO}"));
    let missing = post(&app, CHAT, &[], chat_body("x", false)).await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    assert_eq!(missing.json()["error"]["code"], "invalid_api_key");
    let wrong = post(
        &app,
        CHAT,
        &[("authorization", "Bearer nope")],
        chat_body("x", false),
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let right = post(
        &app,
        CHAT,
        &[("authorization", "Bearer sekrit")],
        chat_body("x", false),
    )
    .await;
    assert_eq!(right.status, StatusCode::OK);

    let missing = post(&app, MESSAGES, &[], messages_body("x", false)).await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        missing.json(),
        json!({"type": "error", "error": {"type": "authentication_error", "message": "You didn't provide an API key."}})
    );
    let wrong = post(
        &app,
        MESSAGES,
        &[("x-api-key", "nope")],
        messages_body("x", false),
    )
    .await;
    assert_eq!(wrong.json()["error"]["type"], "authentication_error");
    let right = post(
        &app,
        MESSAGES,
        &[("x-api-key", "sekrit")],
        messages_body("x", false),
    )
    .await;
    assert_eq!(right.status, StatusCode::OK);
    let bearer = post(
        &app,
        MESSAGES,
        &[("authorization", "Bearer sekrit")],
        messages_body("x", false),
    )
    .await;
    assert_eq!(bearer.status, StatusCode::OK);

    let models = send(
        &app,
        Request::get("/v1/models").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(models.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn without_a_scripted_key_any_key_is_accepted() {
    let app = app(HELLO);
    let answer = post(
        &app,
        CHAT,
        &[("authorization", "Bearer whatever")],
        chat_body("x", false),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    let answer = post(&app, MESSAGES, &[], messages_body("x", false)).await;
    assert_eq!(answer.status, StatusCode::OK);
}

#[tokio::test]
async fn malformed_json_is_a_400_in_the_provider_shape() {
    let app = app(HELLO);
    let openai = post(&app, CHAT, &[], "{not json").await;
    assert_eq!(openai.status, StatusCode::BAD_REQUEST);
    assert_eq!(openai.json()["error"]["type"], "invalid_request_error");
    assert_eq!(openai.header("content-type"), "application/json");
    let anthropic = post(&app, MESSAGES, &[], "[1, 2]").await;
    assert_eq!(anthropic.status, StatusCode::BAD_REQUEST);
    assert_eq!(anthropic.json()["type"], "error");
    assert_eq!(anthropic.json()["error"]["type"], "invalid_request_error");
}

#[tokio::test]
async fn missing_required_fields_are_named() {
    let app = app(HELLO);
    let no_max = post(
        &app,
        MESSAGES,
        &[],
        json!({"model": "c", "messages": []}).to_string(),
    )
    .await;
    assert_eq!(no_max.status, StatusCode::BAD_REQUEST);
    assert!(
        no_max.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("max_tokens")
    );
    let no_messages = post(&app, CHAT, &[], json!({"model": "m"}).to_string()).await;
    assert_eq!(no_messages.json()["error"]["param"], "messages");
    let bad_input = post(
        &app,
        RESPONSES,
        &[],
        json!({"model": "m", "input": 3}).to_string(),
    )
    .await;
    assert_eq!(bad_input.json()["error"]["param"], "input");
}

#[tokio::test]
async fn unknown_request_fields_are_ignored() {
    let app = app(HELLO);
    let body = json!({"model": "m", "messages": [{"role": "user", "content": "x", "extra": 1}], "frobnicate": {"a": [1]}, "temperature": 0.2});
    let answer = post(&app, CHAT, &[], body.to_string()).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.json()["choices"][0]["message"]["content"], "hi");
}

#[tokio::test]
async fn oversized_body_is_a_413_in_the_provider_shape() {
    let script = Script::from_yaml(HELLO).unwrap();
    let app = app_with(MockConfig {
        body_limit: 1024,
        ..MockConfig::new(script)
    });
    let big = chat_body(&"a".repeat(2000), false);
    let openai = post(&app, CHAT, &[], big.clone()).await;
    assert_eq!(openai.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(openai.json()["error"]["type"], "invalid_request_error");
    let anthropic = post(&app, MESSAGES, &[], big).await;
    assert_eq!(anthropic.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(anthropic.json()["error"]["type"], "request_too_large");
}

const SELECTION: &str = r#"
default: plain
replies:
  - name: wrap-up
    when: { after_tool_result: true }
    text: done
  - name: rm
    when: { last_user_contains: "delete" }
    tool_calls: [{ name: bash, arguments: { command: "rm -rf /" } }]
  - name: for-model
    when: { model: special }
    text: special
  - name: plain
    text: plain
"#;

#[tokio::test]
async fn replies_are_chosen_by_header_then_conditions_then_default() {
    let app = app(SELECTION);
    let content = |a: &crate::common::Answer| a.json()["choices"][0]["message"].clone();
    let plain = post(&app, CHAT, &[], chat_body("hello", false)).await;
    assert_eq!(content(&plain)["content"], "plain");
    let rm = post(&app, CHAT, &[], chat_body("please delete it", false)).await;
    assert_eq!(
        content(&rm)["tool_calls"][0]["function"]["arguments"],
        r#"{"command":"rm -rf /"}"#
    );
    assert_eq!(rm.json()["choices"][0]["finish_reason"], "tool_calls");
    let named = post(
        &app,
        CHAT,
        &[("warden-mock-reply", "wrap-up")],
        chat_body("delete", false),
    )
    .await;
    assert_eq!(content(&named)["content"], "done");
    let model = json!({"model": "special", "messages": [{"role": "user", "content": "x"}]});
    assert_eq!(
        content(&post(&app, CHAT, &[], model.to_string()).await)["content"],
        "special"
    );

    let after_tool = json!({"model": "m", "messages": [
        {"role": "user", "content": "delete it"},
        {"role": "assistant", "content": null, "tool_calls": [{"id": "c", "type": "function", "function": {"name": "bash", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c", "content": "ok"}
    ]});
    assert_eq!(
        content(&post(&app, CHAT, &[], after_tool.to_string()).await)["content"],
        "done"
    );

    let anthropic_after_tool = json!({"model": "c", "max_tokens": 9, "messages": [
        {"role": "user", "content": [{"type": "text", "text": "delete it"}]},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "bash", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "ok"}]}
    ]});
    let answer = post(&app, MESSAGES, &[], anthropic_after_tool.to_string()).await;
    assert_eq!(answer.json()["content"][0]["text"], "done");
    let anthropic_rm = post(&app, MESSAGES, &[], messages_body("delete", false)).await;
    assert_eq!(
        anthropic_rm.json()["content"][0]["input"],
        json!({"command": "rm -rf /"})
    );
    assert_eq!(anthropic_rm.json()["stop_reason"], "tool_use");

    let responses_rm = post(&app, RESPONSES, &[], responses_body(json!("delete"), false)).await;
    assert_eq!(responses_rm.json()["output"][0]["name"], "bash");
    let responses_after = json!([
        {"role": "user", "content": [{"type": "input_text", "text": "delete"}]},
        {"type": "function_call", "call_id": "c", "name": "bash", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c", "output": "ok"}
    ]);
    let answer = post(&app, RESPONSES, &[], responses_body(responses_after, false)).await;
    assert_eq!(answer.json()["output"][0]["content"][0]["text"], "done");
}

#[tokio::test]
async fn unknown_reply_header_is_a_400() {
    let app = app(HELLO);
    let answer = post(
        &app,
        CHAT,
        &[("warden-mock-reply", "nope")],
        chat_body("x", false),
    )
    .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert!(
        answer.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("nope")
    );
}

#[tokio::test]
async fn scripted_statuses_use_the_provider_error_shape() {
    let app = app(
        "replies:\n  - name: ok\n    text: x\n  - name: e500\n    fault: { status: 500 }\n  - name: e429\n    fault: { status: 429 }\n  - name: e503\n    fault: { status: 503 }\n",
    );
    let openai = post(
        &app,
        CHAT,
        &[("warden-mock-reply", "e500")],
        chat_body("x", true),
    )
    .await;
    assert_eq!(openai.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(openai.json()["error"]["type"], "server_error");
    let limited = post(
        &app,
        RESPONSES,
        &[("warden-mock-reply", "e429")],
        responses_body(json!("x"), false),
    )
    .await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.json()["error"]["code"], "rate_limit_exceeded");
    let anthropic = post(
        &app,
        MESSAGES,
        &[("warden-mock-reply", "e429")],
        messages_body("x", false),
    )
    .await;
    assert_eq!(anthropic.json()["error"]["type"], "rate_limit_error");
    let overloaded = post(
        &app,
        MESSAGES,
        &[("warden-mock-reply", "e503")],
        messages_body("x", true),
    )
    .await;
    assert_eq!(overloaded.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(overloaded.json()["error"]["type"], "overloaded_error");
    assert!(overloaded.header("request-id").starts_with("req_mock"));
}

#[tokio::test]
async fn chat_stream_carries_usage_only_when_asked() {
    let app = app(HELLO);
    let plain = post(&app, CHAT, &[], chat_body("x", true)).await;
    let text = plain.text();
    assert!(!text.contains("\"usage\""), "{text}");
    assert!(text.ends_with("data: [DONE]\n\n"));
    let body = json!({"model": "m", "messages": [], "stream": true, "stream_options": {"include_usage": true}});
    let with_usage = post(&app, CHAT, &[], body.to_string()).await;
    let chunks = sse_payloads(&with_usage.text());
    let last = chunks.last().unwrap();
    assert_eq!(last["choices"], json!([]));
    assert_eq!(last["usage"]["completion_tokens"], 1);
    assert!(
        chunks[..chunks.len() - 1]
            .iter()
            .all(|c| c["usage"].is_null())
    );
}

const PARALLEL: &str = r#"
replies:
  - name: p
    text: "Two calls, coming up."
    chunk_size: 3
    tool_calls:
      - { name: get_weather, arguments: { city: "Zürich" } }
      - { name: bash, arguments: { command: "rm -rf /" } }
"#;

#[tokio::test]
async fn chat_stream_reassembles_to_the_scripted_reply() {
    let app = app(PARALLEL);
    let chunks = sse_payloads(&post(&app, CHAT, &[], chat_body("x", true)).await.text());
    let mut text = String::new();
    let mut calls: Vec<(String, String, String)> = Vec::new();
    for chunk in &chunks {
        let delta = &chunk["choices"][0]["delta"];
        text.push_str(delta["content"].as_str().unwrap_or(""));
        for call in delta["tool_calls"].as_array().into_iter().flatten() {
            let index = call["index"].as_u64().unwrap() as usize;
            if let Some(id) = call["id"].as_str() {
                assert_eq!(index, calls.len());
                calls.push((
                    id.to_owned(),
                    call["function"]["name"].as_str().unwrap().to_owned(),
                    String::new(),
                ));
            }
            calls[index]
                .2
                .push_str(call["function"]["arguments"].as_str().unwrap());
        }
    }
    assert_eq!(text, "Two calls, coming up.");
    assert_eq!(calls[0].1, "get_weather");
    assert_eq!(
        serde_json::from_str::<Value>(&calls[0].2).unwrap(),
        json!({"city": "Zürich"})
    );
    assert_eq!(
        serde_json::from_str::<Value>(&calls[1].2).unwrap(),
        json!({"command": "rm -rf /"})
    );
    assert_ne!(calls[0].0, calls[1].0);
    assert_eq!(
        chunks.last().unwrap()["choices"][0]["finish_reason"],
        "tool_calls"
    );
}

#[tokio::test]
async fn responses_stream_is_numbered_and_reassembles() {
    let app = app(PARALLEL);
    let body = post(&app, RESPONSES, &[], responses_body(json!("x"), true))
        .await
        .text();
    let events = sse_payloads(&body);
    let names = sse_events(&body);
    for (i, (event, name)) in events.iter().zip(&names).enumerate() {
        assert_eq!(event["sequence_number"], i as u64);
        assert_eq!(event["type"], name.as_str());
    }
    assert_eq!(names.first().unwrap(), "response.created");
    assert_eq!(names[1], "response.in_progress");
    assert_eq!(names.last().unwrap(), "response.completed");
    let text: String = events
        .iter()
        .filter(|e| e["type"] == "response.output_text.delta")
        .map(|e| e["delta"].as_str().unwrap())
        .collect();
    assert_eq!(text, "Two calls, coming up.");
    let args = |index: u64| -> String {
        events
            .iter()
            .filter(|e| {
                e["type"] == "response.function_call_arguments.delta" && e["output_index"] == index
            })
            .map(|e| e["delta"].as_str().unwrap())
            .collect()
    };
    assert_eq!(args(2), r#"{"command":"rm -rf /"}"#);
    let completed = &events.last().unwrap()["response"];
    assert_eq!(completed["output"][1]["arguments"], r#"{"city":"Zürich"}"#);
    assert_eq!(completed["status"], "completed");
}

#[tokio::test]
async fn anthropic_stream_indexes_blocks_and_reassembles() {
    let app = app(PARALLEL);
    let body = post(&app, MESSAGES, &[], messages_body("x", true))
        .await
        .text();
    let names = sse_events(&body);
    assert_eq!(
        &names[..3],
        ["message_start", "content_block_start", "ping"]
    );
    assert_eq!(&names[names.len() - 2..], ["message_delta", "message_stop"]);
    let events = sse_payloads(&body);
    let json_of = |index: u64| -> String {
        events
            .iter()
            .filter(|e| e["type"] == "content_block_delta" && e["index"] == index)
            .map(|e| {
                e["delta"]["partial_json"]
                    .as_str()
                    .or(e["delta"]["text"].as_str())
                    .unwrap()
            })
            .collect()
    };
    assert_eq!(json_of(0), "Two calls, coming up.");
    assert_eq!(
        serde_json::from_str::<Value>(&json_of(1)).unwrap(),
        json!({"city": "Zürich"})
    );
    assert_eq!(
        serde_json::from_str::<Value>(&json_of(2)).unwrap(),
        json!({"command": "rm -rf /"})
    );
    let stops: Vec<u64> = events
        .iter()
        .filter(|e| e["type"] == "content_block_stop")
        .map(|e| e["index"].as_u64().unwrap())
        .collect();
    assert_eq!(stops, [0, 1, 2]);
    assert_eq!(events[names.len() - 2]["delta"]["stop_reason"], "tool_use");
}

const FAULTS: &str = r#"
replies:
  - name: reset
    text: "abcdefghijklmnop"
    chunk_size: 2
    fault: { reset_mid_stream: 3 }
  - name: malformed
    text: "abcdefghijklmnop"
    chunk_size: 2
    fault: { malformed_sse: 3 }
  - name: truncated
    tool_calls: [{ name: bash, arguments: { command: "ls -la /var/log" } }, { name: other }]
    chunk_size: 3
    fault: { truncate_tool_call: true }
  - name: slow
    text: "x"
    fault: { slow_headers_ms: 200 }
  - name: paced
    text: "abcdef"
    chunk_size: 2
    delay_ms: 100
    chunk_delay_ms: 50
"#;

#[tokio::test]
async fn reset_mid_stream_fails_the_body() {
    let app = app(FAULTS);
    let answer = post(
        &app,
        CHAT,
        &[("warden-mock-reply", "reset")],
        chat_body("x", true),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(answer.body.is_err());
    let answer = post(
        &app,
        MESSAGES,
        &[("warden-mock-reply", "reset")],
        messages_body("x", false),
    )
    .await;
    assert!(answer.body.is_err());
}

#[tokio::test]
async fn reset_mid_stream_drops_the_connection_without_terminator() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(warden_mock_provider::serve(
        listener,
        Script::from_yaml(FAULTS).unwrap(),
    ));
    let body = chat_body("x", true);
    let request = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\nwarden-mock-reply: reset\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    socket.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), socket.read_to_end(&mut raw)).await;
    server.abort();
    assert!(read.is_ok(), "the server kept the connection open");
    let text = String::from_utf8_lossy(&raw);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert_eq!(text.matches("data: ").count(), 3, "{text}");
    assert!(
        !text.ends_with("0\r\n\r\n"),
        "chunked terminator sent: {text}"
    );
}

#[tokio::test]
async fn malformed_sse_breaks_exactly_one_event() {
    let app = app(FAULTS);
    let text = post(
        &app,
        CHAT,
        &[("warden-mock-reply", "malformed")],
        chat_body("x", true),
    )
    .await
    .text();
    let datas: Vec<&str> = text
        .split("\n\n")
        .filter_map(|b| b.strip_prefix("data: "))
        .collect();
    let broken: Vec<usize> = datas
        .iter()
        .enumerate()
        .filter(|(_, d)| **d != "[DONE]" && serde_json::from_str::<Value>(d).is_err())
        .map(|(i, _)| i)
        .collect();
    assert_eq!(broken, [3]);
    let json = post(
        &app,
        CHAT,
        &[("warden-mock-reply", "malformed")],
        chat_body("x", false),
    )
    .await;
    assert!(serde_json::from_slice::<Value>(json.body.as_ref().unwrap()).is_err());
}

#[tokio::test]
async fn truncated_tool_call_ends_inside_the_arguments() {
    let app = app(FAULTS);
    let header = [("warden-mock-reply", "truncated")];
    let chat = post(&app, CHAT, &header, chat_body("x", true)).await.text();
    assert!(
        !chat.contains("[DONE]") && !chat.contains("finish_reason\":\"tool_calls"),
        "{chat}"
    );
    let args: String = sse_payloads(&chat)
        .iter()
        .filter_map(|c| {
            c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert!(
        r#"{"command":"ls -la /var/log"}"#.starts_with(&args) && args.len() > 3,
        "{args}"
    );
    assert!(serde_json::from_str::<Value>(&args).is_err());
    assert!(!chat.contains("other"));

    let anthropic = post(&app, MESSAGES, &header, messages_body("x", true))
        .await
        .text();
    assert_eq!(
        sse_events(&anthropic).last().unwrap(),
        "content_block_delta"
    );
    let responses = post(&app, RESPONSES, &header, responses_body(json!("x"), true))
        .await
        .text();
    assert_eq!(
        sse_events(&responses).last().unwrap(),
        "response.function_call_arguments.delta"
    );

    let json = post(&app, CHAT, &header, chat_body("x", false))
        .await
        .json();
    assert_eq!(json["choices"][0]["finish_reason"], "length");
    let json = post(&app, MESSAGES, &header, messages_body("x", false))
        .await
        .json();
    assert_eq!(json["stop_reason"], "max_tokens");
}

#[tokio::test]
async fn slow_headers_and_pacing_hold_the_response() {
    let app = app(FAULTS);
    let started = Instant::now();
    let slow = post(
        &app,
        CHAT,
        &[("warden-mock-reply", "slow")],
        chat_body("x", false),
    )
    .await;
    assert_eq!(slow.status, StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(200));

    let started = Instant::now();
    let paced = post(
        &app,
        CHAT,
        &[("warden-mock-reply", "paced")],
        chat_body("x", true),
    )
    .await;
    assert!(paced.body.is_ok());
    // 100 ms before the first chunk, then 50 ms before each of the 5 that follow.
    assert!(
        started.elapsed() >= Duration::from_millis(100 + 5 * 50),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn models_lists_the_scripted_models() {
    let script = Script::from_yaml(&format!("models: [a, b]\n{HELLO}")).unwrap();
    let app = app_with(MockConfig {
        clock: Arc::new(FixedClock(NOW)),
        ..MockConfig::new(script)
    });
    let answer = send(
        &app,
        Request::get("/v1/models").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(
        answer.json(),
        json!({"object": "list", "data": [
            {"id": "a", "object": "model", "created": NOW, "owned_by": "warden-mock"},
            {"id": "b", "object": "model", "created": NOW, "owned_by": "warden-mock"}
        ]})
    );
}

#[tokio::test]
async fn unknown_path_is_a_404_in_the_provider_shape() {
    let app = app(HELLO);
    let openai = post(&app, "/v1/embeddings", &[], "{}").await;
    assert_eq!(openai.status, StatusCode::NOT_FOUND);
    assert_eq!(openai.json()["error"]["code"], "unknown_url");
    let anthropic = post(&app, "/v1/messages/count_tokens", &[], "{}").await;
    assert_eq!(anthropic.json()["error"]["type"], "not_found_error");
}

#[tokio::test]
async fn output_over_the_requested_token_limit_finishes_with_length() {
    let app = app(
        "replies:\n  - name: long\n    text: \"0123456789abcdefghij\"\n    tool_calls: [{ name: f }]\n",
    );
    let chat = json!({"model": "m", "messages": [], "max_completion_tokens": 2});
    let answer = post(&app, CHAT, &[], chat.to_string()).await.json();
    assert_eq!(answer["choices"][0]["finish_reason"], "length");
    assert_eq!(answer["choices"][0]["message"]["content"], "01234567");
    assert!(answer["choices"][0]["message"].get("tool_calls").is_none());
    assert_eq!(answer["usage"]["completion_tokens"], 2);

    let stream = json!({"model": "m", "input": "x", "max_output_tokens": 3, "stream": true});
    let body = post(&app, RESPONSES, &[], stream.to_string()).await.text();
    assert_eq!(sse_events(&body).last().unwrap(), "response.incomplete");
    let last = sse_payloads(&body).pop().unwrap();
    assert_eq!(last["response"]["status"], "incomplete");
    assert_eq!(
        last["response"]["incomplete_details"]["reason"],
        "max_output_tokens"
    );
    assert_eq!(
        last["response"]["output"][0]["content"][0]["text"],
        "0123456789ab"
    );

    let anthropic = json!({"model": "c", "max_tokens": 1, "messages": [], "stream": true});
    let body = post(&app, MESSAGES, &[], anthropic.to_string())
        .await
        .text();
    let delta = sse_payloads(&body)
        .into_iter()
        .find(|e| e["type"] == "message_delta")
        .unwrap();
    assert_eq!(delta["delta"]["stop_reason"], "max_tokens");
    assert_eq!(delta["usage"]["output_tokens"], 1);
    assert!(!body.contains("tool_use"));

    let wrong = json!({"model": "m", "messages": [], "max_tokens": "many"});
    let answer = post(&app, CHAT, &[], wrong.to_string()).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.json()["error"]["param"], "max_tokens");
}
