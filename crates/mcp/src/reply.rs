//! What Warden answers itself: JSON-RPC responses and errors, refusals shaped as tool results
//! (`isError: true`, so an agent loop reads them as a failed tool and carries on), and
//! `tools/list` results with the tools an agent may not call removed.

use serde_json::{Value, json};

/// JSON-RPC "invalid request".
pub const INVALID_REQUEST: i64 = -32600;
/// JSON-RPC "method not found".
pub const METHOD_NOT_FOUND: i64 = -32601;
/// JSON-RPC "invalid params".
pub const INVALID_PARAMS: i64 = -32602;
/// JSON-RPC "internal error".
pub const INTERNAL_ERROR: i64 = -32603;
/// JSON-RPC "parse error".
pub const PARSE_ERROR: i64 = -32700;
/// Server error: the upstream MCP server failed (unreachable, crashed, timed out).
pub const UPSTREAM_ERROR: i64 = -32000;

/// A JSON-RPC error response (`id` null when the request's id is unknown).
pub fn error_response(id: Option<&Value>, code: i64, message: &str) -> Value {
    json!({
        "jsonrpc": "2.0",
        "id": id.cloned().unwrap_or(Value::Null),
        "error": {"code": code, "message": message},
    })
}

/// A JSON-RPC success response.
pub fn result_response(id: &Value, result: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "result": result})
}

/// A `tools/call` result reporting a refusal as a failed tool (`isError: true`).
pub fn tool_error(text: &str) -> Value {
    json!({
        "content": [{"type": "text", "text": text}],
        "isError": true,
    })
}

/// Removes from a `tools/list` result every tool `keep` refuses; other fields of the result
/// (`nextCursor`, `_meta`, …) and of each tool stay as they were. Returns how many were removed.
pub fn filter_tools(result: &mut Value, mut keep: impl FnMut(&Value) -> bool) -> usize {
    let Some(tools) = result.get_mut("tools").and_then(Value::as_array_mut) else {
        return 0;
    };
    let before = tools.len();
    tools.retain(|t| keep(t));
    before - tools.len()
}

/// Methods whose results the stateless era marks cacheable (`ttlMs`, `cacheScope`).
pub const CACHEABLE_METHODS: [&str; 6] = [
    "server/discover",
    "tools/list",
    "prompts/list",
    "resources/list",
    "resources/templates/list",
    "resources/read",
];

/// Completes a session-era server's successful answer for a stateless-era client: every result
/// carries `resultType` (`complete`), and results of [`CACHEABLE_METHODS`] carry `ttlMs` and
/// `cacheScope`. Warden filters per agent and judges every call, so what it relays is
/// `private` and immediately stale (`ttlMs: 0`) unless the server said otherwise.
pub fn for_stateless(method: &str, answer: &mut Value) {
    let Some(result) = answer.get_mut("result").and_then(Value::as_object_mut) else {
        return;
    };
    result
        .entry("resultType")
        .or_insert_with(|| Value::from("complete"));
    if CACHEABLE_METHODS.contains(&method) {
        result.entry("ttlMs").or_insert_with(|| Value::from(0));
        result
            .entry("cacheScope")
            .or_insert_with(|| Value::from("private"));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn filtering_keeps_everything_else() {
        let mut result = json!({
            "tools": [{"name": "a", "x": 1}, {"name": "b"}, {"name": "c"}],
            "nextCursor": "n",
        });
        let removed = filter_tools(&mut result, |t| t["name"] != "b");
        assert_eq!(removed, 1);
        assert_eq!(
            result,
            json!({"tools": [{"name": "a", "x": 1}, {"name": "c"}], "nextCursor": "n"})
        );
        assert_eq!(filter_tools(&mut json!({}), |_| false), 0);
    }

    #[test]
    fn stateless_answers_are_completed() {
        let mut list = result_response(&json!(1), json!({"tools": []}));
        for_stateless("tools/list", &mut list);
        assert_eq!(
            list["result"],
            json!({"tools": [], "resultType": "complete", "ttlMs": 0, "cacheScope": "private"})
        );
        let mut call = result_response(&json!(2), json!({"content": [], "resultType": "x"}));
        for_stateless("tools/call", &mut call);
        assert_eq!(call["result"], json!({"content": [], "resultType": "x"}));
        let mut error = error_response(None, UPSTREAM_ERROR, "down");
        for_stateless("tools/list", &mut error);
        assert!(error.get("result").is_none());
    }

    #[test]
    fn refusals_are_failed_tool_results() {
        let r = tool_error("Warden denied it");
        assert_eq!(r["isError"], json!(true));
        assert_eq!(r["content"][0]["text"], json!("Warden denied it"));
        let e = error_response(None, UPSTREAM_ERROR, "down");
        assert_eq!(e["id"], Value::Null);
        assert_eq!(e["error"]["code"], json!(-32000));
        assert_eq!(result_response(&json!(3), json!({}))["id"], json!(3));
    }
}
