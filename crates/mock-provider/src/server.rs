//! The HTTP server: routes, provider-key checks, body limits, reply selection and fault timing.
//!
//! Owns [`MockConfig`], [`router`], [`serve`] and [`serve_with`]. Everything about the wire format
//! lives in the API modules; this module only decides which reply to render, in which shape, and
//! how to deliver it.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use serde::Serialize;
use serde_json::Value;
use tokio::net::TcpListener;

use crate::api_error::{ApiError, Dialect};
use crate::clock::{Clock, SystemClock};
use crate::request::Request;
use crate::script::{Fault, Reply, Script};
use crate::sse::{self, Pacing};
use crate::turn::Turn;
use crate::{anthropic, openai_chat, openai_responses};

/// Request header naming the reply to give, bypassing the script's conditions.
pub const REPLY_HEADER: &str = "warden-mock-reply";

/// Default request body limit: 8 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 8 * 1024 * 1024;

/// Everything a mock server needs.
#[derive(Clone)]
pub struct MockConfig {
    /// The replies to give.
    pub script: Script,
    /// Source of `created` timestamps.
    pub clock: Arc<dyn Clock>,
    /// Largest accepted request body, in bytes; larger bodies get a 413.
    pub body_limit: usize,
}

impl MockConfig {
    /// A configuration with the system clock and the default body limit.
    pub fn new(script: Script) -> MockConfig {
        MockConfig {
            script,
            clock: Arc::new(SystemClock),
            body_limit: DEFAULT_BODY_LIMIT,
        }
    }
}

struct Shared {
    script: Script,
    clock: Arc<dyn Clock>,
    requests: AtomicU64,
}

/// Serves `script` on `listener` with the system clock until the task is dropped or aborted.
pub async fn serve(listener: TcpListener, script: Script) -> io::Result<()> {
    serve_with(listener, MockConfig::new(script)).await
}

/// Serves `config` on `listener` until the task is dropped or aborted.
pub async fn serve_with(listener: TcpListener, config: MockConfig) -> io::Result<()> {
    // Each SSE chunk leaves at once, as a provider's would, instead of waiting on Nagle.
    let listener = listener.tap_io(|stream: &mut tokio::net::TcpStream| {
        let _ = stream.set_nodelay(true);
    });
    axum::serve(listener, router(config)).await
}

/// The mock's routes, for serving or for driving in-process. Request ids count from 1 per router.
pub fn router(config: MockConfig) -> Router {
    let shared = Arc::new(Shared {
        script: config.script,
        clock: config.clock,
        requests: AtomicU64::new(0),
    });
    Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/v1/responses", post(responses))
        .route("/v1/messages", post(messages))
        .route("/v1/models", get(models))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(config.body_limit))
        .with_state(shared)
}

/// The three completion APIs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Api {
    Chat,
    Responses,
    Messages,
}

impl Api {
    fn dialect(self) -> Dialect {
        match self {
            Api::Chat | Api::Responses => Dialect::OpenAi,
            Api::Messages => Dialect::Anthropic,
        }
    }

    fn parse(self, body: &Value) -> Result<Request, ApiError> {
        match self {
            Api::Chat => openai_chat::parse(body),
            Api::Responses => openai_responses::parse(body),
            Api::Messages => anthropic::parse(body),
        }
    }

    fn render_json(self, turn: &Turn<'_>, body: &Value) -> Result<Vec<u8>, serde_json::Error> {
        match self {
            Api::Chat => openai_chat::render_json(turn),
            Api::Responses => openai_responses::render_json(turn, body),
            Api::Messages => anthropic::render_json(turn),
        }
    }

    fn render_stream(
        self,
        turn: &Turn<'_>,
        request: &Request,
        body: &Value,
    ) -> Result<Vec<Bytes>, serde_json::Error> {
        match self {
            Api::Chat => openai_chat::render_stream(turn, request.include_usage),
            Api::Responses => openai_responses::render_stream(turn, body),
            Api::Messages => anthropic::render_stream(turn),
        }
    }
}

/// A request body, or why it could not be read (too large, connection lost).
type RawBody = Result<Bytes, BytesRejection>;

async fn chat(State(s): State<Arc<Shared>>, headers: HeaderMap, body: RawBody) -> Response {
    complete(&s, Api::Chat, &headers, body).await
}

async fn responses(State(s): State<Arc<Shared>>, headers: HeaderMap, body: RawBody) -> Response {
    complete(&s, Api::Responses, &headers, body).await
}

async fn messages(State(s): State<Arc<Shared>>, headers: HeaderMap, body: RawBody) -> Response {
    complete(&s, Api::Messages, &headers, body).await
}

async fn complete(s: &Shared, api: Api, headers: &HeaderMap, body: RawBody) -> Response {
    let seq = s.requests.fetch_add(1, Ordering::Relaxed) + 1;
    let mut response = match answer(s, api, headers, body, seq).await {
        Ok(response) => response,
        Err(e) => e.into_response(api.dialect()),
    };
    let name = match api.dialect() {
        Dialect::OpenAi => HeaderName::from_static("x-request-id"),
        Dialect::Anthropic => HeaderName::from_static("request-id"),
    };
    if let Ok(value) = HeaderValue::from_str(&format!("req_mock{seq:06}")) {
        response.headers_mut().insert(name, value);
    }
    response
}

async fn answer(
    s: &Shared,
    api: Api,
    headers: &HeaderMap,
    body: RawBody,
    seq: u64,
) -> Result<Response, ApiError> {
    check_key(&s.script, api.dialect(), headers)?;
    let bytes = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::BodyTooLarge,
        _ => ApiError::BodyUnreadable(rejection.body_text()),
    })?;
    let value: Value =
        serde_json::from_slice(&bytes).map_err(|e| ApiError::MalformedJson(e.to_string()))?;
    if !value.is_object() {
        return Err(ApiError::MalformedJson(
            "the body must be a JSON object".to_owned(),
        ));
    }
    let request = api.parse(&value)?;
    let reply = choose(&s.script, headers, &request)?;
    if let Some(Fault::SlowHeaders(wait)) = reply.fault {
        pause(wait).await;
    }
    if let Some(Fault::Status(code)) = reply.fault {
        pause(reply.delay).await;
        let status = StatusCode::from_u16(code).map_err(|e| ApiError::Internal(e.to_string()))?;
        return Err(ApiError::Scripted(status));
    }
    let turn = Turn::new(reply, &request.prompt, seq, s.clock.now_unix())?;
    if request.stream {
        let frames = api.render_stream(&turn, &request, &value)?;
        Ok(stream_response(frames, reply))
    } else {
        let json = api.render_json(&turn, &value)?;
        pause(reply.delay).await;
        Ok(json_response(json, reply.fault))
    }
}

/// Waits `wait`; a zero wait returns at once instead of waiting for the next timer tick.
async fn pause(wait: Duration) {
    if !wait.is_zero() {
        tokio::time::sleep(wait).await;
    }
}

fn choose<'s>(
    script: &'s Script,
    headers: &HeaderMap,
    request: &Request,
) -> Result<&'s Reply, ApiError> {
    match headers.get(REPLY_HEADER) {
        Some(value) => {
            let name = String::from_utf8_lossy(value.as_bytes());
            script
                .reply(&name)
                .ok_or_else(|| ApiError::UnknownReply(name.into_owned()))
        }
        None => script
            .select(&request.prompt)
            .ok_or_else(|| ApiError::Internal("the script has no fallback reply".to_owned())),
    }
}

fn check_key(script: &Script, dialect: Dialect, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(expected) = script.api_key() else {
        return Ok(());
    };
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    // Anthropic takes `x-api-key`, and recent SDKs send the key as a bearer token instead.
    let presented = match dialect {
        Dialect::OpenAi => bearer,
        Dialect::Anthropic => headers
            .get("x-api-key")
            .and_then(|v| v.to_str().ok())
            .or(bearer),
    };
    match presented {
        None => Err(ApiError::MissingKey),
        Some(key) if key == expected => Ok(()),
        Some(_) => Err(ApiError::WrongKey),
    }
}

fn stream_response(frames: Vec<Bytes>, reply: &Reply) -> Response {
    let (frames, reset_after) = match reply.fault {
        Some(Fault::MalformedSse(after)) => (sse::with_malformed(frames, after), None),
        Some(Fault::ResetMidStream(after)) => (frames, Some(after)),
        _ => (frames, None),
    };
    let pacing = Pacing {
        delay: reply.delay,
        chunk_delay: reply.chunk_delay,
        reset_after,
    };
    let mut response = sse::paced_body(frames, pacing).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// A non-streaming body. Stream faults apply to it too: a reset sends half the body and drops the
/// connection; a malformed or truncated body is cut in half.
fn json_response(json: Vec<u8>, fault: Option<Fault>) -> Response {
    let half = || Bytes::copy_from_slice(json.get(..json.len() / 2).unwrap_or_default());
    let body = match fault {
        Some(Fault::ResetMidStream(_)) => sse::paced_body(
            vec![half()],
            Pacing {
                reset_after: Some(1),
                ..Pacing::default()
            },
        ),
        Some(Fault::MalformedSse(_)) => Body::from(half()),
        _ => Body::from(json),
    };
    let mut response = body.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

#[derive(Serialize)]
struct ModelList<'a> {
    object: &'static str,
    data: Vec<Model<'a>>,
}

#[derive(Serialize)]
struct Model<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    owned_by: &'static str,
}

async fn models(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Err(e) = check_key(&s.script, Dialect::OpenAi, &headers) {
        return e.into_response(Dialect::OpenAi);
    }
    let created = s.clock.now_unix();
    let list = ModelList {
        object: "list",
        data: s
            .script
            .models()
            .iter()
            .map(|id| Model {
                id,
                object: "model",
                created,
                owned_by: "warden-mock",
            })
            .collect(),
    };
    match serde_json::to_vec(&list) {
        Ok(json) => json_response(json, None),
        Err(e) => ApiError::from(e).into_response(Dialect::OpenAi),
    }
}

async fn not_found(uri: Uri) -> Response {
    let dialect = if uri.path().starts_with("/v1/messages") {
        Dialect::Anthropic
    } else {
        Dialect::OpenAi
    };
    ApiError::NotFound(uri.path().to_owned()).into_response(dialect)
}
