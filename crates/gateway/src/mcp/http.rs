//! A Streamable HTTP upstream: Warden opens one session-era session (`initialize`,
//! `Mcp-Session-Id`) and POSTs each forwarded request on it, reading the answer from a JSON body
//! or from the request's SSE stream. A session the server has forgotten (HTTP 404) is reopened
//! once. Requests that time out are cancelled with `notifications/cancelled`.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderValue};
use serde_json::Value;
use warden_llm::SseParser;

use super::upstream::{
    UpstreamError, cancelled_notification, clip, initialize_request, initialized_notification,
};

/// Largest SSE event accepted from an upstream.
const MAX_EVENT_BYTES: usize = 16 * 1024 * 1024;

/// An open upstream session.
#[derive(Debug)]
struct Session {
    /// `Mcp-Session-Id`, when the server issued one.
    id: Option<String>,
    /// The negotiated protocol version.
    version: String,
    /// The server's `initialize` result.
    init: Value,
}

/// A Streamable HTTP MCP server.
#[derive(Debug)]
pub struct HttpUpstream {
    name: String,
    url: String,
    client: reqwest::Client,
    session: tokio::sync::Mutex<Option<Arc<Session>>>,
    next_id: AtomicU64,
}

impl HttpUpstream {
    /// An upstream at `url`; nothing is sent until the first request.
    pub fn new(name: &str, url: &str, client: reqwest::Client) -> HttpUpstream {
        HttpUpstream {
            name: name.to_owned(),
            url: url.to_owned(),
            client,
            session: tokio::sync::Mutex::new(None),
            next_id: AtomicU64::new(1),
        }
    }

    fn unreachable(&self, e: &reqwest::Error) -> UpstreamError {
        UpstreamError::Unreachable {
            server: self.name.clone(),
            detail: e.to_string(),
        }
    }

    fn protocol(&self, detail: impl Into<String>) -> UpstreamError {
        UpstreamError::Protocol {
            server: self.name.clone(),
            detail: detail.into(),
        }
    }

    /// The open session, opening one if there is none.
    async fn session(&self) -> Result<Arc<Session>, UpstreamError> {
        let mut slot = self.session.lock().await;
        if let Some(s) = slot.as_ref() {
            return Ok(s.clone());
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let response = self.post(None, &initialize_request(id)).await?;
        let session_id = response
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let answer = self.answer(response, id).await?;
        let init = answer.get("result").cloned().ok_or_else(|| {
            self.protocol(format!(
                "initialize failed: {}",
                clip(&answer.to_string(), 300)
            ))
        })?;
        let version = init
            .get("protocolVersion")
            .and_then(Value::as_str)
            .unwrap_or(warden_mcp::LATEST_SESSION_VERSION)
            .to_owned();
        let session = Arc::new(Session {
            id: session_id,
            version,
            init,
        });
        let note = self
            .post(Some(&session), &initialized_notification())
            .await?;
        if !note.status().is_success() {
            return Err(self.status_error(note).await);
        }
        *slot = Some(session.clone());
        Ok(session)
    }

    async fn post(
        &self,
        session: Option<&Session>,
        body: &Value,
    ) -> Result<reqwest::Response, UpstreamError> {
        let mut request = self
            .client
            .post(&self.url)
            .header(ACCEPT, "application/json, text/event-stream")
            .header(CONTENT_TYPE, "application/json")
            .body(body.to_string());
        if let Some(s) = session {
            if let Some(id) = &s.id {
                request = request.header("mcp-session-id", id);
            }
            request = request.header("mcp-protocol-version", &s.version);
        }
        request.send().await.map_err(|e| self.unreachable(&e))
    }

    async fn status_error(&self, response: reqwest::Response) -> UpstreamError {
        let status = response.status().as_u16();
        let body = response.text().await.unwrap_or_default();
        UpstreamError::Status {
            server: self.name.clone(),
            status,
            detail: clip(&body, 300),
        }
    }

    /// Reads the response to request `id` from a JSON body or an SSE stream.
    async fn answer(
        &self,
        mut response: reqwest::Response,
        id: u64,
    ) -> Result<Value, UpstreamError> {
        if !response.status().is_success() {
            return Err(self.status_error(response).await);
        }
        let is_sse = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        if !is_sse {
            let bytes = response.bytes().await.map_err(|e| self.unreachable(&e))?;
            let value: Value = serde_json::from_slice(&bytes)
                .map_err(|e| self.protocol(format!("the answer is not JSON: {e}")))?;
            return if is_response_to(&value, id) {
                Ok(value)
            } else {
                Err(self.protocol("the answer is not the response to the request sent"))
            };
        }
        let mut parser = SseParser::new(MAX_EVENT_BYTES);
        let mut events = VecDeque::new();
        loop {
            let chunk = response.chunk().await.map_err(|e| self.unreachable(&e))?;
            let Some(chunk) = chunk else {
                return Err(self.protocol("the event stream ended before the response"));
            };
            parser
                .push(&chunk, &mut events)
                .map_err(|e| self.protocol(e.to_string()))?;
            while let Some(event) = events.pop_front() {
                if event.comment_only || event.data.is_empty() {
                    continue;
                }
                // Server notifications and requests on the stream (progress, logging) are not
                // relayed; only the response ends the wait.
                if let Ok(value) = serde_json::from_str::<Value>(&event.data)
                    && is_response_to(&value, id)
                {
                    return Ok(value);
                }
            }
        }
    }

    /// Sends `message` under a fresh id and returns the response (with that id).
    pub async fn request(
        &self,
        mut message: Value,
        timeout: Duration,
    ) -> Result<Value, UpstreamError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        if let Some(object) = message.as_object_mut() {
            object.insert("id".into(), Value::from(id));
        }
        let exchange = async {
            let mut session = self.session().await?;
            for attempt in 0..2 {
                let response = self.post(Some(&session), &message).await?;
                if response.status() == reqwest::StatusCode::NOT_FOUND
                    && session.id.is_some()
                    && attempt == 0
                {
                    // The server forgot the session (it restarted): open a new one, once.
                    self.forget(&session).await;
                    session = self.session().await?;
                    continue;
                }
                return self.answer(response, id).await;
            }
            Err(self.protocol("the session could not be reopened"))
        };
        match tokio::time::timeout(timeout, exchange).await {
            Ok(answer) => answer,
            Err(_) => {
                self.cancel(id).await;
                Err(UpstreamError::Timeout {
                    server: self.name.clone(),
                    ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
                })
            }
        }
    }

    async fn forget(&self, stale: &Arc<Session>) {
        let mut slot = self.session.lock().await;
        if slot.as_ref().is_some_and(|s| Arc::ptr_eq(s, stale)) {
            *slot = None;
        }
    }

    async fn cancel(&self, id: u64) {
        let session = self.session.lock().await.clone();
        if let Some(session) = session {
            let note = cancelled_notification(id, "Warden's time limit for the call expired");
            let _ = tokio::time::timeout(Duration::from_secs(2), self.post(Some(&session), &note))
                .await;
        }
    }

    /// The server's configured name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The server's `initialize` result.
    pub async fn initialize_result(&self, timeout: Duration) -> Result<Value, UpstreamError> {
        match tokio::time::timeout(timeout, self.session()).await {
            Ok(session) => Ok(session?.init.clone()),
            Err(_) => Err(UpstreamError::Timeout {
                server: self.name.clone(),
                ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
            }),
        }
    }

    /// Ends the session (DELETE), best effort.
    pub async fn shutdown(&self) {
        let session = self.session.lock().await.take();
        if let Some(Session { id: Some(id), .. }) = session.as_deref() {
            let sent = self
                .client
                .delete(&self.url)
                .header("mcp-session-id", id)
                .send();
            let _ = tokio::time::timeout(Duration::from_secs(2), sent).await;
        }
    }
}

/// Whether `value` is the JSON-RPC response to request `id`.
fn is_response_to(value: &Value, id: u64) -> bool {
    value.get("id").and_then(Value::as_u64) == Some(id)
        && (value.get("result").is_some() || value.get("error").is_some())
}
