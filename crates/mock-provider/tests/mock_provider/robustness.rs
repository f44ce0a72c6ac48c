//! Property tests: whatever JSON a client sends, the mock answers 200 or a 400 in the provider's
//! own error shape, and never fails the connection.

use axum::Router;
use axum::http::StatusCode;
use proptest::prelude::*;
use serde_json::{Map, Value};

use crate::common::{app, post};

const KEYS: [&str; 14] = [
    "model",
    "messages",
    "role",
    "content",
    "type",
    "text",
    "input",
    "stream",
    "stream_options",
    "include_usage",
    "max_tokens",
    "system",
    "instructions",
    "tools",
];
const WORDS: [&str; 8] = [
    "user",
    "assistant",
    "tool",
    "text",
    "input_text",
    "tool_result",
    "function_call_output",
    "m",
];

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        proptest::sample::select(WORDS.as_slice()).prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            proptest::collection::vec((proptest::sample::select(KEYS.as_slice()), inner), 0..6)
                .prop_map(|pairs| Value::Object(
                    pairs
                        .into_iter()
                        .map(|(k, v)| (k.to_owned(), v))
                        .collect::<Map<_, _>>()
                )),
        ]
    })
}

fn check(
    app: &Router,
    runtime: &tokio::runtime::Runtime,
    path: &str,
    body: &Value,
) -> Result<(), TestCaseError> {
    let answer = runtime.block_on(post(app, path, &[], body.to_string()));
    let text = answer
        .body
        .as_ref()
        .map_err(|e| TestCaseError::fail(format!("body failed: {e}")))?;
    match answer.status {
        StatusCode::OK => {}
        StatusCode::BAD_REQUEST => {
            let error: Value =
                serde_json::from_slice(text).map_err(|e| TestCaseError::fail(e.to_string()))?;
            if path == "/v1/messages" {
                prop_assert_eq!(&error["type"], "error");
                prop_assert_eq!(&error["error"]["type"], "invalid_request_error");
            } else {
                prop_assert_eq!(&error["error"]["type"], "invalid_request_error");
            }
        }
        other => prop_assert!(false, "unexpected status {other} for {body}"),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_json_gets_a_reply_or_a_provider_shaped_400(body in json(), model in proptest::option::of(".{0,6}")) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let app = app("replies:\n  - name: a\n    text: hi\n    tool_calls: [{ name: f, arguments: { x: 1 } }]\n");
        let mut body = body;
        // Half the cases carry a valid model so that parsing gets past the first field.
        if let (Some(model), Value::Object(map)) = (model, &mut body) {
            map.insert("model".to_owned(), Value::String(model));
        }
        for path in ["/v1/chat/completions", "/v1/responses", "/v1/messages"] {
            check(&app, &runtime, path, &body)?;
        }
    }
}
