//! The AuthZEN decision API (OpenID AuthZEN Authorization API 1.0): other gateways and services
//! ask the same policy engine for decisions.
//!
//! `POST /access/v1/evaluation`, `POST /access/v1/evaluations` and
//! `GET /.well-known/authzen-configuration`, on the agents' listener. The calling enforcement
//! point authenticates with the Warden key (`Authorization: Bearer`) of an agent listed under
//! `authzen.clients`. Each evaluation is an `authzen` action whose subject, action, resource and
//! context are the `authzen` facts; its decision is recorded in the ledger before it is answered.
//! A deny is `200 {"decision": false}`; the ids of the ledger records are in `Warden-Record`.
//! Request translation is pure ([`request`]); this module does the HTTP and the ledger.

mod record;
pub mod request;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Value, json};
use warden_policy::Outcome;

use crate::identity::{AuthError, Identity, identify};
use crate::state::Gateway;
use request::{Query, RequestError, Semantic};

/// Path of the single evaluation endpoint.
pub const EVALUATION_PATH: &str = "/access/v1/evaluation";
/// Path of the batch evaluation endpoint.
pub const EVALUATIONS_PATH: &str = "/access/v1/evaluations";
/// Path of the PDP metadata document.
pub const CONFIGURATION_PATH: &str = "/.well-known/authzen-configuration";
/// Response header listing the ledger record of each decision, in answer order.
pub const RECORD_HEADER: &str = "warden-record";
/// The request id header AuthZEN clients send and get back.
const REQUEST_ID: &str = "x-request-id";

/// Why a request gets no decision.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthzenError {
    /// No key, or one that is not live.
    #[error("{0}")]
    Unauthenticated(String),
    /// The key's agent is not an AuthZEN client (or is halted).
    #[error("{0}")]
    Forbidden(String),
    /// The body is not an AuthZEN request.
    #[error(transparent)]
    Invalid(#[from] RequestError),
    /// The body is over the configured limit.
    #[error("the request body exceeds this gateway's limit of {0} bytes")]
    TooLarge(u64),
    /// No policy is loaded, or a decision could not be recorded: nothing is answered.
    #[error("{0}")]
    Unavailable(String),
}

impl AuthzenError {
    fn status(&self) -> StatusCode {
        match self {
            AuthzenError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            AuthzenError::Forbidden(_) => StatusCode::FORBIDDEN,
            AuthzenError::Invalid(_) => StatusCode::BAD_REQUEST,
            AuthzenError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AuthzenError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn into_response(self) -> Response {
        let status = self.status();
        let body = json!({ "error": { "status": status.as_u16(), "message": self.to_string() } });
        let mut response = json_response(status, &body);
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"warden\""),
            );
        }
        response
    }
}

/// The AuthZEN routes, merged into the agents' router.
pub fn routes() -> axum::Router<Arc<Gateway>> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route(EVALUATION_PATH, post(evaluation))
        .route(EVALUATIONS_PATH, post(evaluations))
        .route(CONFIGURATION_PATH, get(configuration))
}

/// One answered evaluation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// Whether access is permitted.
    pub decision: bool,
    /// The ledger record of the decision.
    pub record_id: String,
}

/// `POST /access/v1/evaluation`.
pub async fn evaluation(
    State(gw): State<Arc<Gateway>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let answered = async {
        let pep = authenticate(&gw, &headers)?;
        let bytes = read_body(&gw, body).await?;
        let query = request::parse_evaluation(&bytes)?;
        let answers = decide(&gw, &pep, vec![query], Semantic::ExecuteAll).await?;
        Ok::<_, AuthzenError>(answers)
    }
    .await;
    respond(
        &headers,
        answered,
        |answers| json!({ "decision": answers.first().is_some_and(|a| a.decision) }),
    )
}

/// `POST /access/v1/evaluations`.
pub async fn evaluations(
    State(gw): State<Arc<Gateway>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let mut boxcar = true;
    let answered = async {
        let pep = authenticate(&gw, &headers)?;
        let bytes = read_body(&gw, body).await?;
        let batch = request::parse_evaluations(&bytes, gw.config.authzen.max_evaluations)?;
        boxcar = batch.boxcar;
        decide(&gw, &pep, batch.queries, batch.semantic).await
    }
    .await;
    respond(&headers, answered, |answers| {
        if boxcar {
            let items: Vec<Value> = answers
                .iter()
                .map(|a| json!({ "decision": a.decision }))
                .collect();
            json!({ "evaluations": items })
        } else {
            json!({ "decision": answers.first().is_some_and(|a| a.decision) })
        }
    })
}

/// `GET /.well-known/authzen-configuration`: the PDP metadata, with URLs on the host the caller
/// used.
pub async fn configuration(headers: HeaderMap) -> Response {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| !h.is_empty() && !h.contains(['/', '?', '#', '@', ' ']))
        .unwrap_or("localhost");
    let scheme = match headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
    {
        Some("https") => "https",
        _ => "http",
    };
    let issuer = format!("{scheme}://{host}");
    let body = json!({
        "issuer": issuer,
        "access_evaluation_endpoint": format!("{issuer}{EVALUATION_PATH}"),
        "access_evaluations_endpoint": format!("{issuer}{EVALUATIONS_PATH}"),
    });
    with_request_id(&headers, json_response(StatusCode::OK, &body))
}

fn respond(
    headers: &HeaderMap,
    answered: Result<Vec<Answer>, AuthzenError>,
    body: impl FnOnce(&[Answer]) -> Value,
) -> Response {
    let response = match answered {
        Ok(answers) => {
            let mut response = json_response(StatusCode::OK, &body(&answers));
            let ids: Vec<&str> = answers.iter().map(|a| a.record_id.as_str()).collect();
            if let Ok(value) = HeaderValue::from_str(&ids.join(", ")) {
                response.headers_mut().insert(RECORD_HEADER, value);
            }
            response
        }
        Err(error) => {
            tracing::info!("authzen request refused: {error}");
            error.into_response()
        }
    };
    with_request_id(headers, response)
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn with_request_id(headers: &HeaderMap, mut response: Response) -> Response {
    if let Some(id) = headers.get(REQUEST_ID) {
        response.headers_mut().insert(REQUEST_ID, id.clone());
    }
    response
}

/// The calling enforcement point: a live key of an agent listed under `authzen.clients`.
fn authenticate(gw: &Gateway, headers: &HeaderMap) -> Result<Identity, AuthzenError> {
    let identity = identify(headers, gw.credentials.as_ref(), &gw.config).map_err(|e| match e {
        AuthError::Store(_) => AuthzenError::Unavailable(e.to_string()),
        AuthError::Missing
        | AuthError::Invalid
        | AuthError::UnknownAgent(_)
        | AuthError::OperatorToken => AuthzenError::Unauthenticated(e.to_string()),
    })?;
    if !gw.config.authzen.clients.contains(&identity.agent.id) {
        return Err(AuthzenError::Forbidden(format!(
            "agent `{}` is not an AuthZEN client of this gateway (add it to `authzen.clients`)",
            identity.agent.id
        )));
    }
    if let Some(halt) = gw.halts.check(&identity.agent.id) {
        return Err(AuthzenError::Forbidden(format!(
            "agent `{}` is halted by {}: {}",
            identity.agent.id, halt.by, halt.reason
        )));
    }
    Ok(identity)
}

async fn read_body(gw: &Gateway, body: Body) -> Result<Bytes, AuthzenError> {
    let limit = gw.config.limits.max_body_bytes;
    axum::body::to_bytes(body, usize::try_from(limit).unwrap_or(usize::MAX))
        .await
        .map_err(|e| {
            let over = std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
            if over {
                AuthzenError::TooLarge(limit)
            } else {
                AuthzenError::Invalid(RequestError::NotJson(format!(
                    "the body could not be read: {e}"
                )))
            }
        })
}

/// Decides `queries` in order (stopping as `semantic` says) and records every decision; answers
/// only once all records are durable.
async fn decide(
    gw: &Gateway,
    pep: &Identity,
    queries: Vec<Query>,
    semantic: Semantic,
) -> Result<Vec<Answer>, AuthzenError> {
    let bundle = gw.policy.current().ok_or_else(|| {
        AuthzenError::Unavailable("no policy bundle is loaded; nothing is decided".into())
    })?;
    let mut pending = Vec::with_capacity(queries.len());
    for query in queries {
        let name = query.action_name().to_owned();
        // The tuple is built once: judged as the `authzen` facts, then kept in the record.
        let mut action = query.into_action(pep.agent.clone());
        let decision = bundle.evaluate(&action);
        let tuple = action.authzen.take().unwrap_or_default();
        let permit = permits(decision.outcome);
        let appended = gw.ledger.append(record::draft(pep, name, tuple, &decision));
        // AuthZEN answers carry no receipts, so none is signed.
        pending.push((permit, appended.committed()));
        if semantic.stops_after(permit) {
            break;
        }
    }
    let (permits, handles): (Vec<bool>, Vec<_>) = pending.into_iter().unzip();
    let recorded = futures_util::future::join_all(handles).await;
    permits
        .into_iter()
        .zip(recorded)
        .map(|(decision, appended)| {
            let appended = appended.map_err(|e| {
                AuthzenError::Unavailable(format!(
                    "a decision could not be recorded in the ledger ({e}); none is answered"
                ))
            })?;
            Ok(Answer {
                decision,
                record_id: appended.claims.rid,
            })
        })
        .collect()
}

/// Whether an outcome permits access. Warden cannot hold an AuthZEN caller for approval nor
/// rewrite its request, so only `allow` and `allow_with_constraints` permit.
pub fn permits(outcome: Outcome) -> bool {
    match outcome {
        Outcome::Allow | Outcome::AllowWithConstraints => true,
        Outcome::Remediate | Outcome::RequireApproval | Outcome::Deny => false,
    }
}
