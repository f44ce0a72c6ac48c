//! MCP mode: `tools/call` requests at a fixed open-loop rate against a Streamable HTTP MCP
//! endpoint (a server directly, or Warden's `/mcp/{server}` in front of it), after opening one
//! session-era session; and `mcp-server`, a minimal MCP server that answers at once, so the
//! benchmark measures what sits between client and server rather than the server.
//!
//! Speaks only MCP's JSON-RPC over HTTP and knows nothing of Warden's crates.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use tokio::runtime::Runtime;

use crate::open_loop::drive;
use crate::rate::{RateReport, report};
use crate::schedule::Schedule;
use crate::target::Failure;

/// The protocol version the client asks for.
const VERSION: &str = "2025-11-25";

/// An MCP endpoint with an open session.
pub struct McpTarget {
    client: reqwest::Client,
    url: String,
    key: Option<String>,
    session: Option<String>,
    body: String,
    expect: String,
}

impl McpTarget {
    /// Opens a session at `url` (with the bearer `key`, if any).
    pub async fn connect(
        url: &str,
        key: Option<String>,
        timeout: Duration,
    ) -> Result<McpTarget, Failure> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .tcp_nodelay(true)
            .build()
            .map_err(|e| Failure::Connect(e.to_string()))?;
        let mut target = McpTarget {
            client,
            url: url.to_owned(),
            key,
            session: None,
            body: json!({
                "jsonrpc": "2.0",
                "id": 1,
                "method": "tools/call",
                "params": {"name": "echo", "arguments": {"text": "hello from the bench"}},
            })
            .to_string(),
            expect: "hello from the bench".into(),
        };
        let init = json!({
            "jsonrpc": "2.0",
            "id": 0,
            "method": "initialize",
            "params": {
                "protocolVersion": VERSION,
                "capabilities": {},
                "clientInfo": {"name": "warden-loadgen", "version": env!("CARGO_PKG_VERSION")},
            },
        });
        let response = target.post(init.to_string()).await?;
        target.session = response
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let status = response.status().as_u16();
        if status != 200 {
            return Err(Failure::Status(status));
        }
        let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        let status = target.post(note.to_string()).await?.status().as_u16();
        if !(200..300).contains(&status) {
            return Err(Failure::Status(status));
        }
        Ok(target)
    }

    async fn post(&self, body: String) -> Result<reqwest::Response, Failure> {
        let mut request = self
            .client
            .post(&self.url)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ACCEPT, "application/json, text/event-stream")
            .header("mcp-protocol-version", VERSION)
            .body(body);
        if let Some(key) = &self.key {
            request = request.bearer_auth(key);
        }
        if let Some(session) = &self.session {
            request = request.header("mcp-session-id", session);
        }
        Ok(request.send().await?)
    }

    /// One `tools/call` of `echo`; its answer must carry the text sent.
    pub async fn call(&self) -> Result<(), Failure> {
        let response = self.post(self.body.clone()).await?;
        let status = response.status().as_u16();
        if status != 200 {
            return Err(Failure::Status(status));
        }
        let body = response.text().await?;
        if body.contains(&self.expect) && !body.contains("\"isError\":true") {
            Ok(())
        } else {
            Err(Failure::UnexpectedBody(self.expect.clone()))
        }
    }
}

/// Runs the fixed-rate `tools/call` measurement.
pub fn run(runtime: &Runtime, target: McpTarget, schedule: Schedule) -> RateReport {
    let target = Arc::new(target);
    let run = drive(runtime, schedule, move || {
        let target = Arc::clone(&target);
        async move { target.call().await }
    });
    let mut out = report(&schedule, &run);
    out.mode = "mcp";
    out
}

/// Serves a minimal MCP server (one tool, `echo`) on `listen` until the process ends; prints
/// `listening on http://ADDR/mcp` first.
pub async fn serve(listen: SocketAddr) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    println!("listening on http://{}/mcp", listener.local_addr()?);
    let app = Router::new().route(
        "/mcp",
        post(answer).delete(|| async { StatusCode::NO_CONTENT }),
    );
    axum::serve(listener, app).await?;
    Ok(())
}

async fn answer(headers: HeaderMap, body: Bytes) -> Response {
    let _ = headers;
    let Ok(message) = serde_json::from_slice::<Value>(&body) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let Some(id) = message.get("id").cloned() else {
        return StatusCode::ACCEPTED.into_response();
    };
    let method = message
        .get("method")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let params = message.get("params").cloned().unwrap_or(Value::Null);
    let result = match method {
        "initialize" => json!({
            "protocolVersion": params.get("protocolVersion").cloned().unwrap_or(json!(VERSION)),
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "warden-loadgen-echo", "version": env!("CARGO_PKG_VERSION")},
        }),
        "tools/list" => json!({"tools": [{
            "name": "echo",
            "description": "Return the text unchanged.",
            "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
            "annotations": {"readOnlyHint": true, "destructiveHint": false},
        }]}),
        "tools/call" => {
            let text = params
                .pointer("/arguments/text")
                .and_then(Value::as_str)
                .unwrap_or_default();
            json!({"content": [{"type": "text", "text": text}], "isError": false})
        }
        "ping" => json!({}),
        _ => {
            let error = json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32601, "message": "method not found"}});
            return json_response(&error, None);
        }
    };
    let session = (method == "initialize").then_some("bench-session");
    json_response(
        &json!({"jsonrpc": "2.0", "id": id, "result": result}),
        session,
    )
}

fn json_response(body: &Value, session: Option<&'static str>) -> Response {
    let mut response = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response();
    if let Some(s) = session {
        response
            .headers_mut()
            .insert("mcp-session-id", header::HeaderValue::from_static(s));
    }
    response
}
