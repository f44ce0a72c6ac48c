//! Upstream MCP servers: one connection per configured server, shared by every agent. Warden is
//! the MCP client here: it opens the session itself (`initialize`), gives each forwarded request
//! its own id and restores the agent's id on the answer, so many agents' requests share one
//! connection. Messages are forwarded as raw JSON: fields Warden does not know survive.
//!
//! Two transports: Streamable HTTP ([`http`](super::http)) and a supervised child process over
//! stdio ([`stdio`](super::stdio)).

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::http::HttpUpstream;
use super::stdio::StdioUpstream;
use crate::config::{McpServer, McpTransport};

/// Why an upstream exchange failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamError {
    /// The server could not be reached (connection refused, DNS, TLS).
    #[error("the MCP server `{server}` is unreachable: {detail}")]
    Unreachable {
        /// The server.
        server: String,
        /// What failed.
        detail: String,
    },
    /// The server answered with an HTTP error status.
    #[error("the MCP server `{server}` answered HTTP {status}: {detail}")]
    Status {
        /// The server.
        server: String,
        /// The status.
        status: u16,
        /// The start of the body.
        detail: String,
    },
    /// The server answered something that is not the JSON-RPC response expected.
    #[error("the MCP server `{server}` broke the protocol: {detail}")]
    Protocol {
        /// The server.
        server: String,
        /// What was wrong.
        detail: String,
    },
    /// The server process exited while the request was in flight (Warden restarts it).
    #[error(
        "the MCP server `{server}` exited while this request was in flight ({detail}); Warden is restarting it, retry shortly"
    )]
    Crashed {
        /// The server.
        server: String,
        /// How it exited.
        detail: String,
    },
    /// The server process is not running (starting, or restarting after a crash).
    #[error("the MCP server `{server}` is not running ({detail}); retry shortly")]
    Down {
        /// The server.
        server: String,
        /// Its last known state.
        detail: String,
    },
    /// No answer within the time limit; the request was cancelled upstream.
    #[error("the MCP server `{server}` did not answer within {ms} ms; the request was cancelled")]
    Timeout {
        /// The server.
        server: String,
        /// The limit.
        ms: u64,
    },
}

/// One upstream server, by transport.
#[derive(Debug)]
pub enum Upstream {
    /// Streamable HTTP.
    Http(HttpUpstream),
    /// A supervised child process.
    Stdio(Arc<StdioUpstream>),
}

/// Most `tools/list` pages followed.
pub const MAX_PAGES: usize = 50;

/// The `initialize` request Warden sends upstream.
pub(super) fn initialize_request(id: u64) -> Value {
    json!({
        "jsonrpc": "2.0",
        "id": id,
        "method": "initialize",
        "params": {
            "protocolVersion": warden_mcp::LATEST_SESSION_VERSION,
            "capabilities": {},
            "clientInfo": {"name": "warden", "version": env!("CARGO_PKG_VERSION")},
        },
    })
}

/// The notification completing the handshake.
pub(super) fn initialized_notification() -> Value {
    json!({"jsonrpc": "2.0", "method": "notifications/initialized"})
}

/// The notification cancelling a request that timed out.
pub(super) fn cancelled_notification(id: u64, reason: &str) -> Value {
    json!({
        "jsonrpc": "2.0",
        "method": "notifications/cancelled",
        "params": {"requestId": id, "reason": reason},
    })
}

impl Upstream {
    /// Connects (lazily for HTTP; a stdio server's process is started now).
    pub fn start(
        name: &str,
        server: &McpServer,
        client: reqwest::Client,
    ) -> Result<Upstream, UpstreamError> {
        Ok(match &server.transport {
            McpTransport::Http { url } => Upstream::Http(HttpUpstream::new(name, url, client)),
            McpTransport::Stdio { .. } => Upstream::Stdio(StdioUpstream::start(name, server)),
        })
    }

    /// Sends a request (its `id` is replaced on the wire and restored on the answer) and returns
    /// the server's response message: `result` or `error`, with the caller's id.
    pub async fn request(&self, message: Value, timeout: Duration) -> Result<Value, UpstreamError> {
        let id = message.get("id").cloned().unwrap_or(Value::Null);
        let mut answer = match self {
            Upstream::Http(h) => h.request(message, timeout).await?,
            Upstream::Stdio(s) => s.request(message, timeout).await?,
        };
        if let Some(object) = answer.as_object_mut() {
            object.insert("id".into(), id);
        }
        Ok(answer)
    }

    /// The server's answer to Warden's own `initialize` (capabilities, server info,
    /// instructions), opening the connection if needed.
    pub async fn initialize_result(&self, timeout: Duration) -> Result<Value, UpstreamError> {
        match self {
            Upstream::Http(h) => h.initialize_result(timeout).await,
            Upstream::Stdio(s) => s.initialize_result(timeout).await,
        }
    }

    /// Every tool definition the server lists (following `nextCursor`, at most
    /// [`MAX_PAGES`] pages), each request within `timeout`.
    pub async fn list_tools(&self, timeout: Duration) -> Result<Vec<Value>, UpstreamError> {
        let mut tools = Vec::new();
        let mut cursor: Option<Value> = None;
        for _ in 0..MAX_PAGES {
            let params = match &cursor {
                Some(c) => json!({"cursor": c}),
                None => json!({}),
            };
            let request =
                json!({"jsonrpc": "2.0", "id": 0, "method": "tools/list", "params": params});
            let answer = self.request(request, timeout).await?;
            let Some(result) = answer.get("result") else {
                let error = answer
                    .get("error")
                    .map(Value::to_string)
                    .unwrap_or_default();
                return Err(UpstreamError::Protocol {
                    server: self.name().to_owned(),
                    detail: format!("tools/list failed: {}", clip(&error, 300)),
                });
            };
            if let Some(page) = result.get("tools").and_then(Value::as_array) {
                tools.extend(page.iter().cloned());
            }
            cursor = result.get("nextCursor").filter(|c| !c.is_null()).cloned();
            if cursor.is_none() {
                break;
            }
        }
        Ok(tools)
    }

    /// The server's configured name.
    pub fn name(&self) -> &str {
        match self {
            Upstream::Http(h) => h.name(),
            Upstream::Stdio(s) => s.name(),
        }
    }

    /// Ends the session (HTTP) or stops the process (stdio).
    pub async fn shutdown(&self) {
        match self {
            Upstream::Http(h) => h.shutdown().await,
            Upstream::Stdio(s) => s.shutdown().await,
        }
    }
}

/// The first `limit` bytes of `text`, on a character boundary.
pub(super) fn clip(text: &str, limit: usize) -> String {
    let mut end = text.len().min(limit);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.get(..end).unwrap_or_default().to_owned()
}
