//! The admin API, served on its own listener (never the agents'): approvals and the kill switch
//! for operators holding tokens with the roles `admin`, `approver` and `auditor`. Agent keys are
//! refused here, as operator tokens are on the agent API. Every operator action is a ledger
//! record naming the operator.
//!
//! Errors are JSON: `{"error": {"code": "…", "message": "…"}}` with 400, 401, 403, 404 or 409.

mod agents;
mod approvals;
mod budgets;
mod mcp;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use warden_store::{Operator, Role};

use crate::identity::presented_key;
use crate::state::Gateway;

/// The admin routes.
pub fn router(gw: Arc<Gateway>) -> Router {
    Router::new()
        .route("/v1/approvals", get(approvals::list))
        .route("/v1/approvals/watch", get(approvals::watch))
        .route("/v1/approvals/{id}", get(approvals::show))
        .route("/v1/approvals/{id}/approve", post(approvals::approve))
        .route("/v1/approvals/{id}/deny", post(approvals::deny))
        .route("/v1/agents", get(agents::list))
        .route("/v1/agents/{id}/halt", post(agents::halt))
        .route("/v1/agents/{id}/resume", post(agents::resume))
        .route("/v1/halt", post(agents::halt_all))
        .route("/v1/resume", post(agents::resume_all))
        .route(
            "/v1/mcp/servers/{server}/tools/{tool}/approve-change",
            post(mcp::approve),
        )
        .merge(budget_routes())
        .route("/healthz", get(|| async { "ok\n" }))
        .fallback(|uri: Uri| async move {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("no route {}", uri.path()),
            )
        })
        .with_state(gw)
}

/// `/v1/budgets` routes.
fn budget_routes() -> Router<Arc<Gateway>> {
    Router::new()
        .route("/v1/budgets", get(budgets::list))
        .route("/v1/budgets/{scope}", get(budgets::show).post(budgets::set))
        .route("/v1/budgets/{scope}/reset", post(budgets::reset))
}

/// An admin API error.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"code": self.code, "message": self.message}});
        json_response(self.status, &body)
    }
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// The operator behind a request, if their role is one of `allowed`.
fn operator(gw: &Gateway, headers: &HeaderMap, allowed: &[Role]) -> Result<Operator, ApiError> {
    let Some(token) = presented_key(headers) else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "send an operator token as `Authorization: Bearer TOKEN` (create one with `warden admin token create`)",
        ));
    };
    if !token.starts_with(crate::identity::OPERATOR_TOKEN_PREFIX) {
        if token.starts_with("wdn_") {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "agent_key",
                "agent keys are not accepted on the admin API",
            ));
        }
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "invalid operator token",
        ));
    }
    let found = gw.operators.authenticate(token).map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "store",
            format!("the token store is unavailable: {e}"),
        )
    })?;
    let Some(op) = found else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "invalid or revoked operator token",
        ));
    };
    if !allowed.contains(&op.role) {
        let roles: Vec<String> = allowed.iter().map(ToString::to_string).collect();
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "role",
            format!(
                "operator `{}` has role {}; this needs {}",
                op.name,
                op.role,
                roles.join(" or ")
            ),
        ));
    }
    Ok(op)
}

/// A JSON request body's `reason`, if any; an unreadable body is a 400.
fn reason(body: &[u8]) -> Result<Option<String>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            format!("the body is not JSON: {e}"),
        )
    })?;
    match value.get("reason") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.len() <= 2000 => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            "`reason` must be a string of at most 2000 bytes",
        )),
    }
}
