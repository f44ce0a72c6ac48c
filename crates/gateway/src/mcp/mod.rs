//! The MCP gateway: `/mcp/{server}` over Streamable HTTP. Warden is an MCP server to the agent
//! and an MCP client to the real server (Streamable HTTP, or a stdio process it supervises).
//!
//! One POST goes: identify the agent (its Warden key) → kill switch → read and check the
//! JSON-RPC message and its era's headers → answer what Warden answers itself (`initialize`,
//! `server/discover`, `ping`) → filter `tools/list` ([`list`]) → judge, record and then forward
//! `tools/call` ([`call`]) → forward anything else raw. Both protocol eras are served: the
//! session era (`initialize`, `Mcp-Session-Id`, GET stream, DELETE) and the stateless era
//! (2026-07-28, `Mcp-Method` / `Mcp-Name` checked against the body). The protocol rules live in
//! `warden-mcp`; this module moves bytes and makes the calls.

pub mod approve;
mod call;
mod hold;
pub mod http;
mod list;
pub mod pins;
pub mod session;
pub mod stdio;
pub mod upstream;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use warden_ledger::{LedgerPublicKey, LedgerSigningKey};
use warden_mcp::reply::{INTERNAL_ERROR, INVALID_REQUEST, PARSE_ERROR, UPSTREAM_ERROR};
use warden_mcp::{Era, Message, MessageKind, StatelessHeaders, error_response, result_response};

use crate::config::{Config, McpServer};
use crate::identity::{AuthError, Identity, identify};
use crate::state::Gateway;
use pins::ServerPins;
use session::Sessions;
use upstream::Upstream;

/// Response header naming the agent's session (session era).
pub const SESSION_HEADER: &str = "mcp-session-id";
/// Interval of keep-alive comments on a GET stream.
const KEEPALIVE: Duration = Duration::from_secs(15);
/// How long tool definitions from a listing are trusted before a call lists them again.
const CATALOG_TTL: Duration = Duration::from_secs(30);

/// One configured upstream server and what Warden knows about it.
#[derive(Debug)]
pub struct McpServerState {
    /// The name agents use.
    pub name: String,
    /// Its configuration.
    pub config: McpServer,
    /// The connection.
    pub upstream: Upstream,
    /// Its tools' pins.
    pub pins: ServerPins,
    /// Tool definitions as last listed, by name.
    catalog: Mutex<HashMap<String, Value>>,
    /// When the server's tools were last listed (by an agent or by Warden).
    listed: Mutex<Option<std::time::Instant>>,
}

impl McpServerState {
    /// The upstream time limit.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.config.timeout_ms)
    }

    /// Whether the remembered definitions are older than [`CATALOG_TTL`] (or there are none).
    fn catalog_stale(&self) -> bool {
        self.listed
            .lock()
            .map_or(true, |l| l.is_none_or(|at| at.elapsed() > CATALOG_TTL))
    }

    fn mark_listed(&self) {
        if let Ok(mut l) = self.listed.lock() {
            *l = Some(std::time::Instant::now());
        }
    }

    fn remember(&self, definition: &Value) {
        if let (Some(name), Ok(mut catalog)) =
            (warden_mcp::tool::name_of(definition), self.catalog.lock())
        {
            catalog.insert(name.to_owned(), definition.clone());
        }
    }

    fn definition(&self, tool: &str) -> Option<Value> {
        self.catalog.lock().ok().and_then(|c| c.get(tool).cloned())
    }
}

/// The MCP gateway's state: upstream servers and agent sessions.
#[derive(Debug, Default)]
pub struct McpGateway {
    servers: BTreeMap<String, Arc<McpServerState>>,
    sessions: Sessions,
}

impl McpGateway {
    /// Connects the configured servers (stdio processes start now). Pins are verified with
    /// `public`; the gateway signs the pins it writes with the ledger key in the data directory,
    /// when it is there and matches.
    pub fn new(config: &Config, client: reqwest::Client, public: &LedgerPublicKey) -> McpGateway {
        if config.mcp.servers.is_empty() {
            return McpGateway::default();
        }
        let key = signing_key(config, public);
        let mut servers = BTreeMap::new();
        for (name, server) in &config.mcp.servers {
            let upstream = match Upstream::start(name, server, client.clone()) {
                Ok(u) => u,
                Err(e) => {
                    tracing::error!("MCP server `{name}`: {e}");
                    continue;
                }
            };
            let pins = ServerPins::new(
                name,
                server.pin_file.clone(),
                server.pin_on_first_sight,
                *public,
                key.clone(),
            );
            servers.insert(
                name.clone(),
                Arc::new(McpServerState {
                    name: name.clone(),
                    config: server.clone(),
                    upstream,
                    pins,
                    catalog: Mutex::new(HashMap::new()),
                    listed: Mutex::new(None),
                }),
            );
        }
        McpGateway {
            servers,
            sessions: Sessions::default(),
        }
    }

    /// The server agents call `name`.
    pub fn server(&self, name: &str) -> Option<Arc<McpServerState>> {
        self.servers.get(name).cloned()
    }

    /// Ends upstream sessions and stops stdio processes.
    pub async fn shutdown(&self) {
        for server in self.servers.values() {
            server.upstream.shutdown().await;
        }
    }
}

/// The ledger signing key from `DATA_DIR/ledger-signing.key`, if present and the ledger's.
fn signing_key(config: &Config, public: &LedgerPublicKey) -> Option<Arc<LedgerSigningKey>> {
    let path = config.data_dir.join("ledger-signing.key");
    let pem = std::fs::read_to_string(&path).ok()?;
    match LedgerSigningKey::from_pkcs8_pem(&pem) {
        Ok(key) if key.public_key() == *public => Some(Arc::new(key)),
        Ok(_) => {
            tracing::warn!(
                "{} is not the ledger's key; MCP pins are not written",
                path.display()
            );
            None
        }
        Err(e) => {
            tracing::warn!("{}: {e}; MCP pins are not written", path.display());
            None
        }
    }
}

/// The agents' MCP routes.
pub fn routes() -> Router<Arc<Gateway>> {
    Router::new().route(
        "/mcp/{server}",
        post(post_message).get(open_stream).delete(end_session),
    )
}

/// A JSON-RPC message as an HTTP response.
fn rpc(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn rpc_error(status: StatusCode, id: Option<&Value>, code: i64, message: &str) -> Response {
    rpc(status, &error_response(id, code, message))
}

/// What Warden answers one request with, before it becomes an HTTP response.
#[derive(Debug)]
pub(super) struct Answer {
    body: Value,
    receipts: Vec<String>,
    session: Option<String>,
}

impl Answer {
    /// A JSON-RPC message (result or error).
    fn ok(body: Value) -> Answer {
        Answer {
            body,
            receipts: Vec::new(),
            session: None,
        }
    }

    /// A JSON-RPC error.
    fn error(id: &Value, code: i64, message: &str) -> Answer {
        Answer::ok(error_response(Some(id), code, message))
    }

    /// A JSON-RPC error for an upstream failure.
    fn upstream(id: &Value, error: &upstream::UpstreamError) -> Answer {
        tracing::warn!("{error}");
        Answer::error(id, UPSTREAM_ERROR, &error.to_string())
    }

    /// The answer with these receipts (`Warden-Receipt`, one per decision record).
    fn with_receipts(mut self, receipts: Vec<String>) -> Answer {
        self.receipts = receipts;
        self
    }

    fn into_response(self) -> Response {
        let mut response = rpc(StatusCode::OK, &self.body);
        let headers = response.headers_mut();
        for receipt in &self.receipts {
            if let Ok(v) = HeaderValue::from_str(receipt) {
                headers.append(crate::llm::RECEIPT_HEADER, v);
            }
        }
        if let Some(v) = self.session.and_then(|s| HeaderValue::from_str(&s).ok()) {
            headers.insert(SESSION_HEADER, v);
        }
        response
    }
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Identifies the agent and checks the kill switch and the server name.
fn admit(
    gw: &Gateway,
    server: &str,
    headers: &HeaderMap,
) -> Result<(Identity, Arc<McpServerState>), Box<Response>> {
    let identity =
        identify(headers, gw.credentials.as_ref(), &gw.config).map_err(|e| -> Box<Response> {
            let status = match e {
                AuthError::Missing | AuthError::Invalid => StatusCode::UNAUTHORIZED,
                AuthError::UnknownAgent(_) | AuthError::OperatorToken => StatusCode::FORBIDDEN,
                AuthError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
            };
            let mut response = rpc_error(status, None, INVALID_REQUEST, &e.to_string());
            if status == StatusCode::UNAUTHORIZED {
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"warden\""),
                );
            }
            Box::new(response)
        })?;
    if let Some(halt) = gw.halts.check(&identity.agent.id) {
        return Err(Box::new(rpc_error(
            StatusCode::FORBIDDEN,
            None,
            INVALID_REQUEST,
            &format!(
                "agent `{}` is halted by {}: {}",
                identity.agent.id, halt.by, halt.reason
            ),
        )));
    }
    let state = gw.mcp.server(server).ok_or_else(|| {
        Box::new(rpc_error(
            StatusCode::NOT_FOUND,
            None,
            INVALID_REQUEST,
            &format!("no MCP server `{server}` on this gateway"),
        ))
    })?;
    Ok((identity, state))
}

/// `POST /mcp/{server}`: one JSON-RPC message.
async fn post_message(
    State(gw): State<Arc<Gateway>>,
    Path(server): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (identity, srv) = match admit(&gw, &server, &headers) {
        Ok(admitted) => admitted,
        Err(response) => return *response,
    };
    let limit = usize::try_from(gw.config.limits.max_body_bytes).unwrap_or(usize::MAX);
    let Ok(bytes) = axum::body::to_bytes(body, limit).await else {
        return rpc_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            None,
            INVALID_REQUEST,
            &format!("the body could not be read or exceeds this gateway's limit of {limit} bytes"),
        );
    };
    let message = match Message::parse(&bytes) {
        Ok(m) => m,
        Err(e) => {
            let code = match e {
                warden_mcp::MessageError::Json(_) => PARSE_ERROR,
                _ => INVALID_REQUEST,
            };
            return rpc_error(StatusCode::BAD_REQUEST, None, code, &e.to_string());
        }
    };
    let version = header_str(&headers, "mcp-protocol-version");
    if let Some(v) = version
        && !warden_mcp::era::is_supported(v)
    {
        let body = json!({
            "jsonrpc": "2.0",
            "id": message.id().cloned().unwrap_or(Value::Null),
            "error": {
                "code": warden_mcp::UNSUPPORTED_PROTOCOL_VERSION,
                "message": format!("protocol version `{v}` is not supported"),
                "data": {"supported": warden_mcp::SUPPORTED_VERSIONS, "requested": v},
            },
        });
        return rpc(StatusCode::BAD_REQUEST, &body);
    }
    let era = Era::of(version, &message);
    let mut session_id = None;
    match era {
        // Header requirements for notifications are undefined in 2026-07-28; requests are checked.
        Era::Stateless if message.kind() == MessageKind::Request => {
            let checked = warden_mcp::check_headers(
                StatelessHeaders {
                    protocol_version: version,
                    method: header_str(&headers, "mcp-method"),
                    name: header_str(&headers, "mcp-name"),
                },
                &message,
            );
            if let Err(e) = checked {
                return rpc_error(
                    StatusCode::BAD_REQUEST,
                    message.id(),
                    warden_mcp::HEADER_MISMATCH,
                    &e.to_string(),
                );
            }
        }
        Era::Session if message.method() != Some("initialize") => {
            let Some(id) = header_str(&headers, SESSION_HEADER) else {
                return rpc_error(
                    StatusCode::BAD_REQUEST,
                    message.id(),
                    INVALID_REQUEST,
                    "Mcp-Session-Id is required: send initialize first (or use protocol version 2026-07-28)",
                );
            };
            if let Err(e) = gw.mcp.sessions.check(id, &identity.agent.id, &srv.name) {
                return rpc_error(
                    StatusCode::NOT_FOUND,
                    message.id(),
                    INVALID_REQUEST,
                    &e.to_string(),
                );
            }
            session_id = Some(id.to_owned());
        }
        Era::Session | Era::Stateless => {}
    }
    if message.kind() != MessageKind::Request {
        // Notifications and responses from the agent are accepted and not relayed: Warden keeps
        // its own session with the server.
        return StatusCode::ACCEPTED.into_response();
    }
    let method = message.method().unwrap_or_default().to_owned();
    let mut answer = dispatch(&gw, &srv, &identity, era, message).await;
    if era == Era::Stateless {
        warden_mcp::reply::for_stateless(&method, &mut answer.body);
    }
    if answer.session.is_none() {
        answer.session = session_id;
    }
    answer.into_response()
}

/// Answers one request.
async fn dispatch(
    gw: &Gateway,
    srv: &McpServerState,
    identity: &Identity,
    era: Era,
    mut message: Message,
) -> Answer {
    let id = message.id().cloned().unwrap_or(Value::Null);
    match (message.method().unwrap_or_default(), era) {
        ("initialize", Era::Session) => initialize(gw, srv, identity, &message).await,
        ("server/discover", _) => match srv.upstream.initialize_result(srv.timeout()).await {
            Ok(init) => Answer::ok(result_response(&id, discover_result(&init))),
            Err(e) => Answer::upstream(&id, &e),
        },
        ("ping", _) => Answer::ok(result_response(&id, json!({}))),
        ("tools/list", _) => {
            strip_envelope(&mut message);
            list::tools_list(gw, srv, identity, message).await
        }
        ("tools/call", _) => {
            strip_envelope(&mut message);
            call::tools_call(gw, srv, identity, message).await
        }
        _ => {
            strip_envelope(&mut message);
            match srv
                .upstream
                .request(message.into_value(), srv.timeout())
                .await
            {
                Ok(answer) => Answer::ok(answer),
                Err(e) => Answer::upstream(&id, &e),
            }
        }
    }
}

/// The agent's `initialize`: answered by Warden from the server's own answer to Warden, with
/// the version negotiated with the agent and a new session.
async fn initialize(
    gw: &Gateway,
    srv: &McpServerState,
    identity: &Identity,
    message: &Message,
) -> Answer {
    let id = message.id().cloned().unwrap_or(Value::Null);
    let requested = message
        .params()
        .and_then(|p| p.get("protocolVersion"))
        .and_then(Value::as_str);
    let version = warden_mcp::negotiate(requested);
    let init = match srv.upstream.initialize_result(srv.timeout()).await {
        Ok(init) => init,
        Err(e) => return Answer::upstream(&id, &e),
    };
    let session = match gw.mcp.sessions.open(&identity.agent.id, &srv.name, version) {
        Ok(s) => s,
        Err(e) => return Answer::error(&id, INTERNAL_ERROR, &e.to_string()),
    };
    let mut result = init;
    if let Some(object) = result.as_object_mut() {
        object.insert("protocolVersion".into(), Value::from(version));
    }
    let mut answer = Answer::ok(result_response(&id, result));
    answer.session = Some(session);
    answer
}

/// A `server/discover` result built from the server's `initialize` result.
fn discover_result(init: &Value) -> Value {
    let mut result = json!({
        "supportedVersions": [warden_mcp::STATELESS_VERSION],
        "capabilities": init.get("capabilities").cloned().unwrap_or_else(|| json!({})),
        "resultType": "complete",
    });
    for key in ["serverInfo", "instructions"] {
        if let (Some(v), Some(object)) = (init.get(key), result.as_object_mut()) {
            object.insert(key.into(), v.clone());
        }
    }
    result
}

/// Removes the stateless era's per-request envelope (`_meta` keys under
/// `io.modelcontextprotocol/`) before a request goes upstream on Warden's own session.
fn strip_envelope(message: &mut Message) {
    if let Some(meta) = message
        .params_mut()
        .get_mut("_meta")
        .and_then(Value::as_object_mut)
    {
        meta.retain(|k, _| !k.starts_with("io.modelcontextprotocol/"));
    }
}

/// 405 for a GET or DELETE without a session: only POST works without one.
fn sessionless(what: &str) -> Response {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        [(header::ALLOW, "POST")],
        format!("{what} (Mcp-Session-Id); protocol version 2026-07-28 has none"),
    )
        .into_response()
}

/// `GET /mcp/{server}`: the session's stream for server messages. Warden relays none, so it
/// carries keep-alive comments until the session ends or the agent disconnects.
async fn open_stream(
    State(gw): State<Arc<Gateway>>,
    Path(server): Path<String>,
    headers: HeaderMap,
) -> Response {
    let (identity, srv) = match admit(&gw, &server, &headers) {
        Ok(admitted) => admitted,
        Err(response) => return *response,
    };
    let Some(id) = header_str(&headers, SESSION_HEADER).map(str::to_owned) else {
        return sessionless("a GET stream needs a session");
    };
    if let Err(e) = gw.mcp.sessions.check(&id, &identity.agent.id, &srv.name) {
        return rpc_error(StatusCode::NOT_FOUND, None, INVALID_REQUEST, &e.to_string());
    }
    let gw2 = gw.clone();
    let stream = futures_util::stream::unfold(true, move |first| {
        let gw = gw2.clone();
        let id = id.clone();
        async move {
            if !first {
                tokio::time::sleep(KEEPALIVE).await;
            }
            gw.mcp.sessions.is_open(&id).then(|| {
                (
                    Ok::<_, std::convert::Infallible>(bytes::Bytes::from_static(
                        b": keep-alive\n\n",
                    )),
                    false,
                )
            })
        }
    });
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}

/// `DELETE /mcp/{server}`: ends the agent's session.
async fn end_session(
    State(gw): State<Arc<Gateway>>,
    Path(server): Path<String>,
    headers: HeaderMap,
) -> Response {
    let (identity, srv) = match admit(&gw, &server, &headers) {
        Ok(admitted) => admitted,
        Err(response) => return *response,
    };
    let Some(id) = header_str(&headers, SESSION_HEADER) else {
        return sessionless("DELETE ends a session");
    };
    match gw.mcp.sessions.close(id, &identity.agent.id, &srv.name) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => rpc_error(StatusCode::NOT_FOUND, None, INVALID_REQUEST, &e.to_string()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn discover_is_built_from_the_servers_initialize_result() {
        let init = json!({
            "protocolVersion": "2025-11-25",
            "capabilities": {"tools": {"listChanged": true}},
            "serverInfo": {"name": "files", "version": "1"},
            "instructions": "Use read_file.",
        });
        let discover = discover_result(&init);
        assert_eq!(discover["supportedVersions"], json!(["2026-07-28"]));
        assert_eq!(discover["capabilities"], init["capabilities"]);
        assert_eq!(discover["serverInfo"], init["serverInfo"]);
        assert_eq!(discover["instructions"], init["instructions"]);
        assert_eq!(discover["resultType"], json!("complete"));
    }

    #[test]
    fn the_stateless_envelope_is_not_forwarded() {
        let mut message = Message::parse(
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","progressToken":5},"x":1}}"#,
        )
        .unwrap();
        strip_envelope(&mut message);
        assert_eq!(
            message.params().unwrap(),
            &json!({"_meta": {"progressToken": 5}, "x": 1})
        );
    }
}
