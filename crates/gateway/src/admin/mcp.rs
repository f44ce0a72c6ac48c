//! `/v1/mcp`: operators approving a changed MCP tool definition (role `admin`).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use warden_store::Role;

use super::{ApiError, json_response, operator};
use crate::mcp::approve::{ApproveChangeError, approve_change};
use crate::state::Gateway;

/// `POST /v1/mcp/servers/{server}/tools/{tool}/approve-change`.
pub(super) async fn approve(
    State(gw): State<Arc<Gateway>>,
    headers: HeaderMap,
    Path((server, tool)): Path<(String, String)>,
) -> Response {
    let op = match operator(&gw, &headers, &[Role::Admin]) {
        Ok(op) => op,
        Err(e) => return e.into_response(),
    };
    match approve_change(&gw, &server, &tool, &op.name).await {
        Ok(body) => json_response(StatusCode::OK, &body),
        Err(e) => {
            let (status, code) = match &e {
                ApproveChangeError::UnknownServer(_) | ApproveChangeError::UnknownTool { .. } => {
                    (StatusCode::NOT_FOUND, "not_found")
                }
                ApproveChangeError::Unchanged { .. } => (StatusCode::CONFLICT, "unchanged"),
                ApproveChangeError::Upstream(_) => (StatusCode::BAD_GATEWAY, "upstream"),
                ApproveChangeError::Ledger(_) => (StatusCode::INTERNAL_SERVER_ERROR, "ledger"),
            };
            ApiError::new(status, code, e.to_string()).into_response()
        }
    }
}
