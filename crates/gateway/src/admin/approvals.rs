//! `/v1/approvals`: list, show, approve, deny and watch approval requests.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use warden_store::{ApprovalStatus, Role, VoteError};

use super::{ApiError, json_response, operator, reason};
use crate::approvals::ApprovalView;
use crate::state::Gateway;

const READERS: &[Role] = &[Role::Admin, Role::Approver, Role::Auditor];

/// `GET /v1/approvals[?status=pending|approved|denied|expired|all]` (default pending).
pub(super) async fn list(State(gw): State<Arc<Gateway>>, headers: HeaderMap, uri: Uri) -> Response {
    if let Err(e) = operator(&gw, &headers, READERS) {
        return e.into_response();
    }
    let wanted = uri
        .query()
        .unwrap_or_default()
        .split('&')
        .find_map(|kv| kv.strip_prefix("status="))
        .unwrap_or("pending");
    let status = match wanted {
        "all" => None,
        other => match other.parse::<ApprovalStatus>() {
            Ok(s) => Some(s),
            Err(_) => {
                return ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_status",
                    format!("unknown status `{other}` (pending, approved, denied, expired, all)"),
                )
                .into_response();
            }
        },
    };
    match gw.approvals.list(status, 500) {
        Ok(list) => {
            let items: Vec<ApprovalView> = list.iter().map(ApprovalView::from).collect();
            json_response(StatusCode::OK, &json!({"approvals": items}))
        }
        Err(e) => store_error(&e),
    }
}

/// `GET /v1/approvals/{id}`.
pub(super) async fn show(
    State(gw): State<Arc<Gateway>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Err(e) = operator(&gw, &headers, READERS) {
        return e.into_response();
    }
    match gw.approvals.get(&id) {
        Ok(Some(state)) => json_response(StatusCode::OK, &json!(ApprovalView::from(&state))),
        Ok(None) => not_found(&id),
        Err(e) => store_error(&e),
    }
}

/// `POST /v1/approvals/{id}/approve` with an optional `{"reason": …}`.
pub(super) async fn approve(
    State(gw): State<Arc<Gateway>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    vote(gw, headers, id, body, true).await
}

/// `POST /v1/approvals/{id}/deny` with an optional `{"reason": …}`.
pub(super) async fn deny(
    State(gw): State<Arc<Gateway>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    vote(gw, headers, id, body, false).await
}

async fn vote(
    gw: Arc<Gateway>,
    headers: HeaderMap,
    id: String,
    body: Bytes,
    approve: bool,
) -> Response {
    let op = match operator(&gw, &headers, &[Role::Approver]) {
        Ok(op) => op,
        Err(e) => return e.into_response(),
    };
    let why = match reason(&body) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    // Nobody approves their own agent's request.
    let request = match gw.approvals.get(&id) {
        Ok(Some(state)) => state.request,
        Ok(None) => return not_found(&id),
        Err(e) => return store_error(&e),
    };
    let owners = gw
        .config
        .agents
        .get(&request.agent_id)
        .map(|a| a.owners.clone())
        .unwrap_or_default();
    if owners.contains(&op.name) || op.name == request.agent_id {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "self_approval",
            format!(
                "operator `{}` is responsible for agent `{}` and may not decide its requests",
                op.name, request.agent_id
            ),
        )
        .into_response();
    }
    match gw.approvals.vote(&id, &op, approve, why.as_deref()).await {
        Ok(state) => json_response(StatusCode::OK, &json!(ApprovalView::from(&state))),
        Err(VoteError::NotFound) => not_found(&id),
        Err(VoteError::AlreadyDecided(status)) => ApiError::new(
            StatusCode::CONFLICT,
            "already_decided",
            format!("approval {id} is already {status}"),
        )
        .into_response(),
        Err(VoteError::Expired) => ApiError::new(
            StatusCode::CONFLICT,
            "expired",
            format!("approval {id} has expired"),
        )
        .into_response(),
        Err(VoteError::AlreadyVoted) => ApiError::new(
            StatusCode::CONFLICT,
            "already_voted",
            format!("operator `{}` has already voted on {id}", op.name),
        )
        .into_response(),
        Err(VoteError::NotAnApprover { needed }) => ApiError::new(
            StatusCode::FORBIDDEN,
            "wrong_group",
            format!(
                "operator `{}` is in none of the groups that may approve {id} ({})",
                op.name,
                needed.join(", ")
            ),
        )
        .into_response(),
        Err(VoteError::Store(e)) => store_error(&e),
    }
}

/// `GET /v1/approvals/watch`: server-sent events, first every pending request (`pending`), then
/// each new request (`requested`) and decision (`decided`) as it happens.
pub(super) async fn watch(State(gw): State<Arc<Gateway>>, headers: HeaderMap) -> Response {
    if let Err(e) = operator(&gw, &headers, READERS) {
        return e.into_response();
    }
    let mut events = gw.approvals.subscribe();
    let pending = match gw.approvals.list(Some(ApprovalStatus::Pending), 500) {
        Ok(list) => list,
        Err(e) => return store_error(&e),
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(64);
    tokio::spawn(async move {
        for state in pending.iter().rev() {
            let event = sse("pending", &json!(ApprovalView::from(state)));
            if tx.send(event).await.is_err() {
                return;
            }
        }
        let mut keepalive = tokio::time::interval(Duration::from_secs(15));
        loop {
            let next = tokio::select! {
                event = events.recv() => match event {
                    Ok(e) => sse(e.event, &json!(e.approval)),
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        Bytes::from(format!(": {n} events skipped; list again to catch up\n\n"))
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                },
                _ = keepalive.tick() => Bytes::from_static(b": keep-alive\n\n"),
            };
            if tx.send(next).await.is_err() {
                return;
            }
        }
    });
    let body = Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, Infallible>(b), rx))
    }));
    let mut response = Response::new(body);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    response
}

fn sse(event: &str, data: &serde_json::Value) -> Bytes {
    Bytes::from(format!("event: {event}\ndata: {data}\n\n"))
}

fn not_found(id: &str) -> Response {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("no approval request {id}"),
    )
    .into_response()
}

fn store_error(e: &warden_store::StoreError) -> Response {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "store",
        format!("the approval store failed: {e}"),
    )
    .into_response()
}
