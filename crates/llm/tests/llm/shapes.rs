//! Less common response shapes: several chat choices, custom and built-in client tools,
//! content arrays, and unknown fields passing through.

use crate::common::*;
use serde_json::{Value, json};
use warden_llm::{Api, Arguments, Limits, Verdict, apply_verdicts, proposed_calls};

fn chunk(choice: u64, delta: Value, finish: Value) -> String {
    let value = json!({"id": "c", "object": "chat.completion.chunk", "x_vendor": 1,
        "choices": [{"index": choice, "delta": delta, "logprobs": null, "finish_reason": finish}]});
    format!("data: {value}\n\n")
}

fn fragment(index: u64, id: Option<&str>, name: &str, arguments: &str) -> Value {
    let mut f = json!({"index": index, "function": {"arguments": arguments}});
    if let Some(id) = id {
        f["id"] = json!(id);
        f["type"] = json!("function");
        f["function"]["name"] = json!(name);
    }
    json!({"tool_calls": [f]})
}

#[test]
fn chat_choices_are_judged_and_renumbered_independently() {
    let input = [
        chunk(0, fragment(0, Some("a0"), "bash", ""), Value::Null),
        chunk(
            1,
            fragment(0, Some("b0"), "read_file", "{\"path\":"),
            Value::Null,
        ),
        chunk(
            0,
            fragment(0, None, "", "{\"command\":\"ls\"}"),
            Value::Null,
        ),
        chunk(0, fragment(1, Some("a1"), "read_file", "{}"), Value::Null),
        chunk(1, fragment(0, None, "", "\"/etc\"}"), Value::Null),
        chunk(0, json!({}), json!("tool_calls")),
        chunk(1, json!({}), json!("tool_calls")),
        "data: [DONE]\n\n".to_owned(),
    ]
    .concat();
    let run = run_stream(
        Api::OpenAiChat,
        Limits::default(),
        input.as_bytes(),
        &[],
        &mut |c| {
            if c.id == "a0" || c.id == "b0" {
                block(c)
            } else {
                release()
            }
        },
    );
    assert_eq!(run.error, None);
    let ids: Vec<_> = run.calls.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["a0", "a1", "b0"]);
    assert_eq!(
        run.calls[2].arguments,
        Arguments::Json(json!({"path": "/etc"}))
    );
    let events = crate::accumulate::events(&run.output);
    let chunks: Vec<Value> = events
        .iter()
        .filter(|e| e.data != "[DONE]")
        .map(|e| serde_json::from_str(&e.data).unwrap())
        .collect();
    // Choice 0 keeps a1, renumbered to index 0; choice 1 keeps nothing and finishes with "stop".
    let released: Vec<(u64, u64, String)> = chunks
        .iter()
        .flat_map(|c| c["choices"].as_array().unwrap().clone())
        .flat_map(|choice| {
            let n = choice["index"].as_u64().unwrap();
            choice["delta"]["tool_calls"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(move |t| {
                    (
                        n,
                        t["index"].as_u64().unwrap(),
                        t["id"].as_str().unwrap_or("").to_owned(),
                    )
                })
        })
        .collect();
    assert_eq!(released, vec![(0, 0, "a1".to_owned())]);
    let finishes: Vec<(u64, String)> = chunks
        .iter()
        .flat_map(|c| c["choices"].as_array().unwrap().clone())
        .filter_map(|c| {
            Some((
                c["index"].as_u64()?,
                c["finish_reason"].as_str()?.to_owned(),
            ))
        })
        .collect();
    assert_eq!(
        finishes,
        vec![(0, "tool_calls".to_owned()), (1, "stop".to_owned())]
    );
    assert!(
        chunks.iter().all(|c| c["x_vendor"] == 1),
        "unknown fields pass through"
    );
}

#[test]
fn responses_client_tools_of_every_kind_are_judged() {
    let mut response = json!({"id": "r", "status": "completed", "x_vendor": {"k": 1}, "output": [
        {"type": "reasoning", "id": "rs_1", "summary": []},
        {"type": "custom_tool_call", "id": "ctc_1", "call_id": "c1", "name": "apply_sql", "input": "DELETE FROM t"},
        {"type": "local_shell_call", "id": "lsh_1", "call_id": "c2", "status": "completed",
            "action": {"type": "exec", "command": ["rm", "-rf", "/"], "env": {}}},
        {"type": "web_search_call", "id": "ws_1", "status": "completed"}
    ]});
    let calls = proposed_calls(Api::OpenAiResponses, &response).unwrap();
    assert_eq!(
        calls.len(),
        2,
        "provider-run tools are not the agent's to execute"
    );
    assert_eq!(calls[0].name, "apply_sql");
    assert_eq!(calls[0].arguments, Arguments::Json(json!("DELETE FROM t")));
    assert_eq!(calls[1].name, "local_shell");
    assert_eq!(calls[1].arguments.json().unwrap()["command"][0], "rm");
    let verdicts = [
        Verdict::Release {
            arguments: Some(json!("DELETE FROM t WHERE id = 1")),
        },
        block(&calls[1]),
    ];
    apply_verdicts(Api::OpenAiResponses, &mut response, &verdicts).unwrap();
    let output = response["output"].as_array().unwrap();
    assert_eq!(output[1]["input"], "DELETE FROM t WHERE id = 1");
    assert_eq!(output[2]["type"], "message");
    assert_eq!(output[2]["id"], "msg_warden_lsh_1");
    assert!(
        output[2]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("`local_shell` was denied")
    );
    assert_eq!(output[3]["type"], "web_search_call");
    assert_eq!(response["x_vendor"], json!({"k": 1}));
}

#[test]
fn chat_custom_tools_and_content_arrays() {
    let mut response = json!({"choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
    "role": "assistant", "content": [{"type": "text", "text": "Running."}],
    "tool_calls": [
        {"id": "c1", "type": "custom", "custom": {"name": "patch", "input": "*** Begin Patch"}},
        {"id": "c2", "type": "function", "function": {"name": "bash", "arguments": "{\"command\":\"ls\"}"}}
    ]}}]});
    let calls = proposed_calls(Api::OpenAiChat, &response).unwrap();
    assert_eq!(calls[0].name, "patch");
    assert_eq!(
        calls[0].arguments,
        Arguments::Json(json!("*** Begin Patch"))
    );
    apply_verdicts(
        Api::OpenAiChat,
        &mut response,
        &[
            block(&calls[0]),
            Verdict::Release {
                arguments: Some(json!({"command": "ls -l"})),
            },
        ],
    )
    .unwrap();
    let message = &response["choices"][0]["message"];
    assert_eq!(message["content"][1]["type"], "text");
    assert!(
        message["content"][1]["text"]
            .as_str()
            .unwrap()
            .contains("`patch` was denied")
    );
    assert_eq!(message["tool_calls"].as_array().unwrap().len(), 1);
    assert_eq!(
        message["tool_calls"][0]["function"]["arguments"],
        "{\"command\":\"ls -l\"}"
    );
    assert_eq!(response["choices"][0]["finish_reason"], "tool_calls");
}

#[test]
fn anthropic_server_tools_pass_and_client_tools_are_judged() {
    let mut response = json!({"content": [
        {"type": "server_tool_use", "id": "srv_1", "name": "web_search", "input": {"query": "x"}},
        {"type": "web_search_tool_result", "tool_use_id": "srv_1", "content": []},
        {"type": "tool_use", "id": "t1", "name": "bash", "input": {"command": "ls"}}
    ], "stop_reason": "tool_use"});
    let calls = proposed_calls(Api::Anthropic, &response).unwrap();
    assert_eq!(calls.len(), 1);
    apply_verdicts(Api::Anthropic, &mut response, &[block(&calls[0])]).unwrap();
    assert_eq!(response["content"][0]["type"], "server_tool_use");
    assert_eq!(response["content"][2]["type"], "text");
    assert_eq!(response["stop_reason"], "end_turn");
}
