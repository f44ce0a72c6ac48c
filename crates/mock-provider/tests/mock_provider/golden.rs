//! Golden files: the exact bytes of every API × {stream, non-stream} × {text, single tool call,
//! parallel tool calls}. Ids come from the per-router request counter and timestamps from a fixed
//! clock, so nothing is normalized. Run with `UPDATE_GOLDEN=1` to rewrite the files after an
//! intended format change, and review the diff.

use serde_json::{Value, json};

use crate::common::{app, data_path, post};

const CASES: [&str; 3] = ["text", "single", "parallel"];

fn weather_tool_openai() -> Value {
    json!({
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather for a city.",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
        }
    })
}

fn request(api: &str, stream: bool) -> (&'static str, Value) {
    let question = "What is the weather in Paris?";
    match api {
        "chat" => {
            let mut body = json!({
                "model": "gpt-4o-mini",
                "messages": [
                    {"role": "system", "content": "Be brief."},
                    {"role": "user", "content": question}
                ],
                "tools": [weather_tool_openai()],
                "stream": stream
            });
            if stream {
                body["stream_options"] = json!({"include_usage": true});
            }
            ("/v1/chat/completions", body)
        }
        "responses" => (
            "/v1/responses",
            json!({
                "model": "gpt-4o-mini",
                "instructions": "Be brief.",
                "input": [{"role": "user", "content": question}],
                "tools": [{
                    "type": "function",
                    "name": "get_weather",
                    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
                    "strict": false
                }],
                "stream": stream
            }),
        ),
        _ => (
            "/v1/messages",
            json!({
                "model": "claude-sonnet-4-5",
                "max_tokens": 1024,
                "system": "Be brief.",
                "messages": [{"role": "user", "content": question}],
                "tools": [{"name": "get_weather", "input_schema": {"type": "object"}}],
                "stream": stream
            }),
        ),
    }
}

async fn render(api: &str, stream: bool, case: &str) -> String {
    let script = std::fs::read_to_string(data_path("golden_script.yaml")).unwrap();
    let app = app(&script);
    let (path, body) = request(api, stream);
    let answer = post(&app, path, &[("warden-mock-reply", case)], body.to_string()).await;
    let id_header = if api == "messages" {
        "request-id"
    } else {
        "x-request-id"
    };
    format!(
        "HTTP {}\ncontent-type: {}\n{id_header}: {}\n\n{}",
        answer.status.as_u16(),
        answer.header("content-type"),
        answer.header(id_header),
        answer.text()
    )
}

#[tokio::test]
async fn every_api_shape_matches_its_golden_file() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut mismatches = Vec::new();
    for api in ["chat", "responses", "messages"] {
        for stream in [false, true] {
            for case in CASES {
                let mode = if stream { "stream" } else { "json" };
                let path = data_path(&format!("golden/{api}-{mode}-{case}.txt"));
                let actual = render(api, stream, case).await;
                assert!(
                    actual.starts_with("HTTP 200\n"),
                    "{api} {mode} {case}: {actual}"
                );
                if update {
                    std::fs::write(&path, &actual).unwrap();
                    continue;
                }
                match std::fs::read_to_string(&path) {
                    Ok(expected) if expected == actual => {}
                    Ok(expected) => mismatches.push(format!(
                        "{}:\n--- expected\n{expected}\n--- actual\n{actual}",
                        path.display()
                    )),
                    Err(e) => mismatches.push(format!(
                        "{}: {e} (run with UPDATE_GOLDEN=1)",
                        path.display()
                    )),
                }
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} golden mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n\n")
    );
}
