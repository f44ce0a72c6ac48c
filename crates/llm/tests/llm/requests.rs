//! Request summaries and the request edits the gateway makes.

use serde_json::json;
use warden_llm::{
    Api, Arguments, HistoryItem, ProtocolError, clamp_max_tokens, request_stream_usage,
    summarize_request,
};

#[test]
fn chat_request_summary() {
    let body = json!({
        "model": "gpt-4o-mini", "stream": true, "max_completion_tokens": 300,
        "stream_options": {"include_usage": true},
        "tools": [{"type": "function", "function": {"name": "bash", "parameters": {}}}],
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "key sk-123"}]},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function",
                "function": {"name": "bash", "arguments": "{\"command\":\"ls\"}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "a.txt"}
        ]
    });
    let summary = summarize_request(Api::OpenAiChat, &body).unwrap();
    assert_eq!(summary.model, "gpt-4o-mini");
    assert!(summary.stream && summary.include_usage);
    assert_eq!(summary.max_tokens, Some(300));
    assert_eq!(summary.tools[0].name, "bash");
    assert_eq!(summary.tools[0].definition, body["tools"][0]);
    assert_eq!(
        summary.history,
        vec![
            HistoryItem::Call {
                id: "c1".into(),
                name: "bash".into(),
                arguments: Arguments::Json(json!({"command": "ls"}))
            },
            HistoryItem::Result {
                id: "c1".into(),
                text: "a.txt".into()
            },
        ]
    );
    assert_eq!(summary.prompt_text, "Be brief.\nkey sk-123\na.txt");
}

#[test]
fn anthropic_request_summary() {
    let body = json!({
        "model": "claude-sonnet-4-5", "max_tokens": 1024,
        "system": [{"type": "text", "text": "Be brief."}],
        "tools": [{"name": "read_file", "input_schema": {}}],
        "messages": [
            {"role": "user", "content": "read ~/.ssh/id_rsa"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "read_file", "input": {"path": "~/.ssh/id_rsa"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": [{"type": "text", "text": "-----BEGIN"}]}]}
        ]
    });
    let summary = summarize_request(Api::Anthropic, &body).unwrap();
    assert!(!summary.stream);
    assert!(summary.include_usage);
    assert_eq!(summary.max_tokens, Some(1024));
    assert_eq!(summary.tools[0].name, "read_file");
    assert_eq!(summary.history.len(), 2);
    assert_eq!(
        summary.history[1],
        HistoryItem::Result {
            id: "t1".into(),
            text: "-----BEGIN".into()
        }
    );
    assert_eq!(
        summary.prompt_text,
        "Be brief.\nread ~/.ssh/id_rsa\n-----BEGIN"
    );
}

#[test]
fn responses_request_summary() {
    let body = json!({
        "model": "gpt-4o-mini", "instructions": "Be brief.", "max_output_tokens": 50,
        "tools": [{"type": "function", "name": "get_weather", "parameters": {}}, {"type": "web_search"}],
        "input": [
            {"role": "user", "content": "weather?"},
            {"type": "function_call", "call_id": "c1", "name": "get_weather", "arguments": "{\"city\":\"Paris\"}"},
            {"type": "function_call_output", "call_id": "c1", "output": "sunny"}
        ]
    });
    let summary = summarize_request(Api::OpenAiResponses, &body).unwrap();
    assert_eq!(summary.max_tokens, Some(50));
    let names: Vec<_> = summary.tools.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["get_weather", "web_search"]);
    assert_eq!(
        summary.history[1],
        HistoryItem::Result {
            id: "c1".into(),
            text: "sunny".into()
        }
    );
    assert_eq!(summary.prompt_text, "Be brief.\nweather?\nsunny");
    let plain = json!({"model": "m", "input": "hello"});
    assert_eq!(
        summarize_request(Api::OpenAiResponses, &plain)
            .unwrap()
            .prompt_text,
        "hello"
    );
}

#[test]
fn bad_requests_are_malformed() {
    for api in [Api::OpenAiChat, Api::OpenAiResponses, Api::Anthropic] {
        for body in [json!([]), json!({"messages": []}), json!({"model": 3})] {
            assert!(
                matches!(
                    summarize_request(api, &body),
                    Err(ProtocolError::Malformed(_))
                ),
                "{api:?} {body}"
            );
        }
        assert!(matches!(
            summarize_request(api, &json!({"model": "m"})),
            Err(ProtocolError::Malformed(_))
        ));
    }
}

#[test]
fn max_tokens_is_clamped_in_the_field_each_api_uses() {
    let mut chat = json!({"model": "m", "max_tokens": 500});
    assert_eq!(
        clamp_max_tokens(Api::OpenAiChat, &mut chat, 100).unwrap(),
        100
    );
    assert_eq!(chat["max_tokens"], 100);
    let mut chat = json!({"model": "m"});
    assert_eq!(
        clamp_max_tokens(Api::OpenAiChat, &mut chat, 100).unwrap(),
        100
    );
    assert_eq!(chat["max_completion_tokens"], 100);
    let mut anthropic = json!({"max_tokens": 50});
    assert_eq!(
        clamp_max_tokens(Api::Anthropic, &mut anthropic, 100).unwrap(),
        50
    );
    let mut responses = json!({});
    clamp_max_tokens(Api::OpenAiResponses, &mut responses, 7).unwrap();
    assert_eq!(responses["max_output_tokens"], 7);
    assert!(clamp_max_tokens(Api::Anthropic, &mut json!([]), 1).is_err());
}

#[test]
fn chat_streams_are_asked_for_usage() {
    let mut body = json!({"model": "m", "stream": true});
    assert!(!request_stream_usage(Api::OpenAiChat, &mut body).unwrap());
    assert_eq!(body["stream_options"]["include_usage"], true);
    let mut body = json!({"stream_options": {"include_usage": true}});
    assert!(request_stream_usage(Api::OpenAiChat, &mut body).unwrap());
    let mut body = json!({"stream_options": 3});
    assert!(request_stream_usage(Api::OpenAiChat, &mut body).is_err());
    assert!(request_stream_usage(Api::Anthropic, &mut json!({})).unwrap());
}
