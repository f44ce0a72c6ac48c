//! Helpers shared by the integration tests: build a router with a fixed clock and call it
//! in-process, keeping the exact response bytes.

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;
use warden_mock_provider::{FixedClock, MockConfig, Script, router};

/// The instant every test response is stamped with.
pub const NOW: u64 = 1_700_000_000;

/// A file under `tests/data/`.
pub fn data_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// A router serving `yaml` with the fixed clock.
pub fn app(yaml: &str) -> Router {
    let script = Script::from_yaml(yaml).unwrap();
    app_with(MockConfig {
        clock: Arc::new(FixedClock(NOW)),
        ..MockConfig::new(script)
    })
}

/// A router for `config`.
pub fn app_with(config: MockConfig) -> Router {
    router(config)
}

/// One response: status, headers and the body, or the error that ended the body.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Result<Bytes, String>,
}

impl Answer {
    /// The body as text; panics if it ended in an error.
    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone().unwrap().to_vec()).unwrap()
    }

    /// The body as JSON; panics if it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.text()).unwrap()
    }

    /// The header `name` as text ("" when absent).
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", |v| v.to_str().unwrap())
    }
}

/// POSTs `body` to `path` with `headers` and collects the whole response.
pub async fn post(
    app: &Router,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<Body>,
) -> Answer {
    let mut request = Request::post(path).header("content-type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    send(app, request.body(body.into()).unwrap()).await
}

/// Sends `request` and collects the whole response.
pub async fn send(app: &Router, request: Request<Body>) -> Answer {
    let response = app.clone().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let body = body
        .collect()
        .await
        .map(|c| c.to_bytes())
        .map_err(|e| e.to_string());
    Answer {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

/// The JSON payloads of the `data:` lines of an SSE body (without `[DONE]`).
pub fn sse_payloads(text: &str) -> Vec<serde_json::Value> {
    text.split("\n\n")
        .filter_map(|block| block.lines().find_map(|l| l.strip_prefix("data: ")))
        .filter(|data| *data != "[DONE]")
        .map(|data| serde_json::from_str(data).unwrap())
        .collect()
}

/// The `event:` names of an SSE body, in order.
pub fn sse_events(text: &str) -> Vec<String> {
    text.split("\n\n")
        .filter_map(|block| block.lines().find_map(|l| l.strip_prefix("event: ")))
        .map(str::to_owned)
        .collect()
}
